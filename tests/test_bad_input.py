"""Hostile input files and values end in an InvalidParameterError naming the field or the file,
never in a raw OverflowError, TypeError, AttributeError, csv.Error or RecursionError."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hplists import Curve, HParams
from hplists.cli.main import main
from hplists.exceptions import InvalidParameterError
from hplists.lists.registry import NamedList
from hplists.space import SearchSpace
from hplists.space.dimensions import Linear
from hplists.store import open_store
from hplists.store.base import TrialRecord, curve_from_json
from hplists.store.io import export_csv, export_json, import_csv, import_json

BIG = "1" + "0" * 400  # a JSON integer too large for a float
DEEP = "[" * 100_000 + "]" * 100_000


def space_text(**dim) -> str:
    return json.dumps({"name": "s", "dimensions": {"learning_rate": dim}})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (space_text(scale="log", low=1e-4, high=1).replace("1}", BIG + "}"), "high must be finite"),
        (space_text(scale=["log"], low=1e-4, high=1), "scale must be one of"),
        (space_text(scale="fixed", value=0).replace(": 0}", ": " + BIG + "}"), "value must be"),
        (DEEP, "nested too deeply"),
        ("{", "is not valid json"),
        ("0", "a search space must be an object"),
        ("[false]", "a search space must be an object"),
    ],
)  # fmt: skip
def test_search_space_files(tmp_path, text, message):
    path = tmp_path / "s.json"
    path.write_text(text)
    with pytest.raises(InvalidParameterError, match=message) as e:
        SearchSpace.from_file(path)
    assert str(path) in str(e.value)


def test_search_space_files_that_cannot_be_read(tmp_path):
    (tmp_path / "d.json").mkdir()
    with pytest.raises(InvalidParameterError, match=r"d\.json' is a directory"):
        SearchSpace.from_file(tmp_path / "d.json")
    (tmp_path / "b.json").write_bytes(b"\xff\xfe{}")
    with pytest.raises(InvalidParameterError, match=r"b\.json' is not UTF\-8"):
        SearchSpace.from_file(tmp_path / "b.json")
    with pytest.raises(InvalidParameterError, match=r"none\.json' does not exist"):
        SearchSpace.from_file(tmp_path / "none.json")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"learning_rate": 10**400, "beta1": 0.9, "beta2": 0.99}, "learning_rate must be in"),
        ({"learning_rate": np.array([1e-3, 2e-3]), "beta1": 0.9, "beta2": 0.99},
         "learning_rate must be a real number"),
        ({"learning_rate": "0.1", "beta1": 0.9, "beta2": 0.99}, "learning_rate must be a real"),
        ([1], "a point must be an object"),
        (0, "a point must be an object"),
    ],
)  # fmt: skip
def test_hparams(value, message):
    with pytest.raises(InvalidParameterError, match=message):
        HParams.from_dict(value)


@pytest.mark.parametrize("text", [DEEP, "0", "[false]", "{", '{"learning_rate": ' + BIG + "}"])
def test_hparams_json(text):
    with pytest.raises(InvalidParameterError):
        HParams.from_json(text)


@pytest.fixture
def exported(tmp_path):
    store = open_store(tmp_path / "src.db")
    store.put("st", HParams(1e-3, 0.9, 0.99), "w", 0,
              Curve([1, 2], [0.1, 0.2], [1.0, 1.0], {"m": [0.5, 0.4]}))
    export_json(store, tmp_path / "t.json")
    export_csv(store, tmp_path / "t.csv")
    store.close()
    return json.loads((tmp_path / "t.json").read_text()), (tmp_path / "t.csv").read_text()


def _import_json(tmp_path, doc) -> None:
    path = tmp_path / "in.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    store = open_store(tmp_path / "dst.db")
    try:
        import_json(store, path)
    finally:
        store.close()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.update(curve={"metrics": 0}), "curve is missing field 'steps'"),
        (lambda t: t["curve"].update(metrics=0), "curve.metrics must be an object"),
        (lambda t: t["curve"].update(metrics={"m": 0}), r"curve.metrics\['m'\] must be a list"),
        (lambda t: t["curve"].update(steps=[-5, 1]), r"curve.steps\[0\] must be an integer in \[0"),
        (lambda t: t["curve"].update(steps=[1, "x"]), r"curve.steps\[1\] must be an integer"),
        (lambda t: t["curve"].update(seconds=[1, [2]]), r"curve.seconds\[1\] must be a number"),
        (lambda t: t["curve"].update(seconds=[1, "x"]), r"curve.seconds\[1\]: not a number"),
        (lambda t: t.update(seed=[0]), "seed must be an integer"),
        (lambda t: t.update(point=0), "point must be an HParams or a mapping"),
        (lambda t: t.update(provenance=0), "provenance must be an object"),
        (lambda t: t.update(study=["s"]), "study must be a string"),
        (lambda t: t.pop("workload"), "missing field 'workload'"),
    ],
)  # fmt: skip
def test_json_import_fields(tmp_path, exported, change, message):
    doc = exported[0]
    change(doc["trials"][0])
    with pytest.raises(InvalidParameterError, match=message) as e:
        _import_json(tmp_path, doc)
    assert "in.json" in str(e.value) and "trial 0" in str(e.value)


def test_json_import_files(tmp_path, exported):
    for text, message in [(DEEP, "nested too deeply"), ("0", "is not an hplists JSON export"),
                          ("[false]", "is not an hplists JSON export"), ("{", "not valid json")]:
        with pytest.raises(InvalidParameterError, match=message):
            _import_json(tmp_path, text)
    big = json.dumps(exported[0]).replace('"learning_rate": 0.001', '"learning_rate": ' + BIG)
    with pytest.raises(InvalidParameterError, match="learning_rate"):
        _import_json(tmp_path, big)
    doc = dict(exported[0], trials=0)
    with pytest.raises(InvalidParameterError, match="trials must be a list"):
        _import_json(tmp_path, doc)


def test_curve_from_json_names_the_field():
    with pytest.raises(InvalidParameterError, match=r"curve\.metrics must be an object"):
        curve_from_json({"steps": [1], "seconds": [0], "train_loss": [1], "metrics": 0})
    with pytest.raises(InvalidParameterError, match="curve must be an object"):
        curve_from_json("x")  # type: ignore[arg-type]


def _import_csv(tmp_path, text) -> None:
    path = tmp_path / "in.csv"
    path.write_text(text)
    store = open_store(tmp_path / "dst.db")
    try:
        import_csv(store, path, study="x")
    finally:
        store.close()


def test_csv_import(tmp_path, exported):
    text = exported[1]
    with pytest.raises(InvalidParameterError, match=r"in.csv', line \d+: field larger"):
        _import_csv(tmp_path, text.replace("st,w,", "st,w" + "x" * 200_000 + ",", 1))
    with pytest.raises(InvalidParameterError, match="learning_rate must be in"):
        _import_csv(tmp_path, text.replace("0.001", BIG))
    lines = text.splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("step")] = "-3"
    with pytest.raises(InvalidParameterError, match=r"in\.csv, row 2, column 'step': must be >= 0"):
        _import_csv(tmp_path, "\n".join([lines[0], ",".join(row), lines[2]]) + "\n")
    (tmp_path / "bin.csv").write_bytes(b"study,workload\n\xff\xfe,w\n")
    store = open_store(tmp_path / "dst.db")
    with pytest.raises(InvalidParameterError, match=r"bin\.csv' is not UTF\-8"):
        import_csv(store, tmp_path / "bin.csv")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(InvalidParameterError, match=r"dir\.csv' is a directory"):
        import_csv(store, tmp_path / "dir.csv")
    store.close()


def test_curves_refuse_negative_steps_and_non_numbers():
    with pytest.raises(InvalidParameterError, match="steps must be >= 0"):
        Curve([-1, 2], [0, 1], [1, 1], {})
    with pytest.raises(InvalidParameterError, match="steps must be a 1-D sequence of integers"):
        Curve([10**400], [0], [1], {})
    with pytest.raises(InvalidParameterError, match="metric 'm' must be a sequence of numbers"):
        Curve([1], [0], [1], {"m": [{"a": 1}]})
    with pytest.raises(InvalidParameterError, match="metrics must map"):
        Curve([1], [0], [1], 0)  # type: ignore[arg-type]
    assert Curve([0, 5], [0, 1], [1, 1], {}).steps.tolist() == [0, 5]


def test_linear_over_the_whole_float_range_samples_inside_it():
    d = Linear("x", -1e308, 1e308)
    values = d.from_unit(np.array([0.0, 0.25, 0.5, 0.75, 0.999]))
    assert values.tolist() == [-1e308, -5e307, 0.0, 5e307, pytest.approx(9.98e307)]
    assert len(set(values.tolist())) == 5 and all(math.isfinite(v) for v in values)
    # an ordinary range maps exactly as before
    assert Linear("w", 0.0, 0.2).from_unit(np.array([0.25])).tolist() == [0.05]
    assert Linear("w", 0.1, 0.3).from_unit(np.array([0.5])).tolist() == [0.1 + 0.5 * (0.3 - 0.1)]


def test_cli_prints_one_line_naming_the_file(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(DEEP)
    assert main(["store", "import", "--store", str(tmp_path / "s.db"), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.json" in err and "nested too deeply" in err and len(err.splitlines()) == 1


# JSON values of any shape: the loaders accept them or refuse them with their own error.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids,
                                                              max_size=4),
    max_leaves=12,
)
FIELDS = ("point", "study", "workload", "workload_version", "seed", "status", "message",
          "curve", "point_index", "provenance", "steps", "seconds", "train_loss", "metrics",
          "learning_rate", "beta1", "beta2", "scale", "low", "high", "values", "value", "name",
          "dimensions")


def _mutations():
    return st.tuples(st.sampled_from(FIELDS), JSON)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_mutations(), max_size=4), JSON)
def test_fuzz_loaders_raise_only_validation_errors(mutations, whole):
    valid_trial = {"study": "s", "workload": "w", "seed": 0, "status": "complete",
                   "point": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.99},
                   "curve": {"steps": [1], "seconds": [0.1], "train_loss": [1.0],
                             "metrics": {"m": [0.5]}}}
    valid_space = {"name": "s", "dimensions": {"learning_rate": {"scale": "log", "low": 1e-4,
                                                                 "high": 1e-2}}}
    def containers():
        out, todo = [], [valid_trial, valid_space]
        while todo:
            d = todo.pop()
            if isinstance(d, dict):
                out.append(d)
                todo += list(d.values())
        return out

    for k, v in mutations:
        for d in containers():
            if k in d:
                d[k] = v
    for call in (lambda: TrialRecord.from_json(valid_trial), lambda: TrialRecord.from_json(whole),
                 lambda: SearchSpace.from_dict(valid_space), lambda: SearchSpace.from_dict(whole),
                 lambda: HParams.from_dict(whole),
                 lambda: HParams.from_dict(valid_trial.get("point")),
                 lambda: curve_from_json(whole), lambda: NamedList.from_dict(whole),
                 lambda: NamedList.from_dict({"name": "l", "points": [valid_trial.get("point")]})):
        try:
            call()
        except InvalidParameterError:
            pass


@pytest.mark.parametrize("text,field", [("0", "JSON object"), ("[false]", "JSON object"),
                                         ('{"name": "x", "points": 0}', "'points' must be a list"),
                                         ('{"name": "x", "points": [false]}', "point 0"),
                                         ('{"name": 3, "points": []}', "'name' must be")])
def test_list_files_name_the_file_and_the_field(tmp_path, text, field):
    from hplists.exceptions import InvalidParameterError
    from hplists.lists import load_list

    path = tmp_path / "l.json"
    path.write_text(text)
    with pytest.raises(InvalidParameterError, match=field) as e:
        load_list(path)
    assert "l.json" in str(e.value)


CSV_HEADER = "study,workload,seed,status,point,step,seconds,train_loss,metric,value\n"
CSV_CELL = st.sampled_from(["s", "w", "0", "1", "-3", "complete", "diverged", "running", "x",
                            "", "1e400", "nan", '{"lr": 0.1}', '{"lr": [1]}', "{", '"',
                            "0.5", "error_rate", "inf", "10"])


@settings(max_examples=1000, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(CSV_CELL, min_size=0, max_size=12), max_size=4),
       st.booleans())
def test_fuzz_csv_import_raises_only_validation_errors(tmp_path, rows, header):
    from hplists.exceptions import HplistsError

    path = tmp_path / "trials.csv"
    body = "\n".join(",".join(r) for r in rows)
    path.write_text((CSV_HEADER if header else "") + body)
    store = open_store(tmp_path / "fuzz.db")
    try:
        import_csv(store, path)
    except HplistsError:
        pass
    finally:
        store.close()


@settings(max_examples=1000, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(['name = "s"', "[dimensions.learning_rate]", 'scale = "log"',
                                 "low = 1e-4", "high = 1e-2", "low = 1e400", 'scale = ["log"]',
                                 "high = -1", "[dimensions]", "values = [0.0, 0.1]",
                                 'scale = "discrete"', "=", "[[x]]", 'name = 3', "low = nan"]),
                max_size=8))
def test_fuzz_toml_space_files_raise_only_validation_errors(tmp_path, lines):
    path = tmp_path / "space.toml"
    path.write_text("\n".join(lines) + "\n")
    try:
        SearchSpace.from_file(path)
    except InvalidParameterError as e:
        assert "space.toml" in str(e) or "dimension" in str(e) or "space" in str(e)


def test_user_strings_never_become_sql(tmp_path):
    """Study and workload names, points and messages are parameters, never SQL text."""
    from hplists import Curve

    evil = "x'); DROP TABLE trials; --"
    store = open_store(tmp_path / "s.db")
    store.put(evil, {"lr": 0.1}, evil, 0, Curve([1], [0.1], [1.0], {evil: [0.5]}, "diverged",
                                                evil))
    (r,) = store.trials(study=evil, workload=evil)
    assert r.study == evil and r.message == evil and evil in r.curve.metrics
    assert store.studies() == [evil] and store.count() == 1
