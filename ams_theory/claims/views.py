"""One claim for people, built once as a tree of blocks (:func:`claim_view`) and written out as text
(:func:`render_claim`: ``ams-theory show`` and the Markdown report) or as HTML (:func:`claim_html`: tables,
formulas as Presentation MathML, for the HTML report). Both read the claim's JSON alone."""
from __future__ import annotations

import html
import math
import re
import textwrap
from dataclasses import dataclass, field
from fractions import Fraction

from ams_theory.claims.registry import Result

__all__ = ["claim_view", "render_claim", "claim_html", "math_html", "prose_html", "readable", "labelled_leaves"]


# ----------------------------------------------------------------------------- blocks

@dataclass
class Para:
    """A sentence or a line; ``lead="=> "`` marks the one-sentence reading of a block; ``formula``: a sympy
    expression the sentence quotes (as written in ``text``), set as a formula in HTML."""
    text: str
    lead: str = ""
    formula: str = ""


@dataclass
class Formula:
    """A value that is a sympy expression (``text``: as sympy writes it); MathML in HTML, readable text otherwise."""
    text: str


@dataclass
class Prose:
    """Text with formulas in it, as the papers' statements are paraphrased (typeset in HTML)."""
    text: str


@dataclass
class Fields:
    """Labelled values, one per row: a value is a string, a :class:`Formula`/:class:`Prose`, or a list of blocks.
    ``hanging``: ``label: value`` with the value's later lines under its first (the claim's head)."""
    rows: list
    hanging: bool = False


@dataclass
class Grid:
    """A table: ``heads`` and rows of cells (strings or :class:`Formula`)."""
    heads: list
    rows: list
    caption: str = ""


@dataclass
class Items:
    """A list: each item a string or a list of blocks; ``bullet``: ``"1."`` numbers them, ``"-"`` bullets them,
    ``""`` writes each on its own line."""
    items: list
    bullet: str = "1."


@dataclass
class Part:
    """A titled part of a section (one evidence block)."""
    title: str
    body: list = field(default_factory=list)


@dataclass
class Section:
    """A section of the claim (Counterexample, Strength, Evidence, Correction, ...)."""
    title: str
    body: list = field(default_factory=list)
    name: str = ""


# ----------------------------------------------------------------------------- numbers and values in words

_WIDTH = 100
_RATIONAL = re.compile(r"^-?\d+(/\d+)?$")
_NUMBER_TOKEN = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?:/\d+)?")
_COUNT_KEYS = ("instances", "states", "patterns", "cases", "examples", "steps")
_VIOLATION_KEYS = ("violations", "float_violations", "failing_patterns", "mismatching_patterns")
_WORST_KEYS = ("worst_margin", "worst")


def _num(x, digits: int = 3) -> str:
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
    return f"{x:.{digits}g}"


def _approx(text: str, digits: int = 3) -> str | None:
    """The float value of an exact number written as text (``p/q``, an integer, or brackets of them), or None when
    ``text`` is not one; only given when it says more than the text itself."""
    s = text.strip()
    if _RATIONAL.match(s):
        if "/" not in s and len(s) <= 6:
            return None
        return _num(float(Fraction(s)), digits)
    if s.startswith("[") and s.endswith("]") and re.fullmatch(r"[\[\]\s,\-0-9/.eE+]+", s) and "/" in s:
        return _NUMBER_TOKEN.sub(lambda m: _num(float(Fraction(m.group()))), s)
    if "sqrt(" in s and re.fullmatch(r"(?:sqrt|[\d\s+\-*/()])+", s):    # an exact closed form with roots
        import sympy

        try:
            return _num(float(sympy.sympify(s)), digits)
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


def labelled_leaves(p: dict, path: str = "") -> list:
    """``[(label path, proof)]`` for every proof a proof's JSON holds, however deeply its bundles nest."""
    here = " / ".join(x for x in (path, p.get("label", "")) if x)
    if "parts" in p and "status" not in p:
        return [leaf for q in p["parts"] for leaf in labelled_leaves(q, here)]
    return [(here, p)]


def _proof_words(p: dict) -> str:
    cases = p.get("cases") or []
    if "parts" in p and not cases:
        leaves = [leaf for _, leaf in labelled_leaves(p)]
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
        return ", ".join(_scalar(x, exact) for x in v) if v else "none"
    if isinstance(v, dict) and all(_is_scalar(x) for x in v.values()):
        return "; ".join(f"{k} = {_scalar(x, exact)}" for k, x in v.items()) if v else "none"
    return None


def _cell(x, exact: bool) -> str:
    text = _inline(x, exact)
    return text if text is not None else str(x)


# ----------------------------------------------------------------------------- the claim as blocks

def _fields(d: dict, exact: bool = False) -> list:
    """A dict as labelled values (nested blocks under their label; nothing dropped), after the sentence of a block
    that counts what was searched."""
    out = []
    sentence = _search_sentence(d)
    if sentence:
        out.append(Para(sentence, lead="=> "))
    rows = []
    for k, v in d.items():
        label = str(k)
        if k in _WORST_KEYS and (v is None or (isinstance(v, float) and math.isinf(v) and v < 0)):
            rows.append((label, "none recorded" if v is None else "none (no applicable instance)"))
            continue
        if isinstance(v, dict) and k == "proof" and ("cases" in v or "parts" in v):
            rows.append((label, _proof_words(v)))
            continue
        if isinstance(v, dict) and set(v) >= {"level", "basis"} and set(v) <= {"level", "basis", "coverage", "proof"}:
            rows.append((label, _strength_blocks(v)))
            continue
        text = _inline(v, exact)
        if isinstance(v, dict) and text is not None and (_search_sentence(v) or len(v) > 4 or len(text) > 60):
            text = None                     # a block of its own: its sentence, one row per entry
        rows.append((label, text if text is not None else _nested(k, v, exact)))
    if rows:
        out.append(Fields(rows))
    return out


def _grid(rows: list, heads: list, exact: bool) -> Grid:
    return Grid([str(h) for h in heads], [[_cell(x, exact) for x in r] for r in rows])


def _nested(key, v, exact: bool) -> list:
    """A value too large for one line: a dict, a list of rows, or a list of blocks."""
    heads = re.search(r"\[([^\]]+)\]", str(key))
    if isinstance(v, dict):
        vals = list(v.values())
        if heads and all(isinstance(x, list) and len(x) == len(heads.group(1).split(",")) and
                         all(_is_scalar(y) for y in x) for x in vals):
            return [_grid([[k, *x] for k, x in v.items()], ["", *[h.strip() for h in heads.group(1).split(",")]],
                          exact)]
        if vals and all(isinstance(x, dict) and all(_inline(y) is not None for y in x.values()) for x in vals) and \
                len({tuple(x) for x in vals}) == 1:
            if len(vals) >= 3:                    # many blocks of one shape: what they share once, then a table
                common = {k: x for k, x in vals[0].items() if all(y.get(k) == x for y in vals[1:])}
                differ = [k for k in vals[0] if k not in common]
                if common and differ:
                    return [Fields([(f"common to all {len(vals)}", _fields(common, exact))]),
                            _grid([[k, *(x[c] for c in differ)] for k, x in v.items()], ["", *differ], exact)]
            return [_grid([[k, *x.values()] for k, x in v.items()], ["", *vals[0]], exact)]
        return _fields(v, exact)
    if isinstance(v, list):
        if v and all(isinstance(x, dict) for x in v) and all(all(_is_scalar(y) for y in x.values()) for x in v):
            names = list(dict.fromkeys(k for x in v for k in x))
            return [_grid([[x.get(n) for n in names] for x in v], names, exact)]
        if v and all(isinstance(x, list) and all(_is_scalar(y) for y in x) for x in v):
            return [Items([", ".join(_scalar(y, exact) for y in x) for x in v], bullet="")]
        items = []
        for i, x in enumerate(v, 1):
            text = _inline(x, exact)
            items.append(text if text is not None else _fields(x, exact) if isinstance(x, dict)
                         else _nested(i, x, exact))
        return [Items(items)]
    return [Para(_scalar(v, exact))]


def _strength_blocks(st: dict | None) -> list:
    if not st:
        return [Para("strength: none given")]
    out = [Para(f"{st.get('level', '?')}: {st.get('basis', '')}")]
    if st.get("proof") is not None:
        out.append(Fields([("proof", _proof_words(st["proof"]))], hanging=True))
    cov = st.get("coverage") or {}
    parts = cov.get("parts") if isinstance(cov.get("parts"), list) else None
    rest = {k: v for k, v in cov.items() if k != "parts" or parts is None}
    if parts is not None:
        items = [_strength_blocks(p) if isinstance(p, dict) and "level" in p else _nested("part", p, False)
                 for p in parts]
        out.append(Fields([(f"parts ({len(parts)})", [Items(items, bullet="-")])]))
    if rest:
        out.append(Fields([("coverage", _fields(rest))]))
    return out


def _brief(x) -> str:
    """An exact number for a sentence: itself when short, else its float value (the tables keep it whole)."""
    text = _scalar(x)
    approx = _approx(text, 7) if isinstance(x, str) else None
    return f"≈ {approx}" if approx is not None and len(text) > 24 else _scalar(x, True)


def _first_difference(cx: dict) -> str | None:
    """Where two updates that should be equal differ (a reduction's counterexample): the first coordinate whose
    difference is not ``0``, both sides there (their float value beside an exact one) and the reason given."""
    left, right, diff = cx.get("left"), cx.get("right"), cx.get("difference")
    if not (isinstance(left, list) and isinstance(right, list) and isinstance(diff, list)):
        return None
    i = next((k for k, x in enumerate(diff) if str(x) != "0"), None)
    if i is None or i >= min(len(left), len(right)):
        return None
    pattern = cx.get("pattern")
    where = f" (sign pattern {pattern[i]})" if isinstance(pattern, list) and i < len(pattern) else ""
    text = (f"coordinate {i}{where}: the left side is {_brief(left[i])} and the right side {_brief(right[i])}, so "
            f"they differ by {_brief(diff[i])}")
    return text + (f"; {cx['meaning']}" if cx.get("meaning") else "")


def _why(cx: dict) -> Para | None:
    """One sentence saying why the claim fails at its counterexample, from the counterexample's own values: the
    proof engine's failing term, the first coordinate where two updates differ, the comparisons of a table that
    fail, a quantity that rises, or the margin on the loss a search found."""
    if cx.get("failing_term"):
        sentence = str(cx["failing_term"])
        quoted = [str(t.get("term")) for t in cx.get("terms") or [] if isinstance(t, dict) and str(t.get("term"))
                  and str(t.get("term")) in sentence]
        return Para(sentence, lead="=> ", formula=max(quoted, key=len) if quoted else "")
    text = _first_difference(cx)
    failing = cx.get("failing")
    if text is None and isinstance(failing, list) and failing and all(isinstance(f, dict) for f in failing):
        text = "; ".join(f"{f.get('comparison')} fails (gap {f.get('gap')})" for f in failing)
    if text is None and {"quantity", "before", "after", "step"} <= set(cx):
        text = f"{cx['quantity']} goes from {_brief(cx['before'])} to {_brief(cx['after'])} at step {cx['step']}"
    if text is None and "margin" in cx and cx.get("family"):
        text = (f"on this {cx['family']} loss the claim's margin (left side minus right side) is "
                f"{_brief(cx['margin'])} > 0")
    return Para(text, lead="=> ") if text else None


def _counterexample_blocks(cx) -> list:
    """A refutation's point: the sentence naming the failing term first, the claim's quantities there (each term of
    the margin, the masks' values) as tables of formulas, then every other value exactly with its float beside."""
    if not isinstance(cx, dict):
        return _nested("counterexample", cx, True)
    why = _why(cx)
    out = [why] if why else []
    rest = {k: v for k, v in cx.items() if k not in ("failing_term", "terms", "mask_values")}
    out += _fields(rest, exact=True)
    for key, head, caption in (("terms", "term", "the margin's terms at this point (they add up to the margin)"),
                               ("mask_values", "mask", "the masks and gates at this point")):
        rows = cx.get(key)
        if isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows):
            out.append(Grid([head, "value"], [[Formula(str(r.get(head, ""))), _scalar(r.get("value"), True)]
                                              for r in rows], caption=caption))
        elif rows:
            out += _fields({key: rows}, exact=True)
    return out


def _correction_blocks(corr: dict) -> list:
    cst = corr.get("strength") or {}
    rows = [("statement", Prose(str(corr.get("statement", "-"))))]
    out = [Fields(rows, hanging=True), Para(f"verdict: {corr.get('verdict', '-')}   strength: {cst.get('level', '-')}")]
    if cst:
        out.append(Fields([("strength of the correction", _strength_blocks(cst))]))
    for k, v in corr.items():
        if k in ("statement", "verdict", "strength"):
            continue
        if k == "repairs" and isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            names = list(dict.fromkeys(n for x in v for n in x))
            grid = _grid([[i, *(x.get(n) for n in names)] for i, x in enumerate(v, 1)], ["rank", *names], True)
            grid.caption = "single edits of the statement, judged; ranked: those that hold first, then the smallest"
            out.append(Fields([(k, [grid])]))
            continue
        if k == "counterexample" and isinstance(v, dict):
            out.append(Fields([(k, _counterexample_blocks(v))]))
            continue
        text = _inline(v, exact=True)
        out.append(Fields([(k, text)], hanging=True) if text is not None else Fields([(k, _nested(k, v, True))]))
    return out


_KNOWN = {"id", "paper", "where", "family", "kind", "statement", "status", "verdict", "reading", "summary",
          "evidence", "counterexample", "strength", "correction", "error", "seconds", "not_applicable"}


def claim_view(r) -> list:
    """One claim as blocks: the statement (a formula in prose), the reading judged, the verdict and its strength, a
    refutation's counterexample first (the failing term in one sentence, the margin's terms and the masks' values
    at that point, every exact number beside its float value), the strength with what it covers (cases, coverage),
    one table per evidence block (what was searched or proved, how much, the worst margin in words), and the
    correction with its ranked repairs.

    ``r``: a :class:`Result` or its JSON (``Result.to_json()``); every key of the JSON is shown, known or not."""
    d = r.to_json() if isinstance(r, Result) else dict(r)
    verdict = d.get("verdict") or d.get("status") or "-"
    st = d.get("strength") or {}
    out = [Para(f"{d.get('id')}  ({d.get('paper')}, {d.get('where') or 'no source label'}; family {d.get('family')}, "
                f"{d.get('kind') or 'no check yet'} check)"), Para(""),
           Fields([("statement", Prose(str(d.get("statement") or "-")))], hanging=True),
           Para(f"verdict: {verdict}   strength: {st.get('level', '-')}   status: {d.get('status')}")]
    head = [("reading", str(d["reading"]))] if d.get("reading") else []
    out.append(Fields(head + [("in short", str(d.get("summary")))], hanging=True))
    if d.get("error"):
        out.append(Section("Error", [Para(str(d["error"]))], "error"))
    if d.get("counterexample"):          # a refutation first: the exact counterexample
        out.append(Section("Counterexample (exact numbers, float value beside them)",
                           _counterexample_blocks(d["counterexample"]), "counterexample"))
    if st:
        out.append(Section(f"Strength of the verdict: {st.get('level', '-')}", _strength_blocks(st), "strength"))
    ev = d.get("evidence")
    if ev:
        body = []
        if isinstance(ev, dict):
            inline = {k: v for k, v in ev.items() if not isinstance(v, dict) and _inline(v) is not None}
            blocks = {k: v for k, v in ev.items() if k not in inline}
            if inline:
                body += _fields(inline)
            same_shape = len(blocks) >= 3 and all(isinstance(v, dict) for v in blocks.values()) and \
                len({tuple(v) for v in blocks.values()}) == 1
            if same_shape:                  # one table for many blocks of one shape (their shared values once)
                body.append(Part(f"{len(blocks)} blocks", _nested("evidence", blocks, False)))
            else:
                body += [Part(str(k), _nested(k, v, False)) for k, v in blocks.items()]
        else:
            body += _nested("evidence", ev, False)
        out.append(Section("Evidence", body, "evidence"))
    corr = d.get("correction")
    if corr:
        cst = corr.get("strength") or {}
        out.append(Section(f"Correction: {corr.get('verdict', '-')} ({cst.get('level', '-')})",
                           _correction_blocks(corr), "correction"))
    extra = {k: v for k, v in d.items() if k not in _KNOWN and v not in (None, {}, [])}
    if extra:
        out.append(Section("Other", _fields(extra), "other"))
    seconds = d.get("seconds") or 0
    seconds = _num(float(seconds)) if isinstance(seconds, (int, float)) else _scalar(seconds)
    out += [Para(""), Para(f"check time: {seconds} s   (the JSON: show ID --json)")]
    return out


# ----------------------------------------------------------------------------- as text

def readable(expr_text: str) -> str:
    """A sympy expression's text with its indicators written as ``1(condition)`` in place of
    ``Piecewise((1, condition), (0, True))``."""
    return re.sub(r"Piecewise\(\(1, ((?:[^()]|\((?:[^()]|\([^()]*\))*\))*)\), \(0, True\)\)", r"1(\1)", expr_text)


def _wrap(text: str, indent: int) -> list[str]:
    """``text`` wrapped to the width left after ``indent``."""
    room = max(30, _WIDTH - indent)
    lines = []
    for para in text.split("\n"):
        lines += textwrap.wrap(para, room, break_long_words=True, break_on_hyphens=False) or [""]
    return lines


def _plain(value) -> str:
    if isinstance(value, Formula):
        return readable(value.text)
    if isinstance(value, Prose):
        return value.text
    return str(value)


def _text(blocks: list, indent: int) -> list[str]:
    pad = " " * indent
    lines = []
    for b in blocks:
        if isinstance(b, Para):
            lines += [pad + (b.lead if i == 0 else " " * len(b.lead)) + x
                      for i, x in enumerate(_wrap(readable(b.text), indent + len(b.lead)))]
        elif isinstance(b, Fields):
            width = min(34, max([len(str(k)) for k, _ in b.rows] + [4]))
            for label, value in b.rows:
                if isinstance(value, list):
                    lines.append(f"{pad}{label}:")
                    lines += _text(value, indent + 2)
                elif b.hanging:
                    lead = f"{label}: "
                    lines += [pad + (lead if i == 0 else " " * len(lead)) + x
                              for i, x in enumerate(_wrap(_plain(value), indent + len(lead)))]
                else:
                    body = _wrap(_plain(value), indent + width + 2)
                    lines.append(f"{pad}{str(label).ljust(width)}  {body[0]}")
                    lines += [" " * (indent + width + 2) + x for x in body[1:]]
        elif isinstance(b, Grid):
            if b.caption:
                lines.append(f"{pad}{b.caption}:")
            cells = [[_plain(c) for c in row] for row in b.rows]
            widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(b.heads)]
            line = lambda vals: pad + "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()  # noqa: E731
            lines += [line(b.heads), line(["-" * w for w in widths])] + [line(c) for c in cells]
        elif isinstance(b, Items):
            for i, item in enumerate(b.items, 1):
                mark = f"{i}." if b.bullet == "1." else b.bullet
                lead = f"{mark} " if mark else ""
                if isinstance(item, str):
                    lines.append(pad + lead + item)
                    continue
                inner = _text(item, indent + len(lead))
                if b.bullet == "1.":
                    lines += [pad + mark] + inner
                else:
                    lines += [pad + lead + inner[0].strip()] + inner[1:] if inner else []
        elif isinstance(b, Part):
            lines += ["", f"{pad}[{b.title}]"] + _text(b.body, indent + 2)
        elif isinstance(b, Section):
            lines += ["", b.title, "-" * len(b.title)] + _text(b.body, 2)
    return lines


def render_claim(r) -> str:
    """One claim for people as text (``ams-theory show ID``, and each claim's section of the Markdown report):
    :func:`claim_view` written out line by line."""
    return "\n".join(line.rstrip() for line in _text(claim_view(r), 0))


# ----------------------------------------------------------------------------- as HTML

_GREEK = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "eps": "ε", "epsilon": "ε", "eta": "η",
          "theta": "θ", "kappa": "κ", "lambda": "λ", "mu": "μ", "rho": "ρ", "sigma": "σ", "tau": "τ",
          "phi": "φ", "psi": "ψ", "omega": "ω", "Delta": "Δ", "Phi": "Φ", "Psi": "Ψ", "nabla": "∇", "xi": "ξ",
          "nu": "ν"}
_RELATIONS = {"<=": "≤", ">=": "≥", "!=": "≠", "->": "→", "+-": "±"}
_ACCENTS = {"bar": "\u0304", "hat": "\u0302", "tilde": "\u0303", "dot": "\u0307"}
_TOKEN = re.compile(r"(?P<word>[A-Za-z][A-Za-z]*)(?:_(?P<sub>\{[^}]*\}|[A-Za-z0-9]+))?(?:\^(?P<sup>\([^)]*\)|-?"
                    r"[A-Za-z0-9]+(?:\.[0-9]+)?))?|(?P<rel><=|>=|!=|->|\+-)|(?P<sup2>\^(?:\([^)]*\)|-?[A-Za-z0-9]+))"
                    r"|(?<=[|)])_(?P<sub2>\{[^}]*\}|[A-Za-z0-9]+)")


def prose_html(text: str) -> str:
    """Text with formulas in it, typeset: Greek names as letters, ``x_k`` and ``x^2`` as sub- and superscripts,
    ``<=``/``>=``/``!=`` as relations, a lone ``o`` between operands as the elementwise product."""
    def token(m):
        if m.group("rel"):
            return _RELATIONS[m.group("rel")]
        if m.group("sub2"):
            return f"<sub>{html.escape(m.group('sub2').strip('{}'))}</sub>"
        if m.group("sup2"):
            return f"<sup>{html.escape(m.group('sup2')[1:].strip('()'))}</sup>"
        word, sub, sup = m.group("word"), m.group("sub"), m.group("sup")
        out = html.escape(_GREEK.get(word, word))
        if word == "o" and not sub and not sup:
            return "∘"
        if sub in _ACCENTS:                   # w_bar, u_hat: the accent over the letter
            out, sub = out + _ACCENTS[sub], None
        if word in _GREEK or sub or sup or m.group("sub"):
            out = f"<i>{out}</i>" if len(_GREEK.get(word, word)) <= 2 else out
        if sub:
            out += f"<sub>{html.escape(_GREEK.get(sub.strip('{}'), sub.strip('{}')))}</sub>"
        if sup:
            out += f"<sup>{html.escape(sup.strip('()'))}</sup>"
        return out
    pieces, last = [], 0
    for m in _TOKEN.finditer(text):
        pieces.append(html.escape(text[last:m.start()]))
        pieces.append(token(m))
        last = m.end()
    pieces.append(html.escape(text[last:]))
    return f"<span class='formula'>{''.join(pieces)}</span>"


def math_html(expr_text: str) -> str:
    """A sympy expression (as sympy writes it) as Presentation MathML, its indicators as 1(condition); the text
    itself, escaped, where it does not parse."""
    import sympy as sp
    from sympy.printing.mathml import MathMLPresentationPrinter

    class Printer(MathMLPresentationPrinter):
        def _print_Piecewise(self, e):
            if len(e.args) == 2 and e.args[0].expr == 1 and e.args[1].expr == 0 and e.args[1].cond == sp.true:
                row = self.dom.createElement("mrow")
                one = self.dom.createElement("mi")
                one.setAttribute("mathvariant", "double-struck")
                one.appendChild(self.dom.createTextNode("1"))
                row.appendChild(one)
                row.appendChild(self._print(sp.Tuple(e.args[0].cond)))
                return row
            return super()._print_Piecewise(e)

    try:
        rel = re.fullmatch(r"(.+?)\s*(<=|>=|!=|==|<|>|=)\s*(.+)", expr_text)
        if rel and not re.search(r"[(,]", rel.group(1)[-1:]) and "Piecewise" not in expr_text:
            op = {"=": "==", "<=": "<=", ">=": ">=", "!=": "!=", "==": "==", "<": "<", ">": ">"}[rel.group(2)]
            expr = sp.Rel(sp.sympify(rel.group(1)), sp.sympify(rel.group(3)), op)
        else:
            expr = sp.sympify(expr_text)
        expr = expr.xreplace({s: sp.Symbol("epsilon", **s.assumptions0) for s in expr.free_symbols
                              if s.name == "eps"})
        body = Printer().doprint(expr)
    except Exception:            # any text that is not sympy's: shown as it is
        return f"<code>{html.escape(expr_text)}</code>"
    body = body.replace("<mo><</mo>", "<mo>&lt;</mo>").replace("<mo>></mo>", "<mo>&gt;</mo>")
    return f"<math display='inline'>{body}</math>"


def _html_value(value) -> str:
    if isinstance(value, list):
        return _html(value)
    if isinstance(value, Formula):
        return math_html(value.text)
    if isinstance(value, Prose):
        return prose_html(value.text)
    return html.escape(str(value))


def _html(blocks: list) -> str:
    e = html.escape
    out = []
    for b in blocks:
        if isinstance(b, Para):
            text = e(readable(b.text))
            if b.formula:
                before, _, after = b.text.partition(b.formula)
                text = e(readable(before)) + math_html(b.formula) + e(readable(after))
            out.append(f"<p class='sentence'>{text}</p>" if b.lead else f"<p>{text}</p>")
        elif isinstance(b, Fields):           # a nested value spans the table's width below its label
            out.append("<table class='fields'>" + "".join(
                f"<tr><th colspan='2' class='over'>{e(str(label))}</th></tr><tr><td colspan='2'>{_html(value)}"
                "</td></tr>" if isinstance(value, list) else
                f"<tr><th>{e(str(label))}</th><td>{_html_value(value)}</td></tr>" for label, value in b.rows)
                + "</table>")
        elif isinstance(b, Grid):
            caption = f"<p class='caption'>{e(b.caption)}</p>" if b.caption else ""
            out.append(f"{caption}<table class='grid'><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in b.heads)
                       + "</tr></thead><tbody>" + "".join(
                           "<tr>" + "".join(f"<td>{_html_value(c)}</td>" for c in row) + "</tr>" for row in b.rows)
                       + "</tbody></table>")
        elif isinstance(b, Items):
            tag = "ol" if b.bullet == "1." else "ul"
            out.append(f"<{tag}>" + "".join(f"<li>{_html_value(x)}</li>" for x in b.items) + f"</{tag}>")
        elif isinstance(b, Part):
            out.append(f"<div class='part'><h5>{e(b.title)}</h5>{_html(b.body)}</div>")
        elif isinstance(b, Section):
            out.append(f"<div class='{e(b.name or 'section')}'><h4>{e(b.title)}</h4>{_html(b.body)}</div>")
    return "".join(out)


def claim_html(r) -> str:
    """One claim for people as HTML (each claim's section of the HTML report): :func:`claim_view` with its tables
    as tables, its formulas as MathML and its statements typeset."""
    return f"<div class='claim-view'>{_html(claim_view(r))}</div>"
