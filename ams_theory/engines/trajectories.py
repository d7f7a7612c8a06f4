"""Continuous-time optimizer dynamics: integrate ``(w, s)' = field(w, s)`` with scipy, and plot H(t), L(t).

The vector field, the Hamiltonian ``H``, the loss ``L``, its gradient and the switching functions
are torch callables on float64 tensors with a leading batch dimension of 1 (``w: (1, d)``,
``s: (1, k)``); :func:`integrate` flattens ``(w, s)`` into one numpy state vector for
:func:`scipy.integrate.solve_ivp` and converts back at every call. ``k`` may differ from ``d``
(Adam's ``(m, v)`` stacked has ``k = 2d``).

Smooth fields are one ``solve_ivp`` call with dense output. Discontinuous fields (``sign``,
masks) are integrated piecewise on the regions where the field is smooth; see :func:`integrate`.
:func:`plot` draws H(t) and L(t) of several named trajectories in one PNG (matplotlib, Agg).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch
from scipy.integrate import solve_ivp

__all__ = ["Trajectory", "integrate", "plot"]

F64 = torch.float64


@dataclass
class Trajectory:
    """Samples of one integrated trajectory, evenly spaced in t (``n = n_samples`` rows).

    ``switches`` counts the switching events handled (restarts); ``max_H_increase`` /
    ``max_L_increase`` are ``max_i X[i+1] - X[i]`` over the samples (``nan`` when the function was
    not given): ``<= 0`` up to tolerance for a Hamiltonian descent. ``final_grad_norm`` is
    ``|grad L(w(t_end))|`` (``nan`` without ``grad``).

    Zeno guard (see :func:`integrate`): ``zeno_t`` is the time at which the restart cap was hit
    (``None`` if it never was) and ``fallback_step`` the fixed step used from then on;
    ``restarts`` is the number of event-driven restarts.
    """
    t: np.ndarray
    w: np.ndarray
    s: np.ndarray
    H: np.ndarray
    L: np.ndarray
    switches: int
    max_H_increase: float
    max_L_increase: float
    final_grad_norm: float
    restarts: int = 0
    zeno_t: Optional[float] = None
    fallback_step: Optional[float] = None

    @property
    def zeno_capped(self) -> bool:
        return self.zeno_t is not None


# ----------------------------------------------------------------------------- numpy <-> torch

def _flat(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().to(F64).numpy()
    return np.asarray(x, dtype=np.float64).reshape(-1).copy()


def _split(y: np.ndarray, d: int):
    """(d+k,) numpy -> w (1, d), s (1, k) float64 tensors (copies: a field may not alias the solver's state)."""
    yt = torch.from_numpy(np.array(y, dtype=np.float64)).view(1, -1)
    return yt[:, :d], yt[:, d:]


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        if x.dtype != F64 or x.device.type != "cpu" or x.requires_grad:
            x = x.detach().cpu().to(F64)
        return x.numpy().reshape(-1)
    return np.asarray(x, dtype=np.float64).reshape(-1)


def _max_increase(x: np.ndarray) -> float:
    dx = np.diff(x)
    dx = dx[np.isfinite(dx)]
    return float(dx.max()) if dx.size else float("nan")

# ----------------------------------------------------------------------------- integration

def integrate(field: Callable, w0, s0, t_end: float, H: Optional[Callable] = None, L: Optional[Callable] = None,
              grad: Optional[Callable] = None, switching: Optional[Callable] = None, rtol: float = 1e-9,
              atol: float = 1e-12, n_samples: int = 400, max_step: Optional[float] = None, method: str = "RK45",
              *, max_restarts: int = 2000, zeno_step: Optional[float] = None) -> Trajectory:
    """Integrate ``w' = dw, s' = ds`` with ``(dw, ds) = field(w, s)`` from ``(w0, s0)`` at t = 0 to ``t_end``.

    ``w0`` (d,) and ``s0`` (k,) may be numpy arrays, lists or tensors (any shape; flattened).
    ``rtol``, ``atol``, ``max_step`` (``None``: unbounded) and ``method`` go to ``solve_ivp``.
    ``H``, ``L`` and ``grad`` are only evaluated at the ``n_samples`` output times
    ``linspace(0, t_end, n_samples)``, read from the solver's dense output.

    **Switching (discontinuous right-hand sides).** ``switching(w, s) -> (1, m)`` returns the
    functions whose sign changes make the field jump (e.g. the entries of ``grad L * m`` for a
    cautious mask, or ``m`` itself for ``sign(m)``). Each component is a terminal ``solve_ivp``
    event with ``direction = 0``, so the integration stops at the first zero crossing of any
    component, located on the dense interpolant by root-finding; no RK step is taken across it
    (within a step that straddles a jump the error controller shrinks the step, so the located
    crossing is accurate to the tolerances). At a crossing ``t_e`` with state ``y_e`` the
    integration restarts just past it: one explicit Euler step of ``dt = 1e-12 * (1 + |t_e|)``
    (``y = y_e + dt * f(y_e)``; its error ``O(dt^2)`` is negligible) puts the state on the far side
    of the switching surface, so the fresh ``solve_ivp`` segment starts with nonzero switching
    values and does not re-detect the same crossing at its first step. ``switches`` counts the
    events handled (one per component that fired), except an event at the very start of a
    segment (a switching value exactly 0 there, e.g. ``m0 = 0``): that one only costs a restart.
    Each restarted segment's first step is the largest accepted step of the previous one.

    **Zeno guard.** A solution can switch infinitely often in finite time (e.g. signed momentum
    spiralling into the minimum, or a sliding mode on a switching surface), and then each
    restart advances by little more than ``dt``. After ``max_restarts`` restarts the remaining
    interval ``[t_zeno, t_end]`` is integrated without events by classical fixed-step RK4 with
    step ``zeno_step`` (default: ``max_step`` if given, else ``t_end / (10 n_samples)``), linearly
    interpolated for the samples. A fixed-step scheme chatters across the surface with amplitude
    ``O(step)`` instead of sliding exactly, so monotonicity checks after ``zeno_t`` only hold up to
    that size. ``Trajectory.zeno_t`` and ``Trajectory.fallback_step`` record it. (Adaptive
    ``solve_ivp`` steps are not used there: a chattering right-hand side would drive them to ~0.)
    """
    w0, s0 = _flat(w0), _flat(s0)
    d, k = len(w0), len(s0)
    t_end = float(t_end)
    if not t_end > 0:
        raise ValueError("t_end must be positive")
    if n_samples < 1:
        raise ValueError("n_samples must be >= 1")
    y = np.concatenate([w0, s0])

    def rhs(_t, yy):
        w, s = _split(yy, d)
        with torch.no_grad():
            dw, ds = field(w, s)
        return np.concatenate((_np(dw), _np(ds)))

    # Pieces of the solution: (t_start, t_stop, callable t -> (d+k,) or (d+k, n)).
    pieces: list = []
    switches = restarts = 0
    zeno_t = fallback = None
    t = 0.0
    h_guess = None
    kw = dict(rtol=rtol, atol=atol, method=method, dense_output=True)
    if max_step is not None:
        kw["max_step"] = max_step

    events = []
    if switching is not None:
        cache: dict = {"key": None, "val": None}

        def g_all(yy):
            key = yy.tobytes()
            if cache["key"] != key:
                w, s = _split(yy, d)
                with torch.no_grad():
                    cache["val"] = _np(switching(w, s))
                cache["key"] = key
            return cache["val"]

        m = len(g_all(y))

        def make_event(j):
            def ev(_t, yy):
                return g_all(yy)[j]
            ev.terminal = True
            ev.direction = 0
            return ev

        events = [make_event(j) for j in range(m)]

    while t < t_end:
        if events and restarts >= max_restarts:
            zeno_t = t
            fallback = float(zeno_step if zeno_step is not None
                             else (max_step if max_step is not None and math.isfinite(max_step)
                                   else t_end / (10 * n_samples)))
            ts, ys = _rk4(rhs, t, y, t_end, fallback)
            pieces.append((t, t_end, _linear(ts, ys)))
            y, t = ys[-1], t_end
            break
        if h_guess is not None:
            kw["first_step"] = min(h_guess, t_end - t)
        sol = solve_ivp(rhs, (t, t_end), y, events=events or None, **kw)
        if sol.status == -1:
            raise RuntimeError(f"solve_ivp failed at t = {sol.t[-1]:.6g}: {sol.message}")
        t_start = t
        pieces.append((t, float(sol.t[-1]), sol.sol))
        t, y = float(sol.t[-1]), sol.y[:, -1].copy()
        if t > t_start:      # next segment's first step: the largest accepted step of this one
            h_guess = float(np.max(np.diff(sol.t)))
        if sol.status != 1:                      # reached t_end
            break
        if t > t_start:   # an event at the segment's very start (a switching value exactly 0) is no switch
            switches += max(1, sum(1 for te in sol.t_events if len(te) and te[-1] == sol.t[-1]))
        restarts += 1
        dt = min(1e-12 * (1.0 + abs(t)), t_end - t)
        if dt > 0:
            y = y + dt * rhs(t, y)
            t = t + dt

    # Dense samples.
    ts = np.linspace(0.0, t_end, n_samples) if n_samples > 1 else np.array([t_end])
    starts = np.array([p[0] for p in pieces])
    idx = np.clip(np.searchsorted(starts, ts, side="right") - 1, 0, len(pieces) - 1)
    Y = np.empty((n_samples, d + k))
    for i in np.unique(idx):
        sel = idx == i
        a, b, f = pieces[i]
        Y[sel] = np.asarray(f(np.clip(ts[sel], a, b))).reshape(d + k, -1).T
    Y[-1] = y                                   # the exact end state
    Ws, Ss = Y[:, :d], Y[:, d:]

    Hs = np.full(n_samples, np.nan)
    Ls = np.full(n_samples, np.nan)
    with torch.no_grad():
        for i in range(n_samples):
            w, s = _split(Y[i], d)
            if H is not None:
                Hs[i] = float(_np(H(w, s))[0])
            if L is not None:
                Ls[i] = float(_np(L(w))[0])
        gnorm = float("nan")
        if grad is not None:
            gnorm = float(np.linalg.norm(_np(grad(_split(y, d)[0]))))

    return Trajectory(t=ts, w=Ws, s=Ss, H=Hs, L=Ls, switches=int(switches),
                      max_H_increase=_max_increase(Hs) if H is not None else float("nan"),
                      max_L_increase=_max_increase(Ls) if L is not None else float("nan"),
                      final_grad_norm=gnorm, restarts=int(restarts), zeno_t=zeno_t, fallback_step=fallback)


def _rk4(rhs, t0: float, y0: np.ndarray, t1: float, h: float):
    """Classical RK4 with fixed step ``h`` on ``[t0, t1]`` (the last step shortened to land on t1)."""
    n = max(1, int(math.ceil((t1 - t0) / h - 1e-9)))
    ts = np.linspace(t0, t1, n + 1)
    ys = np.empty((n + 1, len(y0)))
    ys[0] = y = y0
    for i in range(n):
        t, hh = ts[i], ts[i + 1] - ts[i]
        k1 = rhs(t, y)
        k2 = rhs(t + hh / 2, y + hh / 2 * k1)
        k3 = rhs(t + hh / 2, y + hh / 2 * k2)
        k4 = rhs(t + hh, y + hh * k3)
        y = y + hh / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        ys[i + 1] = y
    return ts, ys


def _linear(ts: np.ndarray, ys: np.ndarray):
    def f(tq):
        tq = np.atleast_1d(tq)
        return np.stack([np.interp(tq, ts, ys[:, j]) for j in range(ys.shape[1])])
    return f


# ----------------------------------------------------------------------------- plotting

def plot(trajectories: dict, path, title: Optional[str] = None):
    """Write one PNG with a panel per named trajectory: H(t) and L(t) on a shared t axis.

    The y axis of a panel is logarithmic when every plotted value is positive, linear otherwise;
    a dotted vertical line marks where the Zeno guard switched to fixed steps. Returns ``path``.
    """
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    names = list(trajectories)
    if not names:
        raise ValueError("no trajectories to plot")
    fig, axes = plt.subplots(len(names), 1, sharex=True, squeeze=False,
                             figsize=(8, 2.6 * len(names) + 0.6))
    for ax, name in zip(axes[:, 0], names):
        tr = trajectories[name]
        vals = []
        for arr, lab, style in ((tr.H, "H(t)", "-"), (tr.L, "L(t)", "--")):
            if np.any(np.isfinite(arr)):
                ax.plot(tr.t, arr, style, label=lab)
                vals.append(arr[np.isfinite(arr)])
        allv = np.concatenate(vals) if vals else np.array([])
        if allv.size and np.all(allv > 0):
            ax.set_yscale("log")
        if tr.zeno_t is not None:
            ax.axvline(tr.zeno_t, color="grey", linestyle=":", label=f"fixed step from t={tr.zeno_t:.3g}")
        info = [f"switches: {tr.switches}"] if tr.switches else []
        if math.isfinite(tr.max_H_increase):
            info.append(f"max H increase between samples: {tr.max_H_increase:.2g}")
        ax.set_title(name + (f"  ({', '.join(info)})" if info else ""), fontsize=10)
        ax.set_ylabel("value")
        ax.grid(True, which="major", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="best")
    axes[-1, 0].set_xlabel("t")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
