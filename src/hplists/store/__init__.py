"""The trial store: every (study, point, workload, seed) with its status, curve and provenance.

A store is named by a path (an SQLite file) or a URL (``sqlite:///path.db``,
``postgresql://user@host:5432/dbname``); :mod:`hplists.store.registry` says
which URL opens which backend.

Example:
    >>> import tempfile, os
    >>> from hplists import Curve, HParams
    >>> from hplists.store import open_store
    >>> store = open_store(os.path.join(tempfile.mkdtemp(), "study.db"))
    >>> key = store.claim("s", HParams(1e-3, 0.9, 0.999), "mnist", seed=0)
    >>> store.finish(key, Curve([100], [3.0], [0.2], {"error_rate": [0.05]}))
    True
    >>> store.studies(), store.workloads(), len(store.trials(status="complete"))
    (['s'], ['mnist'], 1)
"""

from __future__ import annotations

import os

from hplists.store import registry
from hplists.store.base import (
    CorruptStoreError,
    EmptyStoreError,
    StoreDiskError,
    TrialKey,
    TrialRecord,
    TrialStore,
    canonical_point,
    point_id,
)
from hplists.store.postgres import PostgresStore
from hplists.store.registry import register_backend, store_exists
from hplists.store.sqlite import SQLiteStore

__all__ = [
    "CorruptStoreError",
    "EmptyStoreError",
    "PostgresStore",
    "SQLiteStore",
    "StoreDiskError",
    "TrialKey",
    "TrialRecord",
    "TrialStore",
    "canonical_point",
    "open_store",
    "point_id",
    "register_backend",
    "store_exists",
]


def open_store(
    url_or_path: str | os.PathLike[str],
    *,
    create: bool = True,
    timeout: float = 60.0,
    heartbeat_timeout: float = 3600.0,
) -> TrialStore:
    """Opens (and, if ``create``, creates) the trial store that ``url_or_path`` names.

    A plain path or an ``sqlite:///`` URL opens an :class:`SQLiteStore`; a
    ``postgresql://`` URL a :class:`PostgresStore` (its database must exist;
    the tables are created in it). An unknown scheme is an
    :class:`~hplists.exceptions.InvalidParameterError` naming the schemes there
    are. A file that is not an hplists store, or one with an unknown schema
    version, is a :class:`~hplists.exceptions.DataError` saying so; a damaged
    store (or, with ``create=False``, an empty file) is a
    :class:`CorruptStoreError`; a server that cannot be reached is a
    one-line :class:`~hplists.exceptions.DataError` naming the URL (password
    masked). See :class:`SQLiteStore` for the arguments.
    """
    return registry.open_store(url_or_path, create=create, timeout=timeout,
                               heartbeat_timeout=heartbeat_timeout)
