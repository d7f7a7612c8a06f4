"""The registry and the symbolic family: every id present, verdicts computed, checks able to fail."""
import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import proofs_checks
from conftest import shared_run
from ams_theory.claims import language as cl
from ams_theory.claims import registry
from ams_theory.claims.registry import REGISTRY, Verdict, run_claim
from ams_theory.core import rules
from ams_theory.engines import proofs
from ams_theory.core.ops import SympyOps

CLAIMS_MD = Path(__file__).resolve().parents[2].parent / "shared" / "claims.md"
SYMBOLIC = ["grams.B1.beta3", "grams.B1.lambda", "grams.B2", "grams.B3", "grams.C1", "grams.C2", "grams.C3",
            "grams.C4", "grams.C5", "grams.C6", "cautious.alg1"]

proofs_checks.load()
# the quick runs are shared with the other claim modules on one worker (conftest.shared_run)
pytestmark = pytest.mark.xdist_group("claims")


def test_every_catalogued_claim_has_a_check():
    assert [cid for cid, c in REGISTRY.items() if c.check is None] == []


@pytest.mark.skipif(not CLAIMS_MD.exists(), reason="the shared claim list is not beside this checkout")
def test_registry_holds_exactly_the_ids_of_the_claim_list():
    listed = re.findall(r"^\| ((?:grams|cautious)\.[^ |]+) \|", CLAIMS_MD.read_text(), flags=re.M)
    assert len(listed) == 64 and sorted(listed) == sorted(REGISTRY)


def test_symbolic_family_has_checks_and_kinds():
    for cid in SYMBOLIC:
        assert REGISTRY[cid].check is not None and REGISTRY[cid].kind == "symbolic", cid
        assert REGISTRY[cid].statement


@pytest.fixture(scope="module")
def quick_results():
    return {cid: shared_run(cid) for cid in SYMBOLIC}


@pytest.mark.parametrize("cid, word, corrected", [
    ("grams.B1.beta3", "holds", None), ("grams.B1.lambda", "holds", None),
    ("grams.B2", "refuted", "holds"), ("grams.B3", "refuted", "holds"),
    ("grams.C1", "holds", None), ("grams.C2", "holds", None), ("grams.C3", "holds", None),
    ("grams.C4", "holds", None), ("grams.C5", "holds", None), ("grams.C6", "holds", None),
    ("cautious.alg1", "refuted", "holds"),
])
def test_symbolic_verdicts(quick_results, cid, word, corrected):
    r = quick_results[cid]
    assert r.status == "checked", r.error
    assert r.verdict.word == word
    assert (r.verdict.correction.verdict if r.verdict.correction else None) == corrected
    if word == "refuted":
        assert r.verdict.counterexample["rechecked_exactly"] is True
        assert r.verdict.recheck() is True


def test_b3_counterexample_is_a_zero_gradient_coordinate(quick_results):
    cex = quick_results["grams.B3"].verdict.counterexample
    assert cex["pattern"] == ["m+g0"] and cex["inputs"]["g"] == ["0"]
    assert cex["right"] == [cex["inputs"]["w"][0]]            # sign(0)|u| = 0: Cor. 5.2 does not move
    assert cex["left"] != cex["right"]


# ----------------------------------------------------------------------------- the checks can fail

def test_a_planted_wrong_tie_rule_refutes_b1(monkeypatch):
    """Mutation: ties of u*s = 0 dropped from phi makes eta_hat = eta d/(d - ties): B.1 must be refuted."""
    monkeypatch.setattr(rules, "_tie_weight", lambda caution: 0)
    original = rules.alignment

    def tie_dropping(ops, u, s, caution):
        return original(ops, u, s, rules.Caution(**{**caution.__dict__, "tie": "zero"}))

    monkeypatch.setattr(rules, "alignment", tie_dropping)
    r = run_claim(REGISTRY["grams.B1.beta3"], "quick", 0)
    assert r.status == "checked" and r.verdict.word == "refuted"
    assert r.verdict.counterexample["rechecked_exactly"] is True


def test_a_planted_wrong_coefficient_refutes_b1_lambda(monkeypatch):
    """Mutation: the opposed class gets -lambda instead of lambda."""
    original = rules._coefficient
    monkeypatch.setattr(rules, "_coefficient",
                        lambda ops, p, c: original(ops, p, rules.Caution(**{**c.__dict__, "lam": -c.lam})))
    r = run_claim(REGISTRY["grams.B1.lambda"], "quick", 0)
    assert r.verdict.word == "refuted"


def test_a_planted_wrong_sign_refutes_fact_c2():
    """Mutation: a sign that loses the sign (sign(a)^2) breaks <a, -sign(a)|b|> = -<|a|,|b|>: refuted by the engine
    with a model that survives exact arithmetic."""
    planted = cl.Fact("C.2 with sign(a)^2", lambda q: q.equal(q.dot(q.a, -q.sign(q.a) ** 2 * q.abs(q.b)),
                                                              -q.dot(q.abs(q.a), q.abs(q.b))), ("a", "b"))
    v = cl.decide(planted, "quick")
    assert v.word == "refuted" and v.recheck() is True


def test_a_back_end_that_disagrees_with_the_proof_is_a_crash_not_a_verdict(monkeypatch):
    """A sign function broken in the exact back end only: the proof (dimension-generic trace) and the sign patterns
    (exact back end) disagree, and the run is reported as a defect of the tool, never as a verdict."""
    bad = np.vectorize(lambda e: sp.sign(e) ** 2, otypes=[object])
    monkeypatch.setattr(SympyOps, "sign", lambda self, x: bad(x))
    r = run_claim(REGISTRY["grams.C2"], "quick", 0)
    assert r.status == "crashed" and "proves what the search refutes" in r.error


def test_a_true_weakened_fact_still_holds():
    """C.3 weakened (<a,b> - <|a|,|b|> - 1 <= 0) is still true: proved, and exact on all 54 sign patterns."""
    weakened = cl.Fact("C.3 - 1", lambda q: q.at_most(q.dot(q.a, q.b) - q.dot(q.abs(q.a), q.abs(q.b)) - 1, 0),
                       ("a", "b"))
    v = cl.decide(weakened, "quick", search_beside=True)
    assert v.word == "holds" and v.strength.level == "proved"
    assert v.strength.coverage["search"]["coverage"]["patterns"] == 54


# ----------------------------------------------------------------------------- registry rules of evidence

def _claim_with(check):
    return registry.Claim(REGISTRY["grams.C5"].entry, "symbolic", "test", check)


def test_a_refutation_without_exact_recheck_is_rejected():
    r = run_claim(_claim_with(lambda b, s: Verdict("refuted", "x", {}, {"a": 1}, recheck=lambda: False,
                                                   strength=registry.proved("certificate"))))
    assert r.status == "crashed" and "exact re-check" in r.error
    r = run_claim(_claim_with(lambda b, s: Verdict("refuted", "x", {}, None)))
    assert r.status == "crashed" and "counterexample" in r.error


def test_unknown_verdict_word_and_bad_correction_are_rejected():
    assert run_claim(_claim_with(lambda b, s: Verdict("probably", "x"))).status == "crashed"
    r = run_claim(_claim_with(lambda b, s: Verdict("holds", "x", correction=registry.Correction("", "holds"),
                                                   strength=registry.searched("s", states=1))))
    assert r.status == "crashed" and "correction" in r.error
    r = run_claim(_claim_with(lambda b, s: Verdict("holds", "x", correction={"statement": "s", "verdict": "holds"},
                                                   strength=registry.searched("s", states=1))))
    assert r.status == "crashed" and "a correction is a Correction" in r.error


def test_register_refuses_unknown_ids_and_kinds():
    with pytest.raises(KeyError):
        registry.register("grams.Z9", source="Fact Z.9", kind="symbolic", statement="x")
    with pytest.raises(ValueError):
        registry.register("grams.C1", source="Fact C.1", kind="astrology", statement="x")


def test_unknown_budget_is_rejected():
    with pytest.raises(ValueError, match="budget"):
        run_claim(REGISTRY["grams.C5"], "lavish", 0)


# ----------------------------------------------------------------------------- strength of evidence

class _Proof:
    def __init__(self, ok):
        self.ok = ok

    def recheck(self):
        return self.ok

    def to_json(self):
        return {"ok": self.ok}


def test_a_verdict_without_a_strength_is_rejected():
    r = run_claim(_claim_with(lambda b, s: Verdict("holds", "x", {})))
    assert r.status == "crashed" and "strength" in r.error


def test_proved_needs_a_proof_that_rechecks():
    """``proved`` needs an engine proof decided inside the claim's own check (so bound to it) that re-checks."""
    a = sp.Symbol("a", real=True)
    decided = lambda expr: lambda b, s: Verdict("holds", "x", strength=registry.proved("p", proofs.decide(expr,
                                                                                                          "<= 0")))
    r = run_claim(_claim_with(lambda b, s: Verdict("holds", "x", strength=registry.proved("trust me"))))
    assert r.status == "crashed" and "without a proof" in r.error
    r = run_claim(_claim_with(decided(a)))                          # refuted: no proof
    assert r.status == "crashed" and "holds but its proof is refuted" in r.error
    r = run_claim(_claim_with(lambda b, s: Verdict("holds", "x", strength=registry.proved("p", _Proof(True)))))
    assert r.status == "crashed" and "not a proof of the engine" in r.error
    r = run_claim(_claim_with(decided(-a ** 2)))
    assert r.status == "checked" and r.to_json()["strength"]["proof"]["status"] == "proved"
    assert r.to_json()["strength"]["proof"]["bound_claim"] == "grams.C5"


def test_no_evidence_only_goes_with_not_checkable():
    r = run_claim(_claim_with(lambda b, s: Verdict("holds", "x", strength=registry.no_evidence("nothing"))))
    assert r.status == "crashed"
    r = run_claim(_claim_with(lambda b, s: Verdict("not-checkable", "x", strength=registry.no_evidence("n"))))
    assert r.status == "checked"


def test_a_correction_needs_its_own_strength():
    correction = registry.Correction("s", "holds")
    r = run_claim(_claim_with(lambda b, s: Verdict("holds", "x", correction=correction,
                                                   strength=registry.searched("s", states=3))))
    assert r.status == "crashed" and "correction carries no strength" in r.error


def test_weakest_strength_of_parts():
    st = registry.weakest(registry.proved("a", _Proof(True)), registry.searched("b", states=1),
                          registry.exhaustive("c"))
    assert st.level == "searched" and len(st.coverage["parts"]) == 3


def test_a_weakened_fact_is_proved_by_the_engine_and_a_strengthened_one_refuted():
    def c3_with(sign):
        return cl.Fact(f"C.3 {sign} |a|_1", lambda q: q.at_most(
            q.dot(q.a, q.b) - q.dot(q.abs(q.a), q.abs(q.b)) + sign * q.total(q.abs(q.a)), 0), ("a", "b"))
    weakened = cl.decide(c3_with(-1), "quick")
    assert weakened.word == "holds" and weakened.strength.level == "proved"
    strengthened = cl.decide(c3_with(+1), "quick")
    assert strengthened.word == "refuted" and strengthened.recheck() is True


def test_a_verdict_names_its_reading_in_the_json_the_table_and_show():
    """eq6.default reads two ways: its verdict names the one it judges (a property of eq. (1)'s alpha), in the JSON
    (``reading``), in the table's evidence cell and in ``show``; a claim with one reading says so."""
    from ams_theory.claims import report
    from ams_theory.claims.registry import AS_PRINTED
    two = shared_run("cautious.eq6.default")
    assert "property of eq. (1)'s alpha" in two.to_json()["reading"]
    assert "[a property of eq. (1)'s alpha" in report.table([two])
    assert "reading: a property of eq. (1)'s alpha" in report.render_claim(two)
    assert shared_run("grams.C1").to_json()["reading"] == AS_PRINTED


def test_an_empty_reading_is_refused():
    from ams_theory.claims.registry import Verdict, _validate, proved
    with pytest.raises(ValueError, match="reading"):
        _validate(REGISTRY["grams.C1"], Verdict("holds", "x", strength=proved("x"), reading=" "))


DOCUMENTED = {c["id"]: c for c in __import__("json").loads(
    (Path(__file__).resolve().parents[2] / "docs" / "verdicts.json").read_text(encoding="utf-8"))["claims"]}


@pytest.mark.parametrize("cid", sorted(cid for cid, c in DOCUMENTED.items()
                                       if c["strength"] == "proved" and c["verdict"] in ("holds", "refuted", "vacuous",
                                                                              "conditional")))
def test_a_proved_verdict_is_the_same_at_every_budget(cid):
    """A verdict proved at the standard budget (docs/verdicts.json) is the quick budget's too: a proof or an exact
    counterexample does not depend on how hard the searches look (only its searched coverage does)."""
    result = shared_run(cid)
    assert result.status == "checked", result.error
    assert (result.verdict.word, result.verdict.strength.level) == (DOCUMENTED[cid]["verdict"], "proved"), cid
