"""``hplists workloads`` (the library), ``hplists run`` and ``hplists evaluate`` (a list on a workload).

``hplists workloads`` prints every registered workload with its metric, target,
budget and the seconds per trial that ``benchmarks/workloads.py`` measured
(``workloads/data/timings.json``). ``hplists run`` is the main job of the
package in one line: run the first ``k`` points of a list on a workload, keep
the best. ``hplists evaluate`` scores a list's first ``k`` points on a workload
over seeds as paper 001 scores lists (:mod:`hplists.study.evaluate`).
"""

from __future__ import annotations

import argparse
import json
import math
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from hplists.hparams import point_dict
from hplists.metric import argbest
from hplists.workloads.timings import current_timings, load_timings

if TYPE_CHECKING:
    from hplists.workloads.spec import JaxWorkload

def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("workloads", help="the workload library: metric, target, budget, s/trial",
                       description="Every registered workload (base workloads, then variants) "
                       "with its validation metric and direction, target, step budget T, batch "
                       "size, batching strategy and the measured seconds per trial.")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_workloads)

    r = sub.add_parser(
        "run", help="train the first K points of a list on a workload; report the best",
        description="Trains the first K points of a hyperparameter list on a workload (with a "
        "progress bar) and prints, per point, its status, best validation metric and, when the "
        "workload has a target, the time to reach it; then the best point. With --store, trials "
        "go to a trial store (study run/<list>) and finished ones are not trained again.")
    _list_on_workload_args(r, store="a trial store to record trials in and reuse",
                           steps="step budget (default: the workload's)")
    r.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    r.set_defaults(func=_run)

    e = sub.add_parser(
        "evaluate", help="score a list's first K points on a workload, per seed (t/T, hits)",
        description="Trains the first K points of a list on a workload for each seed and "
        "prints, per seed, the list's step fraction t/T (its best point's time to target over "
        "the budget, as paper 001's cost counts it), how many trials in list order it takes "
        "to hit the target, and the best validation metric; then the hit rate and median t/T. "
        "Trials are recorded in study run/<list> of --store (as `hplists run --store` does), "
        "so a killed evaluation resumes.")
    _list_on_workload_args(
        e, store="a trial store to record trials in and reuse (default: a temporary one)",
        steps="step budget (default: the workload's); t/T is against it")
    e.add_argument("--seeds", default="1", metavar="N|S,S,...",
                   help="N seeds 0..N-1, or a comma-separated list of seeds (default 1)")
    e.add_argument("--target", type=float, default=None,
                   help="validation target (default: the workload's)")
    e.set_defaults(func=_evaluate)


def _list_on_workload_args(p: argparse.ArgumentParser, *, store: str, steps: str) -> None:
    """The options of the commands that train a list's first K points on one workload."""
    p.add_argument("--workload", required=True, help="a workload name (see `hplists workloads`)")
    p.add_argument("--list", default="nadamw-paper", dest="list_name",
                   help="a list name (see `hplists lists`; default nadamw-paper) or the path "
                   "of a list file (`hplists build -o FILE`)")
    p.add_argument("--k", type=int, default=5, help="number of points to run (default 5)")
    p.add_argument("--store", default=None, help=store)
    p.add_argument("--steps", type=int, default=None, help=steps)
    p.add_argument("--batching", default=None,
                   help="vmap, sequential, processes or processes/vmap (default: the workload's)")
    p.add_argument("--update-rule", default=None, metavar="NAME|MODULE:FUNCTION",
                   help="update rule for the list's points (default: the list's own)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


# ---------------------------------------------------------------------------- workloads


def workload_rows() -> list[dict[str, Any]]:
    """One dict per registered workload: its description plus measured seconds per trial."""
    from hplists.workloads.registry import get_workload, workload_names

    timings = current_timings()
    rows = []
    for name in workload_names():
        w = get_workload(name)
        row = w.describe()
        row["batching"] = getattr(w, "batching", None)
        t = timings.get(name, {})
        row["seconds_per_trial"] = t.get("seconds_per_trial")
        row["cpu_seconds_per_trial"] = t.get("cpu_seconds_per_trial")
        rows.append(row)
    return rows


def _fmt(x: float | None, spec: str = ".3g") -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def _workloads(args: argparse.Namespace) -> int:
    rows = workload_rows()
    timings = load_timings()
    if args.json:
        print(json.dumps({"workloads": rows, "timings_machine": timings.get("machine")},
                         indent=2))
        return 0
    from rich.table import Table

    from hplists.cli.terminal import console

    arrow = {"min": "↓", "max": "↑"}
    table = Table(title="hplists workloads")
    # Every column but the task keeps its width; the task shrinks on narrow terminals.
    table.add_column("name", no_wrap=True, min_width=max(len(r["name"]) + 2 for r in rows))
    table.add_column("task", overflow="ellipsis", no_wrap=True, min_width=12, max_width=48)
    table.add_column("metric", no_wrap=True, min_width=max(len(r["metric"]) + 2 for r in rows))
    for col, width in (("target", 8), ("T", 5), ("batch", 5)):
        table.add_column(col, justify="right", no_wrap=True, min_width=width)
    table.add_column("batching", no_wrap=True, min_width=10)
    table.add_column("s/trial", justify="right", no_wrap=True, min_width=7)
    table.add_column("CPU-s/trial", justify="right", no_wrap=True, min_width=11)
    for r in rows:
        name = r["name"] if r["base"] is None else f"  {r['name']}"
        table.add_row(name, r["task"], f"{r['metric']} {arrow[r['mode']]}",
                      _fmt(r["target"], ".4g"), str(r["step_budget"]), str(r["batch_size"]),
                      str(r["batching"]), _fmt(r["seconds_per_trial"], ".2f"),
                      _fmt(r["cpu_seconds_per_trial"], ".2f"))
    con = console()
    con.print(table)
    machine = timings.get("machine")
    if machine:
        con.print(f"s/trial: wall-clock seconds per trial amortized over a batch, measured "
                      f"by benchmarks/workloads.py on {machine.get('cpu', '?')} "
                      f"({machine.get('cores', '?')} cores) on {timings.get('date', '?')}; "
                      "↓ lower is better, ↑ higher is better.")
    else:
        con.print("s/trial: not measured yet (run benchmarks/workloads.py).")
    return 0


# ---------------------------------------------------------------------------- run


def summarize(curve: Any, metric: Any, target: float | None) -> dict[str, Any]:
    """Best metric (and its step) and time to target of one curve.

    Example:
        >>> from hplists import Curve
        >>> from hplists.workloads.spec import Metric
        >>> c = Curve([10, 20], [1.0, 2.0], [0.5, 0.4], {"error_rate": [0.3, 0.2]})
        >>> s = summarize(c, Metric("error_rate", "min"), target=0.25)
        >>> s["best"], s["best_step"], s["target_step"], s["target_seconds"]
        (0.2, 20, 20, 2.0)
    """
    out: dict[str, Any] = {"status": curve.status.value, "message": curve.message,
                           "best": None, "best_step": None, "target_step": None,
                           "target_seconds": None,
                           "seconds": float(curve.seconds[-1]) if len(curve) else None}
    if len(curve) == 0 or metric.name not in curve.metrics:
        return out
    values = curve.metric(metric.name)
    finite = np.isfinite(values)
    if finite.any():
        i = argbest(np.where(finite, values, np.nan), metric.mode)
        out["best"], out["best_step"] = float(values[i]), int(curve.steps[i])
    if target is not None:
        hits = [j for j, v in enumerate(values) if metric.reached(float(v), target)]
        if hits:
            out["target_step"] = int(curve.steps[hits[0]])
            out["target_seconds"] = float(curve.seconds[hits[0]])
    return out


def _run(args: argparse.Namespace) -> int:
    from hplists._check import check_int
    from hplists.lists import get_list
    from hplists.workloads import engine
    from hplists.workloads.registry import get_workload

    workload = get_workload(args.workload)
    named = get_list(args.list_name)
    k = check_int("k", args.k, low=1, high=len(named))
    check_int("seed", args.seed, low=0)
    if args.steps is not None:
        check_int("steps", args.steps, low=1)
    if args.batching is not None:
        from hplists._check import check_choice

        check_choice("batching", args.batching, engine.BATCHINGS)
    points = list(named.points[:k])
    from hplists.study.evaluate import list_rule

    rule = list_rule(named, args.update_rule)
    progress = not args.no_progress and not args.json
    if args.store:
        curves = _run_stored(workload, named.name, points, rule, args, progress)
    else:
        # The engine trains JaxWorkloads (every built-in workload is one); the registry
        # types its entries as the general Workload contract.
        jax_workload = cast("JaxWorkload", workload)
        curves = engine.train(jax_workload, points, args.seed, step_budget=args.steps,
                              update_rule=rule, batching=args.batching, progress=progress)
    target = workload.target if args.steps is None else None
    summaries = [summarize(c, workload.metric, target) for c in curves]
    best = _best(summaries, workload.metric)
    if args.json:
        print(json.dumps({
            "workload": workload.name, "list": named.name, "k": k, "seed": args.seed,
            "metric": workload.metric.name, "mode": workload.metric.mode, "target": target,
            "points": [{"index": i, "point": point_dict(p), **s}
                       for i, (p, s) in enumerate(zip(points, summaries, strict=True))],
            "best_index": best,
        }, indent=2))
        return 0
    return _print_run(workload, named, points, summaries, best, target, args)


def _run_stored(workload: Any, list_name: str, points: list[Any], rule: Any,
                args: argparse.Namespace, progress: bool) -> list[Any]:
    from hplists.curves import Curve, Status
    from hplists.progress import StageBar
    from hplists.store import open_store, point_id
    from hplists.study.evaluate import list_study, train_list
    from hplists.workloads.engine import trial_steps

    study = list_study(list_name, args.update_rule, args.steps, workload.step_budget)
    bar = StageBar(progress)
    with open_store(args.store) as store:
        tick = bar.start(workload.name, sum(trial_steps(p, args.steps or workload.step_budget)
                                            for p in points))
        records = train_list(store, study, workload, points, [args.seed],
                             step_budget=args.steps, update_rule=rule,
                             batching=args.batching, progress=tick)
        bar.stop()
    curves = []
    for p in points:
        r = records.get((point_id(p), args.seed))
        if r is not None and r.curve is not None:
            curves.append(r.curve)
        elif r is not None:
            curves.append(Curve([], [], [], {}, r.status, r.message))
        else:
            curves.append(Curve([], [], [], {}, Status.ERROR, "still running in another process"))
    return curves


def _parse_seeds(text: str) -> int | list[int]:
    from hplists.exceptions import InvalidParameterError

    try:
        parts = [int(x) for x in str(text).split(",")]
    except ValueError:
        raise InvalidParameterError(f"seeds must be a count N or comma-separated seeds such as "
                                    f"0,1,2; got {text!r}") from None
    return parts[0] if "," not in str(text) else parts


def _evaluate(args: argparse.Namespace) -> int:
    from hplists._check import check_choice
    from hplists.study.evaluate import evaluate
    from hplists.workloads import engine
    from hplists.workloads.registry import get_workload

    workload = get_workload(args.workload)
    if args.batching is not None:
        check_choice("batching", args.batching, engine.BATCHINGS)
    result = evaluate(workload, args.list_name, args.k, _parse_seeds(args.seeds),
                      store=args.store, steps=args.steps, target=args.target,
                      update_rule=args.update_rule, batching=args.batching,
                      progress=not args.no_progress and not args.json)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(result)
    return 0


def _best(summaries: list[dict[str, Any]], metric: Any) -> int | None:
    best = None
    for i, s in enumerate(summaries):
        if s["best"] is None:
            continue
        if best is None or metric.better(s["best"], summaries[best]["best"]):
            best = i
    return best


def _print_run(workload: Any, named: Any, points: list[Any], summaries: list[dict[str, Any]],
               best: int | None, target: float | None, args: argparse.Namespace) -> int:
    from rich.table import Table

    from hplists.cli.terminal import console

    con = console()
    m = workload.metric
    title = (f"{workload.name}: first {len(points)} points of {named.name} (seed {args.seed}, "
             f"T={args.steps or workload.step_budget})")
    table = Table(title=title)
    table.add_column("#", justify="right")
    keys = list(point_dict(points[0]))
    short = {"learning_rate": "lr", "beta1": "b1", "beta2": "b2", "weight_decay": "wd",
             "warmup_fraction": "warmup", "dropout_rate": "dropout",
             "label_smoothing": "smooth"}
    shown = [k for k in keys if k != "eps"][:7]
    for k in shown:
        table.add_column(short.get(k, k), justify="right")
    table.add_column("status")
    table.add_column(f"best {m.name} {'↓' if m.mode == 'min' else '↑'}", justify="right")
    table.add_column("at step", justify="right")
    table.add_column("time to target" if target is not None else "target", justify="right")
    table.add_column("s", justify="right")
    for i, (p, s) in enumerate(zip(points, summaries, strict=True)):
        d = point_dict(p)
        if target is None:
            ttt = "no target"
        elif s["target_step"] is None:
            ttt = "missed"
        else:
            ttt = f"step {s['target_step']} ({s['target_seconds']:.1f} s)"
        mark = "*" if i == best else ""
        table.add_row(f"{i}{mark}", *[f"{d[k]:.3g}" for k in shown], s["status"],
                      _fmt(s["best"], ".4f"), _fmt(s["best_step"], "d"), ttt,
                      _fmt(s["seconds"], ".1f"))
    con.print(table)
    for i, s in enumerate(summaries):
        if s["message"]:
            con.print(f"point {i}: {s['message']}")
    if target is not None:
        con.print(f"target {m.name} {'<=' if m.mode == 'min' else '>='} {target:.4g}; "
                      f"{sum(s['target_step'] is not None for s in summaries)} of "
                      f"{len(points)} points reached it")
    if best is None:
        con.print("no point produced a finite validation metric", style="bold red")
        return 1
    con.print(f"best point: #{best} with {m.name} {summaries[best]['best']:.4f}: "
                  f"{json.dumps(point_dict(points[best]))}")
    return 0
