"""General assertions of :mod:`ams_theory.testing`: a claim of your own (:mod:`ams_theory.claims.language`) decided
at the run's budget, and one ``step()`` of your own ``torch.optim.Optimizer`` judged by a claim-language conclusion.

One path: a claim is decided by :func:`ams_theory.claims.language.decide`; an optimizer's step is judged by the
claim language's own margin function (the step taken as the point ``w'`` the optimizer produced) in float64, and a
violation is re-checked by :func:`ams_theory.engines.descent.certify` in exact rationals (quadratic problems, ``L``
proved) before it fails.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import sympy as sp
import torch
from hypothesis import strategies as st

from ams_theory.claims import language
from ams_theory.engines import descent, proofs, smooth
from ams_theory.testing._assertions import PropertyViolation, _short, _tolerance, _vec_text
from ams_theory.testing._budget import BUDGETS, current_budget
from ams_theory.testing._strategies import F64, gradients, smooth_problems

__all__ = ["ClaimFailed", "assert_claim", "assert_one_step", "assert_flow", "OptimizerStep", "optimizer_steps",
           "assert_optimizer_step", "assert_optimizer_descends"]

MOVED = "moved"                    # the state vector that carries the optimizer's w' into the claim


class ClaimFailed(AssertionError):
    """A claim was not established: ``verdict`` is the :class:`~ams_theory.claims.registry.Verdict` of
    :func:`~ams_theory.claims.language.decide` (``refuted``, ``vacuous`` or ``not-checkable``)."""

    def __init__(self, claim, verdict, rechecked=None):
        self.claim, self.verdict, self.rechecked = claim, verdict, rechecked
        kind = f"one step on {language.LOSS_CLASSES[claim.losses]}" if isinstance(claim, language.OneStep) else "flow"
        rows = [f"ams_theory.testing: claim {claim.name!r} is {verdict.word}",
                f"  claim     {kind}, hyperparameters {{{', '.join(f'{k}: {r.text()}' for k, r in claim.hyper.items())}}}",
                f"  summary   {verdict.summary}"]
        if verdict.counterexample:
            rows += [f"  {k:<9} {_short(v, 300)}" for k, v in verdict.counterexample.items()]
        if verdict.word == "refuted":
            rows.append("  verdict   REFUTED: the counterexample above was re-checked in exact arithmetic "
                        f"({'and holds again now' if rechecked else 'but the re-check did not confirm it now'})")
        elif verdict.word == "vacuous":
            rows.append("  verdict   VACUOUS: no instance satisfies the hypotheses, so the claim says nothing")
        else:
            rows.append(f"  verdict   {verdict.word.upper()}: "
                        f"{_short(verdict.evidence.get('proof', verdict.evidence), 300)}")
        super().__init__("\n".join(rows))


# ----------------------------------------------------------------------------- claims of the claim language

def assert_claim(claim, budget=None, *, seed=0):
    """``decide(claim, budget, seed)`` (``budget`` defaults to :func:`current_budget`, i.e. ``--ams-budget``);
    returns the ``holds`` :class:`Verdict` (``proved`` or ``searched``), raises :class:`ClaimFailed` otherwise:
    ``refuted`` (the exact counterexample, re-checked again), ``vacuous`` (with its reason), ``not-checkable``."""
    if not isinstance(claim, (language.OneStep, language.Flow)):
        raise TypeError(f"assert_claim takes a language.OneStep or language.Flow, got {type(claim).__name__}")
    verdict = language.decide(claim, budget or current_budget(), seed)
    if verdict.word == "holds":
        return verdict
    rechecked = bool(verdict.recheck()) if verdict.word == "refuted" and verdict.recheck else None
    raise ClaimFailed(claim, verdict, rechecked)


def assert_one_step(step, conclusion, losses="smooth", *, hyper=None, state=(), hypotheses=None, name=None,
                    budget=None, seed=0):
    """``assert_claim(OneStep(...))``: ``w' = step(q)`` on every loss of ``losses`` satisfies ``conclusion(q)``
    (e.g. ``q.at_most(q.dL, -q.eta * (1 - q.L * q.eta / 2) * q.norm2(q.g))``)."""
    claim = language.OneStep(name or _name(step, "one step"), step, conclusion, losses,
                             dict(hyper or {}), tuple(state), hypotheses)
    return assert_claim(claim, budget, seed=seed)


def assert_flow(field, H, conclusion, *, hyper=None, state=("s",), hypotheses=None, name=None, budget=None, seed=0):
    """``assert_claim(Flow(...))``: along ``(w, s)' = field(q)``, ``conclusion(q)`` about ``q.dH``, ``q.dL``
    (e.g. ``q.at_most(q.dH, 0)`` with ``H = lambda q: q.loss + q.norm2(q.s) / 2``)."""
    claim = language.Flow(name or _name(field, "flow"), field, conclusion, H, dict(hyper or {}),
                          tuple(state), hypotheses)
    return assert_claim(claim, budget, seed=seed)


def _name(fn, default):
    name = getattr(fn, "__name__", "")
    return default if not name or name == "<lambda>" else name


# ----------------------------------------------------------------------------- a user's torch optimizer

class OptimizerStep(NamedTuple):
    """One ``step()`` of an optimizer: ``problem`` (one instance), ``w`` -> ``w_next`` (1, d) with the gradient
    ``problem.grad(w)``, ``hyper`` the drawn hyperparameters, ``warmup`` the gradients of the steps before it."""
    optimizer: type
    problem: object
    w: torch.Tensor
    w_next: torch.Tensor
    hyper: dict
    warmup: tuple


def _optimizer_class(cls):
    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
        raise TypeError(f"expected a torch.optim.Optimizer subclass, got {cls!r}")
    return cls


def _claim(hyper, bound=None, conclusion=None, name="optimizer step"):
    """The claim-language form of the check: ``w' = q.moved`` (the optimizer's output), conclusion
    ``dL <= bound(q)`` (``bound=None``: ``dL <= 0``) or ``conclusion(q)``."""
    if conclusion is None:
        conclusion = (lambda q: q.at_most(q.dL, 0)) if bound is None else (lambda q: q.at_most(q.dL, bound(q)))
    return language.OneStep(name, lambda q: getattr(q, MOVED), conclusion, hyper=dict(hyper), state=(MOVED,))


def _range_values(r: language.Range):
    """Hypothesis floats in ``r``: its closed boundaries, and values inside (:meth:`Range.searched`)."""
    lo, hi = r.searched()
    inside = st.floats(lo, hi, exclude_min=r.lo_open, exclude_max=r.hi_open, allow_nan=False)
    return st.one_of(st.sampled_from([float(b) for b in r.boundaries()]), inside) if r.boundaries() else inside


def optimizer_steps(optimizer, hyper, *, families=None, d=None, exact=True, warmup=0, fixed=None):
    """Strategy of :class:`OptimizerStep`: ``optimizer(params, **fixed, **h)`` with ``h`` drawn from ``hyper``
    (``{name: Range}``), ``0..warmup`` warm-up steps on drawn gradients (its state), then ``w`` and
    ``g = grad f(w)`` of a drawn L-smooth problem (:func:`smooth_problems`; ``exact=True``: quadratic families,
    so a violation is re-checked exactly) and one ``step()``."""
    cls = _optimizer_class(optimizer)
    _claim(hyper, name=cls.__name__)                   # one-line errors for a bad hyper mapping
    if not (isinstance(warmup, int) and warmup >= 0):
        raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")
    return _optimizer_steps(cls, dict(hyper), families, d, exact, warmup, dict(fixed or {}))


@st.composite
def _optimizer_steps(draw, cls, hyper, families, d, exact, warmup, fixed):
    problem, w = draw(smooth_problems(families, d=d, exact=exact))
    hp = {k: draw(_range_values(r)) for k, r in hyper.items()}
    grads = tuple(draw(gradients(problem.d)) for _ in range(draw(st.integers(0, warmup))))
    p = torch.nn.Parameter(torch.zeros(problem.d, dtype=F64))
    opt = cls([p], **fixed, **hp)
    for g in grads:
        p.grad = g[0].clone()
        opt.step()
    with torch.no_grad():
        p.copy_(w[0])
    p.grad = problem.grad(w)[0].clone()
    opt.step()
    return OptimizerStep(cls, problem, w, p.detach().clone().reshape(1, -1), hp, grads)


def assert_optimizer_step(step: OptimizerStep, bound=None, *, conclusion=None):
    r"""The loss change of one optimizer step, ``dL = f(w') - f(w)``, meets ``dL <= bound(q)`` (default
    ``dL <= 0``) or ``conclusion(q)`` (a claim-language conclusion reading ``q.dL``, ``q.w``, ``q.g``,
    ``q.w_next``, ``q.L`` and the hyperparameters, e.g. ``q.lr``). Judged in float64; a violation on a quadratic
    is re-checked in exact rationals at the ``w'`` the optimizer produced (:func:`descent.certify`), otherwise it
    fails as a float violation with its size."""
    claim = _claim({k: language.Range(None) for k in step.hyper}, bound, conclusion)
    margin = language.margin_function(claim)
    extra = {MOVED: step.w_next, **{k: torch.tensor([[float(v)]], dtype=F64) for k, v in step.hyper.items()}}
    draw = descent.Draw(step.problem, step.w, torch.zeros_like(step.w), torch.zeros(1, 1, dtype=F64), extra)
    with torch.no_grad():
        result = margin(descent.T1, step.problem, step.w, draw.u, draw.eta, extra)
    m = float(torch.as_tensor(result.value).reshape(-1)[0])
    scale = float(torch.as_tensor(result.scale).reshape(-1)[0])
    if math.isfinite(m) and m <= _tolerance(scale):
        return m
    name = getattr(step.optimizer, "__qualname__", str(step.optimizer))
    title = f"ams_theory.testing: one step of {name} fails its conclusion"
    stated = "dL <= 0" if bound is None and conclusion is None else \
        "dL <= bound(q)" if conclusion is None else "conclusion(q)"
    rows = [("problem", f"{step.problem.family}, d = {step.problem.d}, L = {float(step.problem.L[0]):.17g}"),
            ("w", _vec_text(step.w)), ("w_next", _vec_text(step.w_next)),
            ("hyper", ", ".join(f"{k} = {float(v):.17g}" for k, v in step.hyper.items()) or "-"),
            ("warmup", f"{len(step.warmup)} steps on gradients {[_vec_text(g) for g in step.warmup]}")]
    if not math.isfinite(m) or step.problem.family not in smooth.QUADRATIC_FAMILIES:
        why = "the float64 margin is not finite" if not math.isfinite(m) else \
            f"{step.problem.family} has no exact rational form (exact=True draws quadratics)"
        raise PropertyViolation(title, stated, rows, False, m, {"why_not_exact": why})
    cert = descent.certify(descent.MarginClaim(margin, None, (), ()), draw, 0)
    exact = sp.sympify(cert["margin"]) if cert else None
    if exact is None or not cert["applicable"] or proofs.exact_sign(exact) != 1:
        return m                                   # rounding: the exact margin at the optimizer's w' is not positive
    rows[0] = ("problem", f"{cert['family']}, d = {step.problem.d}: f(w) = w'Aw/2 + b'w + c, A = "
                          f"{_short(cert['A'], 200)}, b = {_short(cert['b'], 200)}, c = {_short(cert['c'])}, "
                          f"L = {_short(cert['L'])} (proved)")
    raise PropertyViolation(title, stated, rows + [("float64", f"margin {m:.6g}")], True, exact, cert)


def assert_optimizer_descends(optimizer, hyper, bound=None, *, conclusion=None, warmup=0, families=None, d=None,
                              exact=True, fixed=None, max_examples=None):
    """Search :func:`optimizer_steps` with hypothesis (``max_examples``: the budget's, 10/100/1000 with
    ``--ams-budget``; derandomized) for a step violating :func:`assert_optimizer_step`; raises the
    shrunk :class:`PropertyViolation`, returns the number of steps checked."""
    from hypothesis import HealthCheck, given, settings

    strategy = optimizer_steps(optimizer, hyper, families=families, d=d, exact=exact, warmup=warmup, fixed=fixed)
    _claim(hyper, bound, conclusion)
    checked = []

    @settings(max_examples=max_examples or BUDGETS[current_budget()], deadline=None, database=None,
              derandomize=True, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def search(step):
        checked.append(1)
        assert_optimizer_step(step, bound, conclusion=conclusion)

    search()
    return len(checked)
