"""Discrete lemmas proved from the smoothness bounds: proofs that re-check, and planted wrong constants refuted.

The proofs run the claims as stated in the claim language through the engine's worst-case-loss reduction
(:func:`ams_theory.engines.coordinates.worst_case`: the engine proves which bound each loss value takes, attained by
a quadratic, so the reduction is exact); a planted mistake must turn a proof into a refutation whose model survives
exact arithmetic, and a weakened true statement must stay proved.
"""
import pytest
import sympy as sp

import proofs_checks
from conftest import shared_run
from ams_theory.claims import bounds
from ams_theory.claims import judging
from ams_theory.claims import language as cl
from ams_theory.claims.language._one_step import _prove_one_step
from ams_theory.engines import symbolic
from ams_theory.core import rules
from ams_theory.engines import coordinates, proofs
from proofs_checks import discrete as D

proofs_checks.load()
# the quick runs are shared with the other claim modules on one worker (conftest.shared_run)
pytestmark = pytest.mark.xdist_group("claims")

PROVED = ["grams.D1.part1", "grams.D1.part3", "grams.D2.part1", "grams.D2.part3", "cautious.A6", "cautious.eq6",
          "cautious.A5"]
PROVED_CORRECTIONS = ["grams.D1.part2", "grams.D2.part2"]


@pytest.fixture(scope="module")
def results():
    return {cid: shared_run(cid) for cid in PROVED + PROVED_CORRECTIONS}


@pytest.mark.parametrize("cid", PROVED)
def test_holding_discrete_verdicts_are_proved(results, cid):
    v = results[cid].verdict
    assert results[cid].status == "checked", results[cid].error
    assert v.word == "holds" and v.strength.level == "proved" and v.strength.proof.recheck() is True


@pytest.mark.parametrize("cid", PROVED_CORRECTIONS)
def test_convex_corrections_are_proved_and_the_literal_lower_bound_refuted_by_the_engine(results, cid):
    """Part 2 as printed is refuted by the proof engine on the concave quadratic (exact values, re-checked); for
    convex losses it is proved, and the search beside the proof is kept."""
    v = results[cid].verdict
    assert v.word == "refuted" and v.correction.strength.level == "proved"
    assert v.counterexample["source"] == "proof engine" and v.counterexample["values"] and v.recheck() is True
    assert "needs convexity" in v.summary
    cov = v.correction.strength.coverage                            # one part per step form (D.2: both Grams)
    assert all("search" in c for c in ([cov] if "search" in cov else [p["coverage"] for p in cov["parts"]]))


def test_the_extremal_loss_attains_each_bound():
    w, g, dw = sp.symbols("w g dw", real=True)
    L, f0 = sp.symbols("L f0", positive=True)
    for side, curvature in (("upper", 1), ("lower", -1), ("convex", 0)):
        loss = coordinates.ExtremalLoss(symbolic.OPS, symbolic.OPS.asarray([w]), symbolic.OPS.asarray([g]), L, f0, side)
        assert sp.expand(loss.value(symbolic.OPS.asarray([w + dw])) - (f0 + g * dw + curvature * L * dw ** 2 / 2)) == 0
        assert sp.expand(loss.value(symbolic.OPS.asarray([w])) - f0) == 0


def _d1(name, conclusion=D.d1_upper, hyper=D.STEP_SIZE):
    """Lemma D.1 (cautious step) with another conclusion or step range, in the claim language."""
    return cl.OneStep(name, step=D.cautious_step, conclusion=conclusion, hyper=hyper, state=("u",))


def _upper_with_L_times(factor):
    """Part 1 with its curvature term L eta^2 |u|^2/2 multiplied by ``factor``."""
    return lambda q: q.at_most(q.dL, bounds.descent_upper(D._P(q), factor * q.L, q.eta, q.norm2(q.u)))


def _bound_times(bound, factor):
    return lambda ops, g, u, L: (factor * bound(ops, g, u, L)[0], bound(ops, g, u, L)[1])


def test_a_halved_curvature_term_is_refuted_with_an_exact_model():
    v = cl.decide(_d1("D.1 Part 1, halved", _upper_with_L_times(sp.Rational(1, 2))), "quick")
    assert v.word == "refuted" and v.counterexample["source"] == "proof engine" and v.recheck() is True
    cex = v.counterexample             # what the margin is made of there, adding up to it exactly
    assert sp.Add(*[sp.sympify(t["value"]) for t in cex["terms"]]) == sp.sympify(cex["margin"]) > 0
    assert cex["failing_term"].endswith(f"so the margin is {cex['margin']} > 0")


def test_a_weakened_true_bound_is_proved():
    v = cl.decide(_d1("D.1 Part 1, weakened", _upper_with_L_times(2)), "quick")
    assert v.word == "holds" and v.strength.level == "proved" and v.strength.proof.recheck()


def test_a_doubled_step_bound_is_refuted_and_a_halved_one_proved():
    doubled = _d1("D.1 Part 3, doubled bound", D.descends,
                  D.up_to(_bound_times(bounds.d1_step_bound, 2), "4P/(L|u|^2)"))
    v = cl.decide(doubled, "quick")
    assert v.word == "refuted" and v.counterexample["source"] == "proof engine" and v.recheck() is True
    halved = _d1("D.1 Part 3, halved bound", D.descends, D.up_to(_bound_times(bounds.d1_step_bound, sp.Rational(1, 2)),
                                                                "P/(L|u|^2)"))
    v = cl.decide(halved, "quick")
    assert v.word == "holds" and v.strength.level == "proved"


def test_the_multiplier_reduction_records_its_multiplier():
    v = cl.decide(D.D2_PART3[0], "quick")
    assert v.word == "holds" and v.strength.proof.recheck()
    assert any("lambda = eta/2" in label for label in _labels(v.strength.proof)), _labels(v.strength.proof)


def _labels(p):
    """Every part label of a (nested) proof bundle."""
    if not isinstance(p, proofs.Bundle):
        return []
    return [label for label, q in p.parts for label in [label, *_labels(q)]]


def test_a_planted_sign_slip_in_condition_6_is_refuted():
    """phi_i >= 0 (instead of >= 1) where x_i > 0 no longer gives x^T(1 - phi) <= 0."""
    x0, phi0 = coordinates.coordinate_symbol("x", real=True), coordinates.coordinate_symbol("phi", real=True)
    slipped = (sp.Or(x0 <= 0, phi0 >= 0), sp.Or(x0 >= 0, phi0 <= 0))
    p = coordinates.per_coordinate(lambda ops, vec: bounds.eq6_sums(vec("x", real=True), vec("phi", real=True), ops)[0],
                                   "<= 0", slipped)
    assert p.status == "refuted" and p.certify()


def test_a_claim_beyond_the_reduction_is_not_proved():
    """Thm. 2.3 compares two steps and needs the gradient's Lipschitz bound at a second point: not attempted, and
    the verdict stays searched."""
    r = shared_run("cautious.2.3")
    assert r.verdict.word == "holds" and r.verdict.strength.level == "searched"
    for part in r.verdict.evidence.values():             # one part per mask, each searched after an open proof
        assert part["proof"].startswith("open:") and "not attained by one loss" in part["proof"]


def test_d3_proofs_close_where_true_and_stay_open_where_false():
    """Corrected D.3 (both parts) is proved for convex losses (constant 2) and for every L-smooth loss at half the
    bound (constant 1); for L-smooth losses at 2, or a doubled constant, the comparison's bounds (upper for the Grams
    value, lower for the cautious one, chosen by the engine) fail: open, never a refutation (they are different
    losses)."""
    for cls, constant in (("convex", 2), ("smooth", 1), ("convex", 1)):
        for claim in D.d3_claims(cls, True, constant):
            p, verdict = _prove_one_step(claim)
            assert p.proved and p.recheck() and verdict.word == "holds", (cls, constant, claim.name)
    for cls, constant in (("smooth", 2), ("convex", 4)):
        p, verdict = _prove_one_step(D.d3_claims(cls, True, constant)[0])
        assert p.status == "open" and p.model is None and "not attained by one loss" in p.reduction, (cls, constant)
        assert verdict is None


def test_the_indefinite_witness_refutes_corrected_d3_without_convexity_exactly():
    from ams_theory.engines.descent import certify
    comparison = lambda constant: cl.margin_claim(D.d3_claims("smooth", True, constant)[0])
    cert = certify(comparison(2), D.d3_indefinite_witness(), 0)
    assert cert["applicable"] is True and sp.Rational(cert["margin"]) > 0
    halved = certify(comparison(1), D.d3_indefinite_witness(), 0)
    assert halved["applicable"] is False                  # eta = 1023/1024 is past half the bound


def test_d3_as_written_is_proved_vacuous():
    """N <= 0 for every state, so no eta > 0 meets 2 min{P, N}/(L|u|^2): vacuous, with the proof of N's sign."""
    for claim in D.d3_claims():
        p, verdict = _prove_one_step(claim)
        assert p.proved and p.recheck() and verdict.word == "vacuous" and "argument 2" in verdict.summary


def test_remark_55s_equal_decrease_instance_breaks_the_strict_claim_exactly():
    """Every coordinate aligned: the two steps coincide, the margin L(w_Grams) - L(w_C) is exactly 0, which a strict
    claim counts as a violation and a non-strict one does not."""
    strict = cl.margin_claim(D.r55().literal)
    assert judging.try_certify(strict, D.aligned_witness(), 0, "witness", strict=True) is not None
    assert judging.try_certify(strict, D.aligned_witness(), 0, "witness") is None


def test_a_sufficient_bound_that_fails_is_open_not_refuted():
    """with_multiplier(sufficient=True): a model of the sufficient bound refutes nothing."""
    eta = sp.Symbol("eta", nonnegative=True)

    def build(ops, vec):
        return ops.total(vec("x", real=True)), [sp.Integer(0) * eta]
    assert coordinates.with_multiplier(build, [1], (), "sum x <= 0", sufficient=True).status == "open"
    assert coordinates.with_multiplier(build, [1], (), "sum x <= 0").status == "refuted"


# ----------------------------------------------------------------------------- per-vector gates, case by case

def test_a_per_vector_gate_is_split_into_its_two_cases():
    """The inner-product mask 1(<u, g> >= 0) reads the sign of one sum: two cases, <u, g> >= 0 (gate 1) and
    <u, g> <= 0 (gate 0, the strict condition relaxed, which proves more)."""
    claim = D.a5_claim(D.INNER_GE)
    proof, verdict = _prove_one_step(claim)
    assert verdict.word == "holds" and isinstance(proof, proofs.Bundle) and proof.recheck() is True
    labels = [label for label, _ in proof.parts]
    assert len(labels) == 2 and "in [0, 1]: gate = 1" in labels[0] and "in [-1]: gate = 0" in labels[1]


def test_thm_a7_is_proved_for_alpha_at_least_0_and_refuted_without():
    v = shared_run("cautious.A7").verdict
    assert (v.word, v.strength.level) == ("conditional", "proved") and v.strength.proof.recheck() is True
    assert (v.correction.verdict, v.correction.strength.level) == ("holds", "proved")
    assert sp.Rational(v.counterexample["values"]["alpha"]) < 0 and v.recheck() is True


@pytest.mark.parametrize("claim", [
    D.a5_claim(D.INNER_GE, "smooth"),                                                  # convexity dropped
    D.threshold_claim("Thm. A.7", "inner", None),                                      # any alpha
    D.a5_claim(rules.Caution(lam=-1, tie="aligned", normalize="none", mask="inner")),  # an opposed step reversed
], ids=["A5 without convexity", "A7 any alpha", "A5 with lam = -1"])
def test_a_false_gated_claim_is_not_proved_case_by_case(claim):
    """The case split proves nothing false: each planted claim fails in one of its cases, and is then reduced whole
    (refuted on the extremal loss where it can be) or searched."""
    proof, verdict = _prove_one_step(claim)
    assert not proof.proved and (verdict is None or verdict.word == "refuted")


def test_a_refuted_claims_counterexample_says_which_term_breaks_it():
    """Thm. 2.4 of the Cautious paper, refuted by the engine: the counterexample carries the margin's terms (they
    add up to the margin exactly), the mask's value there and the sentence naming the positive term."""
    proof, verdict = _prove_one_step(D.threshold_claim("Thm. 2.4", "elementwise", None))
    assert proof.status == "refuted" and verdict.word == "refuted"
    e = proof.explain()
    margin = proof.margin()
    assert margin == sp.Rational(1, 2)
    assert sp.Add(*[sp.Rational(t["value"]) for t in e["terms"]]) == margin and len(e["terms"]) == 2
    positive = [t for t in e["terms"] if sp.Rational(t["value"]) > 0]
    assert len(positive) == 1 and positive[0]["term"].startswith("L*alpha**2*eps**2*u0**2*Piecewise(")
    masks = {m["mask"]: m["value"] for m in e["mask_values"]}
    assert [v for m, v in masks.items() if m.startswith("Piecewise(")] == ["1"]
    assert e["failing_term"] == (f"the term {positive[0]['term']} = 1/2 is positive and the other terms add up to "
                                 "0, so the margin is 1/2 > 0")
    cex = verdict.counterexample
    assert cex["source"] == "proof engine" and cex["margin"] == "1/2"
    assert {k: cex[k] for k in ("terms", "mask_values", "failing_term")} == e
