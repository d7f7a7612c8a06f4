"""The L-smooth test-function families (:mod:`ams_theory.engines.smooth`).

* ``L`` is a smoothness constant (>= the Hessian's spectral norm at many random points, and the
  sampled Lipschitz ratio of the gradient never exceeds it) and the smallest one (the Hessian's
  norm reaches ``L`` at ``curvature_maximiser``; gradient pairs straddling it reach ratio ~ L);
  ``L`` also equals an independent analytic formula per family.
* ``grad`` and ``hessian`` agree with torch autograd of ``value``.
* Convex families have PSD Hessians; nonconvex ones have a negative eigenvalue somewhere.
* Exact certificates of the quadratic families: exact values/gradients, ``certify_L`` proves the
  returned ``L`` and rejects ``L / 2`` (and, diagonal or not, anything clearly below the norm);
  the exact PSD test agrees with sympy's on small integer matrices.
* Determinism, ``select``, ``scale``, large vectorised batches, and a hypothesis finite-difference test.
"""
from __future__ import annotations

import dataclasses
import math

import pytest
import sympy as sp
import torch
from hypothesis import HealthCheck, given, settings

from ams_theory.engines import smooth

F64 = torch.float64
EPS = torch.finfo(F64).eps
ALL = list(smooth.LOSS_FAMILIES)
DIMS = (1, 2, 5)
NONCONVEX = [f for f in ALL if f not in smooth.CONVEX_FAMILIES]


def make(family, batch, d, seed=0, **kw):
    return smooth.LOSS_FAMILIES[family](batch, d, torch.Generator().manual_seed(seed), **kw)


def repeat(problem, times):
    """Each instance repeated ``times`` times (instance-major), to evaluate it at many points at once."""
    return problem.select(torch.arange(problem.batch).repeat_interleave(times))


def spectral_norm(H):
    return torch.linalg.eigvalsh(H).abs().amax(-1)


def random_points(problem, times, seed):
    """``times`` points per instance: wide Gaussians, and points near the curvature maximiser."""
    gen = torch.Generator().manual_seed(seed)
    big = repeat(problem, times)
    center = big.curvature_maximiser()
    wide = 5 * torch.randn(center.shape, generator=gen, dtype=F64)
    near = center + 0.05 * torch.randn(center.shape, generator=gen, dtype=F64)
    pick = (torch.arange(big.batch) % 2 == 0).unsqueeze(-1)
    return big, torch.where(pick, wide, near)


def analytic_L(problem):
    """The smoothness constant from the family's formula, computed here independently."""
    if isinstance(problem, smooth.QuadraticProblem):
        return spectral_norm(problem.A)
    if isinstance(problem, smooth.SeparableProblem):
        k2 = problem.k ** 2
        per = torch.where(problem.kind == smooth.SOFTPLUS, problem.c * k2 / 4,
                          torch.where(problem.kind == smooth.LOGCOSH, problem.c * k2, problem.c.abs() * k2))
        return per.amax(-1)
    X = problem.X
    return problem.coef * torch.linalg.eigvalsh(X.mT @ X)[..., -1] / (4 * X.shape[1]) + problem.lam


# ----------------------------------------------------------------------------- registry and shapes

def test_registry():
    assert set(smooth.LOSS_FAMILIES) == {
        "quadratic_convex", "quadratic_indefinite", "quadratic_diagonal", "quadratic_diagonal_convex",
        "separable_softplus", "separable_logcosh", "separable_sin", "separable_mixed", "logistic"}
    assert set(smooth.QUADRATIC_FAMILIES) == {f for f in smooth.LOSS_FAMILIES if f.startswith("quadratic")}
    for name in ALL:
        p = make(name, 3, 2)
        assert p.family == name
        assert p.convex == (name in smooth.CONVEX_FAMILIES)
    assert not make("quadratic_indefinite", 1, 2).convex and make("quadratic_convex", 1, 2).convex
    with pytest.raises(ValueError):
        smooth.sample("nope", 1, 1, torch.Generator())


@pytest.mark.parametrize("family", ALL)
@pytest.mark.parametrize("d", DIMS)
def test_shapes_and_dtypes(family, d):
    p = make(family, 7, d)
    w = torch.randn(7, d, dtype=F64)
    assert p.batch == 7 and p.d == d and p.L.shape == (7,)
    assert p.value(w).shape == (7,) and p.grad(w).shape == (7, d) and p.hessian(w).shape == (7, d, d)
    for t in (p.L, p.value(w), p.grad(w), p.hessian(w)):
        assert t.dtype == F64 and torch.isfinite(t).all()
    assert (p.L > 0).all()
    with pytest.raises(ValueError):
        p.value(torch.zeros(6, d, dtype=F64))


# ----------------------------------------------------------------------------- L is a (tight) smoothness constant

@pytest.mark.parametrize("family", ALL)
@pytest.mark.parametrize("d", DIMS)
def test_L_bounds_hessian_and_is_attained(family, d):
    p = make(family, 48, d, seed=d)
    big, w = random_points(p, 24, seed=d)
    norms = spectral_norm(big.hessian(w)).reshape(p.batch, -1)
    assert (norms <= p.L.unsqueeze(-1) * (1 + 1e-12)).all()
    # attained at the maximiser, and approached nearby
    at = spectral_norm(p.hessian(p.curvature_maximiser()))
    assert torch.allclose(at, p.L, rtol=1e-12, atol=0)
    assert (p.L <= 1.0001 * norms[:, 1::2].amax(-1) / (1 - 0.05)).all()   # near points: within a few percent
    assert (p.L <= 1.0001 * torch.maximum(at, norms.amax(-1))).all()
    # and the family's formula, computed independently
    assert torch.allclose(p.L, analytic_L(p), rtol=1e-12, atol=0)


@pytest.mark.parametrize("family", ALL)
@pytest.mark.parametrize("d", DIMS)
def test_lipschitz_ratio(family, d):
    """|grad f(x) - grad f(y)| <= L |x - y| (1 + 1e-12) (+ the gradients' own rounding) over random
    pairs at all distances, and over short pairs w* +- delta v straddling the curvature maximiser
    along the Hessian's top eigenvector, where the ratio reaches L."""
    p = make(family, 48, d, seed=10 + d)
    gen = torch.Generator().manual_seed(d)
    big = repeat(p, 16)
    x = 5 * torch.randn(big.batch, d, generator=gen, dtype=F64)
    y = x + torch.randn(big.batch, d, generator=gen, dtype=F64) * torch.exp(
        2 * torch.randn(big.batch, 1, generator=gen, dtype=F64))
    center = p.curvature_maximiser()
    evals, evecs = torch.linalg.eigh(p.hessian(center))
    top = evecs.gather(-1, evals.abs().argmax(-1)[:, None, None].expand(-1, d, 1)).squeeze(-1)
    delta = 1e-3 / p.k.abs().amax(-1, keepdim=True) if isinstance(p, smooth.SeparableProblem) else 1e-3
    both = smooth.Problem.select(big, torch.cat([torch.arange(big.batch), torch.arange(0, big.batch, 16)]))
    x, y = torch.cat([x, center + delta * top]), torch.cat([y, center - delta * top])
    gx, gy = both.grad(x), both.grad(y)
    num, den = (gx - gy).norm(dim=-1), (x - y).norm(dim=-1)
    slack = 64 * EPS * (gx.norm(dim=-1) + gy.norm(dim=-1))
    assert (num <= both.L * den * (1 + 1e-12) + slack).all()
    # the ratio reaches L at the maximiser, so a planted L smaller by 1% would be caught
    assert ((num / den)[big.batch:] >= 0.999 * p.L).all()
    assert not (num <= 0.99 * both.L * den + slack).all()


# ----------------------------------------------------------------------------- derivatives

@pytest.mark.parametrize("family", ALL)
@pytest.mark.parametrize("d", DIMS)
def test_grad_and_hessian_match_autograd(family, d):
    p = make(family, 6, d, seed=20 + d)
    big, w = random_points(p, 4, seed=d)
    w = w.clone().requires_grad_(True)
    v = big.value(w)
    (g_auto,) = torch.autograd.grad(v.sum(), w, create_graph=True)
    g = big.grad(w.detach())
    scale = 1 + g.abs().amax(-1, keepdim=True)
    assert ((g_auto.detach() - g).abs() <= 1e-12 * scale).all()
    # Hessian by double backward, one row per coordinate (the instances are independent)
    H_auto = torch.stack([torch.autograd.grad(g_auto[:, j].sum(), w, retain_graph=True)[0] for j in range(d)], 1)
    H = big.hessian(w.detach())
    hscale = 1 + H.abs().amax((-1, -2), keepdim=True)
    assert ((H_auto - H).abs() <= 1e-12 * hscale).all()
    assert torch.equal(H, H.mT)


def naive_value(p, w):
    """The family's defining formula, written directly (fine for moderate arguments)."""
    if isinstance(p, smooth.QuadraticProblem):
        return 0.5 * torch.einsum("bi,bij,bj->b", w, p.A, w) + (p.b * w).sum(-1) + p.c
    if isinstance(p, smooth.SeparableProblem):
        z = p.k * w + p.s
        phi = torch.where(p.kind == smooth.SOFTPLUS, torch.log1p(torch.exp(z)),
                          torch.where(p.kind == smooth.LOGCOSH, torch.log(torch.cosh(p.k * w)), torch.sin(z)))
        return (p.c * phi).sum(-1)
    m = p.y * torch.einsum("bnd,bd->bn", p.X, w)
    return p.coef * torch.log1p(torch.exp(-m)).mean(-1) + 0.5 * p.lam * (w * w).sum(-1)


@pytest.mark.parametrize("family", ALL)
@pytest.mark.parametrize("d", DIMS)
def test_value_matches_definition(family, d):
    p = make(family, 16, d, seed=50 + d)
    w = 2 * torch.randn(16, d, dtype=F64, generator=torch.Generator().manual_seed(d))
    v = p.value(w)
    assert torch.allclose(v, naive_value(p, w), rtol=1e-12, atol=1e-12 * float(v.abs().max()))
    if isinstance(p, smooth.SeparableProblem):   # the declared parameter ranges
        assert (p.k != 0).all() and ((p.c > 0) | (p.kind == smooth.SIN)).all()
        assert ((p.s == 0) | (p.kind != smooth.LOGCOSH)).all()
        if family == "separable_mixed":
            assert d < 5 or p.kind.unique().tolist() == [0, 1, 2]
        else:
            assert (p.kind == smooth.SEPARABLE_KINDS[family.split("_")[1]]).all()


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")  # inside torch.func
@pytest.mark.parametrize("family", ["quadratic_convex", "separable_mixed", "logistic"])
def test_hessian_matches_torch_func(family):
    p = make(family, 3, 3, seed=5)
    w = torch.randn(3, 3, dtype=F64)
    for i in range(3):
        one = p.select(i)
        H = torch.func.hessian(lambda x: one.value(x.unsqueeze(0))[0])(w[i])
        assert torch.allclose(H, one.hessian(w[i:i + 1])[0], rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- convexity

@pytest.mark.parametrize("family", ALL)
@pytest.mark.parametrize("d", DIMS)
def test_convexity(family, d):
    p = make(family, 64, d, seed=30 + d)
    big, w = random_points(p, 8, seed=d)
    lo = torch.linalg.eigvalsh(big.hessian(w))[..., 0]
    if family in smooth.CONVEX_FAMILIES:
        assert (lo >= -1e-12 * big.L).all()
    else:
        assert (lo < -1e-3 * big.L).any()


def test_quadratic_spectra():
    """Exact zeros in the convex spectra, both signs in every indefinite instance with d >= 2."""
    for family in ("quadratic_convex", "quadratic_diagonal_convex"):
        ev = torch.linalg.eigvalsh(make(family, 200, 4).A)
        assert (ev.abs() <= 1e-12 * ev.abs().amax(-1, keepdim=True)).any(-1).float().mean() > 0.3
        assert (ev.amax(-1) > 0).all()
    for family in ("quadratic_indefinite", "quadratic_diagonal"):
        ev = torch.linalg.eigvalsh(make(family, 200, 2).A)
        assert (ev[:, 0] < 0).all() and (ev[:, -1] > 0).all()
        ev1 = make(family, 200, 1).A[:, 0, 0]
        assert (ev1 < 0).any() and (ev1 > 0).any()
    a = make("quadratic_diagonal", 50, 5)
    assert torch.equal(a.A, torch.diag_embed(torch.diagonal(a.A, dim1=-2, dim2=-1)))
    assert torch.equal(a.L, torch.diagonal(a.A, dim1=-2, dim2=-1).abs().amax(-1))


# ----------------------------------------------------------------------------- exact certificates

@pytest.mark.parametrize("family", smooth.QUADRATIC_FAMILIES)
@pytest.mark.parametrize("d", (1, 2, 3, 5))
def test_exact_quadratic(family, d):
    p = make(family, 4, d, seed=40 + d)
    gen = torch.Generator().manual_seed(d)
    for i in range(p.batch):
        ex = smooth.exact_quadratic(p, i)
        assert ex.A.shape == (d, d) and ex.b.shape == (d, 1) and ex.A == ex.A.T
        assert all(isinstance(x, sp.Rational) for x in [*ex.A, *ex.b, ex.c, ex.L])
        assert float(ex.A[0, 0]) == float(p.A[i, 0, 0]) and float(ex.c) == float(p.c[i])
        for _ in range(3):
            w = 3 * torch.randn(1, d, generator=gen, dtype=F64)
            wl = w[0].tolist()
            v, g = ex.value(wl), ex.grad(wl)
            assert isinstance(v, sp.Rational) and all(isinstance(x, sp.Rational) for x in g)
            one = p.select(i)
            terms = float((0.5 * w.abs() @ p.A[i].abs() @ w.abs().T + p.b[i].abs() @ w.abs().T)[0, 0]) \
                + abs(float(p.c[i]))
            assert abs(float(v) - float(one.value(w)[0])) <= 1e-12 * terms
            gf = one.grad(w)[0]
            gscale = float((p.A[i].abs() @ w[0].abs() + p.b[i].abs()).max())
            assert max(abs(float(a) - float(b)) for a, b in zip(g, gf)) <= 1e-12 * gscale
            # the exact gradient is the exact derivative of the exact value (sympy)
            syms = sp.symbols(f"x0:{d}")
            f = sp.Rational(1, 2) * (sp.Matrix(syms).T * ex.A * sp.Matrix(syms))[0] + \
                (ex.b.T * sp.Matrix(syms))[0] + ex.c
            sub = dict(zip(syms, [smooth._rational(x) for x in wl]))
            assert [sp.diff(f, s).subs(sub) for s in syms] == g and f.subs(sub) == v
        # L is proved, half of it (a planted wrong L) is rejected, and it is tight
        assert ex.certify_L()
        assert not ex.certify_L(ex.L / 2)
        assert not ex.certify_L(ex.L * (1 - sp.Rational(1, 10 ** 6)))
        assert not ex.certify_L(-1)
        off_diagonal = bool((p.A[i] != torch.diag(torch.diagonal(p.A[i]))).any())
        assert off_diagonal == (family in ("quadratic_convex", "quadratic_indefinite") and d > 1)
        if not off_diagonal:
            assert not ex.rounded_up and ex.L == smooth._rational(float(p.L[i]))
        else:
            assert ex.rounded_up and ex.L == smooth._rational(float(p.L[i])) * (1 + sp.Rational(1, 10 ** 9))
        if family == "quadratic_diagonal_convex":
            assert ex.certify_convex()
        if family in ("quadratic_indefinite", "quadratic_diagonal") and d >= 2:
            assert not ex.certify_convex()


def test_exact_quadratic_rejects_other_families_and_planted_matrices():
    with pytest.raises(TypeError):
        smooth.exact_quadratic(make("separable_sin", 2, 2), 0)
    p = make("quadratic_indefinite", 2, 3)
    ex = smooth.exact_quadratic(p, 1)
    # a planted matrix with a larger norm must not certify with the old L
    bigger = dataclasses.replace(ex, A=ex.A * sp.Rational(3, 2))
    assert not bigger.certify_L()
    # and a planted L (half the true one) in the float problem is refused by exact_quadratic
    bad = dataclasses.replace(p, L=p.L / 2)
    with pytest.raises(ValueError):
        smooth.exact_quadratic(bad, 0)


def test_is_psd_exact_against_sympy():
    gen = torch.Generator().manual_seed(0)
    seen = {True: 0, False: 0}
    for t in range(60):
        n = 1 + t % 4
        R = torch.randint(-3, 4, (n, n), generator=gen)
        if t % 3 == 0:
            R[0] = 0                                          # singular PSD Gram matrices
        M = sp.Matrix(R.T.tolist()) * sp.Matrix(R.tolist())
        if t % 2:
            i, j = [int(v) for v in torch.randint(0, n, (2,), generator=gen)]
            M[i, j] -= 1
            M[j, i] = M[i, j]
        expected = bool(M.is_positive_semidefinite)
        assert smooth.is_psd_exact(M) == expected
        seen[expected] += 1
    assert seen[True] > 10 and seen[False] > 10
    assert smooth.is_psd_exact([[0, 0], [0, 0]]) and not smooth.is_psd_exact([[0, 1], [1, 0]])
    assert smooth.is_psd_exact([[1, 1], [1, 1]]) and not smooth.is_psd_exact([[1, 2], [2, 1]])
    with pytest.raises(ValueError):
        smooth.is_psd_exact([[1, 2], [0, 1]])


# ----------------------------------------------------------------------------- determinism, select, scale, size

def _tensors(p):
    return {n: getattr(p, n) for n in p._batched}


@pytest.mark.parametrize("family", ALL)
def test_determinism(family):
    a, b, c = make(family, 20, 3, seed=7), make(family, 20, 3, seed=7), make(family, 20, 3, seed=8)
    for n, t in _tensors(a).items():
        assert torch.equal(t, _tensors(b)[n])
    assert any(not torch.equal(t, _tensors(c)[n]) for n, t in _tensors(a).items() if t.is_floating_point())
    # a shared generator continues deterministically
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    smooth.LOSS_FAMILIES[family](5, 2, g1), smooth.LOSS_FAMILIES[family](5, 2, g2)
    assert torch.equal(smooth.LOSS_FAMILIES[family](5, 2, g1).L, smooth.LOSS_FAMILIES[family](5, 2, g2).L)


@pytest.mark.parametrize("family", ALL)
def test_select_and_scale(family):
    p = make(family, 10, 3, seed=1)
    w = torch.randn(10, 3, dtype=F64)
    idx = torch.tensor([7, 2, 2])
    s = p.select(idx)
    assert s.family == p.family and s.convex == p.convex and s.batch == 3
    # (vectorised kernels may differ in the last ulp between batch sizes)
    assert torch.allclose(s.value(w[idx]), p.value(w)[idx], rtol=1e-14, atol=0)
    assert torch.allclose(s.grad(w[idx]), p.grad(w)[idx], rtol=1e-14, atol=1e-300)
    mask = torch.arange(10) % 3 == 0
    assert torch.equal(p.select(mask).L, p.L[mask])
    assert p.select(4).batch == 1
    q = make(family, 10, 3, seed=1, scale=2.0)
    assert torch.allclose(q.L, 2 * p.L, rtol=1e-13, atol=0)
    assert torch.allclose(q.grad(w), 2 * p.grad(w), rtol=1e-12, atol=1e-12)
    assert torch.allclose(q.value(w), 2 * p.value(w), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("family", ALL)
def test_large_batch_vectorised(family):
    p = make(family, 20_000, 8)
    w = torch.randn(20_000, 8, dtype=F64)
    assert torch.isfinite(p.value(w)).all() and torch.isfinite(p.grad(w)).all()
    assert torch.isfinite(p.L).all() and (p.L > 0).all()


def test_extreme_points_are_finite():
    """Stable formulations: no overflow far from the origin."""
    for family in ALL:
        p = make(family, 4, 2)
        w = torch.tensor([[1e3, -1e3], [-800.0, 800.0], [1e6, 0.0], [0.0, -1e6]], dtype=F64)
        for t in (p.value(w), p.grad(w), p.hessian(w)):
            assert torch.isfinite(t).all(), family


# ----------------------------------------------------------------------------- hypothesis

@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(smooth.problems())
def test_value_grad_finite_differences(pw):
    problem, w = pw
    assert problem.batch == 1 and w.shape == (1, problem.d)
    g = problem.grad(w)[0]
    f0 = float(problem.value(w)[0])
    h = 1e-5
    for j in range(problem.d):
        e = torch.zeros_like(w)
        e[0, j] = h
        fd = (float(problem.value(w + e)[0]) - float(problem.value(w - e)[0])) / (2 * h)
        # truncation <= L h^2 (third-derivative scale ~ L k), rounding ~ eps |f| / h
        tol = 1e-7 * (1 + abs(f0) + abs(float(g[j]))) + float(problem.L[0]) * 1e-8
        assert math.isclose(fd, float(g[j]), abs_tol=tol)
