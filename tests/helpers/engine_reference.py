"""Reference curves of the engine: every base workload, a few steps, to the last bit.

Not a test module. ``tests/test_workloads_engine_reference.py`` retrains these
trials and compares every recorded number exactly, so a change to the engine
that alters numerics (another PRNG, another reduction order, another layout)
fails a test instead of silently invalidating the committed stores.

XLA's CPU kernels depend on the instruction set, so the file records the CPU
it was made on and the test compares only on a CPU with the same features.

They also depend on threading: the study's worker processes run XLA
single-threaded (``WORKER_XLA_FLAGS``), and on the attention workloads
(image_vit, speech_conformer, translate_transformer) that gives other last
bits than this multi-threaded process. The stores hold worker-trained curves,
so where the two differ the file also records the worker's (``worker_curve``)
and the test retrains those in a single-threaded process.
Regenerate (only for a change meant to alter numerics, with a workload
version bump)::

    .venv/bin/python tests/helpers/engine_reference.py
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

PATH = Path(__file__).resolve().parents[1] / "data" / "engine_reference.json"
STEPS = 12
SEED = 0
BATCHING = "sequential"
# Instruction-set features that change which kernels XLA:CPU emits.
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_bf16", "amx_tile")


def cpu_signature() -> dict[str, Any]:
    """The CPU's model name and ISA features (Linux ``/proc/cpuinfo``; empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    model, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and not model:
            model = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = set(value.split())
    return {"model": model, "flags": sorted(f for f in ISA_FLAGS if f in flags)}


def point() -> Any:
    from hplists import get_list

    return get_list("nadamw-paper")[0].replace(dropout_rate=0.1, label_smoothing=0.1)


def curve_record(curve: Any) -> dict[str, Any]:
    """A curve's numbers as exact hex floats (seconds left out: they are wall time)."""
    return {"status": curve.status.value, "steps": [int(s) for s in curve.steps],
            "train_loss": [float(x).hex() for x in curve.train_loss],
            "metrics": {k: [float(x).hex() for x in v] for k, v in sorted(curve.metrics.items())}}


def train(name: str) -> dict[str, Any]:
    from hplists.workloads import engine
    from hplists.workloads.registry import get_workload

    (curve,) = engine.train(get_workload(name), [point()], SEED, step_budget=STEPS,
                            batching=BATCHING)
    return curve_record(curve)


def train_in_worker(names: list[str]) -> dict[str, dict[str, Any]]:
    """:func:`train` of each workload in a new process with a study worker's XLA flags."""
    from hplists.workloads.engine import WORKER_XLA_FLAGS

    return _train_in_subprocess(names, WORKER_XLA_FLAGS)


def _train_in_subprocess(names: list[str], xla_flags: str) -> dict[str, dict[str, Any]]:
    import os
    import subprocess

    env = {**os.environ, "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} {xla_flags}",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                          os.environ.get("PYTHONPATH", "")])}
    code = ("import json, sys\nfrom helpers import engine_reference as r\n"
            "print(json.dumps({n: r.train(n) for n in sys.argv[1:]}))")
    proc = subprocess.run([sys.executable, "-c", code, *names], env=env, capture_output=True,
                          text=True, check=True)
    return json.loads(proc.stdout.splitlines()[-1])


# The counterpart that runs on every CPU: another instruction set gives XLA:CPU other
# kernels (other reduction orders, FMA or not), so a float32 curve drifts in its last bits
# over 12 steps: 6e-6 relative on image_resnet's training loss under AVX2 kernels
# (XLA_FLAGS=--xla_cpu_max_isa=AVX2 on an AVX-512 machine). A broken engine moves the
# numbers by far more. Validation metrics that count examples move by whole examples.
RTOL = 1e-3
ATOL_METRIC = 5e-3


def differences(got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """Where ``got`` is not within :data:`RTOL` / :data:`ATOL_METRIC` of ``want``; [] if close.

    Statuses, steps and metric names must be equal; values are compared with
    ``|a - b| <= atol + RTOL |b|`` (``atol`` 0 for the training loss).
    """
    import numpy as np

    out = []
    for key in ("status", "steps"):
        if got[key] != want[key]:
            out.append(f"{key}: {got[key]} != {want[key]}")
    if sorted(got["metrics"]) != sorted(want["metrics"]):
        return [*out, f"metrics {sorted(got['metrics'])} != {sorted(want['metrics'])}"]
    series = [("train_loss", got["train_loss"], want["train_loss"], 0.0)] + [
        (k, got["metrics"][k], want["metrics"][k], ATOL_METRIC) for k in sorted(want["metrics"])]
    for name, a, b, atol in series:
        x = np.array([float.fromhex(v) for v in a])
        y = np.array([float.fromhex(v) for v in b])
        if x.shape != y.shape or not np.allclose(x, y, rtol=RTOL, atol=atol):
            worst = float(np.max(np.abs(x - y))) if x.shape == y.shape else math.inf
            out.append(f"{name}: max |difference| {worst:.3g} (rtol {RTOL}, atol {atol})")
    return out


def train_with_isa(names: list[str], isa: str) -> dict[str, dict[str, Any]]:
    """:func:`train` of each workload in a new process whose XLA:CPU emits at most ``isa``."""
    return _train_in_subprocess(names, f"--xla_cpu_max_isa={isa}")


def main() -> int:
    from hplists.workloads.registry import get_workload, workload_names

    names = workload_names(variants=False)
    curves = {n: train(n) for n in names}
    in_worker = train_in_worker(names)
    data = {"cpu": cpu_signature(), "steps": STEPS, "seed": SEED, "batching": BATCHING,
            "point": point().to_dict(),
            "workloads": {n: {"version": get_workload(n).version, "curve": curves[n],
                              **({"worker_curve": in_worker[n]} if in_worker[n] != curves[n]
                                 else {})}
                          for n in names}}
    PATH.parent.mkdir(exist_ok=True)
    PATH.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {len(names)} reference curves to {PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main())
