"""Running a rule over pieces (chunks or local shards) of a group's tensors, with whole-scope sums.

The chunked CPU path (:mod:`ams_theory.optim.optimizers`) and the sharded step
(:mod:`ams_theory.optim.sharded`) both call :func:`run_in_pieces`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ams_theory.core import rules
from ams_theory.optim.runtimes import ChunkedLoopOps, RecordingComplete

__all__ = ["Piece", "batches", "run_in_pieces", "write_back"]


@dataclass
class Piece:
    """A piece of one parameter for :func:`run_in_pieces`: its tensors (or views of them),
    step count, scope id, and the weight of its partial sums on the tape."""

    w: torch.Tensor
    g: torch.Tensor
    state: dict
    step: object
    scope: int
    weight: float = 1.0


def batches(pieces, chunk):
    """Consecutive pieces in batches of about ``chunk`` entries (one batch when ``chunk`` is 0),
    which bounds the temporaries a pass holds at once."""
    batches, size = [[]], 0
    for piece in pieces:
        if chunk and size >= chunk:
            batches.append([])
            size = 0
        batches[-1].append(piece)
        size += piece.w.numel()
    return batches


def run_in_pieces(opt, group, batches, names, scope_numel, refusal, complete=None):
    """``type(opt).rule`` over batches of pieces of a group's tensors, in place.

    A rule whose rescaling sums over its scope first runs a pure recording pass of
    the pieces' partial sums (``ChunkedLoopOps``); ``complete(tape)`` may then add
    what other processes hold (the sharded step); a second pass replays the scope
    sums and writes. A rule whose sums depend on each other cannot be evaluated
    from partial sums: it is refused with ``refusal`` as the reason.
    """
    tape: list = []
    if rules.needs_scope_reductions(rules.Caution.from_mapping(group)):
        trusted = _pass(opt, group, batches, names, scope_numel, tape, replay=False)
        if (len(batches) > 1 or complete is not None) and trusted < len(tape):
            raise RuntimeError(f"{type(opt).__name__}: a scope sum of this rule depends on another one; {refusal}")
        if complete is not None:
            complete(tape)
    _pass(opt, group, batches, names, scope_numel, tape, replay=True)


def _pass(opt, group, batches, names, scope_numel, tape, replay):
    """One pass over the batches; a recording pass returns how many of its sums are trusted."""
    trusted = 0
    for n, batch in enumerate(batches):
        # the first recording batch shows how many reductions the rule makes; later ones stop there
        stop = None if replay or n == 0 else len(tape)
        ops = ChunkedLoopOps([b.scope for b in batch], scope_numel, tape, replay=replay, stop_after=stop,
                             weights=[b.weight for b in batch])
        w = [b.w for b in batch]
        state = {k: [b.state[k] for b in batch] for k in names}
        try:
            new_w, new_state = type(opt).rule(ops, w, [b.g for b in batch], state, group, [b.step for b in batch])
        except RecordingComplete:
            continue
        if replay:
            write_back(w, new_w)
            for k in names:
                write_back(state[k], new_state[k])
        elif n == 0:
            trusted = ops.trusted
    return trusted



def write_back(olds, news):
    for old, new in zip(olds, news):
        if new is not old:
            old.copy_(new)
