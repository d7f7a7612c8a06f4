"""SameStep (ams_theory.claims.language): a user's own claim that two rules take the same step holds exhaustively
over sign patterns, a false one is refuted with an exact counterexample that the rule core re-checks, a planted
wrong sign or hyperparameter is caught, and malformed claims are refused in one line."""
import pytest
import sympy as sp

from ams_theory.claims import language as cl
from ams_theory.core import rules

H = cl.HYPER
MG = cl.sign_cases("m", "g")


def adam_by_hand(ops, w, g, state, sign=1, beta1=H.beta1):
    """Adam's step ``w - lr m/den`` written out (no weight decay), the rule core's direction."""
    u, _, _ = rules.adam_direction(ops, g, ops.copy(state["m"]), ops.copy(state["v"]), beta1, H.beta2, H.eps, H.t)
    return w - sign * H.lr * u


def grams_by_hand(ops, w, g, state):
    """``w - lr sign(g) |u|`` (Cor. 5.2 of the AMS/Grams paper); ``|u| = sign(m) u`` as den > 0."""
    u, m, _ = rules.adam_direction(ops, g, ops.copy(state["m"]), ops.copy(state["v"]), H.beta1, H.beta2, H.eps, H.t)
    return w - H.lr * ops.mul(ops.sign(g), ops.mul(ops.sign(m), u))


def test_lambda_one_is_adam_for_every_d_with_the_coverage():
    claim = cl.SameStep("AMS(lambda = 1, beta3 = 0) is Adam", cl.ams_rule(1), adam_by_hand, MG,
                        scale_every_d=cl.ScaleForCounts(phi=lambda a, o, z: a + z, psi=lambda a, o, z: o))
    v = cl.decide(claim, "quick")
    assert (v.word, v.strength.level) == ("holds", "exhaustive") and "; every d: " in v.strength.basis
    assert v.strength.coverage == {"patterns": 54, "max_d": 2, "symbolic_counts": True, "every_d": True}
    assert v.evidence["every_d"].startswith("proved: ") and "every d: per sign case" in v.summary
    assert v.evidence["mismatching_patterns"] == 0 and v.evidence["step_size_factor_every_d"] == "1"
    assert v.evidence["symbolic"] == "beta1, beta2, eps, lr, t"
    assert cl.decide(claim, "standard").strength.coverage["patterns"] == 714         # d <= 4


def test_grams_without_zero_gradients_holds_and_the_exclusion_is_reported():
    ties = cl.Where(lambda c: c["g"] == "0" and c["m"] != "0", "g_i = 0 != u_i")
    v = cl.decide(cl.SameStep("Grams", cl.ams_rule(-1), grams_by_hand, MG, exclude=ties), "quick")
    assert v.word == "holds" and v.evidence["excluded"] == "patterns with some g_i = 0 != u_i"
    assert v.evidence["patterns"] == 35                          # 8 + 36 - 9: no coordinate m+-, g0
    v = cl.decide(cl.SameStep("Grams", cl.ams_rule(-1), grams_by_hand, MG, differs_at=ties), "quick")
    assert v.word == "refuted" and v.evidence["mismatches_exactly_where_expected"] is True
    assert v.summary == "19 of 54 sign patterns differ (d <= 2), exactly those with some g_i = 0 != u_i"


def test_a_false_claim_is_refuted_with_an_exact_counterexample_rechecked_by_the_rule_core(monkeypatch):
    claim = cl.SameStep("Grams is Adam", cl.ams_rule(-1), adam_by_hand, MG, why="Grams steps by sign(g)|u|")
    v = cl.decide(claim, "quick")
    assert (v.word, v.strength.level) == ("refuted", "proved")
    cex = v.counterexample
    assert cex["pattern"] == ["m+g-"] and cex["meaning"] == "Grams steps by sign(g)|u|"
    assert all(sp.Rational(x).is_rational for x in cex["inputs"]["w"] + cex["inputs"]["g"])
    assert cex["left"] != cex["right"] and cex["difference"] != ["0"]
    assert v.recheck() is True
    # the re-check runs the rule core again: made to take Adam's step, the two sides agree and it fails
    ams_step = rules.ams_step
    monkeypatch.setattr(rules, "ams_step", lambda ops, w, g, state, hp, t: ams_step(
        ops, w, g, state, {**hp, "mask": None, "normalize": "none"}, t))
    assert v.recheck() is False


@pytest.mark.parametrize("planted, hyperparameter", [
    (lambda ops, w, g, state: adam_by_hand(ops, w, g, state, sign=-1), None),           # a wrong sign
    (lambda ops, w, g, state: adam_by_hand(ops, w, g, state, beta1=H.beta2), None),     # beta2 for beta1
    (cl.ams_rule(mask=None, normalize="none", weight_decay=2 * H.gamma), "1/100"),      # twice the decay
])
def test_a_planted_wrong_side_is_caught(planted, hyperparameter):
    """Mutation: the true claim AMS(lambda = 1) = Adam with one side changed is refuted, exactly; a difference in
    the weight decay alone is found at weight decay 1/100 (0 hides it)."""
    right = adam_by_hand if hyperparameter is None else cl.ams_rule(mask=None, normalize="none", weight_decay=H.gamma)
    left = cl.ams_rule(1, weight_decay=0 if hyperparameter is None else H.gamma)
    assert cl.decide(cl.SameStep("true", left, right, MG), "quick").word == "holds"
    v = cl.decide(cl.SameStep("planted", left, planted, MG), "quick")
    assert v.word == "refuted" and v.recheck() is True
    assert v.counterexample["hyperparameters"]["weight_decay"] == (hyperparameter or "0")


def plus_on_large(size):
    """Adam plus ``lr w`` times a polynomial in ``size(ops, w, g)`` that vanishes for sizes 1..4 (0..4 with zero)."""
    def rule(ops, w, g, state):
        n = size(ops, w, g)
        return adam_by_hand(ops, w, g, state) + H.lr * n * (n - 1) * (n - 2) * (n - 3) * (n - 4) * w
    return rule


def test_a_true_pair_with_a_count_dependent_factor_holds_for_every_d():
    """AMS(lambda = 0) against Cautious Alg. 2 with xi = 0 (B.2 corrected): both factors d/|phi|_1, 0 where every
    coordinate is masked; the ties-dropped Grams step (no factor) likewise."""
    v = cl.decide(cl.SameStep("B.2", cl.ams_rule(0), cl.ams_rule(0, normalize="nnz_xi", xi=0), MG), "quick")
    assert v.word == "holds" and v.strength.coverage["every_d"] is True
    v = cl.decide(cl.SameStep("B.3", cl.ams_rule(-1, tie="zero", normalize="none"), grams_by_hand, MG), "quick")
    assert v.word == "holds" and v.strength.coverage["every_d"] is True


@pytest.mark.parametrize("planted, why", [
    (plus_on_large(lambda ops, w, g: ops.numel(w)), "differs in case(s) m+g+"),                # only d >= 5
    (plus_on_large(lambda ops, w, g: ops.total(ops.relu(ops.sign(g)))), "differs in case(s) m+g+"),  # 5 g_i > 0
    (plus_on_large(lambda ops, w, g: ops.total(ops.abs(g)) - ops.total(ops.abs(g)) + 1), "reads sum over"),  # a norm
])
def test_a_side_that_agrees_on_the_patterns_only_is_not_proved_for_every_d(planted, why):
    """Mutation: Adam changed only for d >= 5, for 5 or more positive gradients, or through a norm of g (which
    cancels, but is read) holds on every pattern d <= 4 and is not proved for every d."""
    v = cl.decide(cl.SameStep("planted", cl.ams_rule(1), planted, MG), "standard")
    assert (v.word, v.strength.level) == ("holds", "exhaustive") and v.evidence["max_d"] == 4
    assert v.evidence["every_d"].startswith("not proved: ") and why in v.evidence["every_d"]
    assert "every d" not in v.summary and v.strength.coverage["every_d"] is False


def test_a_dimension_read_outside_the_ops_is_caught_by_the_per_case_formula():
    """Both sides read len(w), which the run on one coordinate per case cannot make symbolic: equal sides, but
    the per-case formula (9 coordinates) misses the patterns (d <= 2), so nothing is proved for every d."""
    rule = plus_on_large(lambda ops, w, g: len(w))
    v = cl.decide(cl.SameStep("len", rule, rule, MG), "quick")
    assert (v.word, v.strength.level) == ("holds", "exhaustive")
    assert v.evidence["every_d"] == "not proved: the per-case formula misses 99 coordinates of the patterns"


def test_a_sign_flipped_in_one_case_is_refuted_not_proved():
    flipped = lambda ops, w, g, state: adam_by_hand(ops, w, g, state, sign=1 - 2 * (g == 0))
    v = cl.decide(cl.SameStep("flipped at g = 0", cl.ams_rule(1), flipped, MG), "quick")
    assert (v.word, v.strength.level) == ("refuted", "proved") and "every_d" not in v.evidence
    assert {case[-2:] for case in v.counterexample["pattern"]} == {"g0"}


def test_a_step_size_factor_other_than_expected_is_not_passed_as_holding():
    claim = cl.SameStep("factor 2", cl.ams_rule(1), adam_by_hand, MG,
                        scale_every_d=cl.ScaleForCounts(phi=lambda a, o, z: a + z, psi=lambda a, o, z: o,
                                                        expected=lambda a, o, z: 2))
    v = cl.decide(claim, "quick")
    assert v.word == "not-checkable" and v.evidence["factor_as_expected"] is False


def test_repairs_edit_one_side_and_are_judged_on_small_patterns():
    claim = cl.SameStep("Grams is Adam", cl.ams_rule(-1), adam_by_hand, MG)
    edits = cl.convention_edits(claim, "left", "Grams")
    assert len(edits) == 9 and all(e.apply.max_d == 2 for e in edits)
    assert "Grams: tie = 'zero'" in [e.text for e in edits]
    assert cl.decide(claim.edited("left", cl.ams_rule(1)), "thorough").evidence["max_d"] == 2


@pytest.mark.parametrize("make, message", [
    (lambda: cl.SameStep("c", "adam", adam_by_hand, MG),
     "c: left must be a function (ops, w, g, state) -> new w, got str"),
    (lambda: cl.SameStep("c", adam_by_hand, adam_by_hand, [dict(g="+")]),
     "c: cases must be dicts of signs ('+', '0', '-') of 'm' and of 'g' or 's' (see sign_cases)"),
    (lambda: cl.SameStep("c", adam_by_hand, adam_by_hand, MG, reference="s"),
     "c: the cases give the sign of s exactly when reference = 's'"),
    (lambda: cl.SameStep("c", adam_by_hand, adam_by_hand, MG, max_d=0), "c: max_d must be a positive integer, got 0"),
    (lambda: cl.SameStep("c", adam_by_hand, adam_by_hand, MG, min_d=3, max_d=2), "c: max_d = 2 is below min_d = 3"),
    (lambda: cl.SameStep("c", adam_by_hand, adam_by_hand, MG, scale_every_d=cl.ScaleForCounts(lambda a, o, z: a)),
     "c: scale_every_d checks the left side's caution: left must be a cautious ams_rule"),
    (lambda: cl.ams_rule(lr_typo=1), "ams_rule: 'lr_typo' is not a hyperparameter of the rule core's AMS step"),
    (lambda: cl.sign_cases("g", "m"), "sign_cases takes 'm' then any of 'g', 's' (each once), got ('g', 'm')"),
])
def test_malformed_claims_are_refused_in_one_line(make, message):
    with pytest.raises(cl.ClaimError) as info:
        make()
    assert str(info.value) == message
