"""The claim catalogue: every claim of the two papers, with its stable id.

The ids are those of the project's claim catalogue (``claims.md``). Checks attach
to these entries by id, with the claim's statement and source label; a claim
with no check yet is reported as unchecked, never given a verdict.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ClaimEntry", "CATALOGUE", "VERDICTS", "CLAIM_FAMILIES", "by_id"]

VERDICTS = ("holds", "refuted", "vacuous", "conditional", "not-checkable")
CLAIM_FAMILIES = ("reductions", "facts", "discrete", "continuous", "empirical")

GRAMS_PAPER = "grams-ams.md"
CAUTIOUS_PAPER = "cautious-optimizers.md"


@dataclass(frozen=True)
class ClaimEntry:
    """A claim that must get a verdict: its stable id and family. Its statement (a formula) and its source label
    are registered with its check (:func:`ams_theory.claims.registry.register`), in one place."""

    id: str
    family: str

    @property
    def paper(self) -> str:
        """The paper's file: the id's prefix says which (``grams.`` or ``cautious.``)."""
        return GRAMS_PAPER if self.id.startswith("grams.") else CAUTIOUS_PAPER


def _c(id, family):
    return ClaimEntry(id, family)


CATALOGUE = (   # id, family: what must get a verdict; the statement and source live with the check
    _c("grams.B1.beta3", "reductions"),
    _c("grams.B1.lambda", "reductions"),
    _c("grams.B2", "reductions"),
    _c("grams.B3", "reductions"),
    _c("grams.C1", "facts"),
    _c("grams.C2", "facts"),
    _c("grams.C3", "facts"),
    _c("grams.C4", "facts"),
    _c("grams.C5", "facts"),
    _c("grams.C6", "facts"),
    _c("grams.D1.part1", "discrete"),
    _c("grams.D1.part2", "discrete"),
    _c("grams.D1.part3", "discrete"),
    _c("grams.D2.part1", "discrete"),
    _c("grams.D2.part2", "discrete"),
    _c("grams.D2.part3", "discrete"),
    _c("grams.D3", "discrete"),
    _c("grams.R5.5", "discrete"),
    _c("grams.E2", "continuous"),
    _c("grams.E3.H", "continuous"),
    _c("grams.E3.L", "continuous"),
    _c("grams.E4", "continuous"),
    _c("grams.5.10", "continuous"),
    _c("grams.5.3.intro", "continuous"),
    _c("grams.R5.9", "continuous"),
    _c("grams.E1", "continuous"),
    _c("grams.E1.L", "continuous"),
    _c("grams.E2.hence1", "continuous"),
    _c("grams.E2.hence2", "continuous"),
    _c("grams.table1.text", "empirical"),
    _c("grams.table2.text", "empirical"),
    _c("grams.fig1", "empirical"),
    _c("grams.table1", "empirical"),
    _c("grams.table2", "empirical"),
    _c("cautious.2.1", "continuous"),
    _c("cautious.eq6", "discrete"),
    _c("cautious.eq6.default", "discrete"),
    _c("cautious.2.2", "continuous"),
    _c("cautious.2.3", "discrete"),
    _c("cautious.2.4", "discrete"),
    _c("cautious.A3", "discrete"),
    _c("cautious.A5", "discrete"),
    _c("cautious.A6", "discrete"),
    _c("cautious.A7", "discrete"),
    _c("cautious.A1", "continuous"),
    _c("cautious.A2", "continuous"),
    _c("cautious.A3.1.formula", "continuous"),
    _c("cautious.A3.1.cadam", "continuous"),
    _c("cautious.A3.2", "continuous"),
    _c("cautious.A3.3", "continuous"),
    _c("cautious.alg1", "reductions"),
    _c("cautious.fig2.monotone", "empirical"),
    _c("cautious.fig2.dominates", "empirical"),
    _c("cautious.fig8", "empirical"),
    _c("cautious.intro.condition", "continuous"),
    _c("cautious.2.1.text", "continuous"),
    _c("cautious.eq3", "continuous"),
    _c("cautious.eq4", "continuous"),
    _c("cautious.A6.ext", "discrete"),
    _c("cautious.fig4.range", "empirical"),
    _c("cautious.fig8.caption", "empirical"),
    _c("cautious.table1.text", "empirical"),
    _c("cautious.table2.text", "empirical"),
    _c("cautious.table1", "empirical"),
)

_BY_ID = {c.id: c for c in CATALOGUE}


def by_id(claim_id: str) -> ClaimEntry:
    try:
        return _BY_ID[claim_id]
    except KeyError:
        raise KeyError(f"unknown claim id {claim_id!r}") from None
