"""The empirical family: figure checks reach their verdicts from the runs, and can reach other ones."""
import pytest
import sympy as sp
import torch

from ams_theory import toys
from ams_theory.registry import REGISTRY, load_checks, run_claim
from proofs_checks import figures as F

load_checks()


def test_every_empirical_claim_has_a_check():
    empirical = [c for c in REGISTRY.values() if c.entry.family == "empirical"]
    assert len(empirical) == 7 and all(c.check is not None for c in empirical)


def test_fig2_monotone_is_refuted_with_a_certificate():
    r = run_claim(REGISTRY["cautious.fig2.monotone"], "quick")
    assert r.status == "checked" and r.verdict.word == "refuted"
    cx = r.verdict.counterexample
    assert cx["rechecked_exactly"] and cx["step"] >= 1
    assert sp.Rational(cx["after"]) > sp.Rational(cx["before"])
    # the nearest correct statement (Thm. 2.4's threshold mask) is checked and holds
    assert r.verdict.correction["verdict"] == "holds"


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


def test_fig2_dominates_holds_for_the_bare_mask_and_fails_with_rescaling():
    v = F.check_fig2_dominates("quick")
    assert v.word == "holds"
    assert all(s["steps_above"] == 0 for s in v.evidence["settings"])
    # mutation: eq. (1)'s rescaled mask really is worse than GDM somewhere; the check must say so
    bad = F.check_fig2_dominates("quick", variant="eq1")
    assert bad.word == "refuted" and bad.recheck() is True


def test_fig8_literal_and_like_for_like():
    v = F.check_fig8("quick")
    assert v.word == "holds"
    best = v.evidence["best_coarse"]
    # the unit mismatch: GDM itself is far below 1/3 in the paper's units
    assert best["GDM"]["rate_L"] < 1 / 3
    for k in ("phi_0.01", "phi_0.1", "phi_inner"):
        exact = v.evidence["best_fine_from_exact_trajectory"][k]
        assert exact == pytest.approx(v.evidence["best_fine"][k]["rate_L"], rel=1e-6)


def test_fig8_mutations_are_caught():
    # a "cautious" variant that is secretly GDM is not better than GDM like for like ...
    masks = {"GDM": toys.FIG8_MASKS["GDM"], "fake": ("CGDM", dict(mask=None, normalize="none"))}
    v = F.check_fig8("quick", masks=masks)
    assert v.correction["verdict"] == "refuted"
    # ... and one whose mask all but stops the step is slower than 1/3 even as written (exactly re-checked)
    masks = {"GDM": toys.FIG8_MASKS["GDM"], "crippled": ("CGDM", dict(normalize="nnz_xi", xi=1000.0))}
    v = F.check_fig8("quick", masks=masks)
    assert v.word == "refuted" and v.recheck() is True


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


def test_figures_are_offered_and_drawn(tmp_path):
    pytest.importorskip("matplotlib")
    for cid in ("cautious.fig2.monotone", "cautious.fig8", "grams.fig1"):
        v = REGISTRY[cid].check("quick", 0)
        for name, (caption, draw) in v.figures.items():
            path = draw(str(tmp_path / f"{name}.png"))
            assert caption and open(path, "rb").read(4) == b"\x89PNG"
