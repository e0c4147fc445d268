"""A cheap estimate of a changed workload's calibration, before paying for the procedure.

The calibration band asks that 1% to 15% of the 200 ``nadamw-broad`` points reach each
base workload's target, and that a workload outside the band be *changed* (data,
model, budget) and its target set again. Setting a target (261 trials at 0.75 T)
and calibrating (200 trials at T) costs about half an hour per try on two
cores; this probe answers "is this change likely to land in the band?" in a
few minutes:

1. target proxy: the 3 best ``targets-nadamw`` points of the base workload's
   recorded target-setting search (``--targets-store``), or with
   ``--search N`` the first N points of the procedure's own NAdamW search
   (scrambled Halton, seed 1), trained on the candidate at horizon
   ``round(0.75 T)`` with seed 0, the best of them again with seeds 1 and 2;
   the proxy is the median of its 3 best validation metrics (the procedure
   takes the median of 5 seeds of the best of 4 algorithms x 64 points);
2. the first ``--points`` calibration points (scrambled Halton, seed 0, as
   ``hplists targets calibrate``) trained on the candidate for ``T``, seed 0;
   printed: how many reach the proxy, and the 1st/3rd/5th/10th best metric.

The proxy is not the target. When the change moves the optimum away from the
base workload's best points (e.g. a new parametrization), those points make a
proxy that is too easy and a count that is too high: use ``--search 32`` then.
Read counts of 1 or 2 as "on the edge". Nothing is written to a store.

A candidate is the base workload with class attributes overridden
(``--set channels=4 --set step_budget=800 --set data_options='{"num_train": 8192}'``;
values are JSON, else strings), or a workload class of your own
(``--candidate my_module:MyWorkload``, importable in a fresh process).

    .venv/bin/python benchmarks/calibration_probe.py --base mri_unet --set channels=4 \\
        --set batch_size=4 --set step_budget=800 [--points 60]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import time
from typing import Any

import numpy as np

# The overrides travel to the engine's worker processes (spawned, re-importing this
# module) in the environment, so the candidate class below exists there too.
_ENV = "HPLISTS_PROBE_CANDIDATE"


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _candidate_class() -> type | None:
    spec = os.environ.get(_ENV)
    if not spec:
        return None
    spec = json.loads(spec)
    if spec.get("class"):
        module, _, name = spec["class"].partition(":")
        return getattr(importlib.import_module(module), name)
    from hplists.workloads.registry import get_workload

    base = type(get_workload(spec["base"]))
    attrs = {k: _value(v) for k, v in spec["set"].items()}
    attrs["name"] = f"{base.name}_probe"
    attrs["__module__"] = __name__
    attrs["__qualname__"] = "Candidate"
    return type("Candidate", (base,), attrs)


Candidate = _candidate_class()


def best_metric(curve: Any, name: str, mode: str) -> float:
    """Best finite value of metric ``name`` over a curve's evaluations (NaN if none)."""
    if curve is None or name not in curve.metrics:
        return float("nan")
    v = curve.metric(name)
    v = v[np.isfinite(v)]
    if not len(v):
        return float("nan")
    return float(v.max() if mode == "max" else v.min())


def _base_best(name: str, path: str, version: str | None, metric: str, mode: str
               ) -> tuple[str, list[Any]]:
    """The 3 best points of the newest (or ``version``'s) NAdamW target search of ``name``."""
    from hplists.store import open_store
    from hplists.study.target_setting import trial_best

    store = open_store(path, create=False)
    prefix = f"targets/{name}/v"
    studies = [s for s in store.studies() if s.startswith(prefix) and s.endswith("/nadamw")]
    if version is not None:
        studies = [s for s in studies if s == f"{prefix}{version}/nadamw"]
    if not studies:
        raise SystemExit(f"no NAdamW target-setting search of {name!r} in {path} "
                         f"(studies {store.studies()}); use --search N")
    study = max(studies, key=lambda s: s.split("/")[2])
    sign = 1.0 if mode == "max" else -1.0
    scored = [(trial_best(r, metric, mode), r) for r in store.trials(study=study)]
    scored = sorted((x for x in scored if np.isfinite(x[0])), key=lambda x: -sign * x[0])
    return study, [r.hparams for _, r in scored[:3]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="registered base workload")
    ap.add_argument("--set", action="append", default=[], metavar="ATTR=VALUE",
                    help="class attribute of the candidate (repeatable; JSON values)")
    ap.add_argument("--candidate", help="module:Class of a candidate workload instead of --set")
    ap.add_argument("--points", type=int, default=60, help="calibration points (default 60)")
    ap.add_argument("--search", type=int, default=0, metavar="N",
                    help="proxy from the first N points of the procedure's NAdamW search "
                    "instead of the base workload's 3 best (default 0: the base's)")
    ap.add_argument("--targets-store", default="stores/targets.db",
                    help="store with the base workload's target-setting trials")
    ap.add_argument("--targets-version", default=None,
                    help="base workload version whose search to read (default: newest recorded)")
    args = ap.parse_args(argv)

    from hplists.study.calibration import calibration_points
    from hplists.workloads.engine import train
    from hplists.workloads.registry import get_workload

    base = get_workload(args.base)
    pairs = dict(item.partition("=")[::2] for item in args.set)
    if bool(pairs) == bool(args.candidate):
        ap.error("give either --set ATTR=VALUE ... or --candidate module:Class")
    os.environ[_ENV] = json.dumps({"base": base.name, "set": pairs, "class": args.candidate})
    global Candidate
    Candidate = _candidate_class()
    wl = Candidate()
    metric, mode = wl.metric.name, wl.metric.mode
    sign = 1.0 if mode == "max" else -1.0

    if args.search > 0:
        from hplists.study.target_setting import search_points

        study, top = f"the first {args.search} targets-nadamw points", search_points(
            "nadamw", args.search)
    else:
        study, top = _base_best(base.name, args.targets_store, args.targets_version, metric, mode)
    horizon = round(0.75 * wl.step_budget)

    t0 = time.time()
    scores = [best_metric(c, metric, mode) for c in train(wl, top, seed=0, step_budget=horizon)]
    order = np.argsort(-sign * np.nan_to_num(np.asarray(scores), nan=-sign * np.inf))
    i = int(order[0])
    best3 = [scores[j] for j in order[:3]]
    seeds = [scores[i]] + [best_metric(train(wl, [top[i]], seed=s, step_budget=horizon)[0],
                                       metric, mode) for s in (1, 2)]
    proxy = statistics.median(seeds)
    print(f"{wl.name} (from {study}): T={wl.step_budget}, horizon {horizon}; best 3 "
          f"{np.round(best3, 4).tolist()}; best point, seeds 0-2 {np.round(seeds, 4).tolist()}; "
          f"target proxy {proxy:.4f} ({time.time() - t0:.0f} s)", flush=True)

    t1 = time.time()
    curves = train(wl, calibration_points(args.points), seed=0)
    b = np.array([best_metric(c, metric, mode) for c in curves])
    hits = int(np.sum(sign * b[np.isfinite(b)] >= sign * proxy))
    ranked = np.sort(sign * b[np.isfinite(b)])[::-1] * sign
    ranks = [r for r in (1, 3, 5, 10) if r <= len(ranked)]
    print(f"{wl.name}: {hits} of {args.points} calibration points reach the proxy "
          f"({100 * hits / args.points:.1f}%; the band is 1% to 15%); best "
          + ", ".join(f"#{r} {ranked[r - 1]:.4f}" for r in ranks)
          + f"; {(time.time() - t1) / args.points:.2f} s/trial", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
