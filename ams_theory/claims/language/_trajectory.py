"""``Trajectory``: T steps of a method from one drawn start, and a claim about every prefix t = 1..T of the run
(running sums along it, the loss at its start and the loss's infimum): searched over loss families whose infimum is
known, a violation re-checked exactly on a diagonal quadratic."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from ams_theory.claims import judging
from ams_theory.claims.registry import Verdict
from ams_theory.core.ops import SympyOps
from ams_theory.engines import descent as ds
from ams_theory.engines import draws, smooth
from ams_theory.engines.margins import ABS, AND, MAX, F, G, Lc, combine
from ams_theory.claims.language._common import (ClaimError, Quantities, Range, Step, _check_claim, _conclusion,
                                                _exact_extra,
                                                _stated_hypotheses, _verdict_from_search)
from ams_theory.claims.language._one_step import _all_hold

TRAJECTORY_FAMILIES = ("quadratic_diagonal_convex", "separable_logcosh", "separable_softplus")
NOT_REDUCED = "a claim over T steps and the loss's infimum: searched, not reduced to one step"


@dataclass
class Trajectory:
    """T steps of a method and a claim about every prefix of the run.

    ``step(q) -> (w', {state: new value}, {name: per-step scalar})`` reads ``q.w``, ``q.g`` (the gradient at the
    current point), the state vectors and hyperparameters; ``conclusion(q) -> Relation`` reads ``q.t`` (the prefix
    length), ``q.sums`` (the running sums of the per-step scalars, by name), ``q.loss_start`` (the loss at the first
    point), ``q.loss_inf`` (the loss's infimum) and the hyperparameters; ``hypotheses(q)`` are conditions every step
    so far must meet, reading ``q.now`` (that step's scalars). ``state`` names the starting state vectors (drawn as
    directions); ``hyper``: ``Range`` and one ``Step`` (the step size); ``losses``: families with a known infimum
    (:data:`ams_theory.engines.smooth.INFIMUM_FAMILIES`)."""

    name: str
    step: Callable
    conclusion: Callable
    T: int = 8
    hyper: dict = field(default_factory=dict)
    state: tuple = ()
    hypotheses: Callable | None = None
    losses: tuple = TRAJECTORY_FAMILIES
    source: str = ""

    def __post_init__(self):
        _check_claim(self, ("step", "conclusion"), (Range, Step), "a Range or a Step")
        if not isinstance(self.T, int) or self.T < 1:
            raise ClaimError(f"{self.name}: T must be a positive number of steps, got {self.T!r}")
        unknown = [f for f in self.losses if f not in smooth.INFIMUM_FAMILIES]
        if unknown:
            raise ClaimError(f"{self.name}: the infimum of {unknown[0]!r} has no closed form here (families: "
                             f"{', '.join(smooth.INFIMUM_FAMILIES)})")
        if sum(isinstance(r, Step) for r in self.hyper.values()) != 1:
            raise ClaimError(f"{self.name}: hyper needs exactly one Step (the step size)")


def _step_name(claim) -> str:
    return next(k for k, r in claim.hyper.items() if isinstance(r, Step))


def _run(claim, q):
    """One step of the claim: ``(w', state', scalars)``, checked for shape."""
    out = claim.step(q)
    if not (isinstance(out, tuple) and len(out) == 3 and isinstance(out[1], dict) and isinstance(out[2], dict)):
        raise ClaimError(f"{claim.name}: step must return (w_next, {{state: value}}, {{name: per-step scalar}})")
    return out


def margin_function(claim: Trajectory):
    """``margin(ops, problem, w, u, eta, extra) -> Margin``: the claim at every prefix t = 1..T of the run from
    ``w`` with the state vectors and hyperparameters of ``extra``: the largest violation over the prefixes where
    every step so far met the hypotheses; the size of a prefix's margin is that of the two sides it compares."""
    mixed = [(k, r) for k, r in claim.hyper.items() if isinstance(r, Range) and r.mixture is not None]

    def margin(ops, problem, w, u, eta, extra):
        if isinstance(ops, SympyOps):
            extra = _exact_extra(claim, extra)
        hyper = {k: extra[k] for k in claim.hyper}
        state = {s: extra[s] for s in claim.state}
        start, inf, L = F(problem, w), smooth.infimum(problem), Lc(problem)
        sums, ok, parts, sizes = {}, True, [], []
        for t in range(1, claim.T + 1):
            q = Quantities(ops, {"w": w, "g": G(problem, w), "L": L, **hyper, **state})
            w, changed, scalars = _run(claim, q)
            state = {**state, **changed}
            sums = {k: sums.get(k, 0) + v for k, v in scalars.items()}
            q._set(now=scalars, t=t, sums=sums, loss_start=start, loss_inf=inf)
            ok = AND(ok, _all_hold(_stated_hypotheses(claim, q)))
            for k, r in mixed:                # a mixture may draw outside the range: those instances do not apply
                ok = AND(ok, r.contains(extra[k]))
            r = _conclusion(claim, q)
            parts.append((r.value, ok))
            sizes.append(sum(ABS(side) for side in r.sides))
        size = sizes[0]
        for s in sizes[1:]:
            size = MAX(s, size) if torch.is_tensor(s) else MAX(size, s)
        return combine(parts, 1 + size)
    return margin


def _sampler(claim):
    """Each state vector drawn as the searches draw a direction, each Range in its range, the step from its
    ``Step``; the prefixes are part of every instance."""
    name = _step_name(claim)

    def draw(problem, w, gen):
        B = w.shape[0]
        extra = {k: r.draw(gen, B) for k, r in claim.hyper.items() if isinstance(r, Range)}
        extra.update({s: draws.draw_direction(problem, w, gen) for s in claim.state})
        extra[name] = claim.hyper[name].draw(problem, gen, B)
        return torch.zeros_like(w), torch.zeros(B, 1, dtype=torch.float64), extra
    ranges = {k: r.coverage() for k, r in claim.hyper.items() if isinstance(r, Range)}
    ranges.update({s: "the start: any real vector: " + draws.U_DRAW.replace("u = ", "", 1) for s in claim.state})
    ranges.update(step=claim.hyper[name].coverage(), T=f"every prefix T = 1..{claim.T} of one trajectory")
    return ds.Sampler(draw, ranges)


def margin_claim(claim: Trajectory, dims=judging.DIMS["standard"]) -> ds.MarginClaim:
    """The claim as the discrete searches take it; violations are certified on its diagonal quadratic families."""
    return ds.MarginClaim(margin_function(claim), _sampler(claim), tuple(claim.losses),
                          tuple(f for f in claim.losses if f in judging.QUAD), dims)


def _decide_trajectory(claim: Trajectory, budget, seed, search_beside=False) -> Verdict:
    """Searched over the claim's families (a quarter of the usual batch for T = 8: each instance is T steps), a
    violation re-checked exactly; the proof engine reduces one-step claims and is not tried."""
    mc = margin_claim(claim, judging.DIMS[budget])
    found = judging.decide_margin(mc, budget, seed, size_factor=min(1.0, 2 / claim.T))
    evidence = {**found.evidence, "families": list(claim.losses), "proof": f"not attempted: {NOT_REDUCED}"}
    return _verdict_from_search(found, evidence, (*claim.hyper, *claim.state), "not attempted")
