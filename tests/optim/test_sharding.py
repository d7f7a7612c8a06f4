"""Sharded parameters (DTensor on a 1-D mesh, FSDP2 ``fully_shard``) take the same steps as unsharded ones
(2-D and 3-D meshes: ``test_sharding_2d.py``, which reuses :func:`spawn_reports`).

Two CPU processes (gloo) are spawned once for the module; each runs every case and
writes what it found to a file, and the tests below read it. A case trains the same
float64 parameters sharded (``Shard(0)``, uneven first dimensions, so rank 1 holds a
smaller or an empty shard) and unsharded for several steps and compares the gathered
parameters; the collectives every ``step()`` makes are counted with a dispatch mode
that sees every ``c10d`` operation (``all_reduce``, and the functional collectives
DTensor would use).
"""
from __future__ import annotations

import copy
import datetime
import json
import os
import time
import traceback

import pytest
import torch
import torch.distributed as dist
from torch.utils._python_dispatch import TorchDispatchMode

import ams_theory

WORLD = 2
STEPS = 6
SHAPES = [(7, 3), (5,), (1, 4), (3,)]     # rank 1 holds 3 of 7 rows, 2 of 5, none of 1, 1 of 3
TIMEOUT_S = 120

try:
    from torch.distributed.device_mesh import DeviceMesh, init_device_mesh
    from torch.distributed.tensor import (
        DTensor,
        Partial,
        Replicate,
        Shard,
        distribute_tensor,
    )
    HAVE_DTENSOR = dist.is_available() and dist.is_gloo_available()
except ImportError:
    HAVE_DTENSOR = False
try:
    from torch.distributed.fsdp import fully_shard
except ImportError:
    fully_shard = None

# one xdist worker runs the whole module: its processes are spawned once, for every test of it
pytestmark = [pytest.mark.skipif(not HAVE_DTENSOR, reason="needs torch.distributed with gloo and DTensor"),
              pytest.mark.xdist_group("sharding")]

# name -> (preset, keywords, parameter layout, all_reduce calls per step)
CASES = {
    "CAdamW": ("CAdamW", {}, "shard", 1),
    "CAdamW-tensor": ("CAdamW", dict(scope="tensor"), "shard", 1),
    "CAdamW-inner": ("CAdamW", dict(mask="inner"), "shard", 1),
    "CAdamW-mean_eps": ("CAdamW", dict(normalize="mean_eps", mask_eps=1e-3), "shard", 1),
    "CAdamW-update_l1": ("CAdamW", dict(normalize="update_l1", lam=0.5, tie="opposed"), "shard", 1),
    "CAdamW-chunked": ("CAdamW", dict(chunk_size=4), "shard", 1),
    "CAdamW-capturable": ("CAdamW", dict(capturable=True), "shard", 1),
    "CLion": ("CLion", {}, "shard", 1),
    "CGDM": ("CGDM", {}, "shard", 1),
    "AMS": ("AMS", dict(lam=-0.5, normalize="ams"), "shard", 1),
    "AMS-tie-zero": ("AMS", dict(lam=-0.5, tie="zero", betas=(0.9, 0.999, 0.5)), "shard", 1),
    # |c u|_1 of an inner-masked update is taken as |c| |u|_1, a sum recorded beside <u, g>
    "CLion-inner-update_l1": ("CLion", dict(mask="inner", normalize="update_l1", lam=-0.3), "shard", 1),
    "Grams": ("Grams", {}, "shard", 0),
    "AdamW": ("AdamW", {}, "shard", 0),
    "Lion": ("Lion", {}, "shard", 0),
    "CAdamW-replicated": ("CAdamW", {}, "mixed", 1),
    "CAdamW-tensor-replicated": ("CAdamW", dict(scope="tensor"), "mixed", 1),
    "CAdamW-partial-grad": ("CAdamW", {}, "partial_grad", 1),
    "CAdamW-two-groups": ("CAdamW", {}, "two_groups", 2),
    "Grams-two-groups": ("Grams", {}, "two_groups", 0),
    "CAdamW-bfloat16": ("CAdamW", {}, "bfloat16", 1),
}


# ----------------------------------------------------------------------------- child processes

class _Collectives(TorchDispatchMode):
    """Records every c10d operation (eager and functional collectives) dispatched inside the block."""

    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if "c10d" in func.namespace:
            self.ops.append(str(func))
        return func(*args, **(kwargs or {}))


def _grads(shapes, step, dtype):
    """The full gradients of a step (the same on every rank), with exact zeros: ties."""
    gen = torch.Generator().manual_seed(100 + step)
    out = []
    for s in shapes:
        g = torch.randn(s, generator=gen, dtype=torch.float64)
        if g.numel() > 1:
            g.view(-1)[step % g.numel()] = 0.0
        out.append(g.to(dtype))
    return out


def _layout(kind):
    """(shapes, placement per parameter or None for a plain tensor, param group of each, dtype)."""
    if kind == "shard":
        return SHAPES, [Shard(0)] * 4, [0] * 4, torch.float64
    if kind == "bfloat16":
        return SHAPES, [Shard(0)] * 4, [0] * 4, torch.bfloat16
    if kind == "mixed":
        return SHAPES + [(2, 3), (4,)], [Shard(0)] * 4 + [Replicate(), None], [0] * 6, torch.float64
    if kind == "partial_grad":     # a Replicate parameter whose gradient is still a sum over the ranks
        return SHAPES + [(2, 3)], [Shard(0)] * 4 + [Replicate()], [0] * 5, torch.float64
    if kind == "two_groups":
        return SHAPES, [Shard(0)] * 4, [0, 1, 0, 1], torch.float64
    raise ValueError(kind)


def _groups(params, which):
    groups = {}
    for p, gi in zip(params, which):
        groups.setdefault(gi, []).append(p)
    lrs = (1e-2, 3e-3)
    return [dict(params=ps, lr=lrs[gi]) for gi, ps in sorted(groups.items())]


def _run_case(name, mesh):
    preset, kw, kind, _ = CASES[name]
    cls = ams_theory.PRESETS[preset]
    shapes, placements, which, dtype = _layout(kind)
    gen = torch.Generator().manual_seed(7)
    init = [torch.randn(s, generator=gen, dtype=torch.float64).to(dtype) for s in shapes]
    plain = [torch.nn.Parameter(x.clone()) for x in init]
    sharded = [torch.nn.Parameter(x.clone() if pl is None else distribute_tensor(x.clone(), mesh, [pl]))
               for x, pl in zip(init, placements)]
    ref = cls(_groups(plain, which), **kw)
    opt = cls(_groups(sharded, which), **kw)
    counts = []
    for t in range(STEPS):
        full = _grads(shapes, t, dtype)
        for p, q, g, pl in zip(plain, sharded, full, placements):
            p.grad = g.clone()
            if kind == "partial_grad" and isinstance(pl, Replicate):
                q.grad = DTensor.from_local(g / WORLD, mesh, [Partial()])      # g / 2 sums exactly to g
            else:
                q.grad = g.clone() if pl is None else distribute_tensor(g.clone(), mesh, [pl])
        ref.step()
        with _Collectives() as seen:
            opt.step()
        counts.append(seen.ops)
    tol = dict(rtol=0, atol=0) if dtype != torch.float64 else dict(rtol=1e-12, atol=1e-14)
    for i, (p, q) in enumerate(zip(plain, sharded)):
        for key, want in [("parameter", p.detach())] + [(k, v) for k, v in ref.state[p].items() if k != "step"]:
            got = q.detach() if key == "parameter" else opt.state[q][key]
            got = got.full_tensor() if hasattr(got, "full_tensor") else got
            torch.testing.assert_close(got, want, **tol, msg=lambda m, i=i, key=key: f"parameter {i}, {key}: {m}")
    return counts


def _fsdp_case(mesh, rank, name, kw):
    from conftest import F64

    torch.manual_seed(0)       # 7 and 3 output rows: uneven shards of every weight and bias
    model = torch.nn.Sequential(torch.nn.Linear(6, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3)).to(F64)
    ref_model = copy.deepcopy(model)
    for layer in (model[0], model[2]):
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    cls = ams_theory.PRESETS[name]
    ref, opt = cls(ref_model.parameters(), lr=1e-2, **kw), cls(model.parameters(), lr=1e-2, **kw)
    return train_side_by_side(ref_model, ref, model, opt, rank, WORLD, _Collectives)    # data parallel: halves


def write_report(report, out_dir, rank):
    """This rank's report, whole or not there: the parent reads it as soon as it appears."""
    path = os.path.join(out_dir, f"rank{rank}.json")
    with open(path + ".part", "w") as f:
        json.dump(report, f)
    os.replace(path + ".part", path)


def run_cases(todo, report, key):
    """Run each ``(name, run)`` of ``todo`` in this rank: what it returns into ``report[key][name]``, and
    ``report["cases"][name]`` None, or the traceback of its failure (the next case still runs)."""
    for name, run in todo:
        try:
            report[key][name] = run()
            report["cases"][name] = None
        except Exception:
            report["cases"][name] = traceback.format_exc()


def train_side_by_side(ref_model, ref, model, opt, part, parts, recorder, steps=STEPS):
    """``steps`` steps of the unsharded ``ref`` on whole batches and of the sharded ``opt`` on this rank's
    ``part`` of ``parts`` of each batch (the gradients then agree), the sharded parameters gathered and compared
    to the unsharded ones (1e-12); returns what ``recorder`` (a context manager with ``ops``) saw in each step."""
    from conftest import batch

    seen = []
    for x, y in map(batch, range(steps)):
        ref.zero_grad()
        torch.nn.functional.mse_loss(ref_model(x), y).backward()
        ref.step()
        rows = slice(part * (x.shape[0] // parts), (part + 1) * (x.shape[0] // parts))
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x[rows]), y[rows]).backward()
        with recorder() as rec:
            opt.step()
        seen.append(rec.ops)
    for (n, p), q in zip(ref_model.named_parameters(), model.parameters()):
        torch.testing.assert_close(q.full_tensor(), p.detach(), rtol=1e-12, atol=1e-14, msg=lambda m, n=n: f"{n}: {m}")
    return seen


def _refusals(mesh):
    """The message of the ValueError each refused layout raises ("no error" if none is raised)."""
    out = {}
    reversed_mesh = DeviceMesh("cpu", list(range(WORLD))[::-1])
    trials = {
        "partial": [DTensor.from_local(torch.ones(4, dtype=torch.float64), mesh, [Partial()])],
        "two_meshes": [distribute_tensor(torch.ones(4, dtype=torch.float64), mesh, [Shard(0)]),
                       distribute_tensor(torch.ones(4, dtype=torch.float64), reversed_mesh, [Shard(0)])],
    }
    for key, tensors in trials.items():
        params = [torch.nn.Parameter(x) for x in tensors]
        for p in params:
            p.grad = torch.ones_like(p)
        try:
            ams_theory.CAdamW(params).step()
            out[key] = "no error"
        except ValueError as err:
            out[key] = str(err)
    return out


def _nonfinite(mesh, rank):
    """An inf in rank 1's shard only: every rank must skip (or raise), none may go on to a collective."""
    out = {}
    for mode in ("skip", "raise"):
        p = torch.nn.Parameter(distribute_tensor(torch.ones(6, dtype=torch.float64), mesh, [Shard(0)]))
        g = torch.ones(6, dtype=torch.float64)
        g[-1] = float("inf")                                   # lands in the last rank's shard
        p.grad = distribute_tensor(g, mesh, [Shard(0)])
        opt = ams_theory.CAdamW([p], nonfinite=mode)
        try:
            opt.step()
            out[mode] = f"skipped {opt.skipped_steps}"
        except FloatingPointError as err:
            out[mode] = f"raised: {err}"
        out[mode] += f"; unchanged {bool((p.to_local() == 1).all())}"
    return out


def _worker(rank, init_file, out_dir):
    torch.set_num_threads(1)
    report = {"cases": {}, "counts": {}}
    try:
        dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD,
                                timeout=datetime.timedelta(seconds=60))
        mesh = init_device_mesh("cpu", (WORLD,))
        todo = [(name, lambda name=name: _run_case(name, mesh)) for name in CASES]
        if fully_shard is not None:
            todo += [(f"fsdp-{name}", lambda name=name, kw=kw: _fsdp_case(mesh, rank, name, kw))
                     for name, kw in (("CAdamW", {}), ("AMS", dict(lam=-0.5)), ("AdamW", {}))]
        run_cases(todo, report, "counts")
        report["refusals"] = _refusals(mesh)
        report["nonfinite"] = _nonfinite(mesh, rank)
        dist.destroy_process_group()
    except Exception:
        report["fatal"] = traceback.format_exc()
    write_report(report, out_dir, rank)


# ----------------------------------------------------------------------------- the parent

@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Run every case in two spawned processes; one report per rank."""
    return spawn_reports(_worker, WORLD, tmp_path_factory.mktemp("sharding"), TIMEOUT_S)


def spawn_reports(worker, world, out, timeout_s):
    """Spawn ``world`` processes running ``worker(rank, init_file, out_dir)`` and return the
    report each writes to ``out/rank{rank}.json`` (the machinery of every sharding test module)."""
    import torch.multiprocessing as mp

    start = time.monotonic()
    ctx = mp.start_processes(worker, args=(str(out / "init"), str(out)), nprocs=world, join=False,
                             start_method="spawn")
    paths = [out / f"rank{rank}.json" for rank in range(world)]
    try:
        # wait for the reports, not for the exits: gloo's threads sometimes abort a process at interpreter exit,
        # after its report is written, and a join would then kill the other rank before it has written its own
        while not all(p.exists() for p in paths):
            dead = [(rank, proc.exitcode) for rank, proc in enumerate(ctx.processes)
                    if proc.exitcode is not None and not paths[rank].exists()]
            if dead:
                pytest.fail(f"sharded rank {dead[0][0]} exited with code {dead[0][1]} before writing its report")
            if time.monotonic() - start > timeout_s:
                pytest.fail(f"the {world} sharded processes did not finish within {timeout_s} s")
            time.sleep(0.1)
    finally:
        for proc in ctx.processes:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
    found = []
    for rank in range(world):
        with open(out / f"rank{rank}.json") as f:
            rep = json.load(f)
        if "fatal" in rep:
            pytest.fail(f"rank {rank} failed:\n{rep['fatal']}")
        found.append(rep)
    return found


def _check(reports, name):
    for rank, rep in enumerate(reports):
        if rep["cases"][name] is not None:
            pytest.fail(f"rank {rank}, case {name}:\n{rep['cases'][name]}")


@pytest.mark.parametrize("name", list(CASES))
def test_sharded_matches_unsharded(reports, name):
    _check(reports, name)


ALL_REDUCE = "c10d.allreduce_.default"      # torch.distributed.all_reduce


@pytest.mark.parametrize("name", list(CASES))
def test_one_all_reduce_per_group_and_step_only_when_the_rule_counts(reports, name):
    _check(reports, name)
    expected = CASES[name][3]
    for rep in reports:
        counts = rep["counts"][name]
        assert [[op for op in ops if op == ALL_REDUCE] for ops in counts] == [[ALL_REDUCE] * expected] * STEPS
        others = [[op for op in ops if op != ALL_REDUCE] for ops in counts]
        if CASES[name][2] == "partial_grad":     # the gradient's own sum, as DTensor redistributes it
            assert all("_c10d_functional.all_reduce.default" in ops for ops in others), others
        else:
            assert others == [[]] * STEPS


FSDP_CASES = {"CAdamW": 1, "AMS": 1, "AdamW": 0}


@pytest.mark.skipif(fully_shard is None, reason="needs torch.distributed.fsdp.fully_shard (FSDP2)")
@pytest.mark.parametrize("name", list(FSDP_CASES))
def test_fsdp2_fully_shard_matches_unsharded(reports, name):
    """A small MLP under FSDP2 (forward, backward, step; each rank half of each batch) and the same
    model unsharded on the whole batch end with the same parameters."""
    _check(reports, f"fsdp-{name}")
    for rep in reports:
        assert rep["counts"][f"fsdp-{name}"] == [[ALL_REDUCE] * FSDP_CASES[name]] * STEPS


def test_refuses_meshes_it_cannot_count_over(reports):
    for rep in reports:
        assert rep["refusals"]["partial"] == ("CAdamW: parameter 0 of param group 0 has placement "
                                              "Partial(sum) on mesh dimension 0; expected Shard or Replicate")
        assert "live on different device meshes" in rep["refusals"]["two_meshes"], rep["refusals"]["two_meshes"]


@pytest.mark.parametrize("kw, trusted, recorded", [
    (dict(mask="elementwise", normalize="nnz_xi"), 1, 1),
    (dict(mask="elementwise", normalize="ams", lam=-0.5, tie="zero"), 2, 2),
    (dict(mask="inner", normalize="nnz_xi"), 1, 1),
    (dict(mask="inner", normalize="update_l1"), 2, 2),     # |c u|_1 = |c| |u|_1: independent of <u, g>
])
def test_recording_pass_knows_which_sums_depend_on_partial_ones(kw, trusted, recorded):
    """The sharded step completes the ``trusted`` sums in one all_reduce; the rest are recorded again."""
    from ams_theory.core import rules
    from ams_theory.optim.runtimes import ChunkedLoopOps

    hp = dict(dict(lr=0.1, betas=(0.9, 0.99), weight_decay=0.0, lam=0.0, tie="zero", xi=1.0, mask_eps=1e-8,
                   scope="tensor"), **kw)
    gen = torch.Generator().manual_seed(0)
    w, g, m = (torch.randn(6, generator=gen, dtype=torch.float64) for _ in range(3))
    tapes = {}
    for weight in (1.0, 0.5):
        tapes[weight] = []
        ops = ChunkedLoopOps([0], {0: 12}, tapes[weight], replay=False, weights=[weight])
        rules.lion_step(ops, [w], [g], dict(m=[m]), hp)
        assert (ops.trusted, len(tapes[weight])) == (trusted, recorded)
    assert tapes[1.0][0][0] != 0 and tapes[0.5][0][0] == 0.5 * tapes[1.0][0][0]   # the weight scales the record


def test_nonfinite_gradient_on_one_rank_is_agreed_by_every_rank(reports):
    """nonfinite="skip"/"raise" decide on all ranks together (an inf in one shard), so no rank hangs."""
    for rank, rep in enumerate(reports):
        assert rep["nonfinite"]["skip"] == "skipped 1; unchanged True", (rank, rep["nonfinite"])
        assert rep["nonfinite"]["raise"].startswith("raised: CAdamW: non-finite gradient in parameter 0"), rank
        assert rep["nonfinite"]["raise"].endswith("unchanged True")
