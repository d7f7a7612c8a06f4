"""The pieces every kind of claim shares: hyperparameter ranges, relations, the quantities a claim reads, the
checks of a claim's shape, and the proof-then-search path from a proof engine's answer to a verdict."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp
import torch

from ams_theory.claims.registry import Verdict, proved, searched
from ams_theory.core.ops import SympyOps
from ams_theory.engines import coordinates
from ams_theory.engines import draws
from ams_theory.engines.margins import AND, GT, LE
_EXACT = SympyOps()
BUDGETS = ("quick", "standard", "thorough")


# ----------------------------------------------------------------------------- the pieces of a claim

@dataclass(frozen=True)
class Range:
    """A hyperparameter's range ``lo <= x <= hi`` (``None``: unbounded; ``*_open``: strict). The proof reads it as
    the symbol's sign assumption and hypotheses; the search draws its boundary values and values inside."""

    lo: float | None = 0.0
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    mixture: tuple | None = None     # how the search draws it instead (ams_theory.engines.draws.mixture)

    def symbol(self, name: str) -> sp.Symbol:
        if self.lo is not None and self.lo == 0:
            return sp.Symbol(name, positive=True) if self.lo_open else sp.Symbol(name, nonnegative=True)
        return sp.Symbol(name, real=True)

    def hypotheses(self, x) -> list:
        out = []
        if self.lo is not None and self.lo != 0:
            out.append(x > _q(self.lo) if self.lo_open else x >= _q(self.lo))
        if self.hi is not None:
            out.append(x < _q(self.hi) if self.hi_open else x <= _q(self.hi))
        return out

    def searched(self) -> tuple:
        """``(lo, hi)`` as floats for the searches: an unbounded side stops 1e3 away from the other."""
        lo = -1e3 if self.lo is None else float(self.lo)
        return lo, (lo + 1e3 if self.hi is None else float(self.hi))

    def draw(self, gen, batch: int) -> torch.Tensor:
        """``(batch, 1)`` float64: the closed boundaries (a tenth each), the rest inside (log-uniform where the
        range is unbounded); or the :attr:`mixture` given (its exact values and ends, e.g. 0 and both sides of it),
        whose draws outside the range are not applicable instances (:meth:`contains`)."""
        if self.mixture is not None:
            return draws.mixture(gen, batch, self.mixture)
        lo, hi = self.searched()
        if self.lo is not None and self.hi is None and lo >= 0:
            inside = torch.exp(torch.empty(batch, 1, dtype=torch.float64).uniform_(-9, 7, generator=gen)) + lo
        else:
            inside = lo + (hi - lo) * torch.rand(batch, 1, generator=gen, dtype=torch.float64)
        pick = torch.rand(batch, 1, generator=gen, dtype=torch.float64)
        out = inside
        if self.lo is not None and not self.lo_open:
            out = torch.where(pick < 0.1, torch.full_like(out, lo), out)
        if self.hi is not None and not self.hi_open:
            out = torch.where((pick >= 0.1) & (pick < 0.2), torch.full_like(out, hi), out)
        return out

    def contains(self, x):
        """Whether the drawn values ``x`` lie in the range (elementwise on a tensor)."""
        inside = True
        if self.lo is not None:
            inside = AND(inside, GT(x, self.lo) if self.lo_open else LE(self.lo, x))
        if self.hi is not None:
            inside = AND(inside, GT(self.hi, x) if self.hi_open else LE(x, self.hi))
        return inside

    def text(self) -> str:
        lo = "-inf" if self.lo is None else f"{self.lo:g}"
        hi = "inf" if self.hi is None else f"{self.hi:g}"
        left = "(" if self.lo_open or self.lo is None else "["
        return f"{left}{lo}, {hi}{')' if self.hi_open or self.hi is None else ']'}"

    def boundaries(self) -> list:
        return [b for b, is_open in ((self.lo, self.lo_open), (self.hi, self.hi_open)) if b is not None and not is_open]

    def coverage(self) -> dict:
        """What the search drew: the range and its closed boundaries, or the parts of the :attr:`mixture`."""
        if self.mixture is None:
            return {"range": self.text(), "boundaries": self.boundaries()}
        return draws.drawn_range(self.text(), self.mixture)


@dataclass(frozen=True)
class UpTo:
    """A step size bounded by the claim's own quantities, ``0 <= eta <= num/den`` with ``bound(q) -> (num, den)``
    (e.g. ``lambda q: (2 * P(q), q.L * q.norm2(q.u))``: Lemma D.1 Part 3's bound). The proof assumes
    ``eta den <= num`` (a sum over coordinates, closed by a multiplier); the search draws ``eta = theta num/den``
    with theta exactly 1 (the largest float the hypothesis accepts), just below 1 and inside (0, 1]
    (:func:`ams_theory.engines.draws.bounded_step`), and runs a control just past the bound (theta in (1, 1.1]),
    reported in the evidence and never part of the verdict. One per claim.

    ``bound`` may return several pairs: ``eta <= min_k num_k/den_k`` (Thm. D.3's ``2 min{P, N}/(L|u|^2)``), one
    hypothesis per pair for the proof, the tightest pair for the search. ``positive``: the step is ``eta > 0`` (a
    step that moves); where some ``num_k <= 0`` is proved for every state, no step meets the bound and the claim is
    ``vacuous``."""

    bound: Callable
    text: str = ""
    positive: bool = False

    def symbol(self, name: str) -> sp.Symbol:
        return sp.Symbol(name, positive=True) if self.positive else sp.Symbol(name, nonnegative=True)

    def hypotheses(self, x) -> list:
        return []


@dataclass(frozen=True)
class Step:
    """Any step size ``eta >= 0`` (a one-step lemma's "for every step"): the proof takes every ``eta >= 0``; the
    search draws the steps of the papers' one-step claims, relative to the loss's L
    (:data:`ams_theory.engines.draws.ETA_FREE`: exactly 0, the small end 1e-9/L to 1e-3/L, and 1e-3/L to 10/L).
    One per claim (or an :class:`UpTo` instead). ``positive``: every ``eta > 0`` (a drawn 0 does not apply);
    ``mixture``: how the search draws it instead, in units of 1/L (:func:`ams_theory.engines.draws.mixture`)."""

    positive: bool = False
    mixture: tuple | None = None

    def symbol(self, name: str) -> sp.Symbol:
        return sp.Symbol(name, positive=True) if self.positive else sp.Symbol(name, nonnegative=True)

    def hypotheses(self, x) -> list:
        return []

    def draw(self, problem, gen, batch: int) -> torch.Tensor:
        """``(batch, 1)`` steps: the :attr:`mixture` (or the papers' free steps, ``draws.ETA_FREE``) over the L of
        each drawn loss."""
        return draws.mixture(gen, batch, self.mixture or draws.ETA_FREE) / problem.L.reshape(-1, 1)

    def coverage(self) -> dict:
        if self.mixture is None:
            return draws.FREE_STEP
        return draws.drawn_range(f"any step eta {'>' if self.positive else '>='} 0", self.mixture, " / L")


@dataclass(frozen=True)
class AtLeast:
    """A hyperparameter bounded below by the claim's other quantities, ``x >= base(q)`` (Thm. 2.4's
    ``sigma >= eps alpha``): the proof assumes it; the search draws ``x = base(q) + slack``, the slack from
    ``mixture`` (:func:`ams_theory.engines.draws.mixture`; divided by the loss's L when ``per_L``), exactly 0
    among its values when the mixture has it, so the boundary ``x = base`` is drawn."""

    base: Callable
    mixture: tuple
    per_L: bool = False
    text: str = ""

    def symbol(self, name: str) -> sp.Symbol:
        return sp.Symbol(name, real=True)

    def hypotheses(self, x) -> list:
        return []


def _q(x):
    return sp.Rational(str(x)) if isinstance(x, float) else sp.sympify(x)


@dataclass(frozen=True)
class Relation:
    """``value <= 0``, ``value < 0`` or ``value == 0`` (``relation``): the one form every conclusion and hypothesis
    takes; ``sides``: the two sides it compares, ``(a, b)``, for the size of a float margin."""

    value: object
    relation: str
    sides: tuple = ()


class Quantities:
    """What a claim's functions read: ``w``, ``g``, the state vectors and hyperparameters by name (``q.m``,
    ``q.eta``), ``L`` (the smoothness constant), and after the step ``w_next`` and ``dL``; for a flow ``dH`` and
    ``dL``. The helpers compute on whichever back end the claim is being run on."""

    def __init__(self, ops, named: dict):
        self.ops = ops
        self._named = dict(named)

    def __getattr__(self, name):
        named = self.__dict__.get("_named", {})
        if name in named:
            return named[name]
        raise AttributeError(f"the claim has no quantity {name!r} (known: {', '.join(sorted(named))})")

    def _set(self, **kw):
        self._named.update(kw)

    # vectors -> per-instance scalars
    def dot(self, a, b):
        return self.ops.dot(a, b)

    def norm2(self, a):
        """``|a|^2``."""
        return self.ops.dot(a, a)

    def total(self, a):
        return self.ops.total(a)

    # elementwise
    def sign(self, a):
        return self.ops.sign(a)

    def abs(self, a):
        return self.ops.abs(a)

    def relu(self, a):
        return self.ops.relu(a)

    def indicator(self, a, strict=False):
        """``1(a > 0)`` (``strict``) or ``1(a >= 0)``, elementwise."""
        return self.ops.indicator_(self.ops.copy(a), strict=strict)

    def gate(self, x):
        """``1(x >= 0)`` of a per-instance scalar (an inner product, say): one value for the whole vector."""
        return self.ops.scalar_step(x, True, True)

    def max(self, a, b):
        """``max(a, b)`` of two per-instance scalars."""
        if torch.is_tensor(a) or torch.is_tensor(b):
            return torch.maximum(torch.as_tensor(a), torch.as_tensor(b))
        return sp.Max(a, b)

    # relations
    def at_most(self, a, b) -> Relation:
        return Relation(a - b, "<= 0", (a, b))

    def at_least(self, a, b) -> Relation:
        return Relation(b - a, "<= 0", (a, b))

    def equal(self, a, b) -> Relation:
        return Relation(a - b, "== 0", (a, b))

    def less_than(self, a, b) -> Relation:
        """``a < b`` (a ``OneStep``'s conclusion or hypothesis)."""
        return Relation(a - b, "< 0", (a, b))

    def greater_than(self, a, b) -> Relation:
        """``a > b`` (a ``OneStep``'s conclusion or hypothesis)."""
        return Relation(b - a, "< 0", (a, b))


class ClaimError(TypeError):
    """A claim's function returned something the language cannot read (the message names the claim and what)."""


def _conclusion(claim, q, strict=False) -> Relation:
    """``claim.conclusion(q)``, which must be a relation (a strict one where ``strict``)."""
    r = claim.conclusion(q)
    if not isinstance(r, Relation):
        raise ClaimError(f"{claim.name}: the conclusion must be a relation (q.at_most, q.at_least or q.equal), got "
                         f"{type(r).__name__}")
    _no_strict(claim, [r], strict)
    return r


def _no_strict(claim, relations, strict):
    if not strict and any(r.relation == "< 0" for r in relations):
        raise ClaimError(f"{claim.name}: a strict relation (q.less_than, q.greater_than) belongs to a OneStep or a "
                         "Flow; state a Fact with at_most, at_least or equal")


def _stated_hypotheses(claim, q, strict=False) -> list:
    """``claim.hypotheses(q)``, which must be a list of relations (strict ones too where ``strict``)."""
    hyps = list(claim.hypotheses(q)) if claim.hypotheses else []
    bad = [h for h in hyps if not isinstance(h, Relation)]
    if bad:
        raise ClaimError(f"{claim.name}: every hypothesis must be a relation (q.at_most, q.at_least or q.equal), got "
                         f"{type(bad[0]).__name__}")
    _no_strict(claim, hyps, strict)
    return hyps


def _exact_extra(claim, extra) -> dict:
    """``extra`` with each of the claim's state vectors an array: the exact re-check passes a one-entry vector as a
    number."""
    return {k: (SympyOps.asarray([v]) if k in claim.state and not hasattr(v, "shape") else v) for k, v in extra.items()}


def _check_claim(claim, functions, kinds=(Range,), kinds_text="a Range (steps and bounds belong to a OneStep)"):
    """A claim's functions are callables, its hyperparameters of the ``kinds`` its kind takes, at most one step size,
    and no name that shadows a quantity the language sets."""
    for name in functions:
        if not callable(getattr(claim, name)):
            raise TypeError(f"{claim.name}: {name} must be a function of q")
    bad = [k for k, v in claim.hyper.items() if not isinstance(v, kinds)]
    if bad:
        raise TypeError(f"{claim.name}: hyper[{bad[0]!r}] must be {kinds_text}")
    if sum(isinstance(v, (Step, UpTo)) for v in claim.hyper.values()) > 1:
        raise ValueError(f"{claim.name}: at most one hyperparameter may be a Step or an UpTo (the step size)")
    names = set(getattr(claim, "state", ())) | set(getattr(claim, "vectors", ()))
    clash = {"w", "g", "L", "dL", "dH", "w_next", "dw", "loss", "loss_at"} & (set(claim.hyper) | names)
    if clash:
        raise ValueError(f"{claim.name}: {sorted(clash)[0]!r} is a reserved quantity name")


def _symbols(claim):
    hp = {k: r.symbol(k) for k, r in claim.hyper.items()}
    return hp, [h for k, r in claim.hyper.items() for h in r.hypotheses(hp[k])]


def _range_text(name, r) -> str:
    """One hyperparameter's range as a proof covers it: ``b in [0, 1)``, ``every step eta >= 0``, ..."""
    if isinstance(r, Range):
        return f"{name} in {r.text()}"
    if isinstance(r, Step):
        return f"every step {name} {'>' if r.positive else '>='} 0"
    if isinstance(r, UpTo):
        return f"every step {name} up to {r.text or 'its bound'}"
    return f"every {name} >= {r.text or 'its lower bound'}"


def scope(claim) -> str:
    """What a proof of ``claim`` covers, in words: every dimension and state, each hyperparameter's range, the free
    vectors of a Flow (what is proved with them free holds for every map or mask they stand for), and its
    hypotheses when it has some."""
    ranges = [_range_text(name, r) for name, r in claim.hyper.items()]
    free = [f"every value of {', '.join(claim.vectors)}"] if getattr(claim, "field", None) and claim.vectors else []
    hyps = ["under its hypotheses"] if getattr(claim, "hypotheses", None) is not None else []
    return "; ".join(["every dimension and state"] + ranges + free + hyps)


def _margin_at(proof) -> dict:
    """The claim's margin at a proof engine's counterexample, exactly and in words: the decided expression (the
    claim's left side minus its right side, or its reduction) and the relation it breaks; with what the margin is
    made of there (:meth:`ams_theory.engines.proofs.Proof.explain`): ``terms`` (each additive term and its exact
    value), ``mask_values`` (each mask or gate and its value) and ``failing_term`` (the term that breaks it)."""
    value = proof.margin()
    if value is None:
        return {}
    relation = {"<= 0": "<= 0", "== 0": "= 0", "< 0": "< 0"}.get(proof.relation, proof.relation)
    out = {"margin": str(value), "margin_meaning": f"the claim needs its margin (left side minus right side, as "
                                                   f"decided) {relation}; here it is {value}"}
    return {**out, **(proof.explain() or {})}


def _verdict_from_proof(claim, proof, what):
    """A proof engine's answer as a verdict, or None when it is open (then the claim is searched)."""
    if proof.status == "proved":
        return Verdict("holds", f"proved for {scope(claim)} ({what})",
                       {"proof": proof.status, "reduction": proof.reduction},
                       strength=proved(f"proof engine: {what}", proof))
    if proof.status == "refuted" and proof.certify():
        cex = {"source": "proof engine", "values": proof.model, "instance": what, **_margin_at(proof)}
        return Verdict("refuted", f"counterexample {proof.model} ({what})", {"proof": proof.status}, cex,
                       recheck=proof.certify, strength=proved("exact counterexample from the proof engine"))
    if proof.status == "vacuous":
        return Verdict("vacuous", "no state satisfies the hypotheses", {"proof": proof.status},
                       strength=proved("the hypotheses are unsatisfiable (proof engine)", proof))
    return None


def _keep_search(claim, verdict, proof, search):
    """A proved verdict with the search run beside it kept in its evidence and coverage; a search that refutes
    what the engine proved is a defect of the tool, raised."""
    if search.word == "refuted" or (verdict.word == "vacuous" and search.word != "vacuous"):
        found = "refutes exactly" if search.word == "refuted" else f"finds {search.word}"
        raise RuntimeError(f"{claim.name}: the proof engine proves what the search {found}")
    verdict.evidence.update(search.evidence, proof=proof.status)
    verdict.strength = proved(verdict.strength.basis, proof, search=search.strength.to_json())
    verdict.summary += f"; {search.summary.split(' (proof')[0]}"


def _verdict_from_search(found, evidence, names, proof_status) -> Verdict:
    """A search's decision (:func:`ams_theory.claims.judging.decide_margin`) as a verdict: ``refuted`` with the exact
    certificate's instance (the values of ``names``), ``not-checkable``, ``vacuous`` where no drawn instance met
    the hypotheses, or ``holds`` (searched)."""
    rs = found.rs
    if found.word == "refuted":
        cert = found.certificate
        cex = {"source": f"{cert['engine']}, re-checked in exact rationals", "family": cert["family"],
               "values": {"w": cert["w"], **{k: cert["extra"][k] for k in names}},
               "loss": {"A": cert["A"], "b": cert["b"], "c": cert["c"], "L": cert["L"]},
               "margin": cert["margin"], "margin_approx": cert["margin_approx"]}
        return Verdict("refuted", f"exact counterexample on a {cert['family']} loss, margin "
                                  f"{float(cert['margin_approx']):.3g}; {rs.violations:,} of {rs.applicable:,} "
                                  "applicable float instances violate", evidence, cex, recheck=found.recheck,
                       strength=found.strength)
    if found.word == "not-checkable":
        return Verdict("not-checkable", f"{rs.violations} float violations, none reproduced exactly on a quadratic",
                       evidence, strength=found.strength)
    if rs.applicable == 0:
        return _never_met(f"none of {rs.instances:,} drawn instances", evidence, found.strength)
    return Verdict("holds", f"no violation in {rs.applicable:,} applicable of {rs.instances:,} instances "
                            f"(proof: {proof_status})", evidence, strength=found.strength)


def _never_met(what, evidence, strength) -> Verdict:
    """A search in which no drawn instance met the hypotheses: ``vacuous`` as far as it looked (searched), never
    ``holds``."""
    return Verdict("vacuous", f"{what} met the hypotheses: vacuous as far as the search looked", evidence,
                   strength=searched("no drawn instance met the hypotheses", **strength.coverage))


def _per_coordinate(claim, relation_at, ranges, what):
    """``(proof, verdict or None, traced)``: the claim's relation ``relation_at(ops, vector)``, traced for a generic
    dimension and proved per coordinate (:func:`ams_theory.engines.coordinates.per_coordinate`); ``traced``: whether
    the generic trace went through (the relation is then built from sums and elementwise maps alone)."""
    relation = {}

    def build(ops, vector):
        r = relation_at(ops, vector)
        relation["r"] = r.relation
        return sp.sympify(r.value)

    try:
        build(coordinates.GENERIC, coordinates.generic_vector)
        traced = True
    except Exception:                                # the reduction says why, in the proof
        relation.setdefault("r", "<= 0")
        traced = False
    proof = coordinates.per_coordinate(build, relation["r"], ranges, f"{claim.name}, every dimension")
    return proof, _verdict_from_proof(claim, proof, what), traced


def _proof_or_search(claim, proof, verdict, search, search_beside):
    """The proof's verdict, with ``search()`` kept beside it (``search_beside``), or the search's when it is open."""
    if verdict is None:
        return search()
    if search_beside and verdict.word in ("holds", "vacuous"):
        _keep_search(claim, verdict, proof, search())
    return verdict
