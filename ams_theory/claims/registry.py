"""The claim registry: every catalogued claim, the check attached to it, and its verdict.

A check is a function ``check(budget, seed) -> Verdict``. The registry runs it and
enforces the rules of evidence:

- the verdict word is one of :data:`VERDICTS`;
- a ``refuted`` verdict carries a counterexample and an exact re-check (sympy or
  fractions) that the registry runs again: a counterexample that does not
  survive exact arithmetic makes the run fail, never a refutation;
- a correction (the nearest correct statement, checked) carries its own verdict;
- every verdict and every correction carries a :class:`Strength`: ``proved`` (for
  all states and hyperparameters in the stated range: a proof object the registry
  re-checks, or, for a refutation, the exactly re-checked counterexample),
  ``exhaustive`` (every case of a finite case space), ``searched`` (with what was
  searched), or ``none`` (nothing could be checked).

Claims without a check report ``unchecked``, and a claim that does not apply (a catalogued claim considered for
a user's rule, :mod:`ams_theory.claims.custom`) reports ``not applicable`` with the reason: statuses, not verdicts.
"""
from __future__ import annotations

import time
import traceback
from importlib import metadata
from dataclasses import dataclass, field
from typing import Any, Callable

from ams_theory.claims.catalogue import CATALOGUE, CLAIM_FAMILIES, VERDICTS, ClaimEntry
from ams_theory.engines import proofs

__all__ = ["Verdict", "Correction", "Strength", "STRENGTHS", "Claim", "Result", "REGISTRY", "BUDGETS", "KINDS", "register",
           "run_claim", "claims_for", "load_checks", "CHECKS_GROUP", "proved", "exhaustive", "searched", "no_evidence", "weakest"]

BUDGETS = ("quick", "standard", "thorough")
KINDS = ("symbolic", "discrete", "continuous", "empirical", "convention")


STRENGTHS = ("proved", "exhaustive", "searched", "none")     # strongest first
PAPER_TITLES = {"grams-ams.md": "The AMS/Grams paper", "cautious-optimizers.md": "The Cautious paper"}


@dataclass
class Strength:
    """How strong the evidence for a verdict (or a correction) is.

    ``level``: one of :data:`STRENGTHS`. ``basis``: one line saying what establishes
    it. ``coverage``: what was covered (cases, families, dimensions, instances,
    hyperparameter ranges with their boundaries). ``proof``: for ``proved``, a
    :class:`ams_theory.engines.proofs.Proof` or ``Bundle`` decided while this claim's check ran (the registry
    replays it and refuses one decided for another claim); a refutation is proved by its exactly re-checked
    counterexample instead.
    """

    level: str
    basis: str
    coverage: dict = field(default_factory=dict)
    proof: Any = None

    def to_json(self) -> dict[str, Any]:
        out = {"level": self.level, "basis": self.basis}
        if self.coverage:
            out["coverage"] = self.coverage
        if self.proof is not None:
            out["proof"] = self.proof.to_json()
        return out


def proved(basis: str, proof=None, **coverage) -> Strength:
    return Strength("proved", basis, coverage, proof)


def exhaustive(basis: str, **coverage) -> Strength:
    return Strength("exhaustive", basis, coverage)


def searched(basis: str, **coverage) -> Strength:
    return Strength("searched", basis, coverage)


def no_evidence(basis: str, **coverage) -> Strength:
    return Strength("none", basis, coverage)


def weakest(*strengths: Strength, basis: str | None = None) -> Strength:
    """The weakest of several parts' strengths (a claim is only as strong as its weakest part);
    the parts are kept in the coverage."""
    worst = max(strengths, key=lambda st: STRENGTHS.index(st.level))
    if len(strengths) == 1:
        return worst
    parts = [st.to_json() for st in strengths]
    return Strength(worst.level, basis or worst.basis, {"parts": parts})


@dataclass
class Correction:
    """The nearest correct statement to a claim that fails (or says nothing), judged like a claim: the
    ``statement``, its ``verdict`` word, :class:`Strength` and ``evidence``; for a refutation its
    ``counterexample`` and exact ``recheck``; ``repairs``: the judged single edits of the statement as printed
    (:func:`ams_theory.engines.repairs.search`, as JSON), summed up in ``repairs_summary``."""

    statement: str
    verdict: str
    strength: Strength | None = None
    evidence: dict = field(default_factory=dict)
    counterexample: dict | None = None
    recheck: Callable[[], bool] | None = None
    repairs: list | None = None
    repairs_summary: str | None = None

    @classmethod
    def of(cls, statement: str, verdict: "Verdict", evidence: dict | None = None) -> "Correction":
        """A judged verdict as the correction of another claim (a refutation keeps its counterexample and exact
        re-check); ``evidence``: in place of the verdict's own."""
        return cls(statement, verdict.word, verdict.strength, verdict.evidence if evidence is None else evidence,
                   verdict.counterexample, verdict.recheck)

    def with_repairs(self, candidates) -> "Correction":
        """The judged single edits (``repairs.Candidate``, ranked) attached; returns the correction."""
        from ams_theory.engines import repairs
        self.repairs, self.repairs_summary = [c.to_json() for c in candidates], repairs.summary(candidates)
        return self

    def to_json(self) -> dict[str, Any]:
        strength = self.strength.to_json() if self.strength is not None else None
        out = {"statement": self.statement, "verdict": self.verdict, "strength": strength, "evidence": self.evidence,
               "repairs": self.repairs, "repairs_summary": self.repairs_summary}
        if self.counterexample is not None:
            out["counterexample"] = self.counterexample
        if self.repairs is None:            # no generated neighbourhood: the hand-written correction is the one edit
            out["repairs"] = [{"edit": self.statement, "kind": "hand-written correction", "size": None,
                               "verdict": self.verdict, "strength": strength["level"] if strength else None,
                               "detail": ""}]
            out["repairs_summary"] = "only the hand-written correction was judged (no generated edits for this claim)"
        return out


@dataclass
class Verdict:
    """What a check found.

    ``summary``: one line for the table. ``evidence``: what was tried (cases,
    instances, tolerances, seeds) as JSON-ready data. ``counterexample``: the
    exact data of a failure (required for ``refuted``), with ``recheck`` a
    function that re-verifies it in exact arithmetic and returns True when the
    failure is real. ``correction``: the nearest correct statement, judged (a :class:`Correction`).
    ``strength``: how strong the evidence for the verdict is. ``figures``: ``{name: (caption, draw)}``
    with ``draw(path)`` writing a PNG there; reports call it (figures are drawn
    only when a report is written). ``reading``: which reading of the statement the verdict judges, where it
    reads more than one way (None: the statement has one reading, :data:`AS_PRINTED`).
    """

    word: str
    summary: str
    evidence: dict = field(default_factory=dict)
    counterexample: dict | None = None
    correction: Correction | None = None
    recheck: Callable[[], bool] | None = None
    figures: dict = field(default_factory=dict)
    strength: Strength | None = None
    reading: str | None = None


AS_PRINTED = "as printed (one reading)"


@dataclass
class Claim:
    entry: ClaimEntry
    kind: str | None = None
    statement: str | None = None
    check: Callable[[str, int], Verdict] | None = None
    where: str | None = None             # the source label in its paper, e.g. "Lemma D.1 Part 1"
    not_applicable: str | None = None    # why the claim does not apply (to a user's rule): it is not run
    margin: Callable | None = None       # a one-step claim's margin at instances (ams_theory.engines.margins)

    @property
    def id(self) -> str:
        return self.entry.id


@dataclass
class Result:
    claim: Claim
    status: str                      # "checked", "unchecked", "not applicable" or "crashed"
    verdict: Verdict | None = None
    error: str | None = None
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        e, v = self.claim.entry, self.verdict
        return {
            "id": e.id, "paper": e.paper, "where": self.claim.where, "family": e.family, "kind": self.claim.kind,
            "statement": self.claim.statement,
            "status": self.status, "verdict": v.word if v else None,
            "reading": (v.reading or AS_PRINTED) if v else None,
            "summary": v.summary if v else (self.error or self.claim.not_applicable or "no check attached yet"),
            "not_applicable": self.claim.not_applicable,
            "evidence": v.evidence if v else None,
            "counterexample": v.counterexample if v else None,
            "strength": v.strength.to_json() if v and v.strength else None,
            "correction": v.correction.to_json() if v and v.correction else None,
            "error": self.error, "seconds": round(self.seconds, 3),
        }


REGISTRY: dict[str, Claim] = {c.id: Claim(c) for c in CATALOGUE}


def register(claim_id: str, *, source: str, kind: str, statement: str, margin: Callable | None = None):
    """Decorator: attach ``check(budget, seed) -> Verdict`` to a catalogued claim, with the claim's source label in
    its paper (``source``), the kind of check, and its statement as a formula; ``margin``: for a one-step claim, its
    margin ``(ops, problem, w, u, eta, extra) -> Margin`` at instances (:class:`ams_theory.engines.margins.Margin`;
    the notebooks evaluate it along step sizes)."""
    if claim_id not in REGISTRY:
        raise KeyError(f"cannot register {claim_id!r}: not in the claim catalogue")
    if kind not in KINDS:
        raise ValueError(f"unknown claim kind {kind!r}")

    def deco(fn):
        claim = REGISTRY[claim_id]
        if claim.check is not None and claim.check is not fn:
            raise ValueError(f"claim {claim_id!r} already has a check")
        claim.kind, claim.statement, claim.where, claim.check, claim.margin = kind, statement, source, fn, margin
        # the check's docstring says what it checks; the claim (its source and statement) is prefixed here,
        # from the one place it is written
        fn.__doc__ = (f"{PAPER_TITLES[claim.entry.paper]}, {source}: {statement}\n\n    What is checked: "
                      f"{(fn.__doc__ or '').strip()}")
        return fn

    return deco


CHECKS_GROUP = "ams_theory.checks"     # entry points: packages whose ``load()`` registers checks of catalogued claims


def load_checks() -> None:
    """Register the checks of every installed package that declares one in the entry-point group
    :data:`CHECKS_GROUP` (this project's own are ``proofs_checks``, declared in ``pyproject.toml``); the library
    reaches the checks only this way, never by importing them."""
    found = metadata.entry_points(group=CHECKS_GROUP)
    if not found:
        raise RuntimeError(f"no claim checks are installed (no entry point in the group {CHECKS_GROUP!r}): "
                           "install the project with `pip install -e .`")
    for entry in found:
        entry.load()()


def claims_for(ids=None, families=None) -> list[Claim]:
    """The registered claims, optionally restricted to ids and/or families (in catalogue order)."""
    selected = list(REGISTRY.values())
    if ids:
        unknown = [i for i in ids if i not in REGISTRY]
        if unknown:
            raise KeyError(f"unknown claim id {unknown[0]!r}")
        selected = [REGISTRY[i] for i in ids]
    if families:
        bad = [f for f in families if f not in CLAIM_FAMILIES]
        if bad:
            raise KeyError(f"unknown family {bad[0]!r} (expected one of {', '.join(CLAIM_FAMILIES)})")
        selected = [c for c in selected if c.entry.family in families]
    return selected


def _validate(claim: Claim, v: Verdict) -> None:
    """The rules of evidence (module docstring); every proof must be bound to ``claim`` and replay."""
    if not isinstance(v, Verdict):
        raise TypeError(f"check returned {type(v).__name__}, not a Verdict")
    if v.word not in VERDICTS:
        raise ValueError(f"verdict word {v.word!r} is not one of {VERDICTS}")
    if v.reading is not None and not (isinstance(v.reading, str) and v.reading.strip()):
        raise ValueError("a verdict's reading names the reading judged in words (or is None: one reading)")
    if v.word == "refuted":
        if not v.counterexample or v.recheck is None:
            raise ValueError("a refutation needs a counterexample and an exact re-check")
        if v.recheck() is not True:
            raise ValueError("the counterexample did not survive the exact re-check")
        v.counterexample = {**v.counterexample, "rechecked_exactly": True}
    _validate_strength(v.strength, v.word, "the verdict", claim.id)
    if v.correction is not None:
        c = v.correction
        if not isinstance(c, Correction):
            raise TypeError(f"a correction is a Correction, not a {type(c).__name__}")
        if c.verdict not in VERDICTS or not c.statement:
            raise ValueError("a correction needs a statement and a verdict word")
        _validate_strength(c.strength, c.verdict, "the correction", claim.id, certificate=c.recheck)


def _validate_strength(st, word: str, what: str, claim_id: str, certificate=None) -> None:
    """A strength is required; ``proved`` needs a proof that re-checks (or, for a refutation, a counterexample
    already re-checked exactly); ``none`` only goes with ``not-checkable``."""
    if not isinstance(st, Strength):
        raise ValueError(f"{what} carries no strength of evidence")
    if st.level not in STRENGTHS:
        raise ValueError(f"strength {st.level!r} is not one of {STRENGTHS}")
    if st.level == "none" and word != "not-checkable":
        raise ValueError(f"{what} is {word!r} with no evidence")
    if st.level == "proved":
        if st.proof is not None:
            if not isinstance(st.proof, (proofs.Proof, proofs.Bundle)):
                raise ValueError(f"the proof of {what} is a {type(st.proof).__name__}, not a proof of the engine")
            parts = list(st.proof.proofs())
            foreign = [p for p in parts if p.bound_claim != claim_id]
            if not parts or foreign:
                raise ValueError(f"the proof of {what} was decided for "
                                 f"{(foreign[0].bound_claim if foreign else None) or 'no claim'}, not {claim_id}")
            if word == "holds" and not st.proof.proved:
                raise ValueError(f"{what} holds but its proof is {st.proof.status}")
            if st.proof.recheck(claim=claim_id) is not True:
                raise ValueError(f"the proof of {what} did not re-check")
        elif word == "refuted" and what == "the verdict":
            pass                                   # the counterexample was re-checked above
        elif word == "refuted" and certificate is not None:
            if certificate() is not True:
                raise ValueError(f"the counterexample of {what} did not survive the exact re-check")
        else:
            raise ValueError(f"{what} is called proved without a proof")


def run_claim(claim: Claim, budget: str = "standard", seed: int = 0) -> Result:
    """Run one claim's check; a crash is reported in the result, never raised."""
    if budget not in BUDGETS:
        raise ValueError(f"unknown budget {budget!r} (expected one of {', '.join(BUDGETS)})")
    if claim.not_applicable:
        return Result(claim, "not applicable")
    if claim.check is None:
        return Result(claim, "unchecked")
    t0 = time.perf_counter()
    try:
        with proofs.bound_to(claim.id):
            verdict = claim.check(budget, seed)
        _validate(claim, verdict)
    except Exception as err:     # a crashing check is a finding about the tool, reported as such
        last = traceback.extract_tb(err.__traceback__)[-1] if err.__traceback__ else None
        where = f" ({last.filename.rsplit('/', 1)[-1]}:{last.lineno})" if last else ""
        first = next((line for line in str(err).splitlines() if line.strip()), "")      # one line
        return Result(claim, "crashed", error=f"{type(err).__name__}: {first.strip()}{where}",
                      seconds=time.perf_counter() - t0)
    return Result(claim, "checked", verdict, seconds=time.perf_counter() - t0)
