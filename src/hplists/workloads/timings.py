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

__all__ = ["current_timings", "load_timings", "measured_seconds_per_step"]


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


def current_timings() -> dict[str, dict[str, Any]]:
    """Measured entries of registered workloads at their current ``version``, by name.

    An entry measured for an older version of a workload (or for a workload no
    longer registered) describes another program and is left out.

    Example:
        >>> from hplists.workloads.registry import get_workload
        >>> all(t["version"] == get_workload(n).version for n, t in current_timings().items())
        True
    """
    from hplists.workloads.registry import get_workload

    out = {}
    for name, t in load_timings().get("workloads", {}).items():
        try:
            w = get_workload(name)
        except ValueError:
            continue
        if str(t.get("version", "1")) == str(w.version):
            out[name] = t
    return out


def measured_seconds_per_step() -> dict[str, float]:
    """Wall seconds per training step of each measured, registered workload.

    Seconds per trial of the workload's default batching divided by its step
    budget, for the entries of :func:`current_timings`.

    Example:
        >>> rates = measured_seconds_per_step()
        >>> all(r > 0 for r in rates.values())
        True
    """
    from hplists.workloads.registry import get_workload

    return {name: float(t["seconds_per_trial"]) / get_workload(name).step_budget
            for name, t in current_timings().items() if t.get("seconds_per_trial")}
