"""Claim checks, one module per family of claims: reductions, facts, discrete descent, Hamiltonian dynamics,
figures, and the sentences on the papers' printed tables. Each module registers its claims with
:mod:`ams_theory.claims.registry` when it is imported; :func:`load` imports them all (the command line and the tests
call it, through the ``ams_theory.checks`` entry point)."""
from __future__ import annotations

import importlib

__all__ = ["load", "MODULES"]

MODULES = ("reductions", "facts", "discrete", "continuous", "figures", "tables")     # catalogue order


def load() -> None:
    """Import every check module, so that each registers its claims."""
    for name in MODULES:
        importlib.import_module(f"proofs_checks.{name}")
