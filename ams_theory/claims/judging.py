"""One verdict pipeline for a claim given as a margin (``descent.MarginClaim``): search it with both engines, re-check a
violation in exact arithmetic, and judge it, with the strength of the evidence and what the search covered.

Used by the papers' discrete checks (``proofs_checks/discrete.py``) and by the claim language
(:mod:`ams_theory.claims.language`), so a user's claim and a paper's get the same searches, certificates and
coverage. The budgets (:data:`BUDGET`, :data:`DIMS`) say how hard each search looks.

Beside the pipeline: claims with a step bound judged at fractions of it, with a control just past it
(:func:`judge_bounded`, :func:`control_past_the_bound`); proofs attached to a searched verdict or its correction
(:func:`correction_with_proof`); a verdict overturned by a constructed instance
(:func:`with_witness`); and the judged single edits of a false statement (:func:`with_repairs`, with edits judged
by the searches, by a proof first, or already judged).
"""
from __future__ import annotations

import dataclasses
from functools import partial

import sympy as sp
import torch

from ams_theory.claims.registry import Correction, Verdict, no_evidence, proved, searched
from ams_theory.engines import coordinates, proofs, repairs, smooth
from ams_theory.engines.descent import (T1, Draw, MarginClaim, certify, hypothesis_search, random_search,
                                        search_coverage)
from ams_theory.engines.draws import draw_free, fraction_sampler
from ams_theory.engines.margins import beyond, within

__all__ = ["BUDGET", "DIMS", "QUAD", "ALL", "CONVEX", "hypothesis_families", "search", "INSIDE_THE_EDGE",
           "certified", "positive", "EXACT_DIGITS", "exact_text", "try_certify", "search_evidence",
           "REFUTATION_BASIS", "SEARCH_BASIS", "refutation_strength", "search_strength", "decide_margin", "judge",
           "CONTROL_SHARE", "control_past_the_bound", "judge_bounded",
           "holds_text", "refuted_text", "margin_claim", "torch_bound", "ETA", "L_SMOOTH", "F0", "STEP_MULTIPLIERS",
           "generic_instance", "gradient_only_instance",
           "proof_strength", "searched_edit", "judged_edit", "with_repairs", "not_reduced",
           "attach_proof", "correction_with_proof", "with_witness", "proof_first",
           "vacuous_if_never_met"]

BUDGET = {  # (random-search rounds over every (family, d) pair, batch size, hypothesis examples)
    "quick": (1, 4_000, 100), "standard": (1, 100_000, 300), "thorough": (4, 100_000, 2000)}
DIMS = {"quick": (1, 2, 3, 5, 8), "standard": (1, 2, 4, 8), "thorough": (1, 2, 3, 4, 5, 6, 8)}
QUAD = tuple(smooth.QUADRATIC_FAMILIES)
ALL = tuple(smooth.LOSS_FAMILIES)
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


def judge(claim: MarginClaim, budget, seed, holds_text, refuted_text, correction=None, families=None, size_factor=1.0):
    """Literal verdict from both engines, with its strength, plus a computed ``correction = (statement, MarginClaim,
    families)`` (its own verdict, strength and, when refuted, exact re-check)."""
    lit = decide_margin(claim, budget, seed, families, size_factor)
    corr = None
    if correction is not None:
        statement, cclaim, cfams = correction
        c = decide_margin(cclaim, budget, seed, cfams, size_factor)
        corr = Correction(statement, c.word, c.strength, {**c.evidence, "families": list(cfams or cclaim.families)},
                          c.certificate, c.recheck)
    if lit.word == "holds":
        summary = holds_text(lit.rs)
    elif lit.word == "refuted":
        summary = refuted_text(lit.rs, lit.certificate)
    else:
        summary = f"{lit.rs.violations} float violations that no quadratic instance reproduces exactly; no certificate"
        summary += "".join(f" ({why})" for why in lit.evidence.get("not_decided_exactly", [])[:1])
    return Verdict(lit.word, summary, lit.evidence, lit.certificate, corr, lit.recheck, strength=lit.strength)


# ----------------------------------------------------------------------------- step bounds, proofs, repairs



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


def judge_bounded(margin, bounds, bound_text, budget, seed, holds_text, refuted_text, families=ALL, control=True):
    """A claim with a step bound: ``margin(..., side=within)``, ``bounds(problem, w, u) -> [(num, den), ...]``
    (torch). Judged at ``eta = theta x bound``, theta in (0, 1] (:data:`THETA_INSIDE`); with ``control``, the same
    conclusion just past the bound (:func:`control_past_the_bound`) goes into the evidence."""
    sampler = fraction_sampler(bounds, within, bound_text)
    verdict = judge(margin_claim(margin, sampler, families), budget, seed, holds_text, refuted_text, families=families)
    if control:
        past = margin_claim(partial(margin, side=beyond), fraction_sampler(bounds, beyond, bound_text),
                 tuple(f for f in families if f in QUAD))
        verdict.evidence["control_past_the_bound"] = control_past_the_bound(past, budget, seed)
    return verdict


def holds_text(rs):
    return (f"no violation in {rs.applicable:,} applicable of {rs.instances:,} instances "
            f"({len(rs.families)} families, d in {{{', '.join(map(str, rs.dims))}}}) and the hypothesis search")


def refuted_text(what):
    return lambda rs, cert: (f"{what}; exact counterexample on {cert['family']} (d = {len(cert['w'])}, "
                             f"margin {cert['margin_approx']:.3g}); {rs.violations:,} of "
                             f"{rs.applicable:,} float instances violate")


def margin_claim(margin, draw=draw_free, families=ALL):
    return MarginClaim(margin, draw, families, QUAD)


def torch_bound(bound):
    """``bound(ops, problem, w, u) -> (num, den)`` as the sampler's ``bounds(problem, w, u) -> [(num, den)]``."""
    return lambda problem, w, u: [bound(T1, problem, w, u)]


ETA = sp.Symbol("eta", nonnegative=True)


L_SMOOTH = sp.Symbol("L", positive=True)


F0 = sp.Symbol("f0", real=True)


STEP_MULTIPLIERS = (ETA / 2, ETA, sp.Rational(1, 2), 1)     # candidate lambda for a step-bound hypothesis


def generic_instance(ops, vector, loss):
    """One generic (or concrete) instance: parameters w, direction u, gradient g (free reals), and the loss of the
    reduction known at w (:func:`ams_theory.engines.coordinates.worst_case`)."""
    w, u, g = vector("w", real=True), vector("u", real=True), vector("g", real=True)
    return loss(w, g), w, u


def gradient_only_instance(ops, vector):
    """An instance whose loss is read only through its gradient g at w (any loss with that gradient)."""
    w, u, g = vector("w", real=True), vector("u", real=True), vector("g", real=True)
    return coordinates.ExtremalLoss(ops, w, g, L_SMOOTH, F0, "convex"), w, u


def proof_strength(proof, bounds_used, search):
    """Proved from the bounds ``bounds_used`` (their text) for every d, eta >= 0 and L > 0, the search kept."""
    return proved(f"for {bounds_used}, for every dimension, eta >= 0 and L > 0 "
                  f"({proof.seconds:.2f} s)", proof, search=search.to_json())


def searched_edit(claim: MarginClaim, budget, seed, families=None, size_factor=1.0):
    """A repair edit judged by both engines: ``vacuous`` when no drawn instance meets its hypothesis."""
    def judge_edit():
        d = decide_margin(claim, budget, seed, families, size_factor)
        word = "vacuous" if d.word == "holds" and not d.rs.applicable else d.word
        return word, d.strength.level, f"{d.rs.violations:,} float violations in {d.rs.applicable:,} applicable"
    return judge_edit


def judged_edit(correction: Correction):
    """A repair edit already judged (the hand-written correction)."""
    return lambda: (correction.verdict, correction.strength.level, "the correction above")


def with_repairs(verdict: Verdict, edits) -> Verdict:
    """Attach the judged neighbourhood ``edits`` (``repairs.Edit`` whose ``apply`` is a thunk returning
    ``(word, strength level, detail)``) to the verdict's correction."""
    verdict.correction.with_repairs(repairs.search(edits, lambda thunk: thunk()))
    return verdict


def not_reduced(verdict: Verdict, reason: str) -> Verdict:
    """A verdict the smoothness proofs do not reach: why, in the evidence (its strength stays as judged)."""
    verdict.evidence["proof from smoothness"] = "not attempted: " + reason
    return verdict


def attach_proof(evidence, strength, word, proof, bounds_used):
    """Record ``proof`` in ``evidence``; return the strength upgraded to proved when it closes. The engine and the
    search must agree: a proof of what the search refuted is a defect of the tool, raised as such."""
    evidence["proof from smoothness"] = {"status": proof.status, "bound used": bounds_used}
    if not proof.proved:
        return strength
    if word not in ("holds", "conditional"):
        raise RuntimeError(f"the proof engine proves what the search finds {word}")
    return proof_strength(proof, bounds_used, strength)


def correction_with_proof(verdict: Verdict, proof, bounds_used) -> Verdict:
    """A verdict's correction upgraded to proved by ``proof`` from ``bounds_used`` (their text) when it closes."""
    corr = verdict.correction
    corr.strength = attach_proof(corr.evidence, corr.strength, corr.verdict, proof, bounds_used)
    return verdict


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


def proof_first(proof, bounds_used, search):
    """A repair edit judged by the proof engine first (``proof`` from the bounds ``bounds_used`` names) and, when
    the proof stays open, by ``search`` (a thunk returning the searched :class:`Verdict`)."""
    def judge_edit():
        if proof.proved:
            return "holds", "proved", f"proved from {bounds_used} for every d ({proof.seconds:.2f} s)"
        v = search()
        return v.word, v.strength.level, f"proof open ({proof.reduction}); searched: {v.summary}"
    return judge_edit


def vacuous_if_never_met(verdict: Verdict, hypothesis: str) -> Verdict:
    """A user mask's searched ``holds`` where no drawn instance met the hypothesis: ``vacuous`` (searched), as the
    repairs judge an edit no instance meets."""
    if verdict.word != "holds" or verdict.evidence["random_search"]["applicable"]:
        return verdict
    verdict.word = "vacuous"
    verdict.summary = f"no drawn instance meets the hypothesis ({hypothesis}); " + verdict.summary
    verdict.strength = searched(f"no instance of the search met the hypothesis ({hypothesis})",
                                **verdict.strength.coverage)
    return verdict
