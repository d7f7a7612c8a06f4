"""The papers' bounds, each written once as a function of the rule core's ``Ops``: the checks of
``proofs_checks`` state their claims with them, the testing API (:mod:`ams_theory.testing`) and the notebooks'
helpers (:mod:`ams_theory.lab.explore`) evaluate them.

Notation: ``P = <u o g, 1(u o g >= 0)>``, ``Q = <|g|, |u|>``, ``L`` the smoothness constant (the Cautious paper's
mu), ``eta`` the step (its eps).
"""
from __future__ import annotations

from ams_theory.engines.margins import mask_values, neg_sum, pos_sum, sq, sqrt, total
from ams_theory.engines.symbolic import OPS

__all__ = ["descent_upper", "first_order_lower", "smooth_lower", "aligned_part", "magnitude_part", "d1_step_bound",
           "d2_step_bound", "d3_step_bounds", "thm23_bound", "eq6_sums"]


def descent_upper(P, L, eta, uu):
    """Part 1 of Lemmas D.1 and D.2 (``P``, or ``Q = <|g|, |u|>`` for Grams): ``-eta P + L eta^2 |u|^2 / 2``."""
    return -eta * P + L * eta ** 2 * uu / 2


def first_order_lower(P, eta):
    """Part 2 of Lemmas D.1 and D.2 as stated: ``-eta P`` (true for convex losses only)."""
    return -eta * P


def smooth_lower(P, eta, curvature):
    """The L-smooth lower bound ``-eta P - curvature``, ``curvature = (L/2) |dw|^2`` of the step taken."""
    return -eta * P - curvature


def aligned_part(ops, g, u):
    """``P = <u o g, 1(u o g >= 0)> = sum_i max(u_i g_i, 0)``: the part of the step aligned with the gradient
    (Lemma D.1 of the AMS/Grams paper)."""
    return pos_sum(ops, ops.mul(u, g))


def magnitude_part(ops, g, u):
    """``Q = <|g|, |u|>`` (Lemma D.2 of the AMS/Grams paper)."""
    return total(ops, ops.abs(g) * ops.abs(u))


def d1_step_bound(ops, g, u, L):
    """Lemma D.1 Part 3's step bound eta <= 2P/(L|u|^2), as ``(2P, L|u|^2)``."""
    return 2 * aligned_part(ops, g, u), L * sq(ops, u)


def d2_step_bound(ops, g, u, L):
    """Lemma D.2 Part 3's step bound eta <= 2<|g|,|u|>/(L|u|^2), as ``(2<|g|,|u|>, L|u|^2)``."""
    return 2 * magnitude_part(ops, g, u), L * sq(ops, u)


def d3_step_bounds(ops, g, u, L, corrected=False, constant=2):
    """Thm. D.3's step bound eta <= 2/(L|u|^2) min{P, N}, N = sum_i min(u_i g_i, 0) <= 0, as the pairs
    ``[(2P, L|u|^2), (2N, L|u|^2)]`` of the minimum (``corrected``: |N| = -N; ``constant`` in place of the 2)."""
    x = ops.mul(u, g)
    N = neg_sum(ops, x)
    den = L * sq(ops, u)
    return [(constant * pos_sum(ops, x), den), (constant * (-N if corrected else N), den)]


def thm23_bound(ops, g, u, L, mask):
    """Thm. 2.3's step bound eps <= 2 Delta/(mu |r| (2|u| + |r|)) for the mask phi of ``mask``, with
    Delta = -x^T(1 - phi), x = u o g, r = u o (1 - phi), as ``(2 Delta, mu |r| (2|u| + |r|))``; :func:`within`
    then also says Delta >= 0 (for eps >= 0)."""
    phi = mask_values(ops, u, g, mask)
    delta = -total(ops, ops.mul(u, g) * (1 - phi))
    rn = sqrt(sq(ops, ops.mul(u, 1 - phi)))
    return 2 * delta, L * rn * (2 * sqrt(sq(ops, u)) + rn)


def eq6_sums(x, phi, ops=None):
    """``(x^T(1 - phi), x^T phi)``: the two quantities of Thm. 2.1's conditions (in ``ops``, default exact)."""
    ops = ops or OPS
    return ops.total(x * (1 - phi)), ops.total(x * phi)
