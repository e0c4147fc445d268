"""speech_conformer: contract, model shapes, evaluation schedule, learning, divergence,
determinism, and the GELU variant."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hplists import HParams
from hplists.curves import Status
from hplists.workloads import engine
from hplists.workloads.registry import get_workload
from hplists.workloads.sequence import depthwise_conv1d, subsample
from hplists.workloads.spec import eval_schedule
from hplists.workloads.speech_conformer import SpeechConformer, SpeechConformerGelu

# Tests that train share compiled programs (same step budget) in one worker process.
pytestmark = pytest.mark.xdist_group("speech_conformer")
SHORT = 100

# The first point of nadamw-paper.
GOOD = HParams(7.19e-3, 0.952, 0.955, weight_decay=0.021, warmup_fraction=0.1)


@pytest.fixture(scope="module")
def workload():
    return get_workload("speech_conformer")


@pytest.fixture(scope="module")
def data(workload):
    return workload.make_data()


def test_registered_with_its_contract(workload):
    assert isinstance(workload, SpeechConformer)
    assert workload.metric.name == "wer" and workload.metric.mode == "min"
    assert workload.regularizers == {"dropout"}  # CTC has no label smoothing
    assert len(workload.eval_steps) == 20 and workload.eval_steps[-1] == workload.step_budget
    assert workload.batching in engine.BATCHINGS


def test_model_shapes_and_ctc_loss(workload, data):
    params = workload.init(jax.random.key(0))
    n_params = sum(x.size for x in jax.tree.leaves(params))
    assert 30_000 < n_params < 100_000
    batch = {k: v[:5] for k, v in data.valid.items()}
    ids = jax.jit(workload.predict)(params, batch)
    assert ids.shape == (5, 24) and ids.dtype == jnp.int32
    # Padded (subsampled) frames decode to blank.
    pad = batch["input_paddings"][:, ::2]
    assert np.all(np.asarray(ids)[pad == 1] == 0)
    loss = jax.jit(workload.loss_fn)(params, batch, jax.random.key(1), 0.1, 0.0)
    # An untrained model spreads its mass evenly: the loss per label is about log(vocab) or more.
    assert loss.shape == () and np.isfinite(loss) and loss > 1.0


def test_dropout_is_per_point_and_off_in_predictions(workload, data):
    params = workload.init(jax.random.key(0))
    batch = {k: v[:4] for k, v in data.train.items()}
    loss = jax.jit(workload.loss_fn)
    a = loss(params, batch, jax.random.key(1), 0.0, 0.0)
    b = loss(params, batch, jax.random.key(2), 0.0, 0.0)
    c = loss(params, batch, jax.random.key(1), 0.3, 0.0)
    assert a == b and a != c  # the key only matters through dropout


def test_score_of_the_references_is_zero_wer(workload, data):
    # Feed the references back as frame-level ids: one label per frame, blanks between.
    labels = data.valid["labels"]
    ids = np.zeros((len(labels), 2 * labels.shape[1]), np.int32)
    ids[:, ::2] = labels
    assert workload.score(ids, data.valid) == {"wer": 0.0, "ler": 0.0}
    blank = workload.score(np.zeros_like(ids), data.valid)
    assert blank["wer"] == 1.0 and blank["ler"] == 1.0


def test_fast_layers_match_their_textbook_forms():
    x = jax.random.normal(jax.random.key(0), (2, 9, 3))
    k = jax.random.normal(jax.random.key(1), (5, 3))
    ref = jax.lax.conv_general_dilated(
        x, k[:, None, :], (1,), "SAME", dimension_numbers=("NWC", "WIO", "NWC"),
        feature_group_count=3)
    np.testing.assert_allclose(depthwise_conv1d(x, k), ref, rtol=1e-5, atol=1e-5)
    w = jax.random.normal(jax.random.key(2), (3, 3, 4))  # (width, features, channels)
    windows, pad = subsample(x, jnp.zeros((2, 9)))
    ref = jax.lax.conv_general_dilated(x, w, (2,), [(1, 1)],
                                       dimension_numbers=("NWC", "WIO", "NWC"))
    np.testing.assert_allclose(windows @ w.reshape(9, 4), ref, rtol=1e-5, atol=1e-5)
    assert pad.shape == (2, 5)


@pytest.mark.slow
def test_good_point_beats_chance_and_absurd_lr_diverges_alone(workload):
    points = [GOOD, HParams(1e3, 0.9, 0.99)]
    good, absurd = engine.train(workload, points, step_budget=SHORT, batching="sequential")
    assert good.steps.tolist() == list(eval_schedule(SHORT, 20))
    assert good.status == Status.COMPLETE
    wer = good.metric("wer")
    assert wer[0] >= 0.95  # chance: an untrained model emits blanks, every word is deleted
    assert wer.min() < 0.75 and wer[-1] < wer[: len(wer) // 2].min()
    assert absurd.status == Status.DIVERGED and "at step" in absurd.message


def test_same_seed_same_curve_other_seed_other_curve(workload):
    point = GOOD.replace(dropout_rate=0.1)
    a = engine.train(workload, [point], seed=1, step_budget=SHORT, batching="sequential")[0]
    b = engine.train(workload, [point], seed=1, step_budget=SHORT, batching="sequential")[0]
    c = engine.train(workload, [point], seed=2, step_budget=SHORT, batching="sequential")[0]
    np.testing.assert_array_equal(a.metric("wer"), b.metric("wer"))
    np.testing.assert_array_equal(a.train_loss, b.train_loss)
    assert not np.array_equal(a.train_loss, c.train_loss)


def test_gelu_variant_differs_only_in_its_activation(workload, data):
    variant = get_workload("speech_conformer_gelu")
    assert isinstance(variant, SpeechConformerGelu) and variant.base == "speech_conformer"
    assert (workload.activation, variant.activation) == ("relu", "gelu")
    same = ("step_budget", "batch_size", "num_evals", "metric", "regularizers", "data_seed",
            "eval_batch_size", "dim", "num_blocks", "data_options", "batching")
    assert all(getattr(variant, k) == getattr(workload, k) for k in same)
    p = workload.init(jax.random.key(0))
    q = variant.init(jax.random.key(0))
    assert jax.tree.structure(p) == jax.tree.structure(q)
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(p), jax.tree.leaves(q),
                                                    strict=True))
    batch = {k: v[:3] for k, v in data.valid.items()}
    lp = workload.loss_fn(p, batch, None, 0.0, 0.0)
    lq = variant.loss_fn(p, batch, None, 0.0, 0.0)
    assert lp != lq  # same parameters, other activation
