r"""Continuous-time claims: Hamiltonian descent identities and monotonicity (Cautious paper §2, A.1-A.3;
AMS/Grams paper Def. 5.6, Thm. E.2-E.4, Cor. 5.10).

Every pointwise claim is judged twice with one margin function per claim, evaluated in three modes:

- ``generic``: exact expressions in a symbolic gradient ``g`` and state, for every differentiable loss
  (:class:`ams_theory.engines.dynamics.LinearLoss`) and with the hyperparameters as symbols over their stated
  ranges; the proof engine (:mod:`ams_theory.engines.proofs`) reduces the claim to one coordinate and proves it, or
  refutes it with an exactly re-checked model. A proved part makes the verdict ``proved``.
- ``torch``: a batched search over random states of quadratic and separable losses at fixed
  hyperparameters, with the true rate from autograd (:func:`ams_theory.engines.dynamics.true_rates`); a cross-check
  of the same fields run on torch, and the only evidence for parts the engine cannot close.
- ``exact``: the search's worst violation re-checked in rationals (:func:`ams_theory.engines.dynamics.exact_rates`).

The convergence claims (Cor. 2.2, 5.10) are judged by LaSalle's invariance principle, whose pointwise
conditions the engine proves; trajectories are kept as illustrations.
"""
from __future__ import annotations

import math
from fractions import Fraction

import sympy as sp
import torch

from ams_theory.claims.registry import Verdict, no_evidence, proved, register, searched, weakest
from ams_theory.core.ops import SympyOps
from ams_theory.engines import dynamics as dyn
from ams_theory.engines import coordinates, proofs, repairs, smooth
from ams_theory.engines.symbolic import exact_number

DT = torch.float64
SEARCH_FAMILIES = ("quadratic_diagonal", "quadratic_indefinite", "quadratic_convex", "separable_mixed")
EXACT_FAMILIES = ("quadratic_diagonal", "quadratic_indefinite", "quadratic_convex")
BUDGET = {"quick": 2_000, "standard": 20_000, "thorough": 100_000}
DIMS = (1, 2, 4)

# hyperparameters of the symbolic systems, with the sign each ranges over
A, B = sp.symbols("a b", positive=True)                       # continuous Adam's rates (Example A.1)
E = sp.Symbol("e", nonnegative=True)                          # Adam's epsilon
C_PHI, C_PSI = sp.symbols("c_phi c_psi", nonnegative=True)    # Phi(x) = c_phi x, Psi(x) = c_psi x
ALPHA = sp.Symbol("alpha", positive=True)                     # Lion (§A.3.3)
GAMMA = sp.Symbol("gamma", nonnegative=True)
EPS = sp.Symbol("epsilon", positive=True)
KA, KB = sp.symbols("a_K b_K", nonnegative=True)              # Lion-K (Example A.2): a >= 0, b in [0, 1)
LION_RANGE = (EPS * GAMMA <= 1,)                               # H = alpha L + (1 - eps gamma)|m|_1 bounded below


def _states(system, problem, gen):
    B_, d = problem.batch, problem.d
    w = torch.randn(B_, d, generator=gen, dtype=DT) * torch.exp(torch.randn(B_, 1, generator=gen, dtype=DT))
    s = torch.randn(B_, d * system.state_blocks, generator=gen, dtype=DT)
    if system.state_blocks == 2:                     # Adam: (m, v), v > 0
        m, v = torch.chunk(s, 2, dim=-1)
        v = torch.exp(torch.randn(B_, d, generator=gen, dtype=DT))
        s = torch.cat([m, v], dim=-1)
    zero = torch.rand(s.shape, generator=gen, dtype=DT) < 0.05
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


def search(system, margin, budget, seed, families=SEARCH_FAMILIES, dims=DIMS):
    """Max of ``margin(system, "torch", problem, w, s)`` over random states; returns stats and an exact
    certificate for the worst violation (or None)."""
    system = _system(system)
    n, bad, worst, worst_inst = 0, 0, -math.inf, None
    for fi, fam in enumerate(families):
        for d in dims:
            gen = torch.Generator().manual_seed(seed * 7919 + fi * 31 + d)
            problem = smooth.LOSS_FAMILIES[fam](BUDGET[budget], d, gen)
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
            "dims": list(dims), "per_family_and_d": BUDGET[budget], "seed": seed,
            "hyperparameters": _numeric_params(system)}, cert


def _numeric_params(system):
    return {k: v for k, v in system.params.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _exact_margin(margin, system, problem, w, s):
    """The exact margin of a violation: ``|difference|`` for an identity, the value for a sign condition."""
    value = exact_number(margin(system, "exact", problem, w, s))
    return sp.Abs(value) if margin.relation == "== 0" else value


# ----------------------------------------------------------------------------- margins (one per kind of claim)

def _rates(system, mode, problem, w, s):
    if mode == "torch":
        return dyn.true_rates(system, problem, w, s)
    if mode == "exact":
        return dyn.exact_rates(system, problem, w, s)
    if isinstance(mode, coordinates.GenericOps):           # a dimension-generic trace (the proofs)
        return coordinates.generic_rates(system, problem, w, s)
    return dyn.symbolic_rates(system, problem, w, s)


def _ops(mode):
    """The back end of ``mode``: torch, the exact one, or the ops object a proof's build passes as its mode."""
    if isinstance(mode, SympyOps):
        return mode
    return dyn.T1 if mode == "torch" else dyn.SYM


def _applicable(system, s):
    ok = torch.ones(s.shape[0], 1, dtype=torch.bool)
    return ok if system.domain is None else system.domain(s)


def _margin(relation, value):
    """A margin from ``value(system, mode, problem, w, s)``: the claim is ``value == 0`` or ``value <= 0``;
    in torch mode it returns ``(margin, applicable, scale)`` with a relative tolerance of 1e-9."""
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


def identity(key, which):
    """true rate (dH/dt or dL/dt) - the stated closed form ``system.stated[key]`` == 0."""
    def value(system, mode, problem, w, s):
        dH, dL = _rates(system, mode, problem, w, s)
        true = dH if which == "H" else dL
        stated = system.stated[key](_ops(mode), problem, w, s)
        if mode == "torch":
            return true - stated, true.abs() + stated.abs() + 1
        return true - stated
    return _margin("== 0", value)


def nonpositive(which, extra=None):
    """true rate (plus an allowance ``extra``, e.g. Delta_L for dL/dt <= -Delta_L) <= 0."""
    def value(system, mode, problem, w, s):
        dH, dL = _rates(system, mode, problem, w, s)
        v = dH if which == "H" else dL
        return v if extra is None else v + extra(system, _ops(mode), problem, w, s)
    return _margin("<= 0", value)


def _param(name):
    """An allowance read from the system (``delta_H``, ``delta_L``, ``gamma_m_tilde``)."""
    return lambda system, ops, problem, w, s: system.params[name](ops, problem, w, s)


def _psi_norm(system, ops, problem, w, s):
    """<grad K(s), Psi(grad K(s))> = c_psi |grad K(s)|^2 for K = |s|^2/2: the LaSalle allowance."""
    return system.params["c_psi"] * ops.dot(s, s)


# ----------------------------------------------------------------------------- proofs

def _generic_inputs(system, d):
    """Symbols for one state of dimension ``d``: gradient g_i, state s_i (Adam: m_i and v_i = r_i^2 with
    r_i > 0), and the substitution that puts v_i = r_i^2 after differentiation."""
    g = sp.symbols(f"g0:{d}", real=True)
    w = SympyOps.asarray(sp.symbols(f"W0:{d}", real=True))
    if system.state_blocks == 2:
        m = sp.symbols(f"m0:{d}", real=True)
        v = sp.symbols(f"v0:{d}", positive=True)
        r = sp.symbols(f"r0:{d}", positive=True)
        coords = [(g[i], m[i], r[i]) for i in range(d)]
        return g, w, SympyOps.asarray(list(m) + list(v)), {v[i]: r[i] ** 2 for i in range(d)}, coords
    s = sp.symbols(f"s0:{d}", real=True)
    return g, w, SympyOps.asarray(list(s)), {}, [(g[i], s[i]) for i in range(d)]


def prove(make_system, margin, hypotheses=(), statement=""):
    """Prove ``margin`` (an identity or a sign condition) for every dimension, state and hyperparameter value
    allowed by the symbols' ranges and ``hypotheses``, from one dimension-generic trace
    (:func:`ams_theory.engines.coordinates.per_coordinate`): the rates are derived by the chain rule through the sums
    over coordinates (:func:`ams_theory.engines.coordinates.generic_rates`). ``make_system(d)`` returns the symbolic
    system (``d=None``: dimension-generic) or ``(system, extra)``."""
    def build(ops, vector):
        made = make_system(getattr(vector, "d", None))
        system = made[0] if isinstance(made, tuple) else made
        g, w, s, subs = _inputs(system, ops, vector)
        expr = margin(system, ops, dyn.LinearLoss(g, ops), w, s)
        return sp.sympify(expr).xreplace(subs)
    return coordinates.per_coordinate(build, margin.relation, hypotheses, statement)


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


def abstract_mask(K, c_phi=C_PHI, c_psi=C_PSI):
    """System (5) with mask values phi_i left free (any real numbers): what is proved for it holds for
    every mask, eq. (1)'s and the inner-product mask included. ``make(d)``: at dimension d, or dimension-generic
    (``d=None``: phi is a generic vector)."""
    def make(d):
        if d is None:
            phi = coordinates.generic_vector("phi", real=True)
            return dyn.general("any_mask", K, lambda ops, k, g: phi, c_phi=c_phi, c_psi=c_psi), None
        phi = sp.symbols(f"phi0:{d}", real=True)
        system = dyn.general("any_mask", K, lambda ops, k, g: SympyOps.asarray(list(phi)), c_phi=c_phi, c_psi=c_psi)
        return system, [(p,) for p in phi]
    return make


def _fixed(system):
    return lambda d: system


def _symbolic_general(phi, K=dyn.K_QUADRATIC, grams=False):
    return _fixed(dyn.general("symbolic", K, phi, c_phi=C_PHI, c_psi=C_PSI, grams=grams))


def _part_strength(label, proof, stats):
    if proof is not None and proof.proved:
        return proved(f"{label}: proved for every d, state and hyperparameter in range", proof)
    why = "" if proof is None else f" (proof engine: {proof.status}; {proof.reduction})"
    return searched(f"{label}: searched{why}", **_coverage(stats))


def _coverage(stats):
    return {"states": stats["states"], "families": stats["families"], "dims": stats["dims"],
            "per_family_and_d": stats["per_family_and_d"], "seed": stats["seed"],
            "hyperparameters": stats.get("hyperparameters", {})}


def _judge(parts, budget, seed):
    """Run each part: ``(label, numeric system, margin, make_symbolic or None, hypotheses)``.

    Returns ``[(label, stats, search certificate, proof)]``."""
    out = []
    for label, system, margin, make, hyps in parts:
        stats, cert = search(system, margin, budget, seed)
        proof = prove(make, margin, hyps, label) if make is not None else None
        out.append((label, stats, cert, proof))
    return out


def _certificate(label, proof):
    """A refutation from the engine: its model, re-checked exactly by the registry."""
    return ({"part": label, "source": "proof engine model (d = 1)", "model": proof.model,
             "hypotheses": list(proof.hypotheses), "statement": proof.statement}, proof.certify)


def _verdict_from(results, holds_text, refuted_text, correction=None, word_if_refuted="refuted"):
    """results: ``[(label, stats, cert, proof)]`` for one claim's literal parts (see :func:`_judge`)."""
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


def _parts_strength(results):
    strengths = [_part_strength(label, proof, stats) for label, stats, _, proof in results]
    if all(st.level == "proved" for st in strengths):
        bundle = proofs.Bundle([(label, proof) for label, _, _, proof in results])
        return proved(f"every part proved by the proof engine ({bundle.seconds:.2f} s)", bundle)
    return weakest(*strengths, basis="searched where the proof engine did not close a part; proved parts listed")


def _holds(total, level="searched"):
    if level == "proved":
        return ("proved for every dimension, state and hyperparameter in range; no violation either at "
                f"{total:,} random states")
    return f"no violation at {total:,} random states (quadratic and separable losses, d in 1, 2, 4)"


def _correction(statement, results):
    """A correction judged like a literal claim: proved parts, or the first refuted part's certificate."""
    for label, stats, cert, proof in results:
        if proof is not None and proof.status == "refuted":
            c, recheck = _certificate(label, proof)
            return {"statement": statement, "verdict": "refuted", "counterexample": c, "recheck": recheck,
                    "strength": proved("exact counterexample from the proof engine"),
                    "evidence": {label: st for label, st, _, _ in results}}
        if cert:
            return {"statement": statement, "verdict": "refuted", "counterexample": cert[0], "recheck": cert[1],
                    "strength": proved("exact counterexample from the search"),
                    "evidence": {label: st for label, st, _, _ in results}}
    return {"statement": statement, "verdict": "holds", "strength": _parts_strength(results),
            "evidence": {label: {**st, "proof": p.status if p else "not attempted"} for label, st, _, p in results}}


# --------------------------------------------------------------------------- repairs: single edits of false statements

def _one_coordinate(make):
    """One coordinate of ``make``'s system: ``(system, [dH/dt, dL/dt], at, coordinate symbols)`` with v = r^2 put
    in, ``at(form)`` evaluating ``form(system, problem, w, s)`` there. The edits act on this coordinate's term (the
    stated forms are sums of coordinate terms, so an edit of the term is an edit of every coordinate's)."""
    system = make(1)
    system = system[0] if isinstance(system, tuple) else system
    g, w, s, subs, coords = _generic_inputs(system, 1)
    rates = [sp.sympify(x).xreplace(subs) for x in dyn.symbolic_rates(system, dyn.LinearLoss(g), w, s)]
    return system, rates, (lambda f: sp.sympify(f(system, dyn.LinearLoss(g), w, s)).xreplace(subs)), coords[0]


def engine_judge(spec):
    """Judge an edited pointwise statement ``(relation, expression, hypotheses)`` with the proof engine."""
    relation, expr, hyps = spec
    p = proofs.decide(expr, relation, hyps)
    certified = p.proved or (p.status == "refuted" and p.certify())
    return proofs.VERDICT_OF[p.status], "proved" if certified else "none", str(p.model) if p.model else ""


def identity_repairs(make, stated_form, which, hypotheses=(), given=(), eps=None):
    """The repair neighbourhood of an identity ``true rate == stated form``: ``given(true, stated, at)`` edits
    (the check's own: hypotheses, readings, the hand-written correction) first, then the edits generated from the
    stated form (:func:`ams_theory.engines.repairs.expression_edits`), all decided by the engine at one coordinate.
    ``stated_form(system, problem, w, s)`` gives the stated form."""
    system, (dH, dL), at, coords = _one_coordinate(make)
    true = dH if which == "H" else dL
    stated = at(stated_form)
    roots = [c for c in coords if c.name.startswith("r")]
    generated = [repairs.Edit(kind, text, ("== 0", true - new, tuple(hypotheses)))
                 for kind, text, new in repairs.expression_edits(stated, eps=eps, roots=roots)]
    return repairs.search(list(given(true, stated, at)) + generated, engine_judge)


def _stated(key):
    return lambda system, problem, w, s: system.stated[key](dyn.SYM, problem, w, s)


def _rate_at_one_coordinate(make, which="H"):
    _, (dH, dL), _, _ = _one_coordinate(make)
    return dH if which == "H" else dL


def _repair_json(candidates):
    return {"repairs": [c.to_json() for c in candidates], "repairs_summary": repairs.summary(candidates)}


# ----------------------------------------------------------------------------- the Cautious paper

MASKS_2_1 = {                                  # numeric system, symbolic mask: elementwise masks
    "cautious_indicator": dyn.CAUTIOUS_GT,
    "cautious_ge_l1": dyn.CAUTIOUS_GE,
    "cautious_phi_c": dyn.SYSTEMS["cautious_phi_c"].params["phi"],
}


INNER_MASK = dyn.SYSTEMS["cautious_inner"].params["phi"]
# the inner-product mask stays searched: its (Phi, Psi) = (c_phi x, c_psi x) swept over the boundary c = 0 and beyond
INNER_SWEEP = {f"cautious_inner (c_phi={cp}, c_psi={cs})": dyn.general("cautious_inner", dyn.K_QUADRATIC, INNER_MASK,
                                                                       c_phi=cp, c_psi=cs)
               for cp, cs in ((0.0, 0.0), (0.1, 0.5), (2.0, 0.0), (0.0, 2.0))}


@register("cautious.2.1", source="Thm. 2.1", kind="continuous",
          statement="System (5): dH/dt = x^T(1 - phi(x)) - Delta_H and dL/dt = -x^T phi(x) - |grad L|_Phi^2 = "
          "x^T(1 - phi(x)) - Delta_L; with x^T(1-phi) <= 0 both decrease at least as fast as in (2), "
          "with x^T phi >= 0 L decreases.")
def check_2_1(budget="standard", seed=0, mask=None):
    """Thm. 2.1 of the Cautious paper: the two identities for every mask phi (proved with the mask values
    free), and the consequences for the elementwise masks 1(x > 0), 1(x >= 0) (K = |s|_1), phi_c (proved
    per coordinate) and the inner-product mask (searched: it is not separable over coordinates).

    ``mask``: a user's mask ``mask(ops, u, s) -> phi`` (:mod:`ams_theory.claims.custom`) judged in place of the
    paper's masks (:func:`_check_2_1_for_mask`); ``None``: the paper's."""
    if mask is not None:
        return _check_2_1_for_mask(mask, budget, seed)
    parts = []
    for name, K in (("cautious_eq1", dyn.K_QUADRATIC), ("cautious_ge_l1", dyn.K_L1)):
        parts += [(f"{name}: dH identity (proof: every mask, K = {K.name})", name, identity("dH", "H"),
                   abstract_mask(K), ()),
                  (f"{name}: dL identity (proof: every mask, K = {K.name})", name, identity("dL", "L"),
                   abstract_mask(K), ())]
    for name in ("cautious_indicator", "cautious_phi_c", "cautious_inner"):      # numeric cross-checks of the same
        parts += [(f"{name}: dH identity", name, identity("dH", "H"), abstract_mask(dyn.K_QUADRATIC), ()),
                  (f"{name}: dL identity", name, identity("dL", "L"), abstract_mask(dyn.K_QUADRATIC), ())]
    for name in ("cautious_indicator", "cautious_ge_l1", "cautious_phi_c", *INNER_SWEEP):  # x^T(1-phi) <= 0
        K = dyn.K_L1 if name == "cautious_ge_l1" else dyn.K_QUADRATIC
        make = _symbolic_general(MASKS_2_1[name], K) if name in MASKS_2_1 else None
        system = INNER_SWEEP.get(name, name)
        parts += [(f"{name}: dH <= -Delta_H", system, nonpositive("H", _param("delta_H")), make, ()),
                  (f"{name}: dL <= -Delta_L", system, nonpositive("L", _param("delta_L")), make, ()),
                  (f"{name}: dL <= 0", system, nonpositive("L"), make, ())]
    results = _judge(parts, budget, seed)
    open_parts = [label for label, _, _, proof in results if proof is None or not proof.proved]
    verdict = _verdict_from(results, lambda n, level: _holds(n, level) + "; masks: eq. (1), 1(x>0), 1(x>=0) with "
                            f"K = |s|_1, phi_c, inner-product mask; proved: {len(results) - len(open_parts)} of "
                            f"{len(results)} parts (searched only: {', '.join(open_parts) or 'none'})",
                            lambda label, st, c: f"{label} fails")
    verdict.evidence["proof scope"] = ("identities proved for every mask (mask values free symbols), with "
                                       "Phi(x) = c_phi x, Psi(x) = c_psi x, c >= 0; consequences proved per "
                                       "coordinate for the elementwise masks; the inner-product mask is one "
                                       "scalar per vector, not a sum of coordinate terms, and stays searched")
    return verdict


RULE_C_PHI, RULE_C_PSI = 0.1, 0.5          # Phi, Psi of a user mask's numeric systems (those of the paper's)


def _check_2_1_for_mask(mask, budget, seed):
    """Thm. 2.1 with one mask in place of the paper's: system (5) with ``mask`` for K = |s|^2/2 and K = |s|_1; the
    identities (proved for every mask, searched with this one) and the three consequences dH <= -Delta_H,
    dL <= -Delta_L, dL <= 0, which hold exactly when the mask meets Thm. 2.1's conditions at the states reached
    (proved per coordinate when the mask is a sum of coordinate terms, refuted with an exact model or an exactly
    re-checked state, searched otherwise)."""
    label = getattr(mask, "name", "mask")
    parts = []
    for K in (dyn.K_QUADRATIC, dyn.K_L1):
        system = dyn.general(f"{label} (K = {K.name})", K, mask, c_phi=RULE_C_PHI, c_psi=RULE_C_PSI)
        # a mask with one value per vector is not a sum of coordinate terms: searched only, as the paper's inner mask
        make = None if getattr(mask, "kind", None) == "inner" else _symbolic_general(mask, K)
        parts += [(f"{label}, K = {K.name}: dH identity (proof: every mask)", system, identity("dH", "H"),
                   abstract_mask(K), ()),
                  (f"{label}, K = {K.name}: dL identity (proof: every mask)", system, identity("dL", "L"),
                   abstract_mask(K), ()),
                  (f"{label}, K = {K.name}: dH <= -Delta_H", system, nonpositive("H", _param("delta_H")), make, ()),
                  (f"{label}, K = {K.name}: dL <= -Delta_L", system, nonpositive("L", _param("delta_L")), make, ()),
                  (f"{label}, K = {K.name}: dL <= 0", system, nonpositive("L"), make, ())]
    results = _judge(parts, budget, seed)
    open_parts = [lbl for lbl, _, _, proof in results if proof is None or not proof.proved]
    verdict = _verdict_from(results, lambda n, level: _holds(n, level) + f"; mask: {label}; proved: "
                            f"{len(results) - len(open_parts)} of {len(results)} parts (searched only: "
                            f"{', '.join(open_parts) or 'none'})", lambda lbl, st, c: f"{lbl} fails")
    verdict.evidence["proof scope"] = ("identities proved for every mask (mask values free symbols); the "
                                       f"consequences with the mask {label} itself, Phi(x) = c_phi x, "
                                       "Psi(x) = c_psi x, c >= 0, per coordinate where the mask is a sum of "
                                       f"coordinate terms; searched at c_phi = {RULE_C_PHI}, c_psi = {RULE_C_PSI}")
    return verdict


@register("cautious.A1", source="Example A.1", kind="continuous",
          statement="Continuous Adam with H = L + 1/(2a)<m/(sqrt(v)+e), m>: dH/dt <= 0 when a >= b/4.")
def check_a1(budget="standard", seed=0):
    """Example A.1 of the Cautious paper: dH/dt <= 0 for all a, b > 0 with a >= b/4 (the boundary a = b/4
    included), e >= 0, v > 0; and the condition is needed: with a < b/4 the engine finds a state where
    dH/dt > 0 (an exact witness)."""
    symbolic = _fixed(dyn.adam("adam", a=A, b=B, e=E))
    results = _judge([("adam: dH <= 0 (a >= b/4)", "adam", nonpositive("H"), symbolic, (A >= B / 4,))],
                     budget, seed)
    verdict = _verdict_from(results, _holds, lambda label, st, c: f"{label}: dH/dt > 0")
    below = prove(symbolic, nonpositive("H"), (A < B / 4,), "adam: dH <= 0 with a < b/4")
    stats, cert = search("adam_small_a", nonpositive("H"), budget, seed)
    verdict.evidence["a < b/4 (condition violated)"] = {
        **stats, "exact_certificate": bool(cert), "proof engine": below.status,
        "witness": below.model if below.status == "refuted" and below.certify() else None}
    return verdict


@register("cautious.A3.1.formula", source="§A.3.1", kind="continuous",
          statement="dH/dt = -(b/4a)<m^2/(v^{3/2} + e), g^2> - (1 - b/4a)<m/(sqrt(v) + e), m> for continuous Adam.")
def check_a31_formula(budget="standard", seed=0):
    """§A.3.1 of the Cautious paper: the stated closed form of Adam's dH/dt, and the form derived here
    with D = sqrt(v) + e (equal to the stated one at e = 0)."""
    symbolic = _fixed(dyn.adam("adam", a=A, b=B, e=E))
    results = _judge([("stated closed form", "adam", identity("dH", "H"), symbolic, ())], budget, seed)
    fixed = _judge([("derived closed form", "adam", identity("dH_with_e", "H"), symbolic, ())], budget, seed)
    at_zero = prove(_fixed(dyn.adam("adam", a=A, b=B, e=0)), identity("dH", "H"), (), "stated form at e = 0")
    correction = _correction("with D = sqrt(v) + e: dH/dt = -<m^2, 1/D> + (b/4a)<m^2 sqrt(v), 1/D^2> - "
                             "(b/4a)<m^2 g^2, 1/(D^2 sqrt(v))>; it reduces to the stated form at e = 0", fixed)
    correction["evidence"]["stated form at e = 0 (proof engine)"] = at_zero.status
    given = lambda true, stated, at: [
        repairs.Edit("add hypothesis", "e = 0", ("== 0", true - stated, (sp.Eq(E, 0),))),
        repairs.Edit("hand-written correction", "the closed form derived with D = sqrt(v) + e (three terms)",
                     ("== 0", true - at(_stated("dH_with_e")), ()), size=3)]
    correction.update(_repair_json(identity_repairs(symbolic, _stated("dH"), "H", eps=E, given=given)))
    return _verdict_from(results, _holds, lambda label, st, c: "the closed form places e wrongly (v^{3/2} + e "
                         "and sqrt(v) + e in the second term); exact counterexample " + str(c.get("model") or ""),
                         correction)


@register("cautious.A3.1.cadam", source="§A.3.1", kind="continuous",
          statement="Cautious Adam (w' = -1(g o m > 0) o m/(sqrt(v)+e)): dL/dt = -g^T(1(g o m > 0) o m/(sqrt(v)+e)) "
                    "<= 0 "
          "and H = L + 1/(2a)<m/sqrt(v + e), m> (as printed in the cautious paragraph) still decreases.")
def check_a31_cadam(budget="standard", seed=0):
    """§A.3.1 of the Cautious paper, cautious Adam. As printed, the paragraph's Hamiltonian is
    L + <m/sqrt(v + e), m>/(2a), not (12)'s L + <m/(sqrt(v) + e), m>/(2a); both are judged, with and
    without the condition a >= b/4 of the Adam paragraph (not restated for cautious Adam)."""
    printed = _fixed(dyn.adam("cadam_printed", a=A, b=B, e=E, cautious=True, eps_in_sqrt=True))
    of_12 = _fixed(dyn.adam("cadam_12", a=A, b=B, e=E, cautious=True))
    literal = _judge([("dL identity", "cautious_adam", identity("dL", "L"), of_12, ()),
                      ("dL <= 0", "cautious_adam", nonpositive("L"), of_12, ()),
                      ("dH <= 0, H with sqrt(v + e) as printed, a >= b/4", _CADAM_PRINTED, nonpositive("H"),
                       printed, (A >= B / 4,))], budget, seed)
    candidates = _judge([("dH <= 0, H of (12), a >= b/4", "cautious_adam", nonpositive("H"), of_12,
                          (A >= B / 4,))], budget, seed)
    correction = _correction("with (12)'s Hamiltonian H = L + <m/(sqrt(v) + e), m>/(2a) and Adam's condition "
                             "a >= b/4, H decreases along cautious Adam; dL/dt identity and dL/dt <= 0 as printed",
                             candidates)
    without = prove(of_12, nonpositive("H"), (A < B / 4,), "H of (12), a < b/4")
    correction["evidence"]["H of (12), a < b/4"] = {"proof engine": without.status, "witness": without.model}
    printed_rate, rate_12 = _rate_at_one_coordinate(printed), _rate_at_one_coordinate(of_12)
    correction.update(_repair_json(repairs.search([
        repairs.Edit("move eps", "move e out of the root in H: sqrt(v + e) -> sqrt(v) + e, which is (12)'s H",
                     ("<= 0", rate_12, (A >= B / 4,))),
        repairs.Edit("add hypothesis", "e = 0", ("<= 0", printed_rate, (A >= B / 4, sp.Eq(E, 0)))),
        repairs.Edit("add hypothesis", "a >= b/2 (a stronger condition)", ("<= 0", printed_rate, (A >= B / 2,))),
        repairs.Edit("move eps", "(12)'s H without Adam's condition a >= b/4", ("<= 0", rate_12, ())),
    ], engine_judge)))
    verdict = _verdict_from(literal, _holds, lambda label, st, c: f"{label} fails: exact counterexample "
                            f"{c.get('model') or c.get('s')}; the printed sqrt(v + e) does not match the field's "
                            "sqrt(v) + e", correction)
    return verdict


_CADAM_PRINTED = dyn.adam("cautious_adam_printed", a=0.9, b=0.999, e=1e-3, cautious=True, eps_in_sqrt=True)


@register("cautious.A3.2", source="§A.3.2", kind="continuous",
          statement="Signed momentum: H = L + |m|_1 has dH/dt = -|m|_1; cautious form: dL/dt = -|g o 1(g o m > 0)|_1 "
                    "and "
          "H still decreases.")
def check_a32(budget="standard", seed=0):
    """§A.3.2 of the Cautious paper: signed momentum and its cautious form (no hyperparameters)."""
    plain = _fixed(dyn.SYSTEMS["signed_momentum"])
    cautious = _fixed(dyn.SYSTEMS["cautious_signed_momentum"])
    parts = [("dH = -|m|_1", "signed_momentum", identity("dH", "H"), plain, ()),
             ("cautious dL identity", "cautious_signed_momentum", identity("dL", "L"), cautious, ()),
             ("cautious dH <= 0", "cautious_signed_momentum", nonpositive("H"), cautious, ())]
    return _verdict_from(_judge(parts, budget, seed), _holds, lambda label, st, c: f"{label} fails")


LION_NUMERIC = {(reading, cautious): dyn.lion(f"{'cautious_' if cautious else ''}lion_{reading}", alpha=1.0,
                                              gamma=0.5, eps=0.2, cautious=cautious, reading=reading)
                for reading in dyn.LION_READINGS for cautious in (False, True)}


def _lion(reading, cautious):
    return _fixed(dyn.lion("lion", ALPHA, GAMMA, EPS, cautious=cautious, reading=reading))


@register("cautious.A3.3", source="§A.3.3", kind="continuous",
          statement="Lion: H = alpha L + (1 - eps gamma)|m|_1, dH/dt = -(1 - eps gamma)|m~|_1 - gamma|m|_1; cautious "
                    "Lion "
          "keeps H decreasing and has dL/dt = -|g o 1(g o m~ > 0)|_1.")
def check_a33(budget="standard", seed=0):
    """§A.3.3 of the Cautious paper. As printed, m' = alpha g - gamma m while m~ = m - eps(alpha g + gamma m)
    follows the other sign convention (there m~ = m + eps m' would need m' = -alpha g - gamma m). Every
    reading of :data:`ams_theory.engines.dynamics.LION_READINGS` is judged: the stated rate, H's monotonicity for
    Lion and cautious Lion, the cautious dL/dt identity, and the rate derived here; the range is
    alpha > 0, gamma >= 0, eps > 0 with eps gamma <= 1 (H bounded below)."""
    literal = _judge([("stated dH/dt (as printed)", LION_NUMERIC[("printed", False)], identity("dH", "H"),
                       _lion("printed", False), LION_RANGE),
                      ("cautious Lion dL identity (as printed)", LION_NUMERIC[("printed", True)],
                       identity("dL", "L"), _lion("printed", True), LION_RANGE)], budget, seed)
    readings = {}
    for reading in dyn.LION_READINGS:
        rows = _judge([
            ("stated dH/dt", LION_NUMERIC[(reading, False)], identity("dH", "H"), _lion(reading, False), LION_RANGE),
            ("Lion dH <= 0", LION_NUMERIC[(reading, False)], nonpositive("H"), _lion(reading, False), LION_RANGE),
            ("cautious Lion dH <= 0", LION_NUMERIC[(reading, True)], nonpositive("H"), _lion(reading, True),
             LION_RANGE),
            ("cautious Lion dL identity", LION_NUMERIC[(reading, True)], identity("dL", "L"), _lion(reading, True),
             LION_RANGE)], budget, seed)
        readings[reading] = {label: (p.status if p else "searched", p.model if p else None)
                             for label, _, _, p in rows}
    corrected = _judge([(f"{reading}: {label}", LION_NUMERIC[(reading, cautious)], margin, _lion(reading, cautious),
                         LION_RANGE)
                        for reading in ("m_tilde_ahead", "descent_momentum")
                        for label, cautious, margin in (
                            ("derived dH/dt", False, identity("dH_derived", "H")),
                            ("Lion dH <= -gamma |m~|_1", False, nonpositive("H", _param("gamma_m_tilde"))),
                            ("cautious Lion dH <= 0", True, nonpositive("H")),
                            ("cautious Lion dL identity", True, identity("dL", "L")))], budget, seed)
    correction = _correction(
        "read with m~ = m + eps m' (m' = alpha g - gamma m, w' = -sign(m~); or m' = -alpha g - gamma m, "
        "w' = sign(m~)) and 0 <= eps gamma <= 1: dH/dt = -(1/eps)(|m~|_1 + c|m|_1 - c<m, sign(m~)> - "
        "c<m~, sign(m)>) <= -gamma|m~|_1 <= 0 with c = 1 - eps gamma, cautious Lion's H decreases, and "
        "dL/dt = -|g o 1(g o m~ > 0)|_1 (the mask taken against the update direction)", corrected)
    correction["readings"] = readings
    printed = _lion("printed", False)
    correction.update(_repair_json(identity_repairs(printed, _stated("dH"), "H", LION_RANGE,
                                                    given=lambda true, stated, at: [
        *(repairs.Edit("reading", f"read the dynamics as {reading}: stated dH/dt",
                       ("== 0", _rate_at_one_coordinate(_lion(reading, False)) - stated, LION_RANGE))
          for reading in dyn.LION_READINGS if reading != "printed"),
        *(repairs.Edit("reading", f"read the dynamics as {reading}: Lion's H decreases",
                       ("<= 0", _rate_at_one_coordinate(_lion(reading, False)), LION_RANGE))
          for reading in dyn.LION_READINGS if reading != "printed"),
        repairs.Edit("add hypothesis", "as printed, with eps gamma <= 1: Lion's H decreases",
                     ("<= 0", true, LION_RANGE)),
        repairs.Edit("hand-written correction", "m~ = m + eps m' and the rate derived here",
                     ("== 0", _rate_at_one_coordinate(_lion("m_tilde_ahead", False))
                      - _one_coordinate(_lion("m_tilde_ahead", False))[2](_stated("dH_derived")), LION_RANGE),
                     size=2)])))
    verdict = _verdict_from(literal, _holds, lambda label, st, c: f"{label} disagrees with the true rate: exact "
                            f"counterexample {c.get('model') or c.get('s')}; " + _by_reading(readings), correction)
    verdict.evidence["readings"] = readings
    return verdict


def _by_reading(readings):
    """One line: which reading refutes or proves each judged statement."""
    labels = next(iter(readings.values())).keys()
    parts = []
    for label in labels:
        by = {}
        for reading, rows in readings.items():
            by.setdefault(rows[label][0], []).append(reading)
        parts.append(f"{label}: " + ", ".join(f"{status} ({'/'.join(rs)})" for status, rs in by.items()))
    return "; ".join(parts)


@register("cautious.A2", source="Example A.2", kind="continuous",
          statement="Lion-K (w' = grad K((1-b)m - b g), m' = -a(g + m)) with H = aL + K((1-b)m)/(1-b) has dH/dt <= 0.")
def check_a2(budget="standard", seed=0):
    """Example A.2 of the Cautious paper for K = |.|_1 and K = |.|^2/2, every a >= 0 and b in [0, 1) (at b = 1
    H divides by 0: the stated range [0, 1] is ill-posed at its upper end)."""
    parts = [(f"K = {K.name}", f"lion_k_{tag}", nonpositive("H"), _fixed(dyn.lion_k("lion_k", K, a=KA, b=KB)),
              (KB < 1,)) for tag, K in (("l1", dyn.K_L1), ("l2", dyn.K_QUADRATIC))]
    verdict = _verdict_from(_judge(parts, budget, seed), lambda n, level: _holds(n, level) + " (a >= 0, 0 <= b < 1; "
                            "searched at a = 1, b = 0.3)", lambda label, st, c: f"{label}: dH/dt > 0")
    verdict.evidence["b = 1"] = "excluded: H = aL + K((1-b)m)/(1-b) is undefined there"
    return verdict


# ----------------------------------------------------------------------------- the AMS/Grams paper, Appendix E

def _e2_literal_value(system, mode, problem, w, s):
    """Thm. E.2's dH/dt against its stated form with Delta_H as eq. (16) writes it (:func:`_e2_literal_stated`)."""
    dH, _ = _rates(system, mode, problem, w, s)
    stated = _e2_literal_stated(system, _ops(mode), problem, w, s)
    if mode == "torch":
        return dH - stated, dH.abs() + stated.abs() + 1
    return dH - stated


def _e2_literal_stated(system, ops, problem, w, s):
    """<x, 1 - 1(x >= 0)> - Delta_H with Delta_H = <grad L, Phi(grad L)> + <K(s), Psi(K(s))> (eq. (16)).
    K(s) is a scalar, so the term is well-formed for d = 1 only (where it is c_psi K(s)^2)."""
    g = problem.grad(w)
    c_phi, c_psi = system.params["c_phi"], system.params["c_psi"]
    Kv = ops.total(ops.abs(s)) if system.params["K"] == "|s|_1" else ops.dot(s, s) / 2
    k = ops.sign(s) if system.params["K"] == "|s|_1" else s
    x = ops.mul(g, k)
    ge = ops.indicator_(ops.copy(x), strict=False)
    return ops.total(x * (1 - ge)) - (c_phi * ops.dot(g, g) + c_psi * Kv * Kv)


_E2_LITERAL = _margin("== 0", _e2_literal_value)


@register("grams.E2", source="Thm. E.2", kind="continuous",
          statement="Cautious dynamics with 1(x >= 0): dH/dt = <x, 1 - 1(x >= 0)> - Delta_H, dL/dt = -<x, 1(x >= 0)> - "
          "<grad L, Phi(grad L)>, Delta_H as in eq. (16).")
def check_e2(budget="standard", seed=0):
    """Thm. E.2 of the AMS/Grams paper. Eq. (16) writes Delta_H with <K(s), Psi(K(s))>; K(s) is a scalar,
    so the literal statement is well-formed for d = 1 only (ill-posed for d >= 2) and is judged there. With
    grad K(s) in its place (eq. (3) of the Cautious paper) the identities are proved for every d."""
    symbolic = _symbolic_general(dyn.CAUTIOUS_GE, dyn.K_L1)
    stats, cert = search("cautious_ge_l1", _E2_LITERAL, budget, seed, dims=(1,))
    literal_proof = proofs.decide(*_e2_at_d1(symbolic), statement="dH with eq. (16) as written, d = 1")
    literal = [("dH with eq. (16) as written (d = 1, where K(s) is a number)", stats, cert, literal_proof)]
    fixed = _judge([("dH identity", "cautious_ge_l1", identity("dH", "H"), symbolic, ()),
                    ("dL identity", "cautious_ge_l1", identity("dL", "L"), symbolic, ())], budget, seed)
    correction = _correction("with Delta_H = <grad L, Phi(grad L)> + <grad K(s), Psi(grad K(s))> (eq. (3) of the "
                             "Cautious paper) both identities hold; the 'hence' conditions <x, 1 - 1(x >= 0)> <= 0 "
                             "and the resulting bounds hold for every x", fixed)
    verdict = _verdict_from(literal, _holds, lambda label, st, c: "eq. (16) writes <K(s), Psi(K(s))> (K a scalar): "
                            "ill-posed for d >= 2; at d = 1, where it is well-formed, the identity fails, e.g. "
                            f"{c.get('model') or c.get('s')}", correction)
    verdict.evidence["d >= 2"] = "ill-posed: <K(s), Psi(K(s))> pairs a scalar with a scalar where a vector is meant"
    correction.update(_repair_json(identity_repairs(
        symbolic, lambda system, problem, w, s: _e2_literal_stated(system, dyn.SYM, problem, w, s), "H",
        given=lambda true, stated, at: [repairs.Edit(
            "replace", "K(s) -> grad K(s) in Delta_H (the evident object; eq. (3) of the Cautious paper)",
            ("== 0", true - at(_stated("dH")), ()))])))
    return verdict


def _e2_at_d1(make):
    system = make(1)
    g, w, s, _, _ = _generic_inputs(system, 1)
    return _E2_LITERAL(system, "generic", dyn.LinearLoss(g), w, s), "== 0"


def _grams(K):
    return _fixed(dyn.general("grams", K, None, c_phi=C_PHI, c_psi=C_PSI, grams=True))


@register("grams.E3.H", source="Thm. 5.7 / E.3", kind="continuous",
          statement="Grams Hamiltonian dynamics (Def. 5.6): dH/dt <= 0.")
def check_e3h(budget="standard", seed=0):
    """Thm. 5.7 / E.3 of the AMS/Grams paper, for K = |s|^2/2 and |s|_1, every c_phi, c_psi >= 0."""
    parts = [("Grams, K = |s|^2/2", "grams", nonpositive("H"), _grams(dyn.K_QUADRATIC), ()),
             ("Grams, K = |s|_1", "grams_l1", nonpositive("H"), _grams(dyn.K_L1), ())]
    return _verdict_from(_judge(parts, budget, seed), _holds, lambda label, st, c: f"{label}: dH/dt > 0")


@register("grams.E3.L", source="Thm. 5.7 / E.3", kind="continuous",
          statement="Grams Hamiltonian dynamics: dL/dt <= -Delta_L.")
def check_e3l(budget="standard", seed=0):
    """Thm. 5.7 / E.3 of the AMS/Grams paper: dL/dt <= -<g, grad K(s)> - c_phi |g|^2."""
    parts = [("Grams, K = |s|^2/2", "grams", nonpositive("L", _param("delta_L")), _grams(dyn.K_QUADRATIC), ()),
             ("Grams, K = |s|_1", "grams_l1", nonpositive("L", _param("delta_L")), _grams(dyn.K_L1), ())]
    return _verdict_from(_judge(parts, budget, seed), _holds, lambda label, st, c: f"{label}: dL/dt > -Delta_L")


def _e4(cautious):
    """dL/dt of Grams minus dL/dt of the cautious system ``cautious`` (mask 1(x >= 0)), same K, Phi, Psi."""
    def value(system, mode, problem, w, s):
        _, dl_g = _rates(system, mode, problem, w, s)
        _, dl_c = _rates(cautious(system), mode, problem, w, s)
        return dl_g - dl_c
    return _margin("<= 0", value)


def _cautious_twin(system):
    """The cautious system (mask 1(x >= 0)) with the same K, Phi and Psi as a Grams system."""
    K = dyn.K_L1 if system.params["K"] == "|s|_1" else dyn.K_QUADRATIC
    return dyn.general("cautious_twin", K, dyn.CAUTIOUS_GE, c_phi=system.params["c_phi"],
                       c_psi=system.params["c_psi"])


@register("grams.E4", source="Thm. 5.8 / E.4", kind="continuous",
          statement="At every state, dL/dt of Grams dynamics <= dL/dt of cautious dynamics.")
def check_e4(budget="standard", seed=0):
    """Thm. E.4 of the AMS/Grams paper: dL/dt(Grams) - dL/dt(cautious, 1(x >= 0)) <= 0 at every state."""
    parts = [("Grams - cautious", "grams", _e4(_cautious_twin), _grams(dyn.K_QUADRATIC), ())]
    return _verdict_from(_judge(parts, budget, seed), _holds, lambda label, st, c: f"{label} > 0")


# ----------------------------------------------------------------------------- convergence (LaSalle) and trajectories

LASALLE = ("LaSalle's invariance principle, in its form for Filippov solutions of discontinuous fields (Bacciotti "
           "and Ceragioli, 1999; Shevitz and Paden, 1994): if H is C^1 and every element of the Filippov set of the "
           "field has <grad H, f> <= 0, a bounded solution tends to the largest weakly invariant subset of "
           "{0 in dH/dt}. The masked fields are discontinuous where x_i = 0, so solutions are taken in Filippov's "
           "sense; the pointwise bounds below hold for every mask value, hence for every convex combination of "
           "the limits of the field at a discontinuity.")


def _velocity_at_rest_value(system, mode, problem, w, s):
    """|ds/dt - g|^2 at s = 0: on a solution with s(t) = 0 for all t, ds/dt = 0 forces g = grad L(w) = 0."""
    ops = _ops(mode)
    zero = ops.mul(s, 0)
    _, ds = system.field(ops, problem, w, zero)
    gap = ds - problem.grad(w)
    return ops.dot(gap, gap)


_VELOCITY_AT_REST = _margin("== 0", _velocity_at_rest_value)
_DESCENT_BY_PSI = nonpositive("H", _psi_norm)


def _lasalle_parts(systems):
    """The pointwise conditions of the invariance argument, proved by the engine, for K = |s|^2/2 with
    Phi(x) = c_phi x (c_phi >= 0) and Psi(x) = c_psi x (c_psi > 0: |.|_Psi positive definite, Psi(0) = 0):

    (a) dH/dt <= -c_psi |s|^2 (for system (5) through the identity of Thm. 2.1, proved for every mask, and
        the mask condition x^T(1 - phi(x)) <= 0), so dH/dt = 0 only where s = 0;
    (b) at s = 0, ds/dt = g: a solution staying in {s = 0} has g = 0, i.e. rests at a stationary point of
        H (grad_w H = g = 0, grad_s H = s = 0)."""
    out = []
    for label, make in systems:
        if label.startswith("(5)"):
            out.append((f"{label}: dH identity (every mask)", prove(make, identity("dH", "H"), (), "dH identity")))
        else:
            out.append((f"{label}: dH/dt <= -c_psi |s|^2", prove(make, _DESCENT_BY_PSI, (), label)))
        out.append((f"{label}: ds/dt = g at s = 0", prove(make, _VELOCITY_AT_REST, (), label)))
    return out


def _zero_mask_counterexample():
    """System (5) with the mask phi = 0, Phi = 0, Psi(x) = x, on L(w) = w^2/2 from (w, s) = (1, 0): the solution
    is w(t) = 1, s(t) = 1 - exp(-t) (checked exactly against the field), bounded, with limit (1, 1), where
    grad H = (1, 1) != 0. Returns the certificate and its exact re-check."""
    t = sp.Symbol("t", nonnegative=True)
    system = dyn.general("zero_mask", dyn.K_QUADRATIC, lambda ops, k, g: SympyOps.asarray([0] * len(k)), c_psi=1)
    loss = _HalfSquare()
    w, s = SympyOps.asarray([sp.Integer(1)]), SympyOps.asarray([1 - sp.exp(-t)])

    def recheck():
        dw, ds = system.field(dyn.SYM, loss, w, s)
        solves = sp.simplify(dw[0] - sp.diff(w[0], t)) == 0 and sp.simplify(ds[0] - sp.diff(s[0], t)) == 0
        limit = [sp.limit(x, t, sp.oo) for x in (w[0], s[0])]
        grad_h = (loss.grad(SympyOps.asarray([limit[0]]))[0], limit[1])
        return bool(solves and any(x != 0 for x in grad_h))

    cert = {"system": "(5) with phi = 0, Phi = 0, Psi(x) = x", "loss": "w^2/2", "w(t)": "1",
            "s(t)": "1 - exp(-t)", "limit": "(1, 1)", "grad H at the limit": "(1, 1)"}
    return cert, recheck


class _HalfSquare:
    """L(w) = |w|^2/2, exact (sympy)."""

    def value(self, w):
        return sum(x * x for x in w) / 2

    def grad(self, w):
        return SympyOps.asarray(list(w))


def _convergence(systems, budget, seed):
    """Illustration: integrate each system from several starts on three losses and record how close to a
    stationary point of H each bounded run ends by t = 60 (a finite horizon decides no limit statement)."""
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
                w0 = torch.tensor([[1.0, 1.0]], dtype=DT) if k == 0 else torch.randn(1, 2, generator=gen, dtype=DT)
                s0 = torch.zeros(1, 2 * system.state_blocks, dtype=DT)
                tr = dyn.trajectory(system, problem, w0, s0, t_end=60.0, max_restarts=20, zeno_step=1e-2)
                s_end = torch.tensor(tr.s[-1:])
                out[f"{sys_name} / {lname} / start {k}"] = {
                    "initial_grad_L": float(problem.grad(w0).norm()), "final_grad_L": tr.final_grad_norm,
                    "final_grad_K": float(s_end.norm()), "max_H_increase": tr.max_H_increase,
                    "switches": tr.switches, "bounded": bool(abs(tr.w).max() < 1e6)}
    return out


def _diag_quadratic(a):
    a = torch.tensor([a], dtype=DT)
    return smooth.QuadraticProblem(family="quadratic_diagonal_convex", convex=True, L=a.max(-1).values,
                                   A=torch.diag_embed(a), b=torch.zeros_like(a), c=torch.zeros(1, dtype=DT))


def _convergence_verdict(word, summary, parts, runs, correction=None, counterexample=None, recheck=None):
    bundle = proofs.Bundle(parts)
    if not bundle.proved:
        return Verdict("not-checkable", "the proof engine did not close the invariance conditions: "
                       + ", ".join(label for label, p in parts if not p.proved),
                       {"trajectories (illustration)": runs}, strength=no_evidence("open pointwise conditions"))
    evidence = {"argument": LASALLE, "conditions": {label: p.status for label, p in parts},
                "scope": "K = |s|^2/2, Phi(x) = c_phi x with c_phi >= 0, Psi(x) = c_psi x with c_psi > 0; L C^1",
                "trajectories (illustration, t = 60)": runs}
    return Verdict(word, summary, evidence, counterexample, correction, recheck,
                   strength=proved(f"LaSalle's invariance principle (cited) with its pointwise conditions proved "
                                   f"by the engine ({bundle.seconds:.2f} s)", bundle))


C_PSI_POS = sp.Symbol("c_psi", positive=True)


@register("cautious.2.2", source="Cor. 2.2", kind="continuous",
          statement="With |.|_Psi positive definite and Psi(0) = 0, bounded solutions of (2) and of (5) converge to "
          "stationary points of H.")
def check_2_2(budget="standard", seed=0):
    """Cor. 2.2 of the Cautious paper, by LaSalle's principle (see :data:`LASALLE` and :func:`_lasalle_parts`).
    For (5) the argument needs Thm. 2.1's mask condition x^T(1 - phi(x)) <= 0, which the corollary does not
    restate: with phi = 0 a bounded solution converges to a non-stationary point (exact certificate)."""
    hb = _fixed(dyn.general("heavy_ball", dyn.K_QUADRATIC, None, c_phi=C_PHI, c_psi=C_PSI_POS))
    parts = _lasalle_parts([("(2)", hb), ("(5)", abstract_mask(dyn.K_QUADRATIC, c_psi=C_PSI_POS))])
    runs = _convergence(("heavy_ball", "cautious_indicator", "cautious_eq1"), budget, seed)
    cert, recheck = _zero_mask_counterexample()
    summary = ("bounded solutions of (2), and of (5) for masks with x^T(1 - phi(x)) <= 0 (1(x > 0), 1(x >= 0), "
               "phi_c), converge to stationary points of H (LaSalle, Filippov solutions; pointwise conditions "
               "proved); without that condition, as printed, phi = 0 gives a bounded solution with a "
               "non-stationary limit; eq. (1)'s default mask violates it (cautious.eq6.default): trajectories only")
    verdict = _convergence_verdict("conditional", summary, parts, runs, counterexample=None)
    verdict.evidence["the condition is needed"] = {**cert, "rechecked_exactly": recheck()}
    return verdict


@register("grams.5.10", source="Cor. 5.10", kind="continuous",
          statement="Bounded solutions of (15) and of the Grams dynamics (Def. 5.6) converge to stationary points of "
                    "H.")
def check_5_10(budget="standard", seed=0):
    """Cor. 5.10 of the AMS/Grams paper, by LaSalle's principle: Grams' field needs no mask condition
    (dH/dt <= -c_psi |s|^2 at every state, for every value of sign(g) at g = 0)."""
    hb = _fixed(dyn.general("heavy_ball", dyn.K_QUADRATIC, None, c_phi=C_PHI, c_psi=C_PSI_POS))
    grams = _fixed(dyn.general("grams", dyn.K_QUADRATIC, None, c_phi=C_PHI, c_psi=C_PSI_POS, grams=True))
    parts = _lasalle_parts([("(15)", hb), ("Grams (Def. 5.6)", grams)])
    runs = _convergence(("heavy_ball", "grams"), budget, seed)
    return _convergence_verdict("holds", "bounded solutions of (15) and of the Grams dynamics converge to "
                                "stationary points of H (LaSalle, Filippov solutions; pointwise conditions proved "
                                "for K = |s|^2/2 and linear Phi, Psi)", parts, runs)
