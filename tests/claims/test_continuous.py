"""Continuous-time family: computed verdicts, exact re-checks, and checks shown able to fail."""
import dataclasses

import pytest
import sympy as sp
import torch

import proofs_checks
from conftest import shared_run
from ams_theory.claims import language as cl
from ams_theory.engines import dynamics as dyn
from ams_theory.engines import smooth
from proofs_checks import continuous as C

proofs_checks.load()
# the quick runs are shared with the other claim modules on one worker (conftest.shared_run)
pytestmark = pytest.mark.xdist_group("claims")
IDS = {"cautious.2.1": "holds", "cautious.2.2": "conditional", "cautious.A1": "holds",
       "cautious.A2": "conditional", "cautious.A3.1.formula": "refuted", "cautious.A3.1.cadam": "refuted",
       "cautious.A3.2": "holds", "cautious.A3.3": "refuted", "grams.E2": "refuted", "grams.E3.H": "holds",
       "grams.E3.L": "holds", "grams.E4": "holds", "grams.5.10": "conditional"}


@pytest.fixture(scope="module")
def results():
    return {cid: shared_run(cid) for cid in IDS}


@pytest.mark.parametrize("cid", list(IDS))
def test_continuous_verdicts(results, cid):
    r = results[cid]
    assert r.status == "checked", r.error
    assert r.verdict.word == IDS[cid]
    if r.verdict.word == "refuted":
        assert r.verdict.counterexample["rechecked_exactly"] is True
        assert r.verdict.recheck() is True


def test_corrections(results):
    for cid in ("cautious.A3.1.formula", "cautious.A3.1.cadam", "cautious.A3.3", "grams.E2"):
        assert results[cid].verdict.correction.verdict == "holds", cid


def test_every_verdict_carries_a_strength(results):
    for cid, r in results.items():
        assert r.verdict.strength.level in ("proved", "exhaustive", "searched"), cid
        if r.verdict.correction:
            assert r.verdict.correction.strength.level in ("proved", "exhaustive", "searched"), cid


def test_cautious_adam_is_judged_with_the_printed_hamiltonian(results):
    """The cautious paragraph prints H with sqrt(v + e); that H can increase even with a >= b/4, while (12)'s
    sqrt(v) + e form decreases under a >= b/4 and not without it."""
    v = results["cautious.A3.1.cadam"].verdict
    assert "sqrt(v + e) as printed" in v.summary
    model = {k: sp.Rational(x) for k, x in v.counterexample["values"].items()}
    assert model["a"] >= model["b"] / 4 and model["e"] > 0
    assert v.evidence["H of (12), a <= b/4"]["verdict"] == "refuted"


def test_lion_readings_are_judged_and_the_cautious_dl_identity_checked(results):
    v = results["cautious.A3.3"].verdict
    reading = lambda r, label: v.evidence[f"reading {r}: {label}"]["verdict"]
    for r in dyn.LION_READINGS:
        assert reading(r, "stated dH/dt") == "refuted"
        assert reading(r, "cautious Lion dL identity") == "holds"
        expected = "refuted" if r == "printed" else "holds"
        assert reading(r, "Lion dH <= 0") == expected and reading(r, "cautious Lion dH <= 0") == expected, r


def test_e2_literal_is_refuted_at_d1_and_called_ill_posed_beyond(results):
    v = results["grams.E2"].verdict
    assert set(v.counterexample["values"]) == {"c_phi", "c_psi", "g0", "s0"}
    assert "ill-posed" in v.evidence["d >= 2"]


def test_lion_k_is_proved_for_every_convex_k_and_judged_at_b_equal_1(results):
    """Example A.2: proved on [0, 1) for every convex K with its minimum at 0 (the gradient free at the two points the
    flow reads it, constrained only by convexity); at b = 1, in the printed range, H divides by 0: conditional on
    b < 1, and H = aL proved there in its place."""
    v = results["cautious.A2"].verdict
    assert (v.word, v.strength.level) == ("conditional", "proved") and "b < 1" in v.summary
    assert v.strength.proof.recheck() is True
    assert (v.correction.verdict, v.correction.strength.level) == ("holds", "proved")
    assert "every convex K, b in (0, 1)" in v.summary and "every convex K, b = 0" in v.summary


@pytest.mark.parametrize("weights, hypotheses", [
    (lambda hp: (hp.a / hp.b, 0, hp.a / (1 - hp.b)), ("at y", "at z")),          # monotone gradient dropped
    (lambda hp: (hp.a / hp.b, 0, hp.a / (1 - hp.b)), ("monotone", "at y")),        # minimum at 0 (at z) dropped
])
def test_lion_k_without_a_consequence_of_convexity_is_refuted(weights, hypotheses):
    """Each hypothesis the any-K proof uses is needed: without it a gradient that breaks it refutes dH/dt <= 0."""
    flow = C.lion_k_any(cl.Range(0, 1, lo_open=True, hi_open=True), lambda q: q.at_most(C.lion_k_rate(q), 0),
                        "planted", weights)
    full = flow.hypotheses
    keep = {"monotone": 0, "at y": 1, "at z": 2}
    planted = dataclasses.replace(flow, weights=None,
                                  hypotheses=lambda q: [full(q)[keep[h]] for h in hypotheses])
    v = cl.decide(planted, "quick")
    assert v.word == "refuted" and v.recheck() is True


def test_lion_k_weights_that_cannot_be_shown_nonnegative_prove_nothing():
    flow = C.lion_k_any(cl.Range(0, 1, lo_open=True, hi_open=True), lambda q: q.at_most(C.lion_k_rate(q), 0),
                        "planted", lambda hp: (-hp.a / hp.b, 0, hp.a / (1 - hp.b)))
    v = cl.decide(flow, "quick")
    assert v.strength.level != "proved"


@pytest.mark.parametrize("cid", ["cautious.2.2", "grams.5.10"])
def test_convergence_is_conditional_on_the_unstated_condition_and_refuted_without_it(results, cid):
    """Cor. 2.2 / 5.10: proved (LaSalle, conditions for every K, Phi, Psi) under (i) or (ii); without them the exact
    periodic solution (K flat near 0, Phi a rotation) is a bounded solution that converges to no stationary point."""
    v = results[cid].verdict
    assert (v.word, v.strength.level) == ("conditional", "proved") and C.EITHER_CONDITION in v.summary
    assert v.strength.proof.recheck() is True
    assert v.evidence[f"without {C.EITHER_CONDITION}"]["rechecked_exactly"] is True
    assert all(status == "proved" for status in v.evidence["conditions"].values())


def test_the_periodic_counterexample_needs_its_rotation():
    """With Phi = 0 in place of the rotation, the orbit no longer solves the field: the re-check fails."""
    assert C.periodic_counterexample()[1]() is True
    assert C.periodic_counterexample(lambda ops, x: x * 0)[1]() is False


def test_the_invariance_conditions_fail_when_planted():
    """(b) with the gradient dropped from s', and (a) for (5) without the mask condition or for Def. 5.6 read as
    sign(g o |grad K|), are refuted exactly; the true conditions are proved for every K, Phi, Psi."""
    rest = C.lasalle_rest("(2)", None)
    assert cl.decide(rest, "quick").strength.level == "proved"
    no_gradient = dataclasses.replace(rest, field=lambda q: (lambda dw, ds: (dw, [ds[0] - q.g]))(*rest.field(q)))
    for planted in (no_gradient, C.lasalle_descent("(5), no mask condition", C.ANY_MASK),
                    C.lasalle_descent("Grams, other reading", C.GRAMS_OTHER)):
        v = cl.decide(planted, "quick")
        assert v.word == "refuted" and v.recheck() is True, planted.name
    assert cl.decide(C.masked_descent("(5)"), "quick").strength.level == "proved"


def test_adam_condition_is_proved_sufficient_and_shown_needed(results):
    v = results["cautious.A1"].verdict
    assert (v.word, v.strength.level) == ("holds", "proved")
    below = cl.decide(C.example_a1().beside["a <= b/4 (condition violated)"], "quick")
    assert below.word == "refuted" and below.recheck() is True
    witness = {k: sp.Rational(x) for k, x in below.counterexample["values"].items()}
    assert witness["a"] < witness["b"] / 4
    assert v.evidence["a <= b/4 (condition violated)"]["verdict"] == "refuted"


def test_convergence_needs_the_mask_condition(results):
    v = results["cautious.2.2"].verdict
    assert v.evidence[f"without {C.MASK_CONDITION}"]["rechecked_exactly"] is True
    assert v.strength.level == "proved" and "LaSalle" in v.evidence["argument"]


def test_autograd_rate_matches_exact_rate_on_a_quadratic():
    """The two independent derivatives (autograd in floats, sympy in rationals) agree."""
    system = dyn.SYSTEMS["grams"]
    problem = smooth.LOSS_FAMILIES["quadratic_diagonal"](1, 2, torch.Generator().manual_seed(3))
    w = torch.tensor([[0.5, -1.25]], dtype=torch.float64)
    s = torch.tensor([[0.75, 0.25]], dtype=torch.float64)
    dH, dL = dyn.true_rates(system, problem, w, s)
    exact = dyn.SymbolicQuadratic(smooth.exact_quadratic(problem, 0))
    R = lambda xs: dyn.SYM.asarray([sp.Rational(float(x)) for x in xs])
    eH, eL = dyn.exact_rates(system, exact, R(w[0]), R(s[0]))
    assert abs(float(eH) - float(dH)) < 1e-12 and abs(float(eL) - float(dL)) < 1e-12


def test_a_planted_wrong_sign_in_a_stated_rate_is_refuted():
    """Mutation: dH/dt = +|m|_1 for signed momentum must be refuted with an exact counterexample."""
    planted = C.signed_momentum("planted: dH = +|m|_1", lambda q, of: q.equal(q.dH, -of("dH")))
    v = cl.decide(planted, "quick")
    assert v.word == "refuted" and v.recheck() is True and v.strength.level == "proved"


@pytest.mark.parametrize("claim", C.E3_H, ids=lambda c: c.name)
def test_a_planted_wrong_field_breaks_hamiltonian_descent(claim):
    """Mutation: Grams dynamics with the sign of the w-velocity flipped no longer decreases H: refuted by the
    engine with a model that survives exact arithmetic."""
    flipped = dataclasses.replace(claim, name="flipped", field=lambda q: (lambda f: (-f[0], f[1]))(claim.field(q)))
    v = cl.decide(flipped, "quick")
    assert v.word == "refuted" and v.strength.level == "proved" and v.recheck() is True


def test_a_reversed_comparison_of_grams_and_cautious_is_refuted():
    """Mutation: Thm. E.4 with its inequality reversed (Grams never faster than cautious) is refuted exactly."""
    claim = C.E4[0]
    reversed_ = dataclasses.replace(claim, name="reversed",
                                    conclusion=lambda q: cl.Relation(-claim.conclusion(q).value, "<= 0"))
    v = cl.decide(reversed_, "quick")
    assert v.word == "refuted" and v.recheck() is True


@pytest.mark.parametrize("cid", ["grams.E3.H", "grams.E3.L", "grams.E4"])
def test_def_56s_open_parenthesis_is_read_one_way_and_the_other_reading_fails(cid):
    """Def. 5.6 leaves a parenthesis open: the theorems hold (proved) with -sign(g) o |grad K(s)|, the reading each
    verdict names; with -sign(g o |grad K(s)|) each is refuted exactly (decided beside)."""
    r = shared_run(cid)
    assert (r.verdict.word, r.verdict.strength.level) == ("holds", "proved")
    assert r.to_json()["reading"].startswith("-sign(grad L) o |grad K(s)|")
    other = next(v for k, v in r.verdict.evidence.items() if k.startswith("Def. 5.6 read as -sign(grad L o"))
    assert (other["verdict"], other["strength"]) == ("refuted", "proved")


def test_the_grams_theorems_are_proved_for_every_energy_and_damping():
    """Thm. E.3 and E.4 with grad K(s), Phi(grad L) and Psi(grad K(s)) free vectors, <g, Phi> >= 0 and <k, Psi> >= 0
    (sums over coordinates, closed by a multiplier): proved for every dimension."""
    for claim in (*C.e3_any_energy(), C.e4_any_energy()):
        v = cl.decide(claim, "quick")
        assert (v.word, v.strength.level) == ("holds", "proved"), (claim.name, v.summary)


def test_a_refutation_under_hypotheses_over_coordinates_meets_them():
    """Planted: dH/dt with the wrong sign on <grad K, ds>. The counterexample, decided on one coordinate, must meet
    the hypotheses <g, Phi> >= 0 and <k, Psi> >= 0 (a refutation that ignored them would be no counterexample)."""
    bad = C.any_energy_flow("planted", C.GRAMS, lambda q, sys: q.at_most(q.dot(q.g, q.dw) - q.dot(q.k, q.ds[0]), 0))
    v = cl.decide(bad, "quick")
    assert v.word == "refuted" and v.recheck() is True
    x = {k: sp.Rational(val) for k, val in v.counterexample["values"].items()}
    assert x["g0"] * x["p0"] >= 0 and x["k0"] * x["r0"] >= 0
