"""ctr_dlrm: data, model shapes, evaluation schedule, learning, divergence, determinism, variant."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from sklearn.metrics import log_loss as sk_log_loss

from helpers import checks as wc
from hplists import HParams
from hplists.workloads.ctr_dlrm import CtrDlrm, CtrDlrmLayerNorm, log_loss, make_click_logs
from hplists.workloads.registry import get_workload

GOOD = HParams(3e-3, 0.9, 0.99, weight_decay=0.05, warmup_fraction=0.05)
STEPS = 150  # one shortened budget for every test: the program compiles once

workload, data = wc.module_fixtures("ctr_dlrm")


def test_registered_with_its_contract(workload):
    wc.check_contract(workload, "ctr_dlrm", CtrDlrm, "log_loss", "min",
                      {"dropout", "label_smoothing"})


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
    batch = wc.rows(data.valid, 7)
    wc.check_model_shapes(workload, params, batch, (7,), dropout_rate=0.1, label_smoothing=0.1)


def test_dropout_and_label_smoothing_reach_the_loss_and_the_key_only_drives_dropout(workload, data):
    wc.check_regularizers_reach_the_loss(workload, workload.init(jax.random.key(0)),
                                         wc.rows(data.valid, 7))


def test_good_point_beats_the_constant_rate_and_absurd_lr_diverges_alone(workload, data):
    good, tiny = wc.train_good_absurd_tiny(workload, GOOD, STEPS)
    rate = data.meta["click_rate"]
    constant = -(rate * np.log(rate) + (1 - rate) * np.log(1 - rate))
    assert good.metric("log_loss")[-1] < constant - 0.02
    assert good.metric("auc")[-1] > 0.7
    assert tiny.metric("log_loss")[-1] > constant  # a learning rate far too small barely moves


def test_same_seed_same_curve_other_seed_other_curve(workload):
    wc.check_same_seed_same_curve(workload, GOOD.replace(dropout_rate=0.1), STEPS)


def test_layernorm_variant_differs_only_in_its_knob(workload):
    variant = get_workload("ctr_dlrm_layernorm")
    wc.check_variant_settings(workload, variant, CtrDlrmLayerNorm, "layernorm", (False, True),
                              same=("num_train", "num_valid", "buckets", "embed_dim"))
    p, q = workload.init(jax.random.key(0)), variant.init(jax.random.key(0))
    # Only LayerNorm scales and biases are new; every other parameter is the base's.
    removed, added = wc.check_parameters_differ_only_under(p, q, "LayerNorm")
    assert not removed and added
