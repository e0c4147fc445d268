"""Validation targets of the built-in workloads, read from a versioned data file.

``workloads/data/targets.json`` maps workload names to their target and the
provenance of how it was set (``hplists targets set``). A workload with no
entry has no target yet.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

__all__ = ["target_for", "targets_file"]

_FILE = "targets.json"


@functools.cache
def targets_file() -> dict[str, Any]:
    """The parsed targets file (``{}`` when none has been written yet)."""
    path = resources.files("hplists.workloads.data").joinpath(_FILE)
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def target_for(name: str) -> float | None:
    """The validation target of workload ``name``, or ``None`` if it has none."""
    entry = targets_file().get("targets", {}).get(name)
    return None if entry is None else float(entry["target"])
