#!/usr/bin/env python3
"""Generate the per-claim verdict table of ``docs/verdicts.md`` from a verification run.

Usage::

    ams-theory verify --budget standard --json verify.json --quiet
    python3 docs/make_verdicts.py verify.json            # write docs/verdicts.md's table and docs/verdicts.json
    python3 docs/make_verdicts.py verify.json --check    # compare only; exit 1 naming the first stale row

The input is the JSON that ``ams-theory verify --json PATH`` writes (a whole run: every catalogued
claim), or ``docs/verdicts.json`` itself. The script writes

- ``docs/verdicts.json``: the run's projection, one entry per claim in catalogue order (id, verdict
  word, strength level, the correction's verdict and strength, the summary as shown), and the budget,
  seed and version of the run;
- the table between ``<!-- verdicts:begin -->`` and ``<!-- verdicts:end -->`` in ``docs/verdicts.md``,
  rendered from that projection: claim | verdict | strength | in short, and the totals.

Exit status: 0 done (or, with ``--check``, up to date); 1 stale (``--check``); 2 bad input. Every
failure is one line on stderr. Only the standard library is used; the catalogue order is read from
``ams_theory.claims.catalogue`` of this checkout when it imports, else the run's own order is kept
(``ams-theory verify`` runs the claims in catalogue order).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
PAGE = DOCS / "verdicts.md"
PROJECTION = DOCS / "verdicts.json"
BEGIN = "<!-- verdicts:begin -->"
END = "<!-- verdicts:end -->"
FORMAT = "ams-theory-verdicts/1"
SUMMARY_CHARS = 300          # longer summaries are cut at a clause (or word) boundary, marked with " …"
LEVELS = ("proved", "exhaustive", "searched", "none")

__all__ = ["BadInput", "read_input", "read_projection", "project", "render", "splice", "extract", "check", "main"]


class BadInput(Exception):
    """Input the script cannot use; its message is the one line printed."""


# -- reading ----------------------------------------------------------------------------------------

def _load_json(path: Path, what: str):
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"{what} {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise BadInput(f"{what} {str(path)!r} is a directory") from None
    except UnicodeDecodeError:
        raise BadInput(f"{what} {str(path)!r} is not UTF-8 text") from None
    except OSError as err:
        raise BadInput(f"cannot read {what} {str(path)!r}: {err.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise BadInput(f"{what} {str(path)!r} is not JSON ({err.msg} at line {err.lineno}, column {err.colno})") \
            from None


def _level(strength) -> str | None:
    if strength is None:
        return None
    if not isinstance(strength, dict) or not isinstance(strength.get("level"), str):
        raise ValueError("a strength without a level")
    return strength["level"]


def _claim_of_run(c) -> dict:
    """One claim of ``ams-theory verify --json`` output, projected; ValueError if it is not one."""
    if not isinstance(c, dict) or not isinstance(c.get("id"), str):
        raise ValueError("a claim entry without an id")
    for key in ("status", "verdict", "summary", "strength", "correction"):
        if key not in c:
            raise ValueError(f"claim {c['id']} has no {key!r}")
    if c["status"] == "crashed":
        raise ValueError(f"the check of {c['id']} crashed ({c.get('error')}); fix it and run verify again")
    word = c["verdict"] if c["verdict"] is not None else c["status"]
    if not isinstance(word, str) or not isinstance(c["summary"], str):
        raise ValueError(f"claim {c['id']} has no verdict word or summary")
    corr = c["correction"]
    if corr is not None:
        if not isinstance(corr, dict) or not isinstance(corr.get("verdict"), str):
            raise ValueError(f"claim {c['id']} has a correction without a verdict")
        corr = {"verdict": corr["verdict"], "strength": _level(corr.get("strength"))}
    return {"id": c["id"], "verdict": word, "strength": _level(c["strength"]), "correction": corr,
            "summary": shorten(c["summary"])}


def _catalogue_ids() -> list[str] | None:
    """The catalogue's ids in order, from this checkout's ``ams_theory/claims/catalogue.py`` (loaded by path, so
    neither torch nor the installed copy of the package is imported); None when it cannot be loaded."""
    import importlib.util

    try:
        spec = importlib.util.spec_from_file_location("_make_verdicts_catalogue",
                                                      ROOT / "ams_theory" / "claims" / "catalogue.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module                # dataclasses look their module up there
        spec.loader.exec_module(module)
        return [c.id for c in module.CATALOGUE]
    except Exception:                      # a checkout whose catalogue does not load: keep the run's order
        return None
    finally:
        sys.modules.pop("_make_verdicts_catalogue", None)


def project(doc, catalogue: list[str] | None = None) -> dict:
    """The projection (the content of ``docs/verdicts.json``) of a verify run's JSON document."""
    if not isinstance(doc, dict) or doc.get("tool") != "ams-theory" or not isinstance(doc.get("claims"), list):
        raise BadInput("not the JSON of `ams-theory verify --json PATH` (no tool 'ams-theory' with a claims list)")
    if not doc["claims"]:
        raise BadInput("the verify JSON lists no claims")
    try:
        claims = [_claim_of_run(c) for c in doc["claims"]]
    except ValueError as err:
        raise BadInput(f"not a usable verify JSON: {err}") from None
    ids = [c["id"] for c in claims]
    dup = next((i for i in ids if ids.count(i) > 1), None)
    if dup:
        raise BadInput(f"claim {dup} appears twice in the verify JSON")
    if catalogue is not None:
        missing = [i for i in catalogue if i not in ids]
        if missing:
            raise BadInput(f"the verify JSON has {len(ids)} of the {len(catalogue)} catalogued claims (first missing: "
                           f"{missing[0]}); generate the table from a whole run, without --claim or --family")
        rank = {i: k for k, i in enumerate(catalogue)}
        claims.sort(key=lambda c: rank.get(c["id"], len(rank)))      # stable: unknown ids keep their order, last
    return {"format": FORMAT,
            "run": {"tool": "ams-theory", "version": doc.get("version"), "budget": doc.get("budget"),
                    "seed": doc.get("seed")},
            "claims": claims}


def _check_projection(doc) -> dict:
    try:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("run"), dict) \
                or not isinstance(doc.get("claims"), list) or not doc["claims"]:
            raise ValueError("no format, run or claims")
        for c in doc["claims"]:
            if not (isinstance(c["id"], str) and isinstance(c["verdict"], str) and isinstance(c["summary"], str)):
                raise ValueError(f"a malformed claim {c.get('id')!r}")
            if c["correction"] is not None and not isinstance(c["correction"].get("verdict"), str):
                raise ValueError(f"claim {c['id']} has a correction without a verdict")
            if c["strength"] is not None and not isinstance(c["strength"], str):
                raise ValueError(f"claim {c['id']} has a malformed strength")
    except (AttributeError, KeyError, TypeError, ValueError) as err:
        raise BadInput(f"not a usable docs/verdicts.json projection ({err})") from None
    return doc


def read_input(path) -> dict:
    """The projection of ``path``: a verify run's JSON, or a projection written by this script."""
    doc = _load_json(Path(path), "input")
    if isinstance(doc, dict) and doc.get("format") == FORMAT:
        return _check_projection(doc)
    if isinstance(doc, dict) and doc.get("tool") == "ams-theory" and isinstance(doc.get("claims"), list):
        return project(doc, _catalogue_ids())
    raise BadInput(f"{str(path)!r} is not the JSON of `ams-theory verify --json PATH` "
                   "(no tool 'ams-theory' with a claims list)")


def read_projection(path=PROJECTION) -> dict:
    """``docs/verdicts.json`` (or another projection file)."""
    return _check_projection(_load_json(Path(path), "projection"))


# -- rendering --------------------------------------------------------------------------------------

def shorten(text: str, limit: int = SUMMARY_CHARS) -> str:
    """``text`` on one line, cut when longer than ``limit`` (marked ``" …"``): at the last clause end outside
    parentheses (``"; "``, or ``". "`` before a capital) in the second half of the limit, else at the last space
    outside parentheses, else at the last space."""
    text = " ".join(text.split())
    if len(text) <= limit - 2:
        return text
    limit -= 2                                          # room for " …"
    depth, clause, word, space = 0, -1, -1, -1
    for k, ch in enumerate(text[:limit + 1]):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        elif ch == " ":
            space = k
            if depth == 0:
                word = k
                if k > 0 and (text[k - 1] == ";" or text[k - 1] == "." and text[k + 1:k + 2].isupper()):
                    clause = k
    if clause >= limit // 2:
        return text[:clause] + " …"
    cut = word if word > 0 else space if space > 0 else limit - 2
    return text[:cut].rstrip(" ,;:") + " …"


def _cell(text: str) -> str:
    """Markdown-safe table cell text: backslashes, pipes and asterisks escaped, tag-like ``<`` escaped."""
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*")
    return re.sub(r"<(?=[A-Za-z/!?])", r"\\<", text)


def _verdict_cell(c: dict) -> str:
    return c["verdict"] + (f" (corrected: {c['correction']['verdict']})" if c["correction"] else "")


def _strength_cell(c: dict) -> str:
    level = c["strength"] or "-"
    if c["correction"]:
        level += "/" + (c["correction"]["strength"] or "-")
    return level


def _row(c: dict) -> str:
    return f"| {c['id']} | {_cell(_verdict_cell(c))} | {_strength_cell(c)} | {_cell(c['summary'])} |"


def _counts(values) -> dict:
    out: dict = {}
    for v in values:
        if v is not None:
            out[v] = out.get(v, 0) + 1
    return out


def _totals(projection: dict) -> str:
    claims = projection["claims"]
    run = projection["run"]
    words = _counts(c["verdict"] for c in claims)
    verdicts = _counts(c["strength"] for c in claims)
    corrections = _counts(c["correction"]["strength"] for c in claims if c["correction"])
    order = lambda d: sorted(d, key=lambda k: (LEVELS.index(k) if k in LEVELS else len(LEVELS), k))
    n_corr = sum(1 for c in claims if c["correction"])
    return (f"{len(claims)} claims, from one `ams-theory verify` run (ams-theory {run.get('version')}, budget "
            f"{run.get('budget')}, seed {run.get('seed')}): "
            + ", ".join(f"{k} {words[k]}" for k in sorted(words)) + ". Strength of the verdicts: "
            + ", ".join(f"{k} {verdicts[k]}" for k in order(verdicts))
            + f"; of the {n_corr} corrections: "
            + (", ".join(f"{k} {corrections[k]}" for k in order(corrections)) or "none") + ".")


def render(projection: dict) -> str:
    """The block between the markers (markers excluded), from a projection."""
    lines = ["<!-- generated by docs/make_verdicts.py from docs/verdicts.json: do not edit by hand -->", "",
             "| claim | verdict | strength | in short |", "|---|---|---|---|"]
    lines += [_row(c) for c in projection["claims"]]
    lines += ["", _totals(projection)]
    return "\n".join(lines)


def _markers(page: str) -> tuple[int, int]:
    if page.count(BEGIN) != 1 or page.count(END) != 1 or page.index(BEGIN) > page.index(END):
        raise BadInput(f"docs/verdicts.md must hold {BEGIN} and then {END}, once each")
    return page.index(BEGIN) + len(BEGIN), page.index(END)


def extract(page: str) -> str:
    """The block between the markers of ``page`` (without the newlines next to the markers)."""
    a, b = _markers(page)
    return page[a:b].strip("\n")


def splice(page: str, block: str) -> str:
    """``page`` with the block between its markers replaced by ``block``."""
    a, b = _markers(page)
    return page[:a] + "\n" + block + "\n" + page[b:]


def projection_text(projection: dict) -> str:
    return json.dumps(projection, indent=1, ensure_ascii=False) + "\n"


# -- checking ---------------------------------------------------------------------------------------

def _clip(s: str, n: int = 70) -> str:
    return s if len(s) <= n else s[:n - 1] + "…"


def _where(a: str, b: str, n: int = 60) -> tuple[str, str]:
    """``a`` and ``b`` clipped to a window that starts a little before their first difference."""
    i = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    start = max(0, i - 20)
    lead = "…" if start else ""
    return _clip(lead + a[start:], n), _clip(lead + b[start:], n)


def _first_difference(have: str, want: str) -> str | None:
    """A one-line description of the first stale row of ``have`` against ``want`` (None when equal)."""
    if have == want:
        return None
    rows = lambda text: {line.split(" | ")[0][2:]: line for line in text.splitlines() if line.startswith("| ")
                         and not line.startswith("| claim |")}
    have_rows, want_rows = rows(have), rows(want)
    heads = ("claim", "verdict", "strength", "in short")
    for cid, line in want_rows.items():
        old = have_rows.get(cid)
        if old is None:
            return f"row {cid} is missing"
        if old != line:
            split = lambda s: [x.strip() for x in re.split(r"(?<!\\)\|", s)[1:-1]]
            for head, a, b in zip(heads, split(old), split(line)):
                if a != b:
                    a, b = _where(a, b)
                    return f"row {cid}: {head} reads {a!r}, the run gives {b!r}"
            return f"row {cid} differs"
    extra = [cid for cid in have_rows if cid not in want_rows]
    if extra:
        return f"row {extra[0]} is not in the run"
    if list(have_rows) != list(want_rows):
        return "the rows are out of catalogue order"
    for a, b in zip(have.splitlines(), want.splitlines()):
        if a != b:
            a, b = _where(a, b)
            return f"line {a!r} should read {b!r}"
    return "the block's length differs"


def check(projection: dict, page_path=PAGE, projection_path=PROJECTION) -> str | None:
    """None when ``docs/verdicts.md`` and ``docs/verdicts.json`` are what ``projection`` gives; else one line."""
    try:
        page = Path(page_path).read_text(encoding="utf-8")
    except OSError as err:
        raise BadInput(f"cannot read {page_path}: {err.strerror}") from None
    diff = _first_difference(extract(page), render(projection))
    if diff:
        return f"docs/verdicts.md is stale: {diff}"
    try:
        stored = json.loads(Path(projection_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "docs/verdicts.json is missing or not JSON"
    if stored != projection:
        old = {c.get("id"): c for c in stored.get("claims", []) if isinstance(c, dict)} \
            if isinstance(stored, dict) else {}
        for c in projection["claims"]:
            if old.get(c["id"]) != c:
                return f"docs/verdicts.json is stale: claim {c['id']} differs"
        return "docs/verdicts.json is stale: its run header or claim list differs"
    return None


# -- command line -----------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message):                  # one line, exit 2
        self.exit(2, f"make_verdicts: error: {message} (usage: python3 docs/make_verdicts.py VERIFY.json "
                     "[--check])\n")


def main(argv=None) -> int:
    ap = _Parser(prog="make_verdicts", description="Write docs/verdicts.md's verdict table (and "
                 "docs/verdicts.json) from the JSON of `ams-theory verify --json PATH`.")
    ap.add_argument("json", metavar="VERIFY.json", help="the JSON of a whole `ams-theory verify` run")
    ap.add_argument("--check", action="store_true", help="only compare; exit 1 naming the first stale row")
    args = ap.parse_args(argv)
    try:
        projection = read_input(args.json)
        if args.check:
            stale = check(projection)
            if stale:
                print(f"make_verdicts: {stale}; regenerate with python3 docs/make_verdicts.py {args.json}",
                      file=sys.stderr)
                return 1
            print(f"docs/verdicts.md and docs/verdicts.json are up to date ({len(projection['claims'])} claims)")
            return 0
        try:
            page = PAGE.read_text(encoding="utf-8")
        except OSError as err:
            raise BadInput(f"cannot read {PAGE}: {err.strerror}") from None
        new_page = splice(page, render(projection))
        try:
            PROJECTION.write_text(projection_text(projection), encoding="utf-8")
            PAGE.write_text(new_page, encoding="utf-8")
        except OSError as err:
            raise BadInput(f"cannot write {err.filename}: {err.strerror}") from None
        print(f"wrote docs/verdicts.md ({len(projection['claims'])} rows) and docs/verdicts.json")
        return 0
    except BadInput as err:
        print(f"make_verdicts: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
