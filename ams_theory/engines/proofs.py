r"""A proof engine for pointwise claims: identities and sign conditions of exact expressions.

The claims it proves are statements ``E(x) == 0`` or ``E(x) <= 0`` for every real
``x`` satisfying stated hypotheses, where ``E`` is an exact (sympy) expression that
the rule core or a continuous-time system produced: rational functions of the
variables, square roots, and the sign-reading functions the masks use (``sign``,
``Abs``, indicators written as ``Piecewise``, ``Max``/``Min``).

How a proof goes (:func:`decide`):

1. Square roots become variables: ``sqrt(X)`` is replaced by a fresh ``q`` with
   ``q >= 0`` and ``q^2 = X`` (so ``X^{3/2} = q^3``).
2. Case split on signs: an innermost sign-reading argument ``a`` (one containing no
   other) is split into ``a > 0``, ``a = 0``, ``a < 0``; in each branch every
   ``sign``, ``Abs``, indicator, ``Max`` or ``Min`` of a constant multiple of ``a`` is
   evaluated, and the split goes on until none is left. A branch whose conditions
   contradict the hypotheses is closed as *infeasible* (the query reported unsat).
3. At a leaf ``E`` is a rational function ``N/D``. The denominator is shown nonzero
   on the branch (``D = 0`` unsat). An identity closes when ``N`` expands to 0
   (*simplifies to 0*) or when ``N != 0`` is unsat on the branch; a sign condition
   ``N/D <= 0`` closes when ``N D > 0`` is unsat (``N/D`` and ``N D`` have the same sign
   where ``D != 0``). Each query is decided by z3's nonlinear real arithmetic, an exact
   decision procedure (the z3-solver package).
4. A satisfiable negation gives a model: its values (rounded to rationals where z3
   returns algebraic numbers) are substituted into the original expression and the
   violation is re-checked exactly in sympy before it is reported as a counterexample.
   A query z3 cannot decide in its time limit leaves the proof *open*, never proved.

The result is a :class:`Proof`: the list of cases, each with its conditions, the step
that closed it and the exact query (SMT-LIB 2). :meth:`Proof.recheck` re-runs every
query from its text and recomputes every simplification, so a proof can be re-checked
without trusting the code that found it.

Vector claims reduce to one coordinate with :func:`per_coordinate`: when the
expression in dimension ``d`` is a sum of one term per coordinate, each in that
coordinate's variables only (checked exactly at d = 3 against three renamed copies of
the d = 1 term), a claim ``sum_i f(x_i) == 0`` (or ``<= 0``) holds for every d if and
only if ``f == 0`` (``f <= 0``) holds for one coordinate, since d = 1 is an instance.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Sequence

import sympy as sp

__all__ = ["Case", "Proof", "Bundle", "decide", "per_coordinate", "with_multiplier", "violates", "RELATIONS", "to_z3"]

RELATIONS = ("== 0", "<= 0")
TIMEOUT_MS = 20_000
SIGN_HEADS = (sp.sign, sp.Abs, sp.Max, sp.Min, sp.Heaviside)


def _z3():
    try:
        import z3
    except ModuleNotFoundError as err:          # pragma: no cover - z3-solver is a dependency
        raise RuntimeError("the proof engine needs z3-solver (pip install z3-solver)") from err
    return z3


# ----------------------------------------------------------------------------- data

@dataclass
class Case:
    """One closed (or open) branch of a proof."""

    conditions: tuple                  # the branch's sign conditions, as text
    step: str                          # "simplifies to 0", "negation unsat", "infeasible case", or why it is open
    query: str = ""                    # SMT-LIB 2 text of the unsat query ("" for a simplification)
    closed: bool = True

    def to_json(self) -> dict:
        out = {"conditions": list(self.conditions), "step": self.step}
        if self.query:
            out["query"] = self.query
        if not self.closed:
            out["closed"] = False
        return out


@dataclass
class Proof:
    """The outcome of :func:`decide`: ``status`` is ``proved``, ``refuted`` (with ``model``) or ``open``."""

    statement: str
    relation: str
    hypotheses: tuple
    reduction: str
    cases: list = field(default_factory=list)
    status: str = "open"
    model: dict | None = None
    seconds: float = 0.0
    _leaves: list = field(default_factory=list, repr=False)    # leaf expressions closed by simplification
    _claim: tuple = field(default=(), repr=False)               # (expression, hypotheses) as decided
    _point: dict = field(default_factory=dict, repr=False)      # the counterexample as sympy values

    @property
    def proved(self) -> bool:
        return self.status == "proved"

    def recheck(self) -> bool:
        """Re-run every unsat query from its SMT-LIB text and re-expand every zero numerator."""
        if self.status != "proved":
            return False
        z3 = _z3()
        for case in self.cases:
            if not case.closed:
                return False
            if case.query:
                s = z3.Solver()
                s.set("timeout", TIMEOUT_MS)
                try:
                    s.from_string(case.query)
                except z3.Z3Exception:
                    return False
                if s.check() != z3.unsat:
                    return False
        return all(_fraction(e)[0] == 0 for e in self._leaves)

    def certify(self) -> bool:
        """For a refutation: re-check the counterexample exactly (hypotheses hold, the relation fails)."""
        if self.status != "refuted" or not self._point:
            return False
        expr, hypotheses = self._claim
        return violates(expr, self.relation, hypotheses, self._point)

    def to_json(self) -> dict:
        return {"statement": self.statement, "relation": self.relation, "hypotheses": list(self.hypotheses),
                "reduction": self.reduction, "status": self.status, "cases": [c.to_json() for c in self.cases],
                "model": self.model, "seconds": round(self.seconds, 3)}

    def text(self) -> str:
        """The proof as a person reads it: the statement, the reduction, then one line per case."""
        lines = [f"claim: {self.statement}  [{self.relation}]",
                 f"hypotheses: {', '.join(self.hypotheses) or 'none'}", f"reduction: {self.reduction}",
                 f"status: {self.status} ({len(self.cases)} cases, {self.seconds:.2f} s)"]
        for k, c in enumerate(self.cases, 1):
            cond = " and ".join(c.conditions) or "(no split)"
            lines.append(f"  case {k}: {cond}: {c.step}")
        if self.model:
            lines.append("counterexample: " + ", ".join(f"{k} = {v}" for k, v in self.model.items()))
        return "\n".join(lines)


@dataclass
class Bundle:
    """Several proofs that together establish one verdict (a claim's parts), each under a label."""

    parts: list                        # [(label, Proof)]

    @property
    def proved(self) -> bool:
        return all(p.proved for _, p in self.parts)

    def recheck(self) -> bool:
        return all(p.recheck() for _, p in self.parts)

    @property
    def seconds(self) -> float:
        return sum(p.seconds for _, p in self.parts)

    @property
    def model(self):
        """The counterexample of the first refuted part (None when no part is refuted)."""
        return next((p.model for _, p in self.parts if p.status == "refuted"), None)

    def certify(self) -> bool:
        return any(p.certify() for _, p in self.parts if p.status == "refuted")

    @property
    def reduction(self) -> str:
        return "; ".join(f"{label}: {p.reduction}" for label, p in self.parts)

    @property
    def status(self) -> str:
        statuses = {p.status for _, p in self.parts}
        return "proved" if statuses == {"proved"} else "refuted" if "refuted" in statuses else "open"

    def to_json(self) -> dict:
        return {"parts": [{"label": label, **p.to_json()} for label, p in self.parts]}

    def text(self) -> str:
        return "\n\n".join(f"[{label}]\n{p.text()}" for label, p in self.parts)


# ----------------------------------------------------------------------------- sympy -> z3

def to_z3(expr, env: dict):
    """A polynomial sympy expression (or relational, And/Or/Not) as a z3 term over the reals. ``env`` maps sympy
    symbols to z3 variables; its key ``None``, when present, is the z3 context the terms are made in."""
    z3 = _z3()
    ctx = env.get(None)
    if isinstance(expr, sp.Symbol):
        if expr not in env:
            env[expr] = z3.Real(expr.name, ctx)
        return env[expr]
    if expr is sp.true:
        return z3.BoolVal(True, ctx)
    if expr is sp.false:
        return z3.BoolVal(False, ctx)
    if expr.is_Rational:
        return z3.RealVal(f"{expr.p}/{expr.q}", ctx)
    if isinstance(expr, sp.Add):
        return z3.Sum([to_z3(a, env) for a in expr.args])
    if isinstance(expr, sp.Mul):
        return z3.Product([to_z3(a, env) for a in expr.args])
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer and expr.exp >= 0:
        base = to_z3(expr.base, env)
        out = z3.RealVal(1, ctx)
        for _ in range(int(expr.exp)):
            out = out * base
        return out
    rel = {sp.StrictGreaterThan: lambda a, b: a > b, sp.GreaterThan: lambda a, b: a >= b,
           sp.StrictLessThan: lambda a, b: a < b, sp.LessThan: lambda a, b: a <= b,
           sp.Equality: lambda a, b: a == b, sp.Unequality: lambda a, b: a != b}
    for kind, make in rel.items():
        if isinstance(expr, kind):
            return make(to_z3(expr.lhs, env), to_z3(expr.rhs, env))
    if isinstance(expr, sp.And):
        return z3.And([to_z3(a, env) for a in expr.args])
    if isinstance(expr, sp.Or):
        return z3.Or([to_z3(a, env) for a in expr.args])
    if isinstance(expr, sp.Not):
        return z3.Not(to_z3(expr.args[0], env))
    raise ValueError(f"not a polynomial expression: {expr}")


def _assumption(sym):
    """The sign assumption a sympy symbol carries, as ``(text, test)`` with ``test(x)`` deciding it for a z3
    term or an exact number (None for a free real). sympy would evaluate ``sym > 0`` to True at once for a
    positive symbol, so the assumption is carried as a function, not a relational."""
    for attr, text, test in (("is_positive", "> 0", lambda x: x > 0), ("is_negative", "< 0", lambda x: x < 0),
                             ("is_nonnegative", ">= 0", lambda x: x >= 0),
                             ("is_nonpositive", "<= 0", lambda x: x <= 0), ("is_zero", "= 0", lambda x: x == 0)):
        if getattr(sym, attr):
            return text, test
    return None


def _smt2(solver) -> str:
    """The solver's SMT-LIB 2 text with z3's let-names renumbered in order of appearance: z3 numbers them by its
    term ids, which depend on what the process built before, so the same query reads the same in every run."""
    import re

    names: dict = {}
    return re.sub(r"[?$]x\d+", lambda m: names.setdefault(m.group(0), f"{m.group(0)[0]}x{len(names) + 1}"),
                  solver.to_smt2())


class _Solver:
    """z3 queries over a fixed set of hypotheses; each query keeps its SMT-LIB text."""

    def __init__(self, hypotheses):
        self.hyps = list(hypotheses)

    def query(self, conditions):
        z3 = _z3()
        ctx = z3.Context()      # fresh: the terms (and the SMT-LIB text) owe nothing to earlier queries
        env: dict = {None: ctx}
        s = z3.Solver(ctx=ctx)
        s.set("timeout", TIMEOUT_MS)
        syms = set()
        for c in list(self.hyps) + list(conditions):
            syms |= getattr(c, "free_symbols", set())
        for sym in sorted(syms, key=lambda x: x.name):
            a = _assumption(sym)
            if a is not None:
                s.add(a[1](to_z3(sym, env)))
        for c in list(self.hyps) + list(conditions):
            if c is sp.true:
                continue
            s.add(to_z3(c, env))
        result = s.check()
        return result, s, env

    def unsat(self, conditions):
        z3 = _z3()
        result, s, env = self.query(conditions)
        return result == z3.unsat, result, s, env


# ----------------------------------------------------------------------------- case splitting

def _sign_atoms(expr):
    return [a for a in sp.preorder_traversal(expr) if isinstance(a, SIGN_HEADS) or isinstance(a, sp.Piecewise)]


def _relationals(pw):
    out = []
    for _, cond in pw.args:
        out += [r for r in sp.preorder_traversal(cond) if isinstance(r, sp.core.relational.Relational)]
    return out


def _split_arguments(atom):
    if isinstance(atom, sp.Piecewise):
        return [sp.expand(r.lhs - r.rhs) for r in _relationals(atom)]
    return [sp.expand(a) for a in atom.args if not a.is_number]


def _innermost_argument(expr):
    """An argument of a sign-reading function that contains no sign-reading function itself."""
    for atom in _sign_atoms(expr):
        for arg in _split_arguments(atom):
            if arg.is_number:
                continue
            if not _sign_atoms(arg):
                return arg
    return None


def _ratio_sign(arg, a, sgn):
    """The sign of ``arg`` when ``arg`` is a constant multiple of ``a`` and ``sign(a) = sgn``; else None."""
    if arg.is_number:
        return int(sp.sign(arg))
    ratio = sp.cancel(arg / a)
    if ratio.is_number and ratio != 0:
        return int(sp.sign(ratio)) * sgn
    return None


def _evaluate(expr, a, sgn):
    """Evaluate every sign-reading function of a multiple of ``a`` given ``sign(a) = sgn``."""
    def value(atom):
        if isinstance(atom, sp.Piecewise):
            subs = {}
            for r in _relationals(atom):
                k = _ratio_sign(sp.expand(r.lhs - r.rhs), a, sgn)
                if k is not None:
                    subs[r] = r.func(sp.Integer(k), 0)
            return atom.xreplace(subs) if subs else None
        args = [_ratio_sign(sp.expand(x), a, sgn) if not x.is_number else None for x in atom.args]
        if isinstance(atom, sp.sign) and args[0] is not None:
            return sp.Integer(args[0])
        if isinstance(atom, sp.Abs) and args[0] is not None:
            return atom.args[0] * args[0]
        if isinstance(atom, sp.Heaviside) and args[0] is not None:
            if args[0] == 0:
                return atom.args[1] if len(atom.args) > 1 else sp.Rational(1, 2)
            return sp.Integer(1 if args[0] > 0 else 0)
        if isinstance(atom, (sp.Max, sp.Min)) and len(atom.args) == 2:
            x, y = atom.args
            k = _ratio_sign(sp.expand(x - y), a, sgn)
            if k is not None:
                big = x if k >= 0 else y
                small = y if k >= 0 else x
                return big if isinstance(atom, sp.Max) else small
        return None

    changed = True
    while changed:
        changed = False
        for atom in _sign_atoms(expr):
            v = value(atom)
            if v is not None and v != atom:
                expr = expr.xreplace({atom: v})
                changed = True
                break
    return expr


def _sqrt_to_variables(expr, names):
    """Replace each ``X**(k/2)`` by ``q**k`` with a fresh ``q >= 0``, ``q**2 = X``; ``names`` (base -> q) is
    shared between the calls of one decision, so one square root gets one variable."""
    extra = []
    while True:
        roots = [p for p in sp.preorder_traversal(expr) if isinstance(p, sp.Pow) and p.exp.is_Rational
                 and p.exp.q == 2]
        if not roots:
            return expr, extra
        base = roots[0].base
        q = names.get(base)
        if q is None:
            q = sp.Symbol(f"sqrt_{len(names)}", nonnegative=True)
            names[base] = q
            extra.append(sp.Eq(q ** 2, base))
        rep = {p: q ** int(p.exp * 2) for p in roots if p.base == base}
        expr = expr.xreplace(rep)


def _text(c):
    return sp.sstr(c)


def _fraction(expr):
    """``expr`` as one rational function: its numerator and denominator, expanded."""
    num, den = sp.fraction(sp.together(sp.expand(expr)))
    return sp.expand(num), sp.expand(den)


# ----------------------------------------------------------------------------- the decision

def decide(expr, relation: str, hypotheses: Sequence = (), statement: str = "", reduction: str = "none",
           originals: Sequence = ()) -> Proof:
    """Prove ``expr == 0`` or ``expr <= 0`` (``relation``) for all real values of its symbols that satisfy
    ``hypotheses`` (sympy relationals) and the symbols' sign assumptions; or refute it with an exactly
    re-checked model; or leave it open. ``originals``: the variables a counterexample is reported in
    (default: the expression's own free symbols)."""
    if relation not in RELATIONS:
        raise ValueError(f"unknown relation {relation!r} (expected one of {RELATIONS})")
    t0 = time.perf_counter()
    original = sp.sympify(expr)
    hypotheses = [sp.sympify(h) for h in hypotheses]
    static = [h for h in hypotheses if not _sign_atoms(h)]
    reading = [h for h in hypotheses if _sign_atoms(h)]          # hypotheses that read signs are split with E
    roots: dict = {}
    packed, root_eqs = _sqrt_to_variables(sp.Tuple(original, *reading), roots)
    hyp_all = []
    for h in static:
        hb, eqs = _sqrt_to_variables(h, roots)
        hyp_all.append(hb)
        root_eqs += [e for e in eqs if e not in root_eqs]
    solver = _Solver(hyp_all + root_eqs)
    body = packed
    proof = Proof(statement or _text(original) + f" {relation}", relation,
                  tuple(_text(h) for h in hypotheses), reduction, _claim=(original, hypotheses))
    originals = list(originals) or sorted(original.free_symbols, key=lambda s: s.name)

    def leaf(e, conds, labels):
        num, den = _fraction(e)
        if not den.is_number:
            ok, result, _, _ = solver.unsat(conds + [sp.Eq(den, 0)])
            if not ok:
                proof.cases.append(Case(labels, f"open: the denominator {den} may vanish here ({result})",
                                        closed=False))
                return "open"
        elif den == 0:
            proof.cases.append(Case(labels, "open: the expression is undefined here", closed=False))
            return "open"
        if num == 0:                       # the leaf is kept, so that recheck() simplifies it again from scratch
            proof.cases.append(Case(labels, "simplifies to 0"))
            proof._leaves.append(e)
            return "closed"
        negation = sp.Ne(num, 0) if relation == "== 0" else num * den > 0
        ok, result, s, env = solver.unsat(conds + [negation])
        if ok:
            proof.cases.append(Case(labels, "negation unsat", query=_smt2(s)))
            return "closed"
        z3 = _z3()
        if result == z3.sat:
            point = _model(s.model(), env, originals, original, relation, hypotheses)
            if point is not None:
                proof._point = point
                proof.model = {sym.name: str(v) for sym, v in point.items()}
                proof.cases.append(Case(labels, "negation satisfiable: counterexample", closed=False))
                return "refuted"
        proof.cases.append(Case(labels, f"open: z3 answered {result}", closed=False))
        return "open"

    def split(e, conds, labels):
        a = _innermost_argument(e)
        if a is None:                      # e = (expression, hypotheses that read signs, now evaluated)
            carried = list(e.args[1:])
            if any(h is sp.false for h in carried):
                proof.cases.append(Case(labels, "infeasible case (a hypothesis is false here)"))
                return "closed"
            return leaf(e.args[0], conds + [h for h in carried if h is not sp.true], labels)
        outcome = "closed"
        for sgn, rel in ((1, a > 0), (0, sp.Eq(a, 0)), (-1, a < 0)):
            if rel is sp.false:
                continue
            branch = conds + ([] if rel is sp.true else [rel])
            lab = labels + (f"{_text(a)} {'>' if sgn > 0 else '=' if sgn == 0 else '<'} 0",)
            ok, result, s, _ = solver.unsat(branch)
            if ok:
                proof.cases.append(Case(lab, "infeasible case", query=_smt2(s)))
                continue
            sub = _evaluate(e, a, sgn)
            r = split(sp.Tuple(*[sp.expand(x) if not _sign_atoms(x) and not isinstance(x, sp.logic.boolalg.Boolean)
                                 else x for x in sub.args]), branch, lab)
            if r == "refuted":
                return r
            if r == "open":
                outcome = "open"
        return outcome

    result = split(body, [], ())
    proof.status = {"closed": "proved", "refuted": "refuted", "open": "open"}[result]
    proof.seconds = time.perf_counter() - t0
    return proof


def _rational(value, digits=30):
    """A z3 model value as an exact rational (algebraic numbers rounded to ``digits`` decimals)."""
    if value.is_int() or (hasattr(value, "is_real") and value.is_real() and _is_rational(value)):
        f = value.as_fraction()
        return sp.Rational(f.numerator, f.denominator)
    text = value.as_decimal(digits).rstrip("?")
    return sp.Rational(Fraction(text))


def _is_rational(value):
    try:
        value.as_fraction()
        return True
    except Exception:
        return False


def _model(m, env, originals, original, relation, hypotheses):
    """The model at the original variables, kept only if the violation survives exact evaluation."""
    point = {}
    for sym in originals:
        z = env.get(sym)
        if z is None:
            point[sym] = sp.Integer(1) if sym.is_positive or sym.is_nonnegative else (
                sp.Integer(-1) if sym.is_negative or sym.is_nonpositive else sp.Integer(0))
            continue
        point[sym] = _rational(m.eval(z, model_completion=True))
    return point if violates(original, relation, hypotheses, point) else None


def violates(expr, relation, hypotheses, point) -> bool:
    """Exact check that ``point`` satisfies the hypotheses and the symbols' assumptions but violates the
    relation (sympy, no floats)."""
    for sym, v in point.items():
        a = _assumption(sym)
        if a is not None and not bool(a[1](v)):
            return False
    for h in hypotheses:
        if sp.simplify(h.subs(point)) is not sp.true:
            return False
    value = sp.nsimplify(sp.simplify(sp.sympify(expr).subs(point)))
    if value.free_symbols or value is sp.nan or value.has(sp.zoo):
        return False
    return bool(value != 0) if relation == "== 0" else bool(value > 0)


# ----------------------------------------------------------------------------- reduction to one coordinate

def _max_parts(expr):
    """``c max{a_1, ..., a_k} + b`` (c > 0, or c < 0 with a min) as ``[c a_1 + b, ..., c a_k + b]``: the terms
    whose maximum the expression is (one term for an expression without a top max)."""
    if isinstance(expr, sp.Max):
        return [a for arg in expr.args for a in _max_parts(arg)]
    if isinstance(expr, sp.Mul):
        c, rest = expr.as_coeff_Mul()
        if c.is_number and c != 1 and ((c > 0 and isinstance(rest, sp.Max)) or (c < 0 and isinstance(rest, sp.Min))):
            return [a for arg in rest.args for a in _max_parts(c * arg)]   # c min{a, b} = max{c a, c b}, c < 0
    if isinstance(expr, sp.Add):
        tops = [a for a in expr.args if len(_max_parts(a)) > 1]
        if len(tops) == 1:
            rest = expr - tops[0]
            return [a + rest for a in _max_parts(tops[0])]
    return [expr]


def _residual(expr):
    """``expr`` expanded, and simplified where expansion alone does not cancel it (sympy can fail on Piecewise
    arithmetic: then the residual is reported as it stands)."""
    e = sp.expand(expr)
    if e == 0:
        return e
    try:
        return sp.simplify(e)
    except (ValueError, TypeError):
        return e


def per_coordinate(build: Callable[[int], tuple], relation: str, hypotheses: Sequence = (), statement: str = "",
                   check_d: int = 3):
    r"""Prove a claim ``E_d == 0`` / ``E_d <= 0`` for every dimension d by reduction to one coordinate.

    ``build(d)`` returns ``(E_d, coordinate_symbols)`` with ``coordinate_symbols[i]`` the tuple of
    coordinate i's variables (shared hyperparameters are not listed). The reduction is checked
    exactly: ``E_3`` must equal the sum of three copies of ``E_1`` with coordinate 0's variables renamed
    to coordinate i's. Then the claim for d = 1 is decided by :func:`decide`. If the reduction check
    fails the proof is left open with the reason.
    """
    e1, coords1 = build(1)
    ed, coordsd = build(check_d)
    if relation == "<= 0":
        parts1, partsd = _max_parts(sp.sympify(e1)), _max_parts(sp.sympify(ed))
        if len(parts1) > 1 and len(parts1) == len(partsd):       # max{a, b} <= 0 iff a <= 0 and b <= 0
            return Bundle([(f"{statement} [part {k + 1} of a max]", per_coordinate(
                lambda d, k=k: (_max_parts(sp.sympify(build(d)[0]))[k], build(d)[1]), relation, hypotheses,
                f"{statement} [part {k + 1}]", check_d)) for k in range(len(parts1))])
    copies = []
    for i in range(check_d):
        copies.append(sp.sympify(e1).xreplace(dict(zip(coords1[0], coordsd[i]))))
    residual = _residual(sp.sympify(ed) - sp.Add(*copies))
    reduction = (f"a sum of one term per coordinate (checked exactly: the d = {check_d} expression minus "
                 f"{check_d} renamed copies of the d = 1 term is 0), so the claim holds for every d iff it holds "
                 "for one coordinate")
    if residual != 0:
        proof = Proof(statement, relation, tuple(_text(h) for h in hypotheses),
                      f"not separable over coordinates (d = {check_d} residual {residual})")
        proof.cases.append(Case((), "open: the reduction to one coordinate does not apply", closed=False))
        return proof
    return decide(e1, relation, hypotheses, statement, reduction)


VERDICT_OF = {"proved": "holds", "refuted": "refuted", "open": "open"}     # a proof's status as a verdict word


def with_multiplier(build: Callable[[int], tuple], multipliers: Sequence, hypotheses: Sequence = (),
                    statement: str = "", sufficient: bool = False) -> Proof | Bundle:
    r"""Prove ``E_d <= 0`` for every d under a hypothesis ``H_d >= 0`` that is itself a sum over coordinates
    (a step bound ``eta den <= num`` as ``num - eta den >= 0``), by a multiplier: if ``lambda >= 0`` (it may
    depend on the shared hyperparameters, not on the coordinates) and ``e(x_i) + lambda h(x_i) <= 0`` for
    every coordinate, then ``E_d <= -lambda H_d <= 0``.

    ``build(d)`` returns ``(E_d, H_d, coordinate_symbols)``. Each candidate ``lambda`` of ``multipliers`` is
    tried in turn; the first that closes gives a :class:`Bundle` of the two proofs (``lambda >= 0``, and the
    per-coordinate bound after :func:`per_coordinate`'s separability check). A conclusion ``max{E_1, ..., E_k}``
    is proved part by part; ``H_d`` may be a list ``[H_1, ..., H_m]`` of hypotheses ``H_j >= 0`` (a step bound
    ``eta den <= min{num_1, ..., num_m}``), and each part is paired with the first that closes it.

    If no multiplier closes, the claim at d = 1 (where the hypothesis is one coordinate's) is decided directly:
    a refutation there is a counterexample to the claim, unless ``sufficient`` (``E`` only bounds the claim's
    quantity from above, so a model of ``E > 0`` refutes nothing and the proof stays open)."""
    e1, h1, _ = build(1)
    e_parts, h_parts = _max_parts(sp.sympify(e1)), _hypothesis_list(h1)
    if len(e_parts) == 1 and len(h_parts) == 1:
        closed, last = _close_by_multiplier(lambda d: _parts_at(build(d), 0, 0), multipliers, hypotheses, statement)
        if closed is not None:
            return closed
        detail = f"last attempt: {last.status if last is not None else 'none'}"
    else:
        parts, detail = [], ""
        for j in range(len(e_parts)):
            for k in range(len(h_parts)):
                closed, _ = _close_by_multiplier(
                    lambda d, j=j, k=k: _parts_at(build(d), j, k), multipliers, hypotheses,
                    f"{statement} [conclusion part {j + 1} of a max, hypothesis {k + 1}]")
                if closed is not None:
                    parts.append((f"conclusion part {j + 1} of {len(e_parts)} (max), from hypothesis {k + 1} of "
                                  f"{len(h_parts)}", closed))
                    break
            else:
                detail = f"conclusion part {j + 1} of {len(e_parts)} closed with no hypothesis part"
                break
        if len(parts) == len(e_parts):
            return Bundle(parts)
    return _decide_at_d1(build, multipliers, hypotheses, statement, sufficient, detail)


def _hypothesis_list(h):
    """The hypotheses ``H_j >= 0`` of ``build(d)``'s second entry (one expression, or a list of them)."""
    return [sp.sympify(x) for x in h] if isinstance(h, (list, tuple)) else [sp.sympify(h)]


def _parts_at(built, j, k):
    """Part ``j`` of a conclusion max and hypothesis ``k``, from ``build(d)``'s triple."""
    e, h, coords = built
    return _max_parts(sp.sympify(e))[j], _hypothesis_list(h)[k], coords


def _close_by_multiplier(build, multipliers, hypotheses, statement):
    """The first ``lambda`` of ``multipliers`` with ``lambda >= 0`` and ``E + lambda H <= 0`` per coordinate, as a
    :class:`Bundle`; ``(None, last attempt)`` when none closes."""
    last = None
    for lam in multipliers:
        nonneg = decide(-sp.sympify(lam), "<= 0", hypotheses, f"lambda = {lam} >= 0")
        if not nonneg.proved:
            continue

        def combined(d, lam=lam):
            e, h, coords = build(d)
            return sp.sympify(e) + lam * sp.sympify(h), coords
        p = per_coordinate(combined, "<= 0", hypotheses, f"{statement}: E + ({lam}) H <= 0 per coordinate")
        if p.proved:
            return Bundle([(f"lambda = {lam} >= 0", nonneg),
                           (f"E + lambda H <= 0 per coordinate, lambda = {lam} (then E <= -lambda H <= 0 under the "
                            "hypothesis H >= 0)", p)]), p
        last = p
    return None, last


def _decide_at_d1(build, multipliers, hypotheses, statement, sufficient, detail):
    """No multiplier closed: decide the claim at d = 1 (an instance of it), or leave it open (always, for a
    ``sufficient`` bound: a model of it refutes nothing)."""
    at = "a sufficient bound: not decided at d = 1 (a model of it would refute nothing)"
    if not sufficient:
        e1, h1, _ = build(1)
        at_d1 = decide(e1, "<= 0", list(hypotheses) + [h >= 0 for h in _hypothesis_list(h1)], f"{statement} at d = 1")
        if at_d1.status == "refuted":          # d = 1 is an instance of the claim: a genuine counterexample
            at_d1.reduction = "no multiplier closed the bound; the claim at d = 1 (an instance) is refuted"
            return at_d1
        at = f"at d = 1 the claim is {at_d1.status}"
    out = Proof(statement, "<= 0", tuple(_text(h) for h in hypotheses),
                f"no multiplier among {[str(m) for m in multipliers]} closed the per-coordinate bound ({detail}); {at}")
    out.cases.append(Case((), "open: no multiplier closes the bound", closed=False))
    return out
