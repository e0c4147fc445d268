"""Measured speed of the built-in workloads: ``workloads/data/timings.json``.

``benchmarks/workloads.py`` writes the file: per workload, seconds and
CPU-seconds per trial (full step budget, evaluations included, compilation
excluded) under each batching strategy of the engine, and the one chosen.
``hplists workloads`` shows it; study plans use it before a store has
recorded any trial of a workload.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["load_timings", "measured_seconds_per_step"]


def load_timings() -> dict[str, Any]:
    """The timings file as a dict (``{}`` before the benchmark has written one).

    Example:
        >>> t = load_timings()
        >>> t == {} or "workloads" in t
        True
    """
    path = resources.files("hplists.workloads.data").joinpath("timings.json")
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def measured_seconds_per_step() -> dict[str, float]:
    """Wall seconds per training step of each measured, registered workload.

    Seconds per trial of the workload's default batching divided by its step
    budget.

    Example:
        >>> rates = measured_seconds_per_step()
        >>> all(r > 0 for r in rates.values())
        True
    """
    from hplists.workloads.registry import get_workload

    out = {}
    for name, t in load_timings().get("workloads", {}).items():
        try:
            budget = get_workload(name).step_budget
        except ValueError:  # measured for a workload no longer registered
            continue
        if t.get("seconds_per_trial"):
            out[name] = float(t["seconds_per_trial"]) / budget
    return out
