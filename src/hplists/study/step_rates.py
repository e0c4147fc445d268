"""Wall seconds per training step of each workload, from recorded runs: the time plans estimate.

A study's plan (:meth:`hplists.study.staged.Study.plan`) multiplies the steps
each workload has left by its rate. The rate of a workload is the median of
``seconds / steps`` over the complete trials that stores recorded for it,
divided by the worker processes that train side by side (``"processes"``
batching) and multiplied by the recorded runs' :func:`wall_clock_factor`,
the overhead that a trial's own seconds do not show (compilation, data,
scoring, hand-over between processes, other load).

Why the median and not the mean, although a total is a count times a mean: a
trial's own seconds count every second it was in flight, so trials of a run
paused with SIGSTOP, or sharing the cores with other jobs, record rates many
times the usual one (up to 500x in the learning-rate-free study's store), and
a few of them move the mean far. Replaying the learning-rate-free study's
history (``benchmarks/plan_estimate.py``: each window of 600 finished trials
predicted from the trials recorded before it, against the window's wall time
without its pauses), the mean predicted 1.6x the time the windows took and
the median 1.1x.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from hplists.curves import Status

__all__ = ["RUN_GAP_SECONDS", "FinishedTrial", "estimated_seconds_per_step", "finished_trials",
           "seconds_per_step_of", "wall_clock_factor"]

# Finishes further apart than this belong to different runs (a stopped and resumed study).
RUN_GAP_SECONDS = 600.0


class FinishedTrial(NamedTuple):
    """A complete trial's timing, as a store recorded it."""

    #: Unix time of its finish (NaN for an imported trial without one).
    finished_at: float
    workload: str
    #: Its own seconds at its last evaluation.
    seconds: float
    #: Its steps at its last evaluation.
    steps: float


def finished_trials(stores: Sequence[Any]) -> list[list[FinishedTrial]]:
    """Per store, the :class:`FinishedTrial` of each complete trial with a timed curve.

    Example:
        >>> from hplists.store import open_store
        >>> finished_trials([open_store(":memory:")])
        [[]]
    """
    out = []
    for store in stores:
        rows = []
        for r in store.trials(status=Status.COMPLETE):
            c = r.curve
            if c is None or len(c) == 0 or not math.isfinite(c.seconds[-1]) or c.steps[-1] <= 0:
                continue
            t = r.provenance_time("finished_at")
            rows.append(FinishedTrial(math.nan if t is None else t, r.workload,
                                      float(c.seconds[-1]), float(c.steps[-1])))
        out.append(rows)
    return out


def seconds_per_step_of(finished: Sequence[Sequence[FinishedTrial]],
                        statistic: Callable[[np.ndarray], Any] = np.median) -> dict[str, float]:
    """``statistic`` of each workload's ``seconds / steps`` over ``finished`` (all stores).

    Example:
        >>> rows = [FinishedTrial(0.0, "w", 2.0, 100.0), FinishedTrial(1.0, "w", 50.0, 100.0),
        ...         FinishedTrial(2.0, "w", 3.0, 100.0)]
        >>> seconds_per_step_of([rows]), seconds_per_step_of([rows], np.mean)
        ({'w': 0.03}, {'w': 0.18333333333333335})
    """
    rates: dict[str, list[float]] = defaultdict(list)
    for rows in finished:
        for _, workload, seconds, steps in rows:
            rates[workload].append(seconds / steps)
    return {w: float(statistic(np.asarray(v))) for w, v in rates.items()}


def wall_clock_factor(finished: Sequence[Sequence[FinishedTrial]], workers: int) -> float | None:
    """Wall-clock time of the recorded runs over the training time their trials recorded.

    A trial records its own training seconds; a run of ``workers`` worker
    processes also spends wall time on compilation, data, evaluation scoring,
    hand-over between processes and whatever else the machine runs. Within each
    run (finishes less than :data:`RUN_GAP_SECONDS` apart, of at least 10
    trials), the wall time from its first to its last finish is compared with
    the recorded seconds of the trials after the first, divided by
    ``workers``; the factor is the ratio of the totals over all runs (at least
    1), or ``None`` with no such run.

    Example:
        >>> rows = [(float(t), "w", 2.0, 100.0) for t in range(0, 20, 1)]  # one per second
        >>> wall_clock_factor([rows], workers=2)  # 19 s of wall for 19 * 2 / 2 s of work
        1.0
        >>> wall_clock_factor([[(float(t), "w", 2.0, 100.0) for t in range(0, 40, 2)]], 2)
        2.0
    """
    wall = work = 0.0
    for rows in finished:
        times = sorted((t, s) for t, _, s, _ in rows if math.isfinite(t))
        run: list[tuple[float, float]] = []
        for item in [*times, (math.inf, 0.0)]:
            if run and item[0] - run[-1][0] > RUN_GAP_SECONDS:
                if len(run) >= 10:
                    wall += run[-1][0] - run[0][0]
                    work += sum(s for _, s in run[1:]) / workers
                run = []
            run.append(item)
    if work <= 0:
        return None
    return max(1.0, wall / work)


def estimated_seconds_per_step(
    stores: Sequence[Any],
    workloads: Sequence[Any],
    *,
    finished: Sequence[Sequence[FinishedTrial]] | None = None,
    statistic: Callable[[np.ndarray], Any] = np.median,
) -> dict[str, float]:
    """Wall seconds per step of each of ``workloads``, for plans: what a study's trials will take.

    The ``statistic`` (module docstring: why the median) of the recorded rates
    of the stores' complete trials (``finished``: those trials, already read,
    e.g. only the ones before a time), divided by the worker processes that
    train in parallel under ``"processes"`` batching and multiplied by the
    runs' measured :func:`wall_clock_factor`; a workload without any takes its
    base workload's rate, else the rate that ``benchmarks/workloads.py``
    measured (``workloads/data/timings.json``, already wall-clock) for it or
    its base.

    Example:
        >>> from hplists.store import open_store
        >>> from hplists.workloads.registry import get_workload
        >>> rates = estimated_seconds_per_step([open_store(":memory:")],
        ...                                    [get_workload("ctr_dlrm")])
        >>> sorted(rates), rates["ctr_dlrm"] > 0  # benchmarks/workloads.py's measured rate
        (['ctr_dlrm'], True)
    """
    from hplists.workloads.engine import worker_count
    from hplists.workloads.timings import measured_seconds_per_step

    if finished is None:
        finished = finished_trials(stores)
    recorded = seconds_per_step_of(finished, statistic)
    measured = measured_seconds_per_step()
    factor = wall_clock_factor(finished, worker_count()) or 1.0
    out: dict[str, float] = {}
    for w in workloads:
        names = [w.name] if w.base is None else [w.name, w.base]
        # A recorded trial's seconds are its own; worker processes train in parallel.
        parallel = worker_count() if w.batching.startswith("processes") else 1
        rates = [recorded[n] * factor / parallel for n in names if n in recorded]
        rates += [measured[n] for n in names if n in measured]
        if rates:
            out[w.name] = rates[0]
    return out
