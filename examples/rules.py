"""Worked examples of user rules for ``ams-theory verify --rule examples/rules.py:NAME``.

A rule is a mask ``mask(ops, u, s) -> phi``: ``u`` the direction, ``s`` the reference (the gradient), ``phi`` the
coefficients that multiply ``u`` entrywise, written with the rule core's operations (``ams_theory.core.ops.Ops``)
so that it runs on the torch back end (searches) and the exact sympy one (re-checks, proofs). See docs/rules.md.

- ``strict``, ``aligned``, ``eq1_default``, ``inner``: the papers' masks (``ams_theory.core.cautions``) as user
  rules, through the rule core's ``mask_vector``; they get the registered claims' verdicts.
- ``soft``, ``soft_normalised``: a soft mask, the algebraic sigmoid of x/T with x = u o s.
- ``clipped``: a clipped soft mask, clip(1 + x, 0, 2) with x = u o s.
- ``flipped``: a planted wrong mask, 1 where u o s < 0; the checks refute it.
"""
from __future__ import annotations

from ams_theory.core import cautions
from ams_theory.core.rules import mask_vector

TEMPERATURE = 0.5


# ----------------------------------------------------------------------------- the papers' masks, as user rules

def strict(ops, u, s):
    """1(u o s > 0): the Cautious paper's indicator (``CAUTIOUS_GT``)."""
    return mask_vector(ops, u, s, cautions.CAUTIOUS_GT)


def aligned(ops, u, s):
    """1(u o s >= 0): Def. 3.2 of the AMS/Grams paper as its proofs use it (``CAUTIOUS_GE``)."""
    return mask_vector(ops, u, s, cautions.CAUTIOUS_GE)


def eq1_default(ops, u, s):
    """d/(nnz + 1) 1(u o s > 0): eq. (1) of the Cautious paper (``EQ1_DEFAULT``)."""
    return mask_vector(ops, u, s, cautions.EQ1_DEFAULT)


def inner(ops, u, s):
    """1(<u, s> >= 0): the inner-product mask (``INNER_GE``), one value per vector."""
    return mask_vector(ops, u, s, cautions.INNER_GE)


# ----------------------------------------------------------------------------- new rules

def soft(ops, u, s):
    """phi = sigma(x/T), x = u o s, with the algebraic sigmoid sigma(z) = (1 + z/(1 + |z|))/2 (in (0, 1), sigma(0) =
    1/2; written with Ops only, which has no exp)."""
    z = ops.div(ops.mul(u, s), TEMPERATURE)
    return ops.affine_(ops.div(z, ops.affine_(ops.abs(z), 1, 1)), 0.5, 0.5)


def soft_normalised(ops, u, s):
    """:func:`soft` rescaled to mean 1, phi d/|phi|_1, as eq. (1) rescales its indicator."""
    phi = soft(ops, u, s)
    return ops.mul(phi, ops.safe_ratio(ops.numel(phi), ops.total(phi)))


def clipped(ops, u, s):
    """phi = clip(1 + x, 0, 2) = relu(1 + x) - relu(x - 1), x = u o s (1 at a tie, 0 for x <= -1, 2 for x >= 1)."""
    ramp, excess = ops.relu(ops.affine_(ops.mul(u, s), 1, 1)), ops.relu(ops.affine_(ops.mul(u, s), 1, -1))
    return ops.lincomb(ramp, 1, excess, -1)


def flipped(ops, u, s):
    """A planted wrong mask: 1 where u o s < 0 (the cautious mask with its sign flipped)."""
    return mask_vector(ops, ops.mul(u, -1), s, cautions.CAUTIOUS_GT)
