"""The empirical family: figure checks reach their verdicts from the runs, and can reach other ones."""
import pytest
import sympy as sp
import torch

import proofs_checks
from conftest import shared_run
from ams_theory.claims.registry import REGISTRY, run_claim
from ams_theory.engines import toys
from proofs_checks import figures as F

proofs_checks.load()
# on the claims worker: the figure runs (cached in proofs_checks.figures) and the quick runs (conftest.shared_run)
# are shared with test_repairs and test_cli
pytestmark = pytest.mark.xdist_group("claims")


def test_every_empirical_claim_has_a_check():
    """The figures, the tables and the sentences on the printed tables and figures all have checks."""
    empirical = [c for c in REGISTRY.values() if c.entry.family == "empirical"]
    assert len(empirical) == 13 and all(c.check is not None for c in empirical)


def test_fig2_monotone_is_refuted_with_a_certificate():
    r = shared_run("cautious.fig2.monotone")
    assert r.status == "checked" and r.verdict.word == "refuted"
    cx = r.verdict.counterexample
    assert cx["rechecked_exactly"] and cx["step"] >= 1
    assert sp.Rational(cx["after"]) > sp.Rational(cx["before"])
    # the nearest correct statement (Thm. 2.4's threshold mask) is checked and holds
    assert r.verdict.correction.verdict == "holds"


def test_threshold_mask_is_monotone_in_l():
    v = F.check_fig2_monotone("quick", variant="threshold")
    assert all(s["L_increases"] == 0 for s in v.evidence["settings"])


def test_a_float_artefact_does_not_become_a_refutation(monkeypatch):
    """Mutation: plant a rise in the float curve that the exact run does not have; the registry must
    refuse the refutation (the exact re-check fails) instead of reporting it."""
    runs = [dict(r) for r in F._fig2(F.FIG2_STEPS["quick"], "indicator")]
    planted = runs[0]["L_cgdm"].clone()
    planted[3] = planted[2] * 2          # eps = 0.01, beta = 0.5 is monotone in exact arithmetic
    runs[0] = {**runs[0], "L_cgdm": planted, "H_cgdm": runs[0]["H_cgdm"]}
    for r in runs[1:]:                   # keep only the planted failure
        r["L_cgdm"] = r["L_gdm"].clone().sort(descending=True).values
        r["H_cgdm"] = {k: torch.linspace(2, 1, len(r["L_gdm"]), dtype=torch.float64) for k in r["H_cgdm"]}
    runs[0]["H_cgdm"] = {k: torch.linspace(2, 1, len(planted), dtype=torch.float64) for k in runs[0]["H_cgdm"]}
    monkeypatch.setattr(F, "_fig2", lambda steps, variant="indicator": runs)
    r = run_claim(REGISTRY["cautious.fig2.monotone"], "quick")
    assert r.status == "crashed" and "did not survive" in r.error


def test_fig2_dominates_is_conditional_on_the_bare_mask():
    """§3.1 does not name C-GDM's mask: with the bare indicator C-GDM stays below GDM (the correction, searched);
    with eq. (1)'s rescaled mask it is above GDM on every listed setting (exact re-check): conditional."""
    v = F.check_fig2_dominates("quick")
    assert v.word == "conditional" and v.recheck() is True and "not named" in v.reading
    assert (v.correction.verdict, v.correction.strength.level) == ("holds", "searched")
    bare = next(per for k, per in v.evidence.items() if k.startswith("settings (bare indicator"))
    assert all(s["steps_above"] == 0 for s in bare)
    rescaled = next(per for k, per in v.evidence.items() if k.startswith("settings (indicator rescaled"))
    assert all(s["steps_above"] > 0 for s in rescaled)
    # one reading at a time: the bare mask holds, eq. (1)'s is refuted exactly
    assert F.check_fig2_dominates("quick", variant="indicator").word == "holds"
    bad = F.check_fig2_dominates("quick", variant="eq1")
    assert bad.word == "refuted" and bad.recheck() is True


def test_fig8_literal_and_like_for_like():
    v = F.check_fig8("quick")
    assert v.word == "holds"
    best = v.evidence["best_refined"]
    # the unit mismatch: GDM itself is far below 1/3 in the paper's units
    assert best["GDM"]["rate_L"] < 1 / 3
    for k in toys.FIG8_MASKS:
        exact = v.evidence["best_refined_from_exact_trajectory"][k]
        assert exact == pytest.approx(best[k]["rate_L"], rel=1e-6)
    # the like-for-like reading names, per mask, whether its long-horizon rate is shown below 1/9
    shown = v.correction.evidence["shown_below_closed_form"]
    assert set(shown) == {"phi_0.01", "phi_0.1", "phi_inner"}
    assert v.correction.verdict == F.fig8_like_for_like_word(shown)


def test_fig8_refinement_moves_the_coarse_estimate():
    """The fine grid misses GDM's optimum: refined, GDM's 200-step best drops from about 0.115 to within
    5e-4 of the closed form 1/9, and no method's refined best is above its fine-grid best."""
    v = F.check_fig8("quick")
    fine, refined = v.evidence["best_fine"], v.evidence["best_refined"]
    assert fine["GDM"]["rate_L"] - refined["GDM"]["rate_L"] > 3e-3
    assert abs(refined["GDM"]["rate_L"] - 1 / 9) < 5e-4
    for k in toys.FIG8_MASKS:
        assert refined[k]["rate_L"] <= fine[k]["rate_L"]
        spacings = [h["spacing"][0] for h in refined[k]["history"]]
        assert refined[k]["rounds"] == len(spacings) and min(spacings) < spacings[0]


def test_fig8_long_horizon_re_estimates_bound_gdm_by_its_closed_form():
    """GDM's asymptotic L-rate cannot go below 1/9 (Polyak): its long-horizon re-estimates must stay above it,
    and the 200-step estimator's error at Goh's point is the double root's t^2 factor (positive)."""
    v = F.check_fig8("quick")
    ev = v.correction.evidence
    gdm = ev["re_estimates"]["GDM"]["long_horizon_at_long_best"]
    assert 1 / 9 < gdm["min"] <= gdm["max"] < 1 / 9 + 1e-3
    assert ev["short_estimator"]["estimator_bias_at_goh_point"] > 0


def test_fig8_like_for_like_rules():
    spread = lambda top: {"long_horizon_at_long_best": {"min": top - 1e-3, "median": top - 5e-4, "max": top}}
    shown = F.closed_form_shown({"a": spread(0.110), "b": spread(0.1112)}, 1 / 9)
    assert shown == {"a": True, "b": False}          # the largest re-estimate counts, not the median
    assert F.fig8_like_for_like_word({"a": True, "b": True}) == "holds"
    assert F.fig8_like_for_like_word(shown) == "conditional"
    assert F.fig8_like_for_like_word({"a": False}) == "not-checkable"


def test_fig8_mutations_are_caught():
    # a "cautious" variant that is secretly GDM is not better than GDM like for like ...
    masks = {"GDM": toys.FIG8_MASKS["GDM"], "fake": ("CGDM", dict(mask=None, normalize="none"))}
    v = F.check_fig8("quick", masks=masks)
    assert v.correction.evidence["shown_below_closed_form"] == {"fake": False}
    assert v.correction.verdict == "not-checkable"
    assert v.correction.evidence["short_estimator"]["cautious_below_GDM_refined"] == {"fake": False}
    # ... and one whose mask all but stops the step is slower than 1/3 even as written (exactly re-checked)
    masks = {"GDM": toys.FIG8_MASKS["GDM"], "crippled": ("CGDM", dict(normalize="nnz_xi", xi=1000.0))}
    v = F.check_fig8("quick", masks=masks)
    assert v.word == "refuted" and v.recheck() is True
    assert v.strength.level == "searched"            # the best point found is not the minimum over all points


def test_fig1_decision_rule():
    assert F.fig1_decision(True, 0.995, 0.9) == "holds"
    assert F.fig1_decision(True, 0.9, 0.9) == "conditional"
    assert F.fig1_decision(False, 0.2, 0.6) == "conditional"
    assert F.fig1_decision(False, 0.2, 0.3) == "not-checkable"


def test_fig1_verdict_tracks_the_runs(monkeypatch):
    v = F.check_fig1("quick")
    assert v.word in ("holds", "conditional")
    assert v.evidence["starts"] == F.FIG1_SIZE["quick"][0]
    # mutation: "Grams" secretly run as Lion with Lion's small step never wins
    planted = {**toys.FIG1_METHODS, "Grams": ("Lion", dict(lr=0.001))}
    monkeypatch.setattr(toys, "FIG1_METHODS", planted)
    F._fig1.cache_clear()
    try:
        assert F.check_fig1("quick").word == "not-checkable"
    finally:
        F._fig1.cache_clear()


def test_fig1_runs_and_names_every_reading_of_c_adam(monkeypatch):
    v = F.check_fig1("quick")
    readings = v.evidence["C-Adam_readings"]
    assert list(readings) == list(toys.FIG1_CADAM_VARIANTS)
    assert v.word == readings[toys.FIG1_CADAM]["word"]
    for reading, (preset, _) in toys.FIG1_CADAM_VARIANTS.items():
        assert readings[reading]["preset"] == preset and reading.split(" (")[0] in v.summary
    assert v.summary.startswith(("C-Adam as Def. 3.2", "only on long horizons and most starts; C-Adam as Def. 3.2"))
    # mutation: a reading whose C-Adam is Grams itself must tie with Grams, so each reading really is run
    planted = {**toys.FIG1_CADAM_VARIANTS, "planted (Grams)": toys.FIG1_METHODS["Grams"]}
    monkeypatch.setattr(toys, "FIG1_CADAM_VARIANTS", planted)
    F._fig1.cache_clear()
    try:
        out = F.check_fig1("quick").evidence["C-Adam_readings"]["planted (Grams)"]
    finally:
        F._fig1.cache_clear()
    assert out["strictly_lowest_at_end"]["Grams"] == 0 and not out["grams_lowest_from_stand_in"]


def test_every_verdict_and_correction_says_how_strong_it_is(monkeypatch):
    """Every empirical check's verdict (and correction) carries a strength that says what it covered."""
    def no_sklearn(budget, seed):
        raise ImportError("planted: scikit-learn missing")
    monkeypatch.setattr(F, "_digits", no_sklearn)
    coverage_keys = {"cautious.fig2.monotone": {"settings_eps_beta", "steps", "start", "mask"},
                     "cautious.fig2.dominates": {"settings_eps_beta", "steps", "start", "mask"},
                     "cautious.fig8": {"grids", "refinement", "horizons", "re_estimates", "conventions"},
                     "grams.fig1": {"starts", "horizons", "step_sizes", "conventions"}}
    for claim in (c for c in REGISTRY.values() if c.entry.family == "empirical"):
        r = run_claim(claim, "quick")
        assert r.status == "checked", (claim.id, r.error)
        st = r.verdict.strength
        if claim.id in coverage_keys:
            if r.verdict.word == "refuted":
                assert st.level == "proved" and r.verdict.counterexample["rechecked_exactly"]
            else:                                # a conditional verdict keeps its searched part's coverage
                coverage = st.coverage["parts"][-1]["coverage"] if "parts" in st.coverage else st.coverage
                assert st.level == "searched" and coverage_keys[claim.id] <= set(coverage), claim.id
        elif claim.id in ("grams.table1", "grams.table2", "cautious.table1"):       # the tables at their scale
            assert r.verdict.word == "not-checkable" and st.level == "none"
            assert "digits" in st.coverage["attached"]
        else:                          # sentences on the printed tables and figures: decided exactly, no run needed
            assert st.level == "proved", claim.id
        if r.verdict.correction is not None:             # the runs' corrections are searched, the exact ones proved
            assert r.verdict.correction.strength.level == ("searched" if claim.id in coverage_keys else "proved")
    fig8 = run_claim(REGISTRY["cautious.fig8"], "quick").verdict.strength.coverage
    assert fig8["grids"]["fine"]["eps"]["range"] == [0.15, 0.3] and fig8["grids"]["coarse"]["beta"]["points"] == 25
    fig1 = run_claim(REGISTRY["grams.fig1"], "quick").verdict.strength.coverage
    assert fig1["conventions"]["C-Adam readings run"] == list(toys.FIG1_CADAM_VARIANTS)
    assert fig1["starts"]["count"] == F.FIG1_SIZE["quick"][0] and fig1["horizons"][-1] == F.FIG1_SIZE["quick"][1]


def test_figures_are_offered_and_drawn(tmp_path):
    pytest.importorskip("matplotlib")
    for cid in ("cautious.fig2.monotone", "cautious.fig8", "grams.fig1"):
        v = REGISTRY[cid].check("quick", 0)
        for name, (caption, draw) in v.figures.items():
            path = draw(str(tmp_path / f"{name}.png"))
            assert caption and open(path, "rb").read(4) == b"\x89PNG"
