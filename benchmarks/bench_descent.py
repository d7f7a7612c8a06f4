"""Throughput of the vectorised descent engine, and time to the first certified counterexample.

(a) Instance-checks per second: one batch of ``--batch`` (default 10^5) instances per family and
    dimension (d in {2, 8}); the margin of Grams Lemma D.1 Part 1 (its registered margin, evaluated with
    ``descent.T1`` exactly as ``random_search`` does) is timed separately from the sampling of the
    batch (problem, point w, direction u and step eta). Median of ``--reps`` evaluations.

(b) For every refuted or conditional discrete claim, the wall time from a cold start (empty sample
    cache) to the first exactly certified counterexample: ``random_search`` runs one
    (quadratic family, dimension) batch of ``--search-batch`` instances at a time until a float
    violation appears, then ``descent.certify`` re-evaluates the worst instance in exact rationals
    and the search stops when the exact margin is positive. ``cautious.eq6.default`` (a symbolic
    check in the registry) is searched here through its margin ``x'(1 - phi(x))`` / ``-x' phi(x)``
    with eq. (1)'s mask, ``x = u o g``.

    python benchmarks/bench_descent.py [--batch 100000] [--reps 5] [--search-batch 10000]
                                       [--threads 1] [--json out.json]

Goals: >= 10^6 instance-checks/s on the quadratic families; every refutation in < 10 s.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import sys
import time

import torch

from ams_theory.claims import language as cl
from ams_theory.claims.bounds import eq6_sums
from ams_theory.claims.registry import REGISTRY
from ams_theory.engines import descent, draws, margins, smooth
from ams_theory.engines.descent import T1, MarginClaim
from proofs_checks import discrete as D

QUAD = tuple(smooth.QUADRATIC_FAMILIES)
THROUGHPUT_FAMILIES = QUAD + ("separable_mixed", "logistic")
DIMS = (2, 8)
CHECKS_GOAL = 1e6
REFUTE_GOAL_S = 10.0


def m_eq6_default(ops, problem, w, u, eta, extra):
    """eq. (6) / Thm. 2.1 for the default phi of eq. (1): x'(1 - phi(x)) <= 0 and x' phi(x) >= 0, x = u o g."""
    g = margins.G(problem, w)
    x = ops.mul(u, g)
    first, second = eq6_sums(x, margins.mask_values(ops, u, g, D.PHI_VARIANTS["eq1_default"]), ops)
    return margins.Margin(margins.MAX(first, -second), True, margins.ABS(first) + margins.ABS(second))


def _threshold(name, kind):
    """Thm. 2.4 / A.7 as the claim language states them, in the searches' form (their own sampler)."""
    mc = cl.margin_claim(D.threshold_claim(name, kind, None))
    return MarginClaim(mc.margin, mc.draw, QUAD)


REFUTED = {  # claim id -> (what is searched, families)
    "grams.D1.part2": MarginClaim(REGISTRY["grams.D1.part2"].margin, draws.draw_free, QUAD),
    "grams.D2.part2": MarginClaim(REGISTRY["grams.D2.part2"].margin, draws.draw_free, QUAD),
    "grams.R5.5": MarginClaim(REGISTRY["grams.R5.5"].margin, draws.draw_free, QUAD),
    "cautious.2.4": _threshold("Thm. 2.4", "elementwise"),
    "cautious.A3": dataclasses.replace(cl.margin_claim(D.a3_claim()), families=("quadratic_diagonal_convex",)),
    "cautious.A7": _threshold("Thm. A.7", "inner"),
    "cautious.eq6.default": MarginClaim(m_eq6_default, draws.draw_free, QUAD),
}
SEARCH_DIMS = (2, 3, 5, 1, 8)


def throughput(batch, reps, seed=0):
    rows = []
    for fam in THROUGHPUT_FAMILIES:
        for d in DIMS:
            t0 = time.perf_counter()
            gen = torch.Generator().manual_seed(seed * 1000 + d)
            problem = smooth.LOSS_FAMILIES[fam](batch, d, gen)
            w = torch.randn(batch, d, generator=gen, dtype=torch.float64)
            u, eta, extra = draws.draw_free(problem, w, gen)
            sample_s = time.perf_counter() - t0
            times = []
            with torch.no_grad():
                for _ in range(reps):
                    t0 = time.perf_counter()
                    margin = REGISTRY["grams.D1.part1"].margin(T1, problem, w, u, eta, extra)
                    bad = int((margin.applicable & (margin.value > descent._tolerance(margin.scale.abs()))).sum())
                    times.append(time.perf_counter() - t0)
            assert margin.value.shape == (batch, 1) and bad == 0, (fam, d, bad)
            eval_s = statistics.median(times)
            rows.append({"family": fam, "d": d, "batch": batch, "sample_s": sample_s, "eval_s": eval_s,
                         "checks_per_s": batch / eval_s, "checks_per_s_with_sampling": batch / (eval_s + sample_s),
                         "violations": bad})
    return rows


def first_certified(claim, batch, max_rounds=50):
    """Search batch by batch; return the timings of the first exactly certified counterexample."""
    descent._SAMPLES.clear()                    # cold start: sampling is part of the time
    t0 = time.perf_counter()
    instances, search_s, certify_s, tried = 0, 0.0, 0.0, 0
    for r in range(max_rounds):
        for fam in claim.families:
            for d in SEARCH_DIMS:
                t1 = time.perf_counter()
                rs = descent.random_search(claim, 1, batch, r, families=(fam,), dims=(d,))
                search_s += time.perf_counter() - t1
                instances += rs.instances
                if not rs.violations:
                    continue
                t1 = time.perf_counter()
                cert = descent.certify(claim, rs.worst_draw, rs.worst_index)
                certify_s += time.perf_counter() - t1
                tried += 1
                if cert is not None and cert["applicable"] and cert["margin"] > 0:
                    return {"seconds": time.perf_counter() - t0, "search_s": search_s, "certify_s": certify_s,
                            "instances": instances, "certify_attempts": tried, "family": fam, "d": d,
                            "float_margin": rs.worst, "exact_margin": float(cert["margin"]),
                            "exact_margin_digits": len(str(cert["margin"]))}
    return {"seconds": None, "search_s": search_s, "certify_s": certify_s, "instances": instances,
            "certify_attempts": tried}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--search-batch", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads (default 1: on a small shared machine extra threads spin-wait "
                         "and make the timings erratic; 0 = torch's default)")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    env = f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}"
    print(f"# bench_descent ({env})\n")

    rows = throughput(args.batch, args.reps)
    print(f"## (a) Lemma D.1 Part 1 instance-checks per second, batch {args.batch:,} (median of {args.reps})\n")
    print("| family | d | sampling (s) | margin eval (s) | checks/s | checks/s incl. sampling |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['family']} | {r['d']} | {r['sample_s']:.4f} | {r['eval_s']:.4f} | {r['checks_per_s']:,.0f} | "
              f"{r['checks_per_s_with_sampling']:,.0f} |")

    refs = {}
    for cid, claim in REFUTED.items():
        refs[cid] = first_certified(claim, args.search_batch)
    print(f"\n## (b) time to the first exactly certified counterexample (batches of {args.search_batch:,}, "
          "cold sample cache)\n")
    print("| claim | seconds | float search (s) | exact certify (s) | instances | family | d | exact margin |")
    print("|---|---:|---:|---:|---:|---|---:|---:|")
    for cid, r in refs.items():
        if r["seconds"] is None:
            print(f"| {cid} | not found | {r['search_s']:.3f} | {r['certify_s']:.3f} | {r['instances']:,} | | | |")
        else:
            print(f"| {cid} | {r['seconds']:.3f} | {r['search_s']:.3f} | {r['certify_s']:.3f} | {r['instances']:,} | "
                  f"{r['family']} | {r['d']} | {r['exact_margin']:.4g} |")

    quad = [r["checks_per_s"] for r in rows if r["family"] in QUAD]
    slowest = max((r["seconds"] for r in refs.values() if r["seconds"] is not None), default=None)
    ok_checks = min(quad) >= CHECKS_GOAL
    ok_refs = all(r["seconds"] is not None and r["seconds"] < REFUTE_GOAL_S for r in refs.values())
    print(f"\nGoals: quadratic checks/s >= {CHECKS_GOAL:,.0f}: {'met' if ok_checks else 'NOT met'} "
          f"(slowest {min(quad):,.0f}); every refutation < {REFUTE_GOAL_S:g} s: {'met' if ok_refs else 'NOT met'} "
          f"(slowest {slowest if slowest is None else round(slowest, 3)} s). Total run {time.perf_counter() - t_start:.1f} s.")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"env": env, "throughput": rows, "refutations": refs,
                       "goals": {"checks_per_s": ok_checks, "refutation_seconds": ok_refs}}, fh, indent=2)
    return 0 if ok_checks and ok_refs else 1


if __name__ == "__main__":
    sys.exit(main())
