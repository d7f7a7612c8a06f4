"""The discrete descent claims (:mod:`proofs_checks.discrete`) under hypothesis, the engines and the registry.

* Property tests: hypothesis draws an L-smooth problem (:func:`ams_theory.smooth.problems`), a base
  direction ``u`` and a step size, and evaluates the *same* margin functions the registry searches
  (with ``descent.T1``); where a claim holds its margin stays below the engine's tolerance
  ``1e-9 (1 + |scale|)``. Each property also asserts that enough drawn examples met the claim's
  hypotheses (a property that is never applicable would pass vacuously), and pushes the relative
  margin up with ``hypothesis.target``.
* Refutations: the literal claims that are false are refuted by ``random_search`` on quadratic
  families and the worst instance is certified in exact rationals (``descent.certify``).
* Mutations: a deliberately wrong bound (D.1 Part 1 with ``L eta^2 / 4``) is refuted by all three
  engines (random search, ``hypothesis_search``, the property runner), exactly certified; the same
  instance satisfies the true bound exactly. Deliberately weakened true bounds are not refuted.
* The registry: every discrete id runs in the quick budget with its current verdict.

Hypothesis profiles (registered here): ``ci`` (default; derandomised, small) and ``thorough``
(``HYPOTHESIS_PROFILE=thorough``). The profile is applied to this file's properties only (it is
not loaded globally, so other test files keep their own settings).
"""
from __future__ import annotations

import math
import os

import pytest
import sympy as sp
import torch
from hypothesis import HealthCheck, Phase, given, settings, strategies as st, target

from ams_theory import descent, smooth
from ams_theory.descent import T1, Claim
from ams_theory.registry import REGISTRY, load_checks, run_claim
from proofs_checks import discrete as D

F64 = torch.float64
QUAD = tuple(smooth.QUADRATIC_FAMILIES)
ALL = tuple(smooth.FAMILIES)
CONVEX = tuple(smooth.CONVEX_FAMILIES)

# ----------------------------------------------------------------------------- hypothesis profiles

_SUPPRESS = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]
settings.register_profile("ci", max_examples=150, deadline=None, derandomize=True, database=None,
                          suppress_health_check=_SUPPRESS)
settings.register_profile("thorough", max_examples=2_000, deadline=None, derandomize=False,
                          suppress_health_check=_SUPPRESS)
PROFILE_NAME = os.environ.get("HYPOTHESIS_PROFILE") or "ci"
PROFILE = settings.get_profile(PROFILE_NAME)
# a counterexample is expected in the mutation tests: find it, skip the (slow, pointless) shrinking
FIND_ONLY = settings(PROFILE, phases=[Phase.explicit, Phase.generate, Phase.target])


# ----------------------------------------------------------------------------- strategies

# noise coordinates bounded away from 0 (exact zeros come from the drawn mask only)
NONZERO = st.builds(lambda sign, mag: sign * mag, st.sampled_from([1.0, -1.0]), st.floats(0.01, 10.0))


@st.composite
def instances(draw, families=ALL, d=None, problem_map=None, shift_w=False):
    """``(problem, w, u)``: a one-instance problem and point from :func:`smooth.problems`, and a base
    direction ``u = mix * grad f(w) + v`` (``v``: nonzero hypothesis floats) with the coordinates of a
    drawn mask set exactly to 0. ``problem_map`` transforms the drawn problem first; ``shift_w`` adds a
    nonzero offset to ``w``."""
    problem, w = draw(smooth.problems(families, d))
    dim = w.shape[1]
    if problem_map is not None:
        problem = problem_map(problem)
    if shift_w:                     # away from w = 0 (hypothesis' favourite point)
        w = w + torch.tensor([draw(st.lists(NONZERO, min_size=dim, max_size=dim))], dtype=F64)
    g = problem.grad(w)
    mix = draw(st.floats(-1.0, 1.5, allow_nan=False))
    v = draw(st.lists(NONZERO, min_size=dim, max_size=dim))
    zero = draw(st.lists(st.booleans(), min_size=dim, max_size=dim))
    u = mix * g + torch.tensor([v], dtype=F64)
    u = torch.where(torch.tensor([zero]), torch.zeros_like(u), u)
    return problem, w, u


def log_eta(lo=-3.0, hi=1.0):
    """Step-size multipliers ``10 ** U(lo, hi)`` (times ``1/L``: below, around and far above ``1/L``)."""
    return st.floats(lo, hi, allow_nan=False).map(lambda e: 10.0 ** e)


def over_L(problem, x):
    return torch.tensor([[x]], dtype=F64) / problem.L.reshape(1, 1)


def evaluate(margin_fn, problem, w, u, eta, extra=None):
    """(margin, applicable, scale) as Python numbers; a NaN margin counts as not applicable, as in
    ``descent.random_search`` (a -inf margin is a trivially true instance and stays applicable)."""
    with torch.no_grad():
        m, app, scale = margin_fn(T1, problem, w, u, eta, extra or {}, with_scale=True)
    m, app, scale = float(m.reshape(-1)[0]), bool(app.reshape(-1)[0]), float(scale.reshape(-1)[0])
    return m, app and not math.isnan(m), scale


def run_property(strategy, margin_of, *, min_applicable=0.25, min_nontrivial=0.1, profile=PROFILE):
    """Run ``margin_of(example) -> (margin, applicable, scale)`` over ``strategy`` with hypothesis:
    every applicable example must have ``margin <= 1e-9 (1 + |scale|)`` (the engine's tolerance).
    Returns the counts; asserts that at least ``min_applicable`` of the examples were applicable and
    at least ``min_nontrivial`` had a nonzero margin (e.g. a mask that changed the step), so that the
    property is not passed by degenerate examples only."""
    seen = {"examples": 0, "applicable": 0, "nontrivial": 0, "worst_relative": -math.inf}

    @profile
    @given(strategy)
    def prop(example):
        margin, applicable, scale = margin_of(example)
        seen["examples"] += 1
        if not applicable:
            return
        seen["applicable"] += 1
        seen["nontrivial"] += margin != 0
        relative = margin / (1 + abs(scale))
        if math.isfinite(relative):
            target(relative, label="relative margin")
            seen["worst_relative"] = max(seen["worst_relative"], relative)
        assert margin <= descent._tolerance(abs(scale)), (
            f"violation: margin {margin!r} (scale {scale!r}) at {example!r}")

    prop()
    assert seen["applicable"] >= max(1, min_applicable * seen["examples"]), seen
    assert seen["nontrivial"] >= max(1, min_nontrivial * seen["examples"]), seen
    return seen


# ----------------------------------------------------------------------------- properties of true claims

def test_d1_part1_upper_bound():
    """Grams D.1 Part 1: cautious step, dL <= -eta P + L eta^2 |u|^2 / 2, any eta."""
    def margin(ex):
        (problem, w, u), e = ex
        return evaluate(D.m_d1_part1, problem, w, u, over_L(problem, e))
    seen = run_property(st.tuples(instances(), log_eta()), margin, min_applicable=1.0)
    assert seen["worst_relative"] <= 1e-9


def test_d1_part3_descent_inside_step_bound():
    """Grams D.1 Part 3: eta = theta * 2P/(L|u|^2), 0 < theta <= 1, gives dL <= 0."""
    def margin(ex):
        (problem, w, u), theta = ex
        bound = D._d1_bound(problem, w, u)
        if not (math.isfinite(float(bound)) and float(bound) > 0):     # no positive step allowed (P = 0)
            return math.nan, False, 0.0
        m, app, scale = evaluate(D.m_d1_part3, problem, w, u, theta * bound)
        if theta <= 0.999:           # well inside the bound: the claim's hypothesis must be met
            assert app, "eta inside the step bound but the margin function says not applicable"
        return m, app, scale
    run_property(st.tuples(instances(), st.floats(1e-6, 1.0)), margin, min_applicable=0.5)


def test_d2_part1_upper_bound():
    """Grams D.2 Part 1 (Def. 5.1 and Cor. 5.2 steps): dL <= -eta <|g|,|u|> + L eta^2 |u|^2 / 2."""
    def margin(ex):
        (problem, w, u), e = ex
        return evaluate(D.m_d2_part1, problem, w, u, over_L(problem, e))
    run_property(st.tuples(instances(), log_eta()), margin, min_applicable=1.0)


def test_d2_part3_descent_inside_step_bound():
    """Grams D.2 Part 3: eta = theta * 2<|g|,|u|>/(L|u|^2), 0 < theta <= 1, gives dL <= 0."""
    def margin(ex):
        (problem, w, u), theta = ex
        bound = D._d2_bound(problem, w, u)
        if not (math.isfinite(float(bound)) and float(bound) > 0):     # no positive step allowed (P = 0)
            return math.nan, False, 0.0
        m, app, scale = evaluate(D.m_d2_part3, problem, w, u, theta * bound)
        if theta <= 0.999:
            assert app, "eta inside the step bound but the margin function says not applicable"
        return m, app, scale
    run_property(st.tuples(instances(), st.floats(1e-6, 1.0)), margin, min_applicable=0.5)


def test_thm23_masked_step_no_worse_where_applicable():
    """Cautious Thm. 2.3 (four masks phi): L(w - eps u o phi) <= L(w - eps u) where Delta > 0 and eps is
    inside the theorem's bound (the margin function decides applicability)."""
    def margin(ex):
        (problem, w, u), e = ex
        return evaluate(D.m_thm23, problem, w, u, over_L(problem, e))
    run_property(st.tuples(instances(), log_eta(-4.0, math.log10(2.0))), margin, min_applicable=0.1)


# alpha > 0: where the masks do something (alpha = 0 is no step at all: margin 0)
ALPHA_NONNEG = st.floats(0.01, 4.0)


def _threshold_extra(problem, eps, alpha, slack):
    a = torch.tensor([[alpha]], dtype=F64)
    return {"alpha": a, "sigma": eps * a + over_L(problem, slack)}


def test_thm24_with_nonnegative_alpha():
    """Cautious Thm. 2.4 corrected (alpha_k >= 0): the threshold-masked step never increases the loss."""
    def margin(ex):
        (problem, w, u), e, alpha, slack = ex
        eps = over_L(problem, e)
        return evaluate(D.m_thm24_nonneg, problem, w, u, eps, _threshold_extra(problem, eps, alpha, slack))
    strategy = st.tuples(instances(), log_eta(-3.0, 0.5), ALPHA_NONNEG, log_eta(-6.0, 0.0))
    run_property(strategy, margin, min_applicable=0.9)


def test_a5_inner_product_mask_on_convex_losses():
    """Cautious Thm. A.5: convex L, mask 1(u'g >= 0): L(w_bar') <= L(w') for any step size."""
    def margin(ex):
        (problem, w, u), e = ex
        assert problem.convex
        return evaluate(D.m_a5, problem, w, u, over_L(problem, e))
    run_property(st.tuples(instances(CONVEX), log_eta()), margin, min_applicable=1.0)


def test_a6_elementwise_mask_on_separable_quadratic():
    """Cautious Cor. A.6: L = 0.5 |a o w|^2 (through ``_a6_problem``), element-wise mask, any step."""
    def margin(ex):
        (problem, w, u), e = ex
        assert float(problem.b.abs().sum()) == 0.0 and float(problem.c.abs().sum()) == 0.0
        assert bool((problem.A == torch.diag_embed(torch.diagonal(problem.A, dim1=-2, dim2=-1))).all())
        return evaluate(D.m_a6, problem, w, u, over_L(problem, e))
    strategy = instances(("quadratic_diagonal_convex",), problem_map=D._a6_problem, shift_w=True)
    run_property(st.tuples(strategy, log_eta()), margin, min_applicable=1.0)


def test_a7_with_nonnegative_alpha():
    """Cautious Thm. A.7 with alpha >= 0: inner threshold mask, L(w_bar') <= L(w_bar) for any step."""
    def margin(ex):
        (problem, w, u), e, alpha = ex
        eps = over_L(problem, e)
        return evaluate(D.m_a7_nonneg, problem, w, u, eps, {"alpha": torch.tensor([[alpha]], dtype=F64)})
    run_property(st.tuples(instances(), log_eta(-3.0, 0.5), ALPHA_NONNEG), margin, min_applicable=1.0)


# Statements with no extra hyperparameter: (margin, families, share of draws that must apply).
#   corrected D.1 Part 2: dL >= -eta P - L |w' - w|^2 / 2 on every L-smooth family;
#   D.1 Part 2 as stated (dL >= -eta P) holds when L is convex (the registry's correction);
#   corrected D.2 Part 2: dL >= -eta <|g|,|u|> - L eta^2 |u|^2 / 2 on every L-smooth family;
#   corrected Thm. A.3 (B_T = sum |u_t o phi_t|^2), cautious heavy ball with eq. (1)'s phi, T = 1..8.
PLAIN_PROPERTIES = {
    "d1_part2_corrected_for_any_smooth_loss": ("m_d1_part2_smooth", ALL, 1.0),
    "d1_part2_literal_holds_on_convex_losses": ("m_d1_part2", CONVEX, 1.0),
    "d2_part2_corrected_for_any_smooth_loss": ("m_d2_part2_smooth", ALL, 1.0),
    "a3_corrected_trajectory_bound": ("m_a3_corrected", D.A3_FAMILIES, 0.5),
}


@pytest.mark.parametrize("name", list(PLAIN_PROPERTIES))
def test_plain_property(name):
    fn, families, min_applicable = PLAIN_PROPERTIES[name]

    def margin(ex):
        (problem, w, u), e = ex
        return evaluate(getattr(D, fn), problem, w, u, over_L(problem, e))
    run_property(st.tuples(instances(families), log_eta()), margin, min_applicable=min_applicable)


# ----------------------------------------------------------------------------- refuted literal claims

REFUTED = {
    "D1.part2": Claim(D.m_d1_part2, D._draw_free, QUAD),
    "D2.part2": Claim(D.m_d2_part2, D._draw_free, QUAD),
    "thm2.4": Claim(D.m_thm24, D._draw_threshold, QUAD),
    "A3": Claim(D.m_a3, D._draw_free, ("quadratic_diagonal_convex",)),   # L* is exact for diagonal A only
}


def _certify_worst(claim, families=None, batch=2_000, dims=(1, 2, 3), seed=0):
    rs = descent.random_search(claim, 1, batch, seed, families=families, dims=dims)
    assert rs.violations > 0 and rs.worst > 0, "no candidate violation found"
    cert = descent.certify(claim, rs.worst_draw, rs.worst_index)
    assert cert is not None, "the worst instance could not be certified"
    return rs, cert


@pytest.mark.parametrize("name", list(REFUTED))
def test_literal_claim_refuted_with_exact_certificate(name):
    claim = REFUTED[name]
    rs, cert = _certify_worst(claim)
    margin = cert["margin"]
    assert isinstance(margin, sp.Basic) and margin.is_Rational, margin
    assert margin > 0 and cert["applicable"] is True
    assert cert["family"] in QUAD
    # the exact margin is the float one, up to rounding (and L rounded up by 1e-9 for rotated A)
    _, _, scale = evaluate(claim.margin, *_one(rs.worst_draw, rs.worst_index))
    assert abs(float(margin) - rs.worst) <= 1e-6 * (1 + abs(scale))


def _one(draw, i):
    one = draw.select(i)
    return one.problem, one.w, one.u, one.eta, one.extra


# ----------------------------------------------------------------------------- mutations

def m_d1_part1_halved(ops, problem, w, u, eta, extra, with_scale=False):
    """MUTANT (false): D.1 Part 1 with L eta^2 |u|^2 / 4 in place of / 2."""
    g, P, f0, dL, uu, _ = D._cautious_parts(ops, problem, w, u, eta)
    bound = -eta * P + D.Lc(problem) * eta ** 2 * uu / 4
    return D._ret(dL - bound, True, D.ABS(f0) + D.ABS(bound), with_scale)


def m_d1_part1_doubled(ops, problem, w, u, eta, extra, with_scale=False):
    """WEAKENED (true): D.1 Part 1 with L eta^2 |u|^2 in place of / 2."""
    g, P, f0, dL, uu, _ = D._cautious_parts(ops, problem, w, u, eta)
    bound = -eta * P + D.Lc(problem) * eta ** 2 * uu
    return D._ret(dL - bound, True, D.ABS(f0) + D.ABS(bound), with_scale)


def m_d1_part3_double_bound(ops, problem, w, u, eta, extra, with_scale=False):
    """MUTANT (false): D.1 Part 3 with the step bound doubled, eta <= 4P/(L|u|^2)."""
    g, P, f0, dL, uu, _ = D._cautious_parts(ops, problem, w, u, eta)
    applicable = D.AND(D.GT(uu, 0), D.LE(eta * D.Lc(problem) * uu, 4 * P))
    return D._ret(dL, applicable, D.ABS(f0), with_scale)


def m_d2_part3_half_bound(ops, problem, w, u, eta, extra, with_scale=False):
    """WEAKENED (true): D.2 Part 3 with eta restricted to half its bound, eta <= <|g|,|u|>/(L|u|^2)."""
    g, Q, f0, d51, d52, uu = D._grams_parts(ops, problem, w, u, eta)
    applicable = D.AND(D.GT(uu, 0), D.LE(eta * D.Lc(problem) * uu, Q))
    return D._ret(D.MAX(d51, d52), applicable, D.ABS(f0), with_scale)


HALVED = Claim(m_d1_part1_halved, D._draw_free, QUAD)


def test_mutant_wrong_constant_is_refuted_exactly_and_true_bound_holds_there():
    rs, cert = _certify_worst(HALVED)
    assert cert["applicable"] is True and cert["margin"].is_Rational and cert["margin"] > 0
    # the very same instance satisfies the true D.1 Part 1 exactly: only the constant made the difference
    true = descent.certify(Claim(D.m_d1_part1, D._draw_free, QUAD), rs.worst_draw, rs.worst_index)
    assert true["applicable"] is True and true["margin"] <= 0


def test_mutant_wrong_constant_found_by_hypothesis_search():
    found, tried = descent.hypothesis_search(HALVED, 300, 0)
    assert found is not None, f"hypothesis_search missed the false bound in {tried} examples"
    cert = descent.certify(HALVED, found, 0)
    assert cert["applicable"] is True and cert["margin"] > 0


def test_mutant_wrong_constant_fails_the_property_runner():
    def margin(ex):
        (problem, w, u), e = ex
        return evaluate(m_d1_part1_halved, problem, w, u, over_L(problem, e))
    with pytest.raises(AssertionError, match="violation: margin"):
        run_property(st.tuples(instances(QUAD), log_eta()), margin, profile=FIND_ONLY)


def test_mutant_doubled_step_bound_is_refuted_exactly():
    draw = D._draw_fraction(lambda p, w, u: 2 * D._d1_bound(p, w, u))
    rs, cert = _certify_worst(Claim(m_d1_part3_double_bound, draw, QUAD), batch=4_000)
    assert cert["applicable"] is True and cert["margin"] > 0


@pytest.mark.parametrize("name, claim", [
    ("D1.part1 with L eta^2 |u|^2", Claim(m_d1_part1_doubled, D._draw_free, ALL)),
    ("D2.part3 with eta <= half its bound",
     Claim(m_d2_part3_half_bound, D._draw_fraction(lambda p, w, u: D._d2_bound(p, w, u) / 2), ALL)),
])
def test_weakened_true_bound_is_not_refuted(name, claim):
    rs = descent.random_search(claim, 1, 4_000, 0)
    assert rs.instances == 4_000 * len(ALL) * len(claim.dims)
    assert rs.applicable > rs.instances // 2, (name, rs.applicable)
    assert rs.violations == 0, (name, rs.violations, rs.worst)
    found, tried = descent.hypothesis_search(claim, 100, 0)
    assert found is None and tried > 0, name


# ----------------------------------------------------------------------------- the registry

DISCRETE_IDS = ["grams.D1.part1", "grams.D1.part2", "grams.D1.part3", "grams.D2.part1", "grams.D2.part2",
                "grams.D2.part3", "grams.D3", "grams.R5.5", "cautious.2.3", "cautious.2.4", "cautious.A3",
                "cautious.A5", "cautious.A6", "cautious.A7", "cautious.eq6", "cautious.eq6.default"]
EXPECTED = {
    "grams.D1.part1": "holds", "grams.D1.part2": "refuted", "grams.D1.part3": "holds",
    "grams.D2.part1": "holds", "grams.D2.part2": "refuted", "grams.D2.part3": "holds",
    "grams.D3": "vacuous", "grams.R5.5": "refuted", "cautious.2.3": "holds", "cautious.2.4": "refuted",
    "cautious.A3": "refuted", "cautious.A5": "holds", "cautious.A6": "holds", "cautious.A7": "conditional",
    "cautious.eq6": "holds", "cautious.eq6.default": "refuted",
}


@pytest.fixture(scope="module")
def quick_verdicts():
    load_checks()
    return {cid: run_claim(REGISTRY[cid], "quick", 0) for cid in DISCRETE_IDS}


@pytest.mark.parametrize("cid", DISCRETE_IDS)
def test_registry_quick_verdict(quick_verdicts, cid):
    result = quick_verdicts[cid]
    assert REGISTRY[cid].kind == "discrete"
    assert result.status == "checked", result.error
    v = result.verdict
    assert v.word in ("holds", "refuted", "vacuous", "conditional"), v.word
    assert v.word == EXPECTED[cid], (cid, v.word, v.summary)
    if v.word == "refuted":
        assert v.counterexample["rechecked_exactly"] is True
    searched = v.evidence.get("random_search")
    if v.word == "holds" and searched is not None:
        assert searched["float_violations"] == 0 and searched["applicable"] > 0, searched
    if v.word == "vacuous":
        assert searched["applicable"] == 0 and v.evidence["N_nonpositive_on_all_sign_patterns"] is True
    if v.word == "conditional":
        assert v.correction["verdict"] == "holds"


def test_registry_refutations_carry_positive_exact_margins(quick_verdicts):
    """The search-based refutations store the exact (rational) margin of their certificate."""
    for cid in ("grams.D1.part2", "grams.D2.part2", "grams.R5.5", "cautious.2.4", "cautious.A3"):
        cex = quick_verdicts[cid].verdict.counterexample
        margin = sp.Rational(cex["margin"])
        assert (margin >= 0) if cid == "grams.R5.5" else (margin > 0), (cid, margin)
        assert cex["applicable"] is True and cex["family"] in QUAD
