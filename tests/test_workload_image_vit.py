"""image_vit: shared images, ViT shapes and dropout, schedule, learning, divergence, Post-LN variant."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hplists import HParams
from hplists.curves import Status
from hplists.workloads import engine, images
from hplists.workloads.image_vit import ImageViT, ImageViTPostLN, posemb_sincos_2d
from hplists.workloads.registry import get_workload
from hplists.workloads.spec import eval_schedule

# The ViT sits near chance for its first ~100 steps; this point leaves it in ~150.
GOOD = HParams(3e-3, 0.9, 0.95, weight_decay=0.05, warmup_fraction=0.1, label_smoothing=0.2)
STEPS = 300  # one shortened budget for every test: the program compiles once


@pytest.fixture(scope="module")
def workload():
    return get_workload("image_vit")


@pytest.fixture(scope="module")
def data(workload):
    return workload.make_data()


def test_registered_with_its_contract(workload):
    assert isinstance(workload, ImageViT)
    assert workload.metric.name == "error_rate" and workload.metric.mode == "min"
    assert workload.regularizers == {"dropout", "label_smoothing"}
    assert len(workload.eval_steps) == 20 and workload.eval_steps[-1] == workload.step_budget
    assert not workload.post_ln


def test_uses_the_same_images_as_image_resnet(workload, data):
    other = get_workload("image_resnet").make_data()
    for k in ("image", "label"):
        np.testing.assert_array_equal(data.train[k], other.train[k])
        np.testing.assert_array_equal(data.valid[k], other.valid[k])


def test_sincos_position_embedding():
    pe = posemb_sincos_2d(4, 4, 16)
    assert pe.shape == (16, 16)
    # token (y=0, x=1): sin/cos of x * omega in the first half, of y = 0 in the second
    omega = 1.0 / 10_000.0 ** (np.arange(4) / 3)
    np.testing.assert_allclose(pe[1, :4], np.sin(omega), rtol=1e-6)
    np.testing.assert_allclose(pe[1, 8:12], 0.0, atol=1e-7)
    np.testing.assert_allclose(pe[1, 12:], 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="multiple of 4"):
        posemb_sincos_2d(4, 4, 18)


def test_model_shapes_size_and_zero_head(workload, data):
    params = jax.jit(workload.init)(jax.random.key(0))
    n = sum(a.size for a in jax.tree.leaves(params))
    assert 15_000 < n < 60_000
    assert not np.any(params["head"]["kernel"])  # AlgoPerf's zero-initialized head
    batch = {k: v[:5] for k, v in data.valid.items()}
    assert jax.eval_shape(workload.predict, params, batch).shape == (5, images.NUM_CLASSES)
    loss = jax.jit(workload.loss_fn)(params, batch, jax.random.key(1), 0.1, 0.1)
    assert loss.shape == () and np.isfinite(loss)


def test_dropout_is_active_in_training_and_off_in_prediction(workload, data):
    params = jax.tree.map(
        lambda a: jax.random.normal(jax.random.key(3), a.shape) * 0.3,
        jax.jit(workload.init)(jax.random.key(0)),
    )
    x = jnp.asarray(data.valid["image"][:8])

    @jax.jit
    def logits(rate, rng):
        return workload.net.apply({"params": params}, x, rate, rng)

    key = jax.random.key(1)
    np.testing.assert_array_equal(logits(0.0, key), logits(0.0, None))  # rate 0 is identity
    assert not np.allclose(logits(0.3, key), logits(0.0, key))
    assert not np.allclose(logits(0.3, key), logits(0.3, jax.random.key(2)))
    eager = workload.predict(params, {"image": x})
    np.testing.assert_allclose(eager, logits(0.0, None), rtol=1e-5, atol=1e-5)  # never drops


@pytest.mark.slow
def test_good_point_beats_chance_and_absurd_lr_diverges_alone(workload):
    points = [GOOD, HParams(1e3, 0.9, 0.99), HParams(1e-6, 0.9, 0.99)]
    good, absurd, tiny = engine.train(workload, points, step_budget=STEPS, batching="sequential")
    assert good.steps.tolist() == list(eval_schedule(STEPS, 20))
    assert good.status == Status.COMPLETE and tiny.status == Status.COMPLETE
    chance = 1 - 1 / images.NUM_CLASSES
    assert good.metric("error_rate")[-1] < chance - 0.12
    assert good.metric("error_rate")[-1] < tiny.metric("error_rate")[-1] - 0.1
    assert absurd.status == Status.DIVERGED and "at step" in absurd.message


def test_same_seed_same_curve_other_seed_other_curve(workload):
    point = GOOD.replace(dropout_rate=0.1)
    a, b = (
        engine.train(workload, [point], seed=1, step_budget=STEPS, batching="sequential")[0]
        for _ in range(2)
    )
    c = engine.train(workload, [point], seed=2, step_budget=STEPS, batching="sequential")[0]
    np.testing.assert_array_equal(a.metric("error_rate"), b.metric("error_rate"))
    np.testing.assert_array_equal(a.train_loss, b.train_loss)
    assert not np.array_equal(a.train_loss, c.train_loss)


def test_post_ln_variant_differs_only_in_where_layernorm_sits(workload, data):
    variant = get_workload("image_vit_post_ln")
    assert isinstance(variant, ImageViTPostLN) and variant.base == "image_vit"
    assert (workload.post_ln, variant.post_ln) == (False, True)
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
        "patch_size",
        "width",
        "depth",
        "num_heads",
        "mlp_dim",
    )
    assert all(getattr(variant, k) == getattr(workload, k) for k in same)
    p, q = jax.jit(workload.init)(jax.random.key(0)), jax.jit(variant.init)(jax.random.key(0))
    # Post-LN has no final LayerNorm; every other parameter is the same.
    assert set(p) - set(q) == {"encoder_norm"} and set(q) <= set(p)
    assert jax.tree.structure({k: p[k] for k in q}) == jax.tree.structure(q)
    head = {
        "kernel": jax.random.normal(jax.random.key(1), p["head"]["kernel"].shape),
        "bias": p["head"]["bias"],
    }
    p, q = {**p, "head": head}, {**q, "head": head}  # nonzero heads, so logits differ
    batch = {k: v[:4] for k, v in data.valid.items()}
    assert not np.allclose(jax.jit(workload.predict)(p, batch), jax.jit(variant.predict)(q, batch))
