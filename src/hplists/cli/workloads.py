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

from hplists.cli.grammar import deprecated, hidden
from hplists.cli.terminal import FORMATS, Cell, Column, Table, add_format, emit
from hplists.hparams import point_dict
from hplists.metric import argbest
from hplists.workloads.timings import current_timings, load_timings

if TYPE_CHECKING:
    from hplists.workloads.contract import JaxWorkload


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("workloads", help="the workload library: metric, target, budget, s/trial",
                       description="Every registered workload (base workloads, then variants) "
                       "with its validation metric and direction, target, step budget T, batch "
                       "size, batching strategy and the measured seconds per trial.")
    add_format(p, what="the workloads")
    p.set_defaults(func=_workloads)

    r = sub.add_parser(
        "run", help="train the first K points of a list on a workload; report the best",
        description="Trains the first K points of a hyperparameter list on a workload (with a "
        "progress bar) and prints, per point, its status, best validation metric and, when the "
        "workload has a target, the time to reach it; then the best point. Points are numbered "
        "from 1, in list order (# in the table; JSON also keeps the 0-based index). With "
        "--store, trials go to a trial store (study run/<list>) and finished ones are not "
        "trained again.")
    _list_on_workload_args(r, store="a trial store to record trials in and reuse",
                           steps="step budget (default: the list's, the workload's T times "
                           "its budget_factor: 3 T for a learning-rate-free list)")
    r.add_argument("--seeds", default=None, metavar="S",
                   help="the training seed: run trains one seed S (default 0; `hplists "
                   "evaluate --seeds` trains several)")
    r.add_argument("--seed", type=int, default=None, dest="old_seed",
                   **hidden(metavar="S"))  # the name before --seeds (deprecated)
    r.set_defaults(func=_run)

    e = sub.add_parser(
        "evaluate", help="score a list's first K points on a workload, per seed (t/T, hits)",
        description="Trains the first K points of a list on a workload for each seed and "
        "prints, per seed, the list's step fraction t/T (its best point's time to target over "
        "the budget, as paper 001's cost counts it), how many trials in list order it takes "
        "to hit the target, and the best validation metric and its point (numbered from 1, in "
        "list order); then the hit rate and median t/T. Trials are recorded in study run/<list> of --store (as `hplists run --store` does), "
        "so a killed evaluation resumes.")
    _list_on_workload_args(
        e, store="a trial store to record trials in and reuse (default: a temporary one)",
        steps="step budget (default: the list's, the workload's T times its budget_factor: "
        "3 T for a learning-rate-free list); t/T is against it")
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
    p.add_argument("--store", default=None, metavar="PATH", help=store)
    p.add_argument("--steps", type=int, default=None, help=steps)
    p.add_argument("--batching", default=None,
                   help="vmap, sequential, processes or processes/vmap (default: the workload's)")
    p.add_argument("--update-rule", default=None, metavar="NAME|MODULE:FUNCTION",
                   help="update rule for the list's points (default: the list's own)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_format(p, what="the results")


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
    arrow = {"min": "↓", "max": "↑"}
    name_width = max(len(r["name"]) + 2 for r in rows)
    metric_width = max(len(r["metric"]) + 2 for r in rows)
    # Every column but the task keeps its width; the task shrinks on narrow terminals.
    table = Table(
        [Column("name", options={"no_wrap": True, "min_width": name_width}),
         Column("base", formats=("csv",)),
         Column("task", options={"overflow": "ellipsis", "no_wrap": True, "min_width": 12,
                                 "max_width": 48}),
         Column("metric", options={"no_wrap": True, "min_width": metric_width}),
         Column("mode", formats=("csv",)),
         Column("target", right=True, text=lambda x: _fmt(x, ".4g"),
                options={"no_wrap": True, "min_width": 8}),
         Column("T", key="step_budget", right=True, options={"no_wrap": True, "min_width": 5}),
         Column("batch", key="batch_size", right=True,
                options={"no_wrap": True, "min_width": 5}),
         Column("batching", options={"no_wrap": True, "min_width": 10}),
         Column("s/trial", key="seconds_per_trial", right=True, text=lambda x: _fmt(x, ".2f"),
                options={"no_wrap": True, "min_width": 7}),
         Column("CPU-s/trial", key="cpu_seconds_per_trial", right=True,
                text=lambda x: _fmt(x, ".2f"), options={"no_wrap": True, "min_width": 11})],
        [[Cell(r["name"] if r["base"] is None else f"  {r['name']}", r["name"]), r["base"],
          r["task"], Cell(f"{r['metric']} {arrow[r['mode']]}", r["metric"]), r["mode"],
          r["target"], r["step_budget"], r["batch_size"],
          r["batching"], r["seconds_per_trial"], r["cpu_seconds_per_trial"]] for r in rows],
        title="hplists workloads", name="workloads")
    machine = timings.get("machine")
    if machine:
        note = (f"s/trial: wall-clock seconds per trial amortized over a batch, measured "
                f"by benchmarks/workloads.py on {machine.get('cpu', '?')} "
                f"({machine.get('cores', '?')} cores) on {timings.get('date', '?')}; "
                "↓ lower is better, ↑ higher is better.")
    else:
        note = "s/trial: not measured yet (run benchmarks/workloads.py)."
    emit(table, args.format, after=[note],
         payload={"workloads": rows, "timings_machine": timings.get("machine")})
    return 0


# ---------------------------------------------------------------------------- run


def summarize(curve: Any, metric: Any, target: float | None) -> dict[str, Any]:
    """Best metric (and its step) and time to target of one curve.

    The time to target is the curve's first hit
    (:func:`hplists.scoring.time_to_target.first_hit_of`): its step and seconds.
    Non-finite values never reach the target; they are shown, not judged (scoring
    refuses one in a run not marked diverged, this table does not).

    Example:
        >>> from hplists import Curve
        >>> from hplists.workloads.contract import Metric
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
        from hplists.scoring.time_to_target import first_hit_of

        hit = first_hit_of(curve, metric.name, target, metric.mode, diverged=True)
        if hit.reached:
            out["target_step"], out["target_seconds"] = hit.step, hit.seconds
    return out


def _run(args: argparse.Namespace) -> int:
    from hplists._check import check_int
    from hplists.lists import get_list
    from hplists.workloads import engine
    from hplists.workloads.registry import get_workload

    args.seed = _run_seed(args)
    workload = get_workload(args.workload)
    named = get_list(args.list_name)
    k = check_int("k", args.k, low=1, high=len(named))
    check_int("seeds", args.seed, low=0)
    if args.steps is not None:
        check_int("steps", args.steps, low=1)
    if args.batching is not None:
        from hplists._check import check_choice

        check_choice("batching", args.batching, engine.BATCHINGS)
    points = list(named.points[:k])
    from hplists.study.evaluate import list_rule

    rule = list_rule(named, args.update_rule)
    progress = not args.no_progress and args.format == "table"
    # A list's points were chosen for its own budget (3 T for the learning-rate-free lists).
    budget = args.steps if args.steps is not None else named.budget(workload.step_budget)
    if args.store:
        curves = _run_stored(workload, named, points, rule, args, budget, progress)
    else:
        # The engine trains JaxWorkloads (every built-in workload is one); the registry
        # types its entries as the general Workload contract.
        jax_workload = cast("JaxWorkload", workload)
        curves = engine.train(jax_workload, points, args.seed,
                              step_budget=budget,
                              update_rule=rule, batching=args.batching, progress=progress)
    target = workload.target if args.steps is None else None
    summaries = [summarize(c, workload.metric, target) for c in curves]
    best = _best(summaries, workload.metric)
    if args.format == "json":  # index: 0-based, as before; number: the 1-based # printed
        print(json.dumps({
            "workload": workload.name, "list": named.name, "k": k, "seed": args.seed,
            "step_budget": budget,
            "metric": workload.metric.name, "mode": workload.metric.mode, "target": target,
            "points": [{"index": i, "number": i + 1, "point": point_dict(p), **s}
                       for i, (p, s) in enumerate(zip(points, summaries, strict=True))],
            "best_index": best, "best_number": None if best is None else best + 1,
        }, indent=2))
        return 0
    return _print_run(workload, named, points, summaries, best, target, args)


def _run_seed(args: argparse.Namespace) -> int:
    """The one seed of ``hplists run``: ``--seeds S``, or the deprecated ``--seed S``."""
    from hplists.exceptions import InvalidParameterError

    if args.old_seed is not None:
        deprecated("run", "--seed", "--seeds S")
        if args.seeds is not None:
            raise InvalidParameterError("give the seed once: --seeds S")
        return int(args.old_seed)
    if args.seeds is None:
        return 0
    seeds = _parse_seeds(args.seeds)
    if isinstance(seeds, list):
        raise InvalidParameterError(f"run trains one seed: --seeds S, got {args.seeds!r} "
                                    "(`hplists evaluate --seeds S,S,...` trains several)")
    return seeds


def _run_stored(workload: Any, named: Any, points: list[Any], rule: Any,
                args: argparse.Namespace, budget: int, progress: bool) -> list[Any]:
    from hplists.curves import Curve, Status
    from hplists.progress import StageBar
    from hplists.store import open_store, point_id
    from hplists.study.evaluate import list_study, train_list
    from hplists.workloads.engine import trial_steps

    study = list_study(named.name, args.update_rule, args.steps,
                       named.budget(workload.step_budget))
    bar = StageBar(progress)
    with open_store(args.store) as store:
        tick = bar.start(workload.name, sum(trial_steps(p, budget) for p in points))
        records = train_list(store, study, workload, points, [args.seed],
                             step_budget=budget,
                             update_rule=rule, batching=args.batching, progress=tick)
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
                      progress=not args.no_progress and args.format == "table")
    _print_evaluation(result, args.format)
    return 0


def _print_evaluation(result: Any, fmt: str) -> None:
    """Per seed: t/T, trials to hit, the best metric and its point (numbered from 1)."""
    m = result.metric
    payload = result.to_dict()
    for seed, s in zip(payload["seeds"], result.seeds, strict=True):  # best_index stays 0-based
        seed["best_number"] = None if s.best_index is None else s.best_index + 1
    table = Table(
        [Column("seed", right=True),
         Column("t/T", key="fraction", right=True, text=_fraction),
         Column("trials to hit", key="trials_to_hit", right=True),
         Column(f"best {m.name}", key="best", right=True, text=lambda x: f"{x:.4g}"),
         Column("best point", key="best_number", right=True, text=lambda n: f"#{n}")],
        [[s.seed, s.fraction, Cell("missed", None) if s.trials_to_hit is None
          else s.trials_to_hit, s.best, None if s.best_index is None else s.best_index + 1]
         for s in result.seeds],
        title=f"{result.list_name} on {result.workload}, first {result.k} points: target "
        f"{m.name} {'<=' if m.mode == 'min' else '>='} {result.target:.4g} within "
        f"{result.budget_text}", name="seeds")
    emit(table, fmt, payload=payload,
         after=[f"hit on {result.hit_rate:.0%} of {len(result.seeds)} seeds; median t/T "
                f"{_fraction(result.median_fraction)}; points are numbered from 1 in list "
                "order"])


def _fraction(x: float) -> str:
    return f"{x:.3f}" if math.isfinite(x) else "inf (missed)"


def _budget_text(named: Any, workload: Any, steps: int | None) -> str:
    from hplists.study.evaluate import budget_text

    if steps is not None:
        return budget_text(steps)
    return budget_text(named.budget(workload.step_budget), named.budget_factor)


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
    m = workload.metric
    keys = list(point_dict(points[0]))
    short = {"learning_rate": "lr", "beta1": "b1", "beta2": "b2", "weight_decay": "wd",
             "warmup_fraction": "warmup", "dropout_rate": "dropout",
             "label_smoothing": "smooth"}
    shown = [k for k in keys if k != "eps"][:7]
    columns = [Column("#", key="point", right=True)]
    columns += [Column(short.get(k, k), key=k, right=True, text=lambda x: f"{x:.3g}",
                       formats=FORMATS if k in shown else ("csv",)) for k in keys]
    columns += [Column("status"),
                Column(f"best {m.name} {'↓' if m.mode == 'min' else '↑'}", key="best",
                       right=True, text=lambda x: _fmt(x, ".4f")),
                Column("at step", key="best_step", right=True),
                Column("time to target" if target is not None else "target",
                       key="target_step", right=True),
                Column("target seconds", key="target_seconds", formats=("csv",)),
                Column("s", key="seconds", right=True, text=lambda x: _fmt(x, ".1f"))]
    rows = []
    for i, (p, s) in enumerate(zip(points, summaries, strict=True)):
        d = point_dict(p)
        if target is None:
            ttt = Cell("no target", None)
        elif s["target_step"] is None:
            ttt = Cell("missed", None)
        else:
            ttt = Cell(f"step {s['target_step']} ({s['target_seconds']:.1f} s)",
                       s["target_step"])
        rows.append([Cell(f"{i + 1}{'*' if i == best else ''}", i + 1),
                     *(d.get(k) for k in keys), s["status"], s["best"], s["best_step"], ttt,
                     s["target_seconds"], s["seconds"]])
    table = Table(columns, rows, name="points",
                  title=f"{workload.name}: first {len(points)} points of {named.name} (seed "
                  f"{args.seed}, {_budget_text(named, workload, args.steps)})")
    after = [f"point {i}: {s['message']}" for i, s in enumerate(summaries, 1) if s["message"]]
    if target is not None:
        after.append(f"target {m.name} {'<=' if m.mode == 'min' else '>='} {target:.4g}; "
                     f"{sum(s['target_step'] is not None for s in summaries)} of "
                     f"{len(points)} points reached it")
    if best is None:
        after.append("no point produced a finite validation metric")
    else:
        after.append(f"best point: #{best + 1} (*) with {m.name} "
                     f"{summaries[best]['best']:.4f}: {json.dumps(point_dict(points[best]))}")
    emit(table, args.format, after=after)
    return 1 if best is None else 0
