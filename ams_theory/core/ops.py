"""Array operations of the rule core, and its two theory back ends.

The update rules in :mod:`ams_theory.core.rules` are written once, against the small set of operations
of :class:`Ops`, and evaluated by these back ends and by the optimizers' runtimes
(:mod:`ams_theory.optim.runtimes`):

``TorchOps``
    Pure (never writes into its inputs) torch evaluation on one tensor per
    quantity, with ``batch_dims`` leading dimensions that index independent
    instances. Used by the theory checks to evaluate 10^5 instances at once.
``SympyOps``
    numpy object arrays of sympy expressions, for exact symbolic evaluation.

Contract of an operation whose name ends in ``_``: it *may* overwrite its first
argument and returns the result; a rule must not read that argument again.
Pure back ends return a new value instead, so a rule that breaks the contract
makes the in-place and pure back ends disagree, which the tests detect.

A "scope reduction" (:meth:`Ops.total`, :meth:`Ops.numel`) sums over one instance: for
the torch back end the dimensions after ``batch_dims``; for the list back ends
one tensor (``scope="tensor"``) or every tensor of the list (``scope="group"``).
Per-instance scalars (bias corrections, mask scales) are plain numbers, lists
of numbers (one per tensor) or tensors shaped to broadcast against the values.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch

__all__ = ["Ops", "TorchOps", "SympyOps", "is_list"]


def is_list(x: Any) -> bool:
    return isinstance(x, (list, tuple))


class Ops:
    """Interface shared by the back ends (documentation of the operation set)."""

    name = "abstract"
    inplace = False

    # fresh results -------------------------------------------------------
    def sign(self, x): raise NotImplementedError
    def unit_sign(self, x): raise NotImplementedError     # copysign(1, x): +1 at +0, -1 at -0
    def abs(self, x): raise NotImplementedError
    def sqrt(self, x): raise NotImplementedError
    def mul(self, x, y): raise NotImplementedError
    def div(self, x, y): raise NotImplementedError
    def lincomb(self, x, a, y, b): raise NotImplementedError  # a*x + b*y
    def relu(self, x): raise NotImplementedError
    def copy(self, x): raise NotImplementedError
    # consuming results ---------------------------------------------------
    def mul_(self, x, y): raise NotImplementedError
    def div_(self, x, y): raise NotImplementedError
    def add_(self, x, y, alpha=1): raise NotImplementedError
    def lerp_(self, x, y, w): raise NotImplementedError
    def rdiv_(self, x, y): raise NotImplementedError  # y / x
    def addcmul_(self, x, y, z, value): raise NotImplementedError
    def addcdiv_(self, x, y, z, value, scale=None): raise NotImplementedError  # x + value*scale*y/z
    def sign_(self, x): raise NotImplementedError
    def relu_(self, x): raise NotImplementedError
    def affine_(self, x, a, b): raise NotImplementedError  # a*x + b
    def indicator_(self, x, strict): raise NotImplementedError  # 1(x > 0) (strict) or 1(x >= 0)
    # scope reductions ------------------------------------------------------
    def total(self, x): raise NotImplementedError
    def numel(self, x): raise NotImplementedError
    # per-instance scalar arithmetic (values returned by total/numel) --------
    def safe_ratio(self, num, den): raise NotImplementedError  # num/den, 0 where den == 0
    def dot(self, x, y): raise NotImplementedError  # signed scope sum of x*y

    def scalar_sqrt(self, x):
        return x ** 0.5

    def scalar_sign(self, v):
        """sign of a per-instance scalar (a number or a tensor, dtype kept)."""
        return v.sign() if torch.is_tensor(v) else float((v > 0) - (v < 0))

    def scalar_step(self, q, positive, with_ties):
        """1(q > 0) or 1(q < 0) of a per-instance scalar, ties (q = 0) included on request."""
        hit = (q > 0) if positive else (q < 0)
        if with_ties:
            hit = hit | (q == 0)
        return hit.to(q.dtype) if torch.is_tensor(hit) else float(hit)

    def smap(self, f, *args):
        """Apply a scalar function to per-instance scalars (lists are zipped)."""
        if any(is_list(a) for a in args):
            n = max(len(a) for a in args if is_list(a))
            cols = [a if is_list(a) else [a] * n for a in args]
            return [f(*vals) for vals in zip(*cols)]
        return f(*args)


class TorchOps(Ops):
    """Pure torch evaluation; ``batch_dims`` leading dimensions index instances."""

    name = "torch"

    def __init__(self, batch_dims: int = 0):
        if batch_dims < 0:
            raise ValueError(f"batch_dims must be >= 0, got {batch_dims}")
        self.batch_dims = batch_dims

    def sign(self, x): return torch.sign(x)
    def unit_sign(self, x): return torch.copysign(torch.ones_like(x), x)
    def abs(self, x): return torch.abs(x)
    def sqrt(self, x): return torch.sqrt(x)
    def mul(self, x, y): return x * y
    def div(self, x, y): return x / y
    def lincomb(self, x, a, y, b): return a * x + b * y
    def relu(self, x): return torch.clamp_min(x, 0)
    def copy(self, x): return x.clone()
    def mul_(self, x, y): return x * y
    def div_(self, x, y): return x / y
    def add_(self, x, y, alpha=1): return x + alpha * y
    def lerp_(self, x, y, w): return torch.lerp(x, y, w)
    def rdiv_(self, x, y): return y / x
    def addcmul_(self, x, y, z, value): return x + value * y * z

    def addcdiv_(self, x, y, z, value, scale=None):
        return x + (value if scale is None else value * scale) * y / z

    def sign_(self, x): return torch.sign(x)
    def relu_(self, x): return torch.clamp_min(x, 0)
    def affine_(self, x, a, b): return a * x + b
    def indicator_(self, x, strict): return ((x > 0) if strict else (x >= 0)).to(x.dtype)

    def _dims(self, x):
        return tuple(range(self.batch_dims, x.ndim))

    def total(self, x):
        dims = self._dims(x)
        return x.sum(dim=dims, keepdim=True) if dims else x

    def numel(self, x):
        return math.prod(x.shape[self.batch_dims:])

    def dot(self, x, y):
        return self.total(x * y)

    def safe_ratio(self, num, den):
        den = torch.as_tensor(den, dtype=num.dtype if torch.is_tensor(num) else None)
        ok = den != 0
        return torch.where(ok, num / torch.where(ok, den, torch.ones_like(den)), torch.zeros_like(den))


class SympyOps(Ops):
    """Exact evaluation on numpy object arrays of sympy expressions (one instance).

    Python floats entering as scalars become the exact rationals they are
    (``sympy.Rational(0.5) == 1/2``), so no rounding enters an expression.
    Before a sign is taken (``sign``, ``abs``, ``relu``, indicators) the
    argument is put in canonical rational form with ``sympy.cancel``, so that
    sign assumptions on symbols decide it whenever they determine it.
    """

    name = "sympy"

    def __init__(self, canonical=None):
        import sympy

        self.sp = sympy
        cancel = canonical or sympy.cancel
        # a rational number is already canonical; cancel would only spend time on its (large) integers
        canon = lambda e: e if getattr(e, "is_Rational", False) else cancel(e)
        self._canon = canon
        self._sign = np.vectorize(lambda e: sympy.sign(canon(e)), otypes=[object])
        # exact reals have no signed zero: 0 counts as +0
        self._unit_sign = np.vectorize(lambda e: sympy.Piecewise((1, canon(e) >= 0), (-1, True)), otypes=[object])
        self._abs = np.vectorize(lambda e: sympy.Abs(canon(e)), otypes=[object])
        self._sqrt = np.vectorize(sympy.sqrt, otypes=[object])
        self._relu = np.vectorize(lambda e: sympy.Max(canon(e), 0), otypes=[object])

    @staticmethod
    def asarray(values: Sequence) -> np.ndarray:
        return np.array(list(values), dtype=object)

    def q(self, x):
        """A scalar argument as an exact sympy number (floats are exact binary rationals)."""
        if isinstance(x, bool):
            return self.sp.Integer(int(x))
        if isinstance(x, float):
            return self.sp.Rational(x)
        if isinstance(x, int):
            return self.sp.Integer(x)
        return x

    def sign(self, x): return self._sign(x)
    def unit_sign(self, x): return self._unit_sign(x)
    def abs(self, x): return self._abs(x)
    def sqrt(self, x): return self._sqrt(x)
    def mul(self, x, y): return x * self.q(y)
    def div(self, x, y): return x / self.q(y)
    def lincomb(self, x, a, y, b): return self.q(a) * x + self.q(b) * y
    def relu(self, x): return self._relu(x)
    def copy(self, x): return x.copy()
    def mul_(self, x, y): return x * self.q(y)
    def div_(self, x, y): return x / self.q(y)
    def add_(self, x, y, alpha=1): return x + self.q(alpha) * self.q(y)
    def lerp_(self, x, y, w): return x + self.q(w) * (y - x)
    def rdiv_(self, x, y): return y / x
    def addcmul_(self, x, y, z, value): return x + self.q(value) * y * z

    def addcdiv_(self, x, y, z, value, scale=None):
        k = self.q(value) if scale is None else self.q(value) * self.q(scale)
        return x + k * y / z

    def sign_(self, x): return self._sign(x)
    def relu_(self, x): return self._relu(x)
    def affine_(self, x, a, b): return self.q(a) * x + self.q(b)

    def indicator_(self, x, strict):
        sp, canon = self.sp, self._canon
        f = (lambda e: sp.Piecewise((1, canon(e) > 0), (0, True))) if strict else (
            lambda e: sp.Piecewise((1, canon(e) >= 0), (0, True)))
        return np.vectorize(f, otypes=[object])(x)

    def total(self, x): return self.sp.Add(*x.ravel())
    def scalar_sqrt(self, x): return self.sp.sqrt(self.q(x))
    def scalar_sign(self, v): return self.sp.sign(self._canon(v))

    def scalar_step(self, q, positive, with_ties):
        sp = self.sp
        q = self._canon(q)
        cond = (q > 0) if positive else (q < 0)
        if with_ties:
            cond = sp.Or(cond, sp.Eq(q, 0))
        return sp.Piecewise((1, cond), (0, True))

    def numel(self, x): return int(x.size)
    def dot(self, x, y): return self.sp.Add(*(x * y).ravel())

    def smap(self, f, *args):
        return f(*(self.q(a) for a in args))

    def safe_ratio(self, num, den):
        num, den = self.q(num), self.q(den)
        return self.sp.Piecewise((0, self.sp.Eq(den, 0)), (num / den, True))
