"""``speech_conformer``: a small Conformer transcribing the speech-like corpus with CTC.

The CPU-scale analog of AlgoPerf's LibriSpeech Conformer. The model follows
Gulati et al. (2020) and AlgoPerf's ``librispeech_jax/models.py``:

* a strided convolution over time (width 3, stride 2, 64 channels, ReLU)
  subsamples by 2, then a dense projection to the model width and sinusoidal
  positions;
* Conformer blocks ``x += FFN(x)/2; x += MHSA(x); x += Conv(x); x += FFN(x)/2;
  x = LayerNorm(x)``, where the convolution module is LayerNorm, pointwise
  GLU, depthwise convolution, normalization, activation, pointwise projection;
* a final LayerNorm and a dense layer to the CTC labels.

Differences at this scale: no SpecAugment; AlgoPerf's 2-D subsampling
convolutions become one 1-D convolution over time; the normalization inside
the convolution module is LayerNorm rather than batch norm (the workload
contract has no mutable state); one dropout rate (the point's
``dropout_rate``) for the input and every residual branch, and no dropout
inside the feed-forward modules (AlgoPerf gives that one its own fixed rate;
on a CPU its random numbers cost a sixth of a training step).

The activation of the feed-forward and convolution modules (where AlgoPerf's
``activation_function_name`` acts) is the class attribute
:attr:`SpeechConformer.activation`: ``"relu"`` here and ``"gelu"`` in the
variant ``speech_conformer_gelu``, the change paper 001's Table 3 names
(AlgoPerf's own base uses swish).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from hplists._check import check_choice
from hplists.workloads.layers import dropout
from hplists.workloads.registry import register
from hplists.workloads.sequence import Dense, depthwise_conv1d, sinusoidal_positions, subsample
from hplists.workloads.speech import SpeechWorkload

__all__ = ["Conformer", "SpeechConformer", "SpeechConformerGelu"]

ACTIVATIONS = {"relu": nn.relu, "gelu": nn.gelu, "swish": nn.swish}


def _key(rng: jax.Array | None, i: int) -> jax.Array | None:
    return None if rng is None else jax.random.fold_in(rng, i)


class _FeedForward(nn.Module):
    dim: int
    expansion: int
    activation: str

    @nn.compact
    def __call__(self, x, mask, rate, rng):
        y = nn.LayerNorm()(x)
        y = ACTIVATIONS[self.activation](Dense(self.dim * self.expansion)(y))
        y = Dense(self.dim)(y) * mask
        return dropout(y, rate, rng)


class _SelfAttention(nn.Module):
    dim: int
    heads: int

    @nn.compact
    def __call__(self, x, paddings, rate, rng):
        b, t, _ = x.shape
        y = nn.LayerNorm()(x)
        q, k, v = jnp.split(Dense(3 * self.dim)(y).reshape(b, t, 3 * self.heads, -1), 3, 2)
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(q.shape[-1])
        logits = jnp.where(paddings[:, None, None, :] > 0, -1e9, logits)
        y = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(logits, axis=-1), v)
        y = Dense(self.dim)(y.reshape(b, t, self.dim))
        return dropout(y, rate, rng)


class _ConvModule(nn.Module):
    dim: int
    kernel: int
    activation: str

    @nn.compact
    def __call__(self, x, mask, rate, rng):
        y = nn.LayerNorm()(x)
        y = nn.glu(Dense(2 * self.dim)(y)) * mask
        k = self.param("depthwise", nn.initializers.lecun_normal(), (self.kernel, self.dim))
        y = depthwise_conv1d(y, k)
        y = ACTIVATIONS[self.activation](nn.LayerNorm()(y))
        y = Dense(self.dim)(y)
        return dropout(y, rate, rng)


class Conformer(nn.Module):
    """Conformer encoder with a CTC output layer.

    ``__call__(inputs [b, t, f], input_paddings [b, t], dropout_rate, rng)``
    returns ``(logits [b, t/2, vocab], paddings [b, t/2])``; ``rng=None``
    disables dropout.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> m = Conformer(vocab_size=5, dim=16, heads=2, num_blocks=1, channels=4)
        >>> x, pad = jnp.zeros((2, 10, 8)), jnp.zeros((2, 10))
        >>> params = m.init(jax.random.key(0), x, pad, 0.0, None)
        >>> [a.shape for a in m.apply(params, x, pad, 0.0, None)]
        [(2, 5, 5), (2, 5)]
    """

    vocab_size: int
    dim: int = 32
    heads: int = 4
    num_blocks: int = 2
    expansion: int = 4
    kernel: int = 5
    channels: int = 64
    activation: str = "relu"

    @nn.compact
    def __call__(self, inputs, input_paddings, dropout_rate, rng):
        check_choice("activation", self.activation, tuple(ACTIVATIONS))
        y, paddings = subsample(inputs, input_paddings)
        y = nn.relu(Dense(self.channels)(y))
        mask = (1.0 - paddings)[..., None]
        y = Dense(self.dim)(y)
        y = y + sinusoidal_positions(y.shape[1], self.dim)
        y = dropout(y, dropout_rate, _key(rng, 0)) * mask
        for i in range(self.num_blocks):
            r = _key(rng, i + 1)
            ff = _FeedForward(self.dim, self.expansion, self.activation)
            y = y + 0.5 * ff(y, mask, dropout_rate, _key(r, 0))
            y = y + _SelfAttention(self.dim, self.heads)(y, paddings, dropout_rate, _key(r, 1))
            y = y + _ConvModule(self.dim, self.kernel, self.activation)(
                y, mask, dropout_rate, _key(r, 2)
            )
            ff = _FeedForward(self.dim, self.expansion, self.activation)
            y = y + 0.5 * ff(y, mask, dropout_rate, _key(r, 3))
            y = nn.LayerNorm()(y) * mask
        y = nn.LayerNorm()(y)
        return Dense(self.vocab_size)(y), paddings


@register
class SpeechConformer(SpeechWorkload):
    """Small Conformer + CTC on the speech-like corpus; validation WER (lower is better).

    Example:
        >>> from hplists.workloads.registry import get_workload
        >>> w = get_workload("speech_conformer")
        >>> w.metric.name, w.metric.mode, w.activation
        ('wer', 'min', 'relu')
    """

    name: ClassVar[str] = "speech_conformer"
    # Version 2 trains on 8192 utterances (version 1: 2048): with 2048 only 1 of the 200
    # nadamw-broad points reached the target set by the procedure (Table 4 needs 1% to
    # 15%); strong regularization (lr * weight decay) was the only way to it.
    version: ClassVar[str] = "2"
    model: ClassVar[str] = (
        "Conformer: 2x subsampling conv, 2 blocks of width 32 (4 heads, FFN x4, depthwise "
        "conv k=5), ReLU"
    )
    step_budget: ClassVar[int] = 400
    batch_size: ClassVar[int] = 32
    activation: ClassVar[str] = "relu"
    dim: ClassVar[int] = 32
    num_blocks: ClassVar[int] = 2
    batching: ClassVar[str] = "processes"
    data_options: ClassVar[Mapping[str, Any]] = {"num_train": 8192}

    def network(self) -> Any:
        return Conformer(
            vocab_size=self.vocab_size,
            dim=self.dim,
            num_blocks=self.num_blocks,
            activation=self.activation,
        )


@register
class SpeechConformerGelu(SpeechConformer):
    """``speech_conformer`` with GELU instead of ReLU (paper 001, Table 3)."""

    name: ClassVar[str] = "speech_conformer_gelu"
    base: ClassVar[str | None] = "speech_conformer"
    model: ClassVar[str] = SpeechConformer.model.replace("ReLU", "GELU")
    activation: ClassVar[str] = "gelu"
