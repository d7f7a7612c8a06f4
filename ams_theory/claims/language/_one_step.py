"""``OneStep``: one step of a method on every loss of a class, proved by the worst-case-loss reduction or searched
over the loss families with exact certificates; and its margin form for the searches, tests and notebooks."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

import sympy as sp
import torch

from ams_theory.claims import judging
from ams_theory.claims.registry import Verdict, proved
from ams_theory.core.ops import SympyOps, TorchOps
from ams_theory.engines import coordinates, smooth
from ams_theory.engines import descent as ds
from ams_theory.engines import draws
from ams_theory.engines.margins import ABS, AND, GT, MAX, F, Lc, Margin, beyond, combine, within
from ams_theory.claims.language._common import (AtLeast, ClaimError, Quantities, Range, Relation, Step, UpTo,
    _check_claim, _conclusion, _exact_extra, _proof_or_search, _stated_hypotheses, _symbols, _verdict_from_proof,
    _verdict_from_search)

LOSS_CLASSES = {"smooth": "every L-smooth loss", "convex": "every convex L-smooth loss"}
_T1 = TorchOps(batch_dims=1)


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
    ranges, ``state``: names of state vectors the step reads (drawn freely: any real vectors); ``witnesses``:
    instances to try exactly beside the search (:class:`ams_theory.engines.descent.Draw` on a quadratic loss, its
    ``extra`` naming every hyperparameter and state vector), for counterexamples a search meets only rarely."""

    name: str
    step: Callable
    conclusion: Callable
    losses: str = "smooth"
    hyper: dict = field(default_factory=dict)
    state: tuple = ()
    hypotheses: Callable | None = None
    source: str = ""
    witnesses: tuple = ()

    def __post_init__(self):
        _check_claim(self, ("step", "conclusion"), (Range, Step, UpTo, AtLeast),
                     "a Range, a Step, an UpTo or an AtLeast")
        if not isinstance(self.losses, LossFamily) and self.losses not in LOSS_CLASSES:
            raise ValueError(f"{self.name}: losses={self.losses!r}, expected one of {', '.join(LOSS_CLASSES)} or a "
                             "LossFamily")


def _bound(claim, name, q) -> list:
    """The pairs ``(num, den)`` of the claim's :class:`UpTo` ``name`` (one pair, or several for a minimum)."""
    bound = claim.hyper[name].bound(q)
    is_pair = lambda b: isinstance(b, (tuple, list)) and len(b) == 2 and not isinstance(b[0], (tuple, list))
    pairs = [bound] if is_pair(bound) else list(bound) if isinstance(bound, (tuple, list)) else []
    if not pairs or not all(is_pair(p) for p in pairs):
        raise ClaimError(f"{claim.name}: the bound of UpTo {name!r} must return a pair (num, den) for "
                         f"{name} <= num/den, or a list of pairs for the minimum, got {type(bound).__name__}")
    return [tuple(p) for p in pairs]


def _tightest(pairs):
    """The pair of smallest ratio ``num/den`` at each instance (batched torch), for drawing a step against a minimum:
    where some ``num_k <= 0`` the bound is not positive, and that pair is taken."""
    num, den = pairs[0]
    for n, d in pairs[1:]:
        tighter = n * den < num * d          # n/d < num/den, dens positive; a non-positive bound wins
        num, den = torch.where(tighter, n, num), torch.where(tighter, d, den)
    return num, den


def _on_side(side, eta, pairs):
    """``side`` (:func:`~ams_theory.engines.margins.within` or ``beyond``) of the minimum of the pairs: within every
    one of them, or past a positive minimum (every bound positive, past at least one)."""
    if side is within:
        out = True
        for pair in pairs:
            out = AND(out, within(eta, pair))
        return out
    positive, past = True, False
    for num, den in pairs:
        positive = AND(positive, AND(GT(den, 0), GT(num, 0)))
        past = _either(past, GT(eta * den, num))
    return AND(positive, past)


def _either(a, b):
    """``a or b`` on the back ends' booleans."""
    if a is False:
        return b
    return a | b if torch.is_tensor(a) or torch.is_tensor(b) else sp.Or(a, b)


# -- one step

def _bounded(claim):
    """``(name, UpTo)`` of the claim's step drawn against a bound, or None."""
    return next(((k, r) for k, r in claim.hyper.items() if isinstance(r, UpTo)), None)


def _step_bound(claim, q):
    """``(eta, (num, den))`` of the claim's :class:`UpTo`, or None."""
    bounded = _bounded(claim)
    return None if bounded is None else (getattr(q, bounded[0]), _bound(claim, bounded[0], q))


def _hypotheses(claim, q) -> list:
    """The claim's hypotheses, its step bound ``eta den_k - num_k <= 0`` (an :class:`UpTo`, one per pair) last."""
    hyps = _stated_hypotheses(claim, q, strict=True)
    hyps += [Relation(r.base(q) - getattr(q, k), "<= 0") for k, r in claim.hyper.items() if isinstance(r, AtLeast)]
    bound = _step_bound(claim, q)
    if bound is not None:
        eta, pairs = bound
        hyps += [Relation(eta * den - num, "<= 0") for num, den in pairs]
    return hyps


def _one_step_margin(claim, q, value, f0):
    """The claim's conclusion and hypotheses after its step: ``q`` gains ``w_next``, ``dw``,
    ``dL = value(w_next) - f0`` and ``loss_at`` (``value``: the loss's value at a point, ``f0``: its value at ``w``),
    so that a conclusion may compare the loss at two points (the step taken and another one)."""
    w_next = claim.step(q)
    q._set(w_next=w_next, dw=w_next - q.w, dL=value(w_next) - f0, loss_at=value)
    return _conclusion(claim, q, strict=True), _hypotheses(claim, q)


def _decide_one_step(claim: OneStep, budget, seed, search_beside=False) -> Verdict:
    proof, verdict = _prove_one_step(claim)
    return _proof_or_search(claim, proof, verdict, lambda: _search_one_step(claim, budget, seed, proof), search_beside)


def _prove_one_step(claim: OneStep):
    """``(proof, verdict)``: the proof engine's answer for the claim, and its verdict (None when the proof is open or
    set aside, and the claim is then searched). A positive step whose bound is never positive is ``vacuous``."""
    hp, ranges = _symbols(claim)
    L, f0 = sp.Symbol("L", positive=True), sp.Symbol("f0", real=True)
    vacuity = _never_positive_bound(claim, hp, L, ranges)
    if vacuity is not None:
        proof, text = vacuity
        return proof, Verdict("vacuous", f"no step eta > 0 meets the bound: {text} for every state (proved for "
                              "every dimension), so the bound is never positive", {"proof": proof.status},
                              strength=proved(f"proof engine: {text} per coordinate, so no eta > 0 meets the bound",
                                              proof))
    shared, per_coordinate = _split_hypotheses(claim, hp, L)
    by_multiplier = _has_hypotheses(claim) and (per_coordinate is None or bool(per_coordinate))

    strict = {}

    def build(ops, vector, loss):
        w, g = vector("w", real=True), vector("g", real=True)
        lossobj = loss(w, g)
        q = Quantities(ops, {"w": w, "g": g, "L": L, **hp, **{s: vector(s, real=True) for s in claim.state}})
        conclusion, hyps = _one_step_margin(claim, q, lossobj.value, lossobj.value(w))
        if conclusion.relation == "== 0":
            raise coordinates.GenericAccessError("an identity about a loss change is searched, not reduced")
        relaxed = [h for k, h in enumerate(hyps) if per_coordinate is None or k in per_coordinate]
        strict.update(conclusion=conclusion.relation == "< 0", relaxed=any(h.relation == "< 0" for h in relaxed))
        H = [-h.value for h in relaxed]
        return (conclusion.value, H) if by_multiplier else conclusion.value

    if isinstance(claim.losses, LossFamily):
        proof, what = _prove_on_family(claim, hp, ranges), f"{claim.losses.text}, per coordinate"
    else:
        proof = coordinates.worst_case(build, claim.losses, f"{claim.name} on {LOSS_CLASSES[claim.losses]}",
                                       hypotheses=ranges + shared, L=L, f0=f0,
                                       multipliers=_multipliers(hp) if by_multiplier else None,
                                       gates=_gate_multipliers(hp))
        what = f"{LOSS_CLASSES[claim.losses]}, worst-case reduction"
    verdict = _verdict_from_proof(claim, proof, what)
    if verdict is not None and _strict_sets_aside(verdict.word, strict):
        proof.reason = (f"the engine answered {proof.status} for the non-strict form; "
                        + ("a proof of <= does not give <" if verdict.word == "holds" else
                           "its point may sit where a strict hypothesis is an equality"))
        verdict = None
    return proof, verdict


def _strict_sets_aside(word, strict) -> bool:
    """Whether a proof of a strict claim's non-strict form (the engine proves ``<=``) must be set aside: a proof of
    ``<= 0`` does not prove ``< 0``, and a model of a strict hypothesis relaxed to ``<= 0`` may not meet it."""
    return (word == "holds" and strict.get("conclusion")) or (word == "refuted" and strict.get("relaxed"))


def _never_positive_bound(claim, hp, L, ranges):
    """For a positive step (``UpTo(positive=True)``): ``(proof, text)`` when some argument ``num_k`` of its bound is
    proved ``<= 0`` for every state, per coordinate (then no ``eta > 0`` meets ``eta <= num_k/den_k``); else None."""
    bounded = _bounded(claim)
    if bounded is None or not bounded[1].positive:
        return None
    vec = coordinates.generic_vector

    def numerator(k):
        def build(ops, vector):
            q = Quantities(ops, {"w": vector("w", real=True), "g": vector("g", real=True), "L": L, **hp,
                                 **{s: vector(s, real=True) for s in claim.state}})
            return _bound(claim, bounded[0], q)[k][0]
        return build
    try:
        count = len(_bound(claim, bounded[0], Quantities(coordinates.GENERIC, {
            "w": vec("w", real=True), "g": vec("g", real=True), "L": L, **hp,
            **{s: vec(s, real=True) for s in claim.state}})))
    except coordinates.GenericAccessError:
        return None
    for k in range(count):
        text = f"argument {k + 1} of {bounded[1].text or 'the bound'} is <= 0"
        proof = coordinates.per_coordinate(numerator(k), "<= 0", ranges, f"{claim.name}: {text}")
        if proof.proved:
            return proof, text
    return None


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
        reads_only_hyperparameters = value.free_symbols <= set(hp.values()) | {L}
        if h.relation != "== 0" and not value.has(coordinates.CoordSum) and reads_only_hyperparameters:
            shared.append(value < 0 if h.relation == "< 0" else value <= 0)
        else:
            others.add(k)
    return shared, others


def _has_hypotheses(claim) -> bool:
    return claim.hypotheses is not None or any(isinstance(r, (UpTo, AtLeast)) for r in claim.hyper.values())


def _multipliers(hp):
    """Candidate multipliers for step-bound hypotheses: each nonnegative hyperparameter halved and whole, then 1/2, 1."""
    out = [f for s in hp.values() if s.is_nonnegative for f in (s / 2, s)]
    return out + [sp.Rational(1, 2), sp.Integer(1), sp.Integer(2)]


def _gate_multipliers(hp):
    """Candidate multipliers for the condition of a per-vector gate's case: 0 (a case that needs none), each
    hyperparameter and each product of two (``eps alpha``), then 1/2, 1, 2; each is used only once proved >= 0."""
    symbols = sorted(hp.values(), key=sp.default_sort_key)
    products = [a * b for i, a in enumerate(symbols) for b in symbols[i + 1:]]
    return [sp.Integer(0)] + symbols + products + [sp.Rational(1, 2), sp.Integer(1), sp.Integer(2)]


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
                extra[k] = r.draw(problem, gen, B)
        for k, r in claim.hyper.items():
            if isinstance(r, AtLeast):
                slack = draws.mixture(gen, B, r.mixture)
                extra[k] = r.base(drawn()) + (slack / L if r.per_L else slack)
        if bounded is not None:
            with torch.no_grad():
                pair = _tightest(_bound(claim, bounded[0], drawn()))
            extra[bounded[0]], extra["theta"] = draws.bounded_step(problem, gen, pair, side)
        return torch.zeros_like(w), torch.zeros(B, 1, dtype=torch.float64), extra
    ranges = {k: r.coverage() for k, r in claim.hyper.items() if isinstance(r, Range)}
    ranges.update({k: {"interval": f"{k} >= {r.text or 'its base'}", f"{k} - {r.text or 'base'}": draws.drawn_range(
        "slack", r.mixture, " / L" if r.per_L else "", **{"0": f"{k} at its base exactly"})}
        for k, r in claim.hyper.items() if isinstance(r, AtLeast)})
    ranges.update({s: "any real vector: " + draws.U_DRAW.replace("u = ", "", 1) for s in claim.state})
    ranges.update({"step": r.coverage() for r in claim.hyper.values() if isinstance(r, Step)})
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
    step_name, step_size = next(((k, r) for k, r in claim.hyper.items() if isinstance(r, (Step, UpTo))), (None, None))
    positive = step_size is not None and step_size.positive
    mixed = [(k, r) for k, r in claim.hyper.items() if isinstance(r, Range) and r.mixture is not None]

    def margin(ops, problem, w, u, eta, extra):
        if isinstance(ops, SympyOps):
            extra = _exact_extra(claim, extra)
        q = Quantities(ops, {"w": w, "g": problem.grad(w), "L": Lc(problem), **extra})
        read = []

        def value(x):
            read.append(F(problem, x))
            return read[-1]
        conclusion, hyps = _one_step_margin(claim, q, value, value(w))
        margin.relations.add(conclusion.relation)
        value = ABS(conclusion.value) if conclusion.relation == "== 0" else conclusion.value
        if bounded:                             # the step bound's own test, on the side asked for
            eta, pairs = _step_bound(claim, q)
            applicable = AND(_all_hold(hyps[:len(hyps) - len(pairs)]), _on_side(side, eta, pairs))
        else:
            applicable = _all_hold(hyps)
        if positive:                          # a drawn step of 0 is not a step of the claim
            applicable = AND(applicable, GT(getattr(q, step_name), 0))
        for k, r in mixed:                    # a mixture may draw outside the range: those instances do not apply
            applicable = AND(applicable, r.contains(extra[k]))
        return Margin(value, applicable, 1 + sum(ABS(v) for v in read))
    margin.relations = set()                  # the conclusion's relations met so far (a strict one is searched so)
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
        ok = {"<= 0": lambda v: v <= 0, "< 0": lambda v: v < 0, "== 0": lambda v: v == 0}[h.relation](h.value)
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
    verdict = _verdict_from_search(found, evidence, (*claim.hyper, *claim.state), proof.status)
    if verdict.word in ("refuted", "not-checkable"):
        return verdict
    strict = "< 0" in mc.margin.relations
    if strict and verdict.word == "holds":
        verdict.summary += "; strict: the search looks for value > 0, the witnesses for value >= 0"
        verdict.evidence["strict"] = ("the conclusion is strict (value < 0): the float search counts value > 0 as a "
                                      "violation, so an instance where value = 0 exactly is found only among the "
                                      f"witnesses ({len(claim.witnesses)} given)")
    for witness in claim.witnesses:          # instances the author constructed, evaluated exactly
        verdict = judging.with_witness(verdict, mc, witness, strict)
    return verdict
