"""Sharded parameters on 2-D (and 3-D) device meshes take the same steps as unsharded ones.

Four CPU processes (gloo) are spawned once for the module, with the machinery of
``test_sharding.py``; they form a 2x2 mesh. Every preset of :data:`ams_theory.PRESETS`
trains the same float64 parameters of odd shapes (uneven and empty shards) sharded and
unsharded for 15 steps, in two layouts:

- ``hsdp``: HSDP, every tensor ``(Replicate(), Shard(0))``, and a plain tensor;
- ``tp``: FSDP2 + tensor parallel, matrices ``(Shard(0), Shard(1))``, vectors ``(Shard(0), Replicate())``,
  and one each of ``(Shard(0), Shard(0))``, ``(Replicate(), Shard(0))``, ``(Replicate(), Replicate())``, plain;

then the masked variants (``scope="tensor"``, ``mask="inner"``, ``normalize="update_l1"``,
chunks, weight decay), FSDP2's ``_StridedShard``, a 3-D mesh, and two real models:
HSDP ``fully_shard`` and ``parallelize_module`` + ``fully_shard``. The gathered
parameters and state must agree with the unsharded run to 1e-12. Two mutations of the
sharded step (a replicated piece counted on every rank; every scope summed over every
mesh dimension) must make a masked comparison fail.
"""
from __future__ import annotations

import copy
import datetime
import time
import traceback

import pytest
import torch
import torch.distributed as dist
from optimizer_infos import NAMES
from test_sharding import (ALL_REDUCE, HAVE_DTENSOR, _check, _Collectives, fully_shard, run_cases,
                           spawn_reports, train_side_by_side, write_report)

import ams_theory

WORLD = 4
STEPS = 15
TIMEOUT_S = 300

if HAVE_DTENSOR:
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import DTensor, Partial, Replicate, Shard, distribute_tensor
    R, S0, S1 = Replicate(), Shard(0), Shard(1)

pytestmark = [pytest.mark.skipif(not HAVE_DTENSOR, reason="needs torch.distributed with gloo and DTensor"),
              pytest.mark.xdist_group("sharding-2d")]


def _layout(kind):
    """(mesh name, [(shape, placements or None for a plain tensor)])."""
    if kind == "hsdp":
        return "2d", [((7, 5), (R, S0)), ((3,), (R, S0)), ((1,), (R, S0)), ((5, 3), (R, S0)),
                      ((1, 4), (R, S0)), ((2,), None)]
    if kind == "tp":
        return "2d", [((7, 5), (S0, S1)), ((3,), (S0, R)), ((1,), (S0, R)), ((5, 3), (S0, S1)),
                      ((1, 4), (S0, S1)), ((6,), (S0, S0)), ((4,), (R, S0)), ((2, 3), (R, R)), ((2,), None)]
    if kind == "strided":       # what fully_shard puts on "dp" over a ColwiseParallel weight
        from torch.distributed.tensor.placement_types import _StridedShard

        return "2d", [((7, 5), (_StridedShard(0, split_factor=2), S0)), ((9,), (_StridedShard(0, split_factor=2), S0)),
                      ((3,), (S0, R))]
    if kind == "3d":
        return "3d", [((7, 5), (S0, R, S1)), ((3,), (R, R, S0)), ((5,), (S0, R, R)), ((2, 2), (R, R, R))]
    raise ValueError(kind)


def _reduces(name, kw):
    """Whether the case's rule makes scope reductions: a mask and a rescaling (from the preset's declared fields)."""
    hp = {**ams_theory.PRESETS[name].PRESET, **kw}
    return hp.get("mask") is not None and hp.get("normalize", "none") != "none"


# name -> (preset, keywords, layout); all_reduce calls per step: the mesh dims some scope is sharded along
CASES = {f"{n}-{kind}": (n, {}, kind) for n in NAMES for kind in ("hsdp", "tp")}
CASES.update({f"{n}-tp-tensor": (n, dict(scope="tensor"), "tp") for n in NAMES if _reduces(n, {})})
CASES.update({
    "CAdamW-hsdp-tensor": ("CAdamW", dict(scope="tensor"), "hsdp"),
    "CAdamW-tp-inner": ("CAdamW", dict(mask="inner"), "tp"),
    "CAdamW-tp-mean_eps": ("CAdamW", dict(normalize="mean_eps", mask_eps=1e-3), "tp"),
    "CAdamW-tp-update_l1": ("CAdamW", dict(normalize="update_l1", lam=0.5, tie="opposed"), "tp"),
    "CAdamW-tp-chunked": ("CAdamW", dict(chunk_size=4), "tp"),
    "CAdamW-tp-decay": ("CAdamW", dict(weight_decay=0.1), "tp"),
    "AMS-tp-lam": ("AMS", dict(lam=-0.5, tie="zero", betas=(0.9, 0.999, 0.5), normalize="ams"), "tp"),
    "CSignedMomentum-tp-counted": ("CSignedMomentum", dict(normalize="nnz_xi"), "tp"),
    "Adam-tp-masked": ("Adam", dict(mask="elementwise", normalize="nnz_xi", scope="group"), "tp"),
    "CLion-tp-inner-update_l1": ("CLion", dict(mask="inner", normalize="update_l1", lam=-0.3), "tp"),
    "CAdamW-strided": ("CAdamW", {}, "strided"),
    "CAdamW-3d": ("CAdamW", {}, "3d"),
    "CAdamW-3d-tensor": ("CAdamW", dict(scope="tensor"), "3d"),
})
EXPECTED = {"hsdp": 1, "tp": 2, "strided": 2, "3d": 2}    # scope="tensor" needs the same dims in these layouts
MUTATIONS = {"replicated-piece-counted-everywhere": "CAdamW-tp", "every-scope-over-every-dim": "CAdamW-hsdp"}
FSDP_CASES = {"hsdp-CAdamW": 1, "hsdp-AdamW": 0, "tp-CAdamW": 2, "tp-AMS": 2}


# ----------------------------------------------------------------------------- child processes

def _full(shapes, seed, step=None):
    gen = torch.Generator().manual_seed(seed)
    out = []
    for s in shapes:
        x = torch.randn(s, generator=gen, dtype=torch.float64)
        if step is not None and x.numel() > 1:
            x.view(-1)[step % x.numel()] = 0.0         # exact zeros: ties
        out.append(x)
    return out


def _place(x, mesh, placements):
    # every rank holds the same full tensor: no communication
    return x.clone() if placements is None else distribute_tensor(x.clone(), mesh, placements, src_data_rank=None)


def _ranks_of(args):
    """The ranks of the process group of a ``c10d.allreduce_`` call (its second argument)."""
    pg = args[1]
    return dist.get_process_group_ranks(pg if isinstance(pg, dist.ProcessGroup) else dist.ProcessGroup.unbox(pg))


class _Groups(_Collectives):
    """Records every c10d operation: an all_reduce as the ranks of its process group, others by name."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if "c10d" in func.namespace:
            self.ops.append(_ranks_of(args) if str(func) == ALL_REDUCE else str(func))
        return func(*args, **(kwargs or {}))


def _run_case(name, meshes):
    preset, kw, kind = CASES[name]
    mesh_name, layout = _layout(kind)
    mesh = meshes[mesh_name]
    shapes = [s for s, _ in layout]
    plain = [torch.nn.Parameter(x) for x in _full(shapes, 7)]
    sharded = [torch.nn.Parameter(_place(x, mesh, pl)) for x, (_, pl) in zip(_full(shapes, 7), layout)]
    cls = ams_theory.PRESETS[preset]
    ref, opt = cls(plain, lr=1e-2, **kw), cls(sharded, lr=1e-2, **kw)
    seen = []
    for t in range(STEPS):
        for p, q, g, (_, pl) in zip(plain, sharded, _full(shapes, 100 + t, step=t), layout):
            p.grad = g.clone()
            q.grad = _place(g, mesh, pl)
        ref.step()
        with _Groups() as rec:
            opt.step()
        seen.append(rec.ops)
    for i, (p, q) in enumerate(zip(plain, sharded)):
        for key, want in [("parameter", p.detach())] + [(k, v) for k, v in ref.state[p].items() if k != "step"]:
            got = q.detach() if key == "parameter" else opt.state[q][key]
            got = got.full_tensor() if isinstance(got, DTensor) else got
            torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14,
                                       msg=lambda m, i=i, key=key: f"parameter {i}, {key}: {m}")
    return seen


def _fsdp_case(name, mesh, rank):
    from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, parallelize_module

    kind, preset = name.split("-")
    torch.manual_seed(0)       # 3 output rows: uneven shards on "dp" (tensor parallel needs the 8 hidden units even)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).to(torch.float64)
    ref_model = copy.deepcopy(model)
    if kind == "hsdp":         # replicate over dim 0, shard over dim 1: every rank its quarter of the batch
        for layer in (model[0], model[2]):
            fully_shard(layer, mesh=mesh)
        fully_shard(model, mesh=mesh)
        parts, part = WORLD, rank
    else:                      # tensor parallel over "tp", FSDP2 over "dp": each dp rank its half of the batch
        parallelize_module(model, mesh["tp"], {"0": ColwiseParallel(), "2": RowwiseParallel()})
        for layer in (model[0], model[2]):
            fully_shard(layer, mesh=mesh["dp"])
        fully_shard(model, mesh=mesh["dp"])
        parts, part = mesh.size(0), mesh.get_local_rank("dp")
    cls = ams_theory.PRESETS[preset]
    ref, opt = cls(ref_model.parameters(), lr=1e-2), cls(model.parameters(), lr=1e-2)
    placements = [str(p.placements) for p in model.parameters()]
    seen = train_side_by_side(ref_model, ref, model, opt, part, parts, _Groups, STEPS)
    return {"collectives": seen, "placements": placements}


def _mutant(which, case, meshes):
    """Run ``case`` with the sharded step broken as ``which`` says: "caught" if the comparison fails."""
    from ams_theory.optim import sharded

    saved = sharded.piece_weight, sharded._complete
    if which == "replicated-piece-counted-everywhere":
        sharded.piece_weight = lambda dims, reduced, coord: 1.0
    else:
        sharded._complete = lambda tape, mesh, dims: saved[1](tape, mesh, {i: frozenset(range(mesh.ndim)) for i in dims})
    try:
        _run_case(case, meshes)
        return "not caught"
    except AssertionError as err:
        return "caught: " + str(err).splitlines()[0]
    finally:
        sharded.piece_weight, sharded._complete = saved


def _refusal(mesh):
    ok = torch.nn.Parameter(distribute_tensor(torch.ones(4, 2, dtype=torch.float64), mesh, [S0, S1]))
    bad = torch.nn.Parameter(DTensor.from_local(torch.ones(4, dtype=torch.float64), mesh, [S0, Partial()]))
    for p in (ok, bad):
        p.grad = torch.ones_like(p)
    try:
        ams_theory.CAdamW([ok, bad]).step()
        return "no error"
    except ValueError as err:
        return str(err)


def _nonfinite(mesh):
    """An inf in one rank's shard only (the last along each sharded dim): every rank skips."""
    out = {}
    for key, shape, pl in (("hsdp", (6,), [R, S0]), ("tp", (4, 4), [S0, S1])):
        p = torch.nn.Parameter(distribute_tensor(torch.ones(shape, dtype=torch.float64), mesh, pl))
        g = torch.ones(shape, dtype=torch.float64)
        g.view(-1)[-1] = float("inf")
        p.grad = distribute_tensor(g, mesh, pl)
        opt = ams_theory.CAdamW([p], nonfinite="skip")
        opt.step()
        out[key] = f"skipped {opt.skipped_steps}; unchanged {bool((p.to_local() == 1).all())}"
    return out


def _worker(rank, init_file, out_dir):
    torch.set_num_threads(1)
    report = {"cases": {}, "seen": {}, "mutants": {}}
    try:
        dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD,
                                timeout=datetime.timedelta(seconds=120))
        meshes = {"2d": init_device_mesh("cpu", (2, 2), mesh_dim_names=("dp", "tp")),
                  "3d": init_device_mesh("cpu", (2, 1, 2))}
        report["coordinate"] = meshes["2d"].get_coordinate()
        report["groups"] = [dist.get_process_group_ranks(meshes["2d"].get_group(m)) for m in range(2)]
        todo = [(name, lambda name=name: _run_case(name, meshes)) for name in CASES]
        if fully_shard is not None:
            todo += [(f"fsdp-{name}", lambda name=name: _fsdp_case(name, meshes["2d"], rank)) for name in FSDP_CASES]
        run_cases(todo, report, "seen")
        for which, case in MUTATIONS.items():
            report["mutants"][which] = _mutant(which, case, meshes)
        report["refusal"] = _refusal(meshes["2d"])
        report["nonfinite"] = _nonfinite(meshes["2d"])
        dist.destroy_process_group()
    except Exception:
        report["fatal"] = traceback.format_exc()
    write_report(report, out_dir, rank)


# ----------------------------------------------------------------------------- the parent

@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Run every case in four spawned processes (a 2x2 mesh); one report per rank."""
    start = time.monotonic()
    found = spawn_reports(_worker, WORLD, tmp_path_factory.mktemp("sharding2d"), TIMEOUT_S)
    print(f"\n{WORLD} processes ran {len(CASES)} cases in {time.monotonic() - start:.1f} s")
    return found


@pytest.mark.parametrize("name", list(CASES))
def test_sharded_on_2d_mesh_matches_unsharded(reports, name):
    _check(reports, name)
    preset, kw, kind = CASES[name]
    expected = EXPECTED[kind] if _reduces(preset, kw) else 0
    for rep in reports:
        assert [len(ops) for ops in rep["seen"][name]] == [expected] * STEPS, rep["seen"][name][0]
        if kind == "hsdp" and expected:    # summed over the shard dim only: the replicate dim is counted once
            assert rep["seen"][name][0] == [rep["groups"][1]]
        elif kind == "tp" and expected:    # over each dim in turn
            assert rep["seen"][name][0] == rep["groups"]


@pytest.mark.skipif(fully_shard is None, reason="needs torch.distributed.fsdp.fully_shard (FSDP2)")
@pytest.mark.parametrize("name", list(FSDP_CASES))
def test_fsdp2_on_2d_mesh_matches_unsharded(reports, name):
    """A small MLP under HSDP, or tensor parallel + FSDP2 (forward, backward, step), and the same model
    unsharded on the whole batch end with the same parameters."""
    _check(reports, f"fsdp-{name}")
    for rep in reports:
        got = rep["seen"][f"fsdp-{name}"]
        assert [len(ops) for ops in got["collectives"]] == [FSDP_CASES[name]] * STEPS, got
    if name.startswith("tp"):          # the torchtitan layout, with FSDP2's strided shard on "dp"
        assert any("_StridedShard" in p or "_S(" in p for p in reports[0]["seen"][f"fsdp-{name}"]["placements"])


@pytest.mark.parametrize("which", list(MUTATIONS))
def test_a_wrong_reduction_is_caught(reports, which):
    """Counting a replicated dimension twice makes the comparison of a masked preset fail."""
    for rep in reports:
        assert rep["mutants"][which].startswith("caught"), rep["mutants"][which]


def test_refuses_a_partial_parameter_with_one_line(reports):
    for rep in reports:
        assert rep["refusal"] == ("CAdamW: parameter 1 of param group 0 has placement Partial(sum) on mesh "
                                  "dimension 1; expected Shard or Replicate")


def test_nonfinite_gradient_in_one_shard_is_agreed_over_the_whole_mesh(reports):
    for rep in reports:
        assert rep["nonfinite"] == {"hsdp": "skipped 1; unchanged True", "tp": "skipped 1; unchanged True"}
