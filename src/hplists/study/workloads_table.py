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

import os
from collections.abc import Sequence
from typing import Any

from hplists.markdown_sections import update_file
from hplists.study.step_rates import finished_trials, seconds_per_step_of

__all__ = ["END", "START", "seconds_per_step", "to_markdown", "update_markdown",
           "workloads_table"]

START = "<!-- workloads-table:start -->"
END = "<!-- workloads-table:end -->"


def seconds_per_step(stores: Sequence[Any]) -> dict[str, float]:
    """Median seconds per training step of each workload's complete trials in ``stores``."""
    return seconds_per_step_of(finished_trials(stores))


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
