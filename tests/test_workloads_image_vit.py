"""image_vit: shared images, ViT shapes and dropout, schedule, learning, divergence, Post-LN variant."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import checks as wc
from hplists import HParams
from hplists.workloads import images
from hplists.workloads.image_vit import ImageViT, ImageViTPostLN, posemb_sincos_2d
from hplists.workloads.registry import get_workload

# The ViT sits near chance for its first ~100 steps; this point leaves it in ~150.
GOOD = HParams(3e-3, 0.9, 0.95, weight_decay=0.05, warmup_fraction=0.1, label_smoothing=0.2)
STEPS = 300  # one shortened budget for every test: the program compiles once

workload, data = wc.module_fixtures("image_vit")


def test_registered_with_its_contract(workload):
    wc.check_contract(workload, "image_vit", ImageViT, "error_rate", "min",
                      {"dropout", "label_smoothing"})
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
    params = wc.initial_params(workload)
    assert not np.any(params["head"]["kernel"])  # AlgoPerf's zero-initialized head
    wc.check_model_shapes(workload, params, wc.rows(data.valid, 5), (5, images.NUM_CLASSES),
                          dropout_rate=0.1, label_smoothing=0.1, num_params=(15_000, 60_000),
                          run_predict=False)


def test_dropout_and_label_smoothing_reach_the_loss_and_the_key_only_drives_dropout(workload, data):
    params = wc.initial_params(workload)
    # A nonzero head: the zero-initialized one gives uniform logits whatever the regularizers.
    kernel = jax.random.normal(jax.random.key(1), params["head"]["kernel"].shape)
    params = {**params, "head": {**params["head"], "kernel": kernel}}
    wc.check_regularizers_reach_the_loss(workload, params, wc.rows(data.valid, 5))


def test_dropout_is_active_in_training_and_off_in_prediction(workload, data):
    params = jax.tree.map(
        lambda a: jax.random.normal(jax.random.key(3), a.shape) * 0.3,
        wc.initial_params(workload),
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
    good, tiny = wc.train_good_absurd_tiny(workload, GOOD, STEPS)
    chance = 1 - 1 / images.NUM_CLASSES
    assert good.metric("error_rate")[-1] < chance - 0.12
    assert good.metric("error_rate")[-1] < tiny.metric("error_rate")[-1] - 0.1


def test_same_seed_same_curve_other_seed_other_curve(workload):
    wc.check_same_seed_same_curve(workload, GOOD.replace(dropout_rate=0.1), STEPS)


def test_post_ln_variant_differs_only_in_where_layernorm_sits(workload, data):
    variant = get_workload("image_vit_post_ln")
    wc.check_variant_settings(
        workload, variant, ImageViTPostLN, "post_ln", (False, True),
        same=("num_train", "num_valid", "patch_size", "width", "depth", "num_heads", "mlp_dim"),
    )
    p, q = wc.initial_params(workload), wc.initial_params(variant)
    # Post-LN has no final LayerNorm; every other parameter is the same.
    assert set(p) - set(q) == {"encoder_norm"} and set(q) <= set(p)
    assert jax.tree.structure({k: p[k] for k in q}) == jax.tree.structure(q)
    removed, added = wc.check_parameters_differ_only_under(p, q, "encoder_norm")
    assert removed and not added
    head = {
        "kernel": jax.random.normal(jax.random.key(1), p["head"]["kernel"].shape),
        "bias": p["head"]["bias"],
    }
    p, q = {**p, "head": head}, {**q, "head": head}  # nonzero heads, so logits differ
    wc.check_predictions_differ(workload, variant, p, q, wc.rows(data.valid, 4))
