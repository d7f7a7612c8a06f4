"""One verdict pipeline for a claim given as a margin (``descent.MarginClaim``): search it with both engines, re-check a
violation in exact arithmetic, and judge it, with the strength of the evidence and what the search covered.

Used by the claim language (:mod:`ams_theory.claims.language`), which states the papers' discrete claims and a
user's, so both get the same searches, certificates and coverage. The budgets (:data:`BUDGET`, :data:`DIMS`) say
how hard each search looks.

Beside the pipeline: the control just past a claim's step bound (:func:`control_past_the_bound`, evidence only),
and a verdict overturned by a constructed instance (:func:`with_witness`).
"""
from __future__ import annotations

import dataclasses

import sympy as sp
import torch

from ams_theory.claims.registry import Verdict, no_evidence, proved, searched
from ams_theory.engines import proofs, smooth
from ams_theory.engines.descent import (Draw, MarginClaim, certify, hypothesis_search, random_search, search_coverage)

__all__ = ["BUDGET", "DIMS", "QUAD", "CONVEX", "hypothesis_families", "search", "INSIDE_THE_EDGE",
           "certified", "positive", "EXACT_DIGITS", "exact_text", "try_certify", "search_evidence",
           "REFUTATION_BASIS", "SEARCH_BASIS", "refutation_strength", "search_strength", "decide_margin",
           "CONTROL_SHARE", "control_past_the_bound", "with_witness"]

BUDGET = {  # (random-search rounds over every (family, d) pair, batch size, hypothesis examples)
    "quick": (1, 4_000, 100), "standard": (1, 100_000, 300), "thorough": (4, 100_000, 2000)}
DIMS = {"quick": (1, 2, 3, 5, 8), "standard": (1, 2, 4, 8), "thorough": (1, 2, 3, 4, 5, 6, 8)}
QUAD = tuple(smooth.QUADRATIC_FAMILIES)
CONVEX = tuple(f for f, sample in smooth.LOSS_FAMILIES.items() if sample(1, 1, torch.Generator().manual_seed(0)).convex)


def hypothesis_families(claim: MarginClaim, families=None):
    """The quadratic families among those searched (the hypothesis search's finds must certify exactly)."""
    return tuple(f for f in (families or claim.families) if f in QUAD) or claim.certify_families


def search(claim: MarginClaim, budget: str, seed: int, families=None, size_factor=1.0):
    batches, size, hyp = BUDGET[budget]
    rs = random_search(claim, batches, max(1000, int(size * size_factor)), seed, families=families,
                       dims=DIMS[budget])
    found, tried = hypothesis_search(claim, hyp, seed, families=hypothesis_families(claim, families))
    return rs, found, tried


# A rotated quadratic's L is rounded up (by 1e-9, relative) for its exact certificate, which can put an instance
# found at its step bound just outside the bound; such a candidate is tried again with its step 1e-7 smaller.
INSIDE_THE_EDGE = 1 - 1e-7


def certified(claim: MarginClaim, rs, found, seed, families=None, undecided=None):
    """An exactly re-checked violation: from the hypothesis find, the worst batch instance, or a
    search restricted to quadratic families. Returns (certificate dict, recheck) or (None, None); ``undecided``
    (a list) collects why a candidate could not be decided exactly (:func:`_try_certify`)."""
    candidates = []
    if found is not None:
        candidates.append((found, 0, "hypothesis"))
    if rs.worst_draw is not None and rs.worst > 0:
        candidates.append((rs.worst_draw, rs.worst_index, "random search"))
    fams = tuple(f for f in (families or claim.families) if f in QUAD) or tuple(QUAD)
    for draw, i, engine in candidates:
        cert = try_certify(claim, draw, i, engine, undecided) or try_certify(
            claim, dataclasses.replace(draw, eta=draw.eta * INSIDE_THE_EDGE), i, engine + ", step x (1 - 1e-7)",
            undecided)
        if cert:
            return cert
    extra = random_search(claim, 6, 20_000, seed + 1, families=fams)
    if extra.worst_draw is not None and extra.worst > 0:
        return try_certify(claim, extra.worst_draw, extra.worst_index, "random search (quadratic families)",
                            undecided) or (None, None)
    return None, None


def positive(value):
    """Whether an exact number is > 0 (:func:`ams_theory.engines.proofs.exact_sign`); None when undecided."""
    sign = proofs.exact_sign(sp.sympify(value))
    return None if sign is None else sign > 0


EXACT_DIGITS = 17               # significant digits of an exact rational too long to write out (see exact_text)


def exact_text(value) -> str:
    """``value`` written exactly; a number whose integers Python will not write in decimal (more than
    ``sys.get_int_max_str_digits()`` digits) as its first :data:`EXACT_DIGITS` digits, marked as rounded (the
    certificate's data and its re-check stay exact)."""
    try:
        return str(value)
    except ValueError:
        return (f"{sp.N(value, EXACT_DIGITS)} (rounded to {EXACT_DIGITS} digits: the exact value's integers are too "
                "long to write out; the re-check recomputes it exactly)")


def try_certify(claim, draw, i, engine, undecided=None, strict=False):
    """A certificate that instance ``i`` violates ``claim`` (its exact margin > 0, applicable; ``strict``: a claim
    ``value < 0``, broken already where the margin is 0) and its exact re-check, or None; an instance whose margin
    sympy cannot sign, or that cannot be made exact, goes into ``undecided`` with the reason."""
    def violated(margin):
        sign = positive(margin)
        return True if strict and sign is False and sp.sympify(margin).is_zero else sign

    try:
        cert = certify(claim, draw, i)
    except (TypeError, ValueError) as err:
        if undecided is not None:
            undecided.append(f"{engine}: not made exact ({type(err).__name__}: {str(err)[:200]})")
        return None
    if cert is None or not cert["applicable"]:
        return None
    sign = violated(cert["margin"])
    if sign is None and undecided is not None:
        undecided.append(f"{engine}: sympy cannot decide the sign of the exact margin "
                         f"{exact_text(cert['margin'])[:200]}")
    if sign is not True:
        return None
    cert = {**cert, "margin": exact_text(cert["margin"]), "engine": engine}

    def recheck():
        again = certify(claim, draw, i)
        return bool(again["applicable"]) and violated(again["margin"]) is True

    return cert, recheck


def search_evidence(rs, tried, seed, budget):
    return {"random_search": {"instances": rs.instances, "applicable": rs.applicable,
                              "float_violations": rs.violations, "worst_margin": rs.worst,
                              "per_family_[instances,applicable,violations]": rs.families,
                              "seconds": round(rs.seconds, 2)},
            "hypothesis_examples": tried, "seed": seed, "budget": budget,
            "tolerance": "violation when margin > 1e-9 (1 + |scale|) in float64; refutations re-checked exactly"}


REFUTATION_BASIS = "exact counterexample, re-checked in rational arithmetic"
SEARCH_BASIS = ("no violation in a vectorised float64 random search and a hypothesis search (a violation found "
                "there would be re-checked exactly)")


def refutation_strength(cert):
    return proved(REFUTATION_BASIS, family=cert["family"], dimension=len(cert["w"]))


def search_strength(claim, rs, tried, seed, families=None, basis=SEARCH_BASIS):
    return searched(basis, **search_coverage(claim, rs, seed, tried, hypothesis_families(claim, families)))


@dataclasses.dataclass
class Decision:
    """What both engines found for one statement: its verdict word, evidence and strength, and for a refutation
    the exact certificate and its re-check."""
    word: str
    rs: object
    evidence: dict
    strength: object
    certificate: dict | None = None
    recheck: object = None


def decide_margin(claim: MarginClaim, budget, seed, families=None, size_factor=1.0) -> Decision:
    """``holds`` (searched, with its coverage), ``refuted`` (an exact counterexample: proved) or ``not-checkable``
    (float violations that no quadratic instance reproduces exactly)."""
    rs, found, tried = search(claim, budget, seed, families, size_factor)
    evidence = search_evidence(rs, tried, seed, budget)
    if rs.violations == 0 and found is None:
        return Decision("holds", rs, evidence, search_strength(claim, rs, tried, seed, families))
    undecided = []
    cert, recheck = certified(claim, rs, found, seed, families, undecided)
    if cert is None:
        if undecided:
            evidence["not_decided_exactly"] = undecided
        return Decision("not-checkable", rs, evidence,
                         no_evidence("float violations that no quadratic instance reproduces exactly"))
    return Decision("refuted", rs, evidence, refutation_strength(cert), cert, recheck)


# ----------------------------------------------------------------------------- the control past a bound, witnesses


CONTROL_SHARE = 4               # a control runs on the first quarter of each batch of the claim's search


def control_past_the_bound(claim: MarginClaim, budget, seed):
    """The search's power at the bound: the claim's conclusion with theta just above 1 (:data:`THETA_BEYOND`) on
    quadratic families (the first quarter of each batch), its float violations and one of them certified exactly.
    Evidence only, never part of the verdict."""
    batches, size, _ = BUDGET[budget]
    rs = random_search(claim, batches, size, seed, dims=DIMS[budget], first=size // CONTROL_SHARE)
    cert = try_certify(claim, rs.worst_draw, rs.worst_index, "random search") if rs.violations else None
    return {"theta": claim.draw.ranges["step"]["theta"], "families": list(claim.families),
            "dimensions": list(rs.dims), "instances": rs.instances, "applicable": rs.applicable,
            "float_violations": rs.violations, "exact_counterexample": cert[0] if cert else None,
            "theta_of_the_counterexample": float(sp.Rational(cert[0]["extra"]["theta"])) if cert else None}


def with_witness(verdict: Verdict, claim: MarginClaim, witness: Draw, strict=False) -> Verdict:
    """A searched ``holds`` overturned by a constructed instance, when it certifies exactly (else unchanged;
    ``strict``: a margin of exactly 0 breaks the claim too)."""
    found = try_certify(claim, witness, 0, "constructed instance", strict=strict)
    if found is None:
        return verdict
    cert, recheck = found
    return Verdict("refuted", f"an exact counterexample (a constructed instance on a {cert['family']} loss, margin "
                   f"{cert['margin']}); "
                   f"the search alone: {verdict.summary}", {**verdict.evidence, "search verdict": verdict.word},
                   cert, None, recheck, strength=refutation_strength(cert))


