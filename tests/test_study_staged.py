"""The one Study base (hplists.study.staged) of both papers' studies, and the low-level pieces
they share: the JSON spelling of non-finite numbers and the generated Markdown sections."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import pytest

from helpers.workloads import TinyLine
from hplists import HParams
from hplists.exceptions import InvalidParameterError
from hplists.json_numbers import decode_float, encode_float, jsonable
from hplists.markdown_sections import replace_between, splice_section, update_file
from hplists.store import open_store
from hplists.study.lrfree import LrFreeStudy
from hplists.study.staged import StagePlan, StageResult, StageWork, Study, estimate_seconds
from hplists.study.workflow import StudyWorkflow
from hplists.trials import TrainTask

ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class _Config:
    workloads: tuple[str, ...] | None = ("study_line",)
    points: int = 3


class _OneStage(Study):
    """The smallest study: one stage of known points on one tiny workload."""

    name = "one-stage"
    stages = ("sample", "nothing")
    default_store = "one.db"
    config_class = _Config

    @property
    def workloads(self):
        return [TinyLine()]

    def stage_work(self, stage):
        if stage == "nothing":
            return None
        pts = tuple(HParams(10 ** -(2 + i / 2), 0.9, 0.99) for i in range(self.config.points))
        return StageWork(stage, (TrainTask("one/sample", TinyLine(), 0, pts,
                                           tuple(range(len(pts)))),))

    def manifest(self):
        return {"workflow": self.name, "studies": {"sample": "one/sample"}}

    def export_lists(self, output=None, *, overwrite=False):
        return []


def test_both_studies_are_the_one_base():
    for cls, name in ((StudyWorkflow, "paper001"), (LrFreeStudy, "lrfree")):
        assert issubclass(cls, Study) and cls.name == name and cls.stages
        assert cls.default_store.startswith("stores/")
    from hplists.study import lrfree, workflow

    assert workflow.StagePlan is lrfree.StagePlan is StagePlan
    assert workflow.StageResult is lrfree.StageResult is StageResult


def test_a_study_plans_runs_records_its_manifest_and_resumes(tmp_path):
    store = open_store(tmp_path / "s.db")
    study = _OneStage(store, progress=False)
    (plan,) = study.plan()  # the stage that trains nothing has no plan
    assert (plan.stage, plan.studies, plan.trials, plan.done, plan.left) == (
        "sample", ("one/sample",), 3, 0, 3)
    assert plan.steps_left == 3 * TinyLine.step_budget and plan.exact
    seen = []
    results = study.run(callback=seen.append)
    assert seen == results and [r.stage for r in results] == ["sample", "nothing"]
    assert results[0].trained == 3 and results[0].studies == ("one/sample",)
    assert store.manifest("one-stage") == study.manifest()
    again = study.run(["sample"])
    assert again[0].trained == 0 and again[0].already_done == 3
    (plan,) = study.plan(["sample"])
    assert plan.done == 3 and plan.steps_left == 0 and plan.seconds_left == 0.0
    with pytest.raises(InvalidParameterError, match="stage must be one of"):
        study.plan(["sampel"])


def test_one_time_estimator_for_every_study():
    assert estimate_seconds([("a", 10), ("a", 4), ("b", 0)], {"a": 0.5}) == 7.0
    assert estimate_seconds([("a", 10), ("b", 1)], {"a": 0.5}) is None  # b has no timing
    assert estimate_seconds([], {}) == 0.0


def test_stage_results_add_up():
    total = StageResult.total("x", [StageResult("x", 1, 1, 0, 2, ("b",)),
                                    StageResult("x", 2, 0, 1, 0, ("a", "b"))])
    assert total == StageResult("x", 3, 1, 1, 2, ("a", "b"))


def test_the_lrfree_study_records_a_manifest(tmp_path):
    store = open_store(tmp_path / "l.db")
    st = LrFreeStudy(store)
    m = st.manifest()
    assert m["workflow"] == "lrfree" and m["studies"]["defaults:prodigy"] == \
        "lrfree/defaults/prodigy"
    assert m["studies"]["candidates:sfadamw_algoperf"] == "lrfree/sfadamw_algoperf/candidates"
    st.record_manifest()
    assert store.manifest("lrfree") == json.loads(json.dumps(m))


# ---------------------------------------------------------------------------- JSON numbers


def test_non_finite_numbers_have_one_spelling_and_old_files_still_read():
    assert [encode_float(x) for x in (math.inf, -math.inf, math.nan, 0.25)] == \
        ["Infinity", "-Infinity", None, 0.25]
    for text, value in (("Infinity", math.inf), ("inf", math.inf), ("+inf", math.inf),
                        ("-Infinity", -math.inf), ("-inf", -math.inf), (1, 1.0)):
        assert decode_float(text) == value
    assert math.isnan(decode_float(None)) and math.isnan(decode_float("nan"))
    with pytest.raises(InvalidParameterError, match="not a number"):
        decode_float("infinite")
    import numpy as np

    assert jsonable({1: (np.float64(np.inf), [math.nan])}) == {"1": ["Infinity", [None]]}
    json.dumps(jsonable({"x": math.inf}), allow_nan=False)  # strict JSON


def test_the_store_keeps_its_format():
    from hplists.curves import Curve
    from hplists.store.base import curve_from_json, curve_to_json

    c = Curve([1, 2], [0.1, 0.2], [math.nan, 1.0], {"err": [math.inf, -math.inf]})
    d = curve_to_json(c)
    assert d["train_loss"] == [None, 1.0] and d["metrics"]["err"] == ["Infinity", "-Infinity"]
    old = {**d, "metrics": {"err": ["inf", "-inf"]}}  # the older spelling reads the same
    assert curve_from_json(old).metric("err").tolist() == [math.inf, -math.inf]


def test_the_shipped_list_provenance_reads_with_either_spelling():
    from hplists.lists import get_list

    prov = get_list("nadamw-hplists-cpu").provenance
    fractions = {w: decode_float(f) for w, f in prov["step_fractions"].items()}
    assert fractions and all(0 < f <= 1 or f == math.inf for f in fractions.values())


# ---------------------------------------------------------------------------- Markdown sections


def _old_splice_results(text, section, begin, end):
    """report.markdown.splice_results before the one helper, for the comparison."""
    start = text.find(begin)
    if start < 0:
        sep = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n")
                                                             else "\n\n")
        return text + sep + section
    stop = text.find(end, start) + len(end)
    if text[stop:stop + 1] == "\n":
        stop += 1
    return text[:start] + section + text[stop:]


def _old_update_markdown(text, table, start, end):
    """study.workloads_table.update_markdown before the one helper (its regex)."""
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    return pattern.sub(lambda _: f"{start}\n{table}\n{end}", text, count=1)


def test_the_committed_pages_splice_as_before():
    """Every generated section of the committed pages (docs/results.md's Results, Table 4 and
    workloads table, ...) splices as the three helpers before the one did, byte for byte."""
    sections = 0
    for page in sorted((ROOT / "docs").glob("*.md")):
        sections += _splices_as_before(page.read_text())
    assert sections >= 4


def _splices_as_before(text: str) -> int:
    found = 0
    for begin, end in re.findall(r"^(<!-- ([\w-]+):(?:begin|start)[^>]*-->)$", text,
                                 flags=re.MULTILINE):
        stop = f"<!-- {end}:end -->"
        if f"\n{stop}\n" not in text:
            continue
        found += 1
        i = text.index(begin)
        body = text[i + len(begin) + 1:text.index(stop, i) - 1]
        section = text[i:text.index(stop, i) + len(stop)] + "\n"
        new = section.replace(body, body + "\nmore", 1) if body else section
        assert splice_section(text, section, begin, stop) == text  # the same: unchanged
        assert splice_section(text, new, begin, stop) == \
            _old_splice_results(text, new, begin, stop)
        assert replace_between(text, body, begin, stop) == text
        assert replace_between(text, "x", begin, stop) == \
            _old_update_markdown(text, "x", begin, stop)
    return found


def test_sections_are_appended_once_and_broken_markers_named(tmp_path):
    b, e = "<!-- s:begin -->", "<!-- s:end -->"
    for text in ("", "# T\n", "# T\n\n", "# T"):
        once = splice_section(text, f"{b}\nx\n{e}\n", b, e)
        assert once == _old_splice_results(text, f"{b}\nx\n{e}\n", b, e)
        assert splice_section(once, f"{b}\ny\n{e}\n", b, e).count(b) == 1
    with pytest.raises(InvalidParameterError, match="no END marker"):
        splice_section(f"{b}\nbroken", f"{b}\nx\n{e}\n", b, e)
    path = tmp_path / "page.md"
    path.write_text(f"a\n{b}\nold\n{e}\nb\n")
    assert update_file(path, "new", b, e) and not update_file(path, "new", b, e)
    assert path.read_text() == f"a\n{b}\nnew\n{e}\nb\n"
    path.write_text("no markers\n")
    with pytest.raises(InvalidParameterError, match="has no <!-- s:begin -->"):
        update_file(path, "new", b, e)


def test_the_report_layer_writes_each_studys_report(tmp_path):
    """A study's report comes from the layer above the studies, by the study's name."""
    from hplists.report.studies import write_study_report
    from hplists.report.synthetic import write_synthetic_store
    from hplists.study.workflow import StudyConfig

    specs = write_synthetic_store(tmp_path / "s.db", num_points=20, workloads=3, num_evals=8,
                                  seeds=2)
    study = StudyWorkflow(open_store(tmp_path / "s.db", create=False),
                          StudyConfig(workloads=tuple(specs)[:3], points=20), specs=specs)
    written = write_study_report(study, tmp_path / "out", command="cmd")
    assert str(tmp_path / "out" / "tables" / "table5.csv") in written
    assert all(Path(p).is_file() for p in written)
    assert "cmd" in (tmp_path / "out" / "report.md").read_text()
    with pytest.raises(InvalidParameterError, match="no report for study 'one-stage'"):
        write_study_report(_OneStage(None), tmp_path / "x", command="cmd")
