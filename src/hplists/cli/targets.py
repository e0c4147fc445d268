"""``hplists targets set|plan|show|calibrate|calibration-table|table``.

* ``targets set``: AlgoPerf's target-setting procedure (:mod:`hplists.study.target_setting`),
  resumable, trials into a store, targets into the targets file.
* ``targets plan``: the trials the procedure needs and how many are finished.
* ``targets show``: the targets file with its provenance, one line per workload.
* ``targets calibrate``: the 200 ``nadamw-broad`` points on the base workloads
  (:mod:`hplists.study.calibration`), resumable.
* ``targets table``: the README's "Workloads" table from committed data.
* ``targets calibration-table``: the calibration table (analog of Table 4 of paper 001);
  ``hplists table4``, its former name, still works with a warning.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from hplists.cli.grammar import prepare_store, store_missing
from hplists.cli.terminal import Cell, Column, Table, add_format, emit
from hplists.exceptions import InvalidParameterError, interrupt_status

DEFAULT_STORE = "stores/targets.db"
# The calibration runs are the broad200 study of `hplists study`: same store by default.
CALIBRATION_STORE = "stores/study.db"


def register(sub: argparse._SubParsersAction) -> None:
    from hplists.study.calibration import CALIBRATION_POINTS, CALIBRATION_STUDY
    from hplists.study.target_setting import MIN_POINTS, MIN_SEEDS

    p = sub.add_parser("targets", help="set validation targets (AlgoPerf procedure), calibrate "
                       "them, show them")
    tsub = p.add_subparsers(dest="targets_command", metavar="ACTION", required=True,
                            prog="hplists targets")

    def procedure_args(q: argparse.ArgumentParser) -> None:
        q.add_argument("--workload", action="append", default=None, metavar="W",
                       help="a workload (repeatable; default: every registered workload, "
                       "base workloads first)")
        q.add_argument("--store", default=DEFAULT_STORE, metavar="PATH",
                       help=f"the trial store (default: {DEFAULT_STORE}; created if missing)")
        q.add_argument("--points", type=int, default=MIN_POINTS,
                       help=f"quasi-random points per algorithm (default {MIN_POINTS}; the "
                       f"procedure needs >= {MIN_POINTS})")
        q.add_argument("--seeds", type=int, default=MIN_SEEDS,
                       help=f"reruns of the best configuration (default {MIN_SEEDS}; the "
                       f"procedure needs >= {MIN_SEEDS})")
        q.add_argument("--targets-file", default=None,
                       help="the targets file (default for set: stores/targets.json; for "
                       "reading, the package's workloads/data/targets.json)")

    q = tsub.add_parser(
        "set", help="run (or resume) the target-setting procedure and write the targets",
        description="AlgoPerf's target-setting procedure scaled to this machine (docs/targets.md): "
        "per workload, NAdamW, AdamW, SGD+Nesterov and heavy-ball (variants: NAdamW and the best "
        "algorithm of the base) each search --points quasi-random points at horizon round(0.75 T); "
        "the best configuration is rerun with --seeds seeds; the target is the median of each "
        "seed's best validation metric. Every trial goes to --store; rerunning skips finished "
        "trials, so the command can be killed and restarted.",
    )
    procedure_args(q)
    q.add_argument("--batching", default=None,
                   help="the engine's batching strategy (default: each workload's)")
    from hplists.cli.study import add_executor_args

    add_executor_args(q)
    q.add_argument("--into-package", action="store_true",
                   help="write into the package's own targets file (maintainers promoting "
                   "targets into a release; default: --targets-file, or stores/targets.json)")
    q.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_format(q, what="the new targets (json: the new entries)")
    q.set_defaults(func=_set)

    q = tsub.add_parser("plan", help="trials the procedure needs per workload, and how many are "
                        "already in the store")
    procedure_args(q)
    add_format(q, json_flag=False, what="the plan")
    q.set_defaults(func=_plan)

    q = tsub.add_parser("show", help="the targets and how they were set")
    q.add_argument("--targets-file", default=None, help="the targets file (default: the package's)")
    add_format(q, what="the targets (json: the targets file)")
    q.set_defaults(func=_show)

    q = tsub.add_parser(
        "calibrate", help=f"train the {CALIBRATION_POINTS} nadamw-broad calibration points "
        "(resumable)",
        description=f"Trains the first {CALIBRATION_POINTS} scrambled-Halton points (seed 0) of "
        f"nadamw-broad with seed 0 for the full budget T on each base workload, into study "
        f"{CALIBRATION_STUDY!r} of --store (the 200-point study of the method reuses them). "
        "Rerunning skips finished trials. `hplists targets calibration-table --store DB` then "
        "prints the table.",
    )
    q.add_argument("--store", default=CALIBRATION_STORE, metavar="PATH",
                   help=f"the trial store (default: {CALIBRATION_STORE}, the store of "
                   "`hplists study`, which reuses these runs; created if missing)")
    q.add_argument("--workload", action="append", default=None, metavar="W",
                   help="a workload (repeatable; default: every registered base workload)")
    q.add_argument("--points", type=int, default=CALIBRATION_POINTS,
                   help=f"points of the sample (default {CALIBRATION_POINTS})")
    q.add_argument("--study", default=CALIBRATION_STUDY,
                   help=f"study name (default {CALIBRATION_STUDY!r})")
    q.add_argument("--batching", default=None,
                   help="the engine's batching strategy (default: each workload's)")
    q.add_argument("--no-progress", action="store_true", help="no progress bar")
    q.set_defaults(func=_calibrate)

    q = tsub.add_parser("table", help="the README's Workloads table (Markdown) from committed data")
    q.add_argument("--store", action="append", default=[], metavar="PATH",
                   help="stores to measure seconds per trial from (repeatable)")
    q.add_argument("--targets-file", default=None, help="the targets file (default: the package's)")
    q.add_argument("--update", metavar="FILE", default=None,
                   help="rewrite the table between the workloads-table markers of FILE")
    q.add_argument("--json", action="store_true", help="print the rows as JSON")
    q.set_defaults(func=_table)

    def calibration_table_args(q: argparse.ArgumentParser) -> None:
        q.add_argument("--store", default=CALIBRATION_STORE, metavar="PATH",
                       help=f"the store with the calibration study (default: {CALIBRATION_STORE})")
        q.add_argument("--study", default=CALIBRATION_STUDY,
                       help=f"the study (default {CALIBRATION_STUDY!r})")
        q.add_argument("--workload", action="append", default=None, metavar="W",
                       help="a workload (repeatable; default: the study's base workloads)")
        q.add_argument("--targets-file", default=None,
                       help="the targets file (default: the package's)")
        q.add_argument("--points", type=int, default=CALIBRATION_POINTS,
                       help=f"points a complete row has (default {CALIBRATION_POINTS})")
        add_format(q, markdown_flag=True, what="the table (md: a Markdown table)")
        q.add_argument("--check", action="store_true",
                       help="exit with status 1 unless every row is complete and inside the band")
        q.add_argument("--update", metavar="FILE", default=None,
                       help="rewrite the Markdown table between the calibration-table markers "
                       "of FILE")

    description = ("For each base workload: how many points of the calibration study reach the "
                   "target within the budget T, how many of those also do on at least one / two "
                   "other workloads, and the fraction, flagged outside [1%, 15%] (the "
                   "calibration band; the analog of paper 001's Table 4, which the study's "
                   "report shows for the whole sample).")
    q = tsub.add_parser(
        "calibration-table", help="points of the calibration sample that reach each target "
        "within T, against the 1%%-15%% band", description=description)
    calibration_table_args(q)
    q.set_defaults(func=_calibration_table)
    # The name this table had before (`hplists table4`): kept, out of the help, with a warning.
    q = sub.add_parser("table4", description=description)
    calibration_table_args(q)
    q.set_defaults(func=_table4_deprecated)


CALIBRATION_TABLE_START = "<!-- calibration-table:start -->"
CALIBRATION_TABLE_END = "<!-- calibration-table:end -->"


def _generated_by(command: list[str]) -> str:
    import shlex

    return f"Generated by `{shlex.join(command)}` from the committed data.\n\n"


def _open(path: str, create: bool = True) -> Any:
    from hplists.store import open_store

    if create:
        prepare_store(path)
    return open_store(path, create=create)


def _config(args: argparse.Namespace) -> Any:
    from hplists.study.target_setting import TargetConfig

    return TargetConfig(points=args.points, seeds=args.seeds,
                        batching=getattr(args, "batching", None))


_WORKLOAD = Column("workload", options={"no_wrap": True})  # names never wrap


def _set(args: argparse.Namespace) -> int:
    from hplists.study.target_setting import MIN_POINTS, MIN_SEEDS, set_targets
    from hplists.trials.pending import TrialsRunningElsewhere

    config = _config(args)
    if config.points < MIN_POINTS or config.seeds < MIN_SEEDS:
        print(f"note: --points {config.points} --seeds {config.seeds} is below the procedure's "
              f"{MIN_POINTS} points and {MIN_SEEDS} seeds; the targets are recorded with "
              "meets_procedure: false", file=sys.stderr)
    store = _open(args.store)
    try:
        from hplists.cli.study import executor_from_args

        executor = executor_from_args(args)
        try:
            results = set_targets(args.workload, store, config, targets_path=_output(args),
                                  progress=not args.no_progress, executor=executor)
        finally:
            if executor is not None:
                executor.close()
    except KeyboardInterrupt as e:
        print(f"interrupted: every finished trial is in {args.store} and every finished target "
              "in the targets file; run the same command again to resume", file=sys.stderr)
        return interrupt_status(e)
    except TrialsRunningElsewhere as e:
        print(f"hplists targets set: {e}", file=sys.stderr)
        return 3
    table = Table(
        [_WORKLOAD, Column("metric"), Column("target", right=True, text=lambda x: f"{x:.6g}"),
         Column("best algorithm", key="best_algorithm"),
         Column("search best", key="search_best", right=True, text=lambda x: f"{x:.6g}"),
         Column("seeds' best", key="seed_best", text=lambda xs: ", ".join(f"{v:.4g}"
                                                                          for v in xs))],
        [[r.workload, Cell(f"{r.metric} ({r.mode})", r.metric), r.target, r.best_algorithm,
          r.best.best, list(r.seed_best)] for r in results],
        title=f"targets (horizon 0.75 T, {config.points} points per algorithm, "
        f"{config.seeds} seeds)", name="targets")
    emit(table, args.format, payload={r.workload: r.to_entry() for r in results})
    return 0


def _plan(args: argparse.Namespace) -> int:
    from hplists.study.target_setting import plan

    store = None if store_missing(args.store) else _open(args.store, create=False)
    rows = plan(args.workload, store, _config(args), targets_path=args.targets_file)
    total, done = sum(r["trials"] for r in rows), sum(r["finished"] for r in rows)
    table = Table(
        [_WORKLOAD, Column("variant of", key="base"),
         Column("algorithms", text=",".join),
         Column("horizon", right=True), Column("step budget", key="step_budget", right=True),
         Column("trials", right=True), Column("finished", right=True)],
        [[r["workload"], r["base"], list(r["algorithms"]), r["horizon"], r["step_budget"],
          r["trials"], r["finished"]] for r in rows],
        title=f"target setting: {args.points} points per algorithm, {args.seeds} seeds",
        caption=f"{total} trials in all, {done} finished ('?': the base's best algorithm, "
        "not known yet; counted as one more algorithm)", name="workloads")
    emit(table, args.format)
    return 0


def _show(args: argparse.Namespace) -> int:
    from hplists.workloads.targets_file import default_path, read_targets

    data = read_targets(args.targets_file)
    if args.format == "json":
        print(json.dumps(data, indent=2))
        return 0
    path = args.targets_file or default_path()
    before = []
    if args.targets_file is None:
        from hplists.study.target_setting import DEFAULT_TARGETS_FILE

        if DEFAULT_TARGETS_FILE.is_file():  # what `targets set` wrote here: say where it is
            before.append(f"(this directory has {DEFAULT_TARGETS_FILE}, written by `hplists "
                          f"targets set`; show it with --targets-file {DEFAULT_TARGETS_FILE})")
    if not data["targets"]:
        emit([], "table", before=[*before, f"no targets in {path} yet (hplists targets set)"])
        return 0
    rows = []
    for name, e in data["targets"].items():
        p = e.get("provenance", {})
        algos = " ".join(f"{a}:{v.get('points')}" for a, v in p.get("algorithms", {}).items())
        rows.append([name, e.get("workload_version"), e["metric"], e["mode"], e["target"],
                     p.get("best", {}).get("algorithm"), algos,
                     len(p.get("seeds", {}).get("seeds", [])), p.get("horizon"),
                     p.get("step_budget"), str(p.get("date", ""))[:10],
                     bool(p.get("meets_procedure"))])
    table = Table(
        [_WORKLOAD, Column("version", right=True), Column("metric"),
         Column("goal", key="mode", text=lambda m: "<=" if m == "min" else ">="),
         Column("target", right=True, text=lambda x: f"{x:.6g}"),
         Column("best", key="best_algorithm"),
         Column("algorithms (points)", key="algorithms"),
         Column("seeds", right=True), Column("horizon", right=True),
         Column("T", key="step_budget", right=True), Column("date"),
         Column("procedure", key="meets_procedure",
                text=lambda ok: "full" if ok else "BELOW the procedure's minimum points/seeds")],
        rows, name="targets")
    emit(table, args.format, before=[*before, f"targets file: {path}"])
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from hplists.study.calibration import run_calibration
    from hplists.trials.pending import TrialsRunningElsewhere

    store = _open(args.store)
    try:
        out = run_calibration(args.workload, store, points=args.points, study=args.study,
                              batching=args.batching, progress=not args.no_progress)
    except KeyboardInterrupt as e:
        print(f"interrupted: every finished trial is in {args.store}; run the same command "
              "again to resume", file=sys.stderr)
        return interrupt_status(e)
    except TrialsRunningElsewhere as e:
        print(f"hplists targets calibrate: {e}", file=sys.stderr)
        return 3
    for name, records in out.items():
        diverged = sum(r.status.value == "diverged" for r in records)
        print(f"{name}: {len(records)} trials in study {args.study!r} ({diverged} diverged)")
    return 0


def _table(args: argparse.Namespace) -> int:
    from hplists.study.workloads_table import to_markdown, update_markdown, workloads_table

    stores = [_open(s, create=False) for s in args.store]
    rows = workloads_table(stores, targets_path=args.targets_file)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    text = to_markdown(rows)
    if args.update:
        command = ["hplists", "targets", "table", *(a for s in args.store for a in ("--store", s))]
        if args.targets_file:
            command += ["--targets-file", args.targets_file]
        changed = update_markdown(args.update, _generated_by([*command, "--update", args.update])
                                  + text)
        print(f"{args.update}: {'updated' if changed else 'already up to date'}")
        return 0
    print(text)
    return 0


def _table4_deprecated(args: argparse.Namespace) -> int:
    from hplists.cli.grammar import deprecated

    deprecated("table4", "`hplists table4`", "`hplists targets calibration-table`")
    return _calibration_table(args)


def _calibration_table(args: argparse.Namespace) -> int:
    from hplists.study.calibration import calibration_table

    table = calibration_table(_open(args.store, create=False), workloads=args.workload,
                              study=args.study,
                   targets=args.targets_file, expected_points=args.points)
    if args.update:
        from hplists.markdown_sections import update_file

        command = ["hplists", "targets", "calibration-table", "--store", args.store,
                   "--study", args.study]
        command += [a for w in args.workload or () for a in ("--workload", w)]
        if args.targets_file:
            command += ["--targets-file", args.targets_file]
        changed = update_file(
            args.update, _generated_by([*command, "--update", args.update]) + table.to_markdown(),
            CALIBRATION_TABLE_START, CALIBRATION_TABLE_END)
        print(f"{args.update}: {'updated' if changed else 'already up to date'}")
    elif args.format == "json":
        print(json.dumps(table.to_json(), indent=2))
    elif args.format == "md":
        print(table.to_markdown())
    else:
        notes = []
        if any(r.errors for r in table.rows):
            notes.append("errors counted as misses: " + ", ".join(
                f"{r.workload} {r.errors}" for r in table.rows if r.errors))
        if any(r.unknown_elsewhere for r in table.rows):
            notes.append("some successes lack trials on other workloads (also-counts may grow)")
        emit(Table(
            [_WORKLOAD, Column("target", right=True),
             Column("metric", formats=("csv",)), Column("mode", formats=("csv",)),
             Column("points", right=True),
             Column("train successfully", key="successes", right=True),
             Column("%", key="fraction", right=True, text=lambda f: f"{100 * f:.1f}"),
             Column("also on >= 1 other", key="also_one", right=True),
             Column("also on >= 2 others", key="also_two", right=True),
             Column("flag", style=lambda f: "green" if f == "ok" else "red")],
            [[r.workload, Cell(f"{r.target:.6g} ({r.metric}, {r.mode})", r.target), r.metric, r.mode,
              r.points, r.successes, r.fraction, r.also_one, r.also_two, table.flag(r)]
             for r in table.rows],
            title=f"Calibration table (analog of paper 001's Table 4): study {table.study!r}, "
                  "success = target reached within T",
            caption="; ".join(notes) or None, name="rows"), args.format)
    return 0 if (table.ok or not args.check) else 1


def _output(args: argparse.Namespace) -> Any:
    """The targets file `targets set` writes: --targets-file, the package's, or the default."""
    from hplists.workloads.targets_file import default_path

    if args.into_package:
        if args.targets_file:
            raise InvalidParameterError("--into-package and --targets-file name two files; "
                                        "give one")
        return default_path()
    return args.targets_file
