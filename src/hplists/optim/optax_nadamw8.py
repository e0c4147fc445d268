"""NAdamW for JAX with 8-bit block-wise moments: ``optax.nadamw`` with its state quantized.

The rule is ``optax.nadamw``'s chain (optax ``_src/alias.py``: ``adamw(...,
nesterov=True)``) with ``scale_by_adam`` wrapped by :func:`scale_by_nadam_8bit`::

    chain(scale_by_nadam_8bit(b1, b2, eps, eps_root), add_decayed_weights(wd, mask),
          scale_by_learning_rate(schedule))

Each update dequantizes the stored moments, runs ``optax.scale_by_adam(b1, b2,
eps, eps_root, nesterov=True)`` itself on them (so the formulas are optax's:
:mod:`hplists.optim.optax_nadamw`), takes the update it computes from the new,
unquantized moments, and quantizes those for storage. A leaf of at least
:data:`~hplists.optim.blockwise_quant.MIN_8BIT_SIZE` = 4096 elements keeps
each moment as :class:`Blockwise8` (``uint8`` codes of the leaf's shape, of
the signed map for ``mu`` and the unsigned one for ``nu``, and a float32
absmax per block of 2048 elements: Dettmers et al. 2021,
:mod:`hplists.optim.blockwise_quant`); smaller leaves keep optax's own
moments. The codes are the ones :class:`hplists.optim.torch_nadamw.NAdamW`
(``state_bits=8``) computes for the same values, but for values below float32's
smallest normal number (1.2e-38) times their block's absmax: XLA:CPU flushes
those to 0 (code 0, where PyTorch stores a positive second moment as the
unsigned map's smallest value).

The rule is registered as ``nadamw8`` (:mod:`hplists.optim.rules`), so the
training engine trains with it; it works under ``jax.vmap`` with traced
hyperparameters (the quantization has no data-dependent shapes). Measured
agreement with ``optax.nadamw``: ``tests/test_optim_nadamw8bit.py`` and
``docs/8bit.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import optax

from hplists._check import check_int
from hplists.optim._traced import require, warmup
from hplists.optim.blockwise_quant import (
    BLOCK_SIZE,
    MIN_8BIT_SIZE,
    dequantize_blockwise,
    quantize_blockwise,
)
from hplists.optim.schedule import warmup_cosine_factor

__all__ = ["HYPERPARAMETERS", "Blockwise8", "ScaleByNadam8State", "rule", "scale_by_nadam_8bit",
           "state_bytes"]

# Keys the rule reads (besides warmup_fraction or warmup_steps); eps defaults to 1e-8.
HYPERPARAMETERS = ("learning_rate", "beta1", "beta2", "weight_decay")


class Blockwise8(NamedTuple):
    """One moment of one leaf: ``uint8`` codes (the leaf's shape) and the float32 absmax of
    each block."""

    codes: Any
    absmax: Any


class ScaleByNadam8State(NamedTuple):
    """``optax.ScaleByAdamState`` with :class:`Blockwise8` moments for large leaves."""

    count: Any
    mu: Any
    nu: Any


def _is_quantized(x: Any) -> bool:
    return isinstance(x, Blockwise8)


def scale_by_nadam_8bit(
    b1: Any,
    b2: Any,
    eps: Any = 1e-8,
    eps_root: Any = 0.0,
    *,
    min_size: int = MIN_8BIT_SIZE,
    block_size: int = BLOCK_SIZE,
) -> optax.GradientTransformation:
    """``optax.scale_by_adam(b1, b2, eps, eps_root, nesterov=True)`` with 8-bit moments for
    leaves of at least ``min_size`` elements (module docstring).

    Example:
        >>> import jax.numpy as jnp
        >>> tx = scale_by_nadam_8bit(0.9, 0.999)
        >>> params = {"w": jnp.ones((64, 128)), "b": jnp.ones(3)}
        >>> state = tx.init(params)
        >>> state.mu["w"].codes.dtype, state.mu["w"].absmax.shape, state.mu["b"].dtype
        (dtype('uint8'), (4,), dtype('float32'))
        >>> updates, state = tx.update(params, state)
        >>> float(updates["w"][0, 0]) == float(updates["b"][0])  # quantization: same math
        True
    """
    check_int("min_size", min_size, low=1)
    check_int("block_size", block_size, low=1)
    inner = optax.scale_by_adam(b1=b1, b2=b2, eps=eps, eps_root=eps_root, nesterov=True)

    def pack(moments: Any, signed: bool) -> Any:
        import jax
        import jax.numpy as jnp

        def one(x: Any) -> Any:
            if x.size < min_size:
                return x
            codes, absmax = quantize_blockwise(x, signed, block_size, xp=jnp)
            return Blockwise8(codes, absmax)

        return jax.tree.map(one, moments)

    def unpack(moments: Any, signed: bool) -> Any:
        import jax
        import jax.numpy as jnp

        def one(x: Any) -> Any:
            if _is_quantized(x):
                return dequantize_blockwise(x.codes, x.absmax, signed, block_size, xp=jnp)
            return x

        return jax.tree.map(one, moments, is_leaf=_is_quantized)

    def init_fn(params: Any) -> ScaleByNadam8State:
        state = inner.init(params)
        return ScaleByNadam8State(state.count, pack(state.mu, True), pack(state.nu, False))

    def update_fn(updates: Any, state: ScaleByNadam8State, params: Any = None) -> Any:
        full = optax.ScaleByAdamState(count=state.count, mu=unpack(state.mu, True),
                                      nu=unpack(state.nu, False))
        updates, new = inner.update(updates, full, params)
        return updates, ScaleByNadam8State(new.count, pack(new.mu, True), pack(new.nu, False))

    return optax.GradientTransformation(init_fn, update_fn)


def rule(
    hp: Mapping[str, Any],
    total_steps: int,
    *,
    mask: Any | Callable[[Any], Any] | None = None,
    eps_root: float = 0.0,
) -> optax.GradientTransformation:
    """NAdamW with 8-bit moments and the warmup-cosine schedule, from (possibly traced)
    hyperparameters: ``optax.nadamw`` but for the state (module docstring).

    The training engine's update-rule hook ``(hp, total_steps)``, registered as
    ``nadamw8``. Keys: ``learning_rate, beta1, beta2, weight_decay``, optional
    ``eps`` (default 1e-8), and ``warmup_steps`` or ``warmup_fraction``.

    Example:
        >>> import jax.numpy as jnp
        >>> tx = rule({"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
        ...            "weight_decay": 0.0, "warmup_fraction": 0.0}, total_steps=100)
        >>> params = jnp.ones(5000)
        >>> updates, state = tx.update(jnp.ones(5000), tx.init(params), params)
        >>> round(float(updates[0]), 6)  # -lr (b1 (1 - b1) / (1 - b1^2) + 1), as optax.nadamw
        -0.001474
    """
    require(hp, "nadamw8", HYPERPARAMETERS)
    lr = hp["learning_rate"]
    warm = warmup(hp, total_steps)

    def schedule(count: Any) -> Any:
        import jax.numpy as jnp

        return lr * warmup_cosine_factor(count, warm, total_steps, xp=jnp)

    return optax.chain(
        scale_by_nadam_8bit(hp["beta1"], hp["beta2"], hp.get("eps", 1e-8), eps_root),
        optax.add_decayed_weights(hp["weight_decay"], mask),
        optax.scale_by_learning_rate(schedule),
    )


def state_bytes(state: Any) -> int:
    """Bytes of all arrays in an optimizer state (codes, scales, 32-bit moments, counts).

    Example:
        >>> import jax.numpy as jnp
        >>> tx = scale_by_nadam_8bit(0.9, 0.999)
        >>> state_bytes(tx.init(jnp.zeros(8192)))  # 2 x (8192 codes + 4 scales) + the count
        16420
    """
    import jax

    return sum(int(x.size) * x.dtype.itemsize for x in jax.tree.leaves(state))
