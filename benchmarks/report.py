"""How long `hplists report` takes to regenerate the report from a study of realistic size.

Target: the whole report, from the stores, in under 30 s. The store is
a synthetic study of the real shape (`hplists.report.synthetic`): 200
`nadamw-broad` points x 8 base workloads x 25 evaluations, the list reruns
(5 seeds), the final list on 8 variants, and every baseline of Tables 5 and 6
(about 4,000 trials and 100,000 evaluations).

Measures, side by side in one run:
  * the command end to end in a fresh process (imports included), repeated;
  * the same with SVG figures as well (--svg);
  * one in-process breakdown: reading the store, the analysis, tables, figures, writing.

Usage: .venv/bin/python benchmarks/report.py [--repeats 3] [--store PATH]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 30.0


def _command(store: Path, specs: Path, out: Path, *extra: str) -> float:
    exe = Path(sys.executable).with_name("hplists")
    start = time.perf_counter()
    subprocess.run([str(exe), "report", str(store), "-o", str(out), "--specs", str(specs),
                    *extra], check=True, capture_output=True)
    return time.perf_counter() - start


def _breakdown(store: Path, specs_path: Path, out: Path) -> dict[str, float]:
    from hplists.report import csv as csv_out
    from hplists.report import html, markdown
    from hplists.report.analysis import Analysis, load_records
    from hplists.report.figures import all_figures
    from hplists.report.tables import all_tables
    from hplists.scoring.workload_specs import load_specs

    times = {}
    t = time.perf_counter()
    records, sources, _dup = load_records([store])
    times["read the store"] = time.perf_counter() - t
    t = time.perf_counter()
    a = Analysis(records, load_specs(specs_path), registry=False, sources=sources)
    for part in ("matrix", "loo", "final", "sizes", "sweep", "strategies", "tuning", "rows",
                 "final_row"):
        getattr(a, part)
    times["analysis (lists, LOO, sweeps, exhaustive, tuning curves, rows)"] = (
        time.perf_counter() - t)
    t = time.perf_counter()
    tables = all_tables(a)
    times["tables"] = time.perf_counter() - t
    t = time.perf_counter()
    all_figures(a)
    times["figures (PNG)"] = time.perf_counter() - t
    t = time.perf_counter()
    from hplists.report.document import build

    report = build(a)
    for tb in tables:
        (out / f"{tb.key}.csv").write_text(csv_out.table_csv(tb))
    (out / "report.md").write_text(markdown.report_markdown(report))
    (out / "report.html").write_text(html.report_html(report))
    times["build and render again (tables, figures, HTML, Markdown, CSV)"] = (
        time.perf_counter() - t)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--store", type=Path, help="reuse this synthetic store (made if absent)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        store = args.store or tmp / "study.db"
        specs = Path(f"{store}.specs.json")
        if not store.exists():
            from hplists.report.synthetic import write_synthetic_store

            t = time.perf_counter()
            write_synthetic_store(store)
            print(f"built the synthetic store in {time.perf_counter() - t:.1f} s "
                  f"({store.stat().st_size / 1e6:.1f} MB)")
        from hplists.store import open_store

        s = open_store(store, create=False)
        summary = s.summary()
        s.close()
        print(f"store: {summary['trials']} trials, {summary['evaluations']} evaluations, "
              f"{len(summary['counts'])} studies")
        png, svg = [], []
        for i in range(args.repeats):
            png.append(_command(store, specs, tmp / f"png{i}"))
            svg.append(_command(store, specs, tmp / f"svg{i}", "--svg"))
        for name, xs in (("hplists report (PNG)", png), ("hplists report --svg", svg)):
            med = statistics.median(xs)
            print(f"{name:<28} median {med:6.2f} s  (min {min(xs):.2f}, max {max(xs):.2f}, "
                  f"n={len(xs)})  = {med / TARGET_S:.2f} x the {TARGET_S:.0f} s target")
        print(f"--svg / PNG only: {statistics.median(svg) / statistics.median(png):.2f} x")
        out = tmp / "breakdown"
        out.mkdir()
        print("in-process breakdown (one run):")
        for stage, secs in _breakdown(store, specs, out).items():
            print(f"  {stage:<66} {secs:6.2f} s")


if __name__ == "__main__":
    main()
