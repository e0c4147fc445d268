"""SGD with Nesterov or heavy-ball momentum for target setting, as AlgoPerf ran them.

AlgoPerf set its ImageNet ResNet-50, OGBG and (with NAdamW's search) fastMRI
targets with these rules (mlcommons/algorithmic-efficiency,
``reference_algorithms/target_setting_algorithms/jax_nesterov.py`` and
``jax_momentum.py``, forked from init2winit): L2 weight decay added to the
gradient *before* the momentum, then ``optax.sgd``::

    g'_t = g_t + wd * theta_{t-1}                  (optax.add_decayed_weights)
    m_t  = g'_t + mu * m_{t-1}                     (optax.trace)
    u_t  = m_t                   heavy ball        (nesterov=False)
    u_t  = g'_t + mu * m_t       Nesterov          (nesterov=True)
    theta_t = theta_{t-1} - lr_t * u_t

The schedule is AlgoPerf's for these rules: linear warmup from 0 to ``lr``
over ``W`` steps, then linear decay from ``lr`` to ``lr * end_factor`` over
``D = int((T - W) * decay_steps_factor)`` steps, then constant::

    lr_t = lr * t / W                                          t < W
    lr_t = lr * (e + (1 - e) * (1 - min(t - W, D) / D))        t >= W, D > 0
    lr_t = lr                                                  t >= W, D <= 0

(``optax.join_schedules`` of ``optax.linear_schedule`` and a power-1
``optax.polynomial_schedule``; a polynomial schedule with no transition steps
is constant at its initial value).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import optax

from hplists.optim._traced import require, warmup

__all__ = ["HYPERPARAMETERS", "heavy_ball", "nesterov", "warmup_linear_decay_factor"]

# Keys the rules read (besides warmup_fraction or warmup_steps). Optional:
# weight_decay (0), decay_steps_factor (1: decay over the whole horizon), end_factor (0).
HYPERPARAMETERS = ("learning_rate", "momentum")


def warmup_linear_decay_factor(
    step: Any,
    warmup_steps: Any,
    total_steps: Any,
    decay_steps_factor: Any = 1.0,
    end_factor: Any = 0.0,
    xp: Any = None,
) -> Any:
    """Multiplier of the base learning rate at ``step`` (see the module docstring).

    With ``xp=None`` every argument is a Python number and a float comes back;
    with an array namespace (``numpy``, ``jax.numpy``) the arguments may be
    arrays or traced values.

    Example:
        >>> [round(warmup_linear_decay_factor(t, 2, 10, 0.5, 0.01), 4) for t in (0, 1, 2, 4, 6, 9)]
        [0.0, 0.5, 1.0, 0.505, 0.01, 0.01]
    """
    if xp is None:
        if step < warmup_steps:
            return step / warmup_steps
        decay = math.floor((total_steps - warmup_steps) * decay_steps_factor)
        if decay <= 0:
            return 1.0
        frac = 1.0 - min(step - warmup_steps, decay) / decay
        return end_factor + (1.0 - end_factor) * frac
    step = xp.asarray(step) * 1.0
    warm = xp.asarray(warmup_steps).astype(step.dtype)
    total = xp.asarray(total_steps).astype(step.dtype)
    end = xp.asarray(end_factor).astype(step.dtype)
    decay = xp.floor((total - warm) * xp.asarray(decay_steps_factor).astype(step.dtype))
    ramp = step / xp.maximum(warm, 1.0)
    t = xp.clip(step - warm, 0.0, xp.maximum(decay, 1.0))
    linear = end + (1.0 - end) * (1.0 - t / xp.maximum(decay, 1.0))
    after = xp.where(decay > 0, linear, 1.0)
    return xp.where(step < warm, ramp, after)


def _sgd(hp: Mapping[str, Any], total_steps: int, *, nesterov: bool, name: str
         ) -> optax.GradientTransformation:
    require(hp, name, HYPERPARAMETERS)
    lr = hp["learning_rate"]
    warm = warmup(hp, total_steps)
    decay_factor = hp.get("decay_steps_factor", 1.0)
    end_factor = hp.get("end_factor", 0.0)

    def schedule(count: Any) -> Any:
        import jax.numpy as jnp

        return lr * warmup_linear_decay_factor(count, warm, total_steps, decay_factor,
                                               end_factor, xp=jnp)

    return optax.chain(
        optax.add_decayed_weights(hp.get("weight_decay", 0.0)),
        optax.sgd(learning_rate=schedule, momentum=hp["momentum"], nesterov=nesterov),
    )


def nesterov(hp: Mapping[str, Any], total_steps: int) -> optax.GradientTransformation:
    """SGD with Nesterov momentum, L2 weight decay and AlgoPerf's warmup + linear decay.

    The training engine's update-rule hook: every value of ``hp`` may be a
    traced scalar inside ``jax.vmap``.

    Args:
        hp: ``learning_rate``, ``momentum``, ``warmup_fraction`` (or
            ``warmup_steps``), and optionally ``weight_decay`` (L2, default 0),
            ``decay_steps_factor`` (default 1) and ``end_factor`` (default 0).
        total_steps: the horizon ``T`` of the schedule.

    Example:
        >>> import jax.numpy as jnp
        >>> tx = nesterov({"learning_rate": 0.1, "momentum": 0.9, "weight_decay": 0.5,
        ...                "warmup_fraction": 0.0}, total_steps=10)
        >>> params = jnp.ones(1)
        >>> updates, _ = tx.update(jnp.ones(1), tx.init(params), params)
        >>> round(float(updates[0]), 6)  # -lr * (g' + mu * g'), g' = g + wd * theta = 1.5
        -0.285
    """
    return _sgd(hp, total_steps, nesterov=True, name="nesterov")


def heavy_ball(hp: Mapping[str, Any], total_steps: int) -> optax.GradientTransformation:
    """SGD with heavy-ball momentum, L2 weight decay and AlgoPerf's warmup + linear decay.

    Same hyperparameters as :func:`nesterov`.

    Example:
        >>> import jax.numpy as jnp
        >>> tx = heavy_ball({"learning_rate": 0.1, "momentum": 0.9, "weight_decay": 0.5,
        ...                  "warmup_fraction": 0.0}, total_steps=10)
        >>> params = jnp.ones(1)
        >>> updates, _ = tx.update(jnp.ones(1), tx.init(params), params)
        >>> round(float(updates[0]), 6)  # -lr * g', g' = g + wd * theta = 1.5
        -0.15
    """
    return _sgd(hp, total_steps, nesterov=False, name="heavy_ball")
