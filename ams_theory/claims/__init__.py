"""The claims machinery: the catalogue of claims, the registry of checks and verdicts, the reports, and user rules
(:mod:`ams_theory.claims.custom`: ``load_rule``, ``verify_rule``, ``RuleError``; imported when first asked for)."""

_CUSTOM = ("load_rule", "verify_rule", "RuleError")


def __getattr__(name):
    if name in _CUSTOM:
        from ams_theory.claims import custom

        return getattr(custom, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
