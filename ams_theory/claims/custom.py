r"""Bring your own rule: a user's mask run through every claim check that is generic in the mask.

A *rule* here is a mask written against the rule core's operations (:class:`ams_theory.core.ops.Ops`)::

    def mask(ops, u, s):          # u: the direction, s: the reference (the gradient in the checks)
        return phi                # the coefficients multiplying u entrywise: u's shape, or one value per vector

It is evaluated by the same back ends as the papers' masks: :class:`~ams_theory.core.ops.TorchOps` with one batch
dimension (the searches, ``u`` and ``s`` of shape ``(B, d)``) and :class:`~ams_theory.core.ops.SympyOps` (exact
re-checks and proofs, numpy object arrays of sympy numbers or symbols). A mask must not write into ``u`` or ``s``.

:func:`load_rule` imports and validates one (``package.module:name`` or ``path/to/file.py:name``); every failure is a
:class:`RuleError` whose message is one line. :func:`verify_rule` runs each generic check with the user's mask in
place of the paper's, through the registry's :func:`~ams_theory.claims.registry.run_claim` (so refutations are
re-checked exactly and strengths validated as for the registered claims), and returns the same
:class:`~ams_theory.claims.registry.Result` objects, with ids ``rule:<name>/<claim id>``; every other catalogued
claim gets a row of status ``not applicable`` with its one-line reason (:data:`NOT_GENERIC`, or the check's
``other_kind``). Which checks are generic, and why the others are not: here, and the same words in
``docs/rules.md``.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy as sp
import torch

from ams_theory.claims.catalogue import CATALOGUE, ClaimEntry
from ams_theory.claims.registry import BUDGETS, REGISTRY, Claim, Result, load_checks, run_claim
from ams_theory.core.ops import SympyOps, TorchOps

__all__ = ["RuleError", "Rule", "GENERIC_CHECKS", "NOT_GENERIC", "load_rule", "generic_checks", "not_generic_reason",
           "rule_claims", "verify_rule"]

KINDS = ("elementwise", "inner")


class RuleError(ValueError):
    """A rule that cannot be used, said in one line (what was given and what is wrong)."""


@dataclass(frozen=True)
class GenericCheck:
    """A registered check that takes a user's mask (``check(budget, seed, mask=rule)``): the claim it belongs to,
    the mask kinds it applies to, the statement judged when a user's mask takes the paper's place, and why it does
    not apply to a rule of the other kind (``other_kind``, for a check of one kind only)."""

    claim_id: str
    kinds: tuple
    statement: str
    other_kind: str = ""


GENERIC_CHECKS = (
    GenericCheck("cautious.2.1", KINDS, "System (5) with phi = the rule: dH/dt = x^T(1 - phi) - Delta_H, dL/dt = "
                 "-x^T phi - |grad L|_Phi^2, and the consequences dH/dt <= -Delta_H, dL/dt <= -Delta_L, dL/dt <= 0 "
                 "(K = |s|^2/2 and |s|_1)."),
    GenericCheck("cautious.eq6", KINDS, "The rule obeys eq. (6) at every x = u o s (phi_i >= 1 where x_i > 0, "
                 "phi_i <= 0 where x_i < 0), so that x^T(1 - phi) <= 0 and x^T phi >= 0."),
    GenericCheck("cautious.2.3", KINDS, "mu-smooth L, Delta = -x^T(1 - phi) >= 0, eps <= 2 Delta/(mu |r|(2|u|+|r|)), "
                 "r = u o (1 - phi), phi = the rule: L(w - eps u o phi) <= L(w - eps u)."),
    GenericCheck("cautious.2.4", ("elementwise",), "The rule in threshold form, alpha_k phi(u, g - mu sigma/2 u), "
                 "sigma >= eps alpha_k, any alpha_k: L(w_bar') <= L(w_bar) for any step size.",
                 "the rule gives one value per vector (inner); the threshold form of Thm. 2.4 is elementwise (its "
                 "inner form is Thm. A.7, judged by cautious.A7)"),
    GenericCheck("cautious.A3", KINDS, "Cautious heavy ball with phi = the rule, where x phi(x) >= 0: (1/T) sum_t "
                 "<grad L(w_t) o u_t, phi> <= (L(w_1) - L*)/(T eps) + mu eps B_T/(2T), B_T = sum |u_t|^2."),
    GenericCheck("cautious.A5", ("inner",), "Convex L, phi = the rule (one value per vector): L(w_bar') <= L(w') "
                 "for any step size.",
                 "the rule is elementwise; Thm. A.5 is about a mask with one value per vector, 1(u^T g >= 0)"),
    GenericCheck("cautious.A6", ("elementwise",), "L = 0.5 |a o w|^2, phi = the rule: L(w - eta u o phi) <= "
                 "L(w - eta u) for any step.",
                 "the rule gives one value per vector (inner); Cor. A.6 is about an elementwise mask, coordinate by "
                 "coordinate"),
    GenericCheck("cautious.A7", ("inner",), "The rule (one value per vector) in threshold form, alpha phi(u, g - "
                 "alpha mu eps/2 u): L(w_bar') <= L(w_bar) for any step size.",
                 "the rule is elementwise; for an elementwise rule Thm. A.7 is Thm. 2.4 with sigma = eps alpha, "
                 "judged by cautious.2.4"),
)

# The catalogued claims whose checks do not take a user's mask, and why (one line each; docs/rules.md says the same):
# every catalogued claim is a generic check or listed here (tests/claims/test_custom_rules.py).
NOT_GENERIC = (
    (("cautious.eq6.default", "cautious.alg1", "cautious.fig2.monotone", "cautious.fig2.dominates", "cautious.fig8",
      "cautious.fig4.range", "cautious.fig8.caption"),
     "the claim is about one named mask (eq. (1)'s rescaling, Algorithm 1's line, a figure's setting), not a mask in "
     "general; a rule is judged against Thm. 2.1's conditions by cautious.eq6"),
    (("cautious.intro.condition",),
     "the introduction's summary of Thm. 2.1's condition on phi: for a rule, that condition and its consequences are "
     "judged by cautious.eq6 and cautious.2.1"),
    (("cautious.2.1.text", "cautious.eq3", "cautious.eq4"),
     "a statement about system (2), whose descending terms Phi, Psi hold no mask"),
    (("cautious.2.2", "grams.5.10"),
     "convergence by LaSalle's principle, whose pointwise condition dH/dt <= -Delta_H is judged for a rule by "
     "cautious.2.1; its refutations are bounded solutions built for phi = 0 and for a K flat near 0 with a rotating "
     "Phi, so with a rule it could only prove"),
    (("cautious.A1", "cautious.A2", "cautious.A3.1.formula", "cautious.A3.1.cadam", "cautious.A3.2", "cautious.A3.3"),
     "the dynamics of Adam, Lion-K, signed momentum or Lion, with the indicator 1(g o m > 0) written into the stated "
     "rates: the mask is part of the statement"),
    (("cautious.A6.ext",),
     "Cor. A.6 extended to convex separable losses with its mask 1(u o g >= 0); a rule is judged on Cor. A.6 by "
     "cautious.A6"),
    (("grams.B1.beta3", "grams.B1.lambda", "grams.B2", "grams.B3", "grams.C1", "grams.C2", "grams.C3", "grams.C4",
      "grams.C5", "grams.C6"),
     "an identity of the rule core's conventions (AMS's reductions, Facts C.1-C.6), not a statement about a mask"),
    (("grams.D1.part1", "grams.D1.part2", "grams.D1.part3", "grams.D2.part1", "grams.D2.part2", "grams.D2.part3",
      "grams.D3", "grams.R5.5", "grams.E1", "grams.E1.L", "grams.E2", "grams.E2.hence1", "grams.E2.hence2",
      "grams.E3.H", "grams.E3.L", "grams.E4", "grams.5.3.intro", "grams.R5.9"),
     "a Grams claim: the mask is part of the statement (P, N, Delta_H, the Grams step sign(g) o |u| are defined "
     "through Def. 3.2's 1(u o g >= 0) or Grams' own mask)"),
    (("grams.fig1", "grams.table1", "grams.table2", "grams.table1.text", "grams.table2.text", "cautious.table1",
      "cautious.table1.text", "cautious.table2.text"),
     "an experiment of the paper (a figure or a printed table) with the paper's optimizers"),
)
NO_MASK_PARAMETER = "its check does not take a user's mask (no reason recorded in ams_theory.claims.custom)"


@dataclass(frozen=True)
class RuleEntry(ClaimEntry):
    """A catalogue entry for a claim judged with a user's rule: ``rule:<name>/<claim id>``, of the claim's paper."""

    base: str = ""

    @property
    def paper(self) -> str:
        return ClaimEntry(self.base, self.family).paper


class Rule:
    """A validated user mask: ``rule(ops, u, s)`` returns ``phi`` with ``u``'s shape (a value per vector is
    broadcast over the coordinates). ``kind``: ``"elementwise"`` or ``"inner"`` (one value per vector), read from
    the probe; ``name`` names it in the results' ids."""

    def __init__(self, fn: Callable, name: str, spec: str, kind: str):
        self.fn, self.name, self.spec, self.kind = fn, name, spec, kind

    def __call__(self, ops, u, s):
        phi = _as_vector(self.fn(ops, u, s), u)
        return _exact_floats(phi) if isinstance(ops, SympyOps) else phi

    def __repr__(self):
        return f"Rule({self.spec!r}, kind={self.kind!r})"


def _exact_floats(phi):
    """``phi`` of the exact back end with its float constants (a mask written ``... + 0.5``) as the binary rationals
    they are, as the rule core takes a Caution's floats (:func:`ams_theory.core.masks.exact_caution`): a float there
    would round the exact rates, and an identity would seem to fail by 1e-17."""
    def exact(x):
        if isinstance(x, float):
            return sp.Rational(x)
        return x.xreplace({f: sp.Rational(f) for f in x.atoms(sp.Float)}) if isinstance(x, sp.Basic) else x
    if isinstance(phi, np.ndarray):
        out = phi.copy()
        out.flat = [exact(x) for x in phi.flat]
        return out
    if hasattr(phi, "t"):                     # a dimension-generic vector (the proofs' trace)
        return type(phi)(exact(phi.t))
    return exact(phi)


def _as_vector(phi, u):
    """``phi`` with ``u``'s shape: a value per vector (``(B, 1)``, a 0-d tensor, a number, a sympy scalar) is
    broadcast."""
    if torch.is_tensor(u):
        phi = phi if torch.is_tensor(phi) else torch.as_tensor(phi, dtype=u.dtype)
        return phi if phi.shape == u.shape else torch.broadcast_to(phi, u.shape)
    if isinstance(u, np.ndarray):
        if isinstance(phi, np.ndarray):
            return phi if phi.shape == u.shape else np.broadcast_to(phi, u.shape).copy()
        return SympyOps.asarray([phi] * len(u))
    return phi


# ----------------------------------------------------------------------------- loading and validation

def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def _import(spec: str):
    """The object named by ``package.module:name`` or ``path/to/file.py:name`` (the conformance audit's
    :func:`ams_theory.audit.conform.import_object`)."""
    from ams_theory.audit.conform import ConformError, import_object

    try:
        return import_object(spec, "RULE")
    except ConformError as err:
        raise RuleError(str(err)) from None


def _check_signature(fn, spec):
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return                                       # no signature to read (a builtin): the probe decides
    try:
        sig.bind(None, None, None)
    except TypeError:
        raise RuleError(f"RULE {spec!r}: expected a mask(ops, u, s) -> phi, but its signature is {sig}") from None


def _probe_inputs():
    """A batch of 6 (u, s) pairs in d = 3 with every sign combination, ties (exact zeros) and a wide scale."""
    u = torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, -1.5], [-0.25, -1.0, 2.0], [4.0, 0.0, -3.0],
                      [1e-3, 2e3, -7.0], [-1.0, 1.0, 1.0]], dtype=torch.float64)
    s = torch.tensor([[2.0, 1.0, -0.5], [1.0, -0.5, 0.0], [-3.0, 2.0, 4.0], [-1.0, 5.0, -2.0],
                      [1e3, -1e-3, 0.5], [1.0, 1.0, -1.0]], dtype=torch.float64)
    return u, s


def _fail(spec, what):
    return RuleError(f"RULE {spec!r}: not a mask: {what}")


def _probe_torch(fn, spec):
    """Run the mask on the torch back end; returns (phi as a (6, 3) tensor, kind)."""
    u, s = _probe_inputs()
    u0, s0 = u.clone(), s.clone()
    try:
        raw = fn(TorchOps(batch_dims=1), u, s)
    except Exception as err:  # noqa: BLE001 - the user's code failing is the finding
        raise _fail(spec, f"mask(ops, u, s) raised {_one_line(err)} on the torch back end "
                    "(TorchOps, u and s of shape (6, 3))") from None
    if not (torch.equal(u, u0) and torch.equal(s, s0)):
        raise _fail(spec, "it wrote into u or s (a mask must leave its inputs as they were)")
    if isinstance(raw, bool) or not (torch.is_tensor(raw) or isinstance(raw, (int, float))):
        raise _fail(spec, f"it returned {type(raw).__name__}, not a tensor, on the torch back end")
    raw = torch.as_tensor(raw, dtype=torch.float64) if not torch.is_tensor(raw) else raw
    if not raw.is_floating_point():
        raise _fail(spec, f"it returned a {raw.dtype} tensor; expected floating-point coefficients")
    try:
        shape = torch.broadcast_shapes(raw.shape, u.shape)
    except RuntimeError:
        shape = None
    if shape != u.shape or raw.ndim > u.ndim:
        raise _fail(spec, f"it returned shape {tuple(raw.shape)} for u of shape {tuple(u.shape)}: expected "
                    f"{tuple(u.shape)}, or {(u.shape[0], 1)} for one value per vector")
    phi = torch.broadcast_to(raw, u.shape).to(torch.float64)
    if not bool(torch.isfinite(phi).all()):
        raise _fail(spec, "it returned non-finite values (inf or nan) on the probe")
    # one value per vector: a (B, 1) (or scalar) result, or a function that says so (``fn.kind = "inner"``)
    kind = "inner" if raw.ndim < 2 or raw.shape[-1] == 1 or getattr(fn, "kind", None) == "inner" else "elementwise"
    return phi, kind


def _probe_sympy(fn, spec, torch_phi):
    """Run the mask exactly, on the probe's first instance, and on symbols (the proof engine's inputs)."""
    u, s = _probe_inputs()
    ops = SympyOps()
    to_exact = lambda row: SympyOps.asarray([sp.Rational(float(x)) for x in row])
    try:
        raw = fn(ops, to_exact(u[0]), to_exact(s[0]))
    except Exception as err:  # noqa: BLE001
        raise _fail(spec, f"mask(ops, u, s) raised {_one_line(err)} on the exact back end (SympyOps); "
                    "write it with the ops operations only") from None
    phi = _as_vector(raw, to_exact(u[0]))
    if not isinstance(phi, np.ndarray) or phi.shape != (3,):
        raise _fail(spec, f"it returned {type(raw).__name__} on the exact back end; expected an array of u's "
                    "length or one value")
    values = [sp.sympify(p) for p in phi]
    if not all(v.is_number and v.is_real and v.is_finite for v in (sp.simplify(v) for v in values)):
        raise _fail(spec, f"it returned non-finite or non-real values on the exact back end: {values}")
    exact = [float(v) for v in values]
    close = all(math.isclose(a, float(b), rel_tol=1e-9, abs_tol=1e-12) for a, b in zip(exact, torch_phi[0]))
    if not close:
        raise _fail(spec, f"the torch and exact back ends disagree at the probe (torch {torch_phi[0].tolist()}, "
                    f"exact {exact})")
    names = sp.symbols("u0:2", real=True), sp.symbols("s0:2", real=True)
    try:
        fn(ops, SympyOps.asarray(names[0]), SympyOps.asarray(names[1]))
    except Exception as err:  # noqa: BLE001
        raise _fail(spec, f"mask(ops, u, s) raised {_one_line(err)} on symbolic inputs (the proof engine passes "
                    "sympy symbols)") from None


def load_rule(spec, name: str | None = None) -> Rule:
    """``"package.module:name"`` or ``"path/to/file.py:name"`` (or a function, or a :class:`Rule`) -> a validated
    :class:`Rule`. Raises :class:`RuleError` (one line) when it cannot be imported, the name is missing, it is not
    callable as ``mask(ops, u, s)``, or a probe on both back ends shows it is not a mask (an exception, the wrong
    shape or type, non-finite values, writes into its inputs, back ends that disagree)."""
    if isinstance(spec, Rule):
        return spec
    if callable(spec):
        fn, attr = spec, getattr(spec, "__name__", "rule")
        spec = f"{getattr(fn, '__module__', '?')}:{attr}"
    elif isinstance(spec, str) and spec.strip():
        fn, attr = _import(spec)
    else:
        raise RuleError(f"RULE {spec!r}: expected package.module:name or path/to/file.py:name")
    if not callable(fn):
        raise RuleError(f"RULE {spec!r}: {type(fn).__name__} object is not callable; expected a mask(ops, u, s)")
    _check_signature(fn, spec)
    phi, kind = _probe_torch(fn, spec)
    _probe_sympy(fn, spec, phi)
    label = name or getattr(fn, "rule_name", None) or attr
    if not label or any(c.isspace() or c in "/:" for c in label):
        raise RuleError(f"RULE {spec!r}: the name {label!r} cannot be part of a claim id (no spaces, '/' or ':')")
    return Rule(fn, label, spec, kind)


# ----------------------------------------------------------------------------- running the generic checks

def generic_checks(rule: Rule) -> list[GenericCheck]:
    """The generic checks that apply to ``rule`` (by its kind), in catalogue order."""
    return [g for g in GENERIC_CHECKS if rule.kind in g.kinds]


def not_generic_reason(claim_id: str) -> str:
    """Why the catalogued claim ``claim_id`` is not judged with a user's mask (:data:`NOT_GENERIC`)."""
    return next((why for ids, why in NOT_GENERIC if claim_id in ids), NO_MASK_PARAMETER)


def rule_claims(rule, checks=None) -> list[Claim]:
    """One :class:`~ams_theory.claims.registry.Claim` per catalogued claim considered for ``rule`` (optionally only
    the claim ids in ``checks``): the generic checks first (each applicable one's check is the registered one with
    the rule in place of the paper's mask), then the other claims in catalogue order; a claim that does not apply
    carries the reason (``not_applicable``) and is not run."""
    load_checks()
    rule = load_rule(rule)
    generic = {g.claim_id: g for g in GENERIC_CHECKS}
    order = list(generic) + [c.id for c in CATALOGUE if c.id not in generic]
    if checks:
        bad = [c for c in checks if c not in REGISTRY]
        if bad:
            raise RuleError(f"{bad[0]!r} is not a catalogued claim (the checks generic in the mask are: "
                            f"{', '.join(generic)})")
        order = [c for c in order if c in checks]
    out = []
    for cid in order:
        base, g = REGISTRY[cid], generic.get(cid)
        entry = RuleEntry(f"rule:{rule.name}/{cid}", base.entry.family, base=cid)
        if g is None or rule.kind not in g.kinds:
            reason = not_generic_reason(cid) if g is None else g.other_kind
            out.append(Claim(entry, base.kind, base.statement, None, base.where, not_applicable=reason))
            continue

        def check(budget, seed, fn=base.check):
            return fn(budget, seed, mask=rule)
        check.__doc__ = f"{cid} with the user's rule {rule.spec} in place of the paper's mask."
        out.append(Claim(entry, base.kind, g.statement.replace("the rule", f"the rule {rule.name}"), check,
                         base.where))
    return out


def verify_rule(rule, budget: str = "standard", seed: int = 0, checks=None, progress=None) -> list[Result]:
    """Run every generic check that applies to ``rule`` (a spec, a function or a :class:`Rule`) with it in place of
    the paper's mask; returns one :class:`~ams_theory.claims.registry.Result` per catalogued claim, id
    ``rule:<name>/<claim id>``, as :func:`~ams_theory.claims.registry.run_claim` gives them (so the report writers
    of :mod:`ams_theory.claims.report` take them unchanged): a verdict for each applicable check, status ``not
    applicable`` with the reason for every other claim. ``checks``: only these claim ids; ``progress(i, n, claim,
    result)``: called after each."""
    if budget not in BUDGETS:
        raise RuleError(f"unknown budget {budget!r} (expected one of {', '.join(BUDGETS)})")
    claims = rule_claims(rule, checks)
    results = []
    for i, claim in enumerate(claims, 1):
        results.append(run_claim(claim, budget, seed))
        if progress is not None:
            progress(i, len(claims), claim, results[-1])
    return results
