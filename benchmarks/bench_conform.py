r"""How long ``ams-theory conform`` takes to identify a rule, by the number of departures.

    python benchmarks/bench_conform.py [--json out.json]

Targets are our presets with departures of the identification grammar planted
(``ams_theory.audit.conform.METHODS[...].departures``, combined as ``ams_theory.audit.identify.Departures``): none
(the target conforms), one, two and three, on the cheapest (C-Lion) and the costliest (AMS, whose
``lam = -1`` opens more tie and normalisation conventions) methods, and on C-AdamW. Each row is one
whole audit (record, replay, identification), timed once, with the combinations tried; the goals of
the audit (a target that conforms in under 2 s, three departures in under 30 s, on 2 cores) are checked
in the last column.
"""
from __future__ import annotations

import argparse
import json
import time

from ams_theory.audit.conform import METHODS, conform
from ams_theory.audit.identify import Departures
from ams_theory.core import rules

CASES = (
    ("cadamw", ()), ("ams", ()), ("clion", ()),
    ("cadamw", ("mask_sign_flipped",)), ("ams", ("decay_without_lr",)),
    ("cadamw", ("beta2_weights_gradient", "mask_sign_flipped")),
    ("ams", ("beta1_weights_gradient", "mask_sign_flipped")),
    ("cadamw", ("v_correction_outside_sqrt", "mask_sign_flipped", "decay_without_lr")),
    ("ams", ("no_bias_correction_v", "mask_against_momentum", "decay_in_gradient")),
    ("clion", ("beta2_weights_gradient", "mask_sign_flipped", "decay_missing")),
)
GOAL_S = {0: 2.0, 1: 30.0, 2: 30.0, 3: 30.0}


def target(method: str, names: tuple):
    """Our preset with the named departures planted (a class, as a user's target would be)."""
    base = METHODS[method].cls
    if not names:
        return base
    deps = Departures(tuple(c for c in METHODS[method].departures if c.name in names))
    parts, rewire, rule = rules.PAPER.replace(**deps.parts), deps.hp, base.rule

    def step(ops, w, g, state, hp, t):
        return rule(ops, w, g, state, rewire(dict(hp)) if rewire else hp, t, parts=parts)
    return type(f"Planted_{deps.name}", (base,), {"rule": staticmethod(step)})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", metavar="PATH", help="write the rows as JSON")
    args = ap.parse_args(argv)
    rows = []
    print(f"{'method':<7} {'planted departures':<62} {'found':<6} {'tried':>6} {'seconds':>8}  goal")
    for method, names in CASES:
        t0 = time.perf_counter()
        r = conform(target(method, names), method)
        seconds = time.perf_counter() - t0
        found = sorted(r.explained_by) == sorted(names) and (r.verdict == "conforms") == (not names)
        ok = seconds < GOAL_S[len(names)]
        rows.append(dict(method=method, planted=list(names), identified=found, tried=(r.search or {}).get("tried", 0),
                         seconds=round(seconds, 2), goal_s=GOAL_S[len(names)], met=ok))
        print(f"{method:<7} {' + '.join(names) or '(none: conforms)':<62} {'yes' if found else 'NO':<6} "
              f"{rows[-1]['tried']:>6} {seconds:>8.2f}  {'met' if ok else 'MISSED'} (< {GOAL_S[len(names)]:g} s)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)
    return 0 if all(r["identified"] and r["met"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
