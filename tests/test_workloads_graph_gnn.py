"""graph_gnn: graphs, labels, mAP, model shapes, evaluation schedule, learning, divergence, variant."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score

from helpers import checks as wc
from hplists import HParams
from hplists.workloads.graph_gnn import (
    MAX_EDGES,
    MAX_NODES,
    NUM_TASKS,
    GraphGnn,
    GraphGnnGelu,
    make_molecules,
    mean_average_precision,
)
from hplists.workloads.registry import get_workload

GOOD = HParams(5e-3, 0.9, 0.99, weight_decay=0.05, warmup_fraction=0.05)
STEPS = 100  # one shortened budget for every test: the program compiles once

workload, data = wc.module_fixtures("graph_gnn")


def test_registered_with_its_contract(workload):
    wc.check_contract(workload, "graph_gnn", GraphGnn, "mean_average_precision", "max",
                      {"dropout", "label_smoothing"})


def test_molecules_are_valid_padded_graphs():
    g = make_molecules(5, 200)
    again = make_molecules(5, 200)
    for k in g:
        np.testing.assert_array_equal(g[k], again[k])
    atoms, send, recv, bonds = g["atoms"], g["senders"], g["receivers"], g["bonds"]
    n_atoms = (atoms >= 0).sum(1)
    assert n_atoms.min() >= 8 and n_atoms.max() <= MAX_NODES
    for i in range(200):
        real = bonds[i] >= 0
        s, r = send[i][real], recv[i][real]
        assert np.all(atoms[i][s] >= 0) and np.all(atoms[i][r] >= 0)  # edges join real atoms
        pairs = set(zip(s.tolist(), r.tolist(), strict=True))
        assert pairs == {(b, a) for a, b in pairs}  # every bond in both directions
        assert real.sum() >= 2 * (n_atoms[i] - 1)  # connected: at least a spanning tree
    # Valences: C 4, N 3, O 2, S 2, F 1, Cl 1 (double bonds count 2, aromatic 1.5).
    order = np.array([1.0, 2.0, 1.5])
    for i in range(200):
        used = np.zeros(MAX_NODES)
        real = bonds[i] >= 0
        np.add.at(used, send[i][real], order[bonds[i][real]])
        valence = np.array([4, 3, 2, 2, 1, 1])[np.maximum(atoms[i], 0)]
        assert np.all(used[atoms[i] >= 0] <= valence[atoms[i] >= 0] + 0.5)


def test_labels_have_varied_positive_rates_and_missing_entries(data):
    y, m = data.train["labels"], data.train["label_mask"]
    assert y.shape == (data.num_train, NUM_TASKS)
    rates = (y * m).sum(0) / m.sum(0)
    assert rates.min() > 0.02 and rates.max() < 0.5 and rates.max() / rates.min() > 3
    assert 0.25 < 1 - m.mean() < 0.35


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 4))
def test_mean_average_precision_matches_sklearn(seed, decimals):
    rng = np.random.default_rng(seed)
    scores = np.round(rng.random((60, 5)), decimals)  # rounding makes ties
    labels = (rng.random((60, 5)) < 0.3).astype(float)
    mask = (rng.random((60, 5)) < 0.8).astype(float)
    labels[:, 4] = 0  # a task without positives is skipped
    expected = [average_precision_score(labels[mask[:, t] > 0, t], scores[mask[:, t] > 0, t])
                for t in range(5) if labels[mask[:, t] > 0, t].sum() > 0]
    assert mean_average_precision(scores, labels, mask) == pytest.approx(np.mean(expected))


def test_model_shapes(workload, data):
    params = workload.init(jax.random.key(0))
    batch = wc.rows(data.valid, 5)
    assert batch["senders"].shape == (5, MAX_EDGES)
    wc.check_model_shapes(workload, params, batch, (5, NUM_TASKS),
                          dropout_rate=0.1, label_smoothing=0.1)


def test_dropout_and_label_smoothing_reach_the_loss_and_the_key_only_drives_dropout(workload, data):
    wc.check_regularizers_reach_the_loss(workload, workload.init(jax.random.key(0)),
                                         wc.rows(data.valid, 5))


def test_padding_does_not_change_predictions(workload, data):
    """Padded nodes and edges are inert: the same graph alone or in a batch predicts the same."""
    params = workload.init(jax.random.key(0))
    batch = {k: v[:8] for k, v in data.valid.items()}
    alone = {k: v[3:4] for k, v in batch.items()}
    predict = jax.jit(workload.predict)
    np.testing.assert_allclose(predict(params, batch)[3], predict(params, alone)[0],
                               rtol=1e-5, atol=1e-5)


def test_good_point_beats_chance_and_absurd_lr_diverges_alone(workload, data):
    good, tiny = wc.train_good_absurd_tiny(workload, GOOD, STEPS, absurd_lr=10.0)
    y, m = data.valid["labels"], data.valid["label_mask"]
    chance = np.mean((y * m).sum(0) / m.sum(0))  # a random ranking's expected AP
    assert good.metric("mean_average_precision")[-1] > chance + 0.05
    assert good.metric("mean_average_precision")[-1] > tiny.metric("mean_average_precision")[-1]


def test_same_seed_same_curve_other_seed_other_curve(workload):
    wc.check_same_seed_same_curve(workload, GOOD.replace(dropout_rate=0.1), STEPS)


def test_gelu_variant_differs_only_in_its_knob(workload, data):
    variant = get_workload("graph_gnn_gelu")
    wc.check_variant_settings(workload, variant, GraphGnnGelu, "activation", ("relu", "gelu"),
                              same=("num_train", "num_valid", "width", "rounds"))
    p, q = workload.init(jax.random.key(0)), variant.init(jax.random.key(0))
    wc.check_same_initial_parameters(p, q)
    wc.check_predictions_differ(workload, variant, p, q, wc.rows(data.valid, 4))
