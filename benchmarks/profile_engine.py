"""Where a trial's time goes in the training engine, per workload.

For each workload, one batch of points (``vmap_size`` points for ``vmap``
workloads, ``--points`` for the others, trained ``"sequential"`` in this
process) is trained twice: the first run compiles, the second is timed. The
engine's compiled programs and the workload's host-side scoring are wrapped
with timers (nothing in the engine changes), so the split is:

* compile: lowering and compiling the init, training-chunk and predict programs
  (first run only; a study pays it once per workload, rule and horizon, or
  never with the persistent compilation cache);
* train: the compiled training chunks (the steps between evaluations),
  synchronised with ``block_until_ready``;
* eval: the compiled prediction over the validation split and its transfer to
  the host (``device_get``);
* score: the workload's ``score`` on the host (NumPy metrics: SSIM, WER, BLEU...);
* init: the compiled initialization;
* other: the rest of the wall time (Python, batch orders, host syncs of the
  divergence flags, curve building).

Printed as seconds per trial and as shares of the timed run's wall time.

    .venv/bin/python benchmarks/profile_engine.py [--workload W ...] [--points 4] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict


def profile(name: str, points: int) -> dict[str, float]:
    import jax

    from hplists.space import get_space
    from hplists.workloads import engine
    from hplists.workloads.engine import loop
    from hplists.workloads.engine.programs import PROGRAM_CACHE, CompiledPrograms
    from hplists.workloads.registry import get_workload

    w = get_workload(name)
    batching = "vmap" if w.batching == "vmap" else "sequential"
    n = w.vmap_size if batching == "vmap" else points
    pts = get_space("nadamw-broad").sample(n, seed=0)
    spent: dict[str, float] = defaultdict(float)

    def timed(key: str, fn, sync):
        def call(*args):
            t = time.perf_counter()
            out = fn(*args)
            out = sync(out)
            spent[key] += time.perf_counter() - t
            return out
        return call

    real_programs, real_score = loop.compiled_programs, w.score  # what the training loop calls

    def timed_programs(*args, **kwargs):
        t = time.perf_counter()
        cached = len(PROGRAM_CACHE)
        progs = real_programs(*args, **kwargs)
        if len(PROGRAM_CACHE) != cached:
            spent["compile"] += time.perf_counter() - t
        wrapped = CompiledPrograms(
            init=timed("init", progs.init, jax.block_until_ready),
            chunk=timed("train", progs.chunk, jax.block_until_ready),
            predict=timed("eval", progs.predict, jax.device_get),
            with_state=progs.with_state)
        return wrapped

    def score(outputs, valid):
        t = time.perf_counter()
        out = real_score(outputs, valid)
        spent["score"] += time.perf_counter() - t
        return out

    loop.compiled_programs = timed_programs
    w.score = score  # type: ignore[method-assign]
    try:
        t0 = time.perf_counter()
        engine.train(w, pts, 0, batching=batching)
        first = time.perf_counter() - t0
        compile_s = spent.pop("compile", 0.0)
        spent.clear()
        t0 = time.perf_counter()
        engine.train(w, pts, 0, batching=batching)
        wall = time.perf_counter() - t0
    finally:
        loop.compiled_programs = real_programs
        del w.score
    spent.pop("compile", None)
    parts = {k: spent.get(k, 0.0) for k in ("train", "eval", "score", "init")}
    parts["other"] = max(0.0, wall - sum(parts.values()))
    return {"workload": name, "batching": batching, "points": n, "wall": wall,
            "first_run": first, "compile": compile_s,
            **{f"{k}_s_per_trial": v / n for k, v in parts.items()},
            **{f"{k}_share": v / wall for k, v in parts.items()}}


def main() -> None:
    from hplists.workloads.registry import workload_names

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workload", action="append", default=None, help="(default: every base)")
    p.add_argument("--points", type=int, default=4,
                   help="points of a sequential batch (default 4)")
    p.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = p.parse_args()
    names = args.workload or workload_names(variants=False)
    rows = []
    print(f"{'workload':<22} {'batching':<10} {'s/trial':>8} {'compile s':>9}  "
          f"{'train':>6} {'eval':>6} {'score':>6} {'init':>6} {'other':>6}")
    for name in names:
        r = profile(name, args.points)
        rows.append(r)
        shares = " ".join(f"{100 * r[f'{k}_share']:5.1f}%"
                          for k in ("train", "eval", "score", "init", "other"))
        print(f"{name:<22} {r['batching']:<10} {r['wall'] / r['points']:8.3f} "
              f"{r['compile']:9.1f}  {shares}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
