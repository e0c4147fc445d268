"""Scoring a large study: every curve read back against the store's own query, side by side, in
time and peak memory: the step-fraction matrix (``hplists build``, ``loo``) and the AlgoPerf
submission times (``hplists score``) together.

A synthetic store of ``N`` finished trials (points x 8 workloads, ``--evals`` evaluations
each, error rates that fall and reach a target on part of the runs) is written once per size;
each way of building the step-fraction matrix then runs in a fresh process, alternating, and
its wall time and peak resident memory (``ru_maxrss``) are printed with the ratios.

    .venv/bin/python benchmarks/store_scale.py [--trials 2000,20000] [--evals 20] [--repeats 2]

Pause other CPU-heavy work while it runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_CHILD = r"""
import json, resource, sys, time
from hplists.scoring.matrix import TrialMatrix, submission_times, submission_times_from_store
from hplists.scoring.specs import WorkloadSpec
from hplists.store import open_store
path, how, n_w = sys.argv[1], sys.argv[2], int(sys.argv[3])
names = [f"w{j}" for j in range(n_w)]
specs = {w: WorkloadSpec(w, "error_rate", "min", 0.3, 10_000) for w in names}
t0 = time.perf_counter()
store = open_store(path, create=False)
if how == "records":  # what `hplists build` and `hplists score` did: every curve read back
    records = store.trials(study="s")
    m = TrialMatrix.from_records(records, specs, study="s", workloads=names)
    subs = submission_times(records, specs, studies=["s"], workloads=names)
else:
    m = TrialMatrix.from_store(store, specs, study="s", workloads=names)
    subs = submission_times_from_store(store, specs, studies=["s"], workloads=names)
assert subs.times.shape == (1, n_w)
wall = time.perf_counter() - t0
print(json.dumps({"wall": wall, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                  / 1024, "shape": list(m.fractions.shape), "hits": int((m.fractions < 9).sum())}))
"""


def _write(path: Path, trials: int, evals: int, workloads: int) -> float:
    import numpy as np

    from hplists import Curve, HParams
    from hplists.store import TrialRecord, open_store

    rng = np.random.default_rng(0)
    steps = (np.arange(1, evals + 1) * (10_000 // evals)).tolist()
    store = open_store(path)
    t0 = time.perf_counter()
    points = trials // workloads
    for lo in range(0, points, 500):
        batch = []
        for i in range(lo, min(points, lo + 500)):
            hp = HParams(float(1e-4 * (1 + i)), 0.9, 0.99).to_dict()
            for j in range(workloads):
                err = 0.9 * np.exp(-np.arange(1, evals + 1) / evals * rng.uniform(0.3, 3.0)) + 0.05
                c = Curve(steps, [s / 100 for s in steps], err, {"error_rate": err})
                batch.append(TrialRecord("s", "", i, hp, f"w{j}", "1", 0, c.status, "", c, {}))
        store.put_many(batch)
    store.close()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", default="2000,20000")
    ap.add_argument("--evals", type=int, default=20)
    ap.add_argument("--workloads", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--records-up-to", type=int, default=200_000,
                    help="read every curve back only up to this many trials (it needs about "
                         "15 KB of memory per trial)")
    args = ap.parse_args()
    print(f"{'trials':>8} {'write s':>8} {'records s':>10} {'store s':>8} {'time ratio':>10} "
          f"{'records MB':>11} {'store MB':>9} {'memory ratio':>12}  same matrix")
    for n in (int(x) for x in args.trials.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "big.db"
            wrote = _write(path, n, args.evals, args.workloads)
            ways = ("records", "store") if n <= args.records_up_to else ("store",)
            runs: dict[str, list[dict]] = {h: [] for h in ways}
            for r in range(args.repeats):
                for how in (ways if r % 2 == 0 else ways[::-1]):
                    out = subprocess.run([sys.executable, "-c", _CHILD, str(path), how,
                                          str(args.workloads)], capture_output=True, text=True,
                                         check=True)
                    runs[how].append(json.loads(out.stdout))
            med = {h: (statistics.median(x["wall"] for x in v),
                       statistics.median(x["rss_mb"] for x in v)) for h, v in runs.items()}
            if "records" not in med:
                print(f"{n:>8} {wrote:>8.1f} {'-':>10} {med['store'][0]:>8.2f} {'-':>10} "
                      f"{'-':>11} {med['store'][1]:>9.0f} {'-':>12}  -")
                continue
            same = runs["records"][0]["hits"] == runs["store"][0]["hits"]
            print(f"{n:>8} {wrote:>8.1f} {med['records'][0]:>10.2f} {med['store'][0]:>8.2f} "
                  f"{med['records'][0] / med['store'][0]:>10.2f} {med['records'][1]:>11.0f} "
                  f"{med['store'][1]:>9.0f} {med['records'][1] / med['store'][1]:>12.2f}  "
                  f"{'yes' if same else 'no'}")


if __name__ == "__main__":
    main()
