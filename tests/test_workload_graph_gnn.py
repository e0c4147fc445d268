"""graph_gnn: graphs, labels, mAP, model shapes, evaluation schedule, learning, divergence, variant."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score

from hplists import HParams
from hplists.curves import Status
from hplists.workloads import engine
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
from hplists.workloads.spec import eval_schedule

GOOD = HParams(5e-3, 0.9, 0.99, weight_decay=0.05, warmup_fraction=0.05)
STEPS = 100  # one shortened budget for every test: the program compiles once


@pytest.fixture(scope="module")
def workload():
    return get_workload("graph_gnn")


@pytest.fixture(scope="module")
def data(workload):
    return workload.make_data()


def test_registered_with_its_contract(workload):
    assert isinstance(workload, GraphGnn)
    assert workload.metric.name == "mean_average_precision" and workload.metric.mode == "max"
    assert workload.regularizers == {"dropout", "label_smoothing"}
    assert len(workload.eval_steps) == 20 and workload.eval_steps[-1] == workload.step_budget


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
    batch = {k: v[:5] for k, v in data.valid.items()}
    assert batch["senders"].shape == (5, MAX_EDGES)
    assert jax.jit(workload.predict)(params, batch).shape == (5, NUM_TASKS)
    loss = jax.jit(workload.loss_fn)(params, batch, jax.random.key(1), 0.1, 0.1)
    assert loss.shape == () and np.isfinite(loss)


def test_padding_does_not_change_predictions(workload, data):
    """Padded nodes and edges are inert: the same graph alone or in a batch predicts the same."""
    params = workload.init(jax.random.key(0))
    batch = {k: v[:8] for k, v in data.valid.items()}
    alone = {k: v[3:4] for k, v in batch.items()}
    predict = jax.jit(workload.predict)
    np.testing.assert_allclose(predict(params, batch)[3], predict(params, alone)[0],
                               rtol=1e-5, atol=1e-5)


def test_good_point_beats_chance_and_absurd_lr_diverges_alone(workload, data):
    points = [GOOD, HParams(10.0, 0.9, 0.99), HParams(1e-6, 0.9, 0.99)]
    good, absurd, tiny = engine.train(workload, points, step_budget=STEPS, batching="sequential")
    assert good.steps.tolist() == list(eval_schedule(STEPS, 20))
    assert good.status == Status.COMPLETE and tiny.status == Status.COMPLETE
    y, m = data.valid["labels"], data.valid["label_mask"]
    chance = np.mean((y * m).sum(0) / m.sum(0))  # a random ranking's expected AP
    assert good.metric("mean_average_precision")[-1] > chance + 0.05
    assert good.metric("mean_average_precision")[-1] > tiny.metric("mean_average_precision")[-1]
    assert absurd.status == Status.DIVERGED and "at step" in absurd.message


def test_same_seed_same_curve_other_seed_other_curve(workload):
    point = GOOD.replace(dropout_rate=0.1)
    a = engine.train(workload, [point], seed=1, step_budget=STEPS, batching="sequential")[0]
    b = engine.train(workload, [point], seed=1, step_budget=STEPS, batching="sequential")[0]
    c = engine.train(workload, [point], seed=2, step_budget=STEPS, batching="sequential")[0]
    np.testing.assert_array_equal(a.metric("mean_average_precision"),
                                  b.metric("mean_average_precision"))
    np.testing.assert_array_equal(a.train_loss, b.train_loss)
    assert not np.array_equal(a.train_loss, c.train_loss)


def test_gelu_variant_differs_only_in_its_knob(workload, data):
    variant = get_workload("graph_gnn_gelu")
    assert isinstance(variant, GraphGnnGelu)
    assert variant.base == "graph_gnn"
    assert (workload.activation, variant.activation) == ("relu", "gelu")
    same = ("step_budget", "batch_size", "num_evals", "metric", "regularizers", "data_seed",
            "eval_batch_size", "num_train", "num_valid", "width", "rounds")
    assert all(getattr(variant, k) == getattr(workload, k) for k in same)
    p = workload.init(jax.random.key(0))
    q = variant.init(jax.random.key(0))
    assert jax.tree.structure(p) == jax.tree.structure(q)
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(p), jax.tree.leaves(q),
                                                    strict=True))
    batch = {k: v[:4] for k, v in data.valid.items()}
    assert not np.allclose(jax.jit(workload.predict)(p, batch), jax.jit(variant.predict)(q, batch))
