"""speech_rnn: contract, model shapes, evaluation schedule, learning, divergence,
determinism, and the tanh variant."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from helpers import checks as wc
from hplists.workloads.registry import get_workload
from hplists.workloads.speech_rnn import BiLSTM, SpeechRNN, SpeechRNNTanh

# Tests that train share compiled programs (same step budget) in one worker process.
pytestmark = pytest.mark.xdist_group("speech_rnn")

workload, data = wc.module_fixtures("speech_rnn")


class TestCtcSpeech(wc.CtcSpeechChecks):
    name = "speech_rnn"
    cls = SpeechRNN
    learn_steps = 400  # batch 8: the small model needs more steps to learn
    num_params = (20_000, 60_000)


def _lstm_reference(params, x, valid, reverse):
    """Textbook LSTM (gates i, f, g, o; forget bias +1) over the valid frames of one sequence."""
    h = c = np.zeros(params["w_hh"].shape[1])
    w_in = params["fwd_in" if not reverse else "bwd_in"]
    w_hh = np.asarray(params["w_hh"][int(reverse)])
    out = np.zeros((len(x), len(h)))
    steps = range(len(x))[::-1] if reverse else range(len(x))
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    for t in steps:
        if not valid[t]:
            continue
        z = x[t] @ np.asarray(w_in["kernel"]) + np.asarray(w_in["bias"]) + h @ w_hh
        i, f, g, o = np.split(z, 4)
        c = sig(f + 1.0) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(c)
        out[t] = h
    return out


def test_bidirectional_lstm_matches_a_textbook_loop_and_ignores_padding():
    m = BiLSTM(hidden=3)
    x = np.asarray(jax.random.normal(jax.random.key(0), (2, 6, 4)))
    pad = np.array([[0.0] * 6, [0.0] * 4 + [1.0] * 2])
    params = m.init(jax.random.key(1), x, pad)
    y = np.asarray(m.apply(params, x, pad))
    p = jax.tree.map(np.asarray, params["params"])
    for b in range(2):
        valid = pad[b] == 0
        ref = _lstm_reference(p, x[b], valid, False) + _lstm_reference(p, x[b], valid, True)
        np.testing.assert_allclose(y[b], ref, rtol=1e-4, atol=1e-5)
    # Whatever sits in padded frames does not change the valid outputs.
    x2 = x.copy()
    x2[1, 4:] = 100.0
    np.testing.assert_allclose(np.asarray(m.apply(params, x2, pad)), y, rtol=1e-6, atol=1e-6)


def test_tanh_variant_differs_only_in_its_activation(workload, data):
    variant = get_workload("speech_rnn_tanh")
    wc.check_variant_settings(workload, variant, SpeechRNNTanh, "activation", ("relu", "tanh"),
                              same=("data_options", "batching"))
    p, q = workload.init(jax.random.key(0)), variant.init(jax.random.key(0))
    wc.check_same_initial_parameters(p, q)
    batch = wc.rows(data.valid, 3)
    lp = workload.loss_fn(p, batch, None, 0.0, 0.0)
    lq = variant.loss_fn(p, batch, None, 0.0, 0.0)
    assert lp != lq  # same parameters, other activation
