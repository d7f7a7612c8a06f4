"""``OneStep``: one step of a method on every loss of a class, proved by the worst-case-loss reduction or searched
over the loss families with exact certificates; and its margin form for the searches, tests and notebooks."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

import sympy as sp
import torch

from ams_theory.claims import judging
from ams_theory.claims.registry import Verdict
from ams_theory.core.ops import SympyOps, TorchOps
from ams_theory.engines import coordinates, smooth
from ams_theory.engines import descent as ds
from ams_theory.engines import draws
from ams_theory.engines.margins import ABS, AND, MAX, F, Lc, Margin, beyond, combine, within
from ams_theory.claims.language._common import (AtLeast, ClaimError, Quantities, Range, Relation, Step, UpTo,
    _check_claim, _conclusion, _never_met, _proof_or_search, _stated_hypotheses, _symbols, _verdict_from_proof)

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
        _check_claim(self, ("step", "conclusion"), (Range, Step, UpTo, AtLeast), "a Range, a Step, an UpTo or an AtLeast")
        if not isinstance(self.losses, LossFamily) and self.losses not in LOSS_CLASSES:
            raise ValueError(f"{self.name}: losses={self.losses!r}, expected one of {', '.join(LOSS_CLASSES)} or a "
                             "LossFamily")


def _bound(claim, name, q):
    """The ``(num, den)`` of the claim's :class:`UpTo` ``name``."""
    bound = claim.hyper[name].bound(q)
    if not (isinstance(bound, (tuple, list)) and len(bound) == 2):
        raise ClaimError(f"{claim.name}: the bound of UpTo {name!r} must return a pair (num, den) for "
                         f"{name} <= num/den, got {type(bound).__name__}")
    return tuple(bound)


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
