r"""The papers' two-dimensional toy experiments, run with the project's own optimizers.

Each experiment drives a preset of :data:`ams_theory.PRESETS` through its pure
rule (the function ``type(optimizer).rule`` that ``optimizer.step`` calls),
with the hyperparameters an optimizer instance validated and filled in, on a
batch of independent starts at once (:class:`~ams_theory.core.ops.TorchOps`
with one batch dimension: the scope reductions stay per start). The same
driver runs one start in exact rationals (:class:`~ams_theory.core.ops.SympyOps`)
to re-check a counterexample.

- Figure 1 of the AMS/Grams paper: ``f(w) = (0.5 w1)^2 + (0.1 w2)^2``,
  step 0.01 for Adam, C-Adam and Grams, 0.001 for Lion and C-Lion; C-Adam
  under each of its readings (:data:`FIG1_CADAM_VARIANTS`).
- Figure 2 and §3.1 of the Cautious paper: ``L(w) = kappa w1^2 + w2^2``,
  ``kappa = 4``, start ``(1, 1)``, zero momentum, GDM ``s <- beta s + g``,
  ``w <- w - eps s`` against C-GDM ``w <- w - eps phi(s o g) o s``.
- Figure 8 of the Cautious paper: convergence-rate maps over ``(eps, beta)``,
  the rate being ``exp`` of the least-squares slope of ``log L(w_t)`` in ``t``;
  a local grid refinement of the best point (:func:`refine_minimum`), and runs
  renormalised every few steps (:func:`log_losses`) for horizons past float range.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import sympy as sp
import torch

from ams_theory.core.ops import SympyOps, TorchOps
from ams_theory.optim import PRESETS

__all__ = ["Quadratic2D", "FIG1_PROBLEM", "FIG2_PROBLEM", "KAPPA", "FIG1_CADAM_VARIANTS", "FIG1_CADAM",
           "FIG1_METHODS", "FIG2_SETTINGS", "FIG8_MASKS", "decimal", "intra_op_threads", "preset_rule", "run",
           "run_exact", "log_losses", "fig1_starts", "fig1_losses", "fig1_compare", "fig1_experiment",
           "heavy_ball_energy", "fig2_experiment", "loss_rate", "log_loss_rate", "fig8_experiment",
           "refine_minimum", "fig8_refine", "goh_optimum", "plot_fig1", "plot_fig2", "plot_fig8"]

KAPPA = 4


def decimal(x) -> sp.Rational:
    """A number as the decimal it is written as (0.01 -> 1/100, not the binary float nearest 0.01)."""
    return x if isinstance(x, sp.Basic) else sp.Rational(repr(float(x)) if isinstance(x, float) else x)


@dataclass(frozen=True)
class Quadratic2D:
    r"""``f(w) = a1 w1^2 + a2 w2^2`` (any number of coordinates), written against the back-end operations."""
    a: tuple

    def coefficients(self, ops, like=None):
        if isinstance(ops, SympyOps):
            return SympyOps.asarray([decimal(x) for x in self.a])
        return torch.tensor(self.a, dtype=like.dtype if like is not None else torch.float64)

    def value(self, w):
        """``f`` of a batch ``w`` of shape ``(..., d)`` (torch) or of one exact vector (sympy)."""
        if torch.is_tensor(w):
            return (self.coefficients(None, w) * w * w).sum(-1)
        return sum(decimal(a) * x * x for a, x in zip(self.a, w))

    def grad(self, ops, w):
        """``grad f = 2 a o w``."""
        return ops.mul(w, 2 * self.coefficients(ops, w if torch.is_tensor(w) else None))

    @property
    def smoothness(self):
        return 2 * max(self.a)


FIG1_PROBLEM = Quadratic2D((0.25, 0.01))            # (0.5 w1)^2 + (0.1 w2)^2
FIG2_PROBLEM = Quadratic2D((float(KAPPA), 1.0))     # kappa w1^2 + w2^2

#: C-Adam of Figure 1 of the AMS/Grams paper under each reading (preset and overrides; default betas, no
#: weight decay). The paper's own C-Adam is Def. 3.2, which Cor. 4.2 / B.2 identifies with AMS at beta3 = 0,
#: lambda = 0 (mask 1(u o g >= 0), step lr d / |phi|_1); Def. 3.2 itself prints the factor d / |u-hat|_1.
#: The Cautious paper's C-AdamW is its Alg. 2 (mask 1(u o g > 0), lr d / (nnz + 1)) or the one line of its
#: Alg. 1 (lr / (mean + eps), per tensor).
FIG1_CADAM_VARIANTS = {
    "Def. 3.2 by Cor. 4.2 (AMS, beta3 = 0, lambda = 0: lr d/|phi|_1)":
        ("AMS", dict(lr=0.01, betas=(0.9, 0.999, 0.0), lam=0.0)),
    "Def. 3.2 as printed (lr d/|u-hat|_1)":
        ("AMS", dict(lr=0.01, betas=(0.9, 0.999, 0.0), lam=0.0, normalize="update_l1")),
    "Cautious Alg. 2 (lr d/(nnz + 1))": ("CAdamW", dict(lr=0.01, weight_decay=0.0)),
    "Cautious Alg. 1 (lr/(mean + eps))":
        ("CAdamW", dict(lr=0.01, weight_decay=0.0, normalize="mean_eps", scope="tensor")),
    "mask only, no rescaling (lr)": ("AMS", dict(lr=0.01, betas=(0.9, 0.999, 0.0), lam=0.0, normalize="none")),
}
#: The reading of C-Adam that :data:`FIG1_METHODS` uses: the AMS/Grams paper's own.
FIG1_CADAM = "Def. 3.2 by Cor. 4.2 (AMS, beta3 = 0, lambda = 0: lr d/|phi|_1)"

#: Figure 1 of the AMS/Grams paper: preset and its overrides (default betas; no weight decay on the toy).
FIG1_METHODS = {
    "Adam": ("Adam", dict(lr=0.01)),
    "C-Adam": FIG1_CADAM_VARIANTS[FIG1_CADAM],
    "Grams": ("Grams", dict(lr=0.01)),
    "Lion": ("Lion", dict(lr=0.001)),
    "C-Lion": ("CLion", dict(lr=0.001)),
}

#: The settings listed in §3.1 of the Cautious paper, read as (eps, beta); the list repeats (0.01, 0.99).
FIG2_SETTINGS = ((0.01, 0.5), (0.01, 0.9), (0.01, 0.99), (0.01, 0.99), (0.1, 0.99), (0.001, 0.99))

#: The masks of Figure 8 / eq. (13) of the Cautious paper as CGDM options (no rescaling).
#: ``phi_c = 1(x > 0) - c 1(x <= 0)``; ``phi_inner = 1(u'g >= 0)``; GDM is the constant 1.
FIG8_MASKS = {
    "GDM": ("GDM", {}),
    "phi_0.01": ("CGDM", dict(lam=-0.01, tie="opposed", normalize="none")),
    "phi_0.1": ("CGDM", dict(lam=-0.1, tie="opposed", normalize="none")),
    "phi_inner": ("CGDM", dict(mask="inner", tie="aligned", normalize="none")),
}


@contextmanager
def intra_op_threads(n: int = 1):
    """Run the block (or, as a decorator, the function) with ``n`` torch intra-op threads, then restore the
    setting: the toys' tensors are a few thousand numbers at most, where extra threads only wait on each other
    (on a loaded 2-core machine a 2000-step run of 4 points takes 3 to 6 times longer with 2 threads)."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def preset_rule(name: str, **overrides):
    """``(rule, hp, buffer_names)`` of preset ``name``: the optimizer class validates and fills in ``hp``."""
    cls = PRESETS[name]
    opt = cls([torch.zeros(1)], **overrides)
    group = opt.param_groups[0]
    hp = {k: v for k, v in group.items() if k != "params"}
    return cls.rule, hp, tuple(opt._buffers(group))


def run(name: str, problem, w0: torch.Tensor, steps: int, columns: dict | None = None,
        record_state: bool = False, state: dict | None = None, t0: int = 0, **overrides):
    """Iterates ``w_0..w_steps`` of preset ``name`` on ``problem`` from each row of ``w0`` (shape ``(n, d)``).

    Returns a tensor of shape ``(steps + 1, n, d)``. Zero optimizer state, as a fresh optimizer has, unless
    ``state`` (buffer -> ``(n, d)``) continues an earlier run that had taken ``t0`` steps.
    ``columns`` maps hyperparameters to ``(n, 1)`` tensors, one value per start (the rules broadcast);
    they replace the validated scalars, so one batch can sweep a grid. With ``record_state`` the
    optimizer state after every step comes back too: ``(iterates, {buffer: (steps + 1, n, d)})``.
    """
    rule, hp, buffers = preset_rule(name, **overrides)
    hp = {**hp, **(columns or {})}
    ops = TorchOps(batch_dims=w0.ndim - 1)
    w = w0.clone()
    state = {k: state[k].clone() if state else torch.zeros_like(w0) for k in buffers}
    out = torch.empty((steps + 1, *w0.shape), dtype=w0.dtype)
    out[0] = w
    kept = {k: torch.zeros_like(out) for k in buffers} if record_state else None
    if kept is not None:
        for k in buffers:
            kept[k][0] = state[k]
    for t in range(1, steps + 1):
        w, state = rule(ops, w, problem.grad(ops, w), state, hp, t0 + t)
        out[t] = w
        if kept is not None:
            for k in buffers:
                kept[k][t] = state[k]
    return (out, kept) if record_state else out


def log_losses(name: str, problem, w0: torch.Tensor, steps: int, columns: dict | None = None, chunk: int = 100,
               **overrides) -> torch.Tensor:
    r"""``log f(w_t)`` for ``t = 0..steps`` (shape ``(steps + 1, n)``), on horizons where ``f`` leaves float range.

    Only for a rule that is positively homogeneous of degree one on a quadratic ``f`` (a step from
    ``(c w, c state)`` is ``c`` times the step from ``(w, state)``, ``c > 0``): GDM, and C-GDM with a mask
    that is scale-free (signs, counts, a threshold linear in the step; the masks of Figure 8 / eq. (13) of
    the Cautious paper among them); not the Adam family (its ``eps`` breaks the scaling). Every ``chunk``
    steps the iterate and the buffers are divided by ``c = sqrt(f(w))``, and ``log c^2`` is added back
    (``f(w / c) = f(w) / c^2``).
    """
    offset = torch.zeros(len(w0), dtype=w0.dtype)
    logs, w, state = [problem.value(w0).log().unsqueeze(0)], w0, None
    for t0 in range(0, steps, chunk):
        traj, kept = run(name, problem, w, min(chunk, steps - t0), columns, record_state=True, state=state,
                         t0=t0, **overrides)
        f = problem.value(traj[1:])
        logs.append(f.log() + offset)
        last = f[-1]
        c = torch.where((last > 0) & last.isfinite(), last.sqrt(), torch.ones_like(last)).unsqueeze(1)
        w, state = traj[-1] / c, {k: v[-1] / c for k, v in kept.items()}
        offset = offset + 2 * c.squeeze(1).log()
    return torch.cat(logs)


def run_exact(name: str, problem, w0, steps: int, exact: dict | None = None, **overrides) -> list:
    """The same iteration for one start in exact rational arithmetic: ``[(w_t, state_t)]`` for ``t = 0..steps``.

    ``exact`` maps hyperparameter names to exact values (e.g. ``{"lr": Rational(1, 100)}``) that replace the
    validated values; every other float hyperparameter and ``w0`` are read with :func:`decimal`.
    """
    rule, hp, buffers = preset_rule(name, **overrides)
    as_decimal = lambda v: (decimal(v) if isinstance(v, float) else
                            tuple(map(as_decimal, v)) if isinstance(v, tuple) else v)
    hp = {**{k: as_decimal(v) for k, v in hp.items()}, **(exact or {})}
    ops = SympyOps()
    w = SympyOps.asarray([decimal(x) for x in w0])
    state = {k: SympyOps.asarray([sp.Integer(0)] * len(w)) for k in buffers}
    out = [(w, state)]
    for t in range(1, steps + 1):
        w, state = rule(ops, w, problem.grad(ops, w), state, hp, t)
        out.append((w, state))
    return out


# --------------------------------------------------------------------------- Figure 1 of the AMS/Grams paper

def fig1_starts(n: int, seed: int, radius: float = 2.0) -> torch.Tensor:
    """``n`` starts uniform in the square ``[-radius, radius]^2`` (seeded), float64."""
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand((n, 2), generator=gen, dtype=torch.float64) * 2 - 1) * radius


def fig1_losses(starts: torch.Tensor, steps: int, methods: dict | None = None) -> dict:
    """``f(w_t)``, ``t = 0..steps``, of each method of ``methods`` (label -> (preset, overrides); default
    :data:`FIG1_METHODS`) from every row of ``starts``: label -> ``(steps + 1, n)``."""
    return {label: FIG1_PROBLEM.value(run(name, FIG1_PROBLEM, starts, steps, **kw))
            for label, (name, kw) in (methods or FIG1_METHODS).items()}


def fig1_compare(f: dict, horizons, threshold: float = 1e-3, rtol: float = 1e-9) -> dict:
    r"""Who ends lowest and who gets there first, from the loss curves ``f`` (label -> ``(T + 1, n)``).

    For each horizon ``T``: the share of starts on which each method has the strictly lowest ``f(w_T)``
    (others beaten by more than ``rtol`` relatively), and the share of ties for the lowest. "First": the
    first step with ``f(w_t) <= threshold f(w_0)``; the share of starts on which each method is strictly
    first. The curves come back under ``"f"``.
    """
    labels = list(f)
    steps = len(f[labels[0]]) - 1
    out = {"f": f, "horizons": {}, "first": {}}
    for T in horizons:
        vals = torch.stack([f[k][T] for k in labels])              # (methods, n)
        best = vals.min(0).values
        near = vals <= best * (1 + rtol) + 1e-300
        n_best = near.sum(0)
        out["horizons"][T] = {
            "strictly_lowest": {k: float(((n_best == 1) & near[i]).double().mean()) for i, k in enumerate(labels)},
            "tied_lowest": float((n_best > 1).double().mean()),
            "median_f": {k: float(vals[i].median()) for i, k in enumerate(labels)},
        }
    hit = torch.stack([_first_hit(f[k], threshold) for k in labels])  # (methods, n), steps+1 = never
    first = hit.min(0).values
    alone = (hit == first).sum(0) == 1
    out["first"] = {
        "threshold": threshold,
        "strictly_first": {k: float((alone & (hit[i] == first)).double().mean()) for i, k in enumerate(labels)},
        "never": {k: float((hit[i] > steps).double().mean()) for i, k in enumerate(labels)},
        "median_steps": {k: float(hit[i].double().median()) for i, k in enumerate(labels)},
    }
    return out


def fig1_experiment(starts: torch.Tensor, steps: int, horizons=None, threshold: float = 1e-3,
                    rtol: float = 1e-9, methods: dict | None = None) -> dict:
    r"""Figure 1's five methods (``methods``, default :data:`FIG1_METHODS`) from every start:
    :func:`fig1_compare` of :func:`fig1_losses` at ``horizons`` (default: the last step)."""
    return fig1_compare(fig1_losses(starts, steps, methods), tuple(horizons or (steps,)), threshold, rtol)


def _first_hit(f: torch.Tensor, threshold: float) -> torch.Tensor:
    """First index ``t`` with ``f[t] <= threshold f[0]`` per column; ``len(f)`` where it never happens."""
    below = f <= threshold * f[0]
    idx = torch.arange(len(f)).unsqueeze(1).expand_as(f)
    return torch.where(below, idx, torch.full_like(idx, len(f))).min(0).values


# --------------------------------------------------------------------------- Figure 2 of the Cautious paper

def heavy_ball_energy(problem, w, s, lr, convention: str = "discrete"):
    r"""GDM's Hamiltonian along a run: ``L(w) + (eps/2)|s|^2`` (``"discrete"``: the kinetic energy of the
    displacement ``w_t - w_{t-1} = -eps s_t``, i.e. ``|w_t - w_{t-1}|^2 / (2 eps)``) or ``L(w) + |s|^2/2``
    (``"continuous"``: the Hamiltonian of the heavy-ball ODE taken at the discrete state)."""
    if torch.is_tensor(w):
        k = lr / 2 if convention == "discrete" else 0.5
        return problem.value(w) + k * (s * s).sum(-1)
    k = lr / 2 if convention == "discrete" else sp.Rational(1, 2)
    return problem.value(w) + k * sum(x * x for x in s)          # one exact state


def fig2_experiment(settings=FIG2_SETTINGS, steps: int = 1000, cautious: dict | None = None,
                    start=(1.0, 1.0), columns: dict | None = None) -> list:
    r"""GDM and C-GDM from ``start`` with zero momentum, one run per ``(eps, beta)`` setting.

    ``cautious``: options of the C-GDM preset (default: the bare indicator ``1(s o g > 0)``, no rescaling,
    as in §3.1); ``columns``: a function ``(eps, beta) -> {hp: value}`` applied after validation (e.g. the
    threshold ``margin`` of Thm. 2.4). Returns per setting the loss curves ``L_gdm``, ``L_cgdm`` (length
    ``steps + 1``), both iterate sequences, and GDM's Hamiltonian along the C-GDM run (both conventions of
    :func:`heavy_ball_energy`; C-GDM's buffer follows GDM's recursion, so it is the ``s`` of that Hamiltonian).
    """
    cautious = dict(normalize="none") if cautious is None else cautious
    w0 = torch.tensor([start], dtype=torch.float64)
    out = []
    for eps, beta in settings:
        gdm = run("GDM", FIG2_PROBLEM, w0, steps, lr=eps, beta=beta)[:, 0]
        extra = columns(eps, beta) if columns else None
        cgdm, sc = run("CGDM", FIG2_PROBLEM, w0, steps, extra, record_state=True, lr=eps, beta=beta, **cautious)
        cgdm, sc = cgdm[:, 0], sc["s"][:, 0]
        out.append({
            "eps": eps, "beta": beta,
            "L_gdm": FIG2_PROBLEM.value(gdm), "L_cgdm": FIG2_PROBLEM.value(cgdm),
            "H_cgdm": {c: heavy_ball_energy(FIG2_PROBLEM, cgdm, sc, eps, c) for c in ("discrete", "continuous")},
            "w_gdm": gdm, "w_cgdm": cgdm,
        })
    return out


# --------------------------------------------------------------------------- Figure 8 of the Cautious paper

def goh_optimum(kappa: float = KAPPA, mu: float = 2.0) -> dict:
    r"""Heavy ball's optimal tuning on a quadratic with Hessian eigenvalues in ``[mu, kappa mu]`` (Polyak;
    as surveyed by Goh, 2017): ``eps = 4 / (sqrt(L) + sqrt(mu))^2``, ``beta = ((sqrt(kappa)-1)/(sqrt(kappa)+1))^2``,
    and the contraction rate of ``|w_t|``, ``(sqrt(kappa)-1)/(sqrt(kappa)+1)`` (of ``L(w_t)``: its square)."""
    L = kappa * mu
    r = (math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)
    return {"eps": 4 / (math.sqrt(L) + math.sqrt(mu)) ** 2, "beta": r * r, "rate_w": r, "rate_L": r * r}


def _slope_rate(logs: torch.Tensor, ok: torch.Tensor, min_points: int) -> torch.Tensor:
    """``exp`` of the least-squares slope of ``logs`` against the row index ``t``, over the entries where ``ok``,
    per column; ``nan`` for a column with fewer than ``min_points`` such entries."""
    t = torch.arange(len(logs), dtype=logs.dtype).unsqueeze(1).expand_as(logs)
    n = ok.sum(0).to(logs.dtype)
    z = torch.zeros_like(logs)
    logs = torch.where(ok, logs, z)
    st, sy = torch.where(ok, t, z).sum(0), logs.sum(0)
    stt, sty = torch.where(ok, t * t, z).sum(0), (t * logs).sum(0)
    rate = torch.exp((n * sty - st * sy) / (n * stt - st * st))
    return torch.where(n >= min_points, rate, torch.full_like(rate, float("nan")))


def loss_rate(losses: torch.Tensor, floor: float = 1e-250, ceiling: float = 1e250, min_points: int = 5):
    r"""``exp`` of the least-squares slope of ``log L_t`` against ``t``, per column of ``losses`` (``(T+1, n)``).

    Values below ``floor`` (underflow, or an exact zero that a run can hit) are left out; a run that exceeds
    ``ceiling`` or stops being finite is cut there (divergence). Columns with fewer than ``min_points``
    usable points give ``nan``. Values above 1 mean divergence.
    """
    alive = torch.cumprod(((losses <= ceiling) & torch.isfinite(losses)).to(torch.int64), 0).bool()
    ok = alive & (losses >= floor)
    return _slope_rate(torch.log(torch.where(ok, losses, torch.ones_like(losses))), ok, min_points)


def log_loss_rate(logs: torch.Tensor, first: int = 0, min_points: int = 5):
    r"""The rate of :func:`loss_rate` from log-losses (:func:`log_losses`), fitted over ``t >= first`` only
    (the transient left out); a run is cut where its log stops being finite."""
    alive = torch.cumprod(torch.isfinite(logs).to(torch.int64), 0).bool()
    t = torch.arange(len(logs)).unsqueeze(1)
    return _slope_rate(logs, alive & (t >= first), min_points)


def fig8_experiment(eps_grid, beta_grid, steps: int = 200, masks=None, start=(1.0, 1.0),
                    rate_from: int | None = None) -> dict:
    r"""Rate maps over ``eps_grid x beta_grid`` for GDM and the cautious masks of Figure 8.

    Every ``(eps, beta)`` pair is one instance of a batched run. ``rate_from=None``: the rate of
    :func:`loss_rate` on the float losses (the paper's estimator); an integer ``t0``: :func:`log_loss_rate`
    over ``t >= t0`` of the renormalised log-losses (:func:`log_losses`), for horizons past float range.
    Returns ``{"eps", "beta", "rates": {mask: (len(beta), len(eps)) tensor of L-rates},
    "best": {mask: (rate, eps, beta)}}``.
    """
    masks = masks or FIG8_MASKS
    eps_grid = torch.as_tensor(eps_grid, dtype=torch.float64)
    beta_grid = torch.as_tensor(beta_grid, dtype=torch.float64)
    B, E = torch.meshgrid(beta_grid, eps_grid, indexing="ij")
    w0 = torch.tensor(start, dtype=torch.float64).expand(B.numel(), 2).clone()
    columns = {"lr": E.reshape(-1, 1), "beta": B.reshape(-1, 1)}
    out = {"eps": eps_grid, "beta": beta_grid, "rates": {}, "best": {}}
    for label, (name, kw) in masks.items():
        if rate_from is None:
            rate = loss_rate(FIG2_PROBLEM.value(run(name, FIG2_PROBLEM, w0, steps, columns, **kw)))
        else:
            rate = log_loss_rate(log_losses(name, FIG2_PROBLEM, w0, steps, columns, **kw), rate_from)
        rate = rate.reshape(B.shape)
        out["rates"][label] = rate
        k = int(torch.nan_to_num(rate, nan=float("inf")).argmin())
        out["best"][label] = (float(rate.reshape(-1)[k]), float(E.reshape(-1)[k]), float(B.reshape(-1)[k]))
    return out


def refine_minimum(evaluate, start: tuple, spacing: tuple, lower=(0.0, 0.0), half: int = 3, shrink: float = 0.5,
                   tol: float = 1e-6, patience: int = 2, max_rounds: int = 30, digits: int = 12) -> dict:
    r"""Iterated local grid search for the smallest value of a function of two variables, from ``start = (x, y)``.

    ``evaluate(xs, ys) -> (value, x, y)``: the best point of the product grid ``xs x ys``. Each round lays
    the grid ``(x, y) + spacing o (i, j)``, ``i, j = -half..half`` (points below ``lower`` dropped, values
    rounded to ``digits`` decimals), around the best point so far, and keeps the grid's best point when it is
    lower. When that point lies strictly inside the grid (``|i|, |j| < half``) the spacing is multiplied by
    ``shrink``; on the grid's edge the spacing stays and the next grid is centred there.

    Stopping rule: ``patience`` consecutive rounds, each lowering the best value by less than ``tol`` with the
    best point strictly inside the grid. ``converged`` is False when ``max_rounds`` rounds came first.
    Returns ``{"value", "point", "converged", "rounds", "history"}``, one history entry per round (its
    ``improvement`` is None on the first round, which sets the baseline).
    """
    value, (x, y) = math.inf, start
    hx, hy = spacing
    ks = range(-half, half + 1)
    history, quiet = [], 0
    for r in range(1, max_rounds + 1):
        xs = [round(x + i * hx, digits) for i in ks if x + i * hx >= lower[0]]
        ys = [round(y + j * hy, digits) for j in ks if y + j * hy >= lower[1]]
        new, nx, ny = evaluate(xs, ys)
        inside = abs(nx - x) < (half - 0.5) * hx and abs(ny - y) < (half - 0.5) * hy
        gain = value - new                          # inf on the first round, nan when every point diverged
        if new < value:
            value, x, y = new, nx, ny
        history.append({"round": r, "value": value, "point": [x, y], "spacing": [hx, hy],
                        "improvement": gain if math.isfinite(gain) else None, "inside": inside})
        quiet = quiet + 1 if inside and gain < tol else 0
        if quiet >= patience:
            return {"value": value, "point": [x, y], "converged": True, "rounds": r, "history": history}
        if inside:
            hx, hy = hx * shrink, hy * shrink
    return {"value": value, "point": [x, y], "converged": False, "rounds": max_rounds, "history": history}


def fig8_refine(label: str, start: tuple, spacing: tuple, steps: int = 200, masks=None,
                rate_from: int | None = None, **search) -> dict:
    r"""The best rate of one method of Figure 8 (a key of ``masks``, default :data:`FIG8_MASKS`) by
    :func:`refine_minimum` over ``(eps, beta)`` from ``start = (eps, beta)``, with the estimator of
    :func:`fig8_experiment` (``steps``, ``rate_from``); ``eps`` and ``beta`` stay >= 0."""
    method = {label: (masks or FIG8_MASKS)[label]}

    def best_on(eps, beta):
        return fig8_experiment(eps, beta, steps, method, rate_from=rate_from)["best"][label]

    return refine_minimum(best_on, start, spacing, **search)


# --------------------------------------------------------------------------- figures (matplotlib)
# Each plot function writes a PNG and returns its path, or returns the figure when no path is given
# (a notebook then shows it).

def _finish(plt, fig, path):
    fig.tight_layout()
    if path is None:
        return fig
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("the figures need matplotlib: pip install -e '.[experiments]'") from None
    return plt


def plot_fig1(result: dict, path: str | None = None, traj: dict | None = None):
    """Figure 1 reproduction: ``f(w_t)`` per method (median over starts, and the first start) and, given
    ``traj`` (label -> ``(T+1, 2)`` iterates), the paths in the plane."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2 if traj else 1, figsize=(11 if traj else 6, 4), squeeze=False)
    ax = axes[0, -1]
    for label, f in result["f"].items():
        line, = ax.semilogy(f[:, 0].clamp_min(1e-300), label=f"{label} (first start)")
        ax.semilogy(f.median(1).values.clamp_min(1e-300), ls=":", color=line.get_color())
    ax.set_ylim(1e-40, None)
    ax.set_xlabel("step t"), ax.set_ylabel("f(w_t)  (dotted: median over starts)")
    ax.legend(fontsize=7)
    if traj:
        ax0 = axes[0, 0]
        for label, w in traj.items():
            ax0.plot(w[:, 0], w[:, 1], lw=0.8, label=label)
        ax0.plot([0], [0], "k*")
        ax0.set_aspect("equal", adjustable="datalim")
        ax0.set_xlabel("w1"), ax0.set_ylabel("w2"), ax0.set_title("paths from the first start")
    fig.suptitle("(0.5 w1)^2 + (0.1 w2)^2: Figure 1 of the AMS/Grams paper, re-run")
    return _finish(plt, fig, path)


def plot_fig2(runs: list, path: str | None = None):
    """Figure 2 reproduction: L(w_t) of GDM and C-GDM per setting, and GDM's Hamiltonian along C-GDM."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for r in runs:
        tag = f"eps={r['eps']}, beta={r['beta']}"
        line, = axes[0].semilogy(r["L_gdm"].clamp_min(1e-300), ls=":", lw=0.9)
        axes[0].semilogy(r["L_cgdm"].clamp_min(1e-300), color=line.get_color(), lw=0.9, label=tag)
        axes[1].semilogy(r["H_cgdm"]["discrete"].clamp_min(1e-300), color=line.get_color(), lw=0.9, label=tag)
    axes[0].set_title("L(w_t): C-GDM solid, GDM dotted"), axes[0].set_xlabel("step t")
    axes[1].set_title("GDM's Hamiltonian L + (eps/2)|s|^2 along C-GDM"), axes[1].set_xlabel("step t")
    axes[0].legend(fontsize=7)
    fig.suptitle("4 w1^2 + w2^2 from (1, 1): Figure 2 of the Cautious paper, re-run")
    return _finish(plt, fig, path)


def plot_fig8(result: dict, path: str | None = None):
    """Figure 8 reproduction: one rate map per mask, the best point of each, and Goh's optimum for GDM."""
    plt = _pyplot()
    labels = list(result["rates"])
    fig, axes = plt.subplots(1, len(labels), figsize=(4 * len(labels), 3.6), squeeze=False)
    eps, beta = result["eps"].numpy(), result["beta"].numpy()
    opt = goh_optimum()
    for ax, label in zip(axes[0], labels):
        rate = result["rates"][label].numpy()
        im = ax.pcolormesh(eps, beta, np.clip(rate, 0, 1.2), shading="auto", cmap="viridis")
        r, e, b = result["best"][label]
        ax.plot([e], [b], "w^", ms=7)
        ax.plot([opt["eps"]], [opt["beta"]], "r.", ms=9)
        ax.set_title(f"{label}: best L-rate {r:.3g}", fontsize=9)
        ax.set_xlabel("eps"), ax.set_ylabel("beta")
        fig.colorbar(im, ax=ax)
    fig.suptitle("rate = exp(slope of log L_t); red: Goh's GDM optimum, white: best on the grid", fontsize=9)
    return _finish(plt, fig, path)
