r"""``SameStep``: two update rules take the same step, exactly, on every pattern of per-coordinate sign cases.

A rule of the AMS family acts coordinate by coordinate apart from its counts, so one step on a vector is fixed by
each coordinate's sign case (the signs of the new ``m``, of ``g``, of the new ``s``) and by how many coordinates
fall in each case. The decider runs both rules with :class:`~ams_theory.core.ops.SympyOps` on symbolic inputs for
every multiset of cases with d = 1..D (:mod:`ams_theory.engines.symbolic`), hyperparameters symbolic
(:data:`HYPER`), and compares the new parameters exactly; the rules' step-size factor can also be checked for
symbolic class counts, which covers every d.

A claim that holds on the patterns is then proved for every d (:func:`_every_d`): each side runs once on one
coordinate per sign case, coordinate j standing for n_j coordinates of its case (n_j symbolic, d = sum n_j), so its
class counts and its step-size factor are symbolic (:class:`_CountedOps`); the new coordinate of each case is then
equal on both sides for every count vector. This is sound when the sides read other coordinates only through sums
of values fixed by the sign case (counts) and the dimension (``ops.numel``), which the run checks; a side that sums
magnitudes over coordinates (a norm) is not proved so. The per-case formulas are matched against every pattern.
The identities are sympy's (``cancel``), with no certificate the registry replays, so the strength stays
``exhaustive``, its coverage saying ``every_d``.
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Callable

import sympy as sp

from ams_theory.claims import judging
from ams_theory.claims.registry import Strength, Verdict, exhaustive, proved
from ams_theory.core import rules
from ams_theory.core.ops import SympyOps
from ams_theory.engines import repairs
from ams_theory.engines.symbolic import (CLASS_COUNTS, LABELS, OPS, ams_inputs, compare, concrete_values,
                                         exact_nonzero, exact_number, hyper, patterns, scale_for_counts)
from ams_theory.claims.language._common import ClaimError

HYPER = hyper()        # the symbolic hyperparameters: beta_k = 1/(1 + b_k), eps, lr, gamma (weight decay), t
SAME_STEP_DIMS = {"quick": 2, "standard": 4, "thorough": 5}      # a SameStep's sign patterns: d = 1..this
REPAIR_DIMS = 2        # an edited side is judged on d <= 2 (every sign case alone and in pairs)
REFERENCES = ("g", "m", "s")
CASE_TEXT = {"m": "sign of the new m (= sign of u)", "g": "sign of g", "s": "sign of the new s (beta3-average)"}
HYPER_NAMES = {HYPER.b1: "beta1", HYPER.b2: "beta2", HYPER.b3: "beta3", HYPER.eps: "eps", HYPER.lr: "lr",
               HYPER.gamma: "weight_decay", HYPER.t: "t"}


# ----------------------------------------------------------------------------- the sides

@dataclass(frozen=True)
class AMSRule:
    """The rule core's AMS step (:func:`ams_theory.core.rules.ams_step`, step count ``HYPER.t``) with the
    hyperparameters ``hp``: a side of a :class:`SameStep` whose conventions can be edited (:func:`convention_edits`)
    and whose step-size factor can be checked for every d (:class:`ScaleForCounts`)."""

    hp: dict

    def __call__(self, ops, w, g, state):
        return rules.ams_step(ops, w, g, state, self.hp, HYPER.t)[0]

    def symbols(self) -> set:
        """The symbols its hyperparameters hold (and the step count's)."""
        values = [x for v in self.hp.values() for x in (v if isinstance(v, tuple) else (v,))]
        return {HYPER.t}.union(*(x.free_symbols for x in values if isinstance(x, sp.Basic)))


def ams_rule(lam=0, beta3=0, **changes) -> AMSRule:
    """AMS with lambda ``lam``, beta3 ``beta3`` and the papers' conventions (elementwise mask, ties aligned, eta_hat
    = eta d/(|phi|_1 + |lambda| |psi|_1), no weight decay), symbolic lr, beta1, beta2, eps; ``changes``: other
    values of the rule core's hyperparameters (``tie``, ``normalize``, ``xi``, ``weight_decay``, ``mask=None`` for
    Adam, ...)."""
    hp = dict(lr=HYPER.lr, betas=(HYPER.beta1, HYPER.beta2, beta3), eps=HYPER.eps, weight_decay=0,
              weight_decay_mode="after_scaled", mask="elementwise", lam=lam, tie="aligned", normalize="ams", xi=1,
              mask_eps=0, scope="tensor")
    unknown = sorted(set(changes) - set(hp) - {"eps_mode"})
    if unknown:
        raise ClaimError(f"ams_rule: {unknown[0]!r} is not a hyperparameter of the rule core's AMS step")
    return AMSRule({**hp, **changes})


def sign_cases(*keys: str) -> tuple:
    """Every per-coordinate sign case of the quantities ``keys`` (among ``m``, ``g``, ``s``; ``m`` first): e.g.
    ``sign_cases("m", "g")`` is the 9 cases ``{m: +|0|-, g: +|0|-}``."""
    if not keys or keys[0] != "m" or not set(keys) <= set(CASE_TEXT) or len(set(keys)) != len(keys):
        raise ClaimError(f"sign_cases takes 'm' then any of 'g', 's' (each once), got {keys}")
    return tuple(dict(zip(keys, signs)) for signs in itertools.product(LABELS, repeat=len(keys)))


@dataclass(frozen=True)
class Where:
    """A set of per-coordinate sign cases, ``test(case) -> bool`` (``case["g"] == "0"``, say), with its ``text``."""

    test: Callable
    text: str

    def any_in(self, pattern) -> bool:
        return any(self.test(case) for case in pattern)


@dataclass(frozen=True)
class ScaleForCounts:
    """The left rule's step-size factor for symbolic class counts n_a (aligned), n_o (opposed), n_z (tied),
    d = n_a + n_o + n_z >= 1 (:func:`ams_theory.engines.symbolic.scale_for_counts`): with ``phi(n_a, n_o, n_z)``
    and ``psi(...)`` coordinates in the rule's two classes it equals ``expected(n_a, n_o, n_z)``. Sign patterns go
    up to a fixed d; this part of the step is what depends on d beyond them."""

    phi: Callable
    psi: Callable = lambda a, o, z: 0
    expected: Callable = lambda a, o, z: 1


# ----------------------------------------------------------------------------- the claim

@dataclass(frozen=True)
class SameStep:
    """``left(ops, w, g, state) == right(ops, w, g, state)`` exactly, for every ``w``, state and hyperparameter
    (:data:`HYPER`), on every pattern of per-coordinate ``cases`` (dicts of the signs of ``m``, the new first
    moment, ``g``, free when absent, and ``s``, the new beta3-average; see :func:`sign_cases`) with d = ``min_d``..D
    coordinates, D from the budget (:data:`SAME_STEP_DIMS`) and at most ``max_d``.

    ``reference``: the state the rules read: ``"g"`` (``m``, ``v``; AMS with beta3 = 0), ``"m"`` (also ``s`` with
    ``s_prev = m_prev``: beta3 = beta1 from a zero start) or ``"s"`` (an ``s`` of its own, the cases give its sign).
    ``exclude``: patterns with a coordinate in these cases are left out. ``scale_every_d``: the left rule's step-size
    factor checked for symbolic counts. ``why``: in words, why the steps differ (kept with a counterexample).
    ``differs_at``: the cases expected to differ; a refutation says whether the mismatching patterns are exactly
    those with a coordinate in them."""

    name: str
    left: Callable
    right: Callable
    cases: tuple
    reference: str = "g"
    exclude: Where | None = None
    scale_every_d: ScaleForCounts | None = None
    max_d: int | None = None
    min_d: int = 1
    why: str = ""
    differs_at: Where | None = None
    source: str = ""

    def __post_init__(self):
        for side in ("left", "right"):
            if not callable(getattr(self, side)):
                raise ClaimError(f"{self.name}: {side} must be a function (ops, w, g, state) -> new w, got "
                                 f"{type(getattr(self, side)).__name__}")
        cases = self.cases
        if not cases or not all(isinstance(c, dict) and "m" in c and set(c) <= set(CASE_TEXT)
                                and set(c.values()) <= set(LABELS) for c in cases):
            raise ClaimError(f"{self.name}: cases must be dicts of signs ('+', '0', '-') of 'm' and of 'g' or 's' "
                             "(see sign_cases)")
        if self.reference not in REFERENCES:
            raise ClaimError(f"{self.name}: reference must be one of {REFERENCES}, got {self.reference!r}")
        if any(("s" in c) != (self.reference == "s") for c in cases):
            raise ClaimError(f"{self.name}: the cases give the sign of s exactly when reference = 's'")
        for bound in ("min_d", "max_d"):
            value = getattr(self, bound)
            if (value is not None or bound == "min_d") and (not isinstance(value, int) or value < 1):
                raise ClaimError(f"{self.name}: {bound} must be a positive integer, got {value!r}")
        if self.max_d is not None and self.max_d < self.min_d:
            raise ClaimError(f"{self.name}: max_d = {self.max_d} is below min_d = {self.min_d}")
        for part in ("exclude", "differs_at"):
            if getattr(self, part) is not None and not isinstance(getattr(self, part), Where):
                raise ClaimError(f"{self.name}: {part} must be a Where(test, text)")
        if self.scale_every_d is not None and not (isinstance(self.left, AMSRule)
                                                   and rules.Caution.from_mapping(self.left.hp) is not None):
            raise ClaimError(f"{self.name}: scale_every_d checks the left side's caution: left must be a cautious "
                             "ams_rule")

    def edited(self, side: str, rule, max_d: int = REPAIR_DIMS) -> "SameStep":
        """The claim with ``side`` (``"left"`` or ``"right"``) replaced by ``rule``, judged on d <= ``max_d``."""
        return dataclasses.replace(self, **{side: rule}, max_d=max_d)


def convention_edits(claim: SameStep, side: str, label: str) -> list:
    """Single edits of one side's conventions (``label`` names it): each other ``tie`` and each other
    ``normalize`` of the rule core (``nnz_xi`` with xi = 0 and 1), as :class:`~ams_theory.engines.repairs.Edit` s
    of kind ``reading`` whose ``apply`` is the edited claim, judged on d <= :data:`REPAIR_DIMS`."""
    rule = getattr(claim, side)
    if not isinstance(rule, AMSRule):
        raise ClaimError(f"{claim.name}: conventions are edited on an ams_rule side, not {type(rule).__name__}")
    options = [{"tie": t} for t in rules.TIES] + [{"normalize": "nnz_xi", "xi": 0}, {"normalize": "nnz_xi", "xi": 1}] \
        + [{"normalize": n} for n in rules.NORMALIZATIONS if n != "nnz_xi"]
    return [repairs.Edit("reading", f"{label}: {', '.join(f'{k} = {v!r}' for k, v in change.items())}",
                         claim.edited(side, AMSRule({**rule.hp, **change})))
            for change in options if not all(rule.hp.get(k) == v for k, v in change.items())]


# ----------------------------------------------------------------------------- the decider

def _patterns(claim: SameStep, max_d: int):
    for d in range(claim.min_d, max_d + 1):
        for pattern in patterns(claim.cases, d):
            if claim.exclude is None or not claim.exclude.any_in(pattern):
                yield pattern


def _describe(pattern) -> list:
    return ["".join(f"{k}{v}" for k, v in case.items()) for case in pattern]


def _cases_text(claim: SameStep) -> str:
    keys = list(dict.fromkeys(k for c in claim.cases for k in c))
    text = " x ".join(CASE_TEXT[k] for k in keys) + ("" if "g" in keys else "; g free")
    return text + ("; s = m (s_prev = m_prev)" if claim.reference == "m" else "")


def _symbol_names(symbols) -> str:
    ordered = [s for s in HYPER_NAMES if s in symbols] + sorted(set(symbols) - set(HYPER_NAMES), key=str)
    return ", ".join(HYPER_NAMES.get(s, str(s)) for s in ordered)


def _side(claim, side):
    rule = getattr(claim, side)
    return lambda w, g, state: rule(OPS, w, g, state)


def _exact_counterexample(claim: SameStep, mismatch) -> tuple[dict, Callable]:
    """Exact numbers for a mismatching pattern and a re-check that runs both sides again on them. The
    hyperparameters take the papers' defaults (:func:`~ams_theory.engines.symbolic.concrete_values`), weight decay
    0 first; where the symbolic difference vanishes there (it can hinge on the decay), weight decay 1/100."""
    w, g, state = mismatch.inputs
    exprs = [*w, *g, *itertools.chain(*state.values()), *mismatch.left, *mismatch.right]
    left, right = _side(claim, "left"), _side(claim, "right")
    for extra in ({}, {HYPER.gamma: sp.Rational(1, 100)}):
        values = concrete_values(exprs, HYPER, extra)
        at = lambda arr: OPS.asarray([sp.sympify(x).subs(values) for x in arr])
        cw, cg, cstate = at(w), at(g), {k: at(v) for k, v in state.items()}

        def evaluate(cw=cw, cg=cg, cstate=cstate, at=at):
            fresh = lambda: {k: v.copy() for k, v in cstate.items()}
            return at(left(cw, cg, fresh())), at(right(cw, cg, fresh()))

        def recheck(evaluate=evaluate):
            a, b = evaluate()
            return any(exact_nonzero(x - y) for x, y in zip(a, b))

        if recheck():
            break
    a, b = evaluate()
    show = lambda x: str(exact_number(x))
    used = set().union(*(sp.sympify(e).free_symbols for e in exprs))
    shown = {HYPER.b1: "b1 (beta1 = 1/(1+b1))", HYPER.b2: "b2 (beta2 = 1/(1+b2))", HYPER.b3: "b3 (beta3 = 1/(1+b3))",
             HYPER.eps: "eps", HYPER.lr: "lr", HYPER.gamma: "weight_decay", HYPER.t: "t"}
    cex = {"pattern": _describe(mismatch.pattern),
           "symbolic_difference": [str(dd) for dd in mismatch.differences],
           "inputs": {"w": [str(x) for x in cw], "g": [str(x) for x in cg],
                      **{f"{k}_prev": [str(x) for x in v] for k, v in cstate.items()}},
           "symbol_values": {str(k): str(v) for k, v in values.items() if k in used},
           "hyperparameters": {name: str(values[sym]) for sym, name in shown.items()},
           "left": [show(x) for x in a], "right": [show(x) for x in b],
           "difference": [show(x - y) for x, y in zip(a, b)],
           "meaning": claim.why or "the two steps differ"}
    return cex, recheck


class _CountedOps(SympyOps):
    r"""Exact ops on one coordinate per sign case, coordinate j standing for ``counts[j]`` coordinates of its case:
    ``numel`` is d = sum_j n_j and a sum over coordinates is ``sum_j n_j x_j``, which is the sum over all d
    coordinates when ``x_j`` is fixed by the sign case (free of the coordinate symbols ``local``). A sum of values
    that read a coordinate's magnitudes (a norm) is computed as is and recorded in ``reads``."""

    def __init__(self, counts: list, local: set):
        super().__init__()
        self.counts, self.local, self.reads = counts, local, []

    def total(self, x):
        entries = [sp.sympify(e) for e in x.ravel()]
        if len(entries) == len(self.counts) and not any(e.free_symbols & self.local for e in entries):
            return sp.Add(*(n * e for n, e in zip(self.counts, entries)))
        self.reads.append(f"sum over coordinates of {entries[0]}, ...")
        return super().total(x)

    def dot(self, x, y):
        return self.total(x * y)

    def numel(self, x):
        if x.size != len(self.counts):
            self.reads.append(f"a vector of {x.size} entries")
            return super().numel(x)
        return sp.Add(*self.counts)


def _coordinate_symbols(inputs) -> set:
    """The symbols of the coordinates' inputs ``(w, g, state)`` (their magnitudes), hyperparameters left out."""
    w, g, state = inputs
    return set().union(*(sp.sympify(x).free_symbols for x in itertools.chain(w, g, *state.values()))) \
        - set(HYPER_NAMES)


def _count_symbols(cases) -> list:
    """One symbolic count n_case >= 0 per sign case (``n_m+g-``: coordinates with m > 0, g < 0)."""
    return [sp.Symbol(f"n_{_describe([case])[0]}", integer=True, nonnegative=True) for case in cases]


def _per_case_steps(claim: SameStep, side: str, cases, counts) -> tuple[list, list]:
    """``side`` run once on one coordinate per case of ``cases`` standing for ``counts`` coordinates each
    (:class:`_CountedOps`): its new coordinates as functions of that coordinate's inputs and of the counts, and
    what it read across coordinates beyond the counts."""
    inputs = ams_inputs(cases, HYPER, reference=claim.reference)
    ops = _CountedOps(counts, _coordinate_symbols(inputs))
    w, g, state = inputs
    return list(getattr(claim, side)(ops, w, g, {k: v.copy() for k, v in state.items()})), ops.reads


def _zero_for_every_count(expr, count) -> bool:
    """``expr == 0`` exactly for every count vector with ``count >= 1`` (the case's own coordinate): each branch of
    a piecewise factor (0 where its denominator vanishes) is 0 after ``count -> count + 1``."""
    expr = sp.piecewise_fold(sp.sympify(expr).xreplace({count: count + 1}))
    branches = [e for e, _ in expr.args] if isinstance(expr, sp.Piecewise) else [expr]
    return all(sp.cancel(sp.piecewise_fold(e)) == 0 if not isinstance(e, sp.Piecewise) else
               _zero_for_every_count(e, sp.Integer(0)) for e in branches)


def _coordinate(inputs, i: int) -> dict:
    """Coordinate i's symbols in ``inputs = (w, g, state)``, by name without the index (``w``, ``g``, ``M``, ...)."""
    w, g, state = inputs
    return {s.name.rstrip("0123456789"): s for s in _coordinate_symbols(
        ([w[i]], [g[i]], {k: [v[i]] for k, v in state.items()}))}


def _broken_coordinates(claim: SameStep, comparisons, cases, formulas, counts) -> int:
    """How many (pattern, coordinate) pairs of ``comparisons`` break the per-case ``formulas`` of the left side:
    coordinate i must equal its case's formula with the case's symbols renamed to coordinate i's and each count
    set to the pattern's."""
    rep = ams_inputs(cases, HYPER, reference=claim.reference)
    broken = 0
    for c in comparisons:
        multiplicity = {n: sum(case == other for other in c.pattern) for n, case in zip(counts, cases)}
        for i, (case, value) in enumerate(zip(c.pattern, c.left)):
            j, own = cases.index(case), _coordinate(c.inputs, i)
            rename = {s: own[prefix] for prefix, s in _coordinate(rep, j).items()}
            broken += sp.cancel(sp.piecewise_fold(value - formulas[j].xreplace(rename).xreplace(multiplicity))) != 0
    return broken


def _every_d(claim: SameStep, comparisons) -> tuple[bool, dict]:
    """The proof for every d (see the module's docstring): per sign case, the new coordinate of both sides for
    symbolic class counts, equal for every count vector; each side read across coordinates only counts and d; the
    left side's per-case formula matches every pattern checked. Returns (proved, evidence)."""
    cases = [case for case in claim.cases if claim.exclude is None or not claim.exclude.test(case)]
    counts = _count_symbols(cases)
    (left, left_reads), (right, right_reads) = (_per_case_steps(claim, side, cases, counts)
                                                for side in ("left", "right"))
    reads = [f"{side} reads {r}" for side, rs in (("left", left_reads), ("right", right_reads)) for r in rs]
    if reads:
        return False, {"every_d": "not proved: a side reads more than the class counts across coordinates ("
                                  + "; ".join(dict.fromkeys(reads)) + "), so the per-case argument does not apply"}
    differ = [_describe([case])[0] for case, a, b, n in zip(cases, left, right, counts)
              if not _zero_for_every_count(a - b, n)]
    if differ:
        return False, {"every_d": f"not proved: for symbolic counts the new coordinate differs in case(s) "
                                  f"{', '.join(differ)} for some counts beyond the patterns checked"}
    broken = _broken_coordinates(claim, comparisons, cases, left, counts)
    if broken:
        return False, {"every_d": f"not proved: the per-case formula misses {broken} coordinates of the patterns"}
    return True, {"every_d": "proved: each side reads across coordinates only its class counts and d; for "
                             f"symbolic counts {', '.join(map(str, counts))} the new coordinate of every case is "
                             "equal on both sides, and the per-case formula matches every pattern checked"}


def _decide_same_step(claim: SameStep, budget, seed=0, search_beside=False) -> Verdict:
    """(``seed``, ``search_beside``: unused, the check is exhaustive over sign patterns.)"""
    max_d = max(claim.min_d, min(SAME_STEP_DIMS[budget], claim.max_d or SAME_STEP_DIMS[budget]))
    make_inputs = lambda pattern: ams_inputs(pattern, HYPER, reference=claim.reference)
    n = bad = located = with_located = 0
    first, symbols, coordinate_symbols, comparisons = None, set(), set(), []
    for c in compare(_patterns(claim, max_d), make_inputs, _side(claim, "left"), _side(claim, "right")):
        n += 1
        comparisons.append(c)
        symbols |= set().union(*(sp.sympify(x).free_symbols for x in c.left + c.right))
        coordinate_symbols |= set().union(*(sp.sympify(x).free_symbols
                                            for x in itertools.chain(c.inputs[0], c.inputs[1], *c.inputs[2].values())))
        inside = claim.differs_at is not None and claim.differs_at.any_in(c.pattern)
        with_located += inside
        if not c.equal:
            bad += 1
            located += inside
            first = c if first is None else first
    for side in (claim.left, claim.right):
        if isinstance(side, AMSRule):
            symbols |= side.symbols()
    symbolic = _symbol_names(symbols - (coordinate_symbols - set(HYPER_NAMES)))
    evidence = {"patterns": n, "mismatching_patterns": bad, "max_d": max_d, "cases_per_coordinate": _cases_text(claim),
                "symbolic": symbolic}
    if claim.exclude is not None:
        evidence["excluded"] = f"patterns with some {claim.exclude.text}"
    scale_ok = True
    if claim.scale_every_d is not None:
        counts = claim.scale_every_d
        factor = scale_for_counts(rules.Caution.from_mapping(claim.left.hp), counts.phi, counts.psi)
        expected = sp.sympify(counts.expected(*CLASS_COUNTS))
        scale_ok = sp.simplify(factor - expected) == 0
        evidence.update(step_size_factor_every_d=str(factor), expected_factor=str(expected),
                        factor_as_expected=scale_ok)
    if first is not None:
        cex, recheck = _exact_counterexample(claim, first)
        summary = f"{bad} of {n} sign patterns differ (d <= {max_d})"
        if claim.differs_at is not None:
            exactly = located == bad == with_located
            evidence["mismatches_exactly_where_expected"] = exactly
            summary += f", {'exactly' if exactly else 'not exactly'} those with some {claim.differs_at.text}"
        return Verdict("refuted", summary, evidence, cex, recheck=recheck, strength=proved(judging.REFUTATION_BASIS))
    if not scale_ok:
        return Verdict("not-checkable", f"equal on all {n} sign patterns (d <= {max_d}), but for symbolic counts the "
                       f"step-size factor is {evidence['step_size_factor_every_d']}, not "
                       f"{evidence['expected_factor']}: no exact counterexample with d <= {max_d}", evidence,
                       strength=Strength("none", "the counts differ beyond the patterns checked"))
    every_d, note = _every_d(claim, comparisons) if claim.max_d is None else (False, {})
    evidence.update(note)
    summary = f"exact equality on all {n} sign patterns, d <= {max_d}, symbolic {symbolic}" \
        + ("; every d: per sign case for symbolic class counts" if every_d else
           "; general d via symbolic counts" if claim.scale_every_d else "") \
        + (f"; patterns with some {claim.exclude.text} left out" if claim.exclude else "")
    basis = f"every per-coordinate sign pattern for d <= {max_d} ({n} patterns), symbolic magnitudes and " \
            "hyperparameters" + ("; every d: each sign case's new coordinate equal for symbolic class counts, "
                                 "simplified by sympy (no certificate the registry replays)" if every_d else
                                 "; the step-size factor for symbolic class counts (every d)" if claim.scale_every_d
                                 else "")
    return Verdict("holds", summary, evidence, strength=exhaustive(
        basis, patterns=n, max_d=max_d, symbolic_counts=claim.scale_every_d is not None, every_d=every_d))
