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


# ----- trial stores of every backend ------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL server for the session (``helpers.postgres``), or a skip saying
    why there is none (a failure instead with HPLISTS_REQUIRE_POSTGRES=1)."""
    import os

    from helpers import postgres

    server = postgres.start()
    if isinstance(server, str):
        if os.environ.get(postgres.REQUIRE_ENV) == "1":
            pytest.fail(server)
        pytest.skip(server)
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server):
    """The URL (with its password) of a fresh, empty database on the test server."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    """Where a new store goes, once per backend: an SQLite file's path, a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "study.db")
    return request.getfixturevalue("postgres_url")
