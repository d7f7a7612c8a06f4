"""The claims machinery: the catalogue of claims, the registry of checks and verdicts, the reports."""
