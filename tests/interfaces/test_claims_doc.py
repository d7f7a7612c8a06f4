"""``docs/claims.md`` runs as written, and its verdicts are the ones the code returns.

Every ```python block of the page is executed in order, in one namespace, at the budget the page writes
(``"quick"``). Each ``cl.decide`` call carries a comment ``# expect: WORD STRENGTH``; the verdicts the calls
return must match those comments in order, and the verdict lines of the ```text block printed under each
example (``WORD STRENGTH``) must be what the block prints. A changed verdict fails the test.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from ams_theory.claims import language

PAGE = Path(__file__).resolve().parents[2] / "docs" / "claims.md"
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
_EXPECT = re.compile(r"cl\.decide\(.*#\s*expect:\s*(\S+)\s+(\S+)\s*$", re.M)
_VERDICT_LINE = re.compile(r"^(holds|refuted|open|vacuous|not-checkable) (proved|searched|none)$", re.M)


def _examples():
    """``[(code, printed)]``: each python block that calls ``decide``, with the text block right after it."""
    blocks = _BLOCK.findall(PAGE.read_text(encoding="utf-8"))
    out = []
    for i, (lang, body) in enumerate(blocks):
        if lang == "python":
            printed = blocks[i + 1][1] if i + 1 < len(blocks) and blocks[i + 1][0] == "text" else None
            out.append((body, printed))
    return out


def test_the_page_has_the_worked_claims():
    examples = [(code, printed) for code, printed in _examples() if "cl.decide(" in code]
    expected = [m for code, _ in examples for m in _EXPECT.findall(code)]
    assert len(examples) >= 4 and all(printed is not None for _, printed in examples)
    assert all(code.count("cl.decide(") == len(_EXPECT.findall(code)) for code, _ in examples), \
        "every cl.decide call of the page carries a comment '# expect: WORD STRENGTH'"
    assert {("holds", "proved"), ("refuted", "proved"), ("holds", "searched")} <= set(expected)
    assert any("cl.Flow(" in code for code, _ in examples)


def test_the_examples_run_and_give_the_verdicts_the_page_shows(monkeypatch, capsys):
    returned = []
    decide = language.decide

    def recording(claim, *args, **kwargs):
        verdict = decide(claim, *args, **kwargs)
        returned.append((claim.name, verdict))
        return verdict

    monkeypatch.setattr(language, "decide", recording)
    namespace: dict = {"__name__": "claims_doc"}
    for n, (code, printed) in enumerate(_examples()):
        start = len(returned)
        capsys.readouterr()
        exec(compile(code, f"docs/claims.md python block {n + 1}", "exec"), namespace)
        out = capsys.readouterr().out
        expected = _EXPECT.findall(code)
        got = [(v.word, v.strength.level) for _, v in returned[start:]]
        names = [name for name, _ in returned[start:]]
        assert got == expected, f"block {n + 1} ({names}): decide returned {got}, the page expects {expected}"
        assert all('"quick"' in line for line in code.splitlines() if "cl.decide(" in line), \
            f"block {n + 1}: the page's examples run at the quick budget"
        if printed is None:
            continue
        shown = _VERDICT_LINE.findall(printed)
        assert shown == expected, f"block {n + 1}: the output shown has verdicts {shown}, the comments {expected}"
        assert _VERDICT_LINE.findall(out) == shown, f"block {n + 1} now prints:\n{out}\nthe page shows:\n{printed}"
        # every exact re-check the page shows as passing still passes
        for label in ("re-checked exactly:", "cvc5 agrees:"):
            if label in printed:
                assert f"{label} True" in out, f"block {n + 1}: {label!r} is no longer True:\n{out}"


@pytest.mark.parametrize("word", ["holds", "refuted"])
def test_a_changed_verdict_would_be_caught(word):
    """The parser sees the verdict lines and the expect comments the checks above compare."""
    text = f"v = cl.decide(claim, \"quick\")   # expect: {word} proved\n"
    assert _EXPECT.findall(text) == [(word, "proved")]
    assert _VERDICT_LINE.findall(f"{word} proved\nsomething else\n") == [(word, "proved")]
