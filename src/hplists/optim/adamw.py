"""AdamW for target setting: ``optax.adamw`` driven by the warmup-cosine schedule.

AlgoPerf set its Criteo 1TB, LibriSpeech Conformer and WMT targets with this
rule (mlcommons/algorithmic-efficiency,
``reference_algorithms/target_setting_algorithms/jax_adamw.py`` and
``cosine_warmup.py``): ``optax.adamw`` with a learning rate that warms up
linearly from 0 over ``W`` steps and then decays (cosine) to 0 at the horizon
``T``. With ``lr_t`` that schedule (:mod:`hplists.optim.schedule`)::

    m_t = b1 m_{t-1} + (1 - b1) g_t,          v_t = b2 v_{t-1} + (1 - b2) g_t^2
    m_hat = m_t / (1 - b1^t),                 v_hat = v_t / (1 - b2^t)
    theta_t = theta_{t-1} - lr_t * (m_hat / (sqrt(v_hat) + eps) + wd * theta_{t-1})

The weight decay is decoupled from the gradient statistics and multiplied by
the scheduled learning rate, as in ``optax.adamw`` (Loshchilov & Hutter, 2019,
with optax's convention of scaling it by ``lr_t``). It differs from NAdamW
(:mod:`hplists.optim.optax_nadamw`) only in the first moment: no Nesterov
look-ahead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import optax

from hplists.optim._traced import require, warmup
from hplists.optim.schedule import warmup_cosine_factor

__all__ = ["HYPERPARAMETERS", "rule"]

# Keys the rule reads (besides warmup_fraction or warmup_steps); eps defaults to 1e-8.
HYPERPARAMETERS = ("learning_rate", "beta1", "beta2", "weight_decay")


def rule(
    hp: Mapping[str, Any],
    total_steps: int,
    *,
    mask: Any | Callable[[Any], Any] | None = None,
) -> optax.GradientTransformation:
    """``optax.adamw`` with the warmup-cosine schedule, from (possibly traced) hyperparameters.

    The signature is the training engine's update-rule hook
    ``(hp, total_steps) -> optax.GradientTransformation``: inside ``jax.vmap``
    every value of ``hp`` may be a traced scalar, one per point.

    Args:
        hp: ``learning_rate``, ``beta1``, ``beta2``, ``weight_decay``, optional
            ``eps`` (default 1e-8), and ``warmup_steps`` or ``warmup_fraction``.
        total_steps: the horizon ``T`` at which the learning rate reaches 0.
        mask: optax's weight-decay mask (a pytree of bools, or a function of
            the parameters returning one).

    Example:
        >>> import jax.numpy as jnp
        >>> tx = rule({"learning_rate": 1e-2, "beta1": 0.9, "beta2": 0.99,
        ...            "weight_decay": 0.1, "warmup_fraction": 0.0}, total_steps=10)
        >>> params = jnp.ones(2)
        >>> updates, _ = tx.update(jnp.ones(2), tx.init(params), params)
        >>> round(float(updates[0]), 6)  # -lr * (m_hat / (sqrt(v_hat) + eps) + wd)
        -0.011
    """
    require(hp, "adamw", HYPERPARAMETERS)
    lr = hp["learning_rate"]
    warm = warmup(hp, total_steps)

    def schedule(count: Any) -> Any:
        import jax.numpy as jnp

        return lr * warmup_cosine_factor(count, warm, total_steps, xp=jnp)

    return optax.adamw(
        learning_rate=schedule,
        b1=hp["beta1"],
        b2=hp["beta2"],
        eps=hp.get("eps", 1e-8),
        weight_decay=hp["weight_decay"],
        mask=mask,
    )
