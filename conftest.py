"""Repository-wide test setting: no test downloads a dataset by surprise.

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
def _default_dtype_is_restored():
    """A test that changes torch's default dtype must restore it: a leaked float64 default breaks
    every later test that mixes new tensors with float32 models."""
    import torch

    before = torch.get_default_dtype()
    yield
    after = torch.get_default_dtype()
    torch.set_default_dtype(before)
    assert after == before, f"the test left torch's default dtype at {after} (was {before})"
