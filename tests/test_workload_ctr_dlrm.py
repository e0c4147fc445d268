"""ctr_dlrm: data, model shapes, evaluation schedule, learning, divergence, determinism, variant."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from sklearn.metrics import log_loss as sk_log_loss

from hplists import HParams
from hplists.curves import Status
from hplists.workloads import engine
from hplists.workloads.ctr_dlrm import CtrDlrm, CtrDlrmLayerNorm, log_loss, make_click_logs
from hplists.workloads.registry import get_workload
from hplists.workloads.spec import eval_schedule

GOOD = HParams(3e-3, 0.9, 0.99, weight_decay=0.05, warmup_fraction=0.05)
STEPS = 150  # one shortened budget for every test: the program compiles once


@pytest.fixture(scope="module")
def workload():
    return get_workload("ctr_dlrm")


@pytest.fixture(scope="module")
def data(workload):
    return workload.make_data()


def test_registered_with_its_contract(workload):
    assert isinstance(workload, CtrDlrm)
    assert workload.metric.name == "log_loss" and workload.metric.mode == "min"
    assert workload.regularizers == {"dropout", "label_smoothing"}
    assert len(workload.eval_steps) == 20 and workload.eval_steps[-1] == workload.step_budget


def test_click_logs_are_deterministic_in_the_seed():
    a, b, c = make_click_logs(3, 500), make_click_logs(3, 500), make_click_logs(4, 500)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["cat"], c["cat"])


def test_dataset_shapes_and_hashing(workload, data):
    assert data.num_train == workload.num_train and data.num_valid == workload.num_valid
    assert data.train["dense"].shape == (workload.num_train, 13)
    assert data.train["dense"].dtype == np.float32 and data.train["dense"].min() >= 0
    cat = data.train["cat"]
    assert cat.shape == (workload.num_train, 10)
    rows = np.arange(10) * workload.buckets
    assert np.all((cat >= rows) & (cat < rows + workload.buckets))  # each feature its own rows
    assert set(np.unique(data.train["label"])) == {0.0, 1.0}
    assert 0.2 < data.meta["click_rate"] < 0.3
    # The generative model is learnable but noisy: the truth beats the constant rate clearly.
    assert data.meta["oracle_log_loss"] < 0.47


def test_log_loss_matches_sklearn():
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=200) * 3, rng.integers(0, 2, 200)
    expected = sk_log_loss(labels, 1 / (1 + np.exp(-logits)))
    assert log_loss(logits, labels) == pytest.approx(expected, rel=1e-9)


def test_model_shapes(workload, data):
    params = workload.init(jax.random.key(0))
    assert params["embedding"].shape == (10 * workload.buckets, workload.embed_dim)
    batch = {k: v[:7] for k, v in data.valid.items()}
    assert jax.jit(workload.predict)(params, batch).shape == (7,)
    loss = jax.jit(workload.loss_fn)(params, batch, jax.random.key(1), 0.1, 0.1)
    assert loss.shape == () and np.isfinite(loss)


def test_good_point_beats_the_constant_rate_and_absurd_lr_diverges_alone(workload, data):
    points = [GOOD, HParams(1e3, 0.9, 0.99), HParams(1e-6, 0.9, 0.99)]
    good, absurd, tiny = engine.train(workload, points, step_budget=STEPS, batching="sequential")
    assert good.steps.tolist() == list(eval_schedule(STEPS, 20))
    assert good.status == Status.COMPLETE and tiny.status == Status.COMPLETE
    rate = data.meta["click_rate"]
    constant = -(rate * np.log(rate) + (1 - rate) * np.log(1 - rate))
    assert good.metric("log_loss")[-1] < constant - 0.02
    assert good.metric("auc")[-1] > 0.7
    assert tiny.metric("log_loss")[-1] > constant  # a learning rate far too small barely moves
    assert absurd.status == Status.DIVERGED and "at step" in absurd.message


def test_same_seed_same_curve_other_seed_other_curve(workload):
    point = GOOD.replace(dropout_rate=0.1)
    a = engine.train(workload, [point], seed=1, step_budget=STEPS, batching="sequential")[0]
    b = engine.train(workload, [point], seed=1, step_budget=STEPS, batching="sequential")[0]
    c = engine.train(workload, [point], seed=2, step_budget=STEPS, batching="sequential")[0]
    np.testing.assert_array_equal(a.metric("log_loss"), b.metric("log_loss"))
    np.testing.assert_array_equal(a.train_loss, b.train_loss)
    assert not np.array_equal(a.train_loss, c.train_loss)


def test_layernorm_variant_differs_only_in_its_knob(workload):
    variant = get_workload("ctr_dlrm_layernorm")
    assert isinstance(variant, CtrDlrmLayerNorm)
    assert variant.base == "ctr_dlrm" and variant.layernorm and not workload.layernorm
    same = ("step_budget", "batch_size", "num_evals", "metric", "regularizers", "data_seed",
            "eval_batch_size", "num_train", "num_valid", "buckets", "embed_dim")
    assert all(getattr(variant, k) == getattr(workload, k) for k in same)
    base_p = workload.init(jax.random.key(0))
    var_p = variant.init(jax.random.key(0))
    flat_base = {jax.tree_util.keystr(k) for k, _ in jax.tree_util.tree_leaves_with_path(base_p)}
    flat_var = {jax.tree_util.keystr(k) for k, _ in jax.tree_util.tree_leaves_with_path(var_p)}
    extra = flat_var - flat_base
    assert flat_base < flat_var and extra and all("LayerNorm" in k for k in extra)
