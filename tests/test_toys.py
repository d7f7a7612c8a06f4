"""The toy-experiment driver runs exactly the optimizers, and its measurements measure what they say."""
import math

import pytest
import sympy as sp
import torch

import ams_theory
from ams_theory import toys

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


@pytest.mark.parametrize("label", list(toys.FIG1_METHODS))
def test_driver_is_the_optimizer_figure1(label):
    name, kw = toys.FIG1_METHODS[label]
    ref = _optimizer_iterates(name, toys.FIG1_PROBLEM, [1.0, -0.7], 60, **kw)
    got = toys.run(name, toys.FIG1_PROBLEM, torch.tensor([[1.0, -0.7]], dtype=DT), 60, **kw)[:, 0]
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-14)


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
