"""image_resnet: cluttered-digit data, error rate, ResNet shapes, schedule, learning, divergence, variant."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss

from helpers import checks as wc
from hplists import HParams
from hplists.workloads import images
from hplists.workloads.image_resnet import ImageResNet, ImageResNetSiLU
from hplists.workloads.registry import get_workload

GOOD = HParams(5e-3, 0.9, 0.99, weight_decay=0.05, warmup_fraction=0.05, label_smoothing=0.1)
STEPS = 150  # one shortened budget for every test: the program compiles once

workload, data = wc.module_fixtures("image_resnet")


def test_registered_with_its_contract(workload):
    # AlgoPerf's ResNet has no dropout.
    wc.check_contract(workload, "image_resnet", ImageResNet, "error_rate", "min",
                      {"label_smoothing"})


def test_data_shapes_balance_and_standardization(workload, data):
    x, y = data.train["image"], data.train["label"]
    assert x.shape == (workload.num_train, 16, 16, 3) and x.dtype == np.float32
    assert data.valid["image"].shape == (workload.num_valid, 16, 16, 3)
    assert y.dtype == np.int32 and set(np.unique(y)) == set(range(images.NUM_CLASSES))
    counts = np.bincount(y, minlength=10)
    assert counts.min() > 0.8 * counts.mean()  # roughly balanced classes
    np.testing.assert_allclose(x.mean(axis=(0, 1, 2)), 0.0, atol=1e-3)
    np.testing.assert_allclose(x.std(axis=(0, 1, 2)), 1.0, atol=1e-3)


def test_no_handwritten_digit_is_in_both_splits(data):
    train, valid = set(data.train["source"].tolist()), set(data.valid["source"].tolist())
    assert not train & valid
    assert len(valid) == data.meta["valid_sources"] and len(train) == data.meta["train_sources"]


def test_data_is_deterministic_in_the_seed(tmp_path, monkeypatch):
    monkeypatch.setenv("HPLISTS_CACHE_DIR", str(tmp_path))
    kw = dict(num_train=30, num_valid=20, valid_sources=100)
    a, b = images.digit_images(3, **kw), images.digit_images(3, **kw)  # built, then cached
    fresh = images._build(3, 30, 20, 16, 100)
    c = images.digit_images(4, **kw)
    for split in ("train", "valid"):
        for k in ("image", "label", "source"):
            np.testing.assert_array_equal(getattr(a, split)[k], getattr(b, split)[k])
            np.testing.assert_array_equal(getattr(a, split)[k], getattr(fresh, split)[k])
    assert not np.array_equal(a.train["image"], c.train["image"])


def test_digit_images_rejects_bad_arguments_by_name():
    with pytest.raises(ValueError, match="num_train"):
        images.digit_images(0, num_train=0)
    with pytest.raises(ValueError, match="valid_sources"):
        images.digit_images(0, valid_sources=1790)


def test_classification_scores_match_sklearn():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 10)) * 3
    labels = rng.integers(0, 10, 50)
    s = images.classification_scores(logits, labels)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    assert s["loss"] == pytest.approx(log_loss(labels, p, labels=range(10)))
    assert s["error_rate"] == pytest.approx(np.mean(p.argmax(1) != labels))
    logits[3, 2] = np.nan
    assert all(np.isnan(v) for v in images.classification_scores(logits, labels).values())


def test_model_shapes_and_size(workload, data):
    params = wc.initial_params(workload)
    wc.check_model_shapes(workload, params, wc.rows(data.valid, 5), (5, images.NUM_CLASSES),
                          dropout_rate=0.0, label_smoothing=0.1, num_params=(10_000, 40_000),
                          run_predict=False)


def test_label_smoothing_reaches_the_loss_and_dropout_does_not(workload, data):
    params = wc.initial_params(workload)
    wc.check_regularizers_reach_the_loss(workload, params, wc.rows(data.valid, 5))


@pytest.mark.slow
def test_good_point_beats_chance_and_absurd_lr_diverges_alone(workload):
    good, tiny = wc.train_good_absurd_tiny(workload, GOOD, STEPS)
    chance = 1 - 1 / images.NUM_CLASSES
    assert good.metric("error_rate")[-1] < chance - 0.3
    assert tiny.metric("error_rate")[-1] > chance - 0.1  # too small a learning rate misses


def test_same_seed_same_curve_other_seed_other_curve(workload):
    wc.check_same_seed_same_curve(workload, GOOD, STEPS)


def test_silu_variant_differs_only_in_its_activation(workload, data):
    variant = get_workload("image_resnet_silu")
    wc.check_variant_settings(workload, variant, ImageResNetSiLU, "activation", ("relu", "silu"),
                              same=("num_train", "num_valid", "width", "blocks"))
    p, q = wc.initial_params(workload), wc.initial_params(variant)
    wc.check_same_initial_parameters(p, q)
    wc.check_predictions_differ(workload, variant, p, q, wc.rows(data.valid, 4))
