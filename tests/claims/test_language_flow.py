"""``Flow`` features of the claim language: positive state vectors, hypotheses the proof assumes (between
hyperparameters, or elementwise), free vectors. Each feature: a claim that holds is proved, a planted wrong sign
is refuted with an exact counterexample, and malformed input is refused in one line."""
import re

import pytest
import sympy as sp

from ams_theory.claims import language as cl

pytestmark = pytest.mark.xdist_group("claims")


def preconditioned(sign=-1, hypotheses=None):
    """w' = sign g/sqrt(v), v' = g^2 - v with v > 0: dL/dt = sign <g^2, 1/sqrt(v)> <= 0 (true for sign = -1)."""
    return cl.Flow(f"preconditioned gradient flow, sign {sign}",
                   field=lambda q: (sign * q.g / q.ops.sqrt(q.v), [q.g * q.g - q.v]),
                   conclusion=lambda q: q.at_most(q.dL, 0), state=("v",), positive=("v",), hypotheses=hypotheses)


def damped(hypotheses):
    """w' = s, s' = -g - (c - k)s, H = L + |s|^2/2: dH/dt = -(c - k)|s|^2 <= 0 when c >= k."""
    return cl.Flow("heavy ball damped by c - k", field=lambda q: (q.s, [-q.g - (q.c - q.k) * q.s]),
                   H=lambda q: q.loss + q.norm2(q.s) / 2, conclusion=lambda q: q.at_most(q.dH, 0),
                   hyper={"c": cl.Range(0), "k": cl.Range(0)}, hypotheses=hypotheses)


def masked(sign=-1):
    """w' = -phi o g for any mask values phi: dL/dt = sign <phi, g^2> (the identity holds for sign = -1)."""
    return cl.Flow(f"any mask, dL = {sign} <phi, g^2>", field=lambda q: (-q.phi * q.g, [q.s * 0]),
                   conclusion=lambda q: q.equal(q.dL, sign * q.total(q.phi * q.g * q.g)), vectors=("phi",))


def test_a_positive_state_is_proved_and_a_planted_wrong_sign_refuted_with_its_root():
    v = cl.decide(preconditioned(-1), "quick")
    assert (v.word, v.strength.level) == ("holds", "proved") and v.strength.proof.recheck() is True
    bad = cl.decide(preconditioned(+1), "quick")
    assert bad.word == "refuted" and bad.strength.level == "proved" and bad.recheck() is True
    values = {k: sp.Rational(x) for k, x in bad.counterexample["values"].items()}
    assert values["sqrt_v0"] > 0 and "v0" not in values          # v = sqrt_v^2: positive by construction


def test_a_hypothesis_over_coordinates_is_closed_by_a_multiplier_and_a_refutation_keeps_roots_positive():
    """A hypothesis over a sum of coordinates is closed by a multiplier (here 0: the claim needs none): proved; the
    planted sign is refuted exactly, at a state whose roots of the positive coordinates are positive."""
    with_sum = lambda q: [q.at_least(q.total(q.v), 0)]
    assert cl.decide(preconditioned(-1, with_sum), "quick").strength.level == "proved"
    bad = cl.decide(preconditioned(+1, with_sum), "quick")
    assert bad.word == "refuted" and bad.recheck() is True
    point = bad.counterexample.get("state") or bad.counterexample["values"]
    assert all(sp.Rational(x) > 0 for k, x in point.items() if k.startswith("sqrt_v"))


def test_a_hypothesis_between_hyperparameters_is_assumed_by_the_proof():
    v = cl.decide(damped(lambda q: [q.at_least(q.c, q.k)]), "quick")
    assert (v.word, v.strength.level) == ("holds", "proved") and v.strength.proof.recheck() is True
    bad = cl.decide(damped(lambda q: [q.at_most(q.c, q.k)]), "quick")       # planted: the condition reversed
    assert bad.word == "refuted" and bad.recheck() is True
    values = {k: sp.Rational(x) for k, x in bad.counterexample["values"].items()}
    assert values["c"] < values["k"]


def test_an_elementwise_hypothesis_holds_at_every_coordinate_and_is_proved():
    aligned = lambda q: [q.at_least(q.g * q.s, 0)]                  # g_i s_i >= 0 at every coordinate
    claim = lambda sign: cl.Flow(f"descent along aligned s, sign {sign}", field=lambda q: (sign * q.s, [q.s * 0]),
                                 conclusion=lambda q: q.at_most(q.dL, 0), hypotheses=aligned)
    v = cl.decide(claim(-1), "quick")
    assert (v.word, v.strength.level) == ("holds", "proved")
    bad = cl.decide(claim(+1), "quick")
    assert bad.word == "refuted" and bad.recheck() is True


def test_free_vectors_prove_an_identity_for_every_mask_and_refute_a_wrong_sign():
    v = cl.decide(masked(-1), "quick")
    assert (v.word, v.strength.level) == ("holds", "proved")
    bad = cl.decide(masked(+1), "quick")
    assert bad.word == "refuted" and bad.recheck() is True and "phi0" in bad.counterexample["values"]


@pytest.mark.parametrize("make, message", [
    (lambda: cl.Flow("x", field=lambda q: (-q.s, [q.s * 0]), conclusion=lambda q: q.at_most(q.dL, 0),
                     positive=("v",)), "positive names 'v', which is not a state vector"),
    (lambda: cl.Flow("x", field=lambda q: (-q.s, [q.s * 0]), conclusion=lambda q: q.at_most(q.dL, 0),
                     vectors=("s",)), "'s' is named both a state vector and a free vector"),
    (lambda: cl.Flow("x", field=lambda q: (-q.s, [q.s * 0]), conclusion=lambda q: q.at_most(q.dL, 0), H=0),
     "H must be a function of q"),
])
def test_a_malformed_flow_is_refused_in_one_line(make, message):
    with pytest.raises(cl.ClaimError, match=re.escape(message)) as err:
        make()
    assert "\n" not in str(err.value) and str(err.value).startswith("x: ")


def test_weights_close_hypotheses_over_coordinates_together_and_a_wrong_count_is_refused():
    """w' = -s, s' = -g: dL/dt = -<g, s>; with <g, s> >= c |g|^2 / c (two hypotheses), weights (1, 0) prove it, and
    a weight tuple of the wrong length is refused in one line."""
    def claim(weights):
        return cl.Flow("weighted", field=lambda q: (-q.c * q.s, [q.s * 0]), conclusion=lambda q: q.at_most(q.dL, 0),
                       hyper={"c": cl.Range(0, lo_open=True)}, weights=weights,
                       hypotheses=lambda q: [q.at_least(q.dot(q.g, q.s), 0), q.at_least(q.norm2(q.s), 0)])
    v = cl.decide(claim(lambda hp: (hp.c, 0)), "quick")
    assert (v.word, v.strength.level) == ("holds", "proved") and "weights c, 0" in v.evidence["reduction"]
    with pytest.raises(cl.ClaimError, match=r"weights gives 1 multipliers for 2 hypotheses") as err:
        cl.decide(claim(lambda hp: (hp.c,)), "quick")
    assert "\n" not in str(err.value)


def test_a_refutation_by_the_proof_engine_carries_its_margin_exactly():
    """The counterexample says how far the claim fails there: its margin (the decided left side minus right side),
    exact, positive for a broken '<= 0', and the same as the claim's value recomputed at the point."""
    bad = cl.decide(preconditioned(+1), "quick")
    cex = bad.counterexample
    margin = sp.Rational(cex["margin"])
    values = {k: sp.Rational(v) for k, v in cex["values"].items()}
    assert margin > 0 and "needs its margin" in cex["margin_meaning"] and f"here it is {cex['margin']}" in \
        cex["margin_meaning"]
    g, root = values["g0"], values["sqrt_v0"]
    assert margin == g * g / root                  # dL/dt = +g^2/sqrt(v) at d = 1
    assert sp.Add(*[sp.sympify(t["value"]) for t in cex["terms"]]) == margin     # its terms, exactly
    assert cex["failing_term"].endswith(f"so the margin is {cex['margin']} > 0")
