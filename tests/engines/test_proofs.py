"""The proof engine: proofs that re-check, refutations whose models survive exact arithmetic, and mutations.

Each planted mutation must change the engine's answer: a wrong sign or constant in a rate or a bound is refuted
with an exactly re-checked model, a weakened true inequality is proved, and a statement the reduction does not
cover stays open (its claim is then judged by search, never called proved).
"""
import pytest
import sympy as sp

import proofs_checks
from conftest import shared_run
from ams_theory.claims.registry import REGISTRY, run_claim
from ams_theory.engines import dynamics as dyn
from ams_theory.engines import proofs
from proofs_checks import continuous as C

proofs_checks.load()
# the quick runs are shared with the claim modules on one worker (conftest.shared_run)
pytestmark = pytest.mark.xdist_group("claims")
a, b = sp.symbols("a b", real=True)


# ----------------------------------------------------------------------------- the engine itself

def test_a_true_inequality_is_proved_by_sign_cases_and_the_proof_rechecks():
    p = proofs.decide(a * b - sp.Abs(a) * sp.Abs(b), "<= 0")
    assert p.status == "proved" and p.recheck() is True
    steps = {c.step for c in p.cases}
    assert steps <= {"simplifies to 0", "negation unsat", "infeasible case"}
    assert len(p.cases) == 7                              # a in {>, =, <} then b in {>, =, <} where a != 0
    assert all(c.query for c in p.cases if c.step != "simplifies to 0")


def test_a_false_inequality_is_refuted_with_an_exact_model():
    p = proofs.decide(a * b - sp.Abs(a) * sp.Abs(b) + a ** 2 / 10, "<= 0")
    assert p.status == "refuted" and p.certify() is True
    point = {a: sp.Rational(p.model["a"]), b: sp.Rational(p.model["b"])}
    assert proofs.violates(a * b - sp.Abs(a) * sp.Abs(b) + a ** 2 / 10, "<= 0", [], point)
    assert p.recheck() is False                           # a refutation is not a proof


def test_hypotheses_and_symbol_assumptions_are_used():
    r = sp.Symbol("r", positive=True)
    assert proofs.decide(-r, "<= 0").status == "proved"
    assert proofs.decide(-a, "<= 0").status == "refuted"
    assert proofs.decide(-a, "<= 0", [a >= 0]).status == "proved"


def test_square_roots_become_variables():
    r = sp.Symbol("r", nonnegative=True)
    e = sp.Symbol("e", positive=True)
    assert proofs.decide(sp.sqrt(r ** 2 + e) - r - sp.sqrt(e), "<= 0").status == "proved"     # sqrt subadditive
    p = proofs.decide(r + sp.sqrt(e) - sp.sqrt(r ** 2 + e) - r / 2, "<= 0")
    assert p.status == "refuted" and p.certify()


def test_identities_close_by_simplification_or_by_the_case_conditions():
    assert proofs.decide(a * sp.sign(a) - sp.Abs(a), "== 0").status == "proved"
    p = proofs.decide(a * sp.sign(a) - a, "== 0")
    assert p.status == "refuted" and sp.Rational(p.model["a"]) < 0


def test_a_tampered_query_fails_the_recheck():
    p = proofs.decide(a * b - sp.Abs(a) * sp.Abs(b), "<= 0")
    case = next(c for c in p.cases if c.step == "negation unsat")
    assert p.recheck() is True
    case.query = "(declare-fun a () Real)\n(assert (> a 0.0))\n"          # satisfiable: no longer closes the case
    assert p.recheck() is False
    case.query = "(assert"                                                 # unreadable
    assert p.recheck() is False


def test_a_vanishing_denominator_leaves_the_proof_open():
    p = proofs.decide(a / b, "<= 0", [a <= 0, b >= 0])
    assert p.status == "open" and any("denominator" in c.step for c in p.cases)


def test_per_coordinate_reduction_is_checked():
    def separable(d):
        x = sp.symbols(f"x0:{d}", real=True)
        return sum(-xi ** 2 for xi in x), [(xi,) for xi in x]

    def coupled(d):
        x = sp.symbols(f"x0:{d}", real=True)
        return -sum(x) ** 2, [(xi,) for xi in x]

    assert proofs.per_coordinate(separable, "<= 0").status == "proved"
    p = proofs.per_coordinate(coupled, "<= 0")
    assert p.status == "open" and "not separable" in p.reduction


# ----------------------------------------------------------------------------- the claims' proofs

PROVED_HOLDING = ["grams.C1", "grams.C2", "grams.C3", "grams.C4", "grams.C5", "grams.C6", "cautious.A1",
                  "cautious.A2", "cautious.A3.2", "grams.E3.H", "grams.E3.L", "grams.E4", "grams.5.10"]
PROVED_CORRECTIONS = ["cautious.A3.1.formula", "cautious.A3.1.cadam", "cautious.A3.3", "grams.E2", "cautious.alg1"]


@pytest.fixture(scope="module")
def results():
    return {cid: shared_run(cid) for cid in PROVED_HOLDING + PROVED_CORRECTIONS}


@pytest.mark.parametrize("cid", PROVED_HOLDING)
def test_holding_verdicts_are_proved_and_recheck(results, cid):
    v = results[cid].verdict
    assert results[cid].status == "checked", results[cid].error
    assert v.word == "holds" and v.strength.level == "proved"
    assert v.strength.proof.recheck() is True


@pytest.mark.parametrize("cid", PROVED_CORRECTIONS)
def test_corrections_are_proved_and_refutations_certified(results, cid):
    v = results[cid].verdict
    assert v.word == "refuted" and v.counterexample["rechecked_exactly"] is True
    assert v.correction["verdict"] == "holds" and v.correction["strength"].level == "proved"
    assert v.correction["strength"].proof.recheck() is True


def test_at_least_twelve_continuous_fact_and_reduction_results_are_proved(results):
    n = sum(1 for cid in PROVED_HOLDING if results[cid].verdict.strength.level == "proved")
    n += sum(1 for cid in PROVED_CORRECTIONS if results[cid].verdict.correction["strength"].level == "proved")
    assert n >= 12


# ----------------------------------------------------------------------------- mutations through the engine

def _adam(**kw):
    return C._fixed(dyn.adam("adam", a=C.A, b=C.B, e=C.E, **kw))


def test_a_planted_wrong_constant_in_adams_condition_is_refuted():
    """a >= b/5 is weaker than Example A.1's a >= b/4: the engine finds a state with dH/dt > 0."""
    p = C.prove(_adam(), C.nonpositive("H"), (C.A >= C.B / 5,))
    assert p.status == "refuted" and p.certify()
    assert sp.Rational(p.model["a"]) < sp.Rational(p.model["b"]) / 4


def test_a_strengthened_hypothesis_is_still_proved():
    """a >= b/2 implies a >= b/4: the weaker claim is proved too."""
    assert C.prove(_adam(), C.nonpositive("H"), (C.A >= C.B / 2,)).proved


def test_a_planted_wrong_sign_in_a_stated_rate_is_refuted_by_the_model(monkeypatch):
    system = dyn.SYSTEMS["signed_momentum"]
    monkeypatch.setitem(system.stated, "dH", lambda ops, problem, w, s: ops.total(ops.abs(s)))
    p = C.prove(C._fixed(system), C.identity("dH", "H"))
    assert p.status == "refuted" and p.certify()
    r = run_claim(REGISTRY["cautious.A3.2"], "quick", 0)
    assert r.verdict.word == "refuted" and r.verdict.counterexample["source"].startswith("proof engine")


def test_a_planted_wrong_bound_is_refuted_and_a_weakened_one_proved():
    """Grams: dL/dt <= -Delta_L is true; asking for twice Delta_L is false, asking for none is true."""
    grams = C._grams(dyn.K_QUADRATIC)
    doubled = C.nonpositive("L", lambda system, ops, problem, w, s: 2 * system.params["delta_L"](ops, problem, w, s))
    p = C.prove(grams, doubled)
    assert p.status == "refuted" and p.certify()
    assert C.prove(grams, C.nonpositive("L")).proved


def test_a_flipped_field_breaks_the_proof(monkeypatch):
    original = dyn.general("grams", dyn.K_QUADRATIC, None, c_phi=C.C_PHI, c_psi=C.C_PSI, grams=True)
    flipped = dyn.System(original.name, 1, lambda ops, problem, w, s: tuple(
        -x if i == 0 else x for i, x in enumerate(original.field(ops, problem, w, s))), original.H,
        original.stated, params=original.params)
    p = C.prove(C._fixed(flipped), C.nonpositive("H"))
    assert p.status == "refuted" and p.certify()


def test_the_inner_product_mask_is_not_reduced_and_stays_searched():
    """True but outside the reduction: the inner-product mask couples the coordinates."""
    inner = dyn.SYSTEMS["cautious_inner"].params["phi"]
    p = C.prove(C._symbolic_general(inner), C.nonpositive("L"))
    assert p.status == "open"
    r = shared_run("cautious.2.1")
    assert r.verdict.word == "holds" and r.verdict.strength.level == "searched"
    level = lambda label: next(part["level"] for part in r.verdict.strength.coverage["parts"]
                               if part["basis"].startswith(label + ":"))
    assert level("cautious_inner (c_phi=0.0, c_psi=0.0): dL <= 0") == "searched"
    assert level("cautious_indicator: dL <= 0") == "proved"
    assert level("cautious_inner: dH identity") == "proved"            # through the every-mask identity


def test_convergence_verdicts_do_not_weaken_when_the_budget_grows():
    for cid in ("cautious.2.2", "grams.5.10"):
        quick = shared_run(cid).verdict
        standard = run_claim(REGISTRY[cid], "standard", 0).verdict
        assert (quick.word, quick.strength.level) == (standard.word, standard.strength.level)
        assert standard.strength.level == "proved"


def test_the_invariance_conditions_fail_for_a_field_that_ignores_the_gradient():
    """Mutation: s' = -c_psi s (the gradient dropped) breaks condition (b) of the LaSalle argument, and a
    field without the Psi damping breaks (a); the real heavy ball passes both."""
    real = dyn.general("hb", dyn.K_QUADRATIC, None, c_phi=C.C_PHI, c_psi=C.C_PSI_POS)
    no_gradient = dyn.System("hb", 1, lambda ops, problem, w, s: (real.field(ops, problem, w, s)[0],
                                                                    -C.C_PSI_POS * s), real.H, params=real.params)
    undamped = dyn.general("hb", dyn.K_QUADRATIC, None, c_phi=C.C_PHI, c_psi=0)
    undamped.params["c_psi"] = C.C_PSI_POS                  # claims the damping the field does not have
    statuses = lambda system: [p.status for _, p in C._lasalle_parts([("(2)", C._fixed(system))])]
    assert statuses(real) == ["proved", "proved"]
    assert statuses(no_gradient)[1] == "refuted"
    assert statuses(undamped)[0] == "refuted"


def test_recheck_simplifies_the_closed_leaves_again():
    p = proofs.decide(a * sp.sign(a) - sp.Abs(a), "== 0")
    assert p.recheck() is True and p._leaves
    p._leaves[0] = p._leaves[0] + 1                      # a leaf that no longer simplifies to 0
    assert p.recheck() is False
