"""The documentation stays in step with the code.

- ``docs/verdicts.md``'s per-claim table is the rendering of ``docs/verdicts.json`` (both written by
  ``docs/make_verdicts.py`` from a standard-budget ``ams-theory verify --json`` run), covers the catalogue in
  order, and its verdict words agree with a quick run of a few cheap claims;
- the README is an entry point (under 150 lines) and every relative link in it and in ``docs/`` resolves;
- the README's two commands are there, and CI (``.ci/run``) runs its test command verbatim.
"""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = [README] + sorted(DOCS.glob("*.md"))

# claims that take well under a second each at --budget quick (the facts are proved, alg1 and eq6.default
# refuted with an exact counterexample and a proved or exhaustive correction)
QUICK_CLAIMS = ("grams.C1", "grams.C2", "grams.C3", "grams.C4", "grams.C5", "grams.C6", "cautious.alg1",
                "cautious.eq6.default")


@pytest.fixture(scope="module")
def make_verdicts():
    spec = importlib.util.spec_from_file_location("make_verdicts", DOCS / "make_verdicts.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def projection(make_verdicts):
    return make_verdicts.read_projection(DOCS / "verdicts.json")


def _words(claims):
    return {c["id"]: (c["verdict"], (c["correction"] or {}).get("verdict")) for c in claims}


# -- the generated verdict table --------------------------------------------------------------------

def test_verdict_table_is_the_rendering_of_verdicts_json(make_verdicts, projection):
    stale = make_verdicts.check(projection)
    assert stale is None, stale + "; regenerate with `python3 docs/make_verdicts.py verify.json` from a " \
        "standard-budget `ams-theory verify --json verify.json` run"


def test_verdicts_json_is_from_a_standard_run_of_the_whole_catalogue(projection):
    from ams_theory.claims.catalogue import CATALOGUE

    assert projection["run"]["budget"] == "standard" and projection["run"]["seed"] == 0
    assert [c["id"] for c in projection["claims"]] == [c.id for c in CATALOGUE], \
        "docs/verdicts.json does not list the catalogue's claims in order; regenerate it"


# the command in this process (its subprocess form is tested in tests/interfaces/test_cli.py), one job, on the
# claims worker: the quick runs of these claims are the ones tests/claims check (conftest.shared_run)
@pytest.mark.xdist_group("claims")
def test_quick_run_gives_the_tables_verdicts(make_verdicts, projection, tmp_path, monkeypatch, capsys):
    from conftest import shared_cli_run_claim

    from ams_theory.cli import main

    monkeypatch.setattr("ams_theory.cli.run_claim", shared_cli_run_claim)
    out = tmp_path / "quick.json"
    argv = ["verify", "--budget", "quick", "--quiet", "--jobs", "1", "--json", str(out)]
    for claim in QUICK_CLAIMS:
        argv += ["--claim", claim]
    assert main(argv) == 0, capsys.readouterr().err[-2000:]
    quick = make_verdicts.project(json.loads(out.read_text(encoding="utf-8")))
    stored = {k: v for k, v in _words(projection["claims"]).items() if k in QUICK_CLAIMS}
    assert _words(quick["claims"]) == stored


def test_make_verdicts_check_reports_a_stale_row_in_one_line(make_verdicts, projection, tmp_path):
    changed = json.loads(json.dumps(projection))
    changed["claims"][1]["verdict"] = "refuted"
    stale = make_verdicts.check(changed)
    assert stale is not None and "\n" not in stale and changed["claims"][1]["id"] in stale


@pytest.mark.parametrize("content", [None, "not json", "[1, 2]", '{"tool": "other", "claims": []}',
                                     '{"tool": "ams-theory", "claims": [{"id": "grams.C1"}]}'])
def test_make_verdicts_refuses_bad_input_in_one_line(content, tmp_path):
    path = tmp_path / "verify.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    run = subprocess.run([sys.executable, str(DOCS / "make_verdicts.py"), str(path), "--check"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.startswith("make_verdicts: error: ") and run.stderr.count("\n") == 1, run.stderr
    assert "Traceback" not in run.stderr


# -- README and links -------------------------------------------------------------------------------

def test_readme_is_an_entry_point():
    n = len(README.read_text(encoding="utf-8").splitlines())
    assert n < 150, f"README.md has {n} lines; move detail into docs/"


_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _links(text: str):
    text = _CODE.sub("", _FENCE.sub("", text))
    return _LINK.findall(text)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_relative_links_resolve(page):
    broken = []
    for target in _links(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue                                   # a URL or an anchor in the page itself
        path = target.split("#", 1)[0]
        if not (page.parent / path).exists():
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)} links to missing files: {broken}"


def test_readme_links_every_docs_page():
    targets = set(_links(README.read_text(encoding="utf-8")))
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if f"docs/{p.name}" not in targets]
    assert not missing, f"README.md does not link {missing}"


# -- the two commands -------------------------------------------------------------------------------

def _two_commands():
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Two commands\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```bash\n(.*?)\n```$", section, re.S | re.M)


def test_readme_has_the_two_commands():
    commands = _two_commands()
    assert len(commands) == 2 and all("\n" not in c for c in commands), commands
    main, tests = commands
    assert main.startswith("python3 -m pip install ") and " && ams-theory verify " in main
    assert tests.startswith("python3 -m pip install ") and tests.endswith(" && python3 -m pytest")


def test_ci_runs_the_readmes_test_command_verbatim():
    tests = _two_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert tests in ci, ".ci/run must run the README's test command verbatim, on a line of its own"


def _documented_keys(section: str) -> list:
    text = (ROOT / "docs" / "report-schema.md").read_text(encoding="utf-8")
    part = text.split(f"## {section}")[1].split("\n## ")[0]
    return re.findall(r"^\| `([a-z_]+)` \|", part, flags=re.M)


def test_the_report_schema_documents_exactly_the_keys_written():
    """docs/report-schema.md lists every key of the report's JSON, top level and per claim, and no other; its
    schema number is the one written."""
    from ams_theory.claims import report
    from ams_theory.claims.registry import REGISTRY, Result
    doc = report.document([Result(REGISTRY["grams.C1"], "unchecked")], "quick", 0, 0.0)
    doc["figures"] = []
    doc["rule"] = {}                  # verify --rule adds the user's mask
    assert _documented_keys("Top level") == list(doc)
    assert _documented_keys("Each claim") == list(doc["claims"][0])
    assert f"(schema {report.SCHEMA})" in (ROOT / "docs" / "report-schema.md").read_text(encoding="utf-8")
