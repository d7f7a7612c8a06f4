"""Reports of a verification run: a terminal table, Markdown, HTML and JSON."""
from __future__ import annotations

import html
import json
import math
import re
import textwrap
from fractions import Fraction
from typing import Iterable

from ams_theory import __version__
from ams_theory.claims.registry import AS_PRINTED, Result

__all__ = ["table", "document", "markdown", "html_page", "detail", "proof_text", "strength_of", "strength_totals",
           "render_claim"]


def strength_of(d: dict) -> str:
    """``proved`` / ``exhaustive`` / ``searched`` / ``none`` of a result's JSON, with the correction's after a
    slash when there is one (``-`` where there is none)."""
    level = (d.get("strength") or {}).get("level", "-")
    corr = d.get("correction")
    if corr:
        level += "/" + ((corr.get("strength") or {}).get("level", "-"))
    return level


def _cells(r: Result):
    d = r.to_json()
    verdict = d["verdict"] or d["status"]
    if d["correction"]:
        verdict += f" (corrected: {d['correction']['verdict']})"
    return d["id"], verdict, strength_of(d), _with_reading(d)


def _with_reading(d: dict) -> str:
    """The summary, after the reading judged where the statement reads more than one way."""
    named = d.get("reading") and d["reading"] != AS_PRINTED
    return f"[{d['reading']}] {d['summary']}" if named else str(d["summary"])


def table(results: Iterable[Result], width: int = 120) -> str:
    rows = [_cells(r) for r in results]
    heads = ("id", "verdict", "strength")
    widths = [max([len(h)] + [len(r[k]) for r in rows]) for k, h in enumerate(heads)]
    room = max(20, width - sum(widths) - 6)
    clip = lambda s: s if len(s) <= room else s[:room - 1] + "…"
    row = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths))
    lines = [row(heads) + "  evidence", row(["-" * w for w in widths]) + "  " + "-" * min(room, 40)]
    lines += [row(r[:3]) + "  " + clip(r[3]) for r in rows]
    return "\n".join(lines)


def totals(results: Iterable[Result]) -> dict:
    out: dict = {}
    for r in results:
        d = r.to_json()
        key = d["verdict"] or d["status"]
        out[key] = out.get(key, 0) + 1
    return out


def strength_totals(results: Iterable[Result]) -> dict:
    """How many verdicts (and, separately, corrections) rest on each strength of evidence."""
    out: dict = {"verdicts": {}, "corrections": {}}
    for r in results:
        d = r.to_json()
        if d["strength"]:
            out["verdicts"][d["strength"]["level"]] = out["verdicts"].get(d["strength"]["level"], 0) + 1
        if d["correction"] and d["correction"].get("strength"):
            level = d["correction"]["strength"]["level"]
            out["corrections"][level] = out["corrections"].get(level, 0) + 1
    return out


SCHEMA = 1        # the report JSON's schema version (docs/report-schema.md); raised when a field changes meaning


def document(results: list[Result], budget: str, seed: int, seconds: float) -> dict:
    """The report as JSON (its schema: docs/report-schema.md)."""
    return {"tool": "ams-theory", "version": __version__, "schema": SCHEMA, "budget": budget, "seed": seed,
            "seconds": round(seconds, 2), "totals": totals(results), "strengths": strength_totals(results),
            "claims": [r.to_json() for r in results]}


def _json_block(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def detail(r: Result) -> str:
    """Everything known about one claim, as plain text."""
    d = r.to_json()
    parts = [f"{d['id']}  ({d['paper']}, {d['where']}; {d['family']}, {d['kind'] or 'no check yet'})",
             f"statement: {d['statement']}", f"status: {d['status']}   verdict: {d['verdict']}",
             f"strength: {_strength_line(d['strength'])}"
             + (f"   correction: {_strength_line(d['correction'].get('strength'))}" if d["correction"] else ""),
             f"reading: {d.get('reading')}", f"summary: {d['summary']}"]
    for key in ("evidence", "counterexample", "correction", "error"):
        if d[key]:
            parts.append(f"{key}:\n{_json_block(d[key])}")
    parts.append(f"seconds: {d['seconds']}")
    return "\n".join(parts)


def _strength_line(st) -> str:
    if not st:
        return "-"
    return f"{st['level']} ({st['basis']})"


def proof_text(r: Result) -> str:
    """The proofs behind a result (its verdict's and its correction's), one case per line; or why there is none."""
    v = r.verdict
    out = []
    for what, st in (("verdict", v.strength if v else None),
                     ("correction", v.correction.strength if v and v.correction else None)):
        proof = getattr(st, "proof", None)
        if proof is not None:
            out.append(f"== proof of the {what}: {st.basis}\n{proof.text()}")
        elif st is not None:
            out.append(f"== the {what} is {st.level}, not proved by the engine: {st.basis}")
    return "\n\n".join(out) or "no verdict: nothing to show"


def _shown(c: dict) -> bool:
    """Whether a claim gets a section of its own (an unchecked or not-applicable row says all there is)."""
    return c["status"] not in ("unchecked", "not applicable")


def markdown(doc: dict) -> str:
    """The report in Markdown: the verdict table, then each claim as ``show`` renders it (one rendering for
    people: :func:`render_claim`), the figures, and the claims not yet checked."""
    lines = ["# ams-theory verification report", "",
             f"version {doc['version']}, report schema {doc['schema']}, budget `{doc['budget']}`, seed {doc['seed']}, "
             f"{doc['seconds']} s; " + ", ".join(f"{k}: {v}" for k, v in sorted(doc["totals"].items())), "",
             "Strength of evidence: **proved** (for all states and hyperparameters in the stated range, by the proof "
             "engine or an exactly re-checked counterexample), **exhaustive** (every case of a finite case space), "
             "**searched** (no violation in what was searched; the coverage is listed), **none**.", "",
             "| id | verdict | strength | corrected | evidence |", "|---|---|---|---|---|"]
    esc = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    for c in doc["claims"]:
        corr = c["correction"]["verdict"] if c["correction"] else ""
        lines.append(f"| [`{c['id']}`](#{_anchor(c['id'])}) | {c['verdict'] or c['status']} | {strength_of(c)} | "
                     f"{corr} | {esc(_with_reading(c))} |")
    lines.append("")
    for heading, items in _rule_lines(doc):
        lines += [f"## {esc(heading)}", ""] + [f"- `{cid}`: {esc(what)}" for cid, what in items] + [""]
    for c in doc["claims"]:
        if _shown(c):
            lines += [f"<a id='{_anchor(c['id'])}'></a>", "",
                      f"## `{c['id']}` — {c['verdict'] or c['status']} ({strength_of(c)})", "", "```text",
                      render_claim(c), "```", ""]
    if doc.get("figures"):
        lines += ["## Figures", ""]
        for f in doc["figures"]:
            lines += [f"### {esc(f['caption'])}", "", f"![{esc(f['caption'])}]({f['file']})", "",
                      "claims: " + ", ".join(f"`{i}`" for i in f["claims"]), ""]
    unchecked = [c["id"] for c in doc["claims"] if c["status"] == "unchecked"]
    if unchecked:
        lines += ["## Not yet checked", "", ", ".join(f"`{i}`" for i in unchecked), ""]
    return "\n".join(lines)


def _rule_lines(doc: dict) -> list:
    """For ``verify --rule``: ``[(heading, [(claim id, what)])]``, the claims the rule was judged on (with their
    verdicts) and those that do not apply to it (with the reason), from the document alone."""
    rule = doc.get("rule")
    if not rule:
        return []
    applies = [(c["id"], f"{c['verdict'] or c['status']} ({strength_of(c)})") for c in doc["claims"]
               if c["status"] != "not applicable"]
    others = [(c["id"], c.get("not_applicable") or c["summary"]) for c in doc["claims"]
              if c["status"] == "not applicable"]
    return [(f"Your rule {rule['name']} ({rule['kind']} mask, {rule['spec']}): the {len(applies)} claims judged with "
             f"it", applies), (f"The {len(others)} claims that do not apply to it, and why", others)]


def _anchor(claim_id: str) -> str:
    return "claim-" + re.sub(r"[^A-Za-z0-9_-]", "-", claim_id)


VERDICT_COLOURS = {"holds": "#1a7f37", "refuted": "#cf222e", "conditional": "#9a6700", "vacuous": "#8250df",
                   "not-checkable": "#6e7781", "unchecked": "#6e7781", "crashed": "#6e7781",
                   "not applicable": "#6e7781"}
STRENGTH_ORDER = ("proved", "exhaustive", "searched", "none", "-")


def summary_figure(doc: dict) -> str:
    """Verdicts by strength as an inline SVG (no network): one bar per strength, split by verdict."""
    counts: dict = {}
    for c in doc["claims"]:
        level = (c.get("strength") or {}).get("level", "-")
        word = c["verdict"] or c["status"]
        counts.setdefault(level, {}).setdefault(word, 0)
        counts[level][word] += 1
    levels = [lv for lv in STRENGTH_ORDER if lv in counts]
    most = max([sum(v.values()) for v in counts.values()] or [1])
    bar, gap, width = 26, 10, 420
    parts, y = [], 20
    for level in levels:
        x = 110
        parts.append(f"<text x='100' y='{y + 18}' text-anchor='end'>{html.escape(level)}</text>")
        for word, n in sorted(counts[level].items()):
            w = max(1, round(width * n / most))
            colour = VERDICT_COLOURS.get(word, "#888")
            parts.append(f"<rect x='{x}' y='{y}' width='{w}' height='{bar}' fill='{colour}'>"
                         f"<title>{html.escape(word)}: {n}</title></rect>")
            if w > 24:
                parts.append(f"<text x='{x + w / 2}' y='{y + 18}' text-anchor='middle' fill='#fff'>{n}</text>")
            x += w
        y += bar + gap
    legend = "".join(f"<tspan fill='{VERDICT_COLOURS[w]}'>&#9632; {html.escape(w)}</tspan> "
                     for w in dict.fromkeys(c["verdict"] or c["status"] for c in doc["claims"]) if w in VERDICT_COLOURS)
    parts.append(f"<text x='110' y='{y + 14}'>{legend}</text>")
    return (f"<svg xmlns='http://www.w3.org/2000/svg' role='img' aria-label='verdicts by strength of evidence' "
            f"class='summary' width='{width + 130}' height='{y + 24}' font-size='13'>{''.join(parts)}</svg>")


def _facets(doc: dict) -> dict:
    """The values of each filter: verdict, strength, family."""
    return {"verdict": sorted({c["verdict"] or c["status"] for c in doc["claims"]}),
            "strength": [lv for lv in STRENGTH_ORDER if any((c.get("strength") or {}).get("level", "-") == lv
                                                           for c in doc["claims"])],
            "family": sorted({c["family"] for c in doc["claims"]})}


def _data(c: dict) -> str:
    e = html.escape
    level = (c.get("strength") or {}).get("level", "-")
    return f"data-verdict='{e(c['verdict'] or c['status'])}' data-strength='{e(level)}' data-family='{e(c['family'])}'"


PROOF_ROWS = 200          # the cases a claim's proof table shows (show --proof lists every one)


def _labelled_leaves(p: dict, path: str = "") -> list:
    """``[(label path, proof)]`` for every proof a proof's JSON holds, however deeply its bundles nest."""
    here = " / ".join(x for x in (path, p.get("label", "")) if x)
    if "parts" in p and "status" not in p:
        return [leaf for q in p["parts"] for leaf in _labelled_leaves(q, here)]
    return [(here, p)]


def _conditions(case: dict) -> str:
    return "; ".join(map(str, case.get("conditions") or [])) or "-"


def _proof_tables(c: dict) -> str:
    """The proofs of a claim's verdict and correction as HTML tables, collapsed: one row per case (the proof, its
    conditions, how it closed), each query's SMT-LIB one click away (for any solver)."""
    e = html.escape
    out = []
    for what, st in (("verdict", c.get("strength")), ("correction", (c.get("correction") or {}).get("strength"))):
        proof = (st or {}).get("proof")
        if not proof:
            continue
        rows = [(label or leaf.get("statement", ""), leaf.get("status", "?"), case)
                for label, leaf in _labelled_leaves(proof) for case in (leaf.get("cases") or [{}])]
        body = "".join(
            f"<tr><td>{e(label)}</td><td>{e(status)}</td><td>{e(_conditions(case))}</td>"
            f"<td>{e(str(case.get('step', '-')))}</td><td>" + (
                f"<details><summary>SMT-LIB</summary><pre>{e(case['query'])}</pre></details>" if case.get("query")
                else "-") + "</td></tr>" for label, status, case in rows[:PROOF_ROWS])
        more = f"<p>{len(rows) - PROOF_ROWS} more cases: <code>ams-theory show {e(c['id'])} --proof</code></p>" \
            if len(rows) > PROOF_ROWS else ""
        out.append(f"<details class='proof'><summary>the proof of the {what}: {len(rows)} case(s)</summary><table>"
                   f"<tr><th>proof</th><th>status</th><th>conditions</th><th>closed by</th><th>query</th></tr>{body}"
                   f"</table>{more}</details>")
    return "".join(out)


_FILTER_SCRIPT = """
function applyFilters() {
  const on = {};
  document.querySelectorAll('input.facet').forEach(b => {
    (on[b.dataset.facet] = on[b.dataset.facet] || new Set());
    if (b.checked) on[b.dataset.facet].add(b.value);
  });
  document.querySelectorAll('[data-verdict]').forEach(el => {
    const shown = ['verdict', 'strength', 'family'].every(f => on[f].has(el.dataset[f]));
    el.style.display = shown ? '' : 'none';
  });
}
document.querySelectorAll('input.facet').forEach(b => b.addEventListener('change', applyFilters));
"""


def html_page(doc: dict) -> str:
    """The report as one HTML page, readable offline: a contents sidebar by family and verdict, filters (verdict,
    strength, family), a summary figure (verdicts by strength), the verdict table, and each claim as ``show``
    renders it (:func:`render_claim`, the same rendering as the terminal and the Markdown report)."""
    e = html.escape
    rows = []
    for c in doc["claims"]:
        word = c["verdict"] or c["status"]
        corr = c["correction"]["verdict"] if c["correction"] else ""
        rows.append(f"<tr class='{e(word.replace(' ', '-'))}' {_data(c)}><td><a href='#{_anchor(c['id'])}'>"
                    f"<code>{e(c['id'])}</code></a></td><td>{e(word)}</td><td>{e(strength_of(c))}</td><td>{e(corr)}"
                    f"</td><td>{e(_with_reading(c))}</td></tr>")
    sections = [f"<section id='{_anchor(c['id'])}' class='claim' {_data(c)}><h3><code>{e(c['id'])}</code> — "
                f"{e(c['verdict'] or c['status'])} ({e(strength_of(c))})</h3><pre class='claim'>{e(render_claim(c))}"
                f"</pre>{_proof_tables(c)}</section>" for c in doc["claims"] if _shown(c)]
    contents = []
    for family in _facets(doc)["family"]:
        items = "".join(f"<li {_data(c)}><a href='#{_anchor(c['id'])}' style='color:"
                        f"{VERDICT_COLOURS.get(c['verdict'] or c['status'], '#333')}'>{e(c['id'])}</a></li>"
                        for c in doc["claims"] if c["family"] == family and _shown(c))
        contents.append(f"<h4>{e(family)}</h4><ul>{items}</ul>")
    filters = "".join(f"<fieldset><legend>{facet}</legend>" + "".join(
        f"<label><input type='checkbox' class='facet' data-facet='{facet}' value='{e(v)}' checked> {e(v)}</label>"
        for v in values) + "</fieldset>" for facet, values in _facets(doc).items())
    totals_ = ", ".join(f"{k}: {v}" for k, v in sorted(doc["totals"].items()))
    rule = "".join(f"<h2>{e(heading)}</h2><ul>" + "".join(
        f"<li><a href='#{_anchor(cid)}'><code>{e(cid)}</code></a>: {e(what)}</li>" for cid, what in items) + "</ul>"
        for heading, items in _rule_lines(doc))
    figure = "".join(
        f"<section><h3>{e(f['caption'])}</h3><img src='{e(f['file'])}' alt='{e(f['caption'])}' "
        f"style='max-width:100%'><p>claims: "
        f"{', '.join(f'<a href=#{_anchor(i)}><code>{e(i)}</code></a>' for i in f['claims'])}</p></section>"
        for f in doc.get("figures", []))
    if figure:
        figure = "<h2>Figures</h2>" + figure
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ams-theory verification report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; }}
nav {{ position: fixed; top: 0; left: 0; bottom: 0; width: 15em; overflow-y: auto; padding: 1em; background: #f6f8fa;
       border-right: 1px solid #ddd; font-size: 90%; box-sizing: border-box; }}
nav ul {{ list-style: none; padding-left: .5em; margin: .2em 0; }} nav h4 {{ margin: .8em 0 .2em; }}
nav fieldset {{ border: 1px solid #ddd; margin: .4em 0; }} nav label {{ display: block; }}
main {{ margin-left: 16em; padding: 1em 2em; max-width: 60em; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: .3em .6em; vertical-align: top; }}
tr.holds td:nth-child(2) {{ color: #1a7f37; }} tr.refuted td:nth-child(2) {{ color: #cf222e; }}
tr.conditional td:nth-child(2) {{ color: #9a6700; }} tr.vacuous td:nth-child(2) {{ color: #8250df; }}
tr.unchecked td, tr.crashed td, tr.not-applicable td {{ color: #777; }}
pre.claim {{ background: #f6f8fa; padding: .6em; white-space: pre-wrap; overflow-wrap: anywhere; }}
figure {{ margin: 1em 0; }} figcaption {{ font-size: 90%; color: #555; }}
details.proof {{ margin: .5em 0 1.5em; }} details.proof table {{ font-size: 85%; }}
details.proof td {{ overflow-wrap: anywhere; }} details.proof pre {{ white-space: pre-wrap; }}
</style></head><body>
<nav><h3>Contents</h3>{''.join(contents)}<h3>Filters</h3>{filters}</nav>
<main>
<h1>ams-theory verification report</h1>
<p>version {e(doc['version'])}, report schema {doc['schema']}, budget <code>{e(doc['budget'])}</code>,
seed {doc['seed']}, {doc['seconds']} s; {e(totals_)}</p>
<p>Strength of evidence: <b>proved</b> (for all states and hyperparameters in the stated range), <b>exhaustive</b>
(every case of a finite case space), <b>searched</b> (coverage listed per claim), <b>none</b>.</p>
<figure>{summary_figure(doc)}<figcaption>Verdicts by strength of evidence</figcaption></figure>
<table><tr><th>id</th><th>verdict</th><th>strength</th><th>corrected</th><th>evidence</th></tr>
{''.join(rows)}
</table>
{rule}
{''.join(sections)}
{figure}
</main>
<script>{_FILTER_SCRIPT}</script>
</body></html>
"""


# ----------------------------------------------------------------------------- one claim, for people (``show``)

_WIDTH = 100
_RATIONAL = re.compile(r"^-?\d+(/\d+)?$")
_NUMBER_TOKEN = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?:/\d+)?")
_COUNT_KEYS = ("instances", "states", "patterns", "cases", "examples", "steps")
_VIOLATION_KEYS = ("violations", "float_violations", "failing_patterns", "mismatching_patterns")
_WORST_KEYS = ("worst_margin", "worst")


def _num(x) -> str:
    """A number as a person reads it: counts with thousands separators, floats to 3 significant digits, and the
    non-finite values in words."""
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if math.isnan(x):
        return "undefined (NaN)"
    if math.isinf(x):
        return "+infinity" if x > 0 else "-infinity"
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}" if abs(x) >= 1e4 else f"{x:g}"
    return f"{x:.3g}"


def _approx(text: str) -> str | None:
    """The float value of an exact number written as text (``p/q``, an integer, or brackets of them), or None when
    ``text`` is not one; only given when it says more than the text itself."""
    s = text.strip()
    if _RATIONAL.match(s):
        if "/" not in s and len(s) <= 6:
            return None
        return _num(float(Fraction(s)))
    if s.startswith("[") and s.endswith("]") and re.fullmatch(r"[\[\]\s,\-0-9/.eE+]+", s) and "/" in s:
        return _NUMBER_TOKEN.sub(lambda m: _num(float(Fraction(m.group()))), s)
    if "sqrt(" in s and re.fullmatch(r"(?:sqrt|[\d\s+\-*/()])+", s):    # an exact closed form with roots
        import sympy

        try:
            return _num(float(sympy.sympify(s)))
        except (TypeError, ValueError, sympy.SympifyError):
            return None
    return None


def _scalar(x, exact: bool = False) -> str:
    """One value as text: ``exact``: a string holding an exact number gets its float beside it."""
    if x is None:
        return "none"
    if isinstance(x, (bool, int, float)):
        return _num(x)
    s = str(x)
    if exact:
        a = _approx(s)
        if a is not None:
            return f"{s}  (≈ {a})"
    return s


def _is_scalar(x) -> bool:
    return x is None or isinstance(x, (str, int, float, bool))


def _worst_words(worst, violations: int) -> str:
    """The worst margin (``> 0``: the claim's conclusion fails there) of a search, in words."""
    if worst is None:
        return "no margin recorded"
    if isinstance(worst, float) and math.isinf(worst) and worst < 0:
        return "no applicable instance, so no margin"
    if isinstance(worst, float) and math.isnan(worst):
        return "margin undefined (NaN)"
    if not isinstance(worst, (int, float)) or isinstance(worst, bool):
        return f"worst case {_scalar(worst)}"
    if violations:
        return f"largest margin {_num(worst)} (> 0: violated)"
    if worst > 0:
        return f"largest margin {_num(worst)} (within the float tolerance)"
    return f"smallest slack {_num(-worst)}" if worst < 0 else "margin reaches 0 (the bound is attained)"


def _search_sentence(d: dict) -> str | None:
    """One sentence for a block that counts what was searched and what violated it, else None."""
    count_key = next((k for k in _COUNT_KEYS if isinstance(d.get(k), int) and not isinstance(d.get(k), bool)), None)
    bad_key = next((k for k in _VIOLATION_KEYS if isinstance(d.get(k), int) and not isinstance(d.get(k), bool)), None)
    if count_key is None or bad_key is None:
        return None
    n, bad = d[count_key], d[bad_key]
    what = count_key if n != 1 else count_key.rstrip("s")
    applicable = d.get("applicable")
    scope = f"{_num(n)} {what}"
    if isinstance(applicable, int) and not isinstance(applicable, bool) and applicable != n:
        scope = f"{_num(applicable)} applicable of {_num(n)} {what}"
    head = f"no violation in {scope}" if bad == 0 else f"{_num(bad)} violations in {scope}"
    worst_key = next((k for k in _WORST_KEYS if k in d), None)
    if worst_key is not None and d[worst_key] is not None:
        head += "; " + _worst_words(d[worst_key], bad)
    return head


def _wrap(text: str, indent: int, first: int = 0) -> list[str]:
    """``text`` wrapped to the width, every line after the first indented by ``indent``."""
    room = max(30, _WIDTH - indent)
    lines = []
    for k, para in enumerate(text.split("\n")):
        chunk = textwrap.wrap(para, room, break_long_words=True, break_on_hyphens=False) or [""]
        lines += chunk
    return lines


def _proof_words(p: dict) -> str:
    cases = p.get("cases") or []
    if "parts" in p and not cases:
        leaves = [leaf for _, leaf in _labelled_leaves(p)]
        done = sum(1 for q in leaves if q.get("status") == "proved")
        return f"{done} of {len(leaves)} proofs proved, {sum(len(q.get('cases') or []) for q in leaves)} cases in " \
               "all (show --proof lists them)"
    out = str(p.get("status", "?"))
    if p.get("hypotheses"):
        out += f"; hypotheses: {', '.join(map(str, p['hypotheses']))}"
    if cases:
        out += f"; {len(cases)} case{'s' if len(cases) != 1 else ''} (show --proof lists them)"
    if p.get("model"):
        out += f"; model {_inline(p['model'], exact=True)}"
    return out


def _inline(v, exact: bool = False) -> str:
    """A short value on one line: scalars, lists of scalars, flat dicts of scalars; None otherwise."""
    if _is_scalar(v):
        return _scalar(v, exact)
    if isinstance(v, list) and all(_is_scalar(x) for x in v):
        return ", ".join(_scalar(x, exact) for x in v) if v else "(empty)"
    if isinstance(v, dict) and all(_is_scalar(x) for x in v.values()):
        return "; ".join(f"{k} = {_scalar(x, exact)}" for k, x in v.items()) if v else "(empty)"
    return None


def _columns(rows: list, heads: list, indent: int, exact: bool) -> list[str]:
    """Rows of scalars as an aligned table under ``heads``."""
    cells = [[_inline(x, exact) if _inline(x, exact) is not None else str(x) for x in r] for r in rows]
    widths = [max(len(str(h)), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
    pad = " " * indent
    line = lambda vals: pad + "  ".join(str(v).ljust(w) for v, w in zip(vals, widths)).rstrip()  # noqa: E731
    return [line(heads), line(["-" * w for w in widths])] + [line(c) for c in cells]


def _block(d: dict, indent: int = 2, exact: bool = False) -> list[str]:
    """A dict as a two-column table (key, value); nested blocks indented below their key; nothing dropped."""
    lines = []
    sentence = _search_sentence(d)
    pad = " " * indent
    if sentence:
        lines.append(f"{pad}=> {sentence}")
    keys = [k for k in d]
    width = min(34, max([len(str(k)) for k in keys] + [4]))
    for k in keys:
        v = d[k]
        label = str(k)
        if k in _WORST_KEYS and (v is None or (isinstance(v, float) and math.isinf(v) and v < 0)):
            text = "none recorded" if v is None else "none (no applicable instance)"
        elif isinstance(v, dict) and k == "proof" and ("cases" in v or "parts" in v):
            text = _proof_words(v)
        elif isinstance(v, dict) and set(v) >= {"level", "basis"} and set(v) <= {"level", "basis", "coverage",
                                                                                  "proof"}:
            lines.append(f"{pad}{label}:")
            lines += _strength_lines(v, indent + 2)
            continue
        else:
            text = _inline(v, exact)
            if isinstance(v, dict) and text is not None and (_search_sentence(v) or len(v) > 4 or len(text) > 60):
                text = None                 # a block of its own: its sentence, one row per entry
        if text is not None:
            body = _wrap(text, indent + width + 2)
            lines.append(f"{pad}{label.ljust(width)}  {body[0]}")
            lines += [" " * (indent + width + 2) + b for b in body[1:]]
            continue
        lines.append(f"{pad}{label}:")
        lines += _nested(k, v, indent + 2, exact)
    return lines


def _nested(key, v, indent: int, exact: bool) -> list[str]:
    """A value too large for one line: a dict, a list of rows, or a list of blocks."""
    heads = re.search(r"\[([^\]]+)\]", str(key))
    if isinstance(v, dict):
        vals = list(v.values())
        if heads and all(isinstance(x, list) and len(x) == len(heads.group(1).split(",")) and
                         all(_is_scalar(y) for y in x) for x in vals):
            names = ["", *[h.strip() for h in heads.group(1).split(",")]]
            return _columns([[k, *x] for k, x in v.items()], names, indent, exact)
        if vals and all(isinstance(x, dict) and all(_inline(y) is not None for y in x.values()) for x in vals) and \
                len({tuple(x) for x in vals}) == 1:
            if len(vals) >= 3:                    # many blocks of one shape: what they share once, then a table
                common = {k: x for k, x in vals[0].items() if all(y.get(k) == x for y in vals[1:])}
                differ = [k for k in vals[0] if k not in common]
                if common and differ:
                    out = [" " * indent + f"common to all {len(vals)}:"] + _block(common, indent + 2, exact)
                    return out + _columns([[k, *(x[c] for c in differ)] for k, x in v.items()], ["", *differ],
                                          indent, exact)
            names = ["", *vals[0]]
            return _columns([[k, *x.values()] for k, x in v.items()], names, indent, exact)
        return _block(v, indent, exact)
    if isinstance(v, list):
        if v and all(isinstance(x, dict) for x in v) and all(all(_is_scalar(y) for y in x.values()) for x in v):
            names = list(dict.fromkeys(k for x in v for k in x))
            return _columns([[x.get(n) for n in names] for x in v], names, indent, exact)
        if v and all(isinstance(x, list) and all(_is_scalar(y) for y in x) for x in v):
            return [" " * indent + ", ".join(_scalar(y, exact) for y in x) for x in v]
        out = []
        for i, x in enumerate(v, 1):
            text = _inline(x, exact)
            if text is not None:
                out.append(" " * indent + f"{i}. {text}")
            else:
                out.append(" " * indent + f"{i}.")
                out += _nested(i, x, indent + 3, exact) if not isinstance(x, dict) else _block(x, indent + 3, exact)
        return out
    return [" " * indent + _scalar(v, exact)]


def _strength_lines(st: dict | None, indent: int) -> list[str]:
    pad = " " * indent
    if not st:
        return [pad + "strength: none given"]
    lines = [f"{pad}{line}" for line in _wrap(f"{st.get('level', '?')}: {st.get('basis', '')}", indent)]
    if st.get("proof") is not None:
        lines += [pad + ("proof: " if i == 0 else "       ") + x
                  for i, x in enumerate(_wrap(_proof_words(st["proof"]), indent + 7))]
    cov = st.get("coverage") or {}
    parts = cov.get("parts") if isinstance(cov.get("parts"), list) else None
    rest = {k: v for k, v in cov.items() if k != "parts" or parts is None}
    if parts is not None:
        lines.append(f"{pad}parts ({len(parts)}):")
        for p in parts:
            if isinstance(p, dict) and "level" in p:
                sub = _strength_lines(p, indent + 4)
                lines.append(f"{pad}  - {sub[0].strip()}")
                lines += sub[1:]
            else:
                lines += _nested("part", p, indent + 4, False)
    if rest:
        lines.append(f"{pad}coverage:")
        lines += _block(rest, indent + 2)
    return lines


def _section(title: str) -> list[str]:
    return ["", title, "-" * len(title)]


def render_claim(r) -> str:
    """One claim for people (``ams-theory show ID``, and each claim's section of the Markdown and HTML reports): the
    statement, the verdict and its strength, a refutation's counterexample first with every exact number beside its
    float value, one table per evidence block (what was searched or proved, how much, the worst margin in words),
    and the correction with its own verdict and strength.

    ``r``: a :class:`Result` or its JSON (``Result.to_json()``); every key of the JSON is shown, known or not."""
    d = r.to_json() if isinstance(r, Result) else dict(r)
    verdict = d.get("verdict") or d.get("status") or "-"
    st = d.get("strength") or {}
    lines = [f"{d.get('id')}  ({d.get('paper')}, {d.get('where') or 'no source label'}; family {d.get('family')}, "
             f"{d.get('kind') or 'no check yet'} check)", ""]
    lines += [f"statement: {x}" if i == 0 else "           " + x
              for i, x in enumerate(_wrap(str(d.get("statement") or "-"), 11))]
    lines.append(f"verdict: {verdict}   strength: {st.get('level', '-')}   status: {d.get('status')}")
    if d.get("reading"):
        lines += [f"reading: {x}" if i == 0 else "         " + x for i, x in enumerate(_wrap(str(d["reading"]), 9))]
    lines += [f"in short: {x}" if i == 0 else "          " + x for i, x in enumerate(_wrap(str(d.get("summary")), 10))]
    if d.get("error"):
        lines += _section("Error") + ["  " + x for x in _wrap(str(d["error"]), 2)]
    cx = d.get("counterexample")
    if cx:                              # a refutation first: the exact counterexample
        lines += _section("Counterexample (exact numbers, float value beside them)")
        lines += _block(cx, 2, exact=True) if isinstance(cx, dict) else _nested("counterexample", cx, 2, True)
    if st:
        lines += _section(f"Strength of the verdict: {st.get('level', '-')}")
        lines += _strength_lines(st, 2)
    ev = d.get("evidence")
    if ev:
        lines += _section("Evidence")
        if isinstance(ev, dict):
            inline = {k: v for k, v in ev.items() if not isinstance(v, dict) and _inline(v) is not None}
            blocks = {k: v for k, v in ev.items() if k not in inline}
            if inline:
                lines += _block(inline, 2)
            same_shape = len(blocks) >= 3 and all(isinstance(v, dict) for v in blocks.values()) and \
                len({tuple(v) for v in blocks.values()}) == 1
            if same_shape:                  # one table for many blocks of one shape (their shared values once)
                lines += ["", f"  [{len(blocks)} blocks]"] + _nested("evidence", blocks, 4, exact=False)
            else:
                for k, v in blocks.items():
                    lines += ["", f"  [{k}]"]
                    lines += _nested(k, v, 4, exact=False)
        else:
            lines += _nested("evidence", ev, 2, exact=False)
    corr = d.get("correction")
    if corr:
        cst = corr.get("strength") or {}
        lines += _section(f"Correction: {corr.get('verdict', '-')} ({cst.get('level', '-')})")
        lines += [f"  statement: {x}" if i == 0 else "             " + x
                  for i, x in enumerate(_wrap(str(corr.get("statement", "-")), 13))]
        lines.append(f"  verdict: {corr.get('verdict', '-')}   strength: {cst.get('level', '-')}")
        if cst:
            lines.append("  strength of the correction:")
            lines += _strength_lines(cst, 4)
        for k, v in corr.items():
            if k in ("statement", "verdict", "strength"):
                continue
            text = _inline(v, exact=True)
            if text is not None:
                lines += [f"  {k}: {x}" if i == 0 else "    " + x for i, x in enumerate(_wrap(text, 4))]
            else:
                lines.append(f"  {k}:")
                lines += _nested(k, v, 4, exact=True)
    known = {"id", "paper", "where", "family", "kind", "statement", "status", "verdict", "reading", "summary",
             "evidence", "counterexample", "strength", "correction", "error", "seconds", "not_applicable"}
    extra = {k: v for k, v in d.items() if k not in known and v not in (None, {}, [])}
    if extra:
        lines += _section("Other")
        lines += _block(extra, 2)
    lines += ["", f"check time: {_num(float(d.get('seconds') or 0))} s   (the JSON: show ID --json)"]
    return "\n".join(line.rstrip() for line in lines)
