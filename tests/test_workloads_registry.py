"""Workloads defined outside hplists reach the CLI: `--import MODULE` and the
`hplists.workloads` entry-point group."""

from __future__ import annotations

import json

import pytest

from hplists.cli.main import main
from hplists.workloads import registry

MODULE = '''
from helpers import workloads as sw
from hplists.workloads.registry import register


@register
class UserLine(sw.TinyLine):
    name = "user_line"
'''

EP_MODULE = '''
from helpers import workloads as sw


class PluginLine(sw.TinyLine):
    name = "plugin_line"
'''


@pytest.fixture
def clean_registry():
    registry.workload_names()
    before = dict(registry._REGISTRY)
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(before)


def test_import_makes_a_user_workload_available_to_every_command(tmp_path, monkeypatch, capsys,
                                                                 clean_registry):
    (tmp_path / "user_wl.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["--import", "user_wl", "workloads", "--json"]) == 0
    names = {w["name"] for w in json.loads(capsys.readouterr().out)["workloads"]}
    assert "user_line" in names
    # after the command too, and the run trains it
    assert main(["run", "--import", "user_wl", "--workload", "user_line", "--k", "1", "--json",
                 "--steps", "40", "--batching", "sequential"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["workload"] == "user_line" and out["points"][0]["status"] == "complete"


def test_an_unknown_module_is_one_clear_line(capsys):
    assert main(["--import", "no_such_user_module", "workloads"]) == 2
    assert "--import no_such_user_module: No module named" in capsys.readouterr().err


def test_installed_packages_register_through_the_entry_point_group(tmp_path, monkeypatch,
                                                                   clean_registry):
    (tmp_path / "plugin_wl.py").write_text(EP_MODULE)
    dist = tmp_path / "plugin_wl-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: plugin-wl\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[{registry.ENTRY_POINT_GROUP}]\nplugin = plugin_wl:PluginLine\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry._load_entry_points()
    assert "plugin_line" in registry.workload_names()
    assert registry.get_workload("plugin_line").step_budget == 40
