"""Fixtures shared by the test modules (the tiny workloads live in ``helpers.workloads``)."""

from __future__ import annotations

import pytest

from helpers import workloads as sw


@pytest.fixture
def tiny():
    """The tiny study workloads in the registry, for one test only."""
    with sw.registered():
        yield


@pytest.fixture
def one_torch_thread():
    """PyTorch on one thread for the test: tiny tensors gain nothing from more, and on a
    busy 2-core machine threads that spin-wait for each other make runs 10x slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
