"""im2col convolutions agree with lax/flax convolutions (values, gradients, parameters)."""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hplists.workloads.convolution import Conv, ConvTranspose2x2, conv2d, conv_transpose_2x2

# Jitted so that each case compiles once instead of once per primitive.
_conv2d = jax.jit(conv2d, static_argnums=(2, 3))


@functools.partial(jax.jit, static_argnums=(2, 3))
def _lax_conv(x, k, strides, padding):
    return jax.lax.conv_general_dilated(
        x, k, strides, padding, dimension_numbers=("NHWC", "HWIO", "NHWC")
    )


@pytest.mark.parametrize(
    ("h", "w", "k", "s", "padding", "cin", "seed"),
    [
        (8, 8, 3, 1, "SAME", 3, 0),
        (8, 8, 3, 2, "SAME", 2, 1),  # even size, stride 2: the extra padding pixel goes after
        (9, 7, 3, 2, "SAME", 1, 2),
        (7, 10, 5, 3, "SAME", 2, 3),
        (6, 6, 2, 2, "SAME", 4, 4),
        (8, 8, 1, 2, "SAME", 3, 5),
        (9, 8, 3, 1, "VALID", 2, 6),
        (11, 9, 5, 2, "VALID", 1, 7),
    ],
)
def test_conv2d_matches_lax_for_shapes_strides_and_paddings(h, w, k, s, padding, cin, seed):
    kx, kk = jax.random.split(jax.random.key(seed))
    x = jax.random.normal(kx, (2, h, w, cin))
    kernel = jax.random.normal(kk, (k, k, cin, 3))
    ref = _lax_conv(x, kernel, (s, s), padding)
    out = _conv2d(x, kernel, s, padding)
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_conv2d_gradients_match_lax():
    x = jax.random.normal(jax.random.key(0), (3, 8, 8, 4))
    kernel = jax.random.normal(jax.random.key(1), (3, 3, 4, 5))

    def loss(f, x, k):
        return jnp.sum(jnp.sin(f(x, k)))

    ours = jax.jit(jax.grad(lambda x, k: loss(lambda a, b: conv2d(a, b, 2), x, k), (0, 1)))
    ref = jax.jit(
        jax.grad(lambda x, k: loss(lambda a, b: _lax_conv(a, b, (2, 2), "SAME"), x, k), (0, 1))
    )
    for a, b in zip(ours(x, kernel), ref(x, kernel), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_conv2d_takes_extra_leading_axes_as_vmap_would():
    x = jax.random.normal(jax.random.key(0), (2, 3, 6, 6, 2))
    kernel = jax.random.normal(jax.random.key(1), (3, 3, 2, 4))
    direct = jax.jit(conv2d)(x, kernel)
    mapped = jax.jit(jax.vmap(lambda a: conv2d(a, kernel)))(x)
    np.testing.assert_allclose(direct, mapped, rtol=1e-6, atol=1e-6)


def test_conv2d_rejects_bad_arguments_by_name():
    x, k = jnp.ones((1, 4, 4, 2)), jnp.ones((3, 3, 3, 1))
    with pytest.raises(ValueError, match="kernel expects 3"):
        conv2d(x, k)
    with pytest.raises(ValueError, match="padding"):
        conv2d(x, jnp.ones((3, 3, 2, 1)), padding="FULL")
    with pytest.raises(ValueError, match=r"strides\[0\]"):
        conv2d(x, jnp.ones((3, 3, 2, 1)), strides=0)


def test_conv_module_is_a_drop_in_for_flax_conv():
    x = jax.random.normal(jax.random.key(0), (2, 8, 8, 3))
    ours, ref = Conv(6, (3, 3), strides=2), nn.Conv(6, (3, 3), strides=2)
    p, q = ours.init(jax.random.key(1), x), ref.init(jax.random.key(1), x)
    assert jax.tree.map(jnp.shape, p) == jax.tree.map(jnp.shape, q)
    for a, b in zip(jax.tree.leaves(p), jax.tree.leaves(q), strict=True):
        np.testing.assert_array_equal(a, b)  # same initializers, same keys
    np.testing.assert_allclose(
        jax.jit(ours.apply)(p, x), jax.jit(ref.apply)(p, x), rtol=1e-5, atol=1e-5
    )


def test_conv_transpose_matches_flax_conv_transpose():
    x = jax.random.normal(jax.random.key(0), (2, 4, 5, 3))
    ours = ConvTranspose2x2(4)
    ref = nn.ConvTranspose(4, (2, 2), strides=(2, 2))
    p = ours.init(jax.random.key(1), x)
    assert jax.tree.map(jnp.shape, p) == jax.tree.map(jnp.shape, ref.init(jax.random.key(1), x))
    p = jax.tree.map(lambda a: jax.random.normal(jax.random.key(2), a.shape), p)  # nonzero bias
    out = jax.jit(ours.apply)(p, x)
    assert out.shape == (2, 8, 10, 4)
    np.testing.assert_allclose(out, jax.jit(ref.apply)(p, x), rtol=1e-5, atol=1e-5)


def test_conv_transpose_paints_each_pixel_into_its_own_block():
    x = jnp.zeros((1, 2, 2, 1)).at[0, 1, 0, 0].set(1.0)
    kernel = jnp.arange(4.0).reshape(2, 2, 1, 1)
    y = conv_transpose_2x2(x, kernel)[0, :, :, 0]
    assert y[:2].sum() == 0 and y[:, 2:].sum() == 0  # only the block of pixel (1, 0)
    np.testing.assert_array_equal(y[2:, :2], kernel[::-1, ::-1, 0, 0])
    with pytest.raises(ValueError, match="kernel must have shape"):
        conv_transpose_2x2(x, jnp.ones((3, 3, 1, 1)))
