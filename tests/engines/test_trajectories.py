"""Continuous-time trajectories (ams_theory.engines.trajectories): closed forms, a switched field, mutations, the plot."""
import math

import numpy as np
import pytest
import torch
from scipy.integrate import cumulative_simpson

from ams_theory.engines.trajectories import Trajectory, integrate, plot

A, GAMMA = 2.0, 0.5          # underdamped: GAMMA^2 < 4 A
W0, S0 = 1.0, 0.3


def hb_field(a=A, gamma=GAMMA):
    """Linear heavy ball on L = a w^2 / 2: w' = -s, s' = a w - gamma s."""
    return lambda w, s: (-s, a * w - gamma * s)


def hb_H(w, s, a=A):
    return (0.5 * a * w ** 2 + 0.5 * s ** 2).sum(1)


def hb_L(w, a=A):
    return (0.5 * a * w ** 2).sum(1)


def damped_oscillator(t, a=A, gamma=GAMMA, w0=W0, s0=S0):
    """w'' + gamma w' + a w = 0 with w(0) = w0, w'(0) = -s0 (underdamped); returns (w, s = -w')."""
    om = math.sqrt(a - gamma ** 2 / 4)
    c1 = w0
    c2 = (-s0 + gamma / 2 * w0) / om
    e = np.exp(-gamma * t / 2)
    w = e * (c1 * np.cos(om * t) + c2 * np.sin(om * t))
    dw = -gamma / 2 * w + e * (-c1 * om * np.sin(om * t) + c2 * om * np.cos(om * t))
    return w, -dw


def test_heavy_ball_matches_damped_oscillator_and_dissipates():
    tr = integrate(hb_field(), [W0], [S0], 20.0, H=hb_H, L=hb_L, grad=lambda w: A * w, n_samples=2001)
    assert isinstance(tr, Trajectory)
    assert tr.w.shape == (2001, 1) and tr.s.shape == (2001, 1) and tr.H.shape == tr.L.shape == (2001,)
    w_ex, s_ex = damped_oscillator(tr.t)
    assert np.max(np.abs(tr.w[:, 0] - w_ex)) < 1e-7
    assert np.max(np.abs(tr.s[:, 0] - s_ex)) < 1e-7
    assert tr.switches == 0 and tr.zeno_t is None
    # H is a Lyapunov function: non-increasing along the samples, and strictly lower at the end.
    assert tr.max_H_increase <= 1e-9
    assert tr.H[-1] < 0.05 * tr.H[0]
    # dH/dt = -gamma s^2, pointwise (autograd on the field) ...
    w = torch.tensor(tr.w[::50], dtype=torch.float64, requires_grad=True)
    s = torch.tensor(tr.s[::50], dtype=torch.float64, requires_grad=True)
    gw, gs = torch.autograd.grad(hb_H(w, s).sum(), (w, s))
    dw, ds = hb_field()(w.detach(), s.detach())
    dHdt = (gw * dw + gs * ds).sum(1)
    assert torch.allclose(dHdt, -GAMMA * s.detach()[:, 0] ** 2, atol=1e-12, rtol=0)
    # ... and integrated along the trajectory: H(t) - H(0) = -gamma * int_0^t s^2.
    dissipated = cumulative_simpson(-GAMMA * tr.s[:, 0] ** 2, x=tr.t, initial=0.0)
    assert np.max(np.abs((tr.H - tr.H[0]) - dissipated)) < 1e-7
    assert tr.final_grad_norm == pytest.approx(A * abs(w_ex[-1]), abs=1e-7)


def test_state_dimension_may_differ_from_w_and_batch_shapes():
    """k = 2d (Adam-like stacked state): the callables see (1, d) and (1, k) float64 tensors."""
    seen = []

    def field(w, s):
        seen.append((tuple(w.shape), tuple(s.shape), w.dtype, s.dtype))
        return -s[:, :2], torch.cat([w, w], 1) - s

    tr = integrate(field, np.array([1.0, -2.0]), torch.zeros(4), 1.0, n_samples=11,
                   L=lambda w: (w ** 2).sum(1), grad=lambda w: 2 * w)
    assert tr.w.shape == (11, 2) and tr.s.shape == (11, 4) and tr.t[0] == 0.0 and tr.t[-1] == 1.0
    assert set(seen) == {((1, 2), (1, 4), torch.float64, torch.float64)}
    assert math.isnan(tr.max_H_increase) and np.all(np.isnan(tr.H))
    assert tr.final_grad_norm == pytest.approx(2 * np.linalg.norm(tr.w[-1]), rel=1e-12)


# ----------------------------------------------------------------------------- switched fields

def sm_field(w, m):
    """Signed momentum on L = w^2 / 2: w' = -sign(m), m' = L'(w) - m."""
    return -torch.sign(m), w - m


def sm_H(w, m):
    return (0.5 * w ** 2 + m.abs()).sum(1)


def test_signed_momentum_switches_dissipates_and_converges():
    # The solution spirals in with ever faster switching (the switch count grows exponentially in t),
    # so the run ends on the Zeno guard: event-driven up to zeno_t, fixed RK4 steps afterwards.
    step = 1e-3
    tr = integrate(sm_field, [1.0], [0.0], 30.0, H=sm_H, L=lambda w: (0.5 * w ** 2).sum(1), grad=lambda w: w,
                   switching=lambda w, m: m, max_restarts=200, zeno_step=step, n_samples=3001)
    assert tr.switches > 50
    assert tr.zeno_t is not None and 5.0 < tr.zeno_t < 30.0 and tr.fallback_step == step
    exact = tr.t <= tr.zeno_t
    # Event-driven part: H = L + |m| is non-increasing (dH/dt = -|m|) up to the integration tolerance ...
    assert np.max(np.diff(tr.H[exact])) <= 1e-9
    # ... and the dissipation matches: H(t) - H(0) = -int_0^t |m|, up to the quadrature error of
    # Simpson's rule across the kinks of |m| at the switches (H falls by ~0.5 in all).
    dissipated = cumulative_simpson(-np.abs(tr.s[exact, 0]), x=tr.t[exact], initial=0.0)
    assert np.max(np.abs((tr.H[exact] - tr.H[0]) - dissipated)) < 5e-5
    # Fixed-step tail: chattering of size O(step * |w|) only.
    assert tr.max_H_increase <= 3 * step * np.max(np.abs(tr.w[~exact])) + step ** 2
    # Approaches the minimiser w = 0, m = 0.
    assert tr.final_grad_norm < 2 * step
    assert abs(tr.s[-1, 0]) < 2 * step
    assert tr.H[-1] < 1e-4 * tr.H[0]


def test_sliding_mode_hits_zeno_guard_and_matches_closed_form():
    """w' = -sign(w) from w = 1: w(t) = max(1 - t, 0); from t = 1 on it chatters on w = 0."""
    tr = integrate(lambda w, s: (-torch.sign(w), 0 * s), [1.0], [0.0], 2.0, L=lambda w: w.abs().sum(1),
                   switching=lambda w, s: w, max_restarts=100, zeno_step=1e-2, n_samples=201)
    assert tr.restarts == 100 and tr.switches >= 99
    assert tr.zeno_t == pytest.approx(1.0, abs=1e-6)
    assert np.max(np.abs(tr.w[:, 0] - np.maximum(1 - tr.t, 0.0))) < 1e-2
    assert np.max(np.abs(tr.w[tr.t < 1, 0] - (1 - tr.t[tr.t < 1]))) < 1e-9
    assert tr.max_L_increase <= 1e-2


# ----------------------------------------------------------------------------- mutations

@pytest.mark.parametrize("name", ["heavy ball, s' = -a w - gamma s", "heavy ball, w' = +s",
                                  "signed momentum, w' = +sign(m)"])
def test_planted_sign_flip_makes_H_increase(name):
    if name.startswith("signed"):
        tr = integrate(lambda w, m: (torch.sign(m), w - m), [1.0], [0.2], 5.0, H=sm_H, switching=lambda w, m: m)
    elif "w' = +s" in name:
        tr = integrate(lambda w, s: (s, A * w - GAMMA * s), [W0], [S0], 5.0, H=hb_H)
    else:
        tr = integrate(lambda w, s: (-s, -A * w - GAMMA * s), [W0], [S0], 5.0, H=hb_H)
    assert tr.max_H_increase > 1e-2, name


# ----------------------------------------------------------------------------- plot

def test_plot_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    hb = integrate(hb_field(), [W0], [S0], 10.0, H=hb_H, L=hb_L, n_samples=200)
    sm = integrate(sm_field, [1.0], [0.0], 6.0, H=sm_H, L=lambda w: (0.5 * w ** 2).sum(1),
                   switching=lambda w, m: m, n_samples=200)
    out = plot({"heavy ball": hb, "signed momentum": sm}, tmp_path / "traj.png")
    assert out == tmp_path / "traj.png"
    data = out.read_bytes()
    assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"
