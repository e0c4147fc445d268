"""Seconds per trial of every workload under each batching strategy of the training engine.

Target: one trial (one point, the full step budget, every evaluation)
costs at most 5 CPU-seconds, median, amortized over a batch of points, on this
2-core machine.

For each workload and strategy (``vmap``, ``sequential``, ``processes``, and the
workload's own batching where it is another, e.g. ``processes/vmap``), a
warm-up batch compiles the programs (compilation is excluded: a study
amortizes it over hundreds of trials), then ``--repeats`` batches of points
from ``nadamw-broad`` are timed at the full budget. Printed per strategy:

* s/trial: the batch's wall-clock seconds divided by its number of points
  (median over repeats); the fastest strategy is "chosen";
* CPU-s/trial: CPU seconds of this process and of the worker processes
  (``/proc/<pid>/stat``) per point, median; on a shared machine this is the
  honest cost, as wall time includes waiting for other users' processes;
* GFLOP/s: XLA's FLOP count of one trial (``cost_analysis`` of the compiled
  single-point step and evaluation, :func:`hplists.workloads.engine.trial_flops`)
  times the points, divided by wall time; and GFLOP per CPU-second with its
  fraction of the peak, a large float32 matmul's FLOP per CPU-second (one core).
  Per CPU-second, the efficiency does not depend on how loaded the shared
  machine is.

A ``vmap`` batch is the workload's ``vmap_size`` points (the engine pads
smaller groups to that size), a ``processes/vmap`` batch one such group per
worker process; the others train ``--points`` points. Results
are merged into ``src/hplists/workloads/data/timings.json`` (what
``hplists workloads`` shows) unless ``--no-write``.

``--against REF`` instead measures the speed-up over a previous engine:
``src/`` of the git ref ``REF`` is extracted to a temporary
folder, and per workload two processes run side by side, one on each core,
one importing that tree and one this one. Each trains the same points
``"sequential"`` with single-threaded XLA (what a study worker runs), after a
compiling run, and reports the CPU seconds per trial of ``--repeats`` batches.
Printed per workload: both medians, the speed-up, and GFLOP per CPU-second as
a fraction of the matmul peak measured in the same run. Nothing is written.

    .venv/bin/python benchmarks/workloads.py [--workload W ...] [--repeats 3] [--points 4]
    .venv/bin/python benchmarks/workloads.py --against REF [--workload W ...] [--points 2]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from hplists import __version__
from hplists.space import get_space
from hplists.workloads import engine
from hplists.workloads.registry import get_workload, workload_names

ROOT = Path(__file__).resolve().parents[1]
TIMINGS = ROOT / "src/hplists/workloads/data/timings.json"
# A study worker's XLA flags; written out, not imported, so that an old tree gets them too.
WORKER_FLAGS = "--xla_cpu_multi_thread_eigen=false"
# What the side-by-side processes run: only API that every engine version has.
CHILD = """
import json, sys, time
from hplists.space import get_space
from hplists.workloads import engine
from hplists.workloads.registry import get_workload
name, n, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
w = get_workload(name)
points = list(get_space("nadamw-broad").sample(n, seed=0))
engine.train(w, points[:1], 0, batching="sequential")  # compiles; not timed
cpu = []
for _ in range(repeats):
    c0 = time.process_time()
    engine.train(w, points, 0, batching="sequential")
    cpu.append((time.process_time() - c0) / n)
print(json.dumps({"version": w.version, "cpu_seconds": cpu}))
"""
STRATEGIES = ("vmap", "sequential", "processes", "processes/vmap")
# Timed for every workload; "processes/vmap" also where it is the workload's default.
BASIC = STRATEGIES[:3]
TARGET_CPU_SECONDS = 5.0


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of this process and of ``pids`` so far."""
    t = os.times()
    total = t.user + t.system
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def matmul_peak(n: int = 2048, repeats: int = 5) -> tuple[float, float]:
    """float32 FLOP per wall second and per CPU second of an ``n x n`` matmul (best of repeats)."""
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    f = jax.jit(lambda x: x @ x)
    f(a).block_until_ready()
    wall = cpu = np.inf
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        f(a).block_until_ready()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return 2 * n**3 / wall, 2 * n**3 / cpu


def machine() -> dict[str, object]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform()}


def time_strategy(workload, strategy: str, points: list, repeats: int, flops: float) -> dict:
    # Warm-up: compile (in every worker for "processes"); not timed.
    workers = min(2, os.cpu_count() or 1)
    warm = {"processes": 2 * workers, "processes/vmap": len(points)}.get(strategy, 1)
    engine.train(workload, points[:warm], seed=0, batching=strategy)
    wall, cpu, statuses = [], [], []
    for _ in range(repeats):
        batch = points  # the same points each repeat: identical work
        pids = engine.worker_pids()
        c0, t0 = cpu_seconds(pids), time.perf_counter()
        curves = engine.train(workload, batch, seed=0, batching=strategy)
        dt, dc = time.perf_counter() - t0, cpu_seconds(engine.worker_pids()) - c0
        wall.append(dt / len(batch))
        cpu.append(dc / len(batch))
        statuses = [c.status.value for c in curves]
    s = statistics.median(wall)
    c = statistics.median(cpu)
    return {"seconds_per_trial": s, "cpu_seconds_per_trial": c,
            "seconds_per_trial_all": wall, "points": len(points),
            "processes": workers if strategy.startswith("processes") else 1,
            "gflops": flops / s / 1e9, "gflop_per_cpu_second": flops / c / 1e9,
            "diverged": statuses.count("diverged")}


def extract_src(ref: str, into: Path) -> Path:
    """``src/`` of git ref ``ref`` of this repository, extracted under ``into``."""
    proc = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref, "src"],
                          capture_output=True)
    if proc.returncode:
        raise SystemExit(f"git archive {ref!r} failed: {proc.stderr.decode().strip()}")
    with tarfile.open(fileobj=__import__("io").BytesIO(proc.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def child_cpu_seconds(src: Path, name: str, points: int, repeats: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} {WORKER_FLAGS}".strip()}
    proc = subprocess.run([sys.executable, "-c", CHILD, name, str(points), str(repeats)],
                          env=env, capture_output=True, text=True, cwd=tempfile.gettempdir())
    lines = [x for x in proc.stdout.splitlines() if x.startswith("{")]
    if proc.returncode or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": tail[:200]}
    return json.loads(lines[-1])


def against(ref: str, names: list[str], points: int, repeats: int) -> None:
    """Prints the speed-up of this tree's engine over ``ref``'s, per workload (see the docstring)."""
    head_ref = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", ref],
                              capture_output=True, text=True).stdout.strip() or ref
    _, peak_cpu = matmul_peak()
    with open("/proc/loadavg") as f:
        print(f"machine: {machine()['cpu']}; load average {' '.join(f.read().split()[:3])}")
    print(f"float32 2048^2 matmul: {peak_cpu / 1e9:.1f} GFLOP per CPU-second (one core)")
    print(f"previous engine: {ref} ({head_ref}); this one: {ROOT}/src; {points} point(s) x "
          f"{repeats} repeats, sequential, single-threaded XLA, the two side by side\n")
    head = (f"{'workload':<24} {'before CPU-s':>12} {'after CPU-s':>11} {'speed-up':>8} "
            f"{'GFLOP/CPU-s':>11} {'% peak':>7} {'before % peak':>13}")
    print(head)
    print("-" * len(head))
    speedups = []
    with tempfile.TemporaryDirectory(prefix="hplists-ref-") as tmp, ThreadPoolExecutor(2) as pool:
        old_src = extract_src(ref, Path(tmp))
        for name in names:
            flops = engine.trial_flops(get_workload(name))["trial"]
            old, new = pool.map(child_cpu_seconds, (old_src, ROOT / "src"), (name, name),
                                (points, points), (repeats, repeats))
            if "error" in old or "error" in new:
                print(f"{name:<24} error: {old.get('error') or new.get('error')}")
                continue
            if old["version"] != new["version"]:
                print(f"{name:<24} (workload version {old['version']} -> {new['version']}: "
                      "not the same work)")
            b, a = statistics.median(old["cpu_seconds"]), statistics.median(new["cpu_seconds"])
            speedups.append(b / a)
            print(f"{name:<24} {b:>12.2f} {a:>11.2f} {b / a:>8.2f} {flops / a / 1e9:>11.1f} "
                  f"{100 * flops / a / peak_cpu:>6.1f}% {100 * flops / b / peak_cpu:>12.1f}%",
                  flush=True)
    if speedups:
        print(f"\nmedian speed-up {statistics.median(speedups):.2f}, "
              f"smallest {min(speedups):.2f} ({len(speedups)} workloads)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workload", action="append", default=None,
                        help="a workload (repeatable; default: every registered workload)")
    parser.add_argument("--strategy", action="append", default=None, choices=STRATEGIES,
                        help="a strategy (repeatable; default: vmap, sequential, processes, "
                        "and the workload's own if it is another)")
    parser.add_argument("--repeats", type=int, default=3, help="timed batches (default 3)")
    parser.add_argument("--points", type=int, default=4,
                        help="points per sequential/processes batch (default 4)")
    parser.add_argument("--no-write", action="store_true", help="do not update timings.json")
    parser.add_argument("--against", metavar="REF", default=None,
                        help="measure the speed-up over the engine of git ref REF instead")
    args = parser.parse_args()
    names = args.workload or workload_names()
    for name in names:  # fail fast on a typo
        get_workload(name)
    if args.against:
        against(args.against, names, args.points, args.repeats)
        return
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[:3]
    peak, peak_cpu = matmul_peak()
    cores = os.cpu_count() or 1
    print(f"machine: {machine()['cpu']}, {cores} cores; load average {' '.join(load_before)}")
    print(f"float32 2048^2 matmul: {peak_cpu / 1e9:.1f} GFLOP per CPU-second (one core); "
          f"{peak / 1e9:.1f} GFLOP/s wall-clock in one process now\n")
    head = (f"{'workload':<30} {'strategy':<11} {'s/trial':>8} {'CPU-s/trial':>11} "
            f"{'GFLOP/s':>8} {'GFLOP/CPU-s':>11} {'% peak':>7}")
    print(head)
    print("-" * len(head))
    results = {}
    broad = list(get_space("nadamw-broad").sample(64, seed=0))
    for name in names:
        w = get_workload(name)
        flops = engine.trial_flops(w)["trial"]
        res = {}
        strategies = args.strategy or [*BASIC, *([w.batching] if w.batching not in BASIC else [])]
        for strategy in strategies:
            n = {"vmap": w.vmap_size, "processes/vmap": 2 * w.vmap_size}.get(strategy, args.points)
            r = time_strategy(w, strategy, broad[:n], args.repeats, flops)
            r["percent_of_peak"] = 100 * r["gflop_per_cpu_second"] * 1e9 / peak_cpu
            res[strategy] = r
            print(f"{name:<30} {strategy:<11} {r['seconds_per_trial']:>8.2f} "
                  f"{r['cpu_seconds_per_trial']:>11.2f} {r['gflops']:>8.1f} "
                  f"{r['gflop_per_cpu_second']:>11.1f} {r['percent_of_peak']:>6.1f}%", flush=True)
        chosen = min(res, key=lambda k: res[k]["seconds_per_trial"])
        best = res[chosen]
        ok = best["cpu_seconds_per_trial"] <= TARGET_CPU_SECONDS
        note = "" if chosen == w.batching else f"  (workload default is {w.batching!r})"
        print(f"{name:<30} chosen: {chosen}, {best['seconds_per_trial']:.2f} s/trial, "
              f"{best['cpu_seconds_per_trial']:.2f} CPU-s/trial "
              f"({best['cpu_seconds_per_trial'] / TARGET_CPU_SECONDS:.2f} x the "
              f"{TARGET_CPU_SECONDS:g} CPU-s target: {'ok' if ok else 'OVER'}){note}\n",
              flush=True)
        with open("/proc/loadavg") as f:
            load_now = f.read().split()[:3]
        results[name] = {"version": w.version, "chosen": chosen, "default": w.batching,
                         "date": datetime.date.today().isoformat(), "load_average": load_now,
                         "seconds_per_trial": res[w.batching]["seconds_per_trial"]
                         if w.batching in res else best["seconds_per_trial"],
                         "cpu_seconds_per_trial": res[w.batching]["cpu_seconds_per_trial"]
                         if w.batching in res else best["cpu_seconds_per_trial"],
                         "flops_per_trial": flops, "strategies": res}
    engine.shutdown_workers()
    with open("/proc/loadavg") as f:
        load_after = f.read().split()[:3]
    print(f"load average after: {' '.join(load_after)}")
    if args.no_write:
        return
    data = json.loads(TIMINGS.read_text()) if TIMINGS.is_file() else {}
    for name, new in results.items():
        old = data.setdefault("workloads", {}).get(name)
        if old and old.get("version") == new["version"]:
            # Strategies timed now replace their old numbers; the others stay.
            new["strategies"] = {**old["strategies"], **new["strategies"]}
            merged = new["strategies"]
            new["chosen"] = min(merged, key=lambda k: merged[k]["seconds_per_trial"])
            if new["default"] in merged:
                for key in ("seconds_per_trial", "cpu_seconds_per_trial"):
                    new[key] = merged[new["default"]][key]
        data["workloads"][name] = new
    data.update({
        "machine": machine(), "date": datetime.date.today().isoformat(),
        "hplists": __version__, "matmul_gflop_per_cpu_second": peak_cpu / 1e9,
        "load_average": {"before": load_before, "after": load_after},
        "how": "benchmarks/workloads.py: full step budget, evaluations included, compilation "
               "excluded; seconds_per_trial is wall time / points for the workload's default "
               "batching; cpu_seconds_per_trial counts this process and its workers",
    })
    tmp = TIMINGS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, TIMINGS)
    print(f"wrote {TIMINGS}")


if __name__ == "__main__":
    main()
