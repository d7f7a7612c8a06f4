"""Sign-case machinery for exact (sympy) checks of the rule core.

An update rule of the AMS family is coordinate-wise except for its counts, so
its behaviour on a vector is fixed by the *sign case* of each coordinate (the
signs of the new first moment ``m``, hence of ``u = m / den``; of the gradient
``g``; of the reference ``s``) and by how many coordinates fall in each case.
This module builds symbolic inputs for a pattern of sign cases, runs rules of
:mod:`ams_theory.core.rules` on them with :class:`~ams_theory.core.ops.SympyOps`,
and compares results exactly.

Hyperparameters stay symbolic: ``beta_k = 1/(1+b_k)`` with ``b_k > 0`` (so
``beta_k`` ranges over (0, 1)), ``eps > 0``, ``lr > 0``, ``gamma >= 0``, step
count ``t >= 1``. The state before the step is chosen so that the *new*
moments are plain symbols with the case's sign: ``m_prev = M (1+b1) - b1 g``
gives ``m_new = M`` exactly, and likewise for ``s``.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

import sympy as sp

from ams_theory.core import rules
from ams_theory.core.ops import SympyOps
from ams_theory.engines import proofs

__all__ = ["LABELS", "Hyper", "hyper", "case_symbol", "patterns", "ams_inputs", "compare", "Comparison",
           "CLASS_COUNTS", "scale_for_counts", "concrete_values", "exact_number", "exact_nonzero"]

LABELS = ("+", "0", "-")
OPS = SympyOps()


@dataclass(frozen=True)
class Hyper:
    b1: sp.Symbol
    b2: sp.Symbol
    b3: sp.Symbol
    eps: sp.Symbol
    lr: sp.Symbol
    gamma: sp.Symbol
    t: sp.Symbol

    @property
    def beta1(self):
        return 1 / (1 + self.b1)

    @property
    def beta2(self):
        return 1 / (1 + self.b2)

    @property
    def beta3(self):
        return 1 / (1 + self.b3)


def hyper() -> Hyper:
    b1, b2, b3 = sp.symbols("b1 b2 b3", positive=True)
    return Hyper(b1, b2, b3, sp.Symbol("epsilon", positive=True), sp.Symbol("eta", positive=True),
                 sp.Symbol("gamma", nonnegative=True), sp.Symbol("t", positive=True, integer=True))


def case_symbol(label: str, name: str):
    """A symbol with the sign of ``label`` ('+', '0', '-'), or ``None`` for a free real symbol."""
    if label is None:
        return sp.Symbol(name, real=True)
    if label == "0":
        return sp.Integer(0)
    return sp.Symbol(name, positive=True) if label == "+" else sp.Symbol(name, negative=True)


def patterns(cases: Sequence[tuple], d: int) -> Iterable[tuple]:
    """Multisets of ``d`` per-coordinate cases. The rules are equivariant under
    permutations of coordinates (coordinate-wise maps and symmetric counts), so
    multisets cover every ordered pattern."""
    return itertools.combinations_with_replacement(cases, d)


def ams_inputs(pattern: Sequence[dict], h: Hyper, reference: str = "g"):
    """Symbolic ``(w, g, state)`` for one pattern.

    Each coordinate's case is a dict with keys among ``m`` (sign of the new
    first moment), ``g`` (sign of the gradient; absent: free real) and ``s``
    (sign of the new beta3-average, used when ``reference == "s"``). With
    ``reference == "m"`` the state has ``s_prev = m_prev`` (the invariant of
    beta3 = beta1 from zero initial state).
    """
    w, g, m, v, s = [], [], [], [], []
    for i, case in enumerate(pattern):
        gi = case_symbol(case.get("g"), f"g{i}")
        mi = case_symbol(case["m"], f"M{i}")
        w.append(sp.Symbol(f"w{i}", real=True))
        g.append(gi)
        m.append(mi * (1 + h.b1) - h.b1 * gi)
        v.append(sp.Symbol(f"V{i}", nonnegative=True))
        if reference == "s":
            si = case_symbol(case["s"], f"S{i}")
            s.append(si * (1 + h.b3) - h.b3 * gi)
    state = dict(m=OPS.asarray(m), v=OPS.asarray(v))
    if reference == "s":
        state["s"] = OPS.asarray(s)
    elif reference == "m":
        state["s"] = OPS.asarray(m)
    return OPS.asarray(w), OPS.asarray(g), state


@dataclass
class Comparison:
    """Two rules run on one pattern's symbolic inputs: their new parameters and ``left - right`` per coordinate
    (``sp.cancel``'s canonical form, so a zero difference is exactly 0)."""

    pattern: tuple
    inputs: tuple          # (w, g, state) used
    left: list
    right: list
    differences: list

    @property
    def equal(self) -> bool:
        return all(dd == 0 for dd in self.differences)


def compare(patterns_: Iterable[tuple], make_inputs: Callable, left: Callable, right: Callable
            ) -> Iterator[Comparison]:
    """Run ``left(w, g, state)`` and ``right(w, g, state)`` (each returning the new parameter vector) on every
    pattern's inputs ``make_inputs(pattern)``, one :class:`Comparison` per pattern."""
    for pat in patterns_:
        w, g, state = make_inputs(pat)
        a, b = list(left(w, g, state)), list(right(w, g, state))
        yield Comparison(pat, (w, g, state), a, b, [sp.cancel(x - y) for x, y in zip(a, b)])


CLASS_COUNTS = sp.symbols("n_a n_o n_z", integer=True, nonnegative=True)    # aligned, opposed, tied coordinates


def scale_for_counts(caution, n_phi: Callable, n_psi: Callable):
    """The step-size factor :func:`ams_theory.core.rules.mask_scale` of ``caution`` for symbolic class counts
    ``(n_a, n_o, n_z)`` = :data:`CLASS_COUNTS`, ``d = n_a + n_o + n_z >= 1``, with ``n_phi(n_a, n_o, n_z)`` and
    ``n_psi(...)`` coordinates in the rule's two classes; simplified (``None``, no rescaling, is 1)."""
    d = sum(CLASS_COUNTS)
    scale = rules.mask_scale(OPS, caution, d, n_phi(*CLASS_COUNTS), n_psi(*CLASS_COUNTS))
    if scale is None:
        return sp.Integer(1)
    if isinstance(scale, sp.Piecewise):                   # the d = 0 branch set aside
        scale = scale.subs(sp.Eq(d, 0), False)
    if isinstance(scale, sp.Piecewise):                   # what is left: the branch for d >= 1, last
        scale = sp.piecewise_fold(scale).args[-1][0]
    return sp.simplify(scale)


def concrete_values(exprs: Iterable, h: Hyper, extra: dict | None = None) -> dict:
    """Rational values for every free symbol of ``exprs``, respecting sign assumptions.

    Hyperparameters get the papers' defaults as exact rationals (beta1 = 9/10,
    beta2 = 999/1000, beta3 = 1/2, eps = 10^-8, lr = 10^-3, gamma = 0, t = 3);
    other positive symbols 1, 2, 3, ... in order of name, negative ones -1, -2, ...
    """
    base = {h.b1: sp.Rational(1, 9), h.b2: sp.Rational(1, 999), h.b3: sp.Integer(1), h.eps: sp.Rational(1, 10 ** 8),
            h.lr: sp.Rational(1, 1000), h.gamma: sp.Integer(0), h.t: sp.Integer(3)}
    base.update(extra or {})
    free = set()
    for e in exprs:
        free |= getattr(e, "free_symbols", set())
    k = 0
    for sym in sorted(free - set(base), key=lambda s: s.name):
        k += 1
        value = sp.Rational(k + 1, 2)
        base[sym] = -value if sym.is_negative else value
    return base


def exact_number(expr):
    """``expr`` as an exact number: each Float read as the decimal it prints (0.1 is 1/10), then simplified;
    nothing else is rounded (``nsimplify`` would replace a long rational by a nearby radical)."""
    expr = sp.sympify(expr)
    floats = expr.atoms(sp.Float)
    if floats:
        expr = expr.xreplace({f: sp.Rational(repr(float(f))) for f in floats})
    return sp.simplify(expr)


def exact_nonzero(expr) -> bool:
    """Whether an exact expression (rationals and radicals, no free symbols) is nonzero (False when its sign cannot
    be decided)."""
    if sp.sympify(expr).free_symbols:
        raise ValueError(f"not a closed exact number: {expr}")
    return proofs.exact_sign(exact_number(expr)) not in (0, None)
