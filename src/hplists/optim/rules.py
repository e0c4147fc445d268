"""Update rules by name: the one registry every consumer uses.

The four algorithms of AlgoPerf's target-setting procedure, Metz et al.'s
rule, and the learning-rate-free methods of paper 002
(:mod:`hplists.optim.lrfree`).

Every rule has the training engine's signature ``(hp, total_steps) ->
optax.GradientTransformation`` (values of ``hp`` may be traced scalars inside
``jax.vmap``) and is a module-level function, so it pickles for the engine's
worker processes.

==============  ==========================================  ====================================
name            rule                                        schedule
==============  ==========================================  ====================================
``nadamw``      ``optax.nadamw`` (:mod:`.optax_nadamw`)     linear warmup, cosine decay to 0
``nadamw8``     ``optax.nadamw``, 8-bit block-wise moments  linear warmup, cosine decay to 0
                (:mod:`.optax_nadamw8`)
``adamw``       ``optax.adamw`` (:mod:`.adamw`)             linear warmup, cosine decay to 0
``nesterov``    L2 + ``optax.sgd(nesterov=True)`` (:mod:`.sgd`)   linear warmup, linear decay
``heavy_ball``  L2 + ``optax.sgd(nesterov=False)``          linear warmup, linear decay
``metz``        Metz et al.'s NAdamW (:mod:`.metz`)         its own (exponential decay)
``dog`` ...     paper 002's methods (:mod:`.lrfree`)        relative warmup-cosine (``sfadamw``:
                                                            warmup only)
``sfadamw_algoperf``  the AlgoPerf self-tuning submission's     warmup only
                Schedule-Free AdamW (:mod:`.lrfree`)
==============  ==========================================  ====================================

Importing this module imports optax.
"""

from __future__ import annotations

from hplists._check import check_choice
from hplists.exceptions import InvalidParameterError
from hplists.optim import adamw, lrfree, metz, optax_nadamw, optax_nadamw8, sgd
from hplists.optim.update_rule import UpdateRule

__all__ = ["RULES", "TARGET_SETTING_RULES", "available_rules", "get_rule", "rule_name"]

# AlgoPerf's target-setting algorithms, in its order.
TARGET_SETTING_RULES = ("nadamw", "adamw", "nesterov", "heavy_ball")

RULES: dict[str, UpdateRule] = {
    "nadamw": optax_nadamw.rule,
    "adamw": adamw.rule,
    "nesterov": sgd.nesterov,
    "heavy_ball": sgd.heavy_ball,
    "metz": metz.rule,
    **{name: getattr(lrfree, name) for name in lrfree.METHODS},
    "sfadamw_algoperf": lrfree.sfadamw_algoperf,
    "nadamw8": optax_nadamw8.rule,
}


def available_rules() -> list[str]:
    """Names of the registered update rules (AlgoPerf's target-setting four first).

    Example:
        >>> available_rules()[:5]
        ['nadamw', 'adamw', 'nesterov', 'heavy_ball', 'metz']
    """
    return list(RULES)


def rule_name(rule: UpdateRule) -> str:
    """The registered name of ``rule``.

    Example:
        >>> rule_name(get_rule("prodigy"))
        'prodigy'
    """
    for name, fn in RULES.items():
        if fn is rule:
            return name
    raise InvalidParameterError(f"update rule {rule!r} is not registered; registered rules are "
                     f"{list(RULES)}")


def get_rule(name: str) -> UpdateRule:
    """The update rule registered as ``name``.

    Example:
        >>> get_rule("nesterov").__name__
        'nesterov'
        >>> get_rule("sgd")
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: update rule must be one of 'nadamw', 'adamw', ...; got 'sgd'
    """
    return RULES[check_choice("update rule", name, tuple(RULES))]
