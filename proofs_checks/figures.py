r"""Empirical claims: the papers' toy figures, re-run, and their large-scale tables.

The toy experiments run the project's own optimizers (their pure rules, batched
over starts or over a hyperparameter grid, see :mod:`ams_theory.toys`). A
failure of a step-by-step statement (a loss that goes up, one method above
another) is re-checked by re-running the same rule on that setting in exact
rational arithmetic. The tables need models and compute far beyond this
machine: they are ``not-checkable``, with a small real-data comparison
(:mod:`ams_theory.experiments`) attached as evidence at small scale.
"""
from __future__ import annotations

import math
from functools import lru_cache

import sympy as sp
import torch

from ams_theory import experiments, toys
from ams_theory.registry import Verdict, register

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


@register("cautious.fig2.monotone", "empirical",
          "On L = 4 w1^2 + w2^2 from (1, 1) with zero momentum, C-GDM (s <- beta s + g, "
          "w <- w - eps 1(s o g > 0) o s) has L(w_{t+1}) <= L(w_t) and GDM's Hamiltonian "
          "L(w) + (eps/2)|s|^2 non-increasing at every step, for the (eps, beta) settings of §3.1.")
def check_fig2_monotone(budget="standard", seed=0, variant="indicator"):
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
    correction = {
        "statement": f"With the threshold mask of Thm. 2.4 (coordinate kept iff s_i g_i > (mu eps/2) s_i^2, "
                     f"mu = {SMOOTHNESS:g}), C-GDM's L is non-increasing at every step of every listed setting.",
        "verdict": "holds" if thr_ok else "refuted",
        "evidence": {"steps": steps, "settings": thr, "relative_tolerance": RTOL,
                     "note": "monotone by construction (Thm. 2.4 / A.4), at the price of speed where beta = 0.99"}}
    if first is None:
        return Verdict("holds", f"C-GDM's L and GDM's Hamiltonian never rise in {steps} steps on the "
                       f"{len(per)} distinct settings", evidence, correction=correction)
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
                   figures={"fig2": ("Figure 2 of the Cautious paper re-run: L of GDM and C-GDM, GDM's "
                                     "Hamiltonian along C-GDM", lambda path: toys.plot_fig2(_fig2(steps), path))})


@register("cautious.fig2.dominates", "empirical",
          "On the same problem, for each listed (eps, beta), L(w_t) of C-GDM <= L(w_t) of GDM at every step t.")
def check_fig2_dominates(budget="standard", seed=0, variant="indicator"):
    steps = FIG2_STEPS[budget]
    per, worst = [], None
    for r in _fig2(steps, variant):
        above = (r["L_cgdm"] > r["L_gdm"] * (1 + RTOL)).nonzero().flatten()
        ratio = (r["L_cgdm"] / r["L_gdm"]).log10()
        per.append({"eps": r["eps"], "beta": r["beta"], "steps_above": len(above),
                    "first_above": int(above[0]) if len(above) else None,
                    "max_log10_ratio": float(ratio.max()), "final_L_gdm": float(r["L_gdm"][-1]),
                    "final_L_cgdm": float(r["L_cgdm"][-1])})
        if len(above) and worst is None:
            worst = {"eps": r["eps"], "beta": r["beta"], "step": int(above[0])}
    swapped = toys.fig2_experiment([(b, e) for e, b in _distinct(toys.FIG2_SETTINGS)], 200)
    eq1 = [{"eps": r["eps"], "beta": r["beta"], "steps_above": int((r["L_cgdm"] > r["L_gdm"] * (1 + RTOL)).sum())}
           for r in _fig2(steps, "eq1")]
    evidence = {"steps": steps, "settings": per, "relative_tolerance": RTOL,
                "as_printed_beta_eps_order": [{"eps": r["eps"], "beta": r["beta"],
                                               "L_gdm_200": float(r["L_gdm"][-1]),
                                               "L_cgdm_200": float(r["L_cgdm"][-1])} for r in swapped],
                "with_eq1_rescaling": eq1,
                "note": "§3.1 prints the list as (beta, eps) but the figure's legend is (eps, beta); read as "
                        "printed, eps >= 0.5 > 2/mu and both methods diverge, so the (eps, beta) reading is "
                        "the one checked. With eq. (1)'s rescaling d/(nnz+1) instead of the bare indicator "
                        "the domination fails on some settings (with_eq1_rescaling)."}
    if worst is None:
        return Verdict("holds", f"C-GDM <= GDM at all {steps} steps of the {len(per)} distinct settings "
                       f"(relative tolerance {RTOL:g}); final gaps up to "
                       f"{max(p['final_L_gdm'] / max(p['final_L_cgdm'], 1e-300) for p in per):.2g}x",
                       evidence, figures={"fig2": ("Figure 2 of the Cautious paper re-run",
                                                   lambda path: toys.plot_fig2(_fig2(steps), path))})
    t = worst["step"]

    def recheck():
        Lc, _ = _exact_fig2(worst["eps"], worst["beta"], t, variant=variant)
        Lg, _ = _exact_fig2(worst["eps"], worst["beta"], t, name="GDM")
        return bool(Lc[t] > Lg[t])

    return Verdict("refuted", f"C-GDM above GDM at step {t} (eps={worst['eps']}, beta={worst['beta']})",
                   evidence, counterexample=worst, recheck=recheck)


# ---------------------------------------------------------------------------------------------- Figure 8

def _grid(start, step, n):
    return torch.tensor([round(start + k * step, 10) for k in range(n)], dtype=DT)


def _fig8(budget, masks=None):
    out = {}
    for name, (e, b) in FIG8_GRIDS[budget].items():
        out[name] = toys.fig8_experiment(_grid(*e), _grid(*b), steps=FIG8_STEPS, masks=masks)
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


@register("cautious.fig8", "empirical",
          "With rate = exp(least-squares slope of log L(w_t) in t) on 4 w1^2 + w2^2, the best rate over "
          "(eps, beta) of each cautious mask (phi_0.01, phi_0.1, phi_inner) is below GDM's optimal rate "
          "(sqrt(kappa)-1)/(sqrt(kappa)+1) = 1/3.")
def check_fig8(budget="standard", seed=0, masks=None):
    res = _fig8(budget, masks) if masks else _fig8_cached(budget)
    goh = toys.goh_optimum()
    cautious = [k for k in (masks or toys.FIG8_MASKS) if k != "GDM"]
    coarse, fine = res["coarse"]["best"], res["fine"]["best"]
    literal = all(coarse[k][0] < goh["rate_w"] for k in cautious)
    like = {g: {k: fine_or_coarse[k][0] < fine_or_coarse["GDM"][0] for k in cautious}
            for g, fine_or_coarse in (("coarse", coarse), ("fine", fine))}
    like_ok = all(all(v.values()) for v in like.values())
    at_goh = res["goh_point"]["best"]["GDM"][0]
    exact = {k: _exact_rate(k, fine[k][1], fine[k][2], masks=masks) for k in ("GDM", *cautious)}
    evidence = {
        "steps": FIG8_STEPS, "start": [1, 1], "rate": "exp(slope of log L_t), points with L in [1e-250, 1e250]",
        "grids": {g: {"eps": [e[0], e[1], e[2]], "beta": [b[0], b[1], b[2]]} for g, (e, b) in FIG8_GRIDS[budget].items()},
        "best_coarse": {k: {"rate_L": v[0], "eps": v[1], "beta": v[2]} for k, v in coarse.items()},
        "best_fine": {k: {"rate_L": v[0], "eps": v[1], "beta": v[2]} for k, v in fine.items()},
        "best_fine_from_exact_trajectory": exact,
        "goh_optimum": goh, "GDM_measured_at_goh_point": at_goh,
        "note": "(sqrt(kappa)-1)/(sqrt(kappa)+1) is the contraction rate of |w_t|; L(w_t) contracts at its "
                "square, 1/9. Measured in the paper's units GDM itself scores far below 1/3, so the literal "
                "comparison cannot separate the methods; the correction compares like with like."}
    best_c = min(fine[k][0] for k in cautious)
    correction = {
        "statement": "Like for like (same estimator, horizon and grid), every cautious mask's best L-rate is below "
                     "GDM's best L-rate on the same grid; against GDM's closed-form optimum in the same units "
                     f"(1/9 = {goh['rate_L']:.4f}) the best cautious rate is {best_c:.4f}.",
        "verdict": "holds" if like_ok else "refuted",
        "evidence": {"cautious_below_GDM": like,
                     "margin_vs_GDM_fine": {k: fine["GDM"][0] - fine[k][0] for k in cautious},
                     "margin_vs_closed_form_L_rate": goh["rate_L"] - best_c,
                     "estimator_bias_at_goh_point": at_goh - goh["rate_L"],
                     "note": "the margin against 1/9 is smaller than the estimator's own bias at GDM's optimum "
                             "(the double root gives L ~ t^2 9^-t), so beating the closed-form optimum is not shown"}}
    figures = {"fig8": ("Figure 8 of the Cautious paper re-run: rate maps over (eps, beta)",
                        lambda path: toys.plot_fig8(res["coarse"], path))}
    summary = (f"best cautious L-rates {', '.join(f'{k} {coarse[k][0]:.3f}' for k in cautious)} < 1/3 as written, "
               f"but GDM scores {coarse['GDM'][0]:.3f} in the same units (1/3 is a rate of |w|)")
    if literal:
        return Verdict("holds", summary, evidence, correction=correction, figures=figures)
    worst = max(cautious, key=lambda k: coarse[k][0])
    point = {"mask": worst, "rate_L": coarse[worst][0], "eps": coarse[worst][1], "beta": coarse[worst][2]}
    return Verdict("refuted", f"{worst}'s best rate {coarse[worst][0]:.3f} is not below 1/3", evidence,
                   counterexample=point, correction=correction, figures=figures,
                   recheck=lambda: _exact_rate(worst, point["eps"], point["beta"], masks=masks) >= goh["rate_w"])


# ---------------------------------------------------------------------------------------------- Figure 1

@lru_cache(maxsize=4)
def _fig1(budget, seed):
    n, steps = FIG1_SIZE[budget]
    starts = torch.cat([torch.tensor([[1.0, 1.0]], dtype=DT), toys.fig1_starts(n - 1, seed)])
    horizons = tuple(h for h in (100, 300, 1000, 3000, 5000) if h <= steps)
    return starts, toys.fig1_experiment(starts, steps, horizons=horizons)


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


@register("grams.fig1", "empirical",
          "On f(w) = (0.5 w1)^2 + (0.1 w2)^2 (step 0.01 for Adam, C-Adam, Grams; 0.001 for Lion, C-Lion; "
          "default betas), Grams reaches a lower objective, sooner, than the other four.")
def check_fig1(budget="standard", seed=0):
    starts, res = _fig1(budget, seed)
    horizons = list(res["horizons"])
    final = horizons[-1]
    labels = list(res["f"])
    f = res["f"]
    vals = {T: torch.stack([f[k][T] for k in labels]) for T in horizons}
    gi = labels.index("Grams")
    lowest_or_tied = torch.stack([vals[T][gi] <= vals[T].min(0).values * (1 + 1e-9) for T in horizons]).all(0)
    others_final = torch.cat([vals[final][:gi, 0], vals[final][gi + 1:, 0]])
    standin_ok = bool(lowest_or_tied[0]) and bool((vals[final][gi, 0] < others_final * (1 - 1e-9)).all())
    share_all = float(lowest_or_tied.double().mean())
    share_final = res["horizons"][final]["strictly_lowest"]["Grams"]
    same_as_adam = float((f["Grams"][horizons[0]] == f["Adam"][horizons[0]]).double().mean())
    word = fig1_decision(standin_ok, share_all, share_final)
    evidence = {
        "starts": len(starts), "start_distribution": "(1, 1) then uniform in [-2, 2]^2", "seed": seed,
        "steps": final, "stand_in_start": [1, 1],
        "stand_in_f": {k: {str(T): float(f[k][T, 0]) for T in horizons} for k in labels},
        "per_horizon": {str(T): res["horizons"][T] for T in horizons},
        "first_to_1e-3_of_f0": res["first"],
        "grams_lowest_or_tied_at_every_horizon": share_all,
        "grams_equal_to_adam_at_first_horizon": same_as_adam,
        "methods": {k: {"preset": n, **kw} for k, (n, kw) in toys.FIG1_METHODS.items()},
        "note": "the paper does not give the start or the number of steps, and its figure is not in the text "
                "this project has; (1, 1) stands in for the figure's start. Grams' step equals Adam's wherever "
                "sign(g) = sign(m), so the two coincide until the momentum first overshoots."}
    summary = (f"from (1, 1) Grams {'is' if standin_ok else 'is not'} lowest at t = {final}; over {len(starts)} "
               f"starts strictly lowest at t = {final} on {share_final:.1%}, lowest or tied at every horizon on "
               f"{share_all:.1%}; identical to Adam at t = {horizons[0]} on {same_as_adam:.0%} of starts "
               f"(strictly first to 1e-3 f0 on {res['first']['strictly_first']['Grams']:.1%})")
    if word == "conditional":
        summary = "only on long horizons and most starts: " + summary
    figures = {"fig1": ("Figure 1 of the AMS/Grams paper re-run: f(w_t) per method (first start (1, 1), and "
                        "the median over starts), paths from (1, 1)",
                        lambda path: toys.plot_fig1(res, path, {k: _path(k, final) for k in labels}))}
    return Verdict(word, summary, evidence, figures=figures)


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
                   evidence, figures=figures)


@register("grams.table1", "empirical", "Table 1 of the AMS/Grams paper: Llama-60M pre-training and WRN-50-2 "
          "results of Grams against Adam, Lion, C-Adam, C-Lion and AMS variants.")
def check_table1(budget="standard", seed=0):
    return _table_check(budget, seed, "pre-training a 60M-parameter Llama and a WRN-50-2 on GPUs")


@register("grams.table2", "empirical", "Table 2 of the AMS/Grams paper: Llama 3.2 fine-tuning results.")
def check_table2(budget="standard", seed=0):
    return _table_check(budget, seed, "fine-tuning Llama 3.2 (1B+ parameters) on GPUs")


@register("cautious.table1", "empirical", "Table 1 of the Cautious paper: LLaMA 60M-1B perplexities with "
          "AdamW and C-AdamW.")
def check_cautious_table1(budget="standard", seed=0):
    return _table_check(budget, seed, "pre-training LLaMA models of 60M to 1B parameters")
