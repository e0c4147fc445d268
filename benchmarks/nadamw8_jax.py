"""JAX 8-bit NAdamW (``nadamw8``): the quantization's table look-up against a binary search.

``quantize_normalized`` finds each value's code with one look-up in
``bucket_table`` (the compiled PyTorch kernel's method); it used
``jnp.searchsorted`` before, a binary search that XLA:CPU compiles into a loop
of gathers. Both give the same codes (``tests/test_optim_nadamw8bit.py``), so
training with ``nadamw8`` gives the same curves, only faster.

Side by side, each measurement in a fresh single-threaded process (XLA as in a
study worker), alternating, ``--repeats`` times; medians:

1. the magnitude index of 2^20 normalized values, jitted: the look-up and
   ``jnp.searchsorted`` (equal codes checked);
2. the engine training ``--workload`` (2 points of ``nadamw-hplists-cpu``,
   ``"sequential"``, ``--steps``) with ``nadamw`` (32-bit), and with ``nadamw8``
   quantizing by look-up and by binary search (compilation excluded: each
   process trains once to compile, then times a second run); the curves of
   the two ``nadamw8`` variants must be the same bits;
3. with ``--store`` (default ``stores/state8.db`` when it exists), the recorded
   ``nadamw8`` trials of seed 1 on the workload retrained with the look-up at
   their full budget, compared bit for bit with the store (their train loss and
   every metric at every evaluation).

    .venv/bin/python benchmarks/nadamw8_jax.py [--workload ctr_dlrm] [--steps 400]
        [--repeats 3] [--store stores/state8.db]

Pause other CPU-heavy work while it runs (it uses one core at a time).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

_CHILD = r"""
import json, sys, time
import numpy as np
import jax, jax.numpy as jnp
from hplists.optim import blockwise_quant as bq

variant, what, workload, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def searchsorted_index(m, signed, xp):
    # The binary search it replaced: the thresholds counted up to the magnitudes m.
    t = jnp.asarray(bq.thresholds(signed))
    return jnp.searchsorted(t, m, side="right").astype(jnp.int32)

if variant == "searchsorted":
    bq._magnitude_index = searchsorted_index

if what == "index":
    rng = np.random.default_rng(0)
    a = (rng.normal(size=2**20) * np.exp(rng.normal(size=2**20) * 3)).astype(np.float32)
    x = jnp.asarray(a / np.abs(a).max())
    f = jax.jit(lambda v: bq.quantize_normalized(v, False, xp=jnp))
    codes = np.asarray(f(x))
    times = []
    for _ in range(20):
        t0 = time.perf_counter(); f(x).block_until_ready(); times.append(time.perf_counter() - t0)
    print(json.dumps({"seconds": float(np.median(times)), "codes": codes[:4096].tolist()}))
else:
    from hplists.lists.registry import get_list
    from hplists.optim.rules import get_rule
    from hplists.workloads.engine import train
    from hplists.workloads.registry import get_workload
    w = get_workload(workload)
    pts = list(get_list("nadamw-hplists-cpu").points[:2])
    rule = get_rule(what)
    train(w, pts, seed=1, step_budget=steps, update_rule=rule, batching="sequential")
    t0 = time.perf_counter()
    curves = train(w, pts, seed=1, step_budget=steps, update_rule=rule, batching="sequential")
    wall = time.perf_counter() - t0
    print(json.dumps({"seconds": wall, "curves": [
        [float(v) for v in c.train_loss] + [float(v) for v in c.metrics[w.metric.name]]
        for c in curves]}))
"""

_RETRAIN = r"""
import json, sys
import numpy as np
from hplists.lists.registry import get_list
from hplists.optim.rules import get_rule
from hplists.store import open_store
from hplists.workloads.engine import train
from hplists.workloads.registry import get_workload

db, workload = sys.argv[1], sys.argv[2]
store = open_store(db, create=False)
records = [r for r in store.trials(workload=workload)
           if r.study.endswith("/nadamw8") and r.seed == 1 and r.curve is not None]
w = get_workload(workload)
points = get_list("nadamw-hplists-cpu").points  # the list the recorded trials evaluated
curves = train(w, [points[r.point_index] for r in records], seed=1,
               update_rule=get_rule("nadamw8"), batching="sequential")
same = 0
for r, c in zip(records, curves):
    old = r.curve
    same += bool(np.array_equal(old.steps, c.steps) and np.array_equal(old.train_loss, c.train_loss)
                 and all(np.array_equal(old.metrics[m], c.metrics[m]) for m in old.metrics))
print(json.dumps({"trials": len(records), "identical": same}))
"""


def _child(code: str, *argv: str) -> dict:
    env = dict(os.environ, XLA_FLAGS="--xla_cpu_multi_thread_eigen=false",
               HPLISTS_COMPILATION_CACHE="off")
    out = subprocess.run([sys.executable, "-c", code, *argv], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workload", default="ctr_dlrm")
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--store", default="stores/state8.db")
    args = p.parse_args()

    index: dict[str, list[float]] = {"table": [], "searchsorted": []}
    codes: dict[str, list[int]] = {}
    for _ in range(args.repeats):
        for variant in index:
            r = _child(_CHILD, variant, "index", args.workload, "0")
            index[variant].append(r["seconds"])
            codes[variant] = r["codes"]
    t, s = statistics.median(index["table"]), statistics.median(index["searchsorted"])
    print(f"index of 2^20 values: look-up {t * 1e3:.2f} ms, binary search {s * 1e3:.2f} ms, "
          f"{s / t:.1f}x; same codes: {codes['table'] == codes['searchsorted']}")

    runs = {"nadamw": [], "nadamw8 look-up": [], "nadamw8 binary search": []}
    curves: dict[str, list] = {}
    for _ in range(args.repeats):
        for name, (variant, rule) in {"nadamw": ("table", "nadamw"),
                                      "nadamw8 look-up": ("table", "nadamw8"),
                                      "nadamw8 binary search": ("searchsorted", "nadamw8")
                                      }.items():
            r = _child(_CHILD, variant, rule, args.workload, str(args.steps))
            runs[name].append(r["seconds"])
            curves[name] = r["curves"]
    base = statistics.median(runs["nadamw"])
    print(f"{args.workload}, 2 points x {args.steps} steps, sequential, one core "
          f"(median of {args.repeats}):")
    for name, times in runs.items():
        m = statistics.median(times)
        print(f"  {name:<22} {m:7.2f} s  {m / base:5.2f}x nadamw")
    lookup, search = (statistics.median(runs[k]) for k in ("nadamw8 look-up",
                                                            "nadamw8 binary search"))
    print(f"  look-up over binary search: {search / lookup:.2f}x faster; same curves: "
          f"{curves['nadamw8 look-up'] == curves['nadamw8 binary search']}")

    if args.store and Path(args.store).exists():
        r = _child(_RETRAIN, args.store, args.workload)
        print(f"recorded nadamw8 trials of {args.store} (seed 1, {args.workload}) retrained with "
              f"the look-up: {r['identical']} of {r['trials']} identical bit for bit")


if __name__ == "__main__":
    main()
