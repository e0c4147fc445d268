"""Linear warmup from 0 followed by cosine decay to 0 at the horizon.

This is the schedule of paper 001 (Sec. 2.1) and equals
``optax.warmup_cosine_decay_schedule(0.0, lr, warmup_steps, total_steps, 0.0)``
at every step, including step 0 and steps past the horizon, where it stays 0.
(AlgoPerf's PyTorch port uses a periodic ``CosineAnnealingLR`` that climbs back
up past the horizon; this schedule does not.)

With ``W = warmup_steps`` and ``T = total_steps``::

    lr(t) = lr * t / W                                   for t < W
    lr(t) = lr * 0.5 * (1 + cos(pi * min(t - W, T - W) / (T - W)))   for t >= W

The functions here are written against an array namespace ``xp`` so that one
definition serves Python floats, NumPy, and traced JAX values (per-point
learning rates and warmups inside ``jax.vmap``).
"""

from __future__ import annotations

import math
from typing import Any

from hplists._check import check_int, check_real

__all__ = ["warmup_cosine", "warmup_cosine_factor", "warmup_steps"]


def warmup_steps(warmup_fraction: float, total_steps: int) -> int:
    """Number of warmup steps: ``int(warmup_fraction * total_steps)``, as AlgoPerf does.

    Example:
        >>> warmup_steps(0.05, 1000)
        50
    """
    total_steps = check_int("total_steps", total_steps, low=1)
    warmup_fraction = check_real("warmup_fraction", warmup_fraction, 0.0, 1.0)
    return int(warmup_fraction * total_steps)


def warmup_cosine_factor(step: Any, warmup: Any, total_steps: Any, xp: Any = None) -> Any:
    """Multiplier in [0, 1] of the base learning rate at ``step``.

    ``warmup`` and ``total_steps`` may be arrays (one per point) when ``xp`` is
    an array namespace such as ``numpy`` or ``jax.numpy``; with ``xp=None``
    every argument is a Python number and a float comes back.

    Example:
        >>> [round(warmup_cosine_factor(t, 2, 10), 4) for t in (0, 1, 2, 6, 10, 11)]
        [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    """
    if xp is None:
        if step < warmup:
            return step / warmup
        decay = total_steps - warmup
        if decay <= 0:
            return 0.0
        t = min(step - warmup, decay)
        return 0.5 * (1.0 + math.cos(math.pi * t / decay))
    step = xp.asarray(step) * 1.0  # ints become the namespace's default float
    warm = xp.asarray(warmup).astype(step.dtype)
    total = xp.asarray(total_steps).astype(step.dtype)
    ramp = step / xp.maximum(warm, 1.0)
    decay = xp.maximum(total - warm, 1.0)
    t = xp.clip(step - warm, 0.0, decay)
    cosine = 0.5 * (1.0 + xp.cos(math.pi * t / decay))
    cosine = xp.where(total - warm > 0, cosine, 0.0)
    return xp.where(step < warm, ramp, cosine)


def warmup_cosine(
    learning_rate: float, warmup_fraction: float, total_steps: int
) -> Any:
    """Returns ``schedule(step) -> learning rate`` for one point, as a Python callable.

    The callable accepts Python ints (returning floats), or NumPy/JAX scalars
    and arrays (returning arrays), so it can be handed to optax directly.

    Example:
        >>> sched = warmup_cosine(1e-3, 0.1, 100)
        >>> sched(0), sched(10), sched(100), sched(150)
        (0.0, 0.001, 0.0, 0.0)
    """
    learning_rate = check_real("learning_rate", learning_rate, low=0.0)
    warm = warmup_steps(warmup_fraction, total_steps)

    def schedule(step: Any) -> Any:
        if isinstance(step, (int, float)):
            return learning_rate * warmup_cosine_factor(step, warm, total_steps)
        xp = _namespace(step)
        return learning_rate * warmup_cosine_factor(step, warm, total_steps, xp=xp)

    return schedule


def _namespace(x: Any) -> Any:
    mod = type(x).__module__
    if mod.startswith(("jax", "jaxlib")):
        import jax.numpy as jnp

        return jnp
    import numpy as np

    return np
