"""ams_theory against independent peer implementations (float64, small MLP, 150 steps).

Each test is skipped when its peer package is not importable. Conventions of the
peers, read from their source (pytorch-optimizer 4.1.0, lion-pytorch 0.2.5):

pytorch_optimizer.Grams (optimizer/grams.py)
    ``u = (m / bc1) / (sqrt(v) / sqrt(bc2) + eps)`` (eps default 1e-6, not 1e-8),
    ``update = |u| * sign(g)``, so ``g_i = 0`` gives 0 (Cor. 5.2 form, no mask
    rescaling). Decoupled weight decay (``weight_decouple=True``, default)
    multiplies ``p`` by ``1 - lr * wd`` *before* ``p -= lr * update``: our
    ``weight_decay_mode="before"``. With ``weight_decouple=False`` it adds
    ``wd * p`` to ``p.grad`` only *after* the update has been computed, so the
    coupled decay never reaches the step (it only mutates ``p.grad``).
pytorch_optimizer ``apply_cautious`` (base/optimizer.py)
    ``mask = (update * grad > 0)`` (ties masked: ``tie="zero"``), multiplied by
    ``mask.numel() / (mask.sum() + 1)`` *per tensor*: ``scope="tensor"``,
    ``normalize="nnz_xi"``, ``xi=1``, ``lam=0``.
pytorch_optimizer.Lion(cautious=True) (optimizer/lion.py)
    decay ``p *= 1 - lr * wd`` first (``weight_decouple=True``: "before"), or
    ``grad += wd * p`` first (``weight_decouple=False``: "l2", and the mask then
    compares against that modified gradient, as ours does); ``u = sign(lerp(m,
    g, 1 - beta1))``, ``m = lerp(m, g, 1 - beta2)``, ``apply_cautious(u, grad)``,
    ``p -= lr * u``. The decay factor is not scaled by the mask.
pytorch_optimizer.AdEMAMix(alpha=0, cautious=True) (optimizer/ademamix.py)
    pytorch-optimizer has no cautious AdamW; AdEMAMix with ``alpha = 0`` is Adam
    (the slow EMA enters with weight 0). Cautious: ``apply_cautious(m, grad)``
    on the first moment *before* bias correction and division by the
    denominator (both positive, so ``sign(m) = sign(u)``). Weight decay: coupled
    by default (``weight_decouple=False``: "l2"), decoupled "before" otherwise.
lion_pytorch.Lion (lion_pytorch.py)
    ``p *= 1 - lr * wd`` then ``p -= lr * sign(beta1 m + (1 - beta1) g)`` then
    ``m = beta2 m + (1 - beta2) g``: "before". ``decoupled_weight_decay=True``
    divides ``wd`` by the *initial* lr (factor ``1 - wd`` at constant lr).
lion_pytorch.cautious_lion.Lion (cautious_lion.py, not exported by the package)
    ``scale = where(u * g > 0, 1, cautious_factor)`` divided by
    ``scale.mean().clamp(min=1e-5)`` per tensor, decay "before". With factor
    ``f``: ``c = 1_aligned + f * 1_(opposed or tie)`` and ``d / (n_aligned + f
    n_rest)``, i.e. our ``lam=f, tie="opposed", normalize="ams"``; ``f = 0`` is
    ``1 / mean`` = our ``normalize="mean_eps"`` with ``mask_eps=0`` (the clamp
    only acts when fewer than 1e-5 of a tensor's entries are aligned).
"""
from __future__ import annotations

import pytest
import torch
from conftest import batch, make_model

import ams_theory as at
from ams_theory.core import rules
from ams_theory.core.ops import TorchOps
from ams_theory.optim.runtimes import LoopOps

pytestmark = pytest.mark.peers

F64 = torch.float64
STEPS = 150
TOL = 1e-10




def flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def train(make_opt, steps: int = STEPS):
    model = make_model()
    opt = make_opt(model.parameters())
    for t in range(steps):
        opt.zero_grad(set_to_none=True)
        x, y = batch(t)
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
    return flat(model)


def max_diff(a, b) -> float:
    return (a - b).abs().max().item()


def assert_agree(ours, ref, tol=TOL):
    assert max_diff(ref, flat(make_model())) > 1e-3, "the peer did not move: the comparison would be vacuous"
    assert torch.isfinite(ours).all()
    d = max_diff(ours, ref)
    assert d <= tol, f"max |ours - peer| = {d:.3e} > {tol:.0e}"


def assert_differ(ours, ref, at_least=1e-6):
    d = max_diff(ours, ref)
    assert d > at_least, f"expected a documented difference, got max |ours - peer| = {d:.3e}"


# ==========================================================================
# pytorch_optimizer.Grams
# ==========================================================================

@pytest.mark.parametrize("peer_foreach", [False, True])
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_pytorch_optimizer_grams(wd, peer_foreach):
    po = pytest.importorskip("pytorch_optimizer")
    ref = train(lambda p: po.Grams(p, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd,
                                   foreach=peer_foreach))
    for foreach in (False, True):
        ours = train(lambda p: at.Grams(p, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd,
                                        weight_decay_mode="before", foreach=foreach))
        assert_agree(ours, ref)
    # no mask count is involved (normalize="none"), so the scope does not matter
    ours = train(lambda p: at.Grams(p, lr=1e-2, eps=1e-8, weight_decay=wd, weight_decay_mode="before",
                                    scope="tensor"))
    assert_agree(ours, ref)


def test_pytorch_optimizer_grams_decay_order_differs_from_ours():
    po = pytest.importorskip("pytorch_optimizer")
    ref = train(lambda p: po.Grams(p, lr=1e-2, eps=1e-8, weight_decay=0.1))
    assert at.Grams.PRESET["weight_decay_mode"] == "after"
    assert_differ(train(lambda p: at.Grams(p, lr=1e-2, eps=1e-8, weight_decay=0.1)), ref)


def test_pytorch_optimizer_grams_is_not_ams_literal():
    """Peer Grams = Cor. 5.2 (0 where g = 0); AMS Alg. 1 literally (ties aligned, d/(|phi|+|psi|)) steps by u there."""
    po = pytest.importorskip("pytorch_optimizer")
    ref = train(lambda p: po.Grams(p, lr=1e-2, eps=1e-8))
    literal = train(lambda p: at.Grams(p, lr=1e-2, eps=1e-8, tie="aligned", normalize="ams"))
    assert_differ(literal, ref, at_least=1e-3)
    # the AMS class with the Grams setting but Cor. 5.2's tie handling is the peer again
    ams = train(lambda p: at.AMS(p, lr=1e-2, betas=(0.9, 0.999, 0.0), eps=1e-8, lam=-1.0, tie="zero",
                                 normalize="none"))
    assert_agree(ams, ref)


def test_pytorch_optimizer_grams_coupled_decay_never_reaches_the_step():
    """weight_decouple=False: the peer adds wd*p to p.grad after computing the update, so the step is plain Grams."""
    po = pytest.importorskip("pytorch_optimizer")
    ref = train(lambda p: po.Grams(p, lr=1e-2, eps=1e-8, weight_decay=0.1, weight_decouple=False))
    assert_agree(train(lambda p: at.Grams(p, lr=1e-2, eps=1e-8, weight_decay=0.0)), ref)
    assert_differ(train(lambda p: at.Grams(p, lr=1e-2, eps=1e-8, weight_decay=0.1, weight_decay_mode="l2")),
                  ref, at_least=1e-3)
    # and it writes into p.grad, which ours never does
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=F64))
    w.grad = torch.tensor([0.5, 0.5], dtype=F64)
    po.Grams([w], lr=1e-2, weight_decay=0.1, weight_decouple=False).step()
    assert not torch.equal(w.grad, torch.tensor([0.5, 0.5], dtype=F64))


# ==========================================================================
# pytorch_optimizer cautious Lion / cautious Adam (apply_cautious)
# ==========================================================================

PO_DECAY = [(0.0, True, "before"), (0.1, True, "before"), (0.1, False, "l2")]


@pytest.mark.parametrize("wd,decouple,mode", PO_DECAY)
def test_pytorch_optimizer_cautious_lion(wd, decouple, mode):
    po = pytest.importorskip("pytorch_optimizer")
    ref = train(lambda p: po.Lion(p, lr=1e-3, betas=(0.9, 0.99), weight_decay=wd, weight_decouple=decouple,
                                  cautious=True))
    for foreach in (False, True):
        ours = train(lambda p: at.CLion(p, lr=1e-3, betas=(0.9, 0.99), weight_decay=wd, weight_decay_mode=mode,
                                        scope="tensor", normalize="nnz_xi", xi=1.0, tie="zero", lam=0.0,
                                        foreach=foreach))
        assert_agree(ours, ref)
    # documented difference: our default counts over the whole group (Cautious Alg. 2's d = dim of w)
    assert at.CLion.PRESET["scope"] == "group"
    grouped = train(lambda p: at.CLion(p, lr=1e-3, betas=(0.9, 0.99), weight_decay=wd, weight_decay_mode=mode))
    assert_differ(grouped, ref)


@pytest.mark.parametrize("wd,decouple,mode", PO_DECAY)
def test_pytorch_optimizer_plain_lion(wd, decouple, mode):
    po = pytest.importorskip("pytorch_optimizer")
    for peer_foreach in (False, True):
        ref = train(lambda p: po.Lion(p, lr=1e-3, weight_decay=wd, weight_decouple=decouple, foreach=peer_foreach))
        assert_agree(train(lambda p: at.Lion(p, lr=1e-3, weight_decay=wd, weight_decay_mode=mode)), ref)


@pytest.mark.parametrize("wd,decouple,mode", PO_DECAY)
def test_pytorch_optimizer_cautious_adam_via_ademamix(wd, decouple, mode):
    po = pytest.importorskip("pytorch_optimizer")
    ref = train(lambda p: po.AdEMAMix(p, lr=1e-2, betas=(0.9, 0.999, 0.9999), alpha=0.0, eps=1e-8,
                                      weight_decay=wd, weight_decouple=decouple, cautious=True))
    for foreach in (False, True):
        ours = train(lambda p: at.CAdamW(p, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd,
                                         weight_decay_mode=mode, scope="tensor", normalize="nnz_xi", xi=1.0,
                                         tie="zero", lam=0.0, foreach=foreach))
        assert_agree(ours, ref)
    # documented differences: group scope (our default), and, with decay, the box's "after_scaled" order
    assert_differ(train(lambda p: at.CAdamW(p, lr=1e-2, eps=1e-8, weight_decay=wd, weight_decay_mode=mode)), ref)
    if wd:
        assert at.CAdamW.PRESET["weight_decay_mode"] == "after_scaled"
        assert_differ(train(lambda p: at.CAdamW(p, lr=1e-2, eps=1e-8, weight_decay=wd, scope="tensor")), ref)


def test_pytorch_optimizer_ademamix_alpha0_is_adam():
    """Sanity of the stand-in: AdEMAMix(alpha=0) without caution is torch's Adam / AdamW."""
    po = pytest.importorskip("pytorch_optimizer")
    ref = train(lambda p: po.AdEMAMix(p, lr=1e-2, alpha=0.0, eps=1e-8, weight_decay=0.1, weight_decouple=True))
    assert_agree(train(lambda p: at.AdamW(p, lr=1e-2, eps=1e-8, weight_decay=0.1, weight_decay_mode="before")),
                 ref)


def _applied(ops, u, s, caution):
    """Our masked step ``scale * (phi + psi) * u`` (``cautious_update`` returns update and scale apart)."""
    upd, scale = rules.cautious_update(ops, u, s, caution)
    if scale is None:
        return upd
    if isinstance(upd, (list, tuple)):
        return [x * k for x, k in zip(upd, scale)]
    return upd * scale


def test_pytorch_optimizer_apply_cautious_unit():
    """apply_cautious on one tensor == our elementwise caution (lam=0, ties masked, d/(nnz+1), per tensor)."""
    pytest.importorskip("pytorch_optimizer")
    from pytorch_optimizer.base.optimizer import BaseOptimizer

    gen = torch.Generator().manual_seed(0)
    u = torch.randn(7, 5, generator=gen, dtype=F64)
    g = torch.randn(7, 5, generator=gen, dtype=F64)
    g[0] = 0.0                                            # ties from g = 0
    u[1, :2] = 0.0                                        # ties from u = 0
    cau = rules.Caution(lam=0.0, tie="zero", normalize="nnz_xi", xi=1.0)
    peer = u.clone()
    BaseOptimizer.apply_cautious(peer, g)
    torch.testing.assert_close(_applied(TorchOps(), u.clone(), g, cau), peer, rtol=1e-15, atol=0)
    torch.testing.assert_close(_applied(LoopOps(), [u.clone()], [g], cau)[0], peer, rtol=1e-15, atol=0)
    # documented difference: the peer classifies by the float product u*g, which underflows for
    # |u|, |g| ~ 1e-200 (a false tie: everything masked); ours uses the signs, so it keeps the aligned entries
    tiny_u, tiny_g = torch.full((4,), 1e-200, dtype=F64), torch.full((4,), 2e-200, dtype=F64)
    peer = tiny_u.clone()
    BaseOptimizer.apply_cautious(peer, tiny_g)
    assert torch.equal(peer, torch.zeros(4, dtype=F64))
    torch.testing.assert_close(_applied(TorchOps(), tiny_u.clone(), tiny_g, cau), tiny_u * 4 / 5, rtol=1e-15, atol=0)


# ==========================================================================
# lion-pytorch
# ==========================================================================

@pytest.mark.parametrize("impl", ["lion_pytorch", "lion_pytorch.foreach"])
@pytest.mark.parametrize("wd", [0.0, 0.5])
def test_lion_pytorch(wd, impl):
    pytest.importorskip("lion_pytorch")
    lp = pytest.importorskip(impl)
    ref = train(lambda p: lp.Lion(p, lr=1e-3, betas=(0.9, 0.99), weight_decay=wd))
    for foreach in (False, True):
        ours = train(lambda p: at.Lion(p, lr=1e-3, betas=(0.9, 0.99), weight_decay=wd, weight_decay_mode="before",
                                       foreach=foreach))
        assert_agree(ours, ref)
    if wd:   # our preset decays after the step (C-Lion box): a visible difference
        assert_differ(train(lambda p: at.Lion(p, lr=1e-3, weight_decay=wd)), ref, at_least=1e-9)


def test_lion_pytorch_decoupled_weight_decay_divides_by_initial_lr():
    lp = pytest.importorskip("lion_pytorch")
    lr, wd = 1e-3, 5e-4
    ref = train(lambda p: lp.Lion(p, lr=lr, weight_decay=wd, decoupled_weight_decay=True))
    assert_agree(train(lambda p: at.Lion(p, lr=lr, weight_decay=wd / lr, weight_decay_mode="before")), ref)
    assert_differ(train(lambda p: at.Lion(p, lr=lr, weight_decay=wd, weight_decay_mode="before")), ref,
                  at_least=1e-9)


@pytest.mark.parametrize("wd", [0.0, 0.5])
def test_lion_pytorch_cautious_factor_zero(wd):
    pytest.importorskip("lion_pytorch")
    cl = pytest.importorskip("lion_pytorch.cautious_lion")
    ref = train(lambda p: cl.Lion(p, lr=1e-3, betas=(0.9, 0.99), weight_decay=wd, cautious_factor=0.0))
    kw = dict(lr=1e-3, betas=(0.9, 0.99), weight_decay=wd, weight_decay_mode="before", scope="tensor",
              normalize="mean_eps", tie="zero", lam=0.0)
    for foreach in (False, True):
        assert_agree(train(lambda p: at.CLion(p, mask_eps=0.0, foreach=foreach, **kw)), ref)
    # documented difference: 1/(mean + 1e-8) (our default mask_eps) vs 1/max(mean, 1e-5): small but nonzero
    d = max_diff(train(lambda p: at.CLion(p, **kw)), ref)
    assert 1e-12 < d < 1e-6


@pytest.mark.parametrize("factor", [0.3, 1.0 / 3.0])
def test_lion_pytorch_cautious_factor_is_lam_with_ties_opposed(factor):
    pytest.importorskip("lion_pytorch")
    cl = pytest.importorskip("lion_pytorch.cautious_lion")
    ref = train(lambda p: cl.Lion(p, lr=1e-3, weight_decay=0.5, cautious_factor=factor))
    kw = dict(lr=1e-3, weight_decay=0.5, weight_decay_mode="before", scope="tensor", normalize="ams", lam=factor)
    for foreach in (False, True):
        assert_agree(train(lambda p: at.CLion(p, tie="opposed", foreach=foreach, **kw)), ref)
    # the peer's ties (u * g = 0) take the factor: with ties dropped or aligned the runs differ
    for tie in ("zero", "aligned"):
        assert_differ(train(lambda p: at.CLion(p, tie=tie, **kw)), ref, at_least=1e-9)


# ==========================================================================
# timm (optimizer files loaded by path: timm's own __init__ needs torchvision), grams-pytorch, heavyball
# ==========================================================================
# Read from their sources (timm 1.0.31, grams-pytorch 0.0.2, heavyball 3.2.1):
# timm AdamWLegacy / Lion: decay p *= 1 - lr wd first; caution = 1(m g > 0) (Lion: 1(u g > 0)) divided by
#     max(mean, 1e-3) per tensor: our normalize="mean_clamp", mask_eps=1e-3, scope="tensor", tie="zero".
# grams-pytorch Grams: eps added to sqrt(v) before the bias correction, the step scaled by sqrt(bc2)/bc1: our
#     eps_mode="uncorrected"; decay p -= lr wd p first; it overwrites p.grad with sign(g)|m|.
# heavyball AdamW: moments with debiased betas (the buffers are m_hat, v_hat), den = max(sqrt(v_hat), eps):
#     eps_mode="max"; caution by sign bits, rescaled by n / max(n - n_masked, 1): tie="signbit",
#     normalize="mean_eps", mask_eps=0; decay p (1 - lr wd) - lr u; it computes lr and the rescaling in the
#     default dtype (float64 here only under torch.set_default_dtype) and compiles its kernels unless
#     heavyball.utils.compile_mode is None.


def _timm(module, cls):
    import importlib.util

    if importlib.util.find_spec("timm") is None:
        pytest.skip("timm is not installed")
    from ams_theory.audit.conform import Peer, load_target, peer_target
    return load_target(peer_target(Peer(f"timm/optim/{module}.py:{cls}", {}, "adamw")))


TIMM = {"adamw": ("AdamWLegacy", 1e-2, at.AdamW, at.CAdamW), "lion": ("Lion", 1e-3, at.Lion, at.CLion)}


@pytest.mark.parametrize("caution", [False, True])
@pytest.mark.parametrize("module", list(TIMM))
def test_timm(module, caution):
    name, lr, plain, cautious = TIMM[module]
    cls = _timm(module, name)
    ref = train(lambda p: cls(p, lr=lr, weight_decay=0.1, caution=caution))
    kw = dict(normalize="mean_clamp", mask_eps=1e-3, scope="tensor") if caution else {}
    ours = train(lambda p: (cautious if caution else plain)(p, lr=lr, weight_decay=0.1, weight_decay_mode="before",
                                                             **kw))
    assert_agree(ours, ref)


def test_grams_pytorch():
    grams = pytest.importorskip("grams")
    ref = train(lambda p: grams.Grams(p, lr=1e-2, eps=1e-6, weight_decay=0.1))
    ours = train(lambda p: at.Grams(p, lr=1e-2, eps=1e-6, weight_decay=0.1, weight_decay_mode="before",
                                    eps_mode="uncorrected"))
    assert_agree(ours, ref)


@pytest.mark.parametrize("caution,cautious_wd", [(False, False), (True, False), (True, True)])
def test_heavyball_adamw(caution, cautious_wd):
    pytest.importorskip("heavyball")
    import heavyball.utils

    from ams_theory.audit.conform import METHODS, Departures
    kw = dict(eps_mode="max", weight_decay_mode="before")
    if caution:
        kw.update(tie="signbit", normalize="mean_eps", mask_eps=0.0, scope="tensor")
    cls = at.CAdamW if caution else at.AdamW
    if cautious_wd:                      # heavyball's cautious weight decay is the grammar's decay_cautious
        parts = rules.PAPER.replace(**Departures(tuple(
            c for c in METHODS["cadamw"].departures if c.name == "decay_cautious")).parts)
        rule = cls.rule
        cls = type("CautiousDecay", (cls,), {"rule": staticmethod(
            lambda ops, w, g, state, hp, t: rule(ops, w, g, state, hp, t, parts=parts))})
    saved, previous = heavyball.utils.compile_mode, torch.get_default_dtype()
    heavyball.utils.compile_mode = None
    torch.set_default_dtype(torch.float64)     # the model's initial weights depend on it: both runs share it
    try:
        ref = train(lambda p: heavyball.AdamW(p, lr=1e-2, weight_decay=0.1, storage_dtype="float64",
                                              caution=caution, cautious_weight_decay=cautious_wd), steps=60)
        ours = train(lambda p: cls(p, lr=1e-2, betas=(0.9, 0.99), weight_decay=0.1, **kw), steps=60)
        assert_agree(ours, ref)
    finally:
        heavyball.utils.compile_mode = saved
        torch.set_default_dtype(previous)
