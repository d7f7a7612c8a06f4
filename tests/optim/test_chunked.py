"""The chunked single-tensor path equals the whole-tensor paths.

The CPU loop path runs each rule on flat pieces of at most ``chunk_size`` entries,
recording scope reductions in a pure first pass and replaying them in the second
(``ChunkedLoopOps``). Tiny chunk sizes force tensors to be split across batches and
batches to mix tensors, so any reduction taken over a piece instead of its scope,
or any write during the recording pass, shows up as a difference here.
"""

import pytest
import torch

import ams_theory
from ams_theory.core import rules
from ams_theory.optim.runtimes import ChunkedLoopOps

DT = torch.float64
SHAPES = [(5, 7), (), (3, 4, 2), (11,), (1,)]

VARIANTS = [
    {},
    dict(scope="tensor"),
    dict(scope="group", normalize="ams", lam=-0.3, tie="aligned"),
    dict(normalize="mean_eps", mask_eps=1e-3),
    dict(normalize="update_l1", lam=0.5, tie="opposed"),
    dict(mask="inner", lam=-0.1),
    dict(mask="inner", scope="tensor", normalize="ams"),
    dict(mask="inner", normalize="update_l1", lam=-0.3),      # |c u|_1 needs c = sign(<u, s>) of the whole scope
    dict(weight_decay=0.1, weight_decay_mode="after_scaled"),
    dict(weight_decay=0.1, weight_decay_mode="l2"),
]


def _run(cls, kw, steps=12):
    gen = torch.Generator().manual_seed(3)
    params = [torch.nn.Parameter(torch.randn(s, generator=gen, dtype=DT)) for s in SHAPES]
    opt = cls(params, lr=1e-2, **kw)
    for k in range(steps):
        for p in params:
            g = torch.randn(p.shape, generator=gen, dtype=DT)
            if p.numel() > 1:
                g.view(-1)[k % p.numel()] = 0.0          # exact zeros: ties
            p.grad = g
        opt.step()
    return torch.cat([p.detach().reshape(-1) for p in params]), opt


def _kwargs(name, variant):
    cls = ams_theory.PRESETS[name]
    kw = dict(variant)
    if name == "GD":
        kw = {k: v for k, v in kw.items() if k in ("weight_decay", "weight_decay_mode")}
    elif "mask" not in kw and cls.PRESET.get("mask") is None and any(
            k in kw for k in ("scope", "normalize", "lam", "tie", "mask_eps")):
        kw["mask"] = "elementwise"
    if name == "AMS" and kw.get("weight_decay_mode") == "l2":
        kw["betas"] = (0.9, 0.999, 0.5)
    return cls, kw


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: ",".join(f"{k}={v[k]}" for k in v) or "preset")
@pytest.mark.parametrize("name", list(ams_theory.PRESETS))
def test_chunked_equals_whole_and_foreach(name, variant):
    cls, kw = _kwargs(name, variant)
    whole, _ = _run(cls, dict(kw, foreach=False, chunk_size=0))
    fe, _ = _run(cls, dict(kw, foreach=True))
    torch.testing.assert_close(fe, whole, rtol=1e-12, atol=1e-13)
    for chunk in (1, 4, 9, 64):
        got, _ = _run(cls, dict(kw, foreach=False, chunk_size=chunk))
        torch.testing.assert_close(got, whole, rtol=1e-12, atol=1e-13, msg=f"chunk_size={chunk}")


def test_recording_pass_writes_nothing():
    gen = torch.Generator().manual_seed(0)
    w = [torch.randn(6, generator=gen, dtype=DT)]
    g = [torch.tensor([1.0, -2.0, 0.5, 3.0, -1.0, 2.0], dtype=DT)]
    state = dict(m=[g[0] * torch.tensor([1.0, 1.0, -1.0, 2.0, 0.5, -3.0], dtype=DT)],   # four aligned entries
                 v=[torch.rand(6, generator=gen, dtype=DT)])
    before = [x.clone() for x in (w[0], g[0], state["m"][0], state["v"][0])]
    hp = dict(lr=0.1, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1, weight_decay_mode="after_scaled",
              mask="elementwise", lam=0.0, tie="zero", normalize="nnz_xi", xi=1.0, mask_eps=1e-8, scope="tensor")
    tape = []
    rules.ams_step(ChunkedLoopOps([0], {0: 6}, tape, replay=False), w, g, state, hp, [2])
    after = (w[0], g[0], state["m"][0], state["v"][0])
    assert all(torch.equal(a, b) for a, b in zip(before, after))
    assert tape and tape[0][0] > 0          # the aligned count was recorded


def test_replay_without_recording_is_an_error():
    hp = dict(lr=0.1, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.0, mask="elementwise", lam=0.0, tie="zero",
              normalize="nnz_xi", xi=1.0, mask_eps=1e-8, scope="tensor")
    with pytest.raises(RuntimeError, match="more reductions than were recorded"):
        rules.ams_step(ChunkedLoopOps([0], {0: 3}, [], replay=True), [torch.zeros(3)], [torch.ones(3)],
                       dict(m=[torch.zeros(3)], v=[torch.zeros(3)]), hp, [1])


def test_a_wrong_replay_would_be_caught(monkeypatch):
    """Mutation: replaying a piece's own partial sum instead of its scope total changes the result."""
    cls, kw = _kwargs("CAdamW", {})
    whole, _ = _run(cls, dict(kw, foreach=False, chunk_size=0))

    def local_reduce(self, partial):
        return [float(v) for v in partial()]

    monkeypatch.setattr(ChunkedLoopOps, "_reduce", local_reduce)
    got, _ = _run(cls, dict(kw, foreach=False, chunk_size=4))
    assert not torch.allclose(got, whole, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("bad", [-1, 2.5, True, "big"])
def test_bad_chunk_size(bad):
    with pytest.raises(ValueError, match="chunk_size"):
        ams_theory.CAdamW([torch.nn.Parameter(torch.zeros(2))], chunk_size=bad)


def _dependent_sums_rule(ops, w, g, state, hp, t=None):
    """A rule whose second scope sum depends on the first (no preset does this): sum(g * sum(g))."""
    first = ops.total(g)
    second = ops.total(ops.mul(g, first))
    step = ops.mul(g, ops.smap(lambda a: 1.0 / (1.0 + abs(a)), second))
    return ops.add_(w, step, alpha=-hp["lr"]), dict(state)


class _DependentSums(ams_theory.CGDM):
    rule = staticmethod(_dependent_sums_rule)


def test_rule_with_dependent_scope_sums_is_refused_not_stepped_wrongly():
    """Pieces record partial sums; a sum computed from a partial one would be wrong after replay."""
    def run(chunk):
        p = torch.nn.Parameter(torch.arange(12, dtype=DT) / 7 - 0.5)
        p.grad = torch.linspace(-1, 2, 12, dtype=DT)
        _DependentSums([p], lr=0.1, chunk_size=chunk).step()
        return p.detach()

    whole = run(0)
    assert not torch.equal(whole, torch.arange(12, dtype=DT) / 7 - 0.5)
    with pytest.raises(RuntimeError, match="depends on another one; the chunked path cannot evaluate it"):
        run(4)
    torch.testing.assert_close(run(64), whole, rtol=0, atol=0)    # one batch: the sums are complete
