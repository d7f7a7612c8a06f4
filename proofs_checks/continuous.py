r"""Continuous-time claims: Hamiltonian descent identities and monotonicity (Cautious paper §2, A.1-A.3;
AMS/Grams paper Def. 5.6, Thm. E.2-E.4, Cor. 5.10).

Pointwise checks evaluate, over many random states (torch, batched), the true
rate dH/dt or dL/dt along the field (autograd of H, see
:func:`ams_theory.dynamics.true_rates`) against the paper's closed form or
claimed sign. A float disagreement is re-checked exactly: the state is
converted to rationals, sympy differentiates H and evaluates field and closed
form exactly (:func:`ams_theory.dynamics.exact_rates`), on a quadratic loss
whose data and smoothness are exact. Convergence claims (Cor. 2.2, 5.10) are
checked along scipy trajectories.
"""
from __future__ import annotations

import math
from fractions import Fraction

import sympy as sp
import torch

from ams_theory import dynamics as dyn
from ams_theory import smooth
from ams_theory.backends import SympyOps
from ams_theory.registry import Verdict, register

DT = torch.float64
FAMILIES = ("quadratic_diagonal", "quadratic_indefinite", "quadratic_convex", "separable_mixed")
EXACT_FAMILIES = ("quadratic_diagonal", "quadratic_indefinite", "quadratic_convex")
BUDGET = {"quick": 2_000, "standard": 20_000, "thorough": 100_000}
DIMS = (1, 2, 4)


def _states(system, problem, gen):
    B, d = problem.batch, problem.d
    w = torch.randn(B, d, generator=gen, dtype=DT) * torch.exp(torch.randn(B, 1, generator=gen, dtype=DT))
    s = torch.randn(B, d * system.state_blocks, generator=gen, dtype=DT)
    if system.state_blocks == 2:                     # Adam: (m, v), v > 0
        m, v = torch.chunk(s, 2, dim=-1)
        v = torch.exp(torch.randn(B, d, generator=gen, dtype=DT))
        s = torch.cat([m, v], dim=-1)
    zero = torch.rand(s.shape, generator=gen, dtype=DT) < 0.05
    if system.state_blocks == 1:
        s = torch.where(zero, torch.zeros_like(s), s)
    return w, s


def _rational(x):
    return sp.Rational(Fraction(float(x)))


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


def search(system_name, margin, budget, seed, families=FAMILIES):
    """Max of ``margin(system, ops_mode, problem, w, s)`` over random states; returns stats and an exact
    certificate for the worst violation (or None)."""
    system = dyn.SYSTEMS[system_name]
    n, bad, worst, worst_inst = 0, 0, -math.inf, None
    for fi, fam in enumerate(families):
        for d in DIMS:
            gen = torch.Generator().manual_seed(seed * 7919 + fi * 31 + d)
            problem = smooth.FAMILIES[fam](BUDGET[budget], d, gen)
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
        value = margin(system, "exact", exact, wr, sr)
        if value > 0:
            cert = {"system": system_name, "family": problem.family, "w": [str(x) for x in wr],
                    "s": [str(x) for x in sr], "A": str(exact.A.tolist()), "b": str(list(exact.b)),
                    "c": str(exact.c), "exact_margin": str(value), "margin_approx": float(value)}

            def recheck(system=system, exact=exact, wr=wr, sr=sr):
                return bool(margin(system, "exact", exact, wr, sr) > 0)
            cert = (cert, recheck)
    return {"states": n, "violations": bad, "worst": worst, "families": list(families), "dims": list(DIMS),
            "per_family_and_d": BUDGET[budget], "seed": seed}, cert


# ----------------------------------------------------------------------------- margins

def _rates(system, mode, problem, w, s):
    if mode == "torch":
        return dyn.true_rates(system, problem, w, s)
    return dyn.exact_rates(system, problem, w, s)


def _stated(system, key, mode, problem, w, s):
    ops = dyn.T1 if mode == "torch" else dyn.SYM
    v = system.stated[key](ops, problem, w, s)
    return v if mode == "torch" else sp.simplify(v)


def _applicable(system, mode, s):
    if mode != "torch":
        return True
    ok = torch.ones(s.shape[0], 1, dtype=torch.bool)
    return ok if system.domain is None else system.domain(s)


def identity(key, which):
    """|true rate - stated form| as a margin (relative tolerance 1e-9)."""
    def margin(system, mode, problem, w, s):
        dH, dL = _rates(system, mode, problem, w, s)
        true = dH if which == "H" else dL
        stated = _stated(system, key, mode, problem, w, s)
        if mode == "torch":
            scale = true.abs() + stated.abs() + 1
            return (true - stated).abs() - 1e-9 * scale, _applicable(system, mode, s), scale
        return sp.Abs(sp.nsimplify(true - stated))
    return margin


def nonpositive(which, extra=None):
    """true rate (minus an allowance, e.g. -Delta_L) must be <= 0."""
    def margin(system, mode, problem, w, s):
        dH, dL = _rates(system, mode, problem, w, s)
        value = dH if which == "H" else dL
        if extra is not None:
            ops = dyn.T1 if mode == "torch" else dyn.SYM
            value = value + extra(system, ops, problem, w, s)
        if mode == "torch":
            return value, _applicable(system, mode, s), value.abs() + 1
        return sp.nsimplify(sp.simplify(value))
    return margin


def _delta(name):
    return lambda system, ops, problem, w, s: system.params[name](ops, problem, w, s)


def _verdict_from(results, holds_text, refuted_text, correction=None, word_if_refuted="refuted"):
    """results: list of (label, stats, cert) for one claim's literal parts."""
    evidence = {label: stats for label, stats, _ in results}
    for label, stats, cert in results:
        if cert:
            c, recheck = cert
            return Verdict(word_if_refuted, refuted_text(label, stats, c), evidence, {**c, "part": label},
                           correction, recheck)
    for label, stats, _ in results:
        if stats["violations"]:
            return Verdict("not-checkable", f"{label}: float violations without an exact certificate", evidence,
                           correction=correction)
    total = sum(stats["states"] for _, stats, _ in results)
    return Verdict("holds", holds_text(total), evidence, correction=correction)


def _holds(total):
    return f"no violation at {total:,} random states (quadratic and separable losses, d in 1, 2, 4)"


def _run(parts, budget, seed):
    return [(label, *search(system, margin, budget, seed)) for label, system, margin in parts]


# ----------------------------------------------------------------------------- the Cautious paper

@register("cautious.2.1", "continuous",
          "System (5): dH/dt = x^T(1 - phi(x)) - Delta_H and dL/dt = -x^T phi(x) - |grad L|_Phi^2 = "
          "x^T(1 - phi(x)) - Delta_L; with x^T(1-phi) <= 0 both decrease at least as fast as in (2), "
          "with x^T phi >= 0 L decreases.")
def check_2_1(budget="standard", seed=0):
    parts = []
    for name in ("cautious_eq1", "cautious_indicator", "cautious_ge_l1", "cautious_phi_c", "cautious_inner"):
        parts += [(f"{name}: dH identity", name, identity("dH", "H")),
                  (f"{name}: dL identity", name, identity("dL", "L"))]
    for name in ("cautious_indicator", "cautious_ge_l1", "cautious_phi_c", "cautious_inner"):  # x^T(1-phi) <= 0
        parts += [(f"{name}: dH <= -Delta_H", name, nonpositive("H", _delta("delta_H"))),
                  (f"{name}: dL <= -Delta_L", name, nonpositive("L", _delta("delta_L"))),
                  (f"{name}: dL <= 0", name, nonpositive("L"))]
    return _verdict_from(_run(parts, budget, seed), lambda n: _holds(n) + "; masks: eq. (1), 1(x>0), "
                         "1(x>=0) with K = |s|_1, phi_c, inner-product mask", lambda label, st, c: f"{label} fails")


@register("cautious.A1", "continuous",
          "Continuous Adam with H = L + 1/(2a)<m/(sqrt(v)+e), m>: dH/dt <= 0 when a >= b/4.")
def check_a1(budget="standard", seed=0):
    results = _run([("adam (a = 0.9, b = 0.999)", "adam", nonpositive("H"))], budget, seed)
    below, cert_below = search("adam_small_a", nonpositive("H"), budget, seed)
    verdict = _verdict_from(results, _holds, lambda label, st, c: f"{label}: dH/dt > 0")
    verdict.evidence["a = 0.2 < b/4 (condition violated)"] = {**below, "exact_certificate": bool(cert_below)}
    return verdict


@register("cautious.A3.1.formula", "continuous",
          "dH/dt = -(b/4a)<m^2/(v^{3/2} + e), g^2> - (1 - b/4a)<m/(sqrt(v) + e), m> for continuous Adam.")
def check_a31_formula(budget="standard", seed=0):
    results = _run([("stated closed form", "adam", identity("dH", "H"))], budget, seed)
    fixed, _ = search("adam", identity("dH_with_e", "H"), budget, seed)
    correction = {"statement": "with D = sqrt(v) + e: dH/dt = -<m^2, 1/D> + (b/4a)<m^2 sqrt(v), 1/D^2> - "
                               "(b/4a)<m^2 g^2, 1/(D^2 sqrt(v))>; it reduces to the stated form at e = 0",
                  "verdict": "holds" if not fixed["violations"] else "refuted", "evidence": fixed}
    return _verdict_from(results, _holds, lambda label, st, c: "the closed form places e wrongly (v^{3/2} + e "
                         f"and sqrt(v) + e in the second term): {st['violations']:,} of {st['states']:,} states "
                         "differ", correction)


@register("cautious.A3.1.cadam", "continuous",
          "Cautious Adam (w' = -1(g o m > 0) o m/(sqrt(v)+e)): dL/dt = -g^T(1(g o m > 0) o m/(sqrt(v)+e)) <= 0 "
          "and H of (12) still decreases.")
def check_a31_cadam(budget="standard", seed=0):
    parts = [("dL identity", "cautious_adam", identity("dL", "L")), ("dL <= 0", "cautious_adam", nonpositive("L")),
             ("dH <= 0 (a = 0.9 >= b/4)", "cautious_adam", nonpositive("H"))]
    verdict = _verdict_from(_run(parts, budget, seed), lambda n: _holds(n) + " (with a >= b/4, the condition "
                            "of the Adam paragraph)", lambda label, st, c: f"{label} fails")
    below, _ = search("cautious_adam_small_a", nonpositive("H"), budget, seed)
    verdict.evidence["a = 0.2 < b/4: dH > 0 states"] = below["violations"]
    if verdict.word == "holds" and below["violations"]:
        verdict.word = "conditional"
        verdict.summary = "holds when a >= b/4 (stated for Adam, not restated for cautious Adam); " + verdict.summary
    return verdict


@register("cautious.A3.2", "continuous",
          "Signed momentum: H = L + |m|_1 has dH/dt = -|m|_1; cautious form: dL/dt = -|g o 1(g o m > 0)|_1 and "
          "H still decreases.")
def check_a32(budget="standard", seed=0):
    parts = [("dH = -|m|_1", "signed_momentum", identity("dH", "H")),
             ("cautious dL identity", "cautious_signed_momentum", identity("dL", "L")),
             ("cautious dH <= 0", "cautious_signed_momentum", nonpositive("H"))]
    return _verdict_from(_run(parts, budget, seed), _holds, lambda label, st, c: f"{label} fails")


@register("cautious.A3.3", "continuous",
          "Lion: H = alpha L + (1 - eps gamma)|m|_1, dH/dt = -(1 - eps gamma)|m~|_1 - gamma|m|_1; cautious Lion "
          "keeps H decreasing.")
def check_a33(budget="standard", seed=0):
    parts = [("stated dH/dt", "lion", identity("dH", "H"))]
    results = _run(parts, budget, seed)
    signs = _run([("Lion dH <= 0", "lion", nonpositive("H")),
                  ("cautious Lion dH <= 0", "cautious_lion", nonpositive("H"))], budget, seed)
    correction = {"statement": "the true rate, alpha g^T(-sign(m~)) + (1 - eps gamma) sign(m)^T(alpha g - gamma m), "
                               "is <= 0 for Lion and for cautious Lion",
                  "verdict": "refuted" if any(c for _, _, c in signs) else "holds",
                  "evidence": {label: st for label, st, _ in signs}}
    return _verdict_from(results, _holds, lambda label, st, c: f"{label} disagrees with the true rate at "
                         f"{st['violations']:,} of {st['states']:,} states (e.g. at eps = 0 the true rate is "
                         "-gamma|m|_1)", correction)


@register("cautious.A2", "continuous",
          "Lion-K (w' = grad K((1-b)m - b g), m' = -a(g + m)) with H = aL + K((1-b)m)/(1-b) has dH/dt <= 0.")
def check_a2(budget="standard", seed=0):
    parts = [("K = |.|_1", "lion_k_l1", nonpositive("H")), ("K = |.|^2/2", "lion_k_l2", nonpositive("H"))]
    return _verdict_from(_run(parts, budget, seed), lambda n: _holds(n) + " (a = 1, b = 0.3)",
                         lambda label, st, c: f"{label}: dH/dt > 0")


# ----------------------------------------------------------------------------- the AMS/Grams paper, Appendix E

def _e2_literal(system, mode, problem, w, s):
    """Thm. E.2's dH/dt with Delta_H as eq. (16) writes it: <grad L, Phi(grad L)> + <K(s), Psi(K(s))>."""
    dH, _ = _rates(system, mode, problem, w, s)
    ops = dyn.T1 if mode == "torch" else dyn.SYM
    g = problem.grad(w)
    c_phi, c_psi = system.params["c_phi"], system.params["c_psi"]
    Kv = ops.total(ops.abs(s)) if system.params["K"] == "|s|_1" else ops.dot(s, s) / 2
    k = ops.sign(s) if system.params["K"] == "|s|_1" else s
    x = ops.mul(g, k)
    ge = ops.indicator_(ops.copy(x), strict=False)
    stated = ops.total(x * (1 - ge)) - (c_phi * ops.dot(g, g) + c_psi * Kv * Kv)
    if mode == "torch":
        scale = dH.abs() + stated.abs() + 1
        return (dH - stated).abs() - 1e-9 * scale, torch.ones_like(dH, dtype=torch.bool), scale
    return sp.Abs(sp.nsimplify(sp.simplify(dH - stated)))


@register("grams.E2", "continuous",
          "Cautious dynamics with 1(x >= 0): dH/dt = <x, 1 - 1(x >= 0)> - Delta_H, dL/dt = -<x, 1(x >= 0)> - "
          "<grad L, Phi(grad L)>, Delta_H as in eq. (16).")
def check_e2(budget="standard", seed=0):
    literal = _run([("dH with eq. (16) as written (K(s) in place of grad K)", "cautious_ge_l1", _e2_literal)],
                   budget, seed)
    fixed = _run([("dH identity", "cautious_ge_l1", identity("dH", "H")),
                  ("dL identity", "cautious_ge_l1", identity("dL", "L"))], budget, seed)
    correction = {"statement": "with Delta_H = <grad L, Phi(grad L)> + <grad K(s), Psi(grad K(s))> (eq. (3) of the "
                               "Cautious paper) both identities hold; the 'hence' conditions <x, 1 - sign(x)> <= 0 "
                               "and the resulting bounds hold for every x",
                  "verdict": "refuted" if any(c for _, _, c in fixed) else "holds",
                  "evidence": {label: st for label, st, _ in fixed}}
    return _verdict_from(literal, _holds, lambda label, st, c: "eq. (16) writes <K(s), Psi(K(s))> (K a scalar); "
                         f"read literally the identity fails at {st['violations']:,} of {st['states']:,} states",
                         correction)


@register("grams.E3.H", "continuous", "Grams Hamiltonian dynamics (Def. 5.6): dH/dt <= 0.")
def check_e3h(budget="standard", seed=0):
    parts = [("Grams, K = |s|^2/2", "grams", nonpositive("H")), ("Grams, K = |s|_1", "grams_l1", nonpositive("H"))]
    return _verdict_from(_run(parts, budget, seed), _holds, lambda label, st, c: f"{label}: dH/dt > 0")


@register("grams.E3.L", "continuous", "Grams Hamiltonian dynamics: dL/dt <= -Delta_L.")
def check_e3l(budget="standard", seed=0):
    parts = [("Grams, K = |s|^2/2", "grams", nonpositive("L", _delta("delta_L"))),
             ("Grams, K = |s|_1", "grams_l1", nonpositive("L", _delta("delta_L")))]
    return _verdict_from(_run(parts, budget, seed), _holds, lambda label, st, c: f"{label}: dL/dt > -Delta_L")


def _e4(system, mode, problem, w, s):
    """dL/dt of Grams minus dL/dt of the cautious system (mask 1(x >= 0)), same K, Phi, Psi and state."""
    cautious = dyn.SYSTEMS["cautious_ge_q"]
    _, dl_g = _rates(system, mode, problem, w, s)
    _, dl_c = _rates(cautious, mode, problem, w, s)
    value = dl_g - dl_c
    if mode == "torch":
        return value, torch.ones_like(value, dtype=torch.bool), value.abs() + 1
    return sp.nsimplify(sp.simplify(value))


dyn.SYSTEMS["cautious_ge_q"] = dyn.general("cautious_ge_q", dyn.K_QUADRATIC, dyn.CAUTIOUS_GE, c_phi=0.1, c_psi=0.5)


@register("grams.E4", "continuous", "At every state, dL/dt of Grams dynamics <= dL/dt of cautious dynamics.")
def check_e4(budget="standard", seed=0):
    return _verdict_from(_run([("Grams - cautious", "grams", _e4)], budget, seed), _holds,
                         lambda label, st, c: f"{label} > 0")


# ----------------------------------------------------------------------------- convergence along trajectories

def _convergence(systems, budget, seed):
    """Integrate each system from several starts on three losses; bounded runs must end near a stationary
    point of H (|grad L| and |grad K| small)."""
    gen = torch.Generator().manual_seed(seed)
    losses = {
        "kappa=4 quadratic (Cautious §3.1)": _diag_quadratic([8.0, 2.0]),
        "Figure 1 quadratic (AMS/Grams)": _diag_quadratic([0.5, 0.02]),
        "nonconvex separable": smooth.FAMILIES["separable_mixed"](1, 2, gen),
    }
    n_starts = {"quick": 1, "standard": 2, "thorough": 4}[budget]
    out = {}
    for sys_name in systems:
        system = dyn.SYSTEMS[sys_name]
        for lname, problem in losses.items():
            for k in range(n_starts):
                w0 = torch.tensor([[1.0, 1.0]], dtype=DT) if k == 0 else torch.randn(1, 2, generator=gen, dtype=DT)
                s0 = torch.zeros(1, 2 * system.state_blocks, dtype=DT)
                tr = dyn.trajectory(system, problem, w0, s0, t_end=60.0, max_restarts=20, zeno_step=1e-2)
                g0 = float(problem.grad(w0).norm())
                k_end = system.params.get("K", "0.5|s|^2")
                s_end = torch.tensor(tr.s[-1:])
                grad_k = float(s_end.norm()) if k_end == "0.5|s|^2" else float((s_end != 0).double().sum())
                out[f"{sys_name} / {lname} / start {k}"] = {
                    "initial_grad_L": g0, "final_grad_L": tr.final_grad_norm, "final_grad_K": grad_k,
                    "max_H_increase": tr.max_H_increase, "switches": tr.switches,
                    "bounded": bool(abs(tr.w).max() < 1e6)}
    return out


def _diag_quadratic(a):
    a = torch.tensor([a], dtype=DT)
    return smooth.QuadraticProblem(family="quadratic_diagonal_convex", convex=True, L=a.max(-1).values,
                                   A=torch.diag_embed(a), b=torch.zeros_like(a), c=torch.zeros(1, dtype=DT))


def _converged(runs, tol=1e-3, rel=1e-2):
    """Every bounded run ends with |grad L| below 1e-3 or below 1% of its starting value."""
    return all(r["final_grad_L"] < max(tol, rel * r["initial_grad_L"]) for r in runs.values() if r["bounded"])


@register("cautious.2.2", "continuous",
          "With |.|_Psi positive definite and Psi(0) = 0, bounded solutions of (2) and of (5) converge to "
          "stationary points of H.")
def check_2_2(budget="standard", seed=0):
    runs = _convergence(("heavy_ball", "cautious_indicator", "cautious_eq1"), budget, seed)
    if _converged(runs):
        return Verdict("holds", f"all {len(runs)} bounded trajectories (heavy ball, cautious with 1(x>0) and with "
                       "eq. (1)) end with |grad L| below max(1e-3, 1% of its start) by t = 60", {"runs": runs, "t_end": 60,
                       "tolerance": "|grad L(w_end)| < max(1e-3, 0.01 |grad L(w_0)|); rtol 1e-9, atol 1e-12, "
                       "events at switching surfaces"})
    return Verdict("not-checkable", "some bounded trajectory did not reach |grad L| < 1e-3 by t = 60; a finite "
                   "horizon cannot refute a limit statement", {"runs": runs})


@register("grams.5.10", "continuous",
          "Bounded solutions of (15) and of the Grams dynamics (Def. 5.6) converge to stationary points of H.")
def check_5_10(budget="standard", seed=0):
    runs = _convergence(("heavy_ball", "grams"), budget, seed)
    if _converged(runs):
        return Verdict("holds", f"all {len(runs)} bounded trajectories (system (15) and Grams dynamics) end with "
                       "|grad L| below max(1e-3, 1% of its start) by t = 60", {"runs": runs, "t_end": 60})
    return Verdict("not-checkable", "some bounded trajectory did not reach |grad L| < 1e-3 by t = 60; a finite "
                   "horizon cannot refute a limit statement", {"runs": runs})
