"""L-smooth test-function families: batches of B functions R^d -> R with certified smoothness constants.

Every sampler ``sample_<family>(batch, d, generator, scale=1.0)`` returns a :class:`Problem`:
B independent float64 functions in dimension ``d`` (any ``d >= 1``), drawn deterministically
from the ``torch.Generator`` and vectorised over the batch (no Python loop over B). ``scale``
multiplies the whole function (so ``L``, the gradient and the Hessian scale by it); the random
draws do not depend on it.

``Problem.L`` (shape ``(B,)``) is a smoothness constant, ``|grad f(x) - grad f(y)| <= L |x - y|``
for all ``x, y``, and it is the *smallest* one (``L = sup_w ||hess f(w)||_2``) up to rounding:

=============================  ========  ====================================================
family                         convex    f(w) and L
=============================  ========  ====================================================
quadratic_convex               yes       ``0.5 w'Aw + b'w + c``, ``A = Q diag(lam) Q'``, ``lam >= 0``
                                         (exact zeros sometimes); ``L = max |eig(A)|``
quadratic_indefinite           no        same, ``lam`` of both signs (``d >= 2``; a random sign
                                         for ``d = 1``); ``L = max |eig(A)|``
quadratic_diagonal             no        ``A = diag(a)``, ``a`` of both signs; ``L = max |a_i|``
quadratic_diagonal_convex      yes       ``A = diag(a)``, ``a >= 0``; ``L = max a_i``
separable_softplus             yes       ``sum c_i softplus(k_i w_i + s_i)``, ``c_i > 0``;
                                         ``L = max c_i k_i^2 / 4``
separable_logcosh              yes       ``sum c_i log cosh(k_i w_i)``, ``c_i > 0``; ``L = max c_i k_i^2``
separable_sin                  no        ``sum c_i sin(k_i w_i + s_i)``; ``L = max |c_i| k_i^2``
separable_mixed                no        one of the three above per coordinate; ``L = max`` of the
                                         per-coordinate constants (the Hessian is diagonal)
logistic                       yes       ``s mean_j log(1 + exp(-y_j x_j'w)) + lam/2 |w|^2``;
                                         ``L = s lambda_max(X'X) / (4n) + lam``
=============================  ========  ====================================================

For the rotated quadratics ``L`` is ``max |eigvalsh(A)|`` of the float64 matrix ``A``, which may
be a few ulps below the true spectral norm; for the diagonal ones it is exact. Each problem also
exposes :meth:`Problem.curvature_maximiser`, a point where ``||hess f|| = L`` (up to rounding),
so that tests can check ``L`` is attained, not merely an upper bound.

Exact certificates (quadratic families only): :func:`exact_quadratic` converts instance ``i``
to sympy Rationals (each float64 number is the binary rational it exactly is) and returns an
:class:`ExactQuadratic` whose ``L`` has been *proved* exactly: ``L I - A`` and ``L I + A`` are
both positive semidefinite (an exact rational LDL' test). For diagonal ``A`` the proved ``L`` is
``max |a_i|`` exactly; otherwise the float ``L`` is rounded up by a relative ``1e-9``
(``L_exact = Rational(L_float) * (1 + 10**-9)``), which covers the eigen-solver's error.

Hypothesis support: :func:`problems` is a strategy of ``(problem with B = 1, w)`` pairs
(hypothesis is imported only when it is called).
"""
from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from typing import Callable, ClassVar, Sequence

import sympy as sp
import torch

__all__ = ["Problem", "QuadraticProblem", "SeparableProblem", "LogisticProblem", "ExactQuadratic",
           "LOSS_FAMILIES", "QUADRATIC_FAMILIES", "CONVEX_FAMILIES", "SEPARABLE_KINDS", "sample", "exact_quadratic",
           "is_psd_exact", "problems",
           "sample_quadratic_convex", "sample_quadratic_indefinite", "sample_quadratic_diagonal",
           "sample_quadratic_diagonal_convex", "sample_separable_softplus", "sample_separable_logcosh",
           "sample_separable_sin", "sample_separable_mixed", "sample_logistic"]

F64 = torch.float64

# Codes of the one-dimensional pieces of the separable families.
SOFTPLUS, LOGCOSH, SIN = 0, 1, 2
SEPARABLE_KINDS = {"softplus": SOFTPLUS, "logcosh": LOGCOSH, "sin": SIN}


# ----------------------------------------------------------------------------- the batch API

class Problem:
    """A batch of B functions R^d -> R with certified smoothness constants.

    Attributes: ``family`` (its name), ``convex`` (True if every function of the family is
    convex), ``L`` (shape ``(B,)``: ``|grad f(x) - grad f(y)| <= L |x - y|`` for all x, y).
    Methods take ``w`` of shape ``(B, d)`` and return ``(B,)`` values, ``(B, d)`` gradients,
    ``(B, d, d)`` Hessians; ``select(idx)`` is the sub-batch ``idx`` (a LongTensor, a bool mask,
    a list, a slice or an int; an int keeps the batch dimension).
    """

    family: str
    convex: bool
    L: torch.Tensor
    _batched: ClassVar[tuple[str, ...]] = ("L",)

    @property
    def batch(self) -> int:
        return int(self.L.shape[0])

    def __len__(self) -> int:
        return self.batch

    @property
    def d(self) -> int:
        raise NotImplementedError

    def value(self, w: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def grad(self, w: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def hessian(self, w: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def curvature_maximiser(self) -> torch.Tensor:
        """A point ``(B, d)`` where ``||hess f(w)||_2 = L`` (up to rounding)."""
        raise NotImplementedError

    def select(self, idx) -> "Problem":
        if isinstance(idx, int):
            idx = torch.tensor([idx])
        elif isinstance(idx, (list, tuple)):
            idx = torch.as_tensor(idx)
        return dataclasses.replace(self, **{n: getattr(self, n)[idx] for n in self._batched})

    def to(self, device) -> "Problem":
        return dataclasses.replace(self, **{n: getattr(self, n).to(device) for n in self._batched})

    def _check(self, w: torch.Tensor) -> torch.Tensor:
        if w.shape != (self.batch, self.d):
            raise ValueError(f"{self.family}: expected w of shape {(self.batch, self.d)}, got {tuple(w.shape)}")
        return w.to(F64)


@dataclasses.dataclass(frozen=True, eq=False)
class QuadraticProblem(Problem):
    """``f(w) = 0.5 w'Aw + b'w + c`` with ``A`` (B, d, d) exactly symmetric, ``b`` (B, d), ``c`` (B,)."""

    family: str
    convex: bool
    L: torch.Tensor
    A: torch.Tensor
    b: torch.Tensor
    c: torch.Tensor
    _batched: ClassVar[tuple[str, ...]] = ("L", "A", "b", "c")

    @property
    def d(self) -> int:
        return int(self.b.shape[-1])

    def value(self, w):
        w = self._check(w)
        Aw = torch.einsum("bij,bj->bi", self.A, w)
        return 0.5 * (w * Aw).sum(-1) + (self.b * w).sum(-1) + self.c

    def grad(self, w):
        w = self._check(w)
        return torch.einsum("bij,bj->bi", self.A, w) + self.b

    def hessian(self, w):
        self._check(w)
        return self.A.clone()

    def curvature_maximiser(self):
        return torch.zeros_like(self.b)


@dataclasses.dataclass(frozen=True, eq=False)
class SeparableProblem(Problem):
    """``f(w) = sum_i phi_{kind_i}(w_i)`` with per-coordinate ``kind`` (0 softplus, 1 logcosh, 2 sin):

    * softplus: ``c softplus(k w + s)``, ``|phi''| <= c k^2 / 4`` (at ``k w + s = 0``);
    * logcosh:  ``c log cosh(k w)`` (``s = 0``), ``|phi''| <= c k^2`` (at ``w = 0``);
    * sin:      ``c sin(k w + s)``, ``|phi''| <= |c| k^2`` (at ``k w + s = pi/2``).
    """

    family: str
    convex: bool
    L: torch.Tensor
    kind: torch.Tensor      # (B, d) int64
    c: torch.Tensor         # (B, d)
    k: torch.Tensor         # (B, d)
    s: torch.Tensor         # (B, d)
    _batched: ClassVar[tuple[str, ...]] = ("L", "kind", "c", "k", "s")

    @property
    def d(self) -> int:
        return int(self.c.shape[-1])

    @staticmethod
    def constants(kind, c, k):
        """Per-coordinate ``sup |phi_i''|`` (B, d)."""
        k2 = k * k
        return torch.where(kind == SOFTPLUS, c * k2 / 4, torch.where(kind == LOGCOSH, c * k2, c.abs() * k2))

    def _z(self, w):
        return self.k * self._check(w) + self.s

    def value(self, w):
        z = self._z(w)
        zero = torch.zeros_like(z)
        sp_ = torch.logaddexp(z, zero)                                       # softplus(z), stable
        lc = z + torch.logaddexp(zero, -2 * z) - math.log(2.0)               # log cosh(z), stable and smooth
        phi = torch.where(self.kind == SOFTPLUS, sp_, torch.where(self.kind == LOGCOSH, lc, torch.sin(z)))
        return (self.c * phi).sum(-1)

    def _dphi(self, z):
        return torch.where(self.kind == SOFTPLUS, torch.sigmoid(z),
                           torch.where(self.kind == LOGCOSH, torch.tanh(z), torch.cos(z)))

    def _d2phi(self, z):
        sig = torch.sigmoid(z) * torch.sigmoid(-z)
        sech2 = 4 * torch.sigmoid(2 * z) * torch.sigmoid(-2 * z)
        return torch.where(self.kind == SOFTPLUS, sig, torch.where(self.kind == LOGCOSH, sech2, -torch.sin(z)))

    def grad(self, w):
        return self.c * self.k * self._dphi(self._z(w))

    def hessian(self, w):
        return torch.diag_embed(self.c * self.k * self.k * self._d2phi(self._z(w)))

    def curvature_maximiser(self):
        z = torch.where(self.kind == SIN, torch.full_like(self.s, math.pi / 2), torch.zeros_like(self.s))
        return (z - self.s) / self.k


@dataclasses.dataclass(frozen=True, eq=False)
class LogisticProblem(Problem):
    """``f(w) = coef * mean_j softplus(-y_j x_j'w) + lam/2 |w|^2``; ``X`` (B, n, d), ``y`` (B, n) in {-1, 1}.

    The Hessian is ``coef X' diag(sigma(m) sigma(-m)) X / n + lam I`` (``m = y o Xw``), at most
    ``coef lambda_max(X'X) / (4n) + lam`` in norm, with equality at ``w = 0``.
    """

    family: str
    convex: bool
    L: torch.Tensor
    X: torch.Tensor
    y: torch.Tensor
    lam: torch.Tensor       # (B,)
    coef: torch.Tensor      # (B,)
    _batched: ClassVar[tuple[str, ...]] = ("L", "X", "y", "lam", "coef")

    @property
    def d(self) -> int:
        return int(self.X.shape[-1])

    @property
    def n(self) -> int:
        return int(self.X.shape[-2])

    def _margins(self, w):
        return self.y * torch.einsum("bnd,bd->bn", self.X, w)

    def value(self, w):
        w = self._check(w)
        m = self._margins(w)
        loss = torch.logaddexp(torch.zeros_like(m), -m).mean(-1)
        return self.coef * loss + 0.5 * self.lam * (w * w).sum(-1)

    def grad(self, w):
        w = self._check(w)
        r = -self.y * torch.sigmoid(-self._margins(w))                       # d loss_j / d (x_j'w)
        return (self.coef / self.n).unsqueeze(-1) * torch.einsum("bnd,bn->bd", self.X, r) \
            + self.lam.unsqueeze(-1) * w

    def hessian(self, w):
        w = self._check(w)
        m = self._margins(w)
        D = torch.sigmoid(m) * torch.sigmoid(-m)
        H = torch.einsum("bn,bni,bnj->bij", D, self.X, self.X) * (self.coef / self.n)[:, None, None]
        H = 0.5 * (H + H.transpose(-1, -2))                                    # exactly symmetric
        return H + self.lam[:, None, None] * torch.eye(self.d, dtype=F64, device=w.device)

    def curvature_maximiser(self):
        return torch.zeros(self.X.shape[0], self.d, dtype=F64, device=self.X.device)


# ----------------------------------------------------------------------------- samplers

def _uniform(gen, shape, lo=0.0, hi=1.0):
    return lo + (hi - lo) * torch.rand(shape, generator=gen, dtype=F64)


def _loguniform(gen, shape, lo, hi):
    """``10 ** U(lo, hi)``."""
    return torch.pow(10.0, _uniform(gen, shape, lo, hi))


def _signs(gen, shape):
    return (2 * torch.randint(0, 2, shape, generator=gen) - 1).to(F64)


def _check_args(batch, d, scale):
    if batch < 0 or d < 1:
        raise ValueError(f"need batch >= 0 and d >= 1, got batch={batch}, d={d}")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be finite and positive, got {scale}")


def _spectrum(batch, d, gen, scale, signed):
    """Eigenvalues ``(B, d)``: magnitudes ``scale 10**U(-2, 1)``, exact zeros with probability 1/4
    (never all of them), both signs when ``signed`` and ``d >= 2`` (a random sign for ``d = 1``),
    in a random order."""
    mag = scale * _loguniform(gen, (batch, d), -2.0, 1.0)
    zero = torch.rand((batch, d), generator=gen, dtype=F64) < 0.25
    zero[:, 0] = False
    sign = _signs(gen, (batch, d))
    if signed:
        if d >= 2:
            sign[:, 0], sign[:, 1] = 1.0, -1.0
            zero[:, 1] = False
    else:
        sign = torch.ones_like(sign)
    lam = torch.where(zero, torch.zeros_like(mag), sign * mag)
    perm = torch.rand((batch, d), generator=gen, dtype=F64).argsort(-1)
    return lam.gather(-1, perm)


def _quadratic(family, batch, d, gen, scale, *, signed, diagonal):
    _check_args(batch, d, scale)
    lam = _spectrum(batch, d, gen, scale, signed)
    if diagonal:
        A = torch.diag_embed(lam)
        L = lam.abs().amax(-1)
    else:
        G = torch.randn((batch, d, d), generator=gen, dtype=F64)
        Q, R = torch.linalg.qr(G)
        Q = Q * torch.sign(torch.diagonal(R, dim1=-2, dim2=-1)).unsqueeze(-2)   # Haar-distributed rotation
        A = (Q * lam.unsqueeze(-2)) @ Q.transpose(-1, -2)
        A = 0.5 * (A + A.transpose(-1, -2))                                     # exactly symmetric
        L = torch.linalg.eigvalsh(A).abs().amax(-1) if batch else lam.new_zeros(0)
    b = scale * torch.randn((batch, d), generator=gen, dtype=F64)
    c = scale * torch.randn((batch,), generator=gen, dtype=F64)
    return QuadraticProblem(family=family, convex=not signed, L=L, A=A, b=b, c=c)


def sample_quadratic_convex(batch: int, d: int, generator: torch.Generator, scale: float = 1.0) -> QuadraticProblem:
    """``A = Q diag(lam) Q'`` with ``lam >= 0`` (exact zeros sometimes, never all), Q a random rotation."""
    return _quadratic("quadratic_convex", batch, d, generator, scale, signed=False, diagonal=False)


def sample_quadratic_indefinite(batch: int, d: int, generator: torch.Generator,
                                scale: float = 1.0) -> QuadraticProblem:
    """``A = Q diag(lam) Q'`` with eigenvalues of both signs (``d >= 2``; a random sign for ``d = 1``)."""
    return _quadratic("quadratic_indefinite", batch, d, generator, scale, signed=True, diagonal=False)


def sample_quadratic_diagonal(batch: int, d: int, generator: torch.Generator, scale: float = 1.0) -> QuadraticProblem:
    """``A = diag(a)``, ``a`` of both signs (``d >= 2``), ``L = max |a_i|`` exactly."""
    return _quadratic("quadratic_diagonal", batch, d, generator, scale, signed=True, diagonal=True)


def sample_quadratic_diagonal_convex(batch: int, d: int, generator: torch.Generator,
                                     scale: float = 1.0) -> QuadraticProblem:
    """``A = diag(a)``, ``a >= 0`` (exact zeros sometimes), ``L = max a_i`` exactly."""
    return _quadratic("quadratic_diagonal_convex", batch, d, generator, scale, signed=False, diagonal=True)


def _separable(family, convex, batch, d, gen, scale, kind_choice: Sequence[int]):
    _check_args(batch, d, scale)
    if len(kind_choice) == 1:
        kind = torch.full((batch, d), kind_choice[0], dtype=torch.int64)
        _ = torch.randint(0, 3, (batch, d), generator=gen)    # same stream consumption for every family
    else:
        kind = torch.tensor(kind_choice, dtype=torch.int64)[torch.randint(0, len(kind_choice), (batch, d),
                                                                          generator=gen)]
    cmag = scale * _loguniform(gen, (batch, d), -1.0, 1.0)
    csign = _signs(gen, (batch, d))
    kmag = _loguniform(gen, (batch, d), -0.5, 0.5)
    ksign = _signs(gen, (batch, d))
    s_normal = 2.0 * torch.randn((batch, d), generator=gen, dtype=F64)
    s_angle = _uniform(gen, (batch, d), 0.0, 2 * math.pi)
    c = torch.where(kind == SIN, csign * cmag, cmag)
    k = torch.where(kind == SOFTPLUS, ksign * kmag, kmag)
    s = torch.where(kind == SOFTPLUS, s_normal, torch.where(kind == SIN, s_angle, torch.zeros_like(s_angle)))
    L = SeparableProblem.constants(kind, c, k).amax(-1)
    return SeparableProblem(family=family, convex=convex, L=L, kind=kind, c=c, k=k, s=s)


def sample_separable_softplus(batch: int, d: int, generator: torch.Generator, scale: float = 1.0) -> SeparableProblem:
    """``sum c_i softplus(k_i w_i + s_i)``: ``c ~ scale 10**U(-1, 1)``, ``|k| ~ 10**U(-.5, .5)`` (random sign),
    ``s ~ N(0, 4)``; ``L = max c_i k_i^2 / 4``."""
    return _separable("separable_softplus", True, batch, d, generator, scale, (SOFTPLUS,))


def sample_separable_logcosh(batch: int, d: int, generator: torch.Generator, scale: float = 1.0) -> SeparableProblem:
    """``sum c_i log cosh(k_i w_i)``: ``c ~ scale 10**U(-1, 1)``, ``k ~ 10**U(-.5, .5)``; ``L = max c_i k_i^2``."""
    return _separable("separable_logcosh", True, batch, d, generator, scale, (LOGCOSH,))


def sample_separable_sin(batch: int, d: int, generator: torch.Generator, scale: float = 1.0) -> SeparableProblem:
    """``sum c_i sin(k_i w_i + s_i)``: ``|c| ~ scale 10**U(-1, 1)`` (random sign), ``k ~ 10**U(-.5, .5)``,
    ``s ~ U(0, 2 pi)``; ``L = max |c_i| k_i^2``."""
    return _separable("separable_sin", False, batch, d, generator, scale, (SIN,))


def sample_separable_mixed(batch: int, d: int, generator: torch.Generator, scale: float = 1.0) -> SeparableProblem:
    """Each coordinate independently softplus, logcosh or sin (drawn as above)."""
    return _separable("separable_mixed", False, batch, d, generator, scale, (SOFTPLUS, LOGCOSH, SIN))


def sample_logistic(batch: int, d: int, generator: torch.Generator, scale: float = 1.0,
                    n: int | None = None) -> LogisticProblem:
    """Regularised logistic regression on ``n`` (default ``2d + 4``) rows ``X ~ N(0, 1)``, ``y = +-1``,
    ``lam ~ scale 10**U(-3, -1)``; ``L = scale lambda_max(X'X) / (4n) + lam``."""
    _check_args(batch, d, scale)
    n = 2 * d + 4 if n is None else int(n)
    if n < 1:
        raise ValueError(f"need n >= 1 rows, got {n}")
    X = torch.randn((batch, n, d), generator=generator, dtype=F64)
    y = _signs(generator, (batch, n))
    lam = scale * _loguniform(generator, (batch,), -3.0, -1.0)
    coef = torch.full((batch,), float(scale), dtype=F64)
    gram = X.transpose(-1, -2) @ X
    top = torch.linalg.eigvalsh(gram)[..., -1] if batch else lam.new_zeros(0)
    L = coef * top / (4 * n) + lam
    return LogisticProblem(family="logistic", convex=True, L=L, X=X, y=y, lam=lam, coef=coef)


LOSS_FAMILIES: dict[str, Callable[..., Problem]] = {
    "quadratic_convex": sample_quadratic_convex,
    "quadratic_indefinite": sample_quadratic_indefinite,
    "quadratic_diagonal": sample_quadratic_diagonal,
    "quadratic_diagonal_convex": sample_quadratic_diagonal_convex,
    "separable_softplus": sample_separable_softplus,
    "separable_logcosh": sample_separable_logcosh,
    "separable_sin": sample_separable_sin,
    "separable_mixed": sample_separable_mixed,
    "logistic": sample_logistic,
}
QUADRATIC_FAMILIES = ["quadratic_convex", "quadratic_indefinite", "quadratic_diagonal", "quadratic_diagonal_convex"]
CONVEX_FAMILIES = ["quadratic_convex", "quadratic_diagonal_convex", "separable_softplus", "separable_logcosh",
                   "logistic"]


INFIMUM_FAMILIES = ("quadratic_diagonal_convex", "quadratic_diagonal", "separable_logcosh", "separable_softplus")


def infimum(problem):
    """``inf_w f(w)`` for the families where it has a closed form (:data:`INFIMUM_FAMILIES`): a diagonal quadratic
    ``sum_i (a_i w_i^2/2 + b_i w_i) + c`` has ``c - sum_{a_i > 0} b_i^2/(2 a_i)`` (-inf where some ``a_i <= 0`` has
    ``b_i != 0``); convex softplus and log-cosh sums have 0. A ``(B, 1)`` tensor, or exact for an exact diagonal
    quadratic (an object with ``.exact``, as the certificates pass)."""
    if hasattr(problem, "exact"):
        ex, out = problem.exact, problem.exact.c
        if any(ex.A[i, j] != 0 for i in range(ex.d) for j in range(ex.d) if i != j):
            raise ValueError("infimum: an exact quadratic that is not diagonal")
        for j in range(ex.d):
            a, b = ex.A[j, j], ex.b[j]
            if a > 0:
                out -= b * b / (2 * a)
            elif b != 0:
                return -sp.oo
        return out
    if problem.family not in INFIMUM_FAMILIES:
        raise ValueError(f"infimum: no closed form for the family {problem.family!r} (known: "
                         f"{', '.join(INFIMUM_FAMILIES)})")
    if isinstance(problem, SeparableProblem):                # c > 0: log cosh >= 0 (min 0), softplus > 0 (inf 0)
        return torch.zeros(problem.batch, 1, dtype=problem.c.dtype)
    a, b = torch.diagonal(problem.A, dim1=-2, dim2=-1), problem.b
    pos = a > 0
    value = problem.c - 0.5 * torch.where(pos, b * b / torch.where(pos, a, torch.ones_like(a)), 0 * b).sum(-1)
    unbounded = ((~pos) & (b != 0)).any(-1)
    return torch.where(unbounded, torch.full_like(value, -math.inf), value).reshape(-1, 1)


def sample(family: str, batch: int, d: int, generator: torch.Generator, scale: float = 1.0, **kw) -> Problem:
    """``LOSS_FAMILIES[family](batch, d, generator, scale, **kw)``."""
    try:
        sampler = LOSS_FAMILIES[family]
    except KeyError:
        raise ValueError(f"unknown family {family!r}; known: {sorted(LOSS_FAMILIES)}") from None
    return sampler(batch, d, generator, scale, **kw)


# ----------------------------------------------------------------------------- exact certificates

def _rational(x) -> sp.Rational:
    """The exact rational value of ``x`` (float: its binary value; int, Fraction, sympy Rational as is)."""
    if isinstance(x, sp.Rational):
        return x
    if isinstance(x, sp.Basic):
        if x.is_Rational:
            return sp.Rational(x)
        raise TypeError(f"not a rational number: {x!r}")
    if isinstance(x, torch.Tensor):
        x = x.item()
    if isinstance(x, bool):
        raise TypeError("bool is not a number here")
    if isinstance(x, int):
        return sp.Integer(x)
    if isinstance(x, Fraction):
        return sp.Rational(x.numerator, x.denominator)
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"not finite: {x}")
    f = Fraction(x)
    return sp.Rational(f.numerator, f.denominator)


def _fraction(x) -> Fraction:
    r = _rational(x)
    return Fraction(int(r.p), int(r.q))


def is_psd_exact(M) -> bool:
    """Exact test that the symmetric rational matrix ``M`` is positive semidefinite.

    Symmetric Gaussian elimination in exact rationals with the largest diagonal entry as pivot:
    a negative pivot refutes; a positive one is eliminated (``M`` is PSD iff its Schur complement
    is); a zero largest diagonal means PSD iff the remaining block is zero. ``M``: a sympy Matrix
    or nested sequences of rationals/floats (floats taken exactly). Raises if ``M`` is not square
    or not symmetric.
    """
    rows = M.tolist() if hasattr(M, "tolist") else [list(r) for r in M]
    n = len(rows)
    F = [[_fraction(v) for v in r] for r in rows]
    if any(len(r) != n for r in F):
        raise ValueError("matrix is not square")
    if any(F[i][j] != F[j][i] for i in range(n) for j in range(i)):
        raise ValueError("matrix is not symmetric")
    active = list(range(n))
    while active:
        k = max(active, key=lambda i: F[i][i])
        p = F[k][k]
        if p < 0:
            return False
        if p == 0:
            return all(F[i][j] == 0 for i in active for j in active)
        active.remove(k)
        for i in active:
            f = F[i][k] / p
            if f:
                Fi, Fk = F[i], F[k]
                for j in active:
                    Fi[j] -= f * Fk[j]
    return True


@dataclasses.dataclass(frozen=True, eq=False)
class ExactQuadratic:
    """Exact rational data of one quadratic instance: ``f(w) = 1/2 w'Aw + b'w + c``.

    ``A``: sympy Matrix (d x d, symmetric); ``b``: sympy column Matrix; ``c``, ``L``: sympy Rationals.
    ``L_float``: the float ``L`` of the source problem; ``rounded_up``: whether ``L`` is
    ``Rational(L_float) * (1 + 10**-9)`` (non-diagonal ``A``) rather than ``Rational(L_float)``.
    """

    A: sp.Matrix
    b: sp.Matrix
    c: sp.Rational
    L: sp.Rational
    family: str = ""
    L_float: float = math.nan
    rounded_up: bool = False

    @property
    def d(self) -> int:
        return int(self.A.shape[0])

    def _w(self, w) -> sp.Matrix:
        w = list(w)
        if len(w) != self.d:
            raise ValueError(f"expected {self.d} coordinates, got {len(w)}")
        return sp.Matrix([_rational(x) for x in w])

    def value(self, w) -> sp.Rational:
        """``f(w)`` exactly; ``w``: a sequence of rationals (floats are taken exactly)."""
        w = self._w(w)
        return sp.Rational(1, 2) * (w.T * self.A * w)[0, 0] + (self.b.T * w)[0, 0] + self.c

    def grad(self, w) -> list:
        """``A w + b`` exactly, as a list of sympy Rationals."""
        w = self._w(w)
        return list(self.A * w + self.b)

    def hessian(self) -> sp.Matrix:
        return self.A

    def certify_L(self, L=None) -> bool:
        """Exact proof that ``L I - A`` and ``L I + A`` are PSD, i.e. ``||A||_2 <= L``: ``f`` is L-smooth.
        ``L`` defaults to ``self.L``."""
        L = self.L if L is None else _rational(L)
        if L < 0:
            return False
        eye = sp.eye(self.d)
        return is_psd_exact(L * eye - self.A) and is_psd_exact(L * eye + self.A)

    def certify_convex(self) -> bool:
        """Exact test that ``A`` is PSD. Always true for ``quadratic_diagonal_convex``; for the rotated
        ``quadratic_convex`` an exact zero eigenvalue may be perturbed below 0 by float rounding."""
        return is_psd_exact(self.A)


RELATIVE_ROUND_UP = sp.Rational(1, 10 ** 9)


def exact_quadratic(problem: Problem, i: int) -> ExactQuadratic:
    """Instance ``i`` of a quadratic problem in exact rationals, with a proved smoothness constant.

    Every float64 datum is converted to the binary rational it is. For diagonal ``A`` (every
    off-diagonal entry exactly 0), ``L = max |a_jj|`` exactly (= the float ``L``). Otherwise the
    float ``L`` (from ``eigvalsh``) can be a few ulps below the true ``||A||_2``, so ``L`` is
    rounded up: ``L = Rational(L_float) * (1 + 10**-9)``. Either way ``certify_L`` is run, and a
    ``ValueError`` is raised should it fail (it should not: the solver's error is ~1e-15 relative).
    """
    if not isinstance(problem, QuadraticProblem) or problem.family not in QUADRATIC_FAMILIES:
        raise TypeError(f"exact_quadratic needs a quadratic family, got {getattr(problem, 'family', problem)!r}")
    i = int(i)
    if not -problem.batch <= i < problem.batch:
        raise IndexError(f"instance {i} out of range for a batch of {problem.batch}")
    A_f = problem.A[i].detach().cpu().tolist()
    d = len(A_f)
    A = sp.Matrix(d, d, lambda r, s: _rational(A_f[r][s]))
    b = sp.Matrix([_rational(x) for x in problem.b[i].detach().cpu().tolist()])
    c = _rational(problem.c[i].item())
    L_float = float(problem.L[i].item())
    diagonal = all(A_f[r][s] == 0.0 for r in range(d) for s in range(d) if r != s)
    if diagonal:
        L = max((abs(A[j, j]) for j in range(d)), default=sp.Integer(0))
        rounded_up = False
    else:
        L = _rational(L_float) * (1 + RELATIVE_ROUND_UP)
        rounded_up = True
    out = ExactQuadratic(A=A, b=b, c=c, L=sp.Rational(L), family=problem.family, L_float=L_float,
                         rounded_up=rounded_up)
    if not out.certify_L():
        raise ValueError(f"{problem.family} instance {i}: L = {L_float!r} could not be certified exactly")
    return out


def value_column(problem, w):
    """``problem.value(w)`` as a (B, 1) column for a torch batch (so it broadcasts against per-instance
    scalars of :class:`~ams_theory.core.ops.TorchOps`), unchanged for an exact one-instance problem."""
    v = problem.value(w)
    return v.reshape(-1, 1) if torch.is_tensor(v) else v


# ----------------------------------------------------------------------------- hypothesis

def problems(families=None, d=None):
    """A hypothesis strategy of ``(problem, w)``: ``problem`` a one-instance :class:`Problem` of a drawn
    family (from ``families``, default all) and dimension (``d``: a strategy, default
    ``st.integers(1, 4)``, or an int), sampled from ``torch.Generator().manual_seed(seed)`` with a
    drawn seed; ``w`` a ``(1, d)`` float64 tensor of hypothesis floats in ``[-10, 10]``.
    Shrinks towards the first family, small ``d``, seed 0 and ``w = 0``.
    """
    from hypothesis import strategies as st

    names = list(LOSS_FAMILIES) if families is None else [families] if isinstance(families, str) else list(families)
    unknown = [f for f in names if f not in LOSS_FAMILIES]
    if unknown or not names:
        raise ValueError(f"unknown or no families: {unknown}; known: {sorted(LOSS_FAMILIES)}")
    if d is None:
        d = st.integers(1, 4)
    elif isinstance(d, int):
        d = st.just(d)

    @st.composite
    def _draw(draw):
        family = draw(st.sampled_from(names))
        dim = draw(d)
        seed = draw(st.integers(0, 2 ** 32 - 1))
        problem = LOSS_FAMILIES[family](1, dim, torch.Generator().manual_seed(seed))
        coords = draw(st.lists(st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False),
                               min_size=dim, max_size=dim))
        return problem, torch.tensor([coords], dtype=F64)

    return _draw()
