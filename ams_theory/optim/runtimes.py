"""The optimizers' runtimes: the rule core's operations on a list of tensors (one per parameter).

``LoopOps``
    Tensor by tensor, with in-place torch ops: the single-tensor reference path (``foreach=False``).
``ChunkedLoopOps``
    ``LoopOps`` over chunks (flat views) of the parameters, for cache locality; scope sums come from a
    recording pass (see the class).
``ForeachOps``
    torch's multi-tensor ``_foreach_*`` kernels: the fast path (``foreach=True``); it must agree with
    ``LoopOps``.

They implement :class:`ams_theory.core.ops.Ops`; see there for the in-place contract and scope reductions.
"""
from __future__ import annotations

import torch

from ams_theory.core.ops import Ops, is_list

__all__ = ["LoopOps", "ForeachOps", "ChunkedLoopOps", "RecordingComplete"]


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
    return y if is_list(y) else [y] * len(xs)


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
    chunk out of the sums; default 1; used by :mod:`ams_theory.optim.sharded`). After a
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

    # a recording pass copies the inputs it does not own, and owns what fresh ops return
    mul_ = _pure_variant("mul_")
    div_ = _pure_variant("div_")
    add_ = _pure_variant("add_")
    rdiv_ = _pure_variant("rdiv_")
    addcmul_ = _pure_variant("addcmul_")
    addcdiv_ = _pure_variant("addcdiv_")
    sign_ = _pure_variant("sign_")
    relu_ = _pure_variant("relu_")
    affine_ = _pure_variant("affine_")
    indicator_ = _pure_variant("indicator_")
    lerp_ = _recording_lerp_
    sign = _recorded_fresh("sign")
    abs = _recorded_fresh("abs")
    sqrt = _recorded_fresh("sqrt")
    mul = _recorded_fresh("mul")
    div = _recorded_fresh("div")
    lincomb = _recorded_fresh("lincomb")
    relu = _recorded_fresh("relu")
    copy = _recorded_fresh("copy")


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
        if is_list(y) and y and torch.is_tensor(y[0]):
            torch._foreach_add_(xs, y, alpha=alpha)
        elif is_list(y):
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


