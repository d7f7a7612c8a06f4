"""``Flow``: a continuous-time system with a candidate H, proved per coordinate through the chain rule, or evaluated
exactly at drawn rational states."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import sympy as sp
import torch

from ams_theory.claims.registry import Verdict, proved, searched
from ams_theory.core.ops import SympyOps
from ams_theory.engines import coordinates, proofs
from ams_theory.claims.language._common import (_EXACT, Quantities, _check_claim, _conclusion, _never_met,
    _per_coordinate, _proof_or_search, _q, _stated_hypotheses, _symbols)
FLOW_STATES = {"quick": 200, "standard": 2_000, "thorough": 10_000}     # exact states a Flow's search evaluates


@dataclass
class Flow:
    """A continuous-time system: ``field(q) -> (dw, [ds_1, ...])`` for the parameters and the state vectors named in
    ``state``, ``H(q)`` a per-instance scalar (or None) that may read ``q.loss`` (the loss at ``w``),
    ``conclusion(q) -> Relation`` reading ``q.dH`` and ``q.dL`` (``L`` any differentiable loss: a rate at a state
    reads it only through its gradient ``q.g``), ``hypotheses``, ``hyper``."""

    name: str
    field: Callable
    conclusion: Callable
    H: Callable | None = None
    hyper: dict = field(default_factory=dict)
    state: tuple = ("s",)
    hypotheses: Callable | None = None
    source: str = ""

    def __post_init__(self):
        _check_claim(self, ("field", "conclusion"))


# -- flows

def _flow_rates(claim, ops, q, w, state):
    """``(dH, dL)`` along the field: dimension-generic by the chain rule through the sums over coordinates, exact
    by differentiating in each coordinate's symbols."""
    dw, dstate = claim.field(q)
    dL = ops.dot(q.g, dw)
    if claim.H is None:
        return None, dL
    H = claim.H(q)
    if isinstance(ops, coordinates.GenericOps):
        pairs = [(w.t, dw.t)] + [(x.t, dx.t) for x, dx in zip(state, dstate)]
        return coordinates.chain_rule(H, pairs), dL
    pairs = [(xi, dxi) for x, dx in [(w, dw)] + list(zip(state, dstate)) for xi, dxi in zip(x, dx)]
    return sp.Add(*[sp.diff(H, xi) * dxi for xi, dxi in pairs]), dL


def _flow_margin(claim, ops, vector, hp):
    w, g = vector("w", real=True), vector("g", real=True)
    state = [vector(s, real=True) for s in claim.state]
    # L(w) stands as <g, w>: a rate at a state reads the loss only through its gradient there
    q = Quantities(ops, {"w": w, "g": g, "loss": ops.dot(g, w), **hp, **dict(zip(claim.state, state))})
    dH, dL = _flow_rates(claim, ops, q, w, state)
    q._set(dL=dL, **({"dH": dH} if dH is not None else {}))
    conclusion = _conclusion(claim, q)
    hyps = _stated_hypotheses(claim, q)
    return conclusion, hyps


def _decide_flow(claim: Flow, budget, seed, search_beside=False) -> Verdict:
    hp, ranges = _symbols(claim)

    def relation_at(ops, vector):
        conclusion, hyps = _flow_margin(claim, ops, vector, hp)
        if hyps:
            raise coordinates.GenericAccessError("hypotheses on the state are searched, not reduced")
        return conclusion

    proof, verdict, _ = _per_coordinate(claim, relation_at, ranges,
                                        "per coordinate, chain rule through the sums over coordinates")
    return _proof_or_search(claim, proof, verdict, lambda: _search_flow(claim, budget, seed, hp, proof),
                            search_beside)


def _search_flow(claim, budget, seed, hp, proof) -> Verdict:
    """Exact evaluation at drawn rational states (d = 1, 2, 3): a violation found is a counterexample as it stands."""
    n = FLOW_STATES[budget]
    gen = torch.Generator().manual_seed(seed)
    tried = applicable = 0
    for d in (1, 2, 3):
        for _ in range(n // 3):
            values = {}

            def vector(name, **_):
                syms = sp.symbols(f"{name}0:{d}", real=True)
                for s in syms:
                    values[s] = sp.Rational(round(float(torch.randn(1, generator=gen)) * 8)) / 4
                return SympyOps.asarray(syms)
            point_hp = {k: _q(float(claim.hyper[k].draw(gen, 1))) for k in hp}
            conclusion, hyps = _flow_margin(claim, _EXACT, vector, point_hp)
            tried += 1
            at = lambda e: sp.sympify(e).xreplace(values)
            if not all(proofs.exact_sign(at(h.value)) in ((-1, 0) if h.relation == "<= 0" else (0,)) for h in hyps):
                continue
            applicable += 1
            if proofs.violates(conclusion.value, conclusion.relation, (), values):
                cex = {"source": "exact search", "d": d, "values": {**{str(k): str(v) for k, v in values.items()},
                                                                     **{k: str(v) for k, v in point_hp.items()}},
                       "state": {str(k): str(v) for k, v in values.items()},
                       "hyperparameters": {k: str(v) for k, v in point_hp.items()}, "value": str(at(conclusion.value))}
                recheck = lambda c=conclusion, v=dict(values): proofs.violates(c.value, c.relation, (), v)
                return Verdict("refuted", f"exact counterexample at d = {d}: {cex['value']}", {"tried": tried}, cex,
                               recheck=recheck, strength=proved("exact counterexample (rational state)"))
    coverage = {"dimensions": [1, 2, 3], "states": tried, "applicable": applicable,
                "ranges": {k: {"range": r.text(), "boundaries": r.boundaries()} for k, r in claim.hyper.items()},
                "state_values": "multiples of 1/4 in about [-16, 16], zeros included",
                "proof": f"{proof.status}: {getattr(proof, 'reason', '') or proof.reduction}"}
    strength = searched("exact evaluation at drawn rational states, d = 1..3", **coverage)
    if applicable == 0:
        return _never_met(f"none of {tried:,} exact states", coverage, strength)
    return Verdict("holds", f"no violation at {applicable:,} exact states (proof: {proof.status})", coverage,
                   strength=strength)
