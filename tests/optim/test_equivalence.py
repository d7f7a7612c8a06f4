"""The optimizers against torch's own, in float64 on a small MLP, over >= 100 steps.

* Cor. 4.1 / B.1 of the AMS/Grams paper: AMS with ``lam = 1``, or with
  ``beta3 = beta1`` (any ``lam``), is Adam: it matches ``torch.optim.Adam``
  (both ``foreach`` paths). The ``Adam`` preset with coupled L2 decay
  (``weight_decay_mode="l2"``) matches ``torch.optim.Adam(weight_decay>0)``.
* The ``AdamW`` preset with ``weight_decay_mode="before"`` matches
  ``torch.optim.AdamW``; the papers' order (decay after the step) differs from
  it by exactly ``lr^2 * gamma * u`` per step (see
  :func:`test_decay_after_vs_before_one_step_identity`).
* ``GDM`` / ``GD`` match ``torch.optim.SGD``; ``Lion`` matches a direct
  transcription of Def. A.5 (AMS/Grams paper) / Alg. 3 (Cautious paper).
"""
from __future__ import annotations

import copy

import pytest
import torch
from conftest import batch, make_model

import ams_theory as at
from ams_theory.core import rules
from ams_theory.core.ops import TorchOps

F64 = torch.float64
STEPS = 120


# the problem: conftest's float64 MLP and its fixed data stream

def loss_fn(model, t):
    x, y = batch(t)
    return ((model(x) - y) ** 2).mean()


def flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def train(make_opt, steps: int = STEPS, seed: int = 0):
    model = make_model(seed)
    opt = make_opt(model.parameters())
    for t in range(steps):
        opt.zero_grad()
        loss_fn(model, t).backward()
        opt.step()
    return flat(model)


def max_diff(a, b) -> float:
    return (a - b).abs().max().item()


def assert_same_trajectory(ours, ref, tol=1e-12):
    start = flat(make_model())
    assert max_diff(ref, start) > 1e-2, "the reference did not move: the comparison would be vacuous"
    assert torch.isfinite(ours).all()
    d = max_diff(ours, ref)
    assert d <= tol, f"max |ours - torch| = {d:.3e} > {tol:.0e}"


FOREACH = [False, True]


# --------------------------------------------------------------------------
# Adam family
# --------------------------------------------------------------------------

@pytest.mark.parametrize("foreach", FOREACH)
def test_ams_lam_one_is_torch_adam(foreach):
    """lam = 1: phi + psi = 1 everywhere and d/(|phi|_1 + |psi|_1) = 1 (Cor. 4.1)."""
    ref = train(lambda p: torch.optim.Adam(p, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, foreach=foreach))
    ours = train(lambda p: at.AMS(p, lr=1e-2, betas=(0.9, 0.999, 0.0), eps=1e-8, lam=1.0, weight_decay=0.0,
                                  foreach=foreach))
    assert_same_trajectory(ours, ref)


@pytest.mark.parametrize("lam", [-1.0, -0.5, 0.0, 2.0])
@pytest.mark.parametrize("foreach", FOREACH)
def test_ams_beta3_equal_beta1_is_torch_adam(foreach, lam):
    """beta3 = beta1: s = m, so u * s >= 0 everywhere, no entry is opposed and lam never acts (Cor. B.1)."""
    ref = train(lambda p: torch.optim.Adam(p, lr=1e-2, betas=(0.8, 0.99), eps=1e-8, foreach=foreach))
    ours = train(lambda p: at.AMS(p, lr=1e-2, betas=(0.8, 0.99, 0.8), eps=1e-8, lam=lam, weight_decay=0.0,
                                  foreach=foreach))
    assert_same_trajectory(ours, ref)


def test_ams_default_is_not_adam():
    """Control: with the Grams setting (beta3 = 0, lam = -1) AMS leaves Adam's trajectory."""
    ref = train(lambda p: torch.optim.Adam(p, lr=1e-2))
    ours = train(lambda p: at.AMS(p, lr=1e-2, betas=(0.9, 0.999, 0.0), lam=-1.0))
    assert max_diff(ours, ref) > 1e-3


@pytest.mark.parametrize("foreach", FOREACH)
def test_adam_preset_l2_is_torch_adam_with_weight_decay(foreach):
    """Coupled L2: the direction is fed g + gamma * w, as torch.optim.Adam(weight_decay=gamma) does."""
    ref = train(lambda p: torch.optim.Adam(p, lr=1e-2, weight_decay=0.1, foreach=foreach))
    ours = train(lambda p: at.Adam(p, lr=1e-2, weight_decay=0.1, weight_decay_mode="l2", foreach=foreach))
    assert_same_trajectory(ours, ref)
    assert at.Adam.PRESET["weight_decay_mode"] == "l2"      # the preset's own default is torch's convention
    default = train(lambda p: at.Adam(p, lr=1e-2, weight_decay=0.1, foreach=foreach))
    assert_same_trajectory(default, ref)


@pytest.mark.parametrize("foreach", FOREACH)
def test_adamw_before_is_torch_adamw(foreach):
    ref = train(lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1, foreach=foreach))
    ours = train(lambda p: at.AdamW(p, lr=1e-2, weight_decay=0.1, weight_decay_mode="before", foreach=foreach))
    assert_same_trajectory(ours, ref)


def _adam_u(state, grad, lr_group):
    """Adam's direction for the next step from an optimizer's stored state (by hand, Alg. 2 l. 5-9)."""
    b1, b2 = lr_group["betas"]
    t = int(state["step"].item()) + 1
    m = b1 * state["m"] + (1 - b1) * grad
    v = b2 * state["v"] + (1 - b2) * grad * grad
    return (m / (1 - b1 ** t)) / (torch.sqrt(v / (1 - b2 ** t)) + lr_group["eps"])


def test_decay_after_vs_before_one_step_identity():
    r"""The papers' boxes decay AFTER the step; torch.optim.AdamW decays BEFORE it.

    AMS/Grams paper Algorithm 2 l. 10-11 (and Algorithm 1 l. 15-16, Cautious
    Alg. 2 l. 12-13) write ``w <- w - lr u`` and then ``w <- w - lr gamma w``,
    i.e. ``w_after = (w - lr u)(1 - lr gamma)``, while ``torch.optim.AdamW``
    computes ``w_before = w (1 - lr gamma) - lr u``. From the same state, with the
    same gradient (hence the same Adam direction ``u``), one step gives exactly

        w_after - w_before = lr^2 * gamma * u,

    a second-order term: the two orders are the same method to first order in
    ``lr`` but not the same iteration. Over many steps the trajectories therefore
    drift apart by about ``steps * lr^2 * gamma`` (the next test).
    """
    lr, wd = 0.05, 0.2
    model = make_model()
    opt = at.AdamW(model.parameters(), lr=lr, weight_decay=wd, weight_decay_mode="before", foreach=False)
    for t in range(10):                                   # a non-trivial state (m, v, step = 10)
        opt.zero_grad()
        loss_fn(model, t).backward()
        opt.step()
    results = {}
    for mode in ("before", "after"):
        m2, o2 = copy.deepcopy((model, opt))
        o2.param_groups[0]["weight_decay_mode"] = mode
        o2.zero_grad()
        loss_fn(m2, 10).backward()
        if mode == "before":
            w0 = [p.detach().clone() for p in m2.parameters()]
            u = [_adam_u(o2.state[p], p.grad, o2.param_groups[0]) for p in m2.parameters()]
        o2.step()
        results[mode] = [p.detach().clone() for p in m2.parameters()]
    for wa, wb, w, uu in zip(results["after"], results["before"], w0, u):
        # each mode against its own formula ...
        torch.testing.assert_close(wb, w * (1 - lr * wd) - lr * uu, rtol=1e-13, atol=1e-15)
        torch.testing.assert_close(wa, (w - lr * uu) * (1 - lr * wd), rtol=1e-13, atol=1e-15)
        # ... and the difference is exactly the second-order term
        torch.testing.assert_close(wa - wb, lr ** 2 * wd * uu, rtol=1e-9, atol=1e-15)
        assert (wa != wb).any()
    # the same identity at the rule level (TorchOps, one apply_step)
    gen = torch.Generator().manual_seed(5)
    w, uu = torch.randn(50, generator=gen, dtype=F64), torch.randn(50, generator=gen, dtype=F64)
    T = TorchOps()
    wa = rules.apply_step(T, w, uu, lr, wd, "after")
    wb = rules.apply_step(T, w, uu, lr, wd, "before")
    torch.testing.assert_close(wa - wb, lr ** 2 * wd * uu, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("lr,wd", [(1e-2, 0.1), (1e-3, 1e-2)])
def test_decay_after_trajectory_differs_from_torch_adamw_by_second_order(lr, wd):
    """Over 120 steps the papers' order differs from torch.optim.AdamW by ~ steps * lr^2 * gamma (not 0, not O(lr))."""
    ref = train(lambda p: torch.optim.AdamW(p, lr=lr, weight_decay=wd))
    before = train(lambda p: at.AdamW(p, lr=lr, weight_decay=wd, weight_decay_mode="before"))
    after = train(lambda p: at.AdamW(p, lr=lr, weight_decay=wd))        # the preset's default: "after"
    assert at.AdamW.PRESET["weight_decay_mode"] == "after"
    assert max_diff(before, ref) <= 1e-12
    d = max_diff(after, ref)
    scale = STEPS * lr ** 2 * wd
    assert d > 1e3 * max(max_diff(before, ref), 1e-16), "the 'after' trajectory is not distinguishable"
    assert 0.1 * scale < d < 10 * scale, f"|after - torch| = {d:.3e}, expected ~ {scale:.3e}"
    assert d < 1e-2 * lr * STEPS                           # far below a first-order (O(lr)) discrepancy


# --------------------------------------------------------------------------
# SGD family
# --------------------------------------------------------------------------

@pytest.mark.parametrize("foreach", FOREACH)
@pytest.mark.parametrize("beta", [0.5, 0.9])
def test_gdm_is_torch_sgd_momentum(beta, foreach):
    """Cautious §3.1: s <- beta s + g, w <- w - lr s == SGD(momentum=beta, dampening=0)."""
    ref = train(lambda p: torch.optim.SGD(p, lr=5e-2, momentum=beta, foreach=foreach))
    ours = train(lambda p: at.GDM(p, lr=5e-2, beta=beta, foreach=foreach))
    assert_same_trajectory(ours, ref)


@pytest.mark.parametrize("foreach", FOREACH)
def test_gdm_l2_is_torch_sgd_momentum_weight_decay(foreach):
    ref = train(lambda p: torch.optim.SGD(p, lr=5e-2, momentum=0.9, weight_decay=0.1, foreach=foreach))
    ours = train(lambda p: at.GDM(p, lr=5e-2, beta=0.9, weight_decay=0.1, weight_decay_mode="l2",
                                  foreach=foreach))
    assert_same_trajectory(ours, ref)


@pytest.mark.parametrize("foreach", FOREACH)
def test_gd_is_torch_sgd(foreach):
    ref = train(lambda p: torch.optim.SGD(p, lr=5e-2, foreach=foreach))
    ours = train(lambda p: at.GD(p, lr=5e-2, foreach=foreach))
    assert_same_trajectory(ours, ref, tol=1e-13)
    ref = train(lambda p: torch.optim.SGD(p, lr=5e-2, weight_decay=0.1, foreach=foreach))
    ours = train(lambda p: at.GD(p, lr=5e-2, weight_decay=0.1, weight_decay_mode="l2", foreach=foreach))
    assert_same_trajectory(ours, ref, tol=1e-13)


# --------------------------------------------------------------------------
# Lion: a direct transcription
# --------------------------------------------------------------------------

class DirectLion(torch.optim.Optimizer):
    """Def. A.5 of the AMS/Grams paper, written out; weight decay after the step
    (Cautious Alg. 3 l. 10-11) or before it (lion-pytorch's order)."""

    def __init__(self, params, lr, betas, weight_decay=0.0, after=True):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay, after=after))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            b1, b2 = group["betas"]
            lr, wd = group["lr"], group["weight_decay"]
            for p in group["params"]:
                m = self.state[p].setdefault("m", torch.zeros_like(p))
                g = p.grad
                u = torch.sign(b1 * m + (1 - b1) * g)
                if group["after"]:
                    p.copy_((p - lr * u) * (1 - lr * wd))
                else:
                    p.copy_(p * (1 - lr * wd) - lr * u)
                m.copy_(b2 * m + (1 - b2) * g)


@pytest.mark.parametrize("foreach", FOREACH)
@pytest.mark.parametrize("mode,wd", [("after", 0.0), ("after", 0.5), ("before", 0.5)])
def test_lion_is_direct_transcription(mode, wd, foreach):
    ref = train(lambda p: DirectLion(p, lr=3e-3, betas=(0.9, 0.99), weight_decay=wd, after=(mode == "after")))
    ours = train(lambda p: at.Lion(p, lr=3e-3, betas=(0.9, 0.99), weight_decay=wd, weight_decay_mode=mode,
                                   foreach=foreach))
    assert_same_trajectory(ours, ref)
    if wd:
        other = train(lambda p: DirectLion(p, lr=3e-3, betas=(0.9, 0.99), weight_decay=wd,
                                           after=(mode != "after")))
        assert max_diff(other, ours) > 1e-9          # the decay order is visible


def test_lion_preset_decays_after():
    assert at.Lion.PRESET["weight_decay_mode"] == "after"
    ref = train(lambda p: DirectLion(p, lr=3e-3, betas=(0.9, 0.99), weight_decay=0.5, after=True))
    ours = train(lambda p: at.Lion(p, lr=3e-3, weight_decay=0.5))
    assert_same_trajectory(ours, ref)


# --------------------------------------------------------------------------
# the two list back ends of every preset agree
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(at.PRESETS))
def test_every_preset_foreach_equals_loop(name):
    cls = at.PRESETS[name]
    kw = dict(lr=1e-2)
    if name != "GD":
        kw["weight_decay"] = 0.05
    a = train(lambda p: cls(p, foreach=False, **kw), steps=100)
    b = train(lambda p: cls(p, foreach=True, **kw), steps=100)
    assert max_diff(a, flat(make_model())) > 1e-4
    assert max_diff(a, b) <= 1e-12
