"""Shared test set-up: one intra-op thread and a small float64 regression problem."""
import pytest
import torch

F64 = torch.float64


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
