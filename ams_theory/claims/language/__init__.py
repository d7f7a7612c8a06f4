r"""State a claim of your own, in a few lines, and have it decided by the engines that judge the papers' claims.

Five kinds of claim, in the shape PEPit gives first-order methods (a method, a class of functions, a conclusion):

``OneStep``
    one step ``w' = step(q)`` of a method that may read the parameters ``q.w``, the gradient ``q.g``, state vectors
    (``q.m``, ...) and hyperparameters (``q.eta``, ...), on every loss of a class (``"smooth"``: L-smooth;
    ``"convex"``: convex and L-smooth), under hypotheses, with a conclusion about ``q.dL = L(w') - L(w)``, norms and
    inner products.
``Flow``
    a continuous-time system ``(w, s)' = field(q)`` with a candidate ``H(q)``, hypotheses, and a conclusion about
    ``q.dH`` and ``q.dL`` (the time derivatives along the field), e.g. ``q.at_most(q.dH, 0)``.
``Fact``
    a relation between real vectors for every dimension, e.g. ``<a, b o c> = <a o b, c>``.
``Trajectory``
    T steps of a method from a drawn start, and a claim about every prefix of the run (running sums along it, the
    loss at its start and its infimum), e.g. an averaged descent bound.
``SameStep``
    two update rules ``(ops, w, g, state) -> w'`` that take the same step for every pattern of per-coordinate sign
    cases (AMS with some hyperparameters *is* Adam).

Every function of a claim takes one argument ``q`` (:class:`Quantities`) and computes with its helpers (``q.dot``,
``q.norm2``, ``q.sign``, ``q.abs``, ``q.relu``, ``q.max``, ``q.total``) or plain arithmetic, so the same function runs
on the three back ends the engines use: dimension-generic symbols (the proof, for every dimension), exact sympy
numbers (a counterexample, re-checked) and batched torch tensors (the search). Relations are written
``q.at_most(a, b)`` (``a <= b``), ``q.at_least(a, b)`` or ``q.equal(a, b)``; a ``OneStep`` may also say
``q.less_than(a, b)`` or ``q.greater_than(a, b)``.

:func:`decide` returns the registry's :class:`~ams_theory.claims.registry.Verdict`: ``holds`` with a proof for every
dimension, state and hyperparameter in range, its summary naming each range (a certificate that replays in z3 or
cvc5), ``refuted`` with a
counterexample re-checked in exact arithmetic, or ``holds`` ``searched`` with what the search covered (families,
dimensions, instances, each range with its boundary values); ``open`` proofs never turn into ``proved``.
"""

from ams_theory.claims.language._common import (AtLeast, ClaimError, Quantities, Range, Relation, Step, UpTo)
from ams_theory.claims.language._decide import Judgement, decide, decide_all, margin_claim, register
from ams_theory.claims.language._fact import FACT_DIMS, Fact
from ams_theory.claims.language._flow import Flow
from ams_theory.claims.language._one_step import LOSS_CLASSES, LossFamily, OneStep, as_margin, margin_function
from ams_theory.claims.language._trajectory import TRAJECTORY_FAMILIES, Trajectory
from ams_theory.claims.language._reduction import (HYPER, SAME_STEP_DIMS, AMSRule, SameStep, ScaleForCounts, Where,
                                                   ams_rule, convention_edits, sign_cases)

__all__ = ["Range", "Step", "UpTo", "AtLeast", "Relation", "ClaimError", "Quantities", "LossFamily", "OneStep",
           "Flow", "Fact", "FACT_DIMS", "Trajectory", "TRAJECTORY_FAMILIES", "SameStep", "SAME_STEP_DIMS", "HYPER",
           "AMSRule", "ams_rule", "sign_cases",
           "Where", "ScaleForCounts", "convention_edits", "Judgement", "decide", "decide_all", "register",
           "margin_function", "margin_claim", "as_margin", "LOSS_CLASSES"]

