r"""``ams_theory.testing``: property tests of your own optimizers and masks against the two papers' theory.

Stable public names (documented in ``docs/testing.md``):

Mask protocol (:mod:`ams_theory.core.masks`, the one mask type of the toolkit): a user mask is
``mask(ops, u, s) -> phi``, written against the rule core's operations (:class:`ams_theory.core.ops.Ops`), so one
function runs in float64 (``TorchOps``) and in exact rationals (``SympyOps``); ``phi`` multiplies ``u`` in the
step ``w - eta phi o u``.
    ``check_mask``, ``caution_mask``, ``mask_name``, ``MASK_SIGNATURE``

Hypothesis strategies (``_strategies``): L-smooth problems with certified L (``ams_theory.engines.smooth``),
directions, gradients with exact zeros and ties, optimizer states, masks and hyperparameters in the papers' ranges.
    ``smooth_problems``, ``family_names``, ``vectors``, ``gradients``, ``mask_inputs``, ``step_sizes``,
    ``descent_instances``, ``DescentInstance``, ``system_states``, ``SystemState``, ``optimizer_states``,
    ``hyperparameters``, ``cautions``, ``paper_masks``, ``PAPER_MASKS``

Assertions (``_assertions``): judged in float64, a violation re-checked in exact rationals before it fails
(:class:`PropertyViolation`, an ``AssertionError`` with the certificate).
    ``assert_one_step_descent``  Lemma D.1 / D.2 (AMS/Grams): ``dL <= -eta P + L eta^2 |u|^2/2``, ...
    ``assert_masked_not_worse``  Thm. 2.3 (Cautious): ``L(w - eps u o phi) <= L(w - eps u)`` within its bound
    ``assert_hamiltonian_descent`` ``dH/dt <= 0``, ``dL/dt <= 0`` of a continuous system (system (5), Thm. 2.1)
    ``assert_mask_conditions``   eq. (6) and Thm. 2.1's ``x^T(1 - phi) <= 0``, ``x^T phi >= 0``
    ``assert_conforms``          the conformance audit of an optimizer class against one of our methods
    ``cautious_system``, ``step_bound``, ``PropertyViolation``, ``DESCENT_PARTS``, ``MASK_CONDITIONS``

General assertions (``_general``), on the claim language (:mod:`ams_theory.claims.language`):
    ``assert_claim``             ``decide(claim, current_budget())``; fails (:class:`ClaimFailed`) unless it holds
    ``assert_one_step``, ``assert_flow``  build a ``OneStep`` / ``Flow`` and ``assert_claim`` it
    ``optimizer_steps``, ``OptimizerStep``  strategy: one ``step()`` of a user's ``torch.optim.Optimizer``
    ``assert_optimizer_step``, ``assert_optimizer_descends``  ``dL <= bound(q)`` at that step, re-checked exactly

Budgets (``_budget``; the pytest plugin ``ams_theory.testing.plugin`` adds ``--ams-budget``):
    ``BUDGETS``, ``register_profiles``, ``current_budget``

Names are loaded on first use, so that the pytest plugin (inside this package) imports nothing heavy.
"""
from __future__ import annotations

import importlib

_WHERE = {
    "ams_theory.core.masks": ("check_mask", "caution_mask", "mask_name", "MASK_SIGNATURE"),
    "_strategies": ("smooth_problems", "family_names", "vectors", "gradients", "mask_inputs", "step_sizes",
                    "descent_instances", "DescentInstance", "system_states", "SystemState", "optimizer_states",
                    "hyperparameters", "cautions", "paper_masks", "PAPER_MASKS"),
    "_assertions": ("PropertyViolation", "assert_one_step_descent", "assert_masked_not_worse",
                    "assert_hamiltonian_descent", "assert_mask_conditions", "assert_conforms", "cautious_system",
                    "step_bound", "DESCENT_PARTS", "MASK_CONDITIONS"),
    "_budget": ("BUDGETS", "register_profiles", "current_budget"),
    "_general": ("assert_claim", "assert_one_step", "assert_flow", "ClaimFailed", "optimizer_steps", "OptimizerStep",
                 "assert_optimizer_step", "assert_optimizer_descends"),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}

__all__ = [name for names in _WHERE.values() for name in names]


def __getattr__(name):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'ams_theory.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module if "." in module else f"ams_theory.testing.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
