"""The arithmetic of a margin on both back ends (batched torch tensors for the searches, exact sympy numbers for the
certificates and dimension-generic symbols for the proofs), and the masked step a margin takes.

A margin function ``margin(ops, problem, w, u, eta, extra, with_scale=False)`` returns ``(margin, applicable)``
(``[, scale]``; :func:`margin_result`): ``margin > 0`` where ``applicable`` means the claim's conclusion fails there
(:mod:`ams_theory.engines.descent`). A step bound ``eta <= num/den`` is a pair ``(num, den)``, tested without a
division by :func:`within` (and past it by :func:`beyond`, the controls' hypothesis).
"""
from __future__ import annotations

import math
from functools import partial

import sympy as sp
import torch

from ams_theory.core import rules
from ams_theory.engines import smooth
from ams_theory.engines.descent import exact_caution, step

__all__ = ["is_tensor", "F", "G", "Lc", "total", "pos_sum", "neg_sum", "sq", "AND", "LE", "GT", "ABS", "MAX", "MIN",
           "sqrt", "within", "beyond", "combine", "margin_result", "mask_values", "is_user_mask", "masked_step",
           "mask_name", "with_mask"]


def is_tensor(x):
    """Whether ``x`` is a torch tensor (the searches' back end) rather than an exact or symbolic number."""
    return torch.is_tensor(x)


F = smooth.value_column          # F(problem, w): the loss at w, a (B, 1) column on torch


def G(problem, w):
    """The gradient of the loss at ``w``."""
    return problem.grad(w)


def Lc(problem):
    """The smoothness constant L, a ``(B, 1)`` column on torch."""
    L = problem.L
    return L.reshape(-1, 1) if is_tensor(L) else L


def total(ops, x):
    return ops.total(x)


def pos_sum(ops, x):
    return ops.total(ops.relu(x))


def neg_sum(ops, x):            # sum of min(x_i, 0)
    return -ops.total(ops.relu(ops.mul(x, -1)))


def sq(ops, x):
    return ops.dot(x, x)


def AND(a, b):
    return a & b if is_tensor(a) or is_tensor(b) else bool(a) and bool(b)


def LE(a, b):
    return a <= b if is_tensor(a) or is_tensor(b) else bool(sp.simplify(sp.sympify(a) <= sp.sympify(b)))


def GT(a, b):
    return a > b if is_tensor(a) or is_tensor(b) else bool(sp.simplify(sp.sympify(a) > sp.sympify(b)))


def ABS(x):
    return x.abs() if is_tensor(x) else sp.Abs(x)


def MAX(a, b):
    return torch.maximum(a, b) if is_tensor(a) else sp.Max(a, b)


def MIN(a, b):
    return torch.minimum(a, b) if is_tensor(a) else sp.Min(a, b)


def sqrt(x):
    return torch.sqrt(x) if is_tensor(x) else sp.sqrt(x)


def within(eta, bound):
    """A step-bound hypothesis ``eta <= num/den``, ``bound = (num, den)``, tested as ``den > 0 and eta den <= num``
    (no division; with ``eta >= 0`` it also says ``num >= 0``)."""
    num, den = bound
    return AND(GT(den, 0), LE(eta * den, num))


def beyond(eta, bound):
    """Past a positive step bound: ``den > 0, num > 0`` and ``eta den > num`` (the hypothesis of the controls)."""
    num, den = bound
    return AND(AND(GT(den, 0), GT(num, 0)), GT(eta * den, num))


def combine(parts):
    """Max margin over the applicable parts; applicable if any part is."""
    margin, app = None, None
    for m, a in parts:
        if is_tensor(m):
            a = a if is_tensor(a) else torch.full_like(m, bool(a), dtype=torch.bool)
            m = torch.where(a, m, torch.full_like(m, -math.inf))
            margin = m if margin is None else torch.maximum(margin, m)
            app = a if app is None else app | a
        else:
            m = m if a else -sp.oo
            margin = m if margin is None else sp.Max(margin, m)
            app = a if app is None else (app or a)
    return margin, app


def margin_result(margin, applicable, scale, with_scale):
    """What a margin function returns: ``(margin, applicable)``, and ``scale`` (the size the float tolerance is
    relative to) when ``with_scale``; a constant ``applicable`` becomes a tensor like a tensor margin."""
    if is_tensor(margin) and not is_tensor(applicable):
        applicable = torch.full_like(margin, bool(applicable), dtype=torch.bool)
    return (margin, applicable, scale) if with_scale else (margin, applicable)


def mask_values(ops, u, g, caution):
    """The mask vector phi of ``caution``: a rule-core :class:`~ams_theory.core.rules.Caution` (the papers' masks),
    or a user's mask ``mask(ops, u, s) -> phi`` (:mod:`ams_theory.claims.custom`)."""
    if is_user_mask(caution):
        return caution(ops, ops.copy(u), ops.copy(g))     # a user's mask may consume its inputs
    return rules.mask_vector(ops, u, g, exact_caution(ops, caution))


def is_user_mask(mask):
    return mask is not None and not isinstance(mask, rules.Caution) and callable(mask)


def masked_step(ops, w, u, g, eta, mask):
    """``w - eta phi o u``: :func:`ams_theory.engines.descent.step` for a rule-core caution (or ``None``); for a
    user's mask, the rule core's :func:`~ams_theory.core.rules.apply_step` with ``phi = mask(ops, u, g)``."""
    if not is_user_mask(mask):
        return step(ops, w, u, g, eta, mask)
    return rules.apply_step(ops, ops.copy(w), ops.mul(u, mask_values(ops, u, g, mask)), eta, 0, "after")


def mask_name(mask):
    return getattr(mask, "name", "mask")


def with_mask(margin, mask):
    """``margin`` with a user's mask bound (unchanged for the paper's: ``mask=None``)."""
    return margin if mask is None else partial(margin, mask=mask)
