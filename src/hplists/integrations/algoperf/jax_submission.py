"""AlgoPerf submission (JAX, external tuning): ``optax.nadamw`` with hplists' schedule.

Load it with ``--framework=jax --submission_path=FILE``, FILE holding
``shim("jax")`` (:func:`hplists.integrations.algoperf.common.shim`;
``docs/algoperf.md``). Each trial's point is read from AlgoPerf's
``hyperparameters`` (:mod:`hplists.integrations.algoperf.common`) and trained
with :func:`hplists.optax.build`: ``optax.nadamw`` itself, its learning rate
``lr * factor(count)`` with optax's update count (AlgoPerf's ``global_step``),
0 at count 0, linear warmup, cosine decay to 0 at the horizon
``workload.step_hint`` and 0 after it. Every parameter is decayed, as in
AlgoPerf's baseline (no mask).

``optimizer_state`` is ``(optax_state, update_fn)``, the pair AlgoPerf's JAX
checkpoints expect. One step is one ``jax.jit`` call with AlgoPerf's shardings:
the parameters, model state and optimizer state replicated over a mesh of all
devices with axis ``"batch"``, the batch split along its first axis (the mesh
``algoperf/jax_sharding_utils.py`` builds, so the arrays AlgoPerf passes need no
resharding; ``init_optimizer_state`` places its state so too). On one device, CPU
included, that is a plain jitted step. The
loss's sums run over the global batch, so the gradient is the global batch's
mean-loss gradient on any number of devices. ``label_smoothing``,
``dropout_rate`` and ``grad_clip`` are static (Python floats for the model),
one compilation per trial.

What it reads from the workload: :mod:`hplists.integrations.algoperf`. The
workload is a static argument of the jitted step, as in AlgoPerf's baselines,
so it must be hashable (any object is, by identity).

Example:
    >>> import jax.numpy as jnp
    >>> class Workload:
    ...     step_hint = 100
    ...     def model_fn(self, params, augmented_and_preprocessed_input_batch, model_state,
    ...                  mode, rng, update_batch_norm, dropout_rate):
    ...         return augmented_and_preprocessed_input_batch["inputs"] @ params["w"], model_state
    ...     def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
    ...         per = jnp.sum((logits_batch - label_batch) ** 2, -1)
    ...         return {"summed": per.sum(), "n_valid_examples": per.size, "per_example": per}
    >>> hp = {"learning_rate": 1e-2, "one_minus_beta1": 0.1, "beta2": 0.99,
    ...       "weight_decay": 0.0, "warmup_factor": 0.1}
    >>> params, w = {"w": jnp.ones((3, 1))}, Workload()
    >>> state = init_optimizer_state(w, params, None, hp, None)
    >>> batch = {"inputs": jnp.ones((4, 3)), "targets": jnp.zeros((4, 1))}
    >>> state, new, _ = update_params(w, params, None, None, hp, batch, None, state, [], 0, None)
    >>> float(new["w"][0, 0])  # update 0 has learning rate 0
    1.0
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from hplists.integrations.algoperf.common import (
    SelfTuning,
    data_selection,
    get_batch_size,
    log_loss,
    prepare_for_eval,
    read_trial,
    train_mode,
)
from hplists.optim.optax_nadamw import build

__all__ = [
    "data_selection",
    "get_batch_size",
    "init_optimizer_state",
    "prepare_for_eval",
    "self_tuning",
    "update_params",
]

# As AlgoPerf's baselines and torch.nn.utils.clip_grad_norm_: scale = clip / (norm + eps).
_GRAD_CLIP_EPS = 1e-6


def init_optimizer_state(
    workload: Any,
    model_params: Any,
    model_state: Any,
    hyperparameters: Any,
    rng: Any,
) -> tuple[Any, Callable[..., Any]]:
    """``(optax_state, update_fn)`` of ``optax.nadamw`` for the trial's point and horizon."""
    del model_state, rng
    trial = read_trial(workload, hyperparameters)
    tx = build(trial.point, trial.total_steps)
    # Placed as the jitted step returns it (the moments take the parameters' shapes and
    # dtypes), so that the step's second call finds the types of its first and does not
    # compile again.
    replicated, _ = _shardings()
    return jax.device_put(tx.init(model_params), replicated), tx.update


def update_params(
    workload: Any,
    current_param_container: Any,
    current_params_types: Any,
    model_state: Any,
    hyperparameters: Any,
    batch: dict[str, Any],
    loss_type: Any,
    optimizer_state: tuple[Any, Callable[..., Any]],
    eval_results: list[tuple[int, float]],
    global_step: int,
    rng: Any,
    train_state: dict[str, Any] | None = None,
) -> tuple[tuple[Any, Callable[..., Any]], Any, Any]:
    """One NAdamW step on ``batch``: ``((optax_state, update_fn), params, model_state)``."""
    del current_params_types, loss_type, eval_results, train_state
    trial = read_trial(workload, hyperparameters)
    opt_state, update_fn = optimizer_state
    point = trial.point
    new_opt_state, new_params, new_model_state, loss = _train_step()(
        workload, update_fn, trial.grad_clip, point.label_smoothing, point.dropout_rate, False,
        model_state, opt_state, current_param_container, batch, rng,
    )  # fmt: skip
    log_loss(workload, global_step, lambda: float(loss))
    return (new_opt_state, update_fn), new_params, new_model_state


def _step(
    workload: Any,
    update_fn: Callable[..., Any],
    grad_clip: float | None,
    label_smoothing: float,
    dropout_rate: float,
    with_loss: bool,
    model_state: Any,
    opt_state: Any,
    params: Any,
    batch: dict[str, Any],
    rng: Any,
) -> tuple[Any, Any, Any, Any]:
    """Loss, gradient, clipping, update: the traced body of one step.

    ``with_loss``: the update also gets the batch loss (``value=``), which MoMo's
    rules size their step from (every :func:`hplists.optax.build` result takes it).
    """

    def summed_loss(p: Any) -> tuple[Any, tuple[Any, Any]]:
        logits, new_model_state = workload.model_fn(
            params=p,
            augmented_and_preprocessed_input_batch=batch,
            model_state=model_state,
            mode=train_mode(),
            rng=rng,
            update_batch_norm=True,
            dropout_rate=dropout_rate,
        )
        out = workload.loss_fn(
            label_batch=batch["targets"],
            logits_batch=logits,
            mask_batch=batch.get("weights"),
            label_smoothing=label_smoothing,
        )
        return out["summed"], (out["n_valid_examples"], new_model_state)

    (summed, (count, new_model_state)), grads = jax.value_and_grad(summed_loss, has_aux=True)(
        params
    )
    grads = jax.tree.map(lambda g: g / count, grads)
    if grad_clip is not None:
        norm = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in jax.tree.leaves(grads)))
        scale = jnp.minimum(1.0, grad_clip / (norm + _GRAD_CLIP_EPS))
        grads = jax.tree.map(lambda g: g * scale.astype(g.dtype), grads)
    loss = summed / count
    extra = {"value": loss} if with_loss else {}
    updates, new_opt_state = update_fn(grads, opt_state, params, **extra)
    return new_opt_state, optax.apply_updates(params, updates), new_model_state, loss


@functools.cache
def _shardings() -> tuple[NamedSharding, NamedSharding]:
    """``(replicated, by_example)`` over all devices: ``algoperf/jax_sharding_utils.py``'s."""
    mesh = Mesh(jax.devices(), ("batch",))
    return NamedSharding(mesh, PartitionSpec()), NamedSharding(mesh, PartitionSpec("batch"))


@functools.cache
def _train_step() -> Callable[..., Any]:
    """:func:`_step` jitted once per process, with AlgoPerf's shardings."""
    replicated, by_example = _shardings()
    # Donating the old state lets XLA update it in place; the CPU backend cannot use
    # donated buffers and would warn at every compilation.
    donate = () if jax.default_backend() == "cpu" else (6, 7, 8)
    return jax.jit(
        _step,
        static_argnums=(0, 1, 2, 3, 4, 5),
        in_shardings=(replicated, replicated, replicated, by_example, replicated),
        out_shardings=replicated,
        donate_argnums=donate,
    )


def self_tuning(point: Any, *, budget_factor: float) -> dict[str, Any]:
    """AlgoPerf's five submission functions for the self-tuning ruleset, training ``point``.

    ``point`` is a point of any list (``hplists.get_list(name)[i]``), trained
    with the rule it is defined for: :func:`hplists.optax.build` (NAdamW as the
    external-tuning submission above, every parameter decayed), in the same
    jitted step with AlgoPerf's shardings, the batch loss handed to the rule
    (``value=``; MoMo's rules size their step from it). Its budget and the step
    at which ``update_params`` raises ``TrainingCompleteError`` are
    :class:`~hplists.integrations.algoperf.common.SelfTuning`'s, for
    ``budget_factor`` step hints (the list's :attr:`hplists.NamedList.budget_factor`).

    ``optimizer_state`` is ``({"optax": state, "train_params": None}, update_fn)``.
    Schedule-Free evaluates its average ``x``
    (:func:`hplists.optax.eval_params`): ``prepare_for_eval`` returns ``x`` as
    the parameters and keeps the training iterate in ``"train_params"``, where
    the next ``update_params`` resumes from it. For other rules both are the
    parameters they train.

    Load it with :func:`~hplists.integrations.algoperf.common.self_tuning_shim`.

    Example:
        >>> import jax.numpy as jnp
        >>> from hplists.method_point import MethodPoint
        >>> class Workload:
        ...     step_hint = 4
        ...     def model_fn(self, params, augmented_and_preprocessed_input_batch, model_state,
        ...                  mode, rng, update_batch_norm, dropout_rate):
        ...         return augmented_and_preprocessed_input_batch["inputs"] @ params["w"], model_state
        ...     def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
        ...         per = jnp.sum((logits_batch - label_batch) ** 2, -1)
        ...         return {"summed": per.sum(), "n_valid_examples": per.size}
        >>> point = MethodPoint("momo_adam", {"beta1": 0.9, "beta2": 0.99, "horizon": 0.5,
        ...                                   "learning_rate": 0.1, "warmup_fraction": 0.1})
        >>> # M = 3 x 4 = 12 steps; horizon 0.5: 6 updates
        >>> f = self_tuning(point, budget_factor=3)
        >>> params, w = {"w": jnp.ones((3, 1))}, Workload()
        >>> state = f["init_optimizer_state"](w, params, None, None, None)
        >>> batch = {"inputs": jnp.ones((4, 3)), "targets": jnp.zeros((4, 1))}
        >>> for step in range(6):
        ...     state, params, _ = f["update_params"](w, params, None, None, None, batch, None,
        ...                                           state, [], step, None)
        >>> f["update_params"](w, params, None, None, None, batch, None, state, [], 6, None)
        Traceback (most recent call last):
        ...
        hplists.integrations.algoperf.common.TrainingCompleteError: 6 updates made: the point's horizon (M = 12 steps)
    """
    from hplists import optax as hplists_optax

    run = SelfTuning(point, budget_factor)

    def init_optimizer_state(workload: Any, model_params: Any, model_state: Any,
                             hyperparameters: Any, rng: Any) -> tuple[Any, Callable[..., Any]]:
        del model_state, rng
        run.check_ruleset(hyperparameters)
        # NAdamW as the external-tuning submission builds it (no mask), over its horizon.
        tx = hplists_optax.build(run.point, run.budget(workload))
        replicated, _ = _shardings()
        state = {"optax": jax.device_put(tx.init(model_params), replicated), "train_params": None}
        return state, tx.update

    def update_params(workload: Any, current_param_container: Any, current_params_types: Any,
                      model_state: Any, hyperparameters: Any, batch: dict[str, Any],
                      loss_type: Any, optimizer_state: tuple[Any, Callable[..., Any]],
                      eval_results: list[tuple[int, float]], global_step: int, rng: Any,
                      train_state: dict[str, Any] | None = None,
                      ) -> tuple[tuple[Any, Callable[..., Any]], Any, Any]:
        del current_params_types, hyperparameters, loss_type, eval_results, train_state
        run.stop_at_the_end(workload, global_step)
        state, update_fn = optimizer_state
        params = state["train_params"]
        if params is None:
            params = current_param_container
        p = run.point
        new_opt_state, new_params, new_model_state, loss = _train_step()(
            workload, update_fn, None, p.label_smoothing, p.dropout_rate, True,
            model_state, state["optax"], params, batch, rng,
        )  # fmt: skip
        log_loss(workload, global_step, lambda: float(loss))
        return ({"optax": new_opt_state, "train_params": None}, update_fn), new_params, \
            new_model_state

    def prepare_for_eval(workload: Any, current_param_container: Any, current_params_types: Any,
                         model_state: Any, hyperparameters: Any, loss_type: Any,
                         optimizer_state: tuple[Any, Callable[..., Any]],
                         eval_results: list[tuple[int, float]], global_step: int, rng: Any,
                         ) -> tuple[tuple[Any, Callable[..., Any]], Any, Any]:
        del workload, current_params_types, hyperparameters, loss_type, eval_results
        del global_step, rng
        state, update_fn = optimizer_state
        train = state["train_params"]
        if train is None:
            train = current_param_container
        evaluated = hplists_optax.eval_params(state["optax"], train)
        if evaluated is train:
            return optimizer_state, current_param_container, model_state
        return ({"optax": state["optax"], "train_params": train}, update_fn), evaluated, \
            model_state

    return {"init_optimizer_state": init_optimizer_state, "update_params": update_params,
            "prepare_for_eval": prepare_for_eval, "data_selection": data_selection,
            "get_batch_size": get_batch_size}


