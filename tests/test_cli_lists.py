"""``hplists lists / show / export``: readable tables and files AlgoPerf accepts."""

from __future__ import annotations

import collections
import csv
import io
import json
import shutil
from pathlib import Path

import pytest

import hplists
from hplists.cli.lists import LISTS_BEGIN, LISTS_END
from hplists.cli.main import main
from hplists.hparams import HParams
from hplists.lists import NamedList, get_list, register_list, registry


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def algoperf_generate_search(search_space: list[dict]) -> list[tuple]:
    """What AlgoPerf's ``halton.generate_search`` does with a list: one namedtuple per point,
    with the first point's keys (a point with other keys is an error)."""
    assert isinstance(search_space, list) and search_space
    cls = collections.namedtuple("Hyperparameters", list(search_space[0]))
    return [cls(**trial) for trial in search_space]


def test_lists_names_every_list_with_its_description(capsys):
    code, out, _ = run(capsys, "lists", "--format", "csv")
    assert code == 0
    lines = {row["name"]: row["description"] for row in csv.DictReader(io.StringIO(out))}
    assert lines["nadamw-paper"] == get_list("nadamw-paper").description
    assert "nadamw-algoperf-baseline" in lines
    code, out, _ = run(capsys, "lists")  # a table, a line per list
    assert out.splitlines()[0].split() == ["name", "rule", "points", "description"]
    assert any(line.split()[:3] == ["nadamw-paper", "nadamw", "5"] for line in out.splitlines())


def test_the_table_of_shipped_lists_in_docs_use_md_is_current(capsys, tmp_path):
    """docs/use.md's table is `hplists lists --into`'s: a list that ships without it fails."""
    docs = Path(__file__).resolve().parents[1] / "docs" / "use.md"
    copy = tmp_path / "use.md"
    shutil.copyfile(docs, copy)
    code, _, err = run(capsys, "lists", "--into", str(copy))
    assert code == 0 and "already current" in err, (
        "docs/use.md's table of shipped lists is stale: run `hplists lists --into docs/use.md`")
    assert copy.read_text() == docs.read_text()
    section = docs.read_text().split(LISTS_BEGIN)[1].split(LISTS_END)[0]
    assert all(f"| {name} | {get_list(name).optimizer} |" in section
               for name in registry._builtin_names())


def test_lists_into_a_file_without_the_markers_is_one_clear_line(capsys, tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# no table here\n")
    code, _, err = run(capsys, "lists", "--into", str(page))
    assert code == 2 and "shipped-lists:begin" in err and page.read_text() == "# no table here\n"


def test_show_prints_every_digit_of_the_first_k_points(capsys):
    code, out, _ = run(capsys, "show", "nadamw-paper", "--k", "2")
    assert code == 0
    points = get_list("nadamw-paper").points
    for p in points[:2]:
        for value in (p.learning_rate, p.beta1, p.beta2, p.weight_decay):
            assert repr(value) in out
    assert repr(points[2].learning_rate) not in out
    assert "…" not in out  # nothing cut


def test_show_handles_lists_for_other_update_rules(capsys):
    named = NamedList("test-other", "another rule", ({"alpha": 0.5, "gamma": 2.0},),
                      optimizer="other")  # fmt: skip
    register_list(named)
    try:
        code, out, _ = run(capsys, "show", "test-other")
        assert code == 0 and "alpha" in out and "0.5" in out and "'other'" in out
        code, _, err = run(capsys, "export", "test-other", "--format", "algoperf")
        assert code == 2 and "optimizer 'nadamw'" in err
    finally:
        registry._EXTRA.pop("test-other", None)


def test_export_algoperf_reproduces_the_baseline_search_space_byte_for_byte(capsys):
    code, out, _ = run(capsys, "export", "nadamw-algoperf-baseline", "--format", "algoperf")
    assert code == 0
    upstream = get_list("nadamw-algoperf-baseline").provenance["algoperf_points"]
    # The upstream file is json.dumps(points, indent=2) plus a newline.
    assert out == json.dumps(upstream, indent=2) + "\n"


@pytest.mark.parametrize("name", ["nadamw-paper", "nadamw-algoperf-baseline"])
def test_export_algoperf_is_accepted_by_the_external_tuning_parser(capsys, name):
    code, out, _ = run(capsys, "export", name, "--format", "algoperf", "--k", "3")
    assert code == 0
    trials = algoperf_generate_search(json.loads(out))
    assert len(trials) == 3
    for trial, point in zip(trials, get_list(name).points, strict=False):
        # What AlgoPerf's NAdamW baseline reads from each trial.
        assert trial.learning_rate == point.learning_rate
        assert 1.0 - trial.one_minus_beta1 == point.beta1
        assert trial.beta2 == point.beta2
        assert trial.weight_decay == point.weight_decay
        assert trial.warmup_factor == point.warmup_fraction
        assert trial.dropout_rate == point.dropout_rate
        assert trial.label_smoothing == point.label_smoothing
        assert HParams.from_algoperf(trial._asdict()) == point


def test_export_json_round_trips_the_list(capsys):
    code, out, _ = run(capsys, "export", "nadamw-paper", "--format", "json")
    assert code == 0
    assert NamedList.from_dict(json.loads(out)) == get_list("nadamw-paper")


def test_export_to_a_file_never_overwrites_without_force(capsys, tmp_path):
    path = tmp_path / "sub" / "tuning_search_space.json"
    code, _, err = run(capsys, "export", "nadamw-paper", "--format", "algoperf", "-o", str(path))
    assert code == 0 and "wrote 5 points" in err
    assert len(json.loads(path.read_text())) == 5
    path.write_text("recorded data")
    code, _, err = run(capsys, "export", "nadamw-paper", "--format", "json", "-o", str(path))
    assert code == 2 and "exists; pass --force" in err
    assert path.read_text() == "recorded data"
    code, _, _ = run(capsys, "export", "nadamw-paper", "--format", "json", "-o", str(path),
                     "--force")  # fmt: skip
    assert code == 0 and json.loads(path.read_text())["name"] == "nadamw-paper"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("export", "nadamw-paper", "--format", "yaml"),
         "format must be one of 'algoperf', 'json'; got 'yaml'"),
        (("show", "no-such-list"), "unknown list name 'no-such-list'; available lists are"),
        (("export", "no-such-list", "--format", "json"), "unknown list name 'no-such-list'"),
        (("show", "nadamw-paper", "--k", "0"), "k must be an integer in [1, 5]"),
    ],
)  # fmt: skip
def test_bad_input_is_one_clear_line_with_exit_code_2(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_algoperf_export_refuses_points_with_another_eps(capsys):
    point = get_list("nadamw-paper").points[0].replace(eps=1e-6)
    register_list(NamedList("test-eps", "eps 1e-6", (point,)))
    try:
        code, _, err = run(capsys, "export", "test-eps", "--format", "algoperf")
        assert code == 2 and "eps must be 1e-08 for the algoperf format" in err
    finally:
        registry._EXTRA.pop("test-eps", None)


def test_a_built_list_file_is_used_wherever_a_list_name_is(tmp_path, capsys):
    """`hplists build -o l.json` then `hplists run --list l.json` (and get_list, tune, show)."""
    path = tmp_path / "l.json"
    named = get_list("nadamw-paper", k=2)
    path.write_text(json.dumps(named.to_dict()))
    assert get_list(str(path)).points == named.points == hplists.load_list(path).points
    assert get_list(path, k=1).points == named.points[:1]
    assert [t.index for t in hplists.tune(lambda p: 1.0, str(path), mode="max").trials] == [1, 2]
    assert main(["show", str(path)]) == 0
    assert main(["run", "--workload", "ctr_dlrm", "--list", str(path), "--k", "1",
                 "--steps", "4", "--batching", "sequential"]) == 0
    capsys.readouterr()


def test_an_unknown_list_name_suggests_the_closest():
    with pytest.raises(ValueError, match=r"did you mean 'nadamw-paper'\?"):
        get_list("nadamw-papr")
