"""The README's "Workloads" table, generated from committed data.

One row per registered workload (base workloads, then variants): task,
metric and direction, validation target (from the targets file), step budget
``T``, batch size, and the measured seconds per trial.

Two measures of seconds per trial:

* "s/trial (benchmark)": wall seconds per trial of the workload's batching
  with both cores busy, amortized over a batch, as ``benchmarks/workloads.py``
  measured on a quiet machine (``workloads/data/timings.json``);
* "s/trial (runs)": from trial stores, the median over the workload's
  complete trials of ``seconds / step`` at the last evaluation, times ``T``:
  how long one trial took in the recorded runs (in one worker process while
  the other worker trained another point, on a machine shared with other
  jobs). Using the per-step rate lets the shortened target-setting runs
  (``0.75 T``) count as well as full-budget runs.

``hplists targets table --store DB [--update README.md]`` prints the table,
or rewrites the part of a Markdown file between the markers
:data:`START` and :data:`END`.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from hplists.curves import Status
from hplists.markdown_sections import update_file

__all__ = ["END", "START", "estimated_seconds_per_step", "seconds_per_step", "to_markdown",
           "update_markdown", "wall_clock_factor", "workloads_table"]

START = "<!-- workloads-table:start -->"
END = "<!-- workloads-table:end -->"


def _finished(stores: Sequence[Any]) -> list[list[tuple[float, str, float, float]]]:
    """Per store: (finish time, workload, recorded seconds, steps) of each complete trial."""
    out = []
    for store in stores:
        rows = []
        for r in store.trials(status=Status.COMPLETE):
            c = r.curve
            if c is None or len(c) == 0 or not math.isfinite(c.seconds[-1]) or c.steps[-1] <= 0:
                continue
            t = r.provenance_time("finished_at")
            if t is None:  # imported or older trials: no finish time
                t = math.nan
            rows.append((t, r.workload, float(c.seconds[-1]), float(c.steps[-1])))
        out.append(rows)
    return out


def seconds_per_step(stores: Sequence[Any]) -> dict[str, float]:
    """Median seconds per training step of each workload's complete trials in ``stores``."""
    return _rates(_finished(stores), np.median)


def _rates(finished: Sequence[Sequence[tuple[float, str, float, float]]],
           statistic: Any) -> dict[str, float]:
    rates: dict[str, list[float]] = defaultdict(list)
    for rows in finished:
        for _, workload, seconds, steps in rows:
            rates[workload].append(seconds / steps)
    return {w: float(statistic(v)) for w, v in rates.items()}


# Finishes further apart than this belong to different runs (a stopped and resumed study).
RUN_GAP_SECONDS = 600.0


def wall_clock_factor(finished: Sequence[Sequence[tuple[float, str, float, float]]],
                      workers: int) -> float | None:
    """Wall-clock time of the recorded runs over the training time their trials recorded.

    A trial records its own training seconds; a run of ``workers`` worker
    processes also spends wall time on compilation, data, evaluation scoring,
    hand-over between processes and whatever else the machine runs. Within each
    run (finishes less than :data:`RUN_GAP_SECONDS` apart, of at least 10
    trials), the wall time from its first to its last finish is compared with
    the recorded seconds of the trials after the first, divided by
    ``workers``; the factor is the ratio of the totals over all runs (at least
    1), or ``None`` with no such run.

    Example:
        >>> rows = [(float(t), "w", 2.0, 100.0) for t in range(0, 20, 1)]  # one per second
        >>> wall_clock_factor([rows], workers=2)  # 19 s of wall for 19 * 2 / 2 s of work
        1.0
        >>> wall_clock_factor([[(float(t), "w", 2.0, 100.0) for t in range(0, 40, 2)]], 2)
        2.0
    """
    wall = work = 0.0
    for rows in finished:
        times = sorted((t, s) for t, _, s, _ in rows if math.isfinite(t))
        run: list[tuple[float, float]] = []
        for item in [*times, (math.inf, 0.0)]:
            if run and item[0] - run[-1][0] > RUN_GAP_SECONDS:
                if len(run) >= 10:
                    wall += run[-1][0] - run[0][0]
                    work += sum(s for _, s in run[1:]) / workers
                run = []
            run.append(item)
    if work <= 0:
        return None
    return max(1.0, wall / work)


def estimated_seconds_per_step(stores: Sequence[Any], workloads: Sequence[Any]
                               ) -> dict[str, float]:
    """Wall seconds per step of each workload, for plans: what a study's trials will take.

    The mean over the stores' finished trials (a total is a count times a
    mean; the median of these right-skewed rates undercounts), divided by the worker processes that train in parallel under
    ``"processes"`` batching and multiplied by the runs' measured
    :func:`wall_clock_factor` (the overhead a trial's own seconds do not
    show); a workload without any takes its base workload's rate, else the
    rate that ``benchmarks/workloads.py`` measured (``workloads/data/timings.json``,
    already wall-clock) for it or its base.
    """
    from hplists.workloads.engine import worker_count
    from hplists.workloads.timings import measured_seconds_per_step

    finished = _finished(stores)
    recorded = _rates(finished, np.mean)
    measured = measured_seconds_per_step()
    factor = wall_clock_factor(finished, worker_count()) or 1.0
    for w in workloads:
        if w.name in recorded:
            # A recorded trial's seconds are its own; worker processes train in parallel.
            parallel = worker_count() if w.batching.startswith("processes") else 1
            recorded[w.name] *= factor / parallel
    out: dict[str, float] = {}
    for w in workloads:
        names = [w.name] if w.base is None else [w.name, w.base]
        rates = [r[n] for r in (recorded, measured) for n in names if n in r]
        if rates:
            out[w.name] = rates[0]
    return out


def workloads_table(
    stores: Sequence[Any] = (),
    *,
    targets_path: str | os.PathLike[str] | None = None,
) -> list[dict[str, Any]]:
    """One dict per registered workload: name, base, task, metric, mode, target, T, batch, s/trial.

    ``target`` is ``None`` for a workload without a target, ``s_per_trial`` for
    a workload without complete trials in ``stores``.
    """
    from hplists.workloads.registry import get_workload, workload_names
    from hplists.workloads.targets_file import read_targets
    from hplists.workloads.timings import current_timings

    entries = read_targets(targets_path)["targets"]
    rate = seconds_per_step(stores)
    measured = current_timings()
    rows = []
    for name in workload_names():
        w = get_workload(name)
        entry = entries.get(name)
        stale = entry is not None and entry.get("workload_version") not in (None, w.version)
        rows.append({
            "workload": name,
            "base": w.base,
            "task": w.task,
            "metric": w.metric.name,
            "mode": w.metric.mode,
            "target": None if entry is None else float(entry["target"]),
            "target_stale": bool(stale),
            "best_algorithm": None if entry is None else
            entry.get("provenance", {}).get("best", {}).get("algorithm"),
            "step_budget": int(w.step_budget),
            "batch_size": int(w.batch_size),
            "s_per_trial": rate[name] * w.step_budget if name in rate else None,
            "benchmark_s_per_trial": measured.get(name, {}).get("seconds_per_trial"),
        })
    return rows


def to_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a GitHub Markdown table.

    Example:
        >>> print(to_markdown([{"workload": "w", "base": None, "task": "t", "metric": "bleu",
        ...     "mode": "max", "target": 30.85, "target_stale": False, "best_algorithm": "adamw",
        ...     "step_budget": 100, "batch_size": 8, "s_per_trial": 2.5,
        ...     "benchmark_s_per_trial": 1.234}]))
        | workload | variant of | task | metric | target | set with | T | batch | s/trial (benchmark) | s/trial (runs) |
        | --- | --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: |
        | `w` |  | t | bleu (higher is better) | 30.85 | adamw | 100 | 8 | 1.2 | 2.5 |
    """
    lines = [
        "| workload | variant of | task | metric | target | set with | T | batch "
        "| s/trial (benchmark) | s/trial (runs) |",
        "| --- | --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        direction = "lower is better" if r["mode"] == "min" else "higher is better"
        target = "not set" if r["target"] is None else f"{r['target']:.6g}"
        if r.get("target_stale"):
            target += " (stale: older workload version)"
        secs = "" if r["s_per_trial"] is None else f"{r['s_per_trial']:.2g}"
        bench = r.get("benchmark_s_per_trial")
        bench = "" if bench is None else f"{bench:.2g}"
        base = f"`{r['base']}`" if r["base"] else ""
        lines.append(
            f"| `{r['workload']}` | {base} | {r['task']} | {r['metric']} ({direction}) | "
            f"{target} | {r.get('best_algorithm') or ''} | {r['step_budget']} | "
            f"{r['batch_size']} | {bench} | {secs} |"
        )
    return "\n".join(lines)


def update_markdown(path: str | os.PathLike[str], table: str, *, start: str = START,
                    end: str = END) -> bool:
    """Replaces the text between the markers ``start`` and ``end`` in ``path``; whether it changed.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "README.md")
        >>> _ = open(p, "w").write(f"# x\\n{START}\\nold\\n{END}\\nrest\\n")
        >>> update_markdown(p, "new"), open(p).read()
        (True, '# x\\n<!-- workloads-table:start -->\\nnew\\n<!-- workloads-table:end -->\\nrest\\n')
    """
    return update_file(path, table, start, end)
