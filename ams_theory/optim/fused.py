r"""The fused step: the rule core, compiled by ``torch.compile`` into a few kernels.

``fused=True`` on any preset runs the group's step through :func:`fused_update`,
which calls the same rule function as every other path (``type(opt).rule``)
with :class:`FusedOps`, and is compiled once per optimizer configuration. The
compiler fuses each tensor's element-wise chain (moment updates, the mask, the
denominator, the parameter step, weight decay) into one pass over
``(param, grad, m, v)`` and keeps intermediate values in registers; on CUDA it
emits Triton kernels, on the CPU vectorised C++. A mask rescaling needs a
reduction over its scope before the update can be applied: it becomes a
reduction kernel that reads what the count needs (``m`` and ``g`` for C-AdamW),
and its result stays on the device, so no host synchronisation occurs.

Semantics follow torch's fused AdamW:

- low-precision parameters (bfloat16, float16) keep their state in float32 and
  are updated in float32, rounded once when written back;
- the step count is a tensor on the parameter's device and the bias corrections
  are computed from it there (``capturable`` semantics: nothing reads a value
  back to the host, so the step can be captured in a CUDA graph);
- with ``torch.amp.GradScaler`` the optimizer declares
  ``_step_supports_amp_scaling``: the scaler hands over ``grad_scale`` and
  ``found_inf`` without unscaling; the gradients are divided by the scale inside
  the kernel (``p.grad`` is left as it is) and, when ``found_inf`` is set, the
  parameters, the state and the step count keep their old values, decided on the
  device.

The learning rate enters as a 0-d tensor, so a scheduler that changes it does
not recompile; the other hyperparameters are constants of the compiled code
(changing one recompiles once).
"""
from __future__ import annotations

import torch

from ams_theory.optim.runtimes import LoopOps

__all__ = ["FusedOps", "fused_update", "LOW_PRECISION", "in_float32"]

LOW_PRECISION = (torch.bfloat16, torch.float16)


def in_float32(x: torch.Tensor) -> torch.Tensor:
    """``x`` itself, or a float32 copy when it is bfloat16/float16 (the precision every path computes in)."""
    return x.float() if x.dtype in LOW_PRECISION else x
RECOMPILE_LIMIT = 64


class FusedOps(LoopOps):
    """``LoopOps`` for tracing: scope sums stay 0-d tensors on every device (no host sync), and the
    multipliers ``alpha``/``value`` may be 0-d tensors (the learning rate enters as one)."""

    name = "fused"

    def add_(self, xs, y, alpha=1):
        if not torch.is_tensor(alpha):
            return super().add_(xs, y, alpha)
        for x, b in zip(xs, y if isinstance(y, list) else [y] * len(xs)):
            x.add_(b * alpha)
        return xs

    def addcmul_(self, xs, ys, zs, value):
        if not torch.is_tensor(value):
            return super().addcmul_(xs, ys, zs, value)
        for x, y, z in zip(xs, ys, zs):
            x.add_(y * z * value)
        return xs

    def addcdiv_(self, xs, ys, zs, value, scale=None):
        if not torch.is_tensor(value):
            return super().addcdiv_(xs, ys, zs, value, scale)
        for i, (x, y, z) in enumerate(zip(xs, ys, zs)):
            k = value if scale is None else value * scale[i]
            x.add_(y / z * k)
        return xs

    def _combine(self, xs, sums):
        if self.scope == "group":
            tot = sums[0]
            for s in sums[1:]:
                tot = tot + s
            return [tot] * len(xs)
        return list(sums)


def fused_update(rule, hp: dict, params, grads, bufs: dict, steps, lr, grad_scale=None, found_inf=None):
    """One step of ``rule`` over a group's tensors, written back in place (traced by ``torch.compile``).

    ``hp``: the group's hyperparameters without ``params`` and ``lr``; ``lr``: a
    0-d tensor; ``steps``: 0-d tensors (already incremented); ``bufs``: state lists.
    ``grad_scale``/``found_inf``: from ``torch.amp.GradScaler`` (or ``None``).
    """
    ops = FusedOps(scope=hp.get("scope", "tensor"))
    work = [in_float32(p) for p in params]
    g = [in_float32(x) for x in grads]
    if grad_scale is not None:
        g = [x / grad_scale.to(x.dtype) for x in g]
    if found_inf is not None:
        # the rule works in place: keep the old values to restore them when the step is skipped
        old_w = [x.clone() for x in work]
        old_b = {k: [x.clone() for x in v] for k, v in bufs.items()}
    # bias corrections in the parameters' precision (the float32 count is exact; its powers need not be)
    steps = [t.to(torch.float64) if w.dtype == torch.float64 else t for t, w in zip(steps, work)]
    new_w, new_b = rule(ops, work, g, bufs, dict(hp, lr=lr), steps)
    if found_inf is not None:
        skip = found_inf.reshape(()) > 0
        new_w = [torch.where(skip, o, n) for o, n in zip(old_w, new_w)]
        new_b = {k: [torch.where(skip, o, n) for o, n in zip(old_b[k], new_b[k])] for k in bufs}
    for p, x in zip(params, new_w):
        if x is not p:
            p.copy_(x)
    for k in bufs:
        for b, x in zip(bufs[k], new_b[k]):
            if x is not b:
                b.copy_(x)


_compiled = None


def compiled_update(*args, **kwargs):
    """:func:`fused_update` compiled (once per configuration; the first call compiles)."""
    global _compiled
    if _compiled is None:
        _compiled = torch.compile(fused_update)
    # presets, dtypes and tensor shapes each add an entry to the compiled function's cache; the
    # hyperparameters other than lr are constants of the compiled code (a change recompiles), so
    # floats are specialised rather than traced symbolically
    limit = max(RECOMPILE_LIMIT, torch._dynamo.config.recompile_limit)
    with torch._dynamo.config.patch(recompile_limit=limit, specialize_float=True):
        return _compiled(*args, **kwargs)
