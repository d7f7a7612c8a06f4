"""Dimension-generic reductions (ams_theory.engines.coordinates): planted false statements come out refuted or open,
never proved; true ones prove, and every proof re-derives its statement from the build."""
import pytest
import sympy as sp

from ams_theory.engines import coordinates as C
from ams_theory.engines import proofs


def _leaves(p):
    """Every Proof of a (nested) result."""
    if isinstance(p, proofs.Bundle):
        return [q for _, part in p.parts for q in _leaves(part)]
    return [p]


def _rederives(p):
    """Each decided proof re-derives exactly the statement it decided."""
    for q in _leaves(p):
        if q.status in ("proved", "refuted") and hasattr(q, "rederive"):
            expr, relation, hyps = q.rederive()
            assert relation == q.relation
            assert tuple(sp.sstr(h) for h in hyps) == tuple(q.hypotheses)
    return True


def test_a_separable_claim_is_proved_for_every_d_and_rederives():
    p = C.per_coordinate(lambda ops, vec: -ops.dot(vec("x"), vec("x")), "<= 0", (), "-|x|^2 <= 0")
    assert p.proved and p.recheck() and _rederives(p)
    assert p.rederive()[0] == -C.coordinate_symbol("x", real=True) ** 2


def test_coupling_from_d_4_on_is_never_proved():
    """(a) Separable (and true) at d <= 3, false from d = 4: the generic trace sees the dimension in a coefficient."""
    def build(ops, vec):
        x = vec("x")
        return (ops.numel(x) - 3) * ops.dot(x, x)
    p = C.per_coordinate(build, "<= 0", (), "(d - 3)|x|^2 <= 0")
    assert p.status == "open" and "dimension" in p.reduction


def test_reading_coordinates_by_python_indexing_is_open_with_its_reason():
    """(a, e) A build that reads coordinate 0 (or iterates) cannot be traced as if it had one coordinate."""
    def indexed(ops, vec):
        x = vec("x")
        return -x[0] * x[0]

    def iterated(ops, vec):
        return -sum(v * v for v in vec("x"))

    def zipped(ops, vec):
        x, y = vec("x"), vec("y")
        return sum(a * b for a, b in zip(x, y)) - ops.dot(x, y)
    for build in (indexed, iterated, zipped):
        p = C.per_coordinate(build, "<= 0", (), "by hand")
        assert p.status == "open" and "GenericAccessError" in p.cases[0].step, build.__name__
    with pytest.raises(C.GenericAccessError):
        len(C.generic_vector("x"))


def test_max_parts_come_from_the_generic_trace():
    """(b) max{sum x - |x|_1, |x|_1 - sum x}: a true part and a false one. The parts are read from the generic trace,
    so the false part is kept and the claim is not proved."""
    def build(ops, vec):
        x = vec("x")
        a = ops.total(x) - ops.total(ops.abs(x))                     # <= 0: a true part
        b = ops.total(ops.abs(x)) - ops.total(x)                      # >= 0, > 0 somewhere: a false part
        return sp.Max(a, b)
    one = C.concrete_vectors(1)
    assert len(C.max_parts(build(C.SYM, one))) == 2
    p = C.per_coordinate(build, "<= 0", (), "max")
    assert p.status == "refuted" and p.certify()
    assert len(C.max_parts(build(C.GENERIC, C.generic_vector))) == 2

    def collapsing(ops, vec):
        x = vec("x")
        return sp.Max(ops.total(x) - ops.total(ops.abs(x)), ops.total(x) * ops.numel(x) - ops.total(ops.abs(x)))
    assert len(C.max_parts(collapsing(C.SYM, C.concrete_vectors(1)))) == 1      # sympy's d = 1 collapse
    assert len(C.max_parts(collapsing(C.GENERIC, C.generic_vector))) == 2
    p = C.per_coordinate(collapsing, "<= 0", (), "max that collapses at d = 1")
    assert not p.proved                                          # part 2 reads d: open, never proved


def test_a_coupled_square_is_open():
    """(f) (sum x)^2 is not a sum of coordinate terms."""
    p = C.per_coordinate(lambda ops, vec: -ops.total(vec("x")) ** 2, "<= 0", (), "-(sum x)^2 <= 0")
    assert p.status == "open" and "couples" in p.reduction


def test_a_nested_sum_in_a_coordinate_term_is_open():
    def build(ops, vec):
        x = vec("x")
        return ops.total(x * ops.total(x)) - ops.total(x) ** 2     # == 0 for every d, but not separable as traced
    assert C.per_coordinate(build, "== 0", (), "nested").status == "open"


def test_an_identity_is_proved_and_a_false_one_refuted_concretely():
    assert C.per_coordinate(lambda ops, vec: ops.dot(vec("x"), vec("x")) - ops.total(ops.mul(vec("x"), vec("x"))),
                            "== 0", (), "id").proved
    p = C.per_coordinate(lambda ops, vec: ops.total(vec("x")) - ops.total(ops.abs(vec("x"))), "== 0", (), "false")
    assert p.status == "refuted" and p.certify()


# ----------------------------------------------------------------------------- worst-case loss

ETA = sp.Symbol("eta", nonnegative=True)


def _descent(ops, vec, loss):
    """dL of the plain step w - eta g and the quantities of the claims below."""
    w, g = vec("w"), vec("g")
    f = loss(w, g)
    w1 = w - ETA * f.grad(w)
    return f.value(w1) - f.value(w), ops.dot(g, g), f


def test_a_lower_bound_claim_is_not_proved_on_the_smooth_class_and_its_smooth_form_is():
    """(c) dL >= -eta |g|^2 (the first-order lower bound) holds for convex losses only; given to the smooth class the
    engine takes the lower bound itself and refutes it on the concave quadratic; its smooth form is proved."""
    def literal(ops, vec, loss):
        dL, gg, _ = _descent(ops, vec, loss)
        return -ETA * gg - dL

    def smooth_form(ops, vec, loss):
        dL, gg, f = _descent(ops, vec, loss)
        return -ETA * gg - f.L * ETA ** 2 * gg / 2 - dL
    p = C.worst_case(literal, "smooth", "dL >= -eta |g|^2")
    assert p.status == "refuted" and p.certify()
    assert "nonincreasing" in p.reduction and "lower bound" in p.reduction
    assert C.worst_case(literal, "convex", "dL >= -eta |g|^2, convex").proved
    q = C.worst_case(smooth_form, "smooth", "dL >= -eta |g|^2 - L eta^2 |g|^2/2")
    assert q.proved and q.recheck() and _rederives(q)


def test_a_claim_not_monotone_in_a_loss_value_is_open():
    def build(ops, vec, loss):
        dL, _, _ = _descent(ops, vec, loss)
        return -dL ** 2                                          # not monotone in the value at w'
    p = C.worst_case(build, "smooth", "-(dL)^2 <= 0")
    assert p.status == "open" and "not monotone" in p.reduction


def test_the_d3_comparison_is_not_proved_on_the_smooth_class():
    """(d) dL_Grams <= dL_C under D.3's corrected bound: the witness refutes it for smooth losses; the engine takes
    upper for the Grams value and lower for the cautious one (not one loss): open, never proved; the convex class
    proves."""
    from ams_theory.claims.language._one_step import _prove_one_step
    from proofs_checks import discrete as D
    p, verdict = _prove_one_step(D.d3_claims("smooth", True)[0])
    assert p.status == "open" and not p.proved and p.model is None and verdict is None
    q, verdict = _prove_one_step(D.d3_claims("convex", True)[0])
    assert q.proved and q.recheck() and _rederives(q) and verdict.word == "holds"


def test_the_loss_class_is_checked():
    with pytest.raises(ValueError):
        C.worst_case(lambda ops, vec, loss: 0, "upper")


def test_a_failed_reduction_whose_bounds_no_loss_attains_is_open_not_refuted():
    """L(w - eta g) <= L(w - eta relu(g)) on the smooth class: the engine takes the upper bound for the first value
    and the lower bound for the second. The reduced claim fails at g > 0, where both points are the same and the
    claim holds with equality: no loss attains both bounds there, so the answer is open, never a refutation (a
    failing reduced claim without a step-bound hypothesis used to come out refuted)."""
    def build(ops, vec, loss):
        w, g = vec("w"), vec("g")
        f = loss(w, g)
        return f.value(w - ETA * g) - f.value(w - ETA * ops.relu(g))
    p = C.worst_case(build, "smooth", "plain step no worse than the one on relu(g)")
    assert p.status == "open" and p.model is None and "not attained by one loss" in p.reduction
