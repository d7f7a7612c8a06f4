"""The general assertions of ``ams_theory.testing``: claims of the claim language decided at the run's budget, and a
user's own ``torch.optim.Optimizer`` driven one step at a time."""
from __future__ import annotations

import pytest
import sympy as sp
import torch

import ams_theory.testing as amt
from ams_theory.claims import language
from ams_theory.claims.language import OneStep, Range
from ams_theory.claims.registry import Verdict

pytest_plugins = ["pytester"]


def gd(q):
    return q.w - q.eta * q.g


ETA = {"eta": Range(0, None)}


class NormalizedGD(torch.optim.Optimizer):
    """``w' = w - lr g/|g|`` (no step at ``g = 0``)."""

    def __init__(self, params, lr=1e-3):
        super().__init__(params, dict(lr=lr))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                n = p.grad.norm()
                if n > 0:
                    p.add_(p.grad / n, alpha=-group["lr"])


def ngd_bound(q):
    """``dL <= -lr |g| + L lr^2 / 2``: the descent lemma at ``|dw| = lr``."""
    return -q.lr * q.norm2(q.g) ** 0.5 + q.L * q.lr ** 2 / 2


# -- claims ---------------------------------------------------------------------------------------

def test_a_true_claim_holds():
    verdict = amt.assert_one_step(gd, lambda q: q.at_most(q.dL, -q.eta * (1 - q.L * q.eta / 2) * q.norm2(q.g)),
                                  hyper=ETA, budget="quick")
    assert verdict.word == "holds"


def test_a_wrong_bound_fails_with_an_exact_counterexample():
    claim = OneStep("gd, planted wrong bound", gd, lambda q: q.at_most(q.dL, -q.eta * q.norm2(q.g) / 2), hyper=ETA)
    with pytest.raises(amt.ClaimFailed) as info:
        amt.assert_claim(claim, "quick")
    err = info.value
    assert err.verdict.word == "refuted" and err.rechecked, str(err)
    assert "is refuted" in str(err) and "re-checked in exact arithmetic" in str(err)


def test_a_flow_holds_and_a_wrong_flow_fails():
    field = lambda q: (-q.s, [q.g])                       # heavy ball without friction: H = L + |s|^2/2
    H = lambda q: q.loss + q.norm2(q.s) / 2
    assert amt.assert_flow(field, H, lambda q: q.at_most(q.dH, 0), budget="quick").word == "holds"
    with pytest.raises(amt.ClaimFailed, match="is refuted"):
        amt.assert_flow(field, H, lambda q: q.at_most(q.dL, 0), budget="quick")


@pytest.mark.parametrize("word", ["vacuous", "not-checkable"])
def test_vacuous_and_not_checkable_fail_with_their_reason(monkeypatch, word):
    monkeypatch.setattr(language, "decide", lambda claim, budget, seed: Verdict(word, f"why {word}", {"proof": "x"}))
    with pytest.raises(amt.ClaimFailed, match=f"(?s)is {word}.*why {word}"):
        amt.assert_one_step(gd, lambda q: q.at_most(q.dL, 0), hyper=ETA)


def test_assert_claim_reads_the_budget(monkeypatch):
    from ams_theory.testing import _budget

    seen = []
    monkeypatch.setattr(language, "decide", lambda claim, budget, seed: seen.append(budget) or Verdict("holds", ""))
    monkeypatch.setitem(_budget._STATE, "budget", "quick")
    amt.assert_one_step(gd, lambda q: q.at_most(q.dL, 0), hyper=ETA)
    amt.assert_one_step(gd, lambda q: q.at_most(q.dL, 0), hyper=ETA, budget="thorough")
    assert seen == ["quick", "thorough"]


def test_bad_inputs_give_one_line_errors():
    for call, err in [(lambda: amt.assert_claim("dL <= 0"), TypeError),
                      (lambda: amt.assert_one_step(gd, lambda q: q.at_most(q.dL, 0), hyper={"eta": (0, 1)}), TypeError),
                      (lambda: amt.optimizer_steps(torch.nn.Linear, {"lr": Range(0, 1)}), TypeError),
                      (lambda: amt.optimizer_steps(NormalizedGD, {"lr": [0, 1]}), TypeError),
                      (lambda: amt.optimizer_steps(NormalizedGD, {"lr": Range(0, 1)}, warmup=-1), ValueError)]:
        with pytest.raises(err) as info:
            call()
        assert "\n" not in str(info.value), str(info.value)


# -- a user's optimizer ---------------------------------------------------------------------------

def test_normalized_gd_with_a_small_lr_meets_the_right_bound():
    assert amt.assert_optimizer_descends(NormalizedGD, {"lr": Range(0, 1e-2)}, ngd_bound, max_examples=50) == 50


def test_normalized_gd_with_a_large_lr_range_does_not_descend():
    with pytest.raises(amt.PropertyViolation) as info:
        amt.assert_optimizer_descends(NormalizedGD, {"lr": Range(0, 100)}, max_examples=50)
    err = info.value
    assert err.exact and isinstance(err.margin, sp.Rational) and err.margin > 0
    assert "one step of NormalizedGD fails" in str(err) and "FAILS IN EXACT ARITHMETIC" in str(err)


def test_a_planted_wrong_bound_of_the_optimizer_fails_exactly():
    with pytest.raises(amt.PropertyViolation, match="FAILS IN EXACT ARITHMETIC"):
        amt.assert_optimizer_descends(NormalizedGD, {"lr": Range(0, 1e-2)}, lambda q: -q.lr * q.norm2(q.g) ** 0.5,
                                      max_examples=50)


def test_a_stateful_optimizer_is_warmed_up_and_a_float_violation_says_so():
    """Heavy ball's drawn momentum can point uphill: ``dL <= 0`` fails after warm-up; on a non-quadratic family
    the report is a float violation with its size."""
    with pytest.raises(amt.PropertyViolation) as info:
        amt.assert_optimizer_descends(torch.optim.SGD, {"lr": Range(1e-3, 1e-2)}, fixed={"momentum": 0.9},
                                      warmup=3, families="separable_softplus", exact=False, max_examples=200)
    assert not info.value.exact and "FAILS IN FLOAT64" in str(info.value) and "warmup    " in str(info.value)
    assert "steps on gradients" in str(info.value)


def test_optimizer_steps_is_a_strategy_of_one_step():
    from hypothesis import given, settings

    @settings(max_examples=20, deadline=None, database=None)
    @given(amt.optimizer_steps(NormalizedGD, {"lr": Range(0, 1e-2)}, warmup=2))
    def check(step):
        assert step.w.shape == step.w_next.shape and 0 <= step.hyper["lr"] <= 1e-2 and len(step.warmup) <= 2
        # |w' - w| = lr, up to the rounding of w' - w (w' and w are of size |w|)
        assert float((step.w_next - step.w).norm()) <= step.hyper["lr"] * (1 + 1e-12) + 1e-15 * (1 + float(
            step.w.abs().max()))
        amt.assert_optimizer_step(step, ngd_bound)

    check()


USER_SUITE = '''
import torch
import ams_theory.testing as amt
from ams_theory.claims.language import Range

class NGD(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3):
        super().__init__(params, dict(lr=lr))

    @torch.no_grad()
    def step(self):
        for p in self.param_groups[0]["params"]:
            if p.grad.norm() > 0:
                p.add_(p.grad / p.grad.norm(), alpha=-self.param_groups[0]["lr"])

def test_effort():
    n = amt.assert_optimizer_descends(NGD, {{"lr": Range(0, 1e-2)}},
                                      lambda q: -q.lr * q.norm2(q.g) ** 0.5 + q.L * q.lr ** 2 / 2)
    assert n == {examples}, n
'''


@pytest.mark.parametrize("option, examples", [(("--ams-budget", "quick"), 10), ((), 100)])
def test_the_budget_option_sets_the_effort(pytester, option, examples):
    from hypothesis import settings

    from ams_theory.testing import _budget

    profile = settings.get_current_profile_name()
    pytester.makepyfile(test_user=USER_SUITE.format(examples=examples))
    try:
        result = pytester.runpytest("-p", "no:cacheprovider", *option)
    finally:
        settings.load_profile(profile)
        _budget._set_budget(None)
    result.assert_outcomes(passed=1)


def test_the_docs_examples_run():
    """The blocks of docs/testing.md's section on claims and optimizers of your own run, and their tests pass."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "testing.md").read_text()
    section = text.split("## Claims and optimizers of your own", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0] for b in section.split("```python\n")[1:]]
    assert len(blocks) == 3
    namespace = {}
    exec("\n".join(blocks), namespace)
    tests = [f for name, f in namespace.items() if name.startswith("test_")]
    assert len(tests) == 3
    for test in tests:
        test()
