r"""Appendix C of the AMS/Grams paper: vector facts used by its descent proofs, stated in the claim language
(:class:`ams_theory.claims.language.Fact`).

Each fact is a sum over coordinates of a per-coordinate expression (C.1-C.4) or a per-coordinate identity (C.5,
C.6), written with the helpers the rules use (``sign``, ``abs``, the strict indicator). Two independent
judgements: a proof for all real entries of every dimension (reduction to one coordinate, sign cases closed in
exact real arithmetic), and beside it every pattern of per-coordinate sign cases with symbolic magnitudes for
d = 1..4 (the finite case space the proof's cases come from).
"""
from __future__ import annotations

from ams_theory.claims import language as cl

AB = ("a", "b")


@cl.register("grams.C1", source="Fact C.1", kind="symbolic",
             statement="<a, b o c> = <a o b, c> for all a, b, c in R^d.")
def c1():
    """Fact C.1: <a, b o c> = <a o b, c>."""
    return cl.Fact("Fact C.1", lambda q: q.equal(q.dot(q.a, q.b * q.c), q.dot(q.a * q.b, q.c)), ("a", "b", "c"))


@cl.register("grams.C2", source="Fact C.2", kind="symbolic",
             statement="<a, -sign(a) o |b|> = -<|a|, |b|> for all a, b in R^n (sign(0) = 0).")
def c2():
    """Fact C.2: <a, -sign(a) o |b|> = -<|a|, |b|> (sign(0) = 0)."""
    return cl.Fact("Fact C.2", lambda q: q.equal(q.dot(q.a, -q.sign(q.a) * q.abs(q.b)), -q.dot(q.abs(q.a), q.abs(q.b))),
                   AB)


@cl.register("grams.C3", source="Fact C.3", kind="symbolic", statement="<a, b> - <|a|, |b|> <= 0 for all a, b in R^n.")
def c3():
    """Fact C.3: <a, b> <= <|a|, |b|>."""
    return cl.Judgement(
        cl.Fact("Fact C.3", lambda q: q.at_most(q.dot(q.a, q.b), q.dot(q.abs(q.a), q.abs(q.b))), AB),
        notes={"proof_note": "the paper's proof ends with a strict '< 0', which is false: with a = b = (1) both sides "
                             "are 1; the stated '<= 0' holds, with equality exactly when no a_i b_i < 0"})


@cl.register("grams.C4", source="Fact C.4", kind="symbolic",
             statement="<a, b> - <|a|, |b|> - <a o b, 1 - 1(a o b > 0)> <= 0 for all a, b in R^n.")
def c4():
    """Fact C.4: <a, b> - <|a|, |b|> - <a o b, 1 - 1(a o b > 0)> <= 0."""
    def conclusion(q):
        x = q.a * q.b
        return q.at_most(q.total(x) - q.dot(q.abs(q.a), q.abs(q.b)) - q.total(x * (1 - q.indicator(x, strict=True))), 0)
    return cl.Judgement(cl.Fact("Fact C.4", conclusion, AB),
                        notes={"per_coordinate": "x = a_i b_i: 0 if x > 0, -|x| if x < 0, 0 if x = 0"})


@cl.register("grams.C5", source="Fact C.5", kind="symbolic",
             statement="a sign(a) = |a| for a real scalar a (sign(0) = 0).")
def c5():
    """Fact C.5: a sign(a) = |a| for a real a, stated as the sum over the entries of a vector of any length (the
    scalar is the length-1 case)."""
    return cl.Fact("Fact C.5", lambda q: q.equal(q.total(q.a * q.sign(q.a)), q.total(q.abs(q.a))))


@cl.register("grams.C6", source="Fact C.6", kind="symbolic",
             statement="a o sign(a) = |a| for a in R^n, coordinate-wise.")
def c6():
    """Fact C.6: a o sign(a) = |a| coordinate-wise, as sum_i (a_i sign(a_i) - |a_i|)^2 = 0 (zero exactly when every
    coordinate's identity holds)."""
    return cl.Fact("Fact C.6", lambda q: q.equal(q.total((q.a * q.sign(q.a) - q.abs(q.a)) ** 2), 0))
