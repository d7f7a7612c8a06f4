"""Reports of a verification run: a terminal table, Markdown, HTML and JSON."""
from __future__ import annotations

import html
import json
from typing import Iterable

from ams_theory import __version__
from ams_theory.claims.registry import Result

__all__ = ["table", "document", "markdown", "html_page", "detail", "proof_text", "strength_of", "strength_totals"]


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
    return d["id"], verdict, strength_of(d), d["summary"]


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


def document(results: list[Result], budget: str, seed: int, seconds: float) -> dict:
    return {"tool": "ams-theory", "version": __version__, "budget": budget, "seed": seed,
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
             f"summary: {d['summary']}"]
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
                     ("correction", (v.correction or {}).get("strength") if v else None)):
        proof = getattr(st, "proof", None)
        if proof is not None:
            out.append(f"== proof of the {what}: {st.basis}\n{proof.text()}")
        elif st is not None:
            out.append(f"== the {what} is {st.level}, not proved by the engine: {st.basis}")
    return "\n\n".join(out) or "no verdict: nothing to show"


def markdown(doc: dict) -> str:
    lines = ["# ams-theory verification report", "",
             f"version {doc['version']}, budget `{doc['budget']}`, seed {doc['seed']}, {doc['seconds']} s; "
             + ", ".join(f"{k}: {v}" for k, v in sorted(doc["totals"].items())), "",
             "Strength of evidence: **proved** (for all states and hyperparameters in the stated range, by the proof "
             "engine or an exactly re-checked counterexample), **exhaustive** (every case of a finite case space), "
             "**searched** (no violation in what was searched; the coverage is listed), **none**.", "",
             "| id | verdict | strength | corrected | evidence |", "|---|---|---|---|---|"]
    esc = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    for c in doc["claims"]:
        corr = c["correction"]["verdict"] if c["correction"] else ""
        lines.append(f"| `{c['id']}` | {c['verdict'] or c['status']} | {strength_of(c)} | {corr} | "
                     f"{esc(c['summary'])} |")
    lines.append("")
    for c in doc["claims"]:
        if c["status"] == "unchecked":
            continue
        lines += [f"## `{c['id']}` — {c['verdict'] or c['status']} ({strength_of(c)})", "",
                  f"*{c['paper']}, {c['where']}* — {esc(c['statement'])}", "", esc(c["summary"]), ""]
        for key in ("strength", "evidence", "counterexample", "correction", "error"):
            if c[key]:
                lines += [f"**{key}**", "", "```json", _json_block(c[key]), "```", ""]
    if doc.get("figures"):
        lines += ["## Figures", ""]
        for f in doc["figures"]:
            lines += [f"### {esc(f['caption'])}", "", f"![{esc(f['caption'])}]({f['file']})", "",
                      "claims: " + ", ".join(f"`{i}`" for i in f["claims"]), ""]
    unchecked = [c["id"] for c in doc["claims"] if c["status"] == "unchecked"]
    if unchecked:
        lines += ["## Not yet checked", "", ", ".join(f"`{i}`" for i in unchecked), ""]
    return "\n".join(lines)


def html_page(doc: dict) -> str:
    e = html.escape
    rows = []
    for c in doc["claims"]:
        word = c["verdict"] or c["status"]
        corr = c["correction"]["verdict"] if c["correction"] else ""
        rows.append(f"<tr class='{e(word)}'><td><a href='#{e(c['id'])}'><code>{e(c['id'])}</code></a></td>"
                    f"<td>{e(word)}</td><td>{e(strength_of(c))}</td><td>{e(corr)}</td><td>{e(c['summary'])}</td></tr>")
    sections = []
    for c in doc["claims"]:
        if c["status"] == "unchecked":
            continue
        blocks = "".join(f"<h4>{key}</h4><pre>{e(_json_block(c[key]))}</pre>"
                         for key in ("strength", "evidence", "counterexample", "correction", "error") if c[key])
        sections.append(f"<section id='{e(c['id'])}'><h3><code>{e(c['id'])}</code> — {e(c['verdict'] or c['status'])}"
                        f" ({e(strength_of(c))})"
                        f"</h3><p><em>{e(c['paper'])}, {e(c['where'])}</em> — {e(c['statement'])}</p>"
                        f"<p>{e(c['summary'])}</p>{blocks}</section>")
    totals_ = ", ".join(f"{k}: {v}" for k, v in sorted(doc["totals"].items()))
    figure = "".join(
        f"<section><h3>{e(f['caption'])}</h3><img src='{e(f['file'])}' alt='{e(f['caption'])}' "
        f"style='max-width:100%'><p>claims: {', '.join(f'<a href=#{e(i)}><code>{e(i)}</code></a>' for i in f['claims'])}"
        f"</p></section>" for f in doc.get("figures", []))
    if figure:
        figure = "<h2>Figures</h2>" + figure
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ams-theory verification report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; max-width: 70em; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: .3em .6em; vertical-align: top; }}
tr.holds td:nth-child(2) {{ color: #1a7f37; }} tr.refuted td:nth-child(2) {{ color: #cf222e; }}
tr.conditional td:nth-child(2), tr.vacuous td:nth-child(2) {{ color: #9a6700; }}
tr.unchecked td, tr.crashed td {{ color: #777; }}
pre {{ background: #f6f8fa; padding: .6em; overflow-x: auto; }}
</style></head><body>
<h1>ams-theory verification report</h1>
<p>version {e(doc['version'])}, budget <code>{e(doc['budget'])}</code>, seed {doc['seed']}, {doc['seconds']} s; {e(totals_)}</p>
<p>Strength of evidence: <b>proved</b> (for all states and hyperparameters in the stated range), <b>exhaustive</b>
(every case of a finite case space), <b>searched</b> (coverage listed per claim), <b>none</b>.</p>
<table><tr><th>id</th><th>verdict</th><th>strength</th><th>corrected</th><th>evidence</th></tr>
{''.join(rows)}
</table>
{''.join(sections)}
{figure}
</body></html>
"""
