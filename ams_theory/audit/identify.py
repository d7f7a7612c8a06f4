r"""Identification: which rule a target computes, one choice per ingredient.

A rule is our rule core with one choice per *ingredient*: the paper's choice, or a *departure* (a replaced
piece of :class:`ams_theory.core.rules.Parts`, or rewired hyperparameters). Documented conventions (where
``eps`` sits, how ties and the mask's rescaling go, the scope, the decay order) are searched beside them
and are not departures. :func:`identify` searches combinations with up to ``depth`` departures, fewest
first, each replayed against the target's record with an early exit, so that a wrong combination costs
about one step:

1. on the settings without weight decay, every combination of the departures that do not concern decay,
   under every convention but the decay order (the decay ingredient is inert there);
2. for each survivor, on every setting, the decay departures and decay orders.

The answer is the set of explanations with the fewest departures (then the fewest convention changes),
each departure in words and as a formula; or, when nothing in the grammar reproduces the record, the
combination that followed it longest, with where it stopped.
"""
from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

__all__ = ["Choice", "Ingredient", "Departures", "Identification", "identify", "departure_sets", "convention_settings"]


@dataclass(frozen=True)
class Choice:
    """One departure from the paper's rule: a replaced rule piece (``parts``) and/or rewired hyperparameters
    (``hp``), with what it means in ``words`` and as a ``formula``."""

    ingredient: str
    name: str
    words: str
    formula: str
    parts: dict = field(default_factory=dict)
    hp: Callable[[dict], dict] | None = None

    def to_dict(self) -> dict:
        return {"ingredient": self.ingredient, "name": self.name, "words": self.words, "formula": self.formula}


@dataclass(frozen=True)
class Ingredient:
    """One ingredient of a rule: the paper's choice (``paper``, a formula) and the departures from it.
    ``decay``: the ingredient only acts through weight decay (inert on settings without it)."""

    name: str
    paper: str
    departures: tuple
    decay: bool = False


@dataclass(frozen=True)
class Departures:
    """A set of departures, at most one per ingredient (the empty set is the paper's rule)."""

    choices: tuple = ()

    @property
    def name(self) -> str:
        return "+".join(c.name for c in self.choices) or "paper"

    @property
    def parts(self) -> dict:
        out = {}
        for c in self.choices:
            out.update(c.parts)
        return out

    @property
    def hp(self) -> Callable[[dict], dict] | None:
        rewired = [c.hp for c in self.choices if c.hp is not None]
        if not rewired:
            return None

        def apply(hp):
            for f in rewired:
                hp = f(hp)
            return hp
        return apply

    def __add__(self, other: "Departures") -> "Departures":
        return Departures(self.choices + other.choices)

    def __len__(self) -> int:
        return len(self.choices)


def departure_sets(ingredients: Iterable[Ingredient], k: int):
    """Every set of ``k`` departures from distinct ``ingredients``, in catalogue order."""
    ingredients = list(ingredients)
    for group in itertools.combinations(ingredients, k):
        for choices in itertools.product(*[i.departures for i in group]):
            yield Departures(tuple(choices))


@dataclass
class Identification:
    """What :func:`identify` found: ``explanations`` (each ``(Departures, convention)``, fewest departures
    first; empty when nothing reproduces the record) or the ``closest`` combination and its replay."""

    explanations: list
    closest: tuple | None            # (Departures, convention, replay) that followed the record longest
    tried: int
    depth: int
    seconds: float
    nearest: list = field(default_factory=list)   # the NEAREST combinations (by :func:`_nearness`), distinct by name


NEAREST = 3               # how many of the combinations that followed the record longest are named


def _reach(replay) -> tuple:
    return (math.inf, 0) if replay.fail is None else replay.fail


def _nearness(replay) -> tuple:
    """How near a replay came: the later it left the record, then the less it left it by."""
    return _reach(replay), -(replay.where or {}).get("residual", 0.0)


def _keep_nearest(nearest: dict, deps, conv, rep) -> None:
    """Keep, per set of departures (by name), the convention that came nearest."""
    best = nearest.get(deps.name)
    if best is None or _nearness(rep) > _nearness(best[2]):
        nearest[deps.name] = (deps, conv, rep)


def identify(ref, ingredients: Iterable[Ingredient], axes: list, depth: int = 3,
             progress: Callable[[str], None] | None = None) -> Identification:
    """Search the departures of ``ingredients`` (up to ``depth`` of them) and the conventions of ``axes``
    (``[(name, [overrides, ...])]``, the preset's value first) for the rules that reproduce ``ref``'s record.

    ``ref`` replays a record: ``ref.run(convention, departures, early_exit=True, settings=None)`` returns a
    replay with ``fail`` (``None`` when every step is reproduced); ``ref.quiet_settings()`` lists the settings
    without weight decay; ``ref.key(convention, departures)`` says when two combinations are the same rule."""
    t0 = time.perf_counter()
    progress = progress or (lambda msg: None)
    ingredients = list(ingredients)
    quiet = ref.quiet_settings()
    staged = bool(quiet) and len(quiet) < ref.n_settings
    decay_axes = [a for a in axes if a[0] == "weight_decay_mode"] if staged else []
    first_axes = [a for a in axes if a not in decay_axes]
    first_ings = [i for i in ingredients if not (staged and i.decay)]
    decay_ings = [i for i in ingredients if staged and i.decay]
    first_conventions = convention_settings(first_axes)
    decay_conventions = convention_settings(decay_axes)
    tried, seen = 0, set()
    closest = {}                      # settings replayed -> (Departures, convention, replay) that went furthest
    nearest = {}                      # departures' name -> (Departures, convention, replay) on every setting

    def run(conv, deps, settings):
        nonlocal tried
        tried += 1
        rep = ref.run(conv, deps, settings=settings)
        best = closest.get(settings is None)
        if best is None or _reach(rep) > _reach(best[2]):
            closest[settings is None] = (deps, conv, rep)
        _keep_nearest(nearest, deps, conv, rep)
        return rep

    for k in range(depth + 1):
        progress(f"identifying: combinations with {k} departure{'s' * (k != 1)}")
        survivors = []
        for deps in departure_sets(first_ings, k):
            for conv in first_conventions:
                key = ref.key(conv, deps)
                if key in seen:
                    continue
                seen.add(key)
                if run(conv, deps, quiet if staged else None).fail is None:
                    survivors.append((deps, conv))
        found = []
        for deps, conv in survivors:
            if not staged:
                found.append((deps, conv))
                continue
            for dk in range(min(1, depth - k) + 1):
                for extra in departure_sets(decay_ings, dk):
                    for dconv in decay_conventions:
                        full = {**conv, **dconv}
                        if run(full, deps + extra, None).fail is None:
                            found.append((deps + extra, full))
        if found:
            fewest = min(len(d) for d, _ in found)
            return Identification([(d, c) for d, c in found if len(d) == fewest], None, tried, depth,
                                  time.perf_counter() - t0)
    best = closest.get(True)
    if best is None and closest:      # nothing got past the settings without decay: replay the best on all
        deps, conv, _ = closest[False]
        runs = [(deps, {**conv, **d}, ref.run({**conv, **d}, deps)) for d in decay_conventions]
        best = max(runs, key=lambda r: _reach(r[2]))
    if best is not None:
        _keep_nearest(nearest, *best)
    # the candidates came nearest on different settings (those without decay, or all): each is replayed on all
    candidates = sorted(nearest.values(), key=lambda r: _nearness(r[2]), reverse=True)[:3 * NEAREST]
    ranked = sorted([(d, c, ref.run(c, d)) for d, c, _ in candidates], key=lambda r: _nearness(r[2]),
                    reverse=True)[:NEAREST]
    return Identification([], ranked[0] if ranked else best, tried, depth, time.perf_counter() - t0, ranked)


def convention_settings(axes):
    """Every combination of the axes' overrides, ordered by how many axes leave the preset's value."""
    combos = sorted(itertools.product(*[range(len(vals)) for _, vals in axes]), key=lambda c: sum(i > 0 for i in c))
    out = []
    for c in combos:
        hp = {}
        for (_, vals), i in zip(axes, c):
            hp.update(vals[i])
        out.append(hp)
    return out
