"""Update rules by name: the four algorithms of AlgoPerf's target-setting procedure.

Every rule has the training engine's signature ``(hp, total_steps) ->
optax.GradientTransformation`` (values of ``hp`` may be traced scalars inside
``jax.vmap``) and is a module-level function, so it pickles for the engine's
worker processes.

==============  ==========================================  ====================================
name            rule                                        schedule
==============  ==========================================  ====================================
``nadamw``      ``optax.nadamw`` (:mod:`.optax_nadamw`)     linear warmup, cosine decay to 0
``adamw``       ``optax.adamw`` (:mod:`.adamw`)             linear warmup, cosine decay to 0
``nesterov``    L2 + ``optax.sgd(nesterov=True)`` (:mod:`.sgd`)   linear warmup, linear decay
``heavy_ball``  L2 + ``optax.sgd(nesterov=False)``          linear warmup, linear decay
==============  ==========================================  ====================================

Importing this module imports optax.
"""

from __future__ import annotations

from hplists._check import check_choice
from hplists.optim import adamw, optax_nadamw, sgd
from hplists.workloads.spec import UpdateRule

__all__ = ["RULES", "available_rules", "get_rule"]

RULES: dict[str, UpdateRule] = {
    "nadamw": optax_nadamw.rule,
    "adamw": adamw.rule,
    "nesterov": sgd.nesterov,
    "heavy_ball": sgd.heavy_ball,
}


def available_rules() -> list[str]:
    """Names of the registered update rules, in AlgoPerf's order.

    Example:
        >>> available_rules()
        ['nadamw', 'adamw', 'nesterov', 'heavy_ball']
    """
    return list(RULES)


def get_rule(name: str) -> UpdateRule:
    """The update rule registered as ``name``.

    Example:
        >>> get_rule("nesterov").__name__
        'nesterov'
        >>> get_rule("sgd")
        Traceback (most recent call last):
        ...
        ValueError: update rule must be one of 'nadamw', 'adamw', 'nesterov', 'heavy_ball'; got 'sgd'
    """
    return RULES[check_choice("update rule", name, tuple(RULES))]
