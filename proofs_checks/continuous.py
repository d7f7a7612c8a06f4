r"""Continuous-time claims: Hamiltonian descent identities and monotonicity (Cautious paper §2, A.1-A.3;
AMS/Grams paper Def. 5.6, Thm. E.2-E.4, Cor. 5.10).

Each check states its claim as :class:`~ams_theory.claims.language.Flow` statements over the systems of
:mod:`ams_theory.engines.dynamics` (:func:`dynamics_flow`): an identity between a true rate and its stated closed
form, or a sign condition on a rate, with the hyperparameters as ranges; the claim language proves them for every
dimension, state and hyperparameter in range, or refutes them with an exactly re-checked counterexample, and
evaluates them exactly at drawn rational states beside. The convergence claims (Cor. 2.2, 5.10) are judged by
LaSalle's invariance principle, whose pointwise conditions the engine proves (:mod:`ams_theory.claims.flows`);
trajectories are kept as illustrations.
"""
from __future__ import annotations

from types import SimpleNamespace

import sympy as sp

from ams_theory.claims import language as cl
from ams_theory.claims.flows import (
    C_PHI, abstract_mask, convergence_verdict, for_every_d, lasalle_conditions, trajectory_illustration)
from ams_theory.claims.registry import register
from ams_theory.core.ops import SympyOps
from ams_theory.engines import coordinates, repairs
from ams_theory.engines import dynamics as dyn

C_PSI_POS = sp.Symbol("c_psi", positive=True)                 # Cor. 2.2, 5.10: |.|_Psi positive definite


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


def general(q, name, K, mask, coefficients=None):
    """System (5) of the Cautious paper (dynamics engine) with kinetic energy ``K`` and ``mask`` (a mask,
    :data:`ANY_MASK` or :data:`GRAMS`), at the claim's c_phi, c_psi or at ``coefficients``."""
    c_phi, c_psi = coefficients or (q.c_phi, q.c_psi)
    if mask == GRAMS:
        return dyn.general(name, K, None, c_phi=c_phi, c_psi=c_psi, grams=True)
    return dyn.general(name, K, (lambda ops, k, g: q.phi) if mask == ANY_MASK else mask, c_phi=c_phi, c_psi=c_psi)


def system_5(name, K, mask, conclusion, coefficients=None):
    """System (5) with ``mask`` (:func:`general`) as a Flow, for every c_phi, c_psi >= 0, or at ``coefficients``
    (c_phi, c_psi)."""
    return dynamics_flow(name, lambda q: general(q, name, K, mask, coefficients), conclusion,
                         hyper={} if coefficients else COEFFICIENTS, vectors=("phi",) if mask == ANY_MASK else ())


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
    return cl.Judgement(identities + consequences + sweep, notes={"proof scope": (
        "identities for every c_phi, c_psi >= 0, with the mask itself where it is a sum of coordinate terms, with "
        "its values free otherwise (eq. (1)'s rescaling, the inner-product mask); consequences proved per "
        "coordinate for the elementwise masks; the inner-product mask's searched exactly at four (c_phi, c_psi); "
        "eq. (1)'s default mask violates x^T(1 - phi) <= 0 (cautious.eq6.default)")})


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


@cl.register("cautious.A2", source="Example A.2", kind="continuous",
             statement="Lion-K (w' = grad K((1-b)m - b g), m' = -a(g + m)) with H = aL + K((1-b)m)/(1-b) has dH/dt <= "
             "0.")
def example_a2():
    """Example A.2 of the Cautious paper: dH/dt <= 0 for K = |.|_1 and K = |.|^2/2, every a >= 0 and b in [0, 1)
    (at b = 1 H divides by 0: the stated range [0, 1] is ill-posed at its upper end)."""
    return cl.Judgement([dynamics_flow(f"K = {K.name}", lambda q, K=K: dyn.lion_k("lion_k", K, a=q.a, b=q.b),
                                       rate_at_most("H"), hyper=LION_K) for K in (dyn.K_L1, dyn.K_QUADRATIC)],
                        notes={"b = 1": "excluded: H = aL + K((1-b)m)/(1-b) is undefined there"})


# ----------------------------------------------------------------------------- the AMS/Grams paper, Appendix E

def rate_with_eq_16(q, of):
    """Thm. E.2's dH/dt = <x, 1 - 1(x >= 0)> - Delta_H with Delta_H as eq. (16) writes it,
    <grad L, Phi(grad L)> + <K(s), Psi(K(s))>, K = |s|_1: K(s) is a number, so <K(s), Psi(K(s))> = c_psi K(s)^2,
    well-formed for d = 1 (where it is what the paper writes)."""
    k = q.sign(q.s)
    x = q.g * k
    delta_h = q.c_phi * q.norm2(q.g) + q.c_psi * q.total(q.abs(q.s)) ** 2
    return q.equal(q.dH, q.total(x * (1 - q.indicator(x))) - delta_h)


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


def grams_flow(name, K, conclusion):
    """The Grams dynamics with kinetic energy ``K`` and ``H = L + K(s)``, for every c_phi, c_psi >= 0."""
    return system_5(f"{name}, K = {K.name}", K, GRAMS, conclusion)


def no_slower_than_cautious(K):
    """dL/dt of Grams <= dL/dt of the cautious system (mask 1(x >= 0)) with the same K, Phi, Psi, at the same
    state: <g, dw_Grams> <= <g, dw_cautious>."""
    return lambda q, of: q.at_most(q.dL, q.dot(q.g, general(q, "cautious", K, dyn.CAUTIOUS_GE).field(*_at(q))[0]))


E3_H = [grams_flow("Thm. E.3, dH/dt <= 0", K, rate_at_most("H")) for K in (dyn.K_QUADRATIC, dyn.K_L1)]
E3_L = [grams_flow("Thm. E.3, dL/dt <= -Delta_L", K, rate_at_most("L", "delta_L"))
        for K in (dyn.K_QUADRATIC, dyn.K_L1)]
E4 = [grams_flow("Thm. E.4", dyn.K_QUADRATIC, no_slower_than_cautious(dyn.K_QUADRATIC))]


@cl.register("grams.E3.H", source="Thm. 5.7 / E.3", kind="continuous",
             statement="Grams Hamiltonian dynamics (Def. 5.6): dH/dt <= 0.")
def e3h():
    """Thm. 5.7 / E.3 of the AMS/Grams paper, for K = |s|^2/2 and |s|_1, every c_phi, c_psi >= 0."""
    return E3_H


@cl.register("grams.E3.L", source="Thm. 5.7 / E.3", kind="continuous",
             statement="Grams Hamiltonian dynamics: dL/dt <= -Delta_L.")
def e3l():
    """Thm. 5.7 / E.3 of the AMS/Grams paper: dL/dt <= -<g, grad K(s)> - c_phi |g|^2."""
    return E3_L


@cl.register("grams.E4", source="Thm. 5.8 / E.4", kind="continuous",
             statement="At every state, dL/dt of Grams dynamics <= dL/dt of cautious dynamics.")
def e4():
    """Thm. E.4 of the AMS/Grams paper: dL/dt(Grams) <= dL/dt(cautious, 1(x >= 0)) at every state, K = |s|^2/2."""
    return E4


# ----------------------------------------------------------------------------- convergence (LaSalle)

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


class _HalfSquare:
    """L(w) = |w|^2/2, exact (sympy)."""

    def value(self, w):
        return sum(x * x for x in w) / 2

    def grad(self, w):
        return SympyOps.asarray(list(w))


def _heavy_ball():
    """System (2) / (15): K = |s|^2/2, Phi(x) = c_phi x, Psi(x) = c_psi x with c_psi > 0."""
    return for_every_d(dyn.general("heavy_ball", dyn.K_QUADRATIC, None, c_phi=C_PHI, c_psi=C_PSI_POS))


@register("cautious.2.2", source="Cor. 2.2", kind="continuous",
          statement="With |.|_Psi positive definite and Psi(0) = 0, bounded solutions of (2) and of (5) converge to "
          "stationary points of H.")
def check_2_2(budget="standard", seed=0):
    """Cor. 2.2 of the Cautious paper, by LaSalle's principle (see :data:`ams_theory.claims.flows.LASALLE` and
    :func:`ams_theory.claims.flows.lasalle_conditions`). For (5) the argument needs Thm. 2.1's mask condition
    x^T(1 - phi(x)) <= 0, which the corollary does not restate: with phi = 0 a bounded solution converges to a
    non-stationary point (exact certificate)."""
    parts = (lasalle_conditions("(2)", _heavy_ball())
             + lasalle_conditions("(5)", abstract_mask(dyn.K_QUADRATIC, c_psi=C_PSI_POS), every_mask=True))
    runs = trajectory_illustration(("heavy_ball", "cautious_indicator", "cautious_eq1"), budget, seed)
    cert, recheck = _zero_mask_counterexample()
    summary = ("bounded solutions of (2), and of (5) for masks with x^T(1 - phi(x)) <= 0 (1(x > 0), 1(x >= 0), "
               "phi_c), converge to stationary points of H (LaSalle, Filippov solutions; pointwise conditions "
               "proved); without that condition, as printed, phi = 0 gives a bounded solution with a "
               "non-stationary limit; eq. (1)'s default mask violates it (cautious.eq6.default): trajectories only")
    verdict = convergence_verdict("conditional", summary, parts, runs)
    verdict.evidence["the condition is needed"] = {**cert, "rechecked_exactly": recheck()}
    return verdict


@register("grams.5.10", source="Cor. 5.10", kind="continuous",
          statement="Bounded solutions of (15) and of the Grams dynamics (Def. 5.6) converge to stationary points of "
                    "H.")
def check_5_10(budget="standard", seed=0):
    """Cor. 5.10 of the AMS/Grams paper, by LaSalle's principle: Grams' field needs no mask condition
    (dH/dt <= -c_psi |s|^2 at every state, for every value of sign(g) at g = 0)."""
    grams = for_every_d(dyn.general("grams", dyn.K_QUADRATIC, None, c_phi=C_PHI, c_psi=C_PSI_POS, grams=True))
    parts = lasalle_conditions("(15)", _heavy_ball()) + lasalle_conditions("Grams (Def. 5.6)", grams)
    runs = trajectory_illustration(("heavy_ball", "grams"), budget, seed)
    return convergence_verdict("holds", "bounded solutions of (15) and of the Grams dynamics converge to "
                               "stationary points of H (LaSalle, Filippov solutions; pointwise conditions proved "
                               "for K = |s|^2/2 and linear Phi, Psi)", parts, runs)

