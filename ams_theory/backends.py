"""Array back ends for the rule core.

The update rules in :mod:`ams_theory.rules` are written once, against the small
set of operations below, and evaluated by four back ends:

``TorchOps``
    Pure (never writes into its inputs) torch evaluation on one tensor per
    quantity, with ``batch_dims`` leading dimensions that index independent
    instances. Used by the theory checks to evaluate 10^5 instances at once.
``LoopOps``
    A list of tensors (one per parameter), evaluated tensor by tensor with
    in-place torch ops. The single-tensor reference path of the optimizers.
``ForeachOps``
    The same list, evaluated with torch's multi-tensor ``_foreach_*`` kernels.
    The fast path of the optimizers; it must agree with ``LoopOps``.
``SympyOps``
    numpy object arrays of sympy expressions, for exact symbolic evaluation.

Contract of an operation whose name ends in ``_``: it *may* overwrite its first
argument and returns the result; a rule must not read that argument again.
Pure back ends return a new value instead, so a rule that breaks the contract
makes the in-place and pure back ends disagree, which the tests detect.

A "scope reduction" (:meth:`total`, :meth:`numel`) sums over one instance: for
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

__all__ = ["TorchOps", "LoopOps", "ForeachOps", "ChunkedLoopOps", "RecordingComplete", "SympyOps", "Ops"]


def _is_list(x: Any) -> bool:
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
        if any(_is_list(a) for a in args):
            n = max(len(a) for a in args if _is_list(a))
            cols = [a if _is_list(a) else [a] * n for a in args]
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


class _ListOps(Ops):
    """Shared part of the list back ends: scope reductions and scalar arithmetic."""

    inplace = True

    def __init__(self, scope: str = "tensor"):
        if scope not in ("tensor", "group"):
            raise ValueError(f"scope must be 'tensor' or 'group', got {scope!r}")
        self.scope = scope

    def _sums(self, xs):
        raise NotImplementedError

    def _combine(self, xs, sums):
        """Per-tensor (or group) sums as per-tensor scalars.

        On the CPU they become Python floats (no synchronisation cost there, and
        the scalar arithmetic and ``_foreach`` fast paths then take plain numbers);
        on an accelerator they stay 0-d tensors, so no host synchronisation occurs.
        """
        if self.scope == "group":
            tot = sums[0]
            for s in sums[1:]:
                tot = tot + s.to(tot.device)
            sums = [tot.to(x.device) for x in xs]
        if all(x.device.type == "cpu" for x in xs):
            return [float(s) for s in sums]
        return list(sums)

    def total(self, xs):
        return self._combine(xs, self._sums(xs))

    def dot(self, xs, ys):
        return self._combine(xs, [(x * y).sum() for x, y in zip(xs, ys)])

    def numel(self, xs):
        if self.scope == "group":
            n = sum(x.numel() for x in xs)
            return [n] * len(xs)
        return [x.numel() for x in xs]

    def safe_ratio(self, num, den):
        out = []
        for n, d in zip(num, den):
            if not torch.is_tensor(n) and not torch.is_tensor(d):
                out.append(n / d if d != 0 else 0.0)
                continue
            ref = n if torch.is_tensor(n) else d
            n, d = torch.as_tensor(n, dtype=ref.dtype, device=ref.device), torch.as_tensor(d, dtype=ref.dtype, device=ref.device)
            ok = d != 0
            out.append(torch.where(ok, n / torch.where(ok, d, torch.ones_like(d)), torch.zeros_like(d)))
        return out


def _pairs(xs, y):
    """Broadcast a second operand (list, per-tensor scalar list, or one scalar)."""
    return y if _is_list(y) else [y] * len(xs)


class LoopOps(_ListOps):
    """Tensor-by-tensor in-place evaluation: the single-tensor reference path."""

    name = "loop"

    def sign(self, xs): return [torch.sign(x) for x in xs]
    def unit_sign(self, xs): return [torch.copysign(torch.ones_like(x), x) for x in xs]
    def abs(self, xs): return [torch.abs(x) for x in xs]
    def sqrt(self, xs): return [torch.sqrt(x) for x in xs]
    def mul(self, xs, y): return [x * b for x, b in zip(xs, _pairs(xs, y))]
    def div(self, xs, y): return [x / b for x, b in zip(xs, _pairs(xs, y))]
    def lincomb(self, xs, a, ys, b): return [torch.add(x * a, y, alpha=b) for x, y in zip(xs, ys)]
    def relu(self, xs): return [torch.clamp_min(x, 0) for x in xs]
    def copy(self, xs): return [x.clone() for x in xs]

    def mul_(self, xs, y):
        for x, b in zip(xs, _pairs(xs, y)):
            x.mul_(b)
        return xs

    def div_(self, xs, y):
        for x, b in zip(xs, _pairs(xs, y)):
            x.div_(b)
        return xs

    def add_(self, xs, y, alpha=1):
        for x, b in zip(xs, _pairs(xs, y)):
            x.add_(b, alpha=alpha) if torch.is_tensor(b) else x.add_(b * alpha)
        return xs

    def lerp_(self, xs, ys, w):
        for x, y in zip(xs, ys):
            x.lerp_(y, w)
        return xs

    def rdiv_(self, xs, ys):
        for x, y in zip(xs, ys):
            torch.div(y, x, out=x)
        return xs

    def addcmul_(self, xs, ys, zs, value):
        for x, y, z in zip(xs, ys, zs):
            x.addcmul_(y, z, value=value) if torch.is_tensor(z) else x.add_(y, alpha=value * z)
        return xs

    def addcdiv_(self, xs, ys, zs, value, scale=None):
        for i, (x, y, z) in enumerate(zip(xs, ys, zs)):
            k = None if scale is None else scale[i]
            if torch.is_tensor(k):            # accelerator: no host sync; y is the owned masked numerator
                x.addcdiv_(y.mul_(k), z, value=value)
            else:
                x.addcdiv_(y, z, value=value if k is None else value * k)
        return xs

    def sign_(self, xs):
        for x in xs:
            x.sign_()
        return xs

    def relu_(self, xs):
        for x in xs:
            x.clamp_min_(0)
        return xs

    def affine_(self, xs, a, b):
        for x in xs:
            if a != 1:
                x.mul_(a)
            if b != 0:
                x.add_(b)
        return xs

    def indicator_(self, xs, strict):
        for x in xs:
            x.gt_(0) if strict else x.ge_(0)
        return xs

    def _sums(self, xs):
        return [x.sum() for x in xs]


class RecordingComplete(Exception):
    """Raised by a recording ``ChunkedLoopOps`` once it holds every reduction of the rule."""


_CONSUMING = ("mul_", "div_", "add_", "lerp_", "rdiv_", "addcmul_", "addcdiv_", "sign_", "relu_", "affine_",
              "indicator_")


class _Partial(list):
    """Per-piece values computed from the partial sums of a recording pass (not yet scope sums)."""


def _any_partial(args, kwargs) -> bool:
    return any(isinstance(a, _Partial) for a in (*args, *kwargs.values()))


class ChunkedLoopOps(LoopOps):
    """``LoopOps`` over chunks (flat views) of the parameters, for cache locality.

    A rule run on chunks must see each scope reduction over the whole scope. The
    optimizer therefore runs the rule twice per batch of chunks: first with
    ``replay=False`` (pure: nothing is written, every consuming op works on a
    copy), which records the chunks' partial sums of every :meth:`total` and
    :meth:`dot` on ``tape``; then with ``replay=True`` (in place), where the k-th
    reduction returns the k-th recorded sum over the chunk's whole scope. The
    rules' reductions happen in an order fixed by the hyperparameters alone, so
    the k-th reductions of the two passes are the same quantity. Rules that
    need no reduction skip the first pass.

    ``scope_of[i]``: the scope id of chunk ``i``; ``scope_numel[id]``: entries in that scope.

    ``weights[i]`` multiplies chunk ``i``'s partial sums on the tape (0 leaves a
    chunk out of the sums; default 1; used by :mod:`ams_theory.sharded`). After a
    recording pass, :attr:`trusted` is the number of reductions made before any
    tensor op consumed a value computed from a recorded partial sum: a later sum
    could depend on such a value, and then the replay would be wrong, so the
    callers refuse a rule with ``trusted`` below the number of reductions.
    """

    name = "chunked"

    def __init__(self, scope_of, scope_numel, tape: list, replay: bool, stop_after: int | None = None,
                 weights=None):
        super().__init__(scope="tensor")
        self.scope_of, self.scope_numel, self.tape, self.replay = scope_of, scope_numel, tape, replay
        self.stop_after, self.weights = stop_after, weights
        self._k = 0
        self._first_partial_use = None
        self._owned, self._keep = set(), []   # temporaries of a recording pass (kept alive: ids stay unique)

    @property
    def trusted(self) -> int:
        """Reductions of this recording pass that depend on no partial sum (see the class docstring)."""
        return self._k if self._first_partial_use is None else self._first_partial_use

    def _own(self, x):
        self._owned.add(id(x))
        self._keep.append(x)
        return x

    def _note_partial_use(self, args, kwargs):
        if not self.replay and self._first_partial_use is None and _any_partial(args, kwargs):
            self._first_partial_use = self._k

    def numel(self, xs):
        return [self.scope_numel[i] for i in self.scope_of]

    def smap(self, f, *args):
        out = super().smap(f, *args)
        return _Partial(out) if _any_partial(args, {}) else out

    def safe_ratio(self, num, den):
        out = super().safe_ratio(num, den)
        return _Partial(out) if _any_partial((num, den), {}) else out

    def _reduce(self, partial):
        k, self._k = self._k, self._k + 1
        if self.replay:
            if k >= len(self.tape):
                raise RuntimeError("chunked evaluation: the rule made more reductions than were recorded")
            return [self.tape[k][i] for i in self.scope_of]
        sums = [float(v) for v in partial()]
        if k == len(self.tape):
            self.tape.append({})
        weights = self.weights if self.weights is not None else [1.0] * len(sums)
        for i, w, v in zip(self.scope_of, weights, sums):
            self.tape[k][i] = self.tape[k].get(i, 0.0) + w * v
        if self.stop_after is not None and self._k >= self.stop_after:
            raise RecordingComplete   # the rest of a recording pass would be discarded anyway
        return _Partial(sums)

    def total(self, xs):
        return self._reduce(lambda: [x.sum() for x in xs])

    def dot(self, xs, ys):
        return self._reduce(lambda: [(x * y).sum() for x, y in zip(xs, ys)])


_FRESH = ("sign", "abs", "sqrt", "mul", "div", "lincomb", "relu", "copy")


def _pure_variant(name):
    """A consuming op that, in a recording pass, copies inputs the pass does not own."""
    inplace = getattr(LoopOps, name)

    def op(self, xs, *args, **kwargs):
        if not self.replay:
            self._note_partial_use(args, kwargs)
            xs = [x if id(x) in self._owned else self._own(x.clone()) for x in xs]
        return inplace(self, xs, *args, **kwargs)

    op.__name__ = name
    return op


def _recording_lerp_(self, xs, ys, w):
    """``lerp_`` in a recording pass: one out-of-place pass instead of a copy and an update."""
    if self.replay:
        return LoopOps.lerp_(self, xs, ys, w)
    self._note_partial_use((w,), {})
    return [x.lerp_(y, w) if id(x) in self._owned else self._own(torch.lerp(x, y, w)) for x, y in zip(xs, ys)]


def _recorded_fresh(name):
    """A fresh op whose results a recording pass may then overwrite without copying."""
    fresh = getattr(LoopOps, name)

    def op(self, *args, **kwargs):
        out = fresh(self, *args, **kwargs)
        if not self.replay:
            self._note_partial_use(args, kwargs)
            for x in out:
                self._own(x)
        return out

    op.__name__ = name
    return op


for _name in _CONSUMING:
    setattr(ChunkedLoopOps, _name, _pure_variant(_name))
for _name in _FRESH:
    setattr(ChunkedLoopOps, _name, _recorded_fresh(_name))
ChunkedLoopOps.lerp_ = _recording_lerp_


class ForeachOps(_ListOps):
    """Multi-tensor evaluation with torch's ``_foreach_*`` kernels."""

    name = "foreach"

    def sign(self, xs): return torch._foreach_sign(xs)
    def unit_sign(self, xs): return [torch.copysign(torch.ones_like(x), x) for x in xs]
    def abs(self, xs): return torch._foreach_abs(xs)
    def sqrt(self, xs): return torch._foreach_sqrt(xs)
    def mul(self, xs, y): return torch._foreach_mul(xs, y)
    def div(self, xs, y): return torch._foreach_div(xs, y)

    def lincomb(self, xs, a, ys, b):
        out = torch._foreach_mul(xs, a)
        torch._foreach_add_(out, ys, alpha=b)
        return out

    def relu(self, xs): return torch._foreach_clamp_min(xs, 0.0)
    def copy(self, xs): return [x.clone() for x in xs]

    def mul_(self, xs, y):
        torch._foreach_mul_(xs, y)
        return xs

    def div_(self, xs, y):
        torch._foreach_div_(xs, y)
        return xs

    def add_(self, xs, y, alpha=1):
        if _is_list(y) and y and torch.is_tensor(y[0]):
            torch._foreach_add_(xs, y, alpha=alpha)
        elif _is_list(y):
            torch._foreach_add_(xs, [b * alpha for b in y])
        else:
            torch._foreach_add_(xs, y * alpha)
        return xs

    def lerp_(self, xs, ys, w):
        torch._foreach_lerp_(xs, ys, w)
        return xs

    def rdiv_(self, xs, ys):
        torch._foreach_reciprocal_(xs)
        torch._foreach_mul_(xs, ys)
        return xs

    def addcdiv_(self, xs, ys, zs, value, scale=None):
        if scale is None:
            torch._foreach_addcdiv_(xs, ys, zs, value)
        elif not torch.is_tensor(scale[0]):     # per-tensor numbers (CPU)
            torch._foreach_addcdiv_(xs, ys, zs, [value * k for k in scale])
        else:                                   # 0-d tensors: scale the (owned) numerator first
            torch._foreach_mul_(ys, scale)
            torch._foreach_addcdiv_(xs, ys, zs, value)
        return xs

    def addcmul_(self, xs, ys, zs, value):
        if zs and not torch.is_tensor(zs[0]):     # per-tensor numbers: x += value * z_i * y
            for x, y, z in zip(xs, ys, zs):
                x.add_(y, alpha=value * z)
        else:
            torch._foreach_addcmul_(xs, ys, zs, value=value)
        return xs

    def sign_(self, xs):
        torch._foreach_sign_(xs)
        return xs

    def relu_(self, xs):
        torch._foreach_clamp_min_(xs, 0.0)
        return xs

    def affine_(self, xs, a, b):
        if a != 1:
            torch._foreach_mul_(xs, a)
        if b != 0:
            torch._foreach_add_(xs, b)
        return xs

    def indicator_(self, xs, strict):
        # no multi-tensor comparison kernel exists; an in-place loop allocates nothing
        for x in xs:
            x.gt_(0) if strict else x.ge_(0)
        return xs

    def _sums(self, xs):
        # Every reduced quantity in the rules is a non-negative indicator or
        # magnitude, so its sum is its l1 norm: one multi-tensor kernel.
        return list(torch._foreach_norm(xs, 1))


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
