"""The repair search: generated single edits, judged by the proof engine, holding ones first and smallest first."""
import pytest
import sympy as sp
from conftest import shared_run

import proofs_checks
from ams_theory.claims.flows import engine_judge
from ams_theory.engines import repairs

proofs_checks.load()
# the quick runs are shared with the claim modules on one worker (conftest.shared_run)
pytestmark = pytest.mark.xdist_group("claims")
a = sp.Symbol("a", real=True)
TRUE = a * sp.sign(a)                    # = |a|


def _neighbourhood(stated, given=()):
    edits = list(given) + [repairs.Edit(kind, text, ("== 0", TRUE - new, ()))
                           for kind, text, new in repairs.expression_edits(stated)]
    return repairs.search(edits, engine_judge)


def test_a_planted_sign_slip_is_repaired_by_one_edit_ranked_first():
    planted = _neighbourhood(sp.Abs(a) - 1)              # |a| - 1: dropping the -1 repairs it
    first = planted[0]
    assert first.verdict == "holds" and first.edit.kind == "drop term" and "-1" in first.edit.text
    assert all(c.verdict != "holds" for c in planted[1:])
    assert repairs.summary(planted).startswith("1 of ")


def test_a_statement_no_single_edit_repairs_says_so():
    found = _neighbourhood(2 * sp.Abs(a) + 1)
    assert found and all(c.verdict != "holds" for c in found)
    assert repairs.summary(found) == f"none of {len(found)} single edits holds"


def test_given_edits_rank_by_size_among_holding_ones():
    big = repairs.Edit("hand-written correction", "rewrite", ("== 0", TRUE - sp.Abs(a), ()), size=3)
    small = repairs.Edit("add hypothesis", "a >= 0", ("== 0", TRUE - a, (a >= 0,)))
    found = _neighbourhood(2 * sp.Abs(a) + 1, given=[big, small])
    assert [c.edit.text for c in found[:2]] == ["a >= 0", "rewrite"]


def test_eps_moves_into_and_out_of_the_root():
    r = sp.Symbol("r", positive=True)
    e = sp.Symbol("e", nonnegative=True)
    texts = [t for kind, t, _ in repairs.expression_edits(1 / (r + e), eps=e, roots=[r]) if kind == "move eps"]
    assert any("inside the root" in t for t in texts)
    back = [new for kind, _, new in repairs.expression_edits(1 / sp.sqrt(r ** 2 + e), eps=e, roots=[r])
            if kind == "move eps"]
    assert 1 / (r + e) in back


def test_refuted_claims_list_their_repairs_smallest_first():
    for cid, first in (("cautious.A3.1.formula", "e = 0"), ("grams.E2", "K(s) -> grad K(s)"),
                       ("grams.D1.part2", "L convex")):
        corr = shared_run(cid).to_json()["correction"]
        holding = [c for c in corr["repairs"] if c["verdict"] == "holds"]
        assert holding and holding[0]["edit"].startswith(first), (cid, holding)
        sizes = [c["size"] for c in holding]
        assert sizes == sorted(sizes)
        assert corr["repairs_summary"].startswith(f"{len(holding)} of ")


def test_a3_neighbourhood_finds_the_bounded_masks_and_refutes_the_constants():
    """A.3: the hand-written B_T and the hypothesis |phi| <= 1 (every mask sign(x) o min(1, |p|)) hold; phi <= 1
    alone does not (phi_c with c = 5 meets it and x phi(x) >= 0, and breaks the bound), nor do a doubled B_T term
    or xi = 0, each refuted by an exact counterexample."""
    corr = shared_run("cautious.A3").to_json()["correction"]
    rows = {c["edit"]: c for c in corr["repairs"]}
    assert rows["B_T = sum |u_t o phi_t|^2 in place of sum |u_t|^2"]["kind"] == "replace object"
    assert [c["verdict"] for c in corr["repairs"]][:2] == ["holds"] * 2
    assert [e for e, c in rows.items() if e.startswith("|phi| <= 1")] and all(
        c["verdict"] == "holds" for e, c in rows.items() if e.startswith("|phi| <= 1"))
    for edit in ("mu eps B_T/T in place of mu eps B_T/(2T)", "xi = 0 in eq. (1) (alpha = d/nnz >= 1)",
                 next(e for e in rows if e.startswith("phi <= 1"))):
        assert rows[edit]["verdict"] == "refuted" and rows[edit]["strength"] == "proved", edit
    assert corr["repairs_summary"].startswith("2 of 5 edits hold")


def test_figure2_edits_use_the_runs_and_call_float_failures_uncertified():
    rows = {c["edit"]: c["verdict"] for c in
            shared_run("cautious.fig2.monotone").to_json()["correction"]["repairs"]}
    assert rows["mask: the threshold mask of Thm. 2.4"] == "holds"
    assert rows["mask: eq. (1)'s rescaled mask"] == "fails in float64 (not certified)"


def test_constant_edits_of_eq1_and_of_algorithm_1():
    """max(alpha, 1) and xi = 0 (undefined where no x_i > 0) give eq. (1)'s alpha >= 1, the other constants do not;
    Alg. 1 and 2 agree exactly when
    mask_eps = 1/d or when Alg. 2 counts +eps d, not with mask_eps = 0 or xi = 0."""
    rows = {c["edit"]: c["verdict"] for c in
            shared_run("cautious.eq6.default").to_json()["correction"]["repairs"]}
    assert rows == {"max(alpha, 1) in place of alpha": "holds", "xi = 0 (undefined where no x_i > 0)": "holds",
                    "xi = 1/2": "refuted", "xi = 2": "refuted"}
    rows = {c["edit"]: c["verdict"] for c in
            shared_run("cautious.alg1").to_json()["correction"]["repairs"]}
    assert rows["Alg. 1: mask_eps = 1/d"] == "holds" and rows["Alg. 1: mask_eps = 0"] == "refuted"
    assert rows["Alg. 2: +1 -> +eps d in the count (xi = eps d)"] == "holds" and rows["Alg. 2: xi = 0"] == "refuted"


def test_convention_edits_of_the_reductions_are_judged_on_every_pattern():
    """B.2 and B.3: no single convention edit repairs them; their hand-written two-edit corrections hold."""
    for cid in ("grams.B2", "grams.B3"):
        corr = shared_run(cid).to_json()["correction"]
        holding = [c for c in corr["repairs"] if c["verdict"] == "holds"]
        assert [c["kind"] for c in holding] == ["hand-written correction"] and holding[0]["size"] == 2, cid
        singles = [c for c in corr["repairs"] if c["size"] == 1]
        assert len(singles) >= 7 and all(c["verdict"] == "refuted" for c in singles), cid


def test_search_judged_edits_of_the_discrete_claims():
    """2.4 and A.7: alpha >= 0 repairs them, convexity alone does not (an exact counterexample); D.3's edit that
    keeps N as written stays vacuous."""
    for cid, fix in (("cautious.2.4", "alpha_k >= 0"), ("cautious.A7", "alpha >= 0")):
        rows = {c["edit"]: c for c in shared_run(cid).to_json()["correction"]["repairs"]}
        assert rows[fix]["verdict"] == "holds"
        convex = next(c for e, c in rows.items() if e.startswith("L convex"))
        assert convex["verdict"] == "refuted" and convex["strength"] == "proved"
    rows = {c["edit"]: c for c in shared_run("grams.D3").to_json()["correction"]["repairs"]}
    assert rows["L convex (N as written)"]["verdict"] == "vacuous"
    assert rows["|N| in place of N, and L convex"]["verdict"] == "holds"


def test_d3_step_bound_edits_are_proved_or_refuted_exactly():
    """D.3: |N| alone fails without convexity (the constructed indefinite quadratic, exact, at every budget);
    |N| with half the step bound holds for every L-smooth loss, proved by the two-point reduction; Remark 5.5's
    non-strict forms follow the same way."""
    rows = {c["edit"]: c for c in shared_run("grams.D3").to_json()["correction"]["repairs"]}
    flip = rows["|N| = -N in place of N (any L-smooth loss)"]
    assert (flip["verdict"], flip["strength"]) == ("refuted", "proved")
    halved = rows["|N| in place of N, and 1 in place of the 2 (any L-smooth loss)"]
    assert (halved["verdict"], halved["strength"]) == ("holds", "proved")
    holding = [c["edit"] for c in rows.values() if c["verdict"] == "holds"]
    assert holding == ["|N| in place of N, and L convex",
                       "|N| in place of N, and 1 in place of the 2 (any L-smooth loss)"]
    r55 = {c["edit"]: c for c in shared_run("grams.R5.5").to_json()["correction"]["repairs"]}
    assert [c["strength"] for c in r55.values() if c["verdict"] == "holds"] == ["proved", "proved"]
    assert r55["<= in place of <, under D.3's corrected bound (any L-smooth loss)"]["verdict"] == "refuted"
