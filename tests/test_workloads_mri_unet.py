"""mri_unet: phantoms and k-space masks, SSIM, U-Net shapes, schedule, learning, divergence, variant."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import checks as wc
from hplists import HParams
from hplists.workloads import phantoms
from hplists.workloads.mri_unet import MriUNet, MriUNetLayerNorm, instance_norm
from hplists.workloads.registry import get_workload
from hplists.workloads.ssim import structural_similarity

GOOD = HParams(5e-3, 0.9, 0.98, weight_decay=0.01, warmup_fraction=0.05)
STEPS = 150  # one shortened budget for every test: the program compiles once

workload, data = wc.module_fixtures("mri_unet")


def _ssim_zero_filled(split):
    m, s = split["mean"][:, None, None], split["std"][:, None, None]
    return structural_similarity(split["input"] * s + m, split["target"] * s + m, split["max"])


def test_registered_with_its_contract(workload):
    # L1 has no label smoothing.
    wc.check_contract(workload, "mri_unet", MriUNet, "ssim", "max", {"dropout"})
    assert workload.norm == "instance"


def test_random_mask_keeps_the_centre_and_samples_a_quarter_on_average():
    rng = np.random.default_rng(0)
    masks = np.stack([phantoms.random_cartesian_mask(32, rng) for _ in range(2000)])
    assert masks[:, 15:18].all()  # round(32 * 0.08) = 3 central columns, always
    assert masks.mean() == pytest.approx(1 / 4, abs=0.01)  # 4x acceleration
    assert not masks[:, :15].all(axis=0).any()  # outer columns are random


def test_zero_filling_with_a_full_mask_recovers_the_image():
    img = phantoms.phantom(32, np.random.default_rng(1))
    kspace = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(img), norm="ortho"))
    np.testing.assert_allclose(
        phantoms.zero_filled(kspace, np.ones(32, bool)), np.abs(img), atol=1e-12
    )
    mask = phantoms.random_cartesian_mask(32, np.random.default_rng(2))
    assert not np.allclose(phantoms.zero_filled(kspace, mask), np.abs(img), atol=1e-2)


def test_data_are_normalized_as_fastmri_does(workload, data):
    tr = data.train
    assert tr["input"].shape == (workload.num_train, 32, 32) and tr["input"].dtype == np.float32
    assert data.valid["target"].shape == (workload.num_valid, 32, 32)
    np.testing.assert_allclose(tr["input"].mean(axis=(1, 2)), 0.0, atol=0.05)
    assert np.all(np.abs(tr["input"]) <= 6) and np.all(np.abs(tr["target"]) <= 6)
    # The target is de-normalized with the input's statistics and peaks at `max`
    # (lower where clipping at 6 cut its peak, as in fastMRI and AlgoPerf).
    peak = (tr["target"] * tr["std"][:, None, None] + tr["mean"][:, None, None]).max(axis=(1, 2))
    clipped = tr["target"].max(axis=(1, 2)) == 6
    np.testing.assert_allclose(peak[~clipped], tr["max"][~clipped], rtol=1e-4)
    assert np.all(peak[clipped] <= tr["max"][clipped]) and clipped.mean() < 0.15
    # Undersampling loses information: zero-filled inputs are far from the targets.
    ssim = _ssim_zero_filled(data.valid)
    assert 0.3 < ssim.mean() < 0.65


def test_data_is_deterministic_in_the_seed(tmp_path, monkeypatch):
    monkeypatch.setenv("HPLISTS_CACHE_DIR", str(tmp_path))
    a = phantoms.kspace_dataset(5, num_train=6, num_valid=3)
    b = phantoms.kspace_dataset(5, num_train=6, num_valid=3)  # from the cache
    c = phantoms.kspace_dataset(6, num_train=6, num_valid=3)
    for k in a.train:
        np.testing.assert_array_equal(a.train[k], b.train[k])
    assert not np.array_equal(a.train["input"], c.train["input"])
    with pytest.raises(ValueError, match="acceleration"):
        phantoms.kspace_dataset(0, acceleration=0)


def _ssim_by_windows(x, y, data_range, win=7):
    """Direct transcription of the definition: one 7x7 window at a time."""
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    r = win // 2
    vals = []
    for i in range(r, x.shape[0] - r):
        for j in range(r, x.shape[1] - r):
            a = x[i - r : i + r + 1, j - r : j + r + 1].ravel()
            b = y[i - r : i + r + 1, j - r : j + r + 1].ravel()
            cov = np.cov(a, b)  # sample (co)variances, n - 1
            num = (2 * a.mean() * b.mean() + c1) * (2 * cov[0, 1] + c2)
            den = (a.mean() ** 2 + b.mean() ** 2 + c1) * (cov[0, 0] + cov[1, 1] + c2)
            vals.append(num / den)
    return np.mean(vals)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 1.0), st.integers(7, 13))
def test_ssim_matches_the_windowed_definition(seed, noise, size):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(size, size + 2))
    y = x + noise * rng.normal(size=x.shape)
    assert structural_similarity(x, y, 2.0) == pytest.approx(_ssim_by_windows(x, y, 2.0))


def test_ssim_properties_and_validation():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(3, 16, 16))
    y = x + 0.1 * rng.normal(size=x.shape)
    np.testing.assert_allclose(structural_similarity(x, x, 1.0), 1.0)
    np.testing.assert_allclose(structural_similarity(x, y, 1.0), structural_similarity(y, x, 1.0))
    per_image = structural_similarity(x, y, np.array([1.0, 2.0, 3.0]))
    assert per_image.shape == (3,)
    assert per_image[0] == pytest.approx(structural_similarity(x[0], y[0], 1.0))
    with pytest.raises(ValueError, match="win_size must be odd"):
        structural_similarity(x, y, 1.0, win_size=6)
    with pytest.raises(ValueError, match="data_range"):
        structural_similarity(x, y, 0.0)
    with pytest.raises(ValueError, match="one shape"):
        structural_similarity(x, y[:2], 1.0)


def test_instance_norm_normalizes_each_channel_of_each_image():
    x = jax.random.normal(jax.random.key(0), (2, 8, 8, 3)) * jnp.array([1.0, 5.0, 0.1]) + 2.0
    y = instance_norm(x)
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=(1, 2)), 1.0, atol=1e-3)


def test_model_shapes_and_size(workload, data):
    params = wc.initial_params(workload)
    wc.check_model_shapes(workload, params, wc.rows(data.valid, 3), (3, 32, 32),
                          dropout_rate=0.1, label_smoothing=0.0, num_params=(5_000, 50_000),
                          run_predict=False)


def test_dropout_reaches_the_loss_label_smoothing_does_not(workload, data):
    params = wc.initial_params(workload)
    wc.check_regularizers_reach_the_loss(workload, params, wc.rows(data.valid, 3))


def test_scores_are_ssim_and_l1_of_denormalized_reconstructions(workload, data):
    v = data.valid
    scores = workload.score(v["input"], v)  # the zero-filled input as the "reconstruction"
    assert scores["ssim"] == pytest.approx(np.mean(_ssim_zero_filled(v)))
    assert scores["l1"] == pytest.approx(np.mean(np.abs(v["input"] - v["target"])), rel=1e-5)
    assert workload.score(v["target"], v)["ssim"] == pytest.approx(1.0)
    assert np.isnan(workload.score(np.full_like(v["input"], np.nan), v)["ssim"])


@pytest.mark.slow
def test_good_point_beats_zero_filling_and_absurd_lr_diverges_alone(workload, data):
    good, tiny = wc.train_good_absurd_tiny(workload, GOOD, STEPS)
    baseline = float(np.mean(_ssim_zero_filled(data.valid)))
    assert good.metric("ssim")[-1] > baseline + 0.15
    assert tiny.metric("ssim")[-1] < baseline


def test_same_seed_same_curve_other_seed_other_curve(workload):
    wc.check_same_seed_same_curve(workload, GOOD.replace(dropout_rate=0.1), STEPS)


def test_layernorm_variant_differs_only_in_its_normalization(workload, data):
    variant = get_workload("mri_unet_layernorm")
    wc.check_variant_settings(workload, variant, MriUNetLayerNorm, "norm", ("instance", "layer"),
                              same=("num_train", "num_valid", "channels", "num_pool_layers"))
    p, q = wc.initial_params(workload), wc.initial_params(variant)
    # Only the learnable LayerNorm scale and bias are new; every conv is unchanged.
    removed, added = wc.check_parameters_differ_only_under(p, q, "LayerNorm")
    assert not removed and added
    wc.check_predictions_differ(workload, variant, p, q, wc.rows(data.valid, 2))
