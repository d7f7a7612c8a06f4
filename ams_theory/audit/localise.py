r"""Localisation: which quantity of the rule a target leaves first, read from the state it keeps public.

A ``torch.optim`` optimizer keeps its state in ``opt.state[p]``. After every recorded step the audit keeps the
target's state tensors (:mod:`ams_theory.audit.conform`); here they are matched to our rule's quantities and
each step is replayed *from the target's own state*:

1. **Roles.** At the first step, from a zero state, a tensor proportional to the gradient (and zero where it is
   zero) is the first moment ``m``; one proportional to its square is the second moment ``v``. A target whose
   state has no such tensors is not localised (the audit then searches the whole grammar, and says so).
2. **Seeded steps.** At each step t our optimizer (:mod:`ams_theory.optim`, the class the theory checks
   validate) is given the target's ``m``, ``v`` and step count before the step, its parameters and the gradient,
   and takes one step. Its new ``m`` and ``v`` are compared with the target's: the first quantity that differs
   is the *first moment*, the *second moment*, or, when both moments agree, *the step computed from the state*
   (the parameters differ).
3. **What it follows.** At that step, each single departure of the grammar (and the convention axes) is tried on
   the same seeded step and on the next ones: those that reproduce the target's quantity there are named, in
   words and as a formula. A moment that equals ours with the mask written into it (zero where the mask is, or
   the mask and its rescaling), or ours rounded to the precision the target stores it in, is named too.

The grammar search then starts within the ingredients found (:func:`ams_theory.audit.identify.identify`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from ams_theory.audit.identify import Departures

__all__ = ["Localisation", "localise", "state_of", "ROLE_WORDS"]

ROLE_WORDS = {"m": "first moment", "v": "second moment"}
FOLLOW_STEPS = 5          # a departure that reproduces the first differing step must reproduce this many more
STATE_RTOL = 1e-10        # one step from the target's own float64 state: rounding only


def state_of(opt, params) -> tuple[list, dict]:
    """The optimizer's state after a step: per parameter ``{name: float64 tensor or number}``, and the dtype of
    each named floating tensor of the parameter's shape as the target keeps it (a step count is not one)."""
    out, dtypes = [], {}
    for p in params:
        entry = {}
        for name, value in opt.state.get(p, {}).items():
            if torch.is_tensor(value):
                if value.is_floating_point() and value.shape == p.shape and "step" not in str(name).lower():
                    dtypes.setdefault(str(name), str(value.dtype).replace("torch.", ""))
                entry[str(name)] = value.detach().to("cpu", torch.float64).clone()
            elif isinstance(value, (int, float)):
                entry[str(name)] = float(value)
        out.append(entry)
    return out, dtypes


@dataclass
class Localisation:
    """Where the target leaves our rule first, read from its state: ``roles`` (its state names for ``m`` and
    ``v``), ``first`` (setting, step, quantity, parameter, entry, the two values) or None when every seeded step
    agrees, ``follows`` (what reproduces it: ``{"name", "words", "formula"}``), ``choices`` (the grammar's
    departures among them), or ``why`` the state could not be matched."""

    roles: dict | None
    first: dict | None = None
    follows: list = field(default_factory=list)
    choices: list = field(default_factory=list)
    why: str = ""

    def to_dict(self) -> dict:
        return {"roles": self.roles, "first": self.first, "follows": self.follows, "why": self.why}

    @classmethod
    def from_dict(cls, d: dict) -> "Localisation":
        return cls(d["roles"], d["first"], d["follows"], why=d["why"])

    def text(self) -> str:
        """One line for people."""
        if self.roles is None:
            return f"not localised: {self.why}; the whole grammar is searched"
        named = ", ".join(f"{name} = {ROLE_WORDS[role]}" for role, name in self.roles.items())
        if self.first is None:
            return f"state matched ({named}); every step taken from the target's own state agrees"
        f = self.first
        head = (f"state matched ({named}); the {f['quantity']} departs first: setting {f['setting']}, step "
                f"{f['step']}, parameter {f['parameter']} entry {f['index']}: target {f['target']:.17g}, ours "
                f"{f['ours']:.17g}")
        if not self.follows:
            return head + "; no single departure of the grammar reproduces it"
        return head + "; it follows " + " | ".join(f"{x['name']} ({x['formula']})" for x in self.follows)


def _proportional(x: torch.Tensor, g: torch.Tensor, rtol: float) -> float | None:
    """``a`` with ``x = a g`` at every entry (0 where g is 0) within ``rtol`` (a state's rounding), or None."""
    if x.shape != g.shape:
        return None
    nz = g != 0
    if not bool(nz.any()) or bool((x[~nz] != 0).any()):
        return None
    a = x[nz] / g[nz]
    ref = float(a.median())
    return ref if ref != 0 and bool(torch.allclose(a, torch.full_like(a, ref), rtol=max(rtol, 1e-9), atol=0)) \
        else None


def _roles(trace, buffers, rtols) -> tuple[dict | None, str]:
    """The target's state names for our buffers ``m`` (proportional to g after the first step) and ``v``
    (proportional to g^2), read on the parameter with the most nonzero gradient entries (``rtols``: per state
    name, the relative rounding of a state kept in a lower precision)."""
    if not trace.state or not any(trace.state[0]):
        return None, "the target keeps no state in opt.state"
    first = trace.state[0]
    i = max(range(len(trace.g[0])), key=lambda j: int((trace.g[0][j] != 0).sum()))
    g = trace.g[0][i]
    found = {}
    for name, x in first[i].items():
        if not torch.is_tensor(x) or x.shape != g.shape:
            continue
        for role, target in (("m", g), ("v", g * g)):
            if role in buffers and _proportional(x, target, rtols.get(name, 0.0)) is not None:
                found.setdefault(role, []).append(name)
    missing = [ROLE_WORDS[r] for r in buffers if len(found.get(r, [])) != 1]
    if missing:
        return None, (f"no single state tensor of the target is its {' or '.join(missing)} (state names: "
                      f"{', '.join(sorted(first[i])) or 'none'})")
    return {role: names[0] for role, names in found.items()}, ""


class _Seeded:
    """One step of our optimizer (a class of the reference, with departures) from the target's own state."""

    def __init__(self, ref, roles):
        self.ref, self.roles = ref, roles

    def step(self, k, t, convention, departures=None):
        """Our ``(state, params)`` after step ``t`` of setting ``k``, seeded with the target's state before it."""
        tr = self.ref.traces[k]
        opt = self.ref._optimizer(self.ref._cls(departures))
        params = opt.param_groups[0]["params"]
        hp = dict(self.ref.hyperparameters(tr, convention, departures), foreach=False, chunk_size=0)
        opt.param_groups[0].update(hp)
        opt.state.clear()
        with torch.no_grad():
            for i, (p, w) in enumerate(zip(params, tr.w[t])):
                p.copy_(w)
                p.grad = tr.g[t][i].clone()
                if t > 0 and all(name in tr.state[t - 1][i] for name in self.roles.values()):
                    state = opt._init_state(p, opt.param_groups[0])
                    state["step"].fill_(t)
                    for role, name in self.roles.items():
                        state[role].copy_(tr.state[t - 1][i][name])
        opt.step()
        ours = [{role: opt.state[p][role].detach().clone() for role in self.roles} for p in params]
        return ours, [p.detach().clone() for p in params]


def _differs(ours: torch.Tensor, theirs: torch.Tensor, rtol: float):
    """The flat index of the worst entry where ``ours`` and ``theirs`` differ beyond ``rtol`` times the tensor's
    largest entry (a moment's terms may cancel, so its rounding is relative to their size), or None."""
    gap = (ours - theirs).abs()
    finite = lambda x: float(torch.nan_to_num(x.abs(), nan=0.0, posinf=0.0).max()) if x.numel() else 0.0
    scale = max(finite(ours), finite(theirs))
    bound = rtol * scale + 1e-300
    bad = (gap > bound) | (torch.isnan(ours) != torch.isnan(theirs))      # a nan on one side only differs
    if not bool(bad.any()):
        return None
    return int(torch.where(bad, torch.nan_to_num(gap, nan=math.inf), torch.zeros_like(gap)).reshape(-1).argmax())


def _compare(seeded_out, tr, t, roles, rtols, lr, tol):
    """The first quantity where a seeded step differs from the target's step t: ``(quantity, parameter, flat
    index, ours, theirs)`` or None; moments first, then the parameters (in units of lr, as the replay)."""
    state, params = seeded_out
    for role, name in roles.items():
        for i, entry in enumerate(state):
            if name not in tr.state[t][i]:
                continue                        # a parameter the target keeps no state for (never stepped)
            theirs = tr.state[t][i][name]
            at = _differs(entry[role], theirs, rtols.get(name, STATE_RTOL))
            if at is not None:
                return ROLE_WORDS[role], i, at, float(entry[role].reshape(-1)[at]), float(theirs.reshape(-1)[at])
    for i, (ours, theirs) in enumerate(zip(params, tr.w[t + 1])):
        at = _differs(ours, theirs, 0.0) if ours.numel() else None
        gap = torch.nan_to_num((ours - theirs).abs(), nan=math.inf)
        if at is not None and float(gap.max()) / lr > tol:
            at = int(gap.reshape(-1).argmax())
            return "step computed from the state", i, at, float(ours.reshape(-1)[at]), float(theirs.reshape(-1)[at])
    return None


def _index(flat, shape) -> tuple:
    if not shape:
        return ()
    return tuple(int(j) for j in torch.unravel_index(torch.tensor(flat), shape))


def _reproduces(seeded, convention, departures, k, t, quantity, roles, rtols, tol) -> bool:
    """Whether ``departures`` under ``convention`` reproduce the target's ``quantity`` (a moment, or the
    parameters) at steps t .. t + FOLLOW_STEPS of setting k, each from its own state."""
    tr = seeded.ref.traces[k]
    role = next((r for r, w in ROLE_WORDS.items() if w == quantity), None)
    only = {role: roles[role]} if role else {}
    for s in range(t, min(len(tr.g), t + 1 + FOLLOW_STEPS)):
        state, params = seeded.step(k, s, convention, departures)
        found = _compare((state, params if role is None else [p.clone() for p in tr.w[s + 1]]), tr, s, only,
                         rtols, tr.hp["lr"], tol)
        if found is not None:
            return False
    return True


def _written_mask(ours: torch.Tensor, theirs: torch.Tensor) -> str | None:
    """How the target's moment relates to ours when it is ours with the mask written in: ``"zeroed"`` (ours
    where kept, 0 elsewhere), ``"rescaled by c"`` (c times ours where kept, 0 elsewhere), or None."""
    kept = theirs != 0
    if bool(kept.all()) or not bool(kept.any()) or bool((ours[~kept] == 0).all()):
        return None
    ratio = theirs[kept] / ours[kept]
    c = float(ratio.reshape(-1)[0])
    if not math.isfinite(c) or not bool(torch.allclose(ratio, torch.full_like(ratio, c), rtol=1e-9, atol=0)):
        return None
    return "zeroed" if abs(c - 1) < 1e-12 else f"rescaled by {c:.6g}"


MAX_SEEDED_STEPS = 3_000       # the conventions' seeded replays stop here (each stops at its first differing step)


def _first_difference(seeded, convention, roles, rtols, budget):
    """``(k, t, found)`` at the first seeded step that differs under ``convention``, None when none does; and
    the seeded steps left in ``budget`` (a list of one count)."""
    for k, tr in enumerate(seeded.ref.traces):
        for t in range(len(tr.g)):
            budget[0] -= 1
            found = _compare(seeded.step(k, t, convention), tr, t, roles, rtols, tr.hp["lr"], seeded.ref.tol[k])
            if found is not None:
                return k, t, found
    return None


def localise(ref, conventions: list, method, rtols: dict | None = None) -> tuple[Localisation, dict]:
    """Localise the target's first departure from our ``method`` (see the module's docstring) under the one of
    ``conventions`` (closest to the preset first) whose seeded steps agree longest; returns it and that
    convention. ``ref``: the audit's reference (:class:`ams_theory.audit.conform._Reference`) with the record;
    ``rtols``: per state name, the relative tolerance of a state kept in a lower precision."""
    probe = method.cls([torch.nn.Parameter(torch.zeros(1))])
    buffers = tuple(b for b in probe._buffers(probe.param_groups[0]) if b in ROLE_WORDS)
    rtols = rtols or {}
    roles, why = _roles(ref.traces[0], buffers, rtols)
    if roles is None:
        return Localisation(None, why=why), conventions[0]
    seeded = _Seeded(ref, roles)
    budget, best = [MAX_SEEDED_STEPS], None
    for convention in conventions:
        first = _first_difference(seeded, convention, roles, rtols, budget)
        if first is None:
            return Localisation(roles), convention
        if best is None or first[:2] > best[1][:2]:
            best = (convention, first)
        if budget[0] <= 0:
            break
    convention, first = best
    k, t, (quantity, i, at, ours, theirs) = first
    shape = tuple(ref.traces[k].w[0][i].shape)
    where = dict(setting=k + 1, step=t + 1, quantity=quantity, parameter=i, shape=shape, index=_index(at, shape),
                 ours=ours, target=theirs)
    follows, choices = [], []
    for choice in method.departures + method.family:
        deps = Departures((choice,))
        if _reproduces(seeded, convention, deps, k, t, quantity, roles, rtols, ref.tol[k]):
            follows.append(choice.to_dict())
            choices.append(choice)
    if quantity in ROLE_WORDS.values() and not follows:
        role = next(r for r, w in ROLE_WORDS.items() if w == quantity)
        state, _ = seeded.step(k, t, convention)
        how = _written_mask(state[i][role], ref.traces[k].state[t][i][roles[role]])
        if how:
            follows.append(dict(name=f"mask_written_into_{role}", words=f"the mask is written into the "
                                f"{quantity} ({how} where the mask is 1, 0 elsewhere)",
                                formula=f"{role} <- c o {role}, c = 1(mask) x scale"))
    return Localisation(roles, where, follows, choices), convention
