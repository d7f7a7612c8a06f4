"""``ams-theory verify`` / ``show``: selection, reports, exit codes, one-line errors."""
import json
import subprocess
import sys

import pytest
from conftest import shared_cli_run_claim

import proofs_checks
from ams_theory.claims import registry, report
from ams_theory.claims.report import render_claim
from ams_theory.claims.catalogue import CATALOGUE
from ams_theory.cli import main


@pytest.fixture
def shared_runs(monkeypatch):
    """The command runs its claims through conftest's per-worker cache of quick runs: these tests check the tables,
    reports and progress lines, and the claim modules (same xdist group, so same worker) check the same runs'
    verdicts. Tests about running the checks themselves (crashes, hypothesis folders, serial = parallel) do not
    use it."""
    monkeypatch.setattr("ams_theory.cli.run_claim", shared_cli_run_claim)


# grams.B3 (~17 s at quick) is run by tests/claims/test_registry.py too; the default --jobs (one per core) is kept
@pytest.mark.xdist_group("claims")
def test_verify_family_writes_table_markdown_html_and_json(shared_runs, capsys, tmp_path):
    md, page, js = tmp_path / "r.md", tmp_path / "r.html", tmp_path / "r.json"
    assert main(["verify", "--family", "facts", "--budget", "quick", "--report", str(md), "--json", str(js)]) == 0
    out = capsys.readouterr()
    assert "grams.C3" in out.out and "holds" in out.out
    assert "] grams.C1 ... holds" in out.err and "/6 done]" in out.err      # progress on stderr (2 cores)
    doc = json.loads(js.read_text())
    assert [c["id"] for c in doc["claims"]] == [f"grams.C{i}" for i in range(1, 7)]
    for c in doc["claims"]:
        assert set(c) >= {"id", "verdict", "statement", "evidence", "counterexample", "correction"}
        assert c["verdict"] == "holds" and c["evidence"]["patterns"] > 0
    text = md.read_text()
    assert "| [`grams.C1`](#claim-grams-C1) | holds | proved |" in text and doc["schema"] == report.SCHEMA
    # each claim as show renders it (one rendering for people), never a JSON dump
    assert render_claim(doc["claims"][0]) in text and '```json' not in text and '{\n  "' not in text
    assert all(c["strength"]["level"] == "proved" for c in doc["claims"])
    assert doc["strengths"]["verdicts"] == {"proved": 6}
    header = out.out.splitlines()[0].split()
    assert header[:3] == ["id", "verdict", "strength"]
    assert main(["verify", "--claim", "grams.B3", "--budget", "quick", "--report", str(page), "--quiet"]) == 0
    html = page.read_text()
    assert html.startswith("<!doctype html>") and "grams.B3" in html and "Counterexample" in html
    assert "<nav>" in html and "class='facet'" in html and "<svg" in html and "id='claim-grams-B3'" in html
    assert '{\n  "' not in html and "http" not in html.replace("http://www.w3.org/2000/svg", "")   # offline


def test_verify_lists_unchecked_claims_honestly(monkeypatch, capsys, tmp_path):
    proofs_checks.load()
    monkeypatch.setattr(registry.REGISTRY["cautious.table1"], "check", None)
    js = tmp_path / "r.json"
    assert main(["verify", "--claim", "cautious.table1", "--json", str(js)]) == 0
    doc = json.loads(js.read_text())
    assert all(c["status"] == "unchecked" and c["verdict"] is None for c in doc["claims"])


@pytest.mark.xdist_group("claims")      # the figure runs are cached beside test_figures' (same worker)
def test_reports_carry_the_figures_of_the_run(shared_runs, tmp_path):
    pytest.importorskip("matplotlib")
    md = tmp_path / "r.md"
    assert main(["verify", "--claim", "cautious.fig2.monotone", "--claim", "cautious.fig8", "--budget", "quick",
                 "--report", str(md), "--quiet", "--jobs", "1"]) == 0
    text = md.read_text()
    for name in ("fig2", "fig8"):
        png = tmp_path / f"r-{name}.png"
        assert png.read_bytes()[:4] == b"\x89PNG"
        assert f"(r-{name}.png)" in text
    section = text[text.index("## `cautious.fig2.monotone`"):]
    section = section[:section.index("\n## ", 5)]
    assert "(r-fig2.png)" in section                 # drawn inside its claim's section, not after every claim


@pytest.mark.xdist_group("claims")
def test_show_prints_the_full_evidence(shared_runs, capsys):
    assert main(["show", "cautious.alg1", "--budget", "quick"]) == 0
    out = capsys.readouterr().out
    assert "verdict: refuted" in out and "counterexample" in out and "rechecked_exactly" in out
    assert "correction" in out


@pytest.mark.xdist_group("claims")
def test_show_proof_prints_the_cases(shared_runs, capsys):
    assert main(["show", "cautious.A1", "--proof", "--budget", "quick"]) == 0
    out = capsys.readouterr().out
    assert "status: proved" in out and "negation unsat" in out and "hypotheses: a >= b/4" in out
    assert main(["show", "cautious.2.1", "--proof", "--budget", "quick"]) == 0
    out = capsys.readouterr().out
    assert "is searched, not proved by the engine" in out


def test_a_crashing_check_gives_exit_1_with_the_reason(monkeypatch, capsys):
    proofs_checks.load()
    claim = registry.REGISTRY["grams.C5"]

    def broken(budget, seed):
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(claim, "check", broken)
    assert main(["verify", "--claim", "grams.C5", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "grams.C5 crashed: ZeroDivisionError: planted" in err


@pytest.mark.parametrize("argv, needle", [
    (["verify", "--claim", "grams.nope"], "unknown claim id 'grams.nope'"),
    (["verify", "--family", "astrology"], "unknown family 'astrology'"),
    (["verify", "--json", "/proc/no-such-dir/x.json"], "cannot write JSON report"),
    (["verify", "--report", "/tmp/report.txt"], "must end in .md or .html"),
    (["show", "grams.nope"], "unknown claim id 'grams.nope'"),
])
def test_bad_input_is_one_line_and_exit_2(argv, needle):
    proc = subprocess.run([sys.executable, "-m", "ams_theory.cli", *argv], capture_output=True, text=True)
    assert proc.returncode == 2
    assert needle in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_report_directories_are_created(tmp_path, capsys):
    target = tmp_path / "new" / "dir" / "r.json"
    assert main(["verify", "--claim", "grams.C5", "--json", str(target), "--quiet"]) == 0
    assert target.exists()


def test_report_path_that_is_a_directory(tmp_path, capsys):
    target = tmp_path / "out.md"
    target.mkdir()
    assert main(["verify", "--report", str(target)]) == 2
    assert "it is a directory" in capsys.readouterr().err


def test_every_catalogued_claim_is_in_the_registry():
    assert [c.id for c in CATALOGUE] == list(registry.REGISTRY)


def test_an_unwritable_report_fails_before_any_check(monkeypatch, capsys):
    """The path is tried first (a folder of /proc takes no new file, even for root): nothing runs."""
    ran = []
    monkeypatch.setattr("ams_theory.cli.run_claim", lambda *a, **k: ran.append(a))
    assert main(["verify", "--claim", "grams.C1", "--report", "/proc/ams-theory-report.html"]) == 2
    assert ran == [] and "cannot write report" in capsys.readouterr().err


def test_verify_leaves_no_hypothesis_folder_in_the_working_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for jobs in ("1", "2"):          # in this process and in the workers
        assert main(["verify", "--budget", "quick", "--claim", "grams.D1.part1", "--claim", "grams.D2.part1",
                     "--jobs", jobs, "--quiet"]) == 0
        assert list(tmp_path.iterdir()) == [], jobs


def _strip_times(doc):
    """A verify document without its timings (they are the only thing a parallel run may change): the
    ``seconds`` fields, and durations written into texts ("(0.02 s)")."""
    import re

    if isinstance(doc, dict):
        return {k: _strip_times(v) for k, v in doc.items() if "seconds" not in k}
    if isinstance(doc, list):
        return [_strip_times(v) for v in doc]
    return re.sub(r"\d+\.\d+ s\b", "T s", doc) if isinstance(doc, str) else doc


def test_parallel_verify_gives_the_serial_verdicts_and_evidence(tmp_path, capsys):
    serial, parallel = tmp_path / "serial.json", tmp_path / "parallel.json"
    for jobs, out in (("1", serial), ("2", parallel)):
        assert main(["verify", "--budget", "quick", "--family", "facts", "--jobs", jobs, "--json", str(out)]) == 0
    assert _strip_times(json.loads(serial.read_text())) == _strip_times(json.loads(parallel.read_text()))
    out, err = capsys.readouterr()
    assert "[6/6] grams.C6 ..." in err and "[6/6 done]" in err and "1 job," in out and "2 jobs," in out


def test_a_crash_in_one_worker_is_that_claims_and_the_rest_finish(monkeypatch, capsys):
    """A check that raises, and one whose process dies: each is reported for its claim; every other claim runs."""
    import os

    proofs_checks.load()

    def raises(budget, seed):
        raise RuntimeError("planted failure")

    def dies(budget, seed):
        os._exit(3)

    monkeypatch.setattr(registry.REGISTRY["grams.C2"], "check", raises)
    monkeypatch.setattr(registry.REGISTRY["grams.C4"], "check", dies)
    assert main(["verify", "--budget", "quick", "--family", "facts", "--jobs", "2"]) == 1
    out, err = capsys.readouterr()
    assert "check of grams.C2 crashed: RuntimeError: planted failure" in err
    assert "check of grams.C4 crashed: the worker process died" in err
    assert out.count("holds") >= 4 and "6 claims" in out and "2 jobs" in out
