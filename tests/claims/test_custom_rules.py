"""User rules (``ams_theory.claims.custom``, ``ams-theory verify --rule``): the papers' masks as rules give the
registered verdicts, a planted wrong mask is refuted exactly, new masks get verdicts, every other claim a row that
says why it does not apply, every bad rule is one line, a rule that raises inside a check a crashed row of one
line."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp
from conftest import shared_run

from ams_theory.claims import custom, judging
from ams_theory.claims import language as cl
from ams_theory.claims.catalogue import CATALOGUE, VERDICTS
from ams_theory.claims.registry import REGISTRY, STRENGTHS
from ams_theory.claims.report import document, html_page, markdown, table
from ams_theory.core.ops import SympyOps
from ams_theory.engines import proofs
from ams_theory.cli import main

# the registered quick runs are shared with the other claim modules on one worker (conftest.shared_run)
pytestmark = pytest.mark.xdist_group("claims")

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "examples" / "rules.py"

# each generic check, and the example rule that is the paper's mask its registered check judges (2.1, eq. (6) and
# 2.3 judge several masks or every mask; the strict indicator is one of them)
PAPER_MASK = {"cautious.2.1": "strict", "cautious.eq6": "strict", "cautious.2.3": "strict",
              "cautious.2.4": "aligned", "cautious.A6": "aligned", "cautious.A3": "eq1_default",
              "cautious.A5": "inner", "cautious.A7": "inner"}

_RUNS: dict = {}


def rule_runs(name, checks=None):
    """``verify_rule`` of an example rule at the quick budget, by claim id (computed once per test process)."""
    key = (name, tuple(checks or ()))
    if key not in _RUNS:
        results = custom.verify_rule(f"{RULES}:{name}", "quick", 0, checks=checks)
        _RUNS[key] = {r.claim.entry.base: r for r in results}
    return _RUNS[key]


def _words(result):
    v = result.verdict
    return v.word, v.correction.verdict if v.correction else None


def test_every_generic_check_is_a_registered_check_taking_a_mask():
    import inspect

    import proofs_checks
    from ams_theory.claims.registry import REGISTRY

    proofs_checks.load()
    assert set(PAPER_MASK) == {g.claim_id for g in custom.GENERIC_CHECKS}
    for g in custom.GENERIC_CHECKS:
        assert inspect.signature(REGISTRY[g.claim_id].check).parameters["mask"].default is None


@pytest.mark.parametrize("cid", list(PAPER_MASK))
def test_the_papers_mask_as_a_rule_gets_the_registered_verdict(cid):
    name = PAPER_MASK[cid]
    checks = [c for c, n in PAPER_MASK.items() if n == name] if name != "strict" else None
    mine = rule_runs(name, checks)[cid]
    registered = shared_run(cid)
    assert mine.status == "checked", mine.error
    assert mine.claim.id == f"rule:{name}/{cid}"
    assert _words(mine) == _words(registered)
    if mine.verdict.word == "refuted":
        assert mine.verdict.counterexample["rechecked_exactly"] is True


def test_the_threshold_form_of_the_papers_mask_is_the_registered_check():
    """Thm. 2.4 with 1(x >= 0) as a rule is the same statement as the registered check: the same exact
    counterexample (the proof engine's model) and the same proved correction."""
    mine = rule_runs("aligned", ["cautious.2.4", "cautious.A6"])["cautious.2.4"].verdict
    registered = shared_run("cautious.2.4").verdict
    assert mine.counterexample["source"] == registered.counterexample["source"] == "proof engine"
    assert mine.counterexample["values"] == registered.counterexample["values"]
    assert (mine.correction.verdict, mine.correction.strength.level) == ("holds", "proved")


def test_a_planted_wrong_mask_is_refuted_exactly():
    runs = rule_runs("flipped", ["cautious.2.1", "cautious.eq6", "cautious.2.3", "cautious.2.4", "cautious.A6"])
    for cid in ("cautious.2.1", "cautious.eq6", "cautious.2.4", "cautious.A6"):
        v = runs[cid].verdict
        assert runs[cid].status == "checked", runs[cid].error
        assert v.word == "refuted", cid
        assert v.counterexample["rechecked_exactly"] is True and v.recheck() is True, cid
        assert v.strength.level == "proved", cid
    assert runs["cautious.2.4"].verdict.correction.verdict == "refuted"      # alpha_k >= 0 does not save it
    assert runs["cautious.eq6"].verdict.correction.verdict == "refuted"      # nor do Thm. 2.1's conditions hold
    assert runs["cautious.2.3"].verdict.word == "vacuous"                       # Delta <= 0: no step meets the bound
    a6 = runs["cautious.A6"].verdict.counterexample       # on Cor. A.6's own loss 0.5 sum a_i w_i^2: its a_i, no b, c
    assert a6["source"] == "proof engine" and set(a6["values"]) == {"a0", "w0", "u0", "eta"}


def test_the_soft_mask_gets_verdicts():
    runs = rule_runs("soft", ["cautious.2.1", "cautious.eq6", "cautious.2.3"])
    assert all(r.status == "checked" and r.verdict.word in VERDICTS for r in runs.values())
    assert runs["cautious.2.1"].verdict.word == "refuted"        # phi < 1 where x > 0: x^T(1 - phi) > 0
    assert runs["cautious.eq6"].verdict.word == "refuted"
    assert runs["cautious.2.3"].verdict.word == "holds"


GENERIC = [g.claim_id for g in custom.GENERIC_CHECKS]
CONSIDERED = GENERIC + [c.id for c in CATALOGUE if c.id not in GENERIC]     # the rows of a rule's run, in order


def _reason(cid, kind):
    """The reason a claim does not apply to a rule of ``kind`` (None: it applies)."""
    g = next((g for g in custom.GENERIC_CHECKS if g.claim_id == cid), None)
    if g is None:
        return custom.not_generic_reason(cid)
    return None if kind in g.kinds else g.other_kind


def test_every_catalogued_claim_is_generic_or_has_a_reason_and_docs_rules_md_says_the_same():
    listed = [cid for ids, _ in custom.NOT_GENERIC for cid in ids]
    assert len(listed) == len(set(listed)) and not set(listed) & set(GENERIC)
    assert set(listed) | set(GENERIC) == set(REGISTRY)
    text = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    section = text[text.index("## Which checks are generic"):text.index("## Tests")]
    bullets = [" ".join(b.split()).partition(": ") for b in section.split("\n- ")[1:]]
    for g in custom.GENERIC_CHECKS:
        assert bool(g.other_kind) == (len(g.kinds) == 1), g.claim_id
        if g.other_kind:
            assert any(head.startswith(f"`{g.claim_id}`, for ") and body.startswith(g.other_kind)
                       for head, _, body in bullets), g.claim_id
    for ids, why in custom.NOT_GENERIC:
        assert any(re.findall(r"`([^`]+)`", head) == list(ids) and body.startswith(why)
                   for head, _, body in bullets), ids


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_clipped_mask_gets_a_verdict_on_every_applicable_check_and_a_reason_on_every_other(seed):
    """clip(1 + x, 0, 2): its counterexamples crashed the exact re-check before (every seed: Thm. 2.4's certificate
    margin came back irrational; seed 1: Thm. A.3's margin has more than 4300 digits)."""
    results = custom.verify_rule(f"{RULES}:clipped", "quick", seed)
    assert [r.claim.id for r in results] == [f"rule:clipped/{cid}" for cid in CONSIDERED]
    for r in results:
        why = _reason(r.claim.entry.base, "elementwise")
        if why is None:
            assert r.status == "checked", (r.claim.id, r.error)
            assert r.verdict.word in VERDICTS and r.verdict.strength.level in STRENGTHS
        else:
            assert r.status == "not applicable" and r.verdict is None and r.error is None, r.claim.id
            assert r.to_json()["summary"] == r.to_json()["not_applicable"] == why
    words = {r.claim.entry.base: r.verdict.word for r in results if r.verdict}
    assert words["cautious.2.4"] == words["cautious.A3"] == "refuted"


def test_not_applicable_rows_in_the_table_json_markdown_and_html():
    results = list(rule_runs("strict").values())
    d = {r.claim.entry.base: r.to_json() for r in results}
    assert d["cautious.A5"]["status"] == "not applicable" and d["cautious.2.4"]["status"] == "checked"
    assert d["cautious.A5"]["summary"] == _reason("cautious.A5", "elementwise") != ""
    assert d["grams.C1"]["not_applicable"] == custom.not_generic_reason("grams.C1")
    assert re.search(r"^rule:strict/grams\.C1 +not applicable +- +an identity", table(results, width=200), re.M)
    doc = document(results, "quick", 0, 1.0)
    assert doc["totals"]["not applicable"] == len(CONSIDERED) - 6           # 6 checks apply to an elementwise rule
    assert "| [`rule:strict/grams.C1`](#claim-rule-strict-grams-C1) | not applicable | - |  | an identity" in \
        markdown(doc)
    assert "## `rule:strict/grams.C1`" not in markdown(doc)                  # the row says all there is
    assert ("<tr class='not-applicable' data-verdict='not applicable' data-strength='-' data-family='facts'><td>"
            "<a href='#claim-rule-strict-grams-C1'>") in html_page(doc)
    # verify --rule's report: the claims that do not apply leave the verdict table for their own list, with reasons
    doc["rule"] = {"name": "strict", "kind": "elementwise", "spec": "rules.py:strict"}
    md, page = markdown(doc), html_page(doc)
    assert "| [`rule:strict/grams.C1`]" not in md and "- `rule:strict/grams.C1`: an identity" in md
    assert "| [`rule:strict/cautious.2.4`]" in md
    assert "<tr class='not-applicable'" not in page and "<code>rule:strict/grams.C1</code></a>: an identity" in page
    assert "<h4>reductions</h4>" not in page                      # no section of that family applies: no heading


def _fake_certificate(monkeypatch, margin):
    """The verdict pipeline (``ams_theory.claims.judging``) with ``certify`` returning an instance whose exact margin
    is ``margin``."""
    cert = {"margin": margin, "margin_approx": float(margin), "applicable": True, "family": "quadratic_convex",
            "w": ["1"], "extra": {"eta": "1", "m": ["1"]}, "A": "[[1]]", "b": "[0]", "c": "0", "L": "1"}
    monkeypatch.setattr(judging, "certify", lambda claim, draw, i: dict(cert))
    return judging


IRRATIONAL = "597871125*2**(2/5)*3**(18/35)*5**(1/5)*7**(17/35)/64793042714624"


def test_a_counterexample_with_an_irrational_margin_is_certified_and_summarised(monkeypatch):
    D = _fake_certificate(monkeypatch, sp.sympify(IRRATIONAL))
    cert, recheck = D.try_certify(None, None, 0, "random search")
    assert sp.sympify(cert["margin"]) == sp.sympify(IRRATIONAL) and recheck() is True
    # a claim of the language that its proof leaves open (one gate couples the coordinates: docs/claims.md's
    # searched claim) with its step bound doubled, so that its search finds violations: refuted with the
    # irrational certificate, summarised by its approximate margin
    def gated(q):
        return q.dot(q.sign(q.m), q.g)
    claim = cl.OneStep("signed momentum behind one gate, step bound doubled",
                       step=lambda q: q.w - q.eta * q.gate(gated(q)) * q.sign(q.m),
                       hypotheses=lambda q: [q.at_most(q.eta * q.L * q.norm2(q.sign(q.m)), 4 * q.abs(gated(q)))],
                       conclusion=lambda q: q.at_most(q.dL, 0), hyper={"eta": cl.Range(0)}, state=("m",))
    v = cl.decide(claim, "quick")
    assert v.word == "refuted" and v.strength.level == "proved" and v.recheck() is True, (v.word, v.summary)
    assert sp.sympify(v.counterexample["margin"]) == sp.sympify(IRRATIONAL)
    assert "margin 7.61e-05" in v.summary, v.summary
    D = _fake_certificate(monkeypatch, -sp.sympify(IRRATIONAL))
    assert D.try_certify(None, None, 0, "random search") is None              # < 0 exactly: no counterexample


def test_a_counterexample_whose_margin_has_more_than_4300_digits_is_certified(monkeypatch):
    huge = sp.Rational(3 ** 9100 + 1, 2 ** 60)          # 4,342 digits: more than Python writes out in decimal
    D = _fake_certificate(monkeypatch, huge)
    cert, recheck = D.try_certify(None, None, 0, "random search")
    assert cert["margin"].startswith(f"{sp.N(huge, 17)} (rounded to 17 digits") and recheck() is True
    json.dumps(cert)


def test_a_margin_whose_sign_sympy_cannot_decide_leaves_the_instance_uncertified_with_the_reason(monkeypatch):
    zero = sp.cos(sp.pi / 7) - sp.cos(2 * sp.pi / 7) + sp.cos(3 * sp.pi / 7) - sp.Rational(1, 2)   # exactly 0
    assert proofs.exact_sign(zero) is None                  # neither simplification nor evaluation decides it
    D = _fake_certificate(monkeypatch, zero)
    undecided = []
    assert D.try_certify(None, None, 0, "random search", undecided) is None
    assert len(undecided) == 1 and undecided[0].startswith("random search: sympy cannot decide the sign")


def _write(tmp_path, text, name="user_rules.py"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


BAD = {    # name -> (source, the phrase its error names)
    "one_argument": ("def one_argument(x):\n    return x\n", "signature"),
    "wrong_shape": ("def wrong_shape(ops, u, s):\n    return u[..., :2]\n", "shape"),
    "non_finite": ("def non_finite(ops, u, s):\n    return ops.div(ops.abs(u), ops.abs(s))\n", "non-finite"),
    "raises": ("def raises(ops, u, s):\n    raise RuntimeError('boom')\n", "RuntimeError: boom"),
    "torch_only": ("import torch\ndef torch_only(ops, u, s):\n    return torch.sigmoid(u * s)\n", "exact back end"),
    "writes": ("def writes(ops, u, s):\n    u.mul_(0)\n    return u + 1\n", "wrote into"),
    "not_callable": ("not_callable = 3\n", "not callable"),
    "wrong_type": ("def wrong_type(ops, u, s):\n    return 'phi'\n", "not a tensor"),
}


@pytest.fixture
def bad_rules(tmp_path):
    path = _write(tmp_path, "\n".join(src for src, _ in BAD.values()))
    _write(tmp_path, "raise ImportError('a missing dependency')\n", "broken.py")
    return path


def _cases(path):
    cases = [(f"{path}:{name}", needle) for name, (_, needle) in BAD.items()]
    return cases + [(f"{path}:absent", "no attribute"), (f"{path.parent / 'missing.py'}:mask", "no file"),
                    (f"{path.parent / 'broken.py'}:mask", "cannot import"),
                    ("no_such_package_xyz.rules:mask", "cannot import"), ("just_a_name", "expected")]


def test_every_bad_rule_is_one_line(bad_rules):
    for spec, needle in _cases(bad_rules):
        with pytest.raises(custom.RuleError) as err:
            custom.load_rule(spec)
        message = str(err.value)
        assert "\n" not in message and needle in message and spec in message, (spec, message)


def test_every_bad_rule_is_one_line_from_the_command(bad_rules, capsys):
    for spec, needle in _cases(bad_rules):
        assert main(["verify", "--rule", spec, "--budget", "quick"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("ams-theory: error: RULE ") and err.count("\n") == 1 and needle in err, (spec, err)


def test_rule_refuses_a_claim_selection_in_one_line(capsys):
    assert main(["verify", "--rule", f"{RULES}:strict", "--family", "discrete"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--rule" in err and "--family" in err


def test_the_installed_command_reports_a_bad_rule_in_one_line(bad_rules):
    run = subprocess.run([sys.executable, "-m", "ams_theory.cli", "verify", "--rule", f"{bad_rules}:wrong_shape"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "shape" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


def test_rule_json_and_reports_are_verifys(monkeypatch, capsys, tmp_path):
    """``verify --rule`` writes the table, Markdown and JSON of ``verify`` (runs shared with the tests above)."""
    cached = rule_runs("strict")
    by_id = {r.claim.id: r for r in cached.values()}
    monkeypatch.setattr("ams_theory.cli.run_claim", lambda claim, budget, seed: by_id[claim.id])
    js, md = tmp_path / "rule.json", tmp_path / "rule.md"
    assert main(["verify", "--rule", f"{RULES}:strict", "--budget", "quick", "--json", str(js), "--report", str(md),
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["id", "verdict", "strength"] and "rule:strict/cautious.2.1" in out
    doc = json.loads(js.read_text(encoding="utf-8"))
    registered = shared_run("cautious.eq6").to_json()
    assert {"tool", "version", "budget", "seed", "seconds", "totals", "strengths", "claims"} <= set(doc)
    assert doc["tool"] == "ams-theory" and doc["budget"] == "quick" and doc["seed"] == 0
    assert doc["rule"] == {"spec": f"{RULES}:strict", "name": "strict", "kind": "elementwise"}
    assert [c["id"] for c in doc["claims"]] == [f"rule:strict/{cid}" for cid in CONSIDERED]
    for c in doc["claims"]:
        assert set(c) == set(registered)
        why = _reason(c["id"].split("/", 1)[1], "elementwise")
        if why is None:
            assert c["status"] == "checked" and c["verdict"] in VERDICTS and c["strength"]["level"] in STRENGTHS
            assert c["paper"] == "cautious-optimizers.md"
        else:
            assert c["status"] == "not applicable" and c["verdict"] is None and c["summary"] == why
    assert sum(doc["totals"].values()) == len(doc["claims"])
    assert "| [`rule:strict/cautious.2.1`](#claim-rule-strict-cautious-2-1) | holds |" in md.read_text(encoding="utf-8")
    # which claims apply to the rule, and why the others do not, from the document alone
    text = md.read_text(encoding="utf-8")
    assert "## Your rule strict (elementwise mask" in text and f"the {6} claims judged with it" in text
    assert f"- `rule:strict/cautious.A5`: {_reason('cautious.A5', 'elementwise')}" in text
    page = tmp_path / "rule.html"
    assert main(["verify", "--rule", f"{RULES}:strict", "--budget", "quick", "--report", str(page), "--quiet"]) == 0
    assert "<h2>Your rule strict (elementwise mask" in page.read_text(encoding="utf-8")
    # a claim that does not apply is listed with its reason, not as a row of the verdict table
    assert "| [`rule:strict/cautious.A5`](#claim-rule-strict-cautious-A5) | not applicable |" not in md.read_text(
        encoding="utf-8")


RAISES_IN_A_CHECK = """import torch


def fragile(ops, u, s):
    if u.shape[0] > 6 if torch.is_tensor(u) else len(u) == 1:
        raise RuntimeError("no batch larger than the probe's\\nsecond line")
    return ops.indicator_(ops.mul(u, s), True)
"""


def test_a_rule_that_raises_inside_a_check_gives_crashed_rows_of_one_line(tmp_path, capsys):
    """The rule passes the probe (6 pairs in torch, d = 3 and d = 2 exactly) and raises in every search (a larger
    batch, or an exact vector of one coordinate): each applicable claim is a crashed row with
    the exception in one line, where it was raised, and the run goes on (exit 1, no traceback)."""
    path = _write(tmp_path, RAISES_IN_A_CHECK, "fragile.py")
    js = tmp_path / "fragile.json"
    assert main(["verify", "--rule", f"{path}:fragile", "--budget", "quick", "--json", str(js), "--quiet"]) == 1
    err = capsys.readouterr().err
    doc = json.loads(js.read_text(encoding="utf-8"))
    crashed = [c for c in doc["claims"] if c["status"] == "crashed"]
    assert [c["id"] for c in crashed] == [f"rule:fragile/{cid}" for cid in GENERIC
                                          if _reason(cid, "elementwise") is None]
    for c in crashed:
        assert c["error"] == "RuntimeError: no batch larger than the probe's (fragile.py:6)", c
    assert "Traceback" not in err and err.count("\n") == len(crashed)
    assert all(line.startswith("ams-theory: check of rule:fragile/") for line in err.splitlines())


def half_mask(ops, u, s):
    """A constant mask written with a float, phi = 1/2 (0.5)."""
    return ops.mul(u, 0) + 0.5


def test_a_rule_written_with_a_float_constant_stays_exact():
    """On the exact back end the rule's 0.5 is the rational 1/2 (as a Caution's floats are): Thm. 2.1's identities hold
    for it and its consequence dH <= -Delta_H is refuted exactly (phi = 1/2 < 1 where x > 0). With the float kept,
    the rounded exact rates made the search refute the identity the engine proves, and the check crashed."""
    rule = custom.load_rule(half_mask)
    phi = rule(SympyOps(), SympyOps.asarray([sp.Rational(1, 3), sp.Integer(-2)]), SympyOps.asarray([1, 1]))
    assert all(isinstance(x, sp.Rational) and x == sp.Rational(1, 2) for x in phi)
    result = {r.claim.entry.base: r for r in custom.verify_rule(rule, "quick", 0, checks=["cautious.2.1"])}[
        "cautious.2.1"]
    assert result.status == "checked", result.error
    assert result.verdict.word == "refuted" and result.verdict.recheck() is True
