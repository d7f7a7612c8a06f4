"""The claim registry: every catalogued claim, the check attached to it, and its verdict.

A check is a function ``check(budget, seed) -> Verdict``. The registry runs it and
enforces the rules of evidence:

- the verdict word is one of :data:`VERDICTS`;
- a ``refuted`` verdict carries a counterexample and an exact re-check (sympy or
  fractions) that the registry runs again: a counterexample that does not
  survive exact arithmetic makes the run fail, never a refutation;
- a correction (the nearest correct statement, checked) carries its own verdict.

Claims without a check report ``unchecked`` (a status, not a verdict).
"""
from __future__ import annotations

import importlib
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from .catalogue import CATALOGUE, FAMILIES, VERDICTS, ClaimEntry

__all__ = ["Verdict", "Claim", "Result", "REGISTRY", "BUDGETS", "KINDS", "register", "load_checks", "run_claim",
           "claims_for"]

BUDGETS = ("quick", "standard", "thorough")
KINDS = ("symbolic", "discrete", "continuous", "empirical", "convention")
CHECK_MODULES = {
    "reductions": "proofs_checks.reductions",
    "facts": "proofs_checks.facts",
    "discrete": "proofs_checks.discrete",
    "continuous": "proofs_checks.continuous",
    "empirical": "proofs_checks.figures",
}


@dataclass
class Verdict:
    """What a check found.

    ``summary``: one line for the table. ``evidence``: what was tried (cases,
    instances, tolerances, seeds) as JSON-ready data. ``counterexample``: the
    exact data of a failure (required for ``refuted``), with ``recheck`` a
    function that re-verifies it in exact arithmetic and returns True when the
    failure is real. ``correction``: ``{"statement", "verdict", "evidence"}``
    for the nearest correct statement. ``figures``: ``{name: (caption, draw)}``
    with ``draw(path)`` writing a PNG there; reports call it (figures are drawn
    only when a report is written).
    """

    word: str
    summary: str
    evidence: dict = field(default_factory=dict)
    counterexample: dict | None = None
    correction: dict | None = None
    recheck: Callable[[], bool] | None = None
    figures: dict = field(default_factory=dict)


@dataclass
class Claim:
    entry: ClaimEntry
    kind: str | None = None
    statement: str | None = None
    check: Callable[[str, int], Verdict] | None = None

    @property
    def id(self) -> str:
        return self.entry.id


@dataclass
class Result:
    claim: Claim
    status: str                      # "checked", "unchecked" or "crashed"
    verdict: Verdict | None = None
    error: str | None = None
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        e, v = self.claim.entry, self.verdict
        return {
            "id": e.id, "paper": e.paper, "where": e.where, "family": e.family, "kind": self.claim.kind,
            "statement": self.claim.statement or e.pointer,
            "status": self.status, "verdict": v.word if v else None,
            "summary": v.summary if v else (self.error or "no check attached yet"),
            "evidence": v.evidence if v else None,
            "counterexample": v.counterexample if v else None,
            "correction": v.correction if v else None,
            "error": self.error, "seconds": round(self.seconds, 3),
        }


REGISTRY: dict[str, Claim] = {c.id: Claim(c) for c in CATALOGUE}


def register(claim_id: str, kind: str, statement: str):
    """Decorator: attach ``check(budget, seed) -> Verdict`` to a catalogued claim."""
    if claim_id not in REGISTRY:
        raise KeyError(f"cannot register {claim_id!r}: not in the claim catalogue")
    if kind not in KINDS:
        raise ValueError(f"unknown claim kind {kind!r}")

    def deco(fn):
        claim = REGISTRY[claim_id]
        if claim.check is not None and claim.check is not fn:
            raise ValueError(f"claim {claim_id!r} already has a check")
        claim.kind, claim.statement, claim.check = kind, statement, fn
        return fn

    return deco


def load_checks() -> None:
    """Import the check modules that exist (each registers its claims)."""
    for module in CHECK_MODULES.values():
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise


def claims_for(ids=None, families=None) -> list[Claim]:
    """The registered claims, optionally restricted to ids and/or families (in catalogue order)."""
    selected = list(REGISTRY.values())
    if ids:
        unknown = [i for i in ids if i not in REGISTRY]
        if unknown:
            raise KeyError(f"unknown claim id {unknown[0]!r}")
        selected = [REGISTRY[i] for i in ids]
    if families:
        bad = [f for f in families if f not in FAMILIES]
        if bad:
            raise KeyError(f"unknown family {bad[0]!r} (expected one of {', '.join(FAMILIES)})")
        selected = [c for c in selected if c.entry.family in families]
    return selected


def _validate(claim: Claim, v: Verdict) -> None:
    if not isinstance(v, Verdict):
        raise TypeError(f"check returned {type(v).__name__}, not a Verdict")
    if v.word not in VERDICTS:
        raise ValueError(f"verdict word {v.word!r} is not one of {VERDICTS}")
    if v.word == "refuted":
        if not v.counterexample or v.recheck is None:
            raise ValueError("a refutation needs a counterexample and an exact re-check")
        if v.recheck() is not True:
            raise ValueError("the counterexample did not survive the exact re-check")
        v.counterexample = {**v.counterexample, "rechecked_exactly": True}
    if v.correction is not None:
        if v.correction.get("verdict") not in VERDICTS or not v.correction.get("statement"):
            raise ValueError("a correction needs a statement and a verdict word")


def run_claim(claim: Claim, budget: str = "standard", seed: int = 0) -> Result:
    """Run one claim's check; a crash is reported in the result, never raised."""
    if budget not in BUDGETS:
        raise ValueError(f"unknown budget {budget!r} (expected one of {', '.join(BUDGETS)})")
    if claim.check is None:
        return Result(claim, "unchecked")
    t0 = time.perf_counter()
    try:
        verdict = claim.check(budget, seed)
        _validate(claim, verdict)
    except Exception as err:     # a crashing check is a finding about the tool, reported as such
        last = traceback.extract_tb(err.__traceback__)[-1] if err.__traceback__ else None
        where = f" ({last.filename.rsplit('/', 1)[-1]}:{last.lineno})" if last else ""
        return Result(claim, "crashed", error=f"{type(err).__name__}: {err}{where}",
                      seconds=time.perf_counter() - t0)
    return Result(claim, "checked", verdict, seconds=time.perf_counter() - t0)
