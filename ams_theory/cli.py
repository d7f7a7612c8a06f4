"""Command line: ``ams-theory verify``.

At this stage no claim has a check attached yet, so ``verify`` lists every
catalogued claim as ``unchecked`` (a status, not a verdict) and exits 0.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from . import __version__
from .catalogue import CATALOGUE, FAMILIES, by_id


class _Fail(Exception):
    """A user error: reported as one line on stderr, exit status 2."""


def _select(claims, families):
    selected = list(CATALOGUE)
    if claims:
        try:
            selected = [by_id(c) for c in claims]
        except KeyError as err:
            raise _Fail(err.args[0]) from None
    if families:
        for fam in families:
            if fam not in FAMILIES:
                raise _Fail(f"unknown family {fam!r} (expected one of {', '.join(FAMILIES)})")
        selected = [c for c in selected if c.family in families]
    return selected


def _table(rows):
    head = ("id", "status", "where")
    widths = [max(len(head[i]), *(len(r[i]) for r in rows)) for i in range(3)] if rows else [len(h) for h in head]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([line(head), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def cmd_verify(args) -> int:
    selected = _select(args.claim, args.family)
    rows = [(c.id, "unchecked", f"{c.paper} {c.where}") for c in selected]
    print(_table(rows))
    print(f"\n{len(rows)} claims, 0 checked: no check is attached to any claim yet.")
    if args.json:
        doc = {"version": __version__, "claims": [
            {"id": c.id, "verdict": None, "status": "unchecked", "paper": c.paper, "where": c.where,
             "family": c.family, "statement": c.pointer, "evidence": None, "counterexample": None,
             "correction": None} for c in selected]}
        try:
            with open(args.json, "w") as fh:
                json.dump(doc, fh, indent=2)
        except OSError as err:
            raise _Fail(f"cannot write JSON report {args.json!r}: {err.strerror}") from None
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="ams-theory", description="Verify the claims of the AMS/Grams and "
                                 "Cautious optimizer papers, claim by claim.")
    ap.add_argument("--version", action="version", version=f"ams-theory {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify", help="run the claim checks and report a verdict per claim")
    v.add_argument("--claim", action="append", metavar="ID", help="only this claim id (repeatable)")
    v.add_argument("--family", action="append", metavar="NAME", help=f"only this family ({', '.join(FAMILIES)})")
    v.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    v.set_defaults(func=cmd_verify)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except _Fail as err:
        print(f"ams-theory: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:          # output piped into a reader that closed early (e.g. head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
