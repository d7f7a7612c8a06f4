"""Shared test set-up: one intra-op thread and a small float64 regression problem."""
import pytest
import torch

F64 = torch.float64


def pytest_configure(config):
    """Without pytest-xdist (``-p no:xdist``, or where it is not installed, as on the lent GPU machine: run with
    ``-o addopts=`` there, since pyproject's ``-n auto`` needs it), its ``xdist_group`` mark is registered here, so
    that ``--strict-markers`` still accepts the modules that use it."""
    if not config.pluginmanager.hasplugin("xdist"):
        config.addinivalue_line("markers", "xdist_group(name): keep these tests on one xdist worker (no-op here)")


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """The tests use tiny tensors: extra intra-op threads only add spin-waiting on a 2-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same global torch seed: unseeded draws are reproducible."""
    torch.manual_seed(1234)


def make_model(seed: int = 0) -> torch.nn.Module:
    """A two-layer float64 MLP (6 -> 16 -> 3)."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).to(F64)


_gen = torch.Generator().manual_seed(1234)
X = torch.randn(96, 6, generator=_gen, dtype=F64)
Y = torch.randn(96, 3, generator=_gen, dtype=F64)


def batch(t: int):
    """Mini-batch t: 32 rows of a fixed set; feature 2 is zero on even steps, so the first layer's
    column 2 gets exact-zero gradients while its momentum is not zero."""
    i = (t * 32) % 96
    x = X[i:i + 32].clone()
    if t % 2 == 0:
        x[:, 2] = 0.0
    return x, Y[i:i + 32]


# ----------------------------------------------------------------------------- claim runs shared by the suite

_RUNS: dict = {}


def shared_run(cid: str, budget: str = "quick", seed: int = 0):
    """``run_claim(REGISTRY[cid], budget, seed)``, computed once per test process and shared by every test that
    asks for the same unpatched claim (the checks are deterministic in ``budget`` and ``seed``; several modules
    assert different things about the same quick runs, and B.2/B.3 alone take ~50 s). The key holds the claim's
    ``check`` itself, so a test that monkeypatches a claim's check gets a fresh run, never a shared one. Only call
    it where no monkeypatch that a check could see is active; the tests only read the results.

    The modules that use it are grouped on one xdist worker (``xdist_group("claims")``), so each claim runs once
    in the whole suite rather than once per worker and module."""
    import proofs_checks
    from ams_theory.claims.registry import REGISTRY, run_claim

    proofs_checks.load()
    claim = REGISTRY[cid]
    key = (cid, budget, seed, claim.check)
    if key not in _RUNS:
        _RUNS[key] = run_claim(claim, budget, seed)
    return _RUNS[key]


def shared_cli_run_claim(claim, budget: str = "standard", seed: int = 0):
    """A stand-in for ``ams_theory.cli.run_claim`` with :func:`shared_run`'s cache: the CLI tests check the
    command's tables and reports, built from the same (deterministic) runs the claim tests check."""
    from ams_theory.claims.registry import REGISTRY, run_claim

    if REGISTRY.get(claim.id) is not claim:          # a claim object made by a test: not shared
        return run_claim(claim, budget, seed)
    return shared_run(claim.id, budget, seed)
