r"""Helpers for the exploration notebooks (``notebooks/descent_bounds.ipynb``, ``notebooks/hamiltonian_flows.ipynb``).

Two topics, both built on code the checks already use:

**One step against the descent lemmas.** :func:`one_step_changes` takes one step of Adam,
cautious Adam and Grams with the rule core (:func:`ams_theory.core.rules.ams_step`, batched
over step sizes with :class:`~ams_theory.core.ops.TorchOps`) and returns
``dL(eta) = L(w_next) - L(w)``. The bounds it is compared with are the papers' bounds
of :mod:`ams_theory.claims.bounds` (the functions the checks state their claims with), each
with its paper label:

- :func:`d1_bounds`: Lemma 3.4 / D.1 of the AMS/Grams paper (cautious step), parts 1-3;
- :func:`d2_bounds`: Lemma 5.3 / D.2 (Grams step), parts 1-3;
- :func:`smoothness_bounds`: the two-sided L-smoothness bound of the plain step (Fact A.2), for Adam;
- :func:`thm23_step_bound`: the step-size condition of Thm. 2.3 of the Cautious paper.

:func:`claim_margins` evaluates a one-step claim's registered margin along the step sizes,
so a notebook can show the project's verdicts and the plotted bounds side by side.

**Hamiltonian flows.** :func:`flow` integrates a system of
:data:`ams_theory.engines.dynamics.SYSTEMS` with :func:`ams_theory.engines.dynamics.trajectory`;
:func:`flow_rates` evaluates the true ``dH/dt``, ``dL/dt`` (autograd,
:func:`ams_theory.engines.dynamics.true_rates`) and the papers' closed forms at the sampled states.

Notation: ``g = grad L(w)``, ``u`` the base direction (Adam's ``m_hat / (sqrt(v_hat) + eps)``),
``P = <u o g, 1(u o g >= 0)>``, ``Q = <|g|, |u|>``, ``L`` the smoothness constant. Nothing here
re-types an update rule: steps, masks and directions come from :mod:`ams_theory.core.rules`.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Iterable, Mapping, Sequence

import numpy as np
import torch

from ams_theory.claims import bounds
from ams_theory.claims.registry import REGISTRY, load_checks
from ams_theory.core import rules
from ams_theory.core.cautions import CAUTIOUS_GE, GRAMS_DEF51, GRAMS_MASK
from ams_theory.core.ops import TorchOps
from ams_theory.engines import dynamics as dyn
from ams_theory.engines.smooth import QuadraticProblem

__all__ = ["diagonal_quadratic", "kappa4_quadratic", "repeat_instance", "step_sizes", "caution_hp", "STEP_CAUTIONS",
           "adam_direction", "one_step_changes", "smoothness_bounds", "d1_bounds", "d2_bounds", "thm23_step_bound",
           "violated", "DESCENT_CLAIMS", "claim_margins", "OneStep", "draw_one_step", "descent_curves",
           "margin_table", "plot_descent_panel", "plot_descent_row", "plot_margins",
           "FLOW_CLAIMS", "initial_state", "flow", "flow_rates", "flow_summary", "plot_hl", "plot_flows", "plot_rates",
           "format_table", "kappa_quadratic", "DescentFigure", "descent_figure", "FlowFigure", "flow_figure",
           "show_with_controls"]

T1 = TorchOps(batch_dims=1)
F64 = torch.float64


# ----------------------------------------------------------------------------- problems and step sizes

def diagonal_quadratic(a: Sequence[float], b: Sequence[float] | None = None, c: float = 0.0) -> QuadraticProblem:
    """One-instance ``f(w) = 1/2 sum_i a_i w_i^2 + b'w + c`` (a :class:`QuadraticProblem`, batch 1).

    ``L = max_i |a_i|`` (exact for a diagonal Hessian); ``convex`` is ``all(a_i >= 0)``; the family name is
    ``quadratic_diagonal_convex`` or ``quadratic_diagonal`` accordingly.
    """
    a_t = torch.tensor([list(map(float, a))], dtype=F64)
    b_t = torch.zeros_like(a_t) if b is None else torch.tensor([list(map(float, b))], dtype=F64)
    if b_t.shape != a_t.shape:
        raise ValueError(f"b has {b_t.shape[-1]} entries, a has {a_t.shape[-1]}")
    convex = bool((a_t >= 0).all())
    return QuadraticProblem(family="quadratic_diagonal_convex" if convex else "quadratic_diagonal", convex=convex,
                            L=a_t.abs().amax(-1), A=torch.diag_embed(a_t), b=b_t,
                            c=torch.tensor([float(c)], dtype=F64))


def kappa4_quadratic() -> QuadraticProblem:
    """``4 w1^2 + w2^2`` (Hessian ``diag(8, 2)``, condition number 4): the toy loss of §3.1 of the Cautious paper."""
    return kappa_quadratic(4.0)


def kappa_quadratic(kappa: float) -> QuadraticProblem:
    """``kappa w1^2 + w2^2`` (Hessian ``diag(2 kappa, 2)``, condition number ``max(kappa, 1/kappa)``); ``kappa = 4``
    is :func:`kappa4_quadratic`. ``kappa`` must be a positive finite number."""
    kappa = float(kappa)
    if not (math.isfinite(kappa) and kappa > 0):
        raise ValueError(f"kappa must be a positive finite number, got {kappa!r}")
    return diagonal_quadratic([2.0 * kappa, 2.0])


def repeat_instance(problem, n: int):
    """``n`` copies of instance 0 of ``problem`` as one batch (so one call evaluates ``n`` step sizes or states)."""
    return problem.select(torch.zeros(int(n), dtype=torch.long))


def step_sizes(lo: float, hi: float, n: int = 121) -> torch.Tensor:
    """``n`` log-spaced step sizes from ``lo`` to ``hi`` (float64)."""
    return torch.logspace(math.log10(lo), math.log10(hi), int(n), dtype=F64)


def _row(x) -> torch.Tensor:
    x = torch.as_tensor(x, dtype=F64)
    return x.reshape(1, -1)


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy().reshape(-1) if torch.is_tensor(x) else np.asarray(x, dtype=float).reshape(-1)


# ----------------------------------------------------------------------------- the steps (rule core)

def caution_hp(caution: rules.Caution | None) -> dict:
    """The hyperparameter entries of :func:`rules.ams_step` that select ``caution`` (``None``: no mask)."""
    return {"mask": None} if caution is None else caution.to_hp()


STEP_CAUTIONS = {   # the Caution of each one-step method: the same objects the discrete checks use
    "adam": None,                     # Adam (Def. A.4 of the AMS/Grams paper): w - eta u
    "cautious_adam": CAUTIOUS_GE,     # Def. 3.2 as the proof of D.1 takes it: w - eta u o 1(u o g >= 0)
    "grams": GRAMS_MASK,              # Cor. 5.2: w - eta sign(g) o |u|
    "grams_def51": GRAMS_DEF51,       # Def. 5.1: AMS with beta3 = 0, lambda = -1
}


def adam_direction(problem, w, m, v, t: int, betas=(0.9, 0.999), eps: float = 1e-8):
    r"""``(g, u, m_new, v_new)`` at ``w``: ``g = grad L(w)`` and Adam's direction after the moment update,
    ``u = m_hat / (sqrt(v_hat) + eps)`` with ``m <- b1 m + (1-b1) g``, ``v <- b2 v + (1-b2) g^2`` and bias
    corrections at step ``t`` (Def. A.4 of the AMS/Grams paper; Cor. 5.2 parts 1-5), from
    :func:`ams_theory.core.rules.adam_direction`. All ``(1, d)`` float64 tensors."""
    w, m, v = _row(w), _row(m), _row(v)
    g = problem.grad(w)
    u, m_new, v_new = rules.adam_direction(T1, g, m.clone(), v.clone(), betas[0], betas[1], eps, t)
    return g, u, m_new, v_new


def one_step_changes(problem, w, m, v, t: int, etas, methods: Iterable[str] = ("adam", "cautious_adam", "grams"),
                     betas=(0.9, 0.999), eps: float = 1e-8) -> dict:
    r"""``{method: dL(eta)}`` with ``dL = L(w_next) - L(w)`` for one step of each method from the state
    ``(w, m, v)`` at step ``t``, for every step size in ``etas``.

    Each step is :func:`ams_theory.core.rules.ams_step` with ``beta3 = 0``, ``lr = eta``, no weight decay and the
    caution of :data:`STEP_CAUTIONS` (``adam``: none; ``cautious_adam``: ``u o 1(u o g >= 0)``;
    ``grams``: ``sign(g) o |u|``; ``grams_def51``: AMS with ``lambda = -1``), batched over the step sizes.
    Returns numpy arrays of ``len(etas)``.
    """
    etas = torch.as_tensor(etas, dtype=F64).reshape(-1, 1)
    n = etas.shape[0]
    P = repeat_instance(problem, n)
    W = _row(w).expand(n, -1).clone()
    g = P.grad(W)
    f0 = P.value(W)
    out = {}
    for name in methods:
        hp = {"lr": etas, "betas": (betas[0], betas[1], 0.0), "eps": eps, "weight_decay": 0.0,
              "weight_decay_mode": "after_scaled", **caution_hp(STEP_CAUTIONS[name])}
        state = {"m": _row(m).expand(n, -1).clone(), "v": _row(v).expand(n, -1).clone()}
        w1, _ = rules.ams_step(T1, W.clone(), g, state, hp, t)
        out[name] = _np(P.value(w1) - f0)
    return out


# ----------------------------------------------------------------------------- the bounds

def _parts(problem, w, u):
    w, u = _row(w), _row(u)
    g = problem.grad(w)
    return w, u, g, float(problem.L.reshape(-1)[0]), float((u * u).sum())


def _eta(etas):
    return _np(torch.as_tensor(etas, dtype=F64))


def smoothness_bounds(problem, w, u, etas) -> dict:
    r"""Plain step ``w - eta u`` (Adam's step): ``-eta <g, u> - L eta^2 |u|^2 / 2 <= dL <= -eta <g, u> + L eta^2 |u|^2 / 2``
    (L-smoothness, Fact A.2 of the AMS/Grams paper; holds for every L-smooth loss).

    Returns ``upper``, ``lower`` (arrays over ``etas``) and ``eta_max = 2 <g, u> / (L |u|^2)`` (descent
    guaranteed for ``eta <= eta_max``; ``0`` when ``<g, u> <= 0``)."""
    w, u, g, L, uu = _parts(problem, w, u)
    e = _eta(etas)
    lin = float((g * u).sum())
    quad = L * e ** 2 * uu / 2
    return {"upper": -e * lin + quad, "lower": -e * lin - quad, "eta_max": max(0.0, 2 * lin / (L * uu)) if uu else 0.0}


def _step_bound(bound, problem, w, u) -> float:
    """``num / den`` of a step bound ``bound(ops, g, u, L)`` of :mod:`ams_theory.claims.bounds` (0 where ``den`` is
    0)."""
    w = _row(w)
    num, den = bound(T1, problem.grad(w), _row(u), problem.L.reshape(-1, 1))
    return float(num.reshape(-1)[0] / den.reshape(-1)[0]) if float(den.reshape(-1)[0]) else 0.0


def d1_bounds(problem, w, u, etas) -> dict:
    r"""Lemma 3.4 / D.1 of the AMS/Grams paper, cautious step ``w' = w - eta u o 1(u o g >= 0)``, with
    ``P = <u o g, 1(u o g >= 0)>`` (the mask from :func:`ams_theory.core.rules.mask_vector`):

    - ``upper`` (Part 1): ``dL <= -eta P + L eta^2 |u|^2 / 2``;
    - ``lower`` (Part 2, as stated): ``dL >= -eta P``; the proof drops the ``-L/2 |dw|^2`` term, so this
      needs convexity (project verdict: refuted, holds for convex losses);
    - ``lower_smooth``: the L-smooth lower bound ``-eta P - L eta^2 |u o 1(u o g >= 0)|^2 / 2`` (always true);
    - ``eta_max`` (Part 3): ``eta <= 2 P / (L |u|^2)`` implies ``dL <= 0``.

    The bounds are those of :mod:`ams_theory.claims.bounds` (``descent_upper``, ``first_order_lower``,
    ``smooth_lower``, ``d1_step_bound``)."""
    w, u, g, L, uu = _parts(problem, w, u)
    mask = rules.mask_vector(T1, u, g, STEP_CAUTIONS["cautious_adam"])
    P = float((u * g * mask).sum())
    hat = float(((u * mask) ** 2).sum())
    e = _eta(etas)
    return {"P": P, "upper": bounds.descent_upper(P, L, e, uu), "lower": bounds.first_order_lower(P, e),
            "lower_smooth": bounds.smooth_lower(P, e, L * e ** 2 * hat / 2),
            "eta_max": _step_bound(bounds.d1_step_bound, problem, w, u)}


def d2_bounds(problem, w, u, etas) -> dict:
    r"""Lemma 5.3 / D.2 of the AMS/Grams paper, Grams step ``w' = w - eta sign(g) o |u|``, with ``Q = <|g|, |u|>``:

    - ``upper`` (Part 1): ``dL <= -eta Q + L eta^2 |u|^2 / 2``;
    - ``lower`` (Part 2, as stated): ``dL >= -eta Q`` (needs convexity, like D.1 Part 2; project verdict: refuted);
    - ``lower_smooth``: ``-eta Q - L eta^2 |u|^2 / 2`` (always true);
    - ``eta_max`` (Part 3): ``eta <= 2 Q / (L |u|^2)`` implies ``dL <= 0``.

    The bounds are those of :mod:`ams_theory.claims.bounds`, as in :func:`d1_bounds`."""
    w, u, g, L, uu = _parts(problem, w, u)
    Q = float((g.abs() * u.abs()).sum())
    e = _eta(etas)
    return {"Q": Q, "upper": bounds.descent_upper(Q, L, e, uu), "lower": bounds.first_order_lower(Q, e),
            "lower_smooth": bounds.smooth_lower(Q, e, L * e ** 2 * uu / 2),
            "eta_max": _step_bound(bounds.d2_step_bound, problem, w, u)}


def thm23_step_bound(problem, w, u, caution: rules.Caution | None = None) -> dict:
    r"""Thm. 2.3 of the Cautious paper (there ``mu`` is the smoothness constant, ``eps`` the step):
    with ``x = u o g``, the mask ``phi = phi(x)`` (:func:`ams_theory.core.rules.mask_vector`, default the
    cautious-Adam mask ``1(u o g >= 0)``), ``Delta = -x'(1 - phi)`` and ``r = u o (1 - phi)``: if ``Delta >= 0``,
    then ``L(w - eps u o phi) <= L(w - eps u)`` for ``eps <= 2 Delta / (mu |r| (2 |u| + |r|))``, the check's
    :func:`ams_theory.claims.bounds.thm23_bound`.

    Returns ``delta``, ``r_norm`` and ``eta_max`` (``inf`` when ``r = 0``: both steps coincide; ``0`` when
    ``Delta < 0``: the theorem says nothing)."""
    w, u, g, L, uu = _parts(problem, w, u)
    caution = STEP_CAUTIONS["cautious_adam"] if caution is None else caution
    phi = rules.mask_vector(T1, u, g, caution)
    num, den = bounds.thm23_bound(T1, g, u, problem.L.reshape(-1, 1), caution)
    delta, rn = float(num.reshape(-1)[0]) / 2, float((u * (1 - phi)).norm())
    if delta < 0:
        eta_max = 0.0
    elif rn == 0:
        eta_max = math.inf
    else:
        eta_max = float(num.reshape(-1)[0] / den.reshape(-1)[0])
    return {"delta": delta, "r_norm": rn, "eta_max": eta_max}


def violated(actual, bound, side: str, rtol: float = 1e-9) -> np.ndarray:
    """Where ``actual`` breaks ``bound``: ``side="upper"``: ``actual > bound + tol``; ``"lower"``:
    ``actual < bound - tol``; ``tol = rtol (1 + |actual| + |bound|)`` (the float tolerance of the search engines)."""
    a, b = np.asarray(actual, dtype=float), np.asarray(bound, dtype=float)
    tol = rtol * (1 + np.abs(a) + np.abs(b))
    if side == "upper":
        return a > b + tol
    if side == "lower":
        return a < b - tol
    raise ValueError(f"side must be 'upper' or 'lower', got {side!r}")


# ----------------------------------------------------------------------------- the checks' own margins

DESCENT_CLAIMS = ("grams.D1.part1", "grams.D1.part2", "grams.D1.part3", "grams.D2.part1", "grams.D2.part2",
                  "grams.D2.part3", "cautious.2.3")      # the one-step claims the notebooks plot, by their margins


def claim_margins(claim_id: str, problem, w, u, etas) -> dict:
    """The registered margin of the one-step claim ``claim_id`` (:data:`DESCENT_CLAIMS`; the function
    ``ams-theory verify`` searches with) at ``(w, u)`` for every step size: ``{"margin", "applicable",
    "violated"}`` (numpy arrays). ``margin > 0`` where applicable means the claim's conclusion fails there (see
    :mod:`ams_theory.engines.descent`); ``violated`` applies the engines' tolerance."""
    load_checks()
    fn = REGISTRY[claim_id].margin if claim_id in REGISTRY else None
    if fn is None:
        known = sorted(c.id for c in REGISTRY.values() if c.margin is not None)
        raise ValueError(f"no margin for {claim_id!r}; known: {known}")
    etas = torch.as_tensor(etas, dtype=F64).reshape(-1, 1)
    n = etas.shape[0]
    P = repeat_instance(problem, n)
    W, U = _row(w).expand(n, -1).clone(), _row(u).expand(n, -1).clone()
    with torch.no_grad():
        result = fn(T1, P, W, U, etas, {})
    margin, app, scale = _np(result.value), _np(result.applicable).astype(bool), _np(result.scale)
    return {"margin": margin, "applicable": app,
            "violated": app & np.isfinite(margin) & (margin > 1e-9 * (1 + np.abs(scale)))}


# ----------------------------------------------------------------------------- one instance, four panels

@dataclasses.dataclass
class OneStep:
    """A loss and an Adam state at which one step is taken: ``problem`` (batch 1), ``w``, ``m``, ``v`` (sequences
    or tensors, stored as (1, d) float64; the moments *before* this step's update), the step count ``t`` after
    it, ``betas``, ``eps``."""
    problem: object
    w: torch.Tensor
    m: torch.Tensor
    v: torch.Tensor
    t: int = 10
    betas: tuple = (0.9, 0.999)
    eps: float = 1e-8

    def __post_init__(self):
        self.w, self.m, self.v = _row(self.w), _row(self.m), _row(self.v)

    def direction(self):
        """``(g, u)``: the gradient at ``w`` and Adam's direction (see :func:`adam_direction`)."""
        g, u, _, _ = adam_direction(self.problem, self.w, self.m, self.v, self.t, self.betas, self.eps)
        return g, u

    def changes(self, etas, methods=("adam", "cautious_adam", "grams")) -> dict:
        """:func:`one_step_changes` at this state."""
        return one_step_changes(self.problem, self.w, self.m, self.v, self.t, etas, methods, self.betas, self.eps)

    def reference_step(self) -> float:
        """D.1 Part 3's step bound ``2P/(L|u|^2)`` at this state: the natural unit for the step-size axis."""
        g, u = self.direction()
        return d1_bounds(self.problem, self.w, u, [1.0])["eta_max"]


def draw_one_step(family: str, d: int, seed: int, t: int = 10) -> OneStep:
    """A reproducible instance: ``problem = smooth.sample(family, 1, d, gen)`` then ``w ~ N(0, I)``,
    ``m ~ N(0, I/4)``, ``v ~ U(0, 1)^d`` from the same ``torch.Generator().manual_seed(seed)``."""
    from ams_theory.engines.smooth import sample
    gen = torch.Generator().manual_seed(int(seed))
    problem = sample(family, 1, d, gen)
    w = torch.randn(1, d, generator=gen, dtype=F64)
    m = 0.5 * torch.randn(1, d, generator=gen, dtype=F64)
    v = torch.rand(1, d, generator=gen, dtype=F64)
    return OneStep(problem, w, m, v, t)


def descent_curves(inst: OneStep, etas) -> dict:
    """Everything one row of the notebook's figure shows, at the step sizes ``etas``: the actual changes
    (:func:`one_step_changes`), the bounds of :func:`smoothness_bounds` (Adam), :func:`d1_bounds` (cautious
    Adam), :func:`d2_bounds` (Grams) and Thm. 2.3's comparison ``dL(cautious) - dL(Adam)`` with its step bound
    (:func:`thm23_step_bound`)."""
    g, u = inst.direction()
    dl = inst.changes(etas)
    return {"etas": _eta(etas), "dL": dl, "adam": smoothness_bounds(inst.problem, inst.w, u, etas),
            "cautious": d1_bounds(inst.problem, inst.w, u, etas), "grams": d2_bounds(inst.problem, inst.w, u, etas),
            "thm23": {**thm23_step_bound(inst.problem, inst.w, u), "diff": dl["cautious_adam"] - dl["adam"]}}


def margin_table(inst: OneStep, etas, claims: Iterable[str] = DESCENT_CLAIMS) -> list:
    """One row per discrete claim: at how many of ``etas`` it applies and is violated, by its check's own margin
    function (:func:`claim_margins`), and the largest margin where it applies."""
    g, u = inst.direction()
    rows = []
    for cid in claims:
        r = claim_margins(cid, inst.problem, inst.w, u, etas)
        app = r["applicable"] & np.isfinite(r["margin"])
        rows.append({"claim": cid, "applicable": int(app.sum()), "violated": int(r["violated"].sum()),
                     "max_margin": float(r["margin"][app].max()) if app.any() else float("nan")})
    return rows


# ----------------------------------------------------------------------------- plotting (matplotlib)

_BOUND_STYLE = {"upper": ("tab:blue", "--", "upper bound (part 1)"),
                "lower": ("tab:red", "--", "lower bound as stated (part 2)"),
                "lower_smooth": ("grey", ":", "L-smooth lower bound")}


def plot_descent_panel(ax, etas, actual: dict, bounds: dict | None = None, eta_max: float | None = None,
                       title: str = "", region_label: str = "step-size condition", labels: dict | None = None,
                       only_in_region: bool = False) -> dict:
    """Draw ``actual`` (``{label: dL array}``) against ``etas`` (log x, symlog y) with ``bounds`` (any of
    ``upper``, ``lower``, ``lower_smooth``; ``labels`` renames them), the region ``eta <= eta_max`` shaded, and
    red crosses where an actual curve breaks ``upper`` or ``lower`` (:func:`violated`).

    ``only_in_region``: the bound is claimed only inside the region (Thm. 2.3); breaks outside it are drawn
    as grey dots and counted apart. Returns ``{"<curve> vs <bound>": count}``."""
    e = _eta(etas)
    bounds, labels = bounds or {}, labels or {}
    inside = e <= (eta_max if eta_max is not None else math.inf)
    if eta_max is not None and eta_max > 0:
        ax.axvspan(e[0], min(eta_max, e[-1]), color="tab:green", alpha=0.12, label=region_label)
    for name, (col, ls, lab) in _BOUND_STYLE.items():
        if name in bounds:
            ax.plot(e, bounds[name], color=col, linestyle=ls, lw=1.3, label=labels.get(name, lab))
    counts = {}
    scale = [np.abs(np.asarray(b, dtype=float)) for k, b in bounds.items() if k in _BOUND_STYLE]
    for i, (label, dl) in enumerate(actual.items()):
        dl = np.asarray(dl, dtype=float)
        ax.plot(e, dl, lw=2, color="k" if i == 0 else f"C{i + 3}", label=label)
        scale.append(np.abs(dl))
        for key in ("upper", "lower"):
            if key not in bounds:
                continue
            bad = violated(dl, bounds[key], key)
            if only_in_region:
                counts[f"{label} vs {key} outside the region"] = int((bad & ~inside).sum())
                if (bad & ~inside).any():
                    ax.plot(e[bad & ~inside], dl[bad & ~inside], ".", color="grey", ms=4)
                bad = bad & inside
            counts[f"{label} vs {key}"] = int(bad.sum())
            if bad.any():
                ax.plot(e[bad], dl[bad], "x", color="red", ms=5)
    positive = np.concatenate([v[v > 0] for v in scale]) if scale else np.array([])
    lin = float(np.quantile(positive, 0.02)) if positive.size else 1e-6
    ax.set_xscale("log")
    _symlog(ax, max(lin, 1e-12))
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("step size eta")
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3)
    return counts


def _symlog(ax, linthresh: float):
    """A symlog y axis whose tick labels do not pile up around 0: at most about five decades labelled on each
    side, and no ticks at +-linthresh (they would sit next to 0)."""
    from matplotlib.ticker import FixedLocator
    ax.set_yscale("symlog", linthresh=linthresh)
    lo, hi = ax.get_ylim()
    top = math.ceil(math.log10(max(abs(lo), abs(hi), linthresh * 10)))
    bottom = math.floor(math.log10(linthresh)) + 1
    stride = max(1, (top - bottom) // 4)
    decades = [10.0 ** k for k in range(top, bottom - 1, -stride)]
    ticks = sorted([0.0] + [x for x in decades if x <= hi] + [-x for x in decades if -x >= lo])
    ax.yaxis.set_major_locator(FixedLocator(ticks))


def plot_margins(ax, inst: OneStep, etas, claims: Iterable[str] = ("grams.D1.part1", "grams.D1.part2",
                                                                   "grams.D2.part1", "grams.D2.part2")):
    """The discrete checks' own margins (:func:`claim_margins`) along ``etas``: ``margin > 0`` where the claim
    applies means its conclusion fails there (the checks' definition of a violation)."""
    g, u = inst.direction()
    e = _eta(etas)
    scale = []
    for cid in claims:
        r = claim_margins(cid, inst.problem, inst.w, u, etas)
        m = np.where(r["applicable"], r["margin"], np.nan)
        ax.plot(e, m, lw=1.6, label=cid + (f"  ({int(r['violated'].sum())} violated)" if r["violated"].any() else ""))
        scale.append(np.abs(m[np.isfinite(m)]))
    positive = np.concatenate(scale) if scale else np.array([])
    positive = positive[positive > 0]
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xscale("log")
    _symlog(ax, float(np.quantile(positive, 0.02)) if positive.size else 1e-6)
    ax.set_xlabel("step size eta")
    ax.set_ylabel("margin (> 0: violated)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)


def plot_descent_row(axes, curves: dict, name: str = "") -> dict:
    """The four panels of one instance (:func:`descent_curves`): Adam with the L-smoothness bounds, cautious
    Adam with D.1, Grams with D.2, and Thm. 2.3's comparison. Returns the violation counts per panel."""
    e, dl = curves["etas"], curves["dL"]
    out = {}
    a, c, gr, t = curves["adam"], curves["cautious"], curves["grams"], curves["thm23"]
    smooth_labels = {"upper": "L-smooth upper bound", "lower": "L-smooth lower bound"}
    out["adam"] = plot_descent_panel(axes[0], e, {"Adam": dl["adam"]}, a, a["eta_max"], f"{name}\nAdam (Fact A.2)",
                                     "descent guaranteed", labels=smooth_labels)
    out["cautious"] = plot_descent_panel(axes[1], e, {"cautious Adam": dl["cautious_adam"]}, c, c["eta_max"],
                                         "cautious Adam: Lemma 3.4 / D.1", "D.1 part 3: dL <= 0")
    out["grams"] = plot_descent_panel(axes[2], e, {"Grams": dl["grams"]}, gr, gr["eta_max"],
                                      "Grams: Lemma 5.3 / D.2", "D.2 part 3: dL <= 0")
    out["thm23"] = plot_descent_panel(axes[3], e, {"dL(cautious) - dL(Adam)": t["diff"]},
                                      {"upper": np.zeros_like(e)}, t["eta_max"] if t["delta"] >= 0 else None,
                                      "Cautious paper Thm. 2.3", "Thm. 2.3 step bound",
                                      labels={"upper": "0: cautious no worse"}, only_in_region=True)
    return out


# ----------------------------------------------------------------------------- drawings with keyword parameters

class _Drawing:
    """A drawn figure (a matplotlib ``Figure`` made without pyplot, so nothing is shown twice) with a text
    summary. In a notebook it displays as its PNG; :meth:`text` gives the numbers beside it."""

    def __repr__(self):
        return f"<{type(self).__name__}>\n{self.text()}"

    def png(self) -> bytes:
        import io
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=80, bbox_inches="tight")
        return buf.getvalue()

    def _repr_png_(self):
        return self.png()

    def text(self) -> str:
        raise NotImplementedError


def _check_range(name: str, value, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> float:
    """``float(value)`` when it lies in the interval, else a one-line ``ValueError``."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    ok = math.isfinite(x) and (x > lo if lo_open else x >= lo) and (x < hi if hi_open else x <= hi)
    if not ok:
        interval = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        raise ValueError(f"{name} must lie in {interval}, got {value!r}")
    return x


@dataclasses.dataclass(repr=False)
class DescentFigure(_Drawing):
    """What :func:`descent_figure` drew: the figure, the step-size grid and the violation counts of each instance
    (``{name: {panel: {"<curve> vs <bound>": count}}}``, as :func:`plot_descent_row` returns them)."""
    figure: object
    grids: dict
    counts: dict
    instances: dict

    def text(self) -> str:
        lines = []
        for name, panels in self.counts.items():
            n = len(self.grids[name])
            lines.append(name)
            for panel, c in panels.items():
                lines.append(f"   {panel:9s} " + ", ".join(f"{k}: {v}/{n}" for k, v in c.items()))
        return "\n".join(lines)


def descent_figure(instances: Mapping[str, OneStep], instance: str = "all", lo: float = 1e-2, hi: float = 1e2,
                   n: int = 121, beta1: float | None = None, beta2: float | None = None, t: int | None = None,
                   legend: bool = True) -> DescentFigure:
    """The descent-bounds figure with keyword parameters (what the notebook's controls set): one row of four
    panels (:func:`plot_descent_row`) per instance of ``instances`` (``instance="all"``) or for the one named.

    Each instance's Adam state is kept; ``beta1``, ``beta2`` and the step count ``t`` replace the instance's own
    when given (the moments update with them before the step, :meth:`OneStep.direction`). The step sizes are ``n``
    log-spaced values from ``lo`` to ``hi`` times the instance's D.1 part 3 step bound
    (:meth:`OneStep.reference_step`; ``1`` when that bound is 0, no coordinate being aligned). Bad values raise a
    one-line ``ValueError``."""
    from matplotlib.figure import Figure

    if instance != "all" and instance not in instances:
        raise ValueError(f"unknown instance {instance!r}; known: 'all', " + ", ".join(map(repr, instances)))
    lo = _check_range("lo", lo, 0.0, math.inf, lo_open=True, hi_open=True)
    hi = _check_range("hi", hi, 0.0, math.inf, lo_open=True, hi_open=True)
    if hi <= lo:
        raise ValueError(f"hi must be larger than lo, got lo = {lo:g}, hi = {hi:g}")
    if int(n) != n or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    chosen = dict(instances) if instance == "all" else {instance: instances[instance]}
    if not chosen:
        raise ValueError("no instances to draw")
    changes = {}
    if beta1 is not None or beta2 is not None:
        b1, b2 = next(iter(chosen.values())).betas
        changes["betas"] = (_check_range("beta1", b1 if beta1 is None else beta1, 0.0, 1.0, hi_open=True),
                            _check_range("beta2", b2 if beta2 is None else beta2, 0.0, 1.0, hi_open=True))
    if t is not None:
        if int(t) != t or t < 1:
            raise ValueError(f"t must be an integer >= 1, got {t!r}")
        changes["t"] = int(t)
    chosen = {k: dataclasses.replace(v, **changes) for k, v in chosen.items()}
    fig = Figure(figsize=(19, 4.3 * len(chosen)))
    axes = fig.subplots(len(chosen), 4, squeeze=False)
    grids, counts = {}, {}
    for row, (name, inst) in zip(axes, chosen.items()):
        ref = inst.reference_step()
        ref = ref if math.isfinite(ref) and ref > 0 else 1.0
        grids[name] = step_sizes(lo * ref, hi * ref, int(n))
        counts[name] = plot_descent_row(row, descent_curves(inst, grids[name]), name)
    if legend:
        for ax in axes[0]:
            ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return DescentFigure(fig, grids, counts, chosen)


# ----------------------------------------------------------------------------- Hamiltonian flows

FLOW_CLAIMS = {   # system -> (what the papers state along its trajectories, claim id)
    "heavy_ball": ("H decreases (system (2))", "cautious.2.1"),
    "cautious_eq1": ("H, L decrease if x'(1 - phi) <= 0, which eq. (1)'s phi breaks", "cautious.eq6.default"),
    "cautious_indicator": ("H, L decrease (Thm. 2.1, mask 1(x > 0))", "cautious.2.1"),
    "cautious_ge_l1": ("H, L decrease (Thm. 2.1 / E.2, mask 1(x >= 0), K = |s|_1)", "cautious.2.1"),
    "cautious_phi_c": ("H, L decrease (Thm. 2.1, phi_c)", "cautious.2.1"),
    "cautious_inner": ("H, L decrease (Thm. 2.1, inner-product mask)", "cautious.2.1"),
    "grams": ("H, L decrease (Thm. 5.7 / E.3)", "grams.E3.H"),
    "grams_l1": ("H, L decrease (Thm. 5.7 / E.3, K = |s|_1)", "grams.E3.H"),
    "adam": ("H decreases when a >= b/4 (here a = 0.9)", "cautious.A1"),
    "adam_small_a": ("nothing: a = 0.2 < b/4 breaks the condition", "cautious.A1"),
    "cautious_adam": ("L and H decrease", "cautious.A3.1.cadam"),
    "cautious_adam_small_a": ("L and H decrease (a >= b/4 not restated)", "cautious.A3.1.cadam"),
    "signed_momentum": ("dH/dt = -|m|_1", "cautious.A3.2"),
    "cautious_signed_momentum": ("L and H decrease", "cautious.A3.2"),
    "lion": ("dH/dt = -(1 - eps gamma)|m~|_1 - gamma |m|_1 <= 0", "cautious.A3.3"),
    "cautious_lion": ("H and L decrease", "cautious.A3.3"),
    "lion_k_l1": ("H decreases (Lion-K, K = |.|_1)", "cautious.A2"),
    "lion_k_l2": ("H decreases (Lion-K, K = |.|^2/2)", "cautious.A2"),
}


def initial_state(system: dyn.System, d: int) -> torch.Tensor:
    """The state ``s(0)`` used for the flows: zero, except Adam's ``v(0) = 1`` (keeps ``sqrt(v)`` smooth),
    as in :func:`ams_theory.engines.dynamics.plot_systems`."""
    s0 = torch.zeros(1, d * system.state_blocks, dtype=F64)
    if system.state_blocks == 2:
        s0[0, d:] = 1.0
    return s0


def flow(name: str, problem=None, w0=(1.0, 1.0), s0=None, t_end: float = 20.0, step: float = 1e-2,
         integrator: str = "rk4", n_samples: int = 400):
    r"""Integrate ``SYSTEMS[name]`` from ``(w0, s0)`` (default: the κ = 4 quadratic from (1, 1) and
    :func:`initial_state`) with :func:`ams_theory.engines.dynamics.trajectory`; returns its ``Trajectory``.

    ``integrator="rk4"``: classical RK4 with the fixed step ``step`` over the whole horizon (the integrator's
    fixed-step path, reached by a switching function that never fires and ``max_restarts=0``). The cost is
    predictable (``4 t_end / step`` field evaluations) on every system; where the field is discontinuous the
    numerical solution chatters across the surface with amplitude ``O(step)``, so sample-to-sample rises of
    that size are integration noise (compare :func:`flow_rates`, which is exact at each sampled state).
    ``integrator="events"``: the event-located adaptive integration used by ``plot_systems``
    (``max_restarts=20``, ``zeno_step=step``); more accurate, but on sliding surfaces of some systems
    (e.g. ``cautious_phi_c``, ``cautious_inner``, ``lion_k_l1`` on the κ = 4 quadratic) the adaptive
    solver can take minutes.
    """
    system = dyn.SYSTEMS[name]
    problem = kappa4_quadratic() if problem is None else problem
    w0 = _row(w0)
    s0 = initial_state(system, w0.shape[-1]) if s0 is None else _row(s0)
    if integrator == "rk4":
        never = lambda ops, prob, w, s: torch.ones(w.shape[0], 1, dtype=F64)   # noqa: E731
        system = dataclasses.replace(system, switching=never)
        return dyn.trajectory(system, problem, w0, s0, t_end=t_end, max_restarts=0, zeno_step=step,
                              n_samples=n_samples)
    if integrator == "events":
        return dyn.trajectory(system, problem, w0, s0, t_end=t_end, max_restarts=20, zeno_step=step,
                              n_samples=n_samples)
    raise ValueError(f"integrator must be 'rk4' or 'events', got {integrator!r}")


def flow_rates(name: str, traj, problem=None) -> dict:
    r"""At every sampled state of ``traj``: the true ``dH/dt`` and ``dL/dt`` along ``SYSTEMS[name]``'s field
    (autograd, :func:`ams_theory.engines.dynamics.true_rates`) and, where the system carries them, the papers'
    closed forms ``dH_stated``, ``dL_stated``. Numpy arrays keyed ``t``, ``dH``, ``dL``, ...
    """
    system = dyn.SYSTEMS[name]
    problem = kappa4_quadratic() if problem is None else problem
    n = len(traj.t)
    P = repeat_instance(problem, n)
    w = torch.as_tensor(np.asarray(traj.w), dtype=F64)
    s = torch.as_tensor(np.asarray(traj.s), dtype=F64)
    dH, dL = dyn.true_rates(system, P, w, s)
    out = {"t": np.asarray(traj.t), "dH": _np(dH), "dL": _np(dL)}
    with torch.no_grad():
        for key in ("dH", "dL"):
            if key in system.stated:
                out[key + "_stated"] = _np(system.stated[key](T1, P, w, s))
    return out


def flow_summary(runs: Mapping, problem=None, rates: Mapping | None = None) -> list:
    """One row per run: ``H(0)``, ``H(t_end)``, the largest sample-to-sample rise of ``H`` and of ``L``, the
    largest true ``dH/dt`` and ``dL/dt`` at the sampled states (> 0: the monotonicity fails there), and what
    the papers state (:data:`FLOW_CLAIMS`)."""
    rows = []
    for name, tr in runs.items():
        r = (rates or {}).get(name) or flow_rates(name, tr, problem)
        claim, cid = FLOW_CLAIMS.get(name, ("", ""))
        rows.append({"system": name, "H0": float(tr.H[0]), "H_end": float(tr.H[-1]),
                     "max_H_rise": float(tr.max_H_increase), "max_L_rise": float(tr.max_L_increase),
                     "max_dH_dt": float(np.nanmax(r["dH"])), "max_dL_dt": float(np.nanmax(r["dL"])),
                     "stated": claim, "claim": cid})
    return rows


def plot_hl(ax, traj, title: str = "", log: bool | None = None):
    """H(t) (solid) and L(t) (dashed) of one trajectory on ``ax``; log y when ``log`` (default: when every value
    is positive), linear otherwise."""
    ax.plot(traj.t, traj.H, label="H(t)")
    ax.plot(traj.t, traj.L, "--", label="L(t)")
    vals = np.concatenate([traj.H[np.isfinite(traj.H)], traj.L[np.isfinite(traj.L)]])
    if log is None:
        log = bool(vals.size and (vals > 0).all())
    if log:
        ax.set_yscale("log")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("t")
    ax.grid(True, alpha=0.3)


def plot_flows(runs: Mapping, ncols: int = 3, fig=None):
    """:func:`plot_hl` of each named trajectory, one panel each, titled with its largest sample-to-sample rise
    of H. Returns the figure."""
    import matplotlib.pyplot as plt
    names = list(runs)
    nrows = max(1, math.ceil(len(names) / ncols))
    if fig is None:
        fig = plt.figure(figsize=(4.2 * ncols, 2.5 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    for ax, name in zip(axes.ravel(), names):
        plot_hl(ax, runs[name], f"{name}  (max H rise {runs[name].max_H_increase:.2g})")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def format_table(rows: Sequence[Mapping], columns: Sequence[str] | None = None, floatfmt: str = ".3g") -> str:
    """Rows of dicts as a fixed-width text table (floats with ``floatfmt``)."""
    if not rows:
        return ""
    columns = list(columns or rows[0].keys())
    cell = lambda v: format(v, floatfmt) if isinstance(v, float) else str(v)   # noqa: E731
    body = [[cell(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(b[i]) for b in body)) for i, c in enumerate(columns)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()   # noqa: E731
    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(b) for b in body])


def plot_rates(ax, rates: dict, which: str = "dH", title: str = "", stated: bool = True):
    """The true rate ``which`` (``"dH"`` or ``"dL"``) along a trajectory, the paper's closed form when the
    system carries one and ``stated``, and the times where the true rate is positive (the monotonicity
    fails) shaded red."""
    t, true = rates["t"], rates[which]
    ax.plot(t, true, lw=1.8, label=f"true {which}/dt (autograd)")
    if stated and which + "_stated" in rates:
        ax.plot(t, rates[which + "_stated"], "--", lw=1.3, label=f"stated {which}/dt")
    pos = true > 1e-12
    if pos.any():
        ax.fill_between(t, 0, 1, where=pos, transform=ax.get_xaxis_transform(), color="red", alpha=0.12,
                        label=f"{which}/dt > 0")
    ax.axhline(0, color="k", lw=0.5)
    _symlog(ax, 1e-3)
    ax.set_xlabel("t")
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)


@dataclasses.dataclass(repr=False)
class FlowFigure(_Drawing):
    """What :func:`flow_figure` drew: the figure, the trajectories and rates of each system, and the problem."""
    figure: object
    runs: dict
    rates: dict
    problem: object

    def rows(self) -> list:
        return flow_summary(self.runs, self.problem, self.rates)

    def text(self) -> str:
        return format_table(self.rows(), ["system", "H0", "H_end", "max_H_rise", "max_dH_dt", "max_L_rise",
                                          "max_dL_dt", "claim"])


def flow_figure(systems: Sequence[str] = ("lion", "cautious_lion", "cautious_adam_small_a"), kappa: float = 4.0,
                t_end: float = 15.0, step: float = 1e-2, w0: Sequence[float] = (1.0, 1.0), rate: str = "dH",
                stated: bool = True) -> FlowFigure:
    """The flows figure with keyword parameters (what the notebook's controls set): for each system of
    :data:`ams_theory.engines.dynamics.SYSTEMS` a column with ``H(t)``, ``L(t)`` (:func:`plot_hl`, linear) above
    the exact rate ``rate`` (``"dH"`` or ``"dL"``, :func:`plot_rates`; the paper's closed form beside it when the
    system carries one and ``stated``), on ``kappa w1^2 + w2^2`` (:func:`kappa_quadratic`) from ``w0``, integrated
    by :func:`flow` (fixed-step RK4, step ``step``) up to ``t_end``. Bad values raise a one-line ``ValueError``."""
    from matplotlib.figure import Figure

    if isinstance(systems, str):
        systems = (systems,)
    systems = list(systems)
    if not systems:
        raise ValueError("choose at least one system")
    unknown = [x for x in systems if x not in dyn.SYSTEMS]
    if unknown:
        raise ValueError(f"unknown system {unknown[0]!r}; known: {', '.join(dyn.SYSTEMS)}")
    if rate not in ("dH", "dL"):
        raise ValueError(f"rate must be 'dH' or 'dL', got {rate!r}")
    t_end = _check_range("t_end", t_end, 0.0, 1e4, lo_open=True)
    step = _check_range("step", step, 0.0, t_end, lo_open=True, hi_open=True)
    if t_end / step > 1e6:
        raise ValueError(f"t_end / step = {t_end / step:.3g} RK4 steps is too many (at most 1e6)")
    problem = kappa_quadratic(kappa)
    w0 = tuple(_check_range("w0", x, -1e6, 1e6) for x in w0)
    if len(w0) != 2:
        raise ValueError(f"w0 must have 2 entries (the quadratic is 2-dimensional), got {len(w0)}")
    runs = {name: flow(name, problem, w0=w0, t_end=t_end, step=step) for name in systems}
    rates = {name: flow_rates(name, tr, problem) for name, tr in runs.items()}
    fig = Figure(figsize=(5.2 * len(systems), 7))
    axes = fig.subplots(2, len(systems), squeeze=False)
    for col, name in zip(axes.T, systems):
        plot_hl(col[0], runs[name], f"{name}: H(t), L(t)", log=False)
        col[0].legend(fontsize=8)
        plot_rates(col[1], rates[name], rate, f"{name}: {rate}/dt", stated=bool(stated))
    fig.suptitle(f"{kappa:g} w1^2 + w2^2 from w(0) = ({w0[0]:g}, {w0[1]:g}); RK4 step {step:g}", fontsize=10)
    fig.tight_layout()
    return FlowFigure(fig, runs, rates, problem)


def show_with_controls(draw, controls: Mapping, fixed: Mapping | None = None, button: str = "redraw"):
    """Display ``controls`` (``{keyword: ipywidgets widget}``) with a ``button``, then draw
    ``draw(**fixed, **{keyword: widget.value})`` once with the widgets' current (default) values, below them, as a
    PNG display and its :meth:`text`; each press of the button draws again with the values then set and replaces
    that figure and text in place. A bad value (``ValueError``) is reported as one line under the controls.

    Works headless (a notebook executed by nbclient): the controls are built and the default figure is drawn once
    as an ordinary output. ``draw`` returns a :class:`DescentFigure`, a :class:`FlowFigure` or another object with
    ``_repr_png_`` and ``text()``. Returns ``(panel, drawing)``: the ``ipywidgets.interactive`` panel and the
    default drawing (the one drawn with the widgets' initial values)."""
    import ipywidgets as widgets
    from IPython.display import display

    fixed = dict(fixed or {})
    clash = sorted(set(fixed) & set(controls))
    if clash:
        raise ValueError(f"keyword {clash[0]!r} is both fixed and a control")
    first = draw(**fixed, **{k: c.value for k, c in controls.items()})

    def redraw(**values):
        try:
            result = draw(**fixed, **values)
        except ValueError as err:
            print(f"error: {err}")
            return
        figure.update(result)
        text.update({"text/plain": result.text()}, raw=True)

    panel = widgets.interactive(redraw, {"manual": True, "manual_name": button}, **controls)
    display(panel)
    figure = display(first, display_id=True)
    text = display({"text/plain": first.text()}, raw=True, display_id=True)
    return panel, first
