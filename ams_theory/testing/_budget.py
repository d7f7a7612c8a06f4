"""Test budgets: ``quick``, ``standard``, ``thorough``, as hypothesis profiles ``ams-<budget>``."""
from __future__ import annotations

__all__ = ["BUDGETS", "PROFILE_PREFIX", "CONFORM_STEPS", "register_profiles", "current_budget", "check_budget"]

BUDGETS = {"quick": 10, "standard": 100, "thorough": 1000}       # hypothesis max_examples per property
CONFORM_STEPS = {"quick": 20, "standard": 60, "thorough": 120}   # steps per setting of assert_conforms
PROFILE_PREFIX = "ams-"
DEFAULT = "standard"
_STATE = {"budget": None}


def check_budget(value) -> str:
    """``value`` if it names a budget, else a one-line ``ValueError``."""
    if value not in BUDGETS:
        raise ValueError(f"--ams-budget must be one of {', '.join(BUDGETS)}; got {value!r}")
    return value


def register_profiles() -> None:
    """Register the hypothesis profiles ``ams-quick`` (10 examples), ``ams-standard`` (100) and ``ams-thorough``
    (1000), without loading one; no deadline (exact re-checks take milliseconds to seconds)."""
    from hypothesis import HealthCheck, settings

    for name, n in BUDGETS.items():
        settings.register_profile(PROFILE_PREFIX + name, max_examples=n, deadline=None,
                                  suppress_health_check=[HealthCheck.too_slow])


def _set_budget(name: str | None) -> None:
    _STATE["budget"] = None if name is None else check_budget(name)


def current_budget() -> str:
    """The budget of this run: ``--ams-budget`` when given (the pytest plugin), else ``"standard"``."""
    return _STATE["budget"] or DEFAULT
