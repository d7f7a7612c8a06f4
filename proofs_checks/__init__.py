"""Claim checks, one module per family of claims: reductions, facts, discrete descent, Hamiltonian dynamics,
figures. Each module registers its claims with :mod:`ams_theory.claims.registry` when it is imported;
:func:`load` imports them all (the command line and the tests call it)."""
from __future__ import annotations

__all__ = ["load", "MODULES"]

MODULES = ("reductions", "facts", "discrete", "continuous", "figures")     # one per family, catalogue order


def load() -> None:
    """Import every check module, so that each registers its claims."""
    from proofs_checks import continuous, discrete, facts, figures, reductions  # noqa: F401
