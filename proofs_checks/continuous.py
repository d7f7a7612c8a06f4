r"""Continuous-time claims: Hamiltonian descent identities and monotonicity (Cautious paper §2, A.1-A.3;
AMS/Grams paper Def. 5.6, Thm. E.2-E.4, Cor. 5.10).

Each check states its claim as margins of the systems of :mod:`ams_theory.engines.dynamics`: an identity between a
true rate and its stated closed form, or a sign condition on a rate, with the hyperparameters as symbols over their
stated ranges. :mod:`ams_theory.claims.flows` judges them: proved for every dimension, state and hyperparameter in
range, or refuted with an exactly re-checked counterexample, with a search over random states beside. The
convergence claims (Cor. 2.2, 5.10) are judged by LaSalle's invariance principle, whose pointwise conditions the
engine proves; trajectories are kept as illustrations.
"""
from __future__ import annotations

import sympy as sp

from ams_theory.claims import language as cl
from ams_theory.claims.flows import (
    C_PHI, abstract_mask, allowance, convergence_verdict, engine_judge, for_every_d, holds_summary, identity,
    identity_repairs, judge, judge_correction, lasalle_conditions, nonpositive, one_coordinate, prove,
    rate_at_one_coordinate, search, symbolic_mask_system, trajectory_illustration, verdict_from)
from ams_theory.claims.registry import register
from ams_theory.core.ops import SympyOps
from ams_theory.engines import dynamics as dyn
from ams_theory.engines import proofs, repairs

# hyperparameters of the symbolic systems, with the sign each ranges over (Phi, Psi: flows.C_PHI, flows.C_PSI)
A, B = sp.symbols("a b", positive=True)                       # continuous Adam's rates (Example A.1)
E = sp.Symbol("e", nonnegative=True)                          # Adam's epsilon
ALPHA = sp.Symbol("alpha", positive=True)                     # Lion (§A.3.3)
GAMMA = sp.Symbol("gamma", nonnegative=True)
EPS = sp.Symbol("epsilon", positive=True)
KA, KB = sp.symbols("a_K b_K", nonnegative=True)              # Lion-K (Example A.2): a >= 0, b in [0, 1)
LION_RANGE = (EPS * GAMMA <= 1,)                               # H = alpha L + (1 - eps gamma)|m|_1 bounded below
C_PSI_POS = sp.Symbol("c_psi", positive=True)                 # Cor. 2.2, 5.10: |.|_Psi positive definite


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
        make = symbolic_mask_system(MASKS_2_1[name], K) if name in MASKS_2_1 else None
        system = INNER_SWEEP.get(name, name)
        parts += [(f"{name}: dH <= -Delta_H", system, nonpositive("H", allowance("delta_H")), make, ()),
                  (f"{name}: dL <= -Delta_L", system, nonpositive("L", allowance("delta_L")), make, ()),
                  (f"{name}: dL <= 0", system, nonpositive("L"), make, ())]
    results = judge(parts, budget, seed)
    open_parts = [label for label, _, _, proof in results if proof is None or not proof.proved]
    verdict = verdict_from(results, lambda n, level: holds_summary(n, level) + "; masks: eq. (1), 1(x>0), 1(x>=0) with "
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
        make = None if getattr(mask, "kind", None) == "inner" else symbolic_mask_system(mask, K)
        parts += [(f"{label}, K = {K.name}: dH identity (proof: every mask)", system, identity("dH", "H"),
                   abstract_mask(K), ()),
                  (f"{label}, K = {K.name}: dL identity (proof: every mask)", system, identity("dL", "L"),
                   abstract_mask(K), ()),
                  (f"{label}, K = {K.name}: dH <= -Delta_H", system, nonpositive("H", allowance("delta_H")), make, ()),
                  (f"{label}, K = {K.name}: dL <= -Delta_L", system, nonpositive("L", allowance("delta_L")), make, ()),
                  (f"{label}, K = {K.name}: dL <= 0", system, nonpositive("L"), make, ())]
    results = judge(parts, budget, seed)
    open_parts = [lbl for lbl, _, _, proof in results if proof is None or not proof.proved]
    verdict = verdict_from(results, lambda n, level: holds_summary(n, level) + f"; mask: {label}; proved: "
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
    symbolic = for_every_d(dyn.adam("adam", a=A, b=B, e=E))
    results = judge([("adam: dH <= 0 (a >= b/4)", "adam", nonpositive("H"), symbolic, (A >= B / 4,))],
                    budget, seed)
    verdict = verdict_from(results, holds_summary, lambda label, st, c: f"{label}: dH/dt > 0")
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
    symbolic = for_every_d(dyn.adam("adam", a=A, b=B, e=E))
    results = judge([("stated closed form", "adam", identity("dH", "H"), symbolic, ())], budget, seed)
    fixed = judge([("derived closed form", "adam", identity("dH_with_e", "H"), symbolic, ())], budget, seed)
    at_zero = prove(for_every_d(dyn.adam("adam", a=A, b=B, e=0)), identity("dH", "H"), (), "stated form at e = 0")
    correction = judge_correction("with D = sqrt(v) + e: dH/dt = -<m^2, 1/D> + (b/4a)<m^2 sqrt(v), 1/D^2> - "
                                  "(b/4a)<m^2 g^2, 1/(D^2 sqrt(v))>; it reduces to the stated form at e = 0", fixed)
    correction.evidence["stated form at e = 0 (proof engine)"] = at_zero.status
    given = lambda true, stated, at: [
        repairs.Edit("add hypothesis", "e = 0", ("== 0", true - stated, (sp.Eq(E, 0),))),
        repairs.Edit("hand-written correction", "the closed form derived with D = sqrt(v) + e (three terms)",
                     ("== 0", true - at("dH_with_e"), ()), size=3)]
    correction.with_repairs(identity_repairs(symbolic, "dH", "H", eps=E, given=given))
    return verdict_from(results, holds_summary, lambda label, st, c: "the closed form places e wrongly (v^{3/2} + e "
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
    printed = for_every_d(dyn.adam("cadam_printed", a=A, b=B, e=E, cautious=True, eps_in_sqrt=True))
    of_12 = for_every_d(dyn.adam("cadam_12", a=A, b=B, e=E, cautious=True))
    literal = judge([("dL identity", "cautious_adam", identity("dL", "L"), of_12, ()),
                     ("dL <= 0", "cautious_adam", nonpositive("L"), of_12, ()),
                     ("dH <= 0, H with sqrt(v + e) as printed, a >= b/4", _CADAM_PRINTED, nonpositive("H"),
                      printed, (A >= B / 4,))], budget, seed)
    candidates = judge([("dH <= 0, H of (12), a >= b/4", "cautious_adam", nonpositive("H"), of_12,
                         (A >= B / 4,))], budget, seed)
    correction = judge_correction("with (12)'s Hamiltonian H = L + <m/(sqrt(v) + e), m>/(2a) and Adam's condition "
                                  "a >= b/4, H decreases along cautious Adam; dL/dt identity and dL/dt <= 0 as printed",
                                  candidates)
    without = prove(of_12, nonpositive("H"), (A < B / 4,), "H of (12), a < b/4")
    correction.evidence["H of (12), a < b/4"] = {"proof engine": without.status, "witness": without.model}
    printed_rate, rate_12 = rate_at_one_coordinate(printed), rate_at_one_coordinate(of_12)
    correction.with_repairs(repairs.search([
        repairs.Edit("move eps", "move e out of the root in H: sqrt(v + e) -> sqrt(v) + e, which is (12)'s H",
                     ("<= 0", rate_12, (A >= B / 4,))),
        repairs.Edit("add hypothesis", "e = 0", ("<= 0", printed_rate, (A >= B / 4, sp.Eq(E, 0)))),
        repairs.Edit("add hypothesis", "a >= b/2 (a stronger condition)", ("<= 0", printed_rate, (A >= B / 2,))),
        repairs.Edit("move eps", "(12)'s H without Adam's condition a >= b/4", ("<= 0", rate_12, ())),
    ], engine_judge))
    verdict = verdict_from(literal, holds_summary, lambda label, st, c: f"{label} fails: exact counterexample "
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
    plain = for_every_d(dyn.SYSTEMS["signed_momentum"])
    cautious = for_every_d(dyn.SYSTEMS["cautious_signed_momentum"])
    parts = [("dH = -|m|_1", "signed_momentum", identity("dH", "H"), plain, ()),
             ("cautious dL identity", "cautious_signed_momentum", identity("dL", "L"), cautious, ()),
             ("cautious dH <= 0", "cautious_signed_momentum", nonpositive("H"), cautious, ())]
    return verdict_from(judge(parts, budget, seed), holds_summary, lambda label, st, c: f"{label} fails")


LION_NUMERIC = {(reading, cautious): dyn.lion(f"{'cautious_' if cautious else ''}lion_{reading}", alpha=1.0,
                                              gamma=0.5, eps=0.2, cautious=cautious, reading=reading)
                for reading in dyn.LION_READINGS for cautious in (False, True)}


def _lion(reading, cautious):
    return for_every_d(dyn.lion("lion", ALPHA, GAMMA, EPS, cautious=cautious, reading=reading))


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
    literal = judge([("stated dH/dt (as printed)", LION_NUMERIC[("printed", False)], identity("dH", "H"),
                      _lion("printed", False), LION_RANGE),
                     ("cautious Lion dL identity (as printed)", LION_NUMERIC[("printed", True)],
                      identity("dL", "L"), _lion("printed", True), LION_RANGE)], budget, seed)
    readings = {}
    for reading in dyn.LION_READINGS:
        rows = judge([
            ("stated dH/dt", LION_NUMERIC[(reading, False)], identity("dH", "H"), _lion(reading, False), LION_RANGE),
            ("Lion dH <= 0", LION_NUMERIC[(reading, False)], nonpositive("H"), _lion(reading, False), LION_RANGE),
            ("cautious Lion dH <= 0", LION_NUMERIC[(reading, True)], nonpositive("H"), _lion(reading, True),
             LION_RANGE),
            ("cautious Lion dL identity", LION_NUMERIC[(reading, True)], identity("dL", "L"), _lion(reading, True),
             LION_RANGE)], budget, seed)
        readings[reading] = {label: (p.status if p else "searched", p.model if p else None)
                             for label, _, _, p in rows}
    corrected = judge([(f"{reading}: {label}", LION_NUMERIC[(reading, cautious)], margin, _lion(reading, cautious),
                        LION_RANGE)
                       for reading in ("m_tilde_ahead", "descent_momentum")
                       for label, cautious, margin in (
                           ("derived dH/dt", False, identity("dH_derived", "H")),
                           ("Lion dH <= -gamma |m~|_1", False, nonpositive("H", allowance("gamma_m_tilde"))),
                           ("cautious Lion dH <= 0", True, nonpositive("H")),
                           ("cautious Lion dL identity", True, identity("dL", "L")))], budget, seed)
    correction = judge_correction(
        "read with m~ = m + eps m' (m' = alpha g - gamma m, w' = -sign(m~); or m' = -alpha g - gamma m, "
        "w' = sign(m~)) and 0 <= eps gamma <= 1: dH/dt = -(1/eps)(|m~|_1 + c|m|_1 - c<m, sign(m~)> - "
        "c<m~, sign(m)>) <= -gamma|m~|_1 <= 0 with c = 1 - eps gamma, cautious Lion's H decreases, and "
        "dL/dt = -|g o 1(g o m~ > 0)|_1 (the mask taken against the update direction)", corrected)
    correction.evidence["readings"] = readings
    printed = _lion("printed", False)
    correction.with_repairs(identity_repairs(printed, "dH", "H", LION_RANGE,
                                             given=lambda true, stated, at: [
        *(repairs.Edit("reading", f"read the dynamics as {reading}: stated dH/dt",
                       ("== 0", rate_at_one_coordinate(_lion(reading, False)) - stated, LION_RANGE))
          for reading in dyn.LION_READINGS if reading != "printed"),
        *(repairs.Edit("reading", f"read the dynamics as {reading}: Lion's H decreases",
                       ("<= 0", rate_at_one_coordinate(_lion(reading, False)), LION_RANGE))
          for reading in dyn.LION_READINGS if reading != "printed"),
        repairs.Edit("add hypothesis", "as printed, with eps gamma <= 1: Lion's H decreases",
                     ("<= 0", true, LION_RANGE)),
        repairs.Edit("hand-written correction", "m~ = m + eps m' and the rate derived here",
                     ("== 0", _lion_rate_minus_derived(), LION_RANGE), size=2)]))
    verdict = verdict_from(literal, holds_summary, lambda label, st, c: f"{label} disagrees with the true rate: exact "
                           f"counterexample {c.get('model') or c.get('s')}; " + _by_reading(readings), correction)
    verdict.evidence["readings"] = readings
    return verdict


def _lion_rate_minus_derived():
    """dH/dt of Lion read with m~ = m + eps m' minus the rate derived here, at one coordinate."""
    (dH, _), at, _ = one_coordinate(_lion("m_tilde_ahead", False))
    return dH - at("dH_derived")


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
    parts = [(f"K = {K.name}", f"lion_k_{tag}", nonpositive("H"), for_every_d(dyn.lion_k("lion_k", K, a=KA, b=KB)),
              (KB < 1,)) for tag, K in (("l1", dyn.K_L1), ("l2", dyn.K_QUADRATIC))]
    verdict = verdict_from(judge(parts, budget, seed), lambda n, level: holds_summary(n, level) + " (a >= 0, "
                           "0 <= b < 1; searched at a = 1, b = 0.3)", lambda label, st, c: f"{label}: dH/dt > 0")
    verdict.evidence["b = 1"] = "excluded: H = aL + K((1-b)m)/(1-b) is undefined there"
    return verdict


# ----------------------------------------------------------------------------- the AMS/Grams paper, Appendix E

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


_E2_LITERAL = identity(_e2_literal_stated, "H")      # Thm. E.2's dH/dt with Delta_H as eq. (16) writes it


@register("grams.E2", source="Thm. E.2", kind="continuous",
          statement="Cautious dynamics with 1(x >= 0): dH/dt = <x, 1 - 1(x >= 0)> - Delta_H, dL/dt = -<x, 1(x >= 0)> - "
          "<grad L, Phi(grad L)>, Delta_H as in eq. (16).")
def check_e2(budget="standard", seed=0):
    """Thm. E.2 of the AMS/Grams paper. Eq. (16) writes Delta_H with <K(s), Psi(K(s))>; K(s) is a scalar,
    so the literal statement is well-formed for d = 1 only (ill-posed for d >= 2) and is judged there. With
    grad K(s) in its place (eq. (3) of the Cautious paper) the identities are proved for every d."""
    symbolic = symbolic_mask_system(dyn.CAUTIOUS_GE, dyn.K_L1)
    stats, cert = search("cautious_ge_l1", _E2_LITERAL, budget, seed, dims=(1,))
    (dH, _), at, _ = one_coordinate(symbolic)
    literal_proof = proofs.decide(dH - at(_e2_literal_stated), "== 0", statement="dH with eq. (16) as written, d = 1")
    literal = [("dH with eq. (16) as written (d = 1, where K(s) is a number)", stats, cert, literal_proof)]
    fixed = judge([("dH identity", "cautious_ge_l1", identity("dH", "H"), symbolic, ()),
                   ("dL identity", "cautious_ge_l1", identity("dL", "L"), symbolic, ())], budget, seed)
    correction = judge_correction("with Delta_H = <grad L, Phi(grad L)> + <grad K(s), Psi(grad K(s))> (eq. (3) of "
                                  "the Cautious paper) both identities hold; the 'hence' conditions "
                                  "<x, 1 - 1(x >= 0)> <= 0 and the resulting bounds hold for every x", fixed)
    verdict = verdict_from(literal, holds_summary, lambda label, st, c: "eq. (16) writes <K(s), Psi(K(s))> (K a "
                           "scalar): ill-posed for d >= 2; at d = 1, where it is well-formed, the identity fails, e.g. "
                           f"{c.get('model') or c.get('s')}", correction)
    verdict.evidence["d >= 2"] = "ill-posed: <K(s), Psi(K(s))> pairs a scalar with a scalar where a vector is meant"
    correction.with_repairs(identity_repairs(
        symbolic, _e2_literal_stated, "H", given=lambda true, stated, at: [repairs.Edit(
            "replace", "K(s) -> grad K(s) in Delta_H (the evident object; eq. (3) of the Cautious paper)",
            ("== 0", true - at("dH"), ()))]))
    return verdict


COEFFICIENTS = {"c_phi": cl.Range(0), "c_psi": cl.Range(0)}     # Phi(x) = c_phi x, Psi(x) = c_psi x, c >= 0


def _system(q, K, mask=None):
    """System (5) of the Cautious paper at the claim's coefficients: the Grams dynamics of Def. 5.6 of the AMS/Grams
    paper (``mask=None``), or the cautious system with ``mask``, with kinetic energy ``K`` (dynamics engine)."""
    return dyn.general("grams" if mask is None else "cautious", K, mask, c_phi=q.c_phi, c_psi=q.c_psi,
                       grams=mask is None)


def _at(q):
    """The state ``q`` as the dynamics engine reads it: every differentiable loss, through its gradient ``q.g``."""
    return q.ops, dyn.LinearLoss(q.g, q.ops), q.w, q.s


def _field(K, mask=None):
    def field(q):
        dw, ds = _system(q, K, mask).field(*_at(q))
        return dw, [ds]
    return field


def grams_flow(name, K, conclusion):
    """The Grams dynamics with kinetic energy ``K`` and ``H = L + K(s)``, for every c_phi, c_psi >= 0."""
    return cl.Flow(f"{name}, K = {K.name}", field=_field(K), H=lambda q: _system(q, K).H(*_at(q)),
                   conclusion=conclusion, hyper=COEFFICIENTS)


def h_descends(q):
    """dH/dt <= 0."""
    return q.at_most(q.dH, 0)


def l_descends_by_delta_l(K):
    """dL/dt <= -Delta_L, Delta_L = <g, grad K(s)> + c_phi |g|^2."""
    return lambda q: q.at_most(q.dL, -_system(q, K).params["delta_L"](*_at(q)))


def no_slower_than_cautious(K):
    """dL/dt of Grams <= dL/dt of the cautious system (mask 1(x >= 0)) with the same K, Phi, Psi, at the same
    state: <g, dw_Grams> <= <g, dw_cautious>."""
    return lambda q: q.at_most(q.dL, q.dot(q.g, _field(K, dyn.CAUTIOUS_GE)(q)[0]))


E3_H = [grams_flow("Thm. E.3, dH/dt <= 0", K, h_descends) for K in (dyn.K_QUADRATIC, dyn.K_L1)]
E3_L = [grams_flow("Thm. E.3, dL/dt <= -Delta_L", K, l_descends_by_delta_l(K)) for K in (dyn.K_QUADRATIC, dyn.K_L1)]
E4 = [grams_flow("Thm. E.4", dyn.K_QUADRATIC, no_slower_than_cautious(dyn.K_QUADRATIC))]


@cl.register("grams.E3.H", source="Thm. 5.7 / E.3", kind="continuous",
             statement="Grams Hamiltonian dynamics (Def. 5.6): dH/dt <= 0.")
def e3h():
    """Thm. 5.7 / E.3 of the AMS/Grams paper, for K = |s|^2/2 and |s|_1, every c_phi, c_psi >= 0."""
    return E3_H


@cl.register("grams.E3.L", source="Thm. 5.7 / E.3", kind="continuous",
             statement="Grams Hamiltonian dynamics: dL/dt <= -Delta_L.")
def e3l():
    """Thm. 5.7 / E.3 of the AMS/Grams paper: dL/dt <= -<g, grad K(s)> - c_phi |g|^2."""
    return E3_L


@cl.register("grams.E4", source="Thm. 5.8 / E.4", kind="continuous",
             statement="At every state, dL/dt of Grams dynamics <= dL/dt of cautious dynamics.")
def e4():
    """Thm. E.4 of the AMS/Grams paper: dL/dt(Grams) <= dL/dt(cautious, 1(x >= 0)) at every state, K = |s|^2/2."""
    return E4


# ----------------------------------------------------------------------------- convergence (LaSalle)

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


def _heavy_ball():
    """System (2) / (15): K = |s|^2/2, Phi(x) = c_phi x, Psi(x) = c_psi x with c_psi > 0."""
    return for_every_d(dyn.general("heavy_ball", dyn.K_QUADRATIC, None, c_phi=C_PHI, c_psi=C_PSI_POS))


@register("cautious.2.2", source="Cor. 2.2", kind="continuous",
          statement="With |.|_Psi positive definite and Psi(0) = 0, bounded solutions of (2) and of (5) converge to "
          "stationary points of H.")
def check_2_2(budget="standard", seed=0):
    """Cor. 2.2 of the Cautious paper, by LaSalle's principle (see :data:`ams_theory.claims.flows.LASALLE` and
    :func:`ams_theory.claims.flows.lasalle_conditions`). For (5) the argument needs Thm. 2.1's mask condition
    x^T(1 - phi(x)) <= 0, which the corollary does not restate: with phi = 0 a bounded solution converges to a
    non-stationary point (exact certificate)."""
    parts = (lasalle_conditions("(2)", _heavy_ball())
             + lasalle_conditions("(5)", abstract_mask(dyn.K_QUADRATIC, c_psi=C_PSI_POS), every_mask=True))
    runs = trajectory_illustration(("heavy_ball", "cautious_indicator", "cautious_eq1"), budget, seed)
    cert, recheck = _zero_mask_counterexample()
    summary = ("bounded solutions of (2), and of (5) for masks with x^T(1 - phi(x)) <= 0 (1(x > 0), 1(x >= 0), "
               "phi_c), converge to stationary points of H (LaSalle, Filippov solutions; pointwise conditions "
               "proved); without that condition, as printed, phi = 0 gives a bounded solution with a "
               "non-stationary limit; eq. (1)'s default mask violates it (cautious.eq6.default): trajectories only")
    verdict = convergence_verdict("conditional", summary, parts, runs)
    verdict.evidence["the condition is needed"] = {**cert, "rechecked_exactly": recheck()}
    return verdict


@register("grams.5.10", source="Cor. 5.10", kind="continuous",
          statement="Bounded solutions of (15) and of the Grams dynamics (Def. 5.6) converge to stationary points of "
                    "H.")
def check_5_10(budget="standard", seed=0):
    """Cor. 5.10 of the AMS/Grams paper, by LaSalle's principle: Grams' field needs no mask condition
    (dH/dt <= -c_psi |s|^2 at every state, for every value of sign(g) at g = 0)."""
    grams = for_every_d(dyn.general("grams", dyn.K_QUADRATIC, None, c_phi=C_PHI, c_psi=C_PSI_POS, grams=True))
    parts = lasalle_conditions("(15)", _heavy_ball()) + lasalle_conditions("Grams (Def. 5.6)", grams)
    runs = trajectory_illustration(("heavy_ball", "grams"), budget, seed)
    return convergence_verdict("holds", "bounded solutions of (15) and of the Grams dynamics converge to "
                               "stationary points of H (LaSalle, Filippov solutions; pointwise conditions proved "
                               "for K = |s|^2/2 and linear Phi, Psi)", parts, runs)
