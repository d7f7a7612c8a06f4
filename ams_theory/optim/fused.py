r"""The fused step: the rule core, compiled once by ``torch.compile`` and run over buckets of tensors.

``fused=True`` on any preset runs the group's step through :func:`fused_step`,
which calls the same rule function as every other path (``type(opt).rule``)
with :class:`FusedOps`. The compiled function takes a *bucket* of
:data:`BUCKET` flat one-dimensional tensors with dynamic sizes (the last bucket
of a group is padded with small dummy tensors), so it is compiled once per
(rule, dtype, convention) and then serves every tensor of every model: the
number and the shapes of the parameters do not enter the compiled code.

In each bucket the compiler fuses a tensor's element-wise chain (moment updates,
the mask, the denominator, the parameter step, weight decay) into one pass over
``(param, grad, m, v)``; on CUDA it emits Triton kernels, on the CPU vectorised
C++. Scalars that depend only on the hyperparameters and the step count (bias
corrections, ``1 - lr * gamma``, the mask's rescaling) are returned as outputs
of the compiled function, which makes the compiler compute each once, before the
element-wise loop, instead of once per vector of the loop.

Scope sums. ``scope="tensor"``: each tensor's sums are computed in its bucket's
call. ``scope="group"``: two calls per bucket, as the chunked path does with
pieces: a *recording* call that returns the bucket's partial sums (it writes
nothing, so the compiler keeps only the work the sums need: for C-AdamW a pass
reading ``m`` and ``g``), the group's sums added up on the device, and an
*applying* call that takes them. A rule whose sums depend on each other cannot
be evaluated from partial sums; it is refused, as on the chunked path.

Hyperparameters. ``lr``, ``betas``/``beta``, ``eps``, ``weight_decay``, ``xi``
and ``mask_eps`` enter as 0-d tensors on the parameters' device, so a scheduler
that changes any of them (``OneCycleLR`` cycling beta1, a weight-decay
schedule) does not recompile. A hyperparameter equal to 0 enters as the number
0: it removes a term of the rule (no decay, no beta3 average), so moving it to
or from 0 recompiles once. The caution's form (``mask``, ``lam``, ``tie``,
``normalize``, ``scope``) and the modes (``eps_mode``, ``weight_decay_mode``)
are constants of the compiled code: ``lam`` selects how the mask coefficient is
written (:func:`ams_theory.core.rules.alignment`), so changing one recompiles.

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

float64 parameters compute their scalars in float64 (as the single-tensor path
does with Python numbers); every other dtype in float32.
"""
from __future__ import annotations

import contextlib

import torch

from ams_theory.core import rules
from ams_theory.optim.pieces import write_back
from ams_theory.optim.runtimes import ChunkedLoopOps, LoopOps, RecordingComplete

__all__ = ["BUCKET", "FusedOps", "fused_update", "fused_step", "LOW_PRECISION", "in_float32", "TENSOR_HYPERPARAMETERS"]

LOW_PRECISION = (torch.bfloat16, torch.float16)
BUCKET = 8                       # tensors per compiled call
RECOMPILE_LIMIT = 64
# the numeric hyperparameters that enter the compiled code as 0-d tensors (``betas`` entry by entry)
TENSOR_HYPERPARAMETERS = ("lr", "betas", "beta", "eps", "weight_decay", "xi", "mask_eps")
# group entries that only choose the path, not the rule
_PATH_KEYS = ("params", "foreach", "fused", "capturable", "nonfinite", "chunk_size")
_DUMMY_SIZE = 2                  # padding tensors: 2 entries (sizes 0 and 1 would be specialised)


def in_float32(x: torch.Tensor) -> torch.Tensor:
    """``x`` itself, or a float32 copy when it is bfloat16/float16 (the precision every path computes in)."""
    return x.float() if x.dtype in LOW_PRECISION else x


class FusedOps(LoopOps):
    """``LoopOps`` for tracing over one bucket: no host synchronisation, multipliers may be 0-d tensors.

    ``mode``: ``"whole"`` (scope sums of each tensor computed in the call), ``"record"`` (the k-th scope
    sum of each slot is recorded in :attr:`recorded`; nothing written) or ``"replay"`` (the k-th sum is
    the group total ``sums[k]``). ``numels``: a 1-D tensor, the scope's number of entries for each slot.
    Every 0-d tensor a scalar operation produces is kept in :attr:`kept`: the compiled function returns
    them, so each is computed once per call, not inside the element-wise loop.
    """

    name = "fused"

    def __init__(self, scope: str, mode: str, numels, sums=None):
        super().__init__(scope=scope)
        self.mode, self.numels, self.sums = mode, numels, sums
        self.kept, self.recorded = [], []

    def _keep(self, value):
        for v in (value if isinstance(value, list) else [value]):
            if torch.is_tensor(v) and v.dim() == 0:
                self.kept.append(v)
        return value

    def smap(self, f, *args):
        return self._keep(super().smap(f, *args))

    def safe_ratio(self, num, den):
        return self._keep(super().safe_ratio(num, den))

    def numel(self, xs):
        return [self.numels[i] for i in range(len(xs))]

    def _reduce(self, partial):
        if self.mode == "replay":
            k = len(self.recorded)
            self.recorded.append(None)
            return [self.sums[k]] * len(self.numels)
        sums = partial()
        if self.mode == "record":
            self.recorded.append(torch.stack(sums))
        return self._keep(sums)

    def total(self, xs):
        return self._reduce(lambda: [x.sum() for x in xs])

    def dot(self, xs, ys):
        return self._reduce(lambda: [(x * y).sum() for x, y in zip(xs, ys)])

    def add_(self, xs, y, alpha=1):
        if not torch.is_tensor(alpha):
            return super().add_(xs, y, alpha)
        alpha = self._keep(alpha)
        for x, b in zip(xs, y if isinstance(y, list) else [y] * len(xs)):
            x.add_(b * alpha)
        return xs

    def mul_(self, xs, y):
        return super().mul_(xs, self._keep(y))

    def lincomb(self, xs, a, ys, b):
        if not (torch.is_tensor(a) or torch.is_tensor(b)):
            return super().lincomb(xs, a, ys, b)
        a, b = self._keep(a), self._keep(b)
        return [x * a + y * b for x, y in zip(xs, ys)]

    def lerp_(self, xs, ys, w):
        """``x + w (y - x)``, written out: ``torch.lerp``'s second branch (``y - (1 - w)(y - x)`` for ``w >= 1/2``,
        kept for its rounding) costs a blend and a multiply per vector in the compiled loop, about 5% of a fused
        AdamW step over 1e8 parameters on the CPU; the two differ by rounding only."""
        w = self._keep(w)
        for x, y in zip(xs, ys):
            x.add_((y - x) * (w.to(x.dtype) if torch.is_tensor(w) else w))
        return xs

    def addcmul_(self, xs, ys, zs, value):
        if not torch.is_tensor(value):
            return super().addcmul_(xs, ys, zs, value)
        value = self._keep(value)
        for x, y, z in zip(xs, ys, zs):
            x.add_(y * z * value)
        return xs

    def addcdiv_(self, xs, ys, zs, value, scale=None):
        if not torch.is_tensor(value) and scale is None:
            return super().addcdiv_(xs, ys, zs, value, scale)
        for i, (x, y, z) in enumerate(zip(xs, ys, zs)):
            k = self._keep(value if scale is None else value * scale[i])
            x.add_(y / z * k)
        return xs

    def affine_(self, xs, a, b):
        self._keep(a)
        self._keep(b)
        for x in xs:
            if torch.is_tensor(a) or a != 1:
                x.mul_(a)
            if torch.is_tensor(b) or b != 0:
                x.add_(b)
        return xs


def fused_update(rule, hp: dict, params, grads, bufs: dict, steps, numels, mode="whole", sums=None,
                 grad_scale=None, found_inf=None):
    """One step of ``rule`` over one bucket of flat tensors, written back in place (traced by ``torch.compile``).

    ``hp``: the rule's hyperparameters (numbers as 0-d tensors, see the module docstring); ``steps``: 0-d
    tensors (already incremented); ``bufs``: state lists; ``numels``: each slot's scope size (a 1-D tensor);
    ``mode``/``sums``: see :class:`FusedOps`. ``grad_scale``/``found_inf``: from ``torch.amp.GradScaler``.
    Returns the recorded partial sums (``mode="record"``) or the kept scalars.
    """
    ops = FusedOps(hp.get("scope", "tensor"), mode, numels, sums)
    record = mode == "record"
    # a recording call writes nothing: it works on copies, and the compiler keeps only what the sums need
    work = [x.float() if x.dtype in LOW_PRECISION else (x.clone() if record else x) for x in params]
    state = {k: [b.clone() for b in v] if record else list(v) for k, v in bufs.items()}
    g = [in_float32(x) for x in grads]
    if grad_scale is not None:
        g = [x / grad_scale.to(x.dtype) for x in g]
    dtype = torch.float64 if any(w.dtype == torch.float64 for w in work) else torch.float32
    steps = [t.to(dtype) for t in steps]
    if found_inf is not None and not record:
        # the rule works in place: keep the old values to restore them when the step is skipped
        old_w = [x.clone() for x in work]
        old_b = {k: [x.clone() for x in v] for k, v in state.items()}
    new_w, new_b = rule(ops, work, g, state, hp, steps)
    if record:
        return ops.recorded
    if found_inf is not None:
        skip = found_inf.reshape(()) > 0
        new_w = [torch.where(skip, o, n) for o, n in zip(old_w, new_w)]
        new_b = {k: [torch.where(skip, o, n) for o, n in zip(old_b[k], new_b[k])] for k in state}
    write_back(params, new_w)
    for k in bufs:
        write_back(bufs[k], new_b[k])
    return ops.kept


_compiled = None


def compiled_update(*args, **kwargs):
    """:func:`fused_update` compiled (once per rule, dtype and convention; the first call compiles); call it
    inside :func:`compile_settings`."""
    global _compiled
    if _compiled is None:
        # cpp.dynamic_threads: every loop gets a parallel region (the compiler would otherwise decide serial or
        # parallel from the sizes of the first model it sees, and keep that for every later tensor in the slot)
        _compiled = torch.compile(fused_update, dynamic=True, fullgraph=True, options={"cpp.dynamic_threads": True})
    return _compiled(*args, **kwargs)


@contextlib.contextmanager
def compile_settings():
    """The compiler settings the fused step is traced under, set for one step and restored after it: sizes are
    symbols of their own (no "duck" sharing between slots), sizes 1 are not specialised, floats are constants,
    and the recompile limit is at least :data:`RECOMPILE_LIMIT`. Set by hand: the configs' ``patch`` context
    costs about 0.1 ms, which on every call was half of the step's fixed cost (27 tensors: 0.46 of 0.8 ms)."""
    from torch.fx.experimental import _config as fx_config

    dynamo = torch._dynamo.config
    wanted = ((dynamo, "recompile_limit", max(RECOMPILE_LIMIT, dynamo.recompile_limit)),
              (dynamo, "specialize_float", True), (fx_config, "use_duck_shape", False),
              (fx_config, "backed_size_oblivious", True))
    old = [(module, name, getattr(module, name)) for module, name, _ in wanted]
    try:
        for module, name, value in wanted:
            setattr(module, name, value)
        yield
    finally:
        for module, name, value in old:
            setattr(module, name, value)


def tensor_hyperparameters(group: dict, dtype, device) -> dict:
    """The rule's hyperparameters from a group: the :data:`TENSOR_HYPERPARAMETERS` as 0-d tensors of
    ``dtype`` on ``device`` (a 0 stays the number 0), the rest as they are."""
    hp = {k: v for k, v in group.items() if k not in _PATH_KEYS}

    def knob(v):
        if torch.is_tensor(v):
            return v.detach().to(device=device, dtype=dtype).reshape(())
        return 0.0 if v == 0 else torch.tensor(float(v), dtype=dtype, device=device)

    for key in TENSOR_HYPERPARAMETERS:
        if key == "betas" and key in hp:
            hp[key] = tuple(knob(b) for b in hp[key])
        elif key in hp:
            hp[key] = knob(hp[key])
    return hp


_DEPENDENCY_CHECKED: dict = {}


def _refuse_dependent_sums(name, rule, group):
    """Refuse a rule whose scope sums depend on each other: an eager recording over two small pieces
    (``ChunkedLoopOps``, as the chunked path checks), once per rule and caution."""
    key = (rule, rules.Caution.from_mapping(group), group.get("eps_mode"), group.get("weight_decay_mode"))
    if key not in _DEPENDENCY_CHECKED:
        x = [torch.linspace(-1, 1, 3, dtype=torch.float64) for _ in range(2)]
        tape: list = []
        ops = ChunkedLoopOps([0, 0], {0: 6}, tape, replay=False)
        state = {k: [torch.full((3,), 0.5, dtype=torch.float64) for _ in x] for k in ("m", "v", "s", "exp_avg")}
        hp = {k: v for k, v in group.items() if k != "params"}
        try:
            rule(ops, [a.clone() for a in x], [a.flip(0) for a in x], state, hp, [1, 1])
        except RecordingComplete:
            pass
        _DEPENDENCY_CHECKED[key] = ops.trusted >= len(tape)
    if not _DEPENDENCY_CHECKED[key]:
        raise RuntimeError(f"{name}: a scope sum of this rule depends on another one; the fused path cannot "
                           f"evaluate it over buckets of tensors (use fused=False)")


_CACHE: dict = {}


def _cached(key, make):
    if key not in _CACHE:
        _CACHE[key] = make()
    return _CACHE[key]


def _padding(dtype, device, names, n):
    """``n`` sets of distinct dummy tensors (parameter, gradient, state, step) that fill a bucket."""
    state_dtype = torch.float32 if dtype in LOW_PRECISION else dtype

    def make():
        z = lambda d: torch.zeros(_DUMMY_SIZE, dtype=d, device=device)   # noqa: E731
        return [(z(dtype), z(dtype), {k: z(state_dtype) for k in names},
                 torch.ones((), dtype=torch.float32, device=device)) for _ in range(BUCKET - 1)]

    return _cached(("padding", dtype, device, names), make)[:n]


def _flat(x: torch.Tensor) -> torch.Tensor:
    """A flat view of ``x`` that does not require grad (like the padding, so both meet the same guards)."""
    x = x.detach()
    return x.view(-1) if x.is_contiguous() else (x.view(1) if x.dim() == 0 else x)


def fused_step(opt, group, params, grads, bufs: dict, steps, grad_scale=None, found_inf=None):
    """One group's fused step: buckets of :data:`BUCKET` tensors through the compiled :func:`fused_update`."""
    rule, names = type(opt).rule, tuple(bufs)
    scope = group.get("scope", "tensor")
    two_calls = scope == "group" and rules.needs_scope_reductions(rules.Caution.from_mapping(group))
    if two_calls:
        _refuse_dependent_sums(type(opt).__name__, rule, group)
    by_kind: dict = {}
    for i, p in enumerate(params):        # a bucket holds one dtype on one device
        by_kind.setdefault((p.dtype, p.device), []).append(i)
    with compile_settings():
        for (dtype, device), idx in by_kind.items():
            scalar_dtype = torch.float64 if dtype == torch.float64 else torch.float32
            hp = tensor_hyperparameters(group, scalar_dtype, device)
            total = sum(params[i].numel() for i in idx)
            buckets = []
            for a in range(0, len(idx), BUCKET):
                part = idx[a:a + BUCKET]
                pad = _padding(dtype, device, names, BUCKET - len(part))
                w = [_flat(params[i]) for i in part] + [d[0] for d in pad]
                g = [_flat(grads[i]) for i in part] + [d[1] for d in pad]
                b = {k: [_flat(bufs[k][i]) for i in part] + [d[2][k] for d in pad] for k in names}
                t = [steps[i] for i in part] + [d[3] for d in pad]
                sizes = tuple(total if scope == "group" else params[i].numel() for i in part) + \
                    (_DUMMY_SIZE,) * len(pad)
                numels = _cached(("numels", sizes, scalar_dtype, device),
                                 lambda: torch.tensor(sizes, dtype=scalar_dtype, device=device))
                buckets.append((w, g, b, t, numels))
            sums = None
            if two_calls:
                recorded = torch.stack([                                            # (bucket, sum, slot)
                    torch.stack(compiled_update(rule, hp, *bk, "record", None, grad_scale, found_inf))
                    for bk in buckets])
                live = _cached(("live", len(idx), recorded.dtype, device), lambda: (
                    torch.arange(len(buckets) * BUCKET, device=device) < len(idx)).to(recorded.dtype).view(
                    len(buckets), 1, BUCKET))
                sums = (recorded * live).sum(dim=(0, 2))
            for bk in buckets:
                compiled_update(rule, hp, *bk, "replay" if two_calls else "whole", sums, grad_scale, found_inf)
