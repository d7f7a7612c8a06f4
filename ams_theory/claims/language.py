r"""State a claim of your own, in a few lines, and have it decided by the engines that judge the papers' claims.

Two kinds of claim, in the shape PEPit gives first-order methods (a method, a class of functions, a conclusion):

``OneStep``
    one step ``w' = step(q)`` of a method that may read the parameters ``q.w``, the gradient ``q.g``, state vectors
    (``q.m``, ...) and hyperparameters (``q.eta``, ...), on every loss of a class (``"smooth"``: L-smooth;
    ``"convex"``: convex and L-smooth), under hypotheses, with a conclusion about ``q.dL = L(w') - L(w)``, norms and
    inner products.
``Flow``
    a continuous-time system ``(w, s)' = field(q)`` with a candidate ``H(q)``, hypotheses, and a conclusion about
    ``q.dH`` and ``q.dL`` (the time derivatives along the field), e.g. ``q.at_most(q.dH, 0)``.

Every function of a claim takes one argument ``q`` (:class:`Quantities`) and computes with its helpers (``q.dot``,
``q.norm2``, ``q.sign``, ``q.abs``, ``q.relu``, ``q.max``, ``q.total``) or plain arithmetic, so the same function runs
on the three back ends the engines use: dimension-generic symbols (the proof, for every dimension), exact sympy
numbers (a counterexample, re-checked) and batched torch tensors (the search). Relations are written
``q.at_most(a, b)`` (``a <= b``), ``q.at_least(a, b)`` or ``q.equal(a, b)``.

:func:`decide` returns the registry's :class:`~ams_theory.claims.registry.Verdict`: ``holds`` with a proof for every
dimension, state and hyperparameter in range (a certificate that replays in z3 or cvc5), ``refuted`` with a
counterexample re-checked in exact arithmetic, or ``holds`` ``searched`` with what the search covered (families,
dimensions, instances, each range with its boundary values); ``open`` proofs never turn into ``proved``.
"""
from __future__ import annotations

import dataclasses
import inspect
import itertools
from dataclasses import dataclass, field
from typing import Callable

import sympy as sp
import torch

from ams_theory.claims import judging
from ams_theory.claims import registry
from ams_theory.claims.registry import Correction, Verdict, exhaustive, proved, searched, weakest
from ams_theory.core.ops import SympyOps, TorchOps
from ams_theory.engines import coordinates, proofs, repairs, smooth
from ams_theory.engines import descent as ds
from ams_theory.engines import draws
from ams_theory.engines.symbolic import LABELS, case_symbol, patterns
from ams_theory.engines.margins import ABS, AND, GT, LE, MAX, F, Lc, Margin, beyond, combine, within

__all__ = ["Range", "Step", "UpTo", "AtLeast", "Relation", "ClaimError", "Quantities", "LossFamily", "OneStep",
           "Flow", "Fact", "FACT_DIMS", "Judgement", "decide", "decide_all", "register", "margin_function",
           "margin_claim", "as_margin", "LOSS_CLASSES"]

LOSS_CLASSES = {"smooth": "every L-smooth loss", "convex": "every convex L-smooth loss"}
FLOW_STATES = {"quick": 200, "standard": 2_000, "thorough": 10_000}     # exact states a Flow's search evaluates
_T1 = TorchOps(batch_dims=1)
_EXACT = SympyOps()


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
        return f"{'(' if self.lo_open or self.lo is None else '['}{lo}, {hi}{')' if self.hi_open or self.hi is None else ']'}"

    def boundaries(self) -> list:
        return [b for b, is_open in ((self.lo, self.lo_open), (self.hi, self.hi_open)) if b is not None and not is_open]


@dataclass(frozen=True)
class UpTo:
    """A step size bounded by the claim's own quantities, ``0 <= eta <= num/den`` with ``bound(q) -> (num, den)``
    (e.g. ``lambda q: (2 * P(q), q.L * q.norm2(q.u))``: Lemma D.1 Part 3's bound). The proof assumes
    ``eta den <= num`` (a sum over coordinates, closed by a multiplier); the search draws ``eta = theta num/den``
    with theta exactly 1 (the largest float the hypothesis accepts), just below 1 and inside (0, 1]
    (:func:`ams_theory.engines.draws.bounded_step`), and runs a control just past the bound (theta in (1, 1.1]),
    reported in the evidence and never part of the verdict. One per claim."""

    bound: Callable
    text: str = ""

    def symbol(self, name: str) -> sp.Symbol:
        return sp.Symbol(name, nonnegative=True)

    def hypotheses(self, x) -> list:
        return []


@dataclass(frozen=True)
class Step:
    """Any step size ``eta >= 0`` (a one-step lemma's "for every step"): the proof takes every ``eta >= 0``; the
    search draws the steps of the papers' one-step claims, relative to the loss's L
    (:data:`ams_theory.engines.draws.ETA_FREE`: exactly 0, the small end 1e-9/L to 1e-3/L, and 1e-3/L to 10/L).
    One per claim (or an :class:`UpTo` instead)."""

    def symbol(self, name: str) -> sp.Symbol:
        return sp.Symbol(name, nonnegative=True)

    def hypotheses(self, x) -> list:
        return []


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
    """``value <= 0`` or ``value == 0`` (``relation``): the one form every conclusion and hypothesis takes."""

    value: object
    relation: str


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
        return Relation(a - b, "<= 0")

    def at_least(self, a, b) -> Relation:
        return Relation(b - a, "<= 0")

    def equal(self, a, b) -> Relation:
        return Relation(a - b, "== 0")


@dataclass(frozen=True)
class LossFamily:
    """A loss family of its own, in place of a class (``"smooth"``, ``"convex"``): ``exact(ops, vector) -> loss``
    with symbolic parameters (``loss.value(w)``, ``loss.grad(w)``, computed with ``ops`` so that a
    dimension-generic trace sees its sums), on which the claim is proved per coordinate; the search draws the sampled
    ``families`` mapped by ``sampled(problem)`` (e.g. dropping a linear term). ``text`` names it."""

    text: str
    exact: Callable
    families: tuple
    sampled: Callable | None = None


@dataclass
class OneStep:
    """One step of a method on every loss of a class: ``step(q) -> w'``, ``conclusion(q) -> Relation`` (reads
    ``q.dL``, ``q.w_next``), ``hypotheses(q) -> [Relation]`` (``<= 0`` relations), ``hyper``: the hyperparameters'
    ranges, ``state``: names of state vectors the step reads (drawn freely: any real vectors)."""

    name: str
    step: Callable
    conclusion: Callable
    losses: str = "smooth"
    hyper: dict = field(default_factory=dict)
    state: tuple = ()
    hypotheses: Callable | None = None
    source: str = ""

    def __post_init__(self):
        _check_claim(self, ("step", "conclusion"))
        if not isinstance(self.losses, LossFamily) and self.losses not in LOSS_CLASSES:
            raise ValueError(f"{self.name}: losses={self.losses!r}, expected one of {', '.join(LOSS_CLASSES)} or a "
                             "LossFamily")


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


@dataclass
class Fact:
    """A relation between real vectors for every dimension (an appendix fact such as ``<a, b o c> = <a o b, c>``):
    ``conclusion(q) -> Relation`` reading the vectors named in ``vectors`` (``q.a``, ``q.b``) and hyperparameters in
    ``hyper``. Proved per coordinate for every dimension; beside the proof (or in its place when it stays open),
    exact on every pattern of entry signs (> 0, = 0, < 0, magnitudes symbolic) up to :data:`FACT_DIMS`
    coordinates."""

    name: str
    conclusion: Callable
    vectors: tuple = ("a",)
    hyper: dict = field(default_factory=dict)
    source: str = ""

    def __post_init__(self):
        _check_claim(self, ("conclusion",))


FACT_DIMS = {"quick": 2, "standard": 4, "thorough": 5}      # a Fact's sign patterns: d = 1..this


class ClaimError(TypeError):
    """A claim's function returned something the language cannot read (the message names the claim and what)."""


def _conclusion(claim, q) -> Relation:
    """``claim.conclusion(q)``, which must be a relation."""
    r = claim.conclusion(q)
    if not isinstance(r, Relation):
        raise ClaimError(f"{claim.name}: the conclusion must be a relation (q.at_most, q.at_least or q.equal), got "
                         f"{type(r).__name__}")
    return r


def _stated_hypotheses(claim, q) -> list:
    """``claim.hypotheses(q)``, which must be a list of relations."""
    hyps = list(claim.hypotheses(q)) if claim.hypotheses else []
    bad = [h for h in hyps if not isinstance(h, Relation)]
    if bad:
        raise ClaimError(f"{claim.name}: every hypothesis must be a relation (q.at_most, q.at_least or q.equal), got "
                         f"{type(bad[0]).__name__}")
    return hyps


def _bound(claim, name, q):
    """The ``(num, den)`` of the claim's :class:`UpTo` ``name``."""
    bound = claim.hyper[name].bound(q)
    if not (isinstance(bound, (tuple, list)) and len(bound) == 2):
        raise ClaimError(f"{claim.name}: the bound of UpTo {name!r} must return a pair (num, den) for "
                         f"{name} <= num/den, got {type(bound).__name__}")
    return tuple(bound)


def _check_claim(claim, functions):
    for name in functions:
        if not callable(getattr(claim, name)):
            raise TypeError(f"{claim.name}: {name} must be a function of q")
    one_step = isinstance(claim, OneStep)
    bad = [k for k, v in claim.hyper.items() if not isinstance(v, (Range, Step, UpTo, AtLeast) if one_step else Range)]
    if bad:
        raise TypeError(f"{claim.name}: hyper[{bad[0]!r}] must be " + ("a Range, a Step, an UpTo or an AtLeast"
                        if one_step else "a Range (steps and bounds belong to a OneStep)"))
    if sum(isinstance(v, (Step, UpTo)) for v in claim.hyper.values()) > 1:
        raise ValueError(f"{claim.name}: at most one hyperparameter may be a Step or an UpTo (the step size)")
    names = set(getattr(claim, "state", ())) | set(getattr(claim, "vectors", ()))
    clash = {"w", "g", "L", "dL", "dH", "w_next", "dw", "loss", "loss_at"} & (set(claim.hyper) | names)
    if clash:
        raise ValueError(f"{claim.name}: {sorted(clash)[0]!r} is a reserved quantity name")


# ----------------------------------------------------------------------------- decide

def decide(claim, budget: str = "standard", seed: int = 0, search_beside: bool = False) -> Verdict:
    """The claim's verdict: proved for every dimension by the proof engine, else refuted by an exactly re-checked
    counterexample, else searched (the budget sets how hard: ``quick``, ``standard``, ``thorough``).
    ``search_beside``: a proved ``OneStep`` is searched too, and the search is kept in the proof's coverage (a
    cross-check of the engine: a search that refutes a proved claim is raised as a defect of the tool); a proved
    ``Flow`` likewise keeps its exact evaluation at drawn states, and a proved ``Fact`` its exact sign patterns."""
    if budget not in FLOW_STATES:
        raise ValueError(f"unknown budget {budget!r} (expected one of {', '.join(FLOW_STATES)})")
    if isinstance(claim, OneStep):
        return _decide_one_step(claim, budget, seed, search_beside)
    if isinstance(claim, Flow):
        return _decide_flow(claim, budget, seed, search_beside)
    if isinstance(claim, Fact):
        return _decide_fact(claim, budget, search_beside)
    raise TypeError(f"decide takes a OneStep, a Flow or a Fact, got {type(claim).__name__}")


def decide_all(claims, budget: str = "standard", seed: int = 0, search_beside: bool = False) -> Verdict:
    """Several claims that must all hold (a statement about two steps, say): the first that does not hold gives
    the verdict; when all hold, the weakest strength, and for proofs one bundle of them all."""
    claims = _as_list(claims)
    verdicts = [decide(c, budget, seed, search_beside) for c in claims]
    if len(verdicts) == 1:
        return verdicts[0]
    failed = next(((c, v) for c, v in zip(claims, verdicts) if v.word != "holds"), None)
    if failed is not None:
        c, v = failed
        v.summary = f"{c.name}: {v.summary}"
        return v
    evidence = {c.name: v.evidence for c, v in zip(claims, verdicts)}
    summary = "; ".join(f"{c.name}: {v.summary}" for c, v in zip(claims, verdicts))
    parts = [v.strength.to_json() for v in verdicts]
    if all(v.strength.level == "proved" for v in verdicts):
        bundle = proofs.Bundle([(c.name, v.strength.proof) for c, v in zip(claims, verdicts)])
        return Verdict("holds", summary, evidence, strength=proved(f"proof engine, {len(claims)} parts", bundle,
                                                                   parts=parts))
    return Verdict("holds", summary, evidence, strength=weakest(*[v.strength for v in verdicts]))


@dataclass
class Judgement:
    """How a catalogued claim is judged: the statement as printed (a claim, or several that must all hold) and,
    where it fails, the nearest correct statement (``correction``, with its text)."""

    literal: object
    correction: object = None
    correction_statement: str = ""
    repairs: tuple = ()              # repairs.Edit(kind, text, apply=claim): single edits of the statement, judged
    why: str = ""                    # when the statement as printed fails: the reason, in words
    beside: dict = field(default_factory=dict)   # name -> claim: decided beside the statement, evidence only
    notes: dict = field(default_factory=dict)    # remarks on the statement or its printed proof, into the evidence
    conditional: str = ""            # a hypothesis left open: refuted without it, correction holds -> conditional


def _as_list(claims) -> list:
    """One claim, or several that must all hold, as a list."""
    return list(claims) if isinstance(claims, (list, tuple)) else [claims]


def _judged(made) -> Judgement:
    """What a registered function returns (a claim, several, or a :class:`Judgement`) as a Judgement."""
    return made if isinstance(made, Judgement) else Judgement(made)


def register(claim_id: str, *, source: str, kind: str, statement: str):
    """Decorator: the decorated function returns the claim (several that must all hold, or a :class:`Judgement`)
    that judges the catalogued claim ``claim_id``; its check is :func:`decide_all` with the search beside the
    proof, through the registry's rules of evidence. A function with a ``mask`` parameter states the claim for any
    mask (a rule-core ``Caution`` or a user's ``mask(ops, u, s)``, :mod:`ams_theory.claims.custom`); called
    without one it states the paper's."""
    def deco(make):
        takes_mask = "mask" in inspect.signature(make).parameters

        def check(budget="standard", seed=0, mask=None):
            if mask is not None and not takes_mask:
                raise TypeError(f"{claim_id} is not stated for a mask of your own")
            judged = _judged(make(mask) if mask is not None else make())
            verdict = decide_all(judged.literal, budget, seed, search_beside=True)
            verdict.evidence.update(judged.notes)
            for name, claim in judged.beside.items():
                v = decide_all(claim, budget, seed)
                verdict.evidence[name] = {"verdict": v.word, "strength": v.strength.level, "summary": v.summary}
            if verdict.word == "refuted" and judged.why:
                verdict.summary = f"{judged.why}; {verdict.summary}"
            if judged.correction is not None:
                c = decide_all(judged.correction, budget, seed, search_beside=True)
                verdict.correction = Correction.of(judged.correction_statement, c)
                if judged.repairs:
                    def judge_edit(claim):
                        v = decide_all(claim, budget, seed)
                        return v.word, v.strength.level, v.summary
                    verdict.correction.with_repairs(repairs.search(judged.repairs, judge_edit))
                if judged.conditional and verdict.word == "refuted" and c.word == "holds":
                    verdict.word, verdict.summary = "conditional", (f"holds when {judged.conditional} (not stated); "
                                                                    + verdict.summary)
                    verdict.strength = weakest(verdict.strength, c.strength, basis=(
                        f"refuted without {judged.conditional} (exact counterexample); {c.strength.basis} with it"))
            return verdict
        check.__doc__ = (make.__doc__ or "").strip() + " Stated in the claim language and decided by it."
        check.__name__ = make.__name__
        literal = _as_list(_judged(make()).literal)
        margin = as_margin(*literal) if all(isinstance(c, OneStep) for c in literal) else None
        registry.register(claim_id, source=source, kind=kind, statement=statement, margin=margin)(check)
        return make
    return deco


def _symbols(claim):
    hp = {k: r.symbol(k) for k, r in claim.hyper.items()}
    return hp, [h for k, r in claim.hyper.items() for h in r.hypotheses(hp[k])]


def _verdict_from_proof(claim, proof, what):
    """A proof engine's answer as a verdict, or None when it is open (then the claim is searched)."""
    if proof.status == "proved":
        return Verdict("holds", f"proved for every dimension, state and hyperparameter in range ({what})",
                       {"proof": proof.status, "reduction": proof.reduction},
                       strength=proved(f"proof engine: {what}", proof))
    if proof.status == "refuted" and proof.certify():
        cex = {"source": "proof engine", "values": proof.model, "instance": what}
        return Verdict("refuted", f"counterexample {proof.model} ({what})", {"proof": proof.status}, cex,
                       recheck=proof.certify, strength=proved("exact counterexample from the proof engine"))
    if proof.status == "vacuous":
        return Verdict("vacuous", "no state satisfies the hypotheses", {"proof": proof.status},
                       strength=proved("the hypotheses are unsatisfiable (proof engine)", proof))
    return None


# -- one step

def _bounded(claim):
    """``(name, UpTo)`` of the claim's step drawn against a bound, or None."""
    return next(((k, r) for k, r in claim.hyper.items() if isinstance(r, UpTo)), None)


def _step_bound(claim, q):
    """``(eta, (num, den))`` of the claim's :class:`UpTo`, or None."""
    bounded = _bounded(claim)
    return None if bounded is None else (getattr(q, bounded[0]), _bound(claim, bounded[0], q))


def _hypotheses(claim, q) -> list:
    """The claim's hypotheses, its step bound ``eta den - num <= 0`` (an :class:`UpTo`) last."""
    hyps = _stated_hypotheses(claim, q)
    hyps += [Relation(r.base(q) - getattr(q, k), "<= 0") for k, r in claim.hyper.items() if isinstance(r, AtLeast)]
    bound = _step_bound(claim, q)
    if bound is not None:
        eta, (num, den) = bound
        hyps.append(Relation(eta * den - num, "<= 0"))
    return hyps


def _one_step_margin(claim, q, value, f0):
    """The claim's conclusion and hypotheses after its step: ``q`` gains ``w_next``, ``dw``,
    ``dL = value(w_next) - f0`` and ``loss_at`` (``value``: the loss's value at a point, ``f0``: its value at ``w``),
    so that a conclusion may compare the loss at two points (the step taken and another one)."""
    w_next = claim.step(q)
    q._set(w_next=w_next, dw=w_next - q.w, dL=value(w_next) - f0, loss_at=value)
    return _conclusion(claim, q), _hypotheses(claim, q)


def _decide_one_step(claim: OneStep, budget, seed, search_beside=False) -> Verdict:
    hp, ranges = _symbols(claim)
    L, f0 = sp.Symbol("L", positive=True), sp.Symbol("f0", real=True)
    shared, per_coordinate = _split_hypotheses(claim, hp, L)
    by_multiplier = _has_hypotheses(claim) and (per_coordinate is None or bool(per_coordinate))

    def build(ops, vector, loss):
        w, g = vector("w", real=True), vector("g", real=True)
        lossobj = loss(w, g)
        q = Quantities(ops, {"w": w, "g": g, "L": L, **hp, **{s: vector(s, real=True) for s in claim.state}})
        conclusion, hyps = _one_step_margin(claim, q, lossobj.value, lossobj.value(w))
        if conclusion.relation != "<= 0":
            raise coordinates.GenericAccessError("an identity about a loss change is searched, not reduced")
        H = [-h.value for k, h in enumerate(hyps) if per_coordinate is None or k in per_coordinate]
        return (conclusion.value, H) if by_multiplier else conclusion.value

    if isinstance(claim.losses, LossFamily):
        proof, what = _prove_on_family(claim, hp, ranges), f"{claim.losses.text}, per coordinate"
    else:
        proof = coordinates.worst_case(build, claim.losses, f"{claim.name} on {LOSS_CLASSES[claim.losses]}",
                                       hypotheses=ranges + shared, L=L, f0=f0,
                                       multipliers=_multipliers(hp) if by_multiplier else None)
        what = f"{LOSS_CLASSES[claim.losses]}, worst-case reduction"
    return _proof_or_search(claim, proof, _verdict_from_proof(claim, proof, what),
                            lambda: _search_one_step(claim, budget, seed, proof), search_beside)


def _prove_on_family(claim, hp, ranges):
    """The claim on its own loss family, with the family's parameters symbolic, reduced to one coordinate
    (hypotheses other than the ranges, and L, are left to the search: the proof is then open)."""
    def build(ops, vector):
        loss = claim.losses.exact(ops, vector)
        w = vector("w", real=True)
        q = Quantities(ops, {"w": w, "g": loss.grad(w), **hp, **{s: vector(s, real=True) for s in claim.state}})
        conclusion, hyps = _one_step_margin(claim, q, loss.value, loss.value(w))
        if hyps or conclusion.relation != "<= 0":
            raise coordinates.GenericAccessError("hypotheses, or an identity, on a loss family are searched")
        return conclusion.value
    return coordinates.per_coordinate(build, "<= 0", ranges, f"{claim.name} on {claim.losses.text}")


def _keep_search(claim, verdict, proof, search):
    """A proved verdict with the search run beside it kept in its evidence and coverage; a search that refutes
    what the engine proved is a defect of the tool, raised."""
    if search.word == "refuted":
        raise RuntimeError(f"{claim.name}: the proof engine proves what the search refutes exactly")
    verdict.evidence.update(search.evidence, proof=proof.status)
    verdict.strength = proved(verdict.strength.basis, proof, search=search.strength.to_json())
    verdict.summary += f"; {search.summary.split(' (proof')[0]}"


def _split_hypotheses(claim, hp, L):
    """The claim's hypotheses traced once for a generic dimension: those that read no coordinate (``eta L <= 1``)
    as relations the proof assumes directly, and the indices of the others (sums over coordinates, closed by a
    multiplier; ``None``: all of them, when they cannot be traced apart from the step)."""
    if not _has_hypotheses(claim):
        return [], set()
    vec = coordinates.generic_vector
    q = Quantities(coordinates.GENERIC, {"w": vec("w", real=True), "g": vec("g", real=True), "L": L, **hp,
                                         **{s: vec(s, real=True) for s in claim.state}})
    try:
        hyps = _hypotheses(claim, q)
    except Exception:                # a hypothesis that reads the step: every one over coordinates
        return [], None
    shared, others = [], set()
    for k, h in enumerate(hyps):
        value = sp.sympify(h.value)
        if h.relation == "<= 0" and not value.has(coordinates.CoordSum) and value.free_symbols <= set(hp.values()) | {L}:
            shared.append(value <= 0)
        else:
            others.add(k)
    return shared, others


def _has_hypotheses(claim) -> bool:
    return claim.hypotheses is not None or any(isinstance(r, (UpTo, AtLeast)) for r in claim.hyper.values())


def _multipliers(hp):
    """Candidate multipliers for step-bound hypotheses: each nonnegative hyperparameter halved and whole, then 1/2, 1."""
    out = [f for s in hp.values() if s.is_nonnegative for f in (s / 2, s)]
    return out + [sp.Rational(1, 2), sp.Integer(1), sp.Integer(2)]


def _sampler(claim, side=within):
    """Draws each state vector as the searches draw a direction (:data:`ams_theory.engines.draws.U_DRAW`: a mix of
    the gradient and noise, exact zeros sometimes), each :class:`Range` hyperparameter in its range, a
    :class:`Step` as the papers' free steps, an :class:`AtLeast` above its base, and the step of an :class:`UpTo`
    against its bound (:func:`ams_theory.engines.draws.bounded_step`; ``side=beyond``: the control just past it)."""
    bounded = _bounded(claim)

    def draw(problem, w, gen):
        B, g, L = w.shape[0], problem.grad(w), Lc(problem)
        extra = {k: r.draw(gen, B) for k, r in claim.hyper.items() if isinstance(r, Range)}
        drawn = lambda: Quantities(_T1, {"w": w, "g": g, "L": L, **extra})      # what is drawn so far
        for s in claim.state:
            extra[s] = draws.draw_direction(problem, w, gen)
        for k, r in claim.hyper.items():
            if isinstance(r, Step):
                extra[k] = draws.eta_free(problem, gen, B)
        for k, r in claim.hyper.items():
            if isinstance(r, AtLeast):
                slack = draws.mixture(gen, B, r.mixture)
                extra[k] = r.base(drawn()) + (slack / L if r.per_L else slack)
        if bounded is not None:
            with torch.no_grad():
                num, den = _bound(claim, bounded[0], drawn())
            extra[bounded[0]], extra["theta"] = draws.bounded_step(problem, gen, (num, den), side)
        return torch.zeros_like(w), torch.zeros(B, 1, dtype=torch.float64), extra
    ranges = {k: ({"range": r.text(), "boundaries": r.boundaries()} if r.mixture is None else
                  draws.drawn_range(r.text(), r.mixture)) for k, r in claim.hyper.items() if isinstance(r, Range)}
    ranges.update({k: {"interval": f"{k} >= {r.text or 'its base'}", f"{k} - {r.text or 'base'}": draws.drawn_range(
        "slack", r.mixture, " / L" if r.per_L else "", **{"0": f"{k} at its base exactly"})}
        for k, r in claim.hyper.items() if isinstance(r, AtLeast)})
    ranges.update({s: "any real vector: " + draws.U_DRAW.replace("u = ", "", 1) for s in claim.state})
    if any(isinstance(r, Step) for r in claim.hyper.values()):
        ranges["step"] = draws.FREE_STEP
    if bounded is not None:
        ranges["step"] = draws.bounded_step_ranges(side, bounded[1].text or bounded[0] + "'s bound")
    return ds.Sampler(draw, ranges)


def margin_function(claim: OneStep, side=within):
    """``margin(ops, problem, w, u, eta, extra) -> Margin``: the claim at drawn instances (the searches' and the
    exact certificates' form; ``extra`` holds its hyperparameters and state vectors by name), with ``scale = 1 +
    sum |L(x)|`` over the loss values the claim read (``L(w)``, ``L(w')``, any ``q.loss_at(x)``). An
    :class:`UpTo` step applies where ``side(eta, (num, den))`` holds (:func:`ams_theory.engines.margins.within`,
    or ``beyond`` for the control)."""
    bounded = _bounded(claim) is not None
    mixed = [(k, r) for k, r in claim.hyper.items() if isinstance(r, Range) and r.mixture is not None]

    def margin(ops, problem, w, u, eta, extra):
        if isinstance(ops, SympyOps):           # the exact re-check passes a one-entry vector as a number
            extra = {k: (SympyOps.asarray([v]) if k in claim.state and isinstance(v, (sp.Basic, int, float)) else v)
                     for k, v in extra.items()}
        q = Quantities(ops, {"w": w, "g": problem.grad(w), "L": Lc(problem), **extra})
        read = []

        def value(x):
            read.append(F(problem, x))
            return read[-1]
        conclusion, hyps = _one_step_margin(claim, q, value, value(w))
        margin = conclusion.value if conclusion.relation == "<= 0" else ABS(conclusion.value)
        applicable = _all_hold(hyps[:-1]) if bounded else _all_hold(hyps)
        if bounded:
            applicable = AND(applicable, side(*_step_bound(claim, q)))
        for k, r in mixed:                    # a mixture may draw outside the range: those instances do not apply
            applicable = AND(applicable, r.contains(extra[k]))
        return Margin(margin, applicable, 1 + sum(ABS(v) for v in read))
    return margin


def as_margin(*claims):
    """Claims of the language in the searches' margin form ``(ops, problem, w, u, eta, extra)`` (the notebooks'
    and the tests' margins), with the direction ``u`` and the step ``eta`` as the claims' ``u`` and ``eta``
    (the step size: the claim's :class:`Step` or :class:`UpTo`, ``eta`` by default; ``side=beyond``: an
    :class:`UpTo` step past its bound, the control). Several claims must each hold: their
    margin is the largest over those that apply (:func:`ams_theory.engines.margins.combine`)."""
    functions = {side: [margin_function(c, side) for c in claims] for side in (within, beyond)}
    steps = [next((k for k, r in c.hyper.items() if isinstance(r, (Step, UpTo))), "eta") for c in claims]

    def margin(ops, problem, w, u, eta, extra, side=within):
        parts = [f(ops, problem, w, u, eta, {**extra, "u": u, name: eta}) for f, name in zip(functions[side], steps)]
        if len(parts) == 1:
            return parts[0]
        scale = parts[0].scale
        for m in parts[1:]:
            scale = MAX(scale, m.scale)
        return combine([(m.value, m.applicable) for m in parts], scale)
    return margin


def _all_hold(hyps):
    out = True
    for h in hyps:
        ok = (h.value <= 0) if h.relation == "<= 0" else (h.value == 0)
        out = ok if out is True else (out & ok if torch.is_tensor(ok) else sp.And(out, ok))
    return out


def margin_claim(claim: OneStep, side=within, dims=judging.DIMS["standard"]) -> ds.MarginClaim:
    """The claim as the discrete searches take it (:class:`ams_theory.engines.descent.MarginClaim`): its margin,
    its sampler, the loss families of its class (or its own family, mapped) and the quadratic ones a violation is
    certified on (``side=beyond``: an :class:`UpTo` step past its bound, the control)."""
    own = claim.losses if isinstance(claim.losses, LossFamily) else None
    families = own.families if own else tuple(smooth.CONVEX_FAMILIES if claim.losses == "convex"
                                              else smooth.LOSS_FAMILIES)
    return ds.MarginClaim(margin_function(claim, side), _sampler(claim, side), families,
                          tuple(f for f in families if f in judging.QUAD), dims,
                          problem_map=own.sampled if own else None)


def _search_one_step(claim, budget, seed, proof) -> Verdict:
    """The verdict pipeline of the papers' discrete checks (:func:`ams_theory.claims.judging.decide_margin`): a
    random search and a hypothesis search over the loss families of the class, a violation re-checked exactly on
    a quadratic."""
    own = claim.losses if isinstance(claim.losses, LossFamily) else None
    mc = margin_claim(claim, dims=judging.DIMS[budget])
    found = judging.decide_margin(mc, budget, seed)
    evidence = {**found.evidence, "proof": f"{proof.status}: {getattr(proof, 'reason', '') or proof.reduction}"}
    if own:
        evidence["loss"] = own.text
    if _bounded(claim) is not None:
        control = margin_claim(claim, beyond, dims=judging.DIMS[budget])
        control = dataclasses.replace(control, families=control.certify_families)
        evidence["control_past_the_bound"] = judging.control_past_the_bound(control, budget, seed)
    rs = found.rs
    if found.word == "refuted":
        cert = found.certificate
        cex = {"source": f"{cert['engine']}, re-checked in exact rationals", "family": cert["family"],
               "values": {"w": cert["w"], **{k: cert["extra"][k] for k in (*claim.hyper, *claim.state)}},
               "loss": {"A": cert["A"], "b": cert["b"], "c": cert["c"], "L": cert["L"]},
               "margin": cert["margin"], "margin_approx": cert["margin_approx"]}
        return Verdict("refuted", f"exact counterexample on a {cert['family']} loss, margin "
                                  f"{float(cert['margin_approx']):.3g}", evidence, cex, recheck=found.recheck,
                       strength=found.strength)
    if found.word == "not-checkable":
        return Verdict("not-checkable", f"{rs.violations} float violations, none reproduced exactly on a quadratic",
                       evidence, strength=found.strength)
    if rs.applicable == 0 and found.word == "holds":
        return _never_met(f"none of {rs.instances:,} drawn instances", evidence, found.strength)
    return Verdict("holds", f"no violation in {rs.applicable:,} applicable of {rs.instances:,} instances "
                            f"(proof: {proof.status})", evidence, strength=found.strength)


def _never_met(what, evidence, strength) -> Verdict:
    """A search in which no drawn instance met the hypotheses: ``vacuous`` as far as it looked (searched), never
    ``holds``."""
    return Verdict("vacuous", f"{what} met the hypotheses: vacuous as far as the search looked", evidence,
                   strength=searched("no drawn instance met the hypotheses", **strength.coverage))


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
    if search_beside and verdict.word == "holds":
        _keep_search(claim, verdict, proof, search())
    return verdict


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


# -- facts

def _fact_relation(claim, ops, vector, hp):
    q = Quantities(ops, {**{v: vector(v, real=True) for v in claim.vectors}, **hp})
    return _conclusion(claim, q)


def _decide_fact(claim: Fact, budget, search_beside=False) -> Verdict:
    hp, ranges = _symbols(claim)
    # a traced fact is built from sums and elementwise maps: sign patterns up to a permutation cover them all
    proof, verdict, symmetric = _per_coordinate(claim, lambda ops, vector: _fact_relation(claim, ops, vector, hp),
                                                ranges, "per coordinate, for all real entries")
    return _proof_or_search(claim, proof, verdict, lambda: _sign_patterns(claim, budget, hp, symmetric),
                            search_beside)


def _sign_patterns(claim: Fact, budget, hp, symmetric) -> Verdict:
    """The fact on every pattern of entry signs of its vectors, d = 1..FACT_DIMS[budget], with symbolic magnitudes
    (multisets of coordinates when the fact is symmetric in them, every ordering otherwise): ``holds``
    (exhaustive), or ``refuted`` at exact numbers with the failing pattern's signs (entry i: +-(i + 2)/2 or 0)."""
    d_max = FACT_DIMS[budget]
    cases = list(itertools.product(LABELS, repeat=len(claim.vectors)))
    number = lambda label, i: {"+": 1, "0": 0, "-": -1}[label] * sp.Rational(i + 2, 2)
    n = 0
    for d in range(1, d_max + 1):
        for pattern in (patterns(cases, d) if symmetric else itertools.product(cases, repeat=d)):
            n += 1

            def entries(make):
                return {v: SympyOps.asarray([make(case[k], f"{v}{i}", i) for i, case in enumerate(pattern)])
                        for k, v in enumerate(claim.vectors)}

            def at(vectors):
                return _fact_relation(claim, _EXACT, lambda name, **_: vectors[name], hp)
            relation = at(entries(lambda label, name, i: case_symbol(label, name)))
            value = sp.simplify(relation.value)
            if (value != 0) if relation.relation == "== 0" else (value.is_nonpositive is not True):
                numbers = entries(lambda label, name, i: number(label, i))

                def recheck(numbers=numbers):
                    r = at(numbers)
                    return proofs.violates(r.value, r.relation, (), {})
                if not recheck():
                    continue          # symbolic magnitudes fail somewhere, not at these numbers: no certificate here
                cex = {"pattern": ["".join(c) for c in pattern], "value": str(at(numbers).value),
                       "vectors": {v: [str(x) for x in numbers[v]] for v in claim.vectors},
                       "symbolic_value": str(value)}
                return Verdict("refuted", f"fails on the sign pattern {cex['pattern']}, e.g. {cex['vectors']}: "
                               f"{cex['value']}", {"patterns": n}, cex, recheck=recheck,
                               strength=proved(judging.REFUTATION_BASIS))
    coverage = {"dimensions": f"1..{d_max}", "patterns": n, "failing_patterns": 0,
                "cases_per_coordinate": "each entry of each vector > 0, = 0 or < 0, magnitudes symbolic",
                "orderings": "up to a permutation of coordinates" if symmetric else "every ordering"}
    return Verdict("holds", f"exact on all {n:,} sign patterns, d <= {d_max}", coverage,
                   strength=exhaustive(f"every sign pattern of d <= {d_max} coordinates, exact (sympy)", **coverage))
