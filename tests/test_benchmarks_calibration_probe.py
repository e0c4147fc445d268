"""benchmarks/calibration_probe.py: candidates from overrides, and how a run's best metric is read."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from hplists import Curve

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "calibration_probe.py"


@pytest.fixture
def probe():
    spec = importlib.util.spec_from_file_location("calibration_probe", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_overrides_make_a_subclass_of_the_base_with_json_values(probe, monkeypatch):
    spec = {"base": "mri_unet", "set": {"channels": "3", "step_budget": "50",
                                        "model": "tiny U-Net"}, "class": None}
    monkeypatch.setenv(probe._ENV, json.dumps(spec))
    cls = probe._candidate_class()
    from hplists.workloads.mri_unet import MriUNet

    w = cls()
    assert isinstance(w, MriUNet) and w.name == "mri_unet_probe"
    assert (w.channels, w.step_budget, w.model) == (3, 50, "tiny U-Net")
    assert w.net.channels == 3  # the override reaches the model


def test_best_metric_follows_the_mode_and_skips_non_finite_values(probe):
    c = Curve([1, 2, 3], [0.1, 0.2, 0.3], [1.0, 0.9, 0.8], {"wer": [0.5, np.nan, 0.3]})
    assert probe.best_metric(c, "wer", "min") == 0.3
    assert probe.best_metric(c, "wer", "max") == 0.5
    assert np.isnan(probe.best_metric(c, "ssim", "max"))
    assert np.isnan(probe.best_metric(None, "wer", "min"))
