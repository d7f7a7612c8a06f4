"""The rule core: update rules written once (:mod:`.rules`) against a small set of array operations
(:mod:`.ops`), with the theory back ends (batched torch, exact sympy)."""
