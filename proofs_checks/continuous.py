r"""Continuous-time claims: Hamiltonian descent identities and monotonicity (Cautious paper §1, §2, A.1-A.3;
AMS/Grams paper §5.3, Def. 5.6, Remark 5.9, Def. E.1, Thm. E.2-E.4, Cor. 5.10).

Each check states its claim as :class:`~ams_theory.claims.language.Flow` statements over the systems of
:mod:`ams_theory.engines.dynamics` (:func:`dynamics_flow`): an identity between a true rate and its stated closed
form, or a sign condition on a rate, with the hyperparameters as ranges; the claim language proves them for every
dimension, state and hyperparameter in range, or refutes them with an exactly re-checked counterexample, and
evaluates them exactly at drawn rational states beside. The convergence claims (Cor. 2.2, 5.10) are judged by
LaSalle's invariance principle, whose pointwise conditions the engine proves (:mod:`ams_theory.claims.flows`);
trajectories are kept as illustrations.
"""
from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import sympy as sp

from ams_theory.claims import language as cl
from ams_theory.claims.flows import SET_READING, convergence_verdict, trajectory_illustration
from ams_theory.claims.registry import register
from ams_theory.core.ops import SympyOps
from ams_theory.engines import coordinates, repairs
from ams_theory.engines import dynamics as dyn



# ----------------------------------------------------------------------------- the systems as Flows

def _at(q, state=("s",)):
    """The claim's state as the dynamics engine reads it: every differentiable loss, through its gradient ``q.g``,
    and the state vectors ``state`` stacked (Adam: ``[m, v]``)."""
    parts = [getattr(q, name) for name in state]
    return q.ops, dyn.LinearLoss(q.g, q.ops), q.w, parts[0] if len(parts) == 1 else dyn.stack_state(parts)


def dynamics_flow(name, make, conclusion, state=("s",), **claim):
    """The system ``make(q)`` of the dynamics engine (its field and H, at the claim's hyperparameters) as a Flow
    over the state vectors ``state``; ``conclusion(q, of)`` reads the system's stated forms and allowances by key
    through ``of(key)``; ``claim``: the Flow's other fields (``hyper``, ``hypotheses``, ``positive``, ...)."""
    def field(q):
        dw, ds = make(q).field(*_at(q, state))
        return dw, dyn.split_state(ds, len(state)) if len(state) > 1 else [ds]

    def of(q):
        system, at = make(q), _at(q, state)
        return lambda key: (system.stated[key] if key in system.stated else system.params[key])(*at)
    return cl.Flow(name, field=field, H=lambda q: make(q).H(*_at(q, state)),
                   conclusion=lambda q: conclusion(q, of(q)), state=state, **claim)


def _rate(q, which):
    return q.dH if which == "H" else q.dL


def rate_is(which, form=None):
    """d<which>/dt == the system's stated form ``form`` (default ``d<which>``); ``which``: ``"H"`` or ``"L"``."""
    return lambda q, of: q.equal(_rate(q, which), of(form or f"d{which}"))


def rate_at_most(which, allowance=None):
    """d<which>/dt <= -allowance (a system's parameter, e.g. ``delta_H``), or <= 0 without one."""
    return lambda q, of: q.at_most(_rate(q, which), -of(allowance) if allowance else 0)


def _one_coordinate(make, state, positive, hyper):
    """``(q, squares)``: the claim's quantities at one coordinate (symbols ``g0``, ``w0``, ``<state>0``) for ``make``,
    and the positive coordinates written as squares of their roots ``sqrt_<name>0``."""
    one = coordinates.concrete_vectors(1)
    vectors = {name: one(name, positive=True) if name in positive else one(name, real=True) for name in state}
    roots = {name: one(f"sqrt_{name}", positive=True) for name in positive}
    q = SimpleNamespace(ops=dyn.SYM, g=one("g", real=True), w=one("w", real=True),
                        **{k: r.symbol(k) for k, r in hyper.items()}, **vectors)
    return q, {vectors[name][0]: roots[name][0] ** 2 for name in positive}


def term_edits(name, make, form, which, state=("s",), positive=(), eps=None, **claim):
    """The single edits of a stated form (flip a term's sign, drop a term; with ``eps`` move it into or out of a
    root: :func:`ams_theory.engines.repairs.expression_edits`), each a Flow ``d<which>/dt == edited form``. The form
    is a sum over coordinates of one term: the term is edited at one coordinate and summed again."""
    q1, squares = _one_coordinate(make, state, positive, claim.get("hyper", {}))
    term = sp.sympify(make(q1).stated[form](*_at(q1, state))).xreplace(squares)
    roots = [r.base for r in squares.values()]
    reads = {q1.g[0]: lambda q: q.g, q1.w[0]: lambda q: q.w,
             **{getattr(q1, n)[0]: (lambda q, n=n: getattr(q, n)) for n in state if n not in positive},
             **{r: (lambda q, n=n: q.ops.sqrt(getattr(q, n))) for r, n in zip(roots, positive)}}

    def summed(edited):
        def total(q):
            at = {x: read(q) for x, read in reads.items()}
            if isinstance(q.g, coordinates.GenericVector):
                return q.total(coordinates.GenericVector(edited.xreplace({x: v.t for x, v in at.items()})))
            return sum(edited.xreplace({x: v[i] for x, v in at.items()}) for i in range(len(q.g)))
        return lambda q, of: q.equal(_rate(q, which), total(q))
    return [repairs.Edit(kind, text, dynamics_flow(f"{name}: {text}", make, summed(edited), state=state,
                                                   positive=positive, **claim))
            for kind, text, edited in repairs.expression_edits(term, eps=eps, roots=roots)]


# ----------------------------------------------------------------------------- the Cautious paper

COEFFICIENTS = {"c_phi": cl.Range(0), "c_psi": cl.Range(0)}     # Phi(x) = c_phi x, Psi(x) = c_psi x, c >= 0
ANY_MASK = "any mask"              # the mask's values free (the free vector q.phi): what holds, holds for every mask
GRAMS = "Grams"                    # the Grams dynamics of Def. 5.6 of the AMS/Grams paper in place of a mask
GRAMS_OTHER = "sign(g o |grad K|)"  # Def. 5.6's other reading (dyn.GRAMS_READINGS)


def general(q, name, K, mask, coefficients=None):
    """System (5) of the Cautious paper (dynamics engine) with kinetic energy ``K`` and ``mask`` (a mask,
    :data:`ANY_MASK` or :data:`GRAMS`), at the claim's c_phi, c_psi or at ``coefficients``."""
    c_phi, c_psi = coefficients or (q.c_phi, q.c_psi)
    if mask in (GRAMS, GRAMS_OTHER):
        return dyn.general(name, K, None, c_phi=c_phi, c_psi=c_psi, grams=True if mask == GRAMS else mask)
    return dyn.general(name, K, (lambda ops, k, g: q.phi) if mask == ANY_MASK else mask, c_phi=c_phi, c_psi=c_psi)


def system_5(name, K, mask, conclusion, coefficients=None, hypotheses=None, vectors=()):
    """System (5) with ``mask`` (:func:`general`; ``None``: system (2)) as a Flow, for every c_phi, c_psi >= 0, or at
    ``coefficients`` (c_phi, c_psi); ``hypotheses`` and free ``vectors`` besides the mask's values: the Flow's."""
    return dynamics_flow(name, lambda q: general(q, name, K, mask, coefficients), conclusion,
                         hyper={} if coefficients else COEFFICIENTS, hypotheses=hypotheses,
                         vectors=(("phi",) if mask == ANY_MASK else ()) + vectors)


def any_energy_system(q, name, mask):
    """System (5) with ``mask`` (a mask, :data:`ANY_MASK` or :data:`GRAMS`) at the claim's state, with grad K(s),
    Phi(grad L) and Psi(grad K(s)) the free vectors q.k, q.p, q.r (:func:`any_energy_flow`)."""
    K = dyn.Kinetic("any K (grad K(s) free)", None, lambda ops, s: q.k)
    maps = dict(Phi=lambda ops, x: q.p, Psi=lambda ops, x: q.r)
    if mask in (GRAMS, GRAMS_OTHER):
        return dyn.general(name, K, None, grams=True if mask == GRAMS else mask, **maps)
    return dyn.general(name, K, (lambda ops, k, g: q.phi) if mask == ANY_MASK else mask, **maps)


def any_energy_flow(name, mask, conclusion, hypotheses=None, weights=None):
    """System (5) with ``mask`` (a mask, :data:`ANY_MASK` or :data:`GRAMS`) for every K, Phi, Psi the theorems allow:
    grad K(s), Phi(grad L) and Psi(grad K(s)) are the free vectors k, p, r with <g, p> >= 0 and <k, r> >= 0 (what
    the papers ask of Phi and Psi; the claims are pointwise, so a free value at the state covers every such map).
    ``conclusion(q, system)`` reads dH/dt through the chain rule, <g, dw> + <k, ds> (:func:`any_energy_rate`);
    ``hypotheses(q)``: more hypotheses, after those two; ``weights``: the Flow's (one multiplier per hypothesis)."""
    def field(q):
        dw, ds = any_energy_system(q, name, mask).field(*_at(q))
        return dw, [ds]
    return cl.Flow(f"{name}, every K, Phi, Psi", field=field,
                   conclusion=lambda q: conclusion(q, any_energy_system(q, name, mask)),
                   state=("s",), vectors=("k", "p", "r") + (("phi",) if mask == ANY_MASK else ()),
                   hypotheses=lambda q: [q.at_least(q.dot(q.g, q.p), 0), q.at_least(q.dot(q.k, q.r), 0)]
                   + (hypotheses(q) if hypotheses else []), weights=weights)


def any_energy_rate(q):
    """dH/dt = <grad L, dw> + <grad K(s), ds> with grad K(s) the free vector k."""
    return q.dot(q.g, q.dw) + q.dot(q.k, q.ds[0])


def _stated(q, system, key):
    return system.stated[key](*_at(q)) if key in system.stated else system.params[key](*_at(q))


ANY_ENERGY_2_1 = [
    any_energy_flow("Thm. 2.1, dH identity", ANY_MASK,
                    lambda q, sys: q.equal(any_energy_rate(q), _stated(q, sys, "dH"))),
    any_energy_flow("Thm. 2.1, dL identity", ANY_MASK, lambda q, sys: q.equal(q.dL, _stated(q, sys, "dL"))),
    any_energy_flow("Thm. 2.1, dH <= -Delta_H with 1(x >= 0)", dyn.CAUTIOUS_GE,
                    lambda q, sys: q.at_most(any_energy_rate(q), -_stated(q, sys, "delta_H"))),
    any_energy_flow("Thm. 2.1, dL <= -Delta_L with 1(x >= 0)", dyn.CAUTIOUS_GE,
                    lambda q, sys: q.at_most(q.dL, -_stated(q, sys, "delta_L")))]


IDENTITIES_2_1 = (("dH identity", rate_is("H")), ("dL identity", rate_is("L")))
CONSEQUENCES_2_1 = (("dH <= -Delta_H", rate_at_most("H", "delta_H")), ("dL <= -Delta_L", rate_at_most("L", "delta_L")),
                    ("dL <= 0", rate_at_most("L")))
# the paper's masks: (K, mask, one value per vector); eq. (1)'s rescaling and the inner-product mask are not sums of
# coordinate terms, so their identities are the every-mask identity (mask values free)
MASKS_2_1 = {"cautious_eq1": (dyn.K_QUADRATIC, dyn.EQ1_DEFAULT, True),
             "cautious_indicator": (dyn.K_QUADRATIC, dyn.CAUTIOUS_GT, False),
             "cautious_ge_l1": (dyn.K_L1, dyn.CAUTIOUS_GE, False),
             "cautious_phi_c": (dyn.K_QUADRATIC, dyn.SYSTEMS["cautious_phi_c"].params["phi"], False),
             "cautious_inner": (dyn.K_QUADRATIC, dyn.INNER_GE, True)}
# the inner-product mask stays searched: its (Phi, Psi) = (c_phi x, c_psi x) swept over the boundary c = 0 and beyond
INNER_SWEEP = ((0.0, 0.0), (0.1, 0.5), (2.0, 0.0), (0.0, 2.0))


def identities_2_1(label, K, mask, per_vector):
    """Thm. 2.1's identities for ``mask``; with the mask's values free when it gives ``per_vector`` values that are
    not a sum of coordinate terms (eq. (1)'s rescaling, the inner-product mask): the every-mask identity."""
    return [system_5(f"{label}: {what}", K, ANY_MASK if per_vector else mask, c) for what, c in IDENTITIES_2_1]


def consequences_2_1(label, K, mask, coefficients=None):
    """Thm. 2.1's consequences dH/dt <= -Delta_H, dL/dt <= -Delta_L and dL/dt <= 0 for ``mask``."""
    return [system_5(f"{label}: {what}", K, mask, c, coefficients) for what, c in CONSEQUENCES_2_1]


@cl.register("cautious.2.1", source="Thm. 2.1", kind="continuous",
             statement="System (5): dH/dt = x^T(1 - phi(x)) - Delta_H and dL/dt = -x^T phi(x) - |grad L|_Phi^2 = "
             "x^T(1 - phi(x)) - Delta_L; with x^T(1-phi) <= 0 both decrease at least as fast as in (2), "
             "with x^T phi >= 0 L decreases.")
def thm_2_1(mask=None):
    """Thm. 2.1 of the Cautious paper, system (5) with Phi(x) = c_phi x, Psi(x) = c_psi x (c >= 0):
    dH/dt = x^T(1 - phi(x)) - Delta_H, dL/dt = -x^T phi(x) - c_phi |g|^2 for the masks of eq. (1), 1(x > 0),
    1(x >= 0) (K = |s|_1), phi_c and the inner-product mask; dH/dt <= -Delta_H, dL/dt <= -Delta_L, dL/dt <= 0 for
    those with x^T(1 - phi) <= 0 (the inner-product mask's searched at four (c_phi, c_psi): it is not a sum of
    coordinate terms). ``mask``: a user's mask ``mask(ops, u, s)`` (:mod:`ams_theory.claims.custom`) in place of
    the paper's, for K = |s|^2/2 and |s|_1."""
    if mask is not None:
        name, per_vector = getattr(mask, "name", "mask"), getattr(mask, "kind", None) == "inner"
        return [f for K in (dyn.K_QUADRATIC, dyn.K_L1) for label in [f"{name}, K = {K.name}"]
                for f in identities_2_1(label, K, mask, per_vector) + consequences_2_1(label, K, mask)]
    identities = [f for label, (K, phi, per_vector) in MASKS_2_1.items()
                  for f in identities_2_1(label, K, phi, per_vector)]
    consequences = [f for label, (K, phi, per_vector) in MASKS_2_1.items() if not per_vector
                    for f in consequences_2_1(label, K, phi)]
    K, inner, _ = MASKS_2_1["cautious_inner"]
    sweep = [f for cp, cs in INNER_SWEEP for f in consequences_2_1(
        f"cautious_inner (c_phi={cp}, c_psi={cs})", K, inner, (sp.Rational(str(cp)), sp.Rational(str(cs))))]
    return cl.Judgement(identities + consequences + sweep + ANY_ENERGY_2_1, notes={"proof scope": (
        "identities for every c_phi, c_psi >= 0, with the mask itself where it is a sum of coordinate terms, with "
        "its values free otherwise (eq. (1)'s rescaling, the inner-product mask); consequences proved per "
        "coordinate for the elementwise masks; the inner-product mask's searched exactly at four (c_phi, c_psi); "
        "eq. (1)'s default mask violates x^T(1 - phi) <= 0 (cautious.eq6.default). Beyond K = |s|^2/2, |s|_1 and "
        "linear Phi, Psi: the identities for every mask and the consequences for 1(x >= 0) are proved for every K, "
        "Phi, Psi with <x, Phi(x)> >= 0, <x, Psi(x)> >= 0 (grad K(s), Phi, Psi free at the state)")})


ADAM = {"a": cl.Range(0, lo_open=True), "b": cl.Range(0, lo_open=True), "e": cl.Range(0)}   # Example A.1's rates
A, B, E = (ADAM[k].symbol(k) for k in ("a", "b", "e"))          # their symbols, as the proofs read them


def adam(e=None, **system):
    """Continuous Adam (Example A.1 of the Cautious paper, :func:`ams_theory.engines.dynamics.adam`) at the claim's
    a, b, e (``e``: at that value); ``system``: cautious, eps_in_sqrt."""
    return lambda q: dyn.adam("adam", a=q.a, b=q.b, e=q.e if e is None else e, **system)


def adam_flow(name, conclusion, hypotheses=None, e=None, **system):
    """Continuous Adam as a Flow over the state (m, v), v > 0, for every a, b > 0 and e >= 0 (``e``: at that
    value)."""
    hyper = ADAM if e is None else {k: r for k, r in ADAM.items() if k != "e"}
    return dynamics_flow(name, adam(e, **system), conclusion, state=("m", "v"), positive=("v",), hyper=hyper,
                         hypotheses=hypotheses)


def a_at_least_b_over(k):
    """The hypothesis a >= b/k."""
    return lambda q: [q.at_least(q.a, q.b / k)]


@cl.register("cautious.A1", source="Example A.1", kind="continuous",
             statement="Continuous Adam with H = L + 1/(2a)<m/(sqrt(v)+e), m>: dH/dt <= 0 when a >= b/4.")
def example_a1():
    """Example A.1 of the Cautious paper: dH/dt <= 0 for all a, b > 0 with a >= b/4 (the boundary included),
    e >= 0, v > 0; beside it, the condition is needed: with a <= b/4 dH/dt > 0 somewhere (exact witness)."""
    return cl.Judgement(
        adam_flow("adam: dH <= 0 (a >= b/4)", rate_at_most("H"), a_at_least_b_over(4)),
        beside={"a <= b/4 (condition violated)": adam_flow("adam: dH <= 0 (a <= b/4)", rate_at_most("H"),
                                                           lambda q: [q.at_most(q.a, q.b / 4)])})


@cl.register("cautious.A3.1.formula", source="§A.3.1", kind="continuous",
             statement="dH/dt = -(b/4a)<m^2/(v^{3/2} + e), g^2> - (1 - b/4a)<m/(sqrt(v) + e), m> for continuous "
             "Adam.")
def a31_formula():
    """§A.3.1 of the Cautious paper: Adam's dH/dt = -(b/4a)<m^2/(v^{3/2} + e), g^2> - (1 - b/4a)<m/(sqrt(v) + e), m>;
    corrected: with D = sqrt(v) + e, dH/dt = -<m^2, 1/D> + (b/4a)<m^2 sqrt(v), 1/D^2>
    - (b/4a)<m^2 g^2, 1/(D^2 sqrt(v))>, equal to the stated form at e = 0."""
    stated_at_e0 = adam_flow("stated closed form, e = 0", rate_is("H"), e=0)
    derived = adam_flow("derived closed form", rate_is("H", "dH_with_e"))
    return cl.Judgement(
        adam_flow("stated closed form", rate_is("H")), correction=derived,
        correction_statement="with D = sqrt(v) + e: dH/dt = -<m^2, 1/D> + (b/4a)<m^2 sqrt(v), 1/D^2> - "
        "(b/4a)<m^2 g^2, 1/(D^2 sqrt(v))>; it reduces to the stated form at e = 0",
        why="the closed form places e wrongly (v^{3/2} + e and sqrt(v) + e in the second term)",
        beside={"stated form at e = 0": stated_at_e0},
        repairs=(repairs.Edit("add hypothesis", "e = 0", stated_at_e0),
                 repairs.Edit("hand-written correction", "the closed form derived with D = sqrt(v) + e (three terms)",
                              derived, size=3),
                 *term_edits("stated closed form", adam(), "dH", "H", state=("m", "v"), positive=("v",), eps=E,
                             hyper=ADAM)))


def cautious_adam(name, conclusion, hypotheses=None, printed_h=False):
    """Cautious Adam (w' = -1(g o m > 0) o m/(sqrt(v) + e)) with H of (12), or with the cautious paragraph's
    printed H = L + <m/sqrt(v + e), m>/(2a) (``printed_h``)."""
    return adam_flow(name, conclusion, hypotheses, cautious=True, eps_in_sqrt=printed_h)


@cl.register("cautious.A3.1.cadam", source="§A.3.1", kind="continuous",
             statement="Cautious Adam (w' = -1(g o m > 0) o m/(sqrt(v)+e)): dL/dt = -g^T(1(g o m > 0) o m/(sqrt(v)+e)) "
             "<= 0 and H = L + 1/(2a)<m/sqrt(v + e), m> (as printed in the cautious paragraph) still decreases.")
def a31_cautious_adam():
    """§A.3.1 of the Cautious paper, cautious Adam: dL/dt = -g^T(1(g o m > 0) o m/(sqrt(v) + e)) <= 0, and
    dH/dt <= 0 for H = L + <m/sqrt(v + e), m>/(2a) as printed (not (12)'s L + <m/(sqrt(v) + e), m>/(2a)), under
    the Adam paragraph's a >= b/4."""
    of_12 = cautious_adam("dH <= 0, H of (12), a >= b/4", rate_at_most("H"), a_at_least_b_over(4))
    return cl.Judgement(
        [cautious_adam("dL identity", rate_is("L")), cautious_adam("dL <= 0", rate_at_most("L")),
         cautious_adam("dH <= 0, H with sqrt(v + e) as printed, a >= b/4", rate_at_most("H"), a_at_least_b_over(4),
                       printed_h=True)],
        correction=of_12,
        correction_statement="with (12)'s Hamiltonian H = L + <m/(sqrt(v) + e), m>/(2a) and Adam's condition "
        "a >= b/4, H decreases along cautious Adam; dL/dt identity and dL/dt <= 0 as printed",
        why="the printed sqrt(v + e) does not match the field's sqrt(v) + e",
        beside={"H of (12), a <= b/4": cautious_adam("dH <= 0, H of (12), a <= b/4", rate_at_most("H"),
                                                     lambda q: [q.at_most(q.a, q.b / 4)])},
        repairs=(repairs.Edit("move eps", "move e out of the root in H: sqrt(v + e) -> sqrt(v) + e, which is (12)'s H",
                              of_12),
                 repairs.Edit("add hypothesis", "e = 0", adam_flow(
                     "printed H, e = 0", rate_at_most("H"), a_at_least_b_over(4), e=0, cautious=True,
                     eps_in_sqrt=True)),
                 repairs.Edit("add hypothesis", "a >= b/2 (a stronger condition)", cautious_adam(
                     "printed H, a >= b/2", rate_at_most("H"), a_at_least_b_over(2), printed_h=True)),
                 repairs.Edit("move eps", "(12)'s H without Adam's condition a >= b/4",
                              cautious_adam("H of (12), any a", rate_at_most("H")))))


def signed_momentum(name, conclusion, cautious=False):
    """Signed momentum (§A.3.2 of the Cautious paper): w' = -sign(m) [o 1(g o m > 0)], m' = g - m, H = L + |m|_1
    (the engine's ``signed_momentum`` and ``cautious_signed_momentum`` systems)."""
    system = dyn.SYSTEMS["cautious_signed_momentum" if cautious else "signed_momentum"]
    return dynamics_flow(name, lambda q: system, conclusion)


@cl.register("cautious.A3.2", source="§A.3.2", kind="continuous",
             statement="Signed momentum: H = L + |m|_1 has dH/dt = -|m|_1; cautious form: dL/dt = "
             "-|g o 1(g o m > 0)|_1 and H still decreases.")
def a32():
    """§A.3.2 of the Cautious paper: dH/dt = -|m|_1 for signed momentum; for its cautious form
    dL/dt = -|g o 1(g o m > 0)|_1 and dH/dt <= 0."""
    return [signed_momentum("dH = -|m|_1", rate_is("H")),
            signed_momentum("cautious dL identity", rate_is("L"), cautious=True),
            signed_momentum("cautious dH <= 0", rate_at_most("H"), cautious=True)]


LION = {"alpha": cl.Range(0, lo_open=True), "gamma": cl.Range(0), "epsilon": cl.Range(0, lo_open=True)}


def eps_gamma_at_most_1(q):
    """eps gamma <= 1: H = alpha L + (1 - eps gamma)|m|_1 is bounded below."""
    return [q.at_most(q.epsilon * q.gamma, 1)]


def lion(reading="printed", cautious=False):
    """Lion (§A.3.3 of the Cautious paper) at the claim's alpha, gamma, eps, under one reading of its sign convention
    (:data:`ams_theory.engines.dynamics.LION_READINGS`)."""
    return lambda q: dyn.lion("lion", q.alpha, q.gamma, q.epsilon, cautious=cautious, reading=reading)


def lion_flow(name, conclusion, reading="printed", cautious=False):
    """Lion as a Flow, for alpha > 0, gamma >= 0, eps > 0 with eps gamma <= 1."""
    return dynamics_flow(name, lion(reading, cautious), conclusion, hyper=LION, hypotheses=eps_gamma_at_most_1)


# what each reading is judged on: (label, cautious, conclusion)
LION_STATEMENTS = (("stated dH/dt", False, rate_is("H")), ("Lion dH <= 0", False, rate_at_most("H")),
                   ("cautious Lion dH <= 0", True, rate_at_most("H")),
                   ("cautious Lion dL identity", True, rate_is("L")))
LION_CORRECTED = (("derived dH/dt", False, rate_is("H", "dH_derived")),
                  ("Lion dH <= -gamma |m~|_1", False, rate_at_most("H", "gamma_m_tilde")),
                  ("cautious Lion dH <= 0", True, rate_at_most("H")), ("cautious Lion dL identity", True, rate_is("L")))
CORRECTED_READINGS = ("m_tilde_ahead", "descent_momentum")       # m~ = m + eps m'


@cl.register("cautious.A3.3", source="§A.3.3", kind="continuous",
             statement="Lion: H = alpha L + (1 - eps gamma)|m|_1, dH/dt = -(1 - eps gamma)|m~|_1 - gamma|m|_1; "
             "cautious Lion keeps H decreasing and has dL/dt = -|g o 1(g o m~ > 0)|_1.")
def a33():
    """§A.3.3 of the Cautious paper: dH/dt = -(1 - eps gamma)|m~|_1 - gamma|m|_1 and, for cautious Lion,
    dL/dt = -|g o 1(g o m~ > 0)|_1. As printed m' = alpha g - gamma m while m~ = m - eps(alpha g + gamma m) follows
    the other sign convention; every reading is judged beside (the stated rate, H's monotonicity for Lion and
    cautious Lion, the cautious dL/dt identity); corrected: with m~ = m + eps m' and 0 <= eps gamma <= 1,
    dH/dt = -(1/eps)(|m~|_1 + c|m|_1 - c<m, sign(m~)> - c<m~, sign(m)>) <= -gamma|m~|_1, c = 1 - eps gamma."""
    given = [*(repairs.Edit("reading", f"read the dynamics as {reading}: stated dH/dt",
                            lion_flow(f"{reading}: stated dH/dt", rate_is("H"), reading))
               for reading in CORRECTED_READINGS),
             *(repairs.Edit("reading", f"read the dynamics as {reading}: Lion's H decreases",
                            lion_flow(f"{reading}: Lion dH <= 0", rate_at_most("H"), reading))
               for reading in CORRECTED_READINGS),
             repairs.Edit("add hypothesis", "as printed, with eps gamma <= 1: Lion's H decreases",
                          lion_flow("printed: Lion dH <= 0", rate_at_most("H"))),
             repairs.Edit("hand-written correction", "m~ = m + eps m' and the rate derived here",
                          lion_flow("m_tilde_ahead: derived dH/dt", rate_is("H", "dH_derived"), "m_tilde_ahead"),
                          size=2)]
    return cl.Judgement(
        [lion_flow("stated dH/dt (as printed)", rate_is("H")),
         lion_flow("cautious Lion dL identity (as printed)", rate_is("L"), cautious=True)],
        correction=[lion_flow(f"{reading}: {label}", c, reading, cautious)
                    for reading in CORRECTED_READINGS for label, cautious, c in LION_CORRECTED],
        correction_statement="read with m~ = m + eps m' (m' = alpha g - gamma m, w' = -sign(m~); or m' = -alpha g - "
        "gamma m, w' = sign(m~)) and 0 <= eps gamma <= 1: dH/dt = -(1/eps)(|m~|_1 + c|m|_1 - c<m, sign(m~)> - "
        "c<m~, sign(m)>) <= -gamma|m~|_1 <= 0 with c = 1 - eps gamma, cautious Lion's H decreases, and "
        "dL/dt = -|g o 1(g o m~ > 0)|_1 (the mask taken against the update direction)",
        why="the stated dH/dt disagrees with the true rate as printed (each reading of the sign convention is "
            "judged beside)",
        beside={f"reading {reading}: {label}": lion_flow(f"{reading}: {label}", c, reading, cautious)
                for reading in dyn.LION_READINGS for label, cautious, c in LION_STATEMENTS},
        repairs=tuple(given + term_edits("printed", lion(), "dH", "H", hyper=LION, hypotheses=eps_gamma_at_most_1)))


LION_K = {"a": cl.Range(0), "b": cl.Range(0, 1, hi_open=True)}    # Example A.2: a >= 0, b in [0, 1)


ANY_CONVEX_K = "any convex K with its minimum at 0 (its gradient free)"


def lion_k_any(b, conclusion, name, weights):
    """Example A.2's Lion-K (the dynamics engine's field) for every convex K with its minimum at 0; ``b``: a Range,
    or the number 0 or 1. grad K is read at y = (1-b)m - b g (the field) and, where the energy reads K, at
    z = (1-b)m, as the free vectors ``ky`` and ``kz`` (one vector ``kz`` at b = 0, where y = z; ``ky`` alone at
    b = 1, where z = 0). They satisfy what convexity with the minimum at 0 gives at the points read, and nothing
    else: <k_p, p> >= 0 at each (K(0) >= K(p) + <grad K(p), 0 - p>) and <kz - ky, z - y> >= 0 (a monotone
    gradient). ``conclusion(q)`` reads the field (``q.dw``, ``q.ds``); ``weights(hp)``: one multiplier per
    hypothesis, in the order monotone gradient (two points only), at y, at z
    (:class:`~ams_theory.claims.language.Flow`)."""
    b_of = (lambda q: q.b) if isinstance(b, cl.Range) else (lambda q: sp.Integer(b))
    vectors = {0: ("kz",), 1: ("ky",)}.get(b, ("ky", "kz")) if not isinstance(b, cl.Range) else ("ky", "kz")
    at_y = "kz" if vectors == ("kz",) else "ky"

    def points(q):
        z = (1 - b_of(q)) * q.s
        return {"kz": z, "ky": z - b_of(q) * q.g}

    def hypotheses(q):
        p = points(q)
        out = [q.at_least(q.dot(getattr(q, k), p[k]), 0) for k in vectors]
        if len(vectors) == 2:
            out.insert(0, q.at_least(q.dot(q.kz - q.ky, p["kz"] - p["ky"]), 0))
        return out

    def field(q):
        K = dyn.Kinetic(ANY_CONVEX_K, None, lambda ops, x: getattr(q, at_y))
        dw, ds = dyn.lion_k("lion_k", K, a=q.a, b=b_of(q)).field(*_at(q))
        return dw, [ds]
    return cl.Flow(name, field=field, conclusion=conclusion, state=("s",), vectors=vectors,
                   hyper={"a": cl.Range(0)} | ({"b": b} if isinstance(b, cl.Range) else {}), hypotheses=hypotheses,
                   weights=weights)


def lion_k_rate(q):
    """dH/dt for H = aL + K((1-b)m)/(1-b), by the chain rule: a<grad L, w'> + <grad K((1-b)m), m'> (grad K((1-b)m)
    the free vector kz)."""
    return q.a * q.dot(q.g, q.dw) + q.dot(q.kz, q.ds[0])


@cl.register("cautious.A2", source="Example A.2", kind="continuous",
             statement="Lion-K (w' = grad K((1-b)m - b g), m' = -a(g + m)) with H = aL + K((1-b)m)/(1-b) has dH/dt <= "
             "0, for a >= 0, b in [0, 1] and K convex with its minimum at 0.")
def example_a2():
    """Example A.2 of the Cautious paper: dH/dt = -a<grad K(z) - grad K(y), g> - (a/(1-b))<grad K(z), z> <= 0 with
    z = (1-b)m, y = z - b g, for every convex K with its minimum at 0, a >= 0 and b in [0, 1); at b = 1, which the
    printed range includes, H divides by 0, and H = aL takes its place (dH/dt = a<g, grad K(-g)> <= 0)."""
    descent = lambda q: q.at_most(lion_k_rate(q), 0)
    return cl.Judgement(
        [lion_k_any(cl.Range(0, 1, lo_open=True, hi_open=True), descent, "every convex K, b in (0, 1)",
                    lambda hp: (hp.a / hp.b, 0, hp.a / (1 - hp.b))),
         lion_k_any(0, descent, "every convex K, b = 0", lambda hp: (hp.a,))],
        undefined=("b < 1", "at b = 1 (in the printed range [0, 1]) H = aL + K((1-b)m)/(1-b) divides by 0"),
        correction=lion_k_any(1, lambda q: q.at_most(q.a * q.dot(q.g, q.dw), 0), "every convex K, b = 1, H = aL",
                              lambda hp: (hp.a,)),
        correction_statement="at b = 1 take H = aL: dH/dt = a<grad L, grad K(-grad L)> <= 0 for every convex K with "
        "its minimum at 0 (on [0, 1) the printed H, proved for every such K)",
        beside={f"K = {K.name}, b in [0, 1)": dynamics_flow(
            f"K = {K.name}", lambda q, K=K: dyn.lion_k("lion_k", K, a=q.a, b=q.b), rate_at_most("H"), hyper=LION_K)
            for K in (dyn.K_L1, dyn.K_QUADRATIC)})


# ----------------------------------------------------------------------------- the AMS/Grams paper, Appendix E

def x_of(q, K):
    """x = grad L o grad K(s), the product the masks read."""
    return q.g * K.grad(q.ops, q.s)


def below_zero(q, x):
    """<x, 1 - 1(x >= 0)>: the sum of the negative x_i."""
    return q.total(x * (1 - q.indicator(x)))


def delta_h_eq_16(q, K):
    """Delta_H as eq. (16) of the AMS/Grams paper writes it, <grad L, Phi(grad L)> + <K(s), Psi(K(s))>: K(s) is a
    number, so <K(s), Psi(K(s))> = c_psi K(s)^2, well-formed for d = 1 (where it is what the paper writes)."""
    return q.c_phi * q.norm2(q.g) + q.c_psi * K.value(q.ops, q.s) ** 2


def rate_with_eq_16(q, of):
    """Thm. E.2's dH/dt = <x, 1 - 1(x >= 0)> - Delta_H with Delta_H as eq. (16) writes it (:func:`delta_h_eq_16`),
    K = |s|_1."""
    return q.equal(q.dH, below_zero(q, x_of(q, dyn.K_L1)) - delta_h_eq_16(q, dyn.K_L1))


@cl.register("grams.E2", source="Thm. E.2", kind="continuous",
             statement="Cautious dynamics with 1(x >= 0): dH/dt = <x, 1 - 1(x >= 0)> - Delta_H, dL/dt = "
             "-<x, 1(x >= 0)> - <grad L, Phi(grad L)>, Delta_H as in eq. (16).")
def e2():
    """Thm. E.2 of the AMS/Grams paper, system (5) with 1(x >= 0) and K = |s|_1: dH/dt = <x, 1 - 1(x >= 0)> - Delta_H,
    dL/dt = -<x, 1(x >= 0)> - c_phi |g|^2. Eq. (16) writes Delta_H with <K(s), Psi(K(s))>; K(s) is a scalar, so the
    literal statement is well-formed for d = 1 only (ill-posed for d >= 2) and refuted there. With grad K(s) in its
    place (eq. (3) of the Cautious paper) the identities hold for every d."""
    K, mask = dyn.K_L1, dyn.CAUTIOUS_GE
    dh = system_5("dH identity", K, mask, rate_is("H"))
    return cl.Judgement(
        system_5("dH with eq. (16) as written (d = 1, where K(s) is a number)", K, mask, rate_with_eq_16),
        correction=[dh, system_5("dL identity", K, mask, rate_is("L"))],
        correction_statement="with Delta_H = <grad L, Phi(grad L)> + <grad K(s), Psi(grad K(s))> (eq. (3) of the "
        "Cautious paper) both identities hold; the 'hence' conditions <x, 1 - 1(x >= 0)> <= 0 and the resulting bounds "
        "hold for every x",
        why="eq. (16) writes <K(s), Psi(K(s))> (K a scalar): ill-posed for d >= 2; at d = 1, where it is well-formed, "
            "the identity fails",
        notes={"d >= 2": "ill-posed: <K(s), Psi(K(s))> pairs a scalar with a scalar where a vector is meant"},
        repairs=(repairs.Edit("replace", "K(s) -> grad K(s) in Delta_H (the evident object; eq. (3) of the Cautious "
                                         "paper)", dh),))


def grams_flow(name, K, conclusion, reading=GRAMS):
    """The Grams dynamics with kinetic energy ``K`` and ``H = L + K(s)``, for every c_phi, c_psi >= 0 (``reading``:
    :data:`GRAMS_OTHER` for Def. 5.6's other reading)."""
    return system_5(f"{name}, K = {K.name}" + ("" if reading == GRAMS else f", {reading}"), K, reading, conclusion)


GRAMS_READING = dyn.GRAMS_READINGS["sign(g) o |grad K|"]


def other_reading(claims_of):
    """Def. 5.6 read the other way (sign(g o |grad K|)), decided beside: ``claims_of(reading)`` -> the claims."""
    return {f"Def. 5.6 read as {dyn.GRAMS_READINGS[GRAMS_OTHER]}": claims_of(GRAMS_OTHER)}


def cautious_rate(q, K):
    """dL/dt of (5) with 1(x >= 0) and kinetic energy ``K`` at the claim's state: <g, dw_cautious>."""
    return q.dot(q.g, general(q, "cautious", K, dyn.CAUTIOUS_GE).field(*_at(q))[0])


def no_slower_than_cautious(K):
    """dL/dt of Grams <= dL/dt of the cautious system (mask 1(x >= 0)) with the same K, Phi, Psi, at the same
    state: <g, dw_Grams> <= <g, dw_cautious>."""
    return lambda q, of: q.at_most(q.dL, cautious_rate(q, K))


def e3_h(reading=GRAMS):
    return [grams_flow("Thm. E.3, dH/dt <= 0", K, rate_at_most("H"), reading) for K in (dyn.K_QUADRATIC, dyn.K_L1)]


def e3_l(reading=GRAMS):
    return [grams_flow("Thm. E.3, dL/dt <= -Delta_L", K, rate_at_most("L", "delta_L"), reading)
            for K in (dyn.K_QUADRATIC, dyn.K_L1)]


def e4_claims(reading=GRAMS):
    return [grams_flow("Thm. E.4", dyn.K_QUADRATIC, no_slower_than_cautious(dyn.K_QUADRATIC), reading)]


def e3_any_energy():
    """Thm. E.3 for every K, Phi, Psi the theorem allows (:func:`any_energy_flow`): dH/dt <= 0, dL/dt <= -Delta_L."""
    return (any_energy_flow("Thm. E.3, dH/dt <= 0", GRAMS, lambda q, sys: q.at_most(any_energy_rate(q), 0)),
            any_energy_flow("Thm. E.3, dL/dt <= -Delta_L", GRAMS,
                            lambda q, sys: q.at_most(q.dL, -_stated(q, sys, "delta_L"))))


def e4_any_energy():
    """Thm. E.4 for every K, Phi, Psi: dL/dt of Grams <= dL/dt of (5) with 1(x >= 0), the same grad K(s) and Phi."""
    def cautious(q):
        return q.dot(q.g, any_energy_system(q, "cautious", dyn.CAUTIOUS_GE).field(*_at(q))[0])
    return any_energy_flow("Thm. E.4", GRAMS, lambda q, sys: q.at_most(q.dL, cautious(q)))


E3_ANY_H, E3_ANY_L = e3_any_energy()
E3_H, E3_L, E4 = e3_h() + [E3_ANY_H], e3_l() + [E3_ANY_L], e4_claims() + [e4_any_energy()]


@cl.register("grams.E3.H", source="Thm. 5.7 / E.3", kind="continuous",
             statement="Grams Hamiltonian dynamics (Def. 5.6): dH/dt <= 0.")
def e3h():
    """Thm. 5.7 / E.3 of the AMS/Grams paper, for K = |s|^2/2 and |s|_1, every c_phi, c_psi >= 0."""
    return cl.Judgement(E3_H, reading=GRAMS_READING, beside=other_reading(e3_h))


@cl.register("grams.E3.L", source="Thm. 5.7 / E.3", kind="continuous",
             statement="Grams Hamiltonian dynamics: dL/dt <= -Delta_L.")
def e3l():
    """Thm. 5.7 / E.3 of the AMS/Grams paper: dL/dt <= -<g, grad K(s)> - c_phi |g|^2."""
    return cl.Judgement(E3_L, reading=GRAMS_READING, beside=other_reading(e3_l))


@cl.register("grams.E4", source="Thm. 5.8 / E.4", kind="continuous",
             statement="At every state, dL/dt of Grams dynamics <= dL/dt of cautious dynamics.")
def e4():
    """Thm. E.4 of the AMS/Grams paper: dL/dt(Grams) <= dL/dt(cautious, 1(x >= 0)) at every state, K = |s|^2/2."""
    return cl.Judgement(E4, reading=GRAMS_READING, beside=other_reading(e4_claims))


# ----------------------------------------------------------------------------- convergence (LaSalle)

MASK_CONDITION = "x^T(1 - phi(x)) <= 0"          # Thm. 2.1's condition on the mask, which Cor. 2.2 does not restate
EITHER_CONDITION = ("(i) grad K(s) = 0 only at s = 0, or (ii) Phi(x) = 0 wherever <x, Phi(x)> = 0")
LASALLE_SCOPE = ("every dimension; every K, Phi, Psi with <x, Phi(x)> >= 0, <x, Psi(x)> > 0 for x != 0, Psi(0) = 0 "
                 "and " + EITHER_CONDITION + " (K = |s|^2/2 meets (i); Phi(x) = c_phi x, c_phi >= 0, meets (ii)); "
                 "H C^1 and Phi, Psi continuous, masked fields in Filippov's sense")
ARGUMENT = ("On the omega-limit set of a bounded solution (compact, invariant), dH/dt = 0 (H decreases and is bounded "
            "below there). By (a) both terms of Delta_H vanish: <grad K(s), Psi(grad K(s))> = 0, so grad K(s) = 0, "
            "and <grad L, Phi(grad L)> = 0. By (b) the field there is w' = -Phi(grad L), s' = grad L. Under (i), "
            "grad K(s) = 0 forces s = 0 along the solution, so grad L = s' = 0. Under (ii), Phi(grad L) = 0, so w "
            "stays put and s(t) = s(0) + t grad L(w) stays bounded only if grad L(w) = 0. Either way every limit point "
            "has grad L = 0 and grad K(s) = 0: a stationary point of H.")


def lasalle_descent(label, mask, hypotheses=None, weights=None):
    """Condition (a) of the invariance argument for every K, Phi, Psi: dH/dt <= -Delta_H = -<grad L, Phi(grad L)>
    - <grad K(s), Psi(grad K(s))>, both terms >= 0, so dH/dt = 0 only where both vanish; ``hypotheses``,
    ``weights``: the mask condition of (5) and the multipliers that close it (:func:`any_energy_flow`)."""
    return any_energy_flow(f"{label}: dH/dt <= -Delta_H", mask, lambda q, sys: q.at_most(
        any_energy_rate(q), -q.dot(q.g, q.p) - q.dot(q.k, q.r)), hypotheses, weights)


def lasalle_rest(label, mask):
    """Condition (b): where grad K(s) = 0 (so Psi(grad K(s)) = Psi(0) = 0) the field is w' = -Phi(grad L),
    s' = grad L, for every K, Phi, Psi and every mask value."""
    def at_rest(q):
        return [q.equal(q.k, 0), q.equal(q.r, 0)]
    flow = any_energy_flow(f"{label}: at grad K(s) = 0, w' = -Phi(g) and s' = g", mask, lambda q, sys: q.equal(
        q.norm2(q.dw + q.p) + q.norm2(q.ds[0] - q.g), 0))
    return dataclasses.replace(flow, hypotheses=at_rest)


def masked_descent(label):
    """Condition (a) for (5) with every mask meeting Thm. 2.1's condition <g o grad K(s), 1 - phi> <= 0."""
    return lasalle_descent(label, ANY_MASK, lambda q: [q.at_most(q.total(q.g * q.k * (1 - q.phi)), 0)],
                           lambda hp: (0, 0, 1))


def lasalle_flows(systems):
    """``[(label, Flow)]``: conditions (a) and (b) for each of ``systems`` (label -> mask: None for (2),
    :data:`GRAMS`, or :data:`ANY_MASK` for (5) with every mask meeting :data:`MASK_CONDITION`)."""
    return [(f"{label}: (a)", masked_descent(label) if mask == ANY_MASK else lasalle_descent(label, mask))
            for label, mask in systems.items()] + [(f"{label}: (b)", lasalle_rest(label, mask))
                                                   for label, mask in systems.items()]


def lasalle_parts(systems, budget, seed):
    """The conditions of :func:`lasalle_flows` decided by the claim language: ``[(label, proof or None)]``."""
    out = []
    for label, flow in lasalle_flows(systems):
        v = cl.decide(flow, budget, seed)
        out.append((label, v.strength.proof if v.word == "holds" and v.strength.level == "proved" else None))
    return out


class _HalfSquare:
    """L(w) = |w|^2/2, exact (sympy)."""

    def value(self, w):
        return sum(x * x for x in w) / 2

    def grad(self, w):
        return SympyOps.asarray(list(w))


def _zero_mask_counterexample():
    """System (5) with the mask phi = 0, Phi = 0, Psi(x) = x, on L(w) = w^2/2 from (w, s) = (1, 0): the solution
    is w(t) = 1, s(t) = 1 - exp(-t) (checked exactly against the field), bounded, with limit (1, 1), where
    grad H = (1, 1) != 0. Returns the certificate and its exact re-check."""
    t = sp.Symbol("t", nonnegative=True)
    system = dyn.general("zero_mask", dyn.K_QUADRATIC, lambda ops, k, g: SympyOps.asarray([0] * len(k)), c_psi=1)
    loss = _HalfSquare()
    w, s = SympyOps.asarray([sp.Integer(1)]), SympyOps.asarray([1 - sp.exp(-t)])

    def recheck():
        dw, ds = system.field(dyn.SYM, loss, w, s)
        solves = sp.simplify(dw[0] - sp.diff(w[0], t)) == 0 and sp.simplify(ds[0] - sp.diff(s[0], t)) == 0
        limit = [sp.limit(x, t, sp.oo) for x in (w[0], s[0])]
        grad_h = (loss.grad(SympyOps.asarray([limit[0]]))[0], limit[1])
        return bool(solves and any(x != 0 for x in grad_h))

    cert = {"system": "(5) with phi = 0, Phi = 0, Psi(x) = x", "loss": "w^2/2", "w(t)": "1",
            "s(t)": "1 - exp(-t)", "limit": "(1, 1)", "grad H at the limit": "(1, 1)"}
    return cert, recheck


FLAT_RADIUS = sp.Integer(2)


def _flat_norm(ops, s):
    return sp.sqrt(sp.trigsimp(ops.dot(s, s)))


# K(s) = max(|s| - 2, 0)^2 / 2: convex (a nondecreasing convex function of the norm), C^1, minimum 0 on |s| <= 2
K_FLAT = dyn.Kinetic("max(|s| - 2, 0)^2/2", lambda ops, s: sp.Max(0, _flat_norm(ops, s) - FLAT_RADIUS) ** 2 / 2,
                     lambda ops, s: s * (sp.Max(0, _flat_norm(ops, s) - FLAT_RADIUS) / _flat_norm(ops, s)))


def _rotation(ops, x):
    """Phi(x) = (x_2, -x_1): monotone and <x, Phi(x)> = 0 >= 0, as the papers ask, yet Phi(x) != 0 for x != 0."""
    return SympyOps.asarray([x[1], -x[0]])


def periodic_counterexample(Phi=None):
    """Cor. 2.2 / 5.10 without (i) or (ii): K = :data:`K_FLAT`, Phi = :func:`_rotation` (or ``Phi``), Psi(x) = x
    (positive definite, Psi(0) = 0), L(w) = |w|^2/2, d = 2. Then (w, s)(t) = ((cos t, sin t), (sin t, -cos t))
    solves (2), the Grams dynamics and (5) with 1(x >= 0) exactly (grad K = 0 on |s| = 1), is bounded, and keeps
    |grad L| = 1: it stays at distance 1 from the stationary points (grad L = 0), so it converges to none of them.
    Returns the certificate and its exact re-check."""
    Phi = Phi or _rotation
    t = sp.Symbol("t", real=True)
    w, s = SympyOps.asarray([sp.cos(t), sp.sin(t)]), SympyOps.asarray([sp.sin(t), -sp.cos(t)])
    x, y = SympyOps.asarray(sp.symbols("x0:2", real=True)), SympyOps.asarray(sp.symbols("y0:2", real=True))
    loss, ops = _HalfSquare(), dyn.SYM
    systems = {"(2)": dyn.general("(2)", K_FLAT, None, Phi=Phi, Psi=lambda ops, v: v),
               "Grams (Def. 5.6)": dyn.general("grams", K_FLAT, None, grams=True, Phi=Phi,
                                               Psi=lambda ops, v: v),
               "(5) with 1(x >= 0)": dyn.general("(5)", K_FLAT, dyn.CAUTIOUS_GE, Phi=Phi, Psi=lambda ops, v: v)}

    def solves(system):
        dw, ds = system.field(ops, loss, w, s)
        return all(sp.simplify(a - sp.diff(b, t)) == 0 for a, b in zip(list(dw) + list(ds), list(w) + list(s)))

    def recheck():
        hypotheses = [sp.expand(ops.dot(x, Phi(ops, x))) == 0,                        # <x, Phi(x)> = 0 >= 0
                      sp.expand(ops.dot(Phi(ops, x) - Phi(ops, y), x - y)) == 0,    # monotone
                      sp.simplify(K_FLAT.value(ops, s)) == 0]                         # at the minimum of K
        bounded = sp.simplify(ops.dot(w, w)) == 1 and sp.simplify(ops.dot(s, s)) == 1
        away = sp.simplify(ops.dot(loss.grad(w), loss.grad(w))) == 1
        return bool(all(hypotheses) and bounded and away and all(solves(sys) for sys in systems.values()))

    cert = {"K": f"{K_FLAT.name} (convex, C^1, minimum 0 on |s| <= 2)", "Phi": "(x_2, -x_1) (monotone, "
            "<x, Phi(x)> = 0)", "Psi": "x", "loss": "|w|^2/2", "d": 2, "w(t)": "(cos t, sin t)",
            "s(t)": "(sin t, -cos t)", "systems": list(systems), "|grad L(w(t))|": "1 for every t",
            "why": "grad K = 0 on the whole orbit, so the damping Psi never acts, and Phi turns the gradient "
                   "without shrinking it: dH/dt = -<g, Phi(g)> = 0 with g != 0"}
    return cert, recheck


def convergence_check(systems, masks_text, budget, seed, runs):
    """Cor. 2.2 / 5.10 judged: conditional on :data:`EITHER_CONDITION` (and, for a system with every mask
    (:data:`ANY_MASK`), on :data:`MASK_CONDITION`), proved by LaSalle's principle with its pointwise conditions
    proved for every K, Phi, Psi; refuted as printed by the exact periodic solution (and phi = 0 for (5))."""
    parts = lasalle_parts(systems, budget, seed)
    cert, recheck = periodic_counterexample()
    masked = ANY_MASK in systems.values()
    condition = EITHER_CONDITION + (f"; for (5), {MASK_CONDITION}" if masked else "")
    summary = (f"holds when {condition} (not stated): bounded solutions of {masks_text} converge to the set of "
               "stationary points of H, for every K, Phi, Psi the papers allow that meet it (LaSalle, pointwise "
               "conditions proved for every dimension); as printed refuted: with K flat near 0 and a rotation for "
               "Phi, an exact bounded periodic solution keeps |grad L| = 1")
    if masked:
        summary += "; and phi = 0 gives a bounded solution with a non-stationary limit"
    verdict = convergence_verdict("conditional", summary, parts, runs, LASALLE_SCOPE)
    verdict.evidence["argument from (a) and (b)"] = ARGUMENT
    verdict.evidence[f"without {EITHER_CONDITION}"] = {**cert, "rechecked_exactly": recheck()}
    if masked:
        zero, zero_recheck = _zero_mask_counterexample()
        verdict.evidence[f"without {MASK_CONDITION}"] = {**zero, "rechecked_exactly": zero_recheck()}
    return verdict


@register("cautious.2.2", source="Cor. 2.2", kind="continuous",
          statement="With |.|_Psi positive definite and Psi(0) = 0, bounded solutions of (2) and of (5) converge to "
          "stationary points of H.")
def check_2_2(budget="standard", seed=0):
    """Cor. 2.2 of the Cautious paper, by LaSalle's principle (:data:`ams_theory.claims.flows.LASALLE`,
    :data:`ARGUMENT`). It needs a condition the corollary does not state, (i) grad K(s) = 0 only at s = 0 or (ii)
    Phi(x) = 0 wherever <x, Phi(x)> = 0 (without it an exact periodic solution refutes it), and for (5) Thm. 2.1's
    mask condition x^T(1 - phi(x)) <= 0, which it does not restate (phi = 0: an exact counterexample)."""
    runs = trajectory_illustration(("heavy_ball", "cautious_indicator", "cautious_eq1"), budget, seed)
    verdict = convergence_check({"(2)": None, "(5)": ANY_MASK},
                                "(2), and of (5) for masks with x^T(1 - phi(x)) <= 0 (1(x > 0), 1(x >= 0), phi_c; "
                                "eq. (1)'s default mask violates it, cautious.eq6.default)", budget, seed, runs)
    return verdict


@register("grams.5.10", source="Cor. 5.10", kind="continuous",
          statement="Bounded solutions of (15) and of the Grams dynamics (Def. 5.6) converge to stationary points of "
                    "H.")
def check_5_10(budget="standard", seed=0):
    """Cor. 5.10 of the AMS/Grams paper, by LaSalle's principle: Grams' field needs no mask condition, but both
    systems need (i) or (ii) (:func:`check_2_2`). Def. 5.6 read as sign(g o |grad K(s)|) breaks condition (a)."""
    runs = trajectory_illustration(("heavy_ball", "grams"), budget, seed)
    verdict = convergence_check({"(15)": None, "Grams (Def. 5.6)": GRAMS}, "(15) and of the Grams dynamics",
                                budget, seed, runs)
    verdict.reading = f"{GRAMS_READING}; {SET_READING}"
    other = cl.decide(lasalle_descent("Grams, sign(g o |grad K|)", GRAMS_OTHER), budget, seed)
    verdict.evidence["Def. 5.6 read as sign(g o |grad K(s)|)"] = {
        "condition (a)": other.word, "strength": other.strength.level, "summary": other.summary,
        "so": "the argument needs the reading sign(g) o |grad K(s)|"}
    return verdict


# ----------------------------------------------------------------------------- system (2) / (15) and the text around
# Thm. 2.1 of the Cautious paper and Thms. E.2, 5.7, 5.8 of the AMS/Grams paper

KINETIC = (dyn.K_QUADRATIC, dyn.K_L1)          # the kinetic energies every claim below is proved for


def scope(systems):
    """The note saying what a proof below covers: ``systems``, for every dimension and state, K = |s|^2/2 and
    |s|_1, Phi(x) = c_phi x, Psi(x) = c_psi x with every c_phi, c_psi >= 0."""
    return {"proof scope": f"{systems}; every dimension and state; K = |s|^2/2 and |s|_1; Phi(x) = c_phi x, "
                           "Psi(x) = c_psi x for every c_phi, c_psi >= 0"}


EVERY_ENERGY = {"proof scope": "system (2): every dimension and state, for K = |s|^2/2 and |s|_1 with "
                               "Phi(x) = c_phi x, Psi(x) = c_psi x (every c >= 0), and for every K, Phi, Psi with "
                               "<x, Phi(x)> >= 0, "
                               "<x, Psi(x)> >= 0 (grad K(s), Phi, Psi free at the state, the rate of H by the chain "
                               "rule)"}


def system_2(name, K, conclusion, coefficients=None):
    """System (2) of the Cautious paper (= (15) of the AMS/Grams paper) with kinetic energy ``K`` as a Flow, for
    every c_phi, c_psi >= 0 or at ``coefficients``."""
    return system_5(f"{name}, K = {K.name}", K, None, conclusion, coefficients)


def rate_is_minus(which, allowance):
    """d<which>/dt == -allowance (a system's parameter, e.g. ``delta_H``)."""
    return lambda q, of: q.equal(_rate(q, which), -of(allowance))


def h_constant_without_damping(K):
    """With Phi = Psi = 0, H is constant along (2): dH/dt = 0."""
    return system_2("Phi = Psi = 0: dH = 0", K, lambda q, of: q.equal(q.dH, 0), coefficients=(0, 0))


@cl.register("cautious.eq3", source="eq. (3)", kind="continuous",
             statement="Along system (2), H changes at the rate -Delta_H, Delta_H = |grad L|_Phi^2 + "
             "|grad K(s)|_Psi^2, which is never positive.")
def eq_3():
    """Eq. (3) of the Cautious paper, system (2): dH/dt = -Delta_H <= 0, Delta_H = |g|_Phi^2 + |grad K(s)|_Psi^2,
    for K = |s|^2/2 and |s|_1, Phi(x) = c_phi x, Psi(x) = c_psi x, every c_phi, c_psi >= 0."""
    return cl.Judgement([f for K in KINETIC for f in (system_2("dH = -Delta_H", K, rate_is_minus("H", "delta_H")),
                                                      system_2("dH <= 0", K, rate_at_most("H")))]
                        + [any_energy_flow("eq. (3), dH = -Delta_H", None, lambda q, sys: q.equal(
                            any_energy_rate(q), -_stated(q, sys, "delta_H"))),
                           any_energy_flow("eq. (3), dH <= 0", None, lambda q, sys: q.at_most(any_energy_rate(q), 0))],
                        notes=EVERY_ENERGY)


@cl.register("cautious.eq4", source="eq. (4)", kind="continuous",
             statement="Along system (2), L changes at the rate -Delta_L, Delta_L = <grad L, grad K(s)> + "
             "|grad L|_Phi^2, which may be negative.")
def eq_4():
    """Eq. (4) of the Cautious paper, system (2): dL/dt = -Delta_L, Delta_L = <g, grad K(s)> + |g|_Phi^2, for
    K = |s|^2/2 and |s|_1, Phi(x) = c_phi x, Psi(x) = c_psi x, every c_phi, c_psi >= 0; beside, the text's remark
    that Delta_L may be negative: dL/dt <= 0 fails."""
    return cl.Judgement([system_2("dL = -Delta_L", K, rate_is_minus("L", "delta_L")) for K in KINETIC]
                        + [any_energy_flow("eq. (4), dL = -Delta_L", None, lambda q, sys: q.equal(
                            q.dL, -_stated(q, sys, "delta_L")))],
                        beside={f"Delta_L may be negative: dL <= 0 fails, K = {K.name}":
                                system_2("dL <= 0", K, rate_at_most("L")) for K in KINETIC},
                        notes=EVERY_ENERGY)


@cl.register("cautious.2.1.text", source="§2.1, text after (2)", kind="continuous",
             statement="With the damping terms Phi, Psi added, system (2) makes H monotonically non-decreasing "
             "(as printed).")
def text_2_1():
    """§2.1 of the Cautious paper, as printed: along (2), H is 'monotonically non-decreasing', dH/dt >= 0; refuted;
    corrected ('non-increasing'): dH/dt <= 0 (K = |s|^2/2 and |s|_1, Phi, Psi linear with c >= 0)."""
    increasing = [system_2("dH >= 0", K, lambda q, of: q.at_least(q.dH, 0)) for K in KINETIC]
    decreasing = [system_2("dH <= 0", K, rate_at_most("H")) for K in KINETIC]
    return cl.Judgement(
        increasing, correction=decreasing,
        correction_statement="H is monotonically non-increasing along (2): dH/dt = -Delta_H <= 0 (eq. (3))",
        why="'non-decreasing' says dH/dt >= 0, but the damping makes dH/dt = -Delta_H < 0 wherever Delta_H > 0",
        reading="the word as printed, 'non-decreasing' (dH/dt >= 0); eq. (3), printed after it, is cautious.eq3",
        beside={f"Phi = Psi = 0: H constant, K = {K.name}": h_constant_without_damping(K) for K in KINETIC},
        notes=scope("system (2)"),
        repairs=(repairs.Edit("replace", "'non-decreasing' -> 'non-increasing'", decreasing),))


def phi_condition(K, strict=True):
    """The introduction's condition on the mask's values at the state, x o phi > max(x, 0) (``strict``) or
    x o phi >= max(x, 0) (eq. (6))."""
    def hypotheses(q):
        x = x_of(q, K)
        return [q.greater_than(x * q.phi, q.relu(x)) if strict else q.at_least(x * q.phi, q.relu(x))]
    return hypotheses


def phi_condition_everywhere(K):
    """The condition as one on the function phi, for every x in R^d: at the state, and at the point z = 0, where
    phi takes the values ``phi_z``."""
    return lambda q: phi_condition(K)(q) + [q.equal(q.z, 0), q.greater_than(q.z * q.phi_z, q.relu(q.z))]


INTRO_CONCLUSIONS = (CONSEQUENCES_2_1[0], CONSEQUENCES_2_1[2])      # H keeps decreasing (dH <= -Delta_H), dL <= 0


def under_condition(label, hypotheses, vectors=()):
    """dH/dt <= -Delta_H and dL/dt <= 0 along (5), the mask's values free, under ``hypotheses(K)``."""
    return [system_5(f"{label}, K = {K.name}: {what}", K, ANY_MASK, c, hypotheses=hypotheses(K), vectors=vectors)
            for K in KINETIC for what, c in INTRO_CONCLUSIONS]


@cl.register("cautious.intro.condition", source="§1", kind="continuous",
             statement="A mask phi with x phi(x) > max(x, 0) keeps the base method's H decreasing and also makes the "
             "loss decrease.")
def intro_condition():
    """§1 of the Cautious paper: for phi with x phi(x) > max(x, 0) (for every x), system (5) keeps dH/dt <= -Delta_H
    and dL/dt <= 0. At x = 0 the condition reads 0 > 0: no phi meets it, so the statement is vacuous (proved).
    Corrected with '>=' (eq. (6)): both bounds hold for every mask meeting it (K = |s|^2/2 and |s|_1, Phi, Psi
    linear with c >= 0); beside, the condition read at the state only (where it needs every x_i != 0) holds too."""
    corrected = under_condition("x phi >= max(x, 0)", lambda K: phi_condition(K, strict=False))
    return cl.Judgement(
        under_condition("x phi(x) > max(x, 0) for every x", phi_condition_everywhere, ("z", "phi_z")),
        correction=corrected,
        correction_statement="with x phi(x) >= max(x, 0) per coordinate (eq. (6)): dH/dt <= -Delta_H <= 0 and "
        "dL/dt <= 0 along (5)",
        reading="a condition on the function phi, for every x in R^d (x = 0 included)",
        beside={"read at the state only (every x_i != 0 there)": under_condition("x phi > max(x, 0) at the state",
                                                                                   phi_condition)},
        notes={**scope("system (5), every mask (its values free)"),
               "vacuous": "at x = 0 the condition reads 0 > max(0, 0) = 0, which no value phi(0) meets"},
        repairs=(repairs.Edit("replace", "'>' -> '>=' (eq. (6))", corrected),))


# ----------------------------------------------------------------------------- the AMS/Grams paper, Def. E.1 and
# the text around Thms. E.2, 5.7 and 5.8

@cl.register("grams.E1", source="Def. E.1", kind="continuous",
             statement="Along (15), H is constant without damping and, with it, changes at the rate -Delta_H <= 0, "
             "Delta_H as eq. (16) writes it.")
def e1():
    """Def. E.1 of the AMS/Grams paper, system (15) = (2): dH/dt = 0 when Phi = Psi = 0, dH/dt = -Delta_H <= 0 with
    Delta_H of eq. (16), <grad L, Phi(grad L)> + <K(s), Psi(K(s))> (:func:`delta_h_eq_16`); K = |s|^2/2 and |s|_1,
    Phi, Psi linear with c >= 0. Refuted at d = 1 (ill-posed for d >= 2); corrected with grad K(s) in (16)."""
    constant = [h_constant_without_damping(K) for K in KINETIC]
    at_most_0 = [system_2("dH <= 0", K, rate_at_most("H")) for K in KINETIC]
    corrected = constant + [system_2("dH = -Delta_H", K, rate_is_minus("H", "delta_H")) for K in KINETIC] + at_most_0
    return cl.Judgement(
        constant + [system_2("dH = -Delta_H of eq. (16) as written", K,
                             lambda q, of, K=K: q.equal(q.dH, -delta_h_eq_16(q, K))) for K in KINETIC] + at_most_0,
        correction=corrected,
        correction_statement="with Delta_H = <grad L, Phi(grad L)> + <grad K(s), Psi(grad K(s))> (eq. (3) of the "
        "Cautious paper): H is constant without damping and dH/dt = -Delta_H <= 0",
        why="eq. (16) writes <K(s), Psi(K(s))> (K a scalar): ill-posed for d >= 2; at d = 1, where it is well-formed, "
            "the identity fails",
        reading="eq. (16) as printed, <K(s), Psi(K(s))>, well-formed at d = 1 only (grad K(s) is the correction)",
        notes=scope("system (15) = (2)"),
        repairs=(repairs.Edit("replace", "K(s) -> grad K(s) in Delta_H of eq. (16)", corrected),))


def loss_rises():
    """Along (15) with K = |s|^2/2, wherever s opposes grad L by at least (1 + c_phi) grad L at every coordinate
    (g_i s_i <= -(1 + c_phi) g_i^2): dL/dt >= |grad L|^2, > 0 where grad L != 0; every c_phi, c_psi >= 0."""
    return dynamics_flow("(15), K = 0.5|s|^2, g o s <= -(1 + c_phi) g^2: dL >= |grad L|^2",
                         lambda q: general(q, "(15)", dyn.K_QUADRATIC, None),
                         lambda q, of: q.at_least(q.dL, q.norm2(q.g)), hyper=COEFFICIENTS,
                         hypotheses=lambda q: [q.at_most(q.g * q.s, -(1 + q.c_phi) * q.g * q.g)])


@cl.register("grams.E1.L", source="Def. E.1", kind="continuous",
             statement="Along (15), L changes at the rate -Delta_L of eq. (17) and need not decrease monotonically.")
def e1_l():
    """Def. E.1 of the AMS/Grams paper: along (15), dL/dt = -Delta_L (eq. (17)) for K = |s|^2/2 and |s|_1, Phi, Psi
    linear with c >= 0, and L is not monotone: for every c_phi, c_psi >= 0 and K = |s|^2/2, wherever
    g o s <= -(1 + c_phi) g^2, dL/dt >= |g|^2 > 0 at g != 0 (proved); beside, dL/dt <= 0 at every state, refuted."""
    return cl.Judgement(
        [system_2("dL = -Delta_L", K, rate_is_minus("L", "delta_L")) for K in KINETIC] + [loss_rises()],
        reading="'not necessarily decreasing': some state of (15) has dL/dt > 0, for every Phi = c_phi x",
        beside={f"dL <= 0 at every state, K = {K.name}": system_2("dL <= 0", K, rate_at_most("L")) for K in KINETIC},
        notes=scope("system (15) = (2); the states where L rises for K = |s|^2/2"))


def sign_condition_any_mask(label, condition, conclusions):
    """Thm. E.2's 'Hence' condition as printed (sign in place of the mask) read as a condition on a mask: the
    mask's values free, ``condition(q, x)`` a hypothesis at the state, K = |s|^2/2."""
    K = dyn.K_QUADRATIC
    return [system_5(f"{label}: {what}", K, ANY_MASK, c, hypotheses=lambda q: [condition(q, x_of(q, K))])
            for what, c in conclusions]


SIGN_CONDITION_1 = cl.Fact("<x, 1 - sign(x)> <= 0 for every x",
                           lambda q: q.at_most(q.dot(q.x, 1 - q.sign(q.x)), 0), ("x",))


@cl.register("grams.E2.hence1", source="Thm. E.2", kind="continuous",
             statement="Under the condition <x, 1 - sign(x)> <= 0, the cautious dynamics lower H and L at least as "
             "fast as (15): dH/dt <= -Delta_H <= 0, dL/dt <= -Delta_L.")
def e2_hence1():
    """Thm. E.2 of the AMS/Grams paper, first 'Hence': the printed condition <x, 1 - sign(x)> <= 0 holds for every x
    (a Fact), and along (5) with 1(x >= 0) dH/dt <= -Delta_H, dL/dt <= -Delta_L at every state (K = |s|^2/2 and
    |s|_1, Phi, Psi linear with c >= 0), Delta_H with grad K(s) (eq. (16) as printed: grams.E1, grams.E2). Beside:
    the strict reading of 'faster' (refuted where x >= 0), eq. (16) as printed, the condition on a free mask."""
    less = lambda q, of: q.less_than(q.dH, -of("delta_H"))
    return cl.Judgement(
        [SIGN_CONDITION_1] + [system_5(f"1(x >= 0), K = {K.name}: {what}", K, dyn.CAUTIOUS_GE, c)
                              for K in KINETIC for what, c in CONSEQUENCES_2_1[:2]],
        reading="'faster' as the displayed non-strict bounds, Delta_H and Delta_L of Def. E.1 with grad K(s)",
        beside={**{f"strictly faster: dH < -Delta_H, K = {K.name}": system_5("dH < -Delta_H", K, dyn.CAUTIOUS_GE, less)
                   for K in KINETIC},
                "Delta_H of eq. (16) as printed (d = 1)": system_5(
                    "dH <= -Delta_H of eq. (16)", dyn.K_L1, dyn.CAUTIOUS_GE,
                    lambda q, of: q.at_most(q.dH, -delta_h_eq_16(q, dyn.K_L1))),
                "the condition on a free mask": sign_condition_any_mask(
                    "<x, 1 - sign(x)> <= 0, any mask", lambda q, x: q.at_most(q.dot(x, 1 - q.sign(x)), 0),
                    CONSEQUENCES_2_1[:2])},
        notes={**scope("system (5) with 1(x >= 0)"),
               "condition": "printed with sign(x) where Thm. 2.1 of the Cautious paper has phi(x) = 1(x >= 0): it "
                            "holds for every x, and the bounds hold for the mask 1(x >= 0) at every state"})


@cl.register("grams.E2.hence2", source="Thm. E.2", kind="continuous",
             statement="Under the condition <x, sign(grad L)> >= 0, the loss decreases along the cautious dynamics.")
def e2_hence2():
    """Thm. E.2 of the AMS/Grams paper, second 'Hence': along (5) with 1(x >= 0), dL/dt <= 0 at every state, so
    under the printed condition <x, sign(grad L)> >= 0 too (K = |s|^2/2 and |s|_1, Phi, Psi linear with c >= 0);
    'for any x in R^d' forces grad L = 0, where dL/dt = 0. Beside: the condition on a free mask does not give it."""
    return cl.Judgement(
        [system_5(f"1(x >= 0), K = {K.name}: dL <= 0", K, dyn.CAUTIOUS_GE, rate_at_most("L")) for K in KINETIC],
        reading="the condition read at the state, x = grad L o grad K(s); proved without it, so under it",
        beside={"the condition on a free mask": sign_condition_any_mask(
            "<x, sign(grad L)> >= 0, any mask", lambda q, x: q.at_least(q.dot(x, q.sign(q.g)), 0),
            (("dL <= 0", rate_at_most("L")),))},
        notes={**scope("system (5) with 1(x >= 0)"),
               "condition": "printed with sign(grad L) where Thm. 2.1 of the Cautious paper has phi(x): not needed "
                            "for 1(x >= 0), and not sufficient for a mask in general (beside)"})


@cl.register("grams.5.3.intro", source="§5.3", kind="continuous",
             statement="The Grams dynamics lower H and L monotonically, and L at least as fast as the cautious "
                       "(C-Adam) dynamics.")
def grams_5_3_intro():
    """§5.3 of the AMS/Grams paper, first paragraph: along the Grams dynamics (Def. 5.6) dH/dt <= 0, dL/dt <= 0, and
    dL/dt <= dL/dt of (5) with 1(x >= 0) at the same state, K, Phi, Psi (K = |s|^2/2 and |s|_1, Phi, Psi linear
    with c >= 0)."""
    return cl.Judgement(
        E3_H + [grams_flow("dL <= 0", K, rate_at_most("L")) for K in KINETIC]
        + [grams_flow("no slower than cautious", K, no_slower_than_cautious(K)) for K in KINETIC],
        reading="C-Adam as the cautious dynamics (5) with 1(x >= 0) and the same K, Phi, Psi, the system Thm. 5.8 "
                "compares with", notes=scope("the Grams dynamics (Def. 5.6) and (5) with 1(x >= 0)"))


@cl.register("grams.R5.9", source="Remark 5.9", kind="continuous",
             statement="Thm. 5.8 shows the Grams dynamics lowering the loss faster than the cautious dynamics.")
def remark_5_9():
    """Remark 5.9 of the AMS/Grams paper, 'faster' read strictly: dL/dt(Grams) < dL/dt(cautious, 1(x >= 0)) at every
    state; refuted (equal where x >= 0). Corrected: dL/dt(Grams) = dL/dt(cautious) + <x, 1 - 1(x >= 0)>, at least as
    fast everywhere and strictly faster exactly where some x_i < 0 (K = |s|^2/2 and |s|_1, Phi, Psi linear, c >= 0)."""
    faster = lambda K: lambda q, of: q.less_than(q.dL, cautious_rate(q, K))
    gap = lambda K: lambda q, of: q.equal(q.dL, cautious_rate(q, K) + below_zero(q, x_of(q, K)))
    no_slower = [grams_flow("no slower than cautious", K, no_slower_than_cautious(K)) for K in KINETIC]
    return cl.Judgement(
        [grams_flow("strictly faster than cautious", K, faster(K)) for K in KINETIC],
        correction=[grams_flow("dL = cautious dL + <x, 1 - 1(x >= 0)>", K, gap(K)) for K in KINETIC],
        correction_statement="dL/dt(Grams) = dL/dt(cautious) + <x, 1 - 1(x >= 0)> <= dL/dt(cautious): at least as fast "
        "at every state (Thm. 5.8), strictly faster exactly where some x_i = g_i grad K(s)_i < 0",
        why="where every x_i >= 0 (g = 0, say) the two rates are equal",
        reading="'faster' strictly, at every state",
        beside={"'faster' as 'at least as fast' (Thm. 5.8)": no_slower},
        notes=scope("the Grams dynamics (Def. 5.6) and (5) with 1(x >= 0)"),
        repairs=(repairs.Edit("replace", "'faster' -> 'at least as fast'", no_slower),))
