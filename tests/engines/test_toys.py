"""The toy-experiment driver runs exactly the optimizers, and its measurements measure what they say."""
import math

import pytest
import sympy as sp
import torch

import ams_theory
from ams_theory.engines import toys

DT = torch.float64


def _optimizer_iterates(name, problem, start, steps, **kw):
    w = torch.tensor(start, dtype=DT, requires_grad=True)
    opt = ams_theory.PRESETS[name]([w], **kw)
    out = [w.detach().clone()]
    for _ in range(steps):
        opt.zero_grad()
        problem.value(w).backward()
        opt.step()
        out.append(w.detach().clone())
    return torch.stack(out)


@pytest.mark.parametrize("name, kw", list(toys.FIG1_METHODS.values()) + list(toys.FIG1_CADAM_VARIANTS.values()),
                         ids=list(toys.FIG1_METHODS) + [f"C-Adam {r}" for r in toys.FIG1_CADAM_VARIANTS])
def test_driver_is_the_optimizer_figure1(name, kw):
    """Every Figure 1 method, and every reading of C-Adam, driven by toys.run equals optimizer.step()."""
    ref = _optimizer_iterates(name, toys.FIG1_PROBLEM, [1.0, -0.7], 60, **kw)
    got = toys.run(name, toys.FIG1_PROBLEM, torch.tensor([[1.0, -0.7]], dtype=DT), 60, **kw)[:, 0]
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-14)


def test_c_adam_readings_are_the_conventions_they_name():
    """Cor. 4.2's reading is AMS at beta3 = 0, lambda = 0 with the rescaling d/|phi|_1; Alg. 2's is C-AdamW's
    d/(nnz + 1); the unscaled one steps by lr alone. On d = 2 with both coordinates aligned the first two
    scale the masked Adam step by 1 and 2/3, so their first steps differ by exactly that factor."""
    assert toys.FIG1_METHODS["C-Adam"] == toys.FIG1_CADAM_VARIANTS[toys.FIG1_CADAM]
    w0 = torch.tensor([[1.0, 1.0]], dtype=DT)
    step = {r: toys.run(n, toys.FIG1_PROBLEM, w0, 1, **kw)[1, 0] - w0[0]
            for r, (n, kw) in toys.FIG1_CADAM_VARIANTS.items()}
    cor42, alg2 = step[toys.FIG1_CADAM], step["Cautious Alg. 2 (lr d/(nnz + 1))"]
    torch.testing.assert_close(alg2, cor42 * 2 / 3, rtol=1e-12, atol=0)
    torch.testing.assert_close(step["mask only, no rescaling (lr)"], cor42, rtol=1e-12, atol=0)
    # Def. 3.2 as printed: the masked step has l1 norm lr * d whatever u is
    assert float(step["Def. 3.2 as printed (lr d/|u-hat|_1)"].abs().sum()) == pytest.approx(0.02, rel=1e-12)


def test_a_run_continues_from_its_state():
    """``state`` and ``t0`` resume a run exactly (Adam's bias corrections need the step count)."""
    w0 = torch.tensor([[1.0, -0.7], [0.3, 2.0]], dtype=DT)
    whole = toys.run("Adam", toys.FIG1_PROBLEM, w0, 30, lr=0.01)
    head, state = toys.run("Adam", toys.FIG1_PROBLEM, w0, 12, record_state=True, lr=0.01)
    tail = toys.run("Adam", toys.FIG1_PROBLEM, head[-1], 18, state={k: v[-1] for k, v in state.items()}, t0=12,
                    lr=0.01)
    torch.testing.assert_close(tail, whole[12:], rtol=0, atol=0)


@pytest.mark.parametrize("label", ["GDM", "phi_0.1", "phi_inner"])
def test_log_losses_are_the_logs_of_the_losses(label):
    name, kw = toys.FIG8_MASKS[label]
    w0 = torch.ones(2, 2, dtype=DT)
    columns = {"lr": torch.tensor([[0.2], [0.1]], dtype=DT), "beta": torch.tensor([[0.1], [0.5]], dtype=DT)}
    plain = toys.FIG2_PROBLEM.value(toys.run(name, toys.FIG2_PROBLEM, w0, 150, columns, **kw)).log()
    torch.testing.assert_close(toys.log_losses(name, toys.FIG2_PROBLEM, w0, 150, columns, chunk=40, **kw), plain,
                               rtol=1e-9, atol=1e-9)


def test_long_horizon_rate_is_the_root_modulus():
    """GDM on kappa w1^2 + w2^2 with complex roots for both eigenvalues: |z|^2 = beta, so L's rate is beta.
    Over 3000 steps L reaches about 1e-2700, far past float range; the renormalised run measures beta."""
    beta = 0.12              # (1 + beta - eps h)^2 < 4 beta for h = 2 and h = 8 at eps = 0.2222
    logs = toys.log_losses("GDM", toys.FIG2_PROBLEM, torch.ones(1, 2, dtype=DT), 3000, lr=0.2222, beta=beta)
    assert bool(torch.isfinite(logs).all()) and float(logs[-1, 0]) < -6000
    assert float(toys.log_loss_rate(logs, first=200)[0]) == pytest.approx(beta, abs=1e-4)


def _planted_well(xs, ys, centre=(0.2237, 0.1173), width=2e-3):
    """A broad bowl plus a narrow well of depth 0.05 between the points of a 0.01 grid: best of the grid."""
    x = torch.tensor(xs, dtype=DT).unsqueeze(0)
    y = torch.tensor(ys, dtype=DT).unsqueeze(1)
    r2 = (x - centre[0]) ** 2 + (y - centre[1]) ** 2
    f = 0.2 + r2 - 0.05 * torch.exp(-r2 / width ** 2)
    k = int(f.argmin())
    return float(f.reshape(-1)[k]), float(x.expand_as(f).reshape(-1)[k]), float(y.expand_as(f).reshape(-1)[k])


def test_refiner_finds_a_narrow_optimum_that_a_grid_misses():
    grid = [round(0.15 + 0.01 * i, 10) for i in range(16)]
    coarse = _planted_well(grid, grid)
    assert coarse[0] > 0.19                          # the grid sees (almost) nothing of the well
    found = toys.refine_minimum(_planted_well, coarse[1:], (0.01, 0.01), tol=1e-9)
    assert found["converged"] and found["value"] == pytest.approx(0.15, abs=1e-6)
    assert found["point"] == pytest.approx([0.2237, 0.1173], abs=1e-4)
    assert [h["improvement"] is None for h in found["history"]] == [True] + [False] * (found["rounds"] - 1)


def test_refiner_stopping_rule():
    """From the minimum itself: round 1 sets the baseline, rounds 2 and 3 gain nothing inside the grid, so
    with patience 2 it stops after round 3, having halved the spacing after each round; with too few rounds
    it says it did not converge."""
    bowl = lambda xs, ys: _planted_well(xs, ys, centre=(0.3, 0.2), width=1e-9)
    got = toys.refine_minimum(bowl, (0.3, 0.2), (0.04, 0.02), patience=2)
    assert got["converged"] and got["rounds"] == 3
    assert [h["spacing"] for h in got["history"]] == [[0.04, 0.02], [0.02, 0.01], [0.01, 0.005]]
    assert not toys.refine_minimum(bowl, (0.3, 0.2), (0.04, 0.02), patience=2, max_rounds=2)["converged"]
    # a minimum on the grid's edge moves the grid without shrinking it
    edge = toys.refine_minimum(bowl, (0.3 - 0.12, 0.2), (0.04, 0.02), max_rounds=1)
    assert edge["point"] == pytest.approx([0.3, 0.2]) and not edge["history"][0]["inside"]


def test_fig8_refine_moves_gdm_below_the_fine_grid():
    """Planted coarse start: the standard fine grid's best for GDM, about 0.115 at (0.22, 0.115); the refined
    200-step estimate comes within 5e-4 of 1/9, where Goh's tuning is."""
    start = toys.fig8_experiment([0.22], [0.115], masks={"GDM": toys.FIG8_MASKS["GDM"]})["best"]["GDM"]
    got = toys.fig8_refine("GDM", start[1:], (0.0025, 0.005))
    assert start[0] - got["value"] > 3e-3 and abs(got["value"] - 1 / 9) < 5e-4
    assert got["point"] == pytest.approx([2 / 9, 1 / 9], abs=2e-3)


@pytest.mark.parametrize("label", list(toys.FIG8_MASKS))
def test_driver_is_the_optimizer_figure8(label):
    name, kw = toys.FIG8_MASKS[label]
    ref = _optimizer_iterates(name, toys.FIG2_PROBLEM, [1.0, 1.0], 40, lr=0.2, beta=0.3, **kw)
    got = toys.run(name, toys.FIG2_PROBLEM, torch.tensor([[1.0, 1.0]], dtype=DT), 40, lr=0.2, beta=0.3, **kw)[:, 0]
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-14)


def test_batch_of_starts_runs_each_start_on_its_own():
    """Group-scope masks (C-Adam's count) must not mix the starts of a batch."""
    starts = toys.fig1_starts(5, seed=3)
    batched = toys.run("CAdamW", toys.FIG1_PROBLEM, starts, 30, lr=0.01, weight_decay=0.0)
    for i in range(5):
        alone = toys.run("CAdamW", toys.FIG1_PROBLEM, starts[i:i + 1], 30, lr=0.01, weight_decay=0.0)
        torch.testing.assert_close(batched[:, i], alone[:, 0], rtol=0, atol=0)


def test_columns_sweep_equals_separate_runs():
    eps, beta = torch.tensor([[0.1], [0.2]], dtype=DT), torch.tensor([[0.5], [0.1]], dtype=DT)
    w0 = torch.ones(2, 2, dtype=DT)
    swept = toys.run("CGDM", toys.FIG2_PROBLEM, w0, 25, {"lr": eps, "beta": beta}, normalize="none")
    for i in range(2):
        one = toys.run("CGDM", toys.FIG2_PROBLEM, w0[:1], 25, lr=float(eps[i]), beta=float(beta[i]), normalize="none")
        torch.testing.assert_close(swept[:, i], one[:, 0], rtol=0, atol=1e-15)


def test_recorded_state_is_the_momentum_buffer():
    traj, state = toys.run("GDM", toys.FIG2_PROBLEM, torch.ones(1, 2, dtype=DT), 5, record_state=True,
                           lr=0.1, beta=0.5)
    # w_t - w_{t-1} = -eps s_t for GDM
    torch.testing.assert_close(traj[1:] - traj[:-1], -0.1 * state["s"][1:], rtol=0, atol=1e-15)


@pytest.mark.parametrize("name,kw", [("CGDM", dict(normalize="none")), ("CGDM", dict(normalize="nnz_xi")),
                                     ("GDM", {}), ("CGDM", dict(lam=-0.1, tie="opposed", normalize="none"))])
def test_exact_run_matches_float_run(name, kw):
    exact = toys.run_exact(name, toys.FIG2_PROBLEM, (1, 1), 12, lr=0.05, beta=0.9, **kw)
    assert all(x.is_Rational for w, _ in exact for x in w)
    floats = toys.run(name, toys.FIG2_PROBLEM, torch.ones(1, 2, dtype=DT), 12, lr=0.05, beta=0.9, **kw)[:, 0]
    got = torch.tensor([[float(x) for x in w] for w, _ in exact], dtype=DT)
    torch.testing.assert_close(got, floats, rtol=1e-12, atol=1e-14)


def test_decimal_reads_settings_as_written():
    assert toys.decimal(0.01) == sp.Rational(1, 100)
    assert toys.decimal(0.99) == sp.Rational(99, 100)
    assert toys.decimal(3) == 3 and toys.decimal(sp.Rational(1, 3)) == sp.Rational(1, 3)


def test_loss_rate_recovers_a_known_rate_and_flags_divergence():
    t = torch.arange(101, dtype=DT).unsqueeze(1)
    L = torch.cat([0.5 ** t, 3.0 * 0.9 ** t, 1.1 ** t], 1)
    torch.testing.assert_close(toys.loss_rate(L), torch.tensor([0.5, 0.9, 1.1], dtype=DT), rtol=1e-12, atol=0)
    # an exact zero is skipped, underflow is left out, overflow cuts the run
    Lz = 0.5 ** t.clone()
    Lz[3] = 0.0
    assert toys.loss_rate(Lz)[0] == pytest.approx(0.5, rel=1e-12)
    assert math.isclose(float(toys.loss_rate(1e-200 * 0.01 ** t)[0]), 0.01, rel_tol=1e-9)
    assert float(toys.loss_rate(10.0 ** (5 * t))[0]) > 1
    assert math.isnan(float(toys.loss_rate(torch.zeros(10, 1, dtype=DT))[0]))


def test_goh_point_measures_the_closed_form_rate():
    """At Polyak/Goh's tuning GDM's L contracts like 1/9 per step (up to the t^2 factor of the double root):
    the estimator recovers it within a few percent, and a mistuned GDM is visibly slower."""
    goh = toys.goh_optimum()
    assert goh["eps"] == pytest.approx(2 / 9) and goh["beta"] == pytest.approx(1 / 9)
    res = toys.fig8_experiment([goh["eps"], 0.1], [goh["beta"]], steps=200, masks={"GDM": ("GDM", {})})
    at_goh, off = res["rates"]["GDM"][0].tolist()
    assert goh["rate_L"] < at_goh < goh["rate_L"] * 1.05
    assert off > 1.5 * at_goh


def test_fig1_experiment_counts_add_up():
    starts = toys.fig1_starts(40, seed=1)
    res = toys.fig1_experiment(starts, 400, horizons=(100, 400))
    for h in res["horizons"].values():
        assert sum(h["strictly_lowest"].values()) + h["tied_lowest"] == pytest.approx(1.0)
    # Grams and Adam take the same step while sign(g) = sign(m): from (1, 1) identical for 100 steps
    one = toys.fig1_experiment(torch.ones(1, 2, dtype=DT), 100)
    torch.testing.assert_close(one["f"]["Grams"], one["f"]["Adam"], rtol=0, atol=0)


def test_fig2_experiment_shapes_and_first_step():
    runs = toys.fig2_experiment([(0.01, 0.5)], steps=20)
    r = runs[0]
    assert r["L_gdm"].shape == (21,) and r["L_cgdm"].shape == (21,)
    assert float(r["L_gdm"][0]) == 5.0
    # on the first step s = g, so the mask keeps everything and the two methods coincide
    assert float(r["L_gdm"][1]) == float(r["L_cgdm"][1])


def test_plots_write_pngs(tmp_path):
    pytest.importorskip("matplotlib")
    starts = toys.fig1_starts(4, seed=0)
    res = toys.fig1_experiment(starts, 50, horizons=(50,))
    paths = [toys.plot_fig1(res, str(tmp_path / "a.png"), {"Grams": torch.zeros(3, 2)}),
             toys.plot_fig2(toys.fig2_experiment([(0.01, 0.5)], steps=10), str(tmp_path / "b.png")),
             toys.plot_fig8(toys.fig8_experiment([0.1, 0.2], [0.0, 0.5], steps=30), str(tmp_path / "c.png"))]
    for p in paths:
        with open(p, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
