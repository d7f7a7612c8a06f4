"""Continuous-time (Hamiltonian descent) forms of the methods, their Hamiltonians and stated rates.

A :class:`System` is a vector field ``(dw/dt, ds/dt) = field(ops, problem, w, s)``,
its Hamiltonian ``H(ops, problem, w, s)`` and the paper's closed forms for
``dH/dt`` and ``dL/dt`` (``stated``), all written against the back-end
operations, so the same functions run batched in torch (searches over random
states) and in exact sympy arithmetic (re-checks). Masks and the Grams
direction come from the rule core (:func:`ams_theory.core.rules.mask_vector`,
:func:`ams_theory.core.rules.cautious_update`), the same code the optimizers run.

The *true* derivatives are computed independently of the stated forms: by
autograd in torch (``true_rates``) and by sympy differentiation of ``H`` in the
exact re-check (``exact_rates``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import sympy as sp
import torch

from ams_theory.core import rules
from ams_theory.core.cautions import CAUTIOUS_GE, CAUTIOUS_GT, EQ1_DEFAULT, GRAMS_MASK, INNER_GE, phi_c
from ams_theory.core.ops import SympyOps, TorchOps
from ams_theory.engines import coordinates, smooth

__all__ = ["System", "SYSTEMS", "true_rates", "exact_rates", "symbolic_rates", "generic_rates", "LinearLoss", "K_QUADRATIC", "K_L1",
           "trajectory", "split_state", "stack_state"]

T1 = TorchOps(batch_dims=1)
SYM = SympyOps()



def _torch(x):
    return torch.is_tensor(x)


def _sum(ops, x):
    return ops.total(x)


def _grad(problem, w):
    return problem.grad(w)


_value = smooth.value_column


@dataclass(frozen=True)
class Kinetic:
    name: str
    value: Callable      # (ops, s) -> per-instance scalar
    grad: Callable       # (ops, s) -> vector


K_QUADRATIC = Kinetic("0.5|s|^2", lambda ops, s: ops.dot(s, s) / 2, lambda ops, s: ops.copy(s))
K_L1 = Kinetic("|s|_1", lambda ops, s: _sum(ops, ops.abs(s)), lambda ops, s: ops.sign(s))


@dataclass
class System:
    """A continuous-time system with state ``(w, s)``; ``s`` may stack several vectors (Adam: ``[m, v]``)."""
    name: str
    state_blocks: int                       # s has state_blocks * d entries
    field: Callable                         # (ops, problem, w, s) -> (dw, ds)
    H: Callable                             # (ops, problem, w, s) -> per-instance scalar
    stated: dict = field(default_factory=dict)    # name -> (ops, problem, w, s) -> per-instance scalar
    domain: Callable | None = None          # (s) -> bool mask of valid states (torch), e.g. v > 0
    params: dict = field(default_factory=dict)
    switching: Callable | None = None       # (ops, problem, w, s) -> quantities whose sign changes switch the field


def split_state(s, blocks):
    """The vectors stacked in a state ``s`` of ``blocks`` blocks (Adam: ``[m, v]``), on any back end."""
    if isinstance(s, coordinates.GenericBlocks):            # a dimension-generic stacked state
        return coordinates.GenericOps.split(s, blocks)
    if _torch(s):
        return torch.chunk(s, blocks, dim=-1)
    n = len(s) // blocks
    return [s[i * n:(i + 1) * n] for i in range(blocks)]


def stack_state(parts):
    """Vectors of one dimension stacked into one state (the inverse of :func:`split_state`), on any back end."""
    if any(isinstance(p, coordinates.GenericVector) for p in parts):
        return coordinates.GenericOps.cat(parts)
    return torch.cat(parts, dim=-1) if _torch(parts[0]) else np.concatenate(parts)


# ----------------------------------------------------------------------------- general Hamiltonian descent (2) / (5)

GRAMS_READINGS = {  # Def. 5.6 of the AMS/Grams paper leaves a parenthesis open in -sign(grad L o |grad K(s)| ...
    "sign(g) o |grad K|": "-sign(grad L) o |grad K(s)|, the parenthesis closed after grad L (the Grams step of "
                          "Def. 5.1)",
    "sign(g o |grad K|)": "-sign(grad L o |grad K(s)|), the parenthesis closed after |grad K(s)|",
}


def general(name, K: Kinetic, phi, c_phi=0.0, c_psi=0.0, grams=False, Phi=None, Psi=None):
    """System (2) (``phi=None``), the cautious system (5) with mask ``phi``, or Grams (Def. 5.6; ``grams``: True or
    a key of :data:`GRAMS_READINGS`, True being the first).

    ``phi``: a :class:`~ams_theory.core.rules.Caution` (the mask of the rule core), or a function
    ``(ops, grad_K, g) -> vector`` giving the mask values directly (the proof engine passes free symbols,
    to prove a statement for every mask). ``Phi(x) = c_phi x``, ``Psi(x) = c_psi x`` (monotone,
    <x, Phi(x)> >= 0 for c >= 0).
    """
    mask = phi if callable(phi) else (lambda ops, k, g: rules.mask_vector(ops, k, g, phi))
    Phi = Phi or (lambda ops, x: c_phi * x)          # ``Phi``, ``Psi``: (ops, x) -> vector, in place of the linear maps
    Psi = Psi or (lambda ops, x: c_psi * x)

    def parts(ops, problem, w, s):
        g, k = _grad(problem, w), K.grad(ops, s)
        return g, k

    def fld(ops, problem, w, s):
        g, k = parts(ops, problem, w, s)
        if grams == "sign(g o |grad K|)":
            move = ops.sign(ops.mul(g, ops.abs(k)))
        elif grams:
            move, _ = rules.cautious_update(ops, ops.copy(k), g, GRAMS_MASK)          # sign(g) o |k|
        elif phi is None:
            move = k
        else:
            move = ops.mul(mask(ops, k, g), k)                                     # phi(x) o grad K
        return -move - Phi(ops, g), g - Psi(ops, k)

    def H(ops, problem, w, s):
        return _value(problem, w) + K.value(ops, s)

    def delta_H(ops, problem, w, s):
        g, k = parts(ops, problem, w, s)
        return ops.dot(g, Phi(ops, g)) + ops.dot(k, Psi(ops, k))

    def delta_L(ops, problem, w, s):
        g, k = parts(ops, problem, w, s)
        return ops.dot(g, k) + ops.dot(g, Phi(ops, g))

    stated = {}
    if phi is not None and not grams:
        def dH(ops, problem, w, s):          # Thm. 2.1: x^T(1 - phi(x)) - Delta_H
            g, k = parts(ops, problem, w, s)
            x = ops.mul(g, k)
            return _sum(ops, x * (1 - mask(ops, k, g))) - delta_H(ops, problem, w, s)

        def dL(ops, problem, w, s):          # Thm. 2.1: -x^T phi(x) - |grad L|_Phi^2
            g, k = parts(ops, problem, w, s)
            x = ops.mul(g, k)
            return -_sum(ops, x * mask(ops, k, g)) - ops.dot(g, Phi(ops, g))
        stated = {"dH": dH, "dL": dL}
    def switching(ops, problem, w, s):
        g, k = parts(ops, problem, w, s)
        return g if grams else ops.mul(g, k)

    return System(name, 1, fld, H, stated, params={"K": K.name, "phi": phi, "c_phi": c_phi, "c_psi": c_psi,
                                                    "grams": grams, "delta_H": delta_H, "delta_L": delta_L},
                  switching=None if phi is None and not grams else switching)


# ----------------------------------------------------------------------------- Adam (Example A.1, §A.3.1)

def adam(name, a, b, e, cautious=False, eps_in_sqrt=False):
    """w' = -m/(sqrt(v)+e) [o 1(g o m > 0) when cautious], m' = a(g - m), v' = b(g^2 - v);
    H = L + 1/(2a) <m/(sqrt(v)+e), m> (``eps_in_sqrt``: sqrt(v+e), as §A.3.1's cautious paragraph writes it)."""
    def fld(ops, problem, w, s):
        m, v = split_state(s, 2)
        g = _grad(problem, w)
        u = ops.div(m, ops.sqrt(v) + e)
        if cautious:
            u, _ = rules.cautious_update(ops, u, g, CAUTIOUS_GT)
        return -u, stack_state([a * (g - m), b * (ops.mul(g, g) - v)])

    def H(ops, problem, w, s):
        m, v = split_state(s, 2)
        den = ops.sqrt(v + e) if eps_in_sqrt else ops.sqrt(v) + e
        return _value(problem, w) + _sum(ops, ops.div(ops.mul(m, m), den)) / (2 * a)

    def dH_stated(ops, problem, w, s):      # §A.3.1's closed form
        m, v = split_state(s, 2)
        g = _grad(problem, w)
        m2 = ops.mul(m, m)
        first = _sum(ops, ops.div(m2, ops.mul(v, ops.sqrt(v)) + e) * ops.mul(g, g))
        second = _sum(ops, ops.div(m2, ops.sqrt(v) + e))
        return -(b / (4 * a)) * first - (1 - b / (4 * a)) * second

    def dH_exact_form(ops, problem, w, s):  # the derivative with e placed as in H (derived; checked like the stated one)
        m, v = split_state(s, 2)
        g = _grad(problem, w)
        m2 = ops.mul(m, m)
        D = ops.sqrt(v) + e
        D2 = ops.mul(D, D)
        return (-_sum(ops, ops.div(m2, D)) + (b / (4 * a)) * _sum(ops, ops.div(ops.mul(m2, ops.sqrt(v)), D2))
                - (b / (4 * a)) * _sum(ops, ops.div(ops.mul(m2, ops.mul(g, g)), ops.mul(D2, ops.sqrt(v)))))

    def dL_cautious(ops, problem, w, s):    # §A.3.1: dL/dt = -g^T (1(g o m > 0) o m)/(sqrt(v)+e)
        m, v = split_state(s, 2)
        g = _grad(problem, w)
        u, _ = rules.cautious_update(ops, ops.div(m, ops.sqrt(v) + e), g, CAUTIOUS_GT)
        return -ops.dot(g, u)

    stated = {"dH": dH_stated, "dH_with_e": dH_exact_form}
    if cautious:
        stated["dL"] = dL_cautious
    domain = lambda s: (split_state(s, 2)[1] > 0).all(-1, keepdim=True)
    return System(name, 2, fld, H, stated, domain, {"a": a, "b": b, "e": e, "cautious": cautious})


# ----------------------------------------------------------------------------- signed momentum (§A.3.2)

def signed_momentum(name, cautious=False):
    def fld(ops, problem, w, s):
        g = _grad(problem, w)
        u = ops.sign(s)
        if cautious:
            u, _ = rules.cautious_update(ops, u, g, CAUTIOUS_GT)
        return -u, g - s

    def H(ops, problem, w, s):
        return _value(problem, w) + _sum(ops, ops.abs(s))

    stated = {"dH": lambda ops, problem, w, s: -_sum(ops, ops.abs(s))}
    if cautious:
        stated = {"dL": lambda ops, problem, w, s: -_sum(ops, ops.abs(ops.mul(
            _grad(problem, w), ops.indicator_(ops.mul(_grad(problem, w), s), strict=True))))}
    return System(name, 1, fld, H, stated, params={"cautious": cautious})


# ----------------------------------------------------------------------------- Lion (§A.3.3) and Lion-K (Example A.2)

LION_READINGS = ("printed", "m_tilde_ahead", "descent_momentum")


def lion(name, alpha, gamma, eps, cautious=False, reading="printed"):
    """Lion's dynamics (§A.3.3 of the Cautious paper) under one reading of its sign convention;
    H = alpha L + (1 - eps gamma)|m|_1 in each.

    - ``printed``: m' = alpha g - gamma m, m~ = m - eps(alpha g + gamma m), w' = -sign(m~);
    - ``m_tilde_ahead``: the same m' and w', with m~ = m + eps m' = m + eps(alpha g - gamma m);
    - ``descent_momentum``: m' = -alpha g - gamma m (m tracks -g), m~ = m - eps(alpha g + gamma m) = m + eps m',
      w' = +sign(m~).

    The cautious form masks the direction against the gradient, 1(g o m~ > 0) in the first two readings
    (w' = -sign(m~) o 1(g o m~ > 0)), 1(-g o m~ > 0) in the third (the update -w' aligned with g).
    """
    if reading not in LION_READINGS:
        raise ValueError(f"unknown Lion reading {reading!r} (expected one of {LION_READINGS})")
    orient = -1 if reading == "descent_momentum" else 1        # m tracks orient * g

    def tilde(ops, problem, w, s):
        g = _grad(problem, w)
        if reading == "m_tilde_ahead":
            return g, s + eps * (alpha * g - gamma * s)
        return g, s - eps * (alpha * g + gamma * s)

    def fld(ops, problem, w, s):
        g, mt = tilde(ops, problem, w, s)
        u = orient * ops.sign(mt)                 # w' = -u
        if cautious:
            u, _ = rules.cautious_update(ops, u, g, CAUTIOUS_GT)
        return -u, orient * alpha * g - gamma * s

    def H(ops, problem, w, s):
        return alpha * _value(problem, w) + (1 - eps * gamma) * _sum(ops, ops.abs(s))

    def dH(ops, problem, w, s):
        g, mt = tilde(ops, problem, w, s)
        return -(1 - eps * gamma) * _sum(ops, ops.abs(mt)) - gamma * _sum(ops, ops.abs(s))

    def dH_derived(ops, problem, w, s):
        """The rate derived here for the readings with m~ = m + eps m' (c = 1 - eps gamma):
        dH/dt = -(1/eps)(|m~|_1 + c|m|_1 - c<m, sign(m~)> - c<m~, sign(m)>); checked like the stated one."""
        g, mt = tilde(ops, problem, w, s)
        c = 1 - eps * gamma
        return -(_sum(ops, ops.abs(mt)) + c * _sum(ops, ops.abs(s)) - c * ops.dot(s, ops.sign(mt))
                 - c * ops.dot(mt, ops.sign(s))) / eps

    def dL_cautious(ops, problem, w, s):        # §A.3.3: dL/dt = -|g o 1(g o m~ > 0)|_1
        g, mt = tilde(ops, problem, w, s)
        return -_sum(ops, ops.abs(ops.mul(g, ops.indicator_(ops.mul(g, orient * mt), strict=True))))

    def minus_gamma_m_tilde(ops, problem, w, s):     # the bound dH/dt <= -gamma |m~|_1, as an allowance
        return gamma * _sum(ops, ops.abs(tilde(ops, problem, w, s)[1]))

    stated = {"dL": dL_cautious} if cautious else {"dH": dH, "dH_derived": dH_derived}
    return System(name, 1, fld, H, stated, params={"alpha": alpha, "gamma": gamma, "eps": eps, "cautious": cautious,
                                                    "reading": reading, "gamma_m_tilde": minus_gamma_m_tilde})


def lion_k(name, K: Kinetic, a, b):
    """Example A.2: w' = grad K((1-b) m - b g), m' = -a(g + m); H = a L + K((1-b) m)/(1-b)."""
    def fld(ops, problem, w, s):
        g = _grad(problem, w)
        return K.grad(ops, (1 - b) * s - b * g), -a * (g + s)

    def H(ops, problem, w, s):
        return a * _value(problem, w) + K.value(ops, (1 - b) * s) / (1 - b)

    return System(name, 1, fld, H, {}, params={"K": K.name, "a": a, "b": b})


SYSTEMS = {
    "heavy_ball": general("heavy_ball", K_QUADRATIC, None, c_psi=0.5),
    "cautious_eq1": general("cautious_eq1", K_QUADRATIC, EQ1_DEFAULT, c_phi=0.1, c_psi=0.5),
    "cautious_indicator": general("cautious_indicator", K_QUADRATIC, CAUTIOUS_GT, c_phi=0.1, c_psi=0.5),
    "cautious_ge_l1": general("cautious_ge_l1", K_L1, CAUTIOUS_GE, c_phi=0.1, c_psi=0.5),
    "cautious_phi_c": general("cautious_phi_c", K_QUADRATIC, phi_c(0.1), c_psi=0.5),
    "cautious_inner": general("cautious_inner", K_QUADRATIC, INNER_GE, c_phi=0.1, c_psi=0.5),
    "grams": general("grams", K_QUADRATIC, None, c_phi=0.1, c_psi=0.5, grams=True),
    "grams_l1": general("grams_l1", K_L1, None, c_psi=0.5, grams=True),
    "adam": adam("adam", a=0.9, b=0.999, e=1e-3),
    "adam_small_a": adam("adam_small_a", a=0.2, b=0.999, e=1e-3),
    "cautious_adam": adam("cautious_adam", a=0.9, b=0.999, e=1e-3, cautious=True),
    "cautious_adam_small_a": adam("cautious_adam_small_a", a=0.2, b=0.999, e=1e-3, cautious=True),
    "signed_momentum": signed_momentum("signed_momentum"),
    "cautious_signed_momentum": signed_momentum("cautious_signed_momentum", cautious=True),
    "lion": lion("lion", alpha=1.0, gamma=0.5, eps=0.2),
    "cautious_lion": lion("cautious_lion", alpha=1.0, gamma=0.5, eps=0.2, cautious=True),
    "lion_k_l1": lion_k("lion_k_l1", K_L1, a=1.0, b=0.3),
    "lion_k_l2": lion_k("lion_k_l2", K_QUADRATIC, a=1.0, b=0.3),
}


# ----------------------------------------------------------------------------- true derivatives

def true_rates(system: System, problem, w, s):
    """(dH/dt, dL/dt) along the field, by autograd (torch, batched)."""
    with torch.no_grad():
        dw, ds = system.field(T1, problem, w, s)
    w_ = w.detach().clone().requires_grad_(True)
    s_ = s.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        H = system.H(T1, problem, w_, s_).sum()
        gw, gs = torch.autograd.grad(H, (w_, s_), allow_unused=True)
    gs = torch.zeros_like(s) if gs is None else gs
    dH = (gw * dw).sum(-1, keepdim=True) + (gs * ds).sum(-1, keepdim=True)
    with torch.no_grad():
        dL = (problem.grad(w) * dw).sum(-1, keepdim=True)
    return dH.detach(), dL


def symbolic_rates(system: System, problem, ws, ss):
    """(dH/dt, dL/dt) as exact expressions: sympy differentiates H at the symbols ``ws`` (parameters) and
    ``ss`` (state) and takes the inner products with the field there."""
    H = system.H(SYM, problem, ws, ss)
    dw, ds = system.field(SYM, problem, ws, ss)
    dH = sum(sp.diff(H, x) * y for x, y in zip(ws, dw)) + sum(sp.diff(H, x) * y for x, y in zip(ss, ds))
    dL = sum(a * b for a, b in zip(problem.grad(ws), dw))
    return dH, dL


def exact_rates(system: System, problem, w, s):
    """(dH/dt, dL/dt) exactly: sympy differentiates H at symbolic state, then substitutes (w, s) rationals."""
    ws = SympyOps.asarray(sp.symbols(f"W0:{len(w)}", real=True))
    ss = SympyOps.asarray(sp.symbols(f"S0:{len(s)}", real=True))
    dH, dL = symbolic_rates(system, problem, ws, ss)
    sub = {**dict(zip(ws, w)), **dict(zip(ss, s))}
    return sp.simplify(dH.subs(sub)), sp.simplify(dL.subs(sub))


class LinearLoss:
    """``L(w) = <g, w>`` with symbolic ``g``: a stand-in for every differentiable loss in pointwise claims.

    Along a field that reads the loss only through ``grad L(w)``, the rates dH/dt and dL/dt at a state
    depend on L only through ``g = grad L(w)`` (chain rule), so a claim proved for this loss with ``g`` free
    holds for every differentiable L."""

    def __init__(self, g, ops=None):
        self.ops = ops or SYM
        self.g = g if isinstance(g, coordinates.GenericVector) else SympyOps.asarray(list(g))

    def value(self, w):
        return self.ops.dot(self.g, w)

    def grad(self, w):
        return self.g.copy()


def generic_rates(system: System, g, s):
    """(dH/dt, dL/dt) as exact expressions in the gradient ``g`` and the state ``s`` (sympy symbols, ``s``
    stacking the system's state blocks), for every differentiable loss (see :class:`LinearLoss`)."""
    ws = SympyOps.asarray(sp.symbols(f"W0:{len(g)}", real=True))
    return symbolic_rates(system, LinearLoss(g), ws, SympyOps.asarray(list(s)))


def trajectory(system: System, problem, w0, s0, t_end=20.0, max_restarts=200, zeno_step=1e-3, **kw):
    """Integrate ``system`` from (w0, s0) on a one-instance ``problem`` (see :mod:`ams_theory.engines.trajectories`);
    returns a Trajectory with t, w, s, H(t), L(t).

    Sign changes of ``system.switching`` are located as events; after ``max_restarts`` of them (sliding
    near a switching surface) the rest is integrated by fixed-step RK4 with step ``zeno_step``."""
    from ams_theory.engines.trajectories import integrate
    field_ = lambda w, s: system.field(T1, problem, w, s)
    H = lambda w, s: system.H(T1, problem, w, s).reshape(-1)
    L = lambda w: problem.value(w).reshape(-1)
    switching = None if system.switching is None else (lambda w, s: system.switching(T1, problem, w, s))
    return integrate(field_, w0, s0, t_end, H=H, L=L, grad=problem.grad, switching=switching,
                     max_restarts=max_restarts, zeno_step=zeno_step, **kw)


class SymbolicQuadratic:
    """An exact quadratic ``0.5 w'Aw + b'w + c`` whose value and gradient accept symbols or rationals."""

    def __init__(self, exact):
        self.A, self.b, self.c, self.L = exact.A, exact.b, exact.c, exact.L

    def value(self, w):
        W = sp.Matrix(list(w))
        return (sp.Rational(1, 2) * W.T * self.A * W)[0, 0] + (self.b.T * W)[0, 0] + self.c

    def grad(self, w):
        return SympyOps.asarray(list(self.A * sp.Matrix(list(w)) + self.b))


PLOTTED = ("heavy_ball", "cautious_indicator", "cautious_eq1", "grams", "adam", "cautious_adam", "signed_momentum",
           "cautious_signed_momentum", "lion", "cautious_lion")


def plot_systems(path, systems=PLOTTED, t_end=20.0):
    """H(t) and L(t) of each system on the kappa = 4 quadratic 4 w1^2 + w2^2 from (1, 1) and zero state
    (Section 3.1 of the Cautious paper); one PNG at ``path``. Needs matplotlib."""
    from ams_theory.engines.smooth import QuadraticProblem
    from ams_theory.engines.trajectories import plot
    a = torch.tensor([[8.0, 2.0]], dtype=torch.float64)
    problem = QuadraticProblem(family="quadratic_diagonal_convex", convex=True, L=a.max(-1).values,
                               A=torch.diag_embed(a), b=torch.zeros_like(a), c=torch.zeros(1, dtype=torch.float64))
    w0 = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    runs = {}
    for name in systems:
        system = SYSTEMS[name]
        s0 = torch.zeros(1, 2 * system.state_blocks, dtype=torch.float64)
        if system.state_blocks == 2:
            s0[0, 2:] = 1.0                                   # Adam: v(0) = 1 keeps sqrt(v) smooth
        runs[name] = trajectory(system, problem, w0, s0, t_end=t_end, max_restarts=20, zeno_step=1e-2)
    return plot(runs, path, title="H(t) and L(t) on 4 w1^2 + w2^2 from (1, 1)")
