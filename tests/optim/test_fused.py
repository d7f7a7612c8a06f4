"""The fused (torch.compile) path: equivalence with the foreach and single-tensor paths, float32 state
for bfloat16 parameters, device step counts (capturable), the GradScaler protocol, and flag errors.

The fused step is the same rule function compiled; these tests hold it to the reference paths
over many steps. The first call of each configuration compiles (seconds on the CPU).
"""
from __future__ import annotations

import copy

import pytest
import torch
from optimizer_infos import INFOS, NAMES, Net, batches, params_of, state_of, train

import ams_theory
from ams_theory import PRESETS

pytestmark = pytest.mark.fused
STEPS = 20


def run(name, foreach=None, fused=None, steps=STEPS, dtype=torch.float64, device="cpu", **kw):
    model = Net(dtype=dtype, device=device)
    opt = PRESETS[name](model.parameters(), lr=1e-2, foreach=foreach, fused=fused, **kw)
    train(model, opt, batches(steps, dtype=dtype, device=device))
    return model, opt


def _kw(name):
    """Weight decay on where the preset has it, so that every preset's decay order is exercised."""
    return {"weight_decay": 0.1} if name != "Adam" else {"weight_decay": 0.05}


@pytest.mark.parametrize("name", NAMES)
def test_fused_matches_single_tensor_and_foreach(name):
    fused_model, fused_opt = run(name, fused=True, **_kw(name))
    for foreach in (False, True):
        model, opt = run(name, foreach=foreach, **_kw(name))
        for a, b in zip(params_of(fused_model), params_of(model)):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
        for sa, sb in zip(state_of(fused_model, fused_opt), state_of(model, opt)):
            for k in sb:
                torch.testing.assert_close(sa[k].cpu().to(sb[k].dtype), sb[k], rtol=1e-12, atol=1e-14)
    start = params_of(Net())
    assert any((a - b).abs().max() > 1e-4 for a, b in zip(params_of(fused_model), start))


@pytest.mark.parametrize("kw", [dict(scope="tensor"), dict(mask="inner", lam=-0.1, normalize="ams"),
                                dict(normalize="update_l1", lam=-0.5), dict(eps_mode="uncorrected")],
                         ids=["scope-tensor", "mask-inner", "update_l1", "eps-uncorrected"])
def test_fused_conventions_match(kw):
    fused_model, _ = run("CAdamW", fused=True, **kw)
    model, _ = run("CAdamW", foreach=False, **kw)
    for a, b in zip(params_of(fused_model), params_of(model)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


def test_fused_follows_a_changing_learning_rate():
    """A scheduler changes lr every step: the compiled step reads the current value each time."""
    out = []
    for fused in (True, False):
        model = Net()
        opt = PRESETS["Grams"](model.parameters(), lr=1e-2, fused=fused)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 / (1 + t))
        for x, y in batches(8):
            opt.zero_grad()
            model.loss(x, y).backward()
            opt.step()
            sched.step()
        out.append(params_of(model))
    for a, b in zip(*out):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


def _mlp(widths, seed):
    torch.manual_seed(seed)
    layers = []
    for a, b in zip(widths, widths[1:]):
        layers += [torch.nn.Linear(a, b, dtype=torch.float64), torch.nn.Tanh()]
    return torch.nn.Sequential(*layers[:-1])


def _scheduled_run(name, widths, fused, steps=12, seed=0):
    """OneCycleLR (lr and, by its default cycle_momentum=True, beta1 change every step) and a weight decay
    raised every step."""
    model = _mlp(widths, seed)
    opt = PRESETS[name](model.parameters(), lr=1e-2, weight_decay=0.01, fused=fused)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=steps)
    g = torch.Generator().manual_seed(seed + 1)
    for i in range(steps):
        x = torch.randn(6, widths[0], generator=g, dtype=torch.float64)
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
        sched.step()
        opt.param_groups[0]["weight_decay"] = 0.01 * (2 + i)
    betas = opt.param_groups[0]["betas"]
    return params_of(model), betas


@pytest.mark.parametrize("name", ["CAdamW", "Grams"])
def test_fused_compiles_once_for_any_model_and_scheduled_hyperparameters(name):
    """Buckets of tensors with dynamic sizes and hyperparameters as tensors: a second model of other sizes and
    count (more than one bucket), with lr, beta1 and the weight decay moved every step, compiles nothing new, and
    every model matches the single-tensor path (CAdamW's group count spans the buckets)."""
    from torch._dynamo.utils import counters

    from ams_theory.optim.fused import BUCKET

    first = [5, 9, 3]                        # 4 tensors: one padded bucket
    second = [7, 11, 13, 6, 4, 8, 5, 3, 2]   # 16 tensors: two buckets
    assert 2 * (len(second) - 1) > BUCKET
    for widths in (first, second):
        before = counters["stats"]["unique_graphs"]
        fused, betas = _scheduled_run(name, widths, fused=True)
        compiled = counters["stats"]["unique_graphs"] - before
        ref, ref_betas = _scheduled_run(name, widths, fused=False)
        assert betas == ref_betas and betas[0] != 0.9           # the scheduler did move beta1
        for a, b in zip(fused, ref):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
        if widths is second:
            assert compiled == 0, f"{compiled} new graph(s) for a model of other sizes with scheduled hyperparameters"


def test_fused_refuses_dependent_group_sums():
    from test_chunked import _DependentSums

    p = torch.nn.Parameter(torch.arange(12, dtype=torch.float64) / 7 - 0.5)
    p.grad = torch.linspace(-1, 2, 12, dtype=torch.float64)
    opt = _DependentSums([p], lr=0.1, fused=True)
    assert opt.param_groups[0]["scope"] == "group"
    with pytest.raises(RuntimeError, match="depends on another one; the fused path cannot evaluate it"):
        opt.step()
    assert float(opt.state[p]["step"]) == 0.0


def _untraceable_rule(ops, w, g, state, hp, t=None):
    """A rule with code the compiler cannot trace (here an explicit graph break)."""
    torch._dynamo.graph_break()
    return ops.add_(w, ops.copy(g), alpha=-hp["lr"]), dict(state)


class _Untraceable(ams_theory.GDM):
    rule = staticmethod(_untraceable_rule)


def test_fused_rule_that_breaks_the_graph_is_one_line():
    p = torch.nn.Parameter(torch.ones(3))
    p.grad = torch.ones(3)
    opt = _Untraceable([p], fused=True)
    with pytest.raises(RuntimeError, match=r"_Untraceable\(fused=True\): the rule cannot be compiled") as err:
        opt.step()
    assert "\n" not in str(err.value)
    assert float(opt.state[p]["step"]) == 0.0 and torch.equal(p.detach(), torch.ones(3))


@pytest.mark.parametrize("name", ["CAdamW", "Grams", "CLion"])
def test_bfloat16_state_is_float32_and_paths_agree(name):
    runs = {}
    for path in ("fused", "loop", "foreach"):
        model, opt = run(name, fused=path == "fused" or None, foreach={"loop": False, "foreach": True}.get(path),
                         steps=8, dtype=torch.bfloat16, **_kw(name))
        assert all(p.dtype == torch.bfloat16 for p in model.parameters())
        assert all(v.dtype == torch.float32 for st in opt.state.values() for k, v in st.items() if k != "step")
        runs[path] = (params_of(model), state_of(model, opt))
    for path in ("loop", "foreach"):
        for a, b in zip(runs["fused"][0], runs[path][0]):
            # one bfloat16 rounding of an update computed in float32: at most one ulp apart
            torch.testing.assert_close(a.float(), b.float(), rtol=2 ** -7, atol=1e-6)
        for sa, sb in zip(runs["fused"][1], runs[path][1]):
            for k in sb:
                if k != "step":
                    torch.testing.assert_close(sa[k], sb[k], rtol=1e-4, atol=1e-6)


def test_float32_state_for_bfloat16_is_not_a_bfloat16_run():
    """The reference path keeps float32 moments: a bfloat16 state would round v and m at every step."""
    model, opt = run("AdamW", foreach=False, steps=3, dtype=torch.bfloat16)
    st = opt.state[model.lin.weight]
    assert st["exp_avg" if "exp_avg" in st else "m"].dtype == torch.float32


@pytest.mark.parametrize("capturable", [False, True])
@pytest.mark.parametrize("name", ["CAdamW", "AMS", "CLion"])
def test_capturable_keeps_the_step_count_on_the_device_and_changes_nothing_else(name, capturable):
    model, opt = run(name, foreach=False, capturable=capturable, steps=6)
    ref, _ = run(name, foreach=False, steps=6)
    for a, b in zip(params_of(model), params_of(ref)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
    for st in opt.state.values():
        assert torch.is_tensor(st["step"]) and float(st["step"]) == 6.0


def test_fused_state_dict_round_trip():
    data = batches(10)
    model, opt = Net(), None
    opt = PRESETS["CAdamW"](model.parameters(), lr=1e-2, fused=True)
    train(model, opt, data[:4])
    saved_model, saved_opt = copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())
    train(model, opt, data[4:])
    other = Net()
    other.load_state_dict(saved_model)
    opt2 = PRESETS["CAdamW"](other.parameters(), lr=1e-2, fused=True)
    opt2.load_state_dict(saved_opt)
    train(other, opt2, data[4:])
    for a, b in zip(params_of(model), params_of(other)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------
# torch.amp.GradScaler
# --------------------------------------------------------------------------

def _scaled_run(name, fused, bad_step=None, steps=6):
    model = Net(dtype=torch.float32)
    opt = PRESETS[name](model.parameters(), lr=1e-2, fused=fused, weight_decay=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=2)
    snapshots = []
    for t, (x, y) in enumerate(batches(steps, dtype=torch.float32)):
        opt.zero_grad()
        scaler.scale(model.loss(x, y)).backward()
        if t == bad_step:
            model.w3.grad[0, 0, 0] = float("inf")
            snapshots.append((params_of(model), state_of(model, opt)))
        grads_before = [p.grad.clone() for p in model.parameters()]
        scaler.step(opt)
        scaler.update()
        if fused:   # the fused step unscales inside the kernel: p.grad is left as it was
            assert all(torch.equal(a, p.grad) for a, p in zip(grads_before, model.parameters()))
        if t == bad_step:
            snapshots.append((params_of(model), state_of(model, opt)))
    return model, opt, snapshots


@pytest.mark.parametrize("name", ["CAdamW", "Grams"])
def test_grad_scaler_fused_matches_unfused(name):
    assert getattr(PRESETS[name]([torch.nn.Parameter(torch.zeros(1))], fused=True),
                   "_step_supports_amp_scaling", False)
    assert not getattr(PRESETS[name]([torch.nn.Parameter(torch.zeros(1))]), "_step_supports_amp_scaling", False)
    a, _, _ = _scaled_run(name, fused=True)
    b, _, _ = _scaled_run(name, fused=False)
    for x, y in zip(params_of(a), params_of(b)):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "unfused"])
def test_grad_scaler_inf_skips_the_whole_step(fused):
    model, opt, ((p0, s0), (p1, s1)) = _scaled_run("CAdamW", fused=fused, bad_step=3)
    for a, b in zip(p0, p1):
        assert torch.equal(a, b)
    for a, b in zip(s0, s1):
        for k in a:
            assert torch.equal(a[k].cpu(), b[k].cpu()), k
    assert all(float(st["step"]) == 5.0 for st in opt.state.values())   # 6 steps, one skipped


# --------------------------------------------------------------------------
# flags
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_fused_flag_errors(name):
    p = [torch.nn.Parameter(torch.zeros(2))]
    with pytest.raises(ValueError, match="fused=True and foreach=True cannot be set together"):
        PRESETS[name](p, fused=True, foreach=True)
    with pytest.raises(ValueError, match="Invalid fused: 'yes'"):
        PRESETS[name](p, fused="yes")
    with pytest.raises(ValueError, match="Invalid capturable: 1"):
        PRESETS[name](p, capturable=1)
    assert "fused" in PRESETS[name]([torch.nn.Parameter(torch.zeros(2))]).defaults
    assert INFOS[name].cls is PRESETS[name]


# --------------------------------------------------------------------------
# CUDA (skipped without a device)
# --------------------------------------------------------------------------

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("name", NAMES)
def test_cuda_fused_matches_cpu_single_tensor(name):
    gpu, gopt = run(name, fused=True, device="cuda", **_kw(name))
    cpu, _ = run(name, foreach=False, **_kw(name))
    for a, b in zip(params_of(gpu), params_of(cpu)):
        torch.testing.assert_close(a.cpu(), b, rtol=1e-10, atol=1e-12)
    assert all(st["step"].device.type == "cuda" for st in gopt.state.values())


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("name", ["CAdamW", "Grams"])
def test_cuda_capturable_step_replays_in_a_cuda_graph(name):
    """Warm up, capture one step in a CUDA graph, replay it: the same as stepping eagerly."""
    data = batches(6, device="cuda")
    models = [Net(device="cuda") for _ in range(2)]
    opts = [PRESETS[name](m.parameters(), lr=1e-2, capturable=True, foreach=True) for m in models]
    for m, o in zip(models, opts):
        train(m, o, data[:3])
    x_static, y_static = data[3][0].clone(), data[3][1].clone()
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    graph = torch.cuda.CUDAGraph()
    m, o = models[0], opts[0]
    o.zero_grad(set_to_none=False)
    m.loss(x_static, y_static).backward()
    with torch.cuda.graph(graph):
        o.step()
    for x, y in data[3:]:
        x_static.copy_(x)
        y_static.copy_(y)
        o.zero_grad(set_to_none=False)
        m.loss(x_static, y_static).backward()
        graph.replay()
    train(models[1], opts[1], data[3:])
    for a, b in zip(params_of(models[0]), params_of(models[1])):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_compiler_failure_is_one_line_and_counts_nothing(monkeypatch):
    import torch._dynamo.exc

    import ams_theory.optim.fused as fz

    def broken(*args, **kwargs):
        raise torch._dynamo.exc.BackendCompilerFailed(lambda *a: None, RuntimeError("no C++ compiler found"), None)

    monkeypatch.setattr(fz, "compiled_update", broken)
    p = torch.nn.Parameter(torch.ones(3))
    p.grad = torch.ones(3)
    opt = PRESETS["CAdamW"]([p], fused=True)
    with pytest.raises(RuntimeError, match=r"CAdamW\(fused=True\) needs torch.compile .* Use fused=False") as err:
        opt.step()
    assert "\n" not in str(err.value)
    assert float(opt.state[p]["step"]) == 0.0 and torch.equal(p.detach(), torch.ones(3))


@pytest.mark.parametrize("fused", [None, True], ids=["loop", "fused"])
def test_bfloat16_state_stays_float32_through_state_dict(fused):
    """load_state_dict casts state to the parameter dtype in torch's policy; float32 moments must survive."""
    data = batches(8, dtype=torch.bfloat16)
    model, opt = Net(dtype=torch.bfloat16), None
    opt = PRESETS["CAdamW"](model.parameters(), lr=1e-2, fused=fused)
    train(model, opt, data[:3])
    saved_model, saved_opt = copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())
    train(model, opt, data[3:])
    other = Net(dtype=torch.bfloat16)
    other.load_state_dict(saved_model)
    opt2 = PRESETS["CAdamW"](other.parameters(), lr=1e-2, fused=fused)
    opt2.load_state_dict(saved_opt)
    assert all(v.dtype == torch.float32 for st in opt2.state.values() for k, v in st.items())
    train(other, opt2, data[3:])
    for a, b in zip(params_of(model), params_of(other)):
        assert torch.equal(a, b)


def _compiler_settings():
    from torch.fx.experimental import _config as fx_config

    return (torch._dynamo.config.recompile_limit, torch._dynamo.config.specialize_float, fx_config.use_duck_shape,
            fx_config.backed_size_oblivious)


def test_the_compiler_settings_are_set_for_the_call_and_restored(monkeypatch):
    """The fused step traces under its own settings (seen inside the compiled call) and leaves the user's as they
    were, after a step and after a step that fails."""
    import ams_theory.optim.fused as fz

    before, seen = _compiler_settings(), []
    original = fz.compiled_update

    def spy(*args, **kwargs):
        seen.append(_compiler_settings())
        return original(*args, **kwargs)

    monkeypatch.setattr(fz, "compiled_update", spy)
    run("Grams", fused=True, steps=2)
    assert _compiler_settings() == before
    assert seen and all(s[1:] == (True, False, True) and s[0] >= fz.RECOMPILE_LIMIT for s in seen)

    def broken(*args, **kwargs):
        raise ValueError("planted")

    monkeypatch.setattr(fz, "compiled_update", broken)
    with pytest.raises(ValueError, match="planted"):
        run("Grams", fused=True, steps=1)
    assert _compiler_settings() == before
