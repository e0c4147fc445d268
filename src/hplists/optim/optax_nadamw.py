"""NAdamW for JAX: ``optax.nadamw`` itself, driven by the hplists schedule.

``optax.nadamw`` (optax ``_src/alias.py``: ``adamw(..., nesterov=True)``) is

    m_t = b1 m_{t-1} + (1 - b1) g_t,          v_t = b2 v_{t-1} + (1 - b2) g_t^2
    m_hat = b1 m_t / (1 - b1^(t+1)) + (1 - b1) g_t / (1 - b1^t)
    v_hat = v_t / (1 - b2^t)
    u_t = m_hat / (sqrt(v_hat + eps_root) + eps) + wd * theta_{t-1}
    theta_t = theta_{t-1} - lr_t * u_t

with ``lr_t`` the warmup-cosine schedule (``hplists.optim.schedule``). The
points of paper 001 are defined for exactly this rule (its footnote 2).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import optax

from hplists.exceptions import InvalidParameterError
from hplists.hparams import HParams
from hplists.optim.schedule import warmup_cosine, warmup_cosine_factor

__all__ = ["build", "rule"]


def rule(
    hp: Mapping[str, Any],
    total_steps: int,
    *,
    mask: Any | Callable[[Any], Any] | None = None,
    eps_root: float = 0.0,
) -> optax.GradientTransformation:
    """``optax.nadamw`` with the schedule, from a mapping of (possibly traced) hyperparameters.

    This is the update-rule hook of the training engine: inside ``jax.vmap``
    every value of ``hp`` may be a traced scalar, one per point. Keys:
    ``learning_rate, beta1, beta2, eps, weight_decay`` and either
    ``warmup_steps`` (preferred under tracing: computed on the host with
    :func:`hplists.optim.schedule.warmup_steps`) or ``warmup_fraction``.

    Example:
        >>> import jax.numpy as jnp
        >>> tx = rule({"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
        ...            "weight_decay": 0.0, "warmup_fraction": 0.1}, total_steps=100)
        >>> state = tx.init(jnp.zeros(3))
    """
    lr = hp["learning_rate"]
    if "warmup_steps" in hp:  # precomputed on the host: exact int() semantics
        warm: Any = hp["warmup_steps"]
    elif isinstance(hp["warmup_fraction"], (int, float)):
        warm = int(hp["warmup_fraction"] * total_steps)
    else:
        import jax.numpy as jnp

        warm = jnp.floor(hp["warmup_fraction"] * total_steps)

    def schedule(count: Any) -> Any:
        import jax.numpy as jnp

        return lr * warmup_cosine_factor(count, warm, total_steps, xp=jnp)

    return optax.nadamw(
        learning_rate=schedule,
        b1=hp["beta1"],
        b2=hp["beta2"],
        eps=hp.get("eps", 1e-8),
        eps_root=eps_root,
        weight_decay=hp.get("weight_decay", 0.0),
        mask=mask,
    )


def build(
    point: HParams,
    total_steps: int,
    *,
    mask: Any | Callable[[Any], Any] | None = None,
    eps_root: float = 0.0,
    state_bits: int = 32,
) -> optax.GradientTransformation:
    """The ``optax.GradientTransformation`` that trains with ``point`` for ``total_steps``.

    This is ``optax.nadamw`` with the point's betas, eps and weight decay and a
    learning rate that warms up linearly from 0 and decays (cosine) to 0 at
    ``total_steps``. ``mask`` is optax's weight-decay mask (a pytree of bools,
    or a function of the parameters returning one). ``state_bits=8`` keeps the
    moments of leaves with at least 4096 elements as 8-bit block-wise codes
    (:func:`hplists.optim.optax_nadamw8.rule`, the rule ``nadamw8``); the
    default 32 is ``optax.nadamw`` itself.

    Example:
        >>> import jax.numpy as jnp, optax
        >>> from hplists import get_list
        >>> tx = build(get_list("nadamw-paper").points[0], total_steps=1000)
        >>> params = {"w": jnp.ones(3)}
        >>> updates, state = tx.update({"w": jnp.ones(3)}, tx.init(params), params)
        >>> float(updates["w"][0])  # step 0 of a warmup from 0
        -0.0
        >>> tx8 = build(get_list("nadamw-paper").points[0], 1000, state_bits=8)
        >>> tx8.init({"w": jnp.ones(5000)})[0].mu["w"].codes.dtype
        dtype('uint8')
    """
    if not isinstance(point, HParams):
        raise InvalidParameterError(f"point must be an HParams, got {type(point).__name__}")
    if isinstance(state_bits, bool) or state_bits not in (32, 8):
        raise InvalidParameterError(f"state_bits must be one of 32, 8; got {state_bits!r}")
    warmup_cosine(point.learning_rate, point.warmup_fraction, total_steps)  # validates
    if state_bits == 8:
        from hplists.optim import optax_nadamw8

        return optax_nadamw8.rule(point.to_dict(), total_steps, mask=mask, eps_root=eps_root)
    return rule(point.to_dict(), total_steps, mask=mask, eps_root=eps_root)
