"""ams_theory.testing as a user meets it: the public names against docs/testing.md, the mask protocol, each
assertion failing on a planted wrong mask with an exact counterexample (and passing on a right one), and the
pytest plugin (``--ams-budget``) and the example file run through pytest's ``pytester``."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import sympy as sp
from hypothesis import HealthCheck, Phase, given, settings

import ams_theory
import ams_theory.testing as amt
from ams_theory.core.cautions import CAUTIOUS_GT

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "testing.md"
EXAMPLE = ROOT / "examples" / "test_soft_mask.py"

SEARCH = settings(max_examples=60, database=None, derandomize=True, deadline=None,
                  suppress_health_check=list(HealthCheck))
# a planted wrong mask: the first failing example, not shrunk (shrinking re-checks every candidate exactly; the
# plugin and example runs below show shrunk reports)
FIND = settings(SEARCH, max_examples=200, phases=[Phase.generate])


def flipped(ops, u, s):
    """The indicator with its sign flipped: keeps the coordinates where u o s < 0 (a planted wrong mask)."""
    return ops.indicator_(ops.mul(ops.mul(ops.sign(u), s), -1), strict=True)


INDICATOR = amt.caution_mask(CAUTIOUS_GT)


def _violation(test) -> amt.PropertyViolation:
    with pytest.raises(amt.PropertyViolation) as info:
        test(FIND)
    err = info.value
    assert err.exact, str(err)
    assert isinstance(err.margin, sp.Rational) and err.margin > 0, err.margin
    assert "FAILS IN EXACT ARITHMETIC" in str(err)
    return err


# -- the public face ------------------------------------------------------------------------------

def _documented_names() -> set:
    table = DOC.read_text().split("## Stable names", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in table.splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", line.split("|")[1]))
    return names


def test_every_documented_name_is_public_and_every_public_name_documented():
    documented = _documented_names()
    assert len(documented) >= 25, documented
    missing = sorted(documented - set(amt.__all__))
    assert not missing, f"documented in docs/testing.md but not in ams_theory.testing.__all__: {missing}"
    undocumented = sorted(set(amt.__all__) - documented)
    assert not undocumented, f"in __all__ but not documented in docs/testing.md: {undocumented}"
    for name in amt.__all__:
        assert getattr(amt, name) is not None


def test_check_mask_gives_one_line_errors():
    assert amt.check_mask(flipped) is flipped
    for bad, word in ((42, "int"), (lambda ops, u: u, "signature"), (CAUTIOUS_GT, "caution_mask")):
        with pytest.raises(ValueError) as info:
            amt.check_mask(bad)
        assert "\n" not in str(info.value) and word in str(info.value)


def test_bad_inputs_give_one_line_errors():
    problem = ams_theory.engines.smooth.sample("quadratic_diagonal", 1, 2, __import__("torch").Generator())
    w = [0.5, -1.0]
    for call, word in ((lambda: amt.assert_one_step_descent(problem, w, [1.0], 0.1), "u:"),
                       (lambda: amt.assert_one_step_descent(problem, w, w, -1.0), "eta"),
                       (lambda: amt.assert_one_step_descent(problem, w, w, 0.1, parts="middle"), "parts"),
                       (lambda: amt.smooth_problems("nope"), "unknown loss families"),
                       (lambda: amt.hyperparameters("sgd"), "unknown method")):
        with pytest.raises(ValueError) as info:
            call()
        assert "\n" not in str(info.value) and word in str(info.value)


@SEARCH
@given(amt.hyperparameters("AMS"))
def test_hyperparameters_stay_in_the_papers_ranges(hp):
    assert hp["lr"] > 0 and hp["eps"] > 0 and hp["weight_decay"] >= 0 and hp["xi"] >= 0
    assert len(hp["betas"]) == 3 and all(0 <= b < 1 for b in hp["betas"])
    ams_theory.Caution.from_mapping(hp)                # a valid rule-core caution


# -- each assertion: a planted wrong mask fails exactly, a right one passes -------------------------

@pytest.mark.parametrize("form,part", [("D.1", "upper"), ("D.1", "descent"), ("D.2", "upper")])
def test_one_step_descent(form, part):
    def run(mask, how=SEARCH):
        @how
        @given(amt.descent_instances(bound=form if part == "descent" else None))
        def prop(inst):
            amt.assert_one_step_descent(inst.problem, inst.w, inst.u, inst.eta, mask, form=form, parts=part)
        prop()

    run(None)                                           # the lemma's own mask
    err = _violation(lambda how: run(flipped, how))
    assert f"part {part!r}" in str(err) and "flipped" in str(err)
    assert err.certificate["family"] in ("quadratic_convex", "quadratic_indefinite", "quadratic_diagonal",
                                         "quadratic_diagonal_convex")


def test_masked_not_worse():
    inner = amt.PAPER_MASKS["inner"]
    inner_flipped = lambda ops, u, s: 1 - inner(ops, u, s)

    def run(mask, hypothesis, convex=None, how=SEARCH):
        @how
        @given(amt.descent_instances(convex=convex, bound="2.3" if hypothesis else None, mask=mask))
        def prop(inst):
            amt.assert_masked_not_worse(inst.problem, inst.w, inst.u, inst.eta, mask, hypothesis=hypothesis)
        prop()

    run(INDICATOR, "thm2.3")                            # Thm. 2.3, at steps inside its bound
    run(inner, None, convex=True)                       # Thm. A.5: any step, convex losses
    err = _violation(lambda how: run(inner_flipped, None, convex=True, how=how))
    assert "any step" in str(err)


def test_hamiltonian_descent():
    def run(mask, how=SEARCH):
        system = amt.cautious_system(mask, c_phi=0.1, c_psi=0.5)

        @how
        @given(amt.system_states(system))
        def prop(state):
            amt.assert_hamiltonian_descent(system, state.problem, state.w, state.s, allowance=True)
        prop()

    run(INDICATOR)
    err = _violation(lambda how: run(flipped, how))
    assert "Hamiltonian descent fails" in str(err)


def test_mask_conditions():
    def run(mask, how=SEARCH):
        @how
        @given(amt.mask_inputs())
        def prop(us):
            amt.assert_mask_conditions(mask, *us)
        prop()

    run(INDICATOR)
    err = _violation(lambda how: run(flipped, how))
    assert err.certificate["condition"] in amt.MASK_CONDITIONS
    # eq. (1)'s default phi breaks Thm. 2.1's first condition at x = (1, 1) (claim cautious.eq6.default)
    with pytest.raises(amt.PropertyViolation) as info:
        amt.assert_mask_conditions(amt.PAPER_MASKS["eq1_default"], [1.0, 1.0], [1.0, 1.0], conditions="thm2.1_H")
    assert info.value.margin == sp.Rational(2, 3)


@pytest.mark.conform
def test_assert_conforms():
    result = amt.assert_conforms(ams_theory.CAdamW, "cadamw", steps=10)
    assert result.verdict == "conforms"
    with pytest.raises(AssertionError) as info:
        amt.assert_conforms(ams_theory.AdamW, "cadamw", steps=10, depth=1)
    assert "does not conform to 'cadamw'" in str(info.value) and "verdict     DEPARTS" in str(info.value)


# -- the plugin and the example, as a user runs them ------------------------------------------------

@pytest.fixture
def own_profile():
    """An in-process pytest run loads a hypothesis profile for the whole process: put ours back afterwards."""
    from ams_theory.testing import _budget

    name = settings.get_current_profile_name()
    yield
    settings.load_profile(name)
    _budget._set_budget(None)


USER_SUITE = '''
from hypothesis import given, settings
import ams_theory.testing as amt

def test_budget_is_loaded(ams_budget):
    assert ams_budget == amt.current_budget() == "{budget}"
    assert settings().max_examples == {examples}

def plain(ops, u, s):
    return ops.indicator_(ops.mul(ops.sign(u), s), strict=True)

@given(amt.descent_instances(bound="D.1"))
def test_descent(inst):
    amt.assert_one_step_descent(inst.problem, inst.w, inst.u, inst.eta, plain)

@given(amt.mask_inputs())
def test_conditions(us):
    amt.assert_mask_conditions(plain, *us)

@settings(max_examples=30, derandomize=True, database=None, deadline=None)
@given(amt.mask_inputs())
def test_wrong_mask(us):
    amt.assert_mask_conditions(lambda ops, u, s: 1 - plain(ops, u, s), *us, conditions="thm2.1_L")
'''


def test_plugin_budget_option(pytester, own_profile):
    pytester.makepyfile(test_user=USER_SUITE.format(budget="quick", examples=10))
    result = pytester.runpytest("-p", "no:cacheprovider", "--ams-budget", "quick")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["ams-theory budget: quick (hypothesis profile ams-quick, max_examples=10)",
                                 "*mask condition 'thm2.1_L' fails*", "*FAILS IN EXACT ARITHMETIC*"])


def test_plugin_changes_nothing_without_the_option(pytester, own_profile):
    before = settings.get_current_profile_name()
    pytester.makepyfile(test_user=USER_SUITE.format(budget="standard", examples=settings().max_examples))
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "budget")
    result.assert_outcomes(passed=1)
    assert "ams-theory budget" not in result.stdout.str()
    assert settings.get_current_profile_name() == before


def test_plugin_rejects_a_bad_budget_in_one_line(pytester, own_profile):
    pytester.makepyfile(test_user="def test_x():\n    pass\n")
    result = pytester.runpytest("--ams-budget", "huge")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = [ln for ln in result.stderr.str().splitlines() if ln.strip()]
    assert lines == ["ERROR: --ams-budget must be one of quick, standard, thorough; got 'huge'"]


def test_the_example_file_runs_with_its_expected_failure(pytester, own_profile):
    shutil.copy(EXAMPLE, pytester.path / EXAMPLE.name)
    result = pytester.runpytest("-p", "no:cacheprovider", "--ams-budget", "quick", "-rx")
    result.assert_outcomes(passed=4, xfailed=1)
    result.stdout.fnmatch_lines(["XFAIL*test_the_soft_mask_meets_eq6*"])


def test_the_docs_show_the_example_report():
    """The report printed in docs/testing.md is the one the example's failing property gives."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("soft_mask_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(amt.PropertyViolation) as info:
        amt.assert_mask_conditions(module.soft_mask, [1.0, 0.0], [-1.0, 0.0], conditions="eq6")
    shown = str(info.value).replace("soft_mask_example.", "test_soft_mask.")
    doc = DOC.read_text()
    missing = [line for line in shown.splitlines() if "   " + line not in doc]     # the block is indented
    assert not missing, missing
