"""Trials per hour of a study's claim chunks on a ``"processes/vmap"`` workload, side by side.

The trial loop claims points chunk by chunk and trains each chunk as one
engine call. On a ``"processes/vmap"`` workload (``image_vit``: vmapped
programs of ``vmap_size`` = 8 points on each worker process), a chunk of two
points per worker (4 on 2 cores) made one program of 4 points padded to 8, on
one worker, while the other waited. :func:`hplists.trials.default_chunk` now
claims ``vmap_size`` points per worker: one full program per worker.

Each repeat trains the same points of a learning-rate-free study's 50% search (half
of ``--steps``) into a fresh
store in a fresh process per chunk size, in alternating order, with each
worker pinned to a core as the study runs them. Printed: wall seconds per
chunk size (median over the repeats), the ratio of trials per hour (default
chunk over two per worker), and whether the curves are the same bits (they
must be: a vmapped program is padded to ``vmap_size`` whatever it holds).

    .venv/bin/python benchmarks/study_chunks.py [--workload image_vit] [--method adamw]
        [--points 16] [--steps 800] [--repeats 2]

Pause other CPU-heavy work while it runs (it uses both cores).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

_CHILD = r"""
import json, os, sys, time
from hplists.store import open_store
from hplists.study.lrfree import Search
from hplists.trials import train_into_store
from hplists.workloads.registry import get_workload

def main():
    name, method, n, steps, chunk, db = sys.argv[1:7]
    w = get_workload(name)
    pts = Search(method, 0.5).points(int(n), 0)
    store = open_store(db)
    t0 = time.perf_counter()
    counts = train_into_store(store, "bench", w, pts, step_budget=int(steps), update_rule=method,
                              chunk_size=None if chunk == "default" else int(chunk))
    wall = time.perf_counter() - t0
    curves = {r.point_id: [float(v) for v in r.curve.metrics[w.metric.name]] + [
        float(v) for v in r.curve.train_loss] for r in store.trials(study="bench")}
    print(json.dumps({"wall": wall, "trained": counts["trained"], "curves": curves}))

if __name__ == "__main__":
    main()
"""


def _run(chunk: str, args: argparse.Namespace, folder: str, repeat: int) -> dict:
    env = dict(os.environ, HPLISTS_PIN_WORKERS="1")
    script = os.path.join(folder, "child.py")
    db = os.path.join(folder, f"{chunk}-{repeat}.db")
    out = subprocess.run([sys.executable, script, args.workload, args.method, str(args.points),
                          str(args.steps), chunk, db], env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from hplists.workloads.engine import worker_count
    from hplists.workloads.registry import get_workload

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workload", default="image_vit")
    p.add_argument("--method", default="adamw")
    p.add_argument("--points", type=int, default=16)
    p.add_argument("--steps", type=int, default=800,
                   help="the step budget; the search's 50%% horizon trains half of it")
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    w = get_workload(args.workload)
    if w.batching != "processes/vmap":
        sys.exit(f"{args.workload} trains with {w.batching!r} batching; this benchmark compares "
                 "the chunks of a 'processes/vmap' workload")
    old = str(2 * worker_count())
    walls: dict[str, list[float]] = {"default": [], old: []}
    curves: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "child.py"), "w") as f:
            f.write(_CHILD)
        for r in range(args.repeats):
            for chunk in (("default", old) if r % 2 == 0 else (old, "default")):
                got = _run(chunk, args, folder, r)
                assert got["trained"] == args.points
                walls[chunk].append(got["wall"])
                curves.setdefault(chunk, got["curves"])
                print(f"repeat {r}: chunk {chunk}: {got['wall']:.1f} s", flush=True)
    med = {k: statistics.median(v) for k, v in walls.items()}
    print(f"\n{args.workload}, {args.method} 50%, {args.points} points of {args.steps // 2} steps, "
          f"vmap_size {w.vmap_size}, {worker_count()} workers (pinned), {args.repeats} repeats")
    print(f"default chunk ({w.vmap_size * worker_count()} points): {med['default']:.1f} s")
    print(f"two per worker ({old} points): {med[old]:.1f} s")
    print(f"trials per hour, default over two per worker: {med[old] / med['default']:.2f}x")
    print(f"curves the same bits: {curves['default'] == curves[old]}")


if __name__ == "__main__":
    main()
