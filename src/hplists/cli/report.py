"""``hplists report``: paper 001's tables and figures from trial stores, as HTML, Markdown and CSV."""

from __future__ import annotations

import argparse
import shlex
import time
from pathlib import Path

from hplists.cli.grammar import hidden, store_missing, stores
from hplists.exceptions import InvalidParameterError
from hplists.scoring.cost import DEFAULT_TAU


def register(sub: argparse._SubParsersAction) -> None:
    from hplists.report.studies import DEFAULT_STUDIES
    from hplists.scoring.tuning_curve import BAND_METHODS

    p = sub.add_parser(
        "report", help="write the study's report (HTML, Markdown, CSV, PNG) from trial stores",
        description="Reads one or more trial stores and writes the analogs of paper 001's "
        "tables and figures into DIR: report.html (self-contained: no network needed), "
        "report.md, results.md (the README's Results section), tables/*.csv and "
        "figures/*.png. A table whose data are not in the stores says so instead of failing.",
        epilog="Study keys for --study-name: " + ", ".join(DEFAULT_STUDIES.keys) + ". "
        f"Defaults: broad={DEFAULT_STUDIES.broad}, reruns={DEFAULT_STUDIES.reruns_study}, "
        f"variants={DEFAULT_STUDIES.variants_study}, " + ", ".join(
            f"baseline:{b.key}={b.study}" for b in DEFAULT_STUDIES.baselines) + ".")
    p.add_argument("--store", action="append", default=None, metavar="PATH",
                   help="a trial store (repeatable: --store a.db --store b.db)")
    # `hplists report STORE [STORE ...]`, the form before --store (deprecated).
    p.add_argument("positional_store", nargs="*", **hidden(metavar="STORE"))
    p.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="output directory (created if needed; report files are replaced)")
    p.add_argument("--specs", metavar="FILE",
                   help="workload specs (.json/.toml); default: the workload registry")
    p.add_argument("--study-name", action="append", default=[], metavar="KEY=NAME",
                   help="read experiment KEY from study NAME (repeatable; see below)")
    p.add_argument("--k", type=int, default=5, help="list length (default 5)")
    p.add_argument("--tau", type=float, default=DEFAULT_TAU,
                   help=f"penalty factor of the cost (default {DEFAULT_TAU:g})")
    p.add_argument("--max-k", type=int, default=10,
                   help="largest list size of Figure 2 (default 10)")
    p.add_argument("--bands", default="dkw", choices=BAND_METHODS,
                   help="opda's confidence-band method for Figure 1 (default dkw: analytic; "
                   "ld_equal_tailed is tighter but takes ~15 s per workload)")
    p.add_argument("--svg", action="store_true", help="also write the figures as SVG")
    p.add_argument("--readme", metavar="FILE",
                   help="also replace the Results section of this Markdown file (between the "
                   "hplists-results markers; appended if absent)")
    p.set_defaults(func=_report)


def _overrides(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, name = item.partition("=")
        if not sep or not key.strip() or not name.strip():
            raise InvalidParameterError(f"--study-name must be KEY=NAME, got {item!r}")
        out[key.strip()] = name.strip()
    return out


def _command(args: argparse.Namespace) -> str:
    parts = ["hplists", "report", *(a for s in args.stores for a in ("--store", s)),
             "-o", args.output]
    if args.specs:
        parts += ["--specs", args.specs]
    for item in args.study_name:
        parts += ["--study-name", item]
    parts += ["--k", str(args.k), "--tau", f"{args.tau:g}", "--bands", args.bands]
    return shlex.join(parts)


def _report(args: argparse.Namespace) -> int:
    args.stores = stores(args, "report")
    if not args.stores:
        raise InvalidParameterError("report needs at least one trial store: --store PATH "
                                    "(repeatable)")
    return report_command(args)


def report_command(args: argparse.Namespace) -> int:
    """Writes the report of ``args.stores`` (what ``hplists report`` does once parsed)."""
    from hplists.report.document import write_report
    from hplists.report.studies import DEFAULT_STUDIES
    from hplists.scoring.workload_specs import load_specs

    start = time.perf_counter()
    # The study names the workflow recorded in its store, then the user's overrides.
    studies = DEFAULT_STUDIES.with_overrides({**_manifest_studies(args.stores),
                                              **_overrides(args.study_name)})
    specs = load_specs(args.specs) if args.specs else None
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise InvalidParameterError(f"--output {str(out)!r} exists and is not a directory")
    report = write_report(
        args.stores, out, specs=specs, studies=studies, svg=args.svg, readme=args.readme,
        command=_command(args),
        k=args.k, tau=args.tau, max_k=args.max_k, bands=args.bands)
    missing = [t.key for t in report.tables if t.missing]
    missing += [f.key for f in report.figures if f.missing]
    print(f"wrote {out / 'report.html'}, report.md, results.md, "
          f"{len(report.tables)} tables (tables/*.csv) and "
          f"{sum(bool(f.png) for f in report.figures)} figures (figures/*.png)"
          + (f"; updated {args.readme}" if args.readme else "")
          + f" in {time.perf_counter() - start:.1f} s")
    summary = report.table("summary")
    if not summary.missing:
        for row in summary.records():
            print(f"  {row['claim']}: {row['hplists'] or 'no data'} ({row['verdict']})")
    if missing:
        print("no data for: " + ", ".join(missing) + " (the report says why)")
    return 0


def _manifest_studies(stores: list[str]) -> dict[str, str]:
    """Study names from the first store whose paper-001 study recorded a manifest."""

    from hplists.store import open_store
    from hplists.study.workflow import MANIFEST

    for path in stores:
        if store_missing(path):
            continue
        with open_store(path, create=False) as store:
            m = store.manifest(MANIFEST)
        if m and isinstance(m.get("studies"), dict):
            return {str(k): str(v) for k, v in m["studies"].items()}
    return {}
