"""Analysis commands on large studies: `hplists score`, `build`, `loo` and `report`, in time and peak
memory, per study size, against another version of the code side by side.

A synthetic store of ``N`` finished trials (points x 8 workloads, ``--evals`` evaluations
each, error rates that fall and reach a target on part of the runs) is written once per
size (kept in ``--keep DIR`` to be reused). Each command then runs in a fresh process,
``--repeats`` times, with this checkout's code and, given ``--baseline SRC`` (the ``src``
folder of another checkout, e.g. ``git worktree add /tmp/before <commit>``), with that
code, alternating; its wall time and peak resident memory (``ru_maxrss``) are printed,
medians over the repeats, with the ratios before / after. The load average is printed
too: numbers taken while other work runs are slower than on a quiet machine.

    .venv/bin/python benchmarks/store_scale.py [--trials 2000,20000,100000,1000000]
        [--commands score,build,loo,report] [--baseline /tmp/before/src] [--current SRC]
        [--keep /tmp/stores]
        [--evals 20] [--repeats 2]

The commands as a user runs them:

    hplists score --store S --specs SPECS
    hplists build --store S --specs SPECS --k 5
    hplists loo --store S --specs SPECS --k 5
    hplists report --store S -o OUT --specs SPECS --study-name broad=s

A run that takes more than ``--timeout`` seconds is stopped and shown as ``>T``; the
baseline's report reads every curve (about 42 KB of memory per trial before this
version), so by default it runs only up to ``--baseline-report-up-to`` trials.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_CHILD = r"""
import contextlib, json, os, resource, sys, time
if sys.argv[1] != "-":
    sys.path.insert(0, sys.argv[1])
import hplists
from hplists.cli.main import main
start = time.perf_counter()
with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
    rc = main(sys.argv[2:])
print(json.dumps({"rc": rc, "wall": time.perf_counter() - start, "module": hplists.__file__,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

WORKLOADS = 8


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


def _specs(path: Path, workloads: int) -> Path:
    spec = {"metric": "error_rate", "mode": "min", "target": 0.3, "step_budget": 10_000}
    path.write_text(json.dumps({"workloads": {f"w{j}": spec for j in range(workloads)}}))
    return path


def _argv(command: str, store: Path, specs: Path, out: Path) -> list[str]:
    if command == "score":
        return ["score", "--store", str(store), "--specs", str(specs)]
    if command == "build":
        return ["build", "--store", str(store), "--specs", str(specs), "--k", "5"]
    if command == "loo":
        return ["loo", "--store", str(store), "--specs", str(specs), "--k", "5"]
    return ["report", "--store", str(store), "-o", str(out), "--specs", str(specs),
            "--study-name", "broad=s"]


def _run(src: str, argv: list[str], timeout: float) -> dict | None:
    try:
        out = subprocess.run([sys.executable, "-c", _CHILD, src, *argv], capture_output=True,
                             text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": ""})
    except subprocess.TimeoutExpired:
        return None
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:1])} with {src} failed:\n{out.stderr[-2000:]}")
    found = json.loads(out.stdout.strip().splitlines()[-1])
    if src != "-" and not found["module"].startswith(src):
        raise RuntimeError(f"the baseline ran {found['module']}, not the code in {src}")
    return found


def _cell(runs: list[dict | None], key: str, timeout: float, fmt: str) -> tuple[str, float]:
    if not runs:
        return "-", float("nan")
    if any(r is None for r in runs):
        return f">{timeout:.0f}", float("inf")
    value = statistics.median(r[key] for r in runs)  # type: ignore[index]
    return format(value, fmt), value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", default="2000,20000")
    ap.add_argument("--commands", default="score,build,loo,report")
    ap.add_argument("--baseline", metavar="SRC", help="the src folder of the code to compare")
    ap.add_argument("--current", metavar="SRC", default="-",
                    help="the src folder of the code measured (default: this checkout's)")
    ap.add_argument("--baseline-report-up-to", type=int, default=20_000, metavar="N")
    ap.add_argument("--keep", type=Path, metavar="DIR", help="write (and reuse) stores here")
    ap.add_argument("--evals", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=1800.0)
    args = ap.parse_args()
    commands = [c.strip() for c in args.commands.split(",") if c.strip()]
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} CPUs); before: {args.baseline or 'none'}; after: "
          f"{'this checkout' if args.current == '-' else args.current}")
    print(f"{'trials':>8} {'command':>8} {'before s':>9} {'after s':>8} {'time ratio':>10} "
          f"{'before MB':>10} {'after MB':>9} {'memory ratio':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        where = args.keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        specs = _specs(Path(tmp) / "specs.json", WORKLOADS)
        for n in (int(x) for x in args.trials.split(",")):
            store = where / f"scale-{n}x{args.evals}.db"
            if not store.exists():
                wrote = _write(store, n, args.evals, WORKLOADS)
                print(f"{n:>8} wrote the store in {wrote:.1f} s")
            for command in commands:
                ways = [args.current]
                if args.baseline and (command != "report" or n <= args.baseline_report_up_to):
                    ways = [args.baseline, args.current]
                runs: dict[str, list[dict | None]] = {w: [] for w in ways}
                for r in range(args.repeats):
                    for way in (ways if r % 2 == 0 else ways[::-1]):
                        out = Path(tmp) / f"out-{len(runs[way])}"
                        runs[way].append(_run(way, _argv(command, store, specs, out),
                                              args.timeout))
                before = runs.get(args.baseline or "", [])
                t0, tb = _cell(before, "wall", args.timeout, ".2f")
                t1, ta = _cell(runs[args.current], "wall", args.timeout, ".2f")
                m0, mb = _cell(before, "rss_mb", args.timeout, ".0f")
                m1, ma = _cell(runs[args.current], "rss_mb", args.timeout, ".0f")
                ratio = f"{tb / ta:.2f}" if before and ta else "-"
                memory = f"{mb / ma:.2f}" if before and ma and mb != float("inf") else "-"
                print(f"{n:>8} {command:>8} {t0:>9} {t1:>8} {ratio:>10} {m0:>10} {m1:>9} "
                      f"{memory:>12}", flush=True)
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
