"""``hplists store info|export|import|retire``: look into a trial store, move trials in and out."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from hplists.exceptions import InvalidParameterError

if TYPE_CHECKING:  # pragma: no cover
    from hplists.store import SQLiteStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("store", help="inspect a trial store, export or import trials")
    ssub = p.add_subparsers(dest="store_command", metavar="ACTION", required=True)

    q = ssub.add_parser("info", help="format, schema and trial counts per study/workload/status")
    q.add_argument("db", help="the store file")
    q.set_defaults(func=_info)

    q = ssub.add_parser("export", help="write every trial as CSV, JSON or Parquet")
    q.add_argument("db", help="the store file")
    q.add_argument("--format", default=None, choices=("csv", "json", "parquet"),
                   help="output format (default: from the output file's suffix, else csv)")
    q.add_argument("-o", "--output", required=True, help="output file")
    q.add_argument("--study", help="export only this study")
    q.set_defaults(func=_export)

    q = ssub.add_parser(
        "import",
        help="import finished trials from CSV (or Parquet, or an hplists JSON export)",
        description="Imports curves from a long-table CSV: one row per evaluation with columns "
        "study, workload, [workload_version], [seed], hyperparameters (hp.<name> or HParams / "
        "AlgoPerf names), [status], [message], step, [seconds], [train_loss] and metric columns "
        "(metric.<name> or any other name). Idempotent: trials already finished are skipped.",
    )
    q.add_argument("db", help="the store file (created if missing)")
    q.add_argument("file", help="a .csv, .parquet or .json file")
    q.add_argument("--study", help="study name for rows without one")
    q.set_defaults(func=_import)

    q = ssub.add_parser(
        "retire",
        help="move a workload's trials of older versions out of a study (nothing is deleted)",
        description="After a workload's definition changed (its version was bumped), moves its "
        "trials of other versions from STUDY to STUDY/retired/WORKLOAD/vOLD, so that the study "
        "can be run again on the current version. Every moved trial gets a 'retire' event.",
    )
    q.add_argument("db", help="the store file")
    q.add_argument("--study", required=True, action="append",
                   help="study to clean (repeatable)")
    q.add_argument("--workload", required=True, action="append",
                   help="registered workload whose current version stays (repeatable)")
    q.set_defaults(func=_retire)


def _open(path: str, create: bool = False) -> SQLiteStore:
    from hplists.store import open_store

    return open_store(path, create=create)


def _info(args: argparse.Namespace) -> int:
    from hplists.cli.terminal import printable

    store = _open(args.db)
    s = store.summary()
    meta = s["meta"]
    print(f"store: {s['path']}")
    print(f"format: {meta.get('format')} schema {meta.get('schema_version')}, created "
          f"{meta.get('created_at')} by {meta.get('created_by')}, journal {s['journal_mode']}")
    print(f"points: {s['points']}  trials: {s['trials']}  evaluations: {s['evaluations']}")
    if not s["counts"]:
        print("(no trials)")
        return 0
    statuses = ("complete", "diverged", "error", "running")
    rows = [["study", "workload", *statuses]]
    for study, per in s["counts"].items():
        for workload, counts in per.items():
            rows.append([printable(study), printable(workload),
                         *(str(counts.get(k, 0)) for k in statuses)])
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) if j < 2 else c.rjust(w)
                        for j, (c, w) in enumerate(zip(r, widths, strict=True))))
    return 0


def _export(args: argparse.Namespace) -> int:
    from hplists.store.io import export_trials

    fmt = args.format
    if fmt is None:
        suffix = Path(args.output).suffix.lower().lstrip(".")
        fmt = suffix if suffix in ("csv", "json", "parquet") else "csv"
    from hplists._files import prepare_output

    prepare_output(args.output)
    store = _open(args.db)
    n = export_trials(store, args.output, fmt, study=args.study)
    print(f"exported {n} trials to {args.output} ({fmt})")
    return 0


def _import(args: argparse.Namespace) -> int:
    from hplists.store.io import import_csv, import_json, import_parquet

    suffix = Path(args.file).suffix.lower()
    store = _open(args.db, create=True)
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

    workloads = [get_workload(name) for name in args.workload]  # unknown names fail first
    store = _open(args.db)
    for study in args.study:
        for w in workloads:
            moved = store.retire(study, w.name, current_version=w.version)
            if not moved:
                print(f"{study} / {w.name}: only version {w.version} (nothing to retire)")
            for to, n in moved.items():
                print(f"{study} / {w.name}: moved {n} trials to {to}")
    return 0
