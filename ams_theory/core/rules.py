r"""The rule core: every update rule of both papers, written once.

Each rule is a pure function of (parameter, gradient, optimizer state,
hyperparameters, step count) that returns the new parameter and state. The
functions are written against the operation set of :mod:`ams_theory.core.ops`,
so the same code runs on batched torch tensors (theory checks), on lists of
parameters (the optimizers: a single-tensor loop and a ``_foreach`` path) and on
sympy expressions (exact algebra).

Papers: "AMS/Grams paper" = Decoupling Sign and Magnitude in Optimization with
Adaptive Momentum Scaling (``grams-ams.md``); "Cautious paper" = Cautious
Optimizers (``cautious-optimizers.md``).

A method is a *direction* (what the base optimizer proposes, ``u``), an optional
*caution* (a mask of ``u`` against a reference ``s``, and a rescaling), and an
*application* (the parameter step with weight decay)::

    u, state  = direction(g, state)                   # adam / lion / heavy ball / signed
    c, n_phi, n_psi = alignment(u, s)                 # c = phi + psi  (AMS Alg. 1, l. 11-12)
    scale     = mask_scale(n_phi, n_psi, d)           # AMS d/(|phi|_1+|psi|_1), Cautious d/(nnz+xi), ...
    w         = apply_step(w, scale * c * u, lr, ...) # weight decay before/after, lr or scaled lr

Conventions that the papers leave open or set differently are fields of
:class:`Caution` and of the hyperparameter mapping, never hidden choices. The
ingredients a direction is built from (moment averages, bias corrections, Lion's
interpolation, the mask's reference) are the fields of :class:`Parts`; the step
functions take them as an argument, so a rule with one ingredient changed is the
same function with one piece replaced (used to diagnose other implementations).
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Callable, Mapping

from ams_theory.core.ops import Ops

__all__ = [
    "Caution", "CAUTION_KEYS", "needs_scope_reductions", "is_zero", "TIES", "NORMALIZATIONS", "MASK_KINDS",
    "WEIGHT_DECAY_MODES", "EPS_MODES",
    "Parts", "PAPER", "ema", "ema_of_square", "bias_corrections", "interpolate", "paper_reference",
    "adam_denominator", "adam_direction", "lion_direction", "heavy_ball_direction", "signed_momentum_direction",
    "alignment", "mask_scale", "mask_vector", "masked_update", "cautious_update", "apply_step", "sign_agreement",
    "ams_step", "lion_step", "heavy_ball_step", "signed_momentum_step", "gd_step",
]

TIES = ("aligned", "opposed", "zero", "signbit")
NORMALIZATIONS = ("ams", "nnz_xi", "mean_eps", "mean_clamp", "update_l1", "none")
MASK_KINDS = ("elementwise", "inner")
SCOPES = ("tensor", "group")
WEIGHT_DECAY_MODES = ("after_scaled", "after", "before", "l2")
EPS_MODES = ("corrected", "uncorrected", "sqrt", "max")


@dataclass(frozen=True)
class Caution:
    r"""How a direction ``u`` is masked against a reference ``s`` and rescaled.

    Coordinates are split by the sign of ``x = u * s`` into an *aligned* class
    (``x > 0``), an *opposed* class (``x < 0``) and ties (``x = 0``); ``tie``
    says which class ties join (``"zero"``: neither). The coefficient is
    ``c = 1_aligned + lam * 1_opposed``, i.e. ``phi + psi`` of Algorithm 1 of the
    AMS/Grams paper, and ``phi_c`` of eq. (13) of the Cautious paper with
    ``lam = -c``. The sign of ``x`` is computed as ``sign(u) * sign(s)``, which
    is exact where the float product ``u * s`` could underflow to a false tie.

    ``tie="signbit"`` has no ties: the classes come from the sign bits, ``copysign(1, u) copysign(1, s)``, so
    a gradient entry of +0 counts as positive and -0 as negative (what ``signbit`` comparisons compute).

    ``mask="inner"`` uses one scalar per scope, from the sign of ``<u, s>``
    (phi_inner of eq. (13), Thm. A.5 of the Cautious paper).

    ``normalize`` (``d`` = number of entries in the scope):

    ``"ams"``        ``d / (|phi|_1 + |psi|_1) = d / (n_aligned + |lam| n_opposed)``  (AMS Alg. 1, l. 13)
    ``"nnz_xi"``     ``d / (n_aligned + xi)``                                  (Cautious eq. (1), Alg. 2)
    ``"mean_eps"``   ``1 / (n_aligned / d + mask_eps)``                       (Cautious Alg. 1, one line of PyTorch)
    ``"mean_clamp"`` ``1 / max(n_aligned / d, mask_eps)``                     (a clamp in place of the epsilon)
    ``"update_l1"``  ``d / |c * u|_1``                                         (AMS/Grams paper, Def. 3.2, eta-hat)
    ``"none"``       ``1``

    A zero denominator (every entry masked) gives scale 0; the masked update
    is then exactly zero, so the step is finite and does nothing.

    ``scope``: the entries counted in ``d`` and ``n``: one tensor, or every
    tensor of the optimizer's parameter group (list back ends only).

    ``margin`` (kappa, default 0) shifts the class boundary: coordinate i is
    aligned when ``u_i s_i > kappa u_i^2`` (``mask="inner"``: ``<u, s> > kappa
    |u|^2``), the threshold masks of Thm. 2.4 / A.4 (kappa = mu sigma / 2) and
    Thm. A.7 (kappa = alpha mu eps / 2) of the Cautious paper. Its sign is taken
    as ``sign(u) * (s - kappa u)``. It may be a tensor broadcasting against the
    instances (one threshold per instance).
    """

    lam: float = 0.0
    tie: str = "zero"
    normalize: str = "nnz_xi"
    xi: float = 1.0
    mask_eps: float = 1e-8
    mask: str = "elementwise"
    scope: str = "tensor"
    margin: Any = 0

    def __post_init__(self):
        _check_choice("tie", self.tie, TIES)
        _check_choice("normalize", self.normalize, NORMALIZATIONS)
        _check_choice("mask", self.mask, MASK_KINDS)
        _check_choice("scope", self.scope, SCOPES)
        if self.tie == "signbit" and self.mask == "inner":
            raise ValueError("Invalid tie: 'signbit' reads the sign bits of entries; the inner mask has one scalar")
        for name in ("lam", "xi", "mask_eps", "margin"):
            _check_finite(name, getattr(self, name))
        if getattr(self.xi, "is_negative", self.xi < 0) is True:
            raise ValueError(f"Invalid xi: {self.xi} (must be >= 0)")
        if getattr(self.mask_eps, "is_negative", self.mask_eps < 0) is True:
            raise ValueError(f"Invalid mask_eps: {self.mask_eps} (must be >= 0)")

    @classmethod
    def from_mapping(cls, hp: Mapping[str, Any]) -> "Caution | None":
        """Read the caution fields of a hyperparameter mapping (``mask=None``: no caution)."""
        if hp.get("mask") is None:
            return None
        kw = {name: hp[name] for name in _CAUTION_FIELDS if name in hp}
        return cls(mask=hp["mask"], **kw)

    def to_hp(self) -> dict:
        """The hyperparameter entries that select this caution (the inverse of :meth:`from_mapping`)."""
        return {"mask": self.mask, **{name: getattr(self, name) for name in _CAUTION_FIELDS}}


# the fields read from a hyperparameter mapping besides ``mask``; a plain tuple rather than
# dataclasses.fields, so that torch.compile traces from_mapping
_CAUTION_FIELDS = tuple(f.name for f in fields(Caution) if f.name != "mask")
# the optimizers' caution keywords (the threshold ``margin`` is a theory setting, not an optimizer keyword)
CAUTION_KEYS = ("mask",) + tuple(name for name in _CAUTION_FIELDS if name != "margin")


def needs_scope_reductions(caution: "Caution | None") -> bool:
    """Whether a rule with this caution sums over its scope (counts, norms, inner products)."""
    return caution is not None and (caution.mask == "inner" or caution.normalize != "none")


def is_zero(value) -> bool:
    """Whether a hyperparameter is the number 0, so that its term is left out of the rule.

    A tensor counts as nonzero: the fused step passes nonzero hyperparameters as 0-d tensors (so that a
    scheduler can change them without recompiling) and zeros as numbers; a per-instance tensor of the
    theory checks keeps its terms (a term with a 0 entry is exact)."""
    return not _is_tensor(value) and value == 0


def _is_tensor(value) -> bool:
    return hasattr(value, "dtype") and hasattr(value, "numel")


def _compiling() -> bool:
    import torch

    return torch.compiler.is_compiling()


def _check_choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"Invalid {name}: {value!r} (expected one of {', '.join(map(repr, allowed))})")


def _check_finite(name, value):
    if _is_tensor(value) and _compiling():
        return                        # a hyperparameter tensor inside the fused step (the optimizer checked it)
    if hasattr(value, "dtype") and hasattr(value, "numel") and value.numel() != 1:   # a per-instance tensor
        if not bool(value.isfinite().all()):
            raise ValueError(f"Invalid {name}: non-finite entries")
        return
    if getattr(value, "is_real", None) and not getattr(value, "is_number", True):
        return                        # a real sympy symbol: exact checks keep hyperparameters symbolic
    try:
        ok = float(value) == float(value) and abs(float(value)) != float("inf")
    except (TypeError, ValueError):
        raise ValueError(f"Invalid {name}: {value!r} (must be a real number)") from None
    if not ok:
        raise ValueError(f"Invalid {name}: {value} (must be finite)")


# --------------------------------------------------------------------------
# ingredients: the replaceable pieces the directions are built from
# --------------------------------------------------------------------------

def ema(ops: Ops, buf, x, beta):
    r"""Exponential moving average ``buf <- beta buf + (1-beta) x`` (``buf`` is consumed)."""
    return ops.lerp_(buf, x, 1 - beta)


def ema_of_square(ops: Ops, v, g, beta):
    r"""Second-moment average ``v <- beta v + (1-beta) g^2`` (``v`` is consumed)."""
    return ops.addcmul_(ops.mul_(v, beta), g, g, 1 - beta)


def bias_corrections(beta1, beta2, t):
    r"""Adam's bias corrections ``(1 - beta1^t, 1 - beta2^t)`` of ``m`` and ``v`` at step ``t``."""
    return 1 - beta1 ** t, 1 - beta2 ** t


def interpolate(ops: Ops, m, g, beta):
    r"""``beta m + (1-beta) g``, Lion's direction before the sign (a new value)."""
    return ops.lincomb(m, beta, g, 1 - beta)


def paper_reference(ops: Ops, s, m, w):
    r"""The quantity the mask compares the direction with: ``s`` (the gradient, or AMS's
    ``beta3`` average of it), as both papers define it; ``m`` (the momentum) and ``w`` (the
    parameters) are unused."""
    return s


@dataclass(frozen=True)
class Parts:
    r"""The ingredients the step functions are composed of; the defaults are the papers'.

    ``first_moment(ops, m, g, beta)``   the momentum average (Adam's ``m``, Lion's and signed momentum's ``m``)
    ``second_moment(ops, v, g, beta)``  Adam's ``v``
    ``bias_corrections(b1, b2, t)``     the divisors of ``m`` and ``v``
    ``interpolation(ops, m, g, beta)``  Lion's pre-sign mix of momentum and gradient
    ``mask_reference(ops, s, m, w)``    what the caution mask compares the direction with
    ``decay_mask(ops, w, update)``      where decoupled weight decay applies (``None``: everywhere, as both
                                        papers do; a 0/1 mask from the parameters and the update otherwise)
    ``momentum_after_mask(ops, m, masked)`` the momentum kept after a masked Adam-family step (``None``: ``m``
                                        as averaged, as both papers keep it; ``masked = c o m``, the masked
                                        numerator, when code writes the mask into its state)

    The optimizers use :data:`PAPER`. Replacing one piece gives a rule with one
    ingredient changed, which is how :mod:`ams_theory.audit.conform` models a defect
    in someone else's implementation without a second copy of the rule.
    """

    first_moment: Callable = ema
    second_moment: Callable = ema_of_square
    bias_corrections: Callable = bias_corrections
    interpolation: Callable = interpolate
    mask_reference: Callable = paper_reference
    decay_mask: Callable | None = None
    momentum_after_mask: Callable | None = None

    def replace(self, **pieces) -> "Parts":
        return replace(self, **pieces)


PAPER = Parts()


# --------------------------------------------------------------------------
# directions
# --------------------------------------------------------------------------

def adam_denominator(ops: Ops, v, beta1, beta2, eps, t, eps_mode="corrected", parts: Parts = PAPER):
    r"""``den`` with Adam's direction ``u = m / den``; ``bc1, bc2`` = :func:`bias_corrections`.

    ``eps_mode`` (where ``eps`` sits relative to the bias correction):

    ``"corrected"``    ``u = (m/bc1) / (sqrt(v/bc2) + eps)``        (Alg. 2 / Def. A.4 of the AMS/Grams paper,
                       Alg. 2 of the Cautious paper, ``torch.optim.Adam``): ``den = bc1 (sqrt(v/bc2) + eps)``
    ``"uncorrected"``  ``u = (sqrt(bc2)/bc1) m / (sqrt(v) + eps)``   (eps added before the correction, the
                       "efficient" form in §2 of Kingma & Ba)
    ``"sqrt"``         ``u = (m/bc1) / sqrt(v/bc2 + eps)``           (eps inside the square root)
    ``"max"``          ``u = (m/bc1) / max(sqrt(v/bc2), eps)``       (eps as a floor)

    ``den > 0`` when ``eps > 0``, so ``sign(u) = sign(m)``. Keeping the quotient
    lets the parameter step divide in the same pass (``addcdiv``), as torch's Adam does.
    """
    if eps_mode not in EPS_MODES:
        _check_choice("eps_mode", eps_mode, EPS_MODES)
    bc1 = ops.smap(lambda k: parts.bias_corrections(beta1, beta2, k)[0], t)
    bc2 = ops.smap(lambda k: parts.bias_corrections(beta1, beta2, k)[1], t)
    if eps_mode == "sqrt":
        den = ops.add_(ops.mul(v, ops.smap(lambda b: 1 / b, bc2)), eps)
        return ops.mul_(ops.sqrt(den), bc1)
    c_sqrt = ops.smap(lambda b1, b2: b1 / ops.scalar_sqrt(b2), bc1, bc2)
    c_eps = ops.smap(lambda b: b * eps, bc1) if eps_mode in ("corrected", "max") \
        else ops.smap(lambda c: c * eps, c_sqrt)
    den = ops.sqrt(v)
    den = ops.mul_(den, c_sqrt)
    if eps_mode == "max":                  # max(a, e) = e + relu(a - e)
        den = ops.relu_(ops.add_(den, ops.smap(lambda c: -c, c_eps)))
    return ops.add_(den, c_eps)


def adam_direction(ops: Ops, g, m, v, beta1, beta2, eps, t, eps_mode="corrected", parts: Parts = PAPER):
    r"""Adam's direction: ``m <- beta1 m + (1-beta1) g``, ``v <- beta2 v + (1-beta2) g^2``,
    ``u = m / den`` (:func:`adam_denominator`). Returns ``(u, m, v)``; ``m``, ``v`` are consumed."""
    m = parts.first_moment(ops, m, g, beta1)
    v = parts.second_moment(ops, v, g, beta2)
    return ops.rdiv_(adam_denominator(ops, v, beta1, beta2, eps, t, eps_mode, parts), m), m, v


def lion_direction(ops: Ops, g, m, beta1, beta2, parts: Parts = PAPER):
    r"""Lion's direction (Def. A.5 of the AMS/Grams paper; Alg. 3 of the Cautious paper).

    ``u = sign(beta1 m + (1-beta1) g)`` with the old ``m``; then
    ``m <- beta2 m + (1-beta2) g``. Returns ``(u, m)``; ``m`` is consumed.
    """
    u = ops.sign_(parts.interpolation(ops, m, g, beta1))
    m = parts.first_moment(ops, m, g, beta2)
    return u, m


def heavy_ball_direction(ops: Ops, g, s, beta):
    r"""Polyak momentum as in §3.1 of the Cautious paper: ``s <- beta s + g``, ``u = s``.

    Returns ``(u, s)``; ``u`` is a copy, so masking it leaves ``s`` intact.
    """
    s = ops.mul_(s, beta)
    s = ops.add_(s, g)
    return ops.copy(s), s


def signed_momentum_direction(ops: Ops, g, m, beta, parts: Parts = PAPER):
    r"""Signed momentum, the Euler step of §A.3.2 of the Cautious paper.

    ``m <- beta m + (1-beta) g``, ``u = sign(m)``. Returns ``(u, m)``.
    """
    m = parts.first_moment(ops, m, g, beta)
    return ops.sign(m), m


# --------------------------------------------------------------------------
# caution: mask coefficient, counts, rescaling
# --------------------------------------------------------------------------

def _tie_weight(caution: Caution):
    return {"aligned": 1, "opposed": caution.lam, "zero": 0, "signbit": 0}[caution.tie]     # signbit: no ties


def _coefficient(ops: Ops, p, caution: Caution):
    r"""``c = 1_aligned + lam 1_opposed`` from ``p = sign(u*s)`` in {-1, 0, 1}; consumes ``p``.

    On {-1, 0, 1}: ``c = A p + B |p| + C`` with ``A = (1-lam)/2``,
    ``B = (1+lam)/2 - c0``, ``C = c0`` (``c0`` = weight of a tie); the
    branches below are exact rewrites of that polynomial with fewer passes.
    """
    lam, c0 = caution.lam, _tie_weight(caution)
    a, b = (1 - lam) / 2, (1 + lam) / 2 - c0  # exact for sympy numbers
    if b == a:                       # A(p + |p|) = 2A relu(p)
        return ops.affine_(ops.relu_(p), 2 * a, c0)
    if b == -a:                      # A(p - |p|) = -2A relu(-p)
        return ops.affine_(ops.relu_(ops.affine_(p, -1, 0)), -2 * a, c0)
    if b == 0:
        return ops.affine_(p, a, c0)
    return ops.affine_(ops.lincomb(ops.abs(p), b, p, a), 1, c0)


def _strict_count(ops: Ops, p, positive: bool):
    """Scope count of ``p > 0`` (or ``p < 0``) for ``p`` in {-1, 0, 1}."""
    return ops.total(ops.relu(p) if positive else ops.relu_(ops.mul(p, -1)))


def alignment(ops: Ops, u, s, caution: Caution):
    r"""Mask coefficient ``c = phi + psi`` of ``u`` against ``s``, with class counts.

    Returns ``(c, n_phi, n_psi)``: ``n_phi = |1_aligned|_1``, ``n_psi`` the
    number of opposed entries (ties counted where ``caution.tie`` puts them).
    A count that ``caution.normalize`` does not need is ``None``. For
    ``mask="inner"``, ``c`` is one scalar per scope.
    """
    need_phi = caution.normalize in ("ams", "nnz_xi", "mean_eps", "mean_clamp")
    need_psi = caution.normalize == "ams" and caution.lam != 0
    if _nonzero(caution.margin):
        s = ops.lincomb(s, 1, u, -caution.margin)      # u_i s_i - kappa u_i^2 = u_i (s_i - kappa u_i)
    if caution.mask == "inner":
        q = ops.smap(ops.scalar_sign, ops.dot(u, s))
        d = ops.numel(u)
        c = ops.smap(lambda v: _scalar_coefficient(ops, v, caution), q)
        n_phi = ops.smap(lambda v, n: n * ops.scalar_step(v, True, caution.tie == "aligned"), q, d)
        n_psi = ops.smap(lambda v, n: n * ops.scalar_step(v, False, caution.tie == "opposed"), q, d)
        return c, (n_phi if need_phi else None), (n_psi if need_psi else None)
    # sign(u) * s is exact (a sign times a float), so its sign is sign(u) sign(s)
    # even where the float product u * s would underflow to a false tie.
    x = ops.mul_(ops.unit_sign(u), ops.unit_sign(s)) if caution.tie == "signbit" else ops.mul_(ops.sign(u), s)
    if caution.lam == 0:
        # c is the aligned indicator itself: 1(x > 0), or 1(x >= 0) with ties aligned
        c = ops.indicator_(x, strict=caution.tie != "aligned")
        return c, (ops.total(c) if need_phi else None), None
    p = ops.sign_(x)
    n_phi = n_psi = None
    if caution.tie in ("zero", "signbit"):
        n_phi = _strict_count(ops, p, True) if need_phi else None
        n_psi = _strict_count(ops, p, False) if need_psi else None
    elif need_phi or need_psi:   # ties join one class: one count gives both
        d = ops.numel(p)
        other = _strict_count(ops, p, caution.tie == "opposed")
        rest = ops.smap(lambda n, k: n - k, d, other)
        n_phi, n_psi = (other, rest) if caution.tie == "opposed" else (rest, other)
    c = _coefficient(ops, p, caution)
    return c, n_phi, n_psi


def _nonzero(value) -> bool:
    if hasattr(value, "numel") and value.numel() != 1:
        return bool((value != 0).any())
    return value != 0


def _scalar_coefficient(ops: Ops, q, caution):
    return ops.scalar_step(q, True, caution.tie == "aligned") + caution.lam * ops.scalar_step(
        q, False, caution.tie == "opposed")


def mask_scale(ops: Ops, caution: Caution, d, n_phi, n_psi, masked_update=None, l1=None):
    r"""The rescaling factor of the masked update (see :class:`Caution`); ``None`` = 1.

    ``normalize="update_l1"`` takes ``|masked_update|_1``, or ``l1`` when it is given.
    """
    norm = caution.normalize
    if norm == "none":
        return None
    if norm == "ams":
        den = n_phi if n_psi is None else ops.smap(lambda a, b: a + abs(caution.lam) * b, n_phi, n_psi)
        return ops.safe_ratio(ops.smap(lambda n, ref: _like(n, ref), d, den), den)
    if norm == "nnz_xi":
        den = ops.smap(lambda a: a + caution.xi, n_phi)
        return ops.safe_ratio(ops.smap(lambda n, ref: _like(n, ref), d, den), den)
    if norm in ("mean_eps", "mean_clamp"):
        shift = (lambda q: q + caution.mask_eps) if norm == "mean_eps" else (lambda q: _at_least(q, caution.mask_eps))
        den = ops.smap(lambda a, n: shift(a / n), n_phi, d)
        return ops.safe_ratio(ops.smap(lambda ref: _like(1, ref), den), den)
    den = l1 if l1 is not None else ops.total(ops.abs(masked_update))            # update_l1
    return ops.safe_ratio(ops.smap(lambda n, ref: _like(n, ref), d, den), den)


def _at_least(q, c):
    """``max(q, c)`` for a scalar ``q`` of any back end (a 0-d tensor, a sympy number, a float)."""
    try:
        import torch

        if torch.is_tensor(q):
            return torch.clamp_min(q, c)
    except ImportError:  # pragma: no cover
        pass
    if hasattr(q, "is_number"):
        import sympy

        return sympy.Max(q, c)
    return max(q, c)


def _like(n, ref):
    """``n`` as a value of the same kind as ``ref`` (a 0-d tensor, a sympy number, ...)."""
    try:
        import torch

        if torch.is_tensor(n) and torch.is_tensor(ref):
            return n.to(ref.dtype)
        if torch.is_tensor(ref):
            return torch.full_like(ref, float(n))
    except ImportError:  # pragma: no cover
        pass
    return n


def masked_update(ops: Ops, u, alignment_result, caution: Caution | None, den=None):
    r"""``(phi + psi) * u`` and its rescaling factor, from the output of :func:`alignment`.

    Returns ``(update, scale)``: the step taken is ``lr * scale * update``
    (``/ den`` when ``den`` is given); ``scale`` is ``None`` when it is 1 (no
    caution, or ``normalize="none"``). The factor is kept apart so that
    :func:`apply_step` applies it in the same pass as the parameter update.

    With ``den`` (a positive denominator) the direction is ``u / den``, ``u``
    is left intact (it is a state buffer) and the update is the masked
    numerator. Without ``den``, ``u`` is consumed.
    """
    if caution is None:
        return u, None
    c, n_phi, n_psi = alignment_result
    l1 = None
    if caution.mask == "inner" and caution.normalize == "update_l1":
        # c is one number per scope, so |c u|_1 = |c| |u|_1: a sum that does not wait for <u, s>
        # (a pass over pieces of the scope can then record it beside the inner product)
        l1 = ops.smap(lambda n, k: abs(k) * n, ops.total(ops.abs(u if den is None else ops.div(u, den))), c)
    if den is None:
        upd = ops.mul_(u, c)
    else:
        upd = ops.mul(u, c) if caution.mask == "inner" else ops.mul_(c, u)
    l1_of = upd if den is None or caution.normalize != "update_l1" or l1 is not None else ops.div(upd, den)
    return upd, mask_scale(ops, caution, ops.numel(upd), n_phi, n_psi, masked_update=l1_of, l1=l1)


def mask_vector(ops: Ops, u, s, caution: Caution):
    r"""The mask as one vector, ``phi = scale * (phi + psi)``: what multiplies ``u`` in the step.

    This is the phi(u o s) of the Cautious paper's system (5) and of eq. (1) when
    ``u`` is the direction and ``s`` the gradient; ``u`` and ``s`` are not consumed.
    """
    c, n_phi, n_psi = alignment(ops, ops.copy(u), s, caution)
    scale = mask_scale(ops, caution, ops.numel(u), n_phi, n_psi, masked_update=ops.mul(u, c))
    return c if scale is None else ops.mul(c, scale)


def cautious_update(ops: Ops, u, s, caution: Caution | None, den=None):
    r"""Mask ``u`` (or ``u / den``) against ``s`` and rescale: :func:`alignment` then :func:`masked_update`."""
    if caution is None:
        return u, None
    return masked_update(ops, u, alignment(ops, u, s, caution), caution, den)


def apply_step(ops: Ops, w, update, lr, weight_decay, mode, scale=None, den=None, decay_mask=None):
    r"""The parameter step ``w <- w - eta_hat * update [/ den]``, ``eta_hat = lr * scale``, with weight decay ``gamma``.

    ``mode``:

    ``"after_scaled"`` ``w <- (w - eta_hat update) (1 - eta_hat gamma)`` (AMS Alg. 1 l. 15-16, Cautious Alg. 2 l. 12-13)
    ``"after"``        ``w <- (w - eta_hat update) (1 - lr gamma)``      (Cautious Alg. 3 l. 10-11; AMS/Grams Alg. 2)
    ``"before"``       ``w <- w (1 - lr gamma) - eta_hat update``        (``torch.optim.AdamW``, Lion's reference code)
    ``"l2"``           the direction was fed ``g + gamma w``              (``torch.optim.Adam(weight_decay=...)``);
                       nothing here

    ``decay_mask(ops, w, update)`` (:class:`Parts`), when given, is read from the parameters before the step: the
    decay then applies only where it is 1 (``gamma`` becomes ``gamma * mask``).
    """
    decay = not is_zero(weight_decay) and mode != "l2"
    if decay and decay_mask is not None:
        mask = decay_mask(ops, w, update)
        coef = ops.mul_(mask, scale) if mode == "after_scaled" and scale is not None else mask
        factor = ops.affine_(coef, -lr * weight_decay, 1)
        if mode == "before":
            w = ops.mul_(w, factor)
        w = _step_only(ops, w, update, lr, scale, den)
        return w if mode == "before" else ops.mul_(w, factor)
    if decay and mode == "before":
        w = ops.mul_(w, 1 - lr * weight_decay)
    w = _step_only(ops, w, update, lr, scale, den)
    if decay and mode == "after":
        w = ops.mul_(w, 1 - lr * weight_decay)
    elif decay and mode == "after_scaled":
        factor = 1 - lr * weight_decay if scale is None else ops.smap(lambda k: 1 - lr * weight_decay * k, scale)
        w = ops.mul_(w, factor)
    return w


def _step_only(ops: Ops, w, update, lr, scale, den):
    """``w <- w - lr * scale * update [/ den]``."""
    if den is not None:
        return ops.addcdiv_(w, update, den, -lr, scale)
    if scale is None:
        return ops.add_(w, update, alpha=-lr)
    return ops.addcmul_(w, update, scale, -lr)


def sign_agreement(ops: Ops, w, update):
    r"""``1(copysign(1, w) = copysign(1, update + 0))``: where the parameter and the update agree in sign by their
    sign bits, a masked (zero) entry of the update counting as +0. Cautious weight decay as installed code computes
    it (a departure from both papers, whose decay is unmasked)."""
    return ops.relu_(ops.mul_(ops.unit_sign(w), ops.unit_sign(ops.add_(ops.copy(update), 0.0))))


def _coupled_gradient(ops: Ops, w, g, hp):
    if not is_zero(hp.get("weight_decay", 0)) and hp.get("weight_decay_mode") == "l2":
        return ops.lincomb(g, 1, w, hp["weight_decay"])
    return g


# --------------------------------------------------------------------------
# whole steps (the functions the optimizers and the checks call)
# --------------------------------------------------------------------------

def ams_step(ops: Ops, w, g, state: dict, hp: Mapping[str, Any], t, parts: Parts = PAPER):
    r"""One step of AMS, Algorithm 1 of the AMS/Grams paper, and of its presets.

    ``hp``: ``lr``, ``betas = (beta1, beta2, beta3)``, ``eps``, ``weight_decay``,
    ``weight_decay_mode``, ``eps_mode`` (see :func:`adam_denominator`; default
    ``"corrected"``) and the :class:`Caution` fields (``mask=None`` turns
    the caution off: plain Adam). ``state``: ``m``, ``v`` and, when
    ``beta3 > 0``, ``s`` (with ``beta3 = 0`` the reference is ``g`` itself and
    no buffer is kept). ``t``: step count after this step (1 on the first).
    ``parts``: the ingredients (:class:`Parts`; the papers' by default).

    Returns ``(w, state)``.
    """
    beta1, beta2, beta3 = (*hp["betas"], 0)[:3]
    g = _coupled_gradient(ops, w, g, hp)
    state = dict(state)
    ref = g
    if not is_zero(beta3):
        state["s"] = ops.lerp_(state["s"], g, 1 - beta3)
        ref = state["s"]
    # the mask is taken from m (sign(u) = sign(m)) before the denominator is formed,
    # so that a pass that only needs the mask's counts can stop early
    state["m"] = parts.first_moment(ops, state["m"], g, beta1)
    caution = Caution.from_mapping(hp)
    aligned = None
    if caution is not None:
        aligned = alignment(ops, state["m"], parts.mask_reference(ops, ref, state["m"], w), caution)
    state["v"] = parts.second_moment(ops, state["v"], g, beta2)
    den = adam_denominator(ops, state["v"], beta1, beta2, hp["eps"], t, hp.get("eps_mode", "corrected"), parts)
    upd, scale = masked_update(ops, state["m"], aligned, caution, den=den)
    if parts.momentum_after_mask is not None and caution is not None:
        state["m"] = parts.momentum_after_mask(ops, state["m"], upd)
    w = apply_step(ops, w, upd, hp["lr"], hp.get("weight_decay", 0), hp.get("weight_decay_mode", "after_scaled"),
                   scale, den=den, decay_mask=parts.decay_mask)
    return w, state


def lion_step(ops: Ops, w, g, state: dict, hp: Mapping[str, Any], t=None, parts: Parts = PAPER):
    r"""One step of Lion (Def. A.5 of the AMS/Grams paper) or C-Lion (Alg. 3 of the Cautious paper).

    ``hp``: ``lr``, ``betas = (beta1, beta2)``, ``weight_decay``,
    ``weight_decay_mode`` and the caution fields; the mask compares ``u`` with
    ``g``. ``state``: ``m``.
    """
    beta1, beta2 = hp["betas"]
    g = _coupled_gradient(ops, w, g, hp)
    state = dict(state)
    u, state["m"] = lion_direction(ops, g, state["m"], beta1, beta2, parts)
    upd, scale = cautious_update(ops, u, parts.mask_reference(ops, g, state["m"], w), Caution.from_mapping(hp))
    w = apply_step(ops, w, upd, hp["lr"], hp.get("weight_decay", 0), hp.get("weight_decay_mode", "after"), scale,
                   decay_mask=parts.decay_mask)
    return w, state


def heavy_ball_step(ops: Ops, w, g, state: dict, hp: Mapping[str, Any], t=None, parts: Parts = PAPER):
    r"""One step of GDM / C-GDM (§3.1 of the Cautious paper): ``s <- beta s + g``, ``w <- w - lr * mask(s)``.

    ``hp``: ``lr``, ``beta``, ``weight_decay``, ``weight_decay_mode``, caution fields. ``state``: ``s``.
    """
    g = _coupled_gradient(ops, w, g, hp)
    state = dict(state)
    u, state["s"] = heavy_ball_direction(ops, g, state["s"], hp["beta"])
    upd, scale = cautious_update(ops, u, parts.mask_reference(ops, g, state["s"], w), Caution.from_mapping(hp))
    w = apply_step(ops, w, upd, hp["lr"], hp.get("weight_decay", 0), hp.get("weight_decay_mode", "after"), scale,
                   decay_mask=parts.decay_mask)
    return w, state


def signed_momentum_step(ops: Ops, w, g, state: dict, hp: Mapping[str, Any], t=None, parts: Parts = PAPER):
    r"""One step of signed momentum and its cautious form (§A.3.2 of the Cautious paper, Euler-discretised).

    ``hp``: ``lr``, ``beta``, weight decay fields, caution fields. ``state``: ``m``.
    """
    g = _coupled_gradient(ops, w, g, hp)
    state = dict(state)
    u, state["m"] = signed_momentum_direction(ops, g, state["m"], hp["beta"], parts)
    upd, scale = cautious_update(ops, u, parts.mask_reference(ops, g, state["m"], w), Caution.from_mapping(hp))
    w = apply_step(ops, w, upd, hp["lr"], hp.get("weight_decay", 0), hp.get("weight_decay_mode", "after"), scale,
                   decay_mask=parts.decay_mask)
    return w, state


def gd_step(ops: Ops, w, g, state: dict, hp: Mapping[str, Any], t=None):
    r"""Plain gradient descent ``w <- w - lr g`` (the baseline of Figure 2 of the Cautious paper)."""
    g = _coupled_gradient(ops, w, g, hp)
    w = apply_step(ops, w, ops.copy(g), hp["lr"], hp.get("weight_decay", 0), hp.get("weight_decay_mode", "after"))
    return w, dict(state)
