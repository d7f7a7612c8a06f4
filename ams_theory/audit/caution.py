r"""Caution on any base optimizer: does a package's caution switch compute the paper's mask?

The Cautious optimizers paper (Algorithm 1/2, eq. (1)) states the rule for any base optimizer: take the base
update ``u``, mask it by ``phi = 1(u o g > 0)`` and rescale. ``audit_caution(TARGET)`` checks a class that
carries a caution switch (``caution``, ``cautious``, ...) by a *differential* check:

1. **Record.** The target runs with the switch on for :data:`WARMUP` steps, then :data:`STEPS` more, on float64
   tensors of shapes :data:`SHAPES` (a 0-d and a 1-element one among them) in one parameter group, with gradients
   of a noisy quadratic holding exact zeros of both signs (and, on the ``(1200,)`` tensor, alternate steps that
   oppose the momentum at all but one entry, so a clamp of the mask's mean shows). Before each of the last
   ``steps`` steps, the driver's ``state_dict()`` is loaded into two fresh instances built with the switch off
   and on (the group keys in which the two constructions differ are put back after loading), each takes the step
   from the same parameters ``w`` and gradient ``g``: ``u = w - w_off`` and ``u_c = w - w_on`` (descent
   directions). The on-instance's step must equal the driver's, else the state does not carry over.
2. **Conventions.** ``u_c = s phi o u`` with ``phi = 1(u o g > 0)`` (tie ``>``), ``1(u o g >= 0)`` or
   ``signbit(u) == signbit(g)``, one scale ``s`` per tensor or per group, fitted, then named: ``1``,
   ``d / nnz`` (eq. (1), xi = 0), ``d / (nnz + 1)`` (xi = 1), ``1 / (mean(phi) + eps)`` (Algorithm 1) or
   ``1 / max(mean(phi), c)``.
   A decoupled decay term ``e = lr wd w`` belongs outside the mask (Algorithm 2, line 13, with the rescaled step;
   or with ``lr``): ``u_c = s phi o (u - e) + s e`` or ``+ e`` conforms; a decay masked with the step departs.
3. **Diagnosis**, when no convention matches: the decay term ``lr wd w`` outside the mask; a mask that
   compares ``u`` with something other than ``g`` (the first moment, found among the state tensors as the one
   that follows ``m' = a m + b g``; ``u`` itself; ``w``; ``g + wd w``) or compares the first moment with ``g``;
   a mask that can never fire (``u o g > 0`` wherever ``u != 0``); a switch that changes nothing. Apart from the
   step, the state after the off-step and the on-step is compared: a state tensor that differs is one the mask
   writes into.
"""
from __future__ import annotations

import copy
import importlib.util
import inspect
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch

from ams_theory.audit.conform import (HEAVYBALL, ConformError, Peer, named_parameters, one_line, package_version,
                                      load_target, module_settings, package_of, peer_target)

__all__ = ["audit_caution", "CautionResult", "CAUTIOUS_CLASSES", "CautiousClass", "caution_peer_table",
           "run_cautious_class", "find_switch", "SWITCH_NAMES"]

SWITCH_NAMES = ("caution", "cautious", "use_caution", "use_cautious", "cautious_update", "cautious_mask")
SHAPES = ((), (1,), (7,), (4, 5), (2, 3, 2), (1200,))
FEW_ALIGNED = 5          # the tensor whose gradient, on even steps, opposes a momentum direction at all but one entry
WARMUP = 6
STEPS = 8
WEIGHT_DECAY = 0.1       # set when the target takes ``weight_decay`` and the caller did not: the decay term shows
TOLERANCE = 1e-10        # a step residual, relative to the step's largest entry
SCALE_TOLERANCE = 1e-9   # a fitted scale against a named rescaling, relative
TIES = {">": "phi = 1(u o g > 0)", ">=": "phi = 1(u o g >= 0)", "signbit": "phi = signbit(u) = signbit(g)"}


class _Problem:
    """Noisy quadratic ``g = h (w - c) + noise / 2`` per tensor with exact zeros of both signs planted; on tensor
    :data:`FEW_ALIGNED` odd steps push along ``h`` and even steps pull back by ``0.05 h`` except at entry 0."""

    def __init__(self, seed: int):
        gen = torch.Generator().manual_seed(seed)
        self.seed = seed
        self.w0 = [torch.randn(s, generator=gen, dtype=torch.float64) for s in SHAPES]
        self.h = [torch.rand(s, generator=gen, dtype=torch.float64) + 0.5 for s in SHAPES]
        self.c = [torch.randn(s, generator=gen, dtype=torch.float64) for s in SHAPES]

    def gradient(self, w: list, t: int) -> list:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + t)
        out = []
        for i, (x, h, c) in enumerate(zip(w, self.h, self.c)):
            g = h * (x.detach() - c) + 0.5 * torch.randn(x.shape, generator=gen, dtype=torch.float64)
            zero = torch.rand(x.shape, generator=gen) < 0.25 if x.dim() > 1 else torch.zeros(x.shape, dtype=torch.bool)
            if i == 0:
                zero[...] = t % 3 == 2                          # the scalar's gradient is 0 every third step
            elif i == 2:
                zero[[2, 5]] = True                             # two entries that never get a gradient
            elif i == FEW_ALIGNED:
                g = h.clone() if t % 2 else -0.05 * h
                g[0] = h[0]
            signed = torch.where(torch.rand(x.shape, generator=gen) < 0.5, -1.0, 1.0).to(torch.float64)
            out.append(torch.where(zero, 0.0 * signed, g))       # zeros of both signs
        return out


# --------------------------------------------------------------------------
# the switch and the record
# --------------------------------------------------------------------------

def find_switch(cls, switch: str | None) -> str:
    """The caution keyword of ``cls``: ``switch`` when given, else the one of :data:`SWITCH_NAMES` it names (or, for
    a constructor taking ``**kwargs``, the one its module's source reads as ``'name'``)."""
    named, var_kw = named_parameters(cls)
    name = f"{cls.__module__}.{cls.__qualname__}"
    if switch is not None:
        if switch not in named and not var_kw:
            raise ConformError(f"TARGET {name} has no keyword {switch!r}; it takes: {', '.join(named) or 'none'}")
        return switch
    found = [s for s in SWITCH_NAMES if s in named]
    if not found and var_kw:
        source = inspect.getsource(inspect.getmodule(cls))
        found = [s for s in SWITCH_NAMES if f"'{s}'" in source or f'"{s}"' in source]
    if not found:
        raise ConformError(f"TARGET {name} has no caution switch (none of {', '.join(SWITCH_NAMES)}); it takes: "
                           f"{', '.join(named) or 'no keywords'}; name one with --switch NAME")
    return found[0]


@dataclass
class _Check:
    """One checked step: ``w`` before, ``g``, the off- and on-steps ``u = w - w_off``, ``u_c = w - w_on``, the
    state before and after each, and the group's ``lr`` and ``weight_decay``."""

    t: int
    w: list
    g: list
    u: list
    u_c: list
    state_before: list
    state_off: list
    state_on: list
    lr: float
    wd: float


def _tensors(state: dict, params: list) -> list:
    """Per parameter: its state tensors of the parameter's shape, cloned (name -> tensor)."""
    out = []
    for p in params:
        out.append({k: v.detach().clone().double() for k, v in state.get(p, {}).items()
                    if torch.is_tensor(v) and v.shape == p.shape and v.is_floating_point()})
    return out


def _build(cls, params: list, kwargs: dict, switch: str, on: bool):
    try:
        return cls([{"params": params}], **kwargs, **{switch: on})
    except Exception as err:  # noqa: BLE001 - a constructor that refuses is the caller's or the target's error
        raise ConformError(f"TARGET {cls.__qualname__}({_kw_text({**kwargs, switch: on})}) raised "
                           f"{one_line(err)}") from None


def _step(opt, params: list, g: list) -> list:
    """Take one step with gradient ``g``; the descent direction ``w_before - w_after`` per tensor."""
    before = [p.detach().clone() for p in params]
    for p, gi in zip(params, g):
        p.grad = gi.clone()
    try:
        opt.step()
    except Exception as err:  # noqa: BLE001 - a crash inside the target
        raise ConformError(f"TARGET {type(opt).__qualname__}.step() raised {one_line(err)}") from None
    return [b - p.detach() for b, p in zip(before, params)]


def _group_differences(cls, kwargs: dict, switch: str) -> dict:
    """The param-group keys in which the off- and on-constructions differ, with the off values."""
    off = _build(cls, [torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))], kwargs, switch, False)
    on = _build(cls, [torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))], kwargs, switch, True)
    differ = {}
    for key, value in off.param_groups[0].items():
        try:
            same = key == "params" or bool(value == on.param_groups[0].get(key))
        except Exception:  # noqa: BLE001 - values that do not compare are not switches
            same = True
        if not same:
            differ[key] = value
    return differ


def _probe(cls, kwargs: dict, switch: str, on: bool, saved: dict, w: list, g: list, off_keys: dict):
    """A fresh instance with the switch ``on``, the driver's state loaded, one step from ``w``: (u, state)."""
    params = [torch.nn.Parameter(x.clone()) for x in w]
    opt = _build(cls, params, kwargs, switch, on)
    opt.load_state_dict(copy.deepcopy(saved))
    if not on:
        for group in opt.param_groups:
            group.update(off_keys)
    u = _step(opt, params, g)
    return u, _tensors(opt.state, params)


def _record(cls, kwargs: dict, switch: str, seed: int, steps: int, progress) -> list:
    """The driver (switch on) runs :data:`WARMUP` + ``steps`` steps; each of the last ``steps`` is probed."""
    problem = _Problem(seed)
    params = [torch.nn.Parameter(x.clone()) for x in problem.w0]
    driver = _build(cls, params, kwargs, switch, True)
    off_keys = _group_differences(cls, kwargs, switch)
    checks = []
    for t in range(WARMUP + steps):
        g = problem.gradient(params, t)
        if t < WARMUP:
            _step(driver, params, g)
            continue
        w, saved = [p.detach().clone() for p in params], copy.deepcopy(driver.state_dict())
        before = _tensors(driver.state, params)
        u, state_off = _probe(cls, kwargs, switch, False, saved, w, g, off_keys)
        u_c, state_on = _probe(cls, kwargs, switch, True, saved, w, g, off_keys)
        group = driver.param_groups[0]
        own = _step(driver, params, g)
        if any(not _close(a, b, _scale(own)) for a, b in zip(own, u_c)):
            raise ConformError(f"TARGET {cls.__qualname__}: a fresh instance given its state_dict() takes another "
                               f"step than the instance itself (state kept outside state_dict?)")
        checks.append(_Check(t, w, g, u, u_c, before, state_off, state_on, float(group.get("lr", 0.0)),
                             float(group.get("weight_decay", 0.0) or 0.0)))
        progress(f"step {t}: recorded the off- and on-steps")
    return checks


def _scale(u: list) -> float:
    return max((x.abs().max().item() for x in u if x.numel()), default=0.0) or 1.0


def _close(a, b, scale: float) -> bool:
    return bool(((a - b).abs() <= TOLERANCE * scale).all())


# --------------------------------------------------------------------------
# the conventions
# --------------------------------------------------------------------------

def _mask(tie: str, a, b):
    """``phi = 1(a o b > 0)``, ``1(a o b >= 0)`` or ``signbit(a) = signbit(b)`` (as float64)."""
    if tie == ">":
        return (a * b > 0).double()
    if tie == ">=":
        return (a * b >= 0).double()
    return (torch.signbit(a) == torch.signbit(b)).double()


def _units(scope: str, tensors: list) -> list:
    """The tensors of one check grouped by scope: each tensor alone, or the whole group flattened."""
    flat = [x.reshape(-1) for x in tensors]
    return [[x] for x in flat] if scope == "tensor" else [flat]


def _fit_scales(checks: list, tie: str, scope: str, reference, unmasked, rescaled_term=False) -> list | None:
    """Per check and unit, with ``x = phi o (u - e)`` (``e`` the unmasked term, ``u - e`` within rounding of 0 taken
    as +0): the least-squares ``s`` of ``u_c - e = s x`` (``rescaled_term``: of ``u_c = s (x + e)``, the term taking
    the mask's rescaled step too, as Algorithm 2's decay does) and ``(s, nnz, d)``; ``None`` when some unit leaves a
    residual (or ``x = 0``, ``u_c != e``)."""
    records = []
    for check in checks:
        e = unmasked(check)
        scale = _scale(check.u)
        u = [torch.where((ui - ei).abs() <= TOLERANCE * scale, 0.0, ui - ei) for ui, ei in zip(check.u, e)]
        a, b = reference(check, u)
        parts = [(ui, uci if rescaled_term else uci - ei, _mask(tie, ai, bi), ei if rescaled_term else 0 * ei)
                 for ui, uci, ei, ai, bi in zip(u, check.u_c, e, a, b)]
        for unit in zip(*(_units(scope, [p[k] for p in parts]) for k in range(4))):
            u, u_c, phi, term = (torch.cat(x) for x in unit)
            x = phi * u + term
            norm = float(x @ x)
            s = float(u_c @ x) / norm if norm > 0 else None
            if not _close(u_c, (s or 0.0) * x, scale):
                return None
            if s is not None:
                records.append((s, float(phi.sum()), phi.numel()))
    return records


def _rescalings(records: list) -> list:
    """The named rescalings every ``(s, nnz, d)`` fits: ``1``, ``d / nnz``, ``d / (nnz + 1)``,
    ``1 / (mean + eps)`` (one ``eps`` > 0; not when ``d / (nnz + 1)`` fits, which it equals for one ``d``),
    ``1 / max(mean, c)`` (one ``c``, seen to bind)."""
    def each(f):
        return all(abs(f(s, n, d) - 1) <= SCALE_TOLERANCE for s, n, d in records)

    found = [name for name, f in (("none", lambda s, n, d: s), ("d / nnz", lambda s, n, d: s * n / d),
                                  ("d / (nnz + 1)", lambda s, n, d: s * (n + 1) / d)) if each(f)]
    gaps = [1 / s - n / d for s, n, d in records]
    steady = bool(gaps) and min(gaps) > 1e-13 and max(gaps) - min(gaps) <= 1e-12 + 1e-9 * max(gaps)
    if steady and not {"d / nnz", "d / (nnz + 1)"} & set(found):
        found.append(f"1 / (mean + {sum(gaps) / len(gaps):.3g})")
    bound = [(1 / s, n / d) for s, n, d in records if abs(s * n / d - 1) > SCALE_TOLERANCE]
    if bound and "none" not in found:
        c = bound[0][0]
        if all(abs(v - c) <= SCALE_TOLERANCE * c and m < c for v, m in bound) and all(
                n / d >= c for s, n, d in records if abs(s * n / d - 1) <= SCALE_TOLERANCE):
            found.append(f"1 / max(mean, {c:.3g})")
    return found


def _conventions(checks: list, reference, unmasked, rescaled_term=False) -> list:
    """Every ``(tie, scope, rescaling)`` that reproduces all the checked on-steps."""
    out, unnamed = [], []
    for tie in TIES:
        for scope in ("tensor", "group"):
            records = _fit_scales(checks, tie, scope, reference, unmasked, rescaled_term)
            if records is not None:
                out += [(tie, scope, r) for r in _rescalings(records)]
                unnamed.append((tie, scope, _unnamed(records)))
    return out or unnamed        # a factor no named rescaling gives only when none fits anywhere


UNNAMED = "the mask matches, but the step is rescaled by a factor none of the paper's rescalings gives"
SWITCH_INERT = "the switch changes nothing: u_c = u at every entry, although u o g <= 0 at some"


def _unnamed_only(matches: list) -> bool:
    return all(m[2].startswith("a factor") for m in matches)


def _unnamed(records: list) -> str:
    """A per-unit factor that fits but is none of the named rescalings (a trust ratio, say), with its range."""
    scales = [s for s, _, _ in records]
    return f"a factor none of the named rescalings gives (from {min(scales):.3g} to {max(scales):.3g})"


def _convention_text(matches: list) -> str:
    """``u_c = phi o u * (rescaling) per scope, phi = 1(u o g > 0)``, naming what the record cannot tell apart."""
    ties = sorted({m[0] for m in matches}, key=list(TIES).index)
    rescalings = list(dict.fromkeys(m[2] for m in matches))
    scopes = sorted({m[1] for m in matches if m[2] != "none"}) or ["any"]
    text = TIES[ties[0]]
    text += f", rescaled by {rescalings[0]} per {scopes[0]}" if rescalings[0] != "none" else ", not rescaled"
    loose = [f"tie: {' / '.join(ties)}"] * (len(ties) > 1) + [f"rescaling: {' / '.join(rescalings)}"] * (
        len(rescalings) > 1) + [f"scope: {' / '.join(scopes)}"] * (len(scopes) > 1)
    return text + (f" (not pinned down: {'; '.join(loose)})" if loose else "")


def _gradient(check, u):
    """The paper's mask: ``u`` (the masked part of the step) against ``g``."""
    return u, check.g


def _no_term(check):
    return [torch.zeros_like(x) for x in check.u]


def _decay_term(check):
    """The decoupled decay's share of the step, ``e = lr wd w`` (descent direction)."""
    return [check.lr * check.wd * x for x in check.w]


# --------------------------------------------------------------------------
# the diagnoses
# --------------------------------------------------------------------------

def _momentum_keys(checks: list) -> list:
    """The state tensors that follow ``m' = a m + b g`` (one ``a``, ``b != 0`` per step, all tensors at once)."""
    keys = set.intersection(*(set(s) for s in checks[0].state_off)) if checks[0].state_off else set()
    found = []
    for key in sorted(keys):
        ok = True
        for c in checks:
            if not all(key in s for s in c.state_before):
                ok = False
                break
            m0 = torch.cat([s[key].reshape(-1) for s in c.state_before])
            m1 = torch.cat([s[key].reshape(-1) for s in c.state_off])
            g = torch.cat([x.reshape(-1) for x in c.g])
            coef = torch.linalg.lstsq(torch.stack([m0, g], 1), m1[:, None]).solution[:, 0]
            ok = abs(coef[1].item()) > 1e-12 and _close(m1, coef[0] * m0 + coef[1] * g, m1.abs().max().item() or 1)
            if not ok:
                break
        if ok:
            found.append(key)
    return found


def _references(checks: list) -> list:
    """Masks ``1(a o b > 0)`` other than the paper's ``a = u, b = g``: ``a`` is ``u`` or a first moment (after or
    before its update), ``b`` is ``g``, ``g + wd w``, a first moment, ``u`` or ``w``; each ``(words, (a, b))``."""
    moments = [(f"the first moment {k!r}{when}", lambda c, u, k=k, at=at: [s[k] for s in getattr(c, at)])
               for k in _momentum_keys(checks)
               for when, at in ((" (after its update)", "state_off"), (" (before its update)", "state_before"))]
    sides = [("u", lambda c, u: u)] + moments
    others = [("g", lambda c, u: c.g)] + [("g + wd w (the decay coupled into the gradient)",
                                           lambda c, u: [g + c.wd * w for g, w in zip(c.g, c.w)])] * bool(
        checks[0].wd) + moments + [("u itself (u != 0)", lambda c, u: u), ("the parameter w", lambda c, u: c.w)]
    return [(f"compares {a_words} with {b_words}", lambda c, u, a=a, b=b: (a(c, u), b(c, u)))
            for a_words, a in sides for b_words, b in others
            if a_words != b_words and (a_words, b_words) != ("u", "g")]


def _never_fires(checks: list, unmasked=None) -> bool:
    """``x o g > 0`` at every checked entry where ``x != 0``, ``x = u`` (or ``u - e`` without the ``unmasked`` term,
    the part a mask acts on): no tie convention masks anything."""
    def part(c):
        return c.u if unmasked is None else [a - b for a, b in zip(c.u, unmasked(c))]
    scale = max(_scale(c.u) for c in checks)
    return all(bool(((x.abs() <= TOLERANCE * scale) | (x * g > 0)).all()) if unmasked is not None
               else bool(((x == 0) | (x * g > 0)).all()) for c in checks for x, g in zip(part(c), c.g))


def _unchanged(checks: list) -> bool:
    return all(_close(a, b, _scale(c.u)) for c in checks for a, b in zip(c.u, c.u_c))


def _state_writes(checks: list) -> list:
    """The state tensors that differ after the on-step from after the off-step (the same state before)."""
    keys = []
    for c in checks:
        for off, on in zip(c.state_off, c.state_on):
            for key in off:
                if key in on and key not in keys and not _close(off[key], on[key], off[key].abs().max().item() or 1):
                    keys.append(key)
    return keys


def _diagnose(checks: list, cls, kwargs: dict, switch: str, seed: int, steps: int, progress) -> tuple[list, list]:
    """When no convention reproduces ``u_c`` from ``u`` and ``g``: (what explains it, its conventions). Tried in
    turn: ``u_c - e = mask(u - e)`` with the decay term ``e`` left out, then each other reference, without and
    with ``e``; a decay term found is confirmed by a rerun with ``weight_decay=0``."""
    terms = [(None, _no_term)] + [("decay", _decay_term)] * bool(checks[0].wd)
    for words, reference in [(None, _gradient)] + _references(checks):
        for term, unmasked in terms:
            matches = _conventions(checks, reference, unmasked) if words or term else []
            if matches:
                return [f"the mask {words}"] * bool(words) + [_decay_words(
                    _record(cls, {**kwargs, "weight_decay": 0.0}, switch, seed, steps, progress), reference)
                ] * bool(term), matches
    return [_first_mismatch(checks)], []


def _decay_words(checks_without_decay: list, reference) -> str:
    """The decay finding (outside the mask, as Algorithm 2 has it), with what the rerun at ``weight_decay=0``
    shows."""
    if _never_fires(checks_without_decay):
        return ("the decay term lr*wd*w is outside the mask, as in Algorithm 2 (with weight_decay=0 the mask never "
                "fires: u o g > 0 wherever u != 0)")
    whole = bool(_conventions(checks_without_decay, reference, _no_term))
    return ("the decay term lr*wd*w is outside the mask, as in Algorithm 2" + (
        " (with weight_decay=0 the whole step is masked)" if whole else " (with weight_decay=0 the mask still misses)"))


def _first_mismatch(checks: list) -> str:
    """Where the paper's plain mask ``u_c = 1(u o g > 0) o u`` first misses, with the numbers."""
    for c in checks:
        for i, (u, u_c, g) in enumerate(zip(c.u, c.u_c, c.g)):
            want = _mask(">", u, g) * u
            bad = ((u_c - want).abs() > TOLERANCE * _scale(c.u)) & ((u_c - u).abs() > TOLERANCE * _scale(c.u))
            if bad.any():
                j = tuple(int(k) for k in bad.nonzero()[0]) if u.dim() else ()
                return (f"no convention or diagnosis reproduces the cautious step; e.g. step {c.t}, tensor "
                        f"{tuple(u.shape)} entry {j}: u={u[j].item():.3g}, g={c.g[i][j].item():.3g}, "
                        f"u_c={u_c[j].item():.3g}")
    return "no convention or diagnosis reproduces the cautious step (every single entry is either u or masked u)"


# --------------------------------------------------------------------------
# the audit
# --------------------------------------------------------------------------

@dataclass
class CautionResult:
    target: str
    version: str | None
    switch: str
    kwargs: dict                    # as run (with weight_decay set when the target takes it and none was given)
    verdict: str                    # "conforms" | "departs" | "never fires"
    convention: str | None          # the matching mask, in words
    matches: list                   # every (tie, scope, rescaling) that matches
    diagnosis: list                 # what explains a departure, in words
    state_writes: list              # state tensors the mask changes
    steps: int
    method: str = ("two fresh instances, switch off and on, loaded with the driver's state_dict() before each "
                   "checked step")
    seconds: float = 0.0
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def exit_status(self) -> int:
        return 0 if self.verdict == "conforms" else 1

    def summary(self) -> str:
        """One line: the convention, or what departs."""
        parts = list(self.diagnosis)
        if self.convention:
            parts.append(("under " if not self.diagnosis else "otherwise ") + self.convention)
        parts += [f"the mask writes into the state {k!r}" for k in self.state_writes]
        return "; ".join(parts)

    def text(self) -> str:
        """The readable report printed by ``ams-theory conform --caution``."""
        lines = [f"target      {self.target}" + (f" ({self.version})" if self.version else ""),
                 f"switch      {self.switch}" + (f"  keywords {_kw_text(self.kwargs)}" if self.kwargs else ""),
                 f"check       {WARMUP} warm-up steps, {self.steps} checked steps on tensors "
                 f"{', '.join(map(str, SHAPES))}; {self.method}",
                 f"verdict     {self.verdict.upper()}",
                 f"found       {self.summary()}"]
        lines += [f"note        {n}" for n in self.notes]
        return "\n".join(lines)


def _kw_text(kw: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kw.items())


def _resolve(target):
    """``package/path/file.py:Class`` inside an installed package (not a file here) -> the file's full path."""
    import os

    if not isinstance(target, str) or ".py:" not in target or os.path.isfile(target.rpartition(":")[0]):
        return target
    peer = Peer(target, {}, "")
    return peer_target(peer) if importlib.util.find_spec(peer.package) else target


def audit_caution(target, target_kwargs: dict | None = None, switch: str | None = None, *, seed: int = 0,
                  steps: int = STEPS, default_dtype: str | None = None,
                  progress: Callable[[str], None] | None = None) -> CautionResult:
    """Check ``target``'s caution switch against the paper's mask (see the module's docstring)."""
    t0 = time.perf_counter()
    progress = progress or (lambda msg: None)
    if steps < 1:
        raise ConformError(f"steps {steps!r}: expected at least 1")
    cls = load_target(_resolve(target))
    switch = find_switch(cls, switch)
    kwargs, notes = dict(target_kwargs or {}), []
    if switch in kwargs:
        raise ConformError(f"--kw {switch}: the switch is set by the audit (off and on), give it no value")
    if "weight_decay" in named_parameters(cls)[0] and "weight_decay" not in kwargs:
        kwargs["weight_decay"] = WEIGHT_DECAY
        notes.append(f"weight_decay={WEIGHT_DECAY} set so that the decay term shows")
    previous = torch.get_default_dtype()
    if default_dtype:
        torch.set_default_dtype(getattr(torch, default_dtype))
    try:
        checks = _record(cls, kwargs, switch, seed, steps, progress)
        verdict, convention, matches, diagnosis = _judge(checks, cls, kwargs, switch, seed, steps, progress)
    finally:
        torch.set_default_dtype(previous)
    writes = _state_writes(checks)
    if writes and verdict == "conforms":
        verdict = "departs"
    return CautionResult(target if isinstance(target, str) else f"{cls.__module__}:{cls.__qualname__}",
                         package_version(cls), switch, kwargs, verdict, convention, matches, diagnosis, writes, steps,
                         seconds=round(time.perf_counter() - t0, 2), notes=notes)


DECAY_OUTSIDE = (("the decay lr*wd*w outside the mask, with the rescaled step (Algorithm 2, line 13)", True),
                 ("the decay lr*wd*w outside the mask, with lr (decoupled decay applied apart)", False))


def _decay_outside(checks) -> tuple:
    """``(words, matches)`` when the on-step is the paper's mask on ``u`` with the decay term outside it (with the
    rescaled step, as Algorithm 2 writes it, or with lr); ``(None, [])`` otherwise or without decay."""
    if not checks[0].wd:
        return None, []
    found = [(words, m) for words, rescaled in DECAY_OUTSIDE
             for m in [_conventions(checks, _gradient, _decay_term, rescaled)] if m]
    if len(found) > 1:        # a step that is not rescaled cannot tell the two apart
        return "the decay lr*wd*w outside the mask (with lr or the rescaled step: not told apart)", found[0][1]
    return found[0] if found else (None, [])


def _judge(checks, cls, kwargs, switch, seed, steps, progress) -> tuple:
    """(verdict, convention text, matches, diagnosis) from the recorded checks: the paper's mask on the base step
    ``u``, with a decoupled decay term outside it as Algorithm 2 has it; a decay term masked with the step is a
    departure."""
    if _never_fires(checks):
        matches = _conventions(checks, _gradient, _no_term)
        what = ("u_c = u" if _unchanged(checks) else
                f"u_c = u {_convention_text(matches).split(', ', 1)[1]}" if matches else "u_c is not a rescaled u")
        return "never fires", None, matches, [f"the mask never fires: u o g > 0 wherever u != 0 at every checked "
                                              f"entry, so caution changes nothing but the scale ({what})"]
    if _unchanged(checks) and checks[0].wd and _never_fires(checks, _decay_term):
        return "never fires", None, [], ["the mask never fires on the step without its decay term (u - lr*wd*w has "
                                         "the gradient's sign wherever it is not 0), and the decay stays outside the "
                                         "mask, as in Algorithm 2: caution changes nothing for this base"]
    if _unchanged(checks):              # before any reference: u against itself would 'explain' an inert switch
        return "departs", None, [], [SWITCH_INERT]
    words, matches = _decay_outside(checks)
    if matches and _unnamed_only(matches):
        return "departs", f"{_convention_text(matches)}; {words}", matches, [UNNAMED]
    if matches:
        return "conforms", f"{_convention_text(matches)}; {words}", matches, []
    matches = _conventions(checks, _gradient, _no_term)
    if matches and checks[0].wd:
        return "departs", _convention_text(matches), matches, [
            "the decay term lr*wd*w is masked with the step (Algorithm 2 applies it outside the mask, line 13)"] + \
            [UNNAMED] * _unnamed_only(matches)
    if matches:
        return ("departs", _convention_text(matches), matches, [UNNAMED]) if _unnamed_only(matches) else (
            "conforms", _convention_text(matches), matches, [])
    diagnosis, matches = _diagnose(checks, cls, kwargs, switch, seed, steps, progress)
    return "departs", _convention_text(matches) if matches else None, matches, diagnosis


# --------------------------------------------------------------------------
# the cautious classes users install
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class CautiousClass:
    """A class with a caution switch in an installed package; ``target`` as in :class:`conform.Peer`."""

    target: str
    switch: str
    kwargs: dict = field(default_factory=dict)
    default_dtype: str | None = None
    module_settings: tuple = ()

    @property
    def package(self) -> str:
        return package_of(self.target)


_HB_KW = {"storage_dtype": "float64"}
CAUTIOUS_CLASSES = (
    *(CautiousClass(f"timm/optim/{f}.py:{c}", "caution", kw) for f, c, kw in (
        ("adafactor", "Adafactor", {"lr": 1e-2, "betas": (0.9, 0.999)}),
        ("adafactor_bv", "AdafactorBigVision", {"lr": 1e-2}),
        ("adamp", "AdamP", {}), ("adamw", "AdamWLegacy", {}), ("adan", "Adan", {}), ("adopt", "Adopt", {}),
        ("lamb", "Lamb", {}), ("laprop", "LaProp", {}), ("lion", "Lion", {}), ("mars", "Mars", {}),
        ("nadamw", "NAdamW", {}), ("rmsprop_tf", "RMSpropTF", {"momentum": 0.9}),
        ("sgdp", "SGDP", {"lr": 1e-2, "momentum": 0.9}), ("sgdw", "SGDW", {"lr": 1e-2, "momentum": 0.9}))),
    *(CautiousClass(f"heavyball:{c}", "caution", _HB_KW, **HEAVYBALL) for c in (
        "AdamW", "NAdam", "ADOPT", "LaProp", "RMSprop", "SGD", "SignLaProp", "AdEMAMix", "UnscaledAdamW")),
    *(CautiousClass(f"pytorch_optimizer:{c}", "cautious", kw) for c, kw in (
        ("AdaFactor", {"betas": (0.9, 0.999)}), ("AdamP", {}), ("AdaShift", {}), ("AdEMAMix", {}), ("ADOPT", {}),
        ("LaProp", {}), ("Lion", {}), ("MARS", {}))),
)


def run_cautious_class(entry: CautiousClass, progress: Callable[[str], None] | None = None) -> CautionResult:
    """Audit one installed cautious class, with its module settings in place for the run."""
    with module_settings(entry.module_settings):
        return audit_caution(entry.target, entry.kwargs, entry.switch,
                             default_dtype=entry.default_dtype, progress=progress)


def caution_peer_table(progress: Callable[[str], None] | None = None) -> tuple[list[dict], str]:
    """Audit :data:`CAUTIOUS_CLASSES`; rows and a Markdown table (a package not installed: a row saying so)."""
    rows = []
    for entry in CAUTIOUS_CLASSES:
        row = dict(target=entry.target, switch=entry.switch, kwargs=entry.kwargs)
        if importlib.util.find_spec(entry.package) is None:
            rows.append(dict(row, version=entry.package, verdict="skipped", summary="package not installed"))
            continue
        try:
            r = run_cautious_class(entry, progress)
        except ConformError as err:
            rows.append(dict(row, version=None, verdict="error", summary=str(err)))
            continue
        rows.append(dict(row, version=r.version, verdict=r.verdict, summary=r.summary(), seconds=r.seconds))
    lines = ["| package | class (keywords) | switch | verdict | convention or diagnosis |", "|---|---|---|---|---|"]
    for r in rows:
        kw = {k: v for k, v in r["kwargs"].items() if k != "storage_dtype"}
        klass = f"`{r['target']}`" + (f" ({_kw_text(kw)})" if kw else "")
        lines.append(f"| {r['version'] or '?'} | {klass} | {r['switch']} | {r['verdict']} | {r['summary']} |")
    return rows, "\n".join(lines)
