"""``decide`` for every kind of claim, ``Judgement`` (a statement as printed with its correction and repairs) and
``register``, the one path by which the papers' claims and a user's reach the registry."""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field

from ams_theory.claims import registry
from ams_theory.claims.registry import Correction, Verdict, proved, weakest
from ams_theory.engines import proofs, repairs
from ams_theory.claims.language._common import BUDGETS
from ams_theory.claims.language._fact import Fact, _decide_fact
from ams_theory.claims.language._flow import Flow, _decide_flow
from ams_theory.claims.language import _one_step, _trajectory
from ams_theory.claims.language._one_step import OneStep, _decide_one_step, as_margin
from ams_theory.claims.language._reduction import SameStep, _decide_same_step
from ams_theory.claims.language._trajectory import Trajectory, _decide_trajectory

# how each kind of claim is decided: decide(claim, budget, seed, search_beside) -> Verdict
DECIDERS = {OneStep: _decide_one_step, Flow: _decide_flow, Fact: _decide_fact, SameStep: _decide_same_step,
            Trajectory: _decide_trajectory}


def margin_claim(claim, **kw):
    """A ``OneStep`` or a ``Trajectory`` in the discrete searches' form
    (:class:`ams_theory.engines.descent.MarginClaim`: its margin, sampler and families)."""
    if isinstance(claim, Trajectory):
        return _trajectory.margin_claim(claim, **kw)
    return _one_step.margin_claim(claim, **kw)


# ----------------------------------------------------------------------------- decide

def decide(claim, budget: str = "standard", seed: int = 0, search_beside: bool = False) -> Verdict:
    """The claim's verdict: proved for every dimension by the proof engine, else refuted by an exactly re-checked
    counterexample, else searched (the budget sets how hard: ``quick``, ``standard``, ``thorough``).
    ``search_beside``: a proved ``OneStep`` is searched too, and the search is kept in the proof's coverage (a
    cross-check of the engine: a search that refutes a proved claim is raised as a defect of the tool); a proved
    ``Flow`` likewise keeps its exact evaluation at drawn states, and a proved ``Fact`` its exact sign patterns."""
    if budget not in BUDGETS:
        raise ValueError(f"unknown budget {budget!r} (expected one of {', '.join(BUDGETS)})")
    decider = DECIDERS.get(type(claim))
    if decider is None:
        raise TypeError(f"decide takes a {', a '.join(k.__name__ for k in DECIDERS)}, got {type(claim).__name__}")
    return decider(claim, budget, seed, search_beside)


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
    summary = _summary_of_parts(claims, verdicts)
    parts = [v.strength.to_json() for v in verdicts]
    if all(v.strength.level == "proved" for v in verdicts):
        bundle = proofs.Bundle([(c.name, v.strength.proof) for c, v in zip(claims, verdicts)])
        return Verdict("holds", summary, evidence, strength=proved(f"proof engine, {len(claims)} parts", bundle,
                                                                   parts=parts))
    named = [registry.Strength(v.strength.level, f"{c.name}: {v.strength.basis}", v.strength.coverage,
                               v.strength.proof) for c, v in zip(claims, verdicts)]      # each part says which
    return Verdict("holds", summary, evidence, strength=weakest(*named))


SUMMARY_PARTS = 4        # a statement of more parts than this is summarised by counts (each part stays in the evidence)
SUMMARY_NAMES = 12       # and, when every part is proved, by the names of its first parts (what each one proved)


def _summary_of_parts(claims, verdicts) -> str:
    """Each part's summary, or, for many parts, how many hold at each strength and which are not proved."""
    if len(claims) <= SUMMARY_PARTS:
        return "; ".join(f"{c.name}: {v.summary}" for c, v in zip(claims, verdicts))
    levels = {}
    for v in verdicts:
        levels[v.strength.level] = levels.get(v.strength.level, 0) + 1
    weaker = [c.name for c, v in zip(claims, verdicts) if v.strength.level != "proved"]
    names = [c.name for c in claims]
    listed = "; ".join(names) if len(names) <= SUMMARY_NAMES else f"{'; '.join(names[:SUMMARY_NAMES])}; ..."
    return (f"all {len(claims)} parts hold (" + ", ".join(f"{n} {level}" for level, n in levels.items()) + ")"
            + (f"; not proved: {', '.join(weaker)}" if weaker else f": {listed}"))


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
    reading: str | None = None       # the reading judged, where the statement reads more than one way
    undefined: tuple = ()            # (condition, why): the statement is undefined outside the condition, which the
    #                                  printed range does not exclude; the literal claims are judged under it


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
            verdict.reading = judged.reading
            verdict.evidence.update(judged.notes)
            for name, claim in judged.beside.items():
                v = decide_all(claim, budget, seed)
                verdict.evidence[name] = {"verdict": v.word, "strength": v.strength.level, "summary": v.summary}
            if verdict.word == "refuted" and judged.why:
                verdict.summary = f"{judged.why}; {verdict.summary}"
            if judged.undefined and verdict.word == "holds":
                condition, why = judged.undefined
                verdict.word, verdict.summary = "conditional", (f"holds when {condition} (not stated: {why}); "
                                                                + verdict.summary)
            if judged.correction is not None and verdict.word != "holds":     # nothing to correct otherwise
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
                    if verdict.strength.level == "proved":      # the proof of the claim under the condition
                        verdict.strength.proof = c.strength.proof
            return verdict
        check.__doc__ = (make.__doc__ or "").strip() + " Stated in the claim language and decided by it."
        check.__name__ = make.__name__
        literal = _as_list(_judged(make()).literal)
        margin = as_margin(*literal) if all(isinstance(c, OneStep) for c in literal) else None
        registry.register(claim_id, source=source, kind=kind, statement=statement, margin=margin)(check)
        return make
    return deco
