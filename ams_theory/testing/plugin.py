"""pytest plugin of :mod:`ams_theory.testing` (entry point ``pytest11``: ``ams_theory``).

Adds ``--ams-budget quick|standard|thorough``. Given, it loads the hypothesis profile ``ams-<budget>`` (10, 100
or 1000 examples per property, no deadline) after any ``--hypothesis-profile``, sets
:func:`ams_theory.testing.current_budget` (read by ``assert_conforms`` for its number of steps) and says so in the
report header. Absent, the plugin changes nothing: no profile is loaded and hypothesis is not imported.
"""
from __future__ import annotations

import pytest

from ams_theory.testing import _budget


def pytest_addoption(parser):
    group = parser.getgroup("ams-theory", "ams-theory property tests")
    group.addoption("--ams-budget", action="store", default=None, metavar="quick|standard|thorough",
                    help="hypothesis budget of ams_theory.testing properties: quick (10 examples), "
                         "standard (100) or thorough (1000); loads the profile ams-<budget>")


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    value = config.getoption("ams_budget", None)
    if value is None:
        return
    try:
        _budget.check_budget(value)
    except ValueError as err:
        raise pytest.UsageError(str(err)) from None
    from hypothesis import settings

    _budget.register_profiles()
    settings.load_profile(_budget.PROFILE_PREFIX + value)
    _budget._set_budget(value)


def pytest_unconfigure(config):
    if config.getoption("ams_budget", None) is not None:
        _budget._set_budget(None)


def pytest_report_header(config):
    value = config.getoption("ams_budget", None)
    if value is not None and value in _budget.BUDGETS:
        return (f"ams-theory budget: {value} (hypothesis profile {_budget.PROFILE_PREFIX}{value}, "
                f"max_examples={_budget.BUDGETS[value]})")
    return None


@pytest.fixture
def ams_budget():
    """The budget of this run (``--ams-budget``, default ``"standard"``)."""
    return _budget.current_budget()
