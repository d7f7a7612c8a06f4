"""How the discrete searches draw an instance's direction ``u``, its step ``eta`` and other hyperparameters, each draw
with the coverage text it reports (:class:`~ams_theory.engines.descent.Sampler`).

A value is drawn from a mixture ``((share, kind, *args), ...)`` of the parts of :data:`MIXTURE_PARTS` (exact
boundary values among them); a step relative to a claim's bound ``eta <= num/den`` is ``theta num/den`` with theta
from :data:`THETA_INSIDE` (the claim: exactly 1, just below it, inside) or :data:`THETA_BEYOND` (its control, just
past the bound).
"""
from __future__ import annotations

import math
from fractions import Fraction

import torch

from ams_theory.engines.descent import Sampler
from ams_theory.engines.margins import within

__all__ = ["normal", "uniform", "MIXTURE_PARTS", "mixture", "drawn_range", "MIX", "ZERO_SHARE", "U_DRAW", "ETA_FREE",
           "THETA_INSIDE", "THETA_BEYOND", "draw_direction", "direction", "eta_free", "FREE_STEP", "free_step",
           "draw_free", "step_at", "bounded_step", "bounded_step_ranges", "fraction_sampler"]

DT = torch.float64


def normal(gen, shape):
    return torch.randn(*shape, generator=gen, dtype=DT)


def uniform(gen, shape, lo=0.0, hi=1.0):
    return lo + (hi - lo) * torch.rand(*shape, generator=gen, dtype=DT)


MIXTURE_PARTS = {   # kind -> (draw(generator, shape, *args), text)
    "exactly": (lambda gen, shape, v: torch.full(shape, float(v), dtype=DT), "exactly {0:g}"),
    "U": (lambda gen, shape, lo, hi: uniform(gen, shape, lo, hi), "U({0:g}, {1:g})"),
    "10^U": (lambda gen, shape, lo, hi: 10.0 ** uniform(gen, shape, lo, hi), "10^U({0:g}, {1:g})"),
    "-10^U": (lambda gen, shape, lo, hi: -10.0 ** uniform(gen, shape, lo, hi), "-10^U({0:g}, {1:g})"),
    "1-10^U": (lambda gen, shape, lo, hi: 1 - 10.0 ** uniform(gen, shape, lo, hi), "1 - 10^U({0:g}, {1:g})"),
    "1+10^U": (lambda gen, shape, lo, hi: 1 + 10.0 ** uniform(gen, shape, lo, hi), "1 + 10^U({0:g}, {1:g})"),
}


def mixture(gen, B, spec):
    """(B, 1) values, each from one part of ``spec = ((share, kind, *args), ...)`` (kinds: :data:`MIXTURE_PARTS`),
    the part picked per instance with its share (the shares sum to 1)."""
    pick = torch.rand(B, 1, generator=gen, dtype=DT)
    out, lo = None, 0.0
    for share, kind, *args in spec:
        values = MIXTURE_PARTS[kind][0](gen, (B, 1), *args)
        out = values if out is None else torch.where(pick >= lo, values, out)
        lo += share
    return out


def drawn_range(interval, spec, unit="", **notes):
    """The coverage entry of a hyperparameter drawn from ``spec``: its stated ``interval``, the parts drawn
    (``"1/4: exactly 1"``, ...), the boundary values drawn exactly, and any notes."""
    parts = [f"{Fraction(share).limit_denominator(1000)}: {MIXTURE_PARTS[kind][1].format(*args)}"
             + ("" if (kind, *args) == ("exactly", 0) else unit) for share, kind, *args in spec]
    exact = [args[0] for share, kind, *args in spec if kind == "exactly"]
    return {"interval": interval, "draw": parts, "exactly": exact, **notes}


MIX, ZERO_SHARE = (-1.0, 1.5), 0.1


U_DRAW = (f"u = m g + z exp(s), m ~ U({MIX[0]:g}, {MIX[1]:g}), z ~ N(0, I_d), s ~ N(0, 1); each coordinate "
          f"exactly 0 with probability {ZERO_SHARE:g}")


ETA_FREE = ((1 / 16, "exactly", 0), (1 / 16, "10^U", -9, -3), (7 / 8, "10^U", -3, 1))       # times 1/L


THETA_INSIDE = ((1 / 4, "exactly", 1), (1 / 4, "1-10^U", -12, -3), (1 / 4, "10^U", -6, 0), (1 / 4, "U", 0, 1))


THETA_BEYOND = ((1, "1+10^U", -6, -1),)


def draw_direction(problem, w, gen):
    """A base direction u (:data:`U_DRAW`): a random mix of the gradient and noise, with exact zeros sometimes."""
    B, d = w.shape
    g = problem.grad(w)
    mix = uniform(gen, (B, 1), *MIX)
    u = mix * g + normal(gen, (B, d)) * torch.exp(normal(gen, (B, 1)))
    zero = torch.rand(B, d, generator=gen, dtype=DT) < ZERO_SHARE
    return torch.where(zero, torch.zeros_like(u), u)


_DIRECTIONS: dict = {}  # (id(problem), id(w), generator state) -> (problem, w, u, state after); holding the batch


#                         keeps its ids from being reused while the entry lives
_DIRECTION_CACHE_SIZE = 64


def direction(problem, w, gen):
    """:func:`draw_direction`, drawn once per batch and generator state: every sampler draws u first from the
    generator of its batch, so all claims searched on a batch share it. A repeat returns a copy of the same u and
    leaves the generator as the draw left it (least recently used batches are dropped first; single instances,
    the hypothesis search's, are drawn afresh)."""
    if w.shape[0] == 1:
        return draw_direction(problem, w, gen)
    key = (id(problem), id(w), gen.get_state().numpy().tobytes())
    hit = _DIRECTIONS.pop(key, None)
    if hit is not None:
        _DIRECTIONS[key] = hit
        gen.set_state(hit[3])
        return hit[2].clone()
    u = draw_direction(problem, w, gen)
    if len(_DIRECTIONS) >= _DIRECTION_CACHE_SIZE:
        _DIRECTIONS.pop(next(iter(_DIRECTIONS)))
    _DIRECTIONS[key] = (problem, w, u.clone(), gen.get_state())
    return u


def eta_free(problem, gen, B):
    """Step sizes for the claims about any step: :data:`ETA_FREE` / L (exactly 0, the eta -> 0 end, 1e-3/L to 10/L)."""
    return mixture(gen, B, ETA_FREE) / problem.L.reshape(-1, 1)


FREE_STEP = drawn_range("any step eta >= 0; drawn in [0, 10/L]", ETA_FREE, " / L")


def free_step(problem, w, gen):
    return direction(problem, w, gen), eta_free(problem, gen, w.shape[0]), {}


draw_free = Sampler(free_step, {"u": U_DRAW, "step": FREE_STEP})


def step_at(theta, bound, fallback, inside):
    """``eta = theta num/den`` where the bound is positive and finite, else ``fallback``. Inside the bound, eta is
    moved by at most two ulps so that ``eta den <= num`` holds as :func:`within` evaluates it, and at ``theta = 1``
    eta is the largest float64 it accepts."""
    num, den = bound
    positive = (den > 0) & (num > 0) & torch.isfinite(num / den)
    eta = torch.where(positive, theta * num / den, fallback)
    if inside:
        at_bound = positive & (theta == 1)
        for _ in range(2):
            eta = torch.where(positive & (eta * den > num), torch.nextafter(eta, torch.zeros_like(eta)), eta)
        for _ in range(2):
            up = torch.nextafter(eta, torch.full_like(eta, math.inf))
            eta = torch.where(at_bound & (up * den <= num), up, eta)
    return eta


def bounded_step(problem, gen, bound, side):
    """``(eta, theta)``: ``eta = theta num/den`` for a step bound ``bound = (num, den)`` (``(B, 1)`` tensors), theta
    from :data:`THETA_INSIDE` (``side=within``: the claim) or :data:`THETA_BEYOND` (``side=beyond``: its control);
    where the bound is not positive, a free step (:data:`ETA_FREE`)."""
    inside = side is within
    theta = mixture(gen, bound[0].shape[0], THETA_INSIDE if inside else THETA_BEYOND)
    return step_at(theta, bound, eta_free(problem, gen, bound[0].shape[0]), inside), theta


def bounded_step_ranges(side, bound_text) -> dict:
    """The coverage entry of :func:`bounded_step`'s steps."""
    inside = side is within
    interval = "(0, 1]" if inside else "(1, 1.1] (control, not part of the verdict)"
    notes = {"theta = 1": "eta is the largest float64 with eta den <= num as the hypothesis evaluates it"} if inside \
        else {}
    return {"eta": "theta x bound", "bound": bound_text,
            "theta": drawn_range(interval, THETA_INSIDE if inside else THETA_BEYOND, **notes),
            "where the bound is not positive": "a free step (" + "; ".join(FREE_STEP["draw"]) + "); no eta > 0 meets "
                                               "the hypothesis there"}


def fraction_sampler(bounds, side, bound_text):
    """Steps relative to a claim's bound: ``bounds(problem, w, u) -> [(num, den), ...]`` (one per variant, e.g. per
    mask; one variant is picked per instance), drawn by :func:`bounded_step`. ``extra``: ``theta``, and ``mask``
    (the variant) when there are several."""
    def draw(problem, w, gen):
        B = w.shape[0]
        u = direction(problem, w, gen)
        with torch.no_grad():
            options = bounds(problem, w, u)
        num, den = options[0]
        extra = {}
        if len(options) > 1:
            pick = torch.randint(len(options), (B, 1), generator=gen)
            for k, (n, d) in enumerate(options[1:], 1):
                num, den = torch.where(pick == k, n, num), torch.where(pick == k, d, den)
            extra["mask"] = pick.to(DT)
        eta, extra["theta"] = bounded_step(problem, gen, (num, den), side)
        return u, eta, extra

    return Sampler(draw, {"u": U_DRAW, "step": bounded_step_ranges(side, bound_text)})
