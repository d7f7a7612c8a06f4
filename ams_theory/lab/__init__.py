"""Helpers for the notebooks (they may use the checks)."""
