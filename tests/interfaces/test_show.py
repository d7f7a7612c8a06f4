"""``ams-theory show ID``: the text for people (``report.render_claim``) and ``show ID --json``.

The claim runs go through conftest's cache of quick runs (the claim modules check the same runs' verdicts);
the synthetic-JSON tests pin the wording of the shapes the checks do not produce at every budget.
"""
import json
import re
import subprocess
import sys
from fractions import Fraction

import pytest
from conftest import shared_cli_run_claim, shared_run

from ams_theory.claims.report import render_claim
from ams_theory.cli import main


@pytest.fixture
def cached_runs(monkeypatch):
    monkeypatch.setattr("ams_theory.cli.run_claim", shared_cli_run_claim)


def _show(capsys, *argv) -> str:
    assert main(["show", *argv, "--budget", "quick"]) == 0
    return capsys.readouterr().out


def _no_raw_json(text: str):
    """What the text for people must not contain: JSON's spellings of values and its quoted keys."""
    for word in ("Infinity", "NaN"):
        assert not re.search(rf"\b{word}\b", text), f"raw JSON value {word!r} in:\n{text}"
    bare = re.search(r"(^|\s{2}|: )(true|false|null),?$", text, re.MULTILINE)       # a value spelled as in JSON
    assert not bare, f"raw JSON value {bare.group(2)!r} in:\n{text}"
    assert not re.search(r'[{,]\s*"[^"]+":', text), f"raw JSON object in:\n{text}"
    assert not any(line.strip() in ("{", "}", "[", "]", "},", "],") for line in text.splitlines())


@pytest.mark.xdist_group("claims")
def test_proved_claim(cached_runs, capsys):
    out = _show(capsys, "grams.C3")
    d = shared_run("grams.C3").to_json()
    assert d["statement"] in out.replace("\n           ", " ")
    assert "verdict: holds   strength: proved" in out
    assert "Strength of the verdict: proved" in out
    n_cases = len(d["strength"]["proof"]["cases"])
    assert f"proof: proved; {n_cases} cases (show --proof lists them)" in out
    assert f"=> no violation in {d['evidence']['patterns']:,} patterns" in out     # failing_patterns = 0
    _no_raw_json(out)


@pytest.mark.xdist_group("claims")
def test_refuted_claim_shows_the_counterexample_exactly_and_as_floats(cached_runs, capsys):
    out = _show(capsys, "cautious.alg1")
    cx = shared_run("cautious.alg1").to_json()["counterexample"]
    assert "verdict: refuted   strength: proved" in out
    assert "Counterexample (exact numbers, float value beside them)" in out
    assert re.search(r"rechecked_exactly\s+yes", out)
    # every exact rational of the counterexample's inputs is printed with its float value beside it
    checked = 0
    for name, values in cx["inputs"].items():
        for v in values:
            if "/" in v:
                assert f"{v}  (≈ {float(Fraction(v)):.3g})" in out, (name, v)
                checked += 1
    assert checked >= 2
    scale = cx["scales"]["algorithm1"]
    assert f"algorithm1 = {scale}  (≈ {float(Fraction(scale)):.3g})" in out
    _no_raw_json(out)


@pytest.mark.xdist_group("claims")
def test_corrected_claim_shows_the_correction_with_its_own_verdict(cached_runs, capsys):
    out = _show(capsys, "cautious.alg1")
    corr = shared_run("cautious.alg1").to_json()["correction"]
    level = corr["strength"]["level"]
    assert f"Correction: {corr['verdict']} ({level})" in out
    assert f"verdict: {corr['verdict']}   strength: {level}" in out
    text = " ".join(out.split())
    assert " ".join(corr["statement"].split()) in text
    for repair in corr["repairs"]:                       # the repairs table: each edit with its verdict
        assert re.search(re.escape(repair["edit"]) + r"\s+" + re.escape(repair["kind"]), out), repair["edit"]
    assert corr["repairs_summary"] in text


@pytest.mark.xdist_group("claims")
def test_searched_claim_says_what_was_searched(cached_runs, capsys):
    out = _show(capsys, "cautious.2.3")                  # searched: four masks, each a part with its own search
    d = shared_run("cautious.2.3").to_json()
    rs = d["evidence"]["Thm. 2.3, eq1_default"]["random_search"]
    assert "verdict: holds   strength: searched" in out
    assert f"=> no violation in {rs['applicable']:,} applicable of {rs['instances']:,} instances" in out
    for family, (n, applicable, bad) in rs["per_family_[instances,applicable,violations]"].items():
        assert re.search(rf"{family}\s+{n:,}\s+{applicable:,}\s+{bad:,}", out), family
    _no_raw_json(out)


@pytest.mark.xdist_group("claims")
def test_json_is_the_results_json(cached_runs, capsys):
    out = _show(capsys, "cautious.alg1", "--json")
    expected = json.loads(json.dumps(shared_run("cautious.alg1").to_json(), default=str))
    assert json.loads(out) == expected


def test_json_and_proof_together_is_one_line_and_exit_2():
    proc = subprocess.run([sys.executable, "-m", "ams_theory.cli", "show", "grams.C5", "--json", "--proof"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "ams-theory: error: show takes --json or --proof, not both"


# ----------------------------------------------------------------------------- shapes, from synthetic JSON

def _claim(**over) -> dict:
    d = {"id": "x.1", "paper": "p.md", "where": "Lemma 1", "family": "discrete", "kind": "discrete",
         "statement": "dL <= 0", "status": "checked", "verdict": "holds", "summary": "fine",
         "evidence": None, "counterexample": None, "strength": {"level": "searched", "basis": "a search"},
         "correction": None, "error": None, "seconds": 1.5}
    d.update(over)
    return d


def test_non_finite_margins_are_words():
    out = render_claim(_claim(evidence={"random_search": {"instances": 180000, "applicable": 0,
                                                          "float_violations": 0, "worst_margin": float("-inf")},
                                        "other": {"states": 10, "violations": 0, "worst": None,
                                                  "ratio": float("nan"), "cap": float("inf")}}))
    assert "no violation in 0 applicable of 180,000 instances; no applicable instance, so no margin" in out
    assert re.search(r"worst_margin\s+none \(no applicable instance\)", out)
    assert re.search(r"worst\s+none recorded", out)
    assert re.search(r"ratio\s+undefined \(NaN\)", out) and re.search(r"cap\s+\+infinity", out)
    assert "inf" not in out.replace("infinity", "")
    _no_raw_json(out.replace("(NaN)", ""))


@pytest.mark.parametrize("worst, words", [
    (-3.2e-4, "no violation in 120,000 instances; smallest slack 0.00032"),
    (0.0, "no violation in 120,000 instances; margin reaches 0"),
    (2e-10, "no violation in 120,000 instances; largest margin 2e-10 (within the float tolerance)"),
])
def test_worst_margin_in_words(worst, words):
    out = render_claim(_claim(evidence={"search": {"instances": 120000, "violations": 0, "worst_margin": worst}}))
    assert words in out


def test_violations_are_counted():
    out = render_claim(_claim(evidence={"search": {"instances": 5000, "violations": 17, "worst_margin": 2.5}}))
    assert "17 violations in 5,000 instances; largest margin 2.5 (> 0: violated)" in out


def test_unknown_keys_are_shown_never_dropped():
    ev = {"zeta_count": 12345, "nested": {"alpha": [1, 2, 3], "deeper": {"kind": "weird", "flag": True}},
          "rows": [{"a": 1, "b": "two"}, {"a": 3, "b": "four"}], "mixed": [{"p": {"q": 1}}, 7]}
    out = render_claim(_claim(evidence=ev, extra_field={"note": "kept"}))
    assert re.search(r"zeta_count\s+12,345", out)
    assert re.search(r"alpha\s+1, 2, 3", out) and re.search(r"kind(\s+| = )weird", out) and re.search(r"flag(\s+| = )yes", out)
    assert re.search(r"a\s+b\n\s+-+\s+-+\n\s+1\s+two\n\s+3\s+four", out)        # a list of rows is a table
    assert "2. 7" in out and re.search(r"p\s+q = 1", out)
    assert "Other" in out and re.search(r"extra_field\s+note = kept", out)
    _no_raw_json(out)


def test_exact_numbers_get_their_float_value():
    cx = {"w": ["1/3", "-2"], "A": "[[1/4, -3/8]]", "margin": "1/7 - sqrt(2)/10", "word": "12/x"}
    out = render_claim(_claim(verdict="refuted", counterexample=cx,
                              strength={"level": "proved", "basis": "exact counterexample"}))
    assert "1/3  (≈ 0.333), -2" in out
    assert "[[1/4, -3/8]]  (≈ [[0.25, -0.375]])" in out
    assert f"1/7 - sqrt(2)/10  (≈ {1 / 7 - 2 ** 0.5 / 10:.3g})" in out
    assert re.search(r"word\s+12/x\n", out + "\n")                                  # not a number: as it is


def test_a_nested_proof_bundle_counts_every_proof_it_holds():
    """A proof of bundles of bundles (a Flow closed by weights, each weight's sign a proof) counts its leaves: a
    proved claim never reads '0 of 2 parts proved' (seen on a report's screenshot)."""
    leaf = {"status": "proved", "cases": [{"conditions": []}]}
    proof = {"parts": [{"label": "a", "parts": [{"label": "w", "parts": [leaf, leaf]}, leaf]}, {"label": "b", **leaf}]}
    text = render_claim({"id": "x", "verdict": "holds", "status": "checked",
                                "strength": {"level": "proved", "basis": "b", "proof": proof}})
    assert "4 of 4 proofs proved, 4 cases in all" in text


@pytest.mark.parametrize("cx, sentence", [
    ({"left": ["4", "9/2"], "right": ["4", "4"], "difference": ["0", "1/2"], "pattern": ["m+g-", "m+g+"],
      "meaning": "one side rescales"},
     "coordinate 1 (sign pattern m+g+): the left side is 9/2 (≈ 4.5) and the right side 4, so they differ by 1/2"),
    ({"failing": [{"comparison": "a 3 < b 2", "gap": "-1"}]}, "a 3 < b 2 fails (gap -1)"),
    ({"quantity": "L", "before": "4/5", "after": "2", "step": 2}, "L goes from 4/5 (≈ 0.8) to 2 at step 2"),
    ({"family": "quadratic_convex", "margin": "1/2"}, "on this quadratic_convex loss the claim's margin"),
])
def test_a_counterexample_says_why_it_fails(cx, sentence):
    """One sentence first, from the counterexample's own values, whatever check produced it."""
    out = render_claim(_claim(verdict="refuted", counterexample=cx))
    assert out.index("=> ") < out.index("Strength of the verdict") and sentence in " ".join(out.split())


def test_no_sentence_where_the_values_show_no_failure():
    """Two sides that agree everywhere, or a shape the view does not know, get no invented sentence."""
    agreeing = {"left": ["1"], "right": ["1"], "difference": ["0"], "pattern": ["m+g+"]}
    for cx in (agreeing, {"d": 20, "nnz": 11}):
        out = render_claim(_claim(verdict="refuted", counterexample=cx))
        assert "=> " not in out.split("Strength of the verdict")[0]
