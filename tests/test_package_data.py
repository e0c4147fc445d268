"""The package's data files are read-only at run time: results go to user paths, and
promoting them into the package is an explicit step."""

from __future__ import annotations

import argparse
import json

import pytest

from hplists.exceptions import InvalidParameterError
from hplists.workloads import targets_file
from hplists.workloads.registry import get_workload


def test_writing_targets_needs_a_path_the_package_file_is_never_the_default(tmp_path):
    before = targets_file.default_path().read_bytes()
    with pytest.raises(InvalidParameterError, match="read-only data"):
        targets_file.write_entries({"x": {"target": 0.1, "metric": "m", "mode": "min"}}, None)
    out = tmp_path / "mine.json"
    targets_file.write_entries({"x": {"target": 0.1, "metric": "m", "mode": "min"}}, out)
    assert json.loads(out.read_text())["targets"]["x"]["target"] == 0.1
    assert targets_file.default_path().read_bytes() == before


def test_targets_set_writes_to_stores_by_default_and_into_the_package_only_when_asked():
    from hplists.cli.targets import _output
    from hplists.study.target_setting import DEFAULT_TARGETS_FILE

    assert str(DEFAULT_TARGETS_FILE) == "stores/targets.json"
    ns = argparse.Namespace
    assert _output(ns(into_package=False, targets_file=None)) is None  # -> DEFAULT_TARGETS_FILE
    assert _output(ns(into_package=True, targets_file=None)) == targets_file.default_path()
    with pytest.raises(InvalidParameterError, match="two files"):
        _output(ns(into_package=True, targets_file="t.json"))


def test_a_workload_owns_its_target_its_own_file_or_the_librarys_for_its_version(tmp_path):
    base = type(get_workload("ctr_dlrm"))
    assert get_workload("ctr_dlrm").target is not None  # the library's, version 1

    class Own(base):
        name = "own_target"
        target_value = 0.42

    own_file = tmp_path / "targets.json"
    targets_file.write_entries({"author_task": {"target": 0.3, "metric": "log_loss",
                                           "mode": "min", "workload_version": "1"}}, own_file)

    class Author(base):
        name = "author_task"
        targets_path = str(own_file)

    class NewVersion(base):
        version = "99"  # the library's entry was set for version 1

    assert Own().target == 0.42
    assert Author().target == 0.3
    assert NewVersion().target is None
