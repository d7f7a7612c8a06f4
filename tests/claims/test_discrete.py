"""The discrete descent claims (:mod:`proofs_checks.discrete`) under hypothesis, the engines and the registry.

* Property tests: hypothesis draws an L-smooth problem (:func:`ams_theory.engines.smooth.problems`), a base
  direction ``u`` and a step size, and evaluates the *same* margin functions the registry searches
  (with ``descent.T1``); where a claim holds its margin stays below the engine's tolerance
  ``1e-9 (1 + |scale|)``. Each property also asserts that enough drawn examples met the claim's
  hypotheses (a property that is never applicable would pass vacuously), and pushes the relative
  margin up with ``hypothesis.target``.
* Refutations: the literal claims that are false are refuted by ``random_search`` on quadratic
  families and the worst instance is certified in exact rationals (``descent.certify``).
* Mutations: a deliberately wrong bound (D.1 Part 1 with ``L eta^2 / 4``) is refuted by all three
  engines (random search, ``hypothesis_search``, the property runner), exactly certified; the same
  instance satisfies the true bound exactly. Planted wrong bounds (a step bound doubled, the
  ``L eta^2 / 2`` term halved), stated in the claim language, are refuted by ``cl.decide_all`` with an
  exact counterexample that re-checks and a proved strength that the registry accepts, and by the claim's
  own search inside the planted bound. Deliberately weakened true bounds are not refuted, and hold.
* Draws and coverage: every mixture stays inside the range its coverage states and draws its
  boundary values exactly; ``theta = 1`` is the largest float step the claim's hypothesis accepts;
  the controls just past a bound find violations.
* The registry: every discrete id runs in the quick budget with its current verdict and strength, and
  the strength's coverage names the boundary values.

Hypothesis profiles (registered here): ``ci`` (default; derandomised, small) and ``thorough``
(``HYPOTHESIS_PROFILE=thorough``). The profile is applied to this file's properties only (it is
not loaded globally, so other test files keep their own settings).
"""
from __future__ import annotations

import dataclasses
import math
import os

import pytest
import sympy as sp
import torch
from hypothesis import HealthCheck, Phase, given, settings, target
from hypothesis import strategies as st

import proofs_checks
from ams_theory.claims import bounds
from ams_theory.engines import draws
from ams_theory.engines import margins
from ams_theory.claims import judging
from ams_theory.claims import language as cl
from conftest import shared_run
from ams_theory.claims import registry
from ams_theory.claims.registry import REGISTRY, run_claim
from ams_theory.engines import descent, smooth
from ams_theory.engines.descent import T1, MarginClaim
from proofs_checks import discrete as D

# the registry runs (quick_verdicts) are shared with the other claim modules on one worker (conftest.shared_run)
pytestmark = pytest.mark.xdist_group("claims")

F64 = torch.float64
QUAD = tuple(smooth.QUADRATIC_FAMILIES)
ALL = tuple(smooth.LOSS_FAMILIES)
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
        margin = margin_fn(T1, problem, w, u, eta, extra or {})
    m, app = float(margin.value.reshape(-1)[0]), bool(margin.applicable.reshape(-1)[0])
    scale = float(margin.scale.reshape(-1)[0])
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
        return evaluate(REGISTRY["grams.D1.part1"].margin, problem, w, u, over_L(problem, e))
    seen = run_property(st.tuples(instances(), log_eta()), margin, min_applicable=1.0)
    assert seen["worst_relative"] <= 1e-9


def bound_value(bound):
    """``num/den`` of a step bound ``(num, den)`` (one instance), or NaN when it allows no positive step."""
    num, den = (float(x.reshape(-1)[0]) for x in bound)
    return num / den if den > 0 and num > 0 and math.isfinite(num / den) else math.nan


def _inside_step_bound(margin_fn, bound_fn):
    """Property: eta = theta * num/den, 0 < theta <= 1, meets the claim's hypothesis (theta <= 0.999) and the
    conclusion holds."""
    def margin(ex):
        (problem, w, u), theta = ex
        bound = bound_value(bound_fn(T1, problem, w, u))
        if math.isnan(bound):                 # no positive step allowed (P = 0)
            return math.nan, False, 0.0
        m, app, scale = evaluate(margin_fn, problem, w, u, torch.tensor([[theta * bound]], dtype=F64))
        if theta <= 0.999:           # well inside the bound: the claim's hypothesis must be met
            assert app, "eta inside the step bound but the margin function says not applicable"
        return m, app, scale
    run_property(st.tuples(instances(), st.floats(1e-6, 1.0)), margin, min_applicable=0.5)


def test_d1_part3_descent_inside_step_bound():
    """Grams D.1 Part 3: eta = theta * 2P/(L|u|^2), 0 < theta <= 1, gives dL <= 0."""
    _inside_step_bound(REGISTRY["grams.D1.part3"].margin, at_instance(bounds.d1_step_bound))


def test_d2_part1_upper_bound():
    """Grams D.2 Part 1 (Def. 5.1 and Cor. 5.2 steps): dL <= -eta <|g|,|u|> + L eta^2 |u|^2 / 2."""
    def margin(ex):
        (problem, w, u), e = ex
        return evaluate(REGISTRY["grams.D2.part1"].margin, problem, w, u, over_L(problem, e))
    run_property(st.tuples(instances(), log_eta()), margin, min_applicable=1.0)


def test_d2_part3_descent_inside_step_bound():
    """Grams D.2 Part 3: eta = theta * 2<|g|,|u|>/(L|u|^2), 0 < theta <= 1, gives dL <= 0."""
    _inside_step_bound(REGISTRY["grams.D2.part3"].margin, at_instance(bounds.d2_step_bound))


def test_thm23_masked_step_no_worse_where_applicable():
    """Cautious Thm. 2.3 (four masks phi): L(w - eps u o phi) <= L(w - eps u) where Delta > 0 and eps is
    inside the theorem's bound (the margin function decides applicability)."""
    def margin(ex):
        (problem, w, u), e = ex
        return evaluate(REGISTRY["cautious.2.3"].margin, problem, w, u, over_L(problem, e))
    run_property(st.tuples(instances(), log_eta(-4.0, math.log10(2.0))), margin, min_applicable=0.1)


# alpha > 0: where the masks do something (alpha = 0 is no step at all: margin 0)
ALPHA_NONNEG = st.floats(0.01, 4.0)


def _threshold_extra(problem, eps, alpha, slack):
    a = torch.tensor([[alpha]], dtype=F64)
    return {"alpha": a, "sigma": eps * a + over_L(problem, slack)}


THM24_NONNEG = cl.as_margin(D.threshold_claim("Thm. 2.4", "elementwise", None, alpha_nonnegative=True))
A7_NONNEG = cl.as_margin(D.threshold_claim("Thm. A.7", "inner", None, alpha_nonnegative=True))


def test_thm24_with_nonnegative_alpha():
    """Cautious Thm. 2.4 corrected (alpha_k >= 0): the threshold-masked step never increases the loss."""
    def margin(ex):
        (problem, w, u), e, alpha, slack = ex
        eps = over_L(problem, e)
        return evaluate(THM24_NONNEG, problem, w, u, eps, _threshold_extra(problem, eps, alpha, slack))
    strategy = st.tuples(instances(), log_eta(-3.0, 0.5), ALPHA_NONNEG, log_eta(-6.0, 0.0))
    run_property(strategy, margin, min_applicable=0.9)


def test_a5_inner_product_mask_on_convex_losses():
    """Cautious Thm. A.5: convex L, mask 1(u'g >= 0): L(w_bar') <= L(w') for any step size."""
    def margin(ex):
        (problem, w, u), e = ex
        assert problem.convex
        return evaluate(REGISTRY["cautious.A5"].margin, problem, w, u, over_L(problem, e))
    run_property(st.tuples(instances(CONVEX), log_eta()), margin, min_applicable=1.0)


def test_a6_elementwise_mask_on_separable_quadratic():
    """Cautious Cor. A.6: L = 0.5 |a o w|^2 (through ``_a6_problem``), element-wise mask, any step."""
    def margin(ex):
        (problem, w, u), e = ex
        assert float(problem.b.abs().sum()) == 0.0 and float(problem.c.abs().sum()) == 0.0
        assert bool((problem.A == torch.diag_embed(torch.diagonal(problem.A, dim1=-2, dim2=-1))).all())
        return evaluate(REGISTRY["cautious.A6"].margin, problem, w, u, over_L(problem, e))
    strategy = instances(("quadratic_diagonal_convex",), problem_map=D._a6_problem, shift_w=True)
    # the mask changes the step in about 1 draw in 10 here (13 of 150 seen in a full run, where the draws differ from
    # a run of this file alone), so the guard against a vacuous run asks for 1 in 20
    run_property(st.tuples(strategy, log_eta()), margin, min_applicable=1.0, min_nontrivial=0.05)


def test_a7_with_nonnegative_alpha():
    """Cautious Thm. A.7 with alpha >= 0: inner threshold mask, L(w_bar') <= L(w_bar) for any step."""
    def margin(ex):
        (problem, w, u), e, alpha = ex
        eps = over_L(problem, e)
        return evaluate(A7_NONNEG, problem, w, u, eps, {"alpha": torch.tensor([[alpha]], dtype=F64)})
    run_property(st.tuples(instances(), log_eta(-3.0, 0.5), ALPHA_NONNEG), margin, min_applicable=1.0)


# Statements with no extra hyperparameter: (margin, families, share of draws that must apply).
#   corrected D.1 Part 2: dL >= -eta P - L |w' - w|^2 / 2 on every L-smooth family;
#   D.1 Part 2 as stated (dL >= -eta P) holds when L is convex (the registry's correction);
#   corrected D.2 Part 2: dL >= -eta <|g|,|u|> - L eta^2 |u|^2 / 2 on every L-smooth family.
PLAIN_PROPERTIES = {
    "d1_part2_corrected_for_any_smooth_loss": (cl.as_margin(*D._one_step("", D.CAUTIOUS, D.d1_lower_smooth)), ALL, 1.0),
    "d1_part2_literal_holds_on_convex_losses": (REGISTRY["grams.D1.part2"].margin, CONVEX, 1.0),
    "d2_part2_corrected_for_any_smooth_loss": (cl.as_margin(*D._one_step("", D.GRAMS, D.d2_lower_smooth)), ALL, 1.0),
}


@pytest.mark.parametrize("name", list(PLAIN_PROPERTIES))
def test_plain_property(name):
    fn, families, min_applicable = PLAIN_PROPERTIES[name]

    def margin(ex):
        (problem, w, u), e = ex
        return evaluate(fn, problem, w, u, over_L(problem, e))
    run_property(st.tuples(instances(families), log_eta()), margin, min_applicable=min_applicable)


# heavy-ball beta in [0, 1): exactly 0, near 1 and in between
BETA = st.one_of(st.just(0.0), st.floats(0.0, 0.999), st.floats(0.999, 0.9999))


def test_a3_corrected_trajectory_bound():
    """Cautious Thm. A.3 corrected (B_T = sum |u_t o phi_t|^2): cautious heavy ball with eq. (1)'s phi, every
    prefix T = 1..8, beta from 0 to near 1."""
    corrected = cl.margin_claim(D.a3_claim(corrected=True)).margin

    def margin(ex):
        (problem, w, u), e, beta = ex
        eps = over_L(problem, e)
        return evaluate(corrected, problem, w, u, eps, {"beta": torch.tensor([[beta]], dtype=F64), "s": u, "eps": eps})
    run_property(st.tuples(instances(cl.TRAJECTORY_FAMILIES), log_eta(), BETA), margin, min_applicable=0.5)


# ----------------------------------------------------------------------------- refuted literal claims

REFUTED = {
    "D1.part2": MarginClaim(REGISTRY["grams.D1.part2"].margin, draws.draw_free, QUAD),
    "D2.part2": MarginClaim(REGISTRY["grams.D2.part2"].margin, draws.draw_free, QUAD),
    "thm2.4": dataclasses.replace(cl.margin_claim(D.threshold_claim("Thm. 2.4", "elementwise", None)), families=QUAD),
    "A3": dataclasses.replace(cl.margin_claim(D.a3_claim()), families=("quadratic_diagonal_convex",)),
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

def doubled(bound):
    """A planted wrong step bound: ``num/den`` twice as large."""
    num, den = bound
    return 2 * num, den


def halved(bound):
    num, den = bound
    return num / 2, den


def _stated(name, steps, conclusion, hyper=D.STEP_SIZE):
    """A mutated statement in the claim language: one ``cl.OneStep`` per step form, all of which must hold."""
    return D._one_step(name, steps, conclusion, hyper=hyper)


def _upper(factor):
    """D.1 Part 1 with the curvature term L eta^2 |u|^2/2 multiplied by ``factor``."""
    return lambda q: q.at_most(q.dL, bounds.descent_upper(D._P(q), factor * q.L, q.eta, q.norm2(q.u)))


def _changed(bound, change):
    return D.up_to(lambda ops, g, u, L: change(bound(ops, g, u, L)), "planted")


D1_PART1_HALVED = _stated("MUTANT (false): D.1 Part 1 with L eta^2 |u|^2 / 4", D.CAUTIOUS, _upper(0.5))
D1_PART1_DOUBLED = _stated("WEAKENED (true): D.1 Part 1 with L eta^2 |u|^2", D.CAUTIOUS, _upper(2))
D1_PART3_DOUBLE_BOUND = _stated("MUTANT (false): D.1 Part 3 with eta <= 4P/(L|u|^2)", D.CAUTIOUS, D.descends,
                                _changed(bounds.d1_step_bound, doubled))
D2_PART3_DOUBLE_BOUND = _stated("MUTANT (false): D.2 Part 3 with eta <= 4<|g|,|u|>/(L|u|^2)", D.GRAMS, D.descends,
                                _changed(bounds.d2_step_bound, doubled))
D2_PART3_HALF_BOUND = _stated("WEAKENED (true): D.2 Part 3 with eta <= <|g|,|u|>/(L|u|^2)", D.GRAMS, D.descends,
                              _changed(bounds.d2_step_bound, halved))
# MUTANT (false): Thm. 2.3 with every mask's step bound doubled
THM23_DOUBLE_BOUND = [cl.OneStep(c.name, step=c.step, conclusion=c.conclusion, state=c.state,
                                 hyper={"eta": cl.UpTo(lambda q, bound=c.hyper["eta"].bound: doubled(bound(q)),
                                                       "planted")})
                      for c in D.thm23()]

# the same statements in the searches' margin form
m_d1_part1_halved = cl.as_margin(*D1_PART1_HALVED)
m_d1_part1_doubled = cl.as_margin(*D1_PART1_DOUBLED)
m_d1_part3_double_bound = cl.as_margin(*D1_PART3_DOUBLE_BOUND)
m_d2_part3_half_bound = cl.as_margin(*D2_PART3_HALF_BOUND)


def thm23_bounds(ops, problem, w, u):
    """Thm. 2.3's step bound of every mask the check states it for (``D.PHI_VARIANTS``), in that order."""
    return [bounds.thm23_bound(ops, problem.grad(w), u, margins.Lc(problem), m) for m in D.PHI_VARIANTS.values()]


def torch_bounds(bound_fn, change):
    """A sampler's ``bounds(problem, w, u)``: ``change`` applied to each variant's bound of ``bound_fn``."""
    return lambda problem, w, u: [change(b) for b in bound_fn(T1, problem, w, u)]


def one(bound_fn):
    """A single step bound ``(ops, problem, w, u) -> (num, den)`` as a list of variants."""
    return lambda ops, problem, w, u: [bound_fn(ops, problem, w, u)]


def at_instance(bound):
    """A bound ``(ops, g, u, L) -> (num, den)`` of :mod:`ams_theory.claims.bounds` at ``(problem, w, u)``."""
    return lambda ops, problem, w, u: bound(ops, problem.grad(w), u, margins.Lc(problem))


HALVED = MarginClaim(m_d1_part1_halved, draws.draw_free, QUAD)


def test_mutant_wrong_constant_is_refuted_exactly_and_true_bound_holds_there():
    rs, cert = _certify_worst(HALVED)
    assert cert["applicable"] is True and cert["margin"].is_Rational and cert["margin"] > 0
    # the very same instance satisfies the true D.1 Part 1 exactly: only the constant made the difference
    true = descent.certify(MarginClaim(REGISTRY["grams.D1.part1"].margin, draws.draw_free, QUAD), rs.worst_draw,
                           rs.worst_index)
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


PLANTED = {  # planted wrong bound -> its statement in the claim language (every part must hold)
    "D1.part3 with its step bound doubled": D1_PART3_DOUBLE_BOUND,
    "D2.part3 with its step bound doubled": D2_PART3_DOUBLE_BOUND,
    "Thm. 2.3 with its step bound doubled": THM23_DOUBLE_BOUND,
    "D1.part1 with L eta^2 |u|^2 / 4": D1_PART1_HALVED,
}


@pytest.mark.parametrize("name", list(PLANTED))
def test_planted_wrong_bound_is_refuted_exactly_by_the_claim_language(name):
    """``cl.decide_all`` refutes the planted statement with an exact counterexample that re-checks, proved strength,
    which the registry accepts; the claim's own search (``judging.decide_margin`` on ``cl.margin_claim``: eta drawn
    as a fraction of the planted bound, or a free step), where a claim goes when its proof stays open, refutes it
    too, with an exact certificate found inside the planted bound."""
    claims = PLANTED[name]
    verdict = cl.decide_all(claims, "quick", 0)
    assert verdict.word == "refuted" and verdict.strength.level == "proved", (verdict.word, verdict.summary)
    assert verdict.counterexample and verdict.recheck() is True
    host = REGISTRY["grams.D1.part3"]
    result = run_claim(registry.Claim(host.entry, "discrete", name, lambda budget, seed: verdict), "quick", 0)
    assert result.status == "checked", result.error
    assert result.verdict.counterexample["rechecked_exactly"] is True
    first = claims[0]
    found = judging.decide_margin(cl.margin_claim(first, dims=judging.DIMS["quick"]), "quick", 0)
    assert found.word == "refuted" and found.strength.level == "proved", (first.name, found.word)
    cex = found.certificate
    assert sp.Rational(cex["margin"]) > 0 and cex["applicable"] is True and cex["family"] in QUAD
    assert found.recheck() is True
    if isinstance(first.hyper["eta"], cl.UpTo):     # found inside the planted bound, by the claim's own fraction draws
        assert 0 < sp.Rational(cex["extra"]["theta"]) <= 1


@pytest.mark.parametrize("name, claims", [("D1.part1 with L eta^2 |u|^2", D1_PART1_DOUBLED),
                                          ("D2.part3 with eta <= half its bound", D2_PART3_HALF_BOUND)])
def test_weakened_true_bound_holds_in_the_claim_language(name, claims):
    verdict = cl.decide_all(claims, "quick", 0)
    assert verdict.word == "holds" and verdict.counterexample is None, (name, verdict.word, verdict.summary)


def test_violation_at_a_rotated_bound_is_certified_just_inside_it():
    """At theta = 1 on a rotated quadratic the exact L (rounded up by 1e-9) puts the instance outside the bound, so
    its first certificate fails; the candidate 1e-7 inside the bound certifies."""
    planted = torch_bounds(one(at_instance(bounds.d1_step_bound)), doubled)
    claim = MarginClaim(m_d1_part3_double_bound, draws.fraction_sampler(planted, margins.within, "planted"), QUAD)
    problem, w = descent._sample("quadratic_indefinite", 2, 2_000, 0, 0)
    u, eta, extra = claim.draw(problem, w, torch.Generator().manual_seed(0))
    margin = claim.margin(T1, problem, w, u, eta, extra)
    m = margin.value
    at_bound = ((extra["theta"] == 1) & margin.applicable & (m > 1e-6 * (1 + margin.scale.abs()))).reshape(-1)
    i = int(torch.nonzero(at_bound)[0])
    draw = descent.Draw(problem, w, u, eta, extra)
    assert judging.try_certify(claim, draw, i, "random search") is None
    rs = descent.SearchResult(worst=float(m.reshape(-1)[i]), worst_draw=draw, worst_index=i)
    cert, recheck = judging.certified(claim, rs, None, 0, QUAD)
    assert cert["engine"].endswith("(1 - 1e-7)") and sp.Rational(cert["margin"]) > 0 and recheck() is True


@pytest.mark.parametrize("name, claim", [
    ("D1.part1 with L eta^2 |u|^2", MarginClaim(m_d1_part1_doubled, draws.draw_free, ALL)),
    ("D2.part3 with eta <= half its bound",
     MarginClaim(m_d2_part3_half_bound,
                 draws.fraction_sampler(torch_bounds(one(at_instance(bounds.d2_step_bound)), halved), margins.within,
                                        "half"),
           ALL)),
])
def test_weakened_true_bound_is_not_refuted(name, claim):
    rs = descent.random_search(claim, 1, 4_000, 0)
    assert rs.instances == 4_000 * len(ALL) * len(claim.dims)
    assert rs.applicable > rs.instances // 2, (name, rs.applicable)
    assert rs.violations == 0, (name, rs.violations, rs.worst)
    found, tried = descent.hypothesis_search(claim, 100, 0)
    assert found is None and tried > 0, name


# ----------------------------------------------------------------------------- draws

MIXTURES = {  # spec -> (lowest, highest value, which end is open: "(" low, ")" high, "" neither)
    "ETA_FREE (x 1/L)": (draws.ETA_FREE, 0.0, 10.0, ""),
    "THETA_INSIDE": (draws.THETA_INSIDE, 0.0, 1.0, "("),
    "THETA_BEYOND": (draws.THETA_BEYOND, 1.0, 1.1, "("),
    "ALPHA": (D.ALPHA, -2.0, 4.0, ""),
    "SIGMA_SLACK (x 1/L)": (D.SIGMA_SLACK, 0.0, 10 ** 0.7, ""),
    "A3_STEP (x 1/L)": (D.A3_STEP, 0.0, 10.0, "("),
    "A3_BETA": (D.A3_BETA, 0.0, 1.0, ")"),
}


@pytest.mark.parametrize("name", list(MIXTURES))
def test_mixture_stays_in_its_range_and_draws_its_boundary_values_with_their_share(name):
    spec, lo, hi, open_end = MIXTURES[name]
    x = draws.mixture(torch.Generator().manual_seed(0), 40_000, spec)
    assert float(x.min()) >= lo and float(x.max()) <= hi
    if open_end == "(":
        assert float(x.min()) > lo
    if open_end == ")":
        assert float(x.max()) < hi
    coverage = draws.drawn_range("", spec)
    assert len(coverage["draw"]) == len(spec)
    for share, kind, *args in spec:
        if kind == "exactly":
            assert args[0] in coverage["exactly"]
            assert abs(float((x == args[0]).double().mean()) - share) < 0.01, (name, args[0])


@pytest.mark.parametrize("name", ["grams.D1.part1", "grams.D2.part3", "grams.D3", "grams.R5.5", "cautious.2.3",
                                  "cautious.A5", "cautious.A6"])
def test_a_margin_function_returns_a_margin_with_one_applicable_per_instance(name):
    margin = REGISTRY[name].margin
    problem, w = descent._sample("quadratic_convex", 3, 500, 0, 0)
    u, eta, extra = draws.draw_free(problem, w, torch.Generator().manual_seed(0))
    result = margin(T1, problem, w, u, eta, extra)
    assert isinstance(result, margins.Margin)
    assert result.value.shape == result.applicable.shape == result.scale.shape == (500, 1)
    assert result.applicable.dtype == torch.bool


def test_margin_makes_a_constant_applicable_a_tensor_and_combine_takes_the_max_where_applicable():
    value = torch.tensor([[1.0], [-2.0]], dtype=F64)
    assert margins.Margin(value, True, value).applicable.tolist() == [[True], [True]]
    both = margins.combine([(value, torch.tensor([[False], [True]])), (-value, False)], value.abs())
    assert both.value.tolist() == [[-math.inf], [-2.0]] and both.applicable.tolist() == [[False], [True]]
    exact = margins.combine([(sp.Integer(1), False), (sp.Integer(-2), True)], 1)
    assert (exact.value, exact.applicable, exact.scale) == (-2, True, 1)


def picked(bounds, extra):
    """The bound each instance's step was drawn from (the variant in ``extra["mask"]`` when there are several)."""
    if len(bounds) == 1:
        return bounds[0]
    k = extra["mask"].long()
    return tuple(torch.cat([b[j] for b in bounds], 1).gather(1, k) for j in (0, 1))


@pytest.mark.parametrize("name, margin, bound_fn", [
    ("D1.part3", REGISTRY["grams.D1.part3"].margin, one(at_instance(bounds.d1_step_bound))),
    ("D2.part3", REGISTRY["grams.D2.part3"].margin, one(at_instance(bounds.d2_step_bound))),
    ("Thm. 2.3", REGISTRY["cautious.2.3"].margin, thm23_bounds),
])
def test_theta_one_is_the_largest_step_the_hypothesis_accepts(name, margin, bound_fn):
    sampler = draws.fraction_sampler(torch_bounds(bound_fn, lambda b: b), margins.within, name)
    for fam, d in (("quadratic_indefinite", 3), ("separable_sin", 2), ("logistic", 4)):
        problem, w = descent._sample(fam, d, 4_000, 0, 0)
        u, eta, extra = sampler(problem, w, torch.Generator().manual_seed(0))
        bound = picked(bound_fn(T1, problem, w, u), extra)
        at_bound = (extra["theta"] == 1) & (bound[0] > 0) & (bound[1] > 0)
        assert int(at_bound.sum()) > 100, (name, fam)
        assert bool(margins.within(eta, bound)[at_bound].all())
        up = torch.nextafter(eta, torch.full_like(eta, math.inf))
        assert not bool(margins.within(up, bound)[at_bound].any())
        assert bool(margin(T1, problem, w, u, eta, extra).applicable[at_bound].all()), (name, fam)


def test_a_minimum_of_bounds_is_drawn_against_its_tightest_pair():
    """Corrected D.3's step bound 2 min{P, |N|}/(L|u|^2), two pairs: at theta = 1 the drawn step meets both, the next
    float up breaks one, and the claim's margin applies there."""
    mc = cl.margin_claim(D.d3_claims("convex", True)[0])
    for fam, d in (("quadratic_convex", 3), ("quadratic_diagonal_convex", 4)):
        problem, w = descent._sample(fam, d, 4_000, 0, 0)
        _, _, extra = mc.draw(problem, w, torch.Generator().manual_seed(0))
        eta = extra["eta"]
        pairs = bounds.d3_step_bounds(T1, problem.grad(w), extra["u"], margins.Lc(problem), corrected=True)
        positive = torch.ones_like(eta, dtype=torch.bool)
        for num, den in pairs:
            positive &= (num > 0) & (den > 0)
        at_bound = (extra["theta"] == 1) & positive
        assert int(at_bound.sum()) > 50, fam
        assert all(bool(margins.within(eta, pair)[at_bound].all()) for pair in pairs)
        up = torch.nextafter(eta, torch.full_like(eta, math.inf))
        broken = torch.zeros_like(at_bound)
        for pair in pairs:
            broken |= ~margins.within(up, pair)
        assert bool(broken[at_bound].all())
        assert bool(mc.margin(T1, problem, w, torch.zeros_like(w), eta, extra).applicable[at_bound].all())


def test_direction_is_drawn_once_per_batch_and_changes_nothing():
    problem, w = descent._sample("quadratic_convex", 3, 1_000, 0, 0)
    first = torch.Generator().manual_seed(7)
    u0, next0 = draws.draw_direction(problem, w, first), torch.rand(4, generator=first)
    for _ in range(3):
        gen = torch.Generator().manual_seed(7)
        u = draws.direction(problem, w, gen)
        assert torch.equal(u, u0) and torch.equal(torch.rand(4, generator=gen), next0)
        u.add_(1.0)                 # a caller's change to its copy does not reach the next caller


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
    proofs_checks.load()
    return {cid: shared_run(cid) for cid in DISCRETE_IDS}


STRENGTH = {  # id -> (verdict's strength, correction's strength or None); proved: from the smoothness bounds
    "grams.D1.part1": ("proved", None), "grams.D1.part2": ("proved", "proved"),
    "grams.D1.part3": ("proved", None), "grams.D2.part1": ("proved", None),
    "grams.D2.part2": ("proved", "proved"), "grams.D2.part3": ("proved", None),
    "grams.D3": ("proved", "proved"), "grams.R5.5": ("proved", "proved"), "cautious.2.3": ("searched", None),
    "cautious.2.4": ("proved", "proved"), "cautious.A3": ("proved", "searched"), "cautious.A5": ("proved", None),
    "cautious.A6": ("proved", None), "cautious.A7": ("proved", "proved"),
    "cautious.eq6": ("proved", None), "cautious.eq6.default": ("proved", "exhaustive"),
}


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
    if v.word == "vacuous":                # D.3 as printed: N <= 0 proved, and no drawn step meets the bound
        assert searched["applicable"] == 0 and "argument 2" in v.strength.basis and v.strength.proof.recheck()
    if v.word == "conditional":
        assert v.correction.verdict == "holds"
    level, correction_level = STRENGTH[cid]
    assert v.strength.level == level, (cid, v.strength.to_json())
    assert (v.correction.strength.level if v.correction else None) == correction_level
    assert result.to_json()["strength"]["level"] == level


def coverage_of(quick_verdicts, cid, part="verdict"):
    """The search's coverage; a proved strength keeps the search it upgraded under ``search``; a claim stated as
    several that must all hold (both Grams step forms, Thm. 2.3's masks) gives its first part's."""
    v = quick_verdicts[cid].verdict
    cov = (v.strength if part == "verdict" else v.correction.strength).coverage
    cov = cov["parts"][0]["coverage"] if "parts" in cov else cov
    return cov["search"]["coverage"] if "search" in cov else cov


def evidence_of(quick_verdicts, cid, part="verdict"):
    """The evidence, the first part's for a claim stated as several that must all hold (as :func:`coverage_of`)."""
    v = quick_verdicts[cid].verdict
    evidence = v.evidence if part == "verdict" else v.correction.evidence
    return evidence if "random_search" in evidence else next(iter(evidence.values()))


@pytest.mark.parametrize("cid, part", [
    ("grams.D1.part1", "verdict"), ("grams.D1.part2", "correction"), ("grams.D1.part3", "verdict"),
    ("grams.D2.part3", "verdict"), ("cautious.2.3", "verdict"), ("grams.D3", "correction"),
    ("cautious.2.4", "correction"), ("cautious.A3", "correction"), ("cautious.A5", "verdict"),
])
def test_searched_coverage_matches_the_search(quick_verdicts, cid, part):
    """A searched strength states what the search covered: families, dimensions, instances, seed, domains."""
    evidence = evidence_of(quick_verdicts, cid, part)
    cov = coverage_of(quick_verdicts, cid, part)
    searched = evidence["random_search"]
    assert cov["instances"] == searched["instances"] and cov["applicable"] == searched["applicable"]
    assert set(cov["loss_families"]) == set(searched["per_family_[instances,applicable,violations]"])
    assert sum(f["instances"] for f in cov["loss_families"].values()) == cov["instances"]
    assert cov["dimensions"] == list(judging.DIMS["quick"]) and cov["seeds"]["search"] == 0
    assert cov["hypothesis_search"]["examples"] == evidence["hypothesis_examples"] > 0
    # the direction is u, or the start s of a trajectory (Thm. A.3); eta: the step of a language claim
    assert cov["w"] == descent.W_DRAW and ("u" in cov or "s" in cov) and ("step" in cov or "eta" in cov)


@pytest.mark.parametrize("cid, part", [
    ("grams.D1.part3", "verdict"), ("grams.D2.part3", "verdict"), ("cautious.2.3", "verdict"),
    ("grams.D3", "correction")])
def test_bounded_claim_coverage_names_the_bound_and_theta_one(quick_verdicts, cid, part):
    step = coverage_of(quick_verdicts, cid, part)["step"]
    assert step["eta"] == "theta x bound" and step["bound"]
    theta = step["theta"]
    assert theta["interval"] == "(0, 1]" and theta["exactly"] == [1] and "theta = 1" in theta
    assert "1/4: exactly 1" in theta["draw"] and "1/4: 1 - 10^U(-12, -3)" in theta["draw"]


@pytest.mark.parametrize("cid, part", [
    ("cautious.A5", "verdict"), ("cautious.A6", "verdict"), ("cautious.2.4", "correction"),
    ("cautious.A7", "correction")])
def test_free_step_coverage_includes_eta_zero_and_the_small_end(quick_verdicts, cid, part):
    step = coverage_of(quick_verdicts, cid, part)["step"]
    assert step["exactly"] == [0] and "1/16: 10^U(-9, -3) / L" in step["draw"]


def test_claims_stated_in_the_language_keep_the_search_beside_their_proof(quick_verdicts):
    """D.1 and D.2 Part 1 are stated in the claim language: proved, with the search of the papers' pipeline kept in
    the coverage (the papers' free steps, eta = 0 exactly among them), each Grams form a part of its own."""
    d1 = quick_verdicts["grams.D1.part1"].verdict.strength
    assert d1.level == "proved" and d1.coverage["search"]["coverage"]["step"]["exactly"] == [0]
    d2 = quick_verdicts["grams.D2.part1"].verdict.strength
    assert d2.level == "proved" and len(d2.coverage["parts"]) == 2
    assert all(part["coverage"]["search"]["coverage"]["instances"] > 0 for part in d2.coverage["parts"])
    assert d2.proof.recheck(claim="grams.D2.part1") is True


@pytest.mark.parametrize("cid", ["cautious.2.4", "cautious.A7"])
def test_threshold_coverage_names_alpha_zero_and_sigma_on_its_bound(quick_verdicts, cid):
    cov = coverage_of(quick_verdicts, cid, "correction")
    assert cov["alpha"]["exactly"] == [0]
    assert "1/16: -10^U(-6, -1)" in cov["alpha"]["draw"] and "1/16: 10^U(-6, -1)" in cov["alpha"]["draw"]
    if cid == "cautious.2.4":                              # Thm. A.7 has no sigma
        assert cov["sigma"]["sigma - eps alpha"]["exactly"] == [0]


def test_a3_coverage_names_beta_zero_beta_near_one_and_small_steps(quick_verdicts):
    cov = coverage_of(quick_verdicts, "cautious.A3", "correction")
    assert cov["beta"]["exactly"] == [0] and "1/4: 1 - 10^U(-4, -1)" in cov["beta"]["draw"]
    assert cov["step"]["exactly"] == [] and "1/8: 10^U(-9, -3) / L" in cov["step"]["draw"]
    assert cov["T"].endswith("1..8 of one trajectory")


def test_sign_pattern_coverage(quick_verdicts):
    assert coverage_of(quick_verdicts, "cautious.eq6")["dimensions"] == "1..2"      # beside the proof for every d
    # eq. (1) with xi = 0: every sign pattern of x up to d = 2 at the quick budget, each of the three facts
    assert coverage_of(quick_verdicts, "cautious.eq6.default", "correction")["dimensions"] == "1..2"
    assert quick_verdicts["cautious.eq6.default"].verdict.counterexample["values"] == {"x0": "1"}
    # D.3 as printed: vacuous by the proof that N <= 0; the search beside it met no instance with eta > 0
    d3 = quick_verdicts["grams.D3"].verdict
    assert d3.strength.level == "proved" and d3.strength.coverage["search"]["level"] == "searched"
    assert d3.strength.coverage["search"]["coverage"]["applicable"] == 0


def test_eq6_default_fails_for_every_positive_xi(quick_verdicts):
    every = quick_verdicts["cautious.eq6.default"].verdict.evidence["every_xi_above_0_fails"]
    assert every["below_1_for_all_d_and_xi_positive (sympy)"] is True


@pytest.mark.parametrize("cid", ["grams.D1.part3", "grams.D2.part3", "cautious.2.3"])
def test_control_past_the_bound_finds_exact_violations_outside_the_verdict(quick_verdicts, cid):
    """theta just above 1: the same search finds violations (one certified exactly), while the claim, searched
    inside its bound, holds."""
    v = quick_verdicts[cid].verdict
    control = evidence_of(quick_verdicts, cid)["control_past_the_bound"]
    assert v.word == "holds" and control["float_violations"] > 0
    cex = control["exact_counterexample"]
    assert cex["applicable"] is True and sp.Rational(cex["margin"]) > 0 and cex["family"] in QUAD
    assert 1 < control["theta_of_the_counterexample"] <= 1.1
    assert control["theta"]["interval"].startswith("(1, 1.1]") and "control" not in v.strength.coverage


def test_registry_refutations_carry_positive_exact_margins(quick_verdicts):
    """The search-based refutations store the exact (rational) margin of their certificate."""
    for cid in ("grams.R5.5", "cautious.A3"):          # D.1/D.2 Part 2 and Thm. 2.4: refuted by the proof engine
        cex = quick_verdicts[cid].verdict.counterexample
        margin = sp.Rational(cex["margin"])
        assert (margin >= 0) if cid == "grams.R5.5" else (margin > 0), (cid, margin)
        assert cex["family"] in QUAD and quick_verdicts[cid].verdict.recheck() is True
