"""The trial store: every (study, point, workload, seed) with its status, curve and provenance.

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
from hplists.store.sqlite import SQLiteStore

__all__ = [
    "CorruptStoreError",
    "EmptyStoreError",
    "SQLiteStore",
    "StoreDiskError",
    "TrialKey",
    "TrialRecord",
    "TrialStore",
    "canonical_point",
    "open_store",
    "point_id",
]


def open_store(
    path: str | os.PathLike[str],
    *,
    create: bool = True,
    timeout: float = 60.0,
    heartbeat_timeout: float = 3600.0,
) -> SQLiteStore:
    """Opens (and, if ``create``, creates) the SQLite trial store at ``path``.

    A file that is not an hplists store, or one with an unknown schema version,
    is a :class:`~hplists.exceptions.DataError` saying so; a damaged store (or,
    with ``create=False``, an empty file) is a :class:`CorruptStoreError`. See
    :class:`SQLiteStore` for the arguments.
    """
    return SQLiteStore(path, create=create, timeout=timeout, heartbeat_timeout=heartbeat_timeout)
