"""One grammar for every ``hplists`` command: ``--store``, ``study ACTION [STUDY]``, ``--seeds``,
points numbered from 1, grouped ``--help``, ``--format table|csv|json|md`` and the forms kept
for one release (they warn on one line and do what the new form does)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from helpers import workloads as sw
from helpers.workloads import TinyBlobs
from hplists import Curve, HParams
from hplists.cli import main as cli_main
from hplists.cli import study as cli_study
from hplists.cli.main import main
from hplists.cli.terminal import Cell, Column, Table, render
from hplists.store import open_store
from hplists.workloads.registry import register


@register
class GrammarBlobs(TinyBlobs):
    """A tiny registered workload so that run and evaluate train in a second."""

    name = "test_grammar_blobs"
    task = "three Gaussian classes"
    batching = "sequential"


FORMATS = ("table", "csv", "json", "md")


def run(capsys, *argv) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:  # an error of the command line (argparse exits)
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def warned(err: str, command: str, new: str) -> bool:
    """One warning line ``hplists COMMAND: warning: ... is deprecated; use NEW``."""
    lines = [x for x in err.splitlines() if ": warning: " in x]
    return (len(lines) == 1 and lines[0].startswith(f"hplists {command}: warning: ")
            and "is deprecated; use" in lines[0] and new in lines[0])


@pytest.fixture
def db(tmp_path):
    """A store of 6 points on 2 workloads, a specs file for it."""
    path = tmp_path / "s.db"
    store = open_store(path)
    steps = np.arange(1, 11) * 10
    rng = np.random.default_rng(0)
    for i in range(6):
        hp = HParams(float(10 ** rng.uniform(-4, -2)), 0.9, 0.99)
        for w in ("w0", "w1"):
            err = 0.9 * np.exp(-steps / 100 * rng.uniform(0.3, 3.0)) + 0.05
            store.put("s", hp, w, 0, Curve(steps, steps / 100, err, {"error_rate": err}),
                      point_index=i)
    store.close()
    specs = tmp_path / "specs.json"
    specs.write_text(json.dumps({"workloads": {w: {"metric": "error_rate", "mode": "min",
                                                   "target": 0.3, "step_budget": 100}
                                               for w in ("w0", "w1")}}))
    return path, specs


# ---------------------------------------------------------------------------- --store


def test_store_actions_take_store_and_the_positional_form_warns(db, tmp_path, capsys):
    path, _ = db
    code, new, err = run(capsys, "store", "info", "--store", path)
    assert code == 0 and not err and "trials: 12" in new
    code, old, err = run(capsys, "store", "info", path)
    assert code == 0 and old == new
    assert warned(err, "store info", "--store PATH")
    assert err.strip() == ("hplists store info: warning: the positional store is deprecated; "
                           "use --store PATH")
    for form in (("--store", path), (path,)):
        out_csv = tmp_path / f"t{len(form)}.csv"
        code, out, err = run(capsys, "store", "export", *form, "-o", out_csv)
        assert code == 0 and "exported 12 trials" in out and (len(form) == 1) == bool(err)
    code, out, err = run(capsys, "store", "import", "--store", tmp_path / "n.db",
                         tmp_path / "t2.csv")
    assert code == 0 and "imported 12 of 12" in out and not err
    code, out, err = run(capsys, "store", "import", tmp_path / "m.db", tmp_path / "t2.csv")
    assert code == 0 and "imported 12 of 12" in out and warned(err, "store import", "--store")
    code, _, err = run(capsys, "store", "info")
    assert code == 2 and err.strip() == ("hplists store info: error: the trial store is "
                                         "required: --store PATH")


def test_report_takes_repeated_store_and_the_positional_form_warns(monkeypatch, capsys):
    from hplists.cli import report as cli_report

    seen = []
    monkeypatch.setattr(cli_report, "report_command", lambda args: seen.append(args.stores))
    assert run(capsys, "report", "--store", "a.db", "--store", "b.db", "-o", "out")[2] == ""
    code, _, err = run(capsys, "report", "a.db", "b.db", "-o", "out")
    assert code == 0 and warned(err, "report", "--store PATH")
    assert seen == [["a.db", "b.db"], ["a.db", "b.db"]]
    code, _, err = run(capsys, "report", "-o", "out")
    assert code == 2 and "--store PATH" in err and len(err.splitlines()) == 1


def test_the_report_names_its_command_with_store(db, tmp_path, monkeypatch, capsys):
    import hplists.report.document as document

    path, _ = db
    commands = []
    monkeypatch.setattr(document, "write_report",
                        lambda *a, **kw: commands.append(kw["command"]) or _NoReport())
    assert run(capsys, "report", "--store", path, "-o", tmp_path / "r")[0] == 0
    assert commands[0].startswith(f"hplists report --store {path} -o {tmp_path / 'r'}")


class _NoReport:
    tables: tuple = ()
    figures: tuple = ()

    def table(self, key):
        return type("T", (), {"missing": True})()


def test_every_store_option_is_store_path(capsys):
    for argv in (["targets", "calibration-table"], ["build"], ["run"], ["targets", "calibrate"],
                 ["store", "info"],
                 ["report"], ["study", "run"], ["study", "report"]):
        with pytest.raises(SystemExit):
            main([*argv, "--help"])
        assert "--store PATH" in capsys.readouterr().out, argv
    with pytest.raises(SystemExit):
        main(["targets", "calibration-table", "--help"])
    assert "(default: stores/study.db)" in " ".join(capsys.readouterr().out.split())


# ---------------------------------------------------------------------------- study


def _capture(monkeypatch):
    """Replaces every study action by one that records (action, study, options)."""
    seen = []
    for action in cli_study._ACTIONS:
        monkeypatch.setitem(cli_study._ACTIONS, action,
                            lambda args: seen.append(((args.action, args.study), vars(args))) or 0)
    return seen


@pytest.mark.parametrize(("argv", "action", "study"), [
    (["study"], "run", "paper001"),
    (["study", "--stage", "broad"], "run", "paper001"),
    (["study", "--stage", "lists"], "run", "paper001"),
    (["study", "paper001", "--points", "12"], "run", "paper001"),
    (["study", "run", "lrfree", "--points", "64"], "run", "lrfree"),
    (["study", "plan"], "plan", "paper001"),
    (["study", "plan", "--store", "x.db", "lrfree"], "plan", "lrfree"),
    (["study", "--store", "x.db", "plan", "lrfree"], "plan", "lrfree"),
    (["study", "lists", "lrfree"], "lists", "lrfree"),
    (["study", "report", "paper001", "-o", "out"], "report", "paper001"),
    (["study", "export-list", "lrfree", "-o", "out"], "export-list", "lrfree"),
])
def test_study_action_and_study(monkeypatch, capsys, argv, action, study):
    seen = _capture(monkeypatch)
    code, _, err = run(capsys, *argv)
    assert code == 0 and not err
    assert seen[0][0] == (action, study)


@pytest.mark.parametrize(("argv", "action", "new", "extra"), [
    (["study", "lrfree", "--points", "64", "--no-progress"], "run", "study run lrfree",
     {"points": 64, "no_progress": True}),
    (["study", "lrfree", "--plan", "--json"], "plan", "study plan lrfree", {"format": "json"}),
    (["study", "lrfree", "--report", "d", "--readme", "R.md"], "report",
     "study report lrfree -o DIR", {"output": "d", "readme": "R.md"}),
    (["study", "lrfree", "--export-lists", "d"], "export-list",
     "study export-list lrfree -o DIR", {"output": "d"}),
])
def test_the_old_lrfree_forms_warn_and_do_the_new_ones(monkeypatch, capsys, argv, action, new,
                                                     extra):
    seen = _capture(monkeypatch)
    code, _, err = run(capsys, *argv)
    assert code == 0 and warned(err, "study", f"`hplists {new}`")
    (key, options), = seen
    assert key == (action, "lrfree")
    assert {k: options[k] for k in extra} == extra


def test_the_background_command_line_still_runs_lrfree(monkeypatch, capsys):
    """`hplists study lrfree --points 64 --no-progress` is `study run lrfree` with those options."""
    seen = _capture(monkeypatch)
    assert run(capsys, "study", "lrfree", "--points", "64", "--no-progress")[0] == 0
    assert run(capsys, "study", "run", "lrfree", "--points", "64", "--no-progress")[2] == ""
    (_, old), (_, new) = seen
    old.pop("plan"), old.pop("report"), old.pop("export_lists"), old.pop("readme")
    old.pop("format"), old.pop("force"), old.pop("partial")
    assert old == new


def test_study_refuses_paper001_options_for_lrfree_and_bad_words(capsys):
    code, _, err = run(capsys, "study", "plan", "lrfree", "--variants", "none")
    assert code == 2 and "--variants applies to study paper001 only" in err
    code, _, err = run(capsys, "study", "plann")
    assert code == 2 and "did you mean 'plan'?" in err and len(err.splitlines()) == 1
    code, _, err = run(capsys, "study", "plan", "lrfre")
    assert code == 2 and "did you mean 'lrfree'?" in err
    code, _, err = run(capsys, "study", "lrfree", "--plan", "--report", "d")
    assert code == 2 and "give one" in err


def test_plan_lrfree_is_what_the_old_form_printed(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no stores/: plans against an empty store
    args = ["--workloads", "ctr_dlrm,image_resnet", "--stage", "defaults"]
    for fmt in FORMATS:
        code, new, err = run(capsys, "study", "plan", "lrfree", *args, "--format", fmt)
        assert code == 0 and not err
        code, old, err = run(capsys, "study", "lrfree", "--plan", *args, "--format", fmt)
        assert code == 0 and old == new and warned(err, "study", "study plan lrfree")
        _parses(new, fmt)
    assert "hplists study plan lrfree" in run(capsys, "study", "plan", "lrfree", *args)[1]


def test_plan_paper001_prints_each_format(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for fmt in FORMATS:
        code, out, _ = run(capsys, "study", "plan", "--points", "12", "--k", "3",
                           "--format", fmt)
        assert code == 0
        _parses(out, fmt)
    code, out, _ = run(capsys, "study", "plan", "--points", "12", "--k", "3", "--json")
    assert json.loads(out)[0]["stage"] == "broad" and not (tmp_path / "stores").exists()


def test_report_paper001_is_hplists_report_of_the_study_stores(tmp_path, monkeypatch, capsys):
    from hplists.cli import report as cli_report

    monkeypatch.chdir(tmp_path)
    seen = []
    monkeypatch.setattr(cli_report, "report_command", lambda args: seen.append(args) or 0)
    (tmp_path / "stores").mkdir()
    (tmp_path / "stores" / "targets.db").write_bytes(b"")
    assert run(capsys, "study", "report", "-o", "report", "--readme", "README.md")[0] == 0
    args = seen[0]
    # what the README's Results section names: hplists report STUDY TARGETS --k 5 --tau 2 ...
    assert args.stores == ["stores/study.db", "stores/targets.db"]
    assert (args.output, args.k, args.tau, args.bands, args.readme) == (
        "report", 5, 2.0, "dkw", "README.md")
    assert run(capsys, "study", "report", "--store", "a.db", "-o", "r")[0] == 0
    assert seen[1].stores == ["a.db"]
    code, _, err = run(capsys, "study", "report", "-o", "r", "--points", "12")
    assert code == 2 and "--points" in err


def test_the_lrfree_report_records_the_new_command(tmp_path, monkeypatch, capsys):
    from hplists.report import lrfree as lrfree_report

    open_store(tmp_path / "l.db").close()
    commands = []
    monkeypatch.setattr(lrfree_report, "LrFreeResults", lambda study: None)
    monkeypatch.setattr(lrfree_report, "write",
                        lambda results, out, command, readme: commands.append(command) or [])
    assert run(capsys, "study", "report", "lrfree", "--store", tmp_path / "l.db", "-o", "out",
               "--points", "64", "--readme", "README.md")[0] == 0
    assert commands == [f"hplists study report lrfree --store {tmp_path / 'l.db'} -o out "
                        "--points 64 --readme README.md"]


def test_lists_lrfree_without_candidates_says_so_in_each_format(tmp_path, capsys):
    open_store(tmp_path / "l.db").close()
    for fmt in FORMATS:
        code, out, _ = run(capsys, "study", "lists", "lrfree", "--store", tmp_path / "l.db",
                           "--workloads", "ctr_dlrm,image_resnet", "--format", fmt)
        assert code == 0
        _parses(out, fmt)
    assert "no rerun candidate is scored yet" in out


def test_lists_paper001_in_each_format(tiny, tmp_path, capsys):
    """The final and leave-one-out lists of a broad study written into a store directly."""
    from hplists.study.workflow import StudyConfig, StudyWorkflow

    config = StudyConfig(workloads=sw.BASE, points=6, k=2)
    path = tmp_path / "study.db"
    store = open_store(path)
    rng = np.random.default_rng(1)
    steps = np.arange(1, 5) * 10
    for i, p in enumerate(StudyWorkflow(None, config).broad_points()):
        for w in sw.BASE:
            err = np.sort(rng.uniform(0.0, 1.0, 4))[::-1].copy()
            store.put(config.broad_study, p, w, config.train_seed,
                      Curve(steps, steps / 10, err, {"m": err}), point_index=i)
    store.close()
    specs = tmp_path / "specs.json"
    specs.write_text(json.dumps({"workloads": {w: {"metric": "m", "mode": "min",
                                                   "target": 0.3, "step_budget": 40}
                                               for w in sw.BASE}}))
    common = ["study", "lists", "--store", path, "--specs", specs, "--workloads",
              ",".join(sw.BASE), "--points", "6", "--k", "2", "--no-progress"]
    for fmt in FORMATS:
        code, out, _ = run(capsys, *common, "--format", fmt)
        assert code == 0
        _parses(out, fmt)
        if fmt == "csv":
            first = list(csv.reader(io.StringIO(out)))
            assert first[0][:2] == ["point", "sample_index"] and first[1][0] == "1"
    assert set(json.loads(run(capsys, *common, "--json")[1])) >= {"final", "leave_one_out"}


# ---------------------------------------------------------------------------- --seeds, points


def run_json(capsys, *argv):
    code, out, err = run(capsys, "run", "--workload", "test_grammar_blobs", "--json", *argv)
    assert code == 0
    return json.loads(out), err


def test_run_takes_seeds_and_the_old_seed_warns(capsys):
    new, err = run_json(capsys, "--k", "1", "--seeds", "1")
    assert not err and new["seed"] == 1
    old, err = run_json(capsys, "--k", "1", "--seed", "1")
    assert warned(err, "run", "--seeds S")
    assert {k: v for k, v in old.items() if k != "points"} == {
        k: v for k, v in new.items() if k != "points"}
    assert [p["best"] for p in old["points"]] == [p["best"] for p in new["points"]]
    code, _, err = run(capsys, "run", "--workload", "test_grammar_blobs", "--seeds", "0,1")
    assert code == 2 and "run trains one seed" in err and len(err.splitlines()) == 1


def test_run_numbers_points_from_1(capsys):
    out, _ = run_json(capsys, "--k", "3")
    assert [p["number"] for p in out["points"]] == [1, 2, 3]
    assert [p["index"] for p in out["points"]] == [0, 1, 2]  # machines keep the 0-based index
    assert out["best_number"] == out["best_index"] + 1
    code, text, _ = run(capsys, "run", "--workload", "test_grammar_blobs", "--k", "3",
                        "--no-progress", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["point"] for r in rows] == ["1", "2", "3"]
    assert float(rows[0]["learning_rate"]) == out["points"][0]["point"]["learning_rate"]
    code, text, _ = run(capsys, "run", "--workload", "test_grammar_blobs", "--k", "3",
                        "--no-progress")
    assert code == 0 and f"best point: #{out['best_number']} " in text
    assert re.search(rf"│\s+{out['best_number']}\*\s+│", text)
    _parses(run(capsys, "run", "--workload", "test_grammar_blobs", "--k", "2",
                "--no-progress", "--format", "md")[1], "md")


def test_evaluate_numbers_points_from_1(capsys):
    argv = ["evaluate", "--workload", "test_grammar_blobs", "--k", "2", "--seeds", "0,1",
            "--target", "0.6", "--no-progress"]
    code, out, _ = run(capsys, *argv, "--json")
    payload = json.loads(out)
    for s in payload["seeds"]:
        assert s["best_number"] == s["best_index"] + 1
    for fmt in FORMATS:
        code, out, _ = run(capsys, *argv, "--format", fmt)
        assert code == 0
        _parses(out, fmt)
    rows = list(csv.DictReader(io.StringIO(run(capsys, *argv, "--format", "csv")[1])))
    assert [int(r["best_number"]) for r in rows] == [s["best_number"] for s in payload["seeds"]]
    table = run(capsys, *argv)[1]
    assert f"#{payload['seeds'][0]['best_number']}" in table and "numbered from 1" in table


# ---------------------------------------------------------------------------- --help


def test_help_lists_user_and_maintainer_commands_in_two_groups(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    user = out.split("commands:\n", 1)[1].split("\n\n", 1)[0]
    maint = out.split("maintainer commands:\n", 1)[1].split("\n\n", 1)[0]
    names = lambda text: re.findall(r"^  (\S+)\s", text, re.M)  # noqa: E731
    assert names(user) == list(cli_main.USER_COMMANDS)
    assert names(maint) == list(cli_main.MAINTAINER_COMMANDS)
    assert "maintainer flags:" in out and "--into-package" in out
    parser = cli_main.build_parser()
    registered = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    listed = set(cli_main.USER_COMMANDS) | set(cli_main.MAINTAINER_COMMANDS)
    assert registered == listed | set(cli_main.DEPRECATED_COMMANDS)
    for command in listed:  # every command's one-line help is in the listing
        assert f"  {command} " in out
    for argv in (["run", "--help"], ["study", "--help"], ["study", "plan", "--help"],
                 ["store", "info", "--help"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 0
    text = capsys.readouterr().out
    assert "usage: hplists study plan [STUDY]" in text and "numbered from 1" in text


def test_command_line_errors_are_one_line_with_a_suggestion(capsys):
    code, _, err = run(capsys, "worklaods")
    assert code == 2 and len(err.splitlines()) == 1 and "did you mean 'workloads'?" in err


def test_unknown_names_suggest_the_closest(db, capsys):
    path, specs = db
    for argv, hint in ((["sample", "nadamw-brod", "--n", "2"], "nadamw-broad"),
                       (["show", "nadamw-papr"], "nadamw-paper"),
                       (["run", "--workload", "test_grammar_blob"], "test_grammar_blobs"),
                       (["build", "--store", path, "--specs", specs, "--k", "2",
                         "--workloads", "w0,w00"], "w0"),
                       (["score", "--store", path, "--specs", specs, "--studies", "ss"], "s"),
                       (["study", "plan", "--stage", "brod"], "broad")):
        code, _, err = run(capsys, *argv)
        assert code == 2 and f"did you mean {hint!r}?" in err and len(err.splitlines()) == 1


# ---------------------------------------------------------------------------- --format


def _parses(out: str, fmt: str) -> None:
    """``out`` is what ``--format fmt`` promises."""
    if fmt == "json":
        json.loads(out)
    elif fmt == "csv":
        blocks = [b for b in out.split("\n\n") if b.strip()]
        assert blocks
        for block in blocks:
            rows = list(csv.reader(io.StringIO(block)))
            assert rows and all(len(r) == len(rows[0]) for r in rows)
    elif fmt == "md":
        lines = out.splitlines()
        assert any(re.fullmatch(r"\| (-{3}:?)( \| -{3}:?)* \|", x) for x in lines), out
    else:
        assert out.strip()


def test_every_table_command_prints_each_format(db, tmp_path, capsys):
    path, specs = db
    store = ["--store", path, "--specs", specs]
    commands = [
        ["lists"], ["show", "nadamw-paper", "--k", "2"], ["spaces"], ["spaces", "nadamw-broad"],
        ["sample", "nadamw-broad", "--n", "3"], ["store", "info", "--store", path],
        ["build", *store, "--k", "2"], ["loo", *store, "--k", "2", "--sizes", "2"],
        ["score", *store], ["workloads"], ["targets", "show"],
        ["targets", "plan", "--workload", "ctr_dlrm", "--store", tmp_path / "none.db"],
    ]
    for argv in commands:
        for fmt in FORMATS:
            code, out, err = run(capsys, *argv, "--format", fmt)
            assert code == 0, (argv, fmt, err)
            _parses(out, fmt)


def test_json_flags_stay_aliases_of_format_json(db, capsys):
    path, specs = db
    for argv in (["build", "--store", path, "--specs", specs, "--k", "2"],
                 ["loo", "--store", path, "--specs", specs, "--k", "2"],
                 ["score", "--store", path, "--specs", specs], ["workloads"],
                 ["targets", "show"]):
        assert run(capsys, *argv, "--json")[1] == run(capsys, *argv, "--format", "json")[1]
    assert set(json.loads(run(capsys, "workloads", "--json")[1])) == {"workloads",
                                                                     "timings_machine"}


def test_calibration_table_formats_and_its_former_name(tmp_path, capsys):
    from hplists.study.calibration import CALIBRATION_STUDY

    store = open_store(tmp_path / "c.db")
    steps = np.arange(1, 5) * 300
    for i in range(3):
        err = np.array([0.9, 0.5, 0.3, 0.1 * i])
        store.put(CALIBRATION_STUDY, HParams(1e-3 * (i + 1), 0.9, 0.99), "ctr_dlrm", 0,
                  Curve(steps, steps / 10, err, {"log_loss": err}), point_index=i)
    store.close()
    args = ["--store", tmp_path / "c.db", "--workload", "ctr_dlrm", "--points", "3"]
    argv = ["targets", "calibration-table", *args]
    for fmt in FORMATS:
        code, out, _ = run(capsys, *argv, "--format", fmt)
        assert code == 0
        _parses(out, fmt)
    assert run(capsys, *argv, "--markdown")[1] == run(capsys, *argv, "--format", "md")[1]
    assert run(capsys, *argv, "--json")[1] == run(capsys, *argv, "--format", "json")[1]
    # `hplists table4`, the former name: the same table, one line of warning, not in the help
    code, out, err = run(capsys, "table4", *args, "--format", "csv")
    assert code == 0 and out == run(capsys, *argv, "--format", "csv")[1]
    assert err.strip() == ("hplists table4: warning: `hplists table4` is deprecated; use "
                           "`hplists targets calibration-table`")
    assert "table4" not in run(capsys, "--help")[1]


def test_tables_escape_markdown_and_keep_values_in_csv():
    t = Table([Column("name"), Column("x", right=True, text=lambda v: f"{v:.2f}")],
              [["a|b\nc", 1 / 3], [Cell("shown", "kept"), None]], title="t")
    md = render(t, "md")
    assert "| a\\|b<br>c | 0.33 |" in md and "| shown |  |" in md
    rows = list(csv.reader(io.StringIO(render(t, "csv"))))
    assert rows == [["name", "x"], ["a|b\nc", repr(1 / 3)], ["kept", ""]]
    assert json.loads(render(t, "json")) == {"rows": [{"name": "a|b\nc", "x": 1 / 3},
                                                      {"name": "kept", "x": None}]}
    plain = render(t, "table")
    assert "0.33" in plain and "shown" in plain


def test_csv_fields_are_never_spreadsheet_formulas(tmp_path, capsys):
    store = open_store(tmp_path / "f.db")
    store.put("=HYPERLINK(1)", HParams(1e-3, 0.9, 0.99), "@w", 0,
              Curve([1], [0.1], [1.0], {"error_rate": [0.5]}))
    store.close()
    code, out, _ = run(capsys, "store", "info", "--store", tmp_path / "f.db", "--format", "csv")
    assert code == 0
    assert list(csv.reader(io.StringIO(out)))[1][:2] == ["'=HYPERLINK(1)", "'@w"]


def test_workloads_piped_keep_every_column():
    """`hplists workloads | cat` with COLUMNS unset: every column, nothing cut."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    out = subprocess.run([sys.executable, "-c", "import sys; from hplists.cli.main import main; "
                          "sys.exit(main(['workloads']))"], capture_output=True, text=True,
                         env=env, check=True).stdout
    header = next(line for line in out.splitlines() if "name" in line and "task" in line)
    for column in ("name", "task", "metric", "target", " T ", "batch", "batching", "s/trial",
                   "CPU-s/trial"):
        assert column in header
    assert "…" not in out  # no cell cut
    assert "translate_transformer_post_ln" in out
