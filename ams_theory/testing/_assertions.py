"""Assertions of :mod:`ams_theory.testing`: a property is judged in float64 and a violation is re-checked in exact
rational arithmetic (sympy) before it fails the test.

Every bound, step and rate is the project's own: the bounds of Lemmas D.1/D.2 and Thm. 2.3 are those of
:mod:`ams_theory.claims.bounds` (the checks state their claims with them), the steps come from the rule core
(:mod:`ams_theory.core.rules`), the rates of the continuous systems from :mod:`ams_theory.engines.dynamics` and
:func:`ams_theory.claims.flows.nonpositive`, the
exact re-check of a one-step claim is :func:`ams_theory.engines.descent.certify`, the audit
:func:`ams_theory.audit.conform.conform`.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import sympy as sp
import torch

from ams_theory.claims import bounds
from ams_theory.claims.flows import nonpositive
from ams_theory.core import rules
from ams_theory.core.masks import caution_mask, check_mask, mask_name
from ams_theory.core.cautions import CAUTIOUS_GE, GRAMS_MASK
from ams_theory.core.ops import SympyOps, TorchOps
from ams_theory.engines import descent, smooth
from ams_theory.engines.margins import ABS, F, G, Lc, Margin, masked_step, sq, within
from ams_theory.engines import dynamics as dyn
from ams_theory.engines.symbolic import exact_number
from ams_theory.testing._budget import CONFORM_STEPS, current_budget

__all__ = ["PropertyViolation", "assert_one_step_descent", "assert_masked_not_worse", "assert_hamiltonian_descent",
           "assert_mask_conditions", "assert_conforms", "cautious_system", "step_bound", "DESCENT_PARTS",
           "MASK_CONDITIONS"]

F64 = torch.float64
T1 = TorchOps(batch_dims=1)
SYM = SympyOps()


class PropertyViolation(AssertionError):
    """A property failed. ``exact``: whether the counterexample was re-checked in exact rational arithmetic (then
    ``margin`` is a positive sympy number); ``certificate``: the instance and the margin, as strings."""

    def __init__(self, title: str, claim: str, rows: list, exact: bool, margin, certificate: dict):
        self.title, self.claim, self.exact, self.margin, self.certificate = title, claim, exact, margin, certificate
        super().__init__(self._text(rows))

    def _text(self, rows) -> str:
        head = [self.title, f"  claim     {self.claim}"]
        body = [f"  {k:<9} {v}" for k, v in rows]
        if self.exact:
            verdict = (f"  verdict   FAILS IN EXACT ARITHMETIC: margin = {_short(self.margin)} "
                       f"(~{float(self.margin):.6g}) > 0, re-checked in sympy Rationals at the float64 data above")
        else:
            verdict = (f"  verdict   FAILS IN FLOAT64: margin = {self.margin:.6g} > tolerance; not re-checked "
                       f"exactly ({self.certificate.get('why_not_exact', 'no exact form')})")
        return "\n".join(head + body + [verdict])


def _short(x, limit=60) -> str:
    text = str(x)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def _tolerance(scale: float) -> float:
    return 1e-9 * (1 + abs(scale))


# ----------------------------------------------------------------------------- inputs

def _row(x, name: str, d: int | None = None) -> torch.Tensor:
    t = x.detach().to(F64).cpu() if torch.is_tensor(x) else torch.as_tensor(np.asarray(x, dtype=float), dtype=F64)
    if t.ndim == 1:
        t = t.unsqueeze(0)
    if t.ndim != 2 or t.shape[0] != 1 or (d is not None and t.shape[1] != d):
        want = f"{d} entries" if d is not None else "d entries"
        raise ValueError(f"{name}: expected a vector of {want} (or shape (1, d)), got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name}: non-finite entries {t.tolist()[0]}")
    return t.clone()


def _problem(problem):
    if not isinstance(problem, smooth.Problem):
        raise ValueError(f"problem: expected an ams_theory.engines.smooth.Problem, got {type(problem).__name__}")
    if problem.batch != 1:
        raise ValueError(f"problem: expected one instance (batch 1), got a batch of {problem.batch}; "
                         f"use problem.select(i)")
    return problem


def _eta(eta, name="eta") -> torch.Tensor:
    try:
        value = float(eta)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number, got {eta!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name}: must be finite and >= 0, got {eta!r}")
    return torch.tensor([[value]], dtype=F64)


def _mask(mask, default=None):
    if mask is None:
        mask = default
    if isinstance(mask, rules.Caution):
        return caution_mask(mask)
    return check_mask(mask)


def _vec_text(t) -> str:
    return "[" + ", ".join(f"{float(x):.17g}" for x in t.reshape(-1)) + "]"


def _judge_one_step(title, claim, margin, problem, w, u, eta_t, rows):
    """Float64 margin of a one-step claim; a violation is re-checked by :func:`ams_theory.engines.descent.certify`
    (exact rationals, L proved) and fails only if the exact margin is positive. Returns the float margin, or
    ``None`` when the hypothesis does not hold."""
    with torch.no_grad():
        result = margin(T1, problem, w, u, eta_t, {})
    m, app = float(result.value.reshape(-1)[0]), bool(result.applicable.reshape(-1)[0])
    scale = float(torch.as_tensor(result.scale).reshape(-1)[0])
    if not app:
        return None
    if math.isfinite(m) and m <= _tolerance(scale):
        return m
    base_rows = [("problem", f"{problem.family}, d = {problem.d}, L = {float(problem.L[0]):.17g}"),
                 ("w", _vec_text(w)), ("u", _vec_text(u)), ("eta", f"{float(eta_t):.17g}")] + rows
    if not math.isfinite(m):
        raise PropertyViolation(title, claim, base_rows + [("float64", f"margin {m} (non-finite)")], False, m,
                                {"why_not_exact": "the float64 margin is not finite"})
    if problem.family not in smooth.QUADRATIC_FAMILIES:
        raise PropertyViolation(title, claim, base_rows, False, m,
                                {"why_not_exact": f"{problem.family} has no exact rational form; draw quadratic "
                                                  f"families (exact=True) for certified counterexamples"})
    claim_ = descent.MarginClaim(margin, None, (), ())
    cert = descent.certify(claim_, descent.Draw(problem, w, u, eta_t, {}), 0)
    if cert is None or not cert["applicable"] or not bool(sp.sympify(cert["margin"]) > 0):
        return m                                   # a float rounding artefact: the exact margin is not positive
    exact_rows = [("problem", f"{cert['family']}, d = {problem.d}: f(w) = w'Aw/2 + b'w + c, A = {_short(cert['A'], 200)}, "
                              f"b = {_short(cert['b'], 200)}, c = {_short(cert['c'])}, L = {_short(cert['L'])} "
                              f"(proved: LI -+ A PSD)"),
                  ("w", _vec_text(w)), ("u", _vec_text(u)), ("eta", f"{float(eta_t):.17g}")] + rows + [
                  ("float64", f"margin {m:.6g}")]
    raise PropertyViolation(title, claim, exact_rows, True, sp.sympify(cert["margin"]), cert)


# ----------------------------------------------------------------------------- (a) one-step descent, D.1 / D.2

_FORMS = {
    "D.1": dict(default=CAUTIOUS_GE, bound=bounds.d1_step_bound, lemma="Lemma D.1 (AMS/Grams paper)",
                P="P = <u o g, 1(u o g >= 0)>"),
    "D.2": dict(default=GRAMS_MASK, bound=bounds.d2_step_bound, lemma="Lemma D.2 (AMS/Grams paper)",
                P="P = <|g|, |u|>"),
}
DESCENT_PARTS = {
    "upper": "dL <= -eta P + L eta^2 |u|^2 / 2  (Part 1, descent_upper)",
    "lower": "dL >= -eta P - (L/2)|dw|^2  (Part 2 for any L-smooth loss, smooth_lower; D.2: |dw| = eta |u|)",
    "convex_lower": "dL >= -eta P  (Part 2 as stated, first_order_lower; asserted on convex problems only)",
    "descent": "eta <= 2P/(L |u|^2)  =>  dL <= 0  (Part 3; d1_step_bound / d2_step_bound)",
}


def _descent_margin(form, part, phi_fn):
    spec = _FORMS[form]

    def margin(ops, problem, w, u, eta, extra):
        g = G(problem, w)
        num, den = spec["bound"](ops, g, u, Lc(problem))       # (2P, L|u|^2): the lemma's own P
        P = num / 2
        f0 = F(problem, w)
        w1 = masked_step(ops, w, u, g, eta, phi_fn)
        dL = F(problem, w1) - f0
        L, uu = Lc(problem), sq(ops, u)
        if part == "upper":
            bound = bounds.descent_upper(P, L, eta, uu)
            return Margin(dL - bound, True, ABS(f0) + ABS(bound))
        if part == "lower":
            curvature = L * sq(ops, w1 - w) / 2 if form == "D.1" else L * eta ** 2 * uu / 2
            bound = bounds.smooth_lower(P, eta, curvature)
            return Margin(bound - dL, True, ABS(f0) + ABS(bound))
        if part == "convex_lower":
            bound = bounds.first_order_lower(P, eta)
            return Margin(bound - dL, bool(problem.convex), ABS(f0) + ABS(bound))
        return Margin(dL, within(eta, (num, den)), ABS(f0))

    return margin


def assert_one_step_descent(problem, w, u, eta, mask=None, *, form="D.1", parts=("upper", "lower", "descent")):
    r"""One step ``w' = w - eta phi o u`` of a mask against the smoothness bounds of Lemma D.1 / D.2 of the
    AMS/Grams paper, with the lemma's own ``P`` (D.1: ``P = <u o g, 1(u o g >= 0)>``; D.2: ``<|g|, |u|>``) and
    ``dL = L(w') - L(w)``:

    ``"upper"``         ``dL <= -eta P + L eta^2 |u|^2 / 2``                 (Part 1)
    ``"lower"``         ``dL >= -eta P - (L/2)|dw|^2``                       (Part 2, corrected for any L-smooth loss)
    ``"convex_lower"``  ``dL >= -eta P``                                     (Part 2 as stated; convex problems only)
    ``"descent"``       ``eta <= 2P/(L|u|^2)  =>  dL <= 0``                   (Part 3)

    ``mask``: a protocol function ``mask(ops, u, s)`` or a ``Caution``; default the lemma's mask (D.1:
    ``1(u o g >= 0)``, D.2: Grams' ``sign(u o g)``). Raises :class:`PropertyViolation` with the counterexample
    re-checked in exact rationals (quadratic problems)."""
    if form not in _FORMS:
        raise ValueError(f"form must be one of {', '.join(_FORMS)}, got {form!r}")
    parts = (parts,) if isinstance(parts, str) else tuple(parts)
    bad = [p for p in parts if p not in DESCENT_PARTS]
    if bad or not parts:
        raise ValueError(f"parts must be among {', '.join(DESCENT_PARTS)}, got {bad or parts!r}")
    problem = _problem(problem)
    w, u, eta_t = _row(w, "w", problem.d), _row(u, "u", problem.d), _eta(eta)
    phi_fn = _mask(mask, _FORMS[form]["default"])
    for part in parts:
        _judge_one_step(f"ams_theory.testing: one-step descent, {_FORMS[form]['lemma']}, part {part!r} fails",
                        f"{DESCENT_PARTS[part]}; {_FORMS[form]['P']}, w' = w - eta phi o u",
                        _descent_margin(form, part, phi_fn), problem, w, u, eta_t, [("mask", mask_name(phi_fn))])


# ----------------------------------------------------------------------------- (b) masked vs base, Thm. 2.3

def _thm23_margin(phi_fn, hypothesis):
    def margin(ops, problem, w, u, eta, extra):
        g = G(problem, w)
        base = F(problem, descent.step(ops, w, u, g, eta, None))
        masked = F(problem, masked_step(ops, w, u, g, eta, phi_fn))
        applicable = True if hypothesis is None else within(eta, bounds.thm23_bound(ops, g, u, Lc(problem), phi_fn))
        return Margin(masked - base, applicable, ABS(base))

    return margin


HYPOTHESES = ("thm2.3", None)


def assert_masked_not_worse(problem, w, u, eps, mask, *, hypothesis="thm2.3"):
    r"""The masked step is no worse than the base step, Thm. 2.3 of the Cautious paper:
    ``L(w - eps u o phi) <= L(w - eps u)`` where ``Delta = -x^T(1 - phi) >= 0`` and
    ``eps <= 2 Delta / (mu |r| (2|u| + |r|))``, ``x = u o g``, ``r = u o (1 - phi)``, ``mu = L``
    (:func:`ams_theory.claims.bounds.thm23_bound`). Outside the hypothesis the assertion holds vacuously.
    ``hypothesis=None`` asserts the comparison at every step (the unconditional form of Thm. A.5 / Cor. A.6).

    Thm. 2.3 holds for every phi, so a failure under its hypothesis is a failure of the theorem (or of the mask's
    evaluation); ``hypothesis=None`` tells masks apart."""
    if hypothesis not in HYPOTHESES:
        raise ValueError(f"hypothesis must be 'thm2.3' or None, got {hypothesis!r}")
    problem = _problem(problem)
    w, u, eta_t = _row(w, "w", problem.d), _row(u, "u", problem.d), _eta(eps, "eps")
    phi_fn = _mask(mask)
    claim = ("L(w - eps u o phi) <= L(w - eps u) where Delta = -x^T(1 - phi) >= 0 and eps <= 2 Delta/(mu |r| "
             "(2|u| + |r|)), x = u o g, r = u o (1 - phi)" if hypothesis else
             "L(w - eps u o phi) <= L(w - eps u) for every step eps >= 0")
    _judge_one_step(f"ams_theory.testing: masked step worse than the base step "
                    f"({'Thm. 2.3 (Cautious paper)' if hypothesis else 'any step'})", claim,
                    _thm23_margin(phi_fn, hypothesis), problem, w, u, eta_t, [("mask", mask_name(phi_fn))])


def step_bound(kind, problem, w, u, mask=None):
    """The step bound ``(num, den)`` (``eta <= num/den``) of ``kind``: ``"D.1"`` (``2P, L|u|^2``), ``"D.2"``
    (``2<|g|,|u|>, L|u|^2``) or ``"2.3"`` (``2 Delta, mu |r| (2|u| + |r|)`` of ``mask``), as floats."""
    problem = _problem(problem)
    w, u = _row(w, "w", problem.d), _row(u, "u", problem.d)
    with torch.no_grad():
        if kind in _FORMS:
            num, den = _FORMS[kind]["bound"](T1, G(problem, w), u, Lc(problem))
        elif kind == "2.3":
            num, den = bounds.thm23_bound(T1, G(problem, w), u, Lc(problem), _mask(mask))
        else:
            raise ValueError(f"kind must be 'D.1', 'D.2' or '2.3', got {kind!r}")
    return float(torch.as_tensor(num).reshape(-1)[0]), float(torch.as_tensor(den).reshape(-1)[0])


# ----------------------------------------------------------------------------- (c) Hamiltonian descent

KINETICS = {"quadratic": dyn.K_QUADRATIC, "l1": dyn.K_L1}


def cautious_system(mask, *, kinetic="quadratic", c_phi=0.0, c_psi=0.0, name=None) -> dyn.System:
    r"""System (5) of the Cautious paper with a protocol mask: ``w' = -phi(x) o grad K(s) - c_phi g``,
    ``s' = g - c_psi grad K(s)``, ``x = g o grad K(s)``, ``H = L(w) + K(s)``, ``K = |s|^2/2`` (``"quadratic"``)
    or ``|s|_1`` (``"l1"``); built by :func:`ams_theory.engines.dynamics.general` (``phi = mask(ops, grad K, g)``)."""
    if kinetic not in KINETICS:
        raise ValueError(f"kinetic must be 'quadratic' or 'l1', got {kinetic!r}")
    for label, c in (("c_phi", c_phi), ("c_psi", c_psi)):
        if not (isinstance(c, (int, float)) and math.isfinite(c) and c >= 0):
            raise ValueError(f"{label} must be a finite number >= 0, got {c!r}")
    fn = _mask(mask)
    name = name or f"cautious_system[{mask_name(fn)}]"
    phi = lambda ops, k, g: fn(ops, ops.copy(k), ops.copy(g))
    system = dyn.general(name, KINETICS[kinetic], phi, float(c_phi), float(c_psi))
    # the exact re-check runs the same system with c_phi, c_psi as the rationals the floats are
    system.params["exact_twin"] = dyn.general(name, KINETICS[kinetic], phi, sp.Rational(Fraction(float(c_phi))),
                                              sp.Rational(Fraction(float(c_psi))))
    return system


RATES = {"H": "dH/dt <= 0", "L": "dL/dt <= 0"}


def _exact_row(t):
    return SympyOps.asarray([sp.Rational(Fraction(float(x))) for x in t.reshape(-1)])


def assert_hamiltonian_descent(system, problem, w, s, *, which=("H", "L"), allowance=False):
    r"""Hamiltonian descent of a continuous system at the state ``(w, s)``: ``dH/dt <= 0`` (``"H"``) and
    ``dL/dt <= 0`` (``"L"``), the true rates along the field (autograd; sympy differentiation of ``H`` in the
    exact re-check, :func:`ams_theory.engines.dynamics.exact_rates`). With ``allowance=True``: Thm. 2.1's stronger
    forms ``dH/dt <= -Delta_H`` and ``dL/dt <= -Delta_L`` (system (5) built by :func:`cautious_system` or
    ``dynamics.general``). ``system``: a ``dynamics.System``, a name in ``dynamics.SYSTEMS``, or a protocol mask
    (then ``cautious_system(mask)``)."""
    if isinstance(system, str):
        if system not in dyn.SYSTEMS:
            raise ValueError(f"unknown system {system!r}; known: {', '.join(dyn.SYSTEMS)}")
        system = dyn.SYSTEMS[system]
    elif not isinstance(system, dyn.System):
        system = cautious_system(system)
    which = (which,) if isinstance(which, str) else tuple(which)
    if not which or any(k not in RATES for k in which):
        raise ValueError(f"which must be among 'H', 'L', got {which!r}")
    if allowance and "delta_H" not in system.params:
        raise ValueError(f"allowance=True needs system (5) (dynamics.general); {system.name} has no Delta_H")
    problem = _problem(problem)
    w = _row(w, "w", problem.d)
    s = _row(s, "s", problem.d * system.state_blocks)
    for key in which:
        extra = None
        if allowance:
            name = "delta_H" if key == "H" else "delta_L"
            extra = lambda sy, ops, pr, w_, s_, name=name: sy.params[name](ops, pr, w_, s_)
        margin = nonpositive(key, extra)
        with torch.no_grad():
            m, app, scale = margin(system, "torch", problem, w, s)
        m, app, scale = float(m.reshape(-1)[0]), bool(app.reshape(-1)[0]), float(scale.reshape(-1)[0])
        if not app or (math.isfinite(m) and m <= _tolerance(scale)):
            continue
        stated = RATES[key] if not allowance else ("dH/dt <= -Delta_H" if key == "H" else "dL/dt <= -Delta_L")
        title = f"ams_theory.testing: Hamiltonian descent fails: {stated} for {system.name}"
        claim = f"{stated} along the field of {system.name} at (w, s) (H = {system.params.get('K', 'L + K')} + L)"
        rows = [("problem", f"{problem.family}, d = {problem.d}"), ("w", _vec_text(w)), ("s", _vec_text(s))]
        if problem.family not in smooth.QUADRATIC_FAMILIES or not math.isfinite(m):
            raise PropertyViolation(title, claim, rows, False, m,
                                    {"why_not_exact": f"{problem.family} has no exact rational form"})
        exact_problem = dyn.SymbolicQuadratic(smooth.exact_quadratic(problem, 0))
        twin = system.params.get("exact_twin", system)
        value = sp.simplify(margin(twin, "exact", exact_problem, _exact_row(w), _exact_row(s)))
        if value.has(sp.Float):           # float hyperparameters of the system entered sympy as Floats
            if bool(value > 0):
                raise PropertyViolation(title, claim, rows, False, m, {
                    "why_not_exact": f"{system.name} has float hyperparameters; build it with cautious_system "
                                     f"for an exact re-check"})
            continue
        if not bool(value > 0):
            continue
        raise PropertyViolation(title, claim, rows + [("A", _short(str(exact_problem.A.tolist()), 200)),
                                                      ("b", _short(str(list(exact_problem.b)), 200)),
                                                      ("float64", f"margin {m:.6g}")],
                                True, value, {"system": system.name, "family": problem.family,
                                              "w": [str(x) for x in _exact_row(w)], "s": [str(x) for x in _exact_row(s)],
                                              "margin": str(value)})


# ----------------------------------------------------------------------------- (d) mask conditions

MASK_CONDITIONS = {
    "eq6": "phi_i >= 1 where x_i > 0 and phi_i <= 0 where x_i < 0  (eq. (6), Cautious paper)",
    "thm2.1_H": "x^T(1 - phi(x)) <= 0  (Thm. 2.1: H decreases at least as fast as in system (2))",
    "thm2.1_L": "x^T phi(x) >= 0  (Thm. 2.1: L decreases)",
}


def _condition_margins(ops, mask_fn, u, s):
    """``{condition: margin}`` (positive = violated) and ``(x, phi)``, in the back end ``ops``."""
    x = ops.mul(u, s)
    phi = mask_fn(ops, ops.copy(u), ops.copy(s))
    if torch.is_tensor(x):
        phi_full = torch.as_tensor(phi, dtype=F64).expand_as(x) if torch.is_tensor(phi) else torch.full_like(x, phi)
        sums = bounds.eq6_sums(x, phi_full, ops=T1)
        per = torch.where(x > 0, 1 - phi_full, torch.where(x < 0, phi_full, torch.full_like(x, -math.inf)))
        eq6 = per.amax(dim=-1, keepdim=True)
        return {"eq6": eq6, "thm2.1_H": sums[0], "thm2.1_L": -sums[1]}, (x, phi_full)
    phi_full = phi if isinstance(phi, np.ndarray) else SympyOps.asarray([phi] * len(x))
    phi_full = SympyOps.asarray([exact_number(p) for p in phi_full])
    first, second = bounds.eq6_sums(x, phi_full)
    per = [(1 - p) if xi > 0 else p if xi < 0 else -sp.oo for xi, p in zip(x, phi_full)]
    return {"eq6": sp.Max(*per), "thm2.1_H": exact_number(first), "thm2.1_L": exact_number(-second)}, (x, phi_full)


def assert_mask_conditions(mask, u, s, *, conditions=tuple(MASK_CONDITIONS)):
    r"""The conditions of Thm. 2.1 / eq. (6) of the Cautious paper at ``x = u o s``, ``phi = mask(ops, u, s)``:

    ``"eq6"``       ``phi_i >= 1`` where ``x_i > 0``, ``phi_i <= 0`` where ``x_i < 0`` (eq. (6))
    ``"thm2.1_H"``  ``x^T(1 - phi) <= 0`` (H decreases at least as fast as without the mask)
    ``"thm2.1_L"``  ``x^T phi >= 0`` (L decreases)

    (the sums are :func:`ams_theory.claims.bounds.eq6_sums`). A float64 violation is re-checked with the mask
    evaluated by ``SympyOps`` at the exact rationals of ``u`` and ``s``."""
    conditions = (conditions,) if isinstance(conditions, str) else tuple(conditions)
    bad = [c for c in conditions if c not in MASK_CONDITIONS]
    if bad or not conditions:
        raise ValueError(f"conditions must be among {', '.join(MASK_CONDITIONS)}, got {bad or conditions!r}")
    fn = _mask(mask)
    u = _row(u, "u")
    s = _row(s, "s", u.shape[1])
    with torch.no_grad():
        margins, (x, phi) = _condition_margins(T1, fn, u, s)
    flagged = [c for c in conditions if not (float(margins[c].reshape(-1)[0]) <= 1e-9 * (
        1 + float(x.abs().sum()) + float(phi.abs().sum())))]
    if not flagged:
        return
    exact, (xe, phie) = _condition_margins(SYM, fn, _exact_row(u), _exact_row(s))
    for c in flagged:
        value = exact[c]
        if bool(value > 0):
            rows = [("mask", mask_name(fn)), ("u", _vec_text(u)), ("s", _vec_text(s)),
                    ("x = u o s", "[" + ", ".join(_short(v, 40) for v in xe) + "]"),
                    ("phi", "[" + ", ".join(_short(v, 40) for v in phie) + "]"),
                    ("float64", f"margin {float(margins[c].reshape(-1)[0]):.6g}")]
            raise PropertyViolation(f"ams_theory.testing: mask condition {c!r} fails", MASK_CONDITIONS[c], rows,
                                    True, value, {"condition": c, "u": [str(v) for v in _exact_row(u)],
                                                  "s": [str(v) for v in _exact_row(s)],
                                                  "phi": [str(v) for v in phie], "margin": str(value)})


# ----------------------------------------------------------------------------- (e) conformance

def assert_conforms(optimizer, method: str, **kw):
    """Audit ``optimizer`` (a ``torch.optim.Optimizer`` class or ``"module:Class"``) against our preset ``method``
    (``"adam"``, ``"adamw"``, ``"cadamw"``, ``"grams"``, ``"ams"``, ``"lion"``, ``"clion"``) with
    :func:`ams_theory.audit.conform.conform`; ``kw`` are its keywords (``target_kwargs``, ``method_kwargs``,
    ``seed``, ``steps``, ``depth``, ``default_dtype``; ``steps`` defaults to the budget's: quick 20, standard 60,
    thorough 120). Fails with the audit's readable report (first departure, diagnosis, identified departures);
    returns the :class:`~ams_theory.audit.conform.ConformanceResult` when it conforms."""
    from ams_theory.audit.conform import conform

    kw.setdefault("steps", CONFORM_STEPS[current_budget()])
    result = conform(optimizer, method, **kw)
    if result.verdict != "conforms":
        raise AssertionError(f"ams_theory.testing: {result.target} does not conform to {method!r}: "
                             f"{result.summary()}\n{result.text()}")
    return result
