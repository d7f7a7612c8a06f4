"""A claim's proofs as certificates anyone can replay: every solver query of every proof behind a verdict.

:func:`replay_result` runs each query again in a named solver (z3, or cvc5: a second, independent solver) and
counts the ones that are not unsat; :func:`write_certificates` writes them as SMT-LIB 2 files, one folder per
claim with a ``manifest.json`` naming the statement and the case of each file, for any SMT solver
(``verify --recheck cvc5``, ``verify --certificates DIR``).
"""
from __future__ import annotations

import json
import os
import re
import time

from ams_theory.engines import proofs

__all__ = ["proofs_of", "replay_result", "write_certificates"]


def proofs_of(result) -> list:
    """``[(what, Proof)]``: every engine proof behind a result's verdict and its correction."""
    v = getattr(result, "verdict", None)
    if v is None:
        return []
    out = []
    for what, st in (("verdict", v.strength), ("correction", v.correction.strength if v.correction else None)):
        proof = getattr(st, "proof", None)
        if proof is not None:
            out += [(what, p) for p in proof.proofs()]
    return out


def _queries(result):
    """``[(what, statement, label, query)]`` of every proof of the result (a refuted or open part keeps the
    queries of the cases it closed)."""
    return [(what, p.statement, label, q) for what, p in proofs_of(result) for label, q in p.smtlib()]


def replay_result(result, solver: str) -> dict:
    """Replay every stored query of the result's proofs in ``solver``; a query must be unsat and must not be a
    bare ``(assert false)`` (which would prove nothing about the claim)."""
    t0 = time.perf_counter()
    failed, n = [], 0
    for what, statement, label, query in _queries(result):
        n += 1
        bare = "(assert false)" in query.splitlines()
        answer = "asserts false" if bare else proofs.replay(query, solver)
        if answer != "unsat":
            failed.append({"proof": what, "statement": statement, "case": label, "answer": answer})
    return {"solver": solver, "queries": n, "unsat": n - len(failed), "failed": failed,
            "seconds": round(time.perf_counter() - t0, 3)}


def _slug(text: str, limit: int = 60) -> str:
    return re.sub(r"[^A-Za-z0-9.=<>_-]+", "_", text).strip("_")[:limit] or "query"


def write_certificates(result, directory: str) -> int:
    """Write the result's queries under ``directory/<claim id>/`` (one ``.smt2`` file each, numbered) with a
    ``manifest.json``; returns the number of files. A claim with no proof writes nothing."""
    queries = _queries(result)
    if not queries:
        return 0
    folder = os.path.join(directory, _slug(result.claim.id, 120))
    os.makedirs(folder, exist_ok=True)
    manifest = {"claim": result.claim.id, "expected": "unsat", "files": []}
    for k, (what, statement, label, query) in enumerate(queries, 1):
        name = f"{k:04d}-{_slug(label)}.smt2"
        with open(os.path.join(folder, name), "w", encoding="utf-8") as fh:
            fh.write(f"; {result.claim.id}, {what}: {statement}\n; case: {label}\n; expected: unsat\n{query}")
        manifest["files"].append({"file": name, "proof": what, "statement": statement, "case": label})
    with open(os.path.join(folder, "manifest.json"), "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=1)
    return len(queries)
