"""The optimizer registry of the test suites (in the style of torch's ``OptimizerInfo``): one description per
preset of :data:`ams_theory.PRESETS`, and the small model, data and run helpers every path is compared on.
``tests/optim/test_optimizer_suite.py`` runs the contract suite through it; ``tests/optim/test_fused.py`` the compiled path."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ams_theory import PRESETS

DT = torch.float64
NAN, INF = float("nan"), float("inf")


# ----------------------------------------------------------------------------
# registry
# ----------------------------------------------------------------------------

@dataclass(frozen=True)
class OptimInfo:
    name: str
    family: str            # "adam" | "lion" | "momentum" | "gd"
    n_betas: int | None    # length of ``betas`` (None: no ``betas`` keyword)
    has_eps: bool
    has_beta: bool         # single ``beta`` keyword (momentum family)
    has_caution: bool      # takes mask / lam / tie / normalize / xi / mask_eps / scope
    cautious: bool         # masks by default (``mask`` is not None in the preset)

    @property
    def cls(self):
        return PRESETS[self.name]

    def betas(self, *values):
        """A valid ``betas`` for this class (first entries from ``values``)."""
        base = {2: (0.9, 0.99), 3: (0.9, 0.99, 0.0)}[self.n_betas]
        return tuple(values) + base[len(values):]


INFOS = {i.name: i for i in [
    OptimInfo("AMS", "adam", 3, True, False, True, True),
    OptimInfo("Adam", "adam", 2, True, False, True, False),
    OptimInfo("AdamW", "adam", 2, True, False, True, False),
    OptimInfo("CAdamW", "adam", 2, True, False, True, True),
    OptimInfo("Grams", "adam", 2, True, False, True, True),
    OptimInfo("Lion", "lion", 2, False, False, True, False),
    OptimInfo("CLion", "lion", 2, False, False, True, True),
    OptimInfo("GDM", "momentum", None, False, True, True, False),
    OptimInfo("CGDM", "momentum", None, False, True, True, True),
    OptimInfo("SignedMomentum", "momentum", None, False, True, True, False),
    OptimInfo("CSignedMomentum", "momentum", None, False, True, True, True),
    OptimInfo("GD", "gd", None, False, False, False, False),
]}
NAMES = sorted(PRESETS)
CAUTION_NAMES = [n for n in NAMES if INFOS[n].has_caution]


# ----------------------------------------------------------------------------
# model, data, runs
# ----------------------------------------------------------------------------

class Net(nn.Module):
    """Several shapes: a Linear layer, a 0-d scale, a 3-d tensor and a tensor whose
    gradient has exact zeros (columns 3: of ``dead`` never reach the loss)."""

    def __init__(self, dtype=DT, device="cpu", seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)

        def r(*shape):
            return torch.randn(shape, generator=g, dtype=torch.float64)

        self.lin = nn.Linear(4, 3, dtype=dtype, device=device)
        with torch.no_grad():
            self.lin.weight.copy_(r(3, 4))
            self.lin.bias.copy_(r(3))
        self.scale = nn.Parameter(r().add(1.5).to(dtype=dtype, device=device))
        self.w3 = nn.Parameter(r(2, 3, 2).to(dtype=dtype, device=device))
        self.dead = nn.Parameter(r(2, 5).to(dtype=dtype, device=device))

    def loss(self, x, y):
        h = torch.tanh(self.lin(x)) * self.scale
        t = torch.einsum("bk,ijk->bij", x[:, :2], self.w3)
        return (((h - y) ** 2).mean() + torch.tanh(t).pow(2).mean()
                + ((self.dead[:, :3] - x[0, :3]) ** 2).sum() * 0.1)


# position of each parameter in ``list(Net().parameters())`` (direct parameters come before ``lin``'s)
IDX = {name: i for i, (name, _) in enumerate(Net().named_parameters())}


def batches(n, dtype=DT, device="cpu", seed=1):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        x = torch.randn(8, 4, generator=g, dtype=torch.float64)
        y = torch.randn(8, 3, generator=g, dtype=torch.float64)
        out.append((x.to(dtype=dtype, device=device), y.to(dtype=dtype, device=device)))
    return out


def train(model, opt, data):
    for x, y in data:
        opt.zero_grad(set_to_none=True)
        model.loss(x, y).backward()
        opt.step()


def params_of(model):
    return [p.detach().clone() for p in model.parameters()]


def state_of(model, opt):
    """The optimizer state per parameter (in model order), cloned."""
    return [{k: (v.detach().clone() if torch.is_tensor(v) else v) for k, v in opt.state[p].items()}
            if p in opt.state else None for p in model.parameters()]


def assert_equal_lists(a, b, exact=True, tol=1e-12, what=""):
    assert len(a) == len(b), what
    for i, (x, y) in enumerate(zip(a, b)):
        if isinstance(x, dict) or isinstance(y, dict) or x is None or y is None:
            assert (x is None) == (y is None), f"{what}[{i}]"
            if x is None:
                continue
            assert x.keys() == y.keys(), f"{what}[{i}]: {sorted(x)} vs {sorted(y)}"
            for k in x:
                assert_equal_lists([x[k]], [y[k]], exact, tol, f"{what}[{i}][{k!r}]")
            continue
        x, y = x.cpu(), y.cpu()
        assert x.dtype == y.dtype and x.shape == y.shape, f"{what}[{i}]"
        if exact:
            assert torch.equal(x, y), f"{what}[{i}] differs: max |diff| {(x - y).abs().max().item()}"
        else:
            torch.testing.assert_close(x, y, atol=tol, rtol=tol, equal_nan=True, msg=f"{what}[{i}]")


def make_opt(name, params, **kw):
    return PRESETS[name](params, **kw)


def all_finite(model, opt):
    tensors = [p.detach() for p in model.parameters()]
    for st in opt.state.values():
        tensors += [v for v in st.values() if torch.is_tensor(v)]
    return all(bool(torch.isfinite(t.float()).all()) for t in tensors)


# ----------------------------------------------------------------------------
# 1. construction errors
# ----------------------------------------------------------------------------
