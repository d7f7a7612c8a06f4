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
:class:`~ams_theory.claims.registry.Result` objects, with ids ``rule:<name>/<claim id>``. Which checks are generic,
and why the others are not: ``docs/rules.md``.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy as sp
import torch

from ams_theory.claims.catalogue import ClaimEntry
from ams_theory.claims.registry import BUDGETS, REGISTRY, Claim, Result, run_claim
from ams_theory.core.ops import SympyOps, TorchOps

__all__ = ["RuleError", "Rule", "GENERIC_CHECKS", "load_rule", "generic_checks", "rule_claims", "verify_rule"]

KINDS = ("elementwise", "inner")


class RuleError(ValueError):
    """A rule that cannot be used, said in one line (what was given and what is wrong)."""


@dataclass(frozen=True)
class GenericCheck:
    """A registered check that takes a user's mask (``check(budget, seed, mask=rule)``): the claim it belongs to,
    the mask kinds it applies to, and the statement judged when a user's mask takes the paper's place."""

    claim_id: str
    kinds: tuple
    statement: str


GENERIC_CHECKS = (
    GenericCheck("cautious.2.1", KINDS, "System (5) with phi = the rule: dH/dt = x^T(1 - phi) - Delta_H, dL/dt = "
                 "-x^T phi - |grad L|_Phi^2, and the consequences dH/dt <= -Delta_H, dL/dt <= -Delta_L, dL/dt <= 0 "
                 "(K = |s|^2/2 and |s|_1)."),
    GenericCheck("cautious.eq6", KINDS, "The rule obeys eq. (6) at every x = u o s (phi_i >= 1 where x_i > 0, "
                 "phi_i <= 0 where x_i < 0), so that x^T(1 - phi) <= 0 and x^T phi >= 0."),
    GenericCheck("cautious.2.3", KINDS, "mu-smooth L, Delta = -x^T(1 - phi) >= 0, eps <= 2 Delta/(mu |r|(2|u|+|r|)), "
                 "r = u o (1 - phi), phi = the rule: L(w - eps u o phi) <= L(w - eps u)."),
    GenericCheck("cautious.2.4", ("elementwise",), "The rule in threshold form, alpha_k phi(u, g - mu sigma/2 u), "
                 "sigma >= eps alpha_k, any alpha_k: L(w_bar') <= L(w_bar) for any step size."),
    GenericCheck("cautious.A3", KINDS, "Cautious heavy ball with phi = the rule, where x phi(x) >= 0: (1/T) sum_t "
                 "<grad L(w_t) o u_t, phi> <= (L(w_1) - L*)/(T eps) + mu eps B_T/(2T), B_T = sum |u_t|^2."),
    GenericCheck("cautious.A5", ("inner",), "Convex L, phi = the rule (one value per vector): L(w_bar') <= L(w') "
                 "for any step size."),
    GenericCheck("cautious.A6", ("elementwise",), "L = 0.5 |a o w|^2, phi = the rule: L(w - eta u o phi) <= "
                 "L(w - eta u) for any step."),
    GenericCheck("cautious.A7", ("inner",), "The rule (one value per vector) in threshold form, alpha phi(u, g - "
                 "alpha mu eps/2 u): L(w_bar') <= L(w_bar) for any step size."),
)


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
        return _as_vector(self.fn(ops, u, s), u)

    def __repr__(self):
        return f"Rule({self.spec!r}, kind={self.kind!r})"


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


def rule_claims(rule, checks=None) -> list[Claim]:
    """One :class:`~ams_theory.claims.registry.Claim` per generic check of ``rule`` (optionally only the claim ids
    in ``checks``), whose check is the registered one with the rule in place of the paper's mask."""
    import proofs_checks

    proofs_checks.load()
    rule = load_rule(rule)
    chosen = generic_checks(rule)
    if checks:
        known = {g.claim_id: g for g in GENERIC_CHECKS}
        bad = [c for c in checks if c not in known]
        if bad:
            raise RuleError(f"{bad[0]!r} is not a check generic in the mask (those are: "
                            f"{', '.join(known)})")
        skipped = [c for c in checks if c not in {g.claim_id for g in chosen}]
        if skipped:
            raise RuleError(f"{skipped[0]!r} does not apply to the {rule.kind} rule {rule.name!r}")
        chosen = [g for g in chosen if g.claim_id in checks]
    out = []
    for g in chosen:
        base = REGISTRY[g.claim_id]
        entry = RuleEntry(f"rule:{rule.name}/{g.claim_id}", base.entry.family, base=g.claim_id)

        def check(budget, seed, fn=base.check):
            return fn(budget, seed, mask=rule)
        check.__doc__ = f"{g.claim_id} with the user's rule {rule.spec} in place of the paper's mask."
        out.append(Claim(entry, base.kind, g.statement.replace("the rule", f"the rule {rule.name}"), check,
                         base.where))
    return out


def verify_rule(rule, budget: str = "standard", seed: int = 0, checks=None, progress=None) -> list[Result]:
    """Run every generic check that applies to ``rule`` (a spec, a function or a :class:`Rule`) with it in place of
    the paper's mask; returns one :class:`~ams_theory.claims.registry.Result` per check, id
    ``rule:<name>/<claim id>``, as :func:`~ams_theory.claims.registry.run_claim` gives them (so the report writers
    of :mod:`ams_theory.claims.report` take them unchanged). ``checks``: only these claim ids; ``progress(i, n,
    claim, result)``: called after each."""
    if budget not in BUDGETS:
        raise RuleError(f"unknown budget {budget!r} (expected one of {', '.join(BUDGETS)})")
    claims = rule_claims(rule, checks)
    results = []
    for i, claim in enumerate(claims, 1):
        results.append(run_claim(claim, budget, seed))
        if progress is not None:
            progress(i, len(claims), claim, results[-1])
    return results
