"""The proof engine: proofs that re-check, refutations whose models survive exact arithmetic, and mutations.

Each planted mutation must change the engine's answer: a wrong sign or constant in a rate or a bound is refuted
with an exactly re-checked model, a weakened true inequality is proved, and a statement the reduction does not
cover stays open (its claim is then judged by search, never called proved).
"""
import dataclasses

import pytest
import sympy as sp

import proofs_checks
from conftest import shared_run
from ams_theory.claims import flows
from ams_theory.claims import language as cl
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
    assert {c.step for c in p.cases} <= {"negation unsat", "infeasible case"}
    assert len(p.cases) == 7                              # a in {>, =, <} then b in {>, =, <} where a != 0
    assert all(c.query and "(assert false)" not in c.query for c in p.cases)


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


def test_identities_close_by_the_case_conditions():
    assert proofs.decide(a * sp.sign(a) - sp.Abs(a), "== 0").status == "proved"
    p = proofs.decide(a * sp.sign(a) - a, "== 0")
    assert p.status == "refuted" and sp.Rational(p.model["a"]) < 0


# ----------------------------------------------------------------------------- explaining a refutation (explain)
# Each explanation is checked against values worked out by hand at a point the hypotheses pin down.

u, v = sp.symbols("u v", real=True)


def _sum_of_terms(e):
    return sp.Add(*[sp.sympify(t["value"]) for t in e["terms"]])


def test_a_refutation_names_its_largest_positive_term_not_its_first():
    gate = sp.Piecewise((5, u > 0), (0, True))
    p = proofs.decide(u ** 2 - 3 * v + gate, "<= 0", [sp.Eq(u, 2), sp.Eq(v, 1)])
    assert p.status == "refuted" and p.model == {"u": "2", "v": "1"}
    e = p.explain()
    assert set(e) == {"terms", "mask_values", "failing_term"}
    assert {t["term"]: t["value"] for t in e["terms"]} == {"u**2": "4", "-3*v": "-3", sp.sstr(gate): "5"}
    assert _sum_of_terms(e) == p.margin() == 6
    assert e["mask_values"] == [{"mask": sp.sstr(gate), "value": "5"}]
    assert e["failing_term"] == (f"the term {sp.sstr(gate)} = 5 is positive and the other terms add up to 1, so "
                                 "the margin is 6 > 0")


def test_a_single_product_is_multiplied_out_into_its_terms():
    p = proofs.decide(u * (u - 2 * v), "<= 0", [sp.Eq(u, 1), sp.Eq(v, -1)])
    e = p.explain()
    assert [(t["term"], t["value"]) for t in e["terms"]] == [("u**2", "1"), ("-2*u*v", "2")]
    assert e["failing_term"].startswith("the term -2*u*v = 2 is positive and the other terms add up to 1")
    assert e["failing_term"].endswith("so the margin is 3 > 0") and e["mask_values"] == []


def test_a_broken_identity_names_the_term_largest_in_absolute_value():
    p = proofs.decide(u * sp.sign(u) + u + 3 * v, "== 0", [sp.Eq(u, -2), sp.Eq(v, 1)])
    assert p.status == "refuted"
    e = p.explain()
    assert {t["term"]: t["value"] for t in e["terms"]} == {"u*sign(u)": "2", "u": "-2", "3*v": "3"}
    assert _sum_of_terms(e) == p.margin() == 3
    assert e["mask_values"] == [{"mask": "sign(u)", "value": "-1"}]
    assert e["failing_term"] == ("the term 3*v = 3 is the largest in absolute value and the other terms add up to "
                                 "0, so the margin is 3 != 0")


def test_an_irrational_margin_is_explained_exactly():
    r, e_ = sp.Symbol("r", nonnegative=True), sp.Symbol("e", positive=True)
    p = proofs.decide(r + sp.sqrt(e_) - sp.sqrt(r ** 2 + e_) - r / 2, "<= 0")
    assert p.status == "refuted"
    e = p.explain()
    assert sp.simplify(_sum_of_terms(e) - p.margin()) == 0
    named = e["failing_term"].split(" = ")[0].removeprefix("the term ")
    value = next(sp.sympify(t["value"]) for t in e["terms"] if t["term"] == named)
    assert proofs.exact_sign(value) == 1 and e["failing_term"].endswith(f"so the margin is {p.margin()} > 0")


def test_a_long_term_is_abbreviated_in_the_sentence_only():
    mask = sp.Piecewise((1, u ** 3 * v + u * v ** 2 - 17 * v ** 5 / 3 + u * v - 3 * u ** 7 <= 0), (0, True))
    big = 7 * u ** 2 * v ** 2 * mask * sp.Max(0, u * v + v ** 3 + 5 * u * v + v ** 7 + u ** 11 + 13 * u ** 5 * v)
    p = proofs.decide(big - 1, "<= 0", [sp.Eq(u, 1), sp.Eq(v, 1)])
    e = p.explain()
    assert sp.sstr(big) in [t["term"] for t in e["terms"]] and len(sp.sstr(big)) > 120
    assert sp.sstr(big) not in e["failing_term"] and "Piecewise(...)" in e["failing_term"]
    assert {m["value"] for m in e["mask_values"]} == {"1", "22"}
    assert e["failing_term"].endswith("= 154 is positive and the other terms add up to -1, so the margin is 153 > 0")


def test_a_strict_claim_at_margin_zero_is_explained():
    claim = proofs._statement(u - v, "<= 0", [])
    p = proofs.Proof("u - v < 0", "< 0", (), "none", claim=claim, status="refuted", _point={u: 1, v: 1})
    assert p.explain()["failing_term"] == ("the term u = 1 is positive and the other terms add up to -1, so the "
                                           "margin is 0, not < 0")


def test_explain_is_none_unless_refuted_and_never_raises():
    proved = proofs.decide(a * b - sp.Abs(a) * sp.Abs(b), "<= 0")
    assert proved.status == "proved" and proved.explain() is None
    assert proofs.Bundle([("part", proved)]).explain() is None
    refuted = proofs.decide(-a, "<= 0")
    assert proofs.Bundle([("holds", proved), ("fails", refuted)]).explain() == refuted.explain() is not None
    assert proofs.Proof("s", "<= 0", (), "none", status="refuted", _point={a: 1}).explain() is None   # no claim
    broken = proofs.Proof("s", "<= 0", (), "none", claim=proofs._statement(a - 1, "<=", []), status="refuted",
                          _point={a: sp.nan})
    assert "failing_term" not in (broken.explain() or {})     # partial at most, and no exception


# ----------------------------------------------------------------------------- soundness rules, each with mutations
# Each planted false statement must come out refuted, undefined, vacuous or open, never proved.

x, y = sp.symbols("x y", real=True)
NEVER_PROVED = ("refuted", "undefined", "vacuous", "open")


def _unevaluated_ratio():
    """x y / (x y) - 1, kept as written (sympy would cancel it when built)."""
    return sp.Add(sp.Mul(x * y, sp.Pow(x * y, -1, evaluate=False), evaluate=False), -1, evaluate=False)


@pytest.mark.parametrize("expr, relation, hypotheses, expected", [
    # rule 1: a root is defined where its radicand is >= 0, and nothing is assumed beyond it
    (sp.Piecewise((sp.sqrt(x), x > 5), (0, True)) - x, "<= 0", (), "refuted"),        # false at x < 0
    (sp.sqrt(x) - x - 1, "<= 0", (), "undefined"),                                    # sqrt(-1)
    (sp.sqrt(x) - x - 1, "<= 0", (x >= 0,), "proved"),
    (x ** sp.Rational(1, 3) - x, "<= 0", (x >= 0,), "refuted"),                      # 1/2 > 1/8 at x = 1/8
    (sp.sqrt(1 + sp.sqrt(x)) - 1 - x, "<= 0", (x > 0,), "refuted"),                  # nested roots
    # rule 1: divisions and Piecewise branches
    (a / b, "<= 0", (a <= 0, b >= 0), "undefined"),
    (_unevaluated_ratio(), "== 0", (), "undefined"),
    (sp.Piecewise((1 / x, x >= 0), (0, True)), "<= 0", (x <= 0,), "undefined"),     # 1/0 at x = 0
    (sp.Piecewise((1 / x, x > 0), (0, True)), "<= 0", (x <= 0,), "proved"),
    (sp.Piecewise((1, x > 0)), "<= 0", (), "undefined"),                             # no branch at x <= 0
    # rule 3: sign-reading functions of unrelated arguments, constants, large numbers
    (sp.Max(x ** 2, y) - x ** 2 - sp.Abs(y), "<= 0", (), "proved"),
    (sp.Max(x, y) - x, "<= 0", (), "refuted"),
    (sp.Min(x, y, x * y) - x, "<= 0", (), "proved"),
    (sp.Max(x, y, x * y) - x * y, "<= 0", (), "refuted"),
    (sp.sqrt(sp.Abs(x)) - sp.Abs(x) - 1, "<= 0", (), "proved"),
    (sp.pi * x ** 2 - 3 * x ** 2, "<= 0", (), "refuted"),                            # pi > 3
    (3 * x ** 2 - sp.pi * x ** 2, "<= 0", (), "proved"),
    (x ** 2 - (sp.Integer(10) ** 5000 + 1) * x ** 2, "<= 0", (), "proved"),          # a 5001-digit coefficient
    ((sp.Integer(10) ** 5000 + 1) * x ** 2 - x ** 2, "<= 0", (), "refuted"),
    (597871125 * 2 ** sp.Rational(2, 5) * 3 ** sp.Rational(18, 35) * x - x, "<= 0", (x >= 0,), "refuted"),
    (sp.exp(x), "<= 0", (), "open"),                                                 # outside the language
    (x ** y, "<= 0", (), "open"),
    # rule 4: hypotheses no state satisfies
    (-x, "<= 0", (x > 1, x < 0), "vacuous"),
    (x, "<= 0", (x > 1, x < 0), "vacuous"),
])
def test_planted_statements_get_the_right_status_and_no_crash(expr, relation, hypotheses, expected):
    p = proofs.decide(expr, relation, hypotheses)
    assert p.status == expected, (p.status, p.reason)
    if expected == "refuted":
        assert p.certify() is True
    if expected == "undefined":
        assert p.undefined_at and "undefined" in p.reason
    if expected == "vacuous":
        assert p.recheck() is True and p.proved is False          # a certificate that nothing satisfies them
    elif expected != "proved":
        assert p.recheck() is False
    else:
        assert p.recheck() is True and p.recheck(solver="cvc5") is True


def test_symbols_are_identified_by_object_not_by_name():
    """Rule 2: a real x and a positive x are two variables; an engine-internal name cannot meet a user's."""
    x_pos = sp.Symbol("x", positive=True)
    p = proofs.decide(x - x_pos, "== 0")
    assert p.status == "refuted" and p.certify() and set(p.model) == {"x", "x.1"}
    assert proofs.decide(x - sp.Dummy("x", real=True), "== 0").status == "refuted"
    for name in ("sqrt_0", "%root1", "root1", "ite", "x y"):
        u = sp.Symbol(name, nonnegative=True)
        assert proofs.decide(sp.sqrt(y) - u, "== 0", (y >= 0,)).status == "refuted", name


def test_a_hypothesis_holds_only_where_it_is_defined():
    """1/x >= 1 says nothing at x = 0 (the solver's 1/0 is arbitrary): the claim is judged for 0 < x <= 1 only."""
    assert proofs.decide(-x, "<= 0", (1 / x >= 1,)).status == "proved"
    assert proofs.decide(x - 1, "<= 0", (1 / x >= 1,)).status == "proved"


def test_relations_are_read_with_or_without_their_zero_and_a_bad_one_is_one_line():
    assert proofs.decide(-a ** 2, "<=").proved and proofs.decide(a - a, "==").proved
    with pytest.raises(ValueError, match="unknown relation '<'") as err:
        proofs.decide(-a ** 2, "<")
    assert "\n" not in str(err.value)


def test_a_one_coordinate_claim_decides_in_under_a_second():
    import time
    t0 = time.perf_counter()
    p = proofs.decide(a * b - sp.Abs(a) * sp.Abs(b), "<= 0")
    assert p.proved and time.perf_counter() - t0 < 1.0


# ----------------------------------------------------------------------------- certificates (rule 5)

def _proof():
    p = proofs.decide(a * b - sp.Abs(a) * sp.Abs(b), "<= 0", (a + b >= -10,))
    assert p.recheck() is True
    return p


def test_a_changed_statement_fails_the_recheck():
    p = _proof()
    p.claim = proofs.Statement(a * b - sp.Abs(a) * sp.Abs(b) + 1, "<= 0", p.claim.hypotheses)
    assert p.recheck() is False
    p = _proof()
    p.claim = proofs.Statement(p.claim.expr, "<= 0", ())                  # a hypothesis dropped
    assert p.recheck() is False


@pytest.mark.parametrize("tamper", ["drop a case", "bare false", "query of another case", "transplant",
                                    "unsat replaced", "witness"])
def test_a_tampered_certificate_fails_the_recheck(tamper):
    p = _proof()
    leaf = next(k for k, c in enumerate(p.cases) if c.leaf)
    if tamper == "drop a case":
        del p.cases[leaf]
    elif tamper == "bare false":
        p.cases[leaf].query = "(assert false)\n(check-sat)\n"
    elif tamper == "query of another case":
        p.cases[leaf].query = p.cases[leaf + 1].query
    elif tamper == "transplant":
        other = proofs.decide(x * y - sp.Abs(x) * sp.Abs(y), "<= 0")
        p.cases = other.cases
    elif tamper == "unsat replaced":
        p.cases[leaf].query = p.cases[leaf].query.replace("(check-sat)", "(assert false)\n(check-sat)")
    elif tamper == "witness":
        p.witness_point = {a: sp.Integer(-20), b: sp.Integer(0)}             # violates a + b >= -10
    assert p.recheck() is False
    assert p.recheck(solver="cvc5") is False


def test_a_proof_re_derives_its_statement_from_the_claim():
    p = _proof()
    p.rederive = lambda: (p.claim.expr, "<= 0", p.claim.hypotheses)
    assert p.recheck() is True
    p.rederive = lambda: (p.claim.expr + 1, "<= 0", p.claim.hypotheses)  # the claim now says something else
    assert p.recheck() is False


def test_proofs_are_bound_to_the_claim_they_were_decided_for():
    with proofs.bound_to("grams.C1"):
        p = proofs.decide(a * b - sp.Abs(a) * sp.Abs(b), "<= 0")
    assert p.bound_claim == "grams.C1" and p.recheck(claim="grams.C1") is True
    assert p.recheck(claim="grams.C2") is False


def test_the_registry_refuses_a_proof_of_another_claim(monkeypatch):
    from ams_theory.claims import registry
    with proofs.bound_to("grams.C2"):
        foreign = proofs.decide(a * b - sp.Abs(a) * sp.Abs(b), "<= 0")
    loose = proofs.decide(a * b - sp.Abs(a) * sp.Abs(b), "<= 0")

    def check_with(proof):
        return lambda budget="standard", seed=0: registry.Verdict(
            "holds", "planted", strength=registry.proved("a proof of something else", proof))

    for proof, said in ((foreign, "grams.C2"), (loose, "no claim")):
        monkeypatch.setattr(REGISTRY["grams.C1"], "check", check_with(proof))
        r = run_claim(REGISTRY["grams.C1"], "quick", 0)
        assert r.status == "crashed" and f"decided for {said}, not grams.C1" in r.error

    class Always:                       # an object that claims to re-check
        def recheck(self, **kw):
            return True

        def to_json(self):
            return {}
    monkeypatch.setattr(REGISTRY["grams.C1"], "check", check_with(Always()))
    r = run_claim(REGISTRY["grams.C1"], "quick", 0)
    assert r.status == "crashed" and "not a proof of the engine" in r.error


def test_smtlib_lists_every_query_for_any_solver():
    p = _proof()
    queries = p.smtlib()
    assert len(queries) == len(p.cases) + len(p.obligations)
    assert all(q.startswith("(set-logic QF_NRA)") and q.rstrip().endswith("(check-sat)") for _, q in queries)
    assert all(proofs.replay(q, "cvc5") == "unsat" for _, q in queries)


# ----------------------------------------------------------------------------- the claims' proofs

PROVED_HOLDING = ["grams.C1", "grams.C2", "grams.C3", "grams.C4", "grams.C5", "grams.C6", "cautious.A1",
                  "cautious.A3.2", "grams.E3.H", "grams.E3.L", "grams.E4"]
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
    assert v.correction.verdict == "holds" and v.correction.strength.level == "proved"
    assert v.correction.strength.proof.recheck() is True


def test_at_least_twelve_continuous_fact_and_reduction_results_are_proved(results):
    n = sum(1 for cid in PROVED_HOLDING if results[cid].verdict.strength.level == "proved")
    n += sum(1 for cid in PROVED_CORRECTIONS if results[cid].verdict.correction.strength.level == "proved")
    assert n >= 12


# ----------------------------------------------------------------------------- mutations through the engine

def _adam(**kw):
    return flows.for_every_d(dyn.adam("adam", a=C.A, b=C.B, e=C.E, **kw))


def test_a_planted_wrong_constant_in_adams_condition_is_refuted():
    """a >= b/5 is weaker than Example A.1's a >= b/4: the engine finds a state with dH/dt > 0."""
    p = flows.prove(_adam(), flows.nonpositive("H"), (C.A >= C.B / 5,))
    assert p.status == "refuted" and p.certify()
    assert sp.Rational(p.model["a"]) < sp.Rational(p.model["b"]) / 4


def test_a_strengthened_hypothesis_is_still_proved():
    """a >= b/2 implies a >= b/4: the weaker claim is proved too."""
    assert flows.prove(_adam(), flows.nonpositive("H"), (C.A >= C.B / 2,)).proved


def test_a_planted_wrong_sign_in_a_stated_rate_is_refuted_by_the_model(monkeypatch):
    system = dyn.SYSTEMS["signed_momentum"]
    monkeypatch.setitem(system.stated, "dH", lambda ops, problem, w, s: ops.total(ops.abs(s)))
    p = flows.prove(flows.for_every_d(system), flows.identity("dH", "H"))
    assert p.status == "refuted" and p.certify()
    r = run_claim(REGISTRY["cautious.A3.2"], "quick", 0)
    assert r.verdict.word == "refuted" and r.verdict.counterexample["source"].startswith("proof engine")


def test_a_planted_wrong_bound_is_refuted_and_a_weakened_one_proved():
    """Grams: dL/dt <= -Delta_L is true; asking for twice Delta_L is false, asking for none is true."""
    claim = C.E3_L[0]
    # dL/dt <= -factor Delta_L: the statement's value dL + Delta_L, rescaled in its Delta_L only
    rate = lambda factor: lambda q: cl.Relation(factor * claim.conclusion(q).value + (1 - factor) * q.dL, "<= 0")
    doubled = cl.decide(dataclasses.replace(claim, name="twice Delta_L", conclusion=rate(2)), "quick")
    assert doubled.word == "refuted" and doubled.recheck() is True
    none = cl.decide(dataclasses.replace(claim, name="dL/dt <= 0", conclusion=rate(0)), "quick")
    assert none.word == "holds" and none.strength.level == "proved"


def test_a_flipped_field_breaks_the_proof(monkeypatch):
    original = dyn.general("grams", dyn.K_QUADRATIC, None, c_phi=flows.C_PHI, c_psi=flows.C_PSI, grams=True)
    flipped = dyn.System(original.name, 1, lambda ops, problem, w, s: tuple(
        -x if i == 0 else x for i, x in enumerate(original.field(ops, problem, w, s))), original.H,
        original.stated, params=original.params)
    p = flows.prove(flows.for_every_d(flipped), flows.nonpositive("H"))
    assert p.status == "refuted" and p.certify()


def test_the_inner_product_mask_is_not_reduced_and_stays_searched():
    """True but outside the reduction: the inner-product mask couples the coordinates."""
    inner = dyn.SYSTEMS["cautious_inner"].params["phi"]
    p = flows.prove(flows.symbolic_mask_system(inner), flows.nonpositive("L"))
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
