"""Search engines for the discrete descent claims, and their exact certificates.

A discrete claim is written once as a *margin* function: given a batch of
L-smooth problems, points ``w``, base directions ``u``, step sizes ``eta`` and
claim-specific draws, it returns a :class:`~ams_theory.engines.margins.Margin`:
``value > 0`` means the claim's conclusion is violated at an instance where its
hypotheses hold (``applicable``). The steps inside a margin come from the rule core
(:mod:`ams_theory.core.rules`), evaluated with :class:`TorchOps` for the searches
and with :class:`SympyOps` for certificates: the same function runs both.

Engines:

- :func:`random_search`: vectorised float64 batches (10^5 instances a batch),
  over several families and dimensions; gives the "no violation in N
  instances" evidence, and the worst instance found.
- :func:`hypothesis_search`: ``hypothesis.find`` with ``target(margin)``
  pushing towards the largest violation and shrinking to a small example.

A claim draws its instances with a :class:`Sampler`, which also says what it
draws (every hyperparameter's range with its boundaries, the step size
relative to the claim's step bound); :func:`search_coverage` puts that together
with what a search covered (families, dimensions, instances, seed) for the
strength of a verdict.

A violation found in floats is only a candidate: :func:`certify` re-evaluates
the same margin function at the instance in exact rational arithmetic
(quadratic families, whose data and smoothness constant are exact rationals)
and the claim is refuted only if the exact margin is positive.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable

import numpy as np
import sympy as sp
import torch

from ams_theory.core import rules
from ams_theory.core.masks import exact_caution
from ams_theory.core.ops import SympyOps, TorchOps
from ams_theory.engines import smooth
from ams_theory.engines.symbolic import exact_number

__all__ = ["Draw", "MarginClaim", "Sampler", "random_search", "hypothesis_search", "certify", "step",
           "SearchResult", "ExactProblem", "search_coverage", "W_DRAW"]

T1 = TorchOps(batch_dims=1)
SYM = SympyOps()
DT = torch.float64


@dataclass
class Draw:
    """One batch of instances: a problem batch and the tensors a claim needs (all (B, ...) float64)."""
    problem: object
    w: torch.Tensor
    u: torch.Tensor
    eta: torch.Tensor                       # (B, 1)
    extra: dict = field(default_factory=dict)

    def select(self, i: int) -> "Draw":
        idx = torch.tensor([i])
        return Draw(self.problem.select(idx), self.w[idx], self.u[idx], self.eta[idx],
                    {k: v[idx] for k, v in self.extra.items()})


@dataclass(frozen=True)
class Sampler:
    """How a claim's instances are drawn at sampled ``(problem, w)``: ``draw(problem, w, generator) -> (u, eta,
    extra)``, all ``(B, ...)`` float64; ``ranges``: what it draws (each hyperparameter's range with its boundary
    values, the step size relative to the claim's step bound), as JSON-ready data for the coverage of a search."""
    draw: Callable
    ranges: dict

    def __call__(self, problem, w, generator):
        return self.draw(problem, w, generator)


@dataclass
class MarginClaim:
    """A discrete claim as a margin function, with how to draw its instances."""
    margin: Callable                        # (ops, problem, w, u, eta, extra) -> margins.Margin
    draw: Sampler                           # (problem, w, generator) -> (u, eta, extra), and its ranges
    families: tuple                         # families searched for evidence
    certify_families: tuple = tuple(smooth.QUADRATIC_FAMILIES)
    dims: tuple = (1, 2, 3, 5, 8)
    problem_map: Callable | None = None     # applied to every sampled problem (a claim about a subfamily)

    def sampled(self, problem):
        """A sampled problem as the claim sees it (the searches and the exact certificates use this one)."""
        return problem if self.problem_map is None else self.problem_map(problem)


def step(ops, w, u, g, eta, caution):
    """``w - eta * scale * mask(u, g) o u``: one masked step of the rule core (``caution=None``: ``w - eta u``)."""
    upd, scale = rules.cautious_update(ops, ops.copy(u), g, exact_caution(ops, caution))
    return rules.apply_step(ops, ops.copy(w), upd, eta, 0, "after", scale)


# ----------------------------------------------------------------------------- exact problems

class ExactProblem:
    """An exact quadratic instance, presented with the batch API (value/grad/L) on object arrays."""

    convex: bool

    def __init__(self, exact, convex):
        self.exact, self.convex = exact, convex
        self.L = exact.L

    def value(self, w):
        return self.exact.value(list(w))

    def grad(self, w):
        return SympyOps.asarray(self.exact.grad(list(w)))


def _rational(x) -> sp.Rational:
    return sp.Rational(Fraction(float(x)))


def certify(claim: MarginClaim, draw: Draw, i: int):
    """Exact margin of instance ``i`` (a quadratic family), or ``None`` when it cannot be certified.

    The float data are converted to the rationals they exactly are; the problem's
    smoothness constant is verified exactly (``certify_L``) before it is used.
    """
    one = draw.select(i)
    problem = one.problem
    if getattr(problem, "family", None) not in smooth.QUADRATIC_FAMILIES:
        return None
    exact = smooth.exact_quadratic(problem, 0)
    if not exact.certify_L():
        return None
    ep = ExactProblem(exact, problem.convex)
    w = SympyOps.asarray([_rational(x) for x in one.w[0]])
    u = SympyOps.asarray([_rational(x) for x in one.u[0]])
    eta = _rational(one.eta[0, 0])
    extra = {k: (_rational(v.reshape(-1)[0]) if v[0].numel() == 1 else SympyOps.asarray(
        [_rational(x) for x in v[0].reshape(-1)])) for k, v in one.extra.items()}
    result = claim.margin(SYM, ep, w, u, eta, extra)
    margin, applicable = result.value, result.applicable
    margin = exact_number(margin) if not isinstance(margin, (int, Fraction)) else margin
    applicable = bool(applicable) if not isinstance(applicable, sp.Basic) else bool(sp.simplify(applicable))
    return {"margin": margin, "margin_approx": float(margin) if getattr(margin, "is_number", True) else None,
            "applicable": applicable, "w": [str(x) for x in w], "u": [str(x) for x in u],
            "eta": str(eta), "extra": {k: (str(v) if not isinstance(v, np.ndarray) else [str(x) for x in v])
                                       for k, v in extra.items()},
            "A": str(exact.A.tolist()), "b": str(list(exact.b)), "c": str(exact.c), "L": str(exact.L),
            "family": problem.family}


# ----------------------------------------------------------------------------- engines

@dataclass
class SearchResult:
    instances: int = 0
    applicable: int = 0
    violations: int = 0
    worst: float = -math.inf
    worst_draw: Draw | None = None
    worst_index: int = -1
    seconds: float = 0.0
    families: dict = field(default_factory=dict)
    dims: tuple = ()
    first_violation_seconds: float | None = None

    def add(self, other: "SearchResult"):
        self.instances += other.instances
        self.applicable += other.applicable
        self.violations += other.violations
        if other.worst > self.worst:
            self.worst, self.worst_draw, self.worst_index = other.worst, other.worst_draw, other.worst_index


def _tolerance(margin_scale):
    return 1e-9 * (1 + margin_scale)


_SAMPLES: dict = {}
_SAMPLE_CACHE_SIZE = 64
W_DRAW = "w = z exp(s), z ~ N(0, I_d), s ~ N(0, 1) (one scale per instance)"
HYPOTHESIS_W = 4.0                          # hypothesis_search draws w in [-4, 4]^d (float32 values)
HYPOTHESIS_D_MAX = 4                        # and dimensions 1..4


def _key_seed(seed, fam, d, r, salt=0):
    return (seed * 1_000_003 + sum(map(ord, fam)) * 7919 + d * 131 + r * 17 + salt) % (2 ** 63)


def _sample(fam, d, batch_size, seed, r):
    """(problem, w) for one batch, shared by every claim searched with the same seed (sampling
    the rotated quadratics dominates the cost of a batch)."""
    key = (fam, d, batch_size, seed, r)
    if key not in _SAMPLES:
        if len(_SAMPLES) >= _SAMPLE_CACHE_SIZE:
            _SAMPLES.pop(next(iter(_SAMPLES)))
        gen = torch.Generator().manual_seed(_key_seed(seed, fam, d, r))
        problem = smooth.LOSS_FAMILIES[fam](batch_size, d, gen)
        w = torch.randn(batch_size, d, generator=gen, dtype=DT) * torch.exp(
            torch.randn(batch_size, 1, generator=gen, dtype=DT))
        _SAMPLES[key] = (problem, w)
    return _SAMPLES[key]


def random_search(claim: MarginClaim, rounds: int, batch_size: int, seed: int, families=None, dims=None,
                  first: int | None = None) -> SearchResult:
    """Vectorised search: ``rounds`` passes over every (family, dimension) pair, one batch of
    ``batch_size`` instances each (``first``: only the first that many instances of each batch, a
    cheaper pass over the same cached samples). A float margin above ``1e-9 (1 + |scale|)`` counts
    as a (candidate) violation; certificates are made from the worst instance."""
    families = families or claim.families
    dims = dims or claim.dims
    out = SearchResult(dims=tuple(dims))
    t0 = time.perf_counter()
    for r in range(rounds):
        for fam in families:
            for d in dims:
                problem, w = _sample(fam, d, batch_size, seed, r)
                problem = claim.sampled(problem)
                if first is not None and first < batch_size:
                    problem, w = problem.select(slice(0, first)), w[:first]
                gen = torch.Generator().manual_seed(_key_seed(seed, fam, d, r, salt=1))
                u, eta, extra = claim.draw(problem, w, gen)
                with torch.no_grad():
                    result = claim.margin(T1, problem, w, u, eta, extra)
                margin = result.value.reshape(-1)
                applicable = result.applicable.reshape(-1) & torch.isfinite(margin)
                violated = applicable & (margin > _tolerance(result.scale.reshape(-1).abs()))
                stats = out.families.setdefault(fam, [0, 0, 0])
                n_app, n_bad = int(applicable.sum()), int(violated.sum())
                stats[0] += len(w)
                stats[1] += n_app
                stats[2] += n_bad
                out.instances += len(w)
                out.applicable += n_app
                out.violations += n_bad
                masked = torch.where(applicable, margin, torch.full_like(margin, -math.inf))
                i = int(torch.argmax(masked))
                if float(masked[i]) > out.worst:
                    out.worst, out.worst_draw, out.worst_index = float(masked[i]), Draw(problem, w, u, eta, extra), i
                if n_bad and out.first_violation_seconds is None:
                    out.first_violation_seconds = time.perf_counter() - t0
    out.seconds = time.perf_counter() - t0
    return out


def hypothesis_search(claim: MarginClaim, max_examples: int, seed: int, families=None, d_max: int = HYPOTHESIS_D_MAX):
    """``hypothesis.find`` of an applicable instance with a positive margin, pushed by ``target``.

    Returns ``(draw, tried)``: the shrunk violating instance (a one-instance Draw), or
    ``None`` when none was found in ``max_examples`` examples.
    """
    from hypothesis import HealthCheck, find, settings, target
    from hypothesis import strategies as st
    from hypothesis.errors import NoSuchExample

    families = tuple(families or claim.certify_families)
    tried = {"n": 0}

    @st.composite
    def instances(draw):
        fam = draw(st.sampled_from(families))
        d = draw(st.integers(1, d_max))
        s = draw(st.integers(0, 2 ** 31 - 1))
        gen = torch.Generator().manual_seed(s)
        problem = claim.sampled(smooth.LOSS_FAMILIES[fam](1, d, gen))
        coords = st.floats(-HYPOTHESIS_W, HYPOTHESIS_W, allow_nan=False, width=32)
        w = torch.tensor([draw(st.lists(coords, min_size=d, max_size=d))], dtype=DT)
        u, eta, extra = claim.draw(problem, w, gen)
        return Draw(problem, w, u, eta, extra)

    def violates(inst: Draw) -> bool:
        tried["n"] += 1
        with torch.no_grad():
            result = claim.margin(T1, inst.problem, inst.w, inst.u, inst.eta, inst.extra)
        m, ok = float(result.value.reshape(-1)[0]), bool(result.applicable.reshape(-1)[0])
        scale = float(result.scale.reshape(-1)[0])
        if ok and math.isfinite(m):
            target(m / (1 + scale), label="relative margin")
        return ok and m > _tolerance(scale)

    try:
        found = find(instances(), violates, settings=settings(
            max_examples=max_examples, database=None, derandomize=True, deadline=None,
            suppress_health_check=list(HealthCheck)), random=__import__("random").Random(seed))
    except NoSuchExample:
        return None, tried["n"]
    return found, tried["n"]


def search_coverage(claim: MarginClaim, rs: SearchResult, seed: int, hypothesis_examples: int,
                    hypothesis_families=()) -> dict:
    """What a search covered, for the strength of a verdict: the loss families (instances drawn and instances
    meeting the claim's hypotheses, per family), the dimensions, the seed, how ``w`` was drawn, the hypothesis
    search's domain, and the sampler's ranges (every hyperparameter with its boundaries, the step size relative
    to the claim's step bound)."""
    return {"loss_families": {f: {"instances": n, "applicable": a} for f, (n, a, _) in rs.families.items()},
            "loss_parameters": "as ams_theory.engines.smooth samples each family (scale 1; ranges in its docstring)",
            "dimensions": list(rs.dims), "instances": rs.instances, "applicable": rs.applicable,
            "seeds": {"search": seed, "per_batch": "one generator per (seed, family, d, round)"},
            "w": W_DRAW,
            "hypothesis_search": {"examples": hypothesis_examples, "families": list(hypothesis_families),
                                  "dimensions": f"1..{HYPOTHESIS_D_MAX}",
                                  "w": f"float32 values in [-{HYPOTHESIS_W:g}, {HYPOTHESIS_W:g}]^d"},
            **claim.draw.ranges}
