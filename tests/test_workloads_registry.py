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


@pytest.mark.parametrize("attrs, message", [
    ({"metric": "error_rate"}, "metric must be an hplists.metric.Metric"),
    ({"step_budget": 0}, "step_budget"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"num_evals": 5}, "num_evals"),
    ({"regularizers": frozenset({"weight_noise"})}, "regularizers ['weight_noise'] are not known"),
    ({"version": 2}, "version must be a non-empty string"),
])
def test_register_checks_the_contract_at_registration(attrs, message, clean_registry):
    from helpers import workloads as sw
    from hplists.exceptions import InvalidParameterError

    cls = type("Bad", (sw.TinyLine,), {"name": "bad_line", **attrs})
    with pytest.raises(InvalidParameterError, match=message.replace("[", r"\[")):
        registry.register(cls)
    assert "bad_line" not in registry._REGISTRY


def test_register_names_the_methods_a_workload_lacks(clean_registry):
    from hplists.exceptions import InvalidParameterError
    from hplists.workloads.contract import JaxWorkload, Metric

    class NoScore(JaxWorkload):
        name = "no_score"
        metric = Metric("loss", "min")
        step_budget, batch_size = 40, 4

        def make_data(self): ...
        def init(self, rng): ...
        def loss_fn(self, params, batch, rng, dropout_rate, label_smoothing): ...
        def predict(self, params, batch): ...

    with pytest.raises(InvalidParameterError, match=r"does not implement \['score'\]"):
        registry.register(NoScore)


def test_an_unknown_workload_suggests_the_closest_name():
    from hplists.exceptions import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="did you mean 'image_resnet'"):
        registry.get_workload("image_resnt")


def test_a_score_without_the_metric_fails_the_run_with_one_line_naming_both_keys():
    """A workload whose score() returns the wrong key is an error, never a trial with best null."""
    from helpers import workloads as sw
    from hplists import HParams
    from hplists.exceptions import WorkloadBuildError
    from hplists.workloads import engine

    class WrongKey(sw.TinyBlobs):
        name = "wrong_key"

        def score(self, outputs, valid):
            return {"acc": 1.0 - super().score(outputs, valid)["error_rate"]}

    with pytest.raises(WorkloadBuildError,
                       match=r"score\(\) returned \['acc'\], which lacks its metric 'error_rate'"):
        engine.train(WrongKey(), [HParams(1e-2, 0.9, 0.99)], step_budget=20,
                     batching="sequential")


def test_the_progress_bar_shows_data_and_compile_as_phases_with_their_time(monkeypatch):
    from helpers import workloads as sw
    from hplists import HParams, progress
    from hplists.workloads import engine

    engine.clear_cache()
    seen = []
    monkeypatch.setattr(progress, "_PHASE_LISTENERS", [lambda what, s: seen.append((what, s))])

    class Fresh(sw.TinyBlobs):
        name = "fresh_blobs"

    engine.train(Fresh(), [HParams(1e-2, 0.9, 0.99)], step_budget=20, batching="sequential")
    begun = [w for w, s in seen if s is None]
    ended = {w: s for w, s in seen if s is not None}
    assert begun == ["preparing data", "compiling"] and set(ended) == set(begun)
    assert ended["compiling"] > 0.0
