"""The update-rule contract of the training engine, and the hooks a rule may declare.

An *update rule* maps a point's hyperparameters and the horizon ``T`` (the step
at which its schedule reaches its end) to an ``optax.GradientTransformation``::

    rule(hp: Mapping[str, Any], total_steps: int) -> optax.GradientTransformation

Inside the engine every value of ``hp`` may be a traced scalar (one per point,
under ``jax.vmap``), so one compiled program serves every point. The engine
always calls ``update(grads, state, params, value=loss)``: rules that need the
loss (MoMo) read it, the others ignore it (``optax.with_extra_args_support``).

A rule is a plain module-level function (so it pickles to worker processes and
travels by name), optionally decorated with :func:`hooks` to declare:

* ``eval_params(opt_state, params) -> params``: the parameters to *evaluate*
  when they differ from the training iterate (Schedule-Free methods evaluate
  at their averaged sequence ``x``, not at ``y``);
* ``static``: hyperparameters that must be Python constants inside the rule
  (for example Prodigy's ``safeguard_warmup``). The engine groups points by
  their values and compiles one program per group, so batching of the other,
  traced, hyperparameters is kept.

This module imports neither JAX nor optax.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from hplists.exceptions import InvalidParameterError

if TYPE_CHECKING:  # pragma: no cover
    import optax

__all__ = ["EvalParams", "UpdateRule", "eval_params_of", "hooks", "static_of"]

# (hyperparameters, total_steps) -> optax.GradientTransformation
UpdateRule = Callable[[Mapping[str, Any], int], "optax.GradientTransformation"]
# (opt_state, params) -> the parameters to evaluate
EvalParams = Callable[[Any, Any], Any]


def hooks(*, eval_params: EvalParams | None = None,
          static: tuple[str, ...] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declares a rule's evaluation parameters and static hyperparameters (see the module doc).

    Example:
        >>> @hooks(static=("flag",))
        ... def my_rule(hp, total_steps): ...
        >>> static_of(my_rule), eval_params_of(my_rule) is None
        (('flag',), True)
    """
    if eval_params is not None and not callable(eval_params):
        raise InvalidParameterError(f"eval_params must be a function (opt_state, params) -> params, got "
                         f"{eval_params!r}")
    if isinstance(static, str) or not all(isinstance(s, str) and s for s in static):
        raise InvalidParameterError(f"static must be a tuple of hyperparameter names, got {static!r}")

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.eval_params = eval_params  # type: ignore[attr-defined]
        fn.static_hyperparameters = tuple(static)  # type: ignore[attr-defined]
        return fn

    return wrap


def eval_params_of(rule: Any) -> EvalParams | None:
    """The rule's evaluation-parameters hook, ``None`` when it evaluates the training iterate.

    Example:
        >>> eval_params_of(lambda hp, t: None) is None
        True
    """
    fn = getattr(rule, "eval_params", None)
    return fn if callable(fn) else None


def static_of(rule: Any) -> tuple[str, ...]:
    """Names of the rule's static (Python-constant) hyperparameters.

    Example:
        >>> static_of(lambda hp, t: None)
        ()
    """
    return tuple(getattr(rule, "static_hyperparameters", ()) or ())
