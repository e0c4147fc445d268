"""JAX entry point: ``hplists.optax.build(point, total_steps)`` for a point of any list.

A NAdamW point (:class:`~hplists.hparams.HParams`) gives ``optax.nadamw`` with
the warmup-cosine schedule (:mod:`hplists.optim.optax_nadamw`). A point of
another list (:class:`~hplists.method_point.MethodPoint`: Prodigy, Mechanic,
Schedule-Free AdamW, Metz et al.'s NAdamW, ...) gives its update rule
(:mod:`hplists.optim.rules`), the one the training engine trains it with. A
point with a ``horizon`` ``h`` has its schedule end at
``hplists.steps_to_run(point, total_steps) = int(h * total_steps)``: train that
many steps. Updating past the schedule's end warns once. Importing this module
needs ``optax``.

Example:
    >>> import jax.numpy as jnp, hplists
    >>> tx = build(hplists.get_list("nadamw-paper")[0], total_steps=1000)
    >>> params = {"w": jnp.ones(3)}
    >>> updates, state = tx.update({"w": jnp.ones(3)}, tx.init(params), params)
    >>> float(updates["w"][0])  # step 0 of a warmup from 0
    -0.0
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping
from typing import Any, NamedTuple

import optax

from hplists.exceptions import InvalidParameterError
from hplists.hparams import HParams, point_dict
from hplists.method_point import method_of, nadamw_hparams, steps_to_run
from hplists.optim import optax_nadamw
from hplists.optim.optax_nadamw import rule

__all__ = ["build", "eval_params", "needs_loss", "rule", "warn_past_schedule_end"]


class _CountState(NamedTuple):
    count: Any


def warn_past_schedule_end(total_steps: int) -> optax.GradientTransformation:
    """Passes updates through unchanged and warns once when update ``total_steps + 1`` is taken.

    Chained after a rule whose schedule ends at ``total_steps`` (learning rate
    0 from there), it says that further steps train nothing. It works under
    ``jax.jit``; the warning is raised on the host when the step runs.

    Example:
        >>> import jax.numpy as jnp, warnings
        >>> tx = warn_past_schedule_end(1)
        >>> state = tx.init(jnp.zeros(2))
        >>> with warnings.catch_warnings(record=True) as w:
        ...     warnings.simplefilter("always")
        ...     for _ in range(3):
        ...         _, state = tx.update(jnp.zeros(2), state)
        >>> len(w), "past the end of its schedule" in str(w[0].message)
        (1, True)
    """
    import jax
    import jax.numpy as jnp

    warned = threading.Event()

    def warn(count: Any) -> None:
        import numpy as np

        # Under vmap the cond runs both branches, so the host checks the count again.
        if not warned.is_set() and np.any(np.asarray(count) > total_steps):
            warned.set()
            warnings.warn(
                f"the optimizer has stepped past the end of its schedule ({total_steps} steps): "
                "the learning rate is 0 from there, so these steps train nothing. Stop after "
                f"{total_steps} steps (for a point with a horizon h, "
                "hplists.steps_to_run(point, total_steps) = int(h * total_steps))",
                stacklevel=2)

    def init_fn(params: Any) -> _CountState:
        del params
        return _CountState(count=jnp.zeros([], jnp.int32))

    def update_fn(updates: Any, state: _CountState, params: Any = None) -> Any:
        del params
        count = state.count + 1
        jax.lax.cond(count == total_steps + 1, lambda c: jax.debug.callback(warn, c),
                     lambda c: None, count)
        return updates, _CountState(count=optax.safe_int32_increment(state.count))

    return optax.GradientTransformation(init_fn, update_fn)


def needs_loss(tx: Any, name: str) -> optax.GradientTransformationExtraArgs:
    """``tx``, whose ``update`` says clearly that it needs ``value=loss`` when not given it.

    MoMo's rules read the batch loss from ``update(grads, state, params,
    value=loss)``; without it optax fails with a ``TypeError`` about a missing
    keyword argument deep inside the rule.

    Example:
        >>> import jax.numpy as jnp, optax
        >>> tx = needs_loss(optax.with_extra_args_support(optax.sgd(0.1)), "momo")
        >>> state = tx.init(jnp.zeros(2))
        >>> _ = tx.update(jnp.ones(2), state, jnp.zeros(2), value=1.0)
        >>> tx.update(jnp.ones(2), state, jnp.zeros(2))
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: method 'momo' needs the batch loss: tx.update(grads, state, params, value=loss), with loss, grads = jax.value_and_grad(loss_fn)(params, ...)
    """
    def update_fn(updates: Any, state: Any, params: Any = None, **extra: Any) -> Any:
        if extra.get("value") is None:
            raise InvalidParameterError(
                f"method {name!r} needs the batch loss: tx.update(grads, state, params, "
                "value=loss), with loss, grads = jax.value_and_grad(loss_fn)(params, ...)")
        return tx.update(updates, state, params, **extra)

    return optax.GradientTransformationExtraArgs(tx.init, update_fn)


def build(point: HParams | Mapping[str, float], total_steps: int, *,
          method: str | None = None, **options: Any) -> optax.GradientTransformation:
    """The ``optax.GradientTransformation`` that trains with ``point`` for ``total_steps`` steps.

    Args:
        point: a point of any list (``hplists.get_list(name)[i]``), or a plain
            mapping of hyperparameters with ``method``.
        total_steps: the step budget. A point with a ``horizon`` trains
            ``hplists.steps_to_run(point, total_steps)`` steps.
        method: the update rule; by default the point's own (an ``HParams``
            is ``"nadamw"``). Any name of :func:`hplists.optim.rules.available_rules`.
        options: for NAdamW, those of :func:`hplists.optim.optax_nadamw.build`
            (``mask``, ``eps_root``, ``state_bits``: 8 for 8-bit moments, the rule
            ``nadamw8``); other methods take none.

    The rules of other methods are the training engine's: e.g. Metz et al.'s
    needs ``params`` in ``update``, MoMo's the batch loss
    (``update(grads, state, params, value=loss)``, which every result of
    ``build`` accepts), and Schedule-Free AdamW's parameters for evaluation
    are ``optax.contrib.schedule_free_eval_params(state, params)``.

    Example:
        >>> import jax.numpy as jnp
        >>> from hplists.method_point import MethodPoint
        >>> point = MethodPoint("prodigy", {"beta1": 0.9, "beta2": 0.99, "horizon": 0.5,
        ...                                 "warmup_fraction": 0.1})
        >>> tx = build(point, total_steps=100)  # its schedule ends at step 50
        >>> state = tx.init({"w": jnp.ones(3)})
        >>> build(point, 100, method="dog")
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: method='dog' contradicts the point, which is a 'prodigy' point; ...
    """
    name = method_of(point, method)
    steps = steps_to_run(point, total_steps)
    if name == "nadamw":  # a horizon is the span of NAdamW's schedule
        return optax.chain(optax_nadamw.build(nadamw_hparams(point), steps, **options),
                           warn_past_schedule_end(steps))
    if options:
        raise InvalidParameterError(
            f"options {sorted(options)} are NAdamW's; method {name!r} takes none")
    from hplists.optim import lrfree
    from hplists.optim.rules import get_rule

    hp = point_dict(point)
    tx = get_rule(name)(hp, steps)
    if name in lrfree.METHODS and lrfree.get_method(name).needs_loss:
        tx = needs_loss(tx, name)
    # Only a schedule that decays to 0 at the horizon has an end to warn about; Schedule-Free
    # keeps its own state type (for schedule_free_eval_params), so it is returned as is.
    decays = name in lrfree.METHODS and lrfree.get_method(name).horizon
    if decays and hp.get("relative_schedule", 1.0) != 0:
        return optax.chain(tx, warn_past_schedule_end(steps))
    # update(..., value=loss) works for every list, so one loop serves MoMo's lists too.
    return optax.with_extra_args_support(tx)


def eval_params(opt_state: Any, params: Any) -> Any:
    """The parameters to evaluate: ``params``, or Schedule-Free's average ``x``.

    Schedule-Free AdamW trains one sequence and evaluates another (optax's
    ``schedule_free_eval_params``); every other rule evaluates the parameters
    it trains. Call it with the state of :func:`build`'s transformation, for
    any list, so that one evaluation loop serves all of them.

    Example:
        >>> import jax.numpy as jnp, hplists
        >>> tx = build(hplists.get_list("nadamw-paper")[0], total_steps=10)
        >>> params = {"w": jnp.ones(2)}
        >>> eval_params(tx.init(params), params) is params
        True
    """
    from optax import contrib

    from hplists.optim.lrfree import SFAlgoPerfState

    if isinstance(opt_state, contrib.ScheduleFreeState):
        return contrib.schedule_free_eval_params(opt_state, params)
    if isinstance(opt_state, SFAlgoPerfState):
        return opt_state.x
    return params
