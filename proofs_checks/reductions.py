r"""Appendix B of the AMS/Grams paper, and Algorithm 1 vs Algorithm 2 of the Cautious paper.

Every check runs the rule core (``ams_theory.core.rules.ams_step``) on sympy
symbols through :class:`~ams_theory.core.ops.SympyOps`, once with the AMS
hyperparameters of the claim and once with the method it is said to equal,
over every pattern of per-coordinate sign cases for d = 1..D (D from the
budget), with the hyperparameters (betas, eps, lr, weight decay, step count,
and lambda where the claim leaves it free) kept symbolic. Counts enter the
step size only through the numbers of coordinates per case, so the general-d
statement is also checked with symbolic counts.
"""
from __future__ import annotations

import sympy as sp

from ams_theory.claims.registry import Correction, Verdict, exhaustive, proved, register
from ams_theory.core import rules
from ams_theory.engines import proofs, repairs
from ams_theory.engines.symbolic import (
    exact_number,
    LABELS,
    OPS,
    Mismatch,
    ams_inputs,
    compare,
    concrete_values,
    exact_nonzero,
    hyper,
    patterns,
)

H = hyper()
MAX_D = {"quick": 2, "standard": 4, "thorough": 5}
CASES_MG = [dict(m=a, g=b) for a in LABELS for b in LABELS]          # sign of new m (= sign of u), sign of g
CASES_MS = [dict(m=a, s=b) for a in LABELS for b in LABELS]          # sign of new m, sign of new s; g free
CASES_M = [dict(m=a) for a in LABELS]                                 # s = m; g free


def _hp(lam, beta3=0, tie="aligned", normalize="ams", lr=None, gamma=0, mask="elementwise", xi=1,
        mode="after_scaled", mask_eps=0):
    return dict(lr=H.lr if lr is None else lr, betas=(H.beta1, H.beta2, beta3), eps=H.eps, weight_decay=gamma,
                weight_decay_mode=mode, mask=mask, lam=lam, tie=tie, normalize=normalize, xi=xi,
                mask_eps=mask_eps, scope="tensor")


def _step(hp):
    return lambda w, g, state: rules.ams_step(OPS, w, g, state, hp, H.t)[0]


ADAM_ALG2 = dict(_hp(0, mask=None, normalize="none", gamma=H.gamma, mode="after"))    # AMS/Grams Alg. 2


def _grams_formula(w, g, state):
    """Cor. 5.2 / B.3: ``w - eta sign(g) o |u|`` with Adam's ``u = m/den`` from the rule core.

    ``|u| = sign(m) u`` because ``den = (1-beta1^t)(sqrt(v/(1-beta2^t)) + eps) > 0`` for
    ``t >= 1``, ``beta in (0,1)``, ``eps > 0``; sympy cannot see this for a symbolic ``t``.
    """
    m_new = OPS.lerp_(state["m"], g, 1 - H.beta1)
    u, _, _ = rules.adam_direction(OPS, g, state["m"], state["v"], H.beta1, H.beta2, H.eps, H.t)
    return w - H.lr * OPS.mul(OPS.sign(g), OPS.mul(OPS.sign(m_new), u))


def _describe(pattern):
    return ["".join(f"{k}{v}" for k, v in case.items()) for case in pattern]


def _counterexample(mm: Mismatch, left, right, meaning: str):
    """Exact numbers for a mismatch, and a re-check that recomputes both sides with the rule core.

    The hyperparameters take the papers' defaults, with weight decay 0 first; where the
    symbolic difference vanishes at those values (it can hinge on the decay, say), weight
    decay 1/100 is tried next.
    """
    w, g, state = mm.inputs
    exprs = [*w, *g, *state["m"], *state["v"], *state.get("s", [])]
    for extra in ({}, {H.gamma: sp.Rational(1, 100)}):
        values = concrete_values(exprs, H, extra)
        sub = lambda arr: OPS.asarray([sp.sympify(x).subs(values) for x in arr])
        cw, cg, cstate = sub(w), sub(g), {k: sub(v) for k, v in state.items()}

        def evaluate():
            a = left(cw, cg, {k: v.copy() for k, v in cstate.items()})
            b = right(cw, cg, {k: v.copy() for k, v in cstate.items()})
            return [sp.sympify(x).subs(values) for x in a], [sp.sympify(y).subs(values) for y in b]

        def recheck():
            a2, b2 = evaluate()
            return any(exact_nonzero(x - y) for x, y in zip(a2, b2))

        if recheck():
            break
    a, b = evaluate()
    show = lambda x: str(exact_number(x))
    used = set().union(*(sp.sympify(e).free_symbols for e in exprs))
    hyper_names = {H.b1: "b1 (beta1 = 1/(1+b1))", H.b2: "b2 (beta2 = 1/(1+b2))", H.b3: "b3 (beta3 = 1/(1+b3))",
                   H.eps: "eps", H.lr: "lr", H.gamma: "weight_decay", H.t: "t"}
    return {
        "pattern": _describe(mm.pattern),
        "symbolic_difference": [str(dd) for dd in mm.differences],
        "inputs": {"w": [str(x) for x in cw], "g": [str(x) for x in cg],
                   **{f"{k}_prev": [str(x) for x in v] for k, v in cstate.items()}},
        "symbol_values": {str(k): str(v) for k, v in values.items() if k in used},
        "hyperparameters": {name: str(values[sym]) for sym, name in hyper_names.items()},
        "left": [show(x) for x in a], "right": [show(x) for x in b],
        "difference": [show(x - y) for x, y in zip(a, b)],
        "meaning": meaning,
    }, recheck


def _exhaustive(n, max_d, general_d=None):
    """The strength of an equality checked on every sign pattern: exhaustive over the finite case space
    (each coordinate's signs, magnitudes and hyperparameters symbolic) up to ``max_d`` coordinates; with the
    step-size factor also checked for symbolic counts where the rule counts (``general_d``)."""
    basis = f"every per-coordinate sign pattern for d <= {max_d} ({n} patterns), symbolic magnitudes and " \
            "hyperparameters"
    if general_d:
        basis += "; the step-size factor for symbolic class counts (every d)"
    return exhaustive(basis, patterns=n, max_d=max_d, symbolic_counts=bool(general_d))


CERTIFIED = proved("exact counterexample, re-checked in rational arithmetic")


def _verdict(n, bad, kept, left, right, meaning, holds_summary, refuted_summary, evidence,
             correction=None, general_d=None):
    """``holds`` when no pattern differs; otherwise ``refuted`` with an exact counterexample."""
    evidence = {"patterns": n, "mismatching_patterns": bad, **evidence}
    if bad == 0:
        return Verdict("holds", holds_summary, evidence, correction=correction,
                       strength=_exhaustive(n, evidence.get("max_d"), general_d))
    cex, recheck = _counterexample(kept[0], left, right, meaning)
    return Verdict("refuted", refuted_summary, evidence, cex, correction, recheck, strength=CERTIFIED)


def _corrected(statement, n, bad, kept, evidence, general_d=None):
    """A correction whose verdict is computed like the literal one."""
    out = Correction(statement, "holds" if bad == 0 else "refuted", _exhaustive(n, evidence.get("max_d"), general_d),
                     {"patterns": n, "mismatching_patterns": bad, **evidence})
    if kept:
        out.evidence["first_mismatch"] = _describe(kept[0].pattern)
    return out


def _patterns(cases, budget, exclude=None):
    for d in range(1, MAX_D[budget] + 1):
        for pat in patterns(cases, d):
            if exclude is None or not any(exclude(c) for c in pat):
                yield pat


def _n_patterns(cases, budget, exclude=None):
    return sum(1 for _ in _patterns(cases, budget, exclude))


def _general_d(caution: rules.Caution, n_phi, n_psi, expected):
    """The step-size factor of ``caution`` for symbolic counts equals ``expected`` (for d >= 1)."""
    na, no, nz = sp.symbols("n_a n_o n_z", integer=True, nonnegative=True)
    d = na + no + nz
    scale = rules.mask_scale(OPS, caution, d, n_phi(na, no, nz), n_psi(na, no, nz))
    scale = scale.subs(sp.Eq(d, 0), False) if isinstance(scale, sp.Piecewise) else scale
    value = sp.piecewise_fold(scale).args[-1][0] if isinstance(scale, sp.Piecewise) else scale
    return sp.simplify(value - expected(na, no, nz)) == 0, str(sp.simplify(value))


def convention_edits(hp: dict, side: str, values=None) -> list[repairs.Edit]:
    """Single edits of a rule's conventions: each of ``tie`` and ``normalize`` (with ``xi`` 0 and 1 for
    ``nnz_xi``) set to another value the rule core knows, one at a time; ``apply`` is the edited ``hp``."""
    values = values or {"tie": [{"tie": t} for t in rules.TIES],
                        "normalize": [{"normalize": "nnz_xi", "xi": 0}, {"normalize": "nnz_xi", "xi": 1},
                                      *({"normalize": n} for n in rules.NORMALIZATIONS if n != "nnz_xi")]}
    out = []
    for field_, options in values.items():
        for change in options:
            if all(hp.get(k) == v for k, v in change.items()):
                continue
            text = ", ".join(f"{k} = {v!r}" for k, v in change.items())
            out.append(repairs.Edit("reading", f"{side}: {text}", {**hp, **change}))
    return out


def repairs_by_patterns(edits, right, cases, make_inputs, given=()):
    """Judge edited left-hand rules (``Edit.apply`` an ``hp``) against ``right`` on every sign pattern with d <= 2
    (``exhaustive`` either way: a holding edit has no mismatching pattern, a failing one a symbolic mismatch)."""
    def judge(hp):
        n, bad, _ = compare(_patterns(cases, "quick"), make_inputs, _step(hp), right)
        return ("holds" if bad == 0 else "refuted"), "exhaustive", f"{bad} of {n} patterns differ (d <= 2)"
    return repairs.search(list(given) + list(edits), judge)


@register("grams.B1.beta3", source="Cor. 4.1 / B.1 case 1", kind="symbolic",
          statement="AMS with beta3 = beta1 (any lambda, from the zero initial state so that s = m) takes exactly "
          "Adam's step of Algorithm 2, weight decay included.")
def check_b1_beta3(budget="standard", seed=0):
    """Checked exactly (sympy) through the rule core's AMS step, weight decay included: every sign pattern of the
    direction and the reference for d <= 4 with symbolic magnitudes and hyperparameters, and the step-size factor
    for symbolic counts."""
    lam = sp.Symbol("lambda", real=True)
    left = _step(_hp(lam, beta3=H.beta1, gamma=H.gamma))
    right = _step(ADAM_ALG2)
    n, bad, kept = compare(_patterns(CASES_MG, budget), lambda p: ams_inputs(p, H, reference="m"), left, right)
    general, formula = _general_d(rules.Caution(lam=lam, tie="aligned", normalize="ams"),
                                  lambda a, o, z: a + o + z, lambda a, o, z: 0, lambda a, o, z: 1)
    evidence = {"max_d": MAX_D[budget], "cases_per_coordinate": "sign of m_t (= sign of u_t) x sign of g_t; "
                "s_t = m_t", "symbolic": "beta1, beta2, eps, lr, gamma, t, lambda", "general_d_scale": formula,
                "general_d_scale_is_1": general,
                "note": "u o s = m^2/den >= 0, so every coordinate is in phi and eta_hat = eta d/d. Against "
                        "torch.optim.AdamW, which decays before the step, the steps differ by lr^2 gamma u."}
    return _verdict(n, bad if general else max(bad, 1), kept, left, right, "AMS and Adam steps differ",
                    f"exact equality on all {n} sign patterns, d <= {MAX_D[budget]}, symbolic hyperparameters "
                    "and lambda; general d via counts", f"{bad} of {n} sign patterns differ", evidence,
                    general_d=general)


@register("grams.B1.lambda", source="Cor. 4.1 / B.1 case 2", kind="symbolic",
          statement="AMS with lambda = 1 (any beta3) takes exactly Adam's step of Algorithm 2, weight decay included.")
def check_b1_lambda(budget="standard", seed=0):
    """Checked exactly like B.1 with beta3 = beta1: every sign pattern for d <= 4, symbolic magnitudes, every beta3."""
    left = _step(_hp(1, beta3=H.beta3, gamma=H.gamma))
    right = _step(ADAM_ALG2)
    n, bad, kept = compare(_patterns(CASES_MS, budget), lambda p: ams_inputs(p, H, reference="s"), left, right)
    general, formula = _general_d(rules.Caution(lam=1, tie="aligned", normalize="ams"),
                                  lambda a, o, z: a + z, lambda a, o, z: o, lambda a, o, z: 1)
    evidence = {"max_d": MAX_D[budget], "cases_per_coordinate": "sign of m_t x sign of s_t (beta3-average); "
                "g_t free", "symbolic": "beta1, beta2, beta3, eps, lr, gamma, t", "general_d_scale": formula,
                "general_d_scale_is_1": general}
    return _verdict(n, bad if general else max(bad, 1), kept, left, right, "AMS and Adam steps differ",
                    f"exact equality on all {n} sign patterns (signs of u and s), d <= {MAX_D[budget]}, "
                    "symbolic hyperparameters; general d via counts", f"{bad} of {n} sign patterns differ",
                    evidence, general_d=general)


@register("grams.B2", source="Cor. 4.2 / B.2", kind="symbolic",
          statement="AMS with beta3 = 0, lambda = 0 equals the cautious update of Def. 3.2 of the AMS/Grams paper: "
          "u_hat = u o 1(u o g >= 0), step d/|u_hat|_1.")
def check_b2(budget="standard", seed=0):
    """AMS with beta3 = 0, lambda = 0 against Def. 3.2's cautious Adam (scaled by d/|u_hat|_1) and the Cautious
    paper's Alg. 2, exactly on every sign pattern; the correction (AMS steps by eta d/|phi|_1) is proved; the repair
    search tries each convention change alone."""
    ams = _step(_hp(0))
    def32 = _step(_hp(0, normalize="update_l1", lr=1))              # Def. 3.2 literally: eta_hat = d/|u_hat|_1
    # the literal form is refuted on the smallest cases; its |u_hat|_1 makes large d slow, so it is
    # compared for d <= 2 only, while the corrected form gets the full budget
    n, bad, kept = compare(_patterns(CASES_MG, "quick"), lambda p: ams_inputs(p, H), ams, def32)
    fixed = _step(_hp(0, normalize="nnz_xi", xi=0))                  # eta d / nnz(phi): the form B.2's proof uses
    n2, bad2, kept2 = compare(_patterns(CASES_MG, budget), lambda p: ams_inputs(p, H), ams, fixed)
    calg2 = _step(_hp(0, tie="zero", normalize="nnz_xi", xi=1))      # Cautious Alg. 2: u*g > 0, d/(nnz+1)
    n3, bad3, _ = compare(_patterns(CASES_MG, "quick"), lambda p: ams_inputs(p, H), ams, calg2)
    correction = _corrected(
        "AMS(beta3=0, lambda=0) = w - eta * d/|phi|_1 * (phi o u), phi = 1(u o g >= 0): Def. 3.2 with "
        "|u_hat|_1 replaced by |phi|_1 and the step eta restored (what B.2's proof computes)", n2, bad2, kept2,
        {"max_d": MAX_D[budget], "cautious_alg2": f"against the Cautious paper's Algorithm 2 (mask u*g > 0, step "
         f"eta*d/(nnz+1)) the steps differ on {bad3} of {n3} patterns with d <= 2: the +1 in the count and the "
         "class of ties differ"})
    def32_hp = _hp(0, normalize="update_l1", lr=1)
    lr_restored = repairs.Edit("reading", "Def. 3.2: the step eta restored (lr = eta)", _hp(0, normalize="update_l1"))
    hand = repairs.Edit("hand-written correction", "Def. 3.2 with |phi|_1 for |u_hat|_1 and the step eta restored",
                        _hp(0, normalize="nnz_xi", xi=0), size=2)
    correction.with_repairs(repairs_by_patterns([lr_restored, *convention_edits(def32_hp, "Def. 3.2")],
                                          ams, CASES_MG, lambda p: ams_inputs(p, H), given=[hand]))
    return _verdict(n, bad, kept, ams, def32, "AMS steps by eta*d/|phi|_1 * u_hat; Def. 3.2 steps by "
                    "d/|u_hat|_1 * u_hat, with no learning rate", f"equal on all {n} patterns",
                    f"Def. 3.2 normalises by |u_hat|_1 with no learning rate, AMS by eta/|phi|_1: {bad} of {n} "
                    f"sign patterns differ (d <= 2); with |phi|_1 and eta: {correction.verdict} "
                    f"({n2} patterns, d <= {MAX_D[budget]})", {"max_d": 2}, correction)


@register("grams.B3", source="Cor. 5.2 / B.3", kind="symbolic",
          statement="AMS with beta3 = 0, lambda = -1 steps by w - eta sign(g) o |u| (Cor. 5.2 / B.3).")
def check_b3(budget="standard", seed=0):
    """AMS with beta3 = 0, lambda = -1 against eta sign(g)|u|, exactly on every sign pattern; a certificate at a
    coordinate with g_i = 0 != u_i; the corrected forms (no such coordinates, or ties left out of phi and psi) on
    every pattern."""
    ams = _step(_hp(-1))
    n, bad, kept = compare(_patterns(CASES_MG, budget), lambda p: ams_inputs(p, H), ams, _grams_formula)
    tie_at_zero = lambda c: c["g"] == "0" and c["m"] != "0"
    n2, bad2, kept2 = compare(_patterns(CASES_MG, budget, exclude=tie_at_zero), lambda p: ams_inputs(p, H), ams,
                              _grams_formula)
    dropped = _step(_hp(-1, tie="zero", normalize="none"))
    n3, bad3, kept3 = compare(_patterns(CASES_MG, budget), lambda p: ams_inputs(p, H), dropped, _grams_formula)
    general, formula = _general_d(rules.Caution(lam=-1, tie="aligned", normalize="ams"),
                                  lambda a, o, z: a + z, lambda a, o, z: o, lambda a, o, z: 1)
    exactly_ties = bad == n - n2     # the mismatching patterns are exactly those with some g_i = 0 != u_i
    correction = _corrected(
        "B.3 holds whenever no coordinate has g_i = 0 with u_i != 0; for every g it holds for AMS with ties "
        "u_i s_i = 0 left out of both phi and psi and eta_hat = eta", n2 + n3, bad2 + bad3 + (not general),
        kept2 or kept3, {"patterns_without_g0_u_nonzero": n2, "patterns_ties_dropped": n3,
                         "general_d_scale": formula,
                         "proof_note": "B.3's proof writes the denominator as |phi|_1 - |psi|_1; it is |phi|_1 + "
                                       "|lambda| n_opposed = d, which gives eta as claimed"}, general_d=general)
    hand = repairs.Edit("hand-written correction", "ties u_i s_i = 0 left out of phi and psi, eta_hat = eta",
                        _hp(-1, tie="zero", normalize="none"), size=2)
    correction.with_repairs(repairs_by_patterns(convention_edits(_hp(-1), "AMS(beta3 = 0, lambda = -1)"), _grams_formula,
                                          CASES_MG, lambda p: ams_inputs(p, H), given=[hand]))
    where = "exactly those with some g_i = 0 != u_i" if exactly_ties else "not only at g_i = 0"
    return _verdict(n, bad, kept, ams, _grams_formula, "where g_i = 0 and u_i != 0, u_i s_i = 0 puts i in phi "
                    "(u o s >= 0), so AMS steps by u_i; sign(g_i)|u_i| = 0", f"equal on all {n} patterns",
                    f"{bad} of {n} sign patterns differ (d <= {MAX_D[budget]}), {where}; corrected form: "
                    f"{correction.verdict}", {"max_d": MAX_D[budget], "mismatches_exactly_at_g0": exactly_ties},
                    correction)


@register("cautious.alg1", source="Alg. 1 vs Alg. 2 / eq. (1)", kind="symbolic",
          statement="The one-line PyTorch update (Cautious Alg. 1: u*m/(mean(m)+eps)) and Algorithm 2 "
          "(eps*d/(|phi|_0+1)) rescale the masked update the same way.")
def check_alg1(budget="standard", seed=0):
    """The two rescalings compared exactly as functions of (d, nnz, eps); both ratio bounds of the correction proved
    for every real nnz >= 1; constants replaced as repairs."""
    n, d = sp.Symbol("n", integer=True, nonnegative=True), sp.Symbol("d", integer=True, positive=True)
    eps = sp.Symbol("mask_eps", positive=True)
    one_line = rules.mask_scale(OPS, rules.Caution(normalize="mean_eps", mask_eps=eps), d, n, None)
    alg2 = rules.mask_scale(OPS, rules.Caution(normalize="nnz_xi", xi=1), d, n, None)
    value = lambda pw: pw.args[-1][0] if isinstance(pw, sp.Piecewise) else pw
    a, b = value(one_line), value(alg2)
    ratio = sp.simplify(a / b)
    equal_when = sp.solve(sp.Eq(a, b), eps)
    # for x = eps*d in [0, 1]: ratio - 1 = (1 - x)/(n + x) >= 0 and (n+1)/n - ratio = (n+1) x/(n (n + x)) >= 0
    x = eps * d
    identities = [sp.simplify(ratio - 1 - (1 - x) / (n + x)),
                  sp.simplify((n + 1) / n - ratio - (n + 1) * x / (n * (n + x)))]
    bounds = proofs.Bundle([
        ("ratio >= 1", proofs.decide(1 - ratio, "<= 0", (x <= 1, n >= 1), "(n + 1)/(n + eps d) >= 1")),
        ("ratio <= 1 + 1/n", proofs.decide(ratio - (n + 1) / n, "<= 0", (x <= 1, n >= 1),
                                           "(n + 1)/(n + eps d) <= 1 + 1/n"))])
    holds = equal_when == [1 / d] and identities == [0, 0] and bounds.proved
    correction = Correction(
        "1/(n/d + eps) = d/(n + 1) exactly when eps = 1/d; for eps*d <= 1 their ratio (n + 1)/(n + eps d) lies in "
        "[1, 1 + 1/n]. Both mask u*g > 0 alike. Algorithm 1 counts per parameter tensor, Algorithm 2 over the whole "
        "vector (d = dim phi).",
        "holds" if holds else "refuted",
        proved("sympy solves the equality for eps; the engine proves both bounds for every real n >= 1, d > 0, "
               "eps > 0 with eps d <= 1", bounds) if holds else
        exhaustive("symbolic in n, d and eps", symbolic="n, d, mask_eps"),
        {"ratio": str(ratio), "equal_iff_mask_eps": [str(v) for v in equal_when],
         "identities_residuals": [str(v) for v in identities],
         "bounds (proof engine, n >= 1 real)": {label: p.status for label, p in bounds.parts}})
    def equal_when(subs):
        """An edit of one side's constant, judged exactly: the two scalings agree for every n, d (and eps)."""
        return lambda: (("holds" if sp.simplify((a - b).subs(subs)) == 0 else "refuted"), "proved",
                        f"difference {sp.simplify((a - b).subs(subs))}")
    xi = sp.Symbol("xi", nonnegative=True)
    alg2_xi = rules.mask_scale(OPS, rules.Caution(normalize="nnz_xi", xi=xi), d, n, None)
    candidates = repairs.search([
        repairs.Edit("replace constant", "Alg. 1: mask_eps = 1/d", equal_when({eps: 1 / d})),
        repairs.Edit("replace constant", "Alg. 1: mask_eps = 0", equal_when({eps: 0})),
        repairs.Edit("replace constant", "Alg. 2: +1 -> +eps d in the count (xi = eps d)", lambda: (
            ("holds" if sp.simplify(a - value(alg2_xi).subs(xi, eps * d)) == 0 else "refuted"), "proved", "")),
        repairs.Edit("replace constant", "Alg. 2: xi = 0", lambda: (
            ("holds" if sp.simplify(a - value(alg2_xi).subs(xi, 0)) == 0 else "refuted"), "proved", "")),
    ], lambda thunk: thunk())
    correction.with_repairs(candidates)
    if sp.simplify(a - b) == 0:
        return Verdict("holds", "the two scalings are identical", {"ratio": str(ratio)},
                       strength=exhaustive("symbolic in n, d and eps", symbolic="n, d, mask_eps"))
    values = {d: 2, n: 1, eps: sp.Rational(1, 10 ** 8)}
    gap = (a - b).subs(values)
    # the same numbers through whole steps of the rule core: one aligned coordinate out of two
    m_case = [dict(m="+", g="+"), dict(m="+", g="-")]
    left = _step(_hp(0, tie="zero", normalize="mean_eps", mask_eps=sp.Rational(1, 10 ** 8)))
    right = _step(_hp(0, tie="zero", normalize="nnz_xi", xi=1))
    _, bad, kept = compare([tuple(m_case)], lambda p: ams_inputs(p, H), left, right)
    cex, step_recheck = _counterexample(kept[0], left, right, "one aligned coordinate out of d = 2: Algorithm 1 "
                                        "scales by 1/(1/2 + eps), Algorithm 2 by 2/(1 + 1)")
    cex["scales"] = {"algorithm1": str(a.subs(values)), "algorithm2": str(b.subs(values))}

    def recheck():
        return exact_nonzero(gap) and step_recheck()

    return Verdict("refuted", "scales 1/(n/d + eps) and d/(n + 1) differ unless eps = 1/d (e.g. d=2, n=1, "
                   f"eps=1e-8: {float(a.subs(values)):.8f} vs {float(b.subs(values)):g}); corrected: "
                   f"{correction.verdict}", {"symbolic": "n, d, mask_eps", "ratio": str(ratio)}, cex,
                   correction, recheck, strength=CERTIFIED)
