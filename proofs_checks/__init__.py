"""Claim checks, one module per family of claims (reductions, facts, discrete descent,
Hamiltonian dynamics, figures). Each module registers its claims with the registry of
:mod:`ams_theory`; the families are filled in by their own work items."""
