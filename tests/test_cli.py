"""The catalogue matches the claim list, and ``ams-theory verify`` behaves at its edges."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ams_theory.catalogue import CATALOGUE, FAMILIES
from ams_theory.cli import main

CLAIMS_MD = Path(__file__).resolve().parents[1].parent / "shared" / "claims.md"


def test_catalogue_ids_unique_and_families_known():
    ids = [c.id for c in CATALOGUE]
    assert len(ids) == len(set(ids)) == 47
    assert {c.family for c in CATALOGUE} <= set(FAMILIES)


@pytest.mark.skipif(not CLAIMS_MD.exists(), reason="the shared claim list is not beside this checkout")
def test_catalogue_matches_shared_claim_list():
    listed = re.findall(r"^\| ((?:grams|cautious)\.[^ |]+) \|", CLAIMS_MD.read_text(), flags=re.M)
    assert listed and sorted(listed) == sorted(c.id for c in CATALOGUE)


def test_verify_lists_every_claim_unchecked(capsys, tmp_path):
    out = tmp_path / "r.json"
    assert main(["verify", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert all(c.id in text for c in CATALOGUE)
    doc = json.loads(out.read_text())
    assert [c["id"] for c in doc["claims"]] == [c.id for c in CATALOGUE]
    assert all(c["verdict"] is None and c["status"] == "unchecked" for c in doc["claims"])


def test_verify_selection(capsys):
    assert main(["verify", "--claim", "grams.B3", "--family", "reductions"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith(("grams.", "cautious."))]
    assert [r.split()[0] for r in rows] == ["grams.B3"]


@pytest.mark.parametrize("argv, needle", [
    (["verify", "--claim", "grams.nope"], "unknown claim id 'grams.nope'"),
    (["verify", "--family", "astrology"], "unknown family 'astrology'"),
    (["verify", "--json", "/nonexistent-dir/x.json"], "cannot write JSON report"),
])
def test_bad_input_is_one_line_and_exit_2(argv, needle):
    proc = subprocess.run([sys.executable, "-m", "ams_theory.cli", *argv], capture_output=True, text=True)
    assert proc.returncode == 2
    assert needle in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
