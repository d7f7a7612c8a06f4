"""Reports of a verification run: a terminal table, Markdown, HTML and JSON."""
from __future__ import annotations

import html
import json
import re
from typing import Iterable

from ams_theory import __version__
from ams_theory.claims.registry import AS_PRINTED, Result
from ams_theory.claims.views import labelled_leaves, claim_html, math_html, render_claim

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
    people: :func:`render_claim`) with its figures, the figures many claims share, and the claims not yet
    checked."""
    lines = ["# ams-theory verification report", "",
             f"version {doc['version']}, report schema {doc['schema']}, budget `{doc['budget']}`, seed {doc['seed']}, "
             f"{doc['seconds']} s; " + ", ".join(f"{k}: {v}" for k, v in sorted(doc["totals"].items())), "",
             "Strength of evidence: **proved** (for all states and hyperparameters in the stated range, by the proof "
             "engine or an exactly re-checked counterexample), **exhaustive** (every case of a finite case space), "
             "**searched** (no violation in what was searched; the coverage is listed), **none**.", "",
             "| id | verdict | strength | corrected | evidence |", "|---|---|---|---|---|"]
    esc = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    for c in _tabled(doc):
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
            for f in _figures_of(doc, c["id"]):
                if _inline_figure(f):
                    lines += [f"![{esc(f['caption'])}]({f['file']})", "", f"*{esc(f['caption'])}*", ""]
                else:
                    lines += [f"Figure: [{esc(f['caption'])}](#{_figure_anchor(f)})", ""]
    shared = [f for f in doc.get("figures", []) if not _inline_figure(f)]
    if shared:
        lines += ["## Figures", ""]
        for f in shared:
            lines += [f"<a id='{_figure_anchor(f)}'></a>", "", f"### {esc(f['caption'])}", "",
                      f"![{esc(f['caption'])}]({f['file']})", "", "claims: " + ", ".join(f"`{i}`" for i in f["claims"]),
                      ""]
    unchecked = [c["id"] for c in doc["claims"] if c["status"] == "unchecked"]
    if unchecked:
        lines += ["## Not yet checked", "", ", ".join(f"`{i}`" for i in unchecked), ""]
    return "\n".join(lines)


INLINE_FIGURE_CLAIMS = 3      # a figure of at most this many claims is drawn inside each one's section


def _figures_of(doc: dict, claim_id: str) -> list:
    return [f for f in doc.get("figures", []) if claim_id in f.get("claims", ())]


def _inline_figure(f: dict) -> bool:
    """Whether a figure is drawn inside its claims' sections (else once, under Figures, linked from them)."""
    return len(f.get("claims", ())) <= INLINE_FIGURE_CLAIMS


def _figure_anchor(f: dict) -> str:
    return "figure-" + re.sub(r"[^A-Za-z0-9_-]", "-", str(f.get("name") or f["file"]))


def _tabled(doc: dict) -> list:
    """The claims of the verdict table: all of them, except, for ``verify --rule``, those that do not apply to
    the user's rule (listed with their reasons below the table)."""
    return [c for c in doc["claims"] if not (doc.get("rule") and c["status"] == "not applicable")]


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


def _conditions(case: dict) -> str:
    """A case's conditions as MathML (HTML), ``-`` where it has none."""
    return ", ".join(math_html(str(x)) for x in case.get("conditions") or []) or "-"


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
                for label, leaf in labelled_leaves(proof) for case in (leaf.get("cases") or [{}])]
        body = "".join(
            f"<tr><td>{e(label)}</td><td>{e(status)}</td><td>{_conditions(case)}</td>"
            f"<td>{e(str(case.get('step', '-')))}</td><td>" + (
                f"<details><summary>SMT-LIB</summary><pre>{e(case['query'])}</pre></details>" if case.get("query")
                else "-") + "</td></tr>" for label, status, case in rows[:PROOF_ROWS])
        more = f"<p>{len(rows) - PROOF_ROWS} more cases: <code>ams-theory show {e(c['id'])} --proof</code></p>" \
            if len(rows) > PROOF_ROWS else ""
        out.append(f"<details class='proof'><summary>the proof of the {what}: {len(rows)} case(s)</summary><table>"
                   f"<tr><th>proof</th><th>status</th><th>conditions</th><th>closed by</th><th>query</th></tr>{body}"
                   f"</table>{more}</details>")
    return "".join(out)


def _figures_html(doc: dict, claim_id: str) -> str:
    """A claim's figures: drawn in its section, or (shared by many claims) a link to the one drawing."""
    e = html.escape
    return "".join(
        f"<figure><img src='{e(f['file'])}' alt='{e(f['caption'])}' style='max-width:100%'><figcaption>"
        f"{e(f['caption'])}</figcaption></figure>" if _inline_figure(f) else
        f"<p>Figure: <a href='#{_figure_anchor(f)}'>{e(f['caption'])}</a></p>" for f in _figures_of(doc, claim_id))


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
    strength, family), a summary figure (verdicts by strength), the verdict table, and each claim as
    :func:`~ams_theory.claims.views.claim_view` builds it (the blocks ``show`` and the Markdown report write as
    text, here as tables and MathML) with its figures and its proofs' cases."""
    e = html.escape
    rows = []
    for c in _tabled(doc):
        word = c["verdict"] or c["status"]
        corr = c["correction"]["verdict"] if c["correction"] else ""
        rows.append(f"<tr class='{e(word.replace(' ', '-'))}' {_data(c)}><td><a href='#{_anchor(c['id'])}'>"
                    f"<code>{e(c['id'])}</code></a></td><td>{e(word)}</td><td>{e(strength_of(c))}</td><td>{e(corr)}"
                    f"</td><td>{e(_with_reading(c))}</td></tr>")
    sections = [f"<section id='{_anchor(c['id'])}' class='claim' {_data(c)}><h3><code>{e(c['id'])}</code> — "
                f"{e(c['verdict'] or c['status'])} ({e(strength_of(c))})</h3>{claim_html(c)}"
                f"{_figures_html(doc, c['id'])}{_proof_tables(c)}</section>" for c in doc["claims"] if _shown(c)]
    contents = []
    for family in _facets(doc)["family"]:
        items = "".join(f"<li {_data(c)}><a href='#{_anchor(c['id'])}' style='color:"
                        f"{VERDICT_COLOURS.get(c['verdict'] or c['status'], '#333')}'>{e(c['id'])}</a></li>"
                        for c in doc["claims"] if c["family"] == family and _shown(c))
        if items:                 # a family none of whose claims has a section is left out
            contents.append(f"<h4>{e(family)}</h4><ul>{items}</ul>")
    filters = "".join(f"<fieldset><legend>{facet}</legend>" + "".join(
        f"<label><input type='checkbox' class='facet' data-facet='{facet}' value='{e(v)}' checked> {e(v)}</label>"
        for v in values) + "</fieldset>" for facet, values in _facets(doc).items())
    totals_ = ", ".join(f"{k}: {v}" for k, v in sorted(doc["totals"].items()))
    rule = "".join(f"<h2>{e(heading)}</h2><ul>" + "".join(
        f"<li><a href='#{_anchor(cid)}'><code>{e(cid)}</code></a>: {e(what)}</li>" for cid, what in items) + "</ul>"
        for heading, items in _rule_lines(doc))
    figure = "".join(
        f"<section id='{_figure_anchor(f)}'><h3>{e(f['caption'])}</h3><img src='{e(f['file'])}' "
        f"alt='{e(f['caption'])}' style='max-width:100%'><p>claims: "
        f"{', '.join(f'<a href=#{_anchor(i)}><code>{e(i)}</code></a>' for i in f['claims'])}</p></section>"
        for f in doc.get("figures", []) if not _inline_figure(f))
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
.claim-view {{ font-size: 92%; }} .claim-view h4 {{ margin: 1.2em 0 .4em; border-bottom: 1px solid #ddd; }}
.claim-view h5 {{ margin: .8em 0 .3em; }} .claim-view p.sentence {{ font-weight: 600; }}
.claim-view table {{ margin: .3em 0; max-width: 100%; }} .claim-view td, .claim-view th {{ overflow-wrap: anywhere; }}
table.fields > tbody > tr > th {{ text-align: left; font-weight: normal; color: #555; background: #f6f8fa;
  white-space: nowrap; width: 1%; }} table.fields {{ width: 100%; }}
table.fields > tbody > tr > th.over {{ font-weight: 600; }}
p.caption {{ color: #555; font-size: 90%; margin: .6em 0 0; }}
table.grid th {{ background: #f6f8fa; }} .formula i {{ font-family: serif; }} math {{ font-size: 110%; }}
.counterexample {{ border-left: 4px solid #cf222e; padding-left: .8em; }}
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
