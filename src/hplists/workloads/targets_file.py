"""Validation targets of the built-in workloads, read from a versioned data file.

``workloads/data/targets.json`` maps workload names to their target and the
provenance of how it was set (``hplists targets set``, see
:mod:`hplists.study.target_setting` and ``docs/targets.md``). A workload with no
entry has no target yet. The file::

    {"format": "hplists-targets", "format_version": 1,
     "targets": {"<workload>": {"target": 0.123, "metric": "error_rate", "mode": "min",
                                "workload_version": "1", "provenance": {...}}}}

Writes (:func:`write_entries`) merge with the entries already there, under a
lock on its directory and through an atomic rename, so an entry is never lost or half
written, whichever process writes.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import math
import os
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from hplists._files import atomic_write
from hplists.exceptions import DataError, InvalidParameterError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "default_path",
    "entry_for",
    "read_targets",
    "target_for",
    "targets_file",
    "write_entries",
]

FORMAT = "hplists-targets"
FORMAT_VERSION = 1
_FILE = "targets.json"
_REQUIRED = ("target", "metric", "mode")


def default_path() -> Path:
    """Where the package's targets file lives (``hplists/workloads/data/targets.json``)."""
    return Path(str(resources.files("hplists.workloads.data").joinpath(_FILE)))


def _check(data: Any, source: str) -> dict[str, Any]:
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise DataError(f"{source} is not an hplists targets file (its 'format' must be "
                         f"{FORMAT!r})")
    if data.get("format_version") != FORMAT_VERSION:
        raise DataError(f"{source}: unknown format_version {data.get('format_version')!r}; "
                         f"this hplists reads version {FORMAT_VERSION}")
    entries = data.get("targets")
    if not isinstance(entries, Mapping):
        raise DataError(f"{source}: 'targets' must map workload names to entries")
    for name, entry in entries.items():
        _check_entry(name, entry, source)
    return dict(data)


def _check_entry(name: str, entry: Any, source: str) -> None:
    if not isinstance(entry, Mapping):
        raise DataError(f"{source}: targets[{name!r}] must be an object")
    missing = [k for k in _REQUIRED if k not in entry]
    if missing:
        raise DataError(f"{source}: targets[{name!r}] is missing {missing}")
    t = entry["target"]
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
        raise DataError(f"{source}: targets[{name!r}].target must be a finite number, got {t!r}")
    if entry["mode"] not in ("min", "max"):
        raise DataError(f"{source}: targets[{name!r}].mode must be one of 'min', 'max'; "
                         f"got {entry['mode']!r}")


def read_targets(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The parsed and checked targets file; an empty file structure when it does not exist.

    Example:
        >>> import tempfile, os
        >>> read_targets(os.path.join(tempfile.mkdtemp(), "none.json"))["targets"]
        {}
    """
    path = default_path() if path is None else Path(path)
    if not path.is_file():
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "targets": {}}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DataError(f"targets file {str(path)!r} is not valid JSON: {e}") from None
    return _check(data, f"targets file {str(path)!r}")


@functools.cache
def targets_file() -> dict[str, Any]:
    """The parsed package targets file (cached; ``{"targets": {}}`` before any is written)."""
    return read_targets(None)


def entry_for(name: str, path: str | os.PathLike[str] | None = None) -> dict[str, Any] | None:
    """The whole entry of workload ``name`` (target, metric, mode, provenance), or ``None``."""
    data = targets_file() if path is None else read_targets(path)
    entry = data.get("targets", {}).get(name)
    return None if entry is None else dict(entry)


def target_for(name: str) -> float | None:
    """The validation target of workload ``name``, or ``None`` if it has none."""
    entry = targets_file().get("targets", {}).get(name)
    return None if entry is None else float(entry["target"])


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # Lock the directory itself: no lock file is left behind in the package data.
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _undated(entry: Mapping[str, Any]) -> dict[str, Any]:
    prov = {k: v for k, v in entry.get("provenance", {}).items() if k != "date"}
    return {**entry, "provenance": prov}


def write_entries(
    entries: Mapping[str, Mapping[str, Any]],
    path: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Adds or replaces the entries of ``entries``, keeping every other workload's entry.

    The read-merge-write runs under an exclusive lock on the file's directory and the
    new file replaces the old one with an atomic rename, so concurrent writers
    and crashes never lose an entry. Returns the merged file.

    An entry that differs from the file's only in ``provenance["date"]`` (the
    same target recomputed from the same trials) is left as it is.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "targets.json")
        >>> _ = write_entries({"a": {"target": 0.2, "metric": "error_rate", "mode": "min"}}, p)
        >>> sorted(write_entries({"b": {"target": 30.0, "metric": "bleu", "mode": "max"}},
        ...                      p)["targets"])
        ['a', 'b']
    """
    if path is None:
        raise InvalidParameterError(
            "write_entries needs the targets file to write: the package's own file "
            f"({default_path()}) is read-only data, written only on purpose (pass it explicitly, "
            "as `hplists targets set --into-package` does)")
    path = Path(path)
    for name, entry in entries.items():
        _check_entry(name, entry, "new entry")
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        data = read_targets(path)
        old = data.get("targets", {})
        # An entry recomputed from the same trials keeps the date it was first set.
        merged = {**old, **{k: dict(v) for k, v in entries.items()
                            if k not in old or _undated(old[k]) != _undated(v)}}
        data = {"format": FORMAT, "format_version": FORMAT_VERSION,
                **{k: v for k, v in data.items() if k not in ("format", "format_version",
                                                              "targets")},
                "targets": dict(sorted(merged.items()))}
        text = json.dumps(data, indent=2, allow_nan=False) + "\n"
        atomic_write(path, text)
    if path.resolve() == default_path().resolve():
        targets_file.cache_clear()
    return data
