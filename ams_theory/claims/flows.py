r"""Pointwise margins of continuous-time systems ``(w, s)' = field(w, s)`` (:mod:`ams_theory.engines.dynamics`),
their per-coordinate proofs, and convergence by LaSalle's invariance principle.

A *margin*, ``margin(system, mode, problem, w, s)`` with ``margin.relation`` ``"== 0"`` (an identity, e.g. dH/dt =
a stated closed form) or ``"<= 0"`` (a sign condition, e.g. dH/dt <= -Delta_H), is evaluated in three modes:
``"torch"`` (batched, the true rate by autograd: :mod:`ams_theory.testing`'s assertions), ``"exact"`` (rationals,
their exact re-check) and proof (:func:`prove`: exact expressions in a symbolic gradient and state for every
differentiable loss, reduced to one coordinate by :func:`ams_theory.engines.coordinates.per_coordinate`).

The registered continuous claims are stated as :class:`~ams_theory.claims.language.Flow` statements and decided by
the claim language (its exact search at rational states is the one continuous search); the convergence claims
(Cor. 2.2, 5.10) are judged by LaSalle's principle (:data:`LASALLE`), whose pointwise conditions the claim language
proves, through :func:`convergence_verdict`.
"""
from __future__ import annotations

import sympy as sp
import torch

from ams_theory.claims.registry import Verdict, no_evidence, proved
from ams_theory.core.ops import SympyOps
from ams_theory.engines import coordinates, proofs, smooth
from ams_theory.engines import dynamics as dyn

__all__ = ["C_PHI", "C_PSI", "rates", "ops_of", "pointwise_margin", "identity", "nonpositive", "prove", "for_every_d",
           "symbolic_mask_system", "engine_judge", "LASALLE", "SET_READING", "trajectory_illustration",
           "convergence_verdict"]

_F64 = torch.float64

# Phi(x) = c_phi x, Psi(x) = c_psi x of system (5) (Cautious paper), c >= 0: the symbols of the proofs
C_PHI, C_PSI = sp.symbols("c_phi c_psi", nonnegative=True)


# ----------------------------------------------------------------------------- margins

def rates(system, mode, problem, w, s):
    """``(dH/dt, dL/dt)`` along the field in ``mode``: autograd (``"torch"``), exact at a rational state
    (``"exact"``), dimension-generic by the chain rule (a :class:`~ams_theory.engines.coordinates.GenericOps`),
    or sympy differentiation at symbols (a concrete ``SympyOps``)."""
    if mode == "torch":
        return dyn.true_rates(system, problem, w, s)
    if mode == "exact":
        return dyn.exact_rates(system, problem, w, s)
    if isinstance(mode, coordinates.GenericOps):
        return coordinates.generic_rates(system, problem, w, s)
    return dyn.symbolic_rates(system, problem, w, s)


def ops_of(mode):
    """The back end of ``mode``: torch, the exact one, or the ops object a proof's build passes as its mode."""
    if isinstance(mode, SympyOps):
        return mode
    return dyn.T1 if mode == "torch" else dyn.SYM


def _applicable(system, s):
    ok = torch.ones(s.shape[0], 1, dtype=torch.bool)
    return ok if system.domain is None else system.domain(s)


def pointwise_margin(relation, value):
    """The margin of the claim ``value(system, mode, problem, w, s) == 0`` or ``<= 0``. In torch mode ``value``
    returns ``(difference, scale)`` for an identity, and the margin ``(margin, applicable, scale)`` with a
    relative tolerance of 1e-9 (``applicable``: the system's domain, e.g. v > 0)."""
    def margin(system, mode, problem, w, s):
        v = value(system, mode, problem, w, s)
        if mode != "torch":
            return v
        if relation == "== 0":
            scale = v[1]
            return v[0].abs() - 1e-9 * scale, _applicable(system, s), scale
        return v, _applicable(system, s), v.abs() + 1
    margin.relation = relation
    return margin


def _form(form):
    """A stated form ``(system, ops, problem, w, s)``: ``form`` itself, or for a key the closed form
    ``system.stated[key]``."""
    if isinstance(form, str):
        return lambda system, ops, problem, w, s: system.stated[form](ops, problem, w, s)
    return form


def identity(form, which):
    """true rate - stated form == 0: ``which`` ``"H"`` (dH/dt) or ``"L"`` (dL/dt); ``form`` a key of
    ``system.stated`` or a form ``(system, ops, problem, w, s)``."""
    form = _form(form)

    def value(system, mode, problem, w, s):
        dH, dL = rates(system, mode, problem, w, s)
        true = dH if which == "H" else dL
        closed = form(system, ops_of(mode), problem, w, s)
        if mode == "torch":
            return true - closed, true.abs() + closed.abs() + 1
        return true - closed
    return pointwise_margin("== 0", value)


def nonpositive(which, extra=None):
    """true rate + allowance <= 0: ``which`` ``"H"`` (dH/dt) or ``"L"`` (dL/dt); ``extra(system, ops, problem,
    w, s)`` an allowance, e.g. Delta_L for dL/dt <= -Delta_L (Thm. 2.1 of the Cautious paper)."""
    def value(system, mode, problem, w, s):
        dH, dL = rates(system, mode, problem, w, s)
        v = dH if which == "H" else dL
        return v if extra is None else v + extra(system, ops_of(mode), problem, w, s)
    return pointwise_margin("<= 0", value)


# ----------------------------------------------------------------------------- proofs

def _inputs(system, ops, vector):
    """Gradient g, parameters W and state s (Adam: m and v = r^2, r > 0) made by ``vector`` (generic or at a
    concrete d), and the substitution that puts v = r^2 after differentiation."""
    g, w = vector("g", real=True), vector("W", real=True)
    if system.state_blocks != 2:
        return g, w, vector("s", real=True), {}
    m, v, r = vector("m", real=True), vector("v", positive=True), vector("r", positive=True)
    if isinstance(ops, coordinates.GenericOps):
        return g, w, coordinates.GenericBlocks([m, v]), {v.t: r.t ** 2}
    return g, w, SympyOps.asarray(list(m) + list(v)), {a: b ** 2 for a, b in zip(v, r)}


def prove(make, margin, hypotheses=(), statement=""):
    """Prove ``margin`` (an identity or a sign condition) for every dimension, state and hyperparameter value
    allowed by the symbols' ranges and ``hypotheses``, from one dimension-generic trace
    (:func:`ams_theory.engines.coordinates.per_coordinate`): the rates are derived by the chain rule through the sums
    over coordinates (:func:`ams_theory.engines.coordinates.generic_rates`). ``make(d)`` returns the symbolic
    system at dimension d (``d=None``: dimension-generic)."""
    def build(ops, vector):
        system = make(getattr(vector, "d", None))
        g, w, s, subs = _inputs(system, ops, vector)
        expr = margin(system, ops, dyn.LinearLoss(g, ops), w, s)
        return sp.sympify(expr).xreplace(subs)
    return coordinates.per_coordinate(build, margin.relation, hypotheses, statement)


def for_every_d(system):
    """``make(d)`` for :func:`prove` of a system that is the same at every dimension."""
    return lambda d: system


def symbolic_mask_system(phi, K=dyn.K_QUADRATIC):
    """System (5) of the Cautious paper with the mask ``phi``, Phi(x) = c_phi x and Psi(x) = c_psi x for every
    c_phi, c_psi >= 0 (symbols), as ``make(d)`` for :func:`prove`."""
    return for_every_d(dyn.general("symbolic", K, phi, c_phi=C_PHI, c_psi=C_PSI))


# ----------------------------------------------------------------------------- repairs

def engine_judge(spec):
    """Judge an edited pointwise statement ``(relation, expression, hypotheses)`` with the proof engine."""
    relation, expr, hyps = spec
    p = proofs.decide(expr, relation, hyps)
    certified = p.proved or (p.status == "refuted" and p.certify())
    return proofs.VERDICT_OF[p.status], "proved" if certified else "none", str(p.model) if p.model else ""


# ----------------------------------------------------------------------------- convergence (LaSalle) and trajectories

LASALLE = ("LaSalle's invariance principle, in its form for Filippov solutions of discontinuous fields (Bacciotti "
           "and Ceragioli, 1999; Shevitz and Paden, 1994): if H is C^1 and every element of the Filippov set of the "
           "field has <grad H, f> <= 0, a bounded solution tends to the largest weakly invariant subset of "
           "{0 in dH/dt}. The masked fields are discontinuous where x_i = 0, so solutions are taken in Filippov's "
           "sense; the pointwise bounds below hold for every mask value, hence for every convex combination of "
           "the limits of the field at a discontinuity.")


SET_READING = ("'converge to stationary points' as convergence to the set of stationary points of H (the distance "
               "to it tends to 0), which is what LaSalle's principle gives")
SET_NOT_POINT = ("LaSalle's principle gives convergence to the set of stationary points, not to one of them: a bounded "
                 "solution may approach a continuum of stationary points without a limit. Convergence to a single "
                 "stationary point needs more, e.g. isolated stationary points, or an analytic H with a "
                 "Lojasiewicz inequality; the papers assume neither, and this is not proved here")


def _diag_quadratic(a):
    a = torch.tensor([a], dtype=_F64)
    return smooth.QuadraticProblem(family="quadratic_diagonal_convex", convex=True, L=a.max(-1).values,
                                   A=torch.diag_embed(a), b=torch.zeros_like(a), c=torch.zeros(1, dtype=_F64))


def trajectory_illustration(systems, budget, seed):
    """Illustration: integrate each system (names in ``dynamics.SYSTEMS``) from several starts on three losses and
    record how close to a stationary point of H each bounded run ends by t = 60 (a finite horizon decides no limit
    statement)."""
    gen = torch.Generator().manual_seed(seed)
    losses = {
        "kappa=4 quadratic (Cautious §3.1)": _diag_quadratic([8.0, 2.0]),
        "Figure 1 quadratic (AMS/Grams)": _diag_quadratic([0.5, 0.02]),
        "nonconvex separable": smooth.LOSS_FAMILIES["separable_mixed"](1, 2, gen),
    }
    n_starts = {"quick": 1, "standard": 2, "thorough": 4}[budget]
    out = {}
    for sys_name in systems:
        system = dyn.SYSTEMS[sys_name]
        for lname, problem in losses.items():
            for k in range(n_starts):
                w0 = torch.tensor([[1.0, 1.0]], dtype=_F64) if k == 0 else torch.randn(1, 2, generator=gen, dtype=_F64)
                s0 = torch.zeros(1, 2 * system.state_blocks, dtype=_F64)
                tr = dyn.trajectory(system, problem, w0, s0, t_end=60.0, max_restarts=20, zeno_step=1e-2)
                s_end = torch.tensor(tr.s[-1:])
                out[f"{sys_name} / {lname} / start {k}"] = {
                    "initial_grad_L": float(problem.grad(w0).norm()), "final_grad_L": tr.final_grad_norm,
                    "final_grad_K": float(s_end.norm()), "max_H_increase": tr.max_H_increase,
                    "switches": tr.switches, "bounded": bool(abs(tr.w).max() < 1e6)}
    return out


def convergence_verdict(word, summary, parts, runs, scope):
    """A convergence claim judged by LaSalle's invariance principle: ``word`` with ``summary``, ``proved`` when
    every pointwise condition is proved (``parts``: ``[(label, proof or None)]``), else ``not-checkable``;
    ``scope``: what the conditions were proved for; ``runs`` (:func:`trajectory_illustration`) are kept as
    illustrations."""
    open_parts = [label for label, p in parts if p is None or not p.proved]
    if open_parts:
        return Verdict("not-checkable", "the invariance conditions were not proved: " + ", ".join(open_parts),
                       {"trajectories (illustration)": runs}, strength=no_evidence("open pointwise conditions"))
    bundle = proofs.Bundle(parts)
    evidence = {"argument": LASALLE, "conditions": {label: p.status for label, p in parts}, "scope": scope,
                "point or set": SET_NOT_POINT, "trajectories (illustration, t = 60)": runs}
    return Verdict(word, summary, evidence, reading=SET_READING,
                   strength=proved(f"LaSalle's invariance principle (cited) with its pointwise conditions proved "
                                   f"by the engine ({bundle.seconds:.2f} s)", bundle))
