r"""Empirical claims: the papers' toy figures, re-run, and their large-scale tables.

The toy experiments run the project's own optimizers (their pure rules, batched
over starts or over a hyperparameter grid, see :mod:`ams_theory.engines.toys`). A
failure of a step-by-step statement (a loss that goes up, one method above
another) is re-checked by re-running the same rule on that setting in exact
rational arithmetic. Figure 8's best rates are refined locally from the
grid's best point and re-estimated over a long horizon; its caption's phi_0 is
judged per coordinate against the rule core (claim language). Figure 1 runs
every reading of C-Adam. The tables need models and compute far beyond this
machine: they are ``not-checkable``, with a small real-data comparison
(:mod:`ams_theory.engines.experiments`) attached as evidence at small scale.
"""
from __future__ import annotations

import math
from functools import lru_cache

import torch

from ams_theory.claims import language as cl
from ams_theory.claims.registry import Correction, Verdict, no_evidence, proved, register, searched, weakest
from ams_theory.core import rules
from ams_theory.core.cautions import phi_c
from ams_theory.engines import experiments, repairs, toys
from ams_theory.engines.margins import mask_values

DT = torch.float64
RTOL = 1e-12            # a float increase smaller than this relative amount is not counted
FIG2_STEPS = {"quick": 300, "standard": 1000, "thorough": 5000}
FIG1_SIZE = {"quick": (200, 1000), "standard": (1000, 3000), "thorough": (5000, 5000)}
FIG8_STEPS = 200
#: Figure 8 grids, as exact decimals: (eps start, eps step, n), (beta start, beta step, n)
FIG8_GRIDS = {
    "quick": {"coarse": ((0.02, 0.02, 25), (0.0, 0.04, 25)), "fine": ((0.15, 0.005, 31), (0.0, 0.01, 31))},
    "standard": {"coarse": ((0.01, 0.01, 50), (0.0, 0.02, 50)), "fine": ((0.15, 0.0025, 61), (0.0, 0.005, 61))},
    "thorough": {"coarse": ((0.005, 0.005, 100), (0.0, 0.01, 100)), "fine": ((0.15, 0.00125, 121), (0.0, 0.0025, 121))},
}
#: local refinement of each method's best point (:func:`ams_theory.engines.toys.refine_minimum`)
FIG8_SEARCH = dict(half=3, shrink=0.5, tol=1e-6, patience=2)
FIG8_ROUNDS = {"quick": 8, "standard": 20, "thorough": 40}
#: long-horizon rates: (horizon of the refinement, horizon of the re-estimates), fitted from FIG8_TRANSIENT
FIG8_LONG = {"quick": (1000, 2000), "standard": (2000, 8000), "thorough": (4000, 20000)}
FIG8_TRANSIENT = 200
FIG8_JITTER = 1e-9
SMOOTHNESS = toys.FIG2_PROBLEM.smoothness       # mu = 8 for 4 w1^2 + w2^2


def _distinct(settings):
    return list(dict.fromkeys(settings))


def _increases(x: torch.Tensor) -> torch.Tensor:
    """Steps ``t`` (1-based: from ``x[t-1]`` to ``x[t]``) where ``x`` goes up by more than ``RTOL`` relatively."""
    return (x[1:] > x[:-1] * (1 + RTOL)).nonzero().flatten() + 1


# ---------------------------------------------------------------------------------------------- Figure 2

#: C-GDM readings: §3.1's bare indicator, eq. (1)'s rescaled mask, and Thm. 2.4's threshold mask
FIG2_VARIANTS = {
    "indicator": (dict(normalize="none"), None),
    "eq1": (dict(normalize="nnz_xi"), None),
    "threshold": (dict(normalize="none"), lambda eps, beta: {"margin": SMOOTHNESS * eps / 2}),
}


#: what each C-GDM reading masks with, for the strength of evidence
FIG2_MASK_READINGS = {
    "indicator": "bare indicator 1(s o g > 0), no rescaling (§3.1)",
    "eq1": "indicator rescaled by d/(nnz + 1) (eq. (1))",
    "threshold": f"threshold mask 1(s o g > (mu eps/2) s^2), mu = {SMOOTHNESS:g} (Thm. 2.4)",
}


def _fig2_coverage(steps: int, variant: str) -> dict:
    """What a Figure 2 verdict covered: the settings, the steps, the start, the mask and the float tolerance."""
    return {"settings_eps_beta": [list(s) for s in _distinct(toys.FIG2_SETTINGS)], "steps": [1, steps],
            "start": [1, 1], "momentum_start": 0, "mask": FIG2_MASK_READINGS[variant],
            "reading": "(eps, beta), as in the legend of Figure 2", "arithmetic": "float64",
            "relative_tolerance": RTOL}


EXACT_COUNTEREXAMPLE = "exact counterexample, re-checked in rational arithmetic"


@lru_cache(maxsize=8)
def _fig2(steps: int, variant: str = "indicator"):
    cautious, columns = FIG2_VARIANTS[variant]
    return toys.fig2_experiment(_distinct(toys.FIG2_SETTINGS), steps, cautious=cautious, columns=columns)


def _exact_fig2(eps, beta, steps, name="CGDM", variant="indicator"):
    """Exact ``L(w_t)`` and GDM's Hamiltonian (discrete convention) of an exact C-GDM (or GDM) run."""
    kw, columns = FIG2_VARIANTS[variant] if name == "CGDM" else ({}, None)
    exact = {k: toys.decimal(v) for k, v in columns(eps, beta).items()} if columns else None
    run = toys.run_exact(name, toys.FIG2_PROBLEM, (1, 1), steps, exact=exact, lr=eps, beta=beta, **kw)
    lr = toys.decimal(eps)
    L = [toys.FIG2_PROBLEM.value(w) for w, _ in run]
    H = [toys.heavy_ball_energy(toys.FIG2_PROBLEM, w, st["s"], lr) for w, st in run]
    return L, H


@register("cautious.fig2.monotone", source="§3.1, Figure 2", kind="empirical",
          statement="On L = 4 w1^2 + w2^2 from (1, 1) with zero momentum, C-GDM (s <- beta s + g, "
          "w <- w - eps 1(s o g > 0) o s) has L(w_{t+1}) <= L(w_t) and GDM's Hamiltonian "
          "L(w) + (eps/2)|s|^2 non-increasing at every step, for the (eps, beta) settings of §3.1.")
def check_fig2_monotone(budget="standard", seed=0, variant="indicator"):
    """The listed settings of Figure 2 run with the rule core's C-GDM and GDM in float64; the first rise of L
    re-checked in exact arithmetic; the threshold mask and other masks judged as repairs."""
    steps = FIG2_STEPS[budget]
    per, first = [], None
    for r in _fig2(steps, variant):
        incL, incH = _increases(r["L_cgdm"]), _increases(r["H_cgdm"]["discrete"])
        incHc = _increases(r["H_cgdm"]["continuous"])
        rel = (r["L_cgdm"][1:] / r["L_cgdm"][:-1]).max()
        per.append({"eps": r["eps"], "beta": r["beta"], "L_increases": len(incL),
                    "first_L_increase": int(incL[0]) if len(incL) else None,
                    "largest_L_ratio": float(rel), "H_increases": len(incH),
                    "first_H_increase": int(incH[0]) if len(incH) else None,
                    "H_continuous_convention_increases": len(incHc)})
        for kind, inc in (("L", incL), ("H", incH)):
            if len(inc) and (first is None or int(inc[0]) < first["step"]):
                first = {"eps": r["eps"], "beta": r["beta"], "quantity": kind, "step": int(inc[0])}
    eq1 = [{"eps": r["eps"], "beta": r["beta"], "L_increases": len(_increases(r["L_cgdm"]))}
           for r in _fig2(steps, "eq1")]
    thr = [{"eps": r["eps"], "beta": r["beta"], "L_increases": len(_increases(r["L_cgdm"])),
            "steps_above_GDM": int((r["L_cgdm"] > r["L_gdm"] * (1 + RTOL)).sum())} for r in _fig2(steps, "threshold")]
    thr_ok = all(x["L_increases"] == 0 for x in thr)
    evidence = {"steps": steps, "start": [1, 1], "settings": per, "relative_tolerance": RTOL,
                "listed_settings": [list(s) for s in toys.FIG2_SETTINGS],
                "note": "the list in §3.1 repeats (0.01, 0.99); it is run once. GDM's Hamiltonian is taken as "
                        "L + (eps/2)|s|^2 = L + |w_t - w_{t-1}|^2/(2 eps); the ODE form L + |s|^2/2 at the discrete "
                        "state rises on the first steps of every setting (s starts at 0 and grows).",
                "with_eq1_rescaling": eq1}
    correction = Correction(
        statement=f"With the threshold mask of Thm. 2.4 (coordinate kept iff s_i g_i > (mu eps/2) s_i^2, "
                  f"mu = {SMOOTHNESS:g}), C-GDM's L is non-increasing at every step of every listed setting.",
        verdict="holds" if thr_ok else "refuted",
        evidence={"steps": steps, "settings": thr, "relative_tolerance": RTOL,
                  "note": "monotone by construction (Thm. 2.4 / A.4), at the price of speed where beta = 0.99"},
        strength=searched("float64 runs of the threshold mask on every listed setting",
                          **_fig2_coverage(steps, "threshold")))
    def rises(rows, keep=lambda r: True):
        """How many settings of ``rows`` (those ``keep`` selects) see L, or GDM's Hamiltonian, rise."""
        return sum(1 for r in rows if keep(r) and (r["L_increases"] or r.get("H_increases")))
    small_beta = sorted({r["beta"] for r in per if r["beta"] < max(x["beta"] for x in per)})
    edits = [repairs.Edit("replace", "mask: the threshold mask of Thm. 2.4", rises(thr)),
             repairs.Edit("replace", "mask: eq. (1)'s rescaled mask", rises(eq1)),
             repairs.Edit("add hypothesis", f"beta in {small_beta} only (the smaller listed momenta)",
                          rises(per, lambda r: r["beta"] in small_beta))]
    correction.with_repairs(repairs.search(edits, lambda n: (
        "holds" if n == 0 else "fails in float64 (not certified)", "searched",
        f"{n} settings rise (float64, {steps} steps)")))
    if first is None:
        return Verdict("holds", f"C-GDM's L and GDM's Hamiltonian never rise in {steps} steps on the "
                       f"{len(per)} distinct settings", evidence, correction=correction,
                       strength=searched("float64 runs on every listed setting", **_fig2_coverage(steps, variant),
                                         hamiltonian="L + (eps/2)|s|^2"))
    bad = sum(1 for p in per if p["L_increases"] or p["H_increases"])
    t = first["step"]

    def recheck():
        L, H = _exact_fig2(first["eps"], first["beta"], t, variant=variant)
        seq = L if first["quantity"] == "L" else H
        return bool(seq[t] > seq[t - 1])

    L, H = _exact_fig2(first["eps"], first["beta"], t, variant=variant)
    seq = L if first["quantity"] == "L" else H
    counterexample = {**first, "before": str(seq[t - 1]), "after": str(seq[t]),
                      "before_float": float(seq[t - 1]), "after_float": float(seq[t]),
                      "arithmetic": "exact rationals from w0 = (1, 1), s0 = 0, eps and beta as decimals"}
    return Verdict("refuted", f"{bad} of {len(per)} settings rise: first {first['quantity']} increase at step {t} "
                   f"(eps={first['eps']}, beta={first['beta']}); the Thm. 2.4 threshold mask is monotone",
                   evidence, counterexample=counterexample, correction=correction, recheck=recheck,
                   strength=proved(EXACT_COUNTEREXAMPLE),
                   figures={"fig2": ("Figure 2 of the Cautious paper re-run: L of GDM and C-GDM, GDM's "
                                     "Hamiltonian along C-GDM", lambda path: toys.plot_fig2(_fig2(steps), path))})


def _domination(steps, variant):
    """Per listed setting, the steps where C-GDM's loss is above GDM's (relative tolerance :data:`RTOL`), the first
    of them and the largest ratio; and the first setting where it happens (None: C-GDM is never above)."""
    per, worst = [], None
    for r in _fig2(steps, variant):
        above = (r["L_cgdm"] > r["L_gdm"] * (1 + RTOL)).nonzero().flatten()
        ratio = (r["L_cgdm"] / r["L_gdm"]).log10()
        per.append({"eps": r["eps"], "beta": r["beta"], "steps_above": len(above),
                    "first_above": int(above[0]) if len(above) else None,
                    "max_log10_ratio": float(ratio.max()), "final_L_gdm": float(r["L_gdm"][-1]),
                    "final_L_cgdm": float(r["L_cgdm"][-1])})
        if len(above) and worst is None:
            worst = {"eps": r["eps"], "beta": r["beta"], "step": int(above[0]), "mask": FIG2_MASK_READINGS[variant]}
    return per, worst


def _above_gdm(worst, variant):
    """The exact re-check that C-GDM (mask ``variant``) is above GDM at the failing step: both runs in rationals."""
    def recheck():
        t = worst["step"]
        Lc, _ = _exact_fig2(worst["eps"], worst["beta"], t, variant=variant)
        Lg, _ = _exact_fig2(worst["eps"], worst["beta"], t, name="GDM")
        return bool(Lc[t] > Lg[t])
    return recheck


@register("cautious.fig2.dominates", source="§3.1, Figure 2 right", kind="empirical",
          statement="On the same problem, for each listed (eps, beta), L(w_t) of C-GDM <= L(w_t) of GDM at every step "
                    "t.")
def check_fig2_dominates(budget="standard", seed=0, variant=None):
    """§3.1 never names C-GDM's mask: both readings are run for the listed settings, in float64 at every step, a
    failure re-checked in exact arithmetic. The bare indicator 1(s o g > 0) dominates GDM; eq. (1)'s mask, rescaled
    by d/(nnz + 1) as the paper's cautious optimizers are, does not: the claim is conditional on the bare mask.
    ``variant``: judge that one reading alone (``"indicator"``, ``"eq1"``, ``"threshold"``)."""
    steps = FIG2_STEPS[budget]
    readings = (variant,) if variant else ("indicator", "eq1")
    judged = {v: _domination(steps, v) for v in readings}
    swapped = toys.fig2_experiment([(b, e) for e, b in _distinct(toys.FIG2_SETTINGS)], 200)
    evidence = {"steps": steps, "relative_tolerance": RTOL,
                **{f"settings ({FIG2_MASK_READINGS[v]})": per for v, (per, _) in judged.items()},
                "as_printed_beta_eps_order": [{"eps": r["eps"], "beta": r["beta"], "L_gdm_200": float(r["L_gdm"][-1]),
                                               "L_cgdm_200": float(r["L_cgdm"][-1])} for r in swapped],
                "note": "§3.1 prints the list as (beta, eps) but the figure's legend is (eps, beta); read as "
                        "printed, eps >= 0.5 > 2/mu and both methods diverge, so the (eps, beta) reading is the one "
                        "checked"}
    figures = {"fig2": ("Figure 2 of the Cautious paper re-run", lambda path: toys.plot_fig2(_fig2(steps), path))}

    def holds(v):
        per = judged[v][0]
        return Verdict("holds", f"C-GDM <= GDM at all {steps} steps of the {len(per)} distinct settings with the "
                       f"{FIG2_MASK_READINGS[v]} (relative tolerance {RTOL:g}); final gaps up to "
                       f"{max(p['final_L_gdm'] / max(p['final_L_cgdm'], 1e-300) for p in per):.2g}x", evidence,
                       strength=searched("float64 runs of both methods on every listed setting",
                                         **_fig2_coverage(steps, v)), figures=figures, reading=FIG2_MASK_READINGS[v])

    def fails(v):
        worst = judged[v][1]
        return (f"C-GDM above GDM at step {worst['step']} (eps={worst['eps']}, beta={worst['beta']}) with the "
                f"{FIG2_MASK_READINGS[v]}", worst, _above_gdm(worst, v))
    first = readings[0]
    if judged[first][1] is not None:
        summary, worst, recheck = fails(first)
        return Verdict("refuted", summary, evidence, counterexample=worst, recheck=recheck,
                       strength=proved(EXACT_COUNTEREXAMPLE), reading=FIG2_MASK_READINGS[first])
    if len(readings) == 1 or judged["eq1"][1] is None:
        return holds(first)
    bare = holds("indicator")
    summary, worst, recheck = fails("eq1")
    correction = Correction.of(f"C-GDM with the {FIG2_MASK_READINGS['indicator']} (the mask §3.1 does not name)",
                               bare)
    failing = sum(p["steps_above"] > 0 for p in judged["eq1"][0])
    return Verdict("conditional", "holds when C-GDM's mask is the bare indicator 1(s o g > 0), which §3.1 does not "
                   f"state; with eq. (1)'s rescaled mask it fails on {failing} of {len(judged['eq1'][0])} settings "
                   f"({summary})", evidence, counterexample=worst, recheck=recheck, correction=correction,
                   figures=figures, reading="C-GDM's mask is not named in §3.1: both the bare indicator and eq. (1)'s "
                   "rescaled mask are judged",
                   strength=weakest(proved(EXACT_COUNTEREXAMPLE), bare.strength,
                                    basis="an exact counterexample with eq. (1)'s mask; searched runs with the bare "
                                          "indicator"))


# ---------------------------------------------------------------------------------------------- Figure 8

def _grid(start, step, n):
    return torch.tensor([round(start + k * step, 10) for k in range(n)], dtype=DT)


def _grid_coverage(budget):
    """The grids of ``budget`` as ranges (both ends included), spacing and number of points per axis."""
    return {g: {axis: {"range": [lo, round(lo + (n - 1) * h, 10)], "spacing": h, "points": n}
                for axis, (lo, h, n) in zip(("eps", "beta"), grid)}
            for g, grid in FIG8_GRIDS[budget].items()}


def _jittered(label, points, steps, masks, rate_from=None):
    """The rate of one method re-estimated on the 5 x 5 grid ``point +- FIG8_JITTER (-2..2)`` around each of
    ``points`` (one batched run): per point, the min, median and max.

    The cautious masks switch in a way that is sensitive to rounding, so one run's value says little; the
    spread over parameters within ``2 FIG8_JITTER`` of the point is the estimator's own variation at that
    tuning, and 24 of the 25 re-estimates are not the value the point was selected by.
    """
    ks = torch.arange(-2, 3, dtype=DT) * FIG8_JITTER
    eps = torch.cat([p[0] + ks for p in points])
    beta = torch.cat([p[1] + ks for p in points])
    r = toys.fig8_experiment(eps, beta, steps, {label: masks[label]}, rate_from=rate_from)["rates"][label]
    blocks = [r[5 * i:5 * i + 5, 5 * i:5 * i + 5] for i in range(len(points))]       # (beta, eps) of point i
    return [{"min": float(b.min()), "median": float(b.median()), "max": float(b.max())} for b in blocks]


@toys.intra_op_threads(1)
def _fig8(budget, masks=None):
    """Grid maps, then per method the refined best of the 200-step estimator and of the long-horizon one
    (from the fine grid's best point), the re-estimates around both, and GDM at Goh's point."""
    masks = masks or toys.FIG8_MASKS
    out = {name: toys.fig8_experiment(_grid(*e), _grid(*b), steps=FIG8_STEPS, masks=masks)
           for name, (e, b) in FIG8_GRIDS[budget].items()}
    (_, h_eps, _), (_, h_beta, _) = FIG8_GRIDS[budget]["fine"]
    long_T, check_T = FIG8_LONG[budget]
    search = dict(FIG8_SEARCH, max_rounds=FIG8_ROUNDS[budget])
    out["refined"], out["refined_long"], out["spread"] = {}, {}, {}
    for label in masks:
        start = out["fine"]["best"][label][1:]
        short = toys.fig8_refine(label, start, (h_eps, h_beta), FIG8_STEPS, masks, **search)
        long = toys.fig8_refine(label, start, (h_eps, h_beta), long_T, masks, rate_from=FIG8_TRANSIENT, **search)
        out["refined"][label], out["refined_long"][label] = short, long
        at_short, at_long = _jittered(label, [short["point"], long["point"]], check_T, masks, FIG8_TRANSIENT)
        out["spread"][label] = {
            "short_estimator_at_short_best": _jittered(label, [short["point"]], FIG8_STEPS, masks)[0],
            "long_horizon_at_short_best": at_short, "long_horizon_at_long_best": at_long}
    goh = toys.goh_optimum()
    out["goh_point"] = toys.fig8_experiment([goh["eps"]], [goh["beta"]], steps=FIG8_STEPS,
                                            masks={"GDM": toys.FIG8_MASKS["GDM"]})
    return out


_fig8_cached = lru_cache(maxsize=4)(_fig8)


def _exact_rate(label, eps, beta, steps=FIG8_STEPS, masks=None):
    """The L-rate of one grid point re-computed from an exact rational trajectory (logs of the exact values)."""
    name, kw = (masks or toys.FIG8_MASKS)[label]
    run = toys.run_exact(name, toys.FIG2_PROBLEM, (1, 1), steps, lr=eps, beta=beta, **kw)
    L = [toys.FIG2_PROBLEM.value(w) for w, _ in run]
    # log p/q of a positive rational from its integers: correct to double precision at any size
    logs = torch.tensor([math.log(x.p) - math.log(x.q) if x > 0 else -math.inf for x in L], dtype=DT)
    return float(toys.loss_rate(torch.exp(logs).unsqueeze(1))[0])


def closed_form_shown(spread: dict, target: float) -> dict:
    """Per cautious mask, whether its validated long-horizon rate is below ``target`` (GDM's closed-form L-rate):
    ``True`` when every re-estimate around its refined best is below it (the largest, not the median, counts)."""
    return {k: v["long_horizon_at_long_best"]["max"] < target for k, v in spread.items()}


def fig8_like_for_like_word(shown: dict) -> str:
    """Verdict word of the like-for-like reading: ``holds`` when every cautious mask is shown below GDM's
    closed-form optimum, ``conditional`` when some are (the summary names them), ``not-checkable`` when none
    is (not below it in this search, which is no proof that no tuning is)."""
    if all(shown.values()):
        return "holds"
    return "conditional" if any(shown.values()) else "not-checkable"


def _fig8_strength(budget, cautious):
    long_T, check_T = FIG8_LONG[budget]
    return searched(
        "grid maps of the rate over (eps, beta), then a local refinement of each method's best point, float64 runs",
        grids=_grid_coverage(budget), start=[1, 1], momentum_start=0, masks=["GDM", *cautious],
        refinement={**FIG8_SEARCH, "max_rounds": FIG8_ROUNDS[budget], "from": "the fine grid's best point",
                    "stopping": "patience rounds in a row that lower the best rate by less than tol with the best "
                                "point strictly inside the local grid (spacing halves after each such round)"},
        horizons={"paper_estimator": [0, FIG8_STEPS], "long_horizon_refinement": [FIG8_TRANSIENT, long_T],
                  "long_horizon_re_estimate": [FIG8_TRANSIENT, check_T]},
        re_estimates=f"5 x 5 points at +-{FIG8_JITTER:g} x (-2..2) around each refined best",
        conventions={"rate": "exp(least-squares slope of log L_t in t)",
                     "paper_estimator": "points with L in [1e-250, 1e250], t = 0..200",
                     "long_horizon": "renormalised runs (the rules are positively homogeneous), t >= 200"})


@register("cautious.fig8", source="Figure 8 / §3.1", kind="empirical",
          statement="With rate = exp(least-squares slope of log L(w_t) in t) on 4 w1^2 + w2^2, the best rate over "
          "(eps, beta) of each cautious mask (phi_0.01, phi_0.1, phi_inner) is below GDM's optimal rate "
          "(sqrt(kappa)-1)/(sqrt(kappa)+1) = 1/3.")
def check_fig8(budget="standard", seed=0, masks=None):
    """Each method's grid refined around its best point until the best 200-step rate stops moving, then re-estimated
    over long horizons against GDM's closed-form optimum."""
    res = _fig8(budget, masks) if masks else _fig8_cached(budget)
    goh = toys.goh_optimum()
    cautious = [k for k in (masks or toys.FIG8_MASKS) if k != "GDM"]
    coarse, fine = res["coarse"]["best"], res["fine"]["best"]
    refined = {k: r["value"] for k, r in res["refined"].items()}
    spread = res["spread"]
    long_T, check_T = FIG8_LONG[budget]
    literal = all(refined[k] < goh["rate_w"] for k in cautious)
    like_short = {k: refined[k] < refined["GDM"] for k in cautious}
    shown = closed_form_shown({k: spread[k] for k in cautious}, goh["rate_L"])
    at_goh = res["goh_point"]["best"]["GDM"][0]
    exact = {k: _exact_rate(k, *res["refined"][k]["point"], masks=masks) for k in ("GDM", *cautious)}
    as_dict = lambda best: {k: {"rate_L": v[0], "eps": v[1], "beta": v[2]} for k, v in best.items()}
    evidence = {
        "steps": FIG8_STEPS, "start": [1, 1], "rate": "exp(slope of log L_t), points with L in [1e-250, 1e250]",
        "grids": _grid_coverage(budget),
        "best_coarse": as_dict(coarse), "best_fine": as_dict(fine),
        "best_refined": {k: {"rate_L": r["value"], "eps": r["point"][0], "beta": r["point"][1],
                             "converged": r["converged"], "rounds": r["rounds"], "history": r["history"]}
                         for k, r in res["refined"].items()},
        "best_refined_from_exact_trajectory": exact,
        "goh_optimum": goh, "GDM_measured_at_goh_point": at_goh,
        "note": "(sqrt(kappa)-1)/(sqrt(kappa)+1) is the contraction rate of |w_t|; L(w_t) contracts at its "
                "square, 1/9. Measured in the paper's units GDM itself scores far below 1/3, so the literal "
                "comparison cannot separate the methods; the correction compares like with like."}
    strength = _fig8_strength(budget, cautious)
    correction = Correction(
        statement="Like for like (rates of L, whose closed-form optimum for GDM is 1/9 = "
                  f"{goh['rate_L']:.4f}; asymptotic rates, fitted over t = {FIG8_TRANSIENT}..{long_T} and "
                  f"re-estimated over t = {FIG8_TRANSIENT}..{check_T}), every cautious mask's best rate is "
                  "below 1/9.",
        verdict=fig8_like_for_like_word(shown),
        evidence={
            "shown_below_closed_form": shown,
            "best_refined_long_horizon": {
                k: {"rate_L": r["value"], "eps": r["point"][0], "beta": r["point"][1], "converged": r["converged"],
                    "rounds": r["rounds"], "history": r["history"]} for k, r in res["refined_long"].items()},
            "re_estimates": spread,
            "short_estimator": {
                "cautious_below_GDM_refined": like_short,
                "margin_vs_GDM_refined": {k: refined["GDM"] - refined[k] for k in cautious},
                "margin_vs_closed_form": {k: goh["rate_L"] - refined[k] for k in cautious},
                "estimator_bias_at_goh_point": at_goh - goh["rate_L"],
                "GDM_refined_minus_closed_form": refined["GDM"] - goh["rate_L"]},
            "note": f"The 200-step estimator errs by {at_goh - goh['rate_L']:+.4f} at Goh's point (the double root "
                    "gives L ~ t^2 9^-t) but by only "
                    f"{refined['GDM'] - goh['rate_L']:+.4f} at GDM's refined best, where the roots are complex; "
                    "GDM's map is smooth there. The cautious masks' maps are rough at every scale: their "
                    "200-step bests are extremes of that roughness (see re_estimates: the spread under "
                    f"perturbations of {FIG8_JITTER:g}, and the long-horizon rate at the same points), so the "
                    "200-step margins against 1/9 and against GDM do not show a faster rate: over "
                    f"{check_T} steps the same tunings run slower than 1/9. The long-horizon rate is the one "
                    "compared with 1/9, a mask counting as below only when all of its re-estimates are; GDM's "
                    "own long-horizon best stays above 1/9, as its closed form says it must."},
        strength=strength)
    figures = {"fig8": ("Figure 8 of the Cautious paper re-run: rate maps over (eps, beta)",
                        lambda path: toys.plot_fig8(res["coarse"], path))}
    shown_txt = ", ".join(f"{k} {spread[k]['long_horizon_at_long_best']['median']:.4f}" for k in cautious)
    summary = (f"as written (1/3 is a rate of |w|) the refined best L-rates "
               f"{', '.join(f'{k} {refined[k]:.4f}' for k in cautious)} are below 1/3, as is GDM's "
               f"{refined['GDM']:.4f}; like for like against 1/9 = {goh['rate_L']:.4f} over {check_T} steps: "
               f"{shown_txt}; below 1/9 shown for {', '.join(k for k in cautious if shown[k]) or 'none'}")
    if literal:
        return Verdict("holds", summary, evidence, correction=correction, figures=figures, strength=strength)
    worst = max(cautious, key=lambda k: refined[k])
    point = {"mask": worst, "rate_L": refined[worst], "eps": res["refined"][worst]["point"][0],
             "beta": res["refined"][worst]["point"][1],
             "scope": "the best point found; the exact re-check confirms its rate, not that no point is better"}
    return Verdict("refuted", f"{worst}'s best rate {refined[worst]:.3f} is not below 1/3", evidence,
                   counterexample=point, correction=correction, figures=figures, strength=strength,
                   recheck=lambda: _exact_rate(worst, point["eps"], point["beta"], masks=masks) >= goh["rate_w"])


def heavy_ball(q, caution):
    """One GDM / C-GDM step of §3.1 (rule core) from parameters ``q.p``, gradient ``q.grad`` and momentum ``q.s``:
    s' = beta s + grad, p' = p - lr phi(s' o grad) o s' (``caution=None``: GDM, p' = p - lr s')."""
    hp = {"lr": q.lr, "beta": q.beta, "weight_decay": 0, "weight_decay_mode": "after",
          **(caution.to_hp() if caution is not None else {"mask": None})}
    return rules.heavy_ball_step(q.ops, q.p, q.grad, {"s": q.s}, hp)[0]


def constant_mask_facts(c):
    """phi_c = 1(x > 0) - c 1(x <= 0) of eq. (13) (rule core) is constant, phi_c(x) = phi_c(y) for all x, y, and C-GDM
    with it takes GDM's step for every parameters, gradient, momentum, lr >= 0 and beta in [0, 1]."""
    mask = phi_c(c)
    phi = lambda q, x: mask_values(q.ops, x, x * 0 + 1, mask)
    return [cl.Fact(f"phi_c, c = {c}, is constant", lambda q: q.equal(q.total(q.abs(phi(q, q.x) - phi(q, q.y))), 0),
                    ("x", "y")),
            cl.Fact(f"C-GDM with phi_c, c = {c}, is GDM", lambda q: q.equal(q.norm2(heavy_ball(q, mask)
                                                                                    - heavy_ball(q, None)), 0),
                    ("p", "grad", "s"), {"lr": cl.Range(0), "beta": cl.Range(0, 1)}, max_d=2)]


@cl.register("cautious.fig8.caption", source="Figure 8 caption, eq. (13)", kind="empirical",
             statement="phi_0 of eq. (13) (phi_c = 1(x > 0) - c 1(x <= 0) at c = 0) is a constant function, and C-GDM "
                       "with it is GDM (s <- beta s + g, w <- w - eps s).")
def fig8_caption():
    """The caption read with eq. (13): phi_c at c = 0 is the bare indicator 1(x > 0), neither constant nor GDM
    (refuted, per coordinate for every dimension); c = -1 gives phi = 1 and GDM exactly (the correction, and the
    other reading: phi_0 as the figure's own name for the constant mask)."""
    return cl.Judgement(
        constant_mask_facts(0), constant_mask_facts(-1),
        "phi_c with c = -1 (1(x > 0) + 1(x <= 0) = 1) is the constant mask, and C-GDM with it is GDM; phi_0 = 1(x > 0) "
        "is §3.1's C-GDM mask",
        why="phi_0 of eq. (13) is 1(x > 0): 1 where x > 0, 0 elsewhere",
        beside={"reading: phi_0 as the figure's name for the constant mask phi = 1 (phi_c at c = -1)":
                constant_mask_facts(-1)},
        reading="phi_0 as eq. (13)'s phi_c at c = 0")


# ---------------------------------------------------------------------------------------------- Figure 1

def fig1_decision(standin_ok: bool, share_all_horizons: float, share_final: float) -> str:
    """Verdict word of grams.fig1 from its evidence: ``holds`` when Grams is lowest (ties allowed) at every
    horizon on at least 99% of starts and strictly lowest from the stand-in start at the end; ``conditional``
    when it wins from the stand-in start or on most starts at the end; otherwise the figure's message is not
    reproduced (reported as ``not-checkable``: the start of the figure is unknown, and a loss to Adam-type
    methods after thousands of square roots has no exact certificate here)."""
    if standin_ok and share_all_horizons >= 0.99:
        return "holds"
    if standin_ok or share_final > 0.5:
        return "conditional"
    return "not-checkable"


def _fig1_outcome(res: dict) -> dict:
    """What grams.fig1 is decided by, from one :func:`ams_theory.engines.toys.fig1_compare` result whose first start
    is the stand-in (1, 1): Grams lowest (ties allowed) at every horizon, per start; strictly lowest from the
    stand-in at the last horizon; the verdict word of :func:`fig1_decision`."""
    f, horizons = res["f"], list(res["horizons"])
    labels, final = list(f), horizons[-1]
    vals = {T: torch.stack([f[k][T] for k in labels]) for T in horizons}
    gi = labels.index("Grams")
    lowest_or_tied = torch.stack([vals[T][gi] <= vals[T].min(0).values * (1 + 1e-9) for T in horizons]).all(0)
    others_final = torch.cat([vals[final][:gi, 0], vals[final][gi + 1:, 0]])
    standin_ok = bool(lowest_or_tied[0]) and bool((vals[final][gi, 0] < others_final * (1 - 1e-9)).all())
    share_all = float(lowest_or_tied.double().mean())
    share_final = res["horizons"][final]["strictly_lowest"]["Grams"]
    return {"word": fig1_decision(standin_ok, share_all, share_final), "grams_lowest_from_stand_in": standin_ok,
            "grams_lowest_or_tied_at_every_horizon": share_all, "strictly_lowest_at_end": res["horizons"][final]
            ["strictly_lowest"], "strictly_first_to_threshold": res["first"]["strictly_first"],
            "grams_equal_to_adam_at_first_horizon": float((f["Grams"][horizons[0]] == f["Adam"][horizons[0]])
                                                          .double().mean()),
            "stand_in_f_at_end": {k: float(f[k][final, 0]) for k in labels}}


@lru_cache(maxsize=4)
@toys.intra_op_threads(1)
def _fig1(budget, seed):
    """Starts, and per reading of C-Adam (:data:`ams_theory.engines.toys.FIG1_CADAM_VARIANTS`) the comparison of the
    five methods and its outcome; the loss curves are kept for the paper's own reading only."""
    n, steps = FIG1_SIZE[budget]
    starts = torch.cat([torch.tensor([[1.0, 1.0]], dtype=DT), toys.fig1_starts(n - 1, seed)])
    horizons = tuple(h for h in (100, 300, 1000, 3000, 5000) if h <= steps)
    others = toys.fig1_losses(starts, steps, {k: m for k, m in toys.FIG1_METHODS.items() if k != "C-Adam"})
    runs = {}
    for reading, method in toys.FIG1_CADAM_VARIANTS.items():
        cadam = toys.fig1_losses(starts, steps, {"C-Adam": method})
        res = toys.fig1_compare({k: cadam[k] if k == "C-Adam" else others[k] for k in toys.FIG1_METHODS}, horizons)
        res["outcome"] = _fig1_outcome(res)
        runs[reading] = res if reading == toys.FIG1_CADAM else {k: v for k, v in res.items() if k != "f"}
    return starts, runs


def _fig1_strength(starts, seed, horizons):
    return searched(
        "float64 runs of the five methods from many starts, under every reading of C-Adam",
        starts={"count": len(starts), "first": [1, 1], "others": "uniform in [-2, 2]^2", "seed": seed},
        steps=[1, horizons[-1]], horizons=horizons,
        step_sizes={k: kw["lr"] for k, (_, kw) in toys.FIG1_METHODS.items()},
        betas="the presets' defaults: (0.9, 0.999) for the Adam family, (0.9, 0.99) for Lion and C-Lion",
        conventions={"C-Adam": toys.FIG1_CADAM, "C-Adam readings run": list(toys.FIG1_CADAM_VARIANTS),
                     "C-Lion": "Cautious Alg. 3 (mask 1(u o g > 0), lr d/(nnz + 1))",
                     "Grams": "Cor. 5.2's explicit form, sign(g) |u|"},
        ties="relative 1e-9", first_to="f(w_t) <= 1e-3 f(w_0)")


@register("grams.fig1", source="Figure 1", kind="empirical",
          statement="On f(w) = (0.5 w1)^2 + (0.1 w2)^2 (step 0.01 for Adam, C-Adam, Grams; 0.001 for Lion, C-Lion; "
          "default betas), Grams reaches a lower objective, sooner, than the other four.")
def check_fig1(budget="standard", seed=0):
    """The figure's toy problem run with the rule core's presets over 1000 starts and several horizons, under five
    readings of C-Adam; the outcome is stated with its conditions."""
    starts, runs = _fig1(budget, seed)
    res = runs[toys.FIG1_CADAM]
    out = res["outcome"]
    horizons = list(res["horizons"])
    final, f = horizons[-1], res["f"]
    labels = list(f)
    readings = {reading: {"preset": name, **kw, **runs[reading]["outcome"]}
                for reading, (name, kw) in toys.FIG1_CADAM_VARIANTS.items()}
    evidence = {
        "starts": len(starts), "start_distribution": "(1, 1) then uniform in [-2, 2]^2", "seed": seed,
        "steps": final, "stand_in_start": [1, 1], "C-Adam": toys.FIG1_CADAM,
        "stand_in_f": {k: {str(T): float(f[k][T, 0]) for T in horizons} for k in labels},
        "per_horizon": {str(T): res["horizons"][T] for T in horizons},
        "first_to_1e-3_of_f0": res["first"],
        "grams_lowest_or_tied_at_every_horizon": out["grams_lowest_or_tied_at_every_horizon"],
        "grams_equal_to_adam_at_first_horizon": out["grams_equal_to_adam_at_first_horizon"],
        "C-Adam_readings": readings,
        "methods": {k: {"preset": n, **kw} for k, (n, kw) in toys.FIG1_METHODS.items()},
        "note": "the paper does not give the start or the number of steps, and its figure is not in the text "
                "this project has; (1, 1) stands in for the figure's start. Grams' step equals Adam's wherever "
                "sign(g) = sign(m), so the two coincide until the momentum first overshoots. The paper's C-Adam "
                "is its Def. 3.2, taken as AMS with beta3 = 0, lambda = 0 (Cor. 4.2); Def. 3.2 prints another "
                "step factor, and the Cautious paper's C-AdamW (Alg. 1, Alg. 2) others: C-Adam_readings runs "
                "each in C-Adam's place, the other four methods unchanged."}
    short = lambda reading: reading.split(" (")[0]
    shares = lambda o: (f"Grams lowest or tied at every horizon on {o['grams_lowest_or_tied_at_every_horizon']:.1%}, "
                        f"strictly first to 1e-3 f0 on {o['strictly_first_to_threshold']['Grams']:.1%} "
                        f"(C-Adam {o['strictly_first_to_threshold']['C-Adam']:.1%})")
    summary = (f"C-Adam as {short(toys.FIG1_CADAM)}: from (1, 1) Grams "
               f"{'is' if out['grams_lowest_from_stand_in'] else 'is not'} lowest at t = {final}; over {len(starts)} "
               f"starts strictly lowest at t = {final} on {out['strictly_lowest_at_end']['Grams']:.1%}, {shares(out)}"
               ". C-Adam as " + "; as ".join(f"{short(r)}: {o['word']}, {shares(o)}"
                                             for r, o in readings.items() if r != toys.FIG1_CADAM))
    if out["word"] == "conditional":
        summary = "only on long horizons and most starts; " + summary
    figures = {"fig1": ("Figure 1 of the AMS/Grams paper re-run: f(w_t) per method (first start (1, 1), and "
                        "the median over starts), paths from (1, 1)",
                        lambda path: toys.plot_fig1(res, path, {k: _path(k, final) for k in labels}))}
    return Verdict(out["word"], summary, evidence, figures=figures,
                   strength=_fig1_strength(starts, seed, horizons))


def _path(label, steps):
    name, kw = toys.FIG1_METHODS[label]
    return toys.run(name, toys.FIG1_PROBLEM, torch.tensor([[1.0, 1.0]], dtype=DT), steps, **kw)[:, 0]


# ---------------------------------------------------------------------------------------------- tables

@lru_cache(maxsize=4)
def _digits(budget, seed):
    return experiments.compare_on_digits(budget=budget, seed=seed)


def _table_check(budget, seed, scale):
    evidence = {"reason": f"the table reports {scale}, far beyond a 2-core CPU"}
    figures = {}
    try:
        result = _digits(budget, seed)
    except ImportError as err:                     # scikit-learn missing: the verdict stands without evidence
        evidence["small_scale"] = {"skipped": str(err)}
    else:
        evidence["small_scale"] = {"summary": experiments.summary_lines(result), "result": result}
        figures = {"digits": ("Small-scale comparison on scikit-learn's digits (evidence beside the tables, "
                              "not a verdict on them)", lambda path: experiments.plot_comparison(result, path))}
    return Verdict("not-checkable", f"needs {scale}; a small digits-MLP comparison is attached as evidence",
                   evidence, figures=figures,
                   strength=no_evidence(f"nothing at the table's scale ({scale}) was run",
                                        attached="a small MLP on scikit-learn's digits with the same optimizers "
                                                 "(experiments.compare_on_digits): evidence beside the table, "
                                                 "not a check of its numbers"))


@register("grams.table1", source="Table 1", kind="empirical",
          statement="Table 1 of the AMS/Grams paper: Llama-60M pre-training and WRN-50-2 "
          "results of Grams against Adam, Lion, C-Adam, C-Lion and AMS variants.")
def check_table1(budget="standard", seed=0):
    """Not checkable here (60M-1B-parameter models); the small-scale digits comparison is attached as evidence."""
    return _table_check(budget, seed, "pre-training a 60M-parameter Llama and a WRN-50-2 on GPUs")


@register("grams.table2", source="Table 2", kind="empirical",
          statement="Table 2 of the AMS/Grams paper: Llama 3.2 fine-tuning results.")
def check_table2(budget="standard", seed=0):
    """Not checkable here (large models); the small-scale digits comparison is attached as evidence."""
    return _table_check(budget, seed, "fine-tuning Llama 3.2 (1B+ parameters) on GPUs")


@register("cautious.table1", source="Table 1", kind="empirical",
          statement="Table 1 of the Cautious paper: LLaMA 60M-1B perplexities with "
          "AdamW and C-AdamW.")
def check_cautious_table1(budget="standard", seed=0):
    """Not checkable here (LLaMA 60M-1B); the small-scale digits comparison is attached as evidence."""
    return _table_check(budget, seed, "pre-training LLaMA models of 60M to 1B parameters")
