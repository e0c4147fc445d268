"""Speed of the method core: greedy lists, exhaustive best sets, leave-one-out from a store.

Targets, each printed with its measured median and the ratio to it:

* greedy list, K=10 over P=1000 points and N=16 workloads: under 1 s;
* exhaustive best set, K=4 over P=200 points and N=8 workloads: under 60 s;
* leave-one-out (K=5 greedy lists) over a 200 x 8 study stored in SQLite, end to
  end (open the store, read every trial with its curve, build the matrix, 8
  folds): under 5 s.

Two kinds of matrices: "realistic", where each point reaches about 10% of the
targets (paper 001, Table 4: 2 to 24 of 200 points train each workload), and
"dense", where every point reaches every target, and "anti-correlated", where
no point dominates another (the worst cases for the exhaustive search's pruning). Straightforward implementations are timed side
by side for the ratios: Algorithm 1 calling ``hplists.cost`` per candidate,
and enumerating ``itertools.combinations`` one subset at a time (timed on a
sample of subsets and extrapolated to all ``C(P, K)``).

    .venv/bin/python benchmarks/method.py [--repeats 5] [--evals 50]
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from hplists import Curve, HParams
from hplists.lists.exhaustive import exhaustive_set, nondominated
from hplists.lists.greedy import greedy_list
from hplists.lists.loo import leave_one_out
from hplists.scoring.cost import cost
from hplists.scoring.matrix import TrialMatrix
from hplists.scoring.workload_specs import WorkloadSpec
from hplists.store import TrialRecord, open_store

INF = math.inf


def fractions(rng: np.random.Generator, points: int, workloads: int, kind: str) -> np.ndarray:
    if kind == "anti-correlated":  # every point trades speed on one workload for another
        return np.exp(-3 * rng.dirichlet(np.ones(workloads), points))
    F = rng.uniform(0.3, 1.0, (points, workloads))
    if kind == "realistic":
        F[rng.uniform(size=F.shape) > 0.1] = INF
    return F


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def naive_greedy(F: np.ndarray, k: int, tau: float) -> list[int]:
    """Algorithm 1 as written: score every candidate list with the cost function."""
    chosen: list[int] = []
    for _ in range(k):
        costs = [INF if p in chosen else cost(F[[*chosen, p]], tau) for p in range(F.shape[0])]
        chosen.append(int(np.argmin(costs)))
    return chosen


def naive_exhaustive_rate(F: np.ndarray, k: int, tau: float, sample: int) -> float:
    """Seconds per subset when enumerating subsets one at a time."""
    subsets = itertools.islice(itertools.combinations(range(F.shape[0]), k), sample)
    t0 = time.perf_counter()
    for s in subsets:
        np.exp(np.log(np.minimum(F[list(s)].min(axis=0), tau)).mean())
    return (time.perf_counter() - t0) / sample


def report(name: str, seconds: float, target: float, extra: str = "") -> None:
    verdict = "ok" if seconds < target else "TOO SLOW"
    print(f"  {name:<46} {seconds:9.4f} s   target < {target:g} s  "
          f"(ratio {seconds / target:.4f}, {verdict}){extra}")


def bench_greedy(rng: np.random.Generator, repeats: int) -> None:
    print(f"greedy list, K=10, P=1000, N=16 (median of {repeats})")
    for kind in ("realistic", "dense"):
        F = fractions(rng, 1000, 16, kind)
        t, built = median_time(lambda F=F: greedy_list(F, 10, 2.0), repeats)
        t_naive, ref = median_time(lambda F=F: naive_greedy(F, 10, 2.0), 1)
        assert math.isclose(cost(F[list(ref)], 2.0), built.cost, rel_tol=1e-12)
        report(kind, t, 1.0, f"; naive Algorithm 1: {t_naive:.3f} s, {t_naive / t:.0f}x slower")


def bench_exhaustive(rng: np.random.Generator, repeats: int) -> None:
    print(f"exhaustive best set, K=4, P=200, N=8 (median of {repeats})")
    total = math.comb(200, 4)
    for kind in ("realistic", "dense", "anti-correlated"):
        F = fractions(rng, 200, 8, kind)
        t, best = median_time(lambda F=F: exhaustive_set(F, 4, 2.0), repeats)
        greedy = greedy_list(F, 4, 2.0)
        assert best.cost <= greedy.cost * (1 + 1e-12)
        naive = naive_exhaustive_rate(F, 4, 2.0, 20_000) * total
        report(kind, t, 60.0, f"; {nondominated(F).size} of 200 points non-dominated; "
               f"cost {best.cost:.4f} vs greedy {greedy.cost:.4f}; naive enumeration of "
               f"{total:.2e} sets ~{naive:.0f} s, {naive / t:.0f}x slower")


def store_study(path: Path, rng: np.random.Generator, points: int, workloads: int,
                evals: int) -> dict[str, WorkloadSpec]:
    """A study whose curves reach the target for about 10% of (point, workload) pairs."""
    budget = 1000
    steps = np.linspace(budget / evals, budget, evals).astype(int)
    hps = [HParams(float(lr), 0.9, 0.99) for lr in 10 ** rng.uniform(-4, -2, points)]
    specs, records = {}, []
    for j in range(workloads):
        name = f"w{j}"
        specs[name] = WorkloadSpec(name, "error_rate", "min", 0.2, budget)
        for i, hp in enumerate(hps):
            floor = rng.uniform(0.1, 0.6)  # ~10% of floors are below the target 0.2
            err = floor + (1 - floor) * np.exp(-steps / budget * rng.uniform(1, 8))
            c = Curve(steps, steps * 0.01, err, {"error_rate": err, "loss": err * 2})
            records.append(TrialRecord("bench", "", i, hp.to_dict(), name, "1", 0, c.status,
                                       "", c, {}))
    store = open_store(path)
    store.put_many(records)
    store.close()
    return specs


def bench_loo(rng: np.random.Generator, repeats: int, evals: int) -> None:
    print(f"leave-one-out, K=5, over 200 x 8 stored trials ({evals} evaluations each), "
          f"median of {repeats}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "study.db"
        t0 = time.perf_counter()
        specs = store_study(path, rng, 200, 8, evals)
        t_write = time.perf_counter() - t0
        parts: dict[str, list[float]] = {"read": [], "matrix": [], "folds": [], "total": []}
        for _ in range(repeats):
            t0 = time.perf_counter()
            store = open_store(path, create=False)
            records = store.trials(study="bench")
            store.close()
            t1 = time.perf_counter()
            m = TrialMatrix.from_records(records, specs)
            t2 = time.perf_counter()
            loo = leave_one_out(m, 5, 2.0)
            t3 = time.perf_counter()
            for key, dt in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t3 - t0), strict=True):
                parts[key].append(dt)
        med = {k: statistics.median(v) for k, v in parts.items()}
        print(f"  (writing the study once: {t_write:.2f} s; {int(np.isfinite(m.fractions).sum())}"
              f" of {m.fractions.size} pairs reach the target; held-out trained "
              f"{loo.num_trained}/8)")
        report("end to end", med["total"], 5.0,
               f"; read {med['read']:.3f} s, matrix {med['matrix']:.3f} s, "
               f"8 folds {med['folds']:.4f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--evals", type=int, default=50, help="evaluations per stored curve")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    bench_greedy(rng, args.repeats)
    bench_exhaustive(rng, args.repeats)
    bench_loo(rng, args.repeats, args.evals)


if __name__ == "__main__":
    main()
