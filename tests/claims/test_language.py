"""The public claim language (``ams_theory.claims.language``): claims of one's own decided by the engines.

Mutations: a planted wrong constant, sign or conclusion comes out refuted (exactly re-checked) and a true one
proved (the proof replays in cvc5); a claim outside the reductions is searched with its coverage, never proved;
bad claims are refused in one line.
"""
import re

import pytest
import sympy as sp

from ams_theory.claims import language as cl
from ams_theory.claims.registry import REGISTRY
from conftest import shared_run

pytestmark = pytest.mark.xdist_group("claims")


def sign_descent(constant=2):
    """w' = w - eta sign(g) with eta L |sign g|^2 <= c |g|_1: dL <= 0 (true for c <= 2)."""
    return cl.OneStep(
        name=f"sign descent, step bound constant {constant}", step=lambda q: q.w - q.eta * q.sign(q.g),
        hypotheses=lambda q: [q.at_most(q.eta * q.L * q.norm2(q.sign(q.g)), constant * q.total(q.abs(q.g)))],
        conclusion=lambda q: q.at_most(q.dL, 0), hyper={"eta": cl.Range(0)})


def cautious_descent_lemma(constant=2):
    """Lemma D.1 Part 3 of the AMS/Grams paper, stated in the language: the cautious step
    w' = w - eta u o 1(u o g >= 0) with eta L |u|^2 <= c P, P = sum_i max(u_i g_i, 0): dL <= 0."""
    mask = lambda q: (q.sign(q.m * q.g) + q.abs(q.sign(q.m * q.g)) + 1 - q.abs(q.sign(q.m * q.g))) / 2
    return cl.OneStep(
        name=f"cautious step, constant {constant}", step=lambda q: q.w - q.eta * q.m * mask(q),
        hypotheses=lambda q: [q.at_most(q.eta * q.L * q.norm2(q.m), constant * q.total(q.relu(q.m * q.g)))],
        conclusion=lambda q: q.at_most(q.dL, 0), hyper={"eta": cl.Range(0)}, state=("m",))


def heavy_ball(rate=1):
    """w' = s, s' = -g - c s, H = L + |s|^2/2: dH = -c |s|^2 (claimed <= -rate c |s|^2)."""
    return cl.Flow(name=f"heavy ball, rate {rate}", field=lambda q: (q.s, [-q.g - q.c * q.s]),
                   H=lambda q: q.loss + q.norm2(q.s) / 2,
                   conclusion=lambda q: q.at_most(q.dH, -rate * q.c * q.norm2(q.s)), hyper={"c": cl.Range(0)})


def test_a_true_one_step_claim_is_proved_for_every_dimension_and_replays_in_cvc5():
    v = cl.decide(sign_descent(2), "quick")
    assert (v.word, v.strength.level) == ("holds", "proved")
    assert v.strength.proof.recheck() is True
    pytest.importorskip("cvc5")
    assert v.strength.proof.recheck(solver="cvc5") is True


@pytest.mark.parametrize("constant", [sp.Rational(5, 2), 4])
def test_a_planted_wrong_constant_is_refuted_exactly(constant):
    v = cl.decide(sign_descent(constant), "quick")
    assert v.word == "refuted" and v.recheck() is True and v.strength.level == "proved"


def test_the_papers_lemma_written_in_the_language_gets_the_registered_verdict():
    """D.1 Part 3 through the language, and through its registered check: the same verdict and strength."""
    mine = cl.decide(cautious_descent_lemma(2), "quick")
    registered = shared_run("grams.D1.part3").verdict
    assert (mine.word, mine.strength.level) == (registered.word, registered.strength.level) == ("holds", "proved")
    wrong = cl.decide(cautious_descent_lemma(4), "quick")
    assert wrong.word == "refuted" and wrong.recheck() is True


def test_a_hypothesis_without_coordinates_is_assumed_directly():
    """GD's sufficient decrease under eta L <= 1 (a hypothesis on hyperparameters only): proved; asking for the
    whole eta |g|^2 is refuted."""
    def gd(fraction):
        return cl.OneStep(name=f"GD decrease {fraction}", step=lambda q: q.w - q.eta * q.g,
                          hypotheses=lambda q: [q.at_most(q.eta * q.L, 1)],
                          conclusion=lambda q: q.at_most(q.dL, -fraction * q.eta * q.norm2(q.g)),
                          hyper={"eta": cl.Range(0)})
    assert (cl.decide(gd(sp.Rational(1, 2)), "quick").word, cl.decide(gd(1), "quick").word) == ("holds", "refuted")


def test_a_lower_bound_on_the_smooth_class_is_refuted_and_holds_on_the_convex_one():
    """dL >= -eta <g, g> for gradient descent: true for convex losses (first-order lower bound), false for
    L-smooth ones (the concave quadratic attains the smooth lower bound)."""
    def claim(losses):
        return cl.OneStep(name=f"GD first-order lower bound on {losses}", step=lambda q: q.w - q.eta * q.g,
                          conclusion=lambda q: q.at_least(q.dL, -q.eta * q.norm2(q.g)), losses=losses,
                          hyper={"eta": cl.Range(0)})
    smooth, convex = cl.decide(claim("smooth"), "quick"), cl.decide(claim("convex"), "quick")
    assert smooth.word == "refuted" and smooth.recheck() is True
    assert (convex.word, convex.strength.level) == ("holds", "proved")


def test_a_claim_outside_the_reductions_is_searched_and_a_false_one_refuted_by_the_search():
    """One gate for the whole vector couples the coordinates: no proof for every d, a search with coverage."""
    def gated(constant):
        return cl.OneStep(name=f"gated momentum, constant {constant}",
                          step=lambda q: q.w - q.eta * q.gate(q.dot(q.m, q.g)) * q.m,
                          hypotheses=lambda q: [q.at_most(q.eta * q.L * q.norm2(q.m),
                                                          constant * q.abs(q.dot(q.m, q.g)))],
                          conclusion=lambda q: q.at_most(q.dL, 0), hyper={"eta": cl.Range(0)}, state=("m",))
    v = cl.decide(gated(2), "quick")
    assert (v.word, v.strength.level) == ("holds", "searched")
    assert v.evidence["random_search"]["instances"] > 0 and v.strength.coverage["eta"]["boundaries"] == [0]
    assert v.strength.coverage["hypothesis_search"]["examples"] > 0          # the papers' pipeline: both engines
    bad = cl.decide(gated(8), "quick")
    assert bad.word == "refuted" and bad.recheck() is True
    assert bad.counterexample["source"].endswith("re-checked in exact rationals") and bad.counterexample["family"]


def test_a_flow_is_proved_and_a_planted_wrong_rate_refuted():
    v = cl.decide(heavy_ball(1), "quick")
    assert (v.word, v.strength.level) == ("holds", "proved") and v.strength.proof.recheck() is True
    bad = cl.decide(heavy_ball(2), "quick")
    assert bad.word == "refuted" and bad.recheck() is True


def test_a_flow_with_a_hypothesis_over_coordinates_is_proved_by_a_multiplier():
    """dL/dt = -<g, s> <= 0 under <g, s> >= 0: the hypothesis reads a sum over coordinates and closes the conclusion
    with the multiplier 1 (proved for every dimension); the planted ascent is refuted exactly."""
    claim = cl.Flow(name="gradient flow descends where the gradient is aligned", field=lambda q: (-q.s, [q.s * 0]),
                    conclusion=lambda q: q.at_most(q.dL, 0),
                    hypotheses=lambda q: [q.at_least(q.dot(q.g, q.s), 0)])
    v = cl.decide(claim, "quick")
    assert (v.word, v.strength.level) == ("holds", "proved") and v.strength.proof.recheck()
    flipped = cl.Flow(name="planted: ascent", field=lambda q: (q.s, [q.s * 0]), conclusion=lambda q: q.at_most(q.dL, 0),
                      hypotheses=lambda q: [q.at_least(q.dot(q.g, q.s), 0)])
    bad = cl.decide(flipped, "quick")
    assert bad.word == "refuted" and bad.recheck() is True


def test_hypotheses_no_drawn_state_meets_give_vacuous_never_holds():
    """A search in which no instance meets the hypotheses says so: vacuous (searched), not holds; the same claim
    with a hypothesis the states meet is judged as usual."""
    def claim(target):
        return cl.Flow(name=f"|s|^2 = {target}", field=lambda q: (-q.s, [q.s * 0]),
                       conclusion=lambda q: q.at_most(q.dL, 0),
                       hypotheses=lambda q: [q.equal(q.norm2(q.s), target), q.at_least(q.dot(q.g, q.s), 0)])
    never = cl.decide(claim(sp.Rational(1, 3)), "quick")        # states are multiples of 1/4: |s|^2 is never 1/3
    assert (never.word, never.strength.level) == ("vacuous", "searched") and never.evidence["applicable"] == 0
    met = cl.decide(claim(1), "quick")
    assert (met.word, met.strength.level) == ("holds", "searched") and met.evidence["applicable"] > 0


def test_a_mixture_drawing_outside_its_range_does_not_count_those_draws():
    """A range searched with a mixture that also draws outside it (a in [-1, 0) for a range [0, 2]): those draws
    are not applicable, so the true claim is not refuted by steps it excludes; the same draws with the whole line
    as the range refute it."""
    def claim(lo):
        mixture = ((0.5, "U", -1, 0), (0.5, "U", 0, 2))
        return cl.OneStep("scaled gradient step", step=lambda q: q.w - q.a * q.g / q.L,
                          # dL times a count of coordinates (>= 0, which the reduction reads as a free real):
                          # outside the reduction, so the claim goes to the search
                          conclusion=lambda q: q.at_most(q.dL * q.total(q.indicator(q.g)), 0),
                          hyper={"a": cl.Range(lo, 2, mixture=mixture)})
    kept = cl.decide(claim(0), "quick")
    assert (kept.word, kept.strength.level) == ("holds", "searched")
    assert 0 < kept.evidence["random_search"]["applicable"] < kept.evidence["random_search"]["instances"]
    assert cl.decide(claim(None), "quick").word == "refuted"


def test_steps_and_bounds_belong_to_a_one_step_claim():
    with pytest.raises(TypeError, match="belong to a OneStep"):
        cl.Flow("x", field=lambda q: (-q.s, [q.s * 0]), conclusion=lambda q: q.at_most(q.dL, 0),
                hyper={"eta": cl.Step()})


@pytest.mark.parametrize("make, message", [
    (lambda: cl.OneStep(name="x", step=None, conclusion=lambda q: q.at_most(q.dL, 0)), "step must be a function"),
    (lambda: cl.OneStep(name="x", step=lambda q: q.w, conclusion=lambda q: q.dL, losses="lipschitz"), "losses="),
    (lambda: cl.OneStep(name="x", step=lambda q: q.w, conclusion=lambda q: q.dL, hyper={"eta": (0, 1)}), "Range"),
    (lambda: cl.OneStep(name="x", step=lambda q: q.w, conclusion=lambda q: q.dL, hyper={"L": cl.Range()}),
     "reserved"),
])
def test_a_bad_claim_is_refused_in_one_line(make, message):
    with pytest.raises((TypeError, ValueError)) as err:
        make()
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("claim, message", [
    (lambda: cl.Fact("x", lambda q: q.dot(q.a, q.a)), "the conclusion must be a relation"),
    (lambda: cl.OneStep("x", step=lambda q: q.w - q.eta * q.g, conclusion=lambda q: q.dL, hyper={"eta": cl.Step()}),
     "the conclusion must be a relation"),
    (lambda: cl.OneStep("x", step=lambda q: q.w - q.eta * q.g, conclusion=lambda q: q.at_most(q.dL, 0),
                        hyper={"eta": cl.UpTo(lambda q: q.L)}), "must return a pair (num, den)"),
    (lambda: cl.Flow("x", field=lambda q: (-q.s, [q.s * 0]), conclusion=lambda q: q.at_most(q.dL, 0),
                     hypotheses=lambda q: [q.dL <= 0]), "every hypothesis must be a relation"),
])
def test_a_function_returning_what_the_language_cannot_read_is_named_in_one_line(claim, message):
    with pytest.raises(cl.ClaimError, match=re.escape(message)) as err:
        cl.decide(claim(), "quick")
    assert "\n" not in str(err.value) and str(err.value).startswith("x: ")


def test_an_unknown_quantity_is_named():
    claim = cl.OneStep(name="typo", step=lambda q: q.w - q.etta * q.g, conclusion=lambda q: q.at_most(q.dL, 0),
                       hyper={"eta": cl.Range(0)})
    with pytest.raises(AttributeError, match="no quantity 'etta'"):
        cl.decide(claim, "quick")


def test_registered_claims_are_untouched():
    assert REGISTRY["grams.D1.part3"].check is not None


def test_a_fact_sympy_cannot_settle_on_a_sign_pattern_is_searched_not_exhaustive():
    """(sum a)^2 <= d |a|^2 is not a sum of coordinate terms (the proof stays open) and, on the patterns where all
    entries share a sign, sympy cannot settle it for symbolic magnitudes: those patterns are tried at one exact point
    each, so the verdict is searched with the count of unsettled patterns, never exhaustive; dropping the d breaks
    it, refuted exactly."""
    holds = cl.decide(cl.Fact("Cauchy-Schwarz", lambda q: q.at_most(q.total(q.a) ** 2,
                                                                     q.total(q.a * 0 + 1) * q.norm2(q.a))), "quick")
    assert (holds.word, holds.strength.level) == ("holds", "searched")
    assert holds.strength.coverage["undecided_patterns"] == 2 and "++" in holds.strength.coverage["first_undecided"]
    wrong = cl.decide(cl.Fact("without d", lambda q: q.at_most(q.total(q.a) ** 2, q.norm2(q.a))), "quick")
    assert wrong.word == "refuted" and wrong.recheck()


def test_a_facts_sign_patterns_stop_at_its_max_d():
    f = cl.Fact("C.1 to d = 2", lambda q: q.equal(q.dot(q.a, q.b * q.c), q.dot(q.a * q.b, q.c)), ("a", "b", "c"),
                max_d=2)
    v = cl.decide(f, "standard", search_beside=True)
    assert v.strength.coverage["search"]["coverage"]["dimensions"] == "1..2"
    with pytest.raises(cl.ClaimError, match="max_d"):
        cl.Fact("bad", lambda q: q.equal(q.total(q.a), 0), max_d=0)
