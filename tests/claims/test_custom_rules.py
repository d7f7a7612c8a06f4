"""User rules (``ams_theory.claims.custom``, ``ams-theory verify --rule``): the papers' masks as rules give the
registered verdicts, a planted wrong mask is refuted exactly, a new mask gets verdicts, every bad rule is one line."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import shared_run

from ams_theory.claims import custom
from ams_theory.claims.catalogue import VERDICTS
from ams_theory.claims.registry import STRENGTHS
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
    return v.word, (v.correction or {}).get("verdict")


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
    """Thm. 2.4 with 1(x >= 0) as a rule runs the same instances as the registered check: the same exact
    counterexample."""
    mine = rule_runs("aligned", ["cautious.2.4", "cautious.A6"])["cautious.2.4"].verdict
    registered = shared_run("cautious.2.4").verdict
    for key in ("margin", "w", "u", "eta", "family"):
        assert mine.counterexample[key] == registered.counterexample[key], key


def test_a_planted_wrong_mask_is_refuted_exactly():
    runs = rule_runs("flipped", ["cautious.2.1", "cautious.eq6", "cautious.2.3", "cautious.2.4", "cautious.A6"])
    for cid in ("cautious.2.1", "cautious.eq6", "cautious.2.4", "cautious.A6"):
        v = runs[cid].verdict
        assert runs[cid].status == "checked", runs[cid].error
        assert v.word == "refuted", cid
        assert v.counterexample["rechecked_exactly"] is True and v.recheck() is True, cid
        assert v.strength.level == "proved", cid
    assert runs["cautious.2.4"].verdict.correction["verdict"] == "refuted"      # alpha_k >= 0 does not save it
    assert runs["cautious.eq6"].verdict.correction["verdict"] == "refuted"      # nor do Thm. 2.1's conditions hold
    assert runs["cautious.2.3"].verdict.word == "vacuous"                       # Delta <= 0: no step meets the bound


def test_the_soft_mask_gets_verdicts():
    runs = rule_runs("soft", ["cautious.2.1", "cautious.eq6", "cautious.2.3"])
    assert all(r.status == "checked" and r.verdict.word in VERDICTS for r in runs.values())
    assert runs["cautious.2.1"].verdict.word == "refuted"        # phi < 1 where x > 0: x^T(1 - phi) > 0
    assert runs["cautious.eq6"].verdict.word == "refuted"
    assert runs["cautious.2.3"].verdict.word == "holds"


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
    assert [c["id"] for c in doc["claims"]] == [f"rule:strict/{g.claim_id}" for g in custom.GENERIC_CHECKS
                                                if "elementwise" in g.kinds]
    for c in doc["claims"]:
        assert set(c) == set(registered)
        assert c["status"] == "checked" and c["verdict"] in VERDICTS and c["strength"]["level"] in STRENGTHS
        assert c["paper"] == "cautious-optimizers.md"
    assert sum(doc["totals"].values()) == len(doc["claims"])
    assert "| `rule:strict/cautious.2.1` | holds |" in md.read_text(encoding="utf-8")
