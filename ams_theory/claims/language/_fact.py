"""``Fact``: a relation between real vectors for every dimension, proved per coordinate, with every sign pattern of
its entries checked exactly beside."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable

import sympy as sp

from ams_theory.claims import judging
from ams_theory.claims.registry import Verdict, exhaustive, proved, searched
from ams_theory.core.ops import SympyOps
from ams_theory.engines import proofs
from ams_theory.engines.symbolic import LABELS, case_symbol, patterns
from ams_theory.claims.language._common import (_EXACT, ClaimError, Quantities, _check_claim, _conclusion,
    _per_coordinate,
    _proof_or_search, _symbols)


@dataclass
class Fact:
    """A relation between real vectors for every dimension (an appendix fact such as ``<a, b o c> = <a o b, c>``):
    ``conclusion(q) -> Relation`` reading the vectors named in ``vectors`` (``q.a``, ``q.b``) and hyperparameters in
    ``hyper``. Proved per coordinate for every dimension; beside the proof (or in its place when it stays open),
    exact on every pattern of entry signs (> 0, = 0, < 0, magnitudes symbolic) up to :data:`FACT_DIMS`
    coordinates, or ``max_d`` when smaller (a fact each of whose evaluations runs a whole optimizer step)."""

    name: str
    conclusion: Callable
    vectors: tuple = ("a",)
    hyper: dict = field(default_factory=dict)
    source: str = ""
    max_d: int | None = None

    def __post_init__(self):
        _check_claim(self, ("conclusion",))
        if self.max_d is not None and (not isinstance(self.max_d, int) or self.max_d < 1):
            raise ClaimError(f"{self.name}: max_d must be a positive number of coordinates, got {self.max_d!r}")


FACT_DIMS = {"quick": 2, "standard": 4, "thorough": 5}      # a Fact's sign patterns: d = 1..this


# -- facts

def _fact_relation(claim, ops, vector, hp):
    q = Quantities(ops, {**{v: vector(v, real=True) for v in claim.vectors}, **hp})
    return _conclusion(claim, q)


def _decide_fact(claim: Fact, budget, seed=0, search_beside=False) -> Verdict:
    """(``seed``: unused, a Fact's check is exhaustive over sign patterns.)"""
    hp, ranges = _symbols(claim)
    # a traced fact is built from sums and elementwise maps: sign patterns up to a permutation cover them all
    proof, verdict, symmetric = _per_coordinate(claim, lambda ops, vector: _fact_relation(claim, ops, vector, hp),
                                                ranges, "per coordinate, for all real entries")
    return _proof_or_search(claim, proof, verdict, lambda: _sign_patterns(claim, budget, hp, symmetric),
                            search_beside)


def _sign_patterns(claim: Fact, budget, hp, symmetric) -> Verdict:
    """The fact on every pattern of entry signs of its vectors, d = 1..FACT_DIMS[budget], with symbolic magnitudes
    (multisets of coordinates when the fact is symmetric in them, every ordering otherwise): ``holds``
    (exhaustive) when sympy settles every pattern, or ``refuted`` at exact numbers with the failing pattern's signs
    (entry i: +-(i + 2)/2 or 0). A pattern sympy cannot settle whose numbers do not break it is tried at that one
    point only: then the verdict is ``searched``, with the count of such patterns."""
    d_max = min(FACT_DIMS[budget], claim.max_d or FACT_DIMS[budget])
    cases = list(itertools.product(LABELS, repeat=len(claim.vectors)))
    number = lambda label, i: {"+": 1, "0": 0, "-": -1}[label] * sp.Rational(i + 2, 2)
    n, undecided = 0, []
    for d in range(1, d_max + 1):
        for pattern in (patterns(cases, d) if symmetric else itertools.product(cases, repeat=d)):
            n += 1

            def entries(make):
                return {v: SympyOps.asarray([make(case[k], f"{v}{i}", i) for i, case in enumerate(pattern)])
                        for k, v in enumerate(claim.vectors)}

            def at(vectors):
                return _fact_relation(claim, _EXACT, lambda name, **_: vectors[name], hp)
            relation = at(entries(lambda label, name, i: case_symbol(label, name)))
            value = sp.simplify(relation.value)
            if (value != 0) if relation.relation == "== 0" else (value.is_nonpositive is not True):
                numbers = entries(lambda label, name, i: number(label, i))

                def recheck(numbers=numbers):
                    r = at(numbers)
                    return proofs.violates(r.value, r.relation, (), {})
                if not recheck():     # sympy cannot settle the pattern and these numbers do not break it
                    undecided.append("".join("".join(c) for c in pattern))
                    continue
                cex = {"pattern": ["".join(c) for c in pattern], "value": str(at(numbers).value),
                       "vectors": {v: [str(x) for x in numbers[v]] for v in claim.vectors},
                       "symbolic_value": str(value)}
                return Verdict("refuted", f"fails on the sign pattern {cex['pattern']}, e.g. {cex['vectors']}: "
                               f"{cex['value']}", {"patterns": n}, cex, recheck=recheck,
                               strength=proved(judging.REFUTATION_BASIS))
    coverage = {"dimensions": f"1..{d_max}", "patterns": n, "failing_patterns": 0,
                "cases_per_coordinate": "each entry of each vector > 0, = 0 or < 0, magnitudes symbolic",
                "orderings": "up to a permutation of coordinates" if symmetric else "every ordering"}
    if undecided:            # those patterns were tried at one exact point each: a search, not a case split
        coverage.update(undecided_patterns=len(undecided), first_undecided=undecided[:5])
        return Verdict("holds", f"no violation on {n:,} sign patterns, d <= {d_max}; {len(undecided)} of them not "
                       "settled for symbolic magnitudes, tried at one exact point each", coverage,
                       strength=searched(f"sign patterns of d <= {d_max} coordinates: {n - len(undecided)} settled "
                                         f"exactly, {len(undecided)} tried at one exact point each", **coverage))
    return Verdict("holds", f"exact on all {n:,} sign patterns, d <= {d_max}", coverage,
                   strength=exhaustive(f"every sign pattern of d <= {d_max} coordinates, exact (sympy)", **coverage))
