"""The differential check of caution switches (ams_theory.audit.caution) on planted targets, and its CLI hook.

Each planted target is SGD with momentum (``m <- mu m + g``, descent step ``u = lr m``, decoupled decay
``w <- w (1 - lr wd)`` applied apart, as Algorithm 2 keeps it outside the mask) whose ``caution=True`` masks the
step in one known way; the audit must report exactly that way.
"""
from __future__ import annotations

import time

import pytest
import torch

from ams_theory import cli
from ams_theory.audit import caution as ca
from ams_theory.audit.conform import ConformError

pytestmark = pytest.mark.conform


class Planted(torch.optim.Optimizer):
    """SGD with momentum and a caution switch: ``u_c = phi o u * r`` with ``phi`` by :attr:`tie` against ``g``
    and ``r`` by :attr:`rescale` per :attr:`scope`."""

    tie, rescale, scope = ">", "none", "tensor"

    def __init__(self, params, lr=0.01, momentum=0.9, weight_decay=0.0, caution=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, caution=caution))

    def base(self, p, g, group):
        """The descent direction ``m`` after ``m <- mu m + g`` (to be multiplied by lr)."""
        m = self.state[p].setdefault("momentum_buffer", torch.zeros_like(p))
        return m.mul_(group["momentum"]).add_(g).clone()

    def phi(self, u, g, p):
        if self.tie == ">":
            return (u * g > 0).double()
        if self.tie == ">=":
            return (u * g >= 0).double()
        return (torch.signbit(u) == torch.signbit(g)).double()

    def scale(self, phi):
        """``r``: 1, d / (nnz + xi), 1 / (mean + eps) or 1 / max(mean, c)."""
        kind, value = self.rescale if isinstance(self.rescale, tuple) else (self.rescale, None)
        if kind == "none":
            return 1.0
        if kind == "nnz":      # xi = 0 and nothing aligned: no step (rather than 0 / 0)
            return phi.numel() / (phi.sum() + value) if phi.sum() + value > 0 else 0.0
        return 1 / (phi.mean() + value) if kind == "mean_eps" else 1 / phi.mean().clamp(min=value)

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            us = [self.base(p, p.grad, group) for p in params]
            self.decay(params, us, group)
            if group["caution"]:
                phis = [self.phi(u, p.grad, p) for u, p in zip(us, params)]
                if self.scope == "group":
                    r = self.scale(torch.cat([x.reshape(-1) for x in phis]))
                    us = [u * f * r for u, f in zip(us, phis)]
                else:
                    us = [u * f * self.scale(f) for u, f in zip(us, phis)]
                self.after_mask(params, phis)
            for p, u in zip(params, us):
                p.sub_(group["lr"] * u)

    def decay(self, params, us, group):
        """Decoupled decay, outside the mask: ``w <- w (1 - lr wd)`` before the step."""
        for p in params:
            p.mul_(1 - group["lr"] * group["weight_decay"])

    def after_mask(self, params, phis):
        """A hook for targets that also change their state by the mask."""


def planted(**attrs):
    return type("P", (Planted,), attrs)


class DecayMasked(Planted):
    """The decay term put into the step, ``u = m + wd w``, and masked with it."""

    def decay(self, params, us, group):
        for u, p in zip(us, params):
            u.add_(p, alpha=group["weight_decay"])


class AgainstMomentum(Planted):
    """Nesterov's step ``u = g + mu m`` masked by ``1(u o m > 0)`` (the momentum, not ``g``)."""

    def base(self, p, g, group):
        return super().base(p, g, group) * group["momentum"] + g

    def phi(self, u, g, p):
        return (u * self.state[p]["momentum_buffer"] > 0).double()


class SignBase(Planted):
    """``u = sign(g)``: its mask never fires."""

    def base(self, p, g, group):
        return torch.sign(g)


class WritesMomentum(Planted):
    """Masks the momentum buffer in place as well as the step."""

    def after_mask(self, params, phis):
        for p, f in zip(params, phis):
            self.state[p]["momentum_buffer"].mul_(f)


class NoSwitch(torch.optim.SGD):
    pass


@pytest.mark.parametrize("tie", [">", ">=", "signbit"])
@pytest.mark.parametrize("rescale,words", [
    ("none", "not rescaled"), (("nnz", 0.0), "rescaled by d / nnz per tensor"),
    (("nnz", 1.0), "rescaled by d / (nnz + 1) per tensor"), (("mean_eps", 1e-8), "rescaled by 1 / (mean + 1e-08)"),
    (("clamp", 1e-3), "rescaled by 1 / max(mean, 0.001) per tensor")])
def test_conforming_targets_are_named_exactly(tie, rescale, words):
    r = ca.audit_caution(planted(tie=tie, rescale=rescale))
    assert r.verdict == "conforms" and not r.diagnosis and not r.state_writes, r.text()
    ties = {">": "phi = 1(u o g > 0)", ">=": "phi = 1(u o g >= 0)", "signbit": "phi = signbit(u) = signbit(g)"}
    assert r.convention.startswith(ties[tie] + ", " + words), r.convention
    assert r.convention.endswith("; the decay lr*wd*w outside the mask, with lr (decoupled decay applied apart)"
                                 if rescale != "none" else "(with lr or the rescaled step: not told apart)")
    assert "not pinned down" not in r.convention and {m[0] for m in r.matches} == {tie}
    assert r.kwargs == {"weight_decay": ca.WEIGHT_DECAY} and r.exit_status == 0


def test_group_scope_is_told_from_tensor_scope():
    r = ca.audit_caution(planted(rescale=("nnz", 1.0), scope="group"))
    assert r.verdict == "conforms" and r.convention.startswith("phi = 1(u o g > 0), rescaled by d / (nnz + 1) per "
                                                               "group;")


def test_decay_outside_the_mask_conforms_and_a_masked_decay_departs():
    """Algorithm 2 applies the decay outside the mask: that conforms (named), and a decay masked with the step
    departs, named as such."""
    r = ca.audit_caution(planted(rescale=("nnz", 1.0)))
    assert r.verdict == "conforms" and r.convention.endswith("; the decay lr*wd*w outside the mask, with lr "
                                                             "(decoupled decay applied apart)"), r.text()
    r = ca.audit_caution(type("D", (DecayMasked,), {"rescale": ("nnz", 1.0)}))
    assert r.verdict == "departs" and r.diagnosis == [
        "the decay term lr*wd*w is masked with the step (Algorithm 2 applies it outside the mask, line 13)"], r.text()
    assert r.convention == "phi = 1(u o g > 0), rescaled by d / (nnz + 1) per tensor"


def test_mask_against_the_momentum_is_named():
    r = ca.audit_caution(AgainstMomentum, {"weight_decay": 0.0})
    assert r.verdict == "departs" and r.diagnosis == [
        "the mask compares u with the first moment 'momentum_buffer' (after its update)"], r.text()
    assert not r.state_writes


def test_a_mask_that_never_fires_is_named():
    r = ca.audit_caution(SignBase, {"weight_decay": 0.0})
    assert r.verdict == "never fires" and r.diagnosis == [
        "the mask never fires: u o g > 0 wherever u != 0 at every checked entry, so caution changes nothing but "
        "the scale (u_c = u)"], r.text()
    assert r.exit_status == 1


def test_a_mask_written_into_the_state_is_named():
    r = ca.audit_caution(WritesMomentum)
    assert r.verdict == "departs" and r.state_writes == ["momentum_buffer"] and not r.diagnosis, r.text()
    assert r.convention.startswith("phi = 1(u o g > 0), not rescaled;")
    assert r.summary().endswith("the mask writes into the state 'momentum_buffer'")


def test_a_class_without_a_switch_is_a_one_line_error():
    with pytest.raises(ConformError) as err:
        ca.audit_caution(NoSwitch)
    text = str(err.value)
    assert "\n" not in text and "has no caution switch" in text and "it takes: lr, momentum" in text


def test_the_switch_can_be_named():
    r = ca.audit_caution(type("S", (Planted,), {}), switch="caution")
    assert r.switch == "caution" and r.verdict == "conforms"
    with pytest.raises(ConformError, match="has no keyword 'careful'"):
        ca.audit_caution(NoSwitch, switch="careful")


def test_a_conforming_audit_is_fast():
    t0 = time.perf_counter()
    ca.audit_caution(planted(rescale=("clamp", 1e-3)))
    assert time.perf_counter() - t0 < 5


def test_cli_caution(capsys, tmp_path):
    assert cli.main(["conform", "--caution", "torch.optim:SGD", "--quiet"]) == 2
    assert "has no caution switch" in capsys.readouterr().err
    assert cli.main(["conform", "--caution", "torch.optim:SGD", "--as", "adamw"]) == 2
    assert cli.main(["conform", "torch.optim:SGD", "--as", "adamw", "--switch", "x"]) == 2
    assert "--switch names the caution keyword" in capsys.readouterr().err


def _installed(package):
    import importlib.util

    return importlib.util.find_spec(package) is not None


@pytest.mark.peers
def test_docs_carry_the_current_caution_table():
    for package in ("pytorch_optimizer", "timm", "heavyball"):
        if not _installed(package):
            pytest.skip(f"{package} is not installed: the table would be partial")
    from pathlib import Path

    _, table = ca.caution_peer_table()
    page = (Path(__file__).resolve().parents[2] / "docs" / "conformance.md").read_text()
    missing = [line for line in table.splitlines() if line not in page]
    assert not missing, ("docs/conformance.md's caution table is stale; regenerate with "
                         "`ams-theory conform --peers`:\n" + "\n".join(missing))


def test_cli_peers_prints_the_caution_table_too(monkeypatch, capsys):
    from ams_theory.audit import conform as cf

    monkeypatch.setattr(cf, "peer_table", lambda progress=None: ([], "| conform table |"))
    monkeypatch.setattr(ca, "CAUTIOUS_CLASSES", (ca.CautiousClass("no_such_package:Opt", "caution"),))
    assert cli.main(["conform", "--peers", "--quiet"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "| conform table |" and out[-1] == (
        "| no_such_package | `no_such_package:Opt` | caution | skipped | package not installed |")


class DoubledStep(Planted):
    """The masked step doubled: the mask matches, the factor is none of the paper's rescalings."""

    def scale(self, phi):
        return 2.0


def test_a_factor_none_of_the_rescalings_gives_departs_and_says_so():
    r = ca.audit_caution(DoubledStep)
    assert r.verdict == "departs" and r.diagnosis == [ca.UNNAMED], r.text()
    assert "a factor none of the named rescalings gives (from 2 to 2)" in r.convention


class InertSwitch(Planted):
    """A caution switch that changes nothing: the base step whatever its value."""

    def phi(self, u, g, p):
        return torch.ones_like(u)


def test_a_switch_that_changes_nothing_is_named_as_such():
    """Not 'the mask compares u with u itself', which also reproduces an unchanged step."""
    r = ca.audit_caution(InertSwitch)
    assert r.verdict == "departs" and r.diagnosis == [ca.SWITCH_INERT], r.text()


class DoubledDecayMasked(DecayMasked):
    """The decay masked with the step, and the masked step doubled: two departures, both named."""

    def scale(self, phi):
        return 2.0


def test_a_masked_decay_and_an_unnamed_factor_are_both_named():
    r = ca.audit_caution(DoubledDecayMasked)
    assert r.verdict == "departs" and r.diagnosis == [
        "the decay term lr*wd*w is masked with the step (Algorithm 2 applies it outside the mask, line 13)",
        ca.UNNAMED], r.text()
