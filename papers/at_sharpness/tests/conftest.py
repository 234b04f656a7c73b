"""One torch thread for this paper's tests: the closed forms are small float64 problems, and on a shared
machine a second OpenMP thread makes them tens of times slower (spin-waits), not faster."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
