"""The claim catalogue: every claim of the two papers, with its stable id.

The ids are those of the project's claim catalogue (``claims.md``); the
statements here are short pointers in the project's own words. Checks attach
to these entries by id; a claim with no check yet is reported as unchecked,
never given a verdict.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ClaimEntry", "CATALOGUE", "VERDICTS", "CLAIM_FAMILIES", "by_id"]

VERDICTS = ("holds", "refuted", "vacuous", "conditional", "not-checkable")
CLAIM_FAMILIES = ("reductions", "facts", "discrete", "continuous", "empirical")

GRAMS_PAPER = "grams-ams.md"
CAUTIOUS_PAPER = "cautious-optimizers.md"


@dataclass(frozen=True)
class ClaimEntry:
    id: str
    paper: str
    where: str
    family: str
    pointer: str


def _c(id, paper, where, family, pointer):
    return ClaimEntry(id, paper, where, family, pointer)


CATALOGUE = (
    _c("grams.B1.beta3", GRAMS_PAPER, "Cor. 4.1 / B.1 case 1", "reductions", "AMS(beta3 = beta1) = Adam"),
    _c("grams.B1.lambda", GRAMS_PAPER, "Cor. 4.1 / B.1 case 2", "reductions", "AMS(lambda = 1) = Adam"),
    _c("grams.B2", GRAMS_PAPER, "Cor. 4.2 / B.2", "reductions", "AMS(beta3 = 0, lambda = 0) = cautious Adam of Def. 3.2"),
    _c("grams.B3", GRAMS_PAPER, "Cor. 5.2 / B.3", "reductions",
       "AMS(beta3 = 0, lambda = -1) step = eta sign(g) |u|"),
    _c("grams.C1", GRAMS_PAPER, "Fact C.1", "facts", "<a, b o c> = <a o b, c>"),
    _c("grams.C2", GRAMS_PAPER, "Fact C.2", "facts", "<a, -sign(a) o |b|> = -<|a|, |b|>"),
    _c("grams.C3", GRAMS_PAPER, "Fact C.3", "facts", "<a, b> - <|a|, |b|> <= 0"),
    _c("grams.C4", GRAMS_PAPER, "Fact C.4", "facts", "<a, b> - <|a|, |b|> - <a o b, 1 - 1(a o b > 0)> <= 0"),
    _c("grams.C5", GRAMS_PAPER, "Fact C.5", "facts", "a sign(a) = |a| for a scalar a"),
    _c("grams.C6", GRAMS_PAPER, "Fact C.6", "facts", "a o sign(a) = |a| for a vector a"),
    _c("grams.D1.part1", GRAMS_PAPER, "Lemma 3.4 / D.1 Part 1", "discrete",
       "cautious step: dL <= -eta <u o g, 1(u o g >= 0)> + L eta^2 |u|^2 / 2"),
    _c("grams.D1.part2", GRAMS_PAPER, "Lemma 3.4 / D.1 Part 2", "discrete",
       "cautious step: dL >= -eta <u o g, 1(u o g >= 0)>"),
    _c("grams.D1.part3", GRAMS_PAPER, "Lemma 3.4 / D.1 Part 3", "discrete",
       "cautious step: eta <= 2 <u o g, 1(u o g >= 0)> / (L |u|^2) implies dL <= 0"),
    _c("grams.D2.part1", GRAMS_PAPER, "Lemma 5.3 / D.2 Part 1", "discrete",
       "Grams step: dL <= -eta <|g|, |u|> + L eta^2 |u|^2 / 2"),
    _c("grams.D2.part2", GRAMS_PAPER, "Lemma 5.3 / D.2 Part 2", "discrete", "Grams step: dL >= -eta <|g|, |u|>"),
    _c("grams.D2.part3", GRAMS_PAPER, "Lemma 5.3 / D.2 Part 3", "discrete",
       "Grams step: eta <= 2 <|g|, |u|> / (L |u|^2) implies dL <= 0"),
    _c("grams.D3", GRAMS_PAPER, "Thm. 5.4 / D.3", "discrete", "under its step bound, dL(Grams) <= dL(cautious) <= 0"),
    _c("grams.R5.5", GRAMS_PAPER, "Remark 5.5", "discrete", "Grams' one-step descent strictly beats the cautious one"),
    _c("grams.E2", GRAMS_PAPER, "Thm. E.2", "continuous", "cautious Hamiltonian identities as restated"),
    _c("grams.E3.H", GRAMS_PAPER, "Thm. 5.7 / E.3", "continuous", "Grams Hamiltonian dynamics: dH/dt <= 0"),
    _c("grams.E3.L", GRAMS_PAPER, "Thm. 5.7 / E.3", "continuous", "Grams Hamiltonian dynamics: dL/dt <= -Delta_L"),
    _c("grams.E4", GRAMS_PAPER, "Thm. 5.8 / E.4", "continuous", "dL/dt(Grams) <= dL/dt(cautious)"),
    _c("grams.5.10", GRAMS_PAPER, "Cor. 5.10", "continuous", "bounded solutions converge to stationary points of H"),
    _c("grams.fig1", GRAMS_PAPER, "Figure 1", "empirical",
       "on (0.5 w1)^2 + (0.1 w2)^2 Grams reaches a lower objective faster than Adam, C-Adam, Lion, C-Lion"),
    _c("grams.table1", GRAMS_PAPER, "Table 1", "empirical", "Llama-60M / WRN-50-2 results (scale)"),
    _c("grams.table2", GRAMS_PAPER, "Table 2", "empirical", "Llama 3.2 fine-tuning results (scale)"),
    _c("cautious.2.1", CAUTIOUS_PAPER, "Thm. 2.1", "continuous", "dH/dt, dL/dt identities of system (5) and consequences"),
    _c("cautious.eq6", CAUTIOUS_PAPER, "eq. (6)", "discrete", "element-wise condition on phi implies Thm. 2.1's conditions"),
    _c("cautious.eq6.default", CAUTIOUS_PAPER, "after eq. (6), eq. (1)", "discrete",
       "default phi = alpha(x) 1(x >= 0), xi = 1, satisfies the conditions (alpha >= 1)"),
    _c("cautious.2.2", CAUTIOUS_PAPER, "Cor. 2.2", "continuous", "bounded solutions of (2) and (5) reach stationary points"),
    _c("cautious.2.3", CAUTIOUS_PAPER, "Thm. 2.3 (§A.4)", "discrete",
       "L(cautious step) <= L(base step) under Delta(x) >= 0 and the step bound"),
    _c("cautious.2.4", CAUTIOUS_PAPER, "Thm. 2.4 = Thm. A.4", "discrete", "threshold mask: monotone descent, any step size"),
    _c("cautious.A3", CAUTIOUS_PAPER, "Thm. A.3", "discrete", "averaged bound (1/T) sum |.|_phi <= (L1 - L*)/(T eps) + mu eps B_T/(2T)"),
    _c("cautious.A5", CAUTIOUS_PAPER, "Thm. A.5", "discrete", "inner-product mask, convex L: never worse than base, any step"),
    _c("cautious.A6", CAUTIOUS_PAPER, "Cor. A.6", "discrete", "separable convex quadratic, element-wise mask: never worse"),
    _c("cautious.A7", CAUTIOUS_PAPER, "Thm. A.7", "discrete", "inner-product threshold mask: monotone descent, any step"),
    _c("cautious.A1", CAUTIOUS_PAPER, "Example A.1", "continuous", "continuous Adam: dH/dt <= 0 when a >= b/4"),
    _c("cautious.A2", CAUTIOUS_PAPER, "Example A.2", "continuous", "Lion-K with H = aL + K((1-b)m)/(1-b) is a Hamiltonian descent"),
    _c("cautious.A3.1.formula", CAUTIOUS_PAPER, "§A.3.1", "continuous", "closed form of dH/dt for continuous Adam"),
    _c("cautious.A3.1.cadam", CAUTIOUS_PAPER, "§A.3.1", "continuous", "cautious Adam: L Lyapunov and H decreasing"),
    _c("cautious.A3.2", CAUTIOUS_PAPER, "§A.3.2", "continuous", "signed momentum: H = L + |m|_1, dH/dt = -|m|_1; cautious dL/dt"),
    _c("cautious.A3.3", CAUTIOUS_PAPER, "§A.3.3", "continuous", "Lion: H = alpha L + (1 - eps gamma)|m|_1 and its dH/dt"),
    _c("cautious.alg1", CAUTIOUS_PAPER, "Alg. 1 vs Alg. 2 / eq. (1)", "reductions",
       "the one-line PyTorch update and Algorithm 2 scale the masked update alike"),
    _c("cautious.fig2.monotone", CAUTIOUS_PAPER, "§3.1, Figure 2", "empirical",
       "on 4 w1^2 + w2^2 from (1,1), C-GDM decreases L and GDM's Hamiltonian monotonically"),
    _c("cautious.fig2.dominates", CAUTIOUS_PAPER, "§3.1, Figure 2 right", "empirical",
       "same (step, beta): C-GDM never worse than GDM on the listed settings"),
    _c("cautious.fig8", CAUTIOUS_PAPER, "Figure 8 / §3.1", "empirical",
       "best cautious rate beats GDM's optimal (sqrt(kappa)-1)/(sqrt(kappa)+1)"),
    _c("cautious.table1", CAUTIOUS_PAPER, "Table 1", "empirical", "LLaMA 60M-1B perplexities (scale)"),
)

_BY_ID = {c.id: c for c in CATALOGUE}


def by_id(claim_id: str) -> ClaimEntry:
    try:
        return _BY_ID[claim_id]
    except KeyError:
        raise KeyError(f"unknown claim id {claim_id!r}") from None
