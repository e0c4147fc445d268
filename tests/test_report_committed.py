"""The committed reports are what the committed stores give, on this machine's CPU too.

Both reports (paper 001's, ``report/``; paper 002's, ``report/lrfree/``) and the
results page's sections (``docs/results.md``) are regenerated here from copies of
the committed stores, with the command each section names, and compared with what is
committed; so are the 8-bit state study's section and its table in the README, once
``stores/state8.db`` is committed (``HEAD``'s files where this is a git checkout, so a study that
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
README = "README.md"
# The 8-bit state study: its section of the results page, its table in the README, its store.
STATE8 = {"state8-results": RESULTS, "state8-summary": README}
STATE8_STORE = "stores/state8.db"


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


def _state8_committed() -> bool:
    """Whether ``HEAD`` (outside a git checkout: the working tree) has the study's store."""
    try:
        subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                       check=True)
    except (OSError, subprocess.CalledProcessError):
        return (ROOT / STATE8_STORE).is_file()
    return subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"HEAD:{STATE8_STORE}"],
                          capture_output=True).returncode == 0


def _command(section: str) -> list[str]:
    """The ``hplists ...`` command a section says it was generated with."""
    found = re.search(r"`hplists ((?:report|study report lrfree|study report state8|study lrfree) "
                      r"[^`]*stores/[^`]+)`", section)
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
    (tmp / README).write_bytes(_committed(README))
    markers = [*SECTIONS, *(["state8-results"] if _state8_committed() else [])]
    # A fresh process: other test modules register tiny workloads in this one.
    for marker in markers:
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


def test_the_state8_sections_are_in_place():
    """The README and the results page hold the 8-bit state study's markers, so its report
    command has somewhere to write (before the study has run too)."""
    for marker, page in STATE8.items():
        text = _committed(page).decode()
        assert text.count(f"<!-- {marker}:begin") == 1 and text.count(f"<!-- {marker}:end -->") == 1


@pytest.mark.slow
@pytest.mark.parametrize("marker", sorted(STATE8))
def test_state8_sections_are_what_their_command_gives(regenerated, marker):
    """Both are written by the command the results page's section names (it names the README
    with --summary); skipped until the study's store is committed."""
    if not _state8_committed():
        pytest.skip(f"{STATE8_STORE} is not committed yet (`hplists study run state8`)")
    page = STATE8[marker]
    assert _section((regenerated / page).read_text(), marker) == \
        _section(_committed(page).decode(), marker)
