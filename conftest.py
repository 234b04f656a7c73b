"""Repository-wide test settings: no test downloads a dataset by surprise; one torch thread per test.

Loaders download missing datasets on first use (common.data.core); under pytest that is turned
off with REPRO_OFFLINE=1 (set here before collection, so module-level checks are covered too;
run with REPRO_OFFLINE=0 to let data tests download). A test that finds no data then skips or
sees DataMissingError at once. Tests of the download path unset the variable themselves and
serve files locally (file:// URLs or a patched urlopen).
"""

import os

import pytest

os.environ.setdefault("REPRO_OFFLINE", "1")



def pytest_collection_finish(session):
    """Importing a test module must not change torch's default dtype (a module-level
    ``torch.set_default_dtype(torch.float64)`` once broke 48 tests of other papers)."""
    import torch

    if torch.get_default_dtype() != torch.float32:
        raise pytest.UsageError(f"a test module changed torch's default dtype to {torch.get_default_dtype()} "
                                "at import; set it inside a fixture that restores it")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Every test runs on one torch thread (restored after). The tests' tensors are small, and on a shared
    2-core machine a second OpenMP thread spin-waits and makes them many times slower, not faster. A test
    about thread counts sets its own inside."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _default_dtype_is_restored():
    """A test that changes torch's default dtype must restore it: a leaked float64 default breaks
    every later test that mixes new tensors with float32 models."""
    import torch

    before = torch.get_default_dtype()
    yield
    after = torch.get_default_dtype()
    torch.set_default_dtype(before)
    assert after == before, f"the test left torch's default dtype at {after} (was {before})"


@pytest.fixture
def few_bootstrap_draws(monkeypatch):
    """``common.claims.bootstrap_interval`` with 300 draws instead of 4,000, for tests of claims built on
    clear-cut constructed results (use: ``pytestmark = pytest.mark.usefixtures("few_bootstrap_draws")``)."""
    from functools import partial

    import common.claims as CC

    monkeypatch.setattr(CC, "bootstrap_interval", partial(CC.bootstrap_interval, n_boot=300))
