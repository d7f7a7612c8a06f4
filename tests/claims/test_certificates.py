"""Every registered proof as a certificate: replayed by a second solver, bound to its claim, written for any solver.

cvc5 (a solver independent of z3, which found the proofs) replays every stored query of every proof behind the
registered verdicts; none may be a bare ``(assert false)``. The CLI writes the same queries as SMT-LIB files.
"""
import json
import subprocess
import sys

import pytest

import proofs_checks
from conftest import shared_run
from ams_theory.claims import certificates
from ams_theory.claims.registry import REGISTRY

proofs_checks.load()
pytestmark = pytest.mark.xdist_group("claims")
cvc5 = pytest.importorskip("cvc5", reason="cvc5 (the second solver) is not installed: pip install cvc5")


@pytest.fixture(scope="module")
def replays():
    out = {}
    for cid, claim in REGISTRY.items():
        if claim.check is None:
            continue
        result = shared_run(cid)
        if certificates.proofs_of(result):
            out[cid] = certificates.replay_result(result, "cvc5")
    return out


def test_cvc5_replays_every_stored_query_of_the_registered_proofs(replays):
    failed = {cid: r["failed"][:2] for cid, r in replays.items() if r["failed"]}
    assert not failed, failed
    assert len(replays) >= 29                                   # the claims with proofs (30 at the quick budget)
    assert sum(r["queries"] for r in replays.values()) >= 400


def test_every_proved_verdict_rechecks_in_cvc5_and_is_bound_to_its_claim():
    for cid, claim in REGISTRY.items():
        if claim.check is None:
            continue
        v = shared_run(cid).verdict
        for st in (v.strength, v.correction.strength if v.correction else None):
            if st is not None and st.level == "proved" and st.proof is not None:
                assert st.proof.recheck(solver="cvc5", claim=cid) is True, cid
                assert all(p.bound_claim == cid for p in st.proof.proofs()), cid


def test_a_bare_false_query_fails_the_replay(monkeypatch):
    result = shared_run("grams.C2")
    proof = certificates.proofs_of(result)[0][1]
    case = next(c for c in proof.cases if c.query)
    monkeypatch.setattr(case, "query", "(set-logic QF_NRA)\n(assert false)\n(check-sat)\n")
    replay = certificates.replay_result(result, "cvc5")
    assert replay["failed"] and replay["failed"][0]["answer"] == "asserts false"


def test_verify_writes_certificates_and_replays_them(tmp_path):
    out = tmp_path / "certs"
    run = subprocess.run([sys.executable, "-m", "ams_theory.cli", "verify", "--claim", "grams.C2", "--claim",
                          "grams.E4", "--budget", "quick", "--jobs", "1", "--quiet", "--recheck", "cvc5",
                          "--certificates", str(out), "--json", str(tmp_path / "v.json")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "cvc5 replayed" in run.stdout and ", 0 not" in run.stdout
    manifest = json.loads((out / "grams.C2" / "manifest.json").read_text())
    assert manifest["claim"] == "grams.C2" and manifest["files"]
    for entry in manifest["files"]:
        text = (out / "grams.C2" / entry["file"]).read_text()
        assert "(check-sat)" in text and "; expected: unsat" in text
    doc = json.loads((tmp_path / "v.json").read_text())
    assert all(c["replay"]["failed"] == [] for c in doc["claims"])


def test_verify_refuses_an_unwritable_certificate_folder_before_running(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    run = subprocess.run([sys.executable, "-m", "ams_theory.cli", "verify", "--claim", "grams.C2", "--quiet",
                          "--certificates", str(blocker / "sub")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "--certificates" in run.stderr
