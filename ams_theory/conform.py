r"""Conformance: audit another package's optimizer against the papers' update rules.

``conform(TARGET, METHOD)`` runs a third-party ``torch.optim.Optimizer`` class
and our preset ``METHOD`` side by side and says whether the target implements
the method:

1. **Record.** The target runs on a seeded problem: four float64 tensors of
   shapes ``()``, ``(7,)``, ``(4, 5)``, ``(2, 3, 2)`` (one with gradients of
   size 1e-5, so that ``eps`` matters), gradients of a noisy quadratic with
   exact zeros planted (fixed entries, alternate rows, random entries, a whole
   tensor at one step), under four hyperparameter settings (weight decay on and
   off, several ``lr``/``betas``, one large ``eps``), 60 steps each. Every
   step's parameters before and after and the gradient handed in are kept.
   The gradient is given as a fresh tensor and compared afterwards: a target
   that writes into ``p.grad`` is reported, and the record keeps what it was given.
2. **Replay.** Our optimizer (:mod:`ams_theory.optim`, the class the theory
   checks validate) takes each recorded step from the *target's* parameters and
   gradient; the residual of a step is ``max |w_ours - w_target| / lr``. The
   hyperparameters are read back from the target's ``param_groups``.
3. **Conventions.** The papers leave some choices open or make them differently
   (mask ``>`` vs ``>=``, the mask's rescaling, its scope, where ``eps`` sits
   relative to the bias correction, weight-decay order and its step size). The
   target *conforms* when some setting of those options reproduces every step
   within tolerance; the report names the setting closest to our preset.
4. **Diagnosis.** Otherwise the target *departs*: the report gives the first
   step and entry where it leaves the closest convention, and tests candidate
   defects (our rule with one ingredient changed: :class:`ams_theory.rules.Parts`
   or one hyperparameter rewired) against the whole record, each under every
   convention. A candidate that reproduces every step is the diagnosis; when
   none does, the residual of each is shown.

Errors that prevent a run (a bad TARGET, an unknown METHOD, keywords the
target refuses, a crash inside it) raise :class:`ConformError` with a one-line message.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import itertools
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

import torch

from . import optim, rules

__all__ = ["ConformError", "conform", "METHODS", "PEERS", "peer_table", "parse_keywords", "load_target",
           "ConformanceResult", "Defect"]

SHAPES = ((), (7,), (4, 5), (2, 3, 2))
GRAD_SCALES = (1.0, 0.3, 0.1, 1e-5)
STEPS = 60
SETTINGS = (
    dict(lr=1e-2, betas=(0.8, 0.95), weight_decay=0.1),
    dict(lr=3e-3, weight_decay=0.0),
    dict(lr=1e-2, betas=(0.5, 0.9), eps=1e-3, weight_decay=0.0),
    dict(lr=1e-3, betas=(0.95, 0.9), weight_decay=0.05),
)
TOLERANCE = 1e-9          # residual in units of lr (float64); float32 gets a rounding-based bound


class ConformError(Exception):
    """The target could not be run or the request is malformed (one line; CLI exit status 2)."""


class _StepFailed(ConformError):
    """The target's ``step()`` raised (the record is retried in float32 before this is reported)."""


# --------------------------------------------------------------------------
# methods: our preset, its open conventions, its candidate defects
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Defect:
    """Our rule with one ingredient changed: a replaced piece (``parts``) or rewired hyperparameters (``hp``)."""

    name: str
    description: str
    parts: dict = field(default_factory=dict)
    hp: Callable[[dict], dict] | None = None


def _ema_weights_swapped(ops, buf, x, beta):
    return ops.lerp_(buf, x, beta)                        # buf <- (1-beta) buf + beta x


def _second_moment_weights_swapped(ops, v, g, beta):
    return ops.addcmul_(ops.mul_(v, 1 - beta), g, g, beta)


def _interpolation_weights_swapped(ops, m, g, beta):
    return ops.lincomb(m, 1 - beta, g, beta)


def _betas_exchanged(hp):
    b = tuple(hp["betas"])
    return dict(hp, betas=(b[1], b[0], *b[2:]))


def _wd(hp, **kw):
    return dict(hp, **kw) if hp.get("weight_decay", 0) else hp


ADAM_DEFECTS = (
    Defect("beta1_weights_gradient", "beta1 weights the new gradient in m: m <- (1-beta1) m + beta1 g",
           parts={"first_moment": _ema_weights_swapped}),
    Defect("beta2_weights_gradient", "beta2 weights the new squared gradient in v: v <- (1-beta2) v + beta2 g^2",
           parts={"second_moment": _second_moment_weights_swapped}),
    Defect("betas_exchanged", "beta1 and beta2 exchanged", hp=_betas_exchanged),
    Defect("no_bias_correction_m", "m is not bias-corrected (no division by 1 - beta1^t)",
           parts={"bias_corrections": lambda b1, b2, t: (1, 1 - b2 ** t)}),
    Defect("no_bias_correction_v", "v is not bias-corrected (no division by 1 - beta2^t)",
           parts={"bias_corrections": lambda b1, b2, t: (1 - b1 ** t, 1)}),
    Defect("no_bias_correction", "neither m nor v is bias-corrected",
           parts={"bias_corrections": lambda b1, b2, t: (1, 1)}),
    Defect("v_correction_outside_sqrt", "v's correction taken outside the square root: sqrt(v) / (1 - beta2^t)",
           parts={"bias_corrections": lambda b1, b2, t: (1 - b1 ** t, (1 - b2 ** t) ** 2)}),
)
LION_DEFECTS = (
    Defect("beta1_weights_gradient", "beta1 weights the gradient in the sign: u = sign((1-beta1) m + beta1 g)",
           parts={"interpolation": _interpolation_weights_swapped}),
    Defect("beta2_weights_gradient", "beta2 weights the new gradient in m: m <- (1-beta2) m + beta2 g",
           parts={"first_moment": _ema_weights_swapped}),
    Defect("betas_exchanged", "beta1 and beta2 exchanged", hp=_betas_exchanged),
    Defect("sign_of_updated_momentum", "u = sign(m) of the momentum already updated with beta2 (not the "
           "beta1 interpolation of the old one)", hp=lambda hp: dict(hp, betas=(hp["betas"][1], hp["betas"][1]))),
)
MASK_DEFECTS = (
    Defect("mask_sign_flipped", "the mask keeps the coordinates where u and the gradient disagree",
           parts={"mask_reference": lambda ops, s, m: ops.mul(s, -1)}),
    Defect("mask_against_momentum", "the mask (or sign) compares u with the momentum m instead of the gradient",
           parts={"mask_reference": lambda ops, s, m: m}),
    Defect("mask_not_applied", "no mask: the base optimizer's step", hp=lambda hp: dict(hp, mask=None)),
)
DECOUPLED_DECAY_DEFECTS = (
    Defect("decay_missing", "weight decay never reaches the parameters", hp=lambda hp: dict(hp, weight_decay=0.0)),
    Defect("decay_in_gradient", "weight decay added to the gradient (L2) instead of decoupled",
           hp=lambda hp: _wd(hp, weight_decay_mode="l2")),
    Defect("decay_without_lr", "decay factor 1 - gamma instead of 1 - lr gamma (not scaled by the learning rate)",
           hp=lambda hp: _wd(hp, weight_decay=hp["weight_decay"] / hp["lr"])),
)
COUPLED_DECAY_DEFECTS = (
    Defect("decay_missing", "weight decay never reaches the parameters", hp=lambda hp: dict(hp, weight_decay=0.0)),
    Defect("decay_decoupled", "weight decay decoupled, w <- w (1 - lr gamma), instead of added to the gradient",
           hp=lambda hp: _wd(hp, weight_decay_mode="before")),
)


@dataclass(frozen=True)
class Method:
    """A preset to conform to: our optimizer class and which defects to test."""

    name: str
    cls: type
    defects: tuple
    decay_modes: tuple        # the documented decay conventions (the preset's first)
    description: str


METHODS = {m.name: m for m in (
    Method("adam", optim.Adam, ADAM_DEFECTS + COUPLED_DECAY_DEFECTS, ("l2",),
           "Adam with coupled (L2) weight decay, torch.optim.Adam's definition"),
    Method("adamw", optim.AdamW, ADAM_DEFECTS + DECOUPLED_DECAY_DEFECTS, ("after", "before"),
           "AdamW (Alg. 2 of the AMS/Grams paper)"),
    Method("cadamw", optim.CAdamW, ADAM_DEFECTS + MASK_DEFECTS + DECOUPLED_DECAY_DEFECTS,
           ("after_scaled", "after", "before"), "cautious AdamW (Alg. 2 of the Cautious paper)"),
    Method("grams", optim.Grams, ADAM_DEFECTS + MASK_DEFECTS + DECOUPLED_DECAY_DEFECTS,
           ("after", "after_scaled", "before"), "Grams (Def. 5.1 / Cor. 5.2 of the AMS/Grams paper)"),
    Method("ams", optim.AMS, ADAM_DEFECTS + MASK_DEFECTS + DECOUPLED_DECAY_DEFECTS,
           ("after_scaled", "after", "before"), "AMS (Alg. 1 of the AMS/Grams paper); lam and beta3 via method "
           "keywords"),
    Method("lion", optim.Lion, LION_DEFECTS + DECOUPLED_DECAY_DEFECTS, ("after", "before"),
           "Lion (Def. A.5 of the AMS/Grams paper)"),
    Method("clion", optim.CLion, LION_DEFECTS + MASK_DEFECTS + DECOUPLED_DECAY_DEFECTS,
           ("after", "after_scaled", "before"), "cautious Lion (Alg. 3 of the Cautious paper)"),
)}

_NORMALIZATIONS = (dict(normalize="nnz_xi", xi=1.0), dict(normalize="mean_eps", mask_eps=1e-8),
                   dict(normalize="mean_eps", mask_eps=0.0), dict(normalize="none"), dict(normalize="ams"))


def _axes(method: Method, base: dict, pinned: Iterable[str]) -> list[tuple[str, list[dict]]]:
    """The convention axes to search, each a list of hyperparameter overrides, the preset's value first."""
    pinned = set(pinned)
    axes = []

    def add(name, values, keys):
        if pinned.isdisjoint(keys):
            first = [v for v in values if all(base.get(k) == v[k] for k in v)]
            axes.append((name, first[:1] + [v for v in values if v not in first[:1]]))

    if "eps_mode" in base:
        add("eps_mode", [dict(eps_mode=m) for m in rules.EPS_MODES], {"eps_mode"})
    if base.get("mask") is not None:
        lam = base["lam"]
        ties = ("zero", "aligned") + (("opposed",) if lam != 0 else ())
        add("tie", [dict(tie=t) for t in ties], {"tie"})
        norms = [n for n in _NORMALIZATIONS if n["normalize"] != "ams" or lam != 0]
        add("normalize", norms, {"normalize", "xi", "mask_eps"})
        add("scope", [dict(scope="group"), dict(scope="tensor")], {"scope"})
    if len(method.decay_modes) > 1:
        add("weight_decay_mode", [dict(weight_decay_mode=m) for m in method.decay_modes], {"weight_decay_mode"})
    return axes


def _conventions(axes):
    """Every combination, ordered by how many axes leave the preset's value (then axis order)."""
    combos = list(itertools.product(*[range(len(vals)) for _, vals in axes]))
    combos.sort(key=lambda c: sum(i > 0 for i in c))
    out = []
    for c in combos:
        hp = {}
        for (name, vals), i in zip(axes, c):
            hp.update(vals[i])
        out.append(hp)
    return out


# --------------------------------------------------------------------------
# target loading and keywords
# --------------------------------------------------------------------------

def parse_keywords(items: Iterable[str], what: str = "--kw") -> dict:
    """``["lr=1e-3", "betas=(0.9, 0.99)", "mode=fast"]`` -> dict; values are Python literals, else strings."""
    out = {}
    for item in items or ():
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ConformError(f"{what} {item!r}: expected KEY=VALUE with KEY a Python name")
        try:
            out[key] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            out[key] = text.strip()
    return out


def load_target(spec) -> type:
    """``"package.module:Class"`` (or ``"package.module.Class"``) -> the class; a class passes through."""
    if inspect.isclass(spec):
        cls = spec
    else:
        if not isinstance(spec, str) or not spec.strip():
            raise ConformError(f"TARGET {spec!r}: expected package.module:Class")
        mod_name, sep, attr = spec.strip().partition(":")
        if not sep:
            mod_name, _, attr = mod_name.rpartition(".")
        if not mod_name or not attr:
            raise ConformError(f"TARGET {spec!r}: expected package.module:Class")
        try:
            module = importlib.import_module(mod_name)
        except ImportError as err:
            raise ConformError(f"TARGET {spec!r}: cannot import {mod_name!r} ({err})") from None
        except Exception as err:  # noqa: BLE001 - an import that crashes is the target's failure
            raise ConformError(f"TARGET {spec!r}: importing {mod_name!r} raised {_one_line(err)}") from None
        cls = module
        for part in attr.split("."):
            if not hasattr(cls, part):
                raise ConformError(f"TARGET {spec!r}: {mod_name!r} has no attribute {attr!r}")
            cls = getattr(cls, part)
    if not (inspect.isclass(cls) and issubclass(cls, torch.optim.Optimizer)):
        raise ConformError(f"TARGET {spec!r} is not a torch.optim.Optimizer subclass")
    return cls


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def _target_name(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _version(cls) -> str | None:
    from importlib import metadata

    top = cls.__module__.split(".")[0]
    for dist in metadata.packages_distributions().get(top, []):
        try:   # the public version: a local build label (torch's "+cpu") says nothing about the code
            return f"{dist} {metadata.version(dist).split('+')[0]}"
        except metadata.PackageNotFoundError:
            continue
    return None


def _named_parameters(cls) -> tuple[dict, bool]:
    """The constructor's named parameters (name -> default) and whether it takes ``**kwargs``."""
    try:
        sig = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return {}, True
    named = {n: p.default for n, p in sig.parameters.items()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n not in ("self", "params")}
    return named, any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())


# --------------------------------------------------------------------------
# the problem and the record of the target
# --------------------------------------------------------------------------

class _Problem:
    """Noisy quadratic ``g = h * (w - c) + noise`` per tensor, with exact zeros planted."""

    def __init__(self, seed: int, dtype):
        gen = torch.Generator().manual_seed(seed)
        self.seed, self.dtype = seed, dtype
        self.w0 = [torch.randn(s, generator=gen, dtype=torch.float64) for s in SHAPES]
        self.h = [torch.rand(s, generator=gen, dtype=torch.float64) + 0.5 for s in SHAPES]
        self.c = [torch.randn(s, generator=gen, dtype=torch.float64) for s in SHAPES]

    def gradient(self, w: list, setting: int, t: int) -> list:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + setting * 10_007 + t)
        out = []
        for i, (x, h, c, k) in enumerate(zip(w, self.h, self.c, GRAD_SCALES)):
            noise = torch.randn(x.shape, generator=gen, dtype=torch.float64)
            g = k * (h * (x.detach().double() - c) + 0.5 * noise)
            zero = torch.zeros(x.shape, dtype=torch.bool)
            if i == 0 and t % 5 == 4:
                zero[...] = True                            # the scalar's gradient is 0 every fifth step
            elif i == 1:
                zero[[2, 5]] = True                         # two entries that never get a gradient
            elif i == 2 and t % 2 == 0:
                zero[1] = True                              # a row without gradient on alternate steps
            elif i == 3:
                zero = torch.rand(x.shape, generator=gen) < 0.2
                if t == 7:
                    zero[...] = True                        # a whole tensor without gradient once
            out.append(torch.where(zero, torch.zeros_like(g), g).to(self.dtype))
        return out


@dataclass
class _Trace:
    setting: int
    passed: dict              # keywords varied by the harness for this setting
    hp: dict                  # hyperparameters read back from the target
    w: list                   # w[t] = the target's parameters before step t (float64), w[t+1] after
    g: list                   # g[t] = the gradient handed in at step t (float64)
    nonfinite: tuple | None = None   # (step, parameter) where the target produced nan/inf


def _read_hp(group: dict, n_betas: int, method_kw: dict, needs_eps: bool, target: str) -> dict:
    hp = {}
    lr = method_kw.get("lr", group.get("lr"))
    if lr is None:
        raise ConformError(f"cannot read the learning rate of {target}: its param_groups have no 'lr' "
                           f"(pass it with --method-kw lr=VALUE)")
    hp["lr"] = float(lr)
    betas = method_kw.get("betas")
    if betas is None:
        if "betas" in group:
            betas = tuple(float(b) for b in group["betas"])
        elif "beta1" in group and "beta2" in group:
            betas = (float(group["beta1"]), float(group["beta2"]))
        else:
            raise ConformError(f"cannot read the betas of {target}: its param_groups have no 'betas' "
                               f"(pass them with --method-kw betas=(B1, B2))")
    betas = tuple(betas)
    if n_betas == 3:
        beta3 = method_kw.get("beta3", betas[2] if len(betas) > 2 else 0.0)
        betas = (*betas[:2], beta3)
    hp["betas"] = betas[:n_betas]
    if needs_eps:
        eps = method_kw.get("eps", group.get("eps", group.get("epsilon")))
        if eps is None:
            raise ConformError(f"cannot read eps of {target}: its param_groups have no 'eps' "
                               f"(pass it with --method-kw eps=VALUE)")
        hp["eps"] = float(eps[0] if isinstance(eps, (tuple, list)) else eps)
    hp["weight_decay"] = float(method_kw.get("weight_decay", group.get("weight_decay", 0.0)))
    return hp


def _record(cls, target_kw: dict, method: Method, method_kw: dict, problem: _Problem, steps: int,
            notes: list, progress) -> tuple[list, dict | None]:
    name = _target_name(cls)
    named, var_kw = _named_parameters(cls)
    needs_eps = "eps" in method.cls.PRESET
    n_betas = method.cls.n_betas
    # a first instance with the user's keywords only: it checks them, and its param group shows
    # which hyperparameters the target has (and how many betas it takes)
    try:
        defaults = cls([torch.nn.Parameter(torch.zeros(2, dtype=problem.dtype))], **target_kw).param_groups[0]
    except Exception as err:  # noqa: BLE001 - any failure of the target is reported in one line
        raise ConformError(f"{name}({_kw_text(target_kw)}) raised {_one_line(err)}") from None
    unused = [key for key in target_kw if key not in named and key not in defaults]
    if unused and var_kw:
        notes.append(f"{name} takes **kwargs and neither names nor stores {', '.join(map(repr, unused))}: "
                     f"these keywords may be ignored")
    traces, grad_event = [], None
    for k, setting in enumerate(SETTINGS):
        progress(f"recording {name}: setting {k + 1}/{len(SETTINGS)}")
        passed = {}
        for key, value in setting.items():
            if key in target_kw or key not in defaults or key not in named or (key == "eps" and not needs_eps):
                continue
            if key == "betas":
                default = tuple(defaults["betas"]) if isinstance(defaults["betas"], (tuple, list)) else ()
                if len(default) < 2:
                    continue
                value = (*value, *default[2:])
            passed[key] = value
        params = [torch.nn.Parameter(x.to(problem.dtype).clone()) for x in problem.w0]
        try:
            opt = cls(params, **{**passed, **target_kw})
        except Exception as err:  # noqa: BLE001 - any failure of the target is reported in one line
            raise ConformError(f"{name}({_kw_text({**passed, **target_kw})}) raised {_one_line(err)}") from None
        hp = _read_hp(opt.param_groups[0], n_betas, method_kw, needs_eps, name)
        w, g = [[p.detach().double().clone() for p in params]], []
        trace = _Trace(k, passed, hp, w, g)
        for t in range(steps):
            grads = problem.gradient(params, k, t)
            given = [x.clone() for x in grads]
            for p, x in zip(params, given):
                p.grad = x
            try:
                opt.step()
            except Exception as err:  # noqa: BLE001
                raise _StepFailed(f"{name}.step() raised {_one_line(err)} (setting {k + 1}, step {t + 1})") \
                    from None
            if grad_event is None:
                for i, (p, x, original) in enumerate(zip(params, given, grads)):
                    if p.grad is not x or not torch.equal(x, original):
                        change = (x.double() - original.double()).abs().max().item() if p.grad is x else None
                        grad_event = dict(setting=k + 1, step=t + 1, parameter=i, shape=tuple(SHAPES[i]),
                                          replaced=p.grad is not x, max_change=change)
                        break
            g.append([x.double() for x in grads])
            w.append([p.detach().double().clone() for p in params])
            bad = [i for i, p in enumerate(params) if not bool(torch.isfinite(p.detach()).all())]
            if bad:
                trace.nonfinite = (t, bad[0])
                break
        traces.append(trace)
    return traces, grad_event


def _kw_text(kw: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kw.items())


# --------------------------------------------------------------------------
# replay of our rule against the record
# --------------------------------------------------------------------------

@dataclass
class _Replay:
    fail: tuple | None        # (setting index, step) of the first step over tolerance
    residual: float           # residual there (or the largest one when none fails)
    max_residual: float
    where: dict | None = None


class _Reference:
    """Our optimizer (optionally with one ingredient replaced) replaying a record."""

    def __init__(self, method: Method, method_kw: dict, traces: list, tol: list):
        self.method, self.method_kw, self.traces, self.tol = method, method_kw, traces, tol
        self._classes, self._optimizers = {}, {}

    def _cls(self, defect: Defect | None):
        if defect is None or not defect.parts:
            return self.method.cls
        key = defect.name
        if key not in self._classes:
            base = self.method.cls
            parts = rules.PAPER.replace(**defect.parts)
            rule = base.rule

            def patched(ops, w, g, state, hp, t, _rule=rule, _parts=parts):
                return _rule(ops, w, g, state, hp, t, parts=_parts)

            self._classes[key] = type(f"{base.__name__}_{key}", (base,), {"rule": staticmethod(patched)})
        return self._classes[key]

    def _optimizer(self, cls):
        """One instance per class, reused: each replay resets its state and sets its hyperparameters."""
        if cls not in self._optimizers:
            hp = dict(self.hyperparameters(self.traces[0], {}, None), foreach=False)
            self._optimizers[cls] = cls([torch.nn.Parameter(x.clone()) for x in self.traces[0].w[0]], **hp)
        return self._optimizers[cls]

    def hyperparameters(self, trace: _Trace, convention: dict, defect: Defect | None) -> dict:
        kw = {k: v for k, v in self.method_kw.items() if k != "beta3"}
        hp = {**self.method.cls.PRESET, **trace.hp, **kw, **convention}
        hp["betas"] = trace.hp["betas"]
        if defect is not None and defect.hp is not None:
            hp = defect.hp(hp)
        return {k: v for k, v in hp.items() if k in self.method.cls.PRESET}

    def run(self, convention: dict, defect: Defect | None = None, early_exit: bool = True) -> _Replay:
        opt = self._optimizer(self._cls(defect))
        params = opt.param_groups[0]["params"]
        first, first_res, worst, where = None, 0.0, 0.0, None
        for k, tr in enumerate(self.traces):
            hp = dict(self.hyperparameters(tr, convention, defect), foreach=False)
            opt._validate({**opt.defaults, **hp}, where=f" (setting {k + 1})")
            opt.param_groups[0].update(hp)
            opt.state.clear()
            lr = tr.hp["lr"]
            for t in range(len(tr.g)):
                with torch.no_grad():
                    for p, x in zip(params, tr.w[t]):
                        p.copy_(x)
                for p, x in zip(params, tr.g[t]):
                    p.grad = x.clone()
                opt.step()
                diffs = [(p.detach() - x).abs() for p, x in zip(params, tr.w[t + 1])]
                per = [float(d.max()) if d.numel() else 0.0 for d in diffs]
                per = [math.inf if v != v else v for v in per]
                res = max(per) / lr
                worst = max(worst, res)
                if first is None and res > self.tol[k]:
                    i = max(range(len(per)), key=per.__getitem__)
                    flat = int(torch.nan_to_num(diffs[i], nan=math.inf).reshape(-1).argmax())
                    idx = tuple(int(j) for j in torch.unravel_index(torch.tensor(flat), SHAPES[i])) \
                        if SHAPES[i] else ()
                    ours, theirs = params[i].detach().reshape(-1)[flat], tr.w[t + 1][i].reshape(-1)[flat]
                    first, first_res = (k, t), res
                    where = dict(setting=k + 1, step=t + 1, parameter=i, shape=SHAPES[i], index=idx,
                                 target=float(theirs), reference=float(ours),
                                 abs_diff=abs(float(theirs) - float(ours)), residual=res,
                                 nonfinite=not math.isfinite(float(theirs)))
                    if early_exit:
                        return _Replay(first, first_res, worst, where)
        return _Replay(first, first_res if first else worst, worst, where)


def _closest(runs: list) -> tuple:
    """The (convention, replay) that follows the record longest; among equals, the first listed
    (the conventions are ordered by how far they are from the preset)."""
    reach = [math.inf if r.fail is None else r.fail for _, r in runs]
    best = max(reach)
    return runs[reach.index(best)]


# --------------------------------------------------------------------------
# the result
# --------------------------------------------------------------------------

@dataclass
class Candidate:
    name: str
    description: str
    explains: bool
    convention: dict | None
    first_failure: dict | None      # setting, step of the first step it misses (under its closest convention)
    max_residual: float


@dataclass
class ConformanceResult:
    target: str
    version: str | None
    target_kwargs: dict
    method: str
    method_kwargs: dict
    verdict: str                    # "conforms" | "departs"
    dtype: str
    steps: int
    settings: list                  # per setting: the keywords passed and the hyperparameters read back
    tolerance: list                 # per setting, in units of lr
    convention: dict                # the matching convention (conforms) or the closest one (departs)
    changed_from_preset: dict
    undetermined: list
    max_residual: float
    first_departure: dict | None
    diagnosis: str | None
    explained_by: list
    candidates: list
    grad_modified: dict | None
    notes: list
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def exit_status(self) -> int:
        return 0 if self.verdict == "conforms" else 1

    def convention_text(self) -> str:
        if not self.changed_from_preset:
            return "our preset's own conventions"
        preset = METHODS[self.method].cls.PRESET
        return ", ".join(f"{k}={v!r} (preset {preset.get(k)!r})" for k, v in self.changed_from_preset.items())

    def summary(self) -> str:
        """One line: the verdict and what explains it."""
        if self.verdict == "conforms":
            return f"conforms under {self.convention_text()}"
        d = self.first_departure
        where = (f"step {d['step']} of setting {d['setting']}, parameter {d['parameter']}"
                 f"{' ' + str(d['index']) if d['index'] else ''}")
        if d.get("nonfinite"):
            return f"departs: the target returned {d['target']} at {where} (the reference is finite)"
        return f"departs at {where} ({d['residual']:.2g} lr): {self.diagnosis}"

    def text(self) -> str:
        """The readable report printed by ``ams-theory conform``."""
        lines = [f"target      {self.target}" + (f" ({self.version})" if self.version else "")
                 + (f"  {_kw_text(self.target_kwargs)}" if self.target_kwargs else ""),
                 f"method      {self.method}: {METHODS[self.method].description}"
                 + (f"  {_kw_text(self.method_kwargs)}" if self.method_kwargs else ""),
                 f"problems    {len(self.settings)} settings x {self.steps} steps; tensors "
                 f"{', '.join(map(str, SHAPES))} with exact zeros in the gradient; {self.dtype}"]
        for i, s in enumerate(self.settings, 1):
            lines.append(f"  setting {i}  {_kw_text(s['read'])}")
        tol = max(self.tolerance)
        if self.verdict == "conforms":
            lines.append(f"verdict     CONFORMS  (largest step residual {self.max_residual:.1e} lr, "
                         f"tolerance {tol:.0e} lr)")
            lines.append(f"convention  {self.convention_text()}")
            if self.undetermined:
                lines.append(f"            not pinned down by these problems: {', '.join(self.undetermined)}")
        else:
            d = self.first_departure
            lines.append("verdict     DEPARTS")
            lines.append(f"first departure  setting {d['setting']}, step {d['step']}, parameter {d['parameter']} "
                         f"(shape {d['shape']}) entry {d['index']}: target {d['target']:.17g}, "
                         f"reference {d['reference']:.17g}, |diff| {d['abs_diff']:.3g} = {d['residual']:.3g} lr")
            lines.append(f"            compared with {self.method} under {self.convention_text()}"
                         + ("" if self.explained_by else " (the convention that follows the record longest)"))
            lines.append(f"diagnosis   {self.diagnosis}")
            lines.append("candidates  name                         explains  first miss      max residual (lr)")
            for c in self.candidates:
                miss = f"set {c['first_failure']['setting']} step {c['first_failure']['step']}" \
                    if c["first_failure"] else "-"
                lines.append(f"            {c['name']:<28} {'yes' if c['explains'] else 'no':<9} {miss:<15} "
                             f"{c['max_residual']:.2g}")
        if self.grad_modified:
            e = self.grad_modified
            how = "replaced p.grad" if e["replaced"] else f"wrote into p.grad (max change {e['max_change']:.3g})"
            lines.append(f"side effect the target {how}: setting {e['setting']}, step {e['step']}, parameter "
                         f"{e['parameter']}; the record keeps the gradient it was given")
        else:
            lines.append("side effect none: p.grad is left as it was given")
        lines += [f"note        {n}" for n in self.notes]
        return "\n".join(lines)


# --------------------------------------------------------------------------
# the audit
# --------------------------------------------------------------------------

def _method(name) -> Method:
    key = str(name).strip().lower().replace("-", "").replace("_", "")
    if key not in METHODS:
        raise ConformError(f"unknown METHOD {name!r} (expected one of {', '.join(METHODS)})")
    return METHODS[key]


def _check_method_kw(method: Method, method_kw: dict) -> None:
    allowed = set(method.cls.PRESET) - {"foreach", "nonfinite", "chunk_size"}
    if method.cls.PRESET.get("mask") is None:
        allowed -= set(optim._CAUTION_KEYS)
    if method.cls.n_betas == 3:
        allowed.add("beta3")
    for key in method_kw:
        if key not in allowed:
            raise ConformError(f"unknown method keyword {key!r} for {method.name} "
                               f"(known: {', '.join(sorted(allowed))})")
    kw = {k: v for k, v in method_kw.items() if k != "beta3"}
    if "beta3" in method_kw:
        kw["betas"] = (*method.cls.PRESET["betas"][:2], method_kw["beta3"])
    try:
        method.cls([torch.nn.Parameter(torch.zeros(1))], **kw)
    except (ValueError, TypeError) as err:
        raise ConformError(f"method keywords for {method.name}: {_one_line(err)}") from None


def _tolerances(traces, dtype) -> list:
    if dtype == torch.float64:
        return [TOLERANCE] * len(traces)
    eps = torch.finfo(dtype).eps
    return [max(TOLERANCE, 16 * eps * max(float(x.abs().max()) for w in tr.w for x in w if x.numel())
                / tr.hp["lr"]) for tr in traces]


def conform(target, method: str, target_kwargs: dict | None = None, method_kwargs: dict | None = None, *,
            seed: int = 0, steps: int = STEPS, progress: Callable[[str], None] | None = None) -> ConformanceResult:
    """Audit ``target`` (a class or ``"package.module:Class"``) against our preset ``method``.

    ``target_kwargs`` go to the target's constructor in every setting (they win
    over the harness's varied ``lr``/``betas``/``eps``/``weight_decay``);
    ``method_kwargs`` fix hyperparameters or conventions of our side (``lam``,
    ``beta3``, ``scope``, ...; a pinned convention is not searched). Raises
    :class:`ConformError` when the target cannot be run.
    """
    import time

    t0 = time.perf_counter()
    progress = progress or (lambda msg: None)
    target_kwargs, method_kwargs = dict(target_kwargs or {}), dict(method_kwargs or {})
    spec = _method(method)
    _check_method_kw(spec, method_kwargs)
    if not isinstance(steps, int) or steps < 1:
        raise ConformError(f"steps must be a positive integer, got {steps!r}")
    cls = load_target(target)
    notes: list = []
    dtype = torch.float64
    try:
        traces, grad_event = _record(cls, target_kwargs, spec, method_kwargs, _Problem(seed, dtype), steps, notes,
                                     progress)
    except _StepFailed as err64:
        dtype = torch.float32
        try:
            traces, grad_event = _record(cls, target_kwargs, spec, method_kwargs, _Problem(seed, dtype), steps,
                                         notes, progress)
        except ConformError:
            raise err64 from None
        notes.append(f"the target failed in float64 ({err64}); the record is float32, with a rounding-based "
                     f"tolerance")
    for tr in traces:
        if tr.nonfinite:
            t, i = tr.nonfinite
            notes.append(f"the target's parameter {i} became non-finite at step {t + 1} of setting "
                         f"{tr.setting + 1}; that setting's record ends there")
    tol = _tolerances(traces, dtype)
    ref = _Reference(spec, method_kwargs, traces, tol)
    base = {**spec.cls.PRESET, **method_kwargs}
    axes = _axes(spec, base, method_kwargs)
    conventions = _conventions(axes)

    progress(f"searching {len(conventions)} conventions")
    replays = _search(ref, conventions)
    matches = [(c, r) for c, r in replays if r.fail is None]
    settings = [dict(passed=tr.passed, read=tr.hp) for tr in traces]
    common = dict(target=_target_name(cls), version=_version(cls), target_kwargs=target_kwargs, method=spec.name,
                  method_kwargs=method_kwargs, dtype=str(dtype).replace("torch.", ""), steps=steps,
                  settings=settings, tolerance=tol, grad_modified=grad_event, notes=notes)
    if matches:
        conv, rep = matches[0]
        full = ref.run(conv, early_exit=False)
        undetermined = []
        for name, values in axes:
            for v in values:
                if any(conv.get(k) != v[k] for k in v) and ref.run({**conv, **v}).fail is None:
                    undetermined.append(name)
                    break
        return ConformanceResult(verdict="conforms", convention=conv, changed_from_preset=_changes(conv, base),
                                 undetermined=undetermined, max_residual=full.max_residual, first_departure=None,
                                 diagnosis=None, explained_by=[], candidates=[],
                                 seconds=round(time.perf_counter() - t0, 2), **common)

    progress(f"testing {len(spec.defects)} candidate defects")
    candidates, under = [], {}
    for defect in spec.defects:
        runs = _search(ref, conventions, defect)
        hits = [(c, r) for c, r in runs if r.fail is None]
        best_c, _ = hits[0] if hits else _closest(runs)
        under[defect.name] = best_c
        full = ref.run(best_c, defect, early_exit=False)
        candidates.append(Candidate(defect.name, defect.description, bool(hits), _changes(best_c, base),
                                    None if full.fail is None else dict(setting=full.fail[0] + 1,
                                                                        step=full.fail[1] + 1),
                                    full.max_residual))
    explained = [c for c in candidates if c.explains]
    # the departure is shown against the convention under which the diagnosis holds, if any
    conv, rep = _closest(replays)
    if explained:
        conv = under[explained[0].name]
        rep = ref.run(conv)
    if rep.where and rep.where["nonfinite"]:
        diagnosis = "the target produced non-finite values where the reference is finite"
    elif explained:
        # the candidates that need the fewest convention changes come first
        explained.sort(key=lambda c: len(c.convention))
        fewest = [c for c in explained if len(c.convention) == len(explained[0].convention)]
        if len(fewest) == 1:
            diagnosis = f"{_described(fewest[0])} (reproduces every step{_under(fewest[0])})"
        else:
            diagnosis = ("these candidates reproduce every step and cannot be told apart on these problems: "
                         + "; ".join(f"{_described(c)}{_under(c, ' under ')}" for c in fewest))
        more = [c for c in explained if c not in fewest]
        if more:
            diagnosis += "; also consistent with more convention changes: " + "; ".join(
                f"{c.name} under {_kw_text(c.convention)}" for c in more)
    else:
        best = min(candidates, key=lambda c: c.max_residual)
        diagnosis = (f"no single candidate defect explains it (closest: {best.name}, max residual "
                     f"{best.max_residual:.2g} lr)")
    candidates.sort(key=lambda c: (not c.explains, len(c.convention or {}), c.max_residual))
    return ConformanceResult(verdict="departs", convention=conv, changed_from_preset=_changes(conv, base),
                             undetermined=[], max_residual=ref.run(conv, early_exit=False).max_residual,
                             first_departure=rep.where, diagnosis=diagnosis,
                             explained_by=[c.name for c in explained],
                             candidates=[asdict(c) for c in candidates],
                             seconds=round(time.perf_counter() - t0, 2), **common)


def _described(c: Candidate) -> str:
    return f"{c.name}: {c.description}"


def _under(c: Candidate, prefix: str = " under ") -> str:
    return f"{prefix}{_kw_text(c.convention)}" if c.convention else ""


def _search(ref: _Reference, conventions: list, defect: Defect | None = None) -> list:
    """Replay the conventions in order (closest to the preset first) until one reproduces the record."""
    runs = []
    for c in conventions:
        runs.append((c, ref.run(c, defect)))
        if runs[-1][1].fail is None:
            break
    return runs


def _changes(convention: dict, base: dict) -> dict:
    return {k: v for k, v in convention.items() if base.get(k) != v}


# --------------------------------------------------------------------------
# the implementations users install
# --------------------------------------------------------------------------

PEERS = (   # (TARGET, its keywords, METHOD, method keywords)
    ("pytorch_optimizer:Grams", {}, "grams", {}),
    ("pytorch_optimizer:Grams", {"weight_decouple": False}, "grams", {}),
    ("pytorch_optimizer:Lion", {}, "lion", {}),
    ("pytorch_optimizer:Lion", {"cautious": True}, "clion", {}),
    ("pytorch_optimizer:AdEMAMix", {"alpha": 0.0, "cautious": True, "weight_decouple": True}, "cadamw", {}),
    ("pytorch_optimizer:AdEMAMix", {"alpha": 0.0, "cautious": True}, "cadamw", {}),
    ("lion_pytorch:Lion", {}, "lion", {}),
    ("lion_pytorch:Lion", {"decoupled_weight_decay": True}, "lion", {}),
    ("lion_pytorch.cautious_lion:Lion", {}, "clion", {}),
    ("lion_pytorch.cautious_lion:Lion", {"cautious_factor": 0.3}, "clion", {"lam": 0.3}),
    ("torch.optim:AdamW", {}, "adamw", {}),
    ("torch.optim:Adam", {}, "adam", {}),
)


def peer_table(progress: Callable[[str], None] | None = None) -> tuple[list[dict], str]:
    """Run :data:`PEERS` (skipping packages that are not installed); rows and a Markdown table."""
    import importlib.util

    rows = []
    for spec, kw, method, method_kw in PEERS:
        if importlib.util.find_spec(spec.split(":")[0].split(".")[0]) is None:
            continue
        try:
            result = conform(spec, method, kw, method_kw, progress=progress)
        except ConformError as err:
            rows.append(dict(target=spec, kwargs=kw, method=method, method_kwargs=method_kw, version=None,
                             verdict="error", summary=str(err)))
            continue
        rows.append(dict(target=spec, kwargs=kw, method=method, method_kwargs=method_kw, version=result.version,
                         verdict=result.verdict, summary=_peer_summary(result)))
    lines = ["| package | class (keywords) | as | verdict | convention or diagnosis |",
             "|---|---|---|---|---|"]
    for r in rows:
        klass = f"`{r['target']}`" + (f" ({_kw_text(r['kwargs'])})" if r["kwargs"] else "")
        method = r["method"] + (f" ({_kw_text(r['method_kwargs'])})" if r["method_kwargs"] else "")
        lines.append(f"| {r['version'] or '?'} | {klass} | {method} | {r['verdict']} | {r['summary']} |")
    return rows, "\n".join(lines)


def _peer_summary(result: ConformanceResult) -> str:
    if result.verdict == "conforms":
        text = "; ".join(f"{k}={v!r}" for k, v in result.changed_from_preset.items()) or "our preset as is"
    elif result.explained_by:
        text = ", ".join(result.explained_by)
    else:
        text = result.diagnosis
    if result.grad_modified:
        text += "; writes into p.grad"
    return text
