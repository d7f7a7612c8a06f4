"""Three catalogue ids judged in the claim language or exactly: the extension of Cor. A.6 to convex separable losses
(``cautious.A6.ext``), §3.2's range of eq. (1)'s factor (``cautious.fig4.range``) and Figure 8's caption on phi_0
(``cautious.fig8.caption``).

Each id's verdict and strength at the quick budget (runs shared through ``conftest.shared_run``), each refutation's
exact re-check, and one planted error per id that the check must catch (a sign in the loss's gradient, a constant of
the printed range, the sign of c in eq. (13)).
"""
from __future__ import annotations

import pytest
import sympy as sp

import proofs_checks
from ams_theory.claims import language as cl
from ams_theory.claims.registry import REGISTRY, run_claim
from ams_theory.core.rules import Caution
from conftest import shared_run

pytestmark = pytest.mark.xdist_group("claims")

proofs_checks.load()
from proofs_checks import discrete, figures  # noqa: E402  (registered by load)

EXPECTED = {   # id: (verdict, strength, correction verdict, correction strength)
    "cautious.A6.ext": ("holds", "proved", None, None),
    "cautious.fig4.range": ("refuted", "proved", "holds", "proved"),
    "cautious.fig8.caption": ("refuted", "proved", "holds", "proved"),
}


@pytest.mark.parametrize("cid", sorted(EXPECTED))
def test_verdict_and_strength(cid):
    result = shared_run(cid)
    v = result.verdict
    word, level, corr_word, corr_level = EXPECTED[cid]
    assert result.status == "checked", result.error
    assert (v.word, v.strength.level) == (word, level)
    assert v.reading
    if corr_word is None:
        assert v.correction is None
    else:
        assert (v.correction.verdict, v.correction.strength.level) == (corr_word, corr_level)


@pytest.mark.parametrize("cid", ["cautious.fig4.range", "cautious.fig8.caption"])
def test_refutation_rechecks(cid):
    v = shared_run(cid).verdict
    assert v.counterexample and v.recheck() is True


def test_a6_ext_needs_convexity():
    """Beside the claim, the same comparison on separable losses that are not convex is refuted."""
    beside = shared_run("cautious.A6.ext").verdict.evidence["separable, not convex"]
    assert (beside["verdict"], beside["strength"]) == ("refuted", "proved")


def test_a6_ext_planted_gradient_sign(monkeypatch):
    """A gradient a o w - b for the loss sum a_i w_i^2/2 + b_i w_i (a sign planted in the linear term) is caught."""
    monkeypatch.setattr(discrete.SeparableQuadraticLinear, "grad",
                        lambda self, w: discrete.SeparableQuadratic.grad(self, w) - self.b)
    v = run_claim(REGISTRY["cautious.A6.ext"], "quick").verdict
    assert v.word == "refuted" and v.recheck() is True


def test_fig4_range_numbers():
    """At r = 0.55 the factor is 20 d/(11 d + 20): above 1.55 for d > 620/59, tending to 20/11."""
    v = shared_run("cautious.fig4.range").verdict
    assert v.counterexample["d"] == 20 and v.counterexample["nnz"] == 11 and v.counterexample["alpha"] == "5/3"
    assert v.evidence["above_range_at_r_for_d_above"] == ["620/59"]
    assert v.evidence["factor_at_r_0.55_by_formula"]["eq. (1), xi = 1 (d -> oo)"] == "20/11"
    assert [r["verdict"] for r in v.correction.repairs] == ["holds", "holds"]


@pytest.mark.parametrize("planted, word, d", [((1, sp.Rational(9, 5)), "refuted", 200),   # 1.8 < 20/11: caught
                                              ((1, 2), "holds", None),                      # above 20/11: holds
                                              ((sp.Rational(11, 10), 2), "refuted", 3)])    # above 1 at the bottom
def test_fig4_range_planted_constants(monkeypatch, planted, word, d):
    monkeypatch.setattr(discrete, "FIG4_RANGE", tuple(sp.sympify(x) for x in planted))
    v = run_claim(REGISTRY["cautious.fig4.range"], "quick").verdict
    assert v.word == word and v.strength.level == "proved"
    if d is not None:
        assert v.counterexample["d"] == d and v.recheck() is True


def test_fig8_caption_reduction_part_refuted():
    """With phi_0 = 1(x > 0), C-GDM's step differs from GDM's too (not only the constancy)."""
    v = cl.decide(figures.constant_mask_facts(0)[1], "quick")
    assert v.word == "refuted" and v.recheck() is True


def test_fig8_caption_planted_sign(monkeypatch):
    """phi_c written with +c (a planted sign) makes c = -1 non-constant: the correction fails."""
    monkeypatch.setattr(figures, "phi_c", lambda c: Caution(lam=c, tie="opposed", normalize="none"))
    v = run_claim(REGISTRY["cautious.fig8.caption"], "quick").verdict
    assert v.word == "refuted" and v.correction.verdict == "refuted"
