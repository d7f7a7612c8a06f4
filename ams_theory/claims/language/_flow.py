"""``Flow``: a continuous-time system with a candidate H, proved per coordinate through the chain rule, or evaluated
exactly at drawn rational states."""
from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Callable

import numpy as np
import sympy as sp
import torch

from ams_theory.claims.registry import Verdict, proved, searched
from ams_theory.core.ops import SympyOps
from ams_theory.engines import coordinates, proofs
from ams_theory.claims.language._common import (_EXACT, ClaimError, Quantities, Relation, _check_claim, _conclusion,
    _never_met, _per_coordinate, _proof_or_search, _q, _stated_hypotheses, _symbols, _verdict_from_proof)
FLOW_STATES = {"quick": 200, "standard": 2_000, "thorough": 10_000}     # exact states a Flow's search evaluates


@dataclass
class Flow:
    """A continuous-time system: ``field(q) -> (dw, [ds_1, ...])`` for the parameters and the state vectors named in
    ``state``, ``H(q)`` a per-instance scalar (or None) that may read ``q.loss`` (the loss at ``w``),
    ``conclusion(q) -> Relation`` reading ``q.dH`` and ``q.dL`` (``L`` any differentiable loss: a rate at a state
    reads it only through its gradient ``q.g``), ``hypotheses``, ``hyper``.

    ``positive``: the state vectors whose coordinates are positive (Adam's ``v``); after differentiation each
    coordinate is written as the square of a positive root, so ``q.ops.sqrt(q.v)`` stays exact (proof and search).
    ``vectors``: vectors the field may read besides the state, free at every coordinate (a mask's values: what is
    proved with them free holds for every mask).
    ``hypotheses(q)``: relations between hyperparameters (``q.at_least(q.a, q.b / 4)``) or elementwise ones (a vector
    relation: at every coordinate) are assumed by the proof; ``<=`` ones that read a sum over coordinates are closed
    by a multiplier (one of them, or their sum), otherwise the claim is searched.
    ``weights(q) -> (lambda_1, ...)``: one multiplier per hypothesis read over coordinates, in the hyperparameters
    (``q.a / q.b``), tried as ``conclusion + sum_k lambda_k H_k <= 0`` once each is proved ``>= 0`` in range.
    Conclusion and hypotheses may be strict (``q.less_than``, ``q.greater_than``): a strict hypothesis is assumed as it
    stands; a strict conclusion is proved only as far as its non-strict form is refuted, and is otherwise searched
    (an exact state where its value is >= 0 refutes it)."""

    name: str
    field: Callable
    conclusion: Callable
    H: Callable | None = None
    hyper: dict = field(default_factory=dict)
    state: tuple = ("s",)
    hypotheses: Callable | None = None
    source: str = ""
    positive: tuple = ()
    vectors: tuple = ()
    weights: Callable | None = None

    def __post_init__(self):
        _check_claim(self, ("field", "conclusion"))
        for name, fn in (("H", self.H), ("hypotheses", self.hypotheses), ("weights", self.weights)):
            if fn is not None and not callable(fn):
                raise ClaimError(f"{self.name}: {name} must be a function of q")
        both = set(self.state) & set(self.vectors)
        if both:
            raise ClaimError(f"{self.name}: {sorted(both)[0]!r} is named both a state vector and a free vector")
        unknown = [n for n in self.positive if n not in self.state]
        if unknown:
            raise ClaimError(f"{self.name}: positive names {unknown[0]!r}, which is not a state vector (state: "
                             f"{', '.join(self.state)})")


# -- flows

def _flow_rates(claim, ops, q, w, state):
    """``(dH, dL)`` along the field: dimension-generic by the chain rule through the sums over coordinates, exact
    by differentiating in each coordinate's symbols. ``q`` gains ``dw`` and ``ds`` (the field's parts), so that a
    conclusion may write the chain rule itself for an energy given only through its gradient (a free vector)."""
    dw, dstate = claim.field(q)
    q._set(dw=dw, ds=list(dstate))
    dL = ops.dot(q.g, dw)
    if claim.H is None:
        return None, dL
    H = claim.H(q)
    if isinstance(ops, coordinates.GenericOps):
        pairs = [(w.t, dw.t)] + [(x.t, dx.t) for x, dx in zip(state, dstate)]
        return coordinates.chain_rule(H, pairs), dL
    pairs = [(xi, dxi) for x, dx in [(w, dw)] + list(zip(state, dstate)) for xi, dxi in zip(x, dx)]
    return sp.Add(*[sp.diff(H, xi) * dxi for xi, dxi in pairs]), dL


def _squares(claim, vector, state):
    """``{coordinate of a positive state vector: its root^2}``, the roots positive symbols ``sqrt_<name>``."""
    out = {}
    for name, x in zip(claim.state, state):
        if name in claim.positive:
            root = vector(f"sqrt_{name}", positive=True)
            out.update({x.t: root.t ** 2} if isinstance(x, coordinates.GenericVector) else
                       {xi: ri ** 2 for xi, ri in zip(x, root)})
    return out


def _put(value, squares):
    """``value`` (a scalar or a vector) with the positive coordinates written as squares."""
    if not squares:
        return value
    if isinstance(value, coordinates.GenericVector):
        return coordinates.GenericVector(sp.sympify(value.t).xreplace(squares))
    if isinstance(value, np.ndarray):
        return SympyOps.asarray([sp.sympify(x).xreplace(squares) for x in value])
    return sp.sympify(value).xreplace(squares)


def _flow_margin(claim, ops, vector, hp):
    w, g = vector("w", real=True), vector("g", real=True)
    state = [vector(s, positive=True) if s in claim.positive else vector(s, real=True) for s in claim.state]
    # L(w) stands as <g, w>: a rate at a state reads the loss only through its gradient there
    free = {name: vector(name, real=True) for name in claim.vectors}
    q = Quantities(ops, {"w": w, "g": g, "loss": ops.dot(g, w), **hp, **free, **dict(zip(claim.state, state))})
    dH, dL = _flow_rates(claim, ops, q, w, state)
    q._set(dL=dL, **({"dH": dH} if dH is not None else {}))
    squares = _squares(claim, vector, state)
    conclusion, hyps = _conclusion(claim, q, strict=True), _stated_hypotheses(claim, q, strict=True)
    return (Relation(_put(conclusion.value, squares), conclusion.relation),
            [Relation(_put(h.value, squares), h.relation) for h in hyps])


def _proof_hypotheses(claim, hp):
    """``(hypotheses, sums, None)``: the claim's hypotheses as the proof assumes them (sympy relations; an
    elementwise one in the template's coordinate symbols, so at every coordinate), and the positions of the ``<=``
    ones that read a sum over coordinates (closed by a multiplier, :func:`_sum_hypotheses`); or
    ``(None, [], why)`` when the proof cannot assume them (a strict or equality one reads a sum, or they have no
    generic trace): the claim is then searched."""
    if claim.hypotheses is None:
        return [], [], None
    try:
        _, hyps = _flow_margin(claim, coordinates.GENERIC, coordinates.generic_vector, hp)
    except ClaimError:
        raise
    except Exception as e:
        return None, [], f"no generic trace of the hypotheses ({type(e).__name__}: {e})"
    out, sums = [], []
    for k, h in enumerate(hyps):
        value = sp.sympify(h.value.t if isinstance(h.value, coordinates.GenericVector) else h.value)
        if value.has(coordinates.CoordSum):
            if h.relation != "<= 0":
                return None, [], "a strict or equality hypothesis reads a sum over coordinates: searched, not reduced"
            sums.append(k)
        else:
            out.append(_readable(value, h.relation))
    return out, sums, None


SUM_MULTIPLIERS = (sp.Integer(0), sp.Integer(1), sp.Rational(1, 2), sp.Integer(2))     # 0: no hypothesis needed


def _sum_hypotheses(claim, ops, vector, hp, indices):
    """The hypotheses at ``indices`` (:func:`_proof_hypotheses`) as ``H >= 0`` (``H = -value``) on any back end, the
    concrete instance a refutation is decided on included, and their sum (implied by them all, so a proof under it
    is a proof under them): the candidates a multiplier closes the conclusion with."""
    _, hyps = _flow_margin(claim, ops, vector, hp)
    sums = [-sp.sympify(hyps[k].value) for k in indices]
    return sums + ([sp.Add(*sums)] if len(sums) > 1 else [])


def _weights(claim, hp, n) -> tuple:
    """The claim's ``weights`` as one candidate of :func:`ams_theory.engines.coordinates.with_multiplier`: a tuple
    with one weight per hypothesis read over coordinates (and 0 for their sum, the last candidate hypothesis)."""
    if claim.weights is None:
        return ()
    lams = tuple(claim.weights(SimpleNamespace(**hp)))
    if len(lams) != n:
        raise ClaimError(f"{claim.name}: weights gives {len(lams)} multipliers for {n} hypotheses over coordinates")
    return (lams + ((sp.Integer(0),) if n > 1 else ()),)


def _readable(value, relation):
    """``value <= 0`` (``< 0``, ``== 0``) as ``N >= P`` (``>``, ``==``), the terms with a minus sign on the left:
    ``a >= b/4``."""
    terms = sp.Add.make_args(sp.expand(value))
    minus = [t for t in terms if t.could_extract_minus_sign()]
    left, right = -sp.Add(*minus), sp.Add(*[t for t in terms if t not in minus])
    return {"<= 0": sp.Ge, "< 0": sp.Gt, "== 0": sp.Eq}[relation](left, right)


ALLOWED_SIGNS = {"<= 0": (-1, 0), "< 0": (-1,), "== 0": (0,)}     # the exact signs a relation's value may take


def _violates(relation, values) -> bool:
    """Whether ``relation`` fails exactly at the point ``values`` (an undecidable value is no violation)."""
    if relation.relation != "< 0":
        return proofs.violates(relation.value, relation.relation, (), values)
    s = proofs.exact_sign(sp.sympify(relation.value).xreplace(values))
    return s is not None and s >= 0


def _decide_flow(claim: Flow, budget, seed, search_beside=False) -> Verdict:
    hp, ranges = _symbols(claim)
    assumed, indices, unassumable = _proof_hypotheses(claim, hp)

    strict = []

    def relation_at(ops, vector):               # a strict conclusion is proved in its non-strict form
        if unassumable:
            raise coordinates.GenericAccessError(unassumable)
        r = _flow_margin(claim, ops, vector, hp)[0]
        strict.append(r.relation == "< 0")
        return Relation(r.value, "<= 0") if strict[-1] else r

    if indices:
        multipliers = SUM_MULTIPLIERS + _weights(claim, hp, len(indices))

        def build(ops, vector):                 # the conclusion and the sum hypotheses, closed by a multiplier
            return sp.sympify(relation_at(ops, vector).value), _sum_hypotheses(claim, ops, vector, hp, indices)
        proof = coordinates.with_multiplier(build, multipliers, ranges + assumed, f"{claim.name}, every dimension")
        verdict = _verdict_from_proof(claim, proof, "per coordinate, the hypotheses over coordinates closed by a "
                                                    "multiplier")
    else:
        proof, verdict, _ = _per_coordinate(claim, relation_at, ranges + (assumed or []),
                                            "per coordinate, chain rule through the sums over coordinates")
    non_strict = verdict is not None and verdict.word == "holds" and any(strict)
    return _proof_or_search(claim, proof, None if non_strict else verdict,
                            lambda: _search_flow(claim, budget, seed, hp, proof, non_strict), search_beside)


def _entries(value) -> list:
    """A scalar relation's value, or an elementwise one's coordinates."""
    return list(value) if isinstance(value, np.ndarray) else [value]


def _search_flow(claim, budget, seed, hp, proof, non_strict=False) -> Verdict:
    """Exact evaluation at drawn rational states (d = 1, 2, 3): the claim is built once per dimension in symbols and
    evaluated at each drawn state and hyperparameter point; a violation found is a counterexample as it stands."""
    n = FLOW_STATES[budget]
    gen = torch.Generator().manual_seed(seed)
    tried = applicable = 0
    for d in (1, 2, 3):
        conclusion, hyps = _flow_margin(claim, _EXACT, coordinates.concrete_vectors(d), hp)
        read = set().union(*(sp.sympify(x).free_symbols for x in [conclusion.value] + [e for h in hyps
                                                                                      for e in _entries(h.value)]))
        state = sorted(read - set(hp.values()), key=sp.default_sort_key)
        for _ in range(n // 3):
            drawn = [sp.Rational(round(float(x) * 8)) / 4 for x in torch.randn(len(state), generator=gen)]
            values = {x: abs(v) + sp.Rational(1, 4) if x.is_positive else v for x, v in zip(state, drawn)}
            point_hp = {k: _q(float(claim.hyper[k].draw(gen, 1))) for k in hp}
            values.update({hp[k]: v for k, v in point_hp.items()})
            tried += 1
            at = lambda e: sp.sympify(e).xreplace(values)
            if not all(proofs.exact_sign(at(x)) in ALLOWED_SIGNS[h.relation] for h in hyps for x in _entries(h.value)):
                continue
            applicable += 1
            if _violates(conclusion, values):
                cex = {"source": "exact search", "d": d, "values": {str(k): str(v) for k, v in values.items()},
                       "state": {str(k): str(v) for k, v in values.items() if k in state},
                       "hyperparameters": {k: str(v) for k, v in point_hp.items()}, "value": str(at(conclusion.value))}
                recheck = lambda c=conclusion, v=dict(values): _violates(c, v)
                return Verdict("refuted", f"exact counterexample at d = {d}: {cex['value']}", {"tried": tried}, cex,
                               recheck=recheck, strength=proved("exact counterexample (rational state)"))
    coverage = {"dimensions": [1, 2, 3], "states": tried, "applicable": applicable,
                "ranges": {k: r.coverage() for k, r in claim.hyper.items()},
                "state_values": "multiples of 1/4 in about [-16, 16], zeros included; positive coordinates from 1/4",
                "proof": ("proved for the non-strict form only" if non_strict else
                          f"{proof.status}: {getattr(proof, 'reason', '') or proof.reduction}")}
    strength = searched("exact evaluation at drawn rational states, d = 1..3", **coverage)
    if applicable == 0:
        return _never_met(f"none of {tried:,} exact states", coverage, strength)
    status = "non-strict form proved" if non_strict else proof.status
    return Verdict("holds", f"no violation at {applicable:,} exact states (proof: {status})", coverage,
                   strength=strength)
