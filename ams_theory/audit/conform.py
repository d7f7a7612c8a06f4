r"""Conformance: audit another package's optimizer against the papers' update rules.

``conform(TARGET, METHOD)`` runs a third-party ``torch.optim.Optimizer`` class
and our preset ``METHOD`` side by side and says whether the target implements
the method:

1. **Record.** The target runs on a seeded problem: five float64 tensors of
   shapes ``()``, ``(7,)``, ``(4, 5)``, ``(2, 3, 2)`` (one with gradients of
   size 1e-5, so that ``eps`` matters), gradients of a noisy quadratic with
   exact zeros of both signs planted (fixed entries, alternate rows, random
   entries, a whole tensor at one step), and ``(1200,)``, whose gradient on even
   steps opposes the direction built on odd steps at all but one entry (so a
   clamp of the mask's mean at 1e-3 shows), under four hyperparameter settings (weight decay on and
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
4. **Identification.** Otherwise the target *departs*: the report gives the first
   step and entry where it leaves the closest convention, and identifies the rule it
   computes (:mod:`ams_theory.audit.identify`): our rule with up to ``depth`` departures, one
   choice per ingredient (a replaced :class:`ams_theory.core.rules.Parts` piece or rewired
   hyperparameters), each combination under every convention, replayed against the
   whole record. The explanations with the fewest departures are reported, each
   departure in words and as a formula; when none exists, the combination that followed
   the record longest and where it stopped.

Errors that prevent a run (a bad TARGET, an unknown METHOD, keywords the
target refuses, a crash inside it) raise :class:`ConformError` with a one-line message.
"""
from __future__ import annotations

import ast
import contextlib
import copy
import dataclasses
import html
import importlib
import inspect
import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable

import torch

from ams_theory import optim
from ams_theory.audit.identify import Choice, Departures, Ingredient, convention_settings, identify
from ams_theory.audit.localise import Localisation, localise, state_of
from ams_theory.core import rules

__all__ = ["ConformError", "conform", "METHODS", "PEERS", "Peer", "run_peer", "peer_target", "peer_table",
           "parse_keywords", "load_target", "ConformanceResult", "Method"]

SHAPES = ((), (7,), (4, 5), (2, 3, 2), (1200,))
GRAD_SCALES = (1.0, 0.3, 0.1, 1e-5, 1.0)
FEW_ALIGNED = 4           # the tensor whose gradient, on even steps, opposes almost all of a momentum direction
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


def _bias(m: bool, v, name, words, formula):
    return Choice("bias correction", name, words, formula, parts={"bias_corrections": lambda b1, b2, t: (
        1 - b1 ** t if m else 1, v(b2, t))})


ADAM_INGREDIENTS = (
    Ingredient("first moment", "m <- beta1 m + (1 - beta1) g", (
        Choice("first moment", "beta1_weights_gradient", "m is updated as lerp(m, g, beta1): the weight on the new "
               "gradient is beta1, the paper's is 1 - beta1", "m <- (1 - beta1) m + beta1 g",
               parts={"first_moment": _ema_weights_swapped}),)),
    Ingredient("second moment", "v <- beta2 v + (1 - beta2) g^2", (
        Choice("second moment", "beta2_weights_gradient", "v is updated with the weight beta2 on the new squared "
               "gradient, the paper's is 1 - beta2", "v <- (1 - beta2) v + beta2 g^2",
               parts={"second_moment": _second_moment_weights_swapped}),)),
    Ingredient("betas", "(beta1, beta2) as given", (
        Choice("betas", "betas_exchanged", "beta1 and beta2 exchanged", "(beta1, beta2) <- (beta2, beta1)",
               hp=_betas_exchanged),)),
    Ingredient("bias correction", "m_hat = m/(1 - beta1^t), v_hat = v/(1 - beta2^t)", (
        _bias(False, lambda b2, t: 1 - b2 ** t, "no_bias_correction_m", "m is not bias-corrected",
              "m_hat = m"),
        _bias(True, lambda b2, t: 1, "no_bias_correction_v", "v is not bias-corrected", "v_hat = v"),
        _bias(False, lambda b2, t: 1, "no_bias_correction", "neither m nor v is bias-corrected",
              "m_hat = m, v_hat = v"),
        _bias(True, lambda b2, t: (1 - b2 ** t) ** 2, "v_correction_outside_sqrt", "v's correction is taken "
              "outside the square root", "sqrt(v_hat) -> sqrt(v)/(1 - beta2^t)"))),
)
LION_INGREDIENTS = (
    Ingredient("interpolation", "u = sign(beta1 m + (1 - beta1) g)", (
        Choice("interpolation", "beta1_weights_gradient", "beta1 weights the gradient inside the sign, the "
               "paper's weight is 1 - beta1", "u = sign((1 - beta1) m + beta1 g)",
               parts={"interpolation": _interpolation_weights_swapped}),)),
    Ingredient("momentum", "m <- beta2 m + (1 - beta2) g", (
        Choice("momentum", "beta2_weights_gradient", "beta2 weights the new gradient in the momentum, the "
               "paper's weight is 1 - beta2", "m <- (1 - beta2) m + beta2 g",
               parts={"first_moment": _ema_weights_swapped}),)),
    Ingredient("betas", "(beta1, beta2) as given", (
        Choice("betas", "betas_exchanged", "beta1 and beta2 exchanged", "(beta1, beta2) <- (beta2, beta1)",
               hp=_betas_exchanged),
        Choice("betas", "sign_of_updated_momentum", "the sign is taken of the momentum already updated with "
               "beta2, not of the beta1 interpolation of the old one", "u = sign(beta2 m + (1 - beta2) g)",
               hp=lambda hp: dict(hp, betas=(hp["betas"][1], hp["betas"][1]))))),
)
MASK_INGREDIENTS = (
    Ingredient("mask reference", "phi = 1(u o g > 0) (the direction against the gradient)", (
        Choice("mask reference", "mask_sign_flipped", "the mask keeps the coordinates where u and the gradient "
               "disagree", "phi = 1(u o g < 0)", parts={"mask_reference": lambda ops, s, m, w: ops.mul(s, -1)}),
        Choice("mask reference", "mask_against_momentum", "the mask compares u with the momentum m, not with the "
               "gradient", "phi = 1(u o m > 0)", parts={"mask_reference": lambda ops, s, m, w: m}),
        Choice("mask reference", "mask_not_applied", "no mask: the base optimizer's step", "phi = 1",
               hp=lambda hp: dict(hp, mask=None)))),
)
MOMENTUM_STATE = Ingredient("momentum state", "m is kept as averaged (the mask acts on the step only)", (
    Choice("momentum state", "mask_written_into_momentum", "the masked update is written back into the momentum "
           "buffer, so masked entries of m are zeroed (a change of the optimizer's state)", "m <- m o phi",
           parts={"momentum_after_mask": lambda ops, m, masked: ops.copy(masked)}),))
DECOUPLED_DECAY = Ingredient("weight decay", "w <- w (1 - lr gamma), decoupled", (
    Choice("weight decay", "decay_missing", "weight decay never reaches the parameters", "gamma = 0",
           hp=lambda hp: dict(hp, weight_decay=0.0)),
    Choice("weight decay", "decay_in_gradient", "weight decay is added to the gradient (L2), not decoupled",
           "g <- g + gamma w", hp=lambda hp: _wd(hp, weight_decay_mode="l2")),
    Choice("weight decay", "decay_without_lr", "the decay factor is not scaled by the learning rate",
           "w <- w (1 - gamma)", hp=lambda hp: _wd(hp, weight_decay=hp["weight_decay"] / hp["lr"])),
    Choice("weight decay", "decay_cautious", "decay only where the update and the parameter agree in sign (by sign "
           "bits; a masked entry of the update counts as +0): cautious weight decay",
           "w <- w - lr gamma w o 1(sign w = sign u)", parts={"decay_mask": rules.sign_agreement})), decay=True)
COUPLED_DECAY = Ingredient("weight decay", "g <- g + gamma w (coupled)", (
    Choice("weight decay", "decay_missing", "weight decay never reaches the parameters", "gamma = 0",
           hp=lambda hp: dict(hp, weight_decay=0.0)),
    Choice("weight decay", "decay_decoupled", "weight decay is decoupled, not added to the gradient",
           "w <- w (1 - lr gamma) before the step", hp=lambda hp: _wd(hp, weight_decay_mode="before"))), decay=True)


# parameterised departures, tried where the localisation points (a family too large for the whole search)
BIAS_POWERS = (0, 0.5, 1, 2)
_NAMED_POWERS = {(0, 1), (1, 0), (0, 0), (1, 2)}           # the grammar's own bias-correction departures


def _bias_power(p, q) -> Choice:
    return Choice("bias correction", f"bias_correction_powers_{p:g}_{q:g}", f"m's bias correction taken to the power "
                  f"{p:g} and v's to the power {q:g}", f"m_hat = m/(1 - beta1^t)^{p:g}, v_hat = v/(1 - beta2^t)^{q:g}",
                  parts={"bias_corrections": lambda b1, b2, t: ((1 - b1 ** t) ** p, (1 - b2 ** t) ** q)})


BIAS_FAMILY = tuple(_bias_power(p, q) for p in BIAS_POWERS for q in BIAS_POWERS
                    if (p, q) != (1, 1) and (p, q) not in _NAMED_POWERS)
DECAY_GATE_FAMILY = tuple(
    Choice("weight decay", f"decay_cautious_{name}", f"decay only where w o u {rel} 0 (the decay gate's tie rule "
           f"{rel}, not the sign bits)", f"w <- w - lr gamma w o 1(w o u {rel} 0)",
           parts={"decay_mask": lambda ops, w, u, strict=strict: ops.indicator_(ops.mul(w, u), strict)})
    for name, rel, strict in (("strict", ">", True), ("nonstrict", ">=", False)))
DECAY_MASKED = Choice("weight decay", "decay_masked_with_step", "the decay is applied only where the masked step is "
                      "not 0 (one term of the update masked with the other; Algorithm 2 leaves the decay unmasked)",
                      "w <- w - lr gamma w o 1(phi o u != 0)",
                      parts={"decay_mask": lambda ops, w, u: ops.indicator_(ops.mul(u, u), True)})


@dataclass(frozen=True)
class Method:
    """A preset to conform to: our optimizer class, the ingredients whose departures are searched, and the
    parameterised ``family`` choices the localisation also tries (each joins the search where it is found)."""

    name: str
    cls: type
    ingredients: tuple
    decay_modes: tuple        # the documented decay conventions (the preset's first)
    description: str
    family: tuple = ()

    @property
    def departures(self) -> tuple:
        """Every single departure of the grammar (one per ingredient choice)."""
        return tuple(c for i in self.ingredients for c in i.departures)


MASK_AGAINST_PARAMETER = Choice("mask reference", "mask_against_parameter", "the mask compares u with the parameter "
                                "w, not with the gradient", "phi = 1(u o w > 0)",
                                parts={"mask_reference": lambda ops, s, m, w: ops.copy(w)})
_ADAM_FAMILY = BIAS_FAMILY + DECAY_GATE_FAMILY
_CAUTIOUS_FAMILY = _ADAM_FAMILY + (DECAY_MASKED, MASK_AGAINST_PARAMETER)
METHODS = {m.name: m for m in (
    Method("adam", optim.Adam, ADAM_INGREDIENTS + (COUPLED_DECAY,), ("l2",),
           "Adam with coupled (L2) weight decay, torch.optim.Adam's definition", BIAS_FAMILY),
    Method("adamw", optim.AdamW, ADAM_INGREDIENTS + (DECOUPLED_DECAY,), ("after", "before"),
           "AdamW (Alg. 2 of the AMS/Grams paper)", _ADAM_FAMILY),
    Method("cadamw", optim.CAdamW, ADAM_INGREDIENTS + MASK_INGREDIENTS + (MOMENTUM_STATE, DECOUPLED_DECAY),
           ("after_scaled", "after", "before"), "cautious AdamW (Alg. 2 of the Cautious paper)", _CAUTIOUS_FAMILY),
    Method("grams", optim.Grams, ADAM_INGREDIENTS + MASK_INGREDIENTS + (DECOUPLED_DECAY,),
           ("after", "after_scaled", "before"), "Grams (Def. 5.1 / Cor. 5.2 of the AMS/Grams paper)", _CAUTIOUS_FAMILY),
    Method("ams", optim.AMS, ADAM_INGREDIENTS + MASK_INGREDIENTS + (MOMENTUM_STATE, DECOUPLED_DECAY),
           ("after_scaled", "after", "before"), "AMS (Alg. 1 of the AMS/Grams paper); lam and beta3 via method "
           "keywords", _CAUTIOUS_FAMILY),
    Method("lion", optim.Lion, LION_INGREDIENTS + (DECOUPLED_DECAY,), ("after", "before"),
           "Lion (Def. A.5 of the AMS/Grams paper)", DECAY_GATE_FAMILY),
    Method("clion", optim.CLion, LION_INGREDIENTS + MASK_INGREDIENTS + (DECOUPLED_DECAY,),
           ("after", "after_scaled", "before"), "cautious Lion (Alg. 3 of the Cautious paper)",
           DECAY_GATE_FAMILY + (DECAY_MASKED, MASK_AGAINST_PARAMETER)),
)}

_NORMALIZATIONS = (dict(normalize="nnz_xi", xi=1.0), dict(normalize="mean_eps", mask_eps=1e-8),
                   dict(normalize="mean_eps", mask_eps=0.0), dict(normalize="mean_clamp", mask_eps=1e-3),
                   dict(normalize="mean_clamp", mask_eps=1e-5), dict(normalize="none"), dict(normalize="ams"))


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
        ties = ("zero", "aligned") + (("opposed",) if lam != 0 else ()) + ("signbit",)
        add("tie", [dict(tie=t) for t in ties], {"tie"})
        norms = [n for n in _NORMALIZATIONS if n["normalize"] != "ams" or lam != 0]
        add("normalize", norms, {"normalize", "xi", "mask_eps"})
        add("scope", [dict(scope="group"), dict(scope="tensor")], {"scope"})
    if len(method.decay_modes) > 1:
        add("weight_decay_mode", [dict(weight_decay_mode=m) for m in method.decay_modes], {"weight_decay_mode"})
    return axes


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


def import_object(spec: str, label: str, dotted: bool = False, name: str = "name"):
    """``(object, its attribute name)`` for ``"package.module:name"`` or ``"path/to/file.py:name"`` (``dotted``:
    also ``"package.module.name"``); every failure is a one-line :class:`ConformError` starting with ``label`` and
    the spec (shared by the conformance audit and :mod:`ams_theory.claims.custom`)."""
    form = f"expected package.module:{name} or path/to/file.py:{name}"
    if not isinstance(spec, str) or not spec.strip():
        raise ConformError(f"{label} {spec!r}: {form}")
    text = spec.strip()
    mod_name, sep, attr = text.rpartition(":") if ".py:" in text else text.partition(":")
    if not sep and dotted:
        mod_name, _, attr = mod_name.rpartition(".")
    elif not sep:
        mod_name = ""
    if not mod_name or not attr:
        raise ConformError(f"{label} {spec!r}: {form}")
    try:
        module = _import_file(mod_name) if mod_name.endswith(".py") else importlib.import_module(mod_name)
    except ConformError as err:
        raise ConformError(f"{label} {spec!r}: {err}") from None
    except ImportError as err:
        raise ConformError(f"{label} {spec!r}: cannot import {mod_name!r} ({one_line(err)})") from None
    except Exception as err:  # noqa: BLE001 - an import that crashes is the target's failure
        raise ConformError(f"{label} {spec!r}: importing {mod_name!r} raised {one_line(err)}") from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConformError(f"{label} {spec!r}: {mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj, attr.rsplit(".", 1)[-1]


def load_target(spec) -> type:
    """``"package.module:Class"`` (or ``"package.module.Class"``, or ``"path/to/file.py:Class"``) -> the class; a
    class passes through."""
    cls = spec if inspect.isclass(spec) else import_object(spec, "TARGET", dotted=True, name="Class")[0]
    if not (inspect.isclass(cls) and issubclass(cls, torch.optim.Optimizer)):
        raise ConformError(f"TARGET {spec!r} is not a torch.optim.Optimizer subclass")
    return cls


def _import_file(path: str):
    """Import ``path`` as a module of a package made of its folder, so that ``from .sibling import x`` resolves
    against the files beside it (and, with the folder on ``sys.path`` while it imports, ``import sibling``)."""
    import hashlib
    import os
    import sys
    import types

    full = os.path.abspath(path)
    if not os.path.isfile(full):
        raise ConformError(f"no file {path!r}")
    folder, stem = os.path.dirname(full), os.path.splitext(os.path.basename(full))[0]
    package = "_conform_target_" + hashlib.sha1(folder.encode()).hexdigest()[:12]
    if package not in sys.modules:
        pkg = types.ModuleType(package)
        pkg.__path__ = [folder]
        sys.modules[package] = pkg
    sys.path.insert(0, folder)
    try:
        return importlib.import_module(f"{package}.{stem}")
    except ModuleNotFoundError as err:
        missing = (err.name or "?").replace(package + ".", "")
        raise ConformError(f"importing {path!r} needs the module {missing!r}, which cannot be found "
                           f"(beside the file or installed)") from None
    finally:
        sys.path.remove(folder)


def one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def _target_name(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def package_version(cls) -> str | None:
    """The distribution and version that ship ``cls`` (for a class loaded from a file: the package the file sits in)."""
    import os
    import sys

    top = cls.__module__.split(".")[0]
    if top.startswith("_conform_target_"):
        folder = os.path.dirname(getattr(sys.modules.get(cls.__module__), "__file__", "") or "")
        roots = {os.path.abspath(p) for p in sys.path if p}      # an import root is no package, __init__ or not
        while os.path.dirname(folder) not in roots and os.path.isfile(
                os.path.join(os.path.dirname(folder), "__init__.py")):
            folder = os.path.dirname(folder)
        top = os.path.basename(folder) if os.path.isfile(os.path.join(folder, "__init__.py")) else ""
    return _package_version(top)


def _package_version(package: str) -> str | None:
    from importlib import metadata

    for dist in metadata.packages_distributions().get(package, []):
        try:   # the public version: a local build label (torch's "+cpu") says nothing about the code
            return f"{dist} {metadata.version(dist).split('+')[0]}"
        except metadata.PackageNotFoundError:
            continue
    return None


def named_parameters(cls) -> tuple[dict, bool]:
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
    """Noisy quadratic ``g = h * (w - c) + noise`` per tensor, with exact zeros of both signs planted, and one
    tensor (:data:`FEW_ALIGNED`) where a momentum direction agrees with the gradient at one entry of 1200."""

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
            if i == FEW_ALIGNED:
                # odd steps push along +h, even steps pull back a little: a direction built from the past
                # then agrees with the gradient at one entry of 1200 (a mean of 1/1200, below a 1e-3 clamp)
                g = k * h if t % 2 else -0.05 * k * h
                g[0] = k * h[0]
            signed = torch.where(torch.rand(x.shape, generator=gen) < 0.5, -1.0, 1.0).to(torch.float64)
            out.append(torch.where(zero, 0.0 * signed, g).to(self.dtype))    # zeros of both signs
        return out


@dataclass
class _Trace:
    setting: int
    passed: dict              # keywords varied by the harness for this setting
    hp: dict                  # hyperparameters read back from the target
    w: list                   # w[t] = the target's parameters before step t (float64), w[t+1] after
    g: list                   # g[t] = the gradient handed in at step t (float64)
    nonfinite: tuple | None = None   # (step, parameter) where the target produced nan/inf
    state: list = field(default_factory=list)          # state[t] = the target's state after step t (float64)
    state_dtypes: dict = field(default_factory=dict)   # each floating state tensor's dtype as the target keeps it


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
    named, var_kw = named_parameters(cls)
    needs_eps = "eps" in method.cls.PRESET
    n_betas = method.cls.n_betas
    # a first instance with the user's keywords only: it checks them, and its param group shows
    # which hyperparameters the target has (and how many betas it takes)
    try:
        defaults = cls([torch.nn.Parameter(torch.zeros(2, dtype=problem.dtype))], **target_kw).param_groups[0]
    except Exception as err:  # noqa: BLE001 - any failure of the target is reported in one line
        raise ConformError(f"{name}({_kw_text(target_kw)}) raised {one_line(err)}") from None
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
            raise ConformError(f"{name}({_kw_text({**passed, **target_kw})}) raised {one_line(err)}") from None
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
                raise _StepFailed(f"{name}.step() raised {one_line(err)} (setting {k + 1}, step {t + 1})") \
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
            state, dtypes = state_of(opt, params)
            trace.state.append(state)
            trace.state_dtypes.update(dtypes)
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
    """Our optimizer (with a set of departures: replaced rule pieces, rewired hyperparameters) replaying a
    record."""

    def __init__(self, method: Method, method_kw: dict, traces: list, tol: list):
        self.method, self.method_kw, self.traces, self.tol = method, method_kw, traces, tol
        self._classes, self._optimizers = {}, {}

    @property
    def n_settings(self) -> int:
        return len(self.traces)

    def quiet_settings(self) -> list:
        """The settings without weight decay (where the decay ingredient is inert)."""
        return [k for k, tr in enumerate(self.traces) if tr.hp.get("weight_decay", 0) == 0]

    def key(self, convention: dict, departures: Departures | None) -> tuple:
        """Two combinations with the same key are the same rule (a convention of a mask that is off is inert)."""
        hp = self.hyperparameters(self.traces[0], convention, departures)
        if hp.get("mask") is None:
            hp = {k: v for k, v in hp.items() if k not in rules.CAUTION_KEYS}
        parts = tuple(sorted((departures or Departures()).parts))
        return parts, (departures or Departures()).name, tuple(sorted((k, repr(v)) for k, v in hp.items()))

    def _cls(self, departures: Departures | None):
        if departures is None or not departures.parts:
            return self.method.cls
        key = tuple(sorted((k, id(v)) for k, v in departures.parts.items()))
        if key not in self._classes:
            base = self.method.cls
            parts = rules.PAPER.replace(**departures.parts)
            rule = base.rule

            def patched(ops, w, g, state, hp, t, _rule=rule, _parts=parts):
                return _rule(ops, w, g, state, hp, t, parts=_parts)

            self._classes[key] = type(f"{base.__name__}_{departures.name}", (base,), {"rule": staticmethod(patched)})
        return self._classes[key]

    def _optimizer(self, cls):
        """One instance per class, reused: each replay resets its state and sets its hyperparameters."""
        if cls not in self._optimizers:
            hp = dict(self.hyperparameters(self.traces[0], {}, None), foreach=False, chunk_size=0)
            self._optimizers[cls] = cls([torch.nn.Parameter(x.clone()) for x in self.traces[0].w[0]], **hp)
        return self._optimizers[cls]

    def hyperparameters(self, trace: _Trace, convention: dict, departures: Departures | None) -> dict:
        kw = {k: v for k, v in self.method_kw.items() if k != "beta3"}
        hp = {**self.method.cls.PRESET, **trace.hp, **kw, **convention}
        hp["betas"] = trace.hp["betas"]
        rewire = departures.hp if departures is not None else None
        if rewire is not None:
            hp = rewire(hp)
        return {k: v for k, v in hp.items() if k in self.method.cls.PRESET}

    def run(self, convention: dict, departures: Departures | None = None, early_exit: bool = True,
            settings: Iterable[int] | None = None) -> _Replay:
        opt = self._optimizer(self._cls(departures))
        params = opt.param_groups[0]["params"]
        first, first_res, worst, where = None, 0.0, 0.0, None
        for k in (range(len(self.traces)) if settings is None else settings):
            tr = self.traces[k]
            hp = dict(self.hyperparameters(tr, convention, departures), foreach=False, chunk_size=0)
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


# --------------------------------------------------------------------------
# the result
# --------------------------------------------------------------------------

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
    explained_by: list              # the departures of the first explanation (names)
    explanations: list              # every explanation with the fewest departures: departures and convention
    closest: dict | None            # when nothing explains: the combination that followed the record longest
    search: dict | None             # combinations tried, depth, seconds
    grad_modified: dict | None
    notes: list
    seconds: float = 0.0
    localisation: dict | None = None   # where the target leaves our rule first, read from its state (localise.py)
    precision: dict | None = None      # state kept in a lower precision, compiled code: what and which flags
    stuck: list = field(default_factory=list)   # parameters the target never moves although their gradient is not 0
    nearest: list = field(default_factory=list)  # with closest, the next combinations: where each leaves the record

    def to_dict(self) -> dict:
        return {**asdict(self), "changes_state": self.changes_state}

    @property
    def changes_state(self) -> bool:
        """Whether the explanation has the target change its own state (the momentum) by the mask."""
        return any(c["ingredient"] == "momentum state" for c in (self.explanations[0]["departures"]
                                                                  if self.explanations else ()))

    @property
    def exit_status(self) -> int:
        return 0 if self.verdict == "conforms" else 1

    def convention_text(self) -> str:
        if not self.changed_from_preset:
            return "our preset's own conventions"
        preset = METHODS[self.method].cls.PRESET
        return ", ".join(f"{k}={v!r} (preset {preset.get(k)!r})" for k, v in self.changed_from_preset.items())

    def stuck_text(self) -> str:
        """The parameters the target never moves, first of all findings ("" when none)."""
        return "; ".join(f"parameter {s['parameter']} (shape {s['shape']}) is never updated"
                         + (f" on the {s['path']}" if s.get("path") else "")
                         + f" in setting{'s' * (len(s['settings']) > 1)} {', '.join(map(str, s['settings']))} (its "
                         f"gradient is not 0 at {s['steps_with_gradient']} steps there)" for s in self.stuck)

    def summary(self) -> str:
        """One line: the verdict and what explains it (a parameter never updated first)."""
        head = f"{self.stuck_text()}; " if self.stuck else ""
        if self.verdict == "conforms":
            within = f" within {self.precision['state_words']}" if self.precision and self.precision["state"] else ""
            return f"{head}conforms{within} under {self.convention_text()}"
        d = self.first_departure
        where = (f"step {d['step']} of setting {d['setting']}, parameter {d['parameter']}"
                 f"{' ' + str(d['index']) if d['index'] else ''}")
        if d.get("nonfinite"):
            return f"{head}departs: the target returned {d['target']} at {where} (the reference is finite)"
        return f"{head}departs at {where} ({d['residual']:.2g} lr): {self.diagnosis}"

    def markdown(self) -> str:
        """The report for people as Markdown (``conform --report PATH.md``): the verdict, the identified rule's
        departures with their formulas, where the target leaves our rule, then the report ``conform`` prints."""
        return "\n".join(self._report_head("md") + ["", "```text", self.text(), "```", ""])

    def html(self) -> str:
        """The same as one offline HTML page (``conform --report PATH.html``)."""
        e = html.escape
        body = "\n".join(self._report_head("html"))
        style = ("body { font-family: system-ui, sans-serif; margin: 2em; max-width: 70em; } table { border-collapse: "
                 "collapse; } td, th { border: 1px solid #ccc; padding: .3em .6em; } pre { background: #f6f8fa; "
                 "padding: .6em; white-space: pre-wrap; }")
        return (f"<!doctype html>\n<html lang='en'><head><meta charset='utf-8'><title>conformance of "
                f"{e(self.target)}</title><style>{style}</style></head><body>\n{body}\n<h2>The report</h2>"
                f"<pre>{e(self.text())}</pre></body></html>\n")

    def _report_head(self, fmt: str) -> list:
        """The heading, the verdict line and the departures' table, in Markdown or HTML."""
        e = html.escape if fmt == "html" else (lambda x: str(x).replace("|", "\\|"))
        rows = [(c["ingredient"], c["name"], c["words"], c["formula"])
                for c in (self.explanations[0]["departures"] if self.explanations else [])]
        where = self.localisation and Localisation.from_dict(self.localisation).text()
        lines = [f"Conformance of {self.target} to {self.method}: {self.verdict}", self.summary()]
        if where:
            lines.append(f"localised: {where}")
        heads = ("ingredient", "departure", "in words", "formula")
        if fmt == "md":
            out = [f"# {e(lines[0])}", ""] + [e(x) + "  " for x in lines[1:]]
            if rows:
                out += ["", "| " + " | ".join(heads) + " |", "|---|---|---|---|"]
                out += ["| " + " | ".join(e(x) for x in r[:3]) + f" | `{r[3]}` |" for r in rows]
            return out
        out = [f"<h1>{e(lines[0])}</h1>"] + [f"<p>{e(x)}</p>" for x in lines[1:]]
        if rows:
            out.append("<table><tr>" + "".join(f"<th>{h}</th>" for h in heads) + "</tr>" + "".join(
                "<tr>" + "".join(f"<td>{e(x)}</td>" for x in r[:3]) + f"<td><code>{e(r[3])}</code></td></tr>"
                for r in rows) + "</table>")
        return out

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
        if self.stuck:
            lines.append(f"stuck       {self.stuck_text()}")
        if self.precision:
            p = self.precision
            if p["state"]:
                lines.append(f"precision   the target keeps {p['state_words']}")
            if p["compiled_graphs"]:
                lines.append(f"compiled    the target ran compiled code ({p['compiled_graphs']} graph(s) built while "
                             "it ran)")
            if p["flags"]:
                lines.append(f"            exact comparison: {', '.join(p['flags'])}")
        tol = max(self.tolerance)
        if self.verdict == "conforms" and self.diagnosis:
            lines.append(f"verdict     CONFORMS {self.diagnosis}  (each step from its own state; largest residual of "
                         f"the float64 replay {self.max_residual:.1e} lr)")
            lines.append(f"convention  {self.convention_text()}")
        elif self.verdict == "conforms":
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
            if self.localisation:
                lines.append(f"localised   {Localisation.from_dict(self.localisation).text()}")
            for k, e in enumerate(self.explanations):
                head = "identified " if k == 0 else "or equally "
                conv = f" under {_kw_text(e['convention'])}" if e["convention"] else ""
                lines.append(f"{head} {len(e['departures'])} departure(s) from the paper's rule{conv}:")
                for c in e["departures"]:
                    lines.append(f"              {c['ingredient']}: {c['words']}")
                    lines.append(f"                  {c['formula']}")
            if self.undetermined:
                lines.append(f"            not pinned down by these problems: {', '.join(self.undetermined)}")
            if self.closest:
                c = self.closest
                lines.append(f"closest     {c['name']}" + (f" under {_kw_text(c['convention'])}" if c["convention"]
                                                            else "") + f": follows the record to {c['stops']}")
            for k, n in enumerate(self.nearest[1:], 2):
                lines.append(f"nearest {k}   {n['name']} ({n['formulas']})" + (
                    f" under {_kw_text(n['convention'])}" if n["convention"] else "") + f": to {n['stops']}")
            if self.search:
                lines.append(f"search      {self.search['tried']} combinations of up to {self.search['depth']} "
                             f"departures, {self.search['seconds']:.1f} s")
        if self.grad_modified:
            e = self.grad_modified
            how = "replaced p.grad" if e["replaced"] else f"wrote into p.grad (max change {e['max_change']:.3g})"
            lines.append(f"side effect the target {how}: setting {e['setting']}, step {e['step']}, parameter "
                         f"{e['parameter']}; the record keeps the gradient it was given")
        else:
            lines.append("side effect none: p.grad is left as it was given")
        if self.changes_state:
            lines.append("side effect the target changes its own momentum by the mask (mask_written_into_momentum)")
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
        allowed -= set(rules.CAUTION_KEYS)
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
        raise ConformError(f"method keywords for {method.name}: {one_line(err)}") from None


def _tolerances(traces, dtype) -> list:
    if dtype == torch.float64:
        return [TOLERANCE] * len(traces)
    eps = torch.finfo(dtype).eps
    return [max(TOLERANCE, 16 * eps * max(float(x.abs().max()) for w in tr.w for x in w if x.numel())
                / tr.hp["lr"]) for tr in traces]


def conform(target, method: str, target_kwargs: dict | None = None, method_kwargs: dict | None = None, *,
            seed: int = 0, steps: int = STEPS, depth: int = 3, default_dtype: str | None = None,
            progress: Callable[[str], None] | None = None) -> ConformanceResult:
    """Audit ``target`` (a class or ``"package.module:Class"``) against our preset ``method``.

    ``target_kwargs`` go to the target's constructor in every setting (they win
    over the harness's varied ``lr``/``betas``/``eps``/``weight_decay``);
    ``method_kwargs`` fix hyperparameters or conventions of our side (``lam``,
    ``beta3``, ``scope``, ...; a pinned convention is not searched). ``depth``: the
    most departures an explanation may combine. ``default_dtype`` (``"float64"``)
    is torch's default dtype while the target runs, for code that computes some
    scalars in it. Raises :class:`ConformError` when the target cannot be run.
    """
    import time

    t0 = time.perf_counter()
    progress = progress or (lambda msg: None)
    target_kwargs, method_kwargs = dict(target_kwargs or {}), dict(method_kwargs or {})
    spec = _method(method)
    _check_method_kw(spec, method_kwargs)
    if not isinstance(steps, int) or steps < 1:
        raise ConformError(f"steps must be a positive integer, got {steps!r}")
    if not isinstance(depth, int) or not 0 <= depth <= 6:
        raise ConformError(f"depth must be an integer from 0 to 6, got {depth!r}")
    if default_dtype not in (None, "float32", "float64"):
        raise ConformError(f"default_dtype must be 'float32' or 'float64', got {default_dtype!r}")
    cls = load_target(target)
    notes: list = []
    previous = torch.get_default_dtype()
    if default_dtype:
        torch.set_default_dtype(getattr(torch, default_dtype))
        notes.append(f"torch's default dtype was {default_dtype} while the target ran")
    try:
        rerun = (target, default_dtype) if isinstance(target, str) else None
        return _audit(cls, spec, target_kwargs, method_kwargs, seed, steps, depth, notes, progress, t0, rerun)
    finally:
        torch.set_default_dtype(previous)


def _audit(cls, spec: Method, target_kwargs, method_kwargs, seed, steps, depth, notes, progress, t0, rerun=None):
    """Record, replay and identify (see :func:`conform`); ``rerun``: ``(TARGET, default dtype)`` to record the
    target again in a fresh process with its compiler disabled, when it is named by a string."""
    import time

    dtype = torch.float64
    compiled_before = _compiled_graphs()
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
    precision = _precision(cls, traces, dtype, _compiled_graphs() - compiled_before)
    stuck = _stuck(traces)
    if stuck and precision and precision["compiled_graphs"] and rerun:
        progress("rerunning the target with its compiler disabled (TORCH_COMPILE_DISABLE=1, a fresh process)")
        eager = _eager_moves(rerun, target_kwargs, spec, method_kwargs, seed, steps, stuck)
        for s in stuck:
            s["path"] = {True: "compiled path (the eager path moves it)",
                         False: "compiled and the eager path"}.get(eager, "")
    base = {**spec.cls.PRESET, **method_kwargs}
    axes = _axes(spec, base, method_kwargs)
    conventions = convention_settings(axes)

    progress(f"searching {len(conventions)} conventions")
    replays = _search(ref, conventions)
    matches = [(c, r) for c, r in replays if r.fail is None]
    settings = [dict(passed=tr.passed, read=tr.hp) for tr in traces]
    common = dict(target=_target_name(cls), version=package_version(cls), target_kwargs=target_kwargs, method=spec.name,
                  method_kwargs=method_kwargs, dtype=str(dtype).replace("torch.", ""), steps=steps,
                  settings=settings, tolerance=tol, grad_modified=grad_event, notes=notes, precision=precision,
                  stuck=stuck)
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
                                 diagnosis=None, explained_by=[], explanations=[], closest=None, search=None,
                                 seconds=round(time.perf_counter() - t0, 2), **common)

    progress("localising: each step replayed from the target's own state")
    loc, best_conv = localise(_widened(ref, precision), conventions, spec, (precision or {}).get("rtols"))
    common["localisation"] = loc.to_dict()
    if loc.roles is not None and loc.first is None and precision and precision.get("state"):
        full = ref.run(best_conv, early_exit=False)
        return ConformanceResult(verdict="conforms", convention=best_conv,
                                 changed_from_preset=_changes(best_conv, base),
                                 undetermined=[], max_residual=full.max_residual, first_departure=None,
                                 diagnosis=f"conforms within {precision['state_words']}", explained_by=[],
                                 explanations=[], closest=None, search=None,
                                 seconds=round(time.perf_counter() - t0, 2), **common)
    progress(f"identifying the rule: up to {depth} departures from the paper's")
    found = _identify_localised(ref, spec, axes, depth, progress, loc)
    explanations, undetermined = _grouped(found.explanations, axes, base)
    if explanations:
        conv = explanations[0][1]
        rep = ref.run(conv)            # where the paper's rule, under that convention, leaves the record
    else:                              # the convention under which the paper's rule follows the record longest
        conv, rep = max(replays, key=lambda cr: math.inf if cr[1].fail is None else cr[1].fail)
    if rep.where and rep.where["nonfinite"]:
        diagnosis = "the target produced non-finite values where the reference is finite"
    elif explanations:
        diagnosis = "; ".join(_explained(d) for d, _ in explanations[:1])
        if len(explanations) > 1:
            diagnosis = (f"{len(explanations)} explanations with {len(explanations[0][0])} departure(s) each "
                         "cannot be told apart on these problems: "
                         + " | ".join(_explained(d) + _under(c, base) for d, c in explanations))
        else:
            diagnosis += f" (reproduces every step{_under(conv, base)})"
    else:
        diagnosis = f"no combination of up to {depth} departures in the grammar reproduces the record " \
                    f"({found.tried} tried)"
    closest, nearest = None, []
    if not explanations and found.closest:
        deps, c, r = found.closest
        closest = dict(name=deps.name, departures=[x.to_dict() for x in deps.choices],
                       convention=_changes(c, base), stops=_stops(r), first_failure=r.where,
                       max_residual=ref.run(c, deps, early_exit=False).max_residual)
        nearest = [dict(name=d.name, formulas=", ".join(c.formula for c in d.choices) or "the paper's rule",
                        convention=_changes(cv, base),
                        stops=_stops(rp), first_failure=rp.where) for d, cv, rp in found.nearest]
        named = "; ".join(f"{n['name']}{_under(cv, base)} to {n['stops']}"
                          for n, (_, cv, _) in zip(nearest, found.nearest))
        diagnosis += f"; the nearest, each followed as far as it goes: {named}"
    return ConformanceResult(verdict="departs", convention=conv, changed_from_preset=_changes(conv, base),
                             undetermined=undetermined, max_residual=ref.run(conv, early_exit=False).max_residual,
                             first_departure=rep.where, diagnosis=diagnosis,
                             explained_by=[c.name for c in explanations[0][0].choices] if explanations else [],
                             explanations=[dict(departures=[c.to_dict() for c in d.choices],
                                                convention=_changes(cv, base)) for d, cv in explanations],
                             closest=closest, nearest=nearest, search=dict(tried=found.tried, depth=depth,
                                                          seconds=round(found.seconds, 2)),
                             seconds=round(time.perf_counter() - t0, 2), **common)


LOW_PRECISION_STATE = {"float32", "bfloat16", "float16"}


def _compiled_graphs() -> int:
    """How many graphs torch's compiler has built in this process (0 when it never ran)."""
    import sys
    utils = sys.modules.get("torch._dynamo.utils")
    return int(utils.counters["stats"].get("unique_graphs", 0)) if utils is not None else 0


def _precision(cls, traces, dtype, graphs: int) -> dict | None:
    """What of the target runs below the record's precision: state tensors kept in a lower precision than the
    float64 parameters (their names and dtype, and the relative tolerance of a seeded step, 4 units of their
    rounding), graphs compiled while it ran, and the constructor keywords that would make the comparison exact."""
    if dtype != torch.float64:
        return None
    low = {}
    for tr in traces:
        low.update({name: d for name, d in tr.state_dtypes.items() if d in LOW_PRECISION_STATE})
    if not low and not graphs:
        return None
    named, _ = named_parameters(cls)
    flags = [f"{k}='float64'" for k in named if "dtype" in k.lower()] if low else []
    words = ", ".join(f"{name} in {d}" for name, d in sorted(low.items()))
    out = {"state": low, "rtols": {name: 4 * torch.finfo(getattr(torch, d)).eps for name, d in low.items()},
           "state_words": f"the rounding of its state ({words}; parameters float64)" if low else "",
           "compiled_graphs": graphs, "flags": flags + (["TORCH_COMPILE_DISABLE=1 (eager)"] if graphs else [])}
    return out


def _widened(ref: "_Reference", precision: dict | None) -> "_Reference":
    """``ref`` with each setting's tolerance widened to what a state kept in a lower precision changes in one
    step (16 units of its rounding times the largest step of the setting, in units of lr)."""
    if not precision or not precision.get("state"):
        return ref
    eps = max(torch.finfo(getattr(torch, d)).eps for d in precision["state"].values())
    wide = copy.copy(ref)
    wide.tol = [max(t, 16 * eps * max(float((b - a).abs().max()) for w0, w1 in zip(tr.w, tr.w[1:])
                                      for a, b in zip(w0, w1) if a.numel()) / tr.hp["lr"])
                for t, tr in zip(ref.tol, ref.traces)]
    return wide


def _stuck(traces) -> list:
    """The parameters the target never moves in a setting although their gradient is not 0 at some step there:
    ``{parameter, shape, settings (1-based), steps_with_gradient}``."""
    out = []
    for i in range(len(traces[0].w[0])):
        settings, pushed = [], 0
        for tr in traces:
            steps = sum(int(bool((tr.g[t][i] != 0).any())) for t in range(len(tr.g)))
            if steps and all(torch.equal(tr.w[t + 1][i], tr.w[t][i]) for t in range(len(tr.g))):
                settings.append(tr.setting + 1)
                pushed += steps
        if settings:
            out.append(dict(parameter=i, shape=tuple(SHAPES[i]), settings=settings, steps_with_gradient=pushed))
    return out


_EAGER_RERUN = """
import json, sys
import torch
from ams_theory.audit import conform as cf
a = json.loads(sys.argv[1])
if a["dtype"]:
    torch.set_default_dtype(getattr(torch, a["dtype"]))
traces, _ = cf._record(cf.load_target(a["target"]), a["kw"], cf.METHODS[a["method"]], a["mkw"],
                       cf._Problem(a["seed"], torch.float64), a["steps"], [], lambda msg: None)
print(json.dumps([[s["parameter"], k] for s in cf._stuck(traces) for k in s["settings"]]))
"""


def _eager_moves(rerun, target_kwargs, spec, method_kwargs, seed, steps, stuck) -> bool | None:
    """Whether the target, recorded again in a fresh process with torch's compiler disabled
    (``TORCH_COMPILE_DISABLE=1``, read at import; ``TORCHDYNAMO_DISABLE=1`` for older torch), moves the stuck
    parameters in the settings where the compiled run left them; None when the rerun fails or its keywords cannot
    be passed as JSON."""
    import json
    import os
    import subprocess
    import sys

    target, dtype = rerun
    try:
        args = json.dumps(dict(target=target, kw=target_kwargs, method=spec.name, mkw=method_kwargs, seed=seed,
                               steps=steps, dtype=dtype))
        out = subprocess.run([sys.executable, "-c", _EAGER_RERUN, args], capture_output=True, text=True,
                             timeout=300, env={**os.environ, "TORCH_COMPILE_DISABLE": "1", "TORCHDYNAMO_DISABLE": "1"})
        still = {tuple(x) for x in json.loads(out.stdout.strip().splitlines()[-1])}
    except (TypeError, ValueError, IndexError, subprocess.SubprocessError, OSError):
        return None
    return all((s["parameter"], k) not in still for s in stuck for k in s["settings"])


def _identify_localised(ref, spec: Method, axes, depth, progress, loc):
    """The grammar search, first within the ingredients the localisation found (and the decay), then, when that
    explains nothing, over every ingredient."""
    if loc.choices:
        names = {c.ingredient for c in loc.choices}
        found_in_family = [c for c in loc.choices if c in spec.family]
        within = [dataclasses.replace(i, departures=i.departures + tuple(c for c in found_in_family
                                                                         if c.ingredient == i.name))
                  for i in spec.ingredients if i.name in names or i.decay]
        progress(f"identifying within {', '.join(sorted(names))}")
        found = identify(ref, within, axes, depth, progress)
        if found.explanations:
            return found
    return identify(ref, spec.ingredients, axes, depth, progress)


def _grouped(found: list, axes: list, base: dict) -> tuple[list, list]:
    """One explanation per set of departures (under its convention with the fewest changes from the preset), and
    the convention axes the first set's explanations leave open."""
    groups: dict = {}
    for deps, conv in found:
        groups.setdefault(deps.name, (deps, []))[1].append(conv)
    out = []
    for deps, convs in groups.values():
        convs.sort(key=lambda c: len(_changes(c, base)))
        out.append((deps, convs[0], convs))
    if not out:
        return [], []
    open_keys = {k for c in out[0][2] for k in c if any(c.get(k) != other.get(k) for other in out[0][2])}
    undetermined = [name for name, values in axes if open_keys & {k for v in values for k in v}]
    return [(d, c) for d, c, _ in out], undetermined


def _explained(departures: Departures) -> str:
    return ", ".join(f"{c.name} ({c.formula})" for c in departures.choices)


def _under(convention: dict, base: dict) -> str:
    changes = _changes(convention, base)
    return f" under {_kw_text(changes)}" if changes else ""


def _stops(replay) -> str:
    w = replay.where
    if w is None:
        return "the end"
    return (f"step {w['step']} of setting {w['setting']}, where it leaves it at parameter {w['parameter']}"
            f"{' ' + str(w['index']) if w['index'] else ''} by {w['residual']:.2g} lr")


def _search(ref: _Reference, conventions: list) -> list:
    """Replay the conventions in order (closest to the preset first) until one reproduces the record."""
    runs = []
    for c in conventions:
        runs.append((c, ref.run(c)))
        if runs[-1][1].fail is None:
            break
    return runs


def _changes(convention: dict, base: dict) -> dict:
    return {k: v for k, v in convention.items() if base.get(k) != v}


# --------------------------------------------------------------------------
# the implementations users install
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Peer:
    """An implementation users install, audited as ``method``. ``target`` may name a file inside an installed
    package as ``package/path/file.py:Class`` (loaded by path, without the package's own ``__init__``);
    ``module_settings`` are ``(module, attribute, value)`` set while it runs; ``absent`` says why a row is
    missing when its package is not installed."""

    target: str
    kwargs: dict
    method: str
    method_kwargs: dict = field(default_factory=dict)
    default_dtype: str | None = None
    module_settings: tuple = ()

    @property
    def package(self) -> str:
        return package_of(self.target)


def package_of(target: str) -> str:
    """The installed package a TARGET string names (``package.module:Class`` or ``package/path/file.py:Class``)."""
    return target.split(":")[0].split("/")[0].split(".")[0]


HEAVYBALL = dict(default_dtype="float64", module_settings=(("heavyball.utils", "compile_mode", None),))
PEERS = (
    Peer("pytorch_optimizer:Grams", {}, "grams"),
    Peer("pytorch_optimizer:Grams", {"weight_decouple": False}, "grams"),
    Peer("pytorch_optimizer:Lion", {}, "lion"),
    Peer("pytorch_optimizer:Lion", {"cautious": True}, "clion"),
    Peer("pytorch_optimizer:AdEMAMix", {"alpha": 0.0, "cautious": True, "weight_decouple": True}, "cadamw"),
    Peer("pytorch_optimizer:AdEMAMix", {"alpha": 0.0, "cautious": True}, "cadamw"),
    Peer("lion_pytorch:Lion", {}, "lion"),
    Peer("lion_pytorch:Lion", {"decoupled_weight_decay": True}, "lion"),
    Peer("lion_pytorch.cautious_lion:Lion", {}, "clion"),
    Peer("lion_pytorch.cautious_lion:Lion", {"cautious_factor": 0.3}, "clion", {"lam": 0.3}),
    Peer("timm/optim/adamw.py:AdamWLegacy", {}, "adamw"),
    Peer("timm/optim/adamw.py:AdamWLegacy", {"caution": True}, "cadamw"),
    Peer("timm/optim/lion.py:Lion", {}, "lion"),
    Peer("timm/optim/lion.py:Lion", {"caution": True}, "clion"),
    Peer("grams:Grams", {}, "grams"),
    Peer("heavyball:AdamW", {"storage_dtype": "float64"}, "adamw", **HEAVYBALL),
    Peer("heavyball:AdamW", {"storage_dtype": "float64", "caution": True}, "cadamw", **HEAVYBALL),
    Peer("heavyball:AdamW", {"storage_dtype": "float64", "caution": True, "cautious_weight_decay": True}, "cadamw",
         **HEAVYBALL),
    Peer("torch.optim:AdamW", {}, "adamw"),
    Peer("torch.optim:Adam", {}, "adam"),
)


def peer_target(peer: Peer) -> str:
    """The TARGET string of a peer: a ``package/path/file.py`` is resolved inside the installed package without
    importing it (its ``__init__`` may need what is not installed)."""
    import importlib.util
    import os

    if ".py:" not in peer.target:
        return peer.target
    spec = importlib.util.find_spec(peer.package)
    root = os.path.dirname(spec.origin)
    path, _, cls = peer.target.rpartition(":")
    return os.path.join(root, *path.split("/")[1:]) + ":" + cls


def run_peer(peer: Peer, progress: Callable[[str], None] | None = None) -> ConformanceResult:
    """Audit one peer, with its module settings in place for the run."""
    with module_settings(peer.module_settings):
        return conform(peer_target(peer), peer.method, peer.kwargs, peer.method_kwargs,
                       default_dtype=peer.default_dtype, progress=progress)


@contextlib.contextmanager
def module_settings(settings):
    """Set each ``(module, attribute, value)`` of ``settings`` (heavyball's compile switch, say) while the block
    runs, and put the old values back after it."""
    saved = []
    try:
        for module, attr, value in settings:
            mod = importlib.import_module(module)
            saved.append((mod, attr, getattr(mod, attr)))
            setattr(mod, attr, value)
        yield
    finally:
        for mod, attr, value in reversed(saved):
            setattr(mod, attr, value)


def peer_table(progress: Callable[[str], None] | None = None) -> tuple[list[dict], str]:
    """Run :data:`PEERS` (skipping packages that are not installed); rows and a Markdown table."""
    import importlib.util

    rows = []
    for peer in PEERS:
        if importlib.util.find_spec(peer.package) is None:
            continue
        row = dict(target=peer.target, kwargs=peer.kwargs, method=peer.method, method_kwargs=peer.method_kwargs)
        try:
            result = run_peer(peer, progress)
        except ConformError as err:
            rows.append(dict(row, version=None, verdict="error", summary=str(err)))
            continue
        rows.append(dict(row, version=result.version, verdict=result.verdict,
                         summary=_peer_summary(result)))
    lines = ["| package | class (keywords) | as | verdict | convention or departures found |",
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
        text = " + ".join(result.explained_by) + "".join(
            f"; {k}={v!r}" for k, v in result.changed_from_preset.items())
    else:
        text = result.diagnosis
    if result.undetermined:
        text += f" (not pinned down: {', '.join(result.undetermined)})"
    if result.grad_modified:
        text += "; replaces p.grad" if result.grad_modified["replaced"] else "; writes into p.grad"
    return text
