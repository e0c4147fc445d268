"""The committed reports are what the committed stores give, on this machine's CPU too.

Both reports (paper 001's, ``report/``; paper 002's, ``report/lrfree/``) and the
results page's sections (``docs/results.md``) are regenerated here from copies of
the committed stores, with the command each section names, and compared with what is
committed (``HEAD``'s files where this is a git checkout, so a study that
fills its store in the working tree meanwhile does not count). Numbers
computed from the stores with numpy's ``log``/``exp`` or
BLAS (costs, expected-best curves, opda bands) can differ in their last bits
on another CPU, so CSV numbers are compared to a relative :data:`RTOL`, far
above that and far below the 4 significant digits the results page prints; every
other cell, and the page's sections, must be equal.
"""

from __future__ import annotations

import csv
import math
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RTOL = 1e-9
RESULTS = "docs/results.md"  # the page the generated sections live in
SECTIONS = {  # marker -> the report folder its command writes
    "hplists-results": "report",
    "lrfree-results": "report/lrfree",
}


def _committed(path: str) -> bytes:
    """``HEAD``'s version of a repository file (the working tree's outside a git checkout)."""
    try:
        return subprocess.run(["git", "-C", str(ROOT), "show", f"HEAD:{path}"],
                              capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return (ROOT / path).read_bytes()


def _section(text: str, marker: str) -> str:
    start = text.index(f"<!-- {marker}:begin")
    return text[start:text.index(f"<!-- {marker}:end -->", start)]


def _command(section: str) -> list[str]:
    """The ``hplists ...`` command a section says it was generated with."""
    found = re.search(r"`hplists ((?:report|study report lrfree|study lrfree) [^`]*stores/[^`]+)`",
                      section)
    assert found, "the section does not name the command that generates it"
    return shlex.split(found.group(1))


def _cell_equal(a: str, b: str) -> bool:
    try:
        x, y = float(a), float(b)
    except ValueError:
        return a == b
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return x == y or math.isclose(x, y, rel_tol=RTOL, abs_tol=0.0)


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    """A scratch copy of the repository's layout, with both reports regenerated in it."""
    tmp = tmp_path_factory.mktemp("repo")
    (tmp / "stores").mkdir()
    for f in (ROOT / "stores").iterdir():
        if f.name.endswith((".db", ".json")):  # committed stores are checkpointed (no -wal)
            (tmp / "stores" / f.name).write_bytes(_committed(f"stores/{f.name}"))
    readme = _committed(RESULTS).decode()
    (tmp / RESULTS).parent.mkdir(parents=True, exist_ok=True)
    (tmp / RESULTS).write_text(readme)
    # A fresh process: other test modules register tiny workloads in this one.
    for marker in SECTIONS:
        subprocess.run([sys.executable, "-c", "import sys; from hplists.cli.main import main; "
                        "sys.exit(main(sys.argv[1:]))", *_command(_section(readme, marker))],
                       cwd=tmp, check=True, capture_output=True)
    return tmp


@pytest.mark.slow
@pytest.mark.parametrize("marker", sorted(SECTIONS))
def test_results_sections_are_what_their_commands_give(regenerated, marker):
    assert _section((regenerated / RESULTS).read_text(), marker) == \
        _section(_committed(RESULTS).decode(), marker)


@pytest.mark.slow
@pytest.mark.parametrize("marker", sorted(SECTIONS))
def test_report_tables_are_the_committed_ones_to_rtol(regenerated, marker):
    committed = sorted((ROOT / SECTIONS[marker] / "tables").glob("*.csv"))
    assert committed
    for path in committed:
        new = regenerated / SECTIONS[marker] / "tables" / path.name
        rel = path.relative_to(ROOT).as_posix()
        a = list(csv.reader(_committed(rel).decode().splitlines()))
        b = list(csv.reader(new.open()))
        assert [len(r) for r in a] == [len(r) for r in b], path.name
        bad = [(i, j, x, y) for i, (ra, rb) in enumerate(zip(a, b, strict=True))
               for j, (x, y) in enumerate(zip(ra, rb, strict=True)) if not _cell_equal(x, y)]
        assert bad == [], f"{path.name}: (row, column, committed, regenerated) {bad[:5]}"
