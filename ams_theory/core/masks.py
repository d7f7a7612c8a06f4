"""A mask, one type for every part of the toolkit: a function ``mask(ops, u, s) -> phi``.

The papers' masks are rule-core :class:`~ams_theory.core.rules.Caution` settings; :func:`as_mask` (and
:func:`caution_mask`) turns one into this form, so the optimizers' masks, a user's own, the checks' and the testing
API's are called the same way. A mask is a plain function of three positional arguments:

``ops``
    a back end of the rule core (:class:`ams_theory.core.ops.Ops`): ``TorchOps(batch_dims=1)`` for the float64
    search, ``SympyOps()`` for the exact re-check. Write the mask with its operations (``ops.sign``,
    ``ops.abs``, ``ops.mul``, ``ops.div``, ``ops.relu``, ``ops.total``, ``ops.numel``, ``ops.indicator_``, ...)
    and the arithmetic operators, as :func:`ams_theory.core.rules.alignment` and
    :func:`ams_theory.core.rules.mask_vector` do, so that the same function runs on both.
``u``
    the direction the base optimizer proposes (shape ``(1, d)`` in torch, a numpy object array of ``d`` sympy
    Rationals in the exact back end). Do not write into it.
``s``
    the reference the mask compares ``u`` with: the gradient (the Cautious paper's ``g``, the AMS ``s``).

It returns ``phi``, the coefficient that multiplies ``u`` in the step ``w - eta phi o u``, rescaling included
(the Cautious paper's ``phi(u o s)`` of system (5) and eq. (1)): an array of ``u``'s shape, or one value per
instance (an inner-product mask).
"""
from __future__ import annotations

import dataclasses
import inspect
from dataclasses import replace
from typing import Callable

from ams_theory.core import rules
from ams_theory.core.ops import SympyOps

__all__ = ["MASK_SIGNATURE", "check_mask", "caution_mask", "as_mask", "mask_name", "exact_caution"]


MASK_SIGNATURE = "mask(ops, u, s) -> phi"


def check_mask(fn) -> Callable:
    """Validate a user mask against :data:`MASK_SIGNATURE`; return it unchanged.

    Raises a one-line ``ValueError`` when ``fn`` is not callable or cannot be called with three positional
    arguments ``(ops, u, s)``.
    """
    if isinstance(fn, rules.Caution):
        raise ValueError(f"mask: got a Caution; wrap it as caution_mask({fn!r}) to use it as {MASK_SIGNATURE}")
    if not callable(fn):
        raise ValueError(f"mask: expected a function {MASK_SIGNATURE}, got {type(fn).__name__} {fn!r}")
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return fn                                   # a builtin without a signature: trust it
    try:
        sig.bind(object(), object(), object())
    except TypeError:
        raise ValueError(f"mask {mask_name(fn)}: signature {sig} does not accept {MASK_SIGNATURE} "
                         f"(three positional arguments ops, u, s)") from None
    return fn


def caution_mask(caution: rules.Caution) -> Callable:
    """A rule-core :class:`~ams_theory.core.rules.Caution` as a protocol mask:
    ``phi = rules.mask_vector(ops, u, s, caution)`` (``scale * (phi + psi)`` of AMS Alg. 1 / Cautious eq. (1)),
    with its float hyperparameters taken as exact rationals in the exact back end."""
    if not isinstance(caution, rules.Caution):
        raise ValueError(f"caution_mask: expected a rules.Caution, got {type(caution).__name__}")

    def mask(ops, u, s):
        return rules.mask_vector(ops, u, s, exact_caution(ops, caution))

    mask.__name__ = f"caution_mask({_caution_text(caution)})"
    mask.__qualname__ = mask.__name__
    mask.caution = caution
    return mask


def _caution_text(c: rules.Caution) -> str:
    default = rules.Caution()
    keys = [f.name for f in dataclasses.fields(rules.Caution)]
    return ", ".join(f"{k}={getattr(c, k)!r}" for k in keys if getattr(c, k) != getattr(default, k)) or "default"


def mask_name(fn) -> str:
    """A short readable name of a mask: its ``name`` (a user's rule of ``verify --rule``), else ``module.qualname``."""
    if isinstance(getattr(fn, "name", None), str):
        return fn.name
    mod = getattr(fn, "__module__", None)
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    return name if not mod or mod == __name__ else f"{mod}.{name}"


def as_mask(mask) -> Callable:
    """A rule-core ``Caution`` as a mask (:func:`caution_mask`); a function ``mask(ops, u, s)`` as it is (a user's
    mask is checked once where it enters: :func:`check_mask`, ``verify --rule``; not again at every call)."""
    return caution_mask(mask) if isinstance(mask, rules.Caution) else mask


def exact_caution(ops, caution):
    """``caution`` as the back end ``ops`` computes with it: for the exact back end its float hyperparameters
    (``lam``, ``xi``, ``mask_eps``, ``margin``) become the binary rationals they are, so exact margins stay
    rational; unchanged for torch (and ``None``)."""
    if caution is None or not isinstance(ops, SympyOps):
        return caution
    return replace(caution, **{k: ops.q(getattr(caution, k)) for k in ("lam", "xi", "mask_eps", "margin")})
