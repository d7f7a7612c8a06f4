"""Continuous-time family: computed verdicts, exact re-checks, and checks shown able to fail."""
import pytest
import sympy as sp
import torch

from ams_theory import dynamics as dyn
from ams_theory import smooth
from ams_theory.registry import REGISTRY, load_checks, run_claim

load_checks()
IDS = {"cautious.2.1": "holds", "cautious.2.2": "holds", "cautious.A1": "holds",
       "cautious.A2": "holds", "cautious.A3.1.formula": "refuted", "cautious.A3.1.cadam": "conditional",
       "cautious.A3.2": "holds", "cautious.A3.3": "refuted", "grams.E2": "refuted", "grams.E3.H": "holds",
       "grams.E3.L": "holds", "grams.E4": "holds", "grams.5.10": "holds"}


@pytest.fixture(scope="module")
def results():
    return {cid: run_claim(REGISTRY[cid], "quick", 0) for cid in IDS}


@pytest.mark.parametrize("cid", list(IDS))
def test_continuous_verdicts(results, cid):
    r = results[cid]
    assert r.status == "checked", r.error
    assert r.verdict.word == IDS[cid]
    if r.verdict.word == "refuted":
        assert r.verdict.counterexample["rechecked_exactly"] is True
        assert r.verdict.recheck() is True


def test_corrections(results):
    assert results["cautious.A3.1.formula"].verdict.correction["verdict"] == "holds"
    assert results["grams.E2"].verdict.correction["verdict"] == "holds"


def test_autograd_rate_matches_exact_rate_on_a_quadratic():
    """The two independent derivatives (autograd in floats, sympy in rationals) agree."""
    system = dyn.SYSTEMS["grams"]
    problem = smooth.FAMILIES["quadratic_diagonal"](1, 2, torch.Generator().manual_seed(3))
    w = torch.tensor([[0.5, -1.25]], dtype=torch.float64)
    s = torch.tensor([[0.75, 0.25]], dtype=torch.float64)
    dH, dL = dyn.true_rates(system, problem, w, s)
    exact = dyn.SymbolicQuadratic(smooth.exact_quadratic(problem, 0))
    R = lambda xs: dyn.SYM.asarray([sp.Rational(float(x)) for x in xs])
    eH, eL = dyn.exact_rates(system, exact, R(w[0]), R(s[0]))
    assert abs(float(eH) - float(dH)) < 1e-12 and abs(float(eL) - float(dL)) < 1e-12


def test_a_planted_wrong_sign_in_a_stated_rate_is_refuted(monkeypatch):
    """Mutation: dH/dt = +|m|_1 for signed momentum must be refuted with an exact certificate."""
    system = dyn.SYSTEMS["signed_momentum"]
    monkeypatch.setitem(system.stated, "dH", lambda ops, problem, w, s: ops.total(ops.abs(s)))
    r = run_claim(REGISTRY["cautious.A3.2"], "quick", 0)
    assert r.verdict.word == "refuted" and r.verdict.counterexample["rechecked_exactly"] is True


def test_a_planted_wrong_field_breaks_hamiltonian_descent(monkeypatch):
    """Mutation: Grams dynamics with the sign of the w-velocity flipped no longer decreases H."""
    original = dyn.SYSTEMS["grams"].field
    monkeypatch.setattr(dyn.SYSTEMS["grams"], "field",
                        lambda ops, problem, w, s: tuple(-x if i == 0 else x
                                                         for i, x in enumerate(original(ops, problem, w, s))))
    r = run_claim(REGISTRY["grams.E3.H"], "quick", 0)
    assert r.verdict.word == "refuted"


def test_adam_condition_a_ge_b_over_4_is_needed(results):
    evidence = results["cautious.A1"].verdict.evidence
    below = evidence["a = 0.2 < b/4 (condition violated)"]
    assert below["violations"] > 0
