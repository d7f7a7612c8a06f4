r"""Discrete-time claims: descent lemmas and one-step comparisons on L-smooth losses.

Sources: Lemma D.1, D.2, Thm. D.3 and Remark 5.5 of the AMS/Grams paper; Thm. 2.3,
2.4 (= A.4), A.3, A.5, Cor. A.6 and its extension to convex separable losses, Thm.
A.7, eq. (6) and its default phi, and §3.2's range of eq. (1)'s factor of the
Cautious paper (there the smoothness constant is called mu and the step eps).

Each claim is a margin function (see :mod:`ams_theory.engines.descent`): positive
margin = the conclusion fails at an instance meeting the hypotheses. Steps are
taken by the rule core: the cautious step of Def. 3.2 as the proof of D.1 uses
it (``w - eta u o 1(u o g >= 0)``), the Grams step of Def. 5.1 (AMS with
beta3 = 0, lambda = -1) and of Cor. 5.2, the masks of the Cautious paper
(eq. (1), phi_c, inner-product and threshold masks) are all
:class:`~ams_theory.core.rules.Caution` settings of the same code.

This module holds the statements; the machinery lives in the library: the margins'
arithmetic and masked steps in :mod:`ams_theory.engines.margins`, the draws of u,
eta and the hyperparameters in :mod:`ams_theory.engines.draws`, the papers' bounds
in :mod:`ams_theory.claims.bounds`, and the one verdict pipeline (searches, exact
certificates, step-bound claims with their control just past the bound, proofs
from the smoothness bounds, repairs) in :mod:`ams_theory.claims.judging`.

Notation in the docstrings: P = <u o g, 1(u o g >= 0)> (the aligned part),
N = <u o g, 1(u o g < 0)> (the opposed part, <= 0), dL = L(w') - L(w).
"""
from __future__ import annotations

import dataclasses
from functools import partial

import sympy as sp
import torch

from ams_theory.claims import language as cl
from ams_theory.claims.registry import Correction, Verdict, no_evidence, proved, register
from ams_theory.claims.bounds import (aligned_part, d1_step_bound, d2_step_bound, d3_step_bounds, descent_upper,
                                      eq6_sums, first_order_lower, magnitude_part, smooth_lower, thm23_bound)
from ams_theory.core import rules
from ams_theory.core.cautions import CAUTIOUS_GE, CAUTIOUS_GT, EQ1_DEFAULT, GRAMS_DEF51, GRAMS_MASK, INNER_GE, phi_c
from ams_theory.core.masks import mask_name
from ams_theory.engines import proofs, repairs, smooth
from ams_theory.engines.descent import Draw, step
from ams_theory.engines.margins import (mask_values, masked_step, neg_sum)
from ams_theory.engines.symbolic import OPS

DT = torch.float64
SIGN_PATTERN_DIMS = {"quick": 2, "standard": 4, "thorough": 5}     # exact sign-pattern checks: d = 1..this


# ----------------------------------------------------------------------------- the Grams paper, Appendix D

STEP_SIZE = {"eta": cl.Step()}          # the step size of the one-step lemmas: any eta >= 0


def cautious_step(q):
    """Def. 3.2 of the AMS/Grams paper: w' = w - eta u o 1(u o g >= 0) (rule core)."""
    return step(q.ops, q.w, q.u, q.g, q.eta, CAUTIOUS_GE)


def grams_step(mask):
    """The Grams step w' = w - eta sign(g) o |u| in the form of ``mask`` (Def. 5.1 or Cor. 5.2; rule core)."""
    return lambda q: step(q.ops, q.w, q.u, q.g, q.eta, mask)


def _P(q):
    """P = sum_i max(u_i g_i, 0)."""
    return aligned_part(q.ops, q.g, q.u)


def _Q(q):
    """Q = <|g|, |u|>."""
    return magnitude_part(q.ops, q.g, q.u)


def d1_upper(q):
    """dL <= -eta P + L eta^2 |u|^2 / 2."""
    return q.at_most(q.dL, descent_upper(_P(q), q.L, q.eta, q.norm2(q.u)))


def d2_upper(q):
    """dL <= -eta <|g|, |u|> + L eta^2 |u|^2 / 2."""
    return q.at_most(q.dL, descent_upper(_Q(q), q.L, q.eta, q.norm2(q.u)))


def _one_step(name, steps, conclusion, losses="smooth", hyper=STEP_SIZE):
    """One claim per step form (the cautious step, or both Grams forms), all with the same conclusion."""
    return [cl.OneStep(f"{name}{', ' + form if len(steps) > 1 else ''}", step=st, conclusion=conclusion,
                       losses=losses, hyper=hyper, state=("u",)) for form, st in steps]


CAUTIOUS = (("cautious step", cautious_step),)
GRAMS = (("Def. 5.1 step", grams_step(GRAMS_DEF51)), ("Cor. 5.2 step", grams_step(GRAMS_MASK)))
D1_PART1 = _one_step("Lemma D.1 Part 1", CAUTIOUS, d1_upper)
D2_PART1 = _one_step("Lemma D.2 Part 1", GRAMS, d2_upper)


def d1_lower(q):
    """dL >= -eta P (Part 2 as printed: the first-order lower bound, true for convex losses)."""
    return q.at_least(q.dL, first_order_lower(_P(q), q.eta))


def d1_lower_smooth(q):
    """dL >= -eta P - (L/2)|w' - w|^2 (the L-smooth lower bound of the step taken)."""
    return q.at_least(q.dL, smooth_lower(_P(q), q.eta, q.L * q.norm2(q.dw) / 2))


def d2_lower(q):
    """dL >= -eta <|g|, |u|>."""
    return q.at_least(q.dL, first_order_lower(_Q(q), q.eta))


def d2_lower_smooth(q):
    """dL >= -eta <|g|, |u|> - L eta^2 |u|^2 / 2."""
    return q.at_least(q.dL, smooth_lower(_Q(q), q.eta, q.L * q.eta ** 2 * q.norm2(q.u) / 2))


def _at_most_reversed(conclusion):
    """A lower bound ``dL >= b`` turned into ``dL <= b`` (the inequality reversed, a repair edit)."""
    return lambda q: cl.Relation(-conclusion(q).value, "<= 0")


def lower_bound_judgement(name, steps, lower, lower_smooth):
    """Part 2 of Lemmas D.1 and D.2 as printed (every L-smooth loss), its correction (convex losses) and its
    single edits: the convexity hypothesis, the smooth lower bound's curvature term, the reversed inequality."""
    return cl.Judgement(
        _one_step(name, steps, lower), _one_step(f"{name}, convex L", steps, lower, "convex"),
        f"for convex L: {lower.__doc__.split(' (')[0]}",
        repairs=(repairs.Edit("add hypothesis", "L convex", _one_step(name, steps, lower, "convex")),
                 repairs.Edit("add term", "subtract (L/2)|dw|^2 from the lower bound (the smooth lower bound)",
                              _one_step(name, steps, lower_smooth)),
                 repairs.Edit("reverse inequality", "dL <= -eta (...) instead of >=",
                              _one_step(name, steps, _at_most_reversed(lower)))),
        why="the lower bound needs convexity (the proof drops -L/2 |dw|^2)")


D1_PART2 = lower_bound_judgement("Lemma D.1 Part 2", CAUTIOUS, d1_lower, d1_lower_smooth)
D2_PART2 = lower_bound_judgement("Lemma D.2 Part 2", GRAMS, d2_lower, d2_lower_smooth)


def descends(q):
    """dL <= 0."""
    return q.at_most(q.dL, 0)


def up_to(bound, text):
    """A step eta in [0, num/den] for ``bound(ops, g, u, L) -> (num, den)`` (Part 3 of Lemmas D.1 and D.2)."""
    return {"eta": cl.UpTo(lambda q: bound(q.ops, q.g, q.u, q.L), text)}


D1_PART3 = _one_step("Lemma D.1 Part 3", CAUTIOUS, descends, hyper=up_to(d1_step_bound, "2P/(L|u|^2) (Lemma D.1 "
                                                                                         "Part 3)"))
D2_PART3 = _one_step("Lemma D.2 Part 3", GRAMS, descends, hyper=up_to(d2_step_bound, "2<|g|,|u|>/(L|u|^2) (Lemma "
                                                                                      "D.2 Part 3)"))


# ----------------------------------------------------------------------------- the Cautious paper

PHI_VARIANTS = {  # the masks phi of the Cautious paper, as rule-core settings
    "eq1_default": EQ1_DEFAULT,
    "indicator": CAUTIOUS_GT,
    "phi_c_0.1": phi_c(0.1),
    "ams_lambda_-0.5": rules.Caution(lam=-0.5, tie="aligned", normalize="ams"),
}


ALPHA = ((1 / 8, "exactly", 0), (1 / 16, "10^U", -6, -1), (1 / 16, "-10^U", -6, -1), (3 / 4, "U", -2, 4))
SIGMA_SLACK = ((1 / 4, "exactly", 0), (3 / 4, "10^U", -6, 0.7))          # sigma - eps alpha, times 1/L


def threshold_step(kind, mask=None):
    """The threshold steps of Thm. 2.4 (``kind="elementwise"``: coordinate i kept where g_i u_i >= mu sigma/2 u_i^2)
    and Thm. A.7 (``kind="inner"``: u kept where g^T u >= alpha mu eps/2 |u|^2): ``w - eps alpha (mask o u)`` (rule
    core). A user's ``mask`` in threshold form is the mask taken against the shifted reference ``g - kappa u``, as
    the rule core applies ``Caution.margin``."""
    def threshold(q):
        kappa = q.L * q.sigma / 2 if kind == "elementwise" else q.alpha * q.L * q.eps / 2
        if mask is not None:
            return masked_step(q.ops, q.w, q.u, q.ops.lincomb(q.g, 1, q.u, -kappa), q.eps * q.alpha, mask)
        caution = rules.Caution(lam=0, tie="aligned", normalize="none", mask=kind, margin=kappa)
        return step(q.ops, q.w, q.u, q.g, q.eps * q.alpha, caution)
    return threshold


ANY_ALPHA = cl.Range(None, None, mixture=ALPHA)      # any real scaling, searched in [-2, 4] with 0 and both sides of it


def threshold_claim(name, kind, mask, losses="smooth", alpha_nonnegative=False):
    """L(w - eps alpha (mask o u)) <= L(w) for every step eps >= 0 and scaling alpha (``alpha_nonnegative``: the
    correction's alpha >= 0); Thm. 2.4's sigma >= eps alpha."""
    hyper = {"eps": cl.Step(), "alpha": ANY_ALPHA}
    if kind == "elementwise":
        hyper["sigma"] = cl.AtLeast(lambda q: q.eps * q.alpha, SIGMA_SLACK, per_L=True, text="eps alpha")
    return cl.OneStep(name + (", alpha >= 0" if alpha_nonnegative else ""), step=threshold_step(kind, mask),
                      conclusion=descends, losses=losses, hyper=hyper, state=("u",),
                      hypotheses=(lambda q: [q.at_least(q.alpha, 0)]) if alpha_nonnegative else None)


def threshold_judgement(name, kind, mask, alpha="alpha", conditional=""):
    """A threshold theorem as printed (any scaling, named ``alpha`` as the paper writes it), its correction
    alpha >= 0, and the single edits: alpha >= 0, or convexity alone."""
    judged = partial(threshold_claim, name, kind, mask)
    return cl.Judgement(judged(), judged(alpha_nonnegative=True), f"with {alpha} >= 0",
                        repairs=(repairs.Edit("add hypothesis", f"{alpha} >= 0", judged(alpha_nonnegative=True)),
                                 repairs.Edit("add hypothesis", f"L convex (any {alpha})", judged("convex"))),
                        why=f"a negative {alpha} turns the masked step uphill" if mask is None
                        else f"the threshold form of {mask_name(mask)} fails", conditional=conditional)


def unmasked_step(q):
    """w' = w - eta u (no mask; rule core)."""
    return step(q.ops, q.w, q.u, q.g, q.eta, None)


def masked(mask):
    """w - eta phi o u for the mask phi of ``mask`` (a rule-core caution or a user's mask; rule core)."""
    return lambda q: masked_step(q.ops, q.w, q.u, q.g, q.eta, mask)


def no_worse_than_unmasked(q):
    """L(w - eta phi o u) <= L(w - eta u)."""
    return q.at_most(q.loss_at(q.w_next), q.loss_at(unmasked_step(q)))


def a5_claim(mask, losses="convex"):
    """Thm. A.5: L(w - eta phi o u) <= L(w - eta u) for every eta >= 0, phi = ``mask`` (one value per vector)."""
    return cl.OneStep("Thm. A.5", step=masked(mask), conclusion=no_worse_than_unmasked, losses=losses,
                      hyper=STEP_SIZE, state=("u",))


# ----------------------------------------------------------------------------- Thm. A.3 (T steps)

A3_PHI = PHI_VARIANTS["eq1_default"]
A3_STEP = ((1 / 8, "10^U", -9, -3), (7 / 8, "10^U", -3, 1))                      # times 1/L (eps > 0)
A3_BETA = ((1 / 8, "exactly", 0), (1 / 4, "1-10^U", -4, -1), (5 / 8, "U", 0, 1))
A3_HYPER = {"eps": cl.Step(positive=True, mixture=A3_STEP), "beta": cl.Range(0, 1, hi_open=True, mixture=A3_BETA)}


def bounded_mask(p):
    """phi(x)_i = sign(x_i) min(1, |p_i|) at x = u o s: one mask with x phi(x) >= 0 and |phi| <= 1 per vector p."""
    return lambda ops, u, s: ops.mul(ops.sign(ops.mul(u, s)), 1 - ops.relu(1 - ops.abs(p)))


def cautious_heavy_ball(mask):
    """Thm. A.3's method: s <- beta s + g, u = s, w <- w - eps phi o u with phi the values of ``mask`` at (u, g)
    (rule core; ``mask=None``: :func:`bounded_mask` of the run's drawn vector ``q.p``); per step: x^T phi
    (x = u o g), |u|^2, |u o phi|^2 and sum_i min(x_i phi_i, 0)."""
    def one_step(q):
        u, s = rules.heavy_ball_direction(q.ops, q.g, q.ops.copy(q.s), q.beta)
        mask_now = bounded_mask(q.p) if mask is None else mask
        phi = mask_values(q.ops, u, q.g, mask_now)
        x_phi = u * q.g * phi
        return masked_step(q.ops, q.w, u, q.g, q.eps, mask_now), {"s": s}, {
            "x_phi": q.total(x_phi), "B": q.norm2(u), "B_masked": q.norm2(u * phi), "opposed": neg_sum(q.ops, x_phi)}
    return one_step


def a3_bound(corrected=False, b_factor=1):
    """(1/T) sum_t x_t^T phi_t <= (L(w_1) - L*)/(T eps) + mu eps B_T/(2T), B_T = sum |u_t|^2 (``corrected``:
    sum |u_t o phi_t|^2; ``b_factor`` multiplies the B_T term, a repair edit)."""
    def conclusion(q):
        B = q.sums["B_masked" if corrected else "B"]
        return q.at_most(q.sums["x_phi"] / q.t, (q.loss_start - q.loss_inf) / (q.t * q.eps)
                         + b_factor * q.L * q.eps * B / (2 * q.t))
    return conclusion


def a3_claim(mask=A3_PHI, corrected=False, b_factor=1, mask_hypothesis=False, label=None):
    """Thm. A.3 for the cautious heavy-ball method with ``mask`` (``None``: every mask with |phi| <= 1 and
    x phi(x) >= 0, searched over :func:`bounded_mask` with p drawn per run; ``mask_hypothesis``: the theorem's
    x phi(x) >= 0, at every coordinate of every step so far, is a hypothesis: for a user's mask; the paper's masks
    meet it)."""
    name = label or ("every mask with |phi| <= 1" if mask is None else mask_name(mask))
    return cl.Trajectory(f"Thm. A.3, {name}{', corrected B_T' if corrected else ''}",
                         cautious_heavy_ball(mask), a3_bound(corrected, b_factor), hyper=A3_HYPER,
                         state=("s",) if mask is not None else ("s", "p"),
                         hypotheses=(lambda q: [q.at_least(q.now["opposed"], 0)]) if mask_hypothesis else None)


def _a6_problem(problem):
    """Cor. A.6's test function 0.5 |a o w|^2: a diagonal convex quadratic without linear or constant term."""
    if isinstance(problem, smooth.QuadraticProblem):
        return dataclasses.replace(problem, b=torch.zeros_like(problem.b), c=torch.zeros_like(problem.c))
    return problem


@cl.register("grams.D1.part1", source="Lemma 3.4 / D.1 Part 1", kind="discrete",
             statement="Cautious step w' = w - eta u o 1(u o g >= 0) on an L-smooth loss: dL <= -eta P + L eta^2 "
                       "|u|^2 / 2.")
def d1_part1():
    """Lemma D.1 Part 1 of the AMS/Grams paper: dL <= -eta P + L eta^2 |u|^2/2 for the cautious step."""
    return D1_PART1


@cl.register("grams.D1.part2", source="Lemma 3.4 / D.1 Part 2", kind="discrete",
             statement="Cautious step on an L-smooth loss: dL >= -eta P.")
def d1_part2():
    """Lemma D.1 Part 2: dL >= -eta P; refuted without convexity, proved for convex losses."""
    return D1_PART2


@cl.register("grams.D1.part3", source="Lemma 3.4 / D.1 Part 3", kind="discrete",
             statement="Cautious step: eta <= 2P/(L|u|^2) implies dL <= 0.")
def d1_part3():
    """Lemma D.1 Part 3: eta <= 2P/(L|u|^2) implies dL <= 0 for the cautious step."""
    return D1_PART3


@cl.register("grams.D2.part1", source="Lemma 5.3 / D.2 Part 1", kind="discrete",
             statement="Grams step (Def. 5.1 and Cor. 5.2 forms): dL <= -eta <|g|,|u|> + L eta^2 |u|^2 / 2.")
def d2_part1():
    """Lemma D.2 Part 1: dL <= -eta <|g|,|u|> + L eta^2 |u|^2/2 for both Grams steps."""
    return D2_PART1


@cl.register("grams.D2.part2", source="Lemma 5.3 / D.2 Part 2", kind="discrete",
             statement="Grams step on an L-smooth loss: dL >= -eta <|g|,|u|>.")
def d2_part2():
    """Lemma D.2 Part 2: dL >= -eta <|g|,|u|>; refuted without convexity, proved for convex losses."""
    return D2_PART2


@cl.register("grams.D2.part3", source="Lemma 5.3 / D.2 Part 3", kind="discrete",
             statement="Grams step: eta <= 2<|g|,|u|>/(L|u|^2) implies dL <= 0.")
def d2_part3():
    """Lemma D.2 Part 3: eta <= 2<|g|,|u|>/(L|u|^2) implies dL <= 0 for both Grams steps."""
    return D2_PART3


# ----------------------------------------------------------------------------- Thm. D.3 and Remark 5.5

GRAMS_FORM = grams_step(GRAMS_DEF51)       # the Grams step D.3 and Remark 5.5 name: Def. 5.1's, w - eta sign(g) o |u|
COR52_FORM = grams_step(GRAMS_MASK)        # Cor. 5.2's form of it, which also moves coordinates where g_i = 0


def d3_step(corrected=False, constant=2):
    """Thm. D.3's step: eta > 0 up to c/(L|u|^2) min{P, N} (``corrected``: |N|; c = ``constant``, 2 as printed)."""
    n = "|N|" if corrected else "N"
    return {"eta": cl.UpTo(lambda q: d3_step_bounds(q.ops, q.g, q.u, q.L, corrected, constant),
                           f"{constant} min{{P, {n}}}/(L|u|^2) (Thm. D.3)", positive=True)}


def grams_no_worse(q):
    """L(w_Grams) <= L(w_C): the Grams step taken decreases the loss at least as much as the cautious step."""
    return q.at_most(q.loss_at(q.w_next), q.loss_at(cautious_step(q)))


def grams_strictly_better(q):
    """L(w_Grams) < L(w_C)."""
    return q.less_than(q.loss_at(q.w_next), q.loss_at(cautious_step(q)))


def d3_indefinite_witness() -> Draw:
    r"""Corrected D.3 (|N|, constant 2) fails without convexity: ``f(x) = x^T A x/2 + <(1, 1), x>`` with
    ``A = [[-1/2, 13/16], [13/16, 1/2]]`` (eigenvalues +-sqrt(233)/16, so L = 1), ``w = 0``, ``u = (1, -1)``: the
    bound 2 min{P, |N|}/(L|u|^2) is 1 (P = |N| = 1) and ``eta = 1023/1024`` is inside it. The Grams step is
    ``eta (-1, -1)``, the cautious step ``eta (-1, 0)``: with ``a = eta (-1, 0)``, ``b = eta (0, -1)``,
    ``dL_Grams - dL_C = <g, b> + a^T A b + b^T A b/2 = eta (17 eta/16 - 1) > 0``. (The cross term ``a^T A b`` is
    what the convex lower bound rules out; the search meets such instances only at the larger budgets.)"""
    A = torch.tensor([[[-0.5, 13 / 16], [13 / 16, 0.5]]], dtype=DT)
    problem = smooth.QuadraticProblem("quadratic_indefinite", False, torch.ones(1, dtype=DT), A,
                                      torch.ones(1, 2, dtype=DT), torch.zeros(1, dtype=DT))
    u, eta = torch.tensor([[1.0, -1.0]], dtype=DT), torch.full((1, 1), 1023 / 1024, dtype=DT)
    return Draw(problem, torch.zeros(1, 2, dtype=DT), u, eta, {"u": u, "eta": eta})


def aligned_witness(seed=0) -> Draw:
    """Every coordinate aligned (u_i g_i > 0): the Grams and cautious steps coincide, so the two decreases are equal
    (a convex diagonal quadratic, w = (1, -2), u = g o (1/2, 2), eta = 1/(2L))."""
    problem = smooth.LOSS_FAMILIES["quadratic_diagonal_convex"](1, 2, torch.Generator().manual_seed(seed))
    w = torch.tensor([[1.0, -2.0]], dtype=DT)
    u = problem.grad(w) * torch.tensor([[0.5, 2.0]], dtype=DT)
    eta = (0.5 / problem.L).reshape(1, 1)
    return Draw(problem, w, u, eta, {"u": u, "eta": eta})


def d3_claims(losses="smooth", corrected=False, constant=2, witnesses=(), grams=GRAMS_FORM):
    """Thm. D.3 under its step bound (:func:`d3_step`): dL_Grams <= dL_C and dL_C <= 0 (``grams``: the Grams step
    compared, Def. 5.1's as printed)."""
    form = "" if grams is GRAMS_FORM else ", Cor. 5.2's step"
    name = f"Thm. D.3 ({'|N|' if corrected else 'N'}, {constant}, {cl.LOSS_CLASSES[losses]}{form})"
    hyper = d3_step(corrected, constant)
    return [cl.OneStep(f"{name}: dL_Grams <= dL_C", step=grams, conclusion=grams_no_worse, losses=losses,
                       hyper=hyper, state=("u",), witnesses=witnesses),
            cl.OneStep(f"{name}: dL_C <= 0", step=cautious_step, conclusion=descends, losses=losses, hyper=hyper,
                       state=("u",))]


INDEFINITE = (d3_indefinite_witness(),)


@cl.register("grams.D3", source="Thm. 5.4 / D.3", kind="discrete",
             statement="eta <= 2/(L|u|^2) min{P, N} with N = <u o g, 1(u o g < 0)> implies dL_Grams <= dL_C <= 0.")
def d3():
    """Thm. D.3 of the AMS/Grams paper: N <= 0 for every state, so no eta > 0 meets the bound as printed (vacuous);
    the correction |N| for convex L; beside it, |N| without convexity, broken by a constructed indefinite
    quadratic (:func:`d3_indefinite_witness`); the single edits of sign, constant and class."""
    return cl.Judgement(
        d3_claims(), d3_claims("convex", True),
        "with |N| in place of N (the proof's last line drops a minus sign) and L convex: eta <= 2/(L|u|^2) "
        "min{P, |N|} implies dL_Grams <= dL_C <= 0",
        repairs=(repairs.Edit("hand-written correction", "|N| in place of N, and L convex",
                              d3_claims("convex", True), size=2),
                 repairs.Edit("flip sign", "|N| = -N in place of N (any L-smooth loss)",
                              d3_claims("smooth", True, witnesses=INDEFINITE)),
                 repairs.Edit("flip sign and replace constant", "|N| in place of N, and 1 in place of the 2 (any "
                              "L-smooth loss)", d3_claims("smooth", True, 1, witnesses=INDEFINITE), size=2),
                 repairs.Edit("add hypothesis", "L convex (N as written)", d3_claims("convex"))),
        beside={"|N| without convexity": d3_claims("smooth", True, witnesses=INDEFINITE),
                "the correction with Cor. 5.2's form of the Grams step": d3_claims("convex", True, grams=COR52_FORM)},
        notes={"proof_notes": "the proof uses D.1 Part 2 (true only for convex L) and index sets I+ = {u_i, g_i >= 0}, "
                              "I- = {u_i, g_i < 0} that do not cover coordinates where u_i and g_i differ in sign"})


@cl.register("grams.R5.5", source="Remark 5.5", kind="discrete",
             statement="Grams' one-step loss decrease is strictly larger than the cautious one.")
def r55():
    """Remark 5.5 of the AMS/Grams paper: L(w_Grams) < L(w_C) for every step eta > 0; an aligned instance (both steps
    coincide, :func:`aligned_witness`) gives equal decrease; the non-strict forms under D.3's corrected bound as the
    correction and the edits."""
    comparison = lambda *a, **k: d3_claims(*a, **k)[0]
    return cl.Judgement(
        cl.OneStep("Remark 5.5", step=GRAMS_FORM, conclusion=grams_strictly_better, hyper={"eta": cl.Step(True)},
                   state=("u",), witnesses=(aligned_witness(),)),
        comparison("convex", True),
        "no strict improvement in general; under convexity and the corrected step bound of D.3 (|N| in place of N), "
        "dL_Grams <= dL_C (not strictly)",
        repairs=(repairs.Edit("weaken and add hypotheses", "<= in place of <, under D.3's corrected bound and L "
                              "convex", comparison("convex", True), size=3),
                 repairs.Edit("weaken and add hypothesis", "<= in place of <, under D.3's corrected bound (any "
                              "L-smooth loss)", comparison("smooth", True, witnesses=INDEFINITE), size=2),
                 repairs.Edit("weaken and add hypothesis", "<= in place of <, under D.3's corrected bound with 1 in "
                              "place of the 2 (any L-smooth loss)", comparison("smooth", True, 1,
                                                                              witnesses=INDEFINITE), size=3)),
        why="Grams is no better where every coordinate is aligned (the two steps coincide), and strictly worse on "
            "some instances")


def thm23_claim(mask, label):
    """Thm. 2.3 for the mask phi of ``mask``: Delta = -x^T(1 - phi) >= 0 and eps <= 2 Delta/(mu |r|(2|u| + |r|)),
    r = u o (1 - phi), x = u o g, imply L(w - eps u o phi) <= L(w - eps u)."""
    bound = cl.UpTo(lambda q: thm23_bound(q.ops, q.g, q.u, q.L, mask),
                    f"2 Delta/(mu |r| (2|u| + |r|)) (Thm. 2.3), {label}")
    return cl.OneStep(f"Thm. 2.3, {label}", step=masked(mask), conclusion=no_worse_than_unmasked,
                      hyper={"eta": bound}, state=("u",))


@cl.register("cautious.2.3", source="Thm. 2.3 (§A.4)", kind="discrete",
             statement="mu-smooth L, Delta(x) = -x^T(1 - phi(x)) >= 0, eps <= 2 Delta/(mu |r|(2|u|+|r|)), r = u o (1 - "
                       "phi): L(w - eps u o phi) <= L(w - eps u).")
def thm23(mask=None):
    """Thm. 2.3 of the Cautious paper for four masks (eq. (1), 1(x > 0), phi_c, AMS's lambda = -1/2 scaling), each
    searched with steps drawn as fractions of its own bound and a control just past it (``mask``: a user's mask in
    place of the four)."""
    masks = PHI_VARIANTS if mask is None else {mask_name(mask): mask}
    return [thm23_claim(m, label) for label, m in masks.items()]


@cl.register("cautious.2.4", source="Thm. 2.4 = Thm. A.4", kind="discrete",
             statement="Threshold mask alpha_k 1(g o u >= mu sigma/2 u o u), sigma >= eps alpha_k, any sequence "
                       "alpha_k: L(w_bar') <= L(w_bar) for any step size.")
def thm24(mask=None):
    """Thm. 2.4 of the Cautious paper for any alpha_k (a negative one refutes it), alpha_k >= 0 as the correction;
    ``mask``: a user's elementwise mask in threshold form (taken against g - mu sigma/2 u) in place of 1(x >= 0)."""
    return threshold_judgement("Thm. 2.4", "elementwise", mask, alpha="alpha_k")


@cl.register("cautious.A3", source="Thm. A.3", kind="discrete",
             statement="(1/T) sum_t <grad L(w_t) o u_t, phi> <= (L(w_1) - L*)/(T eps) + mu eps B_T/(2T), B_T = sum "
                       "|u_t|^2, for x phi(x) >= 0 (here: cautious heavy ball with eq. (1)'s phi).")
def a3(mask=None):
    """Thm. A.3 of the Cautious paper for the cautious heavy-ball method, every prefix T = 1..8 of a run (beta in
    [0, 1), constant steps up to 10/L) on losses with a known infimum; the corrected B_T and the single edits.
    ``mask``: a user's mask in place of eq. (1)'s, with x phi(x) >= 0 along the run as the hypothesis."""
    if mask is not None:
        return cl.Judgement(a3_claim(mask, mask_hypothesis=True), a3_claim(mask, True, mask_hypothesis=True),
                            "with B_T = sum |u_t o phi_t|^2 (equal to the stated B_T when |phi| <= 1)",
                            why=f"the averaged bound fails with {mask_name(mask)}",
                            notes={"mask hypothesis": "x_t o phi(x_t) >= 0 per coordinate at every step t' <= T "
                                                      "(instances that break it are not applicable)"})
    return cl.Judgement(
        a3_claim(), a3_claim(corrected=True),
        "with B_T = sum |u_t o phi_t|^2 (equal to the stated B_T when |phi| <= 1)",
        repairs=(repairs.Edit("replace object", "B_T = sum |u_t o phi_t|^2 in place of sum |u_t|^2",
                              a3_claim(corrected=True)),
                 repairs.Edit("add hypothesis", "phi <= 1 (searched with phi_c, c = 5: phi = -5 where x < 0, which "
                              "meets phi <= 1 and x phi(x) >= 0)", a3_claim(phi_c(5), label="phi_c, c = 5")),
                 repairs.Edit("add hypothesis", "|phi| <= 1 (searched over every mask sign(x) o min(1, |p|), p drawn "
                              "per run)", a3_claim(None)),
                 repairs.Edit("replace constant", "mu eps B_T/T in place of mu eps B_T/(2T)", a3_claim(b_factor=2)),
                 repairs.Edit("replace constant", "xi = 0 in eq. (1) (alpha = d/nnz >= 1)",
                              a3_claim(dataclasses.replace(A3_PHI, xi=0)))),
        why="phi > 1 (eq. (1) rescales by d/(nnz+1)) makes |u o phi|^2 exceed |u|^2")


@cl.register("cautious.A5", source="Thm. A.5", kind="discrete",
             statement="Convex L, inner-product mask 1(u^T g >= 0): L(w_bar') <= L(w') for any step size.")
def a5(mask=INNER_GE):
    """Thm. A.5 on convex L-smooth losses, any step eta >= 0, with the inner-product mask 1(u^T g >= 0) (``mask``:
    a user's mask with one value per vector); the same statement without convexity is decided beside it."""
    return cl.Judgement(a5_claim(mask), beside={"without convexity": a5_claim(mask, "smooth")})


class SeparableQuadratic:
    """``0.5 sum_i a_i w_i^2`` with symbolic curvatures ``a_i >= 0`` (Cor. A.6's loss, exact), computed with ``ops`` (so
    that a dimension-generic trace sees the sum)."""

    convex = True

    def __init__(self, a, ops=None):
        self.a, self.ops = a, ops or OPS

    @property
    def L(self):
        return sp.Max(*list(self.a)) if len(self.a) > 1 else list(self.a)[0]

    def value(self, w):
        return self.ops.total(self.a * w * w) / 2

    def grad(self, w):
        return self.a * w


A6_LOSS = cl.LossFamily("0.5 sum_i a_i w_i^2, a_i >= 0 (searched: quadratic_diagonal_convex, b = c = 0)", lambda ops, vector: SeparableQuadratic(vector("a", nonnegative=True), ops),
                        ("quadratic_diagonal_convex",), _a6_problem)


def a6_claim(mask, losses=A6_LOSS, name="Cor. A.6"):
    """Cor. A.6: L(w - eta phi o u) <= L(w - eta u) for every eta >= 0 on 0.5 sum_i a_i w_i^2 (``losses``: another
    family), phi = ``mask``."""
    return cl.OneStep(name, step=masked(mask), conclusion=no_worse_than_unmasked, losses=losses,
                      hyper=STEP_SIZE, state=("u",))


@cl.register("cautious.A6", source="Cor. A.6", kind="discrete",
             statement="L = 0.5 |a o w|^2, element-wise mask 1(u o g >= 0), element-wise u: L(w_bar') <= L(w') for "
                       "any step.")
def a6(mask=None):
    """Cor. A.6 of the Cautious paper on its loss 0.5 sum_i a_i w_i^2 (a_i >= 0), any step, with the mask
    1(u o g >= 0) (``mask``: a user's elementwise mask); for the paper's mask, eq. (1)'s rescaled mask (not covered
    by the corollary) is decided beside it."""
    if mask is not None:
        return a6_claim(mask)
    return cl.Judgement(a6_claim(CAUTIOUS_GE), beside={"with eq. (1)'s rescaled mask": a6_claim(PHI_VARIANTS[
        "eq1_default"])})


class SeparableQuadraticLinear(SeparableQuadratic):
    """``sum_i (a_i w_i^2/2 + b_i w_i)``, symbolic ``a_i`` (``convex``: ``a_i >= 0``) and real ``b_i``. With a_i >= 0 it
    meets any convex L_i at the two points a one-step comparison reads, with L_i's slope at w_i (b_i = L_i'(w_i) -
    a_i w_i, a_i from the gap above the tangent, >= 0 by convexity): a claim proved on it holds for every convex
    separable loss."""

    def __init__(self, a, b, ops=None, convex=True):
        super().__init__(a, ops)
        self.b, self.convex = b, convex

    def value(self, w):
        return super().value(w) + self.ops.total(self.b * w)

    def grad(self, w):
        return super().grad(w) + self.b


def separable_losses(text, families, convex=True):
    """The separable losses sum_i L_i(w_i) (``convex``: each L_i convex) as a loss family: proved on
    :class:`SeparableQuadraticLinear`, searched on ``families``."""
    a = {"nonnegative": True} if convex else {"real": True}
    return cl.LossFamily(text, lambda ops, vector: SeparableQuadraticLinear(vector("a", **a), vector("b", real=True),
                                                                            ops, convex), families)


A6_EXT_LOSS = separable_losses(
    "sum_i L_i(w_i), each L_i convex (proved on sum_i a_i w_i^2/2 + b_i w_i, a_i >= 0, for every dimension; every "
    "convex L_i reduces to it because per coordinate the comparison reads L_i at w_i and w_i - eta u_i and its slope "
    "at w_i, which such a quadratic matches with a_i >= 0: an argument, not machine-checked; searched: "
    "quadratic_diagonal_convex, separable_softplus, separable_logcosh)",
    ("quadratic_diagonal_convex", "separable_softplus", "separable_logcosh"))
A6_EXT_NONCONVEX = separable_losses(
    "sum_i L_i(w_i), L_i not convex (proof: a_i of any sign; searched: quadratic_diagonal, separable_sin)",
    ("quadratic_diagonal", "separable_sin"), convex=False)


@cl.register("cautious.A6.ext", source="text after Cor. A.6", kind="discrete",
             statement="Separable L = sum_i L_i(w_i), each L_i convex, element-wise mask 1(u o g >= 0): "
                       "L(w - eta phi o u) <= L(w - eta u) for every step eta >= 0.")
def a6_ext():
    """The text after Cor. A.6: its element-wise comparison on every convex separable loss (proved per coordinate on
    :class:`SeparableQuadraticLinear`, which stands for them all; searched on softplus and log-cosh sums); the same
    comparison on separable losses that are not convex is decided beside it."""
    return cl.Judgement(
        a6_claim(CAUTIOUS_GE, A6_EXT_LOSS, "Cor. A.6 on convex separable losses"),
        beside={"separable, not convex": a6_claim(CAUTIOUS_GE, A6_EXT_NONCONVEX, "Cor. A.6 on non-convex separable "
                                                                                  "losses")},
        reading="the element-wise mask, the case the extension is about: the inner-product mask of Cor. A.6 is "
                "Thm. A.5, which holds on every convex loss (cautious.A5)")


@cl.register("cautious.A7", source="Thm. A.7", kind="discrete",
             statement="Inner threshold mask alpha 1(g^T u >= alpha mu eps/2 |u|^2): L(w_bar') <= L(w_bar) for any "
                       "step size.")
def a7(mask=None):
    """Thm. A.7 of the Cautious paper, whose scaling alpha has no stated sign: refuted for alpha < 0, and when it
    holds for alpha >= 0 the verdict is conditional; ``mask``: a user's mask with one value per vector in threshold
    form (taken against g - alpha mu eps/2 u) in place of 1(g^T u >= 0)."""
    return threshold_judgement("Thm. A.7", "inner", mask, conditional="alpha >= 0")


def eq6_phi(q):
    """Every phi obeying (6) at x, from a free vector p: phi_i = 1 + |p_i| where x_i > 0, -|p_i| where x_i < 0, and
    p_i where x_i = 0 (each phi obeying (6) is one of these, with p_i = phi_i - 1, -phi_i or phi_i)."""
    positive, nonnegative = q.indicator(q.x, strict=True), q.indicator(q.x)
    return positive * (1 + q.abs(q.p)) - (1 - nonnegative) * q.abs(q.p) + (nonnegative - positive) * q.p


def thm21_conditions(phi, vectors, label, hyper=None):
    """Thm. 2.1's conditions x^T(1 - phi) <= 0 and x^T phi >= 0 for ``phi(q) -> (x, phi)``, as Facts."""
    sums = lambda q: eq6_sums(*phi(q), q.ops)
    return [cl.Fact(f"{label}: x^T(1 - phi) <= 0", lambda q: q.at_most(sums(q)[0], 0), vectors, hyper or {}),
            cl.Fact(f"{label}: x^T phi >= 0", lambda q: q.at_least(sums(q)[1], 0), vectors, hyper or {})]


def obeys_eq6(mask):
    """The mask obeys (6) at every x = u o s: sum_i 1(x_i > 0) relu(1 - phi_i) + 1(x_i < 0) relu(phi_i) = 0."""
    def conclusion(q):
        x, phi = q.u * q.s, mask_values(q.ops, q.u, q.s, mask)
        short = q.indicator(x, strict=True) * q.relu(1 - phi) + (1 - q.indicator(x)) * q.relu(phi)
        return q.at_most(q.total(short), 0)
    return cl.Fact(f"(6) for {mask_name(mask)}", conclusion, ("u", "s"))


@cl.register("cautious.eq6", source="eq. (6)", kind="discrete",
             statement="phi_i >= 1 where x_i > 0 and phi_i <= 0 where x_i < 0 imply x^T(1 - phi(x)) <= 0 and "
                       "x^T phi(x) >= 0.")
def eq6(mask=None):
    """Eq. (6) of the Cautious paper: for every phi obeying (6) (:func:`eq6_phi`), x^T(1 - phi) <= 0 and
    x^T phi >= 0. ``mask``: whether a user's mask obeys (6) at every x = u o s, and Thm. 2.1's two conditions for it
    as the correction (they follow from (6), not conversely)."""
    if mask is None:
        return thm21_conditions(lambda q: (q.x, eq6_phi(q)), ("x", "p"), "phi obeying (6)")
    mine = lambda q: (q.u * q.s, mask_values(q.ops, q.u, q.s, mask))
    return cl.Judgement(obeys_eq6(mask), thm21_conditions(mine, ("u", "s"), mask_name(mask)),
                        "Thm. 2.1's conditions x^T(1 - phi) <= 0 and x^T phi >= 0 hold (without (6))",
                        why=f"{mask_name(mask)} breaks (6) at some coordinate")


def _eq1_scale(xi):
    """alpha(x) = dim(x)/(nnz(x > 0) + xi) of eq. (1) (rule core), symbolic in d and n = nnz, for n >= 1."""
    d, n = sp.Symbol("d", integer=True, positive=True), sp.Symbol("n", integer=True, nonnegative=True)
    alpha = rules.mask_scale(OPS, rules.Caution(lam=0, tie="zero", normalize="nnz_xi", xi=xi), d, n, None)
    return (alpha.args[-1][0] if isinstance(alpha, sp.Piecewise) else alpha), d, n


def eq1_facts(xi, at_least_one=False):
    """Eq. (1)'s mask phi(x) = alpha(x) 1(x > 0), alpha = dim(x)/(nnz(x > 0) + xi) (rule core, at (u, s) = (x, 1);
    ``at_least_one``: max(alpha, 1) in place of alpha): alpha >= 1 wherever it is used (sum_i 1(x_i > 0)
    relu(1 - phi_i) = 0), and Thm. 2.1's conditions x^T(1 - phi) <= 0 and x^T phi >= 0, for every x of every
    dimension."""
    mask = dataclasses.replace(EQ1_DEFAULT, xi=xi)

    def phi(q):
        values = mask_values(q.ops, q.x, q.x * 0 + 1, mask)
        return values + q.relu(q.indicator(q.x, strict=True) - values) if at_least_one else values
    name = f"eq. (1), xi = {xi}" + (", max(alpha, 1)" if at_least_one else "")
    return [cl.Fact(f"{name}: alpha >= 1", lambda q: q.at_most(q.total(q.indicator(q.x, strict=True)
                                                                       * q.relu(1 - phi(q))), 0), ("x",)),
            *thm21_conditions(lambda q: (q.x, phi(q)), ("x",), name)]


def any_alpha_at_least_one():
    """The other reading of the sentence: phi(x) = alpha 1(x >= 0) with any alpha >= 1 (a hypothesis on alpha, not a
    property of eq. (1)'s) meets Thm. 2.1's conditions."""
    return thm21_conditions(lambda q: (q.x, q.alpha * q.indicator(q.x)), ("x",), "alpha 1(x >= 0), any alpha >= 1",
                            hyper={"alpha": cl.Range(1)})


@cl.register("cautious.eq6.default", source="after eq. (6), eq. (1)", kind="discrete",
             statement="The default phi(x) = alpha(x) 1(x >= 0), alpha(x) = dim(x)/(nnz(x > 0) + xi), xi = 1, has "
                       "alpha >= 1 and satisfies the conditions of Thm. 2.1.")
def eq6_default():
    """Read as printed, a property of eq. (1)'s default mask (xi = 1): it has alpha >= 1 and meets Thm. 2.1's
    conditions (:func:`eq1_facts`), refuted; read as a hypothesis on alpha (any alpha >= 1), it holds, decided
    beside. The correction max(alpha, 1) (defined for every x), and the single edits of the constant xi (xi = 0
    is undefined where no x_i > 0; the rule core takes phi = 0 there). Every sign pattern of x is checked exactly
    (alpha depends on the count nnz(x > 0), so the facts are not sums of coordinate terms)."""
    alpha, d, nnz = _eq1_scale(1)
    any_xi, _, _ = _eq1_scale(sp.Symbol("xi", positive=True))
    edit = lambda xi: repairs.Edit("replace constant", f"xi = {xi}" + (" (undefined where no x_i > 0)" if xi == 0
                                                                         else ""), eq1_facts(xi))
    return cl.Judgement(
        eq1_facts(1), eq1_facts(1, at_least_one=True),
        "max(alpha, 1) in place of alpha (alpha = dim(x)/(nnz(x > 0) + 1)) gives alpha >= 1, and then phi meets (6) "
        "and both conditions of Thm. 2.1; so does xi = 0 where some x_i > 0",
        repairs=(repairs.Edit("replace object", "max(alpha, 1) in place of alpha", eq1_facts(1, at_least_one=True)),
                 *(edit(xi) for xi in (0, sp.Rational(1, 2), 2))),
        why=f"alpha = d/(nnz + 1) < 1 when every x_i > 0 (alpha = {sp.simplify(alpha.subs(nnz, d))})",
        beside={"reading: alpha >= 1 as a hypothesis (any alpha >= 1), not a property of eq. (1)'s alpha":
                any_alpha_at_least_one()},
        reading="a property of eq. (1)'s alpha (xi = 1): 'the default phi has alpha >= 1'",
        notes={"alpha": str(alpha), "every_xi_above_0_fails": {
            "alpha_when_all_positive": str(any_xi.subs(nnz, d)),
            "below_1_for_all_d_and_xi_positive (sympy)": sp.simplify(1 - any_xi.subs(nnz, d)).is_positive is True},
            "note": "the text writes 1(x >= 0) where eq. (1) has 1(x > 0); at x_i = 0 the term is 0 either way"})


FIG4_R = sp.Rational(11, 20)                          # Figure 4's stable active ratio r = nnz/d
FIG4_RANGE = (sp.Integer(1), sp.Rational(31, 20))     # the range the text gives eq. (1)'s factor


def fig4_bounds(alpha, d, n, r, lo=1):
    """For real d > 0 and r d <= nnz <= d - 1: alpha = d/(nnz + 1) >= ``lo`` and alpha <= d/(r d + 1) <= 1/r (proof
    engine); d/(r d + 1) stays strictly below 1/r and tends to it as d grows (sympy). Returns (bundle, strict)."""
    top = alpha.subs(n, r * d)
    bundle = proofs.Bundle([
        (f"alpha >= {lo}", proofs.decide(lo - alpha, "<= 0", (n <= d - 1,), f"d/(nnz + 1) >= {lo}, nnz <= d - 1")),
        ("alpha <= d/(r d + 1)", proofs.decide(alpha - top, "<= 0", (n >= r * d,), f"d/(nnz + 1) <= {sp.simplify(top)}"
                                                                                   f", nnz >= {r} d")),
        ("d/(r d + 1) <= 1/r", proofs.decide(top - 1 / r, "<= 0", (), f"{sp.simplify(top)} <= {1 / r}"))])
    return bundle, sp.simplify(1 / r - top).is_positive is True and sp.limit(top, d, sp.oo) == 1 / r


def _fig4_judged(bundle, strict):
    """A range's proof as a repair's verdict: (word, strength, detail)."""
    detail = "; ".join(f"{label}: {p.status}" for label, p in bundle.parts)
    return ("holds", "proved", detail) if bundle.proved and strict else ("not-checkable", "none", detail)


def fig4_correction(alpha, d, n, r_printed, hi):
    """The nearest correct range, [1, 1/r) for r d <= nnz <= d - 1 (proved), with two single edits of the printed
    statement: 1/r in place of its upper end, and the ratio its range needs (r >= 20/31 for 1.55) in place of r."""
    correct, strict = fig4_bounds(alpha, d, n, r_printed)
    word, strength = (("holds", proved("the proof engine, for every real d > 0 and nnz in [r d, d - 1]; sympy for the "
                                       "strict bound and its limit", correct)) if correct.proved and strict else
                      ("not-checkable", no_evidence("a part of the proof stayed open")))
    r = sp.Symbol("r", positive=True)
    needed = sp.limit(sp.solve(alpha.subs(n, r * d) - hi, r)[0], d, sp.oo)     # alpha <= hi for every d iff r >= it
    correction = Correction(
        f"for {r_printed} d <= nnz <= d - 1, 1 <= alpha <= {sp.simplify(alpha.subs(n, r_printed * d))} < "
        f"{1 / r_printed} (about {float(1 / r_printed):.2f}): the factor lies within [1, {1 / r_printed}), whose upper "
        "end it approaches as d grows; at r = 1 (the start of the run) alpha = d/(d + 1) < 1", word, strength,
        {"bounds": {label: p.status for label, p in correct.parts}})
    return correction.with_repairs(repairs.search([
        repairs.Edit("replace constant", f"{1 / r_printed} (= 1/r) in place of {hi} (nnz <= d - 1)",
                     lambda: _fig4_judged(correct, strict)),
        repairs.Edit("replace constant", f"r >= {needed} in place of {r_printed}, the printed range kept (nnz <= d - "
                     "1)", lambda: _fig4_judged(*fig4_bounds(alpha, d, n, needed)))], lambda thunk: thunk()))


@register("cautious.fig4.range", source="§3.2, text on Figure 4", kind="empirical",
          statement="With the active ratio r = nnz(x > 0)/dim(x) at its stable 0.55, eq. (1)'s scaling factor alpha "
                    "= dim/(nnz + xi) lies within [1, 1.55].")
def check_fig4_range(budget="standard", seed=0):
    """Eq. (1)'s factor alpha = d/(nnz + 1) (rule core) at r = 0.55 as a function of d, exactly: where it leaves the
    printed range, a counterexample with nnz = 0.55 d (or, below it, nnz = d - 1); otherwise the range proved for every
    real d and 0.55 d <= nnz <= d - 1. The corrected range [1, 20/11) and the ratio the printed range needs (r >=
    20/31) proved; Alg. 1's factor and xi = 0 compared at r = 0.55. (``budget``, ``seed``: unused, the check is
    exact.)"""
    (lo, hi), r_printed = FIG4_RANGE, FIG4_R
    alpha, d, n = _eq1_scale(1)
    x = sp.Symbol("x", positive=True)                                   # d as a real number
    at_stable = sp.simplify(alpha.subs(n, r_printed * d))
    past = [v for v in sp.solve(at_stable.subs(d, x) - hi, x) if v.is_positive]  # alpha(d, r d) > hi beyond it
    low = sp.simplify(alpha.subs(n, d - 1))                             # the least factor for nnz <= d - 1
    step = sp.denom(r_printed)                                          # r d is a count when step divides d
    scales = {"eq. (1), xi = 1 (d -> oo)": sp.limit(at_stable, d, sp.oo),
              "eq. (1), xi = 0 (1/r)": _eq1_scale(0)[0].subs(n, r_printed * d),
              "Alg. 1, 1/(r + 1e-8)": rules.mask_scale(OPS, rules.Caution(normalize="mean_eps",
                                                                            mask_eps=sp.Rational(1, 10 ** 8)),
                                                       d, n, None).subs(n, r_printed * d)}
    evidence = {"alpha": str(alpha), "alpha_at_r": str(at_stable),
                "above_range_at_r_for_d_above": [str(v) for v in past],
                "factor_at_r_0.55_by_formula": {key: str(v) for key, v in scales.items()},
                "at_r_1": "alpha = d/(d + 1) < 1 for every d",
                "note": "1.55 = 1 + 0.55; the factor at r = 0.55 is 1/r - O(1/d), about 1.82"}
    reading = ("alpha of eq. (1) with xi = 1, d/(nnz + 1), for every tensor size d; 'near 0.55' as the stable ratio "
               "itself, nnz = 0.55 d (a counterexample there refutes every reading that covers r = 0.55); Alg. 1's "
               "1/(r + 1e-8) and xi = 0 give about 1.82 there too")
    outside = [((sp.floor(past[0] / step) + 1) * step, r_printed, f"at r = {r_printed} alpha = {at_stable}, above {hi} "
                f"for every d > {past[0]} and tending to {1 / r_printed}")] if past else []
    if bool(low < lo):
        outside.append((sp.ceiling(1 / (1 - r_printed)), None, f"alpha = {low} at nnz = d - 1, below {lo}"))
    if not outside:
        literal, strict = fig4_bounds(alpha, d, n, r_printed, lo)
        ok = literal.proved and strict and 1 / r_printed <= hi
        return Verdict("holds" if ok else "not-checkable", f"alpha in [{lo}, {hi}] for nnz >= {r_printed} d: "
                       + _fig4_judged(literal, ok)[2], evidence, reading=reading,
                       strength=proved("the proof engine, for every real d > 0 and nnz in [r d, d - 1]", literal)
                       if ok else no_evidence("a part of the proof stayed open"))
    k, ratio, why = outside[0]
    m = ratio * k if ratio is not None else k - 1
    a = alpha.subs({d: k, n: m})
    return Verdict("refuted", f"{why}; e.g. d = {k}, nnz = {m}: alpha = {a}", evidence,
                   {"d": int(k), "nnz": int(m), "alpha": str(a), "r": str(sp.Rational(m, k))},
                   fig4_correction(alpha, d, n, r_printed, hi), lambda: not bool(lo <= alpha.subs({d: k, n: m}) <= hi),
                   strength=proved("exact counterexample, re-checked in rationals"), reading=reading)
