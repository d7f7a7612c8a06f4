"""ams_theory.lab.explore: the notebooks' helpers.

The steps must be the rule core's, the bounds must agree with the discrete checks' margin functions,
planted wrong bounds / conditions / steps must be caught, and the flow helpers must reproduce the
continuous checks' findings (an exact identity where it holds, a positive rate where Lion's fails).
"""
import math

import numpy as np
import pytest
import torch

from ams_theory.claims import catalogue
from ams_theory.core import rules
from ams_theory.core.ops import TorchOps
from ams_theory.engines import dynamics as dyn
from ams_theory.engines import smooth
from ams_theory.engines.descent import step as masked_step
from ams_theory.lab import explore as ex
from proofs_checks import discrete

F64 = torch.float64
T1 = TorchOps(batch_dims=1)
DRAWN = [("quadratic_convex", s) for s in range(6)] + [("quadratic_indefinite", s) for s in range(6)] + \
        [("separable_mixed", s) for s in range(6)] + [("logistic", s) for s in range(3)]


def _indefinite():
    """The notebook's indefinite instance: the negative-curvature coordinate is aligned."""
    return ex.OneStep(ex.diagonal_quadratic([1.0, 0.5, -4.0], b=[0.5, -0.5, 0.2]), w=[1.0, -1.0, 0.5],
                      m=[0.3, 0.5, 0.1], v=[2.0, 1.0, 0.05])


def _isotropic_aligned(L=3.0):
    """f = L/2 |w|^2 with every coordinate of u aligned with g: D.1 part 1 is an equality there."""
    problem = ex.diagonal_quadratic([L, L])
    w = torch.tensor([[1.0, -2.0]], dtype=F64)
    u = problem.grad(w) * torch.tensor([[0.5, 1.5]], dtype=F64)
    return problem, w, u


# ----------------------------------------------------------------------------- problems, steps

def test_diagonal_quadratic_and_kappa4():
    p = ex.kappa4_quadratic()
    w = torch.tensor([[1.0, 1.0]], dtype=F64)
    assert float(p.value(w)) == 5.0 and p.grad(w).tolist() == [[8.0, 2.0]]
    assert float(p.L) == 8.0 and p.convex and p.family == "quadratic_diagonal_convex"
    q = ex.diagonal_quadratic([1.0, -3.0], b=[1.0, 0.0], c=2.0)
    assert float(q.L) == 3.0 and not q.convex and q.family == "quadratic_diagonal"
    assert float(q.value(torch.tensor([[2.0, 1.0]], dtype=F64))) == pytest.approx(0.5 * 4 - 1.5 + 2 + 2)
    assert smooth.exact_quadratic(q, 0).certify_L()
    with pytest.raises(ValueError):
        ex.diagonal_quadratic([1.0, 2.0], b=[1.0])


def test_step_cautions_are_the_checks_and_round_trip():
    assert ex.STEP_CAUTIONS["cautious_adam"] is discrete.CAUTIOUS_GE
    assert ex.STEP_CAUTIONS["grams"] is discrete.GRAMS_MASK
    assert ex.STEP_CAUTIONS["grams_def51"] is discrete.GRAMS_DEF51
    assert ex.STEP_CAUTIONS["adam"] is None and len(ex.STEP_CAUTIONS) == 4
    for name, caution in ex.STEP_CAUTIONS.items():
        assert rules.Caution.from_mapping(ex.caution_hp(caution)) == caution, name


@pytest.mark.parametrize("family,seed", DRAWN[:8])
def test_one_step_is_the_masked_step_of_the_checks(family, seed):
    """ams_step (the optimizers' rule) and descent.step (the checks' step) give the same loss change."""
    inst = ex.draw_one_step(family, 4, seed)
    g, u = inst.direction()
    etas = ex.step_sizes(1e-3, 10.0, 7)
    dl = inst.changes(etas, ("adam", "cautious_adam", "grams", "grams_def51"))
    P = ex.repeat_instance(inst.problem, 7)
    W, U, G = (x.expand(7, -1).clone() for x in (inst.w, u, g))
    f0 = P.value(W)
    for name, caution in ex.STEP_CAUTIONS.items():
        ref = P.value(masked_step(T1, W, U, G, etas.reshape(-1, 1), caution)) - f0
        np.testing.assert_allclose(dl[name], ref.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_adam_direction_matches_the_bias_corrected_formula():
    inst = ex.draw_one_step("quadratic_convex", 3, 1, t=7)
    g, u = inst.direction()
    b1, b2 = inst.betas
    m = b1 * inst.m + (1 - b1) * g
    v = b2 * inst.v + (1 - b2) * g * g
    expected = (m / (1 - b1 ** 7)) / (torch.sqrt(v / (1 - b2 ** 7)) + inst.eps)
    torch.testing.assert_close(u, expected, rtol=1e-12, atol=0)


# ----------------------------------------------------------------------------- bounds = the checks' margins

@pytest.mark.parametrize("family,seed", DRAWN)
def test_bounds_agree_with_the_checks_margins(family, seed):
    inst = ex.draw_one_step(family, 3, seed)
    g, u = inst.direction()
    etas = ex.step_sizes(1e-3, 30.0, 25) / float(inst.problem.L)
    dl = inst.changes(etas)
    d1 = ex.d1_bounds(inst.problem, inst.w, u, etas)
    d2 = ex.d2_bounds(inst.problem, inst.w, u, etas)
    margin = lambda cid: ex.claim_margins(cid, inst.problem, inst.w, u, etas)   # noqa: E731
    scale = 1e-9 * (1 + np.abs(dl["cautious_adam"]) + np.abs(d1["upper"]) + np.abs(d2["upper"]))
    np.testing.assert_allclose(margin("grams.D1.part1")["margin"], dl["cautious_adam"] - d1["upper"], atol=scale.max())
    np.testing.assert_allclose(margin("grams.D1.part2")["margin"], d1["lower"] - dl["cautious_adam"], atol=scale.max())
    np.testing.assert_allclose(margin("grams.D2.part1")["margin"], dl["grams"] - d2["upper"], atol=scale.max())
    np.testing.assert_allclose(margin("grams.D2.part2")["margin"], d2["lower"] - dl["grams"], atol=scale.max())
    e = etas.numpy()
    np.testing.assert_array_equal(margin("grams.D1.part3")["applicable"], e * (1 + 1e-12) <= d1["eta_max"])
    np.testing.assert_array_equal(margin("grams.D2.part3")["applicable"], e * (1 + 1e-12) <= d2["eta_max"])
    # the violations found by the checks are those the notebook marks (away from the float tolerances,
    # which differ: the checks scale theirs by |L(w)|, `violated` by the two compared values)
    m2 = margin("grams.D1.part2")
    clear = np.abs(m2["margin"]) > 1e-6 * (1 + np.abs(inst.problem.value(inst.w).item()) + np.abs(d1["lower"]))
    np.testing.assert_array_equal(m2["violated"][clear],
                                  ex.violated(dl["cautious_adam"], d1["lower"], "lower")[clear])


@pytest.mark.parametrize("family,seed", DRAWN)
def test_true_bounds_are_never_violated(family, seed):
    """Part 1 upper bounds, the L-smooth lower bounds, Adam's two-sided bound and the part 3 / Thm. 2.3 step
    conditions hold on every drawn instance (convex or not)."""
    inst = ex.draw_one_step(family, 4, seed)
    g, u = inst.direction()
    etas = ex.step_sizes(1e-3, 100.0, 41) / float(inst.problem.L)
    e = etas.numpy()
    dl = inst.changes(etas)
    a = ex.smoothness_bounds(inst.problem, inst.w, u, etas)
    d1 = ex.d1_bounds(inst.problem, inst.w, u, etas)
    d2 = ex.d2_bounds(inst.problem, inst.w, u, etas)
    t23 = ex.thm23_step_bound(inst.problem, inst.w, u)
    assert not ex.violated(dl["adam"], a["upper"], "upper").any()
    assert not ex.violated(dl["adam"], a["lower"], "lower").any()
    for d, b in ((dl["cautious_adam"], d1), (dl["grams"], d2)):
        assert not ex.violated(d, b["upper"], "upper").any()
        assert not ex.violated(d, b["lower_smooth"], "lower").any()
        assert not ex.violated(d[e <= b["eta_max"]], 0.0, "upper").any()
    if t23["delta"] >= 0:
        inside = e <= t23["eta_max"]
        assert not ex.violated((dl["cautious_adam"] - dl["adam"])[inside], 0.0, "upper").any()


def test_stated_lower_bounds_fail_without_convexity_and_hold_with_it():
    inst = _indefinite()
    g, u = inst.direction()
    etas = ex.step_sizes(1e-2, 10.0, 11)
    dl = inst.changes(etas)
    assert ex.violated(dl["cautious_adam"], ex.d1_bounds(inst.problem, inst.w, u, etas)["lower"], "lower").all()
    assert ex.violated(dl["grams"], ex.d2_bounds(inst.problem, inst.w, u, etas)["lower"], "lower").all()
    for seed in range(8):                                   # convex: the stated form holds
        inst = ex.draw_one_step("quadratic_convex", 3, seed)
        g, u = inst.direction()
        dl = inst.changes(etas)
        assert not ex.violated(dl["cautious_adam"], ex.d1_bounds(inst.problem, inst.w, u, etas)["lower"], "lower").any()
        assert not ex.violated(dl["grams"], ex.d2_bounds(inst.problem, inst.w, u, etas)["lower"], "lower").any()


# ----------------------------------------------------------------------------- mutations

def test_planted_wrong_upper_bound_is_caught_and_true_one_is_not():
    """On f = L/2 |w|^2 with every coordinate aligned the D.1 upper bound is an equality: the true bound is
    met to rounding, a bound with L/4 in place of L/2 is broken at every step size."""
    problem, w, u = _isotropic_aligned()
    g = problem.grad(w)
    etas = ex.step_sizes(1e-3, 10.0, 31)
    P = ex.repeat_instance(problem, 31)
    W, U, G = (x.expand(31, -1).clone() for x in (w, u, g))
    dl = (P.value(masked_step(T1, W, U, G, etas.reshape(-1, 1), ex.STEP_CAUTIONS["cautious_adam"])) - P.value(W)).numpy()
    b = ex.d1_bounds(problem, w, u, etas)
    np.testing.assert_allclose(dl, b["upper"], rtol=1e-12, atol=1e-12)          # tight
    assert not ex.violated(dl, b["upper"], "upper").any()
    e = etas.numpy()
    planted = -e * b["P"] + float(problem.L) * e ** 2 * float((u * u).sum()) / 4
    assert ex.violated(dl, planted, "upper").all()


def test_planted_wrong_step_condition_is_caught():
    """Doubling D.1 part 3's step bound admits steps that raise the loss; the true bound does not."""
    problem, w, u = _isotropic_aligned()
    g = problem.grad(w)
    eta_max = ex.d1_bounds(problem, w, u, [1.0])["eta_max"]
    etas = torch.linspace(0.05, 2.0, 40, dtype=F64) * eta_max
    P = ex.repeat_instance(problem, 40)
    W, U, G = (x.expand(40, -1).clone() for x in (w, u, g))
    dl = (P.value(masked_step(T1, W, U, G, etas.reshape(-1, 1), ex.STEP_CAUTIONS["cautious_adam"])) - P.value(W)).numpy()
    e = etas.numpy()
    assert not ex.violated(dl[e <= eta_max], 0.0, "upper").any()
    assert ex.violated(dl[e <= 2 * eta_max], 0.0, "upper").any()


def test_planted_wrong_step_is_caught():
    """D.1's upper bound is about the masked step: checked against Adam's unmasked step (an opposed coordinate
    present) it is broken at small step sizes, and the cautious step meets it."""
    inst = ex.draw_one_step("quadratic_convex", 3, 8)
    g, u = inst.direction()
    assert ((u * g) < 0).any()
    etas = ex.step_sizes(1e-4, 1e-1, 15)
    dl = inst.changes(etas)
    upper = ex.d1_bounds(inst.problem, inst.w, u, etas)["upper"]
    assert ex.violated(dl["adam"], upper, "upper").all()
    assert not ex.violated(dl["cautious_adam"], upper, "upper").any()


def test_planted_wrong_thm23_bound_is_caught():
    """Thm. 2.3's step bound, inflated 1000 times, admits steps where the cautious step is worse than Adam's
    (the notebook's convex instance); the true bound does not."""
    inst = ex.draw_one_step("quadratic_convex", 3, 8)
    g, u = inst.direction()
    t23 = ex.thm23_step_bound(inst.problem, inst.w, u)
    assert t23["delta"] > 0 and 0 < t23["eta_max"] < math.inf
    etas = ex.step_sizes(1e-2 * t23["eta_max"], 1e3 * t23["eta_max"], 101)
    dl = inst.changes(etas)
    diff, e = dl["cautious_adam"] - dl["adam"], etas.numpy()
    assert not ex.violated(diff[e <= t23["eta_max"]], 0.0, "upper").any()
    assert ex.violated(diff[e <= 1e3 * t23["eta_max"]], 0.0, "upper").any()


def test_violated_semantics():
    assert ex.violated([1.0, 0.0, -1.0], 0.0, "upper").tolist() == [True, False, False]
    assert ex.violated([1.0, 0.0, -1.0], 0.0, "lower").tolist() == [False, False, True]
    assert not ex.violated([1e-12], 0.0, "upper")[0]                    # inside the float tolerance
    with pytest.raises(ValueError):
        ex.violated([0.0], 0.0, "both")
    with pytest.raises(ValueError):
        ex.claim_margins("cautious.A3", *_isotropic_aligned(), [1.0])        # T steps: no one-step margin


def test_thm23_bound_special_cases():
    problem, w, u = _isotropic_aligned()
    assert ex.thm23_step_bound(problem, w, u)["eta_max"] == math.inf             # nothing masked: r = 0
    # eq. (1)'s rescaled mask with every coordinate aligned: phi = d/(d+1) < 1, Delta < 0, no step range
    eq1 = ex.thm23_step_bound(problem, w, u, discrete.PHI_VARIANTS["eq1_default"])
    assert eq1["delta"] < 0 and eq1["eta_max"] == 0.0
    # every coordinate opposed: phi = 0, r = u, Delta = <u, g>, bound 2 Delta / (L |u| 3 |u|)
    opp = ex.thm23_step_bound(problem, w, -u)
    uu = float((u * u).sum())
    assert opp["eta_max"] == pytest.approx(2 * float((u * problem.grad(w)).sum()) / (3.0 * 3 * uu), rel=1e-12)
    inst = ex.draw_one_step("quadratic_convex", 3, 8)
    g, u = inst.direction()
    phi = rules.mask_vector(T1, u, g, ex.STEP_CAUTIONS["cautious_adam"])
    r = u * (1 - phi)
    delta = float(-(u * g * (1 - phi)).sum())
    expected = 2 * delta / (float(inst.problem.L) * float(r.norm()) * (2 * float(u.norm()) + float(r.norm())))
    assert ex.thm23_step_bound(inst.problem, inst.w, u)["eta_max"] == pytest.approx(expected, rel=1e-12)


def test_margin_table_counts():
    inst = _indefinite()
    rows = {r["claim"]: r for r in ex.margin_table(inst, ex.step_sizes(1e-2, 10.0, 9))}
    assert set(rows) == set(ex.DESCENT_CLAIMS)
    assert rows["grams.D1.part2"]["violated"] == 9 and rows["grams.D2.part2"]["violated"] == 9
    assert rows["grams.D1.part1"]["violated"] == 0 and rows["grams.D1.part1"]["max_margin"] < 0


# ----------------------------------------------------------------------------- flows

def test_initial_state_and_bad_integrator():
    assert ex.initial_state(dyn.SYSTEMS["adam"], 2).tolist() == [[0.0, 0.0, 1.0, 1.0]]
    assert ex.initial_state(dyn.SYSTEMS["lion"], 3).tolist() == [[0.0, 0.0, 0.0]]
    with pytest.raises(ValueError):
        ex.flow("heavy_ball", t_end=0.1, integrator="euler")


def test_rk4_flow_matches_the_adaptive_integration_on_a_smooth_system():
    fixed = ex.flow("heavy_ball", t_end=3.0, step=1e-2, n_samples=31)
    adaptive = ex.flow("heavy_ball", t_end=3.0, integrator="events", n_samples=31)
    np.testing.assert_allclose(fixed.H, adaptive.H, rtol=0, atol=1e-7)         # RK4's error: O(step^4)
    np.testing.assert_allclose(fixed.w, adaptive.w, rtol=0, atol=1e-7)
    assert fixed.H[0] == 5.0 and fixed.max_H_increase < 0


def test_flow_rates_reproduce_the_continuous_checks():
    """Signed momentum: the stated dH/dt = -|m|_1 is the true rate (cautious.A3.2 holds). Lion: the stated rate
    is negative while the true one is positive at the start (cautious.A3.3 refuted)."""
    sm = ex.flow("signed_momentum", t_end=2.0, n_samples=21)
    r = ex.flow_rates("signed_momentum", sm)
    np.testing.assert_allclose(r["dH"], r["dH_stated"], rtol=1e-9, atol=1e-12)
    lion = ex.flow("lion", t_end=1.0, n_samples=21)
    r = ex.flow_rates("lion", lion)
    assert r["dH"][1] > 0 and (r["dH_stated"] <= 0).all()
    assert lion.max_H_increase > 0
    rows = ex.flow_summary({"lion": lion, "signed_momentum": sm})
    assert rows[0]["system"] == "lion" and rows[0]["max_dH_dt"] > 0 and rows[0]["claim"] == "cautious.A3.3"
    assert rows[1]["max_dH_dt"] <= 0


def test_flow_claims_cover_the_systems_and_name_catalogued_claims():
    ids = {e.id for e in catalogue.CATALOGUE}
    base = [n for n in dyn.SYSTEMS if n != "cautious_ge_q"]      # the E.4 check adds cautious_ge_q at import
    assert set(base) <= set(ex.FLOW_CLAIMS)
    assert all(cid in ids for _, cid in ex.FLOW_CLAIMS.values())
    assert all(cid in ids for cid in ex.DESCENT_CLAIMS)


def test_format_table():
    text = ex.format_table([{"a": 1.23456, "b": "x"}, {"a": 2.0, "b": "long"}])
    assert text.splitlines() == ["a     b", "----  ----", "1.23  x", "2     long"]
    assert ex.format_table([]) == ""


# ----------------------------------------------------------------------------- plots (smoke)

def test_plots_run_and_count_what_violated_counts():
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg", force=True)
    import matplotlib.pyplot as plt
    inst = _indefinite()
    etas = ex.step_sizes(1e-2, 10.0, 21)
    curves = ex.descent_curves(inst, etas)
    fig, axes = plt.subplots(2, 4)
    counts = ex.plot_descent_row(axes[0], curves, "indefinite")
    assert counts["cautious"]["cautious Adam vs lower"] == 21 and counts["cautious"]["cautious Adam vs upper"] == 0
    assert counts["grams"]["Grams vs lower"] == 21
    ex.plot_margins(axes[1, 0], inst, etas)
    runs = {"heavy_ball": ex.flow("heavy_ball", t_end=0.5, n_samples=11)}
    ex.plot_rates(axes[1, 1], ex.flow_rates("heavy_ball", runs["heavy_ball"]), "dH", "hb")
    plt.close(fig)
    plt.close(ex.plot_flows(runs))
