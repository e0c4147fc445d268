"""The report written from hostile names: no file outside the output directory, no HTML
from a name in the Markdown, no spreadsheet formula in the CSV."""

from __future__ import annotations

import csv
import dataclasses

import pytest

from hplists.report import write_report
from hplists.report.csv import table_csv
from hplists.report.figures import file_stem
from hplists.report.markdown import table_markdown
from hplists.report.synthetic import synthetic_study
from hplists.report.tables import Table
from hplists.store import open_store

TRAVERSAL = "x/../../../escaped"
SCRIPT = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://example.com","x")'


@pytest.fixture(scope="module")
def hostile():
    records, specs = synthetic_study(num_points=20, workloads=3, baselines=False, reruns=True,
                                     variants=False, seeds=1, k=2)
    names = dict(zip(sorted(specs), (TRAVERSAL, SCRIPT, FORMULA), strict=True))
    records = [dataclasses.replace(r, workload=names[r.workload]) for r in records]
    specs = {names[w]: dataclasses.replace(s, name=names[w]) for w, s in specs.items()}
    return records, specs


@pytest.fixture(scope="module")
def written(hostile, tmp_path_factory):
    records, specs = hostile
    root = tmp_path_factory.mktemp("hostile")
    out = root / "a" / "b" / "c" / "out"
    db = tmp_path_factory.mktemp("store") / "hostile.db"
    with open_store(db) as store:  # the names go through the store as they are
        store.put_many(records)
    write_report([db], out, specs=specs, registry=False, k=2, readme=root / "README.md")
    return root, out


def test_file_stem_keeps_plain_names_and_confines_the_rest():
    assert file_stem("image_resnet") == "image_resnet"
    assert file_stem("ogbg-molpcba.v2") == "ogbg-molpcba.v2"
    for bad in (TRAVERSAL, "..", "../x", "/etc/passwd", "a\\b", "", "\x00", SCRIPT):
        stem = file_stem(bad)
        assert stem and "/" not in stem and "\\" not in stem and not stem.startswith(".")
    assert file_stem("a/b") != file_stem("a_b")  # no two names share a file


def test_no_file_is_written_outside_the_output_directory(written):
    root, out = written
    inside = {p.resolve() for p in out.rglob("*")}
    everything = {p.resolve() for p in root.rglob("*") if p.is_file()}
    assert everything - inside == {(root / "README.md").resolve()}
    pngs = sorted(p.name for p in (out / "figures").glob("figure1_*.png"))
    assert len(pngs) == 3 and all(p.parent == out / "figures"
                                  for p in (out / "figures").rglob("*.png"))


def test_markdown_outputs_carry_no_raw_html_from_names(written):
    root, out = written
    for path in (out / "report.md", out / "results.md", root / "README.md"):
        text = path.read_text()
        assert "<script" not in text.lower(), path
        if path.name == "report.md":
            assert "&lt;script>alert(1)&lt;/script>" in text


def test_csv_tables_keep_no_spreadsheet_formula(written):
    _root, out = written
    cells = []
    for path in (out / "tables").glob("*.csv"):
        with path.open(newline="") as f:
            cells += [c for row in csv.reader(f) for c in row]
    assert any(FORMULA in c for c in cells)
    assert not [c for c in cells if c[:1] in ("=", "+", "@")]


def test_markdown_and_csv_of_one_table():
    t = Table("t", "T <b>", "cap & <i>", ("row", SCRIPT), ("text", "text"),
              ((FORMULA, "-1"), ("+x", "@y")), notes=("<img src=x onerror=alert(1)>",))
    md = table_markdown(t)
    assert "<b>" not in md and "<i>" not in md and "<img" not in md and "<script" not in md
    rows = list(csv.reader(table_csv(t).splitlines()))
    assert rows[1] == ["'" + FORMULA, "'-1"] and rows[2] == ["'+x", "'@y"]
