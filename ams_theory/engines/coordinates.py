r"""Claims "for every dimension d", proved from one dimension-generic trace of the claim's own build.

A build is a function ``build(ops, vector, ...)`` that makes its vectors with ``vector(name, **assumptions)`` and
computes the claim's expression with the back end ``ops`` only. It runs twice, unchanged:

- generically, with :data:`GENERIC` (:class:`GenericOps`): a vector is one *template*, "coordinate i of a vector of
  any dimension d", in per-coordinate symbols (:func:`coordinate_symbol`); ``total`` and ``dot`` give the unevaluated
  atom :class:`CoordSum` (``sum_i template(x_i)``), ``numel`` the dimension symbol :data:`D`. Any Python-level access
  to coordinates (iteration, ``len``, indexing, mixing in a numpy array) raises :class:`GenericAccessError`, so a
  build that reduces by hand is never traced as if it had one coordinate: its result is open, with the reason;
- concretely, with :class:`~ams_theory.core.ops.SympyOps` at a dimension d (symbols ``name0 .. name{d-1}``), for
  counterexamples, which are instances of the claim re-checked exactly by the proof engine.

Reduction rules (each proved or checked here, never sampled):

1. *Separability* (:func:`separate`): the traced expression must expand to ``c0 + sum_j c_j CoordSum(f_j)`` with every
   ``c`` free of the per-coordinate symbols, of ``d`` and of ``CoordSum``, and no ``CoordSum`` or ``d`` inside a
   template. Then ``E_d = c0 + sum_i e(x_i)`` with ``e = sum_j c_j f_j`` exactly, for every d. ``e <= 0`` and
   ``c0 <= 0`` prove ``E_d <= 0`` (``== 0``: both ``== 0``). Anything else is open, naming the atom or coefficient.
2. *Max parts*: ``max{a_1, ..., a_k} <= 0`` iff every ``a_j <= 0``; the parts are read from the generic trace.
3. *Multipliers* (:func:`with_multiplier`): with hypotheses ``H_k >= 0`` that separate too (``h0 + sum_i h(x_i)``),
   ``lambda >= 0`` (proved), ``e + lambda h <= 0`` per coordinate and ``c0 + lambda h0 <= 0`` give
   ``E <= -lambda H <= 0``.
4. *Worst-case loss* (:func:`worst_case`): the loss's value at each point the claim queries is a fresh symbol V_k
   (its value at the base point is ``f0``; the gradient is known there only). Per max part, for each V_k the engine
   proves the part nondecreasing in V_k (then V_k is replaced by the class's upper bound) or nonincreasing (its lower
   bound); otherwise the part is open. Replacing each V_k by a bound in the direction that can only increase the part
   gives a part that is at least the original for every loss of the class, so proving it proves the claim. A model of
   the reduced part is only a candidate: it is a counterexample only when one loss of the class attains every
   substituted bound at once, and then it is rebuilt on that loss at a concrete d and re-checked exactly.

Every :class:`~ams_theory.engines.proofs.Proof` returned carries ``rederive``: a zero-argument callable that re-runs
the trace and decomposition from the build and returns ``(expr, relation, hypotheses)`` as passed to ``decide``.
"""
from __future__ import annotations

from typing import Callable, Sequence

import itertools

import numpy as np
import sympy as sp

from ams_theory.core.ops import SympyOps
from ams_theory.engines import proofs

__all__ = ["CoordSum", "GenericAccessError", "NotSeparable", "GenericVector", "GenericBlocks", "GenericOps",
           "GENERIC", "D", "coordinate_symbol", "generic_vector", "concrete_vectors", "separate", "max_parts",
           "per_coordinate", "with_multiplier", "worst_case", "LOSS_CLASSES", "ExtremalLoss", "generic_rates",
           "chain_rule"]


class GenericAccessError(TypeError):
    """A build read the coordinates of a dimension-generic vector outside the ops (iteration, len, indexing)."""


class NotSeparable(ValueError):
    """The traced expression is not a sum of one term per coordinate (the message says which atom or coefficient)."""


class CoordSum(sp.Function):
    r"""``CoordSum(t)``: the real number ``sum_{i=1}^{d} t(x_i)``, for a template ``t`` in per-coordinate symbols."""

    nargs = 1
    is_real = True

    @classmethod
    def eval(cls, arg):
        if arg == 0:
            return sp.Integer(0)
        return None

    def _eval_is_real(self):
        return True


D = sp.Dummy("d__dim", integer=True, positive=True)       # the dimension of a generic trace
_COORDINATE_SYMBOLS: dict = {}


def coordinate_symbol(name: str, **assumptions) -> sp.Symbol:
    """The per-coordinate symbol of the generic vector ``vector(name, **assumptions)`` (one object per name and
    assumptions): hypotheses on it hold for every coordinate."""
    key = (name, tuple(sorted(assumptions.items())))
    if key not in _COORDINATE_SYMBOLS:
        _COORDINATE_SYMBOLS[key] = sp.Symbol(f"{name}_i", **assumptions)
    return _COORDINATE_SYMBOLS[key]


def _coordinate_set():
    return set(_COORDINATE_SYMBOLS.values())


# ----------------------------------------------------------------------------- generic vectors

def _deny(what):
    def method(self, *args, **kwargs):
        raise GenericAccessError(f"{what} of a dimension-generic vector: coordinates may be read through the ops only "
                                 "(a reduction by hand would be traced as if d were fixed)")
    return method


class _NoCoordinates:
    """Every Python-level way to read coordinates raises :class:`GenericAccessError`."""

    __slots__ = ()
    __array_ufunc__ = None          # numpy defers to us (and we refuse arrays)
    __iter__ = _deny("iteration")
    __len__ = _deny("len()")
    __getitem__ = _deny("indexing")
    __setitem__ = _deny("item assignment")
    __contains__ = _deny("membership")
    __array__ = _deny("conversion to an array")
    __bool__ = _deny("truth value")
    ravel = _deny("ravel()")
    tolist = _deny("tolist()")


def _scalar(x):
    if isinstance(x, (GenericVector, GenericBlocks)):
        return x
    if isinstance(x, np.ndarray):
        raise GenericAccessError("a concrete array mixed into a dimension-generic computation")
    if isinstance(x, bool):
        return sp.Integer(int(x))
    if isinstance(x, float):
        return sp.Rational(x)
    if isinstance(x, int):
        return sp.Integer(x)
    return sp.sympify(x)


class GenericVector(_NoCoordinates):
    """Coordinate i of a vector of any dimension: one sympy template in per-coordinate symbols. Elementwise
    arithmetic with per-instance scalars (free of the coordinates) and other generic vectors; no access to
    coordinates."""

    __slots__ = ("t",)

    def __init__(self, t):
        self.t = sp.sympify(t)

    def _bin(self, other, f):
        o = _scalar(other)
        if isinstance(o, GenericBlocks):
            raise GenericAccessError("a stacked state used as one vector")
        return GenericVector(f(self.t, o.t if isinstance(o, GenericVector) else o))

    def __add__(self, o): return self._bin(o, lambda a, b: a + b)
    def __radd__(self, o): return self._bin(o, lambda a, b: b + a)
    def __sub__(self, o): return self._bin(o, lambda a, b: a - b)
    def __rsub__(self, o): return self._bin(o, lambda a, b: b - a)
    def __mul__(self, o): return self._bin(o, lambda a, b: a * b)
    def __rmul__(self, o): return self._bin(o, lambda a, b: b * a)
    def __truediv__(self, o): return self._bin(o, lambda a, b: a / b)
    def __rtruediv__(self, o): return self._bin(o, lambda a, b: b / a)
    def __pow__(self, o): return self._bin(o, lambda a, b: a ** b)
    def __neg__(self): return GenericVector(-self.t)
    def __pos__(self): return self

    def copy(self):
        return self

    def __repr__(self):
        return f"GenericVector({self.t})"


class GenericBlocks(_NoCoordinates):
    """A stacked generic state ``[m, v]`` (several vectors of the same dimension), split by :meth:`GenericOps.split`."""

    __slots__ = ("blocks",)

    def __init__(self, blocks):
        self.blocks = tuple(blocks)

    def copy(self):
        return self

    def __neg__(self):
        return GenericBlocks([-b for b in self.blocks])


class GenericOps(SympyOps):
    """:class:`SympyOps` on dimension-generic vectors: the same elementwise semantics applied to the template;
    ``total``/``dot`` give :class:`CoordSum`, ``numel`` the dimension symbol :data:`D`."""

    name = "sympy-generic"

    def _map(self, f, x):
        if isinstance(x, GenericVector):
            return GenericVector(f(x.t))
        if isinstance(x, GenericBlocks):
            raise GenericAccessError("an elementwise operation on a stacked state")
        raise GenericAccessError(f"a vector operation on {type(x).__name__} in a dimension-generic trace")

    def sign(self, x): return self._map(lambda e: sp.sign(self._canon(e)), x)
    def unit_sign(self, x): return self._map(lambda e: sp.Piecewise((1, self._canon(e) >= 0), (-1, True)), x)
    def abs(self, x): return self._map(lambda e: sp.Abs(self._canon(e)), x)
    def sqrt(self, x): return self._map(sp.sqrt, x)
    def relu(self, x): return self._map(lambda e: sp.Max(self._canon(e), 0), x)
    def sign_(self, x): return self.sign(x)
    def relu_(self, x): return self.relu(x)
    def copy(self, x): return x

    def indicator_(self, x, strict):
        canon = self._canon
        return self._map((lambda e: sp.Piecewise((1, canon(e) > 0), (0, True))) if strict else
                         (lambda e: sp.Piecewise((1, canon(e) >= 0), (0, True))), x)

    def total(self, x):
        if not isinstance(x, GenericVector):
            raise GenericAccessError(f"a scope sum of {type(x).__name__} in a dimension-generic trace")
        return CoordSum(x.t)

    def dot(self, x, y):
        return self.total(x * y)

    def numel(self, x):
        if not isinstance(x, GenericVector):
            raise GenericAccessError("numel of a non-vector in a dimension-generic trace")
        return D

    @staticmethod
    def split(s, blocks):
        if isinstance(s, GenericBlocks) and len(s.blocks) == blocks:
            return list(s.blocks)
        raise GenericAccessError(f"a generic state split into {blocks} blocks")

    @staticmethod
    def cat(parts):
        return GenericBlocks(parts)


GENERIC = GenericOps()
SYM = SympyOps()


def generic_vector(name: str, **assumptions) -> GenericVector:
    """The generic vector whose coordinate i is :func:`coordinate_symbol` ``(name, **assumptions)``."""
    return GenericVector(coordinate_symbol(name, **assumptions or {"real": True}))


class concrete_vectors:
    """``vector(name, **assumptions)`` for a concrete dimension d: symbols ``name0 .. name{d-1}`` (SympyOps arrays);
    remembers, for each template symbol, its d concrete symbols (to state per-coordinate hypotheses at d)."""

    def __init__(self, d: int):
        self.d = d
        self.coords: dict = {}          # template symbol -> [symbol of coordinate 0, ...]

    def __call__(self, name: str, **assumptions):
        assumptions = assumptions or {"real": True}
        syms = [sp.Symbol(f"{name}{i}", **assumptions) for i in range(self.d)]
        self.coords[coordinate_symbol(name, **assumptions)] = syms
        return SympyOps.asarray(syms)

    def instantiate(self, hypotheses):
        """Hypotheses in template symbols as the d concrete copies (one per coordinate); shared ones unchanged."""
        out = []
        for h in hypotheses:
            h = sp.sympify(h)
            mine = [s for s in h.free_symbols if s in self.coords]
            if not mine:
                out.append(h)
                continue
            for i in range(self.d):
                out.append(h.xreplace({s: self.coords[s][i] for s in mine}))
        return out


# ----------------------------------------------------------------------------- separability

def _coordinate_free(expr):
    """Why ``expr`` is not a per-instance scalar (None when it is: free of the coordinates, d and CoordSum)."""
    expr = sp.sympify(expr)
    if expr.has(CoordSum):
        return "contains a sum over coordinates"
    if D in expr.free_symbols:
        return "reads the dimension d"
    bad = expr.free_symbols & _coordinate_set()
    if bad:
        return f"reads coordinate symbols {sorted(map(str, bad))} outside a sum over coordinates"
    return None


def separate(expr):
    r"""``expr`` as ``(c0, e)`` with ``expr = c0 + sum_i e(x_i)`` for every d (exactly); raises
    :class:`NotSeparable` naming the offending atom or coefficient."""
    expr = sp.expand(sp.sympify(expr))
    c0, e = [], []
    for term in sp.Add.make_args(expr):
        if not term.has(CoordSum):
            why = _coordinate_free(term)
            if why:
                raise NotSeparable(f"the term {sp.sstr(term)} {why}")
            c0.append(term)
            continue
        factors = sp.Mul.make_args(term)
        sums = [f for f in factors if isinstance(f, CoordSum)]
        rest = [f for f in factors if not isinstance(f, CoordSum)]
        if len(sums) != 1:
            raise NotSeparable(f"the term {sp.sstr(term)} is not one sum over coordinates times a coefficient "
                               "(a product or function of sums couples the coordinates)")
        coeff = sp.Mul(*rest)
        why = _coordinate_free(coeff)
        if why:
            raise NotSeparable(f"the coefficient {sp.sstr(coeff)} of {sp.sstr(sums[0])} {why}")
        t = sums[0].args[0]
        if t.has(CoordSum):
            raise NotSeparable(f"the per-coordinate term {sp.sstr(t)} reads a sum over coordinates (it couples them)")
        if D in t.free_symbols:
            raise NotSeparable(f"the per-coordinate term {sp.sstr(t)} reads the dimension d")
        e.append(coeff * t)
    return sp.Add(*c0), sp.Add(*e)


def max_parts(expr):
    """``c max{a_1, ..., a_k} + b`` (c > 0, or c < 0 with a min) as ``[c a_1 + b, ..., c a_k + b]`` (the terms whose
    maximum the expression is; one term when there is no top-level max)."""
    expr = sp.sympify(expr)
    if isinstance(expr, sp.Max):
        return [a for arg in expr.args for a in max_parts(arg)]
    if isinstance(expr, sp.Mul):
        c, rest = expr.as_coeff_Mul()
        if c.is_number and c != 1 and ((c > 0 and isinstance(rest, sp.Max)) or (c < 0 and isinstance(rest, sp.Min))):
            return [a for arg in rest.args for a in max_parts(c * arg)]
    if isinstance(expr, sp.Add):
        tops = [a for a in expr.args if len(max_parts(a)) > 1]
        if len(tops) == 1:
            rest = expr - tops[0]
            return [a + rest for a in max_parts(tops[0])]
    return [expr]


# ----------------------------------------------------------------------------- results

def _text(x):
    return sp.sstr(x)


def _open(statement, relation, hypotheses, reduction, why):
    p = proofs.Proof(statement, relation, tuple(_text(h) for h in hypotheses), reduction)
    p.cases.append(proofs.Case((), f"open: {why}", closed=False))
    p.status = "open"
    return p


def _decide(query: Callable, statement, reduction):
    """``decide`` on ``query()`` = ``(expr, relation, hypotheses)``; the proof keeps ``rederive = query``."""
    expr, relation, hyps = query()
    p = proofs.decide(expr, relation, hyps, statement, reduction)
    p.rederive = query
    return p


def _status(result):
    return result.status


def _hyp_split(hypotheses):
    """(shared hypotheses, per-coordinate hypotheses) by whether they read a coordinate symbol."""
    coords = _coordinate_set()
    shared = [sp.sympify(h) for h in hypotheses if not (sp.sympify(h).free_symbols & coords)]
    per = [sp.sympify(h) for h in hypotheses if sp.sympify(h).free_symbols & coords]
    return shared, per


class _Traced:
    """A generic trace, or why there is none."""

    def __init__(self, run):
        self.error = None
        try:
            self.value = run()
        except (GenericAccessError, NotSeparable, TypeError, AttributeError) as err:
            # GenericAccessError (a TypeError) is the expected one; a build that breaks otherwise on generic vectors
            # (an attribute they do not have) is not traced either
            self.value, self.error = None, f"{type(err).__name__}: {err}"


SEPARABLE_TEXT = ("traced for a generic dimension d: the expression is c0 + sum_i e(x_i) exactly (no coefficient "
                  "reads a coordinate or d, no coordinate term reads another coordinate), so it holds for every d "
                  "when e {rel} per coordinate and c0 {rel}")


def _close_part(part_query: Callable, relation, hypotheses, statement, reduction_prefix=""):
    """Prove one separable part ``c0 + sum_i e(x_i) {relation}``: a proof (or Bundle) of ``e`` and ``c0``. Returns
    ``(result, None)`` or ``(None, why open)`` when the part does not separate."""
    shared, per = _hyp_split(hypotheses)
    try:
        c0, e = separate(part_query())
    except NotSeparable as err:
        return None, str(err)
    rel = relation.replace(" 0", "")
    reduction = reduction_prefix + SEPARABLE_TEXT.format(rel=relation)

    def q_e():
        return separate(part_query())[1], relation, shared + per

    def q_c0():
        return separate(part_query())[0], relation, shared

    pe = _decide(q_e, f"{statement} [per coordinate: e {rel} 0]", reduction)
    if c0 == 0:
        return pe, None
    pc = _decide(q_c0, f"{statement} [shared term: c0 {rel} 0]", reduction)
    return proofs.Bundle([("per coordinate term e", pe), ("shared term c0", pc)]), None


def _concrete_refutation(concrete_query: Callable, statement, reduction):
    """Decide the claim at a concrete dimension (an instance of it): kept only when it is refuted (its model is
    re-checked exactly by ``decide``)."""
    try:
        p = _decide(concrete_query, statement, reduction)
    except GenericAccessError:
        return None
    return p if p.status == "refuted" else None


# ----------------------------------------------------------------------------- per_coordinate

def per_coordinate(build: Callable, relation: str, hypotheses: Sequence = (), statement: str = "",
                   concrete_d: int = 1):
    r"""Prove ``E_d == 0`` / ``E_d <= 0`` for every dimension d, from one generic trace of ``build(ops, vector)``
    (see the module docstring). ``hypotheses`` may read shared symbols, and per-coordinate symbols
    (:func:`coordinate_symbol`: then they hold at every coordinate). A top-level max of ``<= 0`` is proved part by
    part (parts of the generic trace). A part that does not close is refuted only by an instance: the claim built
    concretely at ``d = concrete_d`` and refuted there exactly; otherwise it is open with the reason."""
    if relation not in proofs.RELATIONS:
        raise ValueError(f"unknown relation {relation!r}")
    traced = _Traced(lambda: build(GENERIC, generic_vector))
    if traced.error:
        return _open(statement, relation, hypotheses, "no generic trace", traced.error)
    parts = max_parts(traced.value) if relation == "<= 0" else [traced.value]

    def part_query(k):
        def q():
            e = build(GENERIC, generic_vector)
            return max_parts(e)[k] if relation == "<= 0" else e
        return q

    results, refuted = [], None
    for k in range(len(parts)):
        label = statement if len(parts) == 1 else f"{statement} [part {k + 1} of {len(parts)} of a max]"
        prefix = "" if len(parts) == 1 else f"part {k + 1} of a max (max <= 0 iff every part <= 0); "
        res, why = _close_part(part_query(k), relation, hypotheses, label, prefix)
        if res is None:
            res = _open(label, relation, hypotheses, f"{prefix}not separable over coordinates: {why}",
                        "the reduction to one coordinate does not apply")
        if not res.proved and refuted is None:
            refuted = _refute_concrete(build, relation, hypotheses, statement, concrete_d)
            if refuted is not None:
                return refuted
        results.append((label, res))
    return results[0][1] if len(results) == 1 else proofs.Bundle(
        [(f"part {k + 1} of {len(results)} (max)", r) for k, (_, r) in enumerate(results)])


def _refute_concrete(build, relation, hypotheses, statement, d, extra_hyps=None):
    def q():
        vec = concrete_vectors(d)
        out = build(SYM, vec)
        expr, hyps = (out[0], list(out[1])) if extra_hyps else (out, [])
        return expr, relation, vec.instantiate(hypotheses) + [h >= 0 for h in hyps]
    return _concrete_refutation(q, f"{statement} at d = {d}", f"an instance of the claim: built at d = {d} and "
                                                                  "decided there (counterexample re-checked exactly)")


# ----------------------------------------------------------------------------- with_multiplier

def _hyp_list(h):
    return [sp.sympify(x) for x in h] if isinstance(h, (list, tuple)) else [sp.sympify(h)]


def _candidates(multipliers, n):
    """``(hypothesis indices, weights, label)`` to try: each of the ``n`` hypotheses with each number of
    ``multipliers``, then each tuple of ``n`` weights with all of them at once (a weighted sum)."""
    numbers = [lam for lam in multipliers if not isinstance(lam, tuple)]
    for k in range(n):
        for lam in numbers:
            yield (k,), (sp.sympify(lam),), f"hypothesis {k + 1} of {n}, lambda = {lam}"
    for lam in multipliers:
        if isinstance(lam, tuple) and len(lam) == n:
            yield tuple(range(n)), tuple(sp.sympify(x) for x in lam), f"weights {', '.join(map(str, lam))}"


def _multiplier_parts(trace: Callable, multipliers, hypotheses, statement):
    """Close every max part of the conclusion of ``trace() -> (E, [H_k])`` by a multiplier: a number ``lambda`` with
    one hypothesis, or a tuple of weights ``lambda_k`` with all of them (``E + sum_k lambda_k H_k <= 0``), each proved
    ``>= 0`` under the shared hypotheses (weights may read hyperparameters); returns ``(Bundle or None, detail)``."""
    E, H = trace()
    parts, hyps = max_parts(E), _hyp_list(H)
    shared, _ = _hyp_split(hypotheses)
    closed, detail = [], ""
    for j in range(len(parts)):
        done = None
        for ks, lams, which in _candidates(multipliers, len(hyps)):
            nonneg = [(f"lambda = {lam} >= 0", _decide(lambda lam=lam: (-lam, "<= 0", shared), f"lambda = {lam} >= 0",
                                                       "none")) for lam in lams]
            if not all(p.proved for _, p in nonneg):
                continue

            def q(j=j, ks=ks, lams=lams):
                E2, H2 = trace()
                return max_parts(E2)[j] + sp.Add(*[lam * _hyp_list(H2)[k] for k, lam in zip(ks, lams)])
            label = f"{statement} [conclusion part {j + 1} of {len(parts)}, {which}]: E + sum lambda_k H_k <= 0"
            res, why = _close_part(q, "<= 0", hypotheses, label,
                                   f"multipliers lambda_k >= 0 with hypotheses H_k >= 0 (sums over coordinates), "
                                   f"{which}: E <= E + sum lambda_k H_k; ")
            if res is None:
                detail = f"conclusion part {j + 1} with {which} not separable: {why}"
                continue
            if res.proved:
                done = (f"conclusion part {j + 1} of {len(parts)} (max), {which}",
                        proofs.Bundle(nonneg + [("E + sum lambda_k H_k <= 0 for every d", res)]))
                break
            detail = f"conclusion part {j + 1}: last attempt {res.status}"
        if done is None:
            return None, detail or f"conclusion part {j + 1} of {len(parts)} closed with no hypothesis and multiplier"
        closed.append(done)
    return proofs.Bundle(closed), ""


def with_multiplier(build: Callable, multipliers: Sequence, hypotheses: Sequence = (), statement: str = "",
                    sufficient: bool = False, concrete_d: int = 1):
    r"""Prove ``E_d <= 0`` for every d under hypotheses ``H_k >= 0`` that are sums over coordinates (step bounds
    ``num - eta den >= 0``), by a multiplier ``lambda >= 0``: ``build(ops, vector) -> (E, H or [H_1, ...])``, both
    traced generically. Each max part of ``E`` is paired with the first hypothesis and multiplier that closes it
    (``multipliers``: numbers, each tried with each hypothesis, or tuples of one weight per hypothesis).
    If none closes, the claim at ``d = concrete_d`` (an instance, hypotheses included) is decided: a refutation
    there is a counterexample, unless ``sufficient`` (E only bounds the claim's quantity from above, so a model of
    it refutes nothing; the proof stays open)."""
    traced = _Traced(lambda: build(GENERIC, generic_vector))
    if traced.error:
        return _open(statement, "<= 0", hypotheses, "no generic trace", traced.error)
    try:
        closed, detail = _multiplier_parts(lambda: build(GENERIC, generic_vector), multipliers, hypotheses, statement)
    except (GenericAccessError, NotSeparable) as err:
        closed, detail = None, str(err)
    if closed is not None:
        return closed
    at = "a sufficient bound: no instance decided (a model of it would refute nothing)"
    if not sufficient:
        refuted = _refute_concrete(build, "<= 0", hypotheses, statement, concrete_d, extra_hyps=True)
        if refuted is not None:
            refuted.reduction = f"no multiplier closed the bound; the claim at d = {concrete_d} (an instance) is refuted"
            return refuted
        at = f"not refuted at d = {concrete_d}"
    return _open(statement, "<= 0", hypotheses,
                 f"no multiplier among {[str(m) for m in multipliers]} closed the bound ({detail}); {at}",
                 "no multiplier closes the bound")


# ----------------------------------------------------------------------------- the worst-case-loss reduction

LOSS_CLASSES = ("smooth", "convex")
BOUND_TEXT = {
    "upper": "the L-smooth upper bound f0 + <g, dw> + (L/2)|dw|^2",
    "lower": "the L-smooth lower bound f0 + <g, dw> - (L/2)|dw|^2",
    "convex": "the convex lower bound f0 + <g, dw>",
}
ATTAINED_BY = {"upper": "the quadratic f0 + <g, x - w> + (L/2)|x - w|^2",
               "lower": "the concave quadratic f0 + <g, x - w> - (L/2)|x - w|^2",
               "convex": "the linear loss f0 + <g, x - w>"}
_CURVATURE = {"upper": 1, "lower": -1, "convex": 0}


def _same_point(a, b):
    if isinstance(a, GenericVector) and isinstance(b, GenericVector):
        return sp.expand(a.t - b.t) == 0
    if isinstance(a, GenericVector) or isinstance(b, GenericVector):
        raise GenericAccessError("a generic point compared with a concrete one")
    return all(sp.expand(x - y) == 0 for x, y in zip(a, b))


class _ValueLoss:
    """The generic loss of :func:`worst_case`: known at the base point ``w0`` (value ``f0``, gradient ``g``); its value
    at any other point queried is the next symbol of ``values`` (one per distinct point), the point recorded."""

    def __init__(self, w0, g, L, f0, values, convex):
        self.w0, self.g, self.L, self.f0, self.values, self.convex = w0, g, L, f0, values, convex
        self.points: list = []          # [(point, symbol)]

    def value(self, w):
        if _same_point(w, self.w0):
            return self.f0
        for p, v in self.points:
            if _same_point(w, p):
                return v
        if len(self.points) >= len(self.values):
            raise GenericAccessError("more loss values queried than the reduction provides")
        v = self.values[len(self.points)]
        self.points.append((w, v))
        return v

    def grad(self, w):
        if not _same_point(w, self.w0):
            raise GenericAccessError("the gradient away from the base point (the reduction knows it at w only)")
        return self.g


class ExtremalLoss:
    """``f0 + <g, x - w0> + c (L/2)|x - w0|^2`` with c = 1 (``upper``), -1 (``lower``) or 0 (``convex``): the loss of
    the class that attains the bound at every point at once (exact, SympyOps or GenericOps)."""

    def __init__(self, ops, w0, g, L, f0, kind):
        self.ops, self.w0, self.g, self.L, self.f0, self.kind = ops, w0, g, L, f0, kind
        self.convex = kind != "lower"

    def value(self, w):
        dw = w - self.w0
        return (self.f0 + self.ops.dot(self.g, dw)
                + _CURVATURE[self.kind] * self.L * self.ops.dot(dw, dw) / 2)

    def grad(self, w):
        return self.g + _CURVATURE[self.kind] * self.L * (w - self.w0)


def _upper_lower(loss_class):
    return "upper", ("convex" if loss_class == "convex" else "lower")


# ----------------------------------------------------------------------------- per-vector gates

MAX_GATES = 3          # at most this many per-vector gates are split into cases (2 cases each, or fewer)


def _gate_quantity(cond):
    """The one sum over coordinates whose sign a per-vector gate's condition reads (``sign(S) > 0``, ``S >= 0``,
    ...), or None when the condition reads a coordinate outside its sums or more than one quantity."""
    sums = {a.args[0] for a in cond.atoms(sp.sign) if a.args[0].has(CoordSum)}
    sums |= {side for r in cond.atoms(sp.core.relational.Relational) for side in (r.lhs - r.rhs,)
             if side.has(CoordSum) and not side.has(sp.sign)}
    if len(sums) != 1:
        return None
    S = sums.pop()
    outside = cond.xreplace({S: sp.Dummy()}).free_symbols & _coordinate_set()
    return None if outside or S.free_symbols & _coordinate_set() - _sum_symbols(S) else S


def _sum_symbols(S):
    return set().union(*(a.free_symbols for a in S.atoms(CoordSum)))


def _truth(cond, S, sigma):
    """The truth of ``cond`` where sign(S) = ``sigma`` (S itself read as ``sigma``: only its sign matters)."""
    value = cond.xreplace({sp.sign(S): sigma}).xreplace({S: sigma})
    return bool(value) if value in (sp.true, sp.false) else None


def _gates(expr):
    """The per-vector gates of a traced expression: Piecewise atoms whose every condition reads the sign of one sum
    over coordinates (e.g. the inner-product mask 1(<u, g> >= 0)), as ``[(atom, S, [(value, signs), ...])]`` with
    ``signs`` the signs of S for which the piece is taken (pieces in order: the first whose condition holds)."""
    out = []
    for pw in sorted(sp.sympify(expr).atoms(sp.Piecewise), key=sp.default_sort_key):
        quantities = {_gate_quantity(c) for _, c in pw.args if c not in (sp.true, sp.false)}
        if len(quantities) != 1 or None in quantities:
            continue
        S = quantities.pop()
        left, pieces = {-1, 0, 1}, []
        for value, cond in pw.args:
            taken = {x for x in left if (cond == sp.true or _truth(cond, S, x))}
            if any(_truth(cond, S, x) is None for x in left) and cond != sp.true:
                break
            if taken:
                pieces.append((value, frozenset(taken)))
            left -= taken
        else:
            if not left and not any(v.has(CoordSum) and v.has(*_coordinate_set()) for v, _ in pieces):
                out.append((pw, S, pieces))
    return out


def _sign_hypotheses(S, signs):
    """The closed relaxation of ``sign(S) in signs`` as hypotheses ``H >= 0``: S >= 0 for {0, 1} or {1}, -S >= 0
    for {-1, 0} or {-1}, both for {0}; none for every sign; None when no closed relaxation is exact enough ({-1, 1})."""
    if signs == {-1, 0, 1}:
        return []
    out = ([S] if signs <= {0, 1} else []) + ([-S] if signs <= {-1, 0} else [])
    return out or None


def _gate_cases(build):
    """``[(label, {atom: value}, [H >= 0])]``: the cases of the per-vector gates of ``build``'s generic trace
    (:func:`_gates`), every combination of their pieces, each with the relaxed conditions it is taken under; None
    when the trace has no gate (or too many, or one whose cases do not relax to closed conditions)."""
    def trace():
        made = []

        def loss(w0, g):
            made.append(_ValueLoss(w0, g, sp.Symbol("L", positive=True), sp.Symbol("f0", real=True),
                                   [sp.Dummy(real=True) for _ in range(8)], False))
            return made[-1]
        out = build(GENERIC, generic_vector, loss)
        E, H = out if isinstance(out, tuple) else (out, [])
        points = [p.t for lossobj in made for p, _ in lossobj.points]
        return [sp.sympify(E)] + _hyp_list(H) + [sp.sympify(p) for p in points]
    traced = _Traced(trace)
    if traced.error:
        return None
    gates = {}
    for e in traced.value:
        for pw, S, pieces in _gates(e):
            gates[pw] = (S, pieces)
    if not gates or len(gates) > MAX_GATES:
        return None
    cases = []
    for combo in itertools.product(*[[(pw, S, v, signs) for v, signs in pieces] for pw, (S, pieces) in gates.items()]):
        hyps = [_sign_hypotheses(S, set(signs)) for _, S, _, signs in combo]
        if any(h is None for h in hyps):
            return None
        label = "; ".join(f"sign({_text(S)}) in {sorted(signs)}: gate = {_text(v)}" for _, S, v, signs in combo)
        cases.append((label, {pw: v for pw, _, v, _ in combo}, [h for hs in hyps for h in hs]))
    return cases


def _gate_case_build(build, values, extra):
    """``build`` in one gate case: every gate replaced by its value in the traced expressions and in the points
    whose loss values are read, and the case's conditions added as hypotheses ``H >= 0``. Generic only: a case is
    never decided at a concrete d (its refutation would need the case's condition met exactly)."""
    def case(ops, vector, loss):
        if ops is not GENERIC:
            raise GenericAccessError("a gate case is proved for every d, not decided at a concrete d")

        def loss_in_case(w0, g):
            inner = loss(w0, g)
            value = inner.value
            inner.value = lambda w: value(GenericVector(sp.sympify(w.t).xreplace(values)))
            return inner
        out = build(ops, vector, loss_in_case)
        E, H = out if isinstance(out, tuple) else (out, [])
        return sp.sympify(E).xreplace(values), [h.xreplace(values) for h in _hyp_list(H)] + list(extra)
    return case


def _by_gate_cases(build, cases, loss_class, statement, hypotheses, multipliers, **kw):
    """The claim proved case by case over its per-vector gates (:func:`_gate_cases`): a Bundle of the cases when
    every case is proved (each by :func:`worst_case`, its conditions closed by a multiplier), else open (a case is
    never refuted: its conditions are relaxed to closed ones)."""
    parts = []
    for label, values, extra in cases:
        proof = worst_case(_gate_case_build(build, values, extra), loss_class, f"{statement} [{label}]", hypotheses,
                           multipliers, gates=False, **kw)
        parts.append((f"case {label}", proof))
        if not proof.proved:
            return _open(statement, "<= 0", hypotheses, f"per-vector gate split into {len(cases)} cases",
                         f"the case {label} is not proved ({proof.status})")
    return proofs.Bundle(parts)


def worst_case(build: Callable, loss_class: str, statement: str = "", hypotheses: Sequence = (),
               multipliers: Sequence | None = None, L=None, f0=None, max_values: int = 8, concrete_d: int = 1,
               gates: Sequence | bool = False):
    r"""Prove ``E <= 0`` for every dimension and every loss of ``loss_class`` (``"smooth"``: L-smooth;
    ``"convex"``: convex and L-smooth), where ``build(ops, vector, loss)`` returns ``E`` (or ``(E, [H_k])`` with
    ``multipliers``: step-bound hypotheses ``H_k >= 0``) and ``loss(w0, g)`` makes the loss known at ``w0`` by its
    value ``f0`` and gradient ``g`` (``L`` the smoothness constant, positive).

    The engine reads the loss's values at the other points as symbols and decides by itself, per max part, which
    bound replaces each (module docstring, rule 4); the caller never names a side. A part it cannot reduce is open,
    with the reason. A part is refuted only on the one loss of the class that attains all its substituted bounds,
    rebuilt at ``d = concrete_d`` and re-checked exactly.

    ``gates``: candidate multipliers for the conditions of per-vector gates (a mask that reads the sign of a sum over
    coordinates, e.g. 1(<u, g> >= 0)): a claim whose trace holds such a gate is proved case by case
    (:func:`_by_gate_cases`), each case's condition a hypothesis closed by one of them; when a case stays open the
    claim is reduced whole as without gates. False: no split."""
    if loss_class not in LOSS_CLASSES:
        raise ValueError(f"unknown loss class {loss_class!r} (expected one of {LOSS_CLASSES})")
    cases = _gate_cases(build) if gates is not False else None
    if cases:
        candidates = list(multipliers or []) + [m for m in gates if m not in list(multipliers or [])]
        split = _by_gate_cases(build, cases, loss_class, statement, hypotheses, candidates, L=L, f0=f0,
                               max_values=max_values, concrete_d=concrete_d)
        if split.proved:
            return split                # else the claim is reduced whole below (where it may be refuted)
    L = sp.Symbol("L", positive=True) if L is None else L
    f0 = sp.Symbol("f0", real=True) if f0 is None else f0
    values = [sp.Dummy(f"value__{k + 1}", real=True) for k in range(max_values)]
    shift = sp.Dummy("t__shift", nonnegative=True)
    sum_symbols: dict = {}
    up, low = _upper_lower(loss_class)
    shared, _ = _hyp_split(hypotheses)

    def trace():
        made = []

        def loss(w0, g):
            made.append(_ValueLoss(w0, g, L, f0, values, loss_class == "convex"))
            return made[-1]
        out = build(GENERIC, generic_vector, loss)
        if len(made) != 1:
            raise GenericAccessError(f"the build made {len(made)} losses (one expected)")
        E, H = (out, []) if multipliers is None else (out[0], _hyp_list(out[1]))
        if any(h.has(*values) for h in H):
            raise GenericAccessError("a hypothesis reads a loss value away from the base point")
        return E, H, made[0]

    traced = _Traced(trace)
    if traced.error:
        return _open(statement, "<= 0", hypotheses, "no generic trace", traced.error)
    E, H, loss = traced.value
    parts = max_parts(E)

    def monotone_query(k, v, direction):
        def q():
            part = max_parts(trace()[0])[k]
            atoms = sorted(part.atoms(CoordSum), key=sp.default_sort_key)
            for a in atoms:
                if a not in sum_symbols:
                    sum_symbols[a] = sp.Dummy(f"sum__{len(sum_symbols) + 1}", real=True)
            free = part.xreplace({a: sum_symbols[a] for a in atoms})
            moved = free.xreplace({v: v + shift})
            # nondecreasing: part(V) - part(V + t) <= 0; nonincreasing: part(V + t) - part(V) <= 0
            return (free - moved if direction == "up" else moved - free), "<= 0", shared
        return q

    def bound_of(kind, lossobj, point):
        dw = point - lossobj.w0
        return (f0 + GENERIC.dot(lossobj.g, dw) + _CURVATURE[kind] * L * GENERIC.dot(dw, dw) / 2)

    def reduced(k, choice):
        """Part k with each value replaced by its chosen bound (``choice``: symbol -> kind), re-traced."""
        def q():
            E2, H2, loss2 = trace()
            subs = {v: bound_of(choice[v], loss2, p) for p, v in loss2.points if v in choice}
            return max_parts(E2)[k].xreplace(subs), H2
        return q

    out_parts = []
    for k, part in enumerate(parts):
        label = statement if len(parts) == 1 else f"{statement} [part {k + 1} of {len(parts)} of a max]"
        used = [(p, v) for p, v in loss.points if part.has(v)]
        sub_proofs, choice, notes, why_open = [], {}, [], None
        for n, (p, v) in enumerate(used, 1):
            where = f"the loss value at w + ({_text(sp.expand(p.t - loss.w0.t))}) [value {n} of the part]"
            tried = []
            for direction, kind, words in (("up", up, "nondecreasing"), ("down", low, "nonincreasing")):
                proof = _decide(monotone_query(k, v, direction), f"{label}: {words} in {where}",
                                "sums over coordinates replaced by free reals (proves more)")
                tried.append(proof.status)
                if proof.proved:
                    choice[v] = kind
                    sub_proofs.append((f"{words} in {where}", proof))
                    notes.append(f"{where}: the part is proved {words} in it, so {BOUND_TEXT[kind]} replaces it")
                    break
            else:
                why_open = f"not monotone in {where} (neither direction proved: {'/'.join(tried)})"
                break
        if why_open:
            out_parts.append((label, _open(label, "<= 0", hypotheses, "worst-case loss: " + why_open, why_open)))
            continue
        kinds = set(choice.values())
        attained = kinds <= {"upper"} or len(kinds) == 1
        reduction = ("worst-case loss of the " + loss_class + " class: " + ("; ".join(notes) or "no loss value away "
                     "from w enters this part") + ". " + (f"All bounds are attained by {ATTAINED_BY[kinds.pop() if kinds else 'upper']} "
                                                          "at once, so the reduction loses nothing. " if attained else
                                                          "The bounds are not attained by one loss: a sufficient "
                                                          "reduction (a model of it refutes nothing). "))
        q = reduced(k, dict(choice))
        if multipliers is None:
            res, why = _close_part(lambda q=q: q()[0], "<= 0", hypotheses, label, reduction)
        else:
            try:
                res, why = _multiplier_parts(lambda q=q: q(), multipliers, hypotheses, label)
            except (GenericAccessError, NotSeparable) as err:
                res, why = None, str(err)
            if res is None and not why:
                why = "no multiplier closed"
            if res is not None:
                for _, sub in res.parts:
                    for _, pr in sub.parts:
                        _prefix(pr, reduction)
        if res is None or not res.proved:
            if attained:
                kind = next(iter(set(choice.values())), "upper")
                refuted = _refute_on_loss(build, kind, L, f0, hypotheses, multipliers, label, concrete_d, reduction)
                if refuted is not None:
                    out_parts.append((label, refuted))
                    return proofs.Bundle(sub_proofs + [(label + ": refuted on " + ATTAINED_BY[kind], refuted)])
            if res is not None and res.status == "refuted" and not attained:
                why = "the reduced claim fails, but its bounds are not attained by one loss, so its model refutes " \
                      "nothing"
                res = None
            if res is None:
                res = _open(label, "<= 0", hypotheses, reduction + f"open: {why}", why)
        out_parts.append((label, proofs.Bundle(sub_proofs + [(label + ": the reduced claim", res)])
                          if sub_proofs else res))
    if len(out_parts) == 1:
        return out_parts[0][1]
    return proofs.Bundle([(f"part {k + 1} of {len(out_parts)} (max)", r) for k, (_, r) in enumerate(out_parts)])


def _prefix(proof, text):
    try:
        proof.reduction = text + proof.reduction
    except AttributeError:
        pass


def _refute_on_loss(build, kind, L, f0, hypotheses, multipliers, statement, d, reduction):
    """The whole claim on the extremal loss of ``kind`` at dimension d, decided there (an instance of the claim)."""
    def q():
        vec = concrete_vectors(d)
        made = []

        def loss(w0, g):
            made.append(ExtremalLoss(SYM, w0, g, L, f0, kind))
            return made[-1]
        out = build(SYM, vec, loss)
        expr, hyps = (out, []) if multipliers is None else (out[0], _hyp_list(out[1]))
        return expr, "<= 0", vec.instantiate(hypotheses) + [h >= 0 for h in hyps]
    p = _concrete_refutation(q, f"{statement} on {ATTAINED_BY[kind]}, d = {d}",
                             reduction + f"refuted on {ATTAINED_BY[kind]} (a loss of the class) at d = {d}, the "
                             "claim's own margin re-checked exactly")
    return p


# ----------------------------------------------------------------------------- continuous-time rates

def generic_rates(system, problem, w, s):
    r"""``(dH/dt, dL/dt)`` of ``system`` on generic vectors ``w`` and ``s`` (a :class:`GenericVector`, or
    :class:`GenericBlocks` for a stacked state), by the chain rule through the sums over coordinates:
    ``d/dt CoordSum(t) = CoordSum(sum_x dt/dx x')`` over the coordinate's state symbols ``x``, and
    ``dH/dt = sum_C dH/dC dC/dt``. ``H`` must read the state only through sums over coordinates."""
    H = sp.sympify(system.H(GENERIC, problem, w, s))
    dw, ds = system.field(GENERIC, problem, w, s)
    state = [(w, dw)]
    if isinstance(s, GenericBlocks):
        if not isinstance(ds, GenericBlocks) or len(ds.blocks) != len(s.blocks):
            raise GenericAccessError("the field's state part does not match the stacked state")
        state += list(zip(s.blocks, ds.blocks))
    else:
        state.append((s, ds))
    pairs = []
    for x, dx in state:
        if not isinstance(x.t, sp.Symbol) or not isinstance(dx, GenericVector):
            raise GenericAccessError("a state that is not one symbol per coordinate")
        pairs.append((x.t, dx.t))
    return chain_rule(H, pairs), GENERIC.dot(problem.grad(w), dw)


def chain_rule(H, pairs):
    r"""``dH/dt`` for ``H`` a function of sums over coordinates, each coordinate's symbols ``x`` moving at ``x'``
    (``pairs``: ``[(x, x')]`` in the template's symbols): ``d/dt CoordSum(t) = CoordSum(sum_x dt/dx x')`` and
    ``dH/dt = sum_C dH/dC dC/dt``. ``H`` may read the state only through sums over coordinates."""
    H = sp.sympify(H)
    atoms = sorted(H.atoms(CoordSum), key=sp.default_sort_key)
    if any(a.args[0].has(CoordSum) for a in atoms):
        raise NotSeparable("H reads a sum over coordinates inside a sum over coordinates")
    marks = {a: sp.Dummy(f"C{j}") for j, a in enumerate(atoms)}
    Hm = H.xreplace(marks)
    why = _coordinate_free(Hm)
    if why:
        raise NotSeparable(f"H {why}")
    dH = sp.Integer(0)
    for a in atoms:
        t = a.args[0]
        rate = sp.Add(*[sp.diff(t, x) * dx for x, dx in pairs])
        dH += sp.diff(Hm, marks[a]).xreplace({m: c for c, m in marks.items()}) * CoordSum(rate)
    return dH
