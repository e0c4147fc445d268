"""Pieces shared by the built-in JAX workloads: per-point regularizers and losses.

The engine vmaps a workload over hyperparameter points, so a point's
``dropout_rate`` and ``label_smoothing`` are traced scalars here. Flax's
``nn.Dropout`` branches on its rate in Python and cannot take them; these
functions can.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

__all__ = ["dropout", "sigmoid_cross_entropy", "softmax_cross_entropy"]


def dropout(x: jax.Array, rate: Any, rng: jax.Array | None) -> jax.Array:
    """Inverted dropout with a (possibly traced) ``rate``; identity when ``rng`` is None.

    Each element is kept with probability ``1 - rate`` and scaled by
    ``1 / (1 - rate)``, so the expectation is unchanged. ``rate = 0`` is exact
    identity (the mask is all ones).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> y = dropout(jnp.ones(1000), 0.1, jax.random.key(0))
        >>> bool(jnp.all((y == 0) | jnp.isclose(y, 1 / 0.9)))
        True
        >>> bool(jnp.all(dropout(jnp.ones(3), 0.5, None) == 1))
        True
    """
    if rng is None:
        return x
    keep = 1.0 - jnp.asarray(rate, dtype=x.dtype)
    mask = jax.random.uniform(rng, x.shape) < keep
    return jnp.where(mask, x / keep, jnp.zeros_like(x))


def softmax_cross_entropy(
    logits: jax.Array,
    labels: jax.Array,
    label_smoothing: Any = 0.0,
    where: jax.Array | None = None,
) -> jax.Array:
    """Mean cross-entropy of integer ``labels`` with label smoothing.

    The smoothed target is ``(1 - s) * onehot + s / num_classes`` (as AlgoPerf's
    workloads and ``optax.smooth_labels`` define it). ``where`` masks out
    positions (e.g. padding tokens) from the mean.

    Example:
        >>> import jax.numpy as jnp
        >>> round(float(softmax_cross_entropy(jnp.zeros((2, 4)), jnp.array([0, 1]))), 4)
        1.3863
    """
    num_classes = logits.shape[-1]
    onehot = jax.nn.one_hot(labels, num_classes, dtype=logits.dtype)
    s = jnp.asarray(label_smoothing, dtype=logits.dtype)
    targets = (1.0 - s) * onehot + s / num_classes
    losses = optax.softmax_cross_entropy(logits, targets)
    if where is None:
        return jnp.mean(losses)
    where = where.astype(losses.dtype)
    return jnp.sum(losses * where) / jnp.maximum(jnp.sum(where), 1.0)


def sigmoid_cross_entropy(
    logits: jax.Array,
    labels: jax.Array,
    label_smoothing: Any = 0.0,
    where: jax.Array | None = None,
) -> jax.Array:
    """Mean binary cross-entropy of 0/1 ``labels`` with label smoothing.

    Smoothed targets are ``(1 - s) * y + s / 2``. ``where`` masks out missing
    labels (as in OGBG-molpcba) from the mean.

    Example:
        >>> import jax.numpy as jnp
        >>> round(float(sigmoid_cross_entropy(jnp.zeros(3), jnp.array([0., 1., 1.]))), 4)
        0.6931
    """
    s = jnp.asarray(label_smoothing, dtype=logits.dtype)
    targets = (1.0 - s) * labels.astype(logits.dtype) + s / 2.0
    losses = optax.sigmoid_binary_cross_entropy(logits, targets)
    if where is None:
        return jnp.mean(losses)
    where = where.astype(losses.dtype)
    return jnp.sum(losses * where) / jnp.maximum(jnp.sum(where), 1.0)
