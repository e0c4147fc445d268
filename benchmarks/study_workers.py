"""Trials per hour of the study's worker processes, unpinned against pinned, side by side.

A worker runs XLA:CPU with ``--xla_cpu_multi_thread_eigen=false``, but XLA
still sizes its runtime thread pool by the cores it may run on, so each
worker keeps 1.5-1.75 cores busy and two workers on two cores contend. With
``HPLISTS_PIN_WORKERS=1`` (:data:`hplists.workloads.engine.workers.PIN_ENV`)
each worker pins itself to one core before XLA starts, which makes it truly
single-threaded.

Each repeat trains the same points in a fresh process per mode, in
alternating order: a learning-rate-free search's first points (two per worker)
on each workload, with the engine's ``"processes"`` batching, as the
calibration stage does. Printed: wall seconds and worker CPU seconds per mode
and workload (medians over the repeats), the ratio ``unpinned / pinned`` of
wall time (trials per hour of pinned over unpinned), and whether the curves
are the same bits (they are not: XLA partitions some kernels by its thread
count).

    .venv/bin/python benchmarks/study_workers.py [--workloads image_resnet,graph_gnn]
        [--method prodigy] [--points 4] [--repeats 2]

Pause other CPU-heavy work while it runs (it uses both cores).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

_CHILD = r"""
import json, sys, time, resource
from hplists.optim.rules import get_rule
from hplists.study.lrfree import Search
from hplists.workloads.engine import train
from hplists.workloads.registry import get_workload
name, method, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
w = get_workload(name)
pts = Search(method, 0.5).points(n, 0)
t0 = time.perf_counter()
curves = train(w, pts, 0, update_rule=get_rule(method), batching="processes")
wall = time.perf_counter() - t0
from hplists.workloads.engine.workers import shutdown_workers
shutdown_workers()  # reaps the workers, so that their CPU time is counted below
cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": cpu.ru_utime + cpu.ru_stime,
                  "curves": [[float(v) for v in c.metrics[w.metric.name]] for c in curves]}))
"""


def _run(pinned: bool, workload: str, method: str, points: int) -> dict:
    env = dict(os.environ)
    env["HPLISTS_PIN_WORKERS"] = "1" if pinned else "0"
    out = subprocess.run([sys.executable, "-c", _CHILD, workload, method, str(points)],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", default="image_resnet,graph_gnn")
    ap.add_argument("--method", default="prodigy")
    ap.add_argument("--points", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    print(f"{'workload':<16} {'unpinned s':>10} {'pinned s':>9} {'ratio':>6} "
          f"{'cpu unpinned':>12} {'cpu pinned':>10}  same bits")
    for wl in args.workloads.split(","):
        runs: dict[bool, list[dict]] = {False: [], True: []}
        for r in range(args.repeats):
            for pinned in ((False, True) if r % 2 == 0 else (True, False)):
                runs[pinned].append(_run(pinned, wl, args.method, args.points))
        wall = {p: statistics.median(x["wall"] for x in runs[p]) for p in runs}
        cpu = {p: statistics.median(x["cpu"] for x in runs[p]) for p in runs}
        same = runs[False][0]["curves"] == runs[True][0]["curves"]
        print(f"{wl:<16} {wall[False]:>10.1f} {wall[True]:>9.1f} {wall[False] / wall[True]:>6.2f} "
              f"{cpu[False]:>12.1f} {cpu[True]:>10.1f}  {'yes' if same else 'no'}")


if __name__ == "__main__":
    main()
