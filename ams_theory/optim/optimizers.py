r"""``torch.optim.Optimizer`` classes: thin shells around the rule core.

Each class gathers the parameters of a group that have gradients, creates the
state it needs, and calls one function of :mod:`ams_theory.core.rules` with a list
back end: :class:`~ams_theory.optim.runtimes.ForeachOps` (``foreach=True``, torch's
multi-tensor kernels) or :class:`~ams_theory.optim.runtimes.LoopOps` (``foreach=False``,
tensor by tensor). Both run the same rule; the tests hold them to agreement.

Presets are the same classes with other defaults; every convention stays a
keyword (see :class:`ams_theory.core.rules.Caution` and :func:`ams_theory.core.rules.apply_step`).

Non-finite gradients (``nonfinite=``): ``"propagate"`` (default) adds no check
and no host synchronisation, as ``torch.optim`` does: NaN/inf enter the state
and, through it, the parameters. For sign-based directions (Lion, signed
momentum) ``torch.sign`` maps NaN to 0, so there the NaN stays in the momentum
and that coordinate stops moving without an error. ``"raise"`` checks the
gradients of every group first and raises ``FloatingPointError`` naming the
parameter before any state or parameter is touched. ``"skip"`` makes the whole
step a no-op (every group, as ``torch.amp.GradScaler`` skips a step) and counts
it in ``optimizer.skipped_steps``.
"""
from __future__ import annotations

import inspect
import math
from typing import Any, Callable, Iterable

import torch
from torch.optim import Optimizer

from ams_theory.core import rules
from ams_theory.optim.fused import LOW_PRECISION, in_float32
from ams_theory.optim.pieces import Piece, batches, run_in_pieces, write_back
from ams_theory.optim.runtimes import ForeachOps, LoopOps

try:   # sharded parameters (FSDP2 / DTensor) take the path of ams_theory.optim.sharded
    from torch.distributed.tensor import DTensor as _DTensor
except ImportError:  # pragma: no cover - a torch built without distributed
    _DTensor = ()

__all__ = [
    "AMS", "Adam", "AdamW", "CAdamW", "Grams", "Lion", "CLion", "GDM", "CGDM",
    "SignedMomentum", "CSignedMomentum", "GD", "PRESETS", "step_path",
]

_NONFINITE = ("propagate", "skip", "raise")


_COMMON_DOC = """
    Keywords shared by every preset (``None`` keeps the preset's value):

    ``lr``, ``weight_decay``, ``weight_decay_mode`` (:func:`ams_theory.core.rules.apply_step`);
    ``foreach`` (``None``: the foreach kernels on CUDA, the single-tensor path elsewhere), ``fused`` (the
    compiled step, :mod:`ams_theory.optim.fused`), ``capturable`` (step counts on the device),
    ``chunk_size`` (the CPU single-tensor path in chunks of this many entries; 0: whole tensors): the path is
    :func:`step_path`'s choice; ``nonfinite`` (``"propagate"``, ``"skip"``, ``"raise"``, see the module).
"""
_CAUTION_DOC = """
    Caution keywords (:class:`ams_theory.core.rules.Caution`): ``mask`` (``None``, ``"elementwise"``,
    ``"inner"``), ``lam``, ``tie``, ``normalize``, ``xi``, ``mask_eps``, ``scope``.
"""


class _RuleOptimizer(Optimizer):
    """Shared shell: validation, state creation, the path of each group's step (:func:`step_path`)."""

    rule: Callable = None            # a step function of ams_theory.core.rules
    family_keys: tuple = ()          # hyperparameters of the family besides lr
    n_betas: int | None = None
    PRESET: dict = {}

    def __init_subclass__(cls, **kw):
        """A preset's docstring ends with the keywords every preset shares (written once, here)."""
        super().__init_subclass__(**kw)
        if cls.PRESET and cls.__doc__ and "Keywords shared by every preset" not in cls.__doc__:
            takes_caution = "tie" in inspect.signature(cls.__init__).parameters
            cls.__doc__ = cls.__doc__.rstrip() + "\n" + _COMMON_DOC + (_CAUTION_DOC if takes_caution else "")

    def __init__(self, params: Iterable, **hp: Any):
        defaults = dict(self.PRESET)
        for key, value in hp.items():
            if key not in defaults:
                raise TypeError(f"{type(self).__name__} got an unexpected keyword argument {key!r}")
            if value is not None or key in ("foreach", "mask", "fused"):
                defaults[key] = value
        self._validate(defaults, where="")
        self.skipped_steps = 0
        super().__init__(params, defaults)
        if defaults["fused"]:
            # torch.amp.GradScaler then hands over grad_scale and found_inf instead of unscaling
            self._step_supports_amp_scaling = True

    # ------------------------------------------------------------------ checks
    def add_param_group(self, param_group: dict) -> None:
        """Validate a group (with the defaults filled in) and only then install it."""
        group = dict(param_group)
        params = group.get("params", [])
        group["params"] = [params] if isinstance(params, torch.Tensor) else list(params)
        where = f" in param group {len(self.param_groups)}"
        self._validate({**self.defaults, **group}, where=where)
        for i, p in enumerate(group["params"]):
            if torch.is_complex(p):
                raise ValueError(f"{type(self).__name__} does not support complex parameters "
                                 f"(parameter {i}{where} has dtype {p.dtype})")
            if not p.is_floating_point():
                raise ValueError(f"{type(self).__name__} needs floating-point parameters "
                                 f"(parameter {i}{where} has dtype {p.dtype})")
        super().add_param_group(group)

    def _validate(self, hp: dict, where: str) -> None:
        name = type(self).__name__
        _nonneg_finite("lr", hp["lr"], where)
        if "eps" in hp:
            _nonneg_finite("eps", hp["eps"], where)
        _nonneg_finite("weight_decay", hp.get("weight_decay", 0.0), where)
        if "betas" in hp:
            betas = hp["betas"]
            if not isinstance(betas, (tuple, list)) or len(betas) != self.n_betas:
                raise ValueError(f"Invalid betas{where}: {betas!r} ({name} takes {self.n_betas} betas)")
            for i, b in enumerate(betas):
                _beta(f"beta{i + 1}", b, where)
        if "beta" in hp:
            _beta("beta", hp["beta"], where)
        if hp.get("eps_mode", "corrected") not in rules.EPS_MODES:
            raise ValueError(f"Invalid eps_mode{where}: {hp['eps_mode']!r} "
                             f"(expected one of {', '.join(map(repr, rules.EPS_MODES))})")
        if hp.get("weight_decay_mode", "after") not in rules.WEIGHT_DECAY_MODES:
            raise ValueError(f"Invalid weight_decay_mode{where}: {hp['weight_decay_mode']!r} "
                             f"(expected one of {', '.join(map(repr, rules.WEIGHT_DECAY_MODES))})")
        for flag in ("foreach", "fused"):
            if hp.get(flag) is not None and not isinstance(hp[flag], bool):
                raise ValueError(f"Invalid {flag}{where}: {hp[flag]!r} (expected None, True or False)")
        if hp.get("fused") and hp.get("foreach"):
            raise ValueError(f"Invalid flags{where}: fused=True and foreach=True cannot be set together")
        if not isinstance(hp.get("capturable", False), bool):
            raise ValueError(f"Invalid capturable{where}: {hp['capturable']!r} (expected True or False)")
        chunk = hp.get("chunk_size", 0)
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 0:
            raise ValueError(f"Invalid chunk_size{where}: {chunk!r} (must be an int >= 0; 0 disables chunking)")
        if hp.get("nonfinite", "propagate") not in _NONFINITE:
            raise ValueError(f"Invalid nonfinite{where}: {hp['nonfinite']!r} "
                             f"(expected one of {', '.join(map(repr, _NONFINITE))})")
        if hp.get("mask") is not None and hp["mask"] not in rules.MASK_KINDS:
            raise ValueError(f"Invalid mask{where}: {hp['mask']!r} (expected None or one of "
                             f"{', '.join(map(repr, rules.MASK_KINDS))})")
        try:   # the caution fields are checked even while the mask is off
            rules.Caution.from_mapping({**hp, "mask": hp.get("mask") or "elementwise"})
        except ValueError as err:
            raise ValueError(f"{err}{where}") from None

    # ------------------------------------------------------------------ state
    def _buffers(self, group: dict) -> tuple:
        raise NotImplementedError

    def _init_state(self, p: torch.Tensor, group: dict) -> dict:
        """Step count (on the parameter's device when fused or capturable) and zero buffers
        (float32 for bfloat16/float16 parameters)."""
        state = self.state[p]
        if "step" not in state:
            on_device = group.get("fused") or group.get("capturable")
            state["step"] = torch.tensor(0.0, dtype=torch.float32, device=p.device if on_device else "cpu")
        dtype = torch.float32 if p.dtype in LOW_PRECISION else None
        for key in self._buffers(group):
            if key not in state:
                state[key] = torch.zeros_like(p, dtype=dtype, memory_format=torch.preserve_format)
        return state

    def __getstate__(self) -> dict:
        """torch's pickled state (defaults, state, groups) and the count of skipped steps."""
        return {**super().__getstate__(), "skipped_steps": self.skipped_steps}

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self.__dict__.setdefault("skipped_steps", 0)

    def state_dict(self) -> dict:
        """torch's ``state_dict`` and ``skipped_steps``."""
        return {**super().state_dict(), "skipped_steps": self.skipped_steps}

    def load_state_dict(self, state_dict: dict) -> None:
        """torch's ``load_state_dict``; the buffers of bfloat16/float16 parameters stay float32, and
        ``skipped_steps`` comes back (0 from a state dict that has none, such as torch's own).

        torch casts every floating state value to its parameter's dtype; the float32
        moments of a low-precision parameter are taken again from ``state_dict``.
        """
        state_dict = dict(state_dict)
        skipped = state_dict.pop("skipped_steps", 0)
        super().load_state_dict(state_dict)
        self.skipped_steps = int(skipped)
        saved = state_dict["state"]
        ids = [pid for g in state_dict["param_groups"] for pid in g["params"]]
        params = [p for g in self.param_groups for p in g["params"]]
        for pid, p in zip(ids, params):
            if p.dtype in LOW_PRECISION and pid in saved:
                for key, value in saved[pid].items():
                    if key != "step" and torch.is_tensor(value) and value.is_floating_point():
                        self.state[p][key] = value.to(dtype=torch.float32, device=p.device, copy=True)

    # ------------------------------------------------------------------- step
    @torch.no_grad()
    def step(self, closure: Callable | None = None):
        """Perform one optimisation step; ``closure`` re-evaluates the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        work = []
        for gi, group in enumerate(self.param_groups):
            params, grads = [], []
            for i, p in enumerate(group["params"]):
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients "
                                       f"(parameter {i} in param group {gi})")
                params.append(p)
                grads.append(p.grad)
            if params:
                work.append((gi, group, params, grads))
        # non-finite checks run over every group before anything is updated
        for gi, group, params, grads in work:
            if group["nonfinite"] != "propagate" and not self._finite(params, grads, group, gi):
                self.skipped_steps += 1
                return loss
        grad_scale, found_inf = getattr(self, "grad_scale", None), getattr(self, "found_inf", None)
        for gi, group, params, grads in work:
            self._group_step(group, params, grads, grad_scale, found_inf)
        return loss

    def _group_step(self, group, params, grads, grad_scale, found_inf):
        """One group's step on the path :func:`step_path` picks."""
        states = [self._init_state(p, group) for p in params]
        names = self._buffers(group)
        bufs = {k: [st[k] for st in states] for k in names}
        path = step_path(group, params)
        if path == "fused":
            self._fused_step(group, params, grads, bufs, [st["step"] for st in states], grad_scale, found_inf)
            return
        if found_inf is not None and bool(found_inf.sum()):       # a GradScaler handing over to a group that is
            return                                                 # not fused: the step is skipped
        if grad_scale is not None:
            grads = [g / grad_scale.to(g.device, g.dtype) for g in grads]
        for st in states:
            st["step"] += 1
        if group["capturable"]:   # counts stay tensors; float64 parameters get float64 bias corrections
            steps = [st["step"].to(torch.float64) if p.dtype == torch.float64 else st["step"]
                     for st, p in zip(states, params)]
        else:
            steps = [int(st["step"].item()) for st in states]
        if path == "sharded":
            from ams_theory.optim.sharded import sharded_step

            sharded_step(self, group, params, grads, bufs, steps)
            return
        work_params = [in_float32(p) for p in params]
        grads = [in_float32(g) for g in grads]
        if path == "chunked":
            self._chunked_step(group, work_params, grads, bufs, steps, group["chunk_size"])
        else:
            ops = (ForeachOps if path == "foreach" else LoopOps)(scope=group.get("scope", "tensor"))
            new_params, new_bufs = type(self).rule(ops, work_params, grads, bufs, group, steps)
            write_back(work_params, new_params)
            for k in names:
                write_back(bufs[k], new_bufs[k])
        for p, w in zip(params, work_params):
            if w is not p:
                p.copy_(w)

    def _fused_step(self, group, params, grads, bufs, step_counts, grad_scale, found_inf):
        """The compiled path (:mod:`ams_theory.optim.fused`): step counts, scale and skip stay on the device."""
        from ams_theory.optim import fused

        torch._foreach_add_(step_counts, 1.0)
        try:
            fused.fused_step(self, group, params, grads, bufs, step_counts, grad_scale, found_inf)
        except torch._dynamo.exc.BackendCompilerFailed as err:
            torch._foreach_sub_(step_counts, 1.0)
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise RuntimeError(f"{type(self).__name__}(fused=True) needs torch.compile to work on this machine "
                               f"(Triton on CUDA, a C++ compiler on the CPU); it failed: {first}. "
                               f"Use fused=False.") from None
        except torch._dynamo.exc.Unsupported as err:
            torch._foreach_sub_(step_counts, 1.0)
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise RuntimeError(f"{type(self).__name__}(fused=True): the rule cannot be compiled into one graph "
                               f"({first}). Use fused=False.") from None
        except RuntimeError:
            torch._foreach_sub_(step_counts, 1.0)
            raise
        if found_inf is not None:    # a skipped step does not count, as in torch's fused AdamW
            torch._foreach_sub_(step_counts, [found_inf.reshape(()).to(s.device) for s in step_counts])

    def _chunked_step(self, group, params, grads, bufs, steps, chunk):
        """The single-tensor path on CPU, run over flat chunks of at most ``chunk`` entries.

        Every op of a rule is element-wise apart from its scope reductions, so a
        rule may run on pieces of the parameters; the reductions are recorded in a
        pure first pass and replayed over whole scopes (see ``ChunkedLoopOps``).
        Working on cache-sized pieces keeps temporaries small and hot.
        """
        names = tuple(bufs)
        group_scope = group.get("scope", "tensor") == "group"
        scope_numel, pieces = {}, []
        for j, p in enumerate(params):
            tensors = [p, grads[j], *(bufs[k][j] for k in names)]
            sid = 0 if group_scope else j
            scope_numel[sid] = scope_numel.get(sid, 0) + p.numel()
            if p.numel() > chunk and all(x.is_contiguous() for x in tensors):
                flats = [x.view(-1) for x in tensors]
                views = [[f[a:a + chunk] for f in flats] for a in range(0, p.numel(), chunk)]
            else:
                views = [tensors]
            pieces += [Piece(v[0], v[1], dict(zip(names, v[2:])), steps[j], sid) for v in views]
        run_in_pieces(self, group, batches(pieces, chunk), names, scope_numel,
                      refusal="the chunked path cannot evaluate it (use chunk_size=0)")

    def _finite(self, params, grads, group, gi) -> bool:
        flags = [torch.isfinite(g.to_local() if isinstance(g, _DTensor) else g).all() for g in grads]
        sharded = [g for g in grads if isinstance(g, _DTensor)]
        if sharded:   # every rank of the mesh must take the same decision: the MIN of the flags over the mesh,
            import torch.distributed as dist   # one all_reduce per mesh dimension (their composition spans it)

            local, mesh = sharded[0].to_local(), sharded[0].device_mesh
            agreed = torch.stack([f.to(device=local.device, dtype=torch.float32) for f in flags])
            if mesh.get_coordinate() is not None:
                for m in range(mesh.ndim):
                    dist.all_reduce(agreed, op=dist.ReduceOp.MIN, group=mesh.get_group(m))
            flags = list(agreed)
        for i, (g, ok) in enumerate(zip(grads, flags)):
            if not bool(ok):
                if group["nonfinite"] == "raise":
                    idx = next(j for j, p in enumerate(group["params"]) if p is params[i])
                    raise FloatingPointError(
                        f"{type(self).__name__}: non-finite gradient in parameter {idx} of param group {gi} "
                        f"(shape {tuple(g.shape)}); nothing was updated")
                return False
        return True


def step_path(group: dict, params: list) -> str:
    """The path a group's step takes (the dispatch policy, like torch's ``_default_to_fused_or_foreach``):

    ``"sharded"`` when a parameter is a DTensor (FSDP2, HSDP or FSDP2 + tensor parallel, on a mesh of any number of
    dimensions: :mod:`ams_theory.optim.sharded`), whatever the flags; else ``"fused"`` with
    ``fused=True``; else ``"foreach"`` with ``foreach=True``, or with ``foreach=None`` when every parameter is on
    CUDA; else ``"chunked"`` when every parameter is on the CPU and ``chunk_size > 0``; else ``"loop"``."""
    if any(isinstance(p, _DTensor) for p in params):
        return "sharded"
    if group["fused"]:
        return "fused"
    foreach = group["foreach"]
    if foreach is None:
        foreach = all(p.is_cuda for p in params)
    if foreach:
        return "foreach"
    if group.get("chunk_size") and all(p.device.type == "cpu" for p in params):
        return "chunked"
    return "loop"



def _nonneg_finite(name, value, where):
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"Invalid {name}{where}: a tensor {name} must have one element")
        value = float(value)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValueError(f"Invalid {name}{where}: {value!r} (must be a real number)")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"Invalid {name}{where}: {value} (must be finite and >= 0)")


def _beta(name, value, where):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not (0.0 <= value < 1.0):
        raise ValueError(f"Invalid {name}{where}: {value!r} (must be in [0, 1))")


_COMMON = dict(foreach=None, nonfinite="propagate", chunk_size=2 ** 18, fused=None, capturable=False)
_ADAM = dict(eps_mode="corrected")   # where eps sits relative to the bias correction (rules.adam_denominator)
_NO_MASK = dict(mask=None, lam=0.0, tie="zero", normalize="none", xi=1.0, mask_eps=1e-8, scope="tensor")
_CAUTIOUS = dict(mask="elementwise", lam=0.0, tie="zero", normalize="nnz_xi", xi=1.0, mask_eps=1e-8, scope="group")


# ------------------------------------------------------------------ families

class _AdamFamily(_RuleOptimizer):
    """Adam-based presets. Besides the caution fields, ``eps_mode`` says where ``eps``
    sits relative to the bias correction (:func:`ams_theory.core.rules.adam_denominator`)."""

    rule = staticmethod(rules.ams_step)
    n_betas = 2

    def __init__(self, params, lr=None, betas=None, eps=None, weight_decay=None, *, lam=None, tie=None,
                 normalize=None, xi=None, mask_eps=None, mask="preset", scope=None, weight_decay_mode=None,
                 eps_mode=None, foreach=None, nonfinite=None, chunk_size=None, fused=None, capturable=None):
        kw = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, lam=lam, tie=tie, normalize=normalize,
                  xi=xi, mask_eps=mask_eps, scope=scope, weight_decay_mode=weight_decay_mode, eps_mode=eps_mode,
                  foreach=foreach, nonfinite=nonfinite, chunk_size=chunk_size, fused=fused, capturable=capturable)
        if mask != "preset":
            kw["mask"] = mask
        super().__init__(params, **kw)

    def _buffers(self, group):
        return ("m", "v", "s") if len(group["betas"]) > 2 and group["betas"][2] != 0 else ("m", "v")


class AMS(_AdamFamily):
    r"""Adaptive Momentum Scaling, Algorithm 1 of the AMS/Grams paper.

    ``s <- beta3 s + (1-beta3) g`` (no buffer when ``beta3 = 0``: ``s = g``),
    Adam's ``u``, ``phi = 1(u*s >= 0)``, ``psi = lam 1(u*s < 0)``,
    ``eta_hat = lr d / (|phi|_1 + |psi|_1)``, ``w <- w - eta_hat (phi+psi) u``,
    then ``w <- w - eta_hat gamma w``. Defaults follow the box: ties aligned,
    ``normalize="ams"``, ``d`` over the whole parameter group
    (``scope="group"``), ``weight_decay_mode="after_scaled"``. ``betas`` has
    three entries; ``lam=-1, beta3=0`` is Grams (Def. 5.1), ``lam=1`` or
    ``beta3=beta1`` is Adam (Cor. 4.1), ``lam=0, beta3=0`` is cautious Adam
    (Cor. 4.2).
    """

    n_betas = 3
    PRESET = dict(lr=1e-3, betas=(0.9, 0.999, 0.0), eps=1e-8, weight_decay=0.0, weight_decay_mode="after_scaled",
                  **{**_CAUTIOUS, "lam": -1.0, "tie": "aligned", "normalize": "ams"}, **_ADAM, **_COMMON)


class Adam(_AdamFamily):
    r"""Adam (Kingma & Ba), with torch's coupled (L2) weight decay: ``g <- g + gamma w``.

    Identical to ``torch.optim.Adam`` for every ``weight_decay``.
    """

    PRESET = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, weight_decay_mode="l2",
                  **_NO_MASK, **_ADAM, **_COMMON)


class AdamW(_AdamFamily):
    r"""Adam with decoupled weight decay, Algorithm 2 of the AMS/Grams paper.

    The box decays after the step, ``w <- (w - lr u)(1 - lr gamma)``
    (``weight_decay_mode="after"``, the default here). ``torch.optim.AdamW``
    decays first, ``w <- w(1 - lr gamma) - lr u``: pass
    ``weight_decay_mode="before"`` to reproduce it exactly. The two differ by
    ``lr^2 gamma u`` per step.
    """

    PRESET = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, weight_decay_mode="after",
                  **_NO_MASK, **_ADAM, **_COMMON)


class CAdamW(_AdamFamily):
    r"""Cautious AdamW, Algorithm 2 of the Cautious paper.

    ``phi = 1(u*g > 0)`` (ties masked), ``eps_bar = lr d / (|phi|_0 + 1)``
    (``normalize="nnz_xi"``, ``xi=1``, ``d`` = dimension of the whole
    parameter vector: ``scope="group"``), ``w <- w - eps_bar phi u``, then
    ``w <- w - eps_bar gamma w`` (``weight_decay_mode="after_scaled"``).
    ``scope="tensor"`` counts per tensor as the one-line PyTorch form
    (Algorithm 1) and most peer code do; ``normalize="mean_eps"`` is that
    form's ``1/(mean + eps)``.
    """

    PRESET = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, weight_decay_mode="after_scaled",
                  **_CAUTIOUS, **_ADAM, **_COMMON)


class Grams(_AdamFamily):
    r"""Grams, Def. 5.1 / Cor. 5.2 (B.3) of the AMS/Grams paper: ``w <- w - lr sign(g) |u|``.

    Implemented as AMS with ``beta3 = 0``, ``lam = -1``, ties dropped
    (``tie="zero"``: ``sign(0) = 0`` as in Def. 3.1) and no rescaling, which
    is Cor. 5.2's explicit form. ``tie="aligned", normalize="ams"`` gives AMS
    Algorithm 1 literally, which differs only where ``g_i = 0 != u_i`` (it then
    steps by ``u_i``, Cor. 5.2 by 0). Weight decay, if any, after the step.
    """

    PRESET = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, weight_decay_mode="after",
                  **{**_CAUTIOUS, "lam": -1.0, "normalize": "none"}, **_ADAM, **_COMMON)


class _LionFamily(_RuleOptimizer):
    rule = staticmethod(rules.lion_step)
    n_betas = 2

    def __init__(self, params, lr=None, betas=None, weight_decay=None, *, lam=None, tie=None, normalize=None,
                 xi=None, mask_eps=None, mask="preset", scope=None, weight_decay_mode=None, foreach=None,
                 nonfinite=None, chunk_size=None, fused=None, capturable=None):
        kw = dict(lr=lr, betas=betas, weight_decay=weight_decay, lam=lam, tie=tie, normalize=normalize, xi=xi,
                  mask_eps=mask_eps, scope=scope, weight_decay_mode=weight_decay_mode, foreach=foreach,
                  nonfinite=nonfinite, chunk_size=chunk_size, fused=fused, capturable=capturable)
        if mask != "preset":
            kw["mask"] = mask
        super().__init__(params, **kw)

    def _buffers(self, group):
        return ("m",)


class Lion(_LionFamily):
    r"""Lion, Def. A.5 of the AMS/Grams paper: ``u = sign(beta1 m + (1-beta1) g)``, ``w <- w - lr u``,
    ``m <- beta2 m + (1-beta2) g``.

    The definition has no weight decay; here it decays after the step as C-Lion's box does
    (``weight_decay_mode="after"``); ``"before"`` is lion-pytorch's order.
    """

    PRESET = dict(lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, weight_decay_mode="after", **_NO_MASK, **_COMMON)


class CLion(_LionFamily):
    r"""Cautious Lion, Algorithm 3 of the Cautious paper.

    Lion's ``u``, mask ``1(u*g > 0)`` rescaled by ``d / (nnz + 1)`` over the
    group (as in Algorithm 2; the box's mask lines are lost in the source
    text), ``w <- w - eps_bar phi u``, then ``w <- w - lr gamma w`` with the
    unscaled ``lr`` (box line 11: ``weight_decay_mode="after"``).
    """

    PRESET = dict(lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, weight_decay_mode="after", **_CAUTIOUS, **_COMMON)


class _MomentumFamily(_RuleOptimizer):
    buffer = "s"

    def __init__(self, params, lr=None, beta=None, weight_decay=None, *, lam=None, tie=None, normalize=None,
                 xi=None, mask_eps=None, mask="preset", scope=None, weight_decay_mode=None, foreach=None,
                 nonfinite=None, chunk_size=None, fused=None, capturable=None):
        kw = dict(lr=lr, beta=beta, weight_decay=weight_decay, lam=lam, tie=tie, normalize=normalize, xi=xi,
                  mask_eps=mask_eps, scope=scope, weight_decay_mode=weight_decay_mode, foreach=foreach,
                  nonfinite=nonfinite, chunk_size=chunk_size, fused=fused, capturable=capturable)
        if mask != "preset":
            kw["mask"] = mask
        super().__init__(params, **kw)

    def _buffers(self, group):
        return (self.buffer,)


class GDM(_MomentumFamily):
    r"""Gradient descent with Polyak momentum, §3.1 of the Cautious paper: ``s <- beta s + g``, ``w <- w - lr s``.

    Equal to ``torch.optim.SGD(momentum=beta)`` (dampening 0, no Nesterov).
    """

    rule = staticmethod(rules.heavy_ball_step)
    PRESET = dict(lr=1e-3, beta=0.9, weight_decay=0.0, weight_decay_mode="after", **_NO_MASK, **_COMMON)


class CGDM(GDM):
    r"""Cautious GDM (§3.1 of the Cautious paper): ``w <- w - lr phi(s*g) s``.

    §3.1 does not give its mask scaling; the default is eq. (1):
    ``phi = d/(nnz(x > 0) + 1) 1(x > 0)`` over the group. ``normalize="none"``
    gives the bare indicator.
    """

    PRESET = dict(GDM.PRESET, **_CAUTIOUS)


class SignedMomentum(_MomentumFamily):
    r"""Signed momentum, the Euler step of §A.3.2 of the Cautious paper:
    ``m <- beta m + (1-beta) g``, ``w <- w - lr sign(m)``."""

    rule = staticmethod(rules.signed_momentum_step)
    buffer = "m"
    PRESET = dict(lr=1e-3, beta=0.9, weight_decay=0.0, weight_decay_mode="after", **_NO_MASK, **_COMMON)


class CSignedMomentum(SignedMomentum):
    r"""Cautious signed momentum (§A.3.2 of the Cautious paper): ``w <- w - lr sign(m) 1(g*m > 0)``.

    The paper's form has no rescaling (``normalize="none"``).
    """

    PRESET = dict(SignedMomentum.PRESET, **{**_CAUTIOUS, "normalize": "none"})


class GD(_RuleOptimizer):
    r"""Plain gradient descent ``w <- w - lr g``."""

    rule = staticmethod(rules.gd_step)
    PRESET = dict(lr=1e-3, weight_decay=0.0, weight_decay_mode="after", **_NO_MASK, **_COMMON)

    def __init__(self, params, lr=None, weight_decay=None, *, weight_decay_mode=None, foreach=None,
                 nonfinite=None, chunk_size=None, fused=None, capturable=None):
        super().__init__(params, lr=lr, weight_decay=weight_decay, weight_decay_mode=weight_decay_mode,
                         foreach=foreach, nonfinite=nonfinite, chunk_size=chunk_size, fused=fused,
                         capturable=capturable)

    def _buffers(self, group):
        return ()


PRESETS = {cls.__name__: cls for cls in
           (AMS, Adam, AdamW, CAdamW, Grams, Lion, CLion, GDM, CGDM, SignedMomentum, CSignedMomentum, GD)}
