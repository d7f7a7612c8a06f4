"""Hypothesis strategies of :mod:`ams_theory.testing`: L-smooth problems with certified L, points, directions,
gradients, optimizer states, masks and hyperparameters within the papers' stated ranges.

Every vector is a ``(1, d)`` float64 tensor (one instance, the layout of ``TorchOps(batch_dims=1)``); problems
are one-instance :class:`ams_theory.engines.smooth.Problem` batches drawn by :func:`ams_theory.engines.smooth.problems`.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from hypothesis import strategies as st

from ams_theory.core import rules
from ams_theory.core.cautions import CAUTIOUS_GE, CAUTIOUS_GT, EQ1_DEFAULT, GRAMS_MASK, INNER_GE, phi_c
from ams_theory.engines import smooth
from ams_theory.core.masks import caution_mask

__all__ = ["smooth_problems", "vectors", "gradients", "mask_inputs", "step_sizes", "descent_instances",
           "DescentInstance", "system_states", "SystemState", "optimizer_states", "hyperparameters", "cautions",
           "paper_masks", "PAPER_MASKS", "family_names"]

F64 = torch.float64
BOUND = 10.0

# the masks the papers name, as protocol functions (rules.mask_vector of the rule-core setting)
PAPER_MASKS = {
    "indicator": caution_mask(CAUTIOUS_GT),          # Cautious paper: 1(u o g > 0)
    "indicator_ge": caution_mask(CAUTIOUS_GE),       # AMS/Grams Def. 3.2 as its proofs use it: 1(u o g >= 0)
    "eq1_default": caution_mask(EQ1_DEFAULT),        # Cautious eq. (1): d/(nnz + 1) 1(u o g > 0)
    "grams": caution_mask(GRAMS_MASK),               # AMS/Grams Cor. 5.2: sign(g) o |u| = sign(u o g) o u
    "phi_c_0.1": caution_mask(phi_c(0.1)),           # Cautious eq. (13): 1(x > 0) - 0.1 1(x <= 0)
    "inner": caution_mask(INNER_GE),                 # Cautious Thm. A.5: 1(<u, g> >= 0)
}


def family_names(families=None, *, convex=None, exact=False) -> list:
    """The loss families of :data:`ams_theory.engines.smooth.LOSS_FAMILIES` selected by name, convexity
    (``convex=True``: :data:`~ams_theory.engines.smooth.CONVEX_FAMILIES`, ``False``: the others) and
    ``exact`` (the quadratic families, whose instances convert to exact rationals with a proved L)."""
    names = list(smooth.LOSS_FAMILIES) if families is None else [families] if isinstance(families, str) \
        else list(families)
    unknown = [f for f in names if f not in smooth.LOSS_FAMILIES]
    if unknown:
        raise ValueError(f"unknown loss families {unknown}; known: {', '.join(smooth.LOSS_FAMILIES)}")
    if convex is not None:
        names = [f for f in names if (f in smooth.CONVEX_FAMILIES) == bool(convex)]
    if exact:
        names = [f for f in names if f in smooth.QUADRATIC_FAMILIES]
    if not names:
        raise ValueError(f"no loss family left after families={families!r}, convex={convex!r}, exact={exact!r}")
    return names


def _dims(d):
    if d is None:
        return st.integers(1, 4)
    if isinstance(d, int):
        if d < 1:
            raise ValueError(f"d must be >= 1, got {d}")
        return st.just(d)
    return d


def smooth_problems(families=None, *, d=None, convex=None, exact=False):
    """Strategy of ``(problem, w)``: a one-instance L-smooth problem with certified ``problem.L``
    (``|grad f(x) - grad f(y)| <= L |x - y|``, :mod:`ams_theory.engines.smooth`) and a point ``w`` (1, d) in
    ``[-10, 10]^d``. ``families``/``convex``/``exact``: see :func:`family_names`; ``d``: an int or a strategy
    (default 1..4)."""
    return smooth.problems(family_names(families, convex=convex, exact=exact), _dims(d))


def _finite(bound):
    return st.floats(-bound, bound, allow_nan=False, allow_infinity=False)


@st.composite
def _vector(draw, d, zeros, ties, bound, nonnegative=False):
    coords = draw(st.lists(_finite(bound), min_size=d, max_size=d))
    if ties and d >= 2:
        for _ in range(draw(st.integers(0, d - 1))):        # x_j = +-x_i: equal magnitudes (ties in sorts and sums)
            i, j = draw(st.integers(0, d - 1)), draw(st.integers(0, d - 1))
            coords[j] = coords[i] if draw(st.booleans()) else -coords[i]
    if zeros:
        zeroed = draw(st.lists(st.booleans(), min_size=d, max_size=d))
        signed = draw(st.lists(st.sampled_from([0.0, -0.0]), min_size=d, max_size=d))
        coords = [z if hit else c for c, hit, z in zip(coords, zeroed, signed)]
    if nonnegative:
        coords = [abs(c) for c in coords]
    return torch.tensor([coords], dtype=F64)


def vectors(d: int, *, zeros=False, ties=False, bound=BOUND):
    """Strategy of ``(1, d)`` float64 vectors in ``[-bound, bound]^d``; ``zeros=True``: some entries exactly
    ``+0.0`` or ``-0.0``; ``ties=True``: some entries equal to another's value or its negative."""
    if not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be an int >= 1, got {d!r}")
    return _vector(d, zeros, ties, bound)


def gradients(d: int, *, zeros=True, ties=False, bound=BOUND):
    """:func:`vectors` for gradients, exact zeros included by default (the tie class of a mask, ``u o g = 0``)."""
    return vectors(d, zeros=zeros, ties=ties, bound=bound)


@st.composite
def mask_inputs(draw, d=None, *, zeros=True, ties=True, bound=BOUND):
    """Strategy of ``(u, s)``: a direction and a reference (the gradient), both ``(1, d)``, with exact zeros and
    ties on request, so that ``x = u o s`` has all three sign classes."""
    dim = draw(_dims(d))
    return draw(vectors(dim, zeros=zeros, ties=ties, bound=bound)), draw(vectors(dim, zeros=zeros, ties=ties,
                                                                                bound=bound))


def step_sizes(L: float, *, max_over_L=10.0):
    """Strategy of step sizes ``eta = theta / L``, ``theta`` in ``[0, max_over_L]`` (``0`` included)."""
    if not (L > 0):
        raise ValueError(f"L must be > 0, got {L!r}")
    return st.floats(0.0, float(max_over_L), allow_nan=False).map(lambda t: t / float(L))


class DescentInstance(NamedTuple):
    """One instance of a one-step claim: ``problem`` (one instance), ``w``, ``u`` (1, d) and the step ``eta``."""
    problem: object
    w: torch.Tensor
    u: torch.Tensor
    eta: float


BOUND_KINDS = (None, "D.1", "D.2", "2.3")


@st.composite
def descent_instances(draw, families=None, *, d=None, convex=None, exact=True, zeros=True, ties=False,
                      bound=None, mask=None, max_over_L=10.0):
    """Strategy of :class:`DescentInstance`. ``exact=True`` (default) draws quadratic families only, so that a
    counterexample is re-checked in exact rationals. ``bound``: ``None`` (``eta = theta/L``, :func:`step_sizes`) or
    the step bound the step is a fraction ``theta`` in [0, 1] of (``1`` included): ``"D.1"`` ``2P/(L|u|^2)``,
    ``"D.2"`` ``2<|g|,|u|>/(L|u|^2)``, ``"2.3"`` Thm. 2.3's ``2 Delta/(mu |r|(2|u| + |r|))`` of ``mask``; where the
    bound is not positive, a free step."""
    if bound not in BOUND_KINDS:
        raise ValueError(f"bound must be one of {BOUND_KINDS}, got {bound!r}")
    problem, w = draw(smooth_problems(families, d=d, convex=convex, exact=exact))
    u = draw(vectors(problem.d, zeros=zeros, ties=ties))
    L = float(problem.L[0])
    eta = draw(step_sizes(L, max_over_L=max_over_L))
    if bound is not None:
        from ams_theory.testing._assertions import step_bound

        num, den = step_bound(bound, problem, w, u, mask)
        theta = draw(st.one_of(st.just(1.0), st.floats(0.0, 1.0)))
        if den > 0 and num > 0:
            eta = theta * num / den
            while eta > 0 and eta * den > num:               # inside the bound as the hypothesis tests it
                eta = float(torch.nextafter(torch.tensor(eta, dtype=F64), torch.tensor(0.0, dtype=F64)))
    return DescentInstance(problem, w, u, float(eta))


class SystemState(NamedTuple):
    """A state of a continuous system: ``problem`` (one instance), ``w`` (1, d), ``s`` (1, blocks * d)."""
    problem: object
    w: torch.Tensor
    s: torch.Tensor


@st.composite
def system_states(draw, system=None, families=None, *, d=None, exact=True, zeros=True):
    """Strategy of :class:`SystemState` for a :class:`ams_theory.engines.dynamics.System` (or its name in
    ``dynamics.SYSTEMS``; default one state block): ``s`` stacks ``system.state_blocks`` vectors; for two blocks
    (continuous Adam, ``[m, v]``) ``v > 0``."""
    from ams_theory.engines import dynamics as dyn

    blocks = 1
    if system is not None:
        system = dyn.SYSTEMS[system] if isinstance(system, str) else system
        blocks = system.state_blocks
    problem, w = draw(smooth_problems(families, d=d, exact=exact))
    n = problem.d
    parts = [draw(vectors(n, zeros=zeros))]
    if blocks == 2:
        v = draw(st.lists(st.floats(1e-3, 100.0), min_size=n, max_size=n))
        parts.append(torch.tensor([v], dtype=F64))
    return SystemState(problem, w, torch.cat(parts, dim=-1))


# ----------------------------------------------------------------------------- optimizer states and hyperparameters

_STATE_KEYS = {"AMS": ("m", "v"), "Adam": ("m", "v"), "AdamW": ("m", "v"), "CAdamW": ("m", "v"), "Grams": ("m", "v"),
               "Lion": ("m",), "CLion": ("m",), "GDM": ("s",), "CGDM": ("s",), "SignedMomentum": ("m",),
               "CSignedMomentum": ("m",), "GD": ()}
_RUNTIME_KEYS = ("foreach", "nonfinite", "chunk_size", "fused", "capturable")


def _preset_name(method: str) -> str:
    import ams_theory

    by_lower = {k.lower(): k for k in ams_theory.PRESETS}
    key = by_lower.get(str(method).lower())
    if key is None:
        raise ValueError(f"unknown method {method!r}; known: {', '.join(ams_theory.PRESETS)}")
    return key


def optimizer_states(method: str, d: int, *, zeros=True, ties=False, beta3=False):
    """Strategy of the rule core's state of ``method`` (a preset name: ``"CAdamW"``, ``"grams"``, ...):
    Adam family ``{"m", "v"}`` (``v >= 0``; AMS with ``beta3=True`` adds the reference average ``"s"``),
    Lion / signed momentum ``{"m"}``, heavy ball ``{"s"}``, GD ``{}``; each ``(1, d)`` float64."""
    if not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be an int >= 1, got {d!r}")
    return _optimizer_states(_preset_name(method), d, zeros, ties, beta3)


@st.composite
def _optimizer_states(draw, method, d, zeros, ties, beta3):
    name = method
    state = {}
    for key in _STATE_KEYS[name]:
        state[key] = draw(_vector(d, zeros, ties, BOUND, nonnegative=key == "v"))
    if beta3 and name == "AMS":
        state["s"] = draw(vectors(d, zeros=zeros, ties=ties))
    return state


def _unit_interval():
    """beta in [0, 1): 0 and the papers' values exactly, and the open interval."""
    return st.one_of(st.sampled_from([0.0, 0.5, 0.9, 0.99, 0.999]), st.floats(0.0, 1.0, exclude_max=True))


def _positive(lo, hi, typical):
    return st.one_of(st.sampled_from(typical), st.floats(lo, hi))


def _lam():
    """lambda in R (AMS Alg. 1): Adam 1, C-Adam 0, Grams -1 exactly, and reals in [-4, 4]."""
    return st.one_of(st.sampled_from([-1.0, 0.0, 1.0, -0.5, 0.5]), st.floats(-4.0, 4.0))


def hyperparameters(method: str, *, weight_decay=True):
    """Strategy of a hyperparameter mapping of ``method`` (a preset name) for its rule-core step, within the
    papers' stated ranges: ``lr > 0``; ``betas`` in ``[0, 1)`` (AMS: three, beta3 included; Algorithm 1 of the
    AMS/Grams paper); ``beta`` in ``[0, 1)``; ``eps > 0``; ``weight_decay >= 0`` (``0`` when not
    ``weight_decay``); AMS ``lam`` in R; ``xi >= 0`` (Cautious eq. (1), ``xi = 1`` included) and
    ``mask_eps >= 0``. The other keys (conventions) are the preset's."""
    return _hyperparameters(_preset_name(method), weight_decay)


@st.composite
def _hyperparameters(draw, method, weight_decay):
    import ams_theory

    name = method
    hp = {k: v for k, v in ams_theory.PRESETS[name].PRESET.items() if k not in _RUNTIME_KEYS}
    hp["lr"] = draw(_positive(1e-6, 1.0, [1e-3, 1e-2, 0.1]))
    if "betas" in hp:
        hp["betas"] = tuple(draw(_unit_interval()) for _ in hp["betas"])
    if "beta" in hp:
        hp["beta"] = draw(_unit_interval())
    if "eps" in hp:
        hp["eps"] = draw(_positive(1e-12, 1e-1, [1e-8]))
    hp["weight_decay"] = draw(st.one_of(st.just(0.0), st.floats(0.0, 0.5))) if weight_decay else 0.0
    if name == "AMS":
        hp["lam"] = draw(_lam())
    if hp.get("mask") is not None:
        hp["xi"] = draw(st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 4.0)))
        hp["mask_eps"] = draw(st.one_of(st.sampled_from([0.0, 1e-8]), st.floats(0.0, 1e-2)))
    return hp


@st.composite
def cautions(draw, *, lam=None, tie=None, normalize=None, mask=None):
    """Strategy of :class:`ams_theory.core.rules.Caution` values (the rule core's masks): every ``tie``,
    ``normalize`` and ``mask`` kind unless fixed, ``lam`` in R (AMS range; fixed when given), ``xi >= 0``,
    ``mask_eps >= 0``."""
    kind = mask or draw(st.sampled_from(rules.MASK_KINDS))
    ties = [t for t in rules.TIES if not (kind == "inner" and t == "signbit")]
    return rules.Caution(
        lam=draw(_lam()) if lam is None else lam,
        tie=tie or draw(st.sampled_from(ties)),
        normalize=normalize or draw(st.sampled_from(rules.NORMALIZATIONS)),
        xi=draw(st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 4.0))),
        mask_eps=draw(st.one_of(st.sampled_from([0.0, 1e-8]), st.floats(0.0, 1e-2))),
        mask=kind)


def paper_masks(names=None):
    """Strategy of the papers' named masks as protocol functions (:data:`PAPER_MASKS`)."""
    names = list(PAPER_MASKS) if names is None else list(names)
    unknown = [n for n in names if n not in PAPER_MASKS]
    if unknown or not names:
        raise ValueError(f"unknown paper masks {unknown}; known: {', '.join(PAPER_MASKS)}")
    return st.sampled_from([PAPER_MASKS[n] for n in names])
