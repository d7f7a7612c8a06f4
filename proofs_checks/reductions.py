r"""Appendix B of the AMS/Grams paper (Cor. 4.1, 4.2, 5.2), and Algorithm 1 vs Algorithm 2 of the Cautious paper.

Each reduction is a :class:`~ams_theory.claims.language.SameStep`: the rule core's AMS step with the claim's
hyperparameters (:func:`~ams_theory.claims.language.ams_rule`) against the method it is said to equal, exactly, on
every pattern of per-coordinate sign cases for d <= 4 with symbolic magnitudes and hyperparameters, and for every d
per sign case with symbolic class counts (a sympy identity: the strength stays exhaustive, its coverage saying
``every_d``), where each side reads other coordinates only through those counts.

``cautious.alg1`` keeps a check of its own: it compares two rescalings as functions of (d, nnz, eps) and proves
bounds on their ratio for every real nnz >= 1, which is neither a SameStep (whole steps on sign patterns) nor a
Fact (a relation between vectors, per coordinate); only its whole-step certificate is a SameStep.
"""
from __future__ import annotations

import sympy as sp

from ams_theory.claims import language as cl
from ams_theory.claims.registry import Correction, Verdict, exhaustive, proved, register
from ams_theory.core import rules
from ams_theory.engines import proofs, repairs
from ams_theory.engines.symbolic import OPS, exact_nonzero

H = cl.HYPER
MG = cl.sign_cases("m", "g")          # sign of the new m (= sign of u) x sign of g
MS = cl.sign_cases("m", "s")          # sign of the new m x sign of the new s (beta3-average); g free
ADAM_ALG2 = cl.ams_rule(mask=None, normalize="none", weight_decay=H.gamma, weight_decay_mode="after")  # Alg. 2
# |phi|_1 + |lambda| |psi|_1 = d, so eta_hat = eta: every coordinate in phi (u o s >= 0), or |lambda| = 1
ALL_IN_PHI = cl.ScaleForCounts(phi=lambda a, o, z: a + o + z)
OPPOSED_IN_PSI = cl.ScaleForCounts(phi=lambda a, o, z: a + z, psi=lambda a, o, z: o)


WEIGHT_DECAY_NOTE = ("Cor. 4.1 names Adam as Def. A.4 writes it, without weight decay; the check compares with the "
                     "weight decay gamma of Algorithm 2 kept symbolic, so its equality for every gamma includes "
                     "gamma = 0, Def. A.4's Adam, and says more: the two steps also agree with decay applied after "
                     "the step as Algorithm 2 does")


def grams_step(ops, w, g, state):
    """Cor. 5.2 / B.3: ``w - eta sign(g) o |u|``, Adam's ``u = m/den`` from the rule core. ``|u| = sign(m) u``
    because ``den = (1 - beta1^t)(sqrt(v/(1 - beta2^t)) + eps) > 0`` (t >= 1, beta in (0, 1), eps > 0), which
    sympy cannot see for a symbolic t."""
    u, m, _ = rules.adam_direction(ops, g, ops.copy(state["m"]), ops.copy(state["v"]), H.beta1, H.beta2, H.eps, H.t)
    return w - H.lr * ops.mul(ops.sign(g), ops.mul(ops.sign(m), u))


@cl.register("grams.B1.beta3", source="Cor. 4.1 / B.1 case 1", kind="symbolic",
             statement="AMS with beta3 = beta1 (any lambda, from the zero initial state so that s = m) takes exactly "
             "Adam's step of Algorithm 2, weight decay included.")
def b1_beta3():
    """Cor. 4.1 / B.1 case 1: AMS(beta3 = beta1, any lambda, s = m) = Adam (Alg. 2), weight decay included."""
    lam = sp.Symbol("lambda", real=True)
    return cl.Judgement(
        cl.SameStep("B.1, beta3 = beta1", cl.ams_rule(lam, beta3=H.beta1, weight_decay=H.gamma), ADAM_ALG2, MG,
                    reference="m", scale_every_d=ALL_IN_PHI, why="AMS and Adam steps differ"),
        notes={"note": "u o s = m^2/den >= 0, so every coordinate is in phi and eta_hat = eta d/d. Against "
                       "torch.optim.AdamW, which decays before the step, the steps differ by lr^2 gamma u.",
               "weight decay": WEIGHT_DECAY_NOTE})


@cl.register("grams.B1.lambda", source="Cor. 4.1 / B.1 case 2", kind="symbolic",
             statement="AMS with lambda = 1 (any beta3) takes exactly Adam's step of Algorithm 2, weight decay "
             "included.")
def b1_lambda():
    """Cor. 4.1 / B.1 case 2: AMS(lambda = 1, any beta3) = Adam (Alg. 2), weight decay included."""
    return cl.Judgement(
        cl.SameStep("B.1, lambda = 1", cl.ams_rule(1, beta3=H.beta3, weight_decay=H.gamma), ADAM_ALG2, MS,
                    reference="s", scale_every_d=OPPOSED_IN_PSI, why="AMS and Adam steps differ"),
        notes={"weight decay": WEIGHT_DECAY_NOTE})


@cl.register("grams.B2", source="Cor. 4.2 / B.2", kind="symbolic",
             statement="AMS with beta3 = 0, lambda = 0 equals the cautious update of Def. 3.2 of the AMS/Grams paper: "
             "u_hat = u o 1(u o g >= 0), step d/|u_hat|_1.")
def b2():
    """Cor. 4.2 / B.2: AMS(beta3 = 0, lambda = 0) = w - d/|u_hat|_1 u_hat, u_hat = u o 1(u o g >= 0) (Def. 3.2).
    Def. 3.2's |u_hat|_1 makes large d slow and the literal form fails on the smallest cases, so it is compared
    for d <= 2; the corrected form (what B.2's proof computes) gets the full budget."""
    ams = cl.ams_rule(0)
    def32 = cl.SameStep("B.2 as printed", ams, cl.ams_rule(0, normalize="update_l1", lr=1), MG, max_d=2,
                        why="AMS steps by eta*d/|phi|_1 * u_hat; Def. 3.2 steps by d/|u_hat|_1 * u_hat, with no "
                            "learning rate")
    return cl.Judgement(
        def32,
        correction=cl.SameStep("B.2 corrected", ams, cl.ams_rule(0, normalize="nnz_xi", xi=0), MG),
        correction_statement="AMS(beta3=0, lambda=0) = w - eta * d/|phi|_1 * (phi o u), phi = 1(u o g >= 0): Def. "
                             "3.2 with |u_hat|_1 replaced by |phi|_1 and the step eta restored (what B.2's proof "
                             "computes)",
        repairs=(repairs.Edit("hand-written correction", "Def. 3.2 with |phi|_1 for |u_hat|_1 and the step eta "
                              "restored", def32.edited("right", cl.ams_rule(0, normalize="nnz_xi", xi=0)), size=2),
                 repairs.Edit("reading", "Def. 3.2: the step eta restored (lr = eta)",
                              def32.edited("right", cl.ams_rule(0, normalize="update_l1"))),
                 *cl.convention_edits(def32, "right", "Def. 3.2")),
        why="Def. 3.2 normalises by |u_hat|_1 with no learning rate, AMS by eta/|phi|_1",
        beside={"cautious_alg2": cl.SameStep("B.2 against Cautious Alg. 2", ams,
                                             cl.ams_rule(0, tie="zero", normalize="nnz_xi", xi=1), MG, max_d=2)},
        notes={"cautious_alg2_differs_by": "Cautious Alg. 2 masks u*g > 0 and steps by eta*d/(nnz+1): the +1 in the "
                                           "count and the class of ties differ from AMS(beta3 = 0, lambda = 0)"})


@cl.register("grams.B3", source="Cor. 5.2 / B.3", kind="symbolic",
             statement="AMS with beta3 = 0, lambda = -1 steps by w - eta sign(g) o |u| (Cor. 5.2 / B.3).")
def b3():
    """Cor. 5.2 / B.3: AMS(beta3 = 0, lambda = -1) = w - eta sign(g) o |u|; it fails where g_i = 0 != u_i, and
    holds without such coordinates, or for every g with ties u_i s_i = 0 left out of phi and psi."""
    ams = cl.ams_rule(-1)
    tie_at_zero = cl.Where(lambda c: c["g"] == "0" and c["m"] != "0", "g_i = 0 != u_i")
    literal = cl.SameStep("B.3 as printed", ams, grams_step, MG, differs_at=tie_at_zero,
                          why="where g_i = 0 and u_i != 0, u_i s_i = 0 puts i in phi (u o s >= 0), so AMS steps by "
                              "u_i; sign(g_i)|u_i| = 0")
    ties_dropped = cl.ams_rule(-1, tie="zero", normalize="none")
    return cl.Judgement(
        literal,
        correction=[cl.SameStep("B.3 without g_i = 0 != u_i", ams, grams_step, MG, exclude=tie_at_zero,
                                scale_every_d=OPPOSED_IN_PSI),
                    cl.SameStep("B.3 with ties out of phi and psi", ties_dropped, grams_step, MG)],
        correction_statement="B.3 holds whenever no coordinate has g_i = 0 with u_i != 0; for every g it holds for "
                             "AMS with ties u_i s_i = 0 left out of both phi and psi and eta_hat = eta",
        repairs=(repairs.Edit("hand-written correction", "ties u_i s_i = 0 left out of phi and psi, eta_hat = eta",
                              literal.edited("left", ties_dropped), size=2),
                 *cl.convention_edits(literal, "left", "AMS(beta3 = 0, lambda = -1)")),
        notes={"proof_note": "B.3's proof writes the denominator as |phi|_1 - |psi|_1; it is |phi|_1 + |lambda| "
                             "n_opposed = d, which gives eta as claimed"})


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
        "vector (d = dim phi). This concerns the masked step only: Algorithm 2 then decays every coordinate by "
        "eps_bar gamma w (the scaled step), Algorithm 1 adds no decay of its own.",
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
    # the same scales through whole steps of the rule core: one aligned coordinate of d = 2 (n = 1)
    values = {d: 2, n: 1, eps: sp.Rational(1, 10 ** 8)}
    gap = (a - b).subs(values)
    steps = cl.decide(cl.SameStep(
        "Alg. 1 and Alg. 2, one aligned coordinate of two",
        cl.ams_rule(tie="zero", normalize="mean_eps", mask_eps=values[eps]),
        cl.ams_rule(tie="zero", normalize="nnz_xi", xi=1), (dict(m="+", g="-"), dict(m="+", g="+")), min_d=2,
        max_d=2, why="one aligned coordinate out of d = 2: Algorithm 1 scales by 1/(1/2 + eps), Algorithm 2 by "
                     "2/(1 + 1)"), "quick")
    cex = {**steps.counterexample, "scales": {"algorithm1": str(a.subs(values)), "algorithm2": str(b.subs(values))}}

    def recheck():
        return exact_nonzero(gap) and steps.recheck()

    return Verdict("refuted", "scales 1/(n/d + eps) and d/(n + 1) differ unless eps = 1/d (e.g. d=2, n=1, "
                   f"eps=1e-8: {float(a.subs(values)):.8f} vs {float(b.subs(values)):g}); corrected: "
                   f"{correction.verdict}", {"symbolic": "n, d, mask_eps", "ratio": str(ratio)}, cex,
                   correction, recheck, strength=steps.strength)
