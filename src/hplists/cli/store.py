"""``hplists store info|export|import|retire``: look into a trial store, move trials in and out."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from hplists.cli.grammar import hidden, one_store
from hplists.cli.terminal import Column, Table, add_format, emit
from hplists.exceptions import InvalidParameterError

if TYPE_CHECKING:  # pragma: no cover
    from hplists.store.base import TrialStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("store", help="inspect a trial store, export or import trials",
                       description="Every action takes the store as --store PATH (the form "
                       "`hplists store ACTION PATH` is deprecated).")
    ssub = p.add_subparsers(dest="store_command", metavar="ACTION", required=True,
                            prog="hplists store")

    q = ssub.add_parser("info", help="format, schema and trial counts per study/workload/status")
    _store_arg(q, "the store file")
    add_format(q, json_flag=False, what="the counts")
    q.set_defaults(func=_info)

    q = ssub.add_parser("export", help="write every trial as CSV, JSON or Parquet")
    _store_arg(q, "the store file")
    q.add_argument("--format", default=None, choices=("csv", "json", "parquet"),
                   help="output format (default: from the output file's suffix, else csv)")
    q.add_argument("-o", "--output", required=True, help="output file")
    q.add_argument("--study", help="export only this study")
    q.set_defaults(func=_export)

    q = ssub.add_parser(
        "import", usage="hplists store import [-h] --store PATH [--study STUDY] FILE",
        help="import finished trials from CSV (or Parquet, or an hplists JSON export)",
        description="Imports curves from a long-table CSV: one row per evaluation with columns "
        "study, workload, [workload_version], [seed], hyperparameters (hp.<name> or HParams / "
        "AlgoPerf names), [status], [message], step, [seconds], [train_loss] and metric columns "
        "(metric.<name> or any other name). Idempotent: trials already finished are skipped.",
    )
    q.add_argument("--store", metavar="PATH", help="the store file (created if missing)")
    # FILE, or the deprecated `STORE FILE`
    q.add_argument("files", nargs="+", metavar="FILE", help="a .csv, .parquet or .json file")
    q.add_argument("--study", help="study name for rows without one")
    q.set_defaults(func=_import)

    q = ssub.add_parser(
        "retire",
        help="move a workload's trials of older versions out of a study (nothing is deleted)",
        description="After a workload's definition changed (its version was bumped), moves its "
        "trials of other versions from STUDY to STUDY/retired/WORKLOAD/vOLD, so that the study "
        "can be run again on the current version. Every moved trial gets a 'retire' event.",
    )
    _store_arg(q, "the store file")
    q.add_argument("--study", required=True, action="append",
                   help="study to clean (repeatable)")
    q.add_argument("--workload", required=True, action="append",
                   help="registered workload whose current version stays (repeatable)")
    q.set_defaults(func=_retire)


def _store_arg(q: argparse.ArgumentParser, text: str) -> None:
    q.add_argument("--store", metavar="PATH", help=text + " (required)")
    q.add_argument("positional_store", nargs="?", **hidden(metavar="STORE"))


def _db(args: argparse.Namespace) -> str:
    return one_store(args, f"store {args.store_command}")


def _open(path: str, create: bool = False) -> TrialStore:
    from hplists.store import open_store

    return open_store(path, create=create)


def _info(args: argparse.Namespace) -> int:
    store = _open(_db(args))
    s = store.summary()
    meta = s["meta"]
    head = [f"store: {s['path']}",
            f"format: {meta.get('format')} schema {meta.get('schema_version')}, created "
            f"{meta.get('created_at')} by {meta.get('created_by')}, journal {s['journal_mode']}",
            f"points: {s['points']}  trials: {s['trials']}  evaluations: {s['evaluations']}"]
    statuses = ("complete", "diverged", "error", "running")
    rows = [[study, workload, *(counts.get(k, 0) for k in statuses)]
            for study, per in s["counts"].items() for workload, counts in per.items()]
    table = Table(["study", "workload", *(Column(k, right=True) for k in statuses)], rows,
                  name="counts", plain=True)
    if not rows and args.format == "table":
        emit([], "table", before=[*head, "(no trials)"])
        return 0
    emit(table, args.format, before=head, payload=s)
    return 0


def _export(args: argparse.Namespace) -> int:
    from hplists.store.io import export_trials

    fmt = args.format
    if fmt is None:
        suffix = Path(args.output).suffix.lower().lstrip(".")
        fmt = suffix if suffix in ("csv", "json", "parquet") else "csv"
    from hplists._files import prepare_output

    db = _db(args)
    prepare_output(args.output)
    store = _open(db)
    n = export_trials(store, args.output, fmt, study=args.study)
    print(f"exported {n} trials to {args.output} ({fmt})")
    return 0


def _import(args: argparse.Namespace) -> int:
    from hplists.store.io import import_csv, import_json, import_parquet

    args.positional_store = args.files[0] if len(args.files) == 2 else None
    if len(args.files) > 2 or (args.store and len(args.files) > 1):
        raise InvalidParameterError(f"store import takes one FILE; got {args.files[1:]}")
    args.file = args.files[-1]
    db = one_store(args, "store import")
    suffix = Path(args.file).suffix.lower()
    store = _open(db, create=True)
    store.check()  # a damaged store is refused before anything is written to it
    if suffix == ".json":
        if args.study:
            raise InvalidParameterError("--study applies to CSV and Parquet imports only")
        result = import_json(store, args.file)
    elif suffix == ".parquet":
        result = import_parquet(store, args.file, study=args.study)
    else:
        result = import_csv(store, args.file, study=args.study)
    extra = f", {result.in_flight} in-flight (running) not imported" if result.in_flight else ""
    print(f"imported {result.written} of {result.trials} finished trials from {args.file} "
          f"({result.skipped} already recorded{extra})")
    return 0


def _retire(args: argparse.Namespace) -> int:
    from hplists.workloads.registry import get_workload

    db = _db(args)
    workloads = [get_workload(name) for name in args.workload]  # unknown names fail first
    store = _open(db)
    for study in args.study:
        for w in workloads:
            moved = store.retire(study, w.name, current_version=w.version)
            if not moved:
                print(f"{study} / {w.name}: only version {w.version} (nothing to retire)")
            for to, n in moved.items():
                print(f"{study} / {w.name}: moved {n} trials to {to}")
    return 0
