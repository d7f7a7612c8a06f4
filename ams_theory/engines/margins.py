"""The arithmetic of a margin on both back ends (batched torch tensors for the searches, exact sympy numbers for the
certificates and dimension-generic symbols for the proofs), and the masked step a margin takes.

A margin function ``margin(ops, problem, w, u, eta, extra)`` returns a :class:`Margin`: ``value > 0`` where
``applicable`` means the claim's conclusion fails there (:mod:`ams_theory.engines.descent`). A step bound
``eta <= num/den`` is a pair ``(num, den)``, tested without a division by :func:`within` (and past it by
:func:`beyond`, the controls' hypothesis).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import sympy as sp
import torch

from ams_theory.core import rules
from ams_theory.core.masks import as_mask
from ams_theory.engines import smooth
from ams_theory.engines.descent import step

__all__ = ["Margin", "is_tensor", "F", "G", "Lc", "total", "pos_sum", "neg_sum", "sq", "AND", "LE", "GT", "ABS", "MAX",
           "MIN", "sqrt", "within", "beyond", "combine", "mask_values", "masked_step"]


@dataclass(frozen=True)
class Margin:
    """A claim evaluated at instances: it fails at instance ``i`` iff ``applicable_i and value_i > 0`` (its
    hypotheses hold there and its conclusion does not). ``scale`` is what the float tolerance is relative to: a
    float64 search counts ``value > 1e-9 (1 + |scale|)`` as a violation. A constant ``applicable`` becomes a
    boolean tensor like a tensor ``value``."""

    value: object
    applicable: object
    scale: object

    def __post_init__(self):
        if is_tensor(self.value) and not is_tensor(self.applicable):
            applicable = torch.full_like(self.value, bool(self.applicable), dtype=torch.bool)
            object.__setattr__(self, "applicable", applicable)


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


def combine(parts, scale):
    """The :class:`Margin` of the parts ``(value, applicable)`` together: ``max {value : applicable}``
    (``-inf`` where none applies), applicable where any part is, with ``scale``."""
    value, applicable = None, None
    for m, a in parts:
        if is_tensor(m):
            a = a if is_tensor(a) else torch.full_like(m, bool(a), dtype=torch.bool)
            m = torch.where(a, m, torch.full_like(m, -math.inf))
            value = m if value is None else torch.maximum(value, m)
            applicable = a if applicable is None else applicable | a
        else:
            m = m if a else -sp.oo
            value = m if value is None else sp.Max(value, m)
            applicable = a if applicable is None else (applicable or a)
    return Margin(value, applicable, scale)


def mask_values(ops, u, g, mask):
    """The values phi of ``mask`` at ``(u, g)`` (:func:`ams_theory.core.masks.as_mask`: a rule-core ``Caution``, the
    papers' masks, or a user's ``mask(ops, u, s)``), given copies (a mask may consume its inputs)."""
    return as_mask(mask)(ops, ops.copy(u), ops.copy(g))


def masked_step(ops, w, u, g, eta, mask):
    """``w - eta phi o u``: :func:`ams_theory.engines.descent.step` for a rule-core caution (or ``None``); for a
    user's mask, the rule core's :func:`~ams_theory.core.rules.apply_step` with ``phi = mask(ops, u, g)``."""
    if mask is None or isinstance(mask, rules.Caution):
        return step(ops, w, u, g, eta, mask)
    return rules.apply_step(ops, ops.copy(w), ops.mul(u, mask_values(ops, u, g, mask)), eta, 0, "after")
