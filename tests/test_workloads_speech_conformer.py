"""speech_conformer: contract, model shapes, evaluation schedule, learning, divergence,
determinism, and the GELU variant."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import checks as wc
from hplists.workloads.registry import get_workload
from hplists.workloads.sequence import depthwise_conv1d, subsample
from hplists.workloads.speech_conformer import SpeechConformer, SpeechConformerGelu

# Tests that train share compiled programs (same step budget) in one worker process.
pytestmark = pytest.mark.xdist_group("speech_conformer")

workload, data = wc.module_fixtures("speech_conformer")


class TestCtcSpeech(wc.CtcSpeechChecks):
    name = "speech_conformer"
    cls = SpeechConformer
    learn_steps = 100
    num_params = (30_000, 100_000)


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


def test_gelu_variant_differs_only_in_its_activation(workload, data):
    variant = get_workload("speech_conformer_gelu")
    wc.check_variant_settings(workload, variant, SpeechConformerGelu, "activation",
                              ("relu", "gelu"),
                              same=("dim", "num_blocks", "data_options", "batching"))
    p, q = workload.init(jax.random.key(0)), variant.init(jax.random.key(0))
    wc.check_same_initial_parameters(p, q)
    batch = wc.rows(data.valid, 3)
    lp = workload.loss_fn(p, batch, None, 0.0, 0.0)
    lq = variant.loss_fn(p, batch, None, 0.0, 0.0)
    assert lp != lq  # same parameters, other activation
