r"""The optimizer step on sharded parameters: DTensors on a device mesh of any number of
dimensions (FSDP2 ``fully_shard`` on a 1-D mesh, HSDP ``(Replicate(), Shard(0))`` and
FSDP2 + tensor parallel ``(Shard(0), Shard(k))`` / ``(Shard(0), Replicate())`` on 2-D
meshes, ``distribute_tensor`` with ``Shard``/``Replicate`` placements).

Every op of a rule is element-wise apart from its scope reductions (the counts, l1
norms and inner products of a cautious mask), so each rank runs the rule on its
local shards, and only the scope sums need the other ranks. They are taken as in
the chunked CPU path (:class:`~ams_theory.optim.runtimes.ChunkedLoopOps`): a pure
recording pass collects this rank's partial sums of every reduction of the group on
a tape (reduction -> scope id -> sum), the sums are completed over the mesh, and a
second pass replays the complete sums while it updates the local shards in place.
``d`` is the global number of entries.

Which mesh dimensions a sum is completed over: for each scope (a tensor, or the whole
group with ``scope="group"``), ``S`` is the set of mesh dimensions along which at least
one of its tensors is sharded (``Shard``, or the ``_StridedShard`` FSDP2 puts on the
data-parallel dimension under tensor parallelism). Then, for each mesh dimension ``m``,
one ``all_reduce`` (SUM) over ``mesh.get_group(m)`` of one flat float64 tensor holding
the tape entries of the scopes whose ``S`` contains ``m``; a sum over a product of
groups is the composition of the sums over each. So a step makes at most one
collective per mesh dimension, none for a dimension no scope is sharded along (the
replicate dimension of HSDP), and none for a rule without scope reductions (Adam,
AdamW, Lion, Grams with ``normalize="none"``). Along a dimension of ``S`` on which a
tensor is ``Replicate`` (a bias next to tensor-parallel matrices), every rank holds
the same piece: its partial sums count on local coordinate 0 of that dimension only.
A plain (non-DTensor) parameter is a replicated one. Uneven and empty shards need
nothing special: the local shards of a tensor partition it.

A gradient placed otherwise than its parameter (the ``Partial`` gradient DTensor's
autograd leaves on a ``Replicate`` parameter) is first redistributed to the
parameter's placement: that is the gradient's own reduction. The rules' scope sums
never depend on each other (the l1 norm of an inner-masked update is taken as
``|c| |u|_1``), which is what lets one round of collectives complete them; a rule
whose sums did would be refused with an error rather than stepped wrongly. Refused
with a one-line ``ValueError`` naming the parameter: a parameter placement other than
``Shard``/``Replicate`` (``Partial``), and a param group whose parameters live on
different meshes.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch.distributed.tensor import DTensor, Replicate, Shard

from ams_theory.optim.fused import in_float32
from ams_theory.optim.pieces import Piece, batches, run_in_pieces

try:   # FSDP2's placement on the data-parallel dimension of a tensor-parallel shard dimension
    from torch.distributed.tensor.placement_types import _StridedShard
except ImportError:   # pragma: no cover - older torch
    _StridedShard = Shard

__all__ = ["sharded_step"]

_SHARDS = (Shard, _StridedShard)


def sharded_step(opt, group: dict, params: list, grads: list, bufs: dict, steps: list) -> None:
    """One step of ``type(opt).rule`` on the local shards of ``params``, with global scope reductions.

    ``params``/``grads``: the group's parameters that have gradients and their
    gradients (DTensors, or plain tensors replicated on every rank); ``bufs``:
    buffer name -> state tensor per parameter; ``steps``: step counts after this step.
    The parameters and buffers are updated in place.
    """
    mesh = _mesh_of(opt, group, params, grads)
    coord = mesh.get_coordinate()
    if coord is None:      # this rank is not in the mesh: it holds no shard of any parameter
        return
    group_scope = group.get("scope", "tensor") == "group"
    names = tuple(bufs)
    sids = [0 if group_scope else j for j in range(len(params))]
    scope_numel: dict = {}
    scope_dims: dict = {}       # scope id -> mesh dimensions its sums are completed over
    for j, p in enumerate(params):
        scope_numel[sids[j]] = scope_numel.get(sids[j], 0) + p.numel()
        scope_dims[sids[j]] = scope_dims.get(sids[j], frozenset()) | sharded_dims(p)
    pieces, writes = [], []
    for j, p in enumerate(params):
        g = grads[j]
        if isinstance(g, DTensor) and g.placements != p.placements:
            g = g.redistribute(p.device_mesh, p.placements)
        local = _local(p)
        w = in_float32(local)
        if w is not local:
            writes.append((local, w))
        pieces.append(Piece(w, in_float32(_local(g)), {k: _local(bufs[k][j]) for k in names}, steps[j], sids[j],
                            piece_weight(sharded_dims(p), scope_dims[sids[j]], coord)))
    run_in_pieces(opt, group, batches(pieces, group.get("chunk_size", 0)), names, scope_numel,
                  refusal="one round of all_reduce cannot complete them; the sharded step does not support it",
                  complete=lambda tape: _complete(tape, mesh, scope_dims))
    for low, work in writes:
        low.copy_(work)


def sharded_dims(p) -> frozenset:
    """The mesh dimensions along which ``p`` is sharded (none for a plain tensor)."""
    if not isinstance(p, DTensor):
        return frozenset()
    return frozenset(m for m, pl in enumerate(p.placements) if isinstance(pl, _SHARDS))


def piece_weight(dims: frozenset, reduced: frozenset, coord) -> float:
    """The weight of a piece's partial sums: 1 where it is counted, 0 on the copies of a replicated piece.

    ``dims``: the mesh dimensions sharding the piece's tensor; ``reduced``: those its scope's
    sums are completed over; ``coord``: this rank's mesh coordinate. Along a reduced dimension
    where the tensor is replicated, only local coordinate 0 counts it."""
    return 0.0 if any(coord[m] != 0 for m in reduced - dims) else 1.0


def _complete(tape, mesh, scope_dims):
    """Sum the tape's entries over the mesh dimensions their scopes are sharded along:
    per mesh dimension, one ``all_reduce`` of one flat tensor (none when no scope needs it)."""
    if mesh.device_type == "cpu":
        device = torch.device("cpu")
    else:
        device = torch.device(mesh.device_type, torch.get_device_module(mesh.device_type).current_device())
    for m in range(mesh.ndim):
        keys = [(k, i) for k in range(len(tape)) for i in sorted(tape[k]) if m in scope_dims[i]]
        if not keys:
            continue
        flat = torch.tensor([tape[k][i] for k, i in keys], dtype=torch.float64, device=device)
        dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=mesh.get_group(m))
        for (k, i), v in zip(keys, flat.tolist()):
            tape[k][i] = v


def _mesh_of(opt, group, params, grads):
    """The one device mesh of the group's DTensors; a one-line ``ValueError`` otherwise."""
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
        for m, pl in enumerate(p.placements):
            if not isinstance(pl, (*_SHARDS, Replicate)):
                raise ValueError(f"{name}: {where(p)} has placement {pl!r} on mesh dimension {m}; "
                                 f"expected Shard or Replicate")
        if mesh is None:
            mesh, first = p.device_mesh, p
        elif p.device_mesh is not mesh and p.device_mesh != mesh:
            raise ValueError(f"{name}: {where(first)} and {where(p)} live on different device meshes; "
                             f"put each mesh's parameters in their own param group")
    return mesh


def _local(x):
    return x.to_local() if isinstance(x, DTensor) else x
