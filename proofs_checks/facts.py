r"""Appendix C of the AMS/Grams paper: vector facts used by its descent proofs.

Each fact is a sum over coordinates of a per-coordinate expression (C.1-C.4) or a
per-coordinate identity (C.5, C.6), evaluated with the back-end operations the
rules use (:class:`~ams_theory.core.ops.SympyOps`: ``sign``, ``abs``,
``indicator_``, ``total``). Two independent judgements:

- a proof (:func:`ams_theory.engines.coordinates.per_coordinate`): the expression, traced for a generic
  dimension, is a sum of coordinate terms, and the one-coordinate claim is proved by sign
  cases closed in exact real arithmetic, for all real entries;
- the exhaustive check of every pattern of per-coordinate sign cases for d = 1..D with
  symbolic magnitudes (the finite case space the proof's cases come from).
"""
from __future__ import annotations

import itertools

import sympy as sp

from ams_theory.claims.registry import Verdict, exhaustive, proved, register
from ams_theory.engines import coordinates
from ams_theory.engines.symbolic import LABELS, OPS, case_symbol, patterns

MAX_D = {"quick": 2, "standard": 4, "thorough": 5}


def _vectors(pattern, names):
    return [OPS.asarray([case_symbol(case[k], f"{name}{i}") for i, case in enumerate(pattern)])
            for k, name in enumerate(names)]


def _concrete(pattern, names):
    """Exact numbers with the pattern's signs: +k/2 for '+', -k/2 for '-', 0 for '0'."""
    vals = {"+": 1, "-": -1, "0": 0}
    return [OPS.asarray([sp.Rational(vals[case[k]] * (i + 2), 2) for i, case in enumerate(pattern)])
            for k, _ in enumerate(names)]


def _fails(expr, relation):
    return expr != 0 if relation == "== 0" else expr.is_nonpositive is not True


def _run(n_vectors, budget, value, relation):
    """Evaluate ``value(*vectors)`` on every sign pattern; ``relation`` is "== 0" or "<= 0"."""
    cases = list(itertools.product(LABELS, repeat=n_vectors))
    n, failures = 0, []
    for d in range(1, MAX_D[budget] + 1):
        for pat in patterns(cases, d):
            n += 1
            expr = sp.simplify(value(*_vectors(pat, "abc"[:n_vectors])))
            if _fails(expr, relation):
                failures.append((pat, expr))
    return n, failures


def prove_fact(value, n_vectors, relation):
    """Prove ``value(*vectors) relation`` (``== 0`` or ``<= 0``) for all real vectors of every dimension."""
    def build(ops, vector):
        return value(*[vector(name, real=True) for name in "abc"[:n_vectors]], ops=ops)
    return coordinates.per_coordinate(build, relation.split(" (")[0], (), f"Appendix C fact, {relation}")


def _verdict(n, failures, budget, relation, value, n_vectors, extra=None, max_d=None):
    """``holds`` (proved, or exhaustive over sign patterns), or ``refuted`` with exact numbers re-checked."""
    max_d = max_d or MAX_D[budget]
    proof = prove_fact(value, n_vectors, relation)
    evidence = {"patterns": n, "max_d": max_d, "relation": relation, "failing_patterns": len(failures),
                "cases_per_coordinate": "each entry of each vector in {>0, =0, <0}, symbolic magnitudes",
                "general_d": "coordinate-wise: every per-coordinate term satisfies the relation",
                "proof": proof.status}
    evidence.update(extra or {})
    if not failures and proof.proved:
        return Verdict("holds", f"proved for all real vectors of every dimension ({len(proof.cases)} sign cases); "
                       f"exact on all {n} sign patterns, d <= {max_d}", evidence,
                       strength=proved(f"proof engine, {len(proof.cases)} cases, {proof.seconds:.2f} s", proof))
    if not failures:
        return Verdict("holds", f"exact on all {n} sign patterns, d <= {max_d}, symbolic magnitudes", evidence,
                       strength=exhaustive(f"every sign pattern of d <= {max_d} coordinates (proof engine: "
                                           f"{proof.status})", patterns=n, max_d=max_d))
    pat, expr = failures[0]
    vectors = _concrete(pat, "abc"[:n_vectors])
    number = sp.simplify(value(*vectors))
    cex = {"pattern": ["".join(c) for c in pat], "vectors": {k: [str(x) for x in v] for k, v in
           zip("abc", vectors)}, "value": str(number), "symbolic_value": str(expr), "relation": relation}
    return Verdict("refuted", f"fails on {len(failures)} of {n} sign patterns, e.g. {cex['vectors']}: {number}",
                   evidence, cex, recheck=lambda: bool(_fails(sp.simplify(value(*vectors)), relation)),
                   strength=proved("exact counterexample, re-checked in rational arithmetic"))


@register("grams.C1", source="Fact C.1", kind="symbolic", statement="<a, b o c> = <a o b, c> for all a, b, c in R^d.")
def check_c1(budget="standard", seed=0):
    """Proved for every dimension by the proof engine (reduction to one coordinate, checked at d = 3)."""
    value = lambda a, b, c, ops=OPS: ops.total(a * ops.mul(b, c)) - ops.total(ops.mul(a, b) * c)
    return _verdict(*_run(3, budget, value, "== 0"), budget, "== 0", value, 3)


@register("grams.C2", source="Fact C.2", kind="symbolic",
          statement="<a, -sign(a) o |b|> = -<|a|, |b|> for all a, b in R^n (sign(0) = 0).")
def check_c2(budget="standard", seed=0):
    """Proved for every dimension by the proof engine (sign cases per coordinate)."""
    value = lambda a, b, ops=OPS: ops.total(a * (-ops.sign(a) * ops.abs(b))) + ops.total(ops.abs(a) * ops.abs(b))
    return _verdict(*_run(2, budget, value, "== 0"), budget, "== 0", value, 2)


@register("grams.C3", source="Fact C.3", kind="symbolic", statement="<a, b> - <|a|, |b|> <= 0 for all a, b in R^n.")
def check_c3(budget="standard", seed=0):
    """Proved for every dimension by the proof engine; the proof's strict '< 0' is false at equality, the stated '<=
    0' holds."""
    value = lambda a, b, ops=OPS: ops.total(a * b) - ops.total(ops.abs(a) * ops.abs(b))
    equality = sp.simplify(value(*_vectors([("+", "+")], "ab")))
    return _verdict(*_run(2, budget, value, "<= 0"), budget, "<= 0", value, 2, {
        "proof_note": "the proof ends with a strict '< 0', which is false: with a = b = (1) the left side is "
                      f"{equality}; the stated '<= 0' holds, with equality exactly when no a_i b_i < 0"})


@register("grams.C4", source="Fact C.4", kind="symbolic",
          statement="<a, b> - <|a|, |b|> - <a o b, 1 - 1(a o b > 0)> <= 0 for all a, b in R^n.")
def check_c4(budget="standard", seed=0):
    """Proved for every dimension by the proof engine (sign cases per coordinate)."""
    def value(a, b, ops=OPS):
        x = ops.mul(a, b)
        return ops.total(x) - ops.total(ops.abs(a) * ops.abs(b)) - ops.total(x * (1 - ops.indicator_(x, strict=True)))
    return _verdict(*_run(2, budget, value, "<= 0"), budget, "<= 0", value, 2, {
        "per_coordinate": "x = a_i b_i: 0 if x > 0, -|x| if x < 0, 0 if x = 0"})


@register("grams.C5", source="Fact C.5", kind="symbolic",
          statement="a sign(a) = |a| for a real scalar a (sign(0) = 0).")
def check_c5(budget="standard", seed=0):
    """Proved by the proof engine for every real a (three sign cases)."""
    value = lambda a, ops=OPS: ops.total(a * ops.sign(a)) - ops.total(ops.abs(a))
    n, failures = _run(1, "quick", value, "== 0")
    failures = [f for f in failures if len(f[0]) == 1]
    return _verdict(3, failures, "quick", "== 0", value, 1, {"cases": "a > 0, a = 0, a < 0"}, max_d=1)


@register("grams.C6", source="Fact C.6", kind="symbolic", statement="a o sign(a) = |a| for a in R^n, coordinate-wise.")
def check_c6(budget="standard", seed=0):
    """Proved for every dimension by the proof engine (reduction to Fact C.5 per coordinate)."""
    # coordinate-wise identity: its sum of squared residuals is zero iff every coordinate is
    value = lambda a, ops=OPS: ops.total((ops.mul(a, ops.sign(a)) - ops.abs(a)) ** 2)
    return _verdict(*_run(1, budget, value, "== 0"), budget, "== 0 (each coordinate)", value, 1)
