"""Sentences on the papers' printed tables: verdicts on the transcribed numbers, exact re-checks, and planted
changes to one printed number that flip a part."""
from dataclasses import replace
from fractions import Fraction

import pytest

import proofs_checks
from conftest import shared_run
from proofs_checks import tables as T

proofs_checks.load()
pytestmark = pytest.mark.xdist_group("claims")

EXPECTED = {"grams.table1.text": "refuted", "grams.table2.text": "holds",
            "cautious.table1.text": "refuted", "cautious.table2.text": "holds"}


def planted(t: T.Table, row: str, column: str, printed: str) -> T.Table:
    """``t`` with one printed number changed."""
    cells = list(t.rows[row])
    cells[t.columns.index(column)] = printed
    return replace(t, rows={**t.rows, row: tuple(cells)})


@pytest.mark.parametrize("cid", sorted(EXPECTED))
def test_verdict_and_strength_at_the_quick_budget(cid):
    r = shared_run(cid)
    assert r.status == "checked", r.error
    assert r.verdict.word == EXPECTED[cid] and r.verdict.strength.level == "proved"
    assert r.verdict.reading
    if r.verdict.word == "holds":          # a proof of every comparison, bound to this claim, that replays
        assert r.verdict.strength.proof.recheck(claim=cid)
    else:
        assert r.verdict.correction.verdict == "holds"
        assert r.verdict.correction.strength.proof.recheck(claim=cid)


@pytest.mark.parametrize("cid", ["grams.table1.text", "cautious.table1.text"])
def test_refutations_recheck_exactly(cid):
    v = shared_run(cid).verdict
    assert v.counterexample["rechecked_exactly"] and v.recheck() is True


def test_grams_table1_fails_only_on_c_lion_perplexity():
    parts = T.grams_table1_parts()
    assert [p.holds for p in parts] == [True, True, True, False, True]
    (bad,) = parts[3].failing()
    assert (bad.small[1], bad.big[1], bad.gap) == (Fraction("53.21"), Fraction("50.25"), Fraction("-2.96"))


def test_grams_table1_mutation_flips_the_c_lion_part():
    assert T.improves_on(planted(T.GRAMS_TABLE1, "C-Lion", "Llama PPL", "50.00"), "C-Lion", "Lion").holds
    # and a dip in WRN accuracy along lambda breaks 'steadily'
    dipped = planted(T.GRAMS_TABLE1, "AMS lambda=-0.5", "WRN Acc", "88.70")
    assert not T.steadily_improves(dipped, T.LAMBDA_ROWS, "WRN Acc").holds


def test_grams_table2_tie_counts_and_a_planted_lead_breaks_it():
    assert T.best_in_column(T.GRAMS_TABLE2, T.GRAMS, "MATH", strict=False).holds
    assert not T.best_in_column(T.GRAMS_TABLE2, T.GRAMS, "MATH").holds         # a tie, not a lead
    ahead = planted(T.GRAMS_TABLE2, T.C_ADAM, "MATH", "17.81")
    assert not T.best_in_column(ahead, T.GRAMS, "MATH", strict=False).holds


def test_cautious_table1_gaps_and_mutation():
    grow, shrink, wins = T.cautious_table1_parts()
    assert grow.notes["gaps"] == {"60M": "0.39", "100M": "0.14", "350M": "0.44", "1B": "2.02"}
    assert not grow.holds and shrink.holds and wins.holds
    # a 100M C-AdamW perplexity of 26.56 (gap 0.40) would make the AdamW gap grow at every size
    assert T.gap_trend(planted(T.CAUTIOUS_TABLE1, "100M", "C-AdamW", "26.56"), "AdamW", "C-AdamW", True).holds


def test_cautious_table2_gain_and_mutation():
    (part,) = T.cautious_table2_parts()
    assert part.holds and part.notes["gain"] == "1.6"
    assert not T.cautious_table2_parts(planted(T.CAUTIOUS_TABLE2, "C-AdamW", "AVG", "50.4"))[0].holds
    readings = shared_run("cautious.table2.text").verdict.evidence["other_readings"]
    assert not readings["at least 2 points"]["holds"] and not readings["an improvement on every task"]["holds"]
