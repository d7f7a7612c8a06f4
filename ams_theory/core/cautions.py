"""The masks the papers name, as rule-core settings (:class:`~ams_theory.core.rules.Caution`), each defined once.

``x = u o s`` is the direction times the reference (the gradient) coordinate by coordinate.
"""
from __future__ import annotations

from ams_theory.core.rules import Caution

__all__ = ["CAUTIOUS_GT", "CAUTIOUS_GE", "EQ1_DEFAULT", "GRAMS_MASK", "GRAMS_DEF51", "INNER_GE", "phi_c"]

CAUTIOUS_GT = Caution(lam=0, tie="zero", normalize="none")          # 1(x > 0): the Cautious paper's indicator
CAUTIOUS_GE = Caution(lam=0, tie="aligned", normalize="none")       # 1(x >= 0): AMS/Grams Def. 3.2 as its proofs
                                                                    # use it, and Thm. E.2's restatement
EQ1_DEFAULT = Caution(lam=0, tie="zero", normalize="nnz_xi", xi=1)  # Cautious eq. (1): d/(nnz + 1) 1(x > 0)
GRAMS_MASK = Caution(lam=-1, tie="zero", normalize="none")          # sign(g) o |u|: Grams, AMS/Grams Cor. 5.2
GRAMS_DEF51 = Caution(lam=-1, tie="aligned", normalize="ams")       # AMS Alg. 1 with beta3 = 0, lambda = -1 (Def. 5.1)
INNER_GE = Caution(lam=0, tie="aligned", normalize="none", mask="inner")   # 1(<u, s> >= 0): the inner-product mask


def phi_c(c: float) -> Caution:
    """phi_c of eq. (13) of the Cautious paper: 1 where ``x > 0``, ``-c`` elsewhere (ties with the opposed)."""
    return Caution(lam=-c, tie="opposed", normalize="none")
