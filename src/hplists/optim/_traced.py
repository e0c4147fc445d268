"""Reading a point's hyperparameters inside an update rule, where values may be traced scalars.

Shared by the target-setting rules (:mod:`hplists.optim.adamw`,
:mod:`hplists.optim.sgd`): the rules run inside ``jax.vmap``/``jax.jit`` of the
training engine, so a missing key must fail with a ``ValueError`` naming the
rule and the keys it needs, not with a ``KeyError`` deep inside a trace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hplists.exceptions import InvalidParameterError

__all__ = ["require", "warmup"]


def require(hp: Mapping[str, Any], rule: str, needed: Sequence[str]) -> None:
    """Raises a ``ValueError`` naming ``rule`` when ``hp`` lacks one of ``needed``.

    Example:
        >>> require({"learning_rate": 0.1, "warmup_fraction": 0.05}, "nesterov",
        ...         ["learning_rate", "momentum"])
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: update rule 'nesterov' needs hyperparameter(s) ['momentum']; the point has ['learning_rate', 'warmup_fraction']
    """
    if not isinstance(hp, Mapping):
        raise InvalidParameterError(
            f"update rule {rule!r} takes a mapping of hyperparameter names to values, "
            f"got {type(hp).__name__}"
        )
    missing = [k for k in needed if k not in hp]
    if "warmup_steps" not in hp and "warmup_fraction" not in hp:
        missing.append("warmup_fraction (or warmup_steps)")
    if missing:
        raise InvalidParameterError(
            f"update rule {rule!r} needs hyperparameter(s) {missing}; the point has {sorted(hp)}"
        )


def warmup(hp: Mapping[str, Any], total_steps: int) -> Any:
    """Warmup steps ``W = int(warmup_fraction * T)``, or the host-computed ``warmup_steps``.

    The engine adds ``warmup_steps`` computed on the host with Python's
    ``int()`` (AlgoPerf's rounding); a traced ``warmup_fraction`` alone is
    floored in float32, which can differ by one step at exact integers.

    Example:
        >>> warmup({"warmup_fraction": 0.05}, 1000), warmup({"warmup_steps": 7}, 1000)
        (50, 7)
    """
    if "warmup_steps" in hp:
        return hp["warmup_steps"]
    frac = hp["warmup_fraction"]
    if isinstance(frac, (int, float)):
        return int(frac * total_steps)
    import jax.numpy as jnp

    return jnp.floor(frac * total_steps)
