"""Flax pieces shared by the built-in sequence workloads (speech and translation).

They exist because XLA:CPU runs some standard formulations slowly at these
sizes: the backward pass of a dense layer over ``[batch, time, features]``
(a dot over two batch axes) and grouped (depthwise) convolutions. Each piece
computes exactly the standard layer, in a form the CPU runs fast.
"""

from __future__ import annotations

from typing import cast

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Dense", "depthwise_conv1d", "sinusoidal_positions", "subsample"]


class Dense(nn.Dense):
    """``flax.linen.Dense`` applied to the rows of the input flattened to 2-D.

    Same parameters and outputs; XLA:CPU runs the backward pass of a 2-D
    matmul several times faster than that of a dot over two batch axes.
    """

    @nn.compact
    def __call__(self, inputs):
        flat = inputs.reshape(-1, inputs.shape[-1])
        return super().__call__(flat).reshape(*inputs.shape[:-1], self.features)


def sinusoidal_positions(length: int, dim: int) -> np.ndarray:
    """``[length, dim]`` sine/cosine position signal (Vaswani et al., 2017).

    Example:
        >>> sinusoidal_positions(4, 6).shape
        (4, 6)
    """
    half = dim // 2
    inv = np.exp(-np.log(10_000.0) * np.arange(half) / max(half - 1, 1))
    t = np.arange(length)[:, None] * inv[None, :]
    signal = np.concatenate([np.sin(t), np.cos(t)], axis=1)
    return np.pad(signal, ((0, 0), (0, dim % 2))).astype(np.float32)


def subsample(x: jax.Array, paddings: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Frames of a stride-2, width-3 convolution over time, stacked for one matmul.

    Returns ``[b, ceil(t/2), 3f]`` windows ``(x[2s-1], x[2s], x[2s+1])`` (zeros
    outside) and the paddings of the kept frames ``2s``; a dense layer on the
    windows is the strided convolution.

    Example:
        >>> x = jnp.arange(4.0)[None, :, None]
        >>> w, p = subsample(x, jnp.zeros((1, 4)))
        >>> w[0].tolist(), p.shape
        ([[0.0, 0.0, 1.0], [1.0, 2.0, 3.0]], (1, 2))
    """
    t = x.shape[1]
    xp = jnp.pad(x, ((0, 0), (1, 1 + t % 2), (0, 0)))
    windows = jnp.concatenate([xp[:, i : i + t + t % 2 : 2] for i in range(3)], axis=-1)
    return windows, paddings[:, ::2]


def depthwise_conv1d(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """Depthwise 1-D convolution over time with 'SAME' padding: ``y[t, c] = sum_i k[i, c] x[t+i-r, c]``.

    Written as shifted multiply-adds: XLA:CPU's grouped convolution is two
    orders of magnitude slower at these sizes.

    Example:
        >>> x = jnp.arange(5.0)[None, :, None]
        >>> depthwise_conv1d(x, jnp.ones((3, 1)))[0, :, 0].tolist()
        [1.0, 3.0, 6.0, 9.0, 7.0]
    """
    width = kernel.shape[0]
    left = (width - 1) // 2
    xp = jnp.pad(x, ((0, 0), (left, width - 1 - left), (0, 0)))
    t = x.shape[1]
    # an Array: width >= 1 (sum starts from the int 0, kept so that -0.0 sums as before)
    return cast(jax.Array, sum(xp[:, i : i + t] * kernel[i] for i in range(width)))
