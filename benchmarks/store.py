"""Trial-store speed: writing and reading a 200-point x 8-workload study.

Leave-one-out over 200x8 stored trials must take under 5 s in all;
this measures the store's share: reading every trial back with its curve.
Prints medians over repeats, measured side by side in one run.

    .venv/bin/python benchmarks/store.py [--points 200] [--workloads 8] [--evals 50]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from hplists import Curve, HParams
from hplists.store import TrialRecord, open_store
from hplists.store.io import export_csv, import_csv


def _curves(n_points: int, n_evals: int, rng: np.random.Generator) -> list[Curve]:
    steps = np.arange(1, n_evals + 1) * 100
    return [Curve(steps, steps * 0.01, rng.random(n_evals),
                  {"error_rate": np.sort(rng.random(n_evals))[::-1], "loss": rng.random(n_evals)})
             for _ in range(n_points)]


def _time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=200)
    ap.add_argument("--workloads", type=int, default=8)
    ap.add_argument("--evals", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    points = [HParams(float(lr), 0.9, 0.999) for lr in np.geomspace(1e-4, 1e-2, args.points)]
    workloads = [f"w{j}" for j in range(args.workloads)]
    curves = _curves(args.points, args.evals, rng)
    n = args.points * args.workloads
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        store = open_store(tmp / "bench.db")

        t0 = time.perf_counter()
        records = [TrialRecord("bulk", "", i, p.to_dict(), w, "1", 0, c.status, "", c, {})
                   for w in workloads for i, (p, c) in enumerate(zip(points, curves, strict=True))]
        store.put_many(records)
        t_bulk = time.perf_counter() - t0

        small = max(1, args.points // 10)
        t0 = time.perf_counter()
        for w in workloads[:2]:
            for i in range(small):
                key = store.claim("claimed", points[i], w, 0, point_index=i)
                store.finish(key, curves[i])
        t_claim = (time.perf_counter() - t0) / (2 * small)

        t_read, trials = _time(lambda: store.trials(study="bulk"), args.repeats)
        assert len(trials) == n
        t_one, _ = _time(lambda: store.trials(study="bulk", workload="w0"), args.repeats)
        t_export, _ = _time(lambda: export_csv(store, tmp / "t.csv"), 1)
        dst = open_store(tmp / "dst.db")
        t_import, _ = _time(lambda: import_csv(dst, tmp / "t.csv"), 1)

    evals = n * args.evals
    print(f"study: {args.points} points x {args.workloads} workloads = {n} trials, "
          f"{args.evals} evaluations x 3 series each ({evals} evaluation rows)")
    print(f"put_many (one-shot import of {n} trials): {t_bulk:8.3f} s  "
          f"({1e3 * t_bulk / n:.2f} ms/trial)")
    print(f"claim + finish, one trial:            {1e3 * t_claim:8.2f} ms")
    print(f"trials(study) read, median of {args.repeats}:     {t_read:8.3f} s  "
          f"(budget for all of leave-one-out: 5 s; ratio {t_read / 5:.3f})")
    print(f"trials(study, workload) read, median: {t_one:8.3f} s")
    print(f"export CSV: {t_export:.3f} s   import CSV into a new store: {t_import:.3f} s")


if __name__ == "__main__":
    main()
