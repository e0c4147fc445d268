"""Fixtures shared by the test modules (the tiny workloads live in ``helpers.workloads``)."""

from __future__ import annotations

import pytest

from helpers import workloads as sw


@pytest.fixture
def tiny():
    """The tiny study workloads in the registry, for one test only."""
    with sw.registered():
        yield
