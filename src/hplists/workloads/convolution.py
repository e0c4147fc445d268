"""2-D convolutions as one matrix product (im2col), for the small image models on XLA:CPU.

XLA:CPU runs the small convolutions of the built-in workloads (a few to a few
dozen channels on 16x16 to 32x32 images) far below its matmul speed: a small
ResNet trained about 8x faster with :func:`conv2d` below than with
``flax.linen.Conv`` (``lax.conv_general_dilated``) on this project's 2-core
machine, and the gap holds under ``jax.vmap`` over points, where a batched
matmul stays a batched matmul. The modules here are drop-in replacements for
``flax.linen.Conv`` and ``flax.linen.ConvTranspose`` with the same parameter
names, shapes and initializers, so parameters are interchangeable.

For an input ``x`` (..., H, W, C_in) and a kernel ``k`` (kh, kw, C_in, C_out)

    y[..., p, q, o] = sum_{i, j, c} x_pad[..., p*sh + i, q*sw + j, c] * k[i, j, c, o]

with ``SAME`` padding split as ``lax`` splits it (the extra pixel goes after).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from hplists._check import check_choice, check_int
from hplists.exceptions import InvalidParameterError

__all__ = ["Conv", "ConvTranspose2x2", "conv2d", "conv_transpose_2x2"]


def _same_pads(size: int, k: int, s: int) -> tuple[int, int]:
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def conv2d(
    x: jax.Array,
    kernel: jax.Array,
    strides: int | Sequence[int] = 1,
    padding: str = "SAME",
) -> jax.Array:
    """Cross-correlation of ``x`` (..., H, W, C_in) with ``kernel`` (kh, kw, C_in, C_out).

    Same result as ``lax.conv_general_dilated`` with NHWC/HWIO layouts (as
    ``flax.linen.Conv`` calls it), computed as patches @ kernel.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> x = jax.random.normal(jax.random.key(0), (2, 9, 9, 3))
        >>> k = jax.random.normal(jax.random.key(1), (3, 3, 3, 4))
        >>> ref = jax.lax.conv_general_dilated(x, k, (2, 2), "SAME",
        ...                                    dimension_numbers=("NHWC", "HWIO", "NHWC"))
        >>> bool(jnp.allclose(conv2d(x, k, 2), ref, atol=1e-5))
        True
    """
    padding = check_choice("padding", padding, ("SAME", "VALID"))
    sh, sw = (strides, strides) if isinstance(strides, int) else tuple(strides)
    sh, sw = check_int("strides[0]", sh, low=1), check_int("strides[1]", sw, low=1)
    kh, kw, cin, cout = kernel.shape
    if x.shape[-1] != cin:
        raise InvalidParameterError(f"x has {x.shape[-1]} channels but the kernel expects {cin}")
    h, w = x.shape[-3], x.shape[-2]
    if padding == "SAME":
        (ph0, ph1), (pw0, pw1) = _same_pads(h, kh, sh), _same_pads(w, kw, sw)
        pad = [(0, 0)] * (x.ndim - 3) + [(ph0, ph1), (pw0, pw1), (0, 0)]
        x = jnp.pad(x, pad)
        h, w = h + ph0 + ph1, w + pw0 + pw1
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    if kh == kw == 1:
        patches = x[..., : (oh - 1) * sh + 1 : sh, : (ow - 1) * sw + 1 : sw, :]
    else:
        patches = jnp.concatenate(
            [
                x[..., i : i + (oh - 1) * sh + 1 : sh, j : j + (ow - 1) * sw + 1 : sw, :]
                for i in range(kh)
                for j in range(kw)
            ],
            axis=-1,
        )
    return patches @ kernel.reshape(kh * kw * cin, cout)


def conv_transpose_2x2(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """Transposed convolution with a 2x2 kernel and stride 2: (..., H, W, C) -> (..., 2H, 2W, C').

    Each input pixel paints its own 2x2 output block, ``y[2p + i, 2q + j] =
    x[p, q] @ kernel[1 - i, 1 - j]``: the same result as
    ``flax.linen.ConvTranspose`` with ``kernel_size=(2, 2), strides=(2, 2)``
    (``lax.conv_transpose`` with ``SAME`` padding, which convolves with the
    kernel as stored, hence the flip).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> x = jax.random.normal(jax.random.key(0), (1, 3, 3, 2))
        >>> k = jax.random.normal(jax.random.key(1), (2, 2, 2, 5))
        >>> ref = jax.lax.conv_transpose(x, k, (2, 2), "SAME",
        ...                              dimension_numbers=("NHWC", "HWIO", "NHWC"))
        >>> bool(jnp.allclose(conv_transpose_2x2(x, k), ref, atol=1e-5))
        True
    """
    if kernel.shape[:2] != (2, 2):
        raise InvalidParameterError(f"kernel must have shape (2, 2, C_in, C_out), got {kernel.shape}")
    *lead, h, w, _ = x.shape
    cout = kernel.shape[-1]
    y = jnp.einsum("...hwc,ijco->...hiwjo", x, kernel[::-1, ::-1])
    return y.reshape(*lead, 2 * h, 2 * w, cout)


class Conv(nn.Module):
    """Drop-in for ``flax.linen.Conv`` (2-D, NHWC) computed by :func:`conv2d`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> x = jnp.ones((2, 8, 8, 3))
        >>> params = Conv(4, (3, 3)).init(jax.random.key(0), x)
        >>> Conv(4, (3, 3), strides=2).apply(params, x).shape
        (2, 4, 4, 4)
    """

    features: int
    kernel_size: Sequence[int] = (3, 3)
    strides: int | Sequence[int] = 1
    padding: str = "SAME"
    use_bias: bool = True
    kernel_init: Callable[..., Any] = nn.initializers.lecun_normal()
    bias_init: Callable[..., Any] = nn.initializers.zeros_init()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kh, kw = self.kernel_size
        kernel = self.param("kernel", self.kernel_init, (kh, kw, x.shape[-1], self.features))
        y = conv2d(x, kernel, self.strides, self.padding)
        if self.use_bias:
            y = y + self.param("bias", self.bias_init, (self.features,))
        return y


class ConvTranspose2x2(nn.Module):
    """Drop-in for ``flax.linen.ConvTranspose(features, (2, 2), strides=(2, 2))``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> x = jnp.ones((1, 4, 4, 8))
        >>> m = ConvTranspose2x2(3, use_bias=False)
        >>> m.apply(m.init(jax.random.key(0), x), x).shape
        (1, 8, 8, 3)
    """

    features: int
    use_bias: bool = True
    kernel_init: Callable[..., Any] = nn.initializers.lecun_normal()
    bias_init: Callable[..., Any] = nn.initializers.zeros_init()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.param("kernel", self.kernel_init, (2, 2, x.shape[-1], self.features))
        y = conv_transpose_2x2(x, kernel)
        if self.use_bias:
            y = y + self.param("bias", self.bias_init, (self.features,))
        return y
