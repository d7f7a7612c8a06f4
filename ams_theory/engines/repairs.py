r"""Repair search: the smallest edits of a false statement that make it true.

A statement is judged by a function ``judge(edited) -> (verdict word, strength level, detail)``; its
neighbourhood is a list of single edits (:class:`Edit`), each a named change with a size (1 for a single
edit). Edits come from two places:

- generated from the statement's expression (:func:`expression_edits`): flip the sign of one term of a sum
  (at any depth), drop one term, move an epsilon into or out of a square root (``r^k + e`` with ``r^2 = v``
  becomes ``(v + e)^{k/2}`` and back);
- given by the claim's check: one added hypothesis (convexity, ``alpha >= 0``, ``a >= b/4``, ``xi = 0``, ...),
  an alternative reading of a definition, or an ill-typed object replaced by the evident one. The check's
  hand-written correction is the first of these.

:func:`search` judges every edit and returns the candidates, holding ones first, smallest edit first, then in
the order given; each carries the verdict and the strength of its evidence.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import sympy as sp

__all__ = ["Edit", "Candidate", "expression_edits", "search", "summary"]


@dataclass(frozen=True)
class Edit:
    """One change of a statement: ``kind`` (what sort), ``text`` (what it does, in words), ``size`` (1 for one
    edit), ``apply`` (the edited statement, in whatever form the claim's judge takes)."""

    kind: str
    text: str
    apply: object = field(compare=False, repr=False)
    size: int = 1


@dataclass
class Candidate:
    edit: Edit
    verdict: str
    strength: str
    detail: str = ""

    def to_json(self) -> dict:
        return {"edit": self.edit.text, "kind": self.edit.kind, "size": self.edit.size, "verdict": self.verdict,
                "strength": self.strength, "detail": self.detail}


def _adds(expr):
    return [a for a in sp.preorder_traversal(expr) if isinstance(a, sp.Add)]


def expression_edits(expr, eps=None, roots=()) -> list[tuple[str, str, object]]:
    """Single edits of an exact expression: ``(kind, text, edited expression)``.

    - ``flip sign``: one term ``t`` of any sum ``A`` becomes ``-t`` (``A -> A - 2t``);
    - ``drop term``: one term of any sum is removed;
    - ``move eps`` (with ``eps`` and ``roots``, symbols ``r`` standing for ``sqrt(v)``): ``r^k + eps`` becomes
      ``(r^2 + eps)^{k/2}``, and ``(r^2 + eps)^{+-k/2}`` becomes ``(r^k + eps)^{+-1}``.
    """
    out, seen = [], set()

    def add(kind, text, new):
        new = sp.sympify(new)
        if new != expr and new not in seen:
            seen.add(new)
            out.append((kind, text, new))

    for A in _adds(expr):
        for t in A.args:
            add("flip sign", f"flip the sign of the term {sp.sstr(t)} in {sp.sstr(A)}", expr.xreplace({A: A - 2 * t}))
            add("drop term", f"drop the term {sp.sstr(t)} from {sp.sstr(A)}", expr.xreplace({A: A - t}))
    if eps is not None:
        for r in roots:
            for A in _adds(expr):
                if eps in A.args:
                    rest = A - eps
                    k = sp.degree(rest, r) if rest.is_polynomial(r) and rest == r ** sp.degree(rest, r) else None
                    if k:
                        add("move eps", f"move {eps} inside the root: {sp.sstr(A)} -> (v + {eps})^({k}/2)",
                            expr.xreplace({A: (r ** 2 + eps) ** sp.Rational(k, 2)}))
            for P in [p for p in sp.preorder_traversal(expr) if isinstance(p, sp.Pow) and p.exp.is_Rational
                      and p.exp.q == 2 and sp.expand(p.base - r ** 2 - eps) == 0]:
                k = int(P.exp * 2)                                   # (v + eps)^{k/2} -> (sqrt(v)^|k| + eps)^sign(k)
                power = 1 if k > 0 else -1
                add("move eps", f"move {eps} out of the root: {sp.sstr(P)} -> (sqrt(v)^{abs(k)} + {eps})^{power}",
                    expr.xreplace({P: (r ** abs(k) + eps) ** power}))
    return out


def search(edits: Sequence[Edit], judge: Callable[[object], tuple]) -> list[Candidate]:
    """Judge every edit; holding candidates first, then by size, then in the given order."""
    out = []
    for edit in edits:
        word, level, detail = judge(edit.apply)
        out.append(Candidate(edit, word, level, detail))
    order = {id(c): k for k, c in enumerate(out)}
    return sorted(out, key=lambda c: (c.verdict != "holds", c.edit.size, order[id(c)]))


def summary(candidates: Sequence[Candidate]) -> str:
    """One line: the holding edits, smallest first, or that none of the tried edits holds."""
    holding = [c for c in candidates if c.verdict == "holds"]
    if not holding:
        return f"none of {len(candidates)} single edits holds"
    return f"{len(holding)} of {len(candidates)} edits hold; first: {holding[0].edit.text} ({holding[0].strength})"
