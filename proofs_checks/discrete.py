r"""Discrete-time claims: descent lemmas and one-step comparisons on L-smooth losses.

Sources: Lemma D.1, D.2, Thm. D.3 and Remark 5.5 of the AMS/Grams paper; Thm. 2.3,
2.4 (= A.4), A.3, A.5, Cor. A.6, Thm. A.7, eq. (6) and its default phi of the
Cautious paper (there the smoothness constant is called mu and the step eps).

Each claim is a margin function (see :mod:`ams_theory.descent`): positive
margin = the conclusion fails at an instance meeting the hypotheses. Steps are
taken by the rule core: the cautious step of Def. 3.2 as the proof of D.1 uses
it (``w - eta u o 1(u o g >= 0)``), the Grams step of Def. 5.1 (AMS with
beta3 = 0, lambda = -1) and of Cor. 5.2, the masks of the Cautious paper
(eq. (1), phi_c, inner-product and threshold masks) are all
:class:`~ams_theory.rules.Caution` settings of the same code.

Notation in the docstrings: P = <u o g, 1(u o g >= 0)> (the aligned part),
N = <u o g, 1(u o g < 0)> (the opposed part, <= 0), dL = L(w') - L(w).
"""
from __future__ import annotations

import math

import sympy as sp
import torch

from ams_theory import rules, smooth
from ams_theory.backends import SympyOps
from ams_theory.descent import Claim, certify, hypothesis_search, random_search, step
from ams_theory.registry import Verdict, register
from ams_theory.symbolic import LABELS, OPS, patterns

DT = torch.float64
BUDGET = {  # (random-search rounds over every (family, d) pair, batch size, hypothesis examples)
    "quick": (1, 4_000, 100), "standard": (1, 100_000, 300), "thorough": (4, 100_000, 2000)}

QUAD = tuple(smooth.QUADRATIC_FAMILIES)
ALL = tuple(smooth.FAMILIES)
CONVEX = tuple(f for f in smooth.FAMILIES if smooth.FAMILIES[f](1, 1, torch.Generator().manual_seed(0)).convex)
CONVEX_QUAD = tuple(f for f in QUAD if f in CONVEX)

CAUTIOUS_GE = rules.Caution(lam=0, tie="aligned", normalize="none")      # Def. 3.2 as the proofs use it
GRAMS_DEF51 = rules.Caution(lam=-1, tie="aligned", normalize="ams")      # AMS Alg. 1, beta3 = 0, lambda = -1
GRAMS_COR52 = rules.Caution(lam=-1, tie="zero", normalize="none")        # sign(g) o |u|


# ----------------------------------------------------------------------------- small helpers (both back ends)

def _is_torch(x):
    return torch.is_tensor(x)


F = smooth.value_column


def G(problem, w):
    return problem.grad(w)


def Lc(problem):
    L = problem.L
    return L.reshape(-1, 1) if _is_torch(L) else L


def total(ops, x):
    return ops.total(x)


def pos_sum(ops, x):
    return ops.total(ops.relu(x))


def neg_sum(ops, x):            # sum of min(x_i, 0)
    return -ops.total(ops.relu(ops.mul(x, -1)))


def sq(ops, x):
    return ops.dot(x, x)


def AND(a, b):
    return a & b if _is_torch(a) or _is_torch(b) else bool(a) and bool(b)


def OR(a, b):
    return a | b if _is_torch(a) or _is_torch(b) else bool(a) or bool(b)


def LE(a, b):
    return a <= b if _is_torch(a) or _is_torch(b) else bool(sp.simplify(sp.sympify(a) <= sp.sympify(b)))


def GT(a, b):
    return a > b if _is_torch(a) or _is_torch(b) else bool(sp.simplify(sp.sympify(a) > sp.sympify(b)))


def ABS(x):
    return x.abs() if _is_torch(x) else sp.Abs(x)


def MAX(a, b):
    return torch.maximum(a, b) if _is_torch(a) else sp.Max(a, b)


def combine(parts):
    """Max margin over the applicable parts; applicable if any part is."""
    margin, app = None, None
    for m, a in parts:
        if _is_torch(m):
            a = a if _is_torch(a) else torch.full_like(m, bool(a), dtype=torch.bool)
            m = torch.where(a, m, torch.full_like(m, -math.inf))
            margin = m if margin is None else torch.maximum(margin, m)
            app = a if app is None else app | a
        else:
            m = m if a else -sp.oo
            margin = m if margin is None else sp.Max(margin, m)
            app = a if app is None else (app or a)
    return margin, app


def _ret(margin, applicable, scale, with_scale):
    if _is_torch(margin) and not _is_torch(applicable):
        applicable = torch.full_like(margin, bool(applicable), dtype=torch.bool)
    return (margin, applicable, scale) if with_scale else (margin, applicable)


# ----------------------------------------------------------------------------- draws

def _rand(gen, shape):
    return torch.randn(*shape, generator=gen, dtype=DT)


def _uniform(gen, shape, lo=0.0, hi=1.0):
    return lo + (hi - lo) * torch.rand(*shape, generator=gen, dtype=DT)


def _direction(problem, w, gen):
    """A base direction u: a random mix of the gradient and noise, with exact zeros sometimes."""
    B, d = w.shape
    g = problem.grad(w)
    mix = _uniform(gen, (B, 1), -1.0, 1.5)
    u = mix * g + _rand(gen, (B, d)) * torch.exp(_rand(gen, (B, 1)))
    zero = torch.rand(B, d, generator=gen, dtype=DT) < 0.1
    return torch.where(zero, torch.zeros_like(u), u)


def _eta_free(problem, gen, B):
    """Step sizes spread over (1e-3, 10) / L: below, around and far above 1/L."""
    return torch.exp(_uniform(gen, (B, 1), math.log(1e-3), math.log(10.0))) / problem.L.reshape(-1, 1)


def _draw_free(problem, w, gen):
    u = _direction(problem, w, gen)
    return u, _eta_free(problem, gen, w.shape[0]), {}


def _draw_fraction(bound_fn):
    """eta = theta * bound(problem, w, u), theta in (0, 1.2]: inside the hypothesis and a little outside."""
    def draw(problem, w, gen):
        u = _direction(problem, w, gen)
        bound = bound_fn(problem, w, u)
        theta = _uniform(gen, (w.shape[0], 1), 0.0, 1.2)
        eta = torch.where(bound > 0, theta * bound, _eta_free(problem, gen, w.shape[0]))
        return u, eta, {}
    return draw


# ----------------------------------------------------------------------------- the Grams paper, Appendix D

def _cautious_parts(ops, problem, w, u, eta):
    g = G(problem, w)
    x = ops.mul(u, g)
    P = pos_sum(ops, x)
    f0 = F(problem, w)
    w1 = step(ops, w, u, g, eta, CAUTIOUS_GE)
    return g, P, f0, F(problem, w1) - f0, sq(ops, u), w1


def _grams_parts(ops, problem, w, u, eta):
    g = G(problem, w)
    Q = total(ops, ops.abs(g) * ops.abs(u))        # <|g|, |u|>
    f0 = F(problem, w)
    d51 = F(problem, step(ops, w, u, g, eta, GRAMS_DEF51)) - f0
    d52 = F(problem, step(ops, w, u, g, eta, GRAMS_COR52)) - f0
    return g, Q, f0, d51, d52, sq(ops, u)


def m_d1_part1(ops, problem, w, u, eta, extra, with_scale=False):
    """dL <= -eta P + L eta^2 |u|^2 / 2."""
    g, P, f0, dL, uu, _ = _cautious_parts(ops, problem, w, u, eta)
    bound = -eta * P + Lc(problem) * eta ** 2 * uu / 2
    return _ret(dL - bound, True, ABS(f0) + ABS(bound), with_scale)


def m_d1_part2(ops, problem, w, u, eta, extra, with_scale=False):
    """dL >= -eta P."""
    g, P, f0, dL, uu, _ = _cautious_parts(ops, problem, w, u, eta)
    return _ret(-eta * P - dL, True, ABS(f0) + ABS(eta * P), with_scale)


def m_d1_part2_smooth(ops, problem, w, u, eta, extra, with_scale=False):
    """Corrected lower bound for any L-smooth loss: dL >= -eta P - L eta^2 |u_hat|^2 / 2."""
    g, P, f0, dL, uu, w1 = _cautious_parts(ops, problem, w, u, eta)
    dw = w1 - w
    bound = -eta * P - Lc(problem) * sq(ops, dw) / 2
    return _ret(bound - dL, True, ABS(f0) + ABS(bound), with_scale)


def _d1_bound(problem, w, u):
    g = problem.grad(w)
    P = torch.clamp_min(u * g, 0).sum(-1, keepdim=True)
    return 2 * P / (problem.L.reshape(-1, 1) * (u * u).sum(-1, keepdim=True))


def m_d1_part3(ops, problem, w, u, eta, extra, with_scale=False):
    """eta <= 2P/(L|u|^2) (u != 0)  =>  dL <= 0."""
    g, P, f0, dL, uu, _ = _cautious_parts(ops, problem, w, u, eta)
    applicable = AND(GT(uu, 0), LE(eta * Lc(problem) * uu, 2 * P))
    return _ret(dL, applicable, ABS(f0), with_scale)


def m_d2_part1(ops, problem, w, u, eta, extra, with_scale=False):
    """Grams: dL <= -eta <|g|,|u|> + L eta^2 |u|^2 / 2 (both Def. 5.1 and Cor. 5.2 steps)."""
    g, Q, f0, d51, d52, uu = _grams_parts(ops, problem, w, u, eta)
    bound = -eta * Q + Lc(problem) * eta ** 2 * uu / 2
    return _ret(MAX(d51, d52) - bound, True, ABS(f0) + ABS(bound), with_scale)


def m_d2_part2(ops, problem, w, u, eta, extra, with_scale=False):
    """Grams: dL >= -eta <|g|,|u|>."""
    g, Q, f0, d51, d52, uu = _grams_parts(ops, problem, w, u, eta)
    return _ret(-eta * Q - rules_min(d51, d52), True, ABS(f0) + ABS(eta * Q), with_scale)


def rules_min(a, b):
    return torch.minimum(a, b) if _is_torch(a) else sp.Min(a, b)


def m_d2_part2_smooth(ops, problem, w, u, eta, extra, with_scale=False):
    """Corrected: dL >= -eta <|g|,|u|> - L eta^2 |u|^2 / 2 for any L-smooth loss."""
    g, Q, f0, d51, d52, uu = _grams_parts(ops, problem, w, u, eta)
    bound = -eta * Q - Lc(problem) * eta ** 2 * uu / 2
    return _ret(bound - rules_min(d51, d52), True, ABS(f0) + ABS(bound), with_scale)


def _d2_bound(problem, w, u):
    g = problem.grad(w)
    Q = (g.abs() * u.abs()).sum(-1, keepdim=True)
    return 2 * Q / (problem.L.reshape(-1, 1) * (u * u).sum(-1, keepdim=True))


def m_d2_part3(ops, problem, w, u, eta, extra, with_scale=False):
    """eta <= 2 <|g|,|u|>/(L|u|^2)  =>  dL <= 0."""
    g, Q, f0, d51, d52, uu = _grams_parts(ops, problem, w, u, eta)
    applicable = AND(GT(uu, 0), LE(eta * Lc(problem) * uu, 2 * Q))
    return _ret(MAX(d51, d52), applicable, ABS(f0), with_scale)


def _d3_parts(ops, problem, w, u, eta, corrected):
    g = G(problem, w)
    x = ops.mul(u, g)
    P, N = pos_sum(ops, x), neg_sum(ops, x)
    second = -N if corrected else N
    uu = sq(ops, u)
    f0 = F(problem, w)
    dG = F(problem, step(ops, w, u, g, eta, GRAMS_COR52)) - f0
    dC = F(problem, step(ops, w, u, g, eta, CAUTIOUS_GE)) - f0
    L = Lc(problem)
    applicable = AND(AND(GT(uu, 0), GT(eta, 0)), AND(LE(eta * L * uu, 2 * P), LE(eta * L * uu, 2 * second)))
    return dG, dC, applicable, ABS(f0)


def m_d3(ops, problem, w, u, eta, extra, with_scale=False):
    """eta <= 2/(L|u|^2) min{P, N}  =>  dL_Grams <= dL_C <= 0 (N as written: <= 0)."""
    dG, dC, applicable, scale = _d3_parts(ops, problem, w, u, eta, corrected=False)
    return _ret(MAX(dG - dC, dC), applicable, scale, with_scale)


def m_d3_corrected(ops, problem, w, u, eta, extra, with_scale=False):
    """eta <= 2/(L|u|^2) min{P, |N|}  =>  dL_Grams <= dL_C <= 0."""
    dG, dC, applicable, scale = _d3_parts(ops, problem, w, u, eta, corrected=True)
    return _ret(MAX(dG - dC, dC), applicable, scale, with_scale)


def _d3_bound(problem, w, u):
    g = problem.grad(w)
    x = u * g
    P = torch.clamp_min(x, 0).sum(-1, keepdim=True)
    N = torch.clamp_max(x, 0).sum(-1, keepdim=True)
    return 2 * torch.minimum(P, -N) / (problem.L.reshape(-1, 1) * (u * u).sum(-1, keepdim=True))


def m_r55(ops, problem, w, u, eta, extra, with_scale=False):
    """Strictly better: dL_Grams < dL_C for eta > 0 (margin >= 0 is a violation; shifted by a tiny amount)."""
    g = G(problem, w)
    f0 = F(problem, w)
    dG = F(problem, step(ops, w, u, g, eta, GRAMS_COR52)) - f0
    dC = F(problem, step(ops, w, u, g, eta, CAUTIOUS_GE)) - f0
    return _ret(dG - dC, GT(eta, 0), ABS(f0), with_scale)


# ----------------------------------------------------------------------------- the Cautious paper

PHI_VARIANTS = {  # the masks phi of the Cautious paper, as rule-core settings
    "eq1_default": rules.Caution(lam=0, tie="zero", normalize="nnz_xi", xi=1),
    "indicator": rules.Caution(lam=0, tie="zero", normalize="none"),
    "phi_c_0.1": rules.Caution(lam=-0.1, tie="opposed", normalize="none"),
    "ams_lambda_-0.5": rules.Caution(lam=-0.5, tie="aligned", normalize="ams"),
}


def _phi(ops, u, g, caution):
    return rules.mask_vector(ops, u, g, caution)


def m_thm23(ops, problem, w, u, eta, extra, with_scale=False):
    """Delta(x) = -x^T(1 - phi(x)) >= 0 and eps <= 2 Delta/(mu |r|(2|u| + |r|))  =>  L(w_bar') <= L(w')."""
    g = G(problem, w)
    x = ops.mul(u, g)
    L = Lc(problem)
    base = F(problem, step(ops, w, u, g, eta, None))
    parts = []
    for caution in PHI_VARIANTS.values():
        phi = _phi(ops, u, g, caution)
        delta = -total(ops, x * (1 - phi))
        r = ops.mul(u, 1 - phi)
        rn, un = _sqrt(sq(ops, r)), _sqrt(sq(ops, u))
        app = AND(AND(GT(delta, 0), GT(rn, 0)), LE(eta * L * rn * (2 * un + rn), 2 * delta))
        cautious = F(problem, step(ops, w, u, g, eta, caution))
        parts.append((cautious - base, app))
    margin, app = combine(parts)
    return _ret(margin, app, ABS(base), with_scale)


def _sqrt(x):
    return torch.sqrt(x) if _is_torch(x) else sp.sqrt(x)


def _draw_thm23(problem, w, gen):
    u = _direction(problem, w, gen)
    eta = torch.exp(_uniform(gen, (w.shape[0], 1), math.log(1e-4), math.log(2.0))) / problem.L.reshape(-1, 1)
    return u, eta, {}


def _threshold_step(ops, problem, w, u, eps, alpha, sigma, kind):
    """eq. of Thm. 2.4 (kind="elementwise": mask g o u >= mu sigma/2 u o u) or Thm. A.7 (kind="inner":
    g^T u >= alpha mu eps/2 |u|^2); step w - eps alpha (mask o u)."""
    g = G(problem, w)
    L = Lc(problem)
    kappa = L * sigma / 2 if kind == "elementwise" else alpha * L * eps / 2
    caution = rules.Caution(lam=0, tie="aligned", normalize="none", kind=kind, margin=kappa)
    return F(problem, step(ops, w, u, g, eps * alpha, caution)) - F(problem, w)


def m_thm24(ops, problem, w, u, eta, extra, with_scale=False):
    """Any alpha_k, sigma >= eps alpha: threshold mask gives L(w_bar') <= L(w_bar)."""
    alpha, sigma = extra["alpha"], extra["sigma"]
    dL = _threshold_step(ops, problem, w, u, eta, alpha, sigma, "elementwise")
    return _ret(dL, LE(eta * alpha, sigma), ABS(F(problem, w)), with_scale)


def m_thm24_nonneg(ops, problem, w, u, eta, extra, with_scale=False):
    """Corrected: alpha_k >= 0."""
    alpha, sigma = extra["alpha"], extra["sigma"]
    dL = _threshold_step(ops, problem, w, u, eta, alpha, sigma, "elementwise")
    return _ret(dL, AND(LE(eta * alpha, sigma), LE(0, alpha)), ABS(F(problem, w)), with_scale)


def _draw_threshold(problem, w, gen):
    B = w.shape[0]
    u = _direction(problem, w, gen)
    eps = torch.exp(_uniform(gen, (B, 1), math.log(1e-3), math.log(10.0))) / problem.L.reshape(-1, 1)
    alpha = _uniform(gen, (B, 1), -2.0, 4.0)
    sigma = eps * alpha + torch.exp(_uniform(gen, (B, 1), math.log(1e-6), math.log(5.0))) / problem.L.reshape(-1, 1)
    return u, eps, {"alpha": alpha, "sigma": sigma}


def m_a7(ops, problem, w, u, eta, extra, with_scale=False):
    """Inner threshold mask alpha 1(g^T u >= alpha mu eps/2 |u|^2): L(w_bar') <= L(w_bar), any eps."""
    dL = _threshold_step(ops, problem, w, u, eta, extra["alpha"], None, "inner")
    return _ret(dL, True, ABS(F(problem, w)), with_scale)


def m_a7_nonneg(ops, problem, w, u, eta, extra, with_scale=False):
    dL = _threshold_step(ops, problem, w, u, eta, extra["alpha"], None, "inner")
    return _ret(dL, LE(0, extra["alpha"]), ABS(F(problem, w)), with_scale)


INNER_GE = rules.Caution(lam=0, tie="aligned", normalize="none", kind="inner")


def m_a5(ops, problem, w, u, eta, extra, with_scale=False):
    """Inner-product mask 1(u^T g >= 0): L(w_bar') <= L(w'), any step (convex L)."""
    g = G(problem, w)
    base = F(problem, step(ops, w, u, g, eta, None))
    masked = F(problem, step(ops, w, u, g, eta, INNER_GE))
    return _ret(masked - base, bool(problem.convex), ABS(base), with_scale)


def m_a6(ops, problem, w, u, eta, extra, with_scale=False):
    """Separable convex quadratic 0.5|a o w|^2, element-wise mask 1(u o g >= 0): L(w_bar') <= L(w')."""
    g = G(problem, w)
    base = F(problem, step(ops, w, u, g, eta, None))
    masked = F(problem, step(ops, w, u, g, eta, CAUTIOUS_GE))
    return _ret(masked - base, True, ABS(base), with_scale)


def m_a6_eq1(ops, problem, w, u, eta, extra, with_scale=False):
    """The same with eq. (1)'s rescaled mask alpha(x) 1(x > 0) (not covered by Cor. A.6)."""
    g = G(problem, w)
    base = F(problem, step(ops, w, u, g, eta, None))
    masked = F(problem, step(ops, w, u, g, eta, PHI_VARIANTS["eq1_default"]))
    return _ret(masked - base, True, ABS(base), with_scale)


# ----------------------------------------------------------------------------- Thm. A.3 (T steps)

def _fstar(problem):
    """inf of f for the families A.3 is searched on (-inf where unbounded below)."""
    if isinstance(problem, smooth.QuadraticProblem):
        a, b = torch.diagonal(problem.A, dim1=-2, dim2=-1), problem.b
        pos = a > 0
        fs = problem.c - 0.5 * torch.where(pos, b * b / torch.where(pos, a, torch.ones_like(a)), 0 * b).sum(-1)
        unbounded = ((~pos) & (b != 0)).any(-1)
        return torch.where(unbounded, torch.full_like(fs, -math.inf), fs).reshape(-1, 1)
    if isinstance(problem, smooth.SeparableProblem):          # logcosh >= 0 (min 0), softplus > 0 (inf 0)
        return torch.zeros(problem.batch, 1, dtype=DT)
    ex = problem.exact                                         # ExactProblem of a diagonal quadratic
    total_ = ex.c
    for j in range(ex.d):
        a, b = ex.A[j, j], ex.b[j]
        if a > 0:
            total_ -= b * b / (2 * a)
        elif b != 0:
            return -sp.oo
    return total_


A3_PHI = PHI_VARIANTS["eq1_default"]
A3_BETA = 0.9
A3_T = 8


def _a3(ops, problem, w, u, eta, extra, with_scale, corrected):
    """(1/T) sum_t x_t^T phi(x_t) <= (L(w_1) - L*)/(T eps) + mu eps B_T/(2T), x_t = grad(w_t) o u_t, for the
    cautious heavy-ball method (u_t = s_t = beta s_{t-1} + g_t, s_0 = u) with eq. (1)'s phi; every prefix
    length T = 1..8 of one trajectory is an instance. B_T = sum |u_t|^2 (corrected: sum |u_t o phi_t|^2)."""
    L = Lc(problem)
    f1 = F(problem, w)
    fstar = _fstar(problem)
    s, lhs, B, parts = u, 0, 0, []
    for t in range(1, A3_T + 1):
        g = G(problem, w)
        ut, s = rules.heavy_ball_direction(ops, g, ops.copy(s), A3_BETA)
        phi = _phi(ops, ut, g, A3_PHI)
        lhs = lhs + total(ops, ops.mul(ut, g) * phi)
        B = B + (sq(ops, ops.mul(ut, phi)) if corrected else sq(ops, ut))
        w = step(ops, w, ut, g, eta, A3_PHI)
        rhs = (f1 - fstar) / (t * eta) + L * eta * B / (2 * t)
        parts.append((lhs / t - rhs, True))
    margin, app = combine(parts)
    return _ret(margin, app, ABS(f1) / eta + ABS(lhs), with_scale)


def m_a3(ops, problem, w, u, eta, extra, with_scale=False):
    return _a3(ops, problem, w, u, eta, extra, with_scale, corrected=False)


def m_a3_corrected(ops, problem, w, u, eta, extra, with_scale=False):
    return _a3(ops, problem, w, u, eta, extra, with_scale, corrected=True)


# ----------------------------------------------------------------------------- the searches and verdicts

A3_FAMILIES = ("quadratic_diagonal_convex", "separable_logcosh", "separable_softplus")


def _a6_problem(problem):
    """Cor. A.6's test function 0.5 |a o w|^2: a diagonal convex quadratic without linear or constant term."""
    if isinstance(problem, smooth.QuadraticProblem):
        import dataclasses
        return dataclasses.replace(problem, b=torch.zeros_like(problem.b), c=torch.zeros_like(problem.c))
    return problem


def _with_problem_map(claim: Claim, fn) -> Claim:
    """Wrap a claim so every sampled problem goes through ``fn`` first (for Cor. A.6's family)."""
    def margin(ops, problem, *args, **kw):
        return claim.margin(ops, problem if not isinstance(problem, smooth.QuadraticProblem) else fn(problem),
                            *args, **kw)
    return Claim(margin, claim.draw, claim.families, claim.certify_families, claim.dims)


DIMS = {"quick": (1, 2, 3, 5, 8), "standard": (1, 2, 4, 8), "thorough": (1, 2, 3, 4, 5, 6, 8)}


def _search(claim: Claim, budget: str, seed: int, families=None, size_factor=1.0):
    batches, size, hyp = BUDGET[budget]
    rs = random_search(claim, batches, max(1000, int(size * size_factor)), seed, families=families,
                       dims=DIMS[budget])
    cert_fams = tuple(f for f in (families or claim.families) if f in QUAD) or claim.certify_families
    found, tried = (None, 0)
    if cert_fams:
        found, tried = hypothesis_search(claim, hyp, seed, families=cert_fams)
    return rs, found, tried


def _certified(claim: Claim, rs, found, seed, families=None):
    """An exactly re-checked violation: from the hypothesis find, the worst batch instance, or a
    search restricted to quadratic families. Returns (certificate dict, recheck) or (None, None)."""
    candidates = []
    if found is not None:
        candidates.append((found, 0, "hypothesis"))
    if rs.worst_draw is not None and rs.worst > 0:
        candidates.append((rs.worst_draw, rs.worst_index, "random search"))
    fams = tuple(f for f in (families or claim.families) if f in QUAD) or tuple(QUAD)
    for draw, i, engine in candidates:
        cert = _try_certify(claim, draw, i, engine)
        if cert:
            return cert
    extra = random_search(claim, 6, 20_000, seed + 1, families=fams)
    if extra.worst_draw is not None and extra.worst > 0:
        return _try_certify(claim, extra.worst_draw, extra.worst_index, "random search (quadratic families)")
    return None, None


def _try_certify(claim, draw, i, engine):
    try:
        cert = certify(claim, draw, i)
    except (TypeError, ValueError):
        return None
    if cert is None or not cert["applicable"] or not (cert["margin"] > 0):
        return None
    cert = {**cert, "margin": str(cert["margin"]), "engine": engine}

    def recheck():
        again = certify(claim, draw, i)
        return bool(again["applicable"]) and bool(again["margin"] > 0)

    return cert, recheck


def _evidence(rs, tried, seed, budget, families=None):
    return {"random_search": {"instances": rs.instances, "applicable": rs.applicable,
                              "float_violations": rs.violations, "worst_margin": rs.worst,
                              "per_family_[instances,applicable,violations]": rs.families,
                              "seconds": round(rs.seconds, 2)},
            "hypothesis_examples": tried, "seed": seed, "budget": budget,
            "tolerance": "violation when margin > 1e-9 (1 + |scale|) in float64; refutations re-checked exactly"}


def judge(claim: Claim, budget, seed, holds_text, refuted_text, corrections=(), families=None, size_factor=1.0):
    """Literal verdict from both engines, plus computed corrections ``(statement, Claim, families)``."""
    rs, found, tried = _search(claim, budget, seed, families, size_factor)
    evidence = _evidence(rs, tried, seed, budget)
    corr = None
    for statement, cclaim, cfams in corrections:
        crs, cfound, ctried = _search(cclaim, budget, seed, cfams, size_factor)
        cert, _ = _certified(cclaim, crs, cfound, seed, cfams) if (crs.violations or cfound) else (None, None)
        corr = {"statement": statement, "verdict": "refuted" if cert else "holds",
                "evidence": {**_evidence(crs, ctried, seed, budget), "families": list(cfams or cclaim.families)}}
        if cert:
            corr["evidence"]["counterexample"] = cert
            break
    if rs.violations == 0 and found is None:
        return Verdict("holds", holds_text(rs), evidence, correction=corr)
    cert, recheck = _certified(claim, rs, found, seed, families)
    if cert is None:
        return Verdict("not-checkable", f"{rs.violations} float violations that no quadratic instance reproduces "
                       "exactly; no certificate", evidence, correction=corr)
    return Verdict("refuted", refuted_text(rs, cert), evidence, cert, corr, recheck)


def _holds(rs):
    return (f"no violation in {rs.applicable:,} applicable of {rs.instances:,} instances "
            f"({len(rs.families)} families, d in 1..8) and the hypothesis search")


def _refuted(what):
    return lambda rs, cert: (f"{what}; exact counterexample on {cert['family']} (d = {len(cert['w'])}, "
                             f"margin {float(sp.Rational(cert['margin'])):.3g}); {rs.violations:,} of "
                             f"{rs.applicable:,} float instances violate")


def C(margin, draw=_draw_free, families=ALL):
    return Claim(margin, draw, families, QUAD)


@register("grams.D1.part1", "discrete",
          "Cautious step w' = w - eta u o 1(u o g >= 0) on an L-smooth loss: dL <= -eta P + L eta^2 |u|^2 / 2.")
def check_d1_part1(budget="standard", seed=0):
    return judge(C(m_d1_part1), budget, seed, _holds, _refuted("upper bound violated"))


@register("grams.D1.part2", "discrete", "Cautious step on an L-smooth loss: dL >= -eta P.")
def check_d1_part2(budget="standard", seed=0):
    return judge(C(m_d1_part2), budget, seed, _holds,
                 _refuted("the lower bound needs convexity (the proof drops -L/2 |dw|^2)"),
                 corrections=[("for convex L: dL >= -eta P", C(m_d1_part2, families=CONVEX), CONVEX)])


@register("grams.D1.part3", "discrete", "Cautious step: eta <= 2P/(L|u|^2) implies dL <= 0.")
def check_d1_part3(budget="standard", seed=0):
    return judge(C(m_d1_part3, _draw_fraction(_d1_bound)), budget, seed, _holds, _refuted("descent fails"))


@register("grams.D2.part1", "discrete",
          "Grams step (Def. 5.1 and Cor. 5.2 forms): dL <= -eta <|g|,|u|> + L eta^2 |u|^2 / 2.")
def check_d2_part1(budget="standard", seed=0):
    return judge(C(m_d2_part1), budget, seed, _holds, _refuted("upper bound violated"))


@register("grams.D2.part2", "discrete", "Grams step on an L-smooth loss: dL >= -eta <|g|,|u|>.")
def check_d2_part2(budget="standard", seed=0):
    return judge(C(m_d2_part2), budget, seed, _holds,
                 _refuted("the lower bound needs convexity (the proof drops -L/2 |dw|^2)"),
                 corrections=[("for convex L: dL >= -eta <|g|,|u|>", C(m_d2_part2, families=CONVEX), CONVEX)])


@register("grams.D2.part3", "discrete", "Grams step: eta <= 2<|g|,|u|>/(L|u|^2) implies dL <= 0.")
def check_d2_part3(budget="standard", seed=0):
    return judge(C(m_d2_part3, _draw_fraction(_d2_bound)), budget, seed, _holds, _refuted("descent fails"))


def _nonpositive_opposed_part(budget):
    """N = sum_i min(u_i g_i, 0) <= 0 on every sign pattern (exact, symbolic magnitudes)."""
    cases = [(a, b) for a in LABELS for b in LABELS]
    from ams_theory.symbolic import case_symbol
    n = 0
    for d in range(1, {"quick": 2, "standard": 4, "thorough": 5}[budget] + 1):
        for pat in patterns(cases, d):
            n += 1
            u = SympyOps.asarray([case_symbol(c[0], f"u{i}") for i, c in enumerate(pat)])
            g = SympyOps.asarray([case_symbol(c[1], f"g{i}") for i, c in enumerate(pat)])
            if sp.simplify(neg_sum(OPS, OPS.mul(u, g))).is_nonpositive is not True:
                return False, n
    return True, n


_CORRECTED_D3: dict = {}


def _corrected_d3(budget, seed, convex: bool):
    """The corrected D.3 (|N| in place of N), judged once per (budget, seed) and shared with Remark 5.5."""
    key = (budget, seed, convex)
    if key not in _CORRECTED_D3:
        fams = CONVEX if convex else ALL
        _CORRECTED_D3[key] = judge(C(m_d3_corrected, _draw_fraction(_d3_bound), fams), budget, seed, _holds,
                                   _refuted("corrected bound, " + ("convex" if convex else "nonconvex") + " loss"),
                                   families=fams)
    return _CORRECTED_D3[key]


@register("grams.D3", "discrete",
          "eta <= 2/(L|u|^2) min{P, N} with N = <u o g, 1(u o g < 0)> implies dL_Grams <= dL_C <= 0.")
def check_d3(budget="standard", seed=0):
    nonpos, n_patterns = _nonpositive_opposed_part(budget)
    claim = C(m_d3, _draw_fraction(_d3_bound))
    rs, found, tried = _search(claim, budget, seed)
    evidence = {**_evidence(rs, tried, seed, budget), "N_nonpositive_on_all_sign_patterns": nonpos,
                "sign_patterns": n_patterns}
    corr_all = _corrected_d3(budget, seed, convex=False)
    corr_convex = _corrected_d3(budget, seed, convex=True)
    correction = {
        "statement": "with |N| in place of N (the proof's last line drops a minus sign) and L convex: "
                     "eta <= 2/(L|u|^2) min{P, |N|} implies dL_Grams <= dL_C <= 0",
        "verdict": corr_convex.word,
        "evidence": {"convex_families": corr_convex.summary, "without_convexity": {
            "verdict": corr_all.word, "summary": corr_all.summary, "counterexample": corr_all.counterexample},
            "proof_notes": "the proof uses D.1 Part 2 (true only for convex L) and index sets I+ = {u_i, g_i >= 0}, "
                           "I- = {u_i, g_i < 0} that do not cover coordinates where u_i and g_i differ in sign"},
    }
    if nonpos and rs.applicable == 0:
        return Verdict("vacuous", "N <= 0 always (exact, every sign pattern), so the step bound forces eta <= 0: "
                       f"no instance with eta > 0 meets it ({rs.instances:,} tried); corrected form: "
                       f"{correction['verdict']} for convex L, {corr_all.word} without convexity", evidence,
                       correction=correction)
    return Verdict("holds" if rs.violations == 0 else "refuted", "unexpected: applicable instances exist",
                   evidence, correction=correction)


@register("grams.R5.5", "discrete", "Grams' one-step loss decrease is strictly larger than the cautious one.")
def check_r55(budget="standard", seed=0):
    # an instance where every coordinate is aligned: both steps coincide, so the decrease is equal, not larger
    problem = smooth.FAMILIES["quadratic_diagonal_convex"](1, 2, torch.Generator().manual_seed(seed))
    w = torch.tensor([[1.0, -2.0]], dtype=DT)
    g = problem.grad(w)
    u = g * torch.tensor([[0.5, 2.0]], dtype=DT)              # u_i g_i > 0 for every i
    eta = (0.5 / problem.L).reshape(1, 1)
    draw = _single(problem, w, u, eta)
    claim = C(m_r55)
    cert, recheck = _try_certify_nonneg(claim, draw)
    rs, found, tried = _search(claim, budget, seed)       # violations: Grams strictly worse than cautious
    corr = _corrected_d3(budget, seed, convex=True)
    correction = {"statement": "no strict improvement in general; under convexity and the corrected step bound "
                               "of D.3 (|N| in place of N), dL_Grams <= dL_C (not strictly)",
                  "verdict": corr.word, "evidence": {"summary": corr.summary}}
    evidence = {**_evidence(rs, tried, seed, budget), "float_violations_mean": "Grams strictly worse"}
    return Verdict("refuted", "equal decrease when every coordinate is aligned (the two steps coincide); "
                   f"Grams is even strictly worse on {rs.violations:,} of {rs.instances:,} random instances",
                   evidence, cert, correction, recheck)


def _single(problem, w, u, eta, extra=None):
    from ams_theory.descent import Draw
    return Draw(problem, w, u, eta, extra or {})


def _try_certify_nonneg(claim, draw):
    """Certificate for 'strictly better' failing: exact margin dL_G - dL_C >= 0 at an instance."""
    cert = certify(claim, draw, 0)
    if cert is None or not cert["applicable"] or not (sp.sympify(cert["margin"]) >= 0):
        raise AssertionError("the equal-decrease instance did not certify")
    cert = {**cert, "margin": str(cert["margin"]), "meaning": "dL_Grams - dL_C >= 0 exactly"}

    def recheck():
        again = certify(claim, draw, 0)
        return bool(again["applicable"]) and bool(sp.sympify(again["margin"]) >= 0)

    return cert, recheck


@register("cautious.2.3", "discrete",
          "mu-smooth L, Delta(x) = -x^T(1 - phi(x)) >= 0, eps <= 2 Delta/(mu |r|(2|u|+|r|)), r = u o (1 - phi): "
          "L(w - eps u o phi) <= L(w - eps u).")
def check_thm23(budget="standard", seed=0):
    return judge(C(m_thm23, _draw_thm23), budget, seed,
                 lambda rs: _holds(rs) + f"; masks: {', '.join(PHI_VARIANTS)}", _refuted("comparison fails"))


@register("cautious.2.4", "discrete",
          "Threshold mask alpha_k 1(g o u >= mu sigma/2 u o u), sigma >= eps alpha_k, any sequence alpha_k: "
          "L(w_bar') <= L(w_bar) for any step size.")
def check_thm24(budget="standard", seed=0):
    return judge(C(m_thm24, _draw_threshold), budget, seed, _holds,
                 _refuted("a negative alpha_k turns the masked step uphill"),
                 corrections=[("with alpha_k >= 0", C(m_thm24_nonneg, _draw_threshold), ALL)])


@register("cautious.A3", "discrete",
          "(1/T) sum_t <grad L(w_t) o u_t, phi> <= (L(w_1) - L*)/(T eps) + mu eps B_T/(2T), B_T = sum |u_t|^2, "
          "for x phi(x) >= 0 (here: cautious heavy ball with eq. (1)'s phi).")
def check_a3(budget="standard", seed=0):
    claim = Claim(m_a3, _draw_free, A3_FAMILIES, ("quadratic_diagonal_convex",))
    corrected = Claim(m_a3_corrected, _draw_free, A3_FAMILIES, ("quadratic_diagonal_convex",))
    # eight steps per instance: a quarter of the batch size keeps the cost of the other claims
    return judge(claim, budget, seed, _holds, _refuted("phi > 1 (eq. (1) rescales by d/(nnz+1)) makes "
                 "|u o phi|^2 exceed |u|^2"), corrections=[("with B_T = sum |u_t o phi_t|^2 (equal to the stated "
                 "B_T when |phi| <= 1)", corrected, A3_FAMILIES)], families=A3_FAMILIES, size_factor=0.25)


@register("cautious.A5", "discrete",
          "Convex L, inner-product mask 1(u^T g >= 0): L(w_bar') <= L(w') for any step size.")
def check_a5(budget="standard", seed=0):
    verdict = judge(C(m_a5, families=CONVEX), budget, seed, _holds, _refuted("comparison fails"), families=CONVEX)
    nonconvex = random_search(C(m_a5_any, families=tuple(f for f in ALL if f not in CONVEX)), *BUDGET[budget][:2],
                              seed)
    verdict.evidence["without_convexity_float_violations"] = f"{nonconvex.violations:,} of {nonconvex.instances:,}"
    return verdict


def m_a5_any(ops, problem, w, u, eta, extra, with_scale=False):
    g = G(problem, w)
    base = F(problem, step(ops, w, u, g, eta, None))
    masked = F(problem, step(ops, w, u, g, eta, INNER_GE))
    return _ret(masked - base, True, ABS(base), with_scale)


@register("cautious.A6", "discrete",
          "L = 0.5 |a o w|^2, element-wise mask 1(u o g >= 0), element-wise u: L(w_bar') <= L(w') for any step.")
def check_a6(budget="standard", seed=0):
    fams = ("quadratic_diagonal_convex",)
    claim = _with_problem_map(Claim(m_a6, _draw_free, fams, fams), _a6_problem)
    verdict = judge(claim, budget, seed, _holds, _refuted("comparison fails"), families=fams)
    eq1 = random_search(_with_problem_map(Claim(m_a6_eq1, _draw_free, fams, fams), _a6_problem),
                        *BUDGET[budget][:2], seed)
    verdict.evidence["with_eq1_rescaled_mask_float_violations"] = f"{eq1.violations:,} of {eq1.instances:,}"
    return verdict


@register("cautious.A7", "discrete",
          "Inner threshold mask alpha 1(g^T u >= alpha mu eps/2 |u|^2): L(w_bar') <= L(w_bar) for any step size.")
def check_a7(budget="standard", seed=0):
    literal = judge(C(m_a7, _draw_threshold), budget, seed, _holds, _refuted("a negative alpha turns the step uphill"),
                    corrections=[("with alpha >= 0", C(m_a7_nonneg, _draw_threshold), ALL)])
    if literal.word == "refuted" and literal.correction and literal.correction["verdict"] == "holds":
        # the theorem leaves the sign of the scaling factor open: true exactly when alpha >= 0
        literal.word = "conditional"
        literal.summary = "holds when alpha >= 0 (not stated); " + literal.summary
    return literal


def _phi_eq6(labels, i):
    """A symbolic phi_i obeying eq. (6) for the sign of x_i: >= 1 if x_i > 0, <= 0 if x_i < 0, free if 0."""
    if labels == "+":
        return 1 + sp.Symbol(f"p{i}", nonnegative=True)
    if labels == "-":
        return -sp.Symbol(f"q{i}", nonnegative=True)
    return sp.Symbol(f"r{i}", real=True)


@register("cautious.eq6", "discrete",
          "phi_i >= 1 where x_i > 0 and phi_i <= 0 where x_i < 0 imply x^T(1 - phi(x)) <= 0 and x^T phi(x) >= 0.")
def check_eq6(budget="standard", seed=0):
    from ams_theory.symbolic import case_symbol
    n, bad = 0, None
    for d in range(1, {"quick": 2, "standard": 4, "thorough": 5}[budget] + 1):
        for pat in patterns(LABELS, d):
            n += 1
            x = SympyOps.asarray([case_symbol(lab, f"x{i}") for i, lab in enumerate(pat)])
            phi = SympyOps.asarray([_phi_eq6(lab, i) for i, lab in enumerate(pat)])
            first = sp.simplify(OPS.total(x * (1 - phi)))
            second = sp.simplify(OPS.total(x * phi))
            if first.is_nonpositive is not True or second.is_nonnegative is not True:
                bad = (pat, str(first), str(second))
                break
    if bad:
        pat, first, second = bad
        x = SympyOps.asarray([sp.Integer({"+": 1, "0": 0, "-": -1}[lab]) for lab in pat])
        return Verdict("refuted", f"fails at sign pattern {pat}: x^T(1-phi) = {first}, x^T phi = {second}",
                       {"patterns": n}, {"pattern": list(pat), "first": first, "second": second},
                       recheck=lambda: True)
    return Verdict("holds", f"exact on all {n} sign patterns of x (d <= "
                   f"{ {'quick': 2, 'standard': 4, 'thorough': 5}[budget]}) with symbolic phi obeying (6)",
                   {"patterns": n, "per_coordinate": "x>0: x(1-phi) <= 0, x phi >= 0; x<0: both signs flip "
                    "accordingly; x=0: 0"})


@register("cautious.eq6.default", "discrete",
          "The default phi(x) = alpha(x) 1(x >= 0), alpha(x) = dim(x)/(nnz(x > 0) + xi), xi = 1, has alpha >= 1 "
          "and satisfies the conditions of Thm. 2.1.")
def check_eq6_default(budget="standard", seed=0):
    d, nnz = sp.Symbol("d", integer=True, positive=True), sp.Symbol("n", integer=True, nonnegative=True)
    caution = rules.Caution(lam=0, tie="zero", normalize="nnz_xi", xi=1)
    alpha = rules.mask_scale(OPS, caution, d, nnz, None)
    alpha = alpha.args[-1][0] if isinstance(alpha, sp.Piecewise) else alpha
    at_full = sp.simplify(alpha.subs(nnz, d))                       # every coordinate positive
    # exact instance: x = (1, ..., 1), d = 2: phi = alpha 1, x^T (1 - phi) = d (1 - alpha) > 0
    x = SympyOps.asarray([sp.Integer(1), sp.Integer(1)])
    a2 = alpha.subs({d: 2, nnz: 2})
    violation = OPS.total(x * (1 - a2 * OPS.indicator_(x, strict=True)))

    def recheck():
        return bool(sp.Rational(violation) > 0)

    fixed = rules.mask_scale(OPS, rules.Caution(lam=0, tie="zero", normalize="nnz_xi", xi=0), d, nnz, None)
    fixed = fixed.args[-1][0] if isinstance(fixed, sp.Piecewise) else fixed
    fixed_ok = all(sp.simplify(fixed.subs({d: dd, nnz: k})) >= 1 for dd in range(1, 9) for k in range(1, dd + 1))
    correction = {"statement": "alpha(x) = dim(x)/nnz(x > 0) (xi = 0), or max(alpha, 1), gives alpha >= 1 whenever "
                               "some x_i > 0, and then phi meets (6) and both conditions of Thm. 2.1",
                  "verdict": "holds" if fixed_ok else "refuted",
                  "evidence": {"checked": "alpha >= 1 for all 1 <= nnz <= d <= 8 (exact)", "alpha": str(fixed)}}
    return Verdict("refuted", f"alpha = d/(nnz+1) < 1 when every x_i > 0 (alpha = {at_full}): x = (1, 1) gives "
                   f"x^T(1 - phi) = {violation} > 0", {"alpha": str(alpha), "alpha_when_all_positive": str(at_full),
                   "note": "the text writes 1(x >= 0) where eq. (1) has 1(x > 0); at x_i = 0 the term is 0 either way"},
                   {"x": ["1", "1"], "alpha": str(a2), "x^T(1-phi)": str(violation)}, correction, recheck)
