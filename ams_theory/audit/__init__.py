"""The conformance audit: run another implementation, replay our rule, identify what it computes."""
