"""XLA:CPU compiler options against the engine's numbers and speed.

XLA:CPU can route dots, element-wise ops and reductions through library
kernels (XNNPACK, YNNPACK, oneDNN) or emit wider vectors. A faster option is
worth taking only if curves stay bit-identical (the committed
stores stay valid); one that changes numbers is measured and reported, not made.

Each configuration runs in its own process with ``XLA_FLAGS`` set to the
study workers' flags plus its own (single-threaded XLA, as a study worker),
and the persistent compilation cache off (its key would differ anyway). Per
base workload it:

1. retrains the engine reference (``tests/helpers/engine_reference.py``: 12
   steps, seed 0) and compares every number with this CPU's entry in
   ``tests/data/engine_reference.json`` to the last bit (its single-threaded
   worker curve where it has one, since every configuration runs as a worker);
2. trains one point of ``nadamw-broad`` at the full budget to compile, then
   ``--repeats`` more and records the CPU seconds of each (one thread, so CPU
   time is the honest cost on a shared machine).

Configurations run ``--parallel`` at a time (default 2, one per core, as a
study's workers), so the baseline and the others are measured side by side in
one run. Printed per workload and configuration: bit-identical or not, CPU
seconds per trial (median) and the ratio to the baseline.

    .venv/bin/python benchmarks/xla_flags.py [--workload W ...] [--config NAME ...] [--repeats 3]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS: dict[str, str] = {
    "baseline": "",
    "vector-512": "--xla_cpu_prefer_vector_width=512",
    "xnn-dot": "--xla_cpu_experimental_xnn_fusion_type=dot",
    "xnn-all": "--xla_cpu_experimental_xnn_fusion_type=dot,eltwise,reduce",
    "xnn-graph": "--xla_cpu_experimental_xnn_graph_fusion_mode=XNN_GRAPH_FUSION_MODE_GREEDY",
    "ynn-dot": "--xla_cpu_experimental_ynn_fusion_type=dot",
    "onednn-dot": "--xla_cpu_experimental_onednn_fusion_type=dot",
    "no-fusion-emitters": "--xla_cpu_use_fusion_emitters=false",
}


def child(names: list[str], repeats: int) -> None:
    """Runs in the configuration's process: prints one JSON line per workload."""
    sys.path.insert(0, str(ROOT / "tests"))
    from helpers import engine_reference as ref
    from hplists.cpu import cpu_signature
    from hplists.space import get_space
    from hplists.workloads import engine
    from hplists.workloads.registry import get_workload

    here = ref.for_cpu(ref.load(), cpu_signature())
    if here is None:
        raise SystemExit(f"no engine reference was recorded on this CPU ({cpu_signature()}): "
                         "record one with tests/helpers/engine_reference.py")
    point = get_space("nadamw-broad").sample(1, seed=0)[0]
    for name in names:
        out: dict[str, object] = {"workload": name}
        try:
            want = here["workloads"][name]
            out["identical"] = ref.train(name) == want.get("worker_curve", want["curve"])
            w = get_workload(name)
            engine.train(w, [point], 0, batching="sequential")  # compiles
            cpu = []
            for _ in range(repeats):
                c0 = time.process_time()
                engine.train(w, [point], 0, batching="sequential")
                cpu.append(time.process_time() - c0)
            out["cpu_seconds"] = cpu
        except Exception as e:  # an option XLA rejects, or one that breaks a kernel
            out["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"
        print(json.dumps(out), flush=True)


def run_config(name: str, flags: str, workloads: list[str], repeats: int) -> list[dict]:
    from hplists.workloads.engine import WORKER_XLA_FLAGS

    env = {**os.environ, "XLA_FLAGS": f"{WORKER_XLA_FLAGS} {flags}".strip(),
           "HPLISTS_COMPILATION_CACHE": "off", "JAX_PLATFORMS": "cpu"}
    cmd = [sys.executable, __file__, "--child", "--repeats", str(repeats),
           *[a for w in workloads for a in ("--workload", w)]]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if not rows:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        rows = [{"workload": w, "error": tail[:160]} for w in workloads]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workload", action="append", default=None,
                        help="a base workload (repeatable; default: every base workload)")
    parser.add_argument("--config", action="append", default=None, choices=sorted(CONFIGS),
                        help="a configuration (repeatable; default: all; baseline always runs)")
    parser.add_argument("--repeats", type=int, default=3, help="timed trials per workload")
    parser.add_argument("--parallel", type=int, default=2, help="configurations at a time")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.workload, args.repeats)
        return
    from hplists.workloads.registry import get_workload, workload_names

    names = args.workload or [n for n in workload_names(variants=False)
                              if type(get_workload(n)).__module__.startswith("hplists.")]
    configs = ["baseline", *[c for c in (args.config or CONFIGS) if c != "baseline"]]
    with open("/proc/loadavg") as f:
        print(f"load average before: {' '.join(f.read().split()[:3])}", flush=True)
    with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
        futures = {c: pool.submit(run_config, c, CONFIGS[c], names, args.repeats)
                   for c in configs}
        results = {c: {r["workload"]: r for r in f.result()} for c, f in futures.items()}
    with open("/proc/loadavg") as f:
        print(f"load average after: {' '.join(f.read().split()[:3])}\n")
    head = f"{'workload':<22} {'config':<19} {'bit-identical':>13} {'CPU-s/trial':>11} {'ratio':>6}"
    print(head)
    print("-" * len(head))
    for name in names:
        base = results["baseline"][name].get("cpu_seconds")
        base_s = statistics.median(base) if base else float("nan")
        for c in configs:
            r = results[c][name]
            if "error" in r:
                print(f"{name:<22} {c:<19} {'error':>13}  {r['error']}")
                continue
            s = statistics.median(r["cpu_seconds"])
            print(f"{name:<22} {c:<19} {'yes' if r['identical'] else 'NO':>13} {s:>11.2f} "
                  f"{s / base_s:>6.2f}")
    if args.json:
        args.json.write_text(json.dumps({"flags": {c: CONFIGS[c] for c in configs},
                                         "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
