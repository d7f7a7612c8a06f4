"""Registry-driven optimizer suite (in the style of torch's ``OptimizerInfo`` tests).

Every preset of :data:`ams_theory.PRESETS` is described once in :data:`INFOS`
(which keywords it takes, how many betas, whether it masks by default) and then
runs through the same checks:

1. construction errors (type and message naming the offending parameter), in the
   constructor and through ``add_param_group``;
2. ``state_dict`` round trips mid-training (bitwise), also across ``foreach``;
3. closures; 4. parameters without gradients; 5. param groups as separate optimizers;
6. ``foreach=True`` vs ``foreach=False`` agreement over conventions;
7. float32 vs float64, bfloat16; 8. sparse gradients; 9. non-finite gradients;
10. all-masked steps of the cautious presets; 11. CUDA vs CPU (skipped without CUDA).

Models are tiny float64 modules with fixed seeds; the data of every run is fixed,
so two runs that should agree see identical gradients.
"""
from __future__ import annotations

import copy
import inspect
import math

import pytest
import torch
from optimizer_infos import (
    DT,
    IDX,
    INF,
    INFOS,
    NAMES,
    NAN,
    Net,
    OptimInfo,
    all_finite,
    assert_equal_lists,
    batches,
    make_opt,
    params_of,
    state_of,
    train,
)
from torch import nn

import ams_theory
from ams_theory import PRESETS


def test_registry_covers_every_preset():
    assert set(INFOS) == set(PRESETS), "add new presets to INFOS so the suite runs them"
    assert set(PRESETS) == set(ams_theory.optim.__all__) - {"PRESETS"}
    for name, info in INFOS.items():
        sig = inspect.signature(info.cls.__init__).parameters
        assert ("eps" in sig) == info.has_eps, name
        assert ("betas" in sig) == (info.n_betas is not None), name
        assert ("beta" in sig) == info.has_beta, name
        assert ("tie" in sig and "mask" in sig and "scope" in sig) == info.has_caution, name
        assert (info.cls.PRESET.get("mask") is not None) == info.cautious, name
        if info.n_betas is not None:
            assert len(info.cls.PRESET["betas"]) == info.n_betas, name


def _p(dtype=DT):
    return nn.Parameter(torch.ones(3, dtype=dtype))


def error_cases(info: OptimInfo, representative=False):
    """(id, kwargs, exception type, regex naming the offending parameter)."""
    c = []
    for v in ([-1e-3] if representative else [-1e-3, NAN, INF, -INF]):
        c.append((f"lr={v}", {"lr": v}, ValueError, r"\blr\b"))
    for v in ([-0.1] if representative else [-0.1, NAN, INF]):
        c.append((f"weight_decay={v}", {"weight_decay": v}, ValueError, r"\bweight_decay\b"))
    if info.has_eps:
        for v in ([NAN] if representative else [-1e-8, NAN, INF]):
            c.append((f"eps={v}", {"eps": v}, ValueError, r"\beps\b"))
    if info.n_betas is not None:
        bad = [(1.0,), (-0.1,), (NAN,), (0.9, 1.0), (0.9, 1.5)]
        if info.n_betas == 3:
            bad += [(0.9, 0.99, 1.0), (0.9, 0.99, -0.5)]
        for vals in (bad[:1] if representative else bad):
            which = len(vals)
            c.append((f"betas={vals}", {"betas": info.betas(*vals)}, ValueError, rf"\bbeta{which}\b"))
        wrong = [info.betas()[:-1], info.betas() + (0.5,)]
        for b in (wrong[:1] if representative else wrong + [0.9]):
            c.append((f"betas={b}", {"betas": b}, ValueError, r"\bbetas\b"))
    if info.has_beta:
        for v in ([1.0] if representative else [1.0, 1.5, -0.1, NAN]):
            c.append((f"beta={v}", {"beta": v}, ValueError, r"\bbeta\b"))
    if info.has_caution:
        c += [
            ("tie=bogus", {"tie": "bogus"}, ValueError, r"\btie\b"),
            ("normalize=bogus", {"normalize": "bogus"}, ValueError, r"\bnormalize\b"),
            ("mask=bogus", {"mask": "bogus"}, ValueError, r"\bmask\b"),
            ("scope=bogus", {"scope": "bogus"}, ValueError, r"\bscope\b"),
            ("xi=-1", {"xi": -1.0}, ValueError, r"\bxi\b"),
        ]
        if not representative:
            c += [
                ("xi=nan", {"xi": NAN}, ValueError, r"\bxi\b"),
                ("mask_eps=-1", {"mask_eps": -1.0}, ValueError, r"\bmask_eps\b"),
                ("lam=nan", {"lam": NAN}, ValueError, r"\blam\b"),
                ("lam=inf", {"lam": INF}, ValueError, r"\blam\b"),
            ]
    c += [
        ("weight_decay_mode=bogus", {"weight_decay_mode": "bogus"}, ValueError, r"\bweight_decay_mode\b"),
        ("nonfinite=bogus", {"nonfinite": "bogus"}, ValueError, r"\bnonfinite\b"),
        ("foreach=yes", {"foreach": "yes"}, ValueError, r"\bforeach\b"),
    ]
    if not representative:
        c.append(("foreach=0.5", {"foreach": 0.5}, ValueError, r"\bforeach\b"))
    return c


CTOR_CASES = [pytest.param(n, kw, exc, rx, id=f"{n}-{cid}")
              for n in NAMES for cid, kw, exc, rx in error_cases(INFOS[n])]
GROUP_CASES = [pytest.param(n, kw, exc, rx, id=f"{n}-{cid}")
               for n in NAMES for cid, kw, exc, rx in error_cases(INFOS[n], representative=True)]


@pytest.mark.parametrize("name,kw,exc,rx", CTOR_CASES)
def test_constructor_rejects_bad_hyperparameter(name, kw, exc, rx):
    with pytest.raises(exc, match=rx):
        make_opt(name, [_p()], **kw)


@pytest.mark.parametrize("name,kw,exc,rx", GROUP_CASES)
def test_param_group_rejects_bad_hyperparameter(name, kw, exc, rx):
    # a per-group value passed to the constructor: group 0
    with pytest.raises(exc, match=rx) as ei:
        make_opt(name, [{"params": [_p()], **kw}])
    assert "param group 0" in str(ei.value)
    # through add_param_group: group 1
    opt = make_opt(name, [_p()])
    with pytest.raises(exc, match=rx) as ei:
        opt.add_param_group({"params": [_p()], **kw})
    assert "param group 1" in str(ei.value)


@pytest.mark.parametrize("name", NAMES)
def test_rejected_param_group_is_not_installed(name):
    """A group that add_param_group rejects must not stay in the optimizer (it would
    then be stepped with the invalid value)."""
    p = _p()
    opt = make_opt(name, [p], lr=0.1)
    for bad in ({"params": [_p()], "lr": -1.0},
                {"params": [nn.Parameter(torch.ones(2, dtype=torch.complex128))]}):
        with pytest.raises(ValueError):
            opt.add_param_group(bad)
        assert len(opt.param_groups) == 1, f"rejected group {bad} was left in param_groups"
    p.grad = torch.ones_like(p)
    opt.step()
    assert torch.isfinite(p).all()


@pytest.mark.parametrize("value", ["yes", 0.5, 1, 0], ids=repr)
@pytest.mark.parametrize("name", NAMES)
def test_foreach_must_be_bool_or_none(name, value):
    """``foreach`` is ``None``, ``True`` or ``False``; ``1``/``0`` are ints, not bools."""
    with pytest.raises(ValueError, match=r"\bforeach\b"):
        make_opt(name, [_p()], foreach=value)
    for ok in (None, True, False):
        assert make_opt(name, [_p()], foreach=ok).defaults["foreach"] is ok


@pytest.mark.parametrize("name", NAMES)
def test_unknown_keyword(name):
    with pytest.raises(TypeError, match="bogus_kw"):
        make_opt(name, [_p()], bogus_kw=1.0)
    info = INFOS[name]
    if not info.has_eps:
        with pytest.raises(TypeError, match=r"\beps\b"):
            make_opt(name, [_p()], eps=1e-8)
    if not info.has_caution:
        with pytest.raises(TypeError, match=r"\btie\b"):
            make_opt(name, [_p()], tie="aligned")


@pytest.mark.parametrize("where", ["ctor", "add_param_group"])
@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128, torch.int64, torch.int32],
                         ids=str)
@pytest.mark.parametrize("name", NAMES)
def test_rejects_complex_and_integer_parameters(name, dtype, where):
    good = _p()
    bad = torch.zeros(3, dtype=dtype, requires_grad=dtype.is_complex)
    kind = "complex" if dtype.is_complex else "floating-point"
    if where == "ctor":
        with pytest.raises(ValueError, match=kind) as ei:
            make_opt(name, [good, bad])
        assert "parameter 1 in param group 0" in str(ei.value) and str(dtype) in str(ei.value)
    else:
        opt = make_opt(name, [good])
        with pytest.raises(ValueError, match=kind) as ei:
            opt.add_param_group({"params": [_p(), bad]})
        assert "parameter 1 in param group 1" in str(ei.value) and str(dtype) in str(ei.value)


@pytest.mark.parametrize("name", NAMES)
def test_valid_boundary_hyperparameters_are_accepted(name):
    """The checks must not reject the edges of the valid ranges."""
    info = INFOS[name]
    kw = dict(lr=0.0, weight_decay=0.0)
    if info.has_eps:
        kw["eps"] = 0.0
    if info.n_betas:
        kw["betas"] = (0.0,) * info.n_betas
    if info.has_beta:
        kw["beta"] = 0.0
    if info.has_caution:
        kw.update(xi=0.0, mask_eps=0.0, lam=-1.0)
    p = _p()
    opt = make_opt(name, [p], **kw)
    p.grad = torch.full_like(p, 0.5)
    opt.step()
    assert torch.equal(p.detach(), torch.ones(3, dtype=DT))  # lr = 0: nothing moves


# ----------------------------------------------------------------------------
# convention variants
# ----------------------------------------------------------------------------

def variants(info: OptimInfo):
    """(id, kwargs) convention variants that apply to this preset."""
    v = [("default", {})]
    wd = [(f"wd-{m}", {"weight_decay": 0.1, "weight_decay_mode": m})
          for m in ("after_scaled", "after", "before", "l2")]
    if not info.has_caution:
        return v + wd
    if not info.cautious:   # the caution keywords switch masking on; the cautious presets cover the rest
        return v + wd + [("mask-on-group", {"mask": "elementwise", "scope": "group", "normalize": "ams",
                                            "lam": -0.5}),
                         ("mask-inner", {"mask": "inner", "lam": -0.1, "normalize": "ams"})]
    on = {}
    v += [(f"scope-{s}", {**on, "scope": s}) for s in ("tensor", "group")]
    v += [(f"norm-{n}", {**on, "normalize": n, "lam": -0.5}) for n in ("ams", "nnz_xi", "mean_eps", "update_l1",
                                                                       "none")]
    v += [("norm-mean_clamp", {**on, "normalize": "mean_clamp", "mask_eps": 0.3})]
    v += [(f"tie-{t}", {**on, "tie": t, "lam": 0.5, "normalize": "ams"}) for t in ("aligned", "opposed", "zero",
                                                                                   "signbit")]
    v += [("mask-inner", {"mask": "inner", "lam": -0.1, "normalize": "ams"})]
    v += [("mask-off", {"mask": None})]
    v += [(f"lam{lam}", {**on, "lam": lam}) for lam in (-1.0, -0.1, 0.0, 0.5, 1.0)]
    v += [(n, {**on, **kw}) for n, kw in wd]
    if info.n_betas == 3:
        v += [("beta3=0.5", {"betas": (0.9, 0.999, 0.5)}), ("beta3=0.9-lam0", {"betas": (0.9, 0.999, 0.9),
                                                                                "lam": 0.0})]
    return v


VARIANT_CASES = [pytest.param(n, kw, id=f"{n}-{vid}") for n in NAMES for vid, kw in variants(INFOS[n])]
# A smaller sample for the slower / bitwise checks.
SAMPLE_IDS = ("default", "scope-tensor", "norm-update_l1", "mask-inner", "wd-after_scaled", "beta3=0.5")
SAMPLE_CASES = [pytest.param(n, kw, id=f"{n}-{vid}") for n in NAMES for vid, kw in variants(INFOS[n])
                if vid in SAMPLE_IDS]


# ----------------------------------------------------------------------------
# 2. state_dict round trip
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("foreach", [False, True], ids=["loop", "foreach"])
@pytest.mark.parametrize("name,kw", SAMPLE_CASES)
def test_state_dict_round_trip_is_bitwise(name, kw, foreach):
    k, n = 4, 5
    data = batches(k + n)
    hp = dict(lr=1e-2, foreach=foreach, **kw)

    model_a = Net()
    opt_a = make_opt(name, model_a.parameters(), **hp)
    train(model_a, opt_a, data)

    model_b = Net()
    opt_b = make_opt(name, model_b.parameters(), **hp)
    train(model_b, opt_b, data[:k])
    saved_model = copy.deepcopy(model_b.state_dict())
    saved_opt = copy.deepcopy(opt_b.state_dict())
    train(model_b, opt_b, data[k:k + 1])  # move on: the fresh copies must not depend on this

    model_c = Net(seed=123)
    opt_c = make_opt(name, model_c.parameters(), **hp)
    model_c.load_state_dict(saved_model)
    opt_c.load_state_dict(saved_opt)
    assert opt_c.state_dict()["param_groups"] == saved_opt["param_groups"]
    train(model_c, opt_c, data[k:])

    assert_equal_lists(params_of(model_c), params_of(model_a), what="params")
    assert_equal_lists(state_of(model_c, opt_c), state_of(model_a, opt_a), what="state")
    assert not torch.equal(model_a.lin.weight.detach(), Net().lin.weight.detach())   # training happened


@pytest.mark.parametrize("direction", ["foreach->loop", "loop->foreach"])
@pytest.mark.parametrize("name", NAMES)
def test_state_dict_loads_across_foreach(name, direction):
    k, n = 4, 5
    src, dst = (True, False) if direction == "foreach->loop" else (False, True)
    data = batches(k + n)
    model_a = Net()
    opt_a = make_opt(name, model_a.parameters(), lr=1e-2, foreach=src)
    train(model_a, opt_a, data)

    model_b = Net()
    opt_b = make_opt(name, model_b.parameters(), lr=1e-2, foreach=src)
    train(model_b, opt_b, data[:k])
    saved_model, saved_opt = copy.deepcopy(model_b.state_dict()), copy.deepcopy(opt_b.state_dict())

    model_c = Net()
    opt_c = make_opt(name, model_c.parameters(), lr=1e-2, foreach=dst)
    model_c.load_state_dict(saved_model)
    opt_c.load_state_dict(saved_opt)
    for g in opt_c.param_groups:   # load_state_dict restores the saved flag; run the other path
        g["foreach"] = dst
    train(model_c, opt_c, data[k:])
    assert_equal_lists(params_of(model_c), params_of(model_a), exact=False, what="params")
    assert_equal_lists(state_of(model_c, opt_c), state_of(model_a, opt_a), exact=False, what="state")


# ----------------------------------------------------------------------------
# 3. closures
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("foreach", [False, True], ids=["loop", "foreach"])
@pytest.mark.parametrize("name", NAMES)
def test_step_with_closure(name, foreach):
    (x, y), = batches(1)
    model = Net()
    opt = make_opt(name, model.parameters(), lr=1e-2, foreach=foreach)
    calls = []

    def closure():
        calls.append(torch.is_grad_enabled())
        opt.zero_grad()
        loss = model.loss(x, y)
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert calls == [True], "closure must be called exactly once, with grad enabled"
    assert torch.is_tensor(loss) and loss.item() == Net().loss(x, y).item()

    ref = Net()
    ref_opt = make_opt(name, ref.parameters(), lr=1e-2, foreach=foreach)
    ref.loss(x, y).backward()
    assert ref_opt.step() is None
    assert_equal_lists(params_of(model), params_of(ref), what="params")

    sentinel = object()
    assert opt.step(lambda: sentinel) is sentinel   # whatever the closure returns


# ----------------------------------------------------------------------------
# 4. parameters without gradients
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("name,kw", SAMPLE_CASES)
def test_parameters_without_grad_are_skipped(name, kw):
    data = batches(3)
    model = Net()
    frozen = nn.Parameter(torch.randn(4, 2, dtype=DT))           # same group, never gets a grad
    idle = [nn.Parameter(torch.randn(3, dtype=DT)), nn.Parameter(torch.randn((), dtype=DT))]
    before_frozen, before_idle = frozen.detach().clone(), [p.detach().clone() for p in idle]
    opt = make_opt(name, [{"params": list(model.parameters()) + [frozen]}, {"params": idle, "lr": 0.5}],
                   lr=1e-2, **kw)
    train(model, opt, data)
    assert frozen not in opt.state and all(p not in opt.state for p in idle)
    assert torch.equal(frozen.detach(), before_frozen)
    assert all(torch.equal(p.detach(), b) for p, b in zip(idle, before_idle))

    # the others behave exactly as without the gradient-less parameters and group
    ref = Net()
    ref_opt = make_opt(name, ref.parameters(), lr=1e-2, **kw)
    train(ref, ref_opt, data)
    assert_equal_lists(params_of(model), params_of(ref), what="params")
    assert_equal_lists(state_of(model, opt), state_of(ref, ref_opt), what="state")


@pytest.mark.parametrize("name", NAMES)
def test_gradient_set_to_none_midway_freezes_that_parameter(name):
    model = Net()
    opt = make_opt(name, model.parameters(), lr=1e-2)
    data = batches(3)
    train(model, opt, data[:2])
    st_before = state_of(model, opt)
    w_before = model.w3.detach().clone()
    opt.zero_grad()
    model.loss(*data[2]).backward()
    model.w3.grad = None
    opt.step()
    assert torch.equal(model.w3.detach(), w_before)
    assert_equal_lists([state_of(model, opt)[IDX["w3"]]], [st_before[IDX["w3"]]], what="w3 state")
    assert not torch.equal(model.lin.weight.detach(), Net().lin.weight.detach())
    # the others did step
    assert int(opt.state[model.lin.weight]["step"]) == 3


# ----------------------------------------------------------------------------
# 5. param groups as separate optimizers
# ----------------------------------------------------------------------------

def _group_hp(info, which):
    """Different hyperparameters for the two groups."""
    if which == 0:
        hp = {"lr": 2e-2, "weight_decay": 0.0}
    else:
        hp = {"lr": 5e-3, "weight_decay": 0.05}
        if info.n_betas:
            hp["betas"] = info.betas(0.5, 0.9)
        if info.has_beta:
            hp["beta"] = 0.5
        if info.has_caution:
            hp["scope"] = "tensor"
    return hp


@pytest.mark.parametrize("foreach", [False, True], ids=["loop", "foreach"])
@pytest.mark.parametrize("name", NAMES)
def test_param_groups_behave_as_separate_optimizers(name, foreach):
    info = INFOS[name]
    data = batches(6)
    model = Net()
    a = [model.lin.weight, model.lin.bias]
    b = [model.scale, model.w3, model.dead]
    opt = make_opt(name, [{"params": a, **_group_hp(info, 0)}, {"params": b, **_group_hp(info, 1)}],
                   foreach=foreach)
    train(model, opt, data)

    ref = Net()
    ra, rb = [ref.lin.weight, ref.lin.bias], [ref.scale, ref.w3, ref.dead]
    opt_a = make_opt(name, ra, foreach=foreach, **_group_hp(info, 0))
    opt_b = make_opt(name, rb, foreach=foreach, **_group_hp(info, 1))
    for x, y in data:
        opt_a.zero_grad()
        opt_b.zero_grad()
        ref.loss(x, y).backward()
        opt_a.step()
        opt_b.step()
    assert_equal_lists(params_of(model), params_of(ref), what="params")
    assert_equal_lists(state_of(model, opt), [
        {k: v.clone() for k, v in (opt_a.state[p] if p in opt_a.state else opt_b.state[p]).items()}
        for p in ref.parameters()], what="state")

    # the group values really are used: a second-group-only lr change alters only that group
    other = Net()
    hp1 = {**_group_hp(info, 1), "lr": 0.0, "weight_decay": 0.0}
    opt2 = make_opt(name, [{"params": [other.lin.weight, other.lin.bias], **_group_hp(info, 0)},
                           {"params": [other.scale, other.w3, other.dead], **hp1}], foreach=foreach)
    train(other, opt2, data)
    fresh = Net()
    for n in ("scale", "w3", "dead"):
        assert torch.equal(getattr(other, n).detach(), getattr(fresh, n).detach()), f"{n} moved with lr=0"
    assert not torch.equal(other.lin.weight.detach(), fresh.lin.weight.detach())


# ----------------------------------------------------------------------------
# 6. foreach vs single tensor
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("name,kw", VARIANT_CASES)
def test_foreach_matches_single_tensor(name, kw):
    data = batches(30)
    runs = []
    for foreach in (True, False):
        model = Net()
        opt = make_opt(name, model.parameters(), lr=1e-2, foreach=foreach, **kw)
        train(model, opt, data)
        runs.append((params_of(model), state_of(model, opt)))
    (pf, sf), (pl, sl) = runs
    assert_equal_lists(pf, pl, exact=False, tol=1e-12, what="params")
    assert_equal_lists(sf, sl, exact=False, tol=1e-12, what="state")
    assert all(torch.isfinite(p).all() for p in pf)
    moved = [not torch.equal(a, b) for a, b in zip(pf, params_of(Net()))]
    assert moved[IDX["lin.weight"]] and moved[IDX["scale"]], "the optimizer did not move the parameters"


# ----------------------------------------------------------------------------
# 7. dtypes
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_float32_matches_float64(name):
    steps, lr = 10, 1e-2
    data64 = batches(steps)
    out = {}
    for dt in (torch.float32, torch.float64):
        model = Net(dtype=dt)
        opt = make_opt(name, model.parameters(), lr=lr)
        train(model, opt, [(x.to(dt), y.to(dt)) for x, y in data64])
        out[dt] = params_of(model)
        assert all(p.dtype == dt for p in out[dt])
        assert all(v.dtype == dt for st in opt.state.values() for k, v in st.items() if k != "step")
    start = params_of(Net())
    for p32, p64, p0 in zip(out[torch.float32], out[torch.float64], start):
        d64, d32 = p64 - p0, p32.double() - p0
        scale = d64.abs().max().item()
        err = (d32 - d64).abs().max().item()
        assert err <= 1e-4 * scale + 1e-6, f"float32 displacement differs by {err} (scale {scale})"
    assert (out[torch.float64][0] - start[0]).abs().max() > 1e-4


@pytest.mark.parametrize("name", NAMES)
def test_bfloat16_runs_and_stays_finite(name):
    model = Net(dtype=torch.bfloat16)
    start = params_of(model)
    opt = make_opt(name, model.parameters(), lr=5e-2, **({"weight_decay": 1e-2} if name != "Adam" else {}))
    train(model, opt, batches(5, dtype=torch.bfloat16))
    assert all(p.dtype == torch.bfloat16 for p in model.parameters())
    assert all_finite(model, opt)
    assert any(not torch.equal(a, b) for a, b in zip(params_of(model), start))


# ----------------------------------------------------------------------------
# 8. sparse gradients
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("foreach", [False, True], ids=["loop", "foreach"])
@pytest.mark.parametrize("name", NAMES)
def test_sparse_gradient_raises(name, foreach):
    dense = nn.Parameter(torch.randn(3, dtype=DT))
    emb = nn.Embedding(5, 2, sparse=True, dtype=DT)
    before = [dense.detach().clone(), emb.weight.detach().clone()]
    opt = make_opt(name, [dense, emb.weight], foreach=foreach)
    (emb(torch.tensor([0, 2])).sum() + dense.sum()).backward()
    assert emb.weight.grad.is_sparse
    with pytest.raises(RuntimeError, match="sparse") as ei:
        opt.step()
    assert "parameter 1" in str(ei.value) and "param group 0" in str(ei.value)
    assert torch.equal(dense.detach(), before[0]) and torch.equal(emb.weight.detach(), before[1])
    assert len(opt.state) == 0


# ----------------------------------------------------------------------------
# 9. non-finite gradients
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_nonfinite_propagate_puts_nan_in_parameter(name):
    grad = torch.tensor([NAN, 1.0, -2.0], dtype=DT)
    # torch.optim.AdamW does it: that is the behaviour "propagate" copies
    ref = nn.Parameter(torch.ones(3, dtype=DT))
    torch_opt = torch.optim.AdamW([ref])
    ref.grad = grad.clone()
    torch_opt.step()
    assert torch.isnan(ref[0]) and torch.isfinite(ref[1:]).all()

    for foreach in (False, True):
        p = nn.Parameter(torch.ones(3, dtype=DT))
        opt = make_opt(name, [p], foreach=foreach)
        assert opt.defaults["nonfinite"] == "propagate"
        p.grad = torch.tensor([0.5, 1.0, -2.0], dtype=DT)
        opt.step()
        before = p.detach().clone()
        p.grad = grad.clone()
        opt.step()   # no check, no exception
        assert opt.skipped_steps == 0
        if name in SIGN_BASED:
            # documented: torch.sign(nan) == 0, so the NaN stays in the momentum and the coordinate freezes
            assert torch.isnan(opt.state[p]["m"][0]) and p[0] == before[0], p.tolist()
        else:
            assert torch.isnan(p[0]), (f"foreach={foreach}: NaN gradient did not reach the parameter: "
                                       f"{p.tolist()}, state {({k: v.tolist() for k, v in opt.state[p].items()})}")


SIGN_BASED = {"Lion", "CLion", "SignedMomentum", "CSignedMomentum"}


def _bad_grads(model, data, bad):
    """Fresh gradients with one non-finite entry in ``w3`` (parameter ``IDX["w3"]`` of the model)."""
    model.zero_grad()
    model.loss(*data).backward()
    model.w3.grad[1, 2, 0] = bad


@pytest.mark.parametrize("bad", [NAN, INF, -INF], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("warm", [0, 3], ids=["first-step", "after-3"])
@pytest.mark.parametrize("name", NAMES)
def test_nonfinite_raise_leaves_everything_unchanged(name, warm, bad):
    data = batches(warm + 1)
    for foreach in (False, True):
        model = Net()
        opt = make_opt(name, model.parameters(), lr=1e-2, nonfinite="raise", foreach=foreach)
        train(model, opt, data[:warm])
        p_before, s_before = params_of(model), state_of(model, opt)
        _bad_grads(model, data[warm], bad)
        with pytest.raises(FloatingPointError) as ei:
            opt.step()
        assert f"parameter {IDX['w3']} of param group 0" in str(ei.value)
        assert_equal_lists(params_of(model), p_before, what="params")
        assert_equal_lists(state_of(model, opt), s_before, what="state")
        assert opt.skipped_steps == 0
        # a finite step afterwards works
        train(model, opt, data[warm:])
        assert all_finite(model, opt)


@pytest.mark.parametrize("name", NAMES)
def test_nonfinite_raise_updates_nothing_in_any_group(name):
    """The error says "nothing was updated": that must hold for every param group,
    not only for the group that holds the bad gradient."""
    data = batches(2)
    model = Net()
    opt = make_opt(name, [{"params": [model.lin.weight, model.lin.bias]},
                          {"params": [model.scale, model.w3, model.dead]}], lr=1e-2, nonfinite="raise")
    train(model, opt, data[:1])
    p_before, s_before = params_of(model), state_of(model, opt)
    _bad_grads(model, data[1], NAN)
    with pytest.raises(FloatingPointError, match="nothing was updated") as ei:
        opt.step()
    assert "parameter 1 of param group 1" in str(ei.value)
    assert_equal_lists(state_of(model, opt), s_before, what="state")
    assert_equal_lists(params_of(model), p_before, what="params")


@pytest.mark.parametrize("bad", [NAN, INF], ids=["nan", "inf"])
@pytest.mark.parametrize("name", NAMES)
def test_nonfinite_skip(name, bad):
    data = batches(6)
    model = Net()
    opt = make_opt(name, model.parameters(), lr=1e-2, nonfinite="skip")
    train(model, opt, data[:3])
    p_before, s_before = params_of(model), state_of(model, opt)
    _bad_grads(model, data[3], bad)
    assert opt.step() is None
    assert opt.skipped_steps == 1
    assert_equal_lists(params_of(model), p_before, what="params")
    assert_equal_lists(state_of(model, opt), s_before, what="state")
    _bad_grads(model, data[3], bad)
    opt.step()
    assert opt.skipped_steps == 2
    train(model, opt, data[4:])
    assert opt.skipped_steps == 2

    # the skipped steps were as if step() had never been called
    ref = Net()
    ref_opt = make_opt(name, ref.parameters(), lr=1e-2, nonfinite="skip")
    train(ref, ref_opt, data[:3] + data[4:])
    assert ref_opt.skipped_steps == 0
    assert_equal_lists(params_of(model), params_of(ref), what="params")
    assert_equal_lists(state_of(model, opt), state_of(ref, ref_opt), what="state")


# ----------------------------------------------------------------------------
# 10. all-masked steps
# ----------------------------------------------------------------------------

ALL_MASKED = ["CAdamW", "CLion", "CGDM", "CSignedMomentum", "AMS"]
NORMS = [("ams", {}), ("nnz_xi", {}), ("nnz_xi", {"xi": 0.0}), ("mean_eps", {}), ("mean_eps", {"mask_eps": 0.0}),
         ("update_l1", {}), ("none", {})]


def _opposing_grads(shapes, seed=3):
    """Step 1: g = r (builds momentum along r); step 2: g = -0.01 r, which every preset's
    direction opposes (its momentum still points along r)."""
    g = torch.Generator().manual_seed(seed)
    rs = []
    for s in shapes:
        r = torch.randn(s, generator=g, dtype=DT)
        rs.append(torch.where(r.abs() < 0.1, torch.full_like(r, 0.5), r))
    return rs, [-0.01 * r for r in rs]


@pytest.mark.parametrize("wd", ["none", "after", "after_scaled"])
@pytest.mark.parametrize("mask", ["elementwise", "inner"])
@pytest.mark.parametrize("scope", ["tensor", "group"])
@pytest.mark.parametrize("norm,extra", NORMS, ids=[n + "".join(f"-{k}{v}" for k, v in e.items()) for n, e in NORMS])
@pytest.mark.parametrize("name", ALL_MASKED)
def test_all_masked_step_is_finite_and_zero(name, norm, extra, scope, mask, wd):
    shapes = [(3, 4), (), (2, 3, 2)]
    lr, gamma = 1e-2, 0.1
    for foreach in (False, True):
        ps = [nn.Parameter(torch.randn(s, generator=torch.Generator().manual_seed(7), dtype=DT)) for s in shapes]
        kw = dict(lr=lr, normalize=norm, scope=scope, mask=mask, lam=0.0, foreach=foreach, **extra)
        if wd == "none":
            kw["weight_decay"] = 0.0
        else:
            kw.update(weight_decay=gamma, weight_decay_mode=wd)
        opt = make_opt(name, ps, **kw)
        g1, g2 = _opposing_grads(shapes)
        for p, g in zip(ps, g1):
            p.grad = g.clone()
        opt.step()
        before = [p.detach().clone() for p in ps]
        for p, g in zip(ps, g2):
            p.grad = g.clone()
        opt.step()
        tensors = [p.detach() for p in ps] + [v for st in opt.state.values() for v in st.values()]
        assert all(torch.isfinite(t).all() for t in tensors), "NaN/inf after an all-masked step"
        for p, b in zip(ps, before):
            if wd == "none":
                assert torch.equal(p.detach(), b), f"all-masked step moved the parameter ({norm}, {scope})"
            elif wd == "after":
                assert torch.equal(p.detach(), b * (1 - lr * gamma))
            else:   # after_scaled: the literal box decays by 1 - lr*gamma*scale, scale from the empty count
                d = sum(math.prod(s) for s in shapes) if scope == "group" else b.numel()
                scale = _empty_count_scale(norm, d, extra)
                torch.testing.assert_close(p.detach(), b * (1 - lr * gamma * scale), rtol=1e-14, atol=0)


def _empty_count_scale(norm, d, extra):
    """The rescaling factor of a scope where nothing is aligned (zero denominators give 0)."""
    if norm == "nnz_xi":
        xi = extra.get("xi", 1.0)
        return d / xi if xi else 0.0
    if norm == "mean_eps":
        eps = extra.get("mask_eps", 1e-8)
        return 1 / eps if eps else 0.0
    if norm == "none":
        return 1.0
    return 0.0      # "ams": d / 0, "update_l1": d / |0|_1


# ----------------------------------------------------------------------------
# float64 exactness of the mask coefficient
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("lam", [-0.1, 0.3, -1.0 / 3.0])
@pytest.mark.parametrize("mask", ["elementwise", "inner"])
@pytest.mark.parametrize("name", ["CGDM", "CSignedMomentum"])
def test_opposed_coefficient_is_exact_in_float64(name, mask, lam):
    """An opposed step moves by exactly lr * lam * u in float64 (no float32 rounding of lam)."""
    lr = 1.0
    r = torch.tensor([1.0, 2.0, -3.0], dtype=DT)
    p = nn.Parameter(torch.zeros(3, dtype=DT))
    opt = make_opt(name, [p], lr=lr, mask=mask, lam=lam, normalize="none")
    p.grad = r.clone()
    opt.step()
    w1 = p.detach().clone()
    g2 = -0.01 * r
    p.grad = g2.clone()
    opt.step()
    if name == "CGDM":
        u = r * 0.9 + g2                        # s <- beta s + g
    else:
        u = torch.sign(torch.zeros(3, dtype=DT).lerp(r, 0.1).lerp(g2, 0.1))  # m <- lerp(m, g, 1-beta)
    expected = w1.add(u * lam, alpha=-lr)
    torch.testing.assert_close(p.detach(), expected, rtol=1e-15, atol=1e-15)


# ----------------------------------------------------------------------------
# 11. CUDA
# ----------------------------------------------------------------------------

@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("foreach", [None, False], ids=["foreach-default", "loop"])
@pytest.mark.parametrize("name,kw", SAMPLE_CASES)
def test_cuda_matches_cpu(name, kw, foreach):
    data = batches(10)
    out = {}
    for dev in ("cpu", "cuda"):
        model = Net(device=dev)
        opt = make_opt(name, model.parameters(), lr=1e-2, foreach=foreach, **kw)
        train(model, opt, [(x.to(dev), y.to(dev)) for x, y in data])
        assert all(p.device.type == dev for p in model.parameters())
        assert all(v.device.type == dev for st in opt.state.values() for k, v in st.items() if k != "step")
        out[dev] = (params_of(model), state_of(model, opt))
    assert_equal_lists(out["cuda"][0], out["cpu"][0], exact=False, tol=1e-10, what="params")
    assert_equal_lists(out["cuda"][1], out["cpu"][1], exact=False, tol=1e-10, what="state")


# ----------------------------------------------------------------------------
# the dispatch policy and what a copy keeps
# ----------------------------------------------------------------------------

def test_step_path_policy():
    from ams_theory.optim.optimizers import step_path
    cpu = [torch.zeros(2)]
    base = dict(fused=False, foreach=None, chunk_size=2 ** 18)
    assert step_path(base, cpu) == "chunked"
    assert step_path({**base, "chunk_size": 0}, cpu) == "loop"
    assert step_path({**base, "foreach": True}, cpu) == "foreach"
    assert step_path({**base, "fused": True, "foreach": None}, cpu) == "fused"


def test_skipped_steps_survive_deepcopy_pickle_and_state_dict():
    import pickle

    p = nn.Parameter(torch.ones(3, dtype=DT))
    opt = ams_theory.AdamW([p], nonfinite="skip")
    p.grad = torch.tensor([1.0, float("nan"), 0.0], dtype=DT)
    opt.step()
    assert opt.skipped_steps == 1
    assert copy.deepcopy(opt).skipped_steps == 1 and pickle.loads(pickle.dumps(opt)).skipped_steps == 1
    again = ams_theory.AdamW([p])
    again.load_state_dict(opt.state_dict())
    assert again.skipped_steps == 1
    again.load_state_dict(torch.optim.AdamW([p]).state_dict())     # torch's own state dict: no count, 0
    assert again.skipped_steps == 0
