"""ams_theory.audit.conform: the audit of other optimizers against our presets.

Planted departures are our own optimizer classes with one ingredient changed,
written here independently of the candidate list in ams_theory.audit.conform: each
must be detected (verdict "departs", exit status 1) and diagnosed as the
defect that was planted. Our presets must conform to themselves, documented
conventions must be found and named, and broken targets must give one-line
errors (exit status 2), never a traceback.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ams_theory import cli, optim
from ams_theory.audit.conform import (
    METHODS,
    PEERS,
    ConformError,
    conform,
    load_target,
    parse_keywords,
    run_peer,
)
from ams_theory.core import rules

pytestmark = pytest.mark.conform


def planted(base, *, parts=None, hp=None, name="Planted"):
    """``base`` with one ingredient changed: replaced rule pieces and/or rewired hyperparameters."""
    rule = base.rule
    pieces = rules.PAPER.replace(**parts) if parts else rules.PAPER

    def step(ops, w, g, state, group, t):
        return rule(ops, w, g, state, hp(dict(group)) if hp else group, t, parts=pieces)

    return type(name, (base,), {"rule": staticmethod(step)})


# one planted version of every defect, written independently of ams_theory.audit.conform's candidates
PLANTED = {
    "beta1_weights_gradient@adam": dict(parts={"first_moment": lambda ops, m, g, b: ops.lerp_(m, g, b)}),
    "beta2_weights_gradient@adam": dict(parts={"second_moment": lambda ops, v, g, b: ops.add_(
        ops.mul_(v, 1 - b), ops.mul(ops.mul(g, g), b))}),
    "betas_exchanged": dict(hp=lambda h: {**h, "betas": (h["betas"][1], h["betas"][0], *h["betas"][2:])}),
    "no_bias_correction_m": dict(parts={"bias_corrections": lambda b1, b2, t: (1.0, 1.0 - b2 ** t)}),
    "no_bias_correction_v": dict(parts={"bias_corrections": lambda b1, b2, t: (1.0 - b1 ** t, 1.0)}),
    "no_bias_correction": dict(parts={"bias_corrections": lambda b1, b2, t: (1.0, 1.0)}),
    "v_correction_outside_sqrt": dict(parts={"bias_corrections": lambda b1, b2, t: (1 - b1 ** t,
                                                                                    (1 - b2 ** t) * (1 - b2 ** t))}),
    "beta1_weights_gradient@lion": dict(parts={"interpolation": lambda ops, m, g, b: ops.lincomb(g, b, m, 1 - b)}),
    "beta2_weights_gradient@lion": dict(parts={"first_moment": lambda ops, m, g, b: ops.lerp_(m, g, b)}),
    "sign_of_updated_momentum": dict(hp=lambda h: {**h, "betas": (h["betas"][1],) * 2}),
    "mask_sign_flipped": dict(parts={"mask_reference": lambda ops, s, m, w: ops.lincomb(s, -1.0, s, 0.0)}),
    "mask_against_momentum": dict(parts={"mask_reference": lambda ops, s, m, w: ops.copy(m)}),
    "mask_not_applied": dict(hp=lambda h: {**h, "mask": None}),
    "decay_missing": dict(hp=lambda h: {**h, "weight_decay": 0.0}),
    "decay_in_gradient": dict(hp=lambda h: {**h, "weight_decay_mode": "l2"}),
    "decay_without_lr": dict(hp=lambda h: {**h, "weight_decay": h["weight_decay"] / h["lr"]}),
    "decay_decoupled": dict(hp=lambda h: {**h, "weight_decay_mode": "before"}),
    # the masked numerator written back into the momentum (lists: the single-tensor path)
    "mask_written_into_momentum": dict(parts={"momentum_after_mask": lambda ops, m, masked: [
        x.clone() for x in masked]}),
    # cautious weight decay, by sign bits (a zero update counts as +0); the single-tensor path passes lists
    "decay_cautious": dict(parts={"decay_mask": lambda ops, w, u: [
        (torch.signbit(a) == torch.signbit(b + 0.0)).to(a.dtype) for a, b in zip(w, u)]}),
}


def planted_for(method, defect):
    key = f"{defect}@{'lion' if METHODS[method].cls.rule is rules.lion_step else 'adam'}"
    return planted(METHODS[method].cls, **PLANTED.get(key, PLANTED.get(defect)), name=f"Planted_{defect}")


AMBIGUOUS = {"mask_against_momentum", "mask_not_applied"}   # the same steps once the mask's scaling is free

# every defect on the cheapest method that has it, and the mask defects and one more on each costly method
CASES = ([("adamw", d.name) for d in METHODS["adamw"].departures]
         + [("lion", d.name) for d in METHODS["lion"].departures]
         + [("adam", "decay_decoupled"), ("adam", "decay_missing")]
         + [("clion", d) for d in ("mask_sign_flipped", "mask_against_momentum", "mask_not_applied")]
         + [("cadamw", d) for d in ("mask_sign_flipped", "mask_not_applied", "no_bias_correction_m",
                                    "mask_written_into_momentum")]
         + [("grams", d) for d in ("mask_sign_flipped", "mask_against_momentum", "beta1_weights_gradient")]
         + [("ams", d) for d in ("mask_sign_flipped", "decay_without_lr")])


def test_cases_cover_every_defect_of_every_family():
    named = {d.name for m in METHODS.values() for d in m.departures}
    assert named == {d for _, d in CASES}
    assert {m for m, _ in CASES} == set(METHODS)


@pytest.mark.parametrize("method,defect", CASES)
def test_planted_defect_is_detected_and_diagnosed(method, defect):
    r = conform(planted_for(method, defect), method)
    assert r.verdict == "departs" and r.exit_status == 1
    d = r.first_departure
    assert d["residual"] > r.tolerance[d["setting"] - 1]
    assert d["abs_diff"] == pytest.approx(abs(d["target"] - d["reference"]))
    named = [[c["name"] for c in e["departures"]] for e in r.explanations]
    if defect in AMBIGUOUS:
        assert [defect] in named and all(set(n) <= AMBIGUOUS for n in named), named
    else:
        assert named == [[defect]], r.diagnosis
        assert r.explained_by == [defect] and r.diagnosis.startswith(defect)
    e = r.explanations[0]["departures"][0]
    assert e["words"] and e["formula"] and e["formula"] in r.text()
    assert r.changes_state == (defect == "mask_written_into_momentum") == ("changes its own momentum" in r.text())
    assert r.search["tried"] > 0 and r.closest is None


def test_planted_departure_outside_the_grammar_says_where_the_search_stopped():
    """A step 3% too long is in no combination: the report says so and gives the closest combination."""
    target = planted(optim.AdamW, hp=lambda h: {**h, "lr": h["lr"] * 1.03})
    r = conform(target, "adamw", depth=2)
    assert r.verdict == "departs" and r.explained_by == [] and r.explanations == []
    assert r.diagnosis.startswith("no combination of up to 2 departures in the grammar reproduces the record")
    c = r.closest
    assert c["first_failure"]["step"] >= 1 and c["max_residual"] > 1e-3
    assert "the nearest, each followed as far as it goes: " in r.diagnosis and "closest" in r.text()
    assert "up to 2 departures" in r.text()
    # the nearest explanations by name, each with where it leaves the record and by how much, nearest first
    assert len(r.nearest) == 3 and len({n["name"] for n in r.nearest}) == 3
    residuals = [n["first_failure"]["residual"] for n in r.nearest]
    assert all(f"{n['name']}" in r.diagnosis for n in r.nearest) and "nearest 2" in r.text()
    assert [(n["first_failure"]["setting"], n["first_failure"]["step"]) for n in r.nearest] == sorted(
        [(n["first_failure"]["setting"], n["first_failure"]["step"]) for n in r.nearest], reverse=True) or \
        residuals == sorted(residuals)


# two and three departures at once, written here independently of the grammar (PLANTED)
def _combined(method, *defects):
    parts, rewire = {}, []
    for d in defects:
        key = f"{d}@{'lion' if METHODS[method].cls.rule is rules.lion_step else 'adam'}"
        spec = PLANTED.get(key, PLANTED.get(d))
        parts.update(spec.get("parts", {}))
        if "hp" in spec:
            rewire.append(spec["hp"])

    def hp(h):
        for f in rewire:
            h = f(h)
        return h
    return planted(METHODS[method].cls, parts=parts or None, hp=hp, name="Planted_" + "_".join(defects))


MULTI = [
    ("adamw", ("beta1_weights_gradient", "decay_without_lr"), None),
    ("adamw", ("no_bias_correction_v", "decay_in_gradient"), None),
    ("cadamw", ("beta2_weights_gradient", "mask_sign_flipped"), dict(scope="tensor")),
    ("lion", ("beta1_weights_gradient", "decay_missing"), None),
    ("adam", ("betas_exchanged", "decay_decoupled"), None),
    ("adamw", ("beta1_weights_gradient", "no_bias_correction_m", "decay_in_gradient"), None),
    ("cadamw", ("v_correction_outside_sqrt", "mask_sign_flipped", "decay_without_lr"),
     dict(normalize="mean_clamp", mask_eps=1e-3, scope="tensor", tie="aligned")),
    ("clion", ("beta2_weights_gradient", "mask_sign_flipped", "decay_missing"), dict(scope="tensor")),
]


@pytest.mark.parametrize("method,defects,convention", MULTI, ids=["+".join(d) for _, d, _ in MULTI])
def test_planted_multi_ingredient_departures_are_identified_exactly(method, defects, convention):
    """Every planted departure is named and nothing else; the conventions set beside them are found."""
    r = conform(_combined(method, *defects), method, convention)
    assert r.verdict == "departs"
    named = [sorted(c["name"] for c in e["departures"]) for e in r.explanations]
    assert named == [sorted(defects)], r.diagnosis
    for key, value in (convention or {}).items():
        assert r.convention[key] == value, (key, r.convention)
    assert r.search["seconds"] < 30


@pytest.mark.parametrize("convention", [dict(tie="signbit"), dict(eps_mode="max"),
                                        dict(normalize="mean_clamp", mask_eps=1e-3, scope="tensor")],
                         ids=["signbit", "eps-max", "mean-clamp"])
def test_new_conventions_of_our_rule_are_identified(convention):
    r = conform(optim.CAdamW, "cadamw", convention)
    assert r.verdict == "conforms", r.text()
    assert all(r.convention[k] == v for k, v in convention.items()) and r.undetermined == []


class ClampedCautiousAdamW(torch.optim.Optimizer):
    """A peer idiom in our own words: AdamW whose update is masked where it disagrees with the gradient, the mask
    divided by its mean clamped at 1e-3, per tensor, with torch's decay order."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                st = self.state[p]
                if not st:
                    st.update(t=0, m=torch.zeros_like(p), v=torch.zeros_like(p))
                st["t"] += 1
                g = p.grad
                st["m"].mul_(b1).add_(g, alpha=1 - b1)
                st["v"].mul_(b2).addcmul_(g, g, value=1 - b2)
                u = (st["m"] / (1 - b1 ** st["t"])) / ((st["v"] / (1 - b2 ** st["t"])).sqrt() + group["eps"])
                keep = (u * g > 0).to(g.dtype)
                keep = keep / keep.mean().clamp(min=1e-3)
                p.mul_(1 - group["lr"] * group["weight_decay"])
                p.add_(u * keep, alpha=-group["lr"])


def test_a_clamp_normalised_peer_idiom_is_identified():
    r = conform(ClampedCautiousAdamW, "cadamw")
    assert r.verdict == "conforms", r.text()
    assert r.changed_from_preset == dict(normalize="mean_clamp", mask_eps=1e-3, scope="tensor",
                                         weight_decay_mode="before")


def test_file_path_targets_resolve_relative_imports(tmp_path):
    (tmp_path / "weights.py").write_text("def one_minus(b):\n    return 1 - b\n")
    (tmp_path / "opt.py").write_text(
        "import torch\nfrom .weights import one_minus\n\n"
        "class Sgdish(torch.optim.AdamW):\n    pass\n")
    (tmp_path / "broken.py").write_text("from .missing_sibling import x\n")
    r = conform(f"{tmp_path / 'opt.py'}:Sgdish", "adamw")
    assert r.verdict == "conforms"
    with pytest.raises(ConformError, match="needs the module 'missing_sibling'") as err:
        load_target(f"{tmp_path / 'broken.py'}:X")
    assert "\n" not in str(err.value)
    with pytest.raises(ConformError, match="no file"):
        load_target(f"{tmp_path / 'absent.py'}:X")


def test_depth_is_validated():
    with pytest.raises(ConformError, match="depth must be an integer from 0 to 6"):
        conform(optim.AdamW, "adamw", depth=-1)


@pytest.mark.parametrize("method", list(METHODS))
def test_presets_conform_to_themselves(method):
    r = conform(METHODS[method].cls, method)
    assert r.verdict == "conforms" and r.exit_status == 0
    assert r.changed_from_preset == {}
    assert r.max_residual < 1e-12
    assert r.grad_modified is None
    assert "CONFORMS" in r.text()


def test_documented_conventions_are_found_and_named():
    chosen = dict(scope="tensor", normalize="mean_eps", mask_eps=0.0, weight_decay_mode="before",
                  eps_mode="uncorrected", tie="aligned")
    r = conform(optim.CAdamW, "cadamw", chosen)
    assert r.verdict == "conforms"
    assert r.changed_from_preset == chosen
    assert r.undetermined == ["normalize"]        # 1/mean and 1/max(mean, 1e-5) agree while 1 entry in 1200 aligns


def test_grams_without_normalisation_leaves_scope_and_decay_step_undetermined():
    """No rescaling: nothing is counted (scope is moot) and the scaled lr is lr ("after_scaled" = "after")."""
    r = conform(optim.Grams, "grams")
    assert r.verdict == "conforms" and r.undetermined == ["scope", "weight_decay_mode"]
    assert r.convention["weight_decay_mode"] == "after"


def test_pinned_method_keyword_is_not_searched():
    """With our side pinned to group scope, a per-tensor target no longer conforms."""
    assert conform(optim.CLion, "clion", {"scope": "tensor"}).verdict == "conforms"
    r = conform(optim.CLion, "clion", {"scope": "tensor"}, {"scope": "group"})
    assert r.verdict == "departs"


def test_ams_method_keywords_lam_and_beta3():
    r = conform(optim.AMS, "ams", {"lam": 0.5, "betas": (0.9, 0.999, 0.8)}, {"lam": 0.5, "beta3": 0.8})
    assert r.verdict == "conforms"
    assert all(s["read"]["betas"][2] == 0.8 for s in r.settings)
    assert conform(optim.AMS, "ams", {"lam": 0.5}).verdict == "departs"     # our side at lam = -1


# --------------------------------------------------------------------------
# side effects and broken targets
# --------------------------------------------------------------------------

class GradScribbler(optim.AdamW):
    """A correct AdamW (torch's decay order) that doubles p.grad after its step."""

    def step(self, closure=None):
        loss = super().step(closure)
        for group in self.param_groups:
            for p in group["params"]:
                p.grad.mul_(2.0)
        return loss


class GradDropper(optim.AdamW):
    def step(self, closure=None):
        loss = super().step(closure)
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None
        return loss


def test_grad_overwrite_is_reported_and_does_not_reach_the_record():
    r = conform(GradScribbler, "adamw", {"weight_decay_mode": "before"})
    assert r.verdict == "conforms"            # the record kept the gradient that was handed in
    e = r.grad_modified
    assert e["replaced"] is False and e["step"] == 1 and e["setting"] == 1 and e["max_change"] > 0
    assert "wrote into p.grad" in r.text()
    r = conform(GradDropper, "adamw", {"weight_decay_mode": "before"})
    assert r.grad_modified["replaced"] is True and "replaced p.grad" in r.text()


class NaNAtStep3(optim.AdamW):
    def step(self, closure=None):
        loss = super().step(closure)
        if self.state[self.param_groups[0]["params"][1]]["step"] == 3:
            self.param_groups[0]["params"][1].data[0] = float("nan")
        return loss


def test_target_returning_nan_departs_with_a_clear_line():
    r = conform(NaNAtStep3, "adamw", {"weight_decay_mode": "before"})
    assert r.verdict == "departs"
    d = r.first_departure
    assert d["nonfinite"] and d["step"] == 3 and d["setting"] == 1 and d["parameter"] == 1
    assert r.summary() == ("departs: the target returned nan at step 3 of setting 1, parameter 1 (0,) "
                           "(the reference is finite)")
    assert any("non-finite at step 3" in n for n in r.notes)


class Float32Only(optim.AdamW):
    def step(self, closure=None):
        if self.param_groups[0]["params"][0].dtype == torch.float64:
            raise TypeError("float64 is not supported")
        return super().step(closure)


def test_float64_refusing_target_is_recorded_in_float32():
    r = conform(Float32Only, "adamw", {"weight_decay_mode": "before"})
    assert r.dtype == "float32" and r.verdict == "conforms"
    assert max(r.tolerance) > 1e-9 and any("float32" in n for n in r.notes)
    # float32 cannot hide a real defect
    bad = planted(Float32Only, hp=lambda h: {**h, "weight_decay": 0.0})
    r = conform(bad, "adamw", {"weight_decay_mode": "before"})
    assert r.verdict == "departs" and "decay_missing" in r.explained_by


class Crashes(optim.AdamW):
    def step(self, closure=None):
        raise RuntimeError("kernel exploded\nsecond line")


@pytest.mark.parametrize("target,method,kw,mkw,message", [
    ("no_such_pkg:Opt", "adamw", {}, {}, "cannot import 'no_such_pkg'"),
    ("torch.optim:NoSuch", "adamw", {}, {}, "has no attribute 'NoSuch'"),
    ("torch", "adamw", {}, {}, "expected package.module:Class"),
    ("json:JSONDecoder", "adamw", {}, {}, "is not a torch.optim.Optimizer subclass"),
    ("torch.optim:AdamW", "adamx", {}, {}, "unknown METHOD 'adamx'"),
    ("torch.optim:AdamW", "adamw", {"bogus": 1}, {}, "unexpected keyword argument 'bogus'"),
    ("torch.optim:AdamW", "adamw", {"betas": (2.0, 0.9)}, {}, "raised ValueError"),
    ("torch.optim:AdamW", "adamw", {}, {"lam": 0.5}, "unknown method keyword 'lam' for adamw"),
    ("torch.optim:AdamW", "cadamw", {}, {"tie": "sometimes"}, "Invalid tie"),
    (Crashes, "adamw", {}, {}, "step() raised RuntimeError: kernel exploded (setting 1, step 1)"),
])
def test_unrunnable_targets_raise_one_line_errors(target, method, kw, mkw, message):
    with pytest.raises(ConformError) as err:
        conform(target, method, kw, mkw)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_keywords_swallowed_by_kwargs_are_noted():
    class Lenient(optim.AdamW):
        def __init__(self, params, lr=1e-3, weight_decay=1e-2, **kwargs):
            super().__init__(params, lr=lr, weight_decay=weight_decay, weight_decay_mode="before")

    r = conform(Lenient, "adamw", {"colour": "blue"})
    assert r.verdict == "conforms"
    assert any("'colour'" in n and "may be ignored" in n for n in r.notes)
    # betas and eps are not named by this constructor: they are read back, never passed
    assert all("betas" not in s["passed"] for s in r.settings)


def test_parse_keywords():
    assert parse_keywords(["a=1", "b=(0.9, 0.99)", "c=True", "d=fast", "e= 1e-3 "]) == dict(
        a=1, b=(0.9, 0.99), c=True, d="fast", e=1e-3)
    for bad in ("noequals", "=3", "1x=2"):
        with pytest.raises(ConformError, match="expected KEY=VALUE"):
            parse_keywords([bad])


def test_load_target_accepts_dotted_and_colon_forms():
    assert load_target("torch.optim:AdamW") is torch.optim.AdamW
    assert load_target("torch.optim.AdamW") is torch.optim.AdamW
    assert load_target(optim.Grams) is optim.Grams


# --------------------------------------------------------------------------
# the command line
# --------------------------------------------------------------------------

def test_cli_exit_status_and_json(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert cli.main(["conform", "torch.optim:AdamW", "--as", "adamw", "--quiet", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["verdict"] == "conforms" and doc["changed_from_preset"] == {"weight_decay_mode": "before"}
    assert "CONFORMS" in capsys.readouterr().out
    assert cli.main(["conform", "torch.optim:Adam", "--as", "adamw", "--kw", "weight_decay=0.1", "--quiet",
                     "--json", str(out)]) == 1
    doc = json.loads(out.read_text())
    assert doc["verdict"] == "departs" and doc["explained_by"] == ["decay_in_gradient"]
    assert doc["first_departure"]["step"] == 1 and doc["diagnosis"].startswith("decay_in_gradient")
    assert doc["explanations"][0]["departures"][0]["formula"] == "g <- g + gamma w"
    assert "DEPARTS" in capsys.readouterr().out


def test_cli_progress_goes_to_stderr(capsys):
    assert cli.main(["conform", "torch.optim:AdamW", "--as", "adamw"]) == 0
    err = capsys.readouterr().err
    assert "[conform] recording torch.optim.adamw.AdamW: setting 1/4" in err and "searching" in err
    assert cli.main(["conform", "torch.optim:Adam", "--as", "adamw", "--kw", "weight_decay=0.1", "--depth", "1"]) == 1
    assert "identifying the rule: up to 1 departures" in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["conform", "torch.optim:AdamW", "--as", "nope"], "unknown METHOD 'nope'"),
    (["conform", "torch.optim:AdamW"], "conform needs TARGET"),
    (["conform", "no_such_pkg:X", "--as", "adamw"], "cannot import"),
    (["conform", "torch.optim:AdamW", "--as", "adamw", "--kw", "oops"], "expected KEY=VALUE"),
    (["conform", "torch.optim:AdamW", "--as", "adamw", "--peers"], "--peers runs the built-in peer list"),
    (["conform", f"{__name__}:Crashes", "--as", "adamw"], "kernel exploded"),
])
def test_cli_errors_are_one_line_with_status_2(argv, message, capsys):
    assert cli.main(argv + ["--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert err.count("\n") == 1


# --------------------------------------------------------------------------
# the implementations users install (skipped when a package is absent)
# --------------------------------------------------------------------------

_HB = (("storage_dtype", "float64"),)
_HB_CAUTIOUS = dict(eps_mode="max", tie="signbit", normalize="mean_eps", mask_eps=0.0, scope="tensor",
                    weight_decay_mode="before")
_CLAMP = dict(normalize="mean_clamp", mask_eps=1e-3, scope="tensor", weight_decay_mode="before")
EXPECTED = {   # (target, keywords) -> (verdict, convention changes, departures, p.grad effect), from the sources
    ("pytorch_optimizer:Grams", ()): ("conforms", {"weight_decay_mode": "before"}, [], None),
    ("pytorch_optimizer:Grams", (("weight_decouple", False),)): ("departs", {}, ["decay_missing"], "writes"),
    ("pytorch_optimizer:Lion", ()): ("conforms", {"weight_decay_mode": "before"}, [], None),
    ("pytorch_optimizer:Lion", (("cautious", True),)): ("conforms", {"scope": "tensor",
                                                                     "weight_decay_mode": "before"}, [], None),
    ("pytorch_optimizer:AdEMAMix", (("alpha", 0.0), ("cautious", True), ("weight_decouple", True))): (
        "conforms", {"scope": "tensor", "weight_decay_mode": "before"}, [], None),
    ("pytorch_optimizer:AdEMAMix", (("alpha", 0.0), ("cautious", True))): (
        "departs", {"scope": "tensor"}, ["decay_in_gradient"], "writes"),
    ("lion_pytorch:Lion", ()): ("conforms", {"weight_decay_mode": "before"}, [], None),
    ("lion_pytorch:Lion", (("decoupled_weight_decay", True),)): (
        "departs", {"weight_decay_mode": "before"}, ["decay_without_lr"], None),
    ("lion_pytorch.cautious_lion:Lion", ()): ("conforms", {"normalize": "mean_eps", "mask_eps": 0.0,
                                                            "scope": "tensor", "weight_decay_mode": "before"}, [],
                                              None),
    ("lion_pytorch.cautious_lion:Lion", (("cautious_factor", 0.3),)): (
        "conforms", {"tie": "opposed", "normalize": "ams", "scope": "tensor", "weight_decay_mode": "before"}, [],
        None),
    ("timm/optim/adamw.py:AdamWLegacy", ()): ("conforms", {"weight_decay_mode": "before"}, [], None),
    ("timm/optim/adamw.py:AdamWLegacy", (("caution", True),)): ("conforms", _CLAMP, [], None),
    ("timm/optim/lion.py:Lion", ()): ("conforms", {"weight_decay_mode": "before"}, [], None),
    ("timm/optim/lion.py:Lion", (("caution", True),)): ("conforms", _CLAMP, [], None),
    ("grams:Grams", ()): ("conforms", {"eps_mode": "uncorrected", "weight_decay_mode": "before"}, [], "writes"),
    ("heavyball:AdamW", _HB): ("conforms", {"eps_mode": "max", "weight_decay_mode": "before"}, [], "replaces"),
    ("heavyball:AdamW", _HB + (("caution", True),)): ("conforms", _HB_CAUTIOUS, [], "replaces"),
    ("heavyball:AdamW", _HB + (("caution", True), ("cautious_weight_decay", True))): (
        "departs", _HB_CAUTIOUS, ["decay_cautious"], "replaces"),
    ("torch.optim:AdamW", ()): ("conforms", {"weight_decay_mode": "before"}, [], None),
    ("torch.optim:Adam", ()): ("conforms", {}, [], None),
}


def test_expected_covers_every_peer():
    assert set(EXPECTED) == {(p.target, tuple(p.kwargs.items())) for p in PEERS}


def _installed(package):
    import importlib.util

    return importlib.util.find_spec(package) is not None


_PEER_RUNS: dict = {}


def _shared_run_peer(peer, progress=None):
    """``run_peer(peer)``, audited once per process: test_peer_conformance checks each audit and
    test_docs_carry_the_current_peer_table renders the same audits (they run deterministically on fixed data) into
    the table, so the peers are not audited twice. Both tests are in one xdist group, so one process runs them."""
    if progress is not None:
        return run_peer(peer, progress)
    key = PEERS.index(peer)
    if key not in _PEER_RUNS:
        _PEER_RUNS[key] = run_peer(peer)
    return _PEER_RUNS[key]


@pytest.mark.peers
@pytest.mark.xdist_group("peers")
@pytest.mark.parametrize("peer", PEERS, ids=[f"{p.target}{p.kwargs or ''}" for p in PEERS])
def test_peer_conformance(peer):
    if not _installed(peer.package):
        pytest.skip(f"{peer.package} is not installed")
    r = _shared_run_peer(peer)
    verdict, convention, departures, grad = EXPECTED[(peer.target, tuple(peer.kwargs.items()))]
    assert r.verdict == verdict, r.text()
    assert r.changed_from_preset == convention and r.explained_by == departures, r.text()
    effect = None if r.grad_modified is None else "replaces" if r.grad_modified["replaced"] else "writes"
    assert effect == grad


@pytest.mark.peers
@pytest.mark.xdist_group("peers")
def test_docs_carry_the_current_peer_table(monkeypatch):
    for package in ("pytorch_optimizer", "lion_pytorch", "timm", "grams", "heavyball"):
        if not _installed(package):
            pytest.skip(f"{package} is not installed: the table would be partial")
    from pathlib import Path

    from ams_theory.audit import conform as cf

    monkeypatch.setattr(cf, "run_peer", _shared_run_peer)     # the audits test_peer_conformance made, or new ones
    _, table = cf.peer_table()
    page = (Path(__file__).resolve().parents[2] / "docs" / "conformance.md").read_text()
    missing = [line for line in table.splitlines() if line not in page]
    assert not missing, ("docs/conformance.md's conformance table is stale; regenerate with "
                         "`ams-theory conform --peers`:\n" + "\n".join(missing))


# ----------------------------------------------------------------------------- localisation from the target's state

@pytest.mark.parametrize("method, defects, quantity", [
    ("adamw", ("beta1_weights_gradient",), "first moment"),
    ("adamw", ("beta2_weights_gradient",), "second moment"),
    ("adamw", ("no_bias_correction_m",), "step computed from the state"),
    ("adamw", ("v_correction_outside_sqrt",), "step computed from the state"),
    ("cadamw", ("mask_written_into_momentum",), "first moment"),
    ("lion", ("beta2_weights_gradient",), "first moment"),
    ("lion", ("beta1_weights_gradient",), "step computed from the state"),
    ("adamw", ("beta1_weights_gradient", "no_bias_correction_v"), "first moment"),      # a pair: the first one
    ("cadamw", ("beta2_weights_gradient", "mask_sign_flipped"), "second moment"),
])
def test_localisation_names_the_quantity_and_the_departure_it_follows(method, defects, quantity):
    """Each step replayed from the target's own state: the first quantity that departs is named, and the single
    departure of the grammar that reproduces it there (nothing extra); the search then explains the record."""
    r = conform(_combined(method, *defects), method)
    loc = r.localisation
    assert r.verdict == "departs" and loc["roles"]["m"] == "m" and loc["first"]["quantity"] == quantity
    assert [f["name"] for f in loc["follows"]] == [defects[0]], loc["follows"]
    assert set(r.explained_by) == set(defects) and "localised   state matched" in r.text()


class StateElsewhere(torch.optim.Optimizer):
    """Adam with beta1 weighting the new gradient, its moments kept in attributes, not in opt.state."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))
        self.moments = {}

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                m, v, t = self.moments.setdefault(p, [torch.zeros_like(p), torch.zeros_like(p), 0])
                t += 1
                self.moments[p][2] = t
                p.mul_(1 - group["lr"] * group["weight_decay"])
                m.lerp_(p.grad, b1)
                v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                den = (v / (1 - b2 ** t)).sqrt().add_(group["eps"])
                p.addcdiv_(m, den, value=-group["lr"] / (1 - b1 ** t))


def test_a_target_whose_state_is_not_public_falls_back_and_says_so():
    r = conform(StateElsewhere, "adamw")
    assert r.localisation["roles"] is None and "keeps no state in opt.state" in r.localisation["why"]
    assert r.explained_by == ["beta1_weights_gradient"] and "whole grammar is searched" in r.text()


class LowPrecisionState(torch.optim.Optimizer):
    """torch's AdamW with its moments stored in ``state_dtype`` (float32 by default) and the step computed in the
    parameters' float64."""

    WEIGHT_OF_NEW = staticmethod(lambda b1: 1 - b1)        # the weight of the new gradient in the first moment

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, state_dtype="float32"):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))
        self.state_dtype = getattr(torch, state_dtype)

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            (b1, b2), lr = group["betas"], group["lr"]
            for p in group["params"]:
                s = self.state[p]
                if not s:
                    s["step"] = 0
                    s["exp_avg"] = torch.zeros_like(p, dtype=self.state_dtype)
                    s["exp_avg_sq"] = torch.zeros_like(p, dtype=self.state_dtype)
                s["step"] += 1
                t, g = s["step"], p.grad.to(self.state_dtype)
                s["exp_avg"].lerp_(g, self.WEIGHT_OF_NEW(b1))
                s["exp_avg_sq"].mul_(b2).addcmul_(g, g, value=1 - b2)
                p.mul_(1 - lr * group["weight_decay"])
                den = (s["exp_avg_sq"].double() / (1 - b2 ** t)).sqrt().add_(group["eps"])
                p.addcdiv_(s["exp_avg"].double(), den, value=-lr / (1 - b1 ** t))


def test_a_state_kept_in_float32_conforms_within_its_rounding_and_names_the_flag():
    r = conform(LowPrecisionState, "adamw")
    assert r.verdict == "conforms" and r.precision["state"] == {"exp_avg": "float32", "exp_avg_sq": "float32"}
    assert "within the rounding of its state (exp_avg in float32, exp_avg_sq in float32" in r.summary()
    assert "state_dtype='float64'" in r.precision["flags"] and "exact comparison: state_dtype='float64'" in r.text()
    exact = conform(LowPrecisionState, "adamw", {"state_dtype": "float64"})
    assert exact.verdict == "conforms" and exact.precision is None and exact.diagnosis is None


class Bfloat16Swapped(LowPrecisionState):
    """The same in bfloat16 with beta1 weighting the new gradient: rounding does not hide a departure."""

    WEIGHT_OF_NEW = staticmethod(lambda b1: b1)

    def __init__(self, params, **kw):
        super().__init__(params, state_dtype="bfloat16", **kw)


def test_a_departure_in_a_low_precision_state_is_still_localised():
    r = conform(Bfloat16Swapped, "adamw")
    assert r.verdict == "departs" and r.precision["state"]["exp_avg"] == "bfloat16"
    assert r.localisation["first"]["quantity"] == "first moment"
    assert [f["name"] for f in r.localisation["follows"]] == ["beta1_weights_gradient"]


class NeverMovesScalars(torch.optim.AdamW):
    """torch's AdamW that skips 0-d parameters."""

    @torch.no_grad()
    def step(self, closure=None):
        hidden = [(p, p.grad) for g in self.param_groups for p in g["params"] if p.dim() == 0]
        for p, _ in hidden:
            p.grad = None
        try:
            return super().step(closure)
        finally:
            for p, grad in hidden:
                p.grad = grad


def test_a_parameter_never_updated_is_reported_first():
    r = conform(NeverMovesScalars, "adamw")
    assert r.verdict == "departs" and [s["parameter"] for s in r.stuck] == [0] and r.stuck[0]["shape"] == ()
    assert r.summary().startswith("parameter 0 (shape ()) is never updated in settings 1, 2, 3, 4 (its gradient is "
                                  "not 0 at ")
    assert "stuck       parameter 0 (shape ())" in r.text()


class CompiledAdamW(torch.optim.AdamW):
    """torch's AdamW whose parameter update runs through torch.compile (the eager backend: no C compiler)."""

    def step(self, closure=None):
        if not hasattr(self, "_compiled"):
            self._compiled = torch.compile(super().step, backend="eager")
        return self._compiled(closure)


def test_a_compiled_target_is_reported_as_such():
    r = conform(CompiledAdamW, "adamw", {"foreach": False})
    assert r.precision is not None and r.precision["compiled_graphs"] > 0
    assert "compiled    the target ran compiled code" in r.text() and "TORCH_COMPILE_DISABLE=1" in r.text()


# ----------------------------------------------------------------------------- parameterised departures

@pytest.mark.parametrize("target, method, expected", [
    (planted(optim.AdamW, parts={"bias_corrections": lambda b1, b2, t: ((1 - b1 ** t) ** 0.5, 1 - b2 ** t)}),
     "adamw", "bias_correction_powers_0.5_1"),
    (planted(optim.AdamW, parts={"bias_corrections": lambda b1, b2, t: ((1 - b1 ** t) ** 2, (1 - b2 ** t) ** 0.5)}),
     "adamw", "bias_correction_powers_2_0.5"),
    (planted(optim.AdamW, parts={"decay_mask": lambda ops, w, u: [(a * b > 0).to(a.dtype) for a, b in zip(w, u)]}),
     "adamw", "decay_cautious_strict"),
    (planted(optim.Lion, parts={"decay_mask": lambda ops, w, u: [(a * b >= 0).to(a.dtype) for a, b in zip(w, u)]}),
     "lion", "decay_cautious_nonstrict"),
    (planted(optim.CAdamW, parts={"decay_mask": lambda ops, w, u: [(b != 0).to(a.dtype) for a, b in zip(w, u)]}),
     "cadamw", "decay_masked_with_step"),
    (planted(optim.CAdamW, parts={"mask_reference": lambda ops, s, m, w: [x.clone() for x in w]}),
     "cadamw", "mask_against_parameter"),
])
def test_a_parameterised_departure_is_found_where_the_localisation_points(target, method, expected):
    """A power of a bias correction, or the decay gate's tie rule, outside the searched grammar: the localisation
    tries the family at the step where the target leaves our rule, and the search then explains the record."""
    r = conform(target, method)
    assert r.verdict == "departs" and expected in [f["name"] for f in r.localisation["follows"]], r.text()
    assert r.explained_by == [expected], r.diagnosis


def test_a_parameter_stuck_on_the_compiled_path_only_is_reported_so():
    """The target is recorded again in a fresh process with TORCH_COMPILE_DISABLE=1: the eager path moves the
    0-d parameter the compiled path never updates."""
    target = str(Path(__file__).with_name("compiled_targets.py")) + ":SkipsScalarsWhenCompiled"
    r = conform(target, "adamw", {"foreach": False})
    assert r.stuck and r.stuck[0]["parameter"] == 0 and r.precision["compiled_graphs"] > 0
    assert r.summary().startswith("parameter 0 (shape ()) is never updated on the compiled path (the eager path "
                                  "moves it) in settings 1, 2, 3, 4")


def test_cli_report_for_people_in_markdown_and_html(tmp_path, capsys):
    """conform --report: the verdict, the identified departures with their formulas and where the target leaves
    our rule, then the printed report; no JSON; a bad name fails before the audit."""
    md, page = tmp_path / "c.md", tmp_path / "c.html"
    for path in (md, page):
        cli.main(["conform", f"{__name__}:TARGET_FOR_REPORT", "--as", "adamw", "--report", str(path), "--quiet"])
    text, html_text = md.read_text(encoding="utf-8"), page.read_text(encoding="utf-8")
    assert "# Conformance of" in text and "| first moment | beta1_weights_gradient |" in text
    assert "`m <- (1 - beta1) m + beta1 g`" in text and "localised: state matched" in text and '{\n  "' not in text
    assert html_text.startswith("<!doctype html>") and "<code>m &lt;- (1 - beta1) m + beta1 g</code>" in html_text
    assert cli.main(["conform", "torch.optim:AdamW", "--as", "adamw", "--report", str(tmp_path / "c.txt")]) == 2
    assert "must end in .md or .html" in capsys.readouterr().err


TARGET_FOR_REPORT = planted_for("adamw", "beta1_weights_gradient")     # loaded by name, as a user's TARGET
