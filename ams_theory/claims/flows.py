r"""Judging pointwise claims about continuous-time systems ``(w, s)' = field(w, s)``
(:mod:`ams_theory.engines.dynamics`): Hamiltonian descent identities and monotonicity, and convergence by
LaSalle's invariance principle.

A claim is a *margin*, ``margin(system, mode, problem, w, s)``, with ``margin.relation`` ``"== 0"`` (an identity,
e.g. dH/dt = the stated closed form) or ``"<= 0"`` (a sign condition, e.g. dH/dt <= -Delta_H), evaluated in three
modes:

- proof: exact expressions in a symbolic gradient ``g`` and state, for every differentiable loss
  (:class:`ams_theory.engines.dynamics.LinearLoss`) and with the hyperparameters as symbols over their ranges;
  :func:`prove` reduces the claim to one coordinate and proves it, or refutes it with an exactly re-checked model
  (:func:`ams_theory.engines.coordinates.per_coordinate`).
- ``"torch"``: :func:`search` over random states of quadratic and separable losses at fixed hyperparameters,
  the true rate from autograd (:func:`ams_theory.engines.dynamics.true_rates`).
- ``"exact"``: the search's worst violation re-checked in rationals (:func:`ams_theory.engines.dynamics.exact_rates`).

A claim's parts are judged by :func:`judge` (search and proof) and turned into a registry verdict by
:func:`verdict_from`: an exact refutation first, then ``holds``, ``proved`` where every part is proved.
"""
from __future__ import annotations

import math
from fractions import Fraction

import sympy as sp
import torch

from ams_theory.claims.registry import Correction, Verdict, no_evidence, proved, searched, weakest
from ams_theory.core.ops import SympyOps
from ams_theory.engines import coordinates, proofs, repairs, smooth
from ams_theory.engines import dynamics as dyn
from ams_theory.engines.symbolic import exact_number

__all__ = ["C_PHI", "C_PSI", "SEARCH_FAMILIES", "EXACT_FAMILIES", "SEARCH_STATES", "SEARCH_DIMS", "search",
           "rates", "ops_of", "pointwise_margin", "identity", "nonpositive", "allowance", "prove", "for_every_d",
           "abstract_mask", "symbolic_mask_system", "judge", "verdict_from", "holds_summary", "judge_correction",
           "one_coordinate", "rate_at_one_coordinate", "engine_judge", "identity_repairs",
           "LASALLE", "lasalle_conditions", "trajectory_illustration", "convergence_verdict"]

_F64 = torch.float64
SEARCH_FAMILIES = ("quadratic_diagonal", "quadratic_indefinite", "quadratic_convex", "separable_mixed")
EXACT_FAMILIES = ("quadratic_diagonal", "quadratic_indefinite", "quadratic_convex")   # a violation re-checks exactly
SEARCH_STATES = {"quick": 2_000, "standard": 20_000, "thorough": 100_000}   # random states per loss family and d
SEARCH_DIMS = (1, 2, 4)

# Phi(x) = c_phi x, Psi(x) = c_psi x of system (5) (Cautious paper), c >= 0: the symbols of the proofs
C_PHI, C_PSI = sp.symbols("c_phi c_psi", nonnegative=True)


# ----------------------------------------------------------------------------- search

def _states(system, problem, gen):
    """Random states ``(w, s)``: ``w`` normal with a random scale per instance; ``s`` normal with 5% zeros
    (Adam's ``[m, v]``: ``v = exp(normal) > 0``)."""
    B_, d = problem.batch, problem.d
    w = torch.randn(B_, d, generator=gen, dtype=_F64) * torch.exp(torch.randn(B_, 1, generator=gen, dtype=_F64))
    s = torch.randn(B_, d * system.state_blocks, generator=gen, dtype=_F64)
    if system.state_blocks == 2:
        m, v = torch.chunk(s, 2, dim=-1)
        v = torch.exp(torch.randn(B_, d, generator=gen, dtype=_F64))
        s = torch.cat([m, v], dim=-1)
    zero = torch.rand(s.shape, generator=gen, dtype=_F64) < 0.05
    if system.state_blocks == 1:
        s = torch.where(zero, torch.zeros_like(s), s)
    return w, s


def _rational_state(system, w, s):
    """Short rationals near the float state (denominators <= 1024); for Adam, v is made a square of a
    rational so that sqrt(v) stays rational and the exact re-check is fast. The exact margin is then
    computed at this state itself, so the certificate does not depend on the float one."""
    near = lambda x: sp.Rational(Fraction(float(x)).limit_denominator(1024))
    wr = SympyOps.asarray([near(x) for x in w])
    if system.state_blocks == 2:
        m, v = torch.chunk(s, 2)
        root = [sp.Rational(max(1, round(math.sqrt(float(x)) * 64)), 64) for x in v]
        sr = SympyOps.asarray([near(x) for x in m] + [r * r for r in root])
    else:
        sr = SympyOps.asarray([near(x) for x in s])
    return wr, sr


def _system(system):
    return dyn.SYSTEMS[system] if isinstance(system, str) else system


def search(system, margin, budget, seed, families=SEARCH_FAMILIES, dims=SEARCH_DIMS):
    """Max of ``margin(system, "torch", problem, w, s)`` over random states (``system``: a
    :class:`~ams_theory.engines.dynamics.System` or a name in ``dynamics.SYSTEMS``); a violation is a margin above
    ``1e-9 (1 + |scale|)``. Returns the search's statistics and ``(certificate, recheck)`` for the worst violation
    on a quadratic, re-checked at a nearby rational state (or None)."""
    system = _system(system)
    n, bad, worst, worst_inst = 0, 0, -math.inf, None
    for fi, fam in enumerate(families):
        for d in dims:
            gen = torch.Generator().manual_seed(seed * 7919 + fi * 31 + d)
            problem = smooth.LOSS_FAMILIES[fam](SEARCH_STATES[budget], d, gen)
            w, s = _states(system, problem, gen)
            m, applicable, scale = margin(system, "torch", problem, w, s)
            m = torch.where(applicable, m, torch.full_like(m, -math.inf)).reshape(-1)
            viol = m > 1e-9 * (1 + scale.reshape(-1).abs())
            n += int(applicable.sum())
            bad += int(viol.sum())
            i = int(torch.argmax(m))
            if fam in EXACT_FAMILIES and float(m[i]) > worst and viol[i]:
                worst, worst_inst = float(m[i]), (problem.select(i), w[i], s[i])
    cert = None
    if worst_inst is not None:
        problem, w, s = worst_inst
        exact = dyn.SymbolicQuadratic(smooth.exact_quadratic(problem, 0))
        wr, sr = _rational_state(system, w, s)
        value = _exact_margin(margin, system, exact, wr, sr)
        if value > 0:
            cert = {"system": system.name, "family": problem.family, "w": [str(x) for x in wr],
                    "s": [str(x) for x in sr], "A": str(exact.A.tolist()), "b": str(list(exact.b)),
                    "c": str(exact.c), "exact_margin": str(value), "margin_approx": float(value)}

            def recheck(system=system, exact=exact, wr=wr, sr=sr):
                return bool(_exact_margin(margin, system, exact, wr, sr) > 0)
            cert = (cert, recheck)
    return {"states": n, "violations": bad, "worst": worst if bad else None, "families": list(families),
            "dims": list(dims), "per_family_and_d": SEARCH_STATES[budget], "seed": seed,
            "hyperparameters": _numeric_params(system)}, cert


def _numeric_params(system):
    return {k: v for k, v in system.params.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _exact_margin(margin, system, problem, w, s):
    """The exact margin of a violation: ``|difference|`` for an identity, the value for a sign condition."""
    value = exact_number(margin(system, "exact", problem, w, s))
    return sp.Abs(value) if margin.relation == "== 0" else value


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


def allowance(name):
    """An allowance read from the system's parameters (``delta_H``, ``delta_L``, ``gamma_m_tilde``)."""
    return lambda system, ops, problem, w, s: system.params[name](ops, problem, w, s)


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


def abstract_mask(K, c_phi=C_PHI, c_psi=C_PSI):
    """System (5) of the Cautious paper with mask values phi_i left free (any real numbers): what is proved for it
    holds for every mask, eq. (1)'s and the inner-product mask included. ``make(d)``: at dimension d, or
    dimension-generic (``d=None``: phi is a generic vector)."""
    def make(d):
        if d is None:
            phi = coordinates.generic_vector("phi", real=True)
            return dyn.general("any_mask", K, lambda ops, k, g: phi, c_phi=c_phi, c_psi=c_psi)
        phi = sp.symbols(f"phi0:{d}", real=True)
        return dyn.general("any_mask", K, lambda ops, k, g: SympyOps.asarray(list(phi)), c_phi=c_phi, c_psi=c_psi)
    return make


def symbolic_mask_system(phi, K=dyn.K_QUADRATIC):
    """System (5) of the Cautious paper with the mask ``phi``, Phi(x) = c_phi x and Psi(x) = c_psi x for every
    c_phi, c_psi >= 0 (symbols), as ``make(d)`` for :func:`prove`."""
    return for_every_d(dyn.general("symbolic", K, phi, c_phi=C_PHI, c_psi=C_PSI))


# ----------------------------------------------------------------------------- judging parts into a verdict

def judge(parts, budget, seed):
    """Run each part ``(label, numeric system, margin, make or None, hypotheses)``: :func:`search` on the numeric
    system and, where ``make`` is given, :func:`prove`. Returns ``[(label, stats, search certificate, proof)]``."""
    out = []
    for label, system, margin, make, hyps in parts:
        stats, cert = search(system, margin, budget, seed)
        proof = prove(make, margin, hyps, label) if make is not None else None
        out.append((label, stats, cert, proof))
    return out


def _coverage(stats):
    return {"states": stats["states"], "families": stats["families"], "dims": stats["dims"],
            "per_family_and_d": stats["per_family_and_d"], "seed": stats["seed"],
            "hyperparameters": stats.get("hyperparameters", {})}


def _part_strength(label, proof, stats):
    if proof is not None and proof.proved:
        return proved(f"{label}: proved for every d, state and hyperparameter in range", proof)
    why = "" if proof is None else f" (proof engine: {proof.status}; {proof.reduction})"
    return searched(f"{label}: searched{why}", **_coverage(stats))


def _parts_strength(results):
    strengths = [_part_strength(label, proof, stats) for label, stats, _, proof in results]
    if all(st.level == "proved" for st in strengths):
        bundle = proofs.Bundle([(label, proof) for label, _, _, proof in results])
        return proved(f"every part proved by the proof engine ({bundle.seconds:.2f} s)", bundle)
    return weakest(*strengths, basis="searched where the proof engine did not close a part; proved parts listed")


def _certificate(label, proof):
    """A refutation from the engine: its model, re-checked exactly by the registry."""
    return ({"part": label, "source": "proof engine model (d = 1)", "model": proof.model,
             "hypotheses": list(proof.hypotheses), "statement": proof.statement}, proof.certify)


def verdict_from(results, holds_text, refuted_text, correction=None, word_if_refuted="refuted"):
    """The verdict of one claim's literal parts (``results`` from :func:`judge`): the first part refuted by the
    engine or by the search's exact certificate gives ``word_if_refuted`` with ``refuted_text(label, stats,
    certificate)``; float violations without a certificate give ``not-checkable``; else ``holds`` with
    ``holds_text(states searched, strength level)``, ``proved`` when every part is."""
    evidence = {label: {**stats, "proof": proof.status if proof else "not attempted"}
                for label, stats, _, proof in results}
    for label, stats, cert, proof in results:
        if proof is not None and proof.status == "refuted":
            c, recheck = _certificate(label, proof)
            return Verdict(word_if_refuted, refuted_text(label, stats, c), evidence, c, correction, recheck,
                           strength=proved("exact counterexample from the proof engine, re-checked in rational "
                                           "arithmetic"))
        if cert:
            c, recheck = cert
            return Verdict(word_if_refuted, refuted_text(label, stats, c), evidence, {**c, "part": label},
                           correction, recheck, strength=proved("exact counterexample from the search, re-checked "
                                                                "in rational arithmetic"))
    for label, stats, _, _ in results:
        if stats["violations"]:
            return Verdict("not-checkable", f"{label}: float violations without an exact certificate", evidence,
                           correction=correction, strength=no_evidence("float violations only"))
    strength = _parts_strength(results)
    total = sum(stats["states"] for _, stats, _, _ in results)
    return Verdict("holds", holds_text(total, strength.level), evidence, correction=correction, strength=strength)


def holds_summary(total, level="searched"):
    """The summary of a claim that holds, after ``total`` searched states."""
    if level == "proved":
        return ("proved for every dimension, state and hyperparameter in range; no violation either at "
                f"{total:,} random states")
    return f"no violation at {total:,} random states (quadratic and separable losses, d in 1, 2, 4)"


def judge_correction(statement, results):
    """A correction judged like a literal claim (``results`` from :func:`judge`): proved parts, or the first
    refuted part's certificate."""
    for label, stats, cert, proof in results:
        if proof is not None and proof.status == "refuted":
            c, recheck = _certificate(label, proof)
            return Correction(statement, "refuted", proved("exact counterexample from the proof engine"),
                              {label: st for label, st, _, _ in results}, c, recheck)
        if cert:
            return Correction(statement, "refuted", proved("exact counterexample from the search"),
                              {label: st for label, st, _, _ in results}, cert[0], cert[1])
    return Correction(statement, "holds", _parts_strength(results),
                      {label: {**st, "proof": p.status if p else "not attempted"} for label, st, _, p in results})


# ----------------------------------------------------------------------------- repairs: single edits

def one_coordinate(make):
    """One coordinate of ``make``'s system: ``([dH/dt, dL/dt], at, roots)`` with v = r^2 put in, ``at(form)``
    evaluating a form there (a key of ``system.stated`` or a form ``(system, ops, problem, w, s)``) and ``roots``
    the r of v = r^2 (Adam). The edits act on this coordinate's term (the stated forms are sums of coordinate
    terms, so an edit of the term is an edit of every coordinate's)."""
    system = make(1)
    g, w, s, subs = _inputs(system, dyn.SYM, coordinates.concrete_vectors(1))
    loss = dyn.LinearLoss(g)
    at = lambda form: sp.sympify(_form(form)(system, dyn.SYM, loss, w, s)).xreplace(subs)
    rates_at = [sp.sympify(x).xreplace(subs) for x in dyn.symbolic_rates(system, loss, w, s)]
    return rates_at, at, [r.base for r in subs.values()]


def rate_at_one_coordinate(make, which="H"):
    """dH/dt (``which="H"``) or dL/dt at one coordinate of ``make``'s system (:func:`one_coordinate`)."""
    (dH, dL), _, _ = one_coordinate(make)
    return dH if which == "H" else dL


def engine_judge(spec):
    """Judge an edited pointwise statement ``(relation, expression, hypotheses)`` with the proof engine."""
    relation, expr, hyps = spec
    p = proofs.decide(expr, relation, hyps)
    certified = p.proved or (p.status == "refuted" and p.certify())
    return proofs.VERDICT_OF[p.status], "proved" if certified else "none", str(p.model) if p.model else ""


def identity_repairs(make, form, which, hypotheses=(), given=(), eps=None):
    """The repair neighbourhood of an identity ``true rate == stated form``: ``given(true, stated, at)`` edits
    (the check's own: hypotheses, readings, the hand-written correction) first, then the edits generated from the
    stated form (:func:`ams_theory.engines.repairs.expression_edits`), all decided by the engine at one coordinate
    (:func:`one_coordinate`). ``form``: a key of ``system.stated`` or a form ``(system, ops, problem, w, s)``."""
    (dH, dL), at, roots = one_coordinate(make)
    true = dH if which == "H" else dL
    closed = at(form)
    generated = [repairs.Edit(kind, text, ("== 0", true - new, tuple(hypotheses)))
                 for kind, text, new in repairs.expression_edits(closed, eps=eps, roots=roots)]
    return repairs.search(list(given(true, closed, at)) + generated, engine_judge)


# ----------------------------------------------------------------------------- convergence (LaSalle) and trajectories

LASALLE = ("LaSalle's invariance principle, in its form for Filippov solutions of discontinuous fields (Bacciotti "
           "and Ceragioli, 1999; Shevitz and Paden, 1994): if H is C^1 and every element of the Filippov set of the "
           "field has <grad H, f> <= 0, a bounded solution tends to the largest weakly invariant subset of "
           "{0 in dH/dt}. The masked fields are discontinuous where x_i = 0, so solutions are taken in Filippov's "
           "sense; the pointwise bounds below hold for every mask value, hence for every convex combination of "
           "the limits of the field at a discontinuity.")


def _velocity_at_rest_value(system, mode, problem, w, s):
    """|ds/dt - g|^2 at s = 0: on a solution with s(t) = 0 for all t, ds/dt = 0 forces g = grad L(w) = 0."""
    ops = ops_of(mode)
    zero = ops.mul(s, 0)
    _, ds = system.field(ops, problem, w, zero)
    gap = ds - problem.grad(w)
    return ops.dot(gap, gap)


def _psi_norm(system, ops, problem, w, s):
    """<grad K(s), Psi(grad K(s))> = c_psi |grad K(s)|^2 for K = |s|^2/2: the allowance of condition (a)."""
    return system.params["c_psi"] * ops.dot(s, s)


_VELOCITY_AT_REST = pointwise_margin("== 0", _velocity_at_rest_value)
_DESCENT_BY_PSI = nonpositive("H", _psi_norm)


def lasalle_conditions(label, make, every_mask=False):
    """The pointwise conditions of the invariance argument (:data:`LASALLE`) for one system, proved by the engine,
    for K = |s|^2/2 with Phi(x) = c_phi x (c_phi >= 0) and Psi(x) = c_psi x (c_psi > 0: |.|_Psi positive definite,
    Psi(0) = 0):

    (a) dH/dt <= -c_psi |s|^2, so dH/dt = 0 only where s = 0; ``every_mask``: for system (5) with free mask
        values (:func:`abstract_mask`), through the identity of Thm. 2.1 (proved for every mask) and the mask
        condition x^T(1 - phi(x)) <= 0;
    (b) at s = 0, ds/dt = g: a solution staying in {s = 0} has g = 0, i.e. rests at a stationary point of
        H (grad_w H = g = 0, grad_s H = s = 0).

    Returns ``[(label, proof)]``."""
    if every_mask:
        descent = (f"{label}: dH identity (every mask)", prove(make, identity("dH", "H"), (), "dH identity"))
    else:
        descent = (f"{label}: dH/dt <= -c_psi |s|^2", prove(make, _DESCENT_BY_PSI, (), label))
    return [descent, (f"{label}: ds/dt = g at s = 0", prove(make, _VELOCITY_AT_REST, (), label))]


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


def convergence_verdict(word, summary, parts, runs):
    """A convergence claim judged by LaSalle's invariance principle: ``word`` with ``summary``, ``proved`` when the
    engine proves every pointwise condition (``parts`` from :func:`lasalle_conditions`), else ``not-checkable``;
    ``runs`` (:func:`trajectory_illustration`) are kept as illustrations."""
    bundle = proofs.Bundle(parts)
    if not bundle.proved:
        return Verdict("not-checkable", "the proof engine did not close the invariance conditions: "
                       + ", ".join(label for label, p in parts if not p.proved),
                       {"trajectories (illustration)": runs}, strength=no_evidence("open pointwise conditions"))
    evidence = {"argument": LASALLE, "conditions": {label: p.status for label, p in parts},
                "scope": "K = |s|^2/2, Phi(x) = c_phi x with c_phi >= 0, Psi(x) = c_psi x with c_psi > 0; L C^1",
                "trajectories (illustration, t = 60)": runs}
    return Verdict(word, summary, evidence,
                   strength=proved(f"LaSalle's invariance principle (cited) with its pointwise conditions proved "
                                   f"by the engine ({bundle.seconds:.2f} s)", bundle))
