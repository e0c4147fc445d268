"""Reference curves of the engine: every base workload, a few steps, to the last bit.

Not a test module. ``tests/test_workloads_engine_reference.py`` retrains these
trials and compares every recorded number exactly, so a change to the engine
that alters numerics (another PRNG, another reduction order, another layout)
fails a test instead of silently invalidating the committed stores.

XLA's CPU kernels depend on the CPU, so the file holds one entry per CPU the
curves were recorded on (model name and instruction-set features,
``hplists.cpu.cpu_signature``), and the bit-for-bit tests run on a CPU that has
an entry. Running this script on a new kind of CPU adds its entry and keeps the
others while their workload versions are current.

They also depend on threading: the study's worker processes run XLA
single-threaded (``WORKER_XLA_FLAGS``), and on the attention workloads
(image_vit, speech_conformer, translate_transformer) that gives other last
bits than this multi-threaded process. The stores hold worker-trained curves,
so where the two differ the file also records the worker's (``worker_curve``)
and the test retrains those in a single-threaded process.
Regenerate (for a new kind of CPU, or for a change meant to alter numerics,
with a workload version bump, then on every kind of CPU that CI runs on)::

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


def load() -> dict[str, Any]:
    """The file: the trial's settings and one entry per CPU it was recorded on.

    ``references[i]`` is ``{"cpu": hplists.cpu.cpu_signature(), "workloads": {name:
    {"version", "curve", "worker_curve"?}}}``. The first entry's CPU also trained the
    committed paper-001 study (``stores/study.db``) that the test retrains a trial of.
    """
    return json.loads(PATH.read_text())


def for_cpu(data: dict[str, Any], cpu: dict[str, Any]) -> dict[str, Any] | None:
    """The entry recorded on a CPU with ``cpu``'s model name and features, or ``None``."""
    return next((r for r in data["references"] if r["cpu"] == cpu), None)


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
    """Record this CPU's entry; keep the other CPUs' entries while their versions are current."""
    from hplists.cpu import cpu_signature
    from hplists.workloads.registry import get_workload, workload_names

    names = workload_names(variants=False)
    curves = {n: train(n) for n in names}
    in_worker = train_in_worker(names)
    here = {"cpu": cpu_signature(),
            "workloads": {n: {"version": get_workload(n).version, "curve": curves[n],
                              **({"worker_curve": in_worker[n]} if in_worker[n] != curves[n]
                                 else {})}
                          for n in names}}
    settings = {"steps": STEPS, "seed": SEED, "batching": BATCHING, "point": point().to_dict()}
    old = load() if PATH.exists() else {"references": []}
    if any(old.get(k) != v for k, v in settings.items()):
        old["references"] = []  # another trial: no earlier entry describes it
    versions = {n: here["workloads"][n]["version"] for n in names}
    references = []
    for entry in old["references"]:
        current = {n: w["version"] for n, w in entry["workloads"].items()} == versions
        if entry["cpu"] == here["cpu"]:
            references.append(here)
        elif current:
            references.append(entry)
        else:
            print(f"dropped the entry of {entry['cpu']}: its workload versions are stale; "
                  "record it again on such a CPU", file=sys.stderr)
    if here not in references:
        references.append(here)
    PATH.parent.mkdir(exist_ok=True)
    PATH.write_text(json.dumps({**settings, "references": references}, indent=1) + "\n")
    print(f"wrote {len(names)} reference curves of {here['cpu']} to {PATH} "
          f"({len(references)} CPUs)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main())
