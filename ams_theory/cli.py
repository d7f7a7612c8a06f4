"""Command line: ``ams-theory verify``, ``ams-theory show ID`` and ``ams-theory conform TARGET --as METHOD``.

``verify`` runs the attached checks (all, or ``--claim``/``--family``), prints
progress on stderr and a table on stdout, and writes reports. Exit status: 0 when
every selected check ran (whatever the verdicts), 1 when a check crashed (the
reason is printed), 2 on bad input (one line on stderr, nothing run).

``conform`` audits another package's optimizer class against one of our presets
(:mod:`ams_theory.audit.conform`). Exit status: 0 when it conforms, 1 when it departs,
2 when it could not be run (bad TARGET or METHOD, refused keywords, a crash inside it).
``conform --peers`` audits the peer implementations users install and prints a Markdown table, then a second
one for the cautious classes they install (:mod:`ams_theory.audit.caution`). ``conform --caution TARGET`` checks
TARGET's caution switch against the paper's mask (exit 0 conforms, 1 departs or never fires, 2 could not run).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass

from ams_theory import __version__
from ams_theory.claims import certificates
from ams_theory.claims.catalogue import CLAIM_FAMILIES
from ams_theory.claims.registry import BUDGETS, Result, claims_for, load_checks, run_claim
from ams_theory.engines import proofs
from ams_theory.claims.report import document, html_page, markdown, proof_text, table

REPORT_FORMATS = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}


class _Fail(Exception):
    """A user error: reported as one line on stderr, exit status 2."""


def _writable(path: str, what: str) -> None:
    """Fail now, before any check runs, when ``path`` cannot be written: it is opened for appending (and removed
    again when it did not exist), which also catches read-only file systems and special folders."""
    if os.path.isdir(path):
        raise _Fail(f"cannot write {what} {path!r}: it is a directory")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as err:
            raise _Fail(f"cannot write {what} {path!r}: cannot create {parent!r} ({err.strerror})") from None
    existed = os.path.exists(path)
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as err:
        raise _Fail(f"cannot write {what} {path!r}: {err.strerror or err}") from None
    if not existed:
        os.remove(path)


def _write(path: str, text: str, what: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as err:
        raise _Fail(f"cannot write {what} {path!r}: {err.strerror}") from None


def _select(args):
    load_checks()
    try:
        return claims_for(args.claim, args.family)
    except KeyError as err:
        raise _Fail(err.args[0]) from None


def cmd_verify(args) -> int:
    report_format = None
    if args.report:
        report_format = REPORT_FORMATS.get(os.path.splitext(args.report)[1].lower())
        if report_format is None:
            raise _Fail(f"--report {args.report!r}: the name must end in .md or .html")
        _writable(args.report, "report")
    if args.json:
        _writable(args.json, "JSON report")
    if args.recheck == "cvc5":
        try:
            import cvc5  # noqa: F401
        except ModuleNotFoundError:
            raise _Fail("--recheck cvc5: cvc5 is not installed (pip install cvc5)") from None
    if args.certificates:
        _writable_folder(args.certificates, "--certificates")
    rule = None
    if args.rule is not None:           # a user's mask through the checks generic in the mask (claims/custom.py)
        from ams_theory.claims import custom

        if args.claim or args.family:
            raise _Fail("--rule runs the checks generic in the mask (see docs/rules.md): give no --claim or --family")
        try:
            rule = custom.load_rule(args.rule)
            claims = custom.rule_claims(rule)
        except custom.RuleError as err:
            raise _Fail(str(err)) from None
    else:
        claims = _select(args)
    jobs = 1 if rule is not None else min(args.jobs or os.cpu_count() or 1, max(1, len(claims)))
    t0 = time.perf_counter()
    stem = os.path.splitext(args.report)[0] if args.report else None
    runs = _run_parallel(claims, args, jobs, stem) if jobs > 1 else _run_serial(claims, args, stem)
    doc = document(runs, args.budget, args.seed, time.perf_counter() - t0)
    if rule is not None:
        doc["rule"] = {"spec": rule.spec, "name": rule.name, "kind": rule.kind}
    print(table(runs))
    print("\n" + ", ".join(f"{k}: {v}" for k, v in sorted(doc["totals"].items()))
          + f"  ({len(runs)} claims, budget {args.budget}, seed {args.seed}, {jobs} job{'s' * (jobs > 1)}, "
            f"{doc['seconds']} s)")
    if args.report:
        # a rule's run draws no figures: the continuous-time figure shows the paper's systems, not the rule's
        doc["figures"] = [] if rule is not None else _figures(stem, runs, quiet=args.quiet)
        _write(args.report, markdown(doc) if report_format == "markdown" else html_page(doc), "report")
    if args.json:
        _write(args.json, json.dumps(doc, indent=2, default=str), "JSON report")
    crashed = [r for r in runs if r.status == "crashed"]
    for r in crashed:
        print(f"ams-theory: check of {r.claim_id} crashed: {r.error}", file=sys.stderr)
    return 1 if crashed or not _certified(runs, args) else 0


def _certified(runs, args) -> bool:
    """Say what the replay and the certificate files found; False when a replayed query was not unsat."""
    if args.certificates:
        n = sum(r.payload.get("certificates", 0) for r in runs)
        print(f"wrote {n} SMT-LIB queries of {sum(1 for r in runs if r.payload.get('certificates'))} claims under "
              f"{args.certificates} (each expected unsat; manifest.json per claim)")
    if not args.recheck:
        return True
    replays = [(r.claim_id, r.payload["replay"]) for r in runs if r.payload.get("replay", {}).get("queries")]
    failed = [(cid, f) for cid, rp in replays for f in rp["failed"]]
    total = sum(rp["queries"] for _, rp in replays)
    print(f"{args.recheck} replayed {total} queries of {len(replays)} claims' proofs: "
          f"{total - len(failed)} unsat, {len(failed)} not ({sum(rp['seconds'] for _, rp in replays):.1f} s)")
    for cid, f in failed:
        print(f"ams-theory: {cid}: {f['proof']} proof, case {f['case']}: {args.recheck} answered {f['answer']}",
              file=sys.stderr)
    return not failed


def _writable_folder(path: str, what: str) -> None:
    """Fail now when files cannot be written under ``path`` (created when missing)."""
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, ".ams-theory-write-test")
        with open(probe, "w", encoding="utf-8"):
            pass
        os.remove(probe)
    except OSError as err:
        raise _Fail(f"{what} {path!r}: cannot write there ({err.strerror or err})") from None


@dataclass
class _Run:
    """One claim's finished run, as the report needs it (picklable: it crosses from a worker process)."""

    claim_id: str
    family: str
    status: str
    payload: dict                   # Result.to_json()
    figures: list                   # [{"name", "file", "caption", "claims"}] drawn beside the report
    error: str | None = None

    def to_json(self) -> dict:
        return self.payload

    @property
    def seconds(self) -> float:
        return self.payload["seconds"]


def _finish(result, stem, certify=(None, None)) -> _Run:
    """A run record of ``result``, with the figures its verdict offers drawn at ``<stem>-<name>.png``; ``certify``:
    ``(solver, folder)``, replay its proofs' queries in that solver and/or write them as SMT-LIB files there."""
    payload = result.to_json()
    solver, folder = certify
    if solver:
        payload["replay"] = certificates.replay_result(result, solver)
    if folder:
        payload["certificates"] = certificates.write_certificates(result, folder)
    figures = []
    for name, (caption, draw) in (result.verdict.figures if stem and result.verdict else {}).items():
        try:
            path = draw(f"{stem}-{name}.png")
        except ImportError as err:          # no matplotlib: no figures (said once by the caller)
            figures.append({"name": name, "error": str(err)})
            continue
        figures.append({"name": name, "file": os.path.basename(path), "caption": caption,
                        "claims": [result.claim.id]})
    return _Run(result.claim.id, result.claim.entry.family, result.status, payload, figures, result.error)


def _progress(args, i, n, run) -> None:
    """A finished claim, in the order the workers finish them."""
    if not args.quiet and run.status != "unchecked":
        word = run.payload["verdict"] or run.status
        print(f"[{i}/{n} done] {run.claim_id} ... {word} ({run.seconds:.1f} s)", file=sys.stderr, flush=True)


def _run_serial(claims, args, stem) -> list:
    runs = []
    for i, claim in enumerate(claims, 1):
        shown = not args.quiet and claim.check is not None
        if shown:
            print(f"[{i}/{len(claims)}] {claim.id} ...", end="", file=sys.stderr, flush=True)
        runs.append(_finish(run_claim(claim, args.budget, args.seed), stem, (args.recheck, args.certificates)))
        if shown:
            print(f" {runs[-1].payload['verdict'] or runs[-1].status} ({runs[-1].seconds:.1f} s)", file=sys.stderr,
                  flush=True)
    return runs


def _verify_in_worker(claim_id, budget, seed, stem, hypothesis_home, threads, certify) -> _Run:
    """A worker process's run of one claim (the checks are loaded in the worker), with ``threads`` torch threads:
    the workers share the cores instead of each spinning up one thread per core."""
    import torch
    from hypothesis import configuration

    from ams_theory.claims.registry import REGISTRY

    torch.set_num_threads(threads)
    configuration.set_hypothesis_home_dir(hypothesis_home)
    load_checks()
    return _finish(run_claim(REGISTRY[claim_id], budget, seed), stem, certify)


def _run_parallel(claims, args, jobs, stem) -> list:
    """Every claim in a pool of ``jobs`` worker processes (forked where the platform allows, so the parent's
    state, such as a patched check in a test, is theirs), in catalogue order in the output; a worker that dies
    is reported as that claim's crash and the other claims still run."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    home = args.hypothesis_home
    threads = max(1, (os.cpu_count() or 1) // jobs)
    certify = (args.recheck, args.certificates)
    done: dict = {}

    def record(claim, run):
        done[claim.id] = run
        _progress(args, len(done), len(claims), run)

    def died(claim, err):
        error = f"the worker process died: {type(err).__name__}: {err}"
        return _Run(claim.id, claim.entry.family, "crashed", Result(claim, "crashed", error=error).to_json(), [],
                    error)

    with ProcessPoolExecutor(jobs, mp_context=context) as pool:
        futures = {pool.submit(_verify_in_worker, c.id, args.budget, args.seed, stem, home, threads, certify): c
                   for c in claims}
        try:
            for future in as_completed(futures):
                record(futures[future], future.result())
        except BrokenProcessPool:         # a worker died: which claim killed it is not known yet
            pass
    for claim in [c for c in claims if c.id not in done]:     # then each unfinished claim in a process of its own
        with ProcessPoolExecutor(1, mp_context=context) as alone:
            try:
                record(claim, alone.submit(_verify_in_worker, claim.id, args.budget, args.seed, stem, home,
                                           threads, certify).result())
            except BrokenProcessPool as err:
                record(claim, died(claim, err))
    return [done[c.id] for c in claims]


def _figures(stem, runs, quiet=False):
    """The figures of the run beside the report, ``<stem>-<name>.png``: the ones the verdicts offered (drawn by
    each run) and one PNG of H(t) and L(t) per continuous system when continuous claims ran. Without matplotlib
    there are none (said once on stderr)."""
    out: dict = {}
    for run in runs:
        for fig in run.figures:
            if "error" in fig:
                if not quiet:
                    print(f"ams-theory: no figures in the report ({fig['error']})", file=sys.stderr)
                return []
            out.setdefault(fig["name"], {**fig, "claims": []})["claims"] += fig["claims"]
    continuous = [r.claim_id for r in runs if r.family == "continuous" and r.status == "checked"]
    if continuous:
        from ams_theory.engines.dynamics import plot_systems
        try:
            path = plot_systems(f"{stem}-dynamics.png")
        except ImportError as err:
            if not quiet:
                print(f"ams-theory: no figures in the report ({err})", file=sys.stderr)
            return []
        out = {"dynamics": {"name": "dynamics", "file": os.path.basename(path), "caption": "Continuous-time "
                            "systems: H(t) and L(t) on 4 w1^2 + w2^2 from (1, 1)", "claims": continuous}, **out}
    return list(out.values())


def cmd_show(args) -> int:
    load_checks()
    try:
        (claim,) = claims_for([args.id])
    except KeyError as err:
        raise _Fail(err.args[0]) from None
    if args.json and args.proof:
        raise _Fail("show takes --json or --proof, not both")
    result = run_claim(claim, args.budget, args.seed)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, default=str))       # as `verify --json` writes it
    else:
        from ams_theory.claims.report import render_claim

        print(proof_text(result) if args.proof else render_claim(result))
    return 1 if result.status == "crashed" else 0


def cmd_conform(args) -> int:
    from ams_theory.audit import conform as cf

    if args.json:
        _writable(args.json, "JSON result")
    if args.report:
        if not args.report.endswith((".md", ".html")):
            raise _Fail(f"--report {args.report!r}: the name must end in .md or .html")
        if args.peers or args.caution:
            raise _Fail("--report writes one audit of TARGET --as METHOD, not --peers or --caution")
        _writable(args.report, "report")
    progress = (lambda msg: None) if args.quiet else (lambda msg: print(f"[conform] {msg}", file=sys.stderr,
                                                                          flush=True))
    if args.caution:
        return _conform_caution(args, progress)
    if args.switch:
        raise _Fail("--switch names the caution keyword of --caution TARGET")
    if args.peers:
        if args.target or args.method:
            raise _Fail("--peers runs the built-in peer list: give no TARGET or --as")
        from ams_theory.audit.caution import caution_peer_table

        rows, text = cf.peer_table(progress)
        caution_rows, caution_text = caution_peer_table(progress)
        print(text + "\n\n" + caution_text)
        if args.json:
            _write(args.json, json.dumps({"peers": rows, "caution": caution_rows}, indent=2, default=str),
                   "JSON result")
        return 0
    if not args.target or not args.method:
        raise _Fail("conform needs TARGET (package.module:Class) and --as METHOD "
                    f"({', '.join(cf.METHODS)}), or --peers")
    try:
        result = cf.conform(args.target, args.method, cf.parse_keywords(args.kw, "--kw"),
                            cf.parse_keywords(args.method_kw, "--method-kw"), seed=args.seed,
                            steps=60 if args.steps is None else args.steps,
                            depth=args.depth, default_dtype=args.default_dtype, progress=progress)
    except cf.ConformError as err:
        raise _Fail(str(err)) from None
    print(result.text())
    if args.json:
        _write(args.json, json.dumps(result.to_dict(), indent=2, default=str), "JSON result")
    if args.report:
        _write(args.report, result.html() if args.report.endswith(".html") else result.markdown(), "report")
    return result.exit_status


def _conform_caution(args, progress) -> int:
    """``conform --caution TARGET``: the differential check of TARGET's caution switch."""
    from ams_theory.audit import caution
    from ams_theory.audit.conform import ConformError, parse_keywords

    if args.target or args.method or args.peers or args.method_kw:
        raise _Fail("--caution TARGET takes no other TARGET, --as, --method-kw or --peers")
    try:
        result = caution.audit_caution(args.caution, parse_keywords(args.kw, "--kw"), args.switch, seed=args.seed,
                                       steps=caution.STEPS if args.steps is None else args.steps,
                                       default_dtype=args.default_dtype, progress=progress)
    except ConformError as err:
        raise _Fail(str(err)) from None
    print(result.text())
    if args.json:
        _write(args.json, json.dumps(result.to_dict(), indent=2, default=str), "JSON result")
    return result.exit_status


def cmd_experiments(args) -> int:
    """The small-scale comparison beside the papers' tables
    (:func:`ams_theory.engines.experiments.compare_on_digits`)."""
    from ams_theory.engines import experiments

    for path, what in ((args.json, "JSON result"), (args.plot, "figure")):
        if path:
            _writable(path, what)
    result = experiments.compare_on_digits(args.budget, args.seed, num_threads=args.threads or None,
                                           select=args.select)
    print("\n".join(experiments.summary_lines(result) + experiments.paper_lines(result)))
    t = result["timing"]
    print(f"wall {t['wall_s']:.1f} s, process CPU {t['cpu_s']:.1f} s ({t['n_runs']} runs, {t['n_steps']} steps, "
          f"{result['environment']['torch_threads']} torch thread(s))")
    if args.json:
        _write(args.json, json.dumps(result, indent=1), "JSON result")
    if args.plot:
        experiments.plot_comparison(result, args.plot)
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="ams-theory", description="Verify the claims of the AMS/Grams and "
                                 "Cautious optimizer papers, claim by claim.")
    ap.add_argument("--version", action="version", version=f"ams-theory {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--budget", choices=BUDGETS, default="standard",
                        help="how hard to look (default: standard, under 5 minutes on 2 cores)")
    common.add_argument("--seed", type=int, default=0, help="seed of the randomised checks (default 0)")
    v = sub.add_parser("verify", parents=[common], help="run the claim checks and report a verdict per claim")
    v.add_argument("--claim", action="append", metavar="ID", help="only this claim id (repeatable)")
    v.add_argument("--family", action="append", metavar="NAME", help=f"only this family ({', '.join(CLAIM_FAMILIES)})")
    v.add_argument("--report", metavar="PATH", help="write a report for people: PATH ending in .md or .html")
    v.add_argument("--json", metavar="PATH", help="write the results as JSON")
    v.add_argument("--jobs", type=int, default=0, metavar="N",
                   help="run the claims in N worker processes (default: one per core; 1: one after another); "
                        "the verdicts are the same")
    v.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    v.add_argument("--recheck", choices=proofs.SOLVERS, metavar="SOLVER",
                   help="replay every stored query of every proof in SOLVER (z3, or cvc5: a second solver); exit 1 "
                        "when one is not unsat")
    v.add_argument("--certificates", metavar="DIR",
                   help="write every proof's queries as SMT-LIB files under DIR/<claim id>/, for any solver")
    v.add_argument("--rule", metavar="SPEC", help="run the checks generic in the mask with a user's mask(ops, u, s) "
                   "in place of the paper's, every other claim listed as not applicable with the reason: "
                   "package.module:name or path/to/file.py:name (one job; no --claim or --family; see docs/rules.md)")
    v.set_defaults(func=cmd_verify)
    s = sub.add_parser("show", parents=[common], help="run one claim's check and print all its evidence")
    s.add_argument("id", help="claim id, e.g. grams.B3")
    s.add_argument("--proof", action="store_true",
                   help="print the proof (its cases, each with the step that closed it) instead of the evidence")
    s.add_argument("--json", action="store_true",
                   help="print the claim's result as JSON (the entry `verify --json` writes for it) instead of the "
                        "text for people")
    s.set_defaults(func=cmd_show)
    c = sub.add_parser("conform", help="audit another package's optimizer against one of our presets "
                       "(exit 0 conforms, 1 departs, 2 could not run)")
    c.add_argument("target", nargs="?", metavar="TARGET",
                   help="the optimizer class: package.module:Class, or path/to/file.py:Class")
    c.add_argument("--as", dest="method", metavar="METHOD",
                   help="our preset to compare with: adam, adamw, cadamw, grams, ams, lion, clion")
    c.add_argument("--kw", action="append", metavar="KEY=VALUE",
                   help="a keyword for TARGET's constructor, value a Python literal (repeatable)")
    c.add_argument("--method-kw", action="append", metavar="KEY=VALUE",
                   help="fix a hyperparameter or convention of our side, e.g. lam=0.5, beta3=0.9, scope='tensor'")
    c.add_argument("--steps", type=int, default=None,
                   help="steps per setting (default 60); with --caution: the checked steps (default 8)")
    c.add_argument("--seed", type=int, default=0, help="seed of the problem (default 0)")
    c.add_argument("--default-dtype", choices=("float32", "float64"),
                   help="torch's default dtype while the target runs (some code computes scalars in it)")
    c.add_argument("--depth", type=int, default=3,
                   help="the most departures from the paper's rule an explanation may combine (default 3; deeper "
                        "searches take longer)")
    c.add_argument("--json", metavar="PATH", help="write the result (verdict, first departure, diagnosis) as JSON")
    c.add_argument("--report", metavar="PATH", help="write the audit for people: PATH ending in .md or .html (the "
                   "verdict, the departures with their formulas, where the target leaves our rule)")
    c.add_argument("--peers", action="store_true",
                   help="audit the built-in list of peer implementations and of installed cautious classes")
    c.add_argument("--caution", metavar="TARGET",
                   help="check TARGET's caution switch against the cautious mask applied to its own base update")
    c.add_argument("--switch", metavar="NAME", help="with --caution: the caution keyword (default: found by name)")
    c.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    c.set_defaults(func=cmd_conform)
    from ams_theory.engines.experiments import BUDGETS as EXPERIMENT_BUDGETS, SELECTIONS

    e = sub.add_parser("experiments", help="the small-scale comparison of the optimizers beside the papers' tables "
                       "(needs the experiments extra)")
    e.add_argument("--budget", choices=list(EXPERIMENT_BUDGETS), default="standard")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--select", choices=list(SELECTIONS), default="val_loss", help="lr tuning criterion")
    e.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: leave torch's default)")
    e.add_argument("--json", metavar="PATH", help="write the full result here")
    e.add_argument("--plot", metavar="PATH", help="write the figure (PNG) here")
    e.set_defaults(func=cmd_experiments)
    return ap


def _private_hypothesis_home():
    """hypothesis keeps caches in ``./.hypothesis`` by default: the checks' searches write them in a temporary
    folder instead, removed afterwards (the user's working directory is left as it was)."""
    import contextlib
    import shutil
    import tempfile

    @contextlib.contextmanager
    def home():
        from hypothesis import configuration

        folder = tempfile.mkdtemp(prefix="ams-theory-hypothesis-")
        configuration.set_hypothesis_home_dir(folder)
        try:
            yield folder
        finally:
            configuration.set_hypothesis_home_dir(None)      # back to hypothesis's own choice
            shutil.rmtree(folder, ignore_errors=True)
    return home()


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command in ("verify", "show"):
            with _private_hypothesis_home() as args.hypothesis_home:
                return args.func(args)
        return args.func(args)
    except _Fail as err:
        print(f"ams-theory: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:          # output piped into a reader that closed early (e.g. head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("ams-theory: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
