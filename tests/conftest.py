"""Fixtures shared by the test modules (the tiny workloads live in ``study_workloads``)."""

from __future__ import annotations

import pytest

import study_workloads as sw


@pytest.fixture
def tiny():
    """The tiny study workloads in the registry, for one test only."""
    with sw.registered():
        yield
