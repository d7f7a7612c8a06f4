r"""The optimizer step on sharded parameters: DTensors on a 1-D device mesh (FSDP2 ``fully_shard``,
``distribute_tensor`` with ``Shard``/``Replicate`` placements).

Every op of a rule is element-wise apart from its scope reductions (the counts, l1
norms and inner products of a cautious mask), so each rank runs the rule on its
local shards, and only the scope sums need the other ranks. They are taken as in
the chunked CPU path (:class:`~ams_theory.optim.runtimes.ChunkedLoopOps`): a pure
recording pass collects this rank's partial sums of every reduction of the group,
one ``all_reduce`` (SUM) of one flat float64 tensor completes them all, and a
second pass replays the complete sums while it updates the local shards in place.
A rule without scope reductions (Adam, AdamW, Lion, Grams with
``normalize="none"``) makes no collective. ``d`` is the global number of entries.

A ``Replicate`` (or plain, non-DTensor) parameter is whole on every rank: it is
updated everywhere but its partial sums count on mesh rank 0 only. A gradient
placed otherwise than its parameter (the ``Partial`` gradient DTensor's autograd
leaves on a ``Replicate`` parameter) is first redistributed to the parameter's
placement: that is the gradient's own reduction. The rules' scope sums never
depend on each other (the l1 norm of an inner-masked update is taken as
``|c| |u|_1``), which is what lets one collective complete them; a rule whose
sums did would be refused with an error rather than stepped wrongly.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch.distributed.tensor import DTensor, Replicate, Shard

from ams_theory.optim.fused import in_float32
from ams_theory.optim.pieces import Piece, batches, run_in_pieces

__all__ = ["sharded_step"]


def sharded_step(opt, group: dict, params: list, grads: list, bufs: dict, steps: list) -> None:
    """One step of ``type(opt).rule`` on the local shards of ``params``, with global scope reductions.

    ``params``/``grads``: the group's parameters that have gradients and their
    gradients (DTensors, or plain tensors replicated on every rank); ``bufs``:
    buffer name -> state tensor per parameter; ``steps``: step counts after this step.
    The parameters and buffers are updated in place.
    """
    mesh = _mesh_of(opt, group, params, grads)
    rank0 = mesh.get_local_rank() == 0
    group_scope = group.get("scope", "tensor") == "group"
    names = tuple(bufs)
    scope_numel: dict = {}
    pieces, writes = [], []
    for j, p in enumerate(params):
        g = grads[j]
        if isinstance(g, DTensor) and g.placements != p.placements:
            g = g.redistribute(p.device_mesh, p.placements)
        local = _local(p)
        w = in_float32(local)
        if w is not local:
            writes.append((local, w))
        g = _local(g)
        sid = 0 if group_scope else j
        scope_numel[sid] = scope_numel.get(sid, 0) + p.numel()
        sharded = isinstance(p, DTensor) and isinstance(p.placements[0], Shard)
        pieces.append(Piece(w, in_float32(g),
                             {k: _local(bufs[k][j]) for k in names}, steps[j], sid,
                             1.0 if sharded or rank0 else 0.0))
    run_in_pieces(opt, group, batches(pieces, group.get("chunk_size", 0)), names, scope_numel,
                  refusal="one all_reduce cannot complete them; the sharded step does not support it",
                  complete=lambda tape: _complete(tape, mesh))
    for low, work in writes:
        low.copy_(work)


def _complete(tape, mesh):
    """Sum the tape's entries over the ranks of ``mesh``: one ``all_reduce`` of one flat tensor."""
    keys = [(k, i) for k in range(len(tape)) for i in sorted(tape[k])]
    if mesh.device_type == "cpu":
        device = torch.device("cpu")
    else:
        device = torch.device(mesh.device_type, torch.get_device_module(mesh.device_type).current_device())
    flat = torch.tensor([tape[k][i] for k, i in keys], dtype=torch.float64, device=device)
    dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=mesh.get_group())
    for (k, i), v in zip(keys, flat.tolist()):
        tape[k][i] = v


def _mesh_of(opt, group, params, grads):
    """The one 1-D device mesh of the group's DTensors; a one-line ``ValueError`` otherwise."""
    name = type(opt).__name__

    def where(p):
        gi = next(i for i, g in enumerate(opt.param_groups) if g is group)
        return f"parameter {next(i for i, q in enumerate(group['params']) if q is p)} of param group {gi}"

    mesh = first = None
    for p, grad in zip(params, grads):
        if isinstance(grad, DTensor) != isinstance(p, DTensor):
            raise ValueError(f"{name}: {where(p)} and its gradient must both be DTensors or both plain tensors")
        if not isinstance(p, DTensor):
            continue
        if p.device_mesh.ndim != 1:
            raise ValueError(f"{name}: sharded parameters need a 1-D device mesh; {where(p)} lives on a "
                             f"{p.device_mesh.ndim}-D mesh {tuple(p.device_mesh.shape)}")
        if not isinstance(p.placements[0], (Shard, Replicate)):
            raise ValueError(f"{name}: {where(p)} has placement {p.placements[0]}; expected Shard or Replicate")
        if mesh is None:
            mesh, first = p.device_mesh, p
        elif p.device_mesh is not mesh and p.device_mesh != mesh:
            raise ValueError(f"{name}: {where(first)} and {where(p)} live on different device meshes; "
                             f"put each mesh's parameters in their own param group")
    return mesh


def _local(x):
    return x.to_local() if isinstance(x, DTensor) else x
