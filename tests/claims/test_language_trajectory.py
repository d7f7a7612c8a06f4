"""The claim language's Trajectory: a claim about every prefix of a T-step run, searched over losses with a known
infimum; a true bound holds (searched, with its coverage), a planted wrong constant is refuted exactly, and a
malformed claim is a one-line ClaimError."""
import pytest

from ams_theory.claims import language as cl

UP_TO_ONE_OVER_L = cl.Step(positive=True, mixture=((1, "U", 0, 1),))      # eta in (0, 1/L)


def gradient_descent(q):
    """w <- w - eta g, with |g|^2 recorded at every step."""
    return q.w - q.eta * q.g, {}, {"gg": q.norm2(q.g)}


def averaged_gradient_bound(constant):
    """(1/T) sum_t |g_t|^2 <= constant (L(w_1) - L*)/(T eta): with constant 2 the textbook bound of gradient descent
    with eta <= 1/L on an L-smooth loss (f(w') <= f(w) - eta |g|^2/2, summed)."""
    return lambda q: q.at_most(q.sums["gg"] / q.t, constant * (q.loss_start - q.loss_inf) / (q.t * q.eta))


def claim(constant):
    return cl.Trajectory(f"gradient descent, constant {constant}", gradient_descent, averaged_gradient_bound(constant),
                         T=6, hyper={"eta": UP_TO_ONE_OVER_L})


def test_the_textbook_bound_holds_searched_with_its_coverage():
    v = cl.decide(claim(2), "quick")
    assert (v.word, v.strength.level) == ("holds", "searched")
    cov = v.strength.coverage
    assert cov["T"] == "every prefix T = 1..6 of one trajectory" and cov["step"]["interval"] == "any step eta > 0"
    assert set(cov["loss_families"]) == set(cl.TRAJECTORY_FAMILIES) and cov["applicable"] > 0
    assert v.evidence["proof"].startswith("not attempted")


def test_a_planted_smaller_constant_is_refuted_exactly():
    v = cl.decide(claim(1 / 4), "quick")
    assert v.word == "refuted" and v.recheck() is True
    assert v.counterexample["family"] == "quadratic_diagonal_convex" and float(v.counterexample["margin_approx"]) > 0


@pytest.mark.parametrize("make, message", [
    (lambda: cl.Trajectory("x", gradient_descent, averaged_gradient_bound(2), T=0, hyper={"eta": cl.Step()}),
     "T must be a positive number of steps"),
    (lambda: cl.Trajectory("x", gradient_descent, averaged_gradient_bound(2), hyper={"eta": cl.Step()},
                           losses=("quadratic_indefinite",)), "has no closed form"),
    (lambda: cl.Trajectory("x", gradient_descent, averaged_gradient_bound(2)), "exactly one Step"),
])
def test_a_malformed_trajectory_is_a_one_line_error(make, message):
    with pytest.raises(cl.ClaimError, match=message) as info:
        make()
    assert "\n" not in str(info.value)


def test_a_step_that_returns_the_wrong_shape_is_a_one_line_error():
    bad = cl.Trajectory("bad step", lambda q: q.w - q.eta * q.g, averaged_gradient_bound(2), hyper={"eta": cl.Step()})
    with pytest.raises(cl.ClaimError, match="step must return"):
        cl.decide(bad, "quick")
