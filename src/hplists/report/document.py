"""The report as one document: its tables and figures in order, with provenance.

:func:`build` runs every table and figure function on an
:class:`~hplists.report.analysis.Analysis`; the renderers
(:mod:`~hplists.report.html`, :mod:`~hplists.report.markdown`,
:mod:`~hplists.report.csv`) turn the :class:`Report` into files, and
:func:`write_report` writes them all.

Example:
    >>> import os, tempfile
    >>> from hplists.report.synthetic import write_synthetic_store
    >>> d = tempfile.mkdtemp(); db = os.path.join(d, "s.db")
    >>> specs = write_synthetic_store(db, num_points=24, workloads=3, seeds=2)
    >>> report = write_report([db], os.path.join(d, "out"), specs=specs, registry=False)
    >>> sorted(os.listdir(os.path.join(d, "out")))
    ['figures', 'report.html', 'report.md', 'results.md', 'tables']
"""

from __future__ import annotations

import dataclasses
import datetime
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hplists._files import atomic_write
from hplists._version import __version__
from hplists.exceptions import InvalidParameterError
from hplists.report.analysis import Analysis
from hplists.report.figures import Figure, all_figures, file_stem
from hplists.report.studies import DEFAULT_STUDIES, StudyNames
from hplists.report.tables import Table, all_tables
from hplists.scoring.workload_specs import WorkloadSpec

__all__ = ["Report", "build", "write_report"]

Item = Table | Figure


@dataclasses.dataclass(frozen=True)
class Report:
    """Everything the report shows, ready to render.

    Attributes:
        title: the report's title.
        items: tables and figures, in order.
        notes: data notes (left-out trials, missing specs, duplicates).
        provenance: how and from what the report was made (key -> text).
    """

    title: str
    items: tuple[Item, ...]
    notes: tuple[str, ...]
    provenance: dict[str, str]

    @property
    def tables(self) -> list[Table]:
        return [i for i in self.items if isinstance(i, Table)]

    @property
    def figures(self) -> list[Figure]:
        return [i for i in self.items if isinstance(i, Figure)]

    def table(self, key: str) -> Table:
        """The table with ``key``; a clear error for an unknown key."""
        for t in self.tables:
            if t.key == key:
                return t
        raise InvalidParameterError(f"unknown table {key!r}; tables are {[t.key for t in self.tables]}")


# Where each figure goes: after the table with this key.
_PLACE = {"figure1": "appendix_b", "profiles": "table5", "figure2": "figure2_data"}


def build(a: Analysis, *, svg: bool = False, command: str | None = None) -> Report:
    """The :class:`Report` of an analysis: every table and figure, in the paper's order."""
    tables = all_tables(a)
    figures = all_figures(a, svg=svg)
    items: list[Item] = []
    for t in tables:
        placed = [f for f in figures if _PLACE.get(f.key.split("_")[0]) == t.key]
        if t.key == "figure2_data":  # the figure before its data
            items += [*placed, t]
        else:
            items += [t, *placed]
    s = a.studies
    provenance = {
        "generated": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "hplists": __version__,
        "stores": "; ".join(f"{src['path']} ({src['trials']} trials)" for src in a.sources)
        or "(records given directly)",
        "studies": f"broad = {s.broad!r}, reruns = {s.reruns_study!r}, variants = "
        f"{s.variants_study!r}; baselines: "
        + ", ".join(f"{b.key} = {b.study!r}" for b in s.baselines),
        "settings": f"k = {a.k}, tau = {a.tau:g}, list sizes 1..{a.max_k}, bands: opda "
        f"{a.bands} at {a.confidence:.0%}",
    }
    if command:
        provenance["command"] = command
    return Report("hplists: paper 001 reproduced on the built-in workloads", tuple(items),
                  tuple(a.notes), provenance)




def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data)


def write_report(
    stores: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    specs: Mapping[str, WorkloadSpec] | None = None,
    registry: bool = True,
    studies: StudyNames = DEFAULT_STUDIES,
    svg: bool = False,
    readme: str | os.PathLike[str] | None = None,
    command: str | None = None,
    **analysis: Any,
) -> Report:
    """Reads the stores and writes the whole report into ``out_dir``.

    No curve is read: the stores reduce each trial to its time to target and
    best value (:meth:`Analysis.from_stores`), which is all the tables and
    figures need, so memory grows with the trials, not with their evaluations.

    Writes ``report.html`` (self-contained), ``report.md``, ``results.md`` (the
    README's "Results" section), ``tables/<key>.csv`` and
    ``figures/<key>.png`` (and ``.svg`` if ``svg``). With ``readme``, also
    replaces the Results section of that file (see
    :func:`hplists.report.markdown.splice_results`).

    Args:
        stores: trial store files (their trials are merged).
        out_dir: the output directory (created if needed; files are replaced).
        specs: workload specs; workloads not covered come from the registry
            if ``registry``.
        studies: which study holds what.
        svg: also write SVG figures.
        readme: a Markdown file whose Results section to replace.
        command: the command line, recorded in the provenance.
        **analysis: passed to :class:`~hplists.report.analysis.Analysis`
            (``k``, ``tau``, ``bands``, ...).
    """
    from hplists.report import csv as csv_out
    from hplists.report import html, markdown

    a = Analysis.from_stores(list(stores), specs, studies=studies, registry=registry,
                             **analysis)
    report = build(a, svg=svg, command=command)
    out = Path(out_dir)
    for t in report.tables:
        _atomic_write(out / "tables" / f"{file_stem(t.key)}.csv", csv_out.table_csv(t).encode())
    for f in report.figures:  # keys made from user names are sanitised: no path leaves out_dir
        if f.png:
            _atomic_write(out / "figures" / f"{file_stem(f.key)}.png", f.png)
        if f.svg:
            _atomic_write(out / "figures" / f"{file_stem(f.key)}.svg", f.svg)
    _atomic_write(out / "report.md", markdown.report_markdown(report).encode())
    results = markdown.results_section(
        report, *([] if readme is None else [Path(readme).as_posix()]))
    _atomic_write(out / "results.md", results.encode())
    _atomic_write(out / "report.html", html.report_html(report).encode())
    if readme is not None:
        path = Path(readme)
        text = path.read_text() if path.exists() else ""
        _atomic_write(path, markdown.splice_results(text, results).encode())
    return report
