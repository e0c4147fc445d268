"""Wall time of a study's trials on the two local executors of the trial loop, side by side.

A study of many single-seed points per workload (the learning-rate-free
calibration, the paper-001 broad study) can run them two ways on one machine:

* ``local``: :class:`~hplists.trials.executors.LocalExecutor`, one task of
  ``2 x workers`` points at a time, trained with the engine's ``"processes"``
  batching (its worker pool trains the task's points one per worker), then
  recorded, then the next task is claimed;
* ``pool``: :class:`~hplists.trials.executors.PoolExecutor`, one task per worker
  process, each worker training its task's points one by one, a new task
  handed out as soon as one ends.

Both train every point alone in a single-threaded worker, so the curves are the
same to the last bit (checked here on every run); what differs is how often a
worker waits (for the other worker's last point of a task, for the driver to
record and claim). Each repeat trains fresh stores with both, in alternating
order; printed: median wall seconds per trial, the ratio ``local / pool``, and
each one's wall time per trial and worker over the seconds the trials record
(the plan's wall-clock factor, measured here on a quiet machine).

    .venv/bin/python benchmarks/study_executors.py [--workload ctr_dlrm] [--rule nadamw]
        [--points 16] [--repeats 3]

Pause other CPU-heavy work while it runs (it uses both cores).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from hplists.space import get_space
from hplists.store import open_store
from hplists.trials import LocalExecutor, PoolExecutor, StaticSource, TrainTask, run
from hplists.workloads.registry import get_workload


def _train(kind: str, executor: Any, workload: str, rule: str, points: list,
           chunk: int | None, root: Path) -> tuple[float, dict]:
    store = open_store(root / f"{kind}-{time.monotonic_ns()}.db")
    w = get_workload(workload)
    task = TrainTask("bench", w, 0, tuple(points), tuple(range(len(points))), update_rule=rule)
    start = time.perf_counter()
    run(store, StaticSource(store, [task], chunk_size=chunk), executor)
    seconds = time.perf_counter() - start
    records = store.trials("bench")
    store.close()
    failed = [r.message.splitlines()[0] for r in records if r.curve is None]
    if failed:
        raise SystemExit(f"{kind}: {len(failed)} trial(s) failed: {failed[0]}")
    curves = {r.point_id: r.curve for r in records}
    return seconds, curves


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workload", default="ctr_dlrm")
    p.add_argument("--rule", default="nadamw")
    p.add_argument("--points", type=int, default=16)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--pool-chunk", type=int, default=1,
                   help="points per task for the pool executor (default 1)")
    args = p.parse_args()
    points = get_space("nadamw-broad").sample(args.points, seed=0)
    out: dict[str, list[float]] = {"local": [], "pool": []}
    own: dict[str, list[float]] = {"local": [], "pool": []}  # the trials' recorded seconds
    # Both keep their worker processes for the whole run, as a study does (the engine's
    # pool behind "local" is module-global; the pool executor is made once).
    executors = {"local": LocalExecutor(), "pool": PoolExecutor()}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for kind, ex in executors.items():  # warm-up: start workers, load data, compile
            _train(kind, ex, args.workload, args.rule, points[:4], None, root)
        for r in range(args.repeats):
            order = ("local", "pool") if r % 2 == 0 else ("pool", "local")
            got = {}
            for kind in order:
                chunk = args.pool_chunk if kind == "pool" else None
                seconds, curves = _train(kind, executors[kind], args.workload, args.rule,
                                         points, chunk, root)
                out[kind].append(seconds / args.points)
                own[kind] += [float(c.seconds[-1]) for c in curves.values()]
                got[kind] = curves
            for pid, c in got["local"].items():  # same numbers, or the comparison is void
                d = got["pool"][pid]
                assert np.array_equal(c.train_loss, d.train_loss), pid
                assert all(np.array_equal(c.metrics[k], d.metrics[k]) for k in c.metrics), pid
    for ex in executors.values():
        ex.close()
    local, pool = statistics.median(out["local"]), statistics.median(out["pool"])
    print(f"{args.workload} / {args.rule}, {args.points} points, {args.repeats} repeats "
          "(curves identical in every repeat)")
    print(f"  local (engine processes, tasks of 2 x workers): {local:.2f} s/trial")
    print(f"  pool  (one task per worker, {args.pool_chunk} point(s) each): {pool:.2f} s/trial")
    print(f"  local / pool: {local / pool:.2f}")
    workers = executors["pool"].slots
    for kind, wall in (("local", local), ("pool", pool)):
        recorded = statistics.mean(own[kind])
        print(f"  {kind}: a trial's recorded seconds {recorded:.2f} (mean) against "
              f"{wall * workers:.2f} s of a worker's wall time: factor {wall * workers / recorded:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
