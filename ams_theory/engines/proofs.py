r"""A proof engine for pointwise claims: identities and sign conditions of exact expressions.

A claim is a :class:`Statement`: ``E(x) == 0`` or ``E(x) <= 0`` for every real ``x`` that satisfies the
hypotheses and the symbols' sign assumptions, where ``E`` is an exact (sympy) expression: rational functions,
rational powers and roots, ``sign``, ``Abs``, ``Max``, ``Min``, ``Heaviside``, ``Piecewise`` and numeric
constants such as ``pi``. :func:`decide` answers ``proved``, ``refuted`` (an exactly re-checked counterexample),
``vacuous`` (no state satisfies the hypotheses), ``undefined`` (``E`` is undefined at a state the hypotheses
allow: a zero denominator, a negative radicand, no branch of a ``Piecewise``) or ``open`` (with the reason).

The rules the engine keeps (each is guarded by a test in ``tests/engines/test_proofs.py``):

1. Domains are part of the statement. A division, a root or a rational power is defined where the statement
   says and nowhere else: each one gives a *domain obligation* (denominator nonzero, radicand nonnegative,
   some ``Piecewise`` branch applies), guarded by the ``Piecewise`` conditions on its path, proved from the
   hypotheses before anything else. A root ``X^{1/q}`` is a variable ``r`` defined by ``X >= 0 => (r >= 0 and
   r^q = X)``, so nothing about ``X`` is assumed. A hypothesis holds only where it is defined. The
   obligations are read from the expression as given; sympy simplifies some expressions when they are built
   (``x*y/(x*y)`` becomes 1), so build with ``evaluate=False`` to keep such a division.
2. Symbols are identified by object: each sympy symbol gets its own solver name (a second symbol of the same
   name gets ``x.1``; a name that is no plain SMT-LIB symbol is quoted as ``|u:name|``), and the engine's own
   variables have names no user symbol can take (``%root1``).
3. The case split is a guide, never a premise. Each query states the claim itself, the hypotheses, the
   domain conditions and the branch's conditions; a branch is split on ``a > 0``, ``a = 0``, ``a < 0`` of an
   argument ``a`` of a sign-reading function, so the branches cover every state. The claim is written as
   it stands as a fraction of two polynomials, ``sign``, ``Abs``, ``Max``, ``Min``, ``Heaviside`` and
   ``Piecewise`` as variables with one defining fact per case (guarded so that a definition never
   constrains anything else), constants like ``pi`` as variables between rational bounds: every query is
   polynomial (QF_NRA), which z3 and cvc5 both decide.
4. Hypotheses that no state satisfies make the claim ``vacuous``, not proved.
5. A proof is a certificate bound to its statement: :meth:`Proof.recheck` re-derives every query from the
   statement and the case conditions (and the statement from the claim, when the proof carries a
   ``rederive``), checks that the branches cover every state, and replays every query in z3 or cvc5
   (``solver=``); any difference fails it. :meth:`Proof.smtlib` gives the queries for any SMT solver.
6. A counterexample is re-checked in exact arithmetic (:func:`violates`) before it is reported; an input the
   engine cannot read (an unsupported function, a symbolic exponent) leaves the claim open with the reason.

Each query is decided by z3's nonlinear real arithmetic (an exact decision procedure); a query it cannot
decide within its time limit leaves the claim open.
"""
from __future__ import annotations

import contextlib
import contextvars
import re
import sys
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Sequence

import sympy as sp

__all__ = ["Statement", "Case", "Proof", "Bundle", "Unsupported", "decide", "violates", "replay", "bound_to",
           "exact_sign", "RELATIONS", "STATUSES", "SOLVERS", "VERDICT_OF"]

RELATIONS = ("== 0", "<= 0")
STATUSES = ("proved", "refuted", "vacuous", "undefined", "open")
SOLVERS = ("z3", "cvc5")
TIMEOUT_MS = 20_000
SIGN_HEADS = (sp.sign, sp.Abs, sp.Max, sp.Min, sp.Heaviside)
MAX_POWER = 512                       # x**n is written as a product; larger integer powers are left open
MAX_DIGITS = 100_000                  # integers beyond this many digits are left open
VERDICT_OF = {"proved": "holds", "refuted": "refuted", "vacuous": "vacuous", "undefined": "open", "open": "open"}


class Unsupported(ValueError):
    """The statement uses something outside the engine's language (said in one line)."""


@contextlib.contextmanager
def _long_integers():
    """Python refuses str() of integers over 4300 digits by default; exact statements may hold such numbers, so
    the engine lifts the limit while it writes them (and restores it)."""
    get = getattr(sys, "get_int_max_str_digits", None)
    if get is None:
        yield
        return
    old = get()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(old)


# ----------------------------------------------------------------------------- binding proofs to claims

_CLAIM = contextvars.ContextVar("ams_theory_claim", default=None)


@contextlib.contextmanager
def bound_to(claim_id: str):
    """Every proof decided inside the block records ``claim_id`` (the registry runs each check inside one, and
    refuses a proof that records another claim)."""
    token = _CLAIM.set(claim_id)
    try:
        yield
    finally:
        _CLAIM.reset(token)


# ----------------------------------------------------------------------------- statements

@dataclass(frozen=True)
class Statement:
    """``expr relation`` for every state satisfying ``hypotheses``; :attr:`key` identifies it exactly (sympy's
    ``srepr``: every symbol with its assumptions, nothing simplified)."""

    expr: sp.Basic
    relation: str
    hypotheses: tuple = ()

    @property
    def key(self) -> str:
        with _long_integers():
            return sp.srepr(sp.Tuple(self.expr, sp.Symbol(self.relation), sp.Tuple(*self.hypotheses)))

    def text(self) -> str:
        with _long_integers():
            return f"{sp.sstr(self.expr)} {self.relation}"


_ALIASES = {"<=": "<= 0", "==": "== 0", "=": "== 0"}


def _statement(expr, relation, hypotheses) -> Statement:
    relation = _ALIASES.get(relation, relation)
    if relation not in RELATIONS:
        raise ValueError(f"unknown relation {relation!r} (expected one of {RELATIONS}, or '<=', '==')")
    hyps = []
    for h in hypotheses:
        h = sp.sympify(h)
        if not isinstance(h, (sp.logic.boolalg.Boolean, sp.core.relational.Relational)):
            raise ValueError(f"a hypothesis must be a relation such as x >= 0, got {h}")
        hyps.append(h)
    return Statement(sp.sympify(expr), relation, tuple(hyps))


# ----------------------------------------------------------------------------- SMT-LIB encoding

_SIMPLE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\Z")
_RESERVED = {"ite", "and", "or", "not", "xor", "true", "false", "let", "forall", "exists", "distinct", "assert",
             "par", "as", "abs", "div", "mod", "to_real", "to_int", "is_int", "Real", "Int", "Bool", "_", "!"}
_REL = {sp.StrictGreaterThan: ">", sp.GreaterThan: ">=", sp.StrictLessThan: "<", sp.LessThan: "<=",
        sp.Equality: "="}
_OPS = {">": lambda a: a > 0, "=": lambda a: sp.Eq(a, 0), "<": lambda a: a < 0}


class Encoding:
    """A statement in SMT-LIB 2 (QF_NRA): one name per sympy object, the facts every query asserts (sign
    assumptions, root and constant definitions), the domain obligations, the hypotheses and the claim.

    Built from the statement alone, the same way every time: :meth:`Proof.recheck` rebuilds it and compares."""

    def __init__(self, statement: Statement):
        self.statement = statement
        self.names: dict = {}            # sympy object -> SMT name
        self.objects: dict = {}          # SMT name -> sympy object
        self.decls: list = []
        self.facts: list = []
        self.internal: dict = {}         # key -> internal sympy symbol (roots, constants)
        self.definitions: dict = {}      # internal symbol -> what it stands for (text)
        self._defined: set = set()
        self.hypotheses = []
        for h in statement.hypotheses:
            obligations: list = []
            t = self.term(h, obligations, ())
            self.hypotheses.append(_and([_implies(g, c) for g, c, _ in obligations] + [t]))
        self.obligations: list = []
        self.claim = self.frac(statement.expr, self.obligations, ())
        self.domain = list(dict.fromkeys(_implies(g, c) for g, c, _ in self.obligations))

    # -- names
    def name(self, sym) -> str:
        if sym in self.names:
            return self.names[sym]
        base = sym.name
        if not (_SIMPLE.match(base) and base not in _RESERVED):
            # quoted, with a prefix no simple name has: |s| and s are one symbol in SMT-LIB
            base = "|u:" + re.sub(r"[|\\]", "_", base) + "|"
        name, k = base, 0
        while name in self.objects:
            k += 1
            name = f"{base}.{k}" if not base.startswith("|") else f"{base[:-1]}.{k}|"
        self.names[sym], self.objects[name] = name, sym
        self.decls.append(name)
        for text in _assumption_facts(sym):
            self.facts.append(text.format(name))
        return name

    def _internal(self, key, prefix, describe):
        sym = self.internal.get(key)
        if sym is None:
            sym = sp.Dummy(prefix, real=True)
            self.internal[key] = sym
            name = f"%{prefix}{len(self.internal)}"
            self.names[sym], self.objects[name] = name, sym
            self.decls.append(name)
            self.definitions[sym] = describe
        return sym, self.names[sym], sym not in self._defined

    # -- terms
    def term(self, e, obligations: list, guard: tuple) -> str:
        """A formula (relation, And/Or/Not) as SMT-LIB (real expressions go through :meth:`frac`); every place where
        ``e`` may be undefined appends ``(guard, condition, description)`` to ``obligations``."""
        t = lambda x, g=guard: self.term(x, obligations, g)
        if isinstance(e, bool) or e is sp.true or e is sp.false:
            return "true" if e in (True, sp.true) else "false"
        if isinstance(e, sp.core.relational.Relational):
            if not (isinstance(e, sp.Unequality) or type(e) in _REL):
                raise Unsupported(f"the relation {e} is outside the engine's language")
            (ln, ld), (rn, rd) = self.frac(e.lhs, obligations, guard), self.frac(e.rhs, obligations, guard)
            n, d = (ln, ld) if rn == "0" else (f"(- {_mul([ln, rd])} {_mul([rn, ld])})", _mul([ld, rd]))
            if isinstance(e, (sp.Equality, sp.Unequality)):
                atom = f"(= {n} 0)"
                return atom if isinstance(e, sp.Equality) else f"(not {atom})"
            return f"({_REL[type(e)]} {_mul([n, d]) if d != '1' else n} 0)"    # sign(n/d) = sign(n d), d != 0
        if isinstance(e, sp.And):
            return _and([t(a) for a in e.args])
        if isinstance(e, sp.Or):
            return "(or " + " ".join(t(a) for a in e.args) + ")"
        if isinstance(e, sp.Not):
            return f"(not {t(e.args[0])})"
        raise Unsupported(f"{sp.sstr(e)[:60]} stands where a relation is expected")

    def frac(self, e, obligations: list, guard: tuple):
        """A real expression as ``(numerator, denominator)``, both polynomial SMT-LIB terms, written as the
        expression is written (no simplification): the queries stay polynomial, which both solvers decide."""
        f = lambda x: self.frac(x, obligations, guard)
        if isinstance(e, sp.Symbol):
            if e in self.names:
                return self.names[e], "1"
            if e.is_real is False or e.is_extended_real is False:
                raise Unsupported(f"the symbol {e} is not real")
            return self.name(e), "1"
        if isinstance(e, sp.Integer):
            return _integer(int(e)), "1"
        if isinstance(e, sp.Rational):
            return _integer(e.p), _integer(e.q)
        if isinstance(e, sp.Float):
            return f(sp.Rational(e))
        if isinstance(e, sp.Add):
            parts = [f(a) for a in e.args]
            if all(d == "1" for _, d in parts):
                return "(+ " + " ".join(n for n, _ in parts) + ")", "1"
            dens = [d for _, d in parts]
            nums = [_mul([n] + [dens[j] for j in range(len(parts)) if j != k]) for k, (n, _) in enumerate(parts)]
            return "(+ " + " ".join(nums) + ")", _mul(dens)
        if isinstance(e, sp.Mul):
            parts = [f(a) for a in e.args]
            return _mul([n for n, _ in parts]), _mul([d for _, d in parts])
        if isinstance(e, sp.Pow):
            return self._power(e, obligations, guard)
        if isinstance(e, sp.Abs):
            x = f(e.args[0])
            return self._cases("abs", x, [(_sign_atom(">=", x), x), (_sign_atom("<", x), (_neg(x[0]), x[1]))]), "1"
        if isinstance(e, sp.sign):
            x = f(e.args[0])
            return self._cases("sign", x, [(_sign_atom(">", x), ("1", "1")), (_sign_atom("=", x), ("0", "1")),
                                           (_sign_atom("<", x), ("(- 1)", "1"))]), "1"
        if isinstance(e, (sp.Max, sp.Min)):
            big, small = (">=", "<") if isinstance(e, sp.Max) else ("<=", ">")
            args = sorted(e.args, key=sp.default_sort_key)
            out = f(args[0])
            for a in args[1:]:
                y = f(a)
                diff = (f"(- {_mul([out[0], y[1]])} {_mul([y[0], out[1]])})", _mul([out[1], y[1]]))
                out = self._cases("max" if big == ">=" else "min", (out, y),
                                  [(_sign_atom(big, diff), out), (_sign_atom(small, diff), y)]), "1"
            return out
        if isinstance(e, sp.Heaviside):
            x = f(e.args[0])
            half = f(e.args[1]) if len(e.args) > 1 else ("1", "2")
            return self._cases("step", (x, half), [(_sign_atom(">", x), ("1", "1")), (_sign_atom("=", x), half),
                                                   (_sign_atom("<", x), ("0", "1"))]), "1"
        if isinstance(e, sp.Piecewise):
            return self._piecewise(e, obligations, guard), "1"
        if isinstance(e, sp.ITE):
            return f(sp.Piecewise((e.args[1], e.args[0]), (e.args[2], True)))
        if getattr(e, "is_number", False) and not e.free_symbols:
            return self._constant(e), "1"
        raise Unsupported(f"{type(e).__name__} ({sp.sstr(e)[:60]}) is outside the engine's language")

    def _power(self, e, obligations, guard):
        base, exp = e.base, e.exp
        if not exp.is_Rational:
            if exp.is_number and not exp.free_symbols and base.is_number:
                return self._constant(e), "1"
            raise Unsupported(f"the power {sp.sstr(e)[:60]} has a non-rational exponent")
        p, q = int(exp.p), int(exp.q)
        if abs(p) > MAX_POWER:
            raise Unsupported(f"the power {sp.sstr(e)[:60]} is larger than {MAX_POWER}")
        if q > 2 and base.is_number and base.is_positive:
            return self._constant(e), "1"              # a high root of a positive number: an interval constant
        if q == 1:
            n, d = self.frac(base, obligations, guard)
        else:
            n, d = self._root(base, q, p, obligations, guard), "1"
        if p < 0:
            if q == 1:
                obligations.append((guard, f"(not (= {n} 0))", f"{sp.sstr(base)} != 0 (denominator)"))
            n, d = d, n
        k = abs(p)
        return (_mul([n] * k) if k else "1"), (_mul([d] * k) if k and d != "1" else "1")

    def _root(self, base, q, p, obligations, guard):
        """``base^(1/q)`` as a variable ``r`` defined by ``base >= 0 => (r >= 0 and r^q = base)``; the radicand's
        sign is a domain obligation (``> 0`` when the power is negative)."""
        n, d = self.frac(base, obligations, guard)
        if not (base.is_Rational and base > 0):
            obligations.append((guard, _sign_atom(">=" if p > 0 else ">", (n, d)),
                                f"{sp.sstr(base)} {'>=' if p > 0 else '>'} 0 (root)"))
        sym, name, new = self._internal(("root", n, d, q), "root", f"({sp.sstr(base)})^(1/{q})")
        if new:
            self._defined.add(sym)
            power = _mul([name] * q)
            premise = _and(([f"(not (= {d} 0))"] if d != "1" else []) + [_sign_atom(">=", (n, d))])
            self.facts.append(f"(=> {premise} (and (>= {name} 0) (= {_mul([power, d])} {n})))")
        return name

    def _constant(self, e):
        """A real constant (pi, E, log(2), ...) as a variable between rational bounds 1e-30 apart."""
        if e.is_real is not True:
            raise Unsupported(f"the constant {sp.sstr(e)[:60]} is not known to be real")
        sym, name, new = self._internal(("const", sp.srepr(e)), "const", sp.sstr(e))
        if new:
            self._defined.add(sym)
            mid = sp.Rational(sp.Float(e.evalf(60), 60))
            eps = sp.Rational(1, 10 ** 30)
            self.facts.append(f"(and (< {_rat(mid - eps)} {name}) (< {name} {_rat(mid + eps)}))")
        return name

    def _piecewise(self, e, obligations, guard):
        conds, values, before = [], [], []
        for value, cond in e.args:
            cond_t = self.term(cond, obligations, guard + tuple(before))
            values.append(self.frac(value, obligations, guard + tuple(before) + (cond_t,)))
            conds.append(_and(before + [cond_t]))
            before.append(f"(not {cond_t})")
        if e.args[-1][1] is not sp.true:
            obligations.append((guard, "(or " + " ".join(conds) + ")" if len(conds) > 1 else conds[0],
                                f"some branch of {sp.sstr(e)[:60]} applies"))
        return self._cases("piece", (tuple(conds), tuple(values)), list(zip(conds, values)))

    def _cases(self, kind, key, cases):
        """A function defined by cases as a variable ``v`` with one fact ``condition => v d = n`` per case
        (value ``n/d``; the conditions are exhaustive and exclusive, or a domain obligation says where none
        applies): the queries carry no ``ite`` and no division, and a branch's conditions settle ``v`` at once."""
        sym, name, new = self._internal((kind, key), kind, f"{kind} of {str(key)[:60]}")
        if new:
            self._defined.add(sym)
            for c, (n, d) in cases:         # guarded by d != 0: a definition never constrains the other variables
                eq = f"(= {name} {n})" if d == "1" else f"(= {_mul([name, d])} {n})"
                premise = _and([c] + ([f"(not (= {d} 0))"] if d != "1" else []))
                self.facts.append(eq if premise == "true" else f"(=> {premise} {eq})")
        return name

    # -- queries
    def negation(self) -> str:
        return f"(not {_sign_atom('=' if self.statement.relation == '== 0' else '<=', self.claim)})"

    def condition(self, atom, op) -> str:
        return _sign_atom(op, self.frac(atom, [], ()))

    def query(self, asserts: Sequence[str]) -> str:
        lines = ["(set-logic QF_NRA)"] + [f"(declare-fun {n} () Real)" for n in self.decls]
        lines += [f"(assert {a})" for a in list(self.facts) + list(asserts)] + ["(check-sat)"]
        return "\n".join(lines) + "\n"

    def vacuity_query(self) -> str:
        return self.query(self.hypotheses)

    def obligation_queries(self) -> list:
        """The domain obligations, each as an unsat query."""
        unique = {(g, c): what for g, c, what in self.obligations}
        return [(what, self.query(self.hypotheses + list(g) + [f"(not {c})"])) for (g, c), what in unique.items()]

    def case_query(self, conditions, leaf: bool) -> str:
        conds = [self.condition(a, op) for a, op in conditions]
        return self.query(self.hypotheses + self.domain + conds + ([self.negation()] if leaf else []))


def _integer(k: int) -> str:
    if k < 0:
        return f"(- {_integer(-k)})"
    if k.bit_length() > MAX_DIGITS * 3.33:
        raise Unsupported(f"a number with more than {MAX_DIGITS} digits")
    return str(k)


def _mul(factors) -> str:
    factors = [x for x in factors if x != "1"]
    return "1" if not factors else factors[0] if len(factors) == 1 else "(* " + " ".join(factors) + ")"


def _neg(n) -> str:
    return f"(- {n})"


def _sign_atom(op, fraction) -> str:
    """``n/d op 0`` as a polynomial atom: ``n d op 0`` (same sign where ``d != 0``; ``=``: ``n = 0``)."""
    n, d = fraction
    if op == "=":
        return f"(= {n} 0)"
    return f"({op} {n if d == '1' else _mul([n, d])} 0)"


def _rat(r) -> str:
    r = sp.Rational(r)
    return _integer(int(r.p)) if r.q == 1 else f"(/ {_integer(int(r.p))} {_integer(int(r.q))})"


def _and(parts):
    parts = [p for p in parts if p != "true"]
    return "true" if not parts else parts[0] if len(parts) == 1 else "(and " + " ".join(parts) + ")"


def _implies(guard, cond):
    return cond if not guard else f"(=> {_and(list(guard))} {cond})"


def _assumption_facts(sym):
    """The sign assumptions a sympy symbol carries, as SMT-LIB templates (``{}`` = its name). Integer symbols are
    read as reals: a proof then covers more, and a counterexample must still pass :func:`violates`."""
    for attr, text in (("is_positive", "(> {} 0)"), ("is_negative", "(< {} 0)"), ("is_zero", "(= {} 0)"),
                       ("is_nonnegative", "(>= {} 0)"), ("is_nonpositive", "(<= {} 0)"),
                       ("is_nonzero", "(not (= {} 0))")):
        if getattr(sym, attr):
            return [text]
    return []


def _assumptions_hold(sym, value) -> bool:
    for attr, test in (("is_positive", lambda v: v > 0), ("is_negative", lambda v: v < 0),
                       ("is_nonnegative", lambda v: v >= 0), ("is_nonpositive", lambda v: v <= 0),
                       ("is_zero", lambda v: v == 0), ("is_nonzero", lambda v: v != 0),
                       ("is_integer", lambda v: v.is_integer)):
        if getattr(sym, attr) and not bool(test(value)):
            return False
    return True


# ----------------------------------------------------------------------------- solvers

def replay(query: str, solver: str = "z3", timeout_ms: int = TIMEOUT_MS) -> str:
    """Run one SMT-LIB query in ``solver`` (z3 or cvc5); ``"unsat"``, ``"sat"``, ``"unknown"`` or
    ``"error: ..."``."""
    if solver == "z3":
        z3 = _z3()
        try:
            return _check(query, timeout_ms, model=False)[0]
        except z3.Z3Exception as err:
            return f"error: {err}"
    if solver == "cvc5":
        return _cvc5(query, timeout_ms)
    raise ValueError(f"unknown solver {solver!r} (expected one of {SOLVERS})")


def _z3():
    try:
        import z3
    except ModuleNotFoundError as err:          # pragma: no cover - z3-solver is a dependency
        raise RuntimeError("the proof engine needs z3-solver (pip install z3-solver)") from err
    return z3


def _cvc5(query, timeout_ms):
    try:
        import cvc5
    except ModuleNotFoundError:
        return "error: cvc5 is not installed (pip install cvc5)"
    tm = cvc5.TermManager()
    slv = cvc5.Solver(tm)
    slv.setOption("tlimit-per", str(timeout_ms))
    parser = cvc5.InputParser(slv)
    parser.setStringInput(cvc5.InputLanguage.SMT_LIB_2_6, query, "query")
    sm = parser.getSymbolManager()
    result = None
    try:
        while True:
            cmd = parser.nextCommand()
            if cmd.isNull():
                break
            if cmd.getCommandName() == "check-sat":
                r = slv.checkSat()
                result = "unsat" if r.isUnsat() else "sat" if r.isSat() else "unknown"
            else:
                cmd.invoke(slv, sm)
    except RuntimeError as err:
        return f"error: {str(err).splitlines()[0]}"
    return result or "error: no check-sat"


def _check(query: str, timeout_ms: int = TIMEOUT_MS, model: bool = True):
    """z3 on one query: ``(result, model as {name: value})`` (the model only for sat, when asked)."""
    z3 = _z3()
    s = z3.Solver(ctx=z3.Context())
    s.set("timeout", timeout_ms)
    s.from_string(query)
    r = s.check()
    if r != z3.sat or not model:
        return str(r), None
    m = s.model()
    return "sat", {d.name(): m[d] for d in m.decls()}


def _rational(value, digits=30):
    """A z3 model value as an exact rational (algebraic numbers rounded to ``digits`` decimals)."""
    if value.is_int():
        return sp.Integer(value.as_long())
    try:
        f = value.as_fraction()
        return sp.Rational(f.numerator, f.denominator)
    except Exception:
        return sp.Rational(Fraction(value.as_decimal(digits).rstrip("?")))


# ----------------------------------------------------------------------------- results

@dataclass
class Case:
    """One branch of a proof: its conditions (``(a, op)``: ``a op 0``), how it closed, and its query."""

    conditions: tuple                  # ((sympy expression, ">" | "=" | "<"), ...)
    step: str                          # "negation unsat", "infeasible case", or why it is open
    query: str = ""                    # SMT-LIB 2 text of the unsat query
    closed: bool = True
    leaf: bool = True                  # a leaf asserts the claim's negation; an infeasible branch does not

    @property
    def labels(self) -> tuple:
        return tuple(f"{sp.sstr(a)} {op} 0" for a, op in self.conditions)

    def to_json(self) -> dict:
        out = {"conditions": list(self.labels), "step": self.step}
        if self.query:
            out["query"] = self.query
        if not self.closed:
            out["closed"] = False
        return out


@dataclass
class Proof:
    """The outcome of :func:`decide`: ``status`` is one of :data:`STATUSES`; for ``refuted`` a ``model`` (and
    for ``undefined`` the state where the expression is undefined, ``undefined_at``)."""

    statement: str
    relation: str
    hypotheses: tuple
    reduction: str
    claim: Statement | None = None
    cases: list = field(default_factory=list)
    obligations: list = field(default_factory=list)     # [(what, query)]: the domain, each query unsat
    status: str = "open"
    model: dict | None = None
    undefined_at: dict | None = None
    reason: str = ""
    witness: dict | None = None                          # a state satisfying the hypotheses (exact), by name
    witness_point: dict | None = field(default=None, repr=False)    # the same, by symbol
    bound_claim: str | None = None                       # the registered claim it was decided for
    seconds: float = 0.0
    rederive: Callable | None = field(default=None, repr=False)   # () -> (expr, relation, hypotheses)
    _point: dict = field(default_factory=dict, repr=False)

    @property
    def proved(self) -> bool:
        return self.status == "proved"

    def proofs(self):
        yield self

    def recheck(self, solver: str = "z3", claim: str | None = None) -> bool:
        """Replay the proof (or a proof of vacuity) as a certificate, trusting none of the code that found it: the
        statement re-derived (``rederive``) equals the one proved, and (``claim``) it was decided for that claim;
        every query is rebuilt from the statement and the case conditions and equals the stored one; the branches
        cover every state; the hypotheses hold at the witness (exactly); every query is unsat in ``solver``."""
        if self.status not in ("proved", "vacuous") or self.claim is None:
            return False
        try:
            with _long_integers():
                return self._replays(solver, claim)
        except Exception:            # a malformed certificate fails, it never crashes the caller
            return False

    def _replays(self, solver, claim) -> bool:
        if claim is not None and self.bound_claim != claim:
            return False
        if self.rederive is not None and _statement(*self.rederive()).key != self.claim.key:
            return False
        enc = Encoding(self.claim)
        if self.status == "vacuous":          # one query: the hypotheses have no model
            return [q for _, q in self.obligations] == [enc.vacuity_query()] and \
                replay(enc.vacuity_query(), solver) == "unsat"
        if [q for _, q in self.obligations] != [q for _, q in enc.obligation_queries()]:
            return False
        if not _covers([c.conditions for c in self.cases]):
            return False
        if any(not c.closed or c.query != enc.case_query(c.conditions, c.leaf) for c in self.cases):
            return False
        if self.witness_point is None or not _satisfies(self.claim.hypotheses, self.witness_point):
            return False
        queries = [q for _, q in self.obligations] + [c.query for c in self.cases]
        return all(replay(q, solver) == "unsat" for q in queries)

    def smtlib(self) -> list:
        """``[(label, query)]``: every query of the proof, each unsat when the proof stands."""
        out = [(f"domain: {what}", q) for what, q in self.obligations]
        return out + [(" and ".join(c.labels) or "no split", c.query) for c in self.cases if c.query]

    def certify(self) -> bool:
        """For a refutation: re-check the counterexample exactly (hypotheses hold, the relation fails)."""
        if self.status != "refuted" or not self._point or self.claim is None:
            return False
        return violates(self.claim.expr, self.relation, self.claim.hypotheses, self._point)

    def margin(self):
        """For a refutation: the decided expression's exact value at the counterexample (the claim needs it
        ``<= 0``, or ``== 0``), a sympy number; None otherwise."""
        if self.status != "refuted" or not self._point or self.claim is None:
            return None
        return sp.simplify(sp.sympify(self.claim.expr).xreplace(self._point))

    def explain(self):
        """For a refutation: what the margin is made of at the counterexample, as JSON-ready strings (None
        otherwise): ``terms``, each additive term of the decided expression with its exact value (they add up to
        :meth:`margin`); ``mask_values``, each mask or gate of the expression (Piecewise, Heaviside, sign, Max,
        Min) with its exact value there; ``failing_term``, one sentence naming the term that breaks the relation.
        Never raises: a malformed proof gives None or the parts that could be computed."""
        if self.status != "refuted" or not self._point or self.claim is None:
            return None
        try:
            with _long_integers():
                return _explain(sp.sympify(self.claim.expr), self.relation, self._point) or None
        except Exception:            # an explanation is a courtesy: it never breaks the report of a refutation
            return None

    def to_json(self) -> dict:
        out = {"statement": self.statement, "relation": self.relation, "hypotheses": list(self.hypotheses),
               "reduction": self.reduction, "status": self.status,
               "domain": [{"obligation": what, "query": q} for what, q in self.obligations],
               "cases": [c.to_json() for c in self.cases], "model": self.model, "seconds": round(self.seconds, 3)}
        for key in ("undefined_at", "witness", "bound_claim"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.reason:
            out["reason"] = self.reason
        return out

    def text(self) -> str:
        """The proof as a person reads it: the statement, the reduction, then one line per case."""
        lines = [f"claim: {self.statement}  [{self.relation}]"]
        if self.claim is not None:
            with _long_integers():
                lines.append(f"decided: {_short(self.claim.text(), 300)}")
        lines += [f"hypotheses: {', '.join(self.hypotheses) or 'none'}", f"reduction: {self.reduction}",
                 f"status: {self.status} ({len(self.cases)} cases, {len(self.obligations)} domain obligations, "
                 f"{self.seconds:.2f} s)" + (f": {self.reason}" if self.reason else "")]
        for what, _ in self.obligations:
            lines.append(f"  domain: {what}: unsat where the hypotheses hold")
        for k, c in enumerate(self.cases, 1):
            lines.append(f"  case {k}: {' and '.join(c.labels) or '(no split)'}: {c.step}")
        if self.model:
            lines.append("counterexample: " + ", ".join(f"{k} = {v}" for k, v in self.model.items()))
        if self.undefined_at:
            lines.append("undefined at: " + ", ".join(f"{k} = {v}" for k, v in self.undefined_at.items()))
        return "\n".join(lines)


@dataclass
class Bundle:
    """Several proofs that together establish one verdict (a claim's parts), each under a label."""

    parts: list                        # [(label, Proof | Bundle)]

    @property
    def proved(self) -> bool:
        return all(p.proved for _, p in self.parts)

    def proofs(self):
        for _, p in self.parts:
            yield from p.proofs()

    def recheck(self, solver: str = "z3", claim: str | None = None) -> bool:
        return bool(self.parts) and all(p.recheck(solver, claim) for _, p in self.parts)

    def smtlib(self) -> list:
        return [(f"{label} / {name}", q) for label, p in self.parts for name, q in p.smtlib()]

    @property
    def seconds(self) -> float:
        return sum(p.seconds for _, p in self.parts)

    @property
    def model(self):
        """The counterexample of the first refuted part (None when no part is refuted)."""
        return next((p.model for _, p in self.parts if p.status == "refuted"), None)

    def certify(self) -> bool:
        return any(p.certify() for _, p in self.parts if p.status == "refuted")

    def margin(self):
        """The margin of the first refuted part (None when no part is refuted)."""
        return next((p.margin() for _, p in self.parts if p.status == "refuted"), None)

    def explain(self):
        """The explanation (:meth:`Proof.explain`) of the first refuted part (None when no part is refuted)."""
        return next((p.explain() for _, p in self.parts if p.status == "refuted"), None)

    @property
    def relation(self) -> str | None:
        """The relation of the first refuted part (None when no part is refuted)."""
        return next((p.relation for _, p in self.parts if p.status == "refuted"), None)

    @property
    def reduction(self) -> str:
        return "; ".join(f"{label}: {p.reduction}" for label, p in self.parts)

    @property
    def reason(self) -> str:
        """Why the bundle is not proved: the first part's reason that says one."""
        return next((f"{label}: {p.reason}" for label, p in self.parts if p.reason), "")

    @property
    def status(self) -> str:
        statuses = [p.status for _, p in self.parts]
        for s in ("refuted", "undefined", "open"):
            if s in statuses:
                return s
        return "proved" if statuses and all(s == "proved" for s in statuses) else "vacuous" if statuses else "open"

    def to_json(self) -> dict:
        return {"parts": [{"label": label, **p.to_json()} for label, p in self.parts]}

    def text(self) -> str:
        return "\n\n".join(f"[{label}]\n{p.text()}" for label, p in self.parts)


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


# ----------------------------------------------------------------------------- explaining a refutation

MASK_HEADS = (sp.Piecewise, sp.Heaviside, sp.sign, sp.Max, sp.Min)
TERM_TEXT = 120                      # a term longer than this is abbreviated in the sentence (kept whole in "terms")


def _explain(expr, relation: str, point: dict) -> dict:
    """:meth:`Proof.explain` of ``expr`` (decided for ``relation``) at ``point``; each part that fails to compute
    is left out."""
    out = {}
    terms = values = None
    try:
        point = {k: sp.Rational(x) if isinstance(x, str) else sp.sympify(x) for k, x in point.items()}
        terms = _terms(expr)
        values = [_value_at(t, point) for t in terms]
        out["terms"] = [{"term": sp.sstr(t), "value": str(v)} for t, v in zip(terms, values)]
    except Exception:
        terms = None
    try:
        masks = []
        for a in sp.preorder_traversal(expr):
            if isinstance(a, MASK_HEADS) and a.free_symbols and a not in masks:
                masks.append(a)
        out["mask_values"] = [{"mask": sp.sstr(m), "value": str(_value_at(m, point))} for m in masks]
    except Exception:
        pass
    if terms is not None:
        try:
            sentence = _failing_sentence(terms, values, relation, _value_at(expr, point))
            if sentence:
                out["failing_term"] = sentence
        except Exception:
            pass
    return out


def _terms(expr) -> list:
    """The top-level additive terms of ``expr`` in the order sympy prints them; a single product is multiplied
    out one level (its factors' sums distributed, no powers expanded) to show its parts."""
    if not isinstance(expr, sp.Add):
        spread = sp.expand_mul(expr, deep=False) if isinstance(expr, sp.Mul) else expr
        if not isinstance(spread, sp.Add):
            return [expr]
        expr = spread
    return list(expr.as_ordered_terms())


def _value_at(e, point):
    """``e``'s exact value at ``point``, simplified as :meth:`Proof.margin` simplifies it."""
    v = sp.sympify(e).xreplace(point)
    return v if v.is_Rational else sp.simplify(v)


def _ordered(v):
    return v if v.is_Rational else sp.N(v, 50)


def _term_text(term) -> str:
    """A term for the sentence: its masks written ``Piecewise(...)`` (and so on) when it is long, then cut in the
    middle if still long."""
    text = sp.sstr(term)
    if len(text) <= TERM_TEXT:
        return text
    outer = [a for a in sp.preorder_traversal(term) if isinstance(a, MASK_HEADS)]
    short = term.xreplace({a: sp.Symbol(f"{type(a).__name__}(...)") for a in reversed(outer)})
    text = sp.sstr(short)
    if len(text) <= TERM_TEXT:
        return text
    return text[:TERM_TEXT - 30] + " ... " + text[-25:]


def _failing_sentence(terms, values, relation, margin) -> str | None:
    """One sentence naming the term that breaks ``relation`` (``<= 0``, ``< 0`` or ``== 0``) at the point."""
    m = exact_sign(margin)
    signs = [exact_sign(v) for v in values]
    if m is None:
        return None
    if relation == "== 0":
        if m == 0:
            return None
        cand = [k for k, s in enumerate(signs) if s]
        key = lambda j: abs(_ordered(values[j]))
        what = "is nonzero" if len(terms) == 1 else "is the largest in absolute value"
        broken = f"{margin} != 0"
    else:
        if m < 0 or (m == 0 and relation != "< 0"):
            return None
        cand = [k for k, s in enumerate(signs) if s == 1]
        key = lambda j: _ordered(values[j])
        what = "is positive"
        broken = f"{margin} > 0" if m > 0 else f"{margin}, not < 0"
        if not cand and all(s == 0 for s in signs):
            return f"every term is 0 here, so the margin is {broken}"
    if not cand:
        return None
    if len(terms) == 1:
        return f"the single term {_term_text(terms[0])} = {values[0]} {what}, so the margin is {broken}"
    k = max(cand, key=key)
    rest = sp.simplify(sp.Add(*[v for j, v in enumerate(values) if j != k]))
    return (f"the term {_term_text(terms[k])} = {values[k]} {what} and the other terms add up to {rest}, so the "
            f"margin is {broken}")


def _covers(conditions: list) -> bool:
    """The branches' condition sequences form a complete split: at every node, the branches below it all split
    on one expression ``a``, into exactly ``a > 0``, ``a = 0`` and ``a < 0``; no branch is another's prefix."""
    if not conditions:
        return False

    def node(paths):
        if any(len(p) == 0 for p in paths):
            return len(paths) == 1
        atoms = {sp.srepr(p[0][0]) for p in paths}
        ops = {p[0][1] for p in paths}
        if len(atoms) != 1 or ops != {">", "=", "<"}:
            return False
        return all(node([p[1:] for p in paths if p[0][1] == op]) for op in (">", "=", "<"))

    return node([tuple(c) for c in conditions])


def _satisfies(hypotheses, point) -> bool:
    """Exactly: every symbol's assumptions and every hypothesis hold at ``point`` (symbols absent from it are
    not constrained by any hypothesis)."""
    point = {k: sp.Rational(v) if isinstance(v, str) else v for k, v in point.items()}
    if any(not _assumptions_hold(s, v) for s, v in point.items()):
        return False
    return all(_truth(h.xreplace(point)) is True for h in hypotheses)


def _truth(rel):
    """True or False for a relation between exact constants; None when undecided or undefined."""
    try:
        v = sp.simplify(rel) if not isinstance(rel, (bool, sp.logic.boolalg.BooleanAtom)) else rel
    except (TypeError, ValueError, RecursionError):
        return None
    if v is sp.true or v is True:
        return True
    if v is sp.false or v is False:
        return False
    return None


def exact_sign(value):
    """The sign of an exact real constant (-1, 0, 1), or None (undefined, not real, or not decided)."""
    if isinstance(value, (int, Fraction)):
        return (value > 0) - (value < 0)
    try:
        v = sp.simplify(value)
    except (TypeError, ValueError, RecursionError):
        v = value
    if v.has(sp.nan, sp.zoo, sp.oo, -sp.oo) or v.free_symbols or v.is_real is False:
        return None
    if v.is_zero:
        return 0
    if v.is_positive:
        return 1
    if v.is_negative:
        return -1
    for prec in (50, 200, 1000):                  # a nonzero algebraic constant shows its sign at some precision
        try:
            n = v.evalf(prec, strict=True)
        except Exception:
            continue
        if n.is_real and n != 0:
            return 1 if n > 0 else -1
    return None


def violates(expr, relation, hypotheses, point) -> bool:
    """Exact check that ``point`` satisfies the hypotheses and the symbols' assumptions but violates the
    relation (sympy, no floats; an undefined or undecidable value is no violation)."""
    if not _satisfies([sp.sympify(h) for h in hypotheses], point):
        return False
    try:
        value = sp.sympify(expr).xreplace(point)
    except (TypeError, ValueError):
        return False
    s = exact_sign(value)
    if s is None:
        return False
    return s != 0 if relation == "== 0" else s > 0


# ----------------------------------------------------------------------------- case splitting (the guide)

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
    if isinstance(atom, (sp.Max, sp.Min)):
        x, y = sorted(atom.args, key=sp.default_sort_key)[:2]
        return [sp.expand(x - y)]
    return [sp.expand(a) for a in atom.args[:1] if not a.is_number]


def _innermost_argument(expr):
    """An argument of a sign-reading function that contains no sign-reading function itself."""
    for atom in _sign_atoms(expr):
        for arg in _split_arguments(atom):
            if arg.is_number or not arg.free_symbols:
                continue
            if not _sign_atoms(arg):
                return arg
    return None


def _ratio_sign(arg, a, sgn):
    """The sign of ``arg`` when ``arg`` is a constant multiple of ``a`` and ``sign(a) = sgn``; else None."""
    if arg.is_number:
        s = exact_sign(arg)
        return s
    ratio = sp.cancel(arg / a)
    if ratio.is_number and ratio != 0:
        s = exact_sign(ratio)
        return None if s is None else s * sgn
    return None


def _evaluate(expr, a, sgn):
    """Evaluate every sign-reading function whose argument is a multiple of ``a``, given ``sign(a) = sgn`` (a
    guide only: every query states the claim itself)."""
    def value(atom):
        if isinstance(atom, sp.Piecewise):
            subs = {}
            for r in _relationals(atom):
                k = _ratio_sign(sp.expand(r.lhs - r.rhs), a, sgn)
                if k is not None:
                    subs[r] = r.func(sp.Integer(k), 0)
            return atom.xreplace(subs) if subs else None
        if isinstance(atom, (sp.Max, sp.Min)):
            args = sorted(atom.args, key=sp.default_sort_key)
            x, y = args[0], args[1]
            k = _ratio_sign(sp.expand(x - y), a, sgn)
            if k is None:
                return None
            keep = x if (k >= 0) == isinstance(atom, sp.Max) else y
            return atom.func(keep, *args[2:])
        arg = atom.args[0]
        k = None if arg.is_number else _ratio_sign(sp.expand(arg), a, sgn)
        if k is None:
            return None
        if isinstance(atom, sp.sign):
            return sp.Integer(k)
        if isinstance(atom, sp.Abs):
            return arg * k
        if isinstance(atom, sp.Heaviside):
            if k == 0:
                return atom.args[1] if len(atom.args) > 1 else sp.Rational(1, 2)
            return sp.Integer(1 if k > 0 else 0)
        return None

    for _ in range(10_000):
        for atom in _sign_atoms(expr):
            v = value(atom)
            if v is not None and v != atom:
                expr = expr.xreplace({atom: v})
                break
        else:
            return expr
    return expr


def _lift(expr, enc: Encoding):
    """``expr`` with every root and constant replaced by the encoding's variable for it (for the guide)."""
    def go(e):
        if isinstance(e, sp.Pow) and e.exp.is_Rational and e.exp.q != 1:
            sym = enc.internal.get(("root", *enc.frac(e.base, [], ()), int(e.exp.q)))
            if sym is not None:
                return sym ** int(e.exp.p)
        if e.is_number and not e.is_Rational and not isinstance(e, (sp.Float,)) and not e.free_symbols:
            sym = enc.internal.get(("const", sp.srepr(e)))
            if sym is not None:
                return sym
        if e.args and not isinstance(e, (sp.Symbol, sp.Number)):
            return e.func(*[go(a) for a in e.args])
        return e
    return go(expr)


# ----------------------------------------------------------------------------- the decision

def decide(expr, relation: str, hypotheses: Sequence = (), statement: str = "", reduction: str = "none",
           originals: Sequence = ()) -> Proof:
    """Decide ``expr == 0`` or ``expr <= 0`` (``relation``) for all real values of its symbols that satisfy
    ``hypotheses`` (sympy relations) and the symbols' sign assumptions: a :class:`Proof` whose status is
    ``proved``, ``refuted`` (an exactly re-checked model), ``vacuous``, ``undefined`` or ``open``, never an
    exception for a statement it cannot read. ``originals``: the variables a counterexample is reported in
    (default: every symbol of the statement)."""
    t0 = time.perf_counter()
    claim = _statement(expr, relation, hypotheses)
    relation = claim.relation
    with _long_integers():
        proof = Proof(statement or claim.text(), relation, tuple(sp.sstr(h) for h in claim.hypotheses), reduction,
                      claim=claim, bound_claim=_CLAIM.get())
    try:
        with _long_integers():
            _decide(claim, proof, originals)
    except Unsupported as err:
        proof.status, proof.reason = "open", f"not in the engine's language: {err}"
        proof.cases = []
    except RecursionError:
        proof.status, proof.reason = "open", "the expression is nested too deeply for the engine"
    except Exception as err:         # never a crash on a caller's input: the claim stays open, with the reason
        proof.status, proof.reason = "open", f"the engine failed on this input ({type(err).__name__}: {err})"
    proof.seconds = time.perf_counter() - t0
    return proof


def _decide(claim: Statement, proof: Proof, originals):
    enc = Encoding(claim)
    display = _display_names(enc)
    point_of = lambda model: _point(model, enc, claim, originals)

    result, model = _check(enc.vacuity_query())
    if result == "unsat":
        proof.status, proof.reason = "vacuous", "no state satisfies the hypotheses"
        proof.obligations = [("the hypotheses are unsatisfiable", enc.vacuity_query())]
        return
    w = _witness(enc, claim, point_of(model)) if result == "sat" else None
    if w is not None:
        proof.witness_point, proof.witness = w, {display[s]: str(v) for s, v in w.items()}
    for what, q in enc.obligation_queries():
        result, model = _check(q)
        if result == "unsat":
            proof.obligations.append((what, q))
            continue
        proof.status = "undefined" if result == "sat" else "open"
        proof.reason = f"the expression may be undefined: {what} fails" + ("" if result == "sat" else f" ({result})")
        if result == "sat":
            w = point_of(model)
            proof.undefined_at = {display[s]: str(v) for s, v in w.items()}
        return

    reading = [enc_h for enc_h in claim.hypotheses if _sign_atoms(enc_h)]
    body = sp.Tuple(_lift(claim.expr, enc), *[_lift(h, enc) for h in reading])
    outcome = _split(body, (), enc, proof, point_of, display)
    proof.status = {"closed": "proved", "refuted": "refuted", "open": "open"}[outcome]
    if proof.status == "proved" and proof.witness is None:
        proof.status, proof.reason = "open", "no state satisfying the hypotheses was found (vacuity undecided)"


def _witness(enc: Encoding, claim: Statement, point: dict):
    """A state satisfying the hypotheses exactly, from a model of them: as it is, with its integer symbols
    rounded up, or from a model in which those symbols are declared integers; None when none is found."""
    ints = [s for s in point if s.is_integer]
    tries = [point, {s: (sp.ceiling(v) if s in ints else v) for s, v in point.items()}]
    if ints:
        text = enc.vacuity_query().replace("(set-logic QF_NRA)\n", "")
        for s in ints:
            text = text.replace(f"(declare-fun {enc.names[s]} () Real)", f"(declare-fun {enc.names[s]} () Int)")
        result, model = _check(text)
        if result == "sat":
            tries.append(_point(model, enc, claim, ()))
    return next((w for w in tries if _satisfies(claim.hypotheses, w)), None)


def _split(e, conds, enc, proof, point_of, display):
    a = _innermost_argument(e)
    if a is None:
        q = enc.case_query(conds, leaf=True)
        result, model = _check(q)
        if result == "unsat":
            proof.cases.append(Case(conds, "negation unsat", q))
            return "closed"
        if result == "sat":
            point = point_of(model)
            if violates(proof.claim.expr, proof.relation, proof.claim.hypotheses, point):
                proof._point = point
                proof.model = {display[s]: str(v) for s, v in point.items()}
                proof.cases.append(Case(conds, "negation satisfiable: counterexample", closed=False))
                return "refuted"
        proof.cases.append(Case(conds, f"open: z3 answered {result}" + (" (a model that did not survive the exact "
                                                                        "re-check)" if result == "sat" else ""),
                                closed=False))
        return "open"
    outcome = "closed"
    for op, sgn in ((">", 1), ("=", 0), ("<", -1)):
        branch = conds + ((a, op),)
        q = enc.case_query(branch, leaf=False)
        result, _ = _check(q)
        if result == "unsat":
            proof.cases.append(Case(branch, "infeasible case", q, leaf=False))
            continue
        sub = _evaluate(e, a, sgn)
        r = _split(sp.Tuple(*[sp.expand(x) if not _sign_atoms(x) and not isinstance(x, sp.logic.boolalg.Boolean)
                              else x for x in sub.args]), branch, enc, proof, point_of, display)
        if r == "refuted":
            return r
        if r == "open":
            outcome = "open"
    return outcome


def _display_names(enc: Encoding) -> dict:
    """A name per user symbol for reports: its own name, or its solver name where two symbols share a name."""
    users = [s for s in enc.names if s not in enc.definitions]
    counts: dict = {}
    for s in users:
        counts[s.name] = counts.get(s.name, 0) + 1
    return {s: (s.name if counts[s.name] == 1 else enc.names[s].strip("|")) for s in users}


def _point(model, enc: Encoding, claim: Statement, originals) -> dict:
    """A z3 model at the statement's own symbols (exact rationals; a symbol the model leaves free gets a value
    its assumptions allow)."""
    symbols = [s for s in enc.names if s not in enc.definitions]
    for s in originals:
        if s not in symbols:
            symbols.append(s)
    point = {}
    for sym in symbols:
        name = enc.names.get(sym, "").strip("|")
        value = model.get(name) if model else None
        if value is None:
            point[sym] = sp.Integer(1) if sym.is_positive or sym.is_nonnegative else (
                sp.Integer(-1) if sym.is_negative or sym.is_nonpositive else sp.Integer(0))
        else:
            point[sym] = _rational(value)
    return point
