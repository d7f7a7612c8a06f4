"""Section 2.1 of the Cautious paper, Def. E.1 and the text around Thms. E.2, 5.7, 5.8 of the AMS/Grams paper:
verdicts, readings, corrections, and checks shown able to fail."""
import dataclasses

import pytest

import proofs_checks
from conftest import shared_run
from ams_theory.claims import language as cl
from ams_theory.engines import dynamics as dyn
from proofs_checks import continuous as C

proofs_checks.load()
# the quick runs are shared with the other claim modules on one worker (conftest.shared_run)
pytestmark = pytest.mark.xdist_group("claims")

# id: (verdict, strength, the correction's verdict or None)
EXPECTED = {"cautious.eq3": ("holds", "proved", None), "cautious.eq4": ("holds", "proved", None),
            "cautious.2.1.text": ("refuted", "proved", "holds"),
            "cautious.intro.condition": ("vacuous", "proved", "holds"),
            "grams.E1": ("refuted", "proved", "holds"), "grams.E1.L": ("holds", "proved", None),
            "grams.E2.hence1": ("holds", "proved", None), "grams.E2.hence2": ("holds", "proved", None),
            "grams.5.3.intro": ("holds", "proved", None), "grams.R5.9": ("refuted", "proved", "holds")}


@pytest.mark.parametrize("cid", list(EXPECTED))
def test_verdict_and_strength(cid):
    r = shared_run(cid)
    word, level, corrected = EXPECTED[cid]
    assert r.status == "checked", r.error
    assert (r.verdict.word, r.verdict.strength.level) == (word, level)
    if word == "refuted":
        assert r.verdict.recheck() is True
    if corrected:
        c = r.verdict.correction.to_json()
        assert (c["verdict"], c["strength"]["level"]) == (corrected, "proved")


@pytest.mark.parametrize("cid", ["cautious.2.1.text", "cautious.intro.condition", "grams.E1", "grams.E1.L",
                                 "grams.E2.hence1", "grams.E2.hence2", "grams.5.3.intro", "grams.R5.9"])
def test_the_reading_judged_is_named(cid):
    assert shared_run(cid).verdict.reading


def test_what_the_readings_beside_say():
    """'Faster' read strictly fails where x >= 0; the hence-conditions on a free mask do not give the bounds;
    the loss of (15) is not monotone."""
    hence1, hence2 = shared_run("grams.E2.hence1").verdict.evidence, shared_run("grams.E2.hence2").verdict.evidence
    assert all(hence1[f"strictly faster: dH < -Delta_H, K = {K.name}"]["verdict"] == "refuted" for K in C.KINETIC)
    assert hence1["the condition on a free mask"]["verdict"] == "refuted"
    assert hence2["the condition on a free mask"]["verdict"] == "refuted"
    r59 = shared_run("grams.R5.9").verdict.evidence["'faster' as 'at least as fast' (Thm. 5.8)"]
    assert (r59["verdict"], r59["strength"]) == ("holds", "proved")
    e1l = shared_run("grams.E1.L").verdict.evidence
    assert all(e1l[f"dL <= 0 at every state, K = {K.name}"]["verdict"] == "refuted" for K in C.KINETIC)


def test_planted_wrong_sign_in_eq_3_is_refuted():
    """Mutation: dH/dt = +Delta_H along (2) must be refuted with an exact counterexample."""
    planted = C.system_2("planted: dH = +Delta_H", dyn.K_QUADRATIC, lambda q, of: q.equal(q.dH, of("delta_H")))
    v = cl.decide(planted, "quick")
    assert (v.word, v.strength.level) == ("refuted", "proved") and v.recheck() is True


def test_planted_flipped_field_breaks_the_no_slower_comparison():
    """Mutation: the Grams w-velocity with its sign flipped is no longer at least as fast as cautious."""
    claim = C.grams_flow("no slower", dyn.K_QUADRATIC, C.no_slower_than_cautious(dyn.K_QUADRATIC))
    flipped = dataclasses.replace(claim, name="flipped", field=lambda q: (lambda f: (-f[0], f[1]))(claim.field(q)))
    v = cl.decide(flipped, "quick")
    assert v.word == "refuted" and v.recheck() is True


def test_a_strict_flow_conclusion_is_searched_not_proved():
    """A strict conclusion whose non-strict form is proved (Grams' dH <= -c_psi |s|^2 < 0 nowhere at s = 0) is
    refuted at an exact state where it is an equality; one that holds strictly stays searched."""
    equal_somewhere = C.grams_flow("dH < 0", dyn.K_QUADRATIC, lambda q, of: q.less_than(q.dH, 0))
    v = cl.decide(equal_somewhere, "quick")
    assert v.word == "refuted" and v.recheck() is True
    strictly = C.grams_flow("dH < 1 + |s|^2", dyn.K_QUADRATIC, lambda q, of: q.less_than(q.dH, 1 + q.norm2(q.s)))
    v = cl.decide(strictly, "quick")
    assert (v.word, v.strength.level) == ("holds", "searched")


def test_the_strict_condition_at_x_0_makes_the_intro_claim_vacuous():
    """Relaxing the introduction's '>' to '>=' in the condition at the point z = 0 makes it satisfiable."""
    v = cl.decide(C.under_condition("at z = 0, non-strict", lambda K: lambda q: C.phi_condition(K, strict=False)(q)
                                    + [q.equal(q.z, 0), q.at_least(q.z * q.phi_z, q.relu(q.z))],
                                    ("z", "phi_z"))[0], "quick")
    assert (v.word, v.strength.level) == ("holds", "proved")
