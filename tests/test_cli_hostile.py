"""The CLI as a hostile user drives it: damaged and empty stores, output paths that do not exist
or are directories, and out-of-range sizes give one clear line and exit code 2, and leave the
files as they were."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3

import numpy as np
import pytest

from hplists import Curve, HParams
from hplists.cli import method as cli_method
from hplists.cli.main import main
from hplists.exceptions import InvalidParameterError
from hplists.store import CorruptStoreError, open_store
from hplists.store.io import export_json

WORKLOADS = ("w0", "w1")


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> bool:
    return "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A store of 200 trials (several hundred pages), its JSON export and workload specs."""
    d = tmp_path_factory.mktemp("hostile")
    db = d / "s.db"
    store = open_store(db)
    steps = np.arange(1, 21) * 50
    rng = np.random.default_rng(0)
    for i in range(100):
        hp = HParams(float(10 ** rng.uniform(-4, -2)), 0.9, 0.99)
        for w in WORKLOADS:
            err = 0.9 * np.exp(-steps / 1000 * rng.uniform(0.3, 3.0)) + 0.05
            store.put("s", hp, w, 0, Curve(steps, steps / 100, err, {"error_rate": err}),
                      point_index=i)
    export_json(store, d / "x.json")
    store.close()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    specs = d / "specs.json"
    specs.write_text(json.dumps({"workloads": {w: {"metric": "error_rate", "mode": "min",
                                                   "target": 0.3, "step_budget": 1000}
                                               for w in WORKLOADS}}))
    return db, d / "x.json", specs


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_damage_past_the_header_is_one_clear_line_and_nothing_is_written(files, tmp_path, capsys):
    db, export, _ = files
    data = bytearray(db.read_bytes())
    assert len(data) > 20 * 4096
    rng = np.random.default_rng(1)
    for off in range(2 * 4096, len(data) - 4096, 7 * 4096):  # the header page stays intact
        data[off:off + 3000] = rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()
    bad = tmp_path / "bad.db"
    bad.write_bytes(bytes(data))
    before = digest(bad)
    for argv in (("store", "info", "--store", bad),
                 ("store", "export", "--store", bad, "-o", tmp_path / "o.csv"),
                 ("store", "import", "--store", bad, export)):
        code, _, err = run(capsys, *argv)
        assert code == 2 and one_line(err), (argv, err)
        assert "is damaged" in err and str(bad) in err
    assert digest(bad) == before
    assert not (tmp_path / "o.csv").exists()


def test_store_check_refuses_a_damaged_file(files, tmp_path):
    db, _, _ = files
    data = bytearray(db.read_bytes())
    data[len(data) // 2:len(data) // 2 + 8192] = b"\xa5" * 8192
    bad = tmp_path / "half.db"
    bad.write_bytes(bytes(data))
    with pytest.raises(CorruptStoreError, match="is damaged"):
        store = open_store(bad, create=False)
        store.check()
        store.trials()


def test_a_missing_table_is_a_clear_error(files, tmp_path, capsys):
    db, _, _ = files
    copy = _altered_copy(db, tmp_path / "copy.db", "DROP TABLE eval_metrics")
    code, _, err = run(capsys, "store", "export", "--store", copy, "-o", tmp_path / "o.csv")
    assert code == 2 and one_line(err) and "no table 'eval_metrics'" in err
    with pytest.raises(CorruptStoreError, match="no table 'eval_metrics'"):
        open_store(copy, create=False).trials()


def test_read_only_commands_do_not_turn_an_empty_file_into_a_store(files, tmp_path, capsys):
    _, _, specs = files
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    for argv in (("store", "info", "--store", empty),
                 ("store", "export", "--store", empty, "-o", tmp_path / "o.csv"),
                 ("score", "--store", empty, "--specs", specs),
                 ("report", "--store", empty, "-o", tmp_path / "rep")):
        code, _, err = run(capsys, *argv)
        assert code == 2 and one_line(err) and "empty" in err, (argv, err)
    assert empty.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]
    # a command that writes may make the empty file a store
    assert open_store(empty).count() == 0


def test_a_store_of_a_newer_schema_is_refused_unchanged(files, tmp_path, capsys):
    db, export, _ = files
    newer = _altered_copy(db, tmp_path / "newer.db",
                          "UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    before = digest(newer)
    code, _, err = run(capsys, "store", "import", "--store", newer, export)
    assert code == 2 and one_line(err) and "schema version '99'" in err
    assert digest(newer) == before


def test_output_paths(files, tmp_path, capsys):
    db, _, specs = files
    out_dir = tmp_path / "a-dir"
    out_dir.mkdir()
    code, _, err = run(capsys, "export", "nadamw-paper", "--format", "json", "-o", out_dir,
                       "--force")
    assert code == 2 and one_line(err) and "is a directory" in err
    code, _, err = run(capsys, "sample", "nadamw-broad", "--n", 3, "--format", "csv", "-o",
                       tmp_path / "no" / "dir" / "x.csv")
    assert code == 0 and (tmp_path / "no" / "dir" / "x.csv").read_text().startswith("index,")
    code, _, err = run(capsys, "build", "--store", db, "--specs", specs, "--k", 2, "-o",
                       tmp_path / "new" / "dir" / "l.json")
    assert code == 0, err
    assert len(json.loads((tmp_path / "new" / "dir" / "l.json").read_text())["points"]) == 2
    code, _, err = run(capsys, "store", "export", "--store", db, "-o", tmp_path / "x" / "y" / "t.csv")
    assert code == 0 and (tmp_path / "x" / "y" / "t.csv").is_file()
    code, _, err = run(capsys, "store", "export", "--store", db, "-o", out_dir)
    assert code == 2 and one_line(err) and "is a directory" in err


def test_build_refuses_its_output_before_computing_the_list(files, tmp_path, capsys,
                                                            monkeypatch):
    db, _, specs = files
    existing = tmp_path / "l.json"
    existing.write_text("kept")

    def no_work(args):
        raise AssertionError("the list was computed before the output was checked")

    monkeypatch.setattr(cli_method, "_matrix", no_work)
    for out in (existing, tmp_path):
        code, _, err = run(capsys, "build", "--store", db, "--specs", specs, "--k", 2, "-o", out)
        assert code == 2 and one_line(err), err
    assert existing.read_text() == "kept"


def test_loo_sizes_zero_is_refused(files, capsys):
    db, _, specs = files
    code, _, err = run(capsys, "loo", "--store", db, "--specs", specs, "--k", 1, "--sizes", 0)
    assert code == 2 and one_line(err) and "--sizes must be an integer in [1, inf], got 0" in err


def test_process_pool_of_zero_workers_is_refused():
    from hplists.trials import PoolExecutor

    with pytest.raises(InvalidParameterError, match="workers must be an integer in"):
        PoolExecutor(0)


def test_negative_steps_are_refused_on_import(tmp_path, capsys):
    path = tmp_path / "neg.csv"
    path.write_text("study,workload,seed,learning_rate,beta1,beta2,step,error_rate\n"
                    "s,w,0,0.01,0.9,0.99,-3,0.5\ns,w,0,0.01,0.9,0.99,1,0.4\n")
    code, _, err = run(capsys, "store", "import", "--store", tmp_path / "s.db", path)
    assert code == 2 and one_line(err) and "column 'step': must be >= 0" in err


def test_cli_error_for_a_missing_or_unreadable_file_names_it(tmp_path, capsys):
    code, _, err = run(capsys, "store", "import", "--store", tmp_path / "s.db", tmp_path / "none.json")
    assert code == 2 and one_line(err) and "none.json" in err
    if os.geteuid() != 0:  # root reads anything
        locked = tmp_path / "locked.json"
        locked.write_text("{}")
        locked.chmod(0)
        code, _, err = run(capsys, "store", "import", "--store", tmp_path / "s.db", locked)
        assert code == 2 and one_line(err) and "locked.json" in err


def test_workers_without_the_process_pool_is_refused(tmp_path, capsys):
    """--workers 0 (or any count) with the local executor was silently ignored."""
    from hplists.cli.main import main as cli

    assert cli(["study", "--store", str(tmp_path / "s.db"), "--workers", "0"]) == 2
    assert "--workers goes with --executor processes" in capsys.readouterr().err
    assert not (tmp_path / "s.db").exists()


def _altered_copy(db, copy, sql: str):
    """A copy of the store ``db`` at ``copy`` with one SQL statement applied behind its back."""
    copy.write_bytes(db.read_bytes())
    conn = sqlite3.connect(copy)
    conn.execute(sql)
    conn.commit()
    conn.close()
    return copy


def test_integers_past_what_a_store_keeps_are_one_line_on_import(tmp_path, capsys):
    """A seed or a step of 10^30 (past SQLite's 64-bit INTEGER) used to be an OverflowError."""
    big = 10**30
    doc = {"format": "hplists-trials", "version": 1, "trials": [{
        "study": "s", "point": {"learning_rate": 1e-3}, "workload": "w", "seed": big,
        "curve": {"steps": [1], "seconds": [0.1], "train_loss": [1.0],
                  "metrics": {"error_rate": [0.5]}}}]}
    (tmp_path / "seed.json").write_text(json.dumps(doc))
    code, _, err = run(capsys, "store", "import", "--store", tmp_path / "a.db", tmp_path / "seed.json")
    assert code == 2 and one_line(err) and "seed must be an integer in" in err
    (tmp_path / "step.csv").write_text(f"study,workload,seed,hp.learning_rate,step,error_rate\n"
                                       f"s,w,1,0.001,{big},0.5\n")
    code, _, err = run(capsys, "store", "import", "--store", tmp_path / "b.db", tmp_path / "step.csv")
    assert code == 2 and one_line(err) and "steps must be" in err


def test_import_cases_are_one_line(tmp_path, capsys, monkeypatch):
    """An empty --import, a module that exits while imported, and a module given by its path."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "quits.py").write_text("import sys\nsys.exit(0)\n")
    (tmp_path / "fine_wl.py").write_text("VALUE = 1\n")
    code, _, err = run(capsys, "--import", "", "lists")
    assert code == 2 and one_line(err) and "--import needs a module name" in err
    for name in ("quits", "./quits.py"):
        code, _, err = run(capsys, "--import", name, "lists")
        assert code == 2 and one_line(err) and "called sys.exit(0) while being imported" in err
    for name in ("fine_wl", str(tmp_path / "fine_wl.py")):  # the current folder, or a path
        assert run(capsys, "--import", name, "lists")[0] == 0


def test_store_info_shows_control_characters_in_names_as_escapes(tmp_path, capsys):
    store = open_store(tmp_path / "s.db")
    store.put("evil\x1b[2J\u202e", HParams(1e-3, 0.9, 0.99), "w\x07", 0,
              Curve([1], [0.1], [1.0], {"error_rate": [0.5]}))
    store.close()
    code, out, _ = run(capsys, "store", "info", "--store", tmp_path / "s.db")
    assert code == 0 and "\x1b" not in out and "\u202e" not in out and "\x07" not in out
    assert "evil\\x1b[2J\\u202e" in out and "w\\x07" in out
