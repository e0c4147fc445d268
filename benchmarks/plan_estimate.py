"""How well a study's plan predicts its wall-clock time: the recorded history replayed.

A plan (``hplists study plan``) multiplies the steps left by each workload's
estimated wall seconds per step
(:func:`hplists.study.step_rates.estimated_seconds_per_step`). This replays a
store's history: its finished trials, in the order they finished, are cut into
windows of ``--window`` trials (after the first ``--warm``); each window is
predicted from the complete trials that finished before it (in that store and
the ``--timing`` stores, as a plan would have seen them), with the median and
with the mean of the recorded rates, and compared with the wall time the
window took: the sum of the gaps between its finishes, leaving out the gaps
longer than ``--gap`` seconds (a paused or stopped run).

Printed: per window, its wall hours and predicted over actual for each
statistic; then, per statistic, the median, geometric mean, smallest and
largest ratio over the windows. A ratio above 1 over-estimates.

    .venv/bin/python benchmarks/plan_estimate.py [--store stores/lrfree.db]
        [--timing stores/study.db] [--window 600] [--warm 1200] [--gap 120]

It only reads the stores: it may run beside the study (reading a live
SQLite store sees its committed trials).
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
from collections.abc import Callable

import numpy as np

from hplists.curves import Status
from hplists.store import open_store
from hplists.study.step_rates import FinishedTrial, estimated_seconds_per_step, finished_trials
from hplists.workloads.registry import get_workload

STATISTICS: dict[str, Callable[[np.ndarray], float]] = {"median": np.median, "mean": np.mean}


def _window_trials(store) -> list[tuple[float, str, float]]:
    """(finish time, workload, steps) of every finished trial (diverged ones too), in order."""
    out = []
    for r in store.trials():
        if r.status not in (Status.COMPLETE, Status.DIVERGED) or r.curve is None:
            continue
        t = r.provenance_time("finished_at")
        if t is not None and len(r.curve):
            out.append((t, r.workload, float(r.curve.steps[-1])))
    return sorted(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--store", default="stores/lrfree.db")
    p.add_argument("--timing", nargs="*", default=["stores/study.db"])
    p.add_argument("--window", type=int, default=600)
    p.add_argument("--warm", type=int, default=1200)
    p.add_argument("--gap", type=float, default=120.0)
    args = p.parse_args()

    store = open_store(args.store, create=False)
    timing = [open_store(t, create=False) for t in args.timing]
    trials = _window_trials(store)
    own, *others = finished_trials([store, *timing])
    workloads = {name: get_workload(name) for name in {w for _, w, _ in trials}}
    ratios: dict[str, list[float]] = {k: [] for k in STATISTICS}
    print(f"{args.store}: {len(trials)} finished trials; windows of {args.window} after the "
          f"first {args.warm}; pauses over {args.gap:g} s left out")
    for start in range(args.warm, len(trials) - args.window + 1, args.window):
        window = trials[start:start + args.window]
        t0 = window[0][0]
        wall = sum(b - a for (a, _, _), (b, _, _) in itertools.pairwise(window)
                   if b - a <= args.gap)
        before: list[list[FinishedTrial]] = [[r for r in own if r.finished_at < t0], *others]
        row = [f"trials {start:6d}-{start + args.window - 1:6d}", f"wall {wall / 3600:6.3f} h"]
        for name, statistic in STATISTICS.items():
            rates = estimated_seconds_per_step([], workloads.values(), finished=before,
                                               statistic=statistic)
            predicted = sum(steps * rates[w] for _, w, steps in window)
            ratios[name].append(predicted / wall)
            row.append(f"{name} {predicted / wall:5.2f}")
        print("  ".join(row))
    for name, values in ratios.items():
        if values:
            geo = math.exp(statistics.fmean(math.log(v) for v in values))
            print(f"{name:>6}: predicted over actual, median {statistics.median(values):.2f}, "
                  f"geometric mean {geo:.2f}, {min(values):.2f} to {max(values):.2f} "
                  f"over {len(values)} windows")


if __name__ == "__main__":
    main()
