"""image_resnet: cluttered-digit data, error rate, ResNet shapes, schedule, learning, divergence, variant."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from sklearn.metrics import log_loss

from hplists import HParams
from hplists.curves import Status
from hplists.workloads import engine, images
from hplists.workloads.image_resnet import ImageResNet, ImageResNetSiLU
from hplists.workloads.registry import get_workload
from hplists.workloads.spec import eval_schedule

GOOD = HParams(5e-3, 0.9, 0.99, weight_decay=0.05, warmup_fraction=0.05, label_smoothing=0.1)
STEPS = 150  # one shortened budget for every test: the program compiles once


@pytest.fixture(scope="module")
def workload():
    return get_workload("image_resnet")


@pytest.fixture(scope="module")
def data(workload):
    return workload.make_data()


def test_registered_with_its_contract(workload):
    assert isinstance(workload, ImageResNet)
    assert workload.metric.name == "error_rate" and workload.metric.mode == "min"
    assert workload.regularizers == {"label_smoothing"}  # AlgoPerf's ResNet has no dropout
    assert len(workload.eval_steps) == 20 and workload.eval_steps[-1] == workload.step_budget
    assert workload.base is None and "image_resnet" in workload.describe()["name"]


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
    params = jax.jit(workload.init)(jax.random.key(0))
    n = sum(a.size for a in jax.tree.leaves(params))
    assert 10_000 < n < 40_000
    batch = {k: v[:5] for k, v in data.valid.items()}
    assert jax.eval_shape(workload.predict, params, batch).shape == (5, images.NUM_CLASSES)
    loss = jax.jit(workload.loss_fn)(params, batch, jax.random.key(1), 0.0, 0.1)
    assert loss.shape == () and np.isfinite(loss)


def test_label_smoothing_reaches_the_loss(workload, data):
    params = jax.jit(workload.init)(jax.random.key(0))
    batch = {k: v[:16] for k, v in data.train.items()}
    f = jax.jit(workload.loss_fn)
    assert float(f(params, batch, None, 0.0, 0.0)) != float(f(params, batch, None, 0.0, 0.2))


@pytest.mark.slow
def test_good_point_beats_chance_and_absurd_lr_diverges_alone(workload):
    points = [GOOD, HParams(1e3, 0.9, 0.99), HParams(1e-6, 0.9, 0.99)]
    good, absurd, tiny = engine.train(workload, points, step_budget=STEPS, batching="sequential")
    assert good.steps.tolist() == list(eval_schedule(STEPS, 20))
    assert good.status == Status.COMPLETE and tiny.status == Status.COMPLETE
    chance = 1 - 1 / images.NUM_CLASSES
    assert good.metric("error_rate")[-1] < chance - 0.3
    assert tiny.metric("error_rate")[-1] > chance - 0.1  # too small a learning rate misses
    assert absurd.status == Status.DIVERGED and "at step" in absurd.message


def test_same_seed_same_curve_other_seed_other_curve(workload):
    a = engine.train(workload, [GOOD], seed=1, step_budget=STEPS, batching="sequential")[0]
    b = engine.train(workload, [GOOD], seed=1, step_budget=STEPS, batching="sequential")[0]
    c = engine.train(workload, [GOOD], seed=2, step_budget=STEPS, batching="sequential")[0]
    np.testing.assert_array_equal(a.metric("error_rate"), b.metric("error_rate"))
    np.testing.assert_array_equal(a.train_loss, b.train_loss)
    assert not np.array_equal(a.train_loss, c.train_loss)


def test_silu_variant_differs_only_in_its_activation(workload, data):
    variant = get_workload("image_resnet_silu")
    assert isinstance(variant, ImageResNetSiLU) and variant.base == "image_resnet"
    assert (workload.activation, variant.activation) == ("relu", "silu")
    same = (
        "step_budget",
        "batch_size",
        "num_evals",
        "metric",
        "regularizers",
        "data_seed",
        "eval_batch_size",
        "num_train",
        "num_valid",
        "width",
        "blocks",
    )
    assert all(getattr(variant, k) == getattr(workload, k) for k in same)
    p, q = jax.jit(workload.init)(jax.random.key(0)), jax.jit(variant.init)(jax.random.key(0))
    assert jax.tree.structure(p) == jax.tree.structure(q)
    assert all(
        np.array_equal(a, b) for a, b in zip(jax.tree.leaves(p), jax.tree.leaves(q), strict=True)
    )
    batch = {k: v[:4] for k, v in data.valid.items()}
    assert not np.allclose(jax.jit(workload.predict)(p, batch), jax.jit(variant.predict)(q, batch))
