"""AlgoPerf submission (PyTorch, external tuning): ``optax.nadamw`` and hplists' schedule.

Load it with ``--framework=pytorch --submission_path=FILE``, FILE holding
``shim("pytorch")`` (:func:`hplists.integrations.algoperf.common.shim`;
``docs/algoperf.md``). Each trial's point is read from AlgoPerf's
``hyperparameters`` (:mod:`hplists.integrations.algoperf.common`) and trained
with :class:`hplists.torch.NAdamW`, which computes ``optax.nadamw``'s update,
and a ``LambdaLR`` over :class:`hplists.torch.WarmupCosineFactor`: update
``t = 0, 1, ...`` (AlgoPerf's ``global_step``) uses ``lr * factor(t)``, which
is 0 at ``t = 0``, rises linearly to ``lr`` at the end of the warmup, decays
(cosine) to 0 at the horizon ``workload.step_hint`` and stays 0 after it.
Every parameter is decayed, as in AlgoPerf's baseline (no mask).

``optimizer_state`` is ``{"optimizer": NAdamW, "scheduler": LambdaLR}``: AlgoPerf's
checkpoints save and restore each value's ``state_dict()``. Under
``torch.distributed`` (AlgoPerf's DDP runs) the summed loss and the count of
valid examples are all-reduced before the division, so the gradient is that of
the global batch's mean loss.

What it reads from the workload: :mod:`hplists.integrations.algoperf`.

Example (a workload needs ``step_hint``, ``model_fn`` and ``loss_fn``):
    >>> import torch
    >>> class Workload:
    ...     step_hint = 100
    ...     def model_fn(self, params, augmented_and_preprocessed_input_batch, model_state,
    ...                  mode, rng, update_batch_norm, dropout_rate):
    ...         return params(augmented_and_preprocessed_input_batch["inputs"]), model_state
    ...     def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
    ...         per = (logits_batch - label_batch).square().sum(-1)
    ...         return {"summed": per.sum(), "n_valid_examples": len(per), "per_example": per}
    >>> hp = {"learning_rate": 1e-2, "one_minus_beta1": 0.1, "beta2": 0.99,
    ...       "weight_decay": 0.0, "warmup_factor": 0.1}
    >>> model, w = torch.nn.Linear(3, 1), Workload()
    >>> state = init_optimizer_state(w, model, None, hp, None)
    >>> batch = {"inputs": torch.ones(4, 3), "targets": torch.zeros(4, 1)}
    >>> state, model, _ = update_params(w, model, None, None, hp, batch, None, state, [], 0, None)
    >>> state["optimizer"].param_groups[0]["lr"]  # after update 0 (lr 0): update 1's
    0.001
"""

from __future__ import annotations

from typing import Any

import torch

from hplists.integrations.algoperf.common import (
    SelfTuning,
    data_selection,
    get_batch_size,
    log_loss,
    prepare_for_eval,
    read_trial,
    train_mode,
)
from hplists.optim.torch_nadamw import build

__all__ = [
    "data_selection",
    "get_batch_size",
    "init_optimizer_state",
    "prepare_for_eval",
    "self_tuning",
    "update_params",
]



def init_optimizer_state(
    workload: Any,
    model_params: torch.nn.Module,
    model_state: Any,
    hyperparameters: Any,
    rng: Any,
) -> dict[str, Any]:
    """``{"optimizer": NAdamW, "scheduler": LambdaLR}`` for the trial's point and horizon."""
    del model_state, rng
    trial = read_trial(workload, hyperparameters)
    optimizer, scheduler = build(trial.point, model_params, trial.total_steps)
    return {"optimizer": optimizer, "scheduler": scheduler}


def update_params(
    workload: Any,
    current_param_container: torch.nn.Module,
    current_params_types: Any,
    model_state: Any,
    hyperparameters: Any,
    batch: dict[str, Any],
    loss_type: Any,
    optimizer_state: dict[str, Any],
    eval_results: list[tuple[int, float]],
    global_step: int,
    rng: Any,
    train_state: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], torch.nn.Module, Any]:
    """One NAdamW step on ``batch``: ``(optimizer_state, model, new_model_state)``."""
    del current_params_types, loss_type, eval_results, train_state
    trial = read_trial(workload, hyperparameters)
    new_model_state = _step(workload, current_param_container, optimizer_state, trial.point,
                            batch, model_state, rng, global_step, grad_clip=trial.grad_clip)
    return optimizer_state, current_param_container, new_model_state


def _step(workload: Any, model: torch.nn.Module, optimizer_state: dict[str, Any], point: Any,
          batch: dict[str, Any], model_state: Any, rng: Any, global_step: int, *,
          grad_clip: float | None = None) -> Any:
    """One update of ``model`` in place; the new model state.

    The optimizer gets the batch loss through its closure (MoMo's rules size
    their step from it; the others return it unused).
    """
    model.train()
    optimizer, scheduler = optimizer_state["optimizer"], optimizer_state["scheduler"]
    optimizer.zero_grad(set_to_none=True)
    logits, new_model_state = workload.model_fn(
        params=model,
        augmented_and_preprocessed_input_batch=batch,
        model_state=model_state,
        mode=train_mode(),
        rng=rng,
        update_batch_norm=True,
        dropout_rate=point.dropout_rate,
    )
    loss = _mean_loss(workload.loss_fn(
        label_batch=batch["targets"],
        logits_batch=logits,
        mask_batch=batch.get("weights"),
        label_smoothing=point.label_smoothing,
    ))
    loss.backward()
    if grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=grad_clip)
    optimizer.step(lambda: loss)
    scheduler.step()
    log_loss(workload, global_step, loss.item)
    return new_model_state


def self_tuning(point: Any, *, budget_factor: float) -> dict[str, Any]:
    """AlgoPerf's five submission functions for the self-tuning ruleset, training ``point``.

    ``point`` is a point of any list (``hplists.get_list(name)[i]``), trained
    with the rule it is defined for: NAdamW as the external-tuning submission
    above trains it (every parameter decayed), any other rule by
    :func:`hplists.torch.build` (the learning-rate-free methods through
    :func:`hplists.torch_lrfree.build`). Its budget and the step at which
    ``update_params`` raises ``TrainingCompleteError`` are
    :class:`~hplists.integrations.algoperf.common.SelfTuning`'s, for
    ``budget_factor`` step hints (the list's :attr:`hplists.NamedList.budget_factor`). The optimizer
    gets the batch loss, all-reduced under ``torch.distributed`` (MoMo's rules
    size their step from it, so every rank takes the same step).
    ``prepare_for_eval`` swaps Schedule-Free's average ``x`` into the model
    (the optimizer's ``eval()``) and the next ``update_params`` swaps the
    training iterate back (``train()``); for other rules both are no-ops.

    Load it with :func:`~hplists.integrations.algoperf.common.self_tuning_shim`.

    Example:
        >>> import torch
        >>> from hplists.method_point import MethodPoint
        >>> class Workload:
        ...     step_hint = 4
        ...     def model_fn(self, params, augmented_and_preprocessed_input_batch, model_state,
        ...                  mode, rng, update_batch_norm, dropout_rate):
        ...         return params(augmented_and_preprocessed_input_batch["inputs"]), model_state
        ...     def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
        ...         per = (logits_batch - label_batch).square().sum(-1)
        ...         return {"summed": per.sum(), "n_valid_examples": len(per)}
        >>> point = MethodPoint("prodigy", {"beta1": 0.9, "beta2": 0.99, "horizon": 0.5,
        ...                                 "warmup_fraction": 0.1, "safeguard_warmup": 1})
        >>> # M = 3 x 4 = 12 steps; horizon 0.5: 6 updates
        >>> f = self_tuning(point, budget_factor=3)
        >>> model, w = torch.nn.Linear(3, 1), Workload()
        >>> state = f["init_optimizer_state"](w, model, None, None, None)
        >>> batch = {"inputs": torch.ones(4, 3), "targets": torch.zeros(4, 1)}
        >>> for step in range(6):
        ...     state, model, _ = f["update_params"](w, model, None, None, None, batch, None,
        ...                                          state, [], step, None)
        >>> f["update_params"](w, model, None, None, None, batch, None, state, [], 6, None)
        Traceback (most recent call last):
        ...
        hplists.integrations.algoperf.common.TrainingCompleteError: 6 updates made: the point's horizon (M = 12 steps)
    """
    run = SelfTuning(point, budget_factor)

    def init_optimizer_state(workload: Any, model_params: torch.nn.Module, model_state: Any,
                             hyperparameters: Any, rng: Any) -> dict[str, Any]:
        del model_state, rng
        run.check_ruleset(hyperparameters)
        from hplists import torch as hplists_torch

        # NAdamW as the external-tuning submission builds it (no mask), over its horizon.
        optimizer, scheduler = hplists_torch.build(run.point, model_params, run.budget(workload))
        return {"optimizer": optimizer, "scheduler": scheduler}

    def update_params(workload: Any, current_param_container: torch.nn.Module,
                      current_params_types: Any, model_state: Any, hyperparameters: Any,
                      batch: dict[str, Any], loss_type: Any, optimizer_state: dict[str, Any],
                      eval_results: list[tuple[int, float]], global_step: int, rng: Any,
                      train_state: dict[str, Any] | None = None,
                      ) -> tuple[dict[str, Any], torch.nn.Module, Any]:
        del current_params_types, hyperparameters, loss_type, eval_results, train_state
        run.stop_at_the_end(workload, global_step)
        _swap(optimizer_state["optimizer"], "train")
        new_model_state = _step(workload, current_param_container, optimizer_state, run.point,
                                batch, model_state, rng, global_step)
        return optimizer_state, current_param_container, new_model_state

    def prepare_for_eval(workload: Any, current_param_container: torch.nn.Module,
                         current_params_types: Any, model_state: Any, hyperparameters: Any,
                         loss_type: Any, optimizer_state: dict[str, Any],
                         eval_results: list[tuple[int, float]], global_step: int, rng: Any,
                         ) -> tuple[dict[str, Any], torch.nn.Module, Any]:
        del workload, current_params_types, hyperparameters, loss_type, eval_results
        del global_step, rng
        _swap(optimizer_state["optimizer"], "eval")
        return optimizer_state, current_param_container, model_state

    return {"init_optimizer_state": init_optimizer_state, "update_params": update_params,
            "prepare_for_eval": prepare_for_eval, "data_selection": data_selection,
            "get_batch_size": get_batch_size}




def _swap(optimizer: Any, mode: str) -> None:
    """Schedule-Free's ``eval()`` / ``train()`` (each a no-op when already there)."""
    swap = getattr(optimizer, mode, None)
    if callable(swap):
        swap()


def _mean_loss(loss_dict: dict[str, Any]) -> torch.Tensor:
    """The mean loss over the valid examples of the (global) batch."""
    summed, count = loss_dict["summed"], loss_dict["n_valid_examples"]
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        # Differentiable all-reduce: the gradient is the global batch's, as DDP
        # then averages it over the ranks (AlgoPerf's baselines do the same).
        from torch.distributed.nn.functional import all_reduce

        summed = all_reduce(summed)
        count = all_reduce(torch.as_tensor(count, device=summed.device))
    return summed / count


