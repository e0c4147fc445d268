"""Hugging Face ``transformers.Trainer`` with a list's points: the point's optimizer and schedule.

A point fixes the optimizer (for ``nadamw-paper``: NAdamW as ``optax.nadamw``;
a point of another list: its rule, :func:`hplists.torch.build`), the schedule
(linear warmup from 0, cosine decay to 0 at the end of the budget or at the
point's horizon), label smoothing and dropout.
The Trainer's own optimizer and scheduler (``args.learning_rate``,
``args.lr_scheduler_type``, ``args.weight_decay``, ``args.warmup_steps``) are
not used:

* :func:`optimizers` is ``(optimizer, scheduler)`` for
  ``Trainer(optimizers=...)``: :func:`hplists.torch.build` (the scheduler a
  ``LambdaLR``, which the Trainer steps once per optimizer step);
  :func:`total_steps` is the horizon, computed from the arguments and the
  dataset as the Trainer computes its number of optimizer steps.
* :func:`point_trainer` builds the Trainer of one point: a fresh model from
  ``model_init(point)``, ``label_smoothing_factor=point.label_smoothing``,
  its own ``output_dir``, the two above, and a callback that stops training at
  the point's horizon (:func:`hplists.steps_to_run`: paper 002's 33/50/66%
  points train that share of the budget).
* :func:`tune_trainer` runs the first ``k`` points of a list as ``k`` Trainer
  runs through :func:`hplists.tune` and keeps the best by ``trainer.evaluate()``.

Dropout lives in the model's config, whose names differ between models
(``hidden_dropout_prob`` and ``attention_probs_dropout_prob`` for BERT,
``resid_pdrop``/``embd_pdrop``/``attn_pdrop`` for GPT-2, ...), so hplists does
not guess them: ``model_init(point)`` builds the model with
``point.dropout_rate``, and :func:`point_trainer` checks that every
``torch.nn.Dropout`` layer of the model has that rate (:func:`dropout_mismatches`).

Schedule-Free evaluates its average: the Trainer itself calls the optimizer's
``eval()`` before evaluating and ``train()`` before each training step. MoMo's
rules size each step from the batch loss, which the Trainer does not hand
``optimizer.step``: :func:`point_trainer` gives their points a Trainer that
does (the sum of ``training_step``'s losses since the last optimizer step, the
loss whose gradients are accumulated), on one process; :func:`optimizers`
alone refuses them, since a Trainer of your own would not.

Two settings of ``TrainingArguments`` change the algorithm the points were
chosen for; hplists leaves them as given: ``max_grad_norm`` (the Trainer clips
gradients at 1.0 by default; the lists were built without clipping, which
``max_grad_norm=0`` gives) and ``auto_find_batch_size`` (refused: the horizon
would change after the scheduler is built).

Example:
    >>> import torch, hplists
    >>> from transformers import TrainingArguments
    >>> args = TrainingArguments(output_dir="out", max_steps=100, use_cpu=True, report_to=[])
    >>> point = hplists.get_list("nadamw-paper")[0]
    >>> opt, sched = optimizers(point, torch.nn.Linear(3, 1), total_steps(args, None))
    >>> type(opt).__name__, sched.lr_lambdas[0]
    ('NAdamW', WarmupCosineFactor(warmup=10, total_steps=100))
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import transformers
from torch.optim.lr_scheduler import LambdaLR

from hplists._check import check_int
from hplists.exceptions import HplistsError, InvalidParameterError
from hplists.hparams import HParams
from hplists.integrations.point_options import (
    NADAMW_DEFAULT_MASK,
    Mask,
    build_options,
    check_point,
)
from hplists.lists.tune import TunedTrial, TuneResult, tune
from hplists.method_point import MethodPoint, method_of, steps_to_run
from hplists.torch import build

__all__ = [
    "dropout_mismatches",
    "metric_and_mode",
    "optimizers",
    "point_trainer",
    "total_steps",
    "training_args",
    "tune_trainer",
]

Point = HParams | MethodPoint
# Trainer arguments that point_trainer sets itself (besides its own parameters).
_OWN = ("model", "optimizers", "optimizer_cls_and_kwargs")
# evaluate()'s timings: they say nothing about the point and would crowd the table.
_TIMINGS = ("_runtime", "_samples_per_second", "_steps_per_second")


def _needs_loss(point: Point) -> bool:
    from hplists.optim import lrfree

    name = method_of(point)
    return name in lrfree.METHODS and lrfree.get_method(name).needs_loss


class _StepLossTrainer(transformers.Trainer):
    """A Trainer whose optimizer can take the loss of each optimizer step (MoMo's rules).

    ``training_step`` returns the loss it backpropagated (divided for gradient
    accumulation where the Trainer divides it), so their sum since the last
    optimizer step is the loss whose gradients ``.grad`` holds.
    """

    _step_loss: Any = None

    def training_step(self, *args: Any, **kwargs: Any) -> Any:
        loss = super().training_step(*args, **kwargs)
        self._step_loss = loss if self._step_loss is None else self._step_loss + loss
        return loss

    def take_step_loss(self) -> Any:
        """The loss of the optimizer step now taken; the sum starts again."""
        loss, self._step_loss = self._step_loss, None
        if loss is None:
            raise HplistsError("the optimizer stepped without a training_step since its last "
                               "step: there is no loss to hand it")
        return loss


def optimizers(point: Point, model: torch.nn.Module | Any, total_steps: int, *,
               mask: Mask | None = NADAMW_DEFAULT_MASK,
               **options: Any) -> tuple[torch.optim.Optimizer, LambdaLR]:
    """``(optimizer, scheduler)`` for ``transformers.Trainer(optimizers=...)``.

    :func:`hplists.torch.build`'s pair for the point's rule (for a NAdamW
    point: hplists' NAdamW with the point's learning rate, betas, eps and
    weight decay), the ``LambdaLR`` schedule over ``total_steps`` optimizer
    steps (:func:`total_steps`), which the Trainer steps after every optimizer
    step; a point with a horizon has its schedule end at
    ``hplists.steps_to_run(point, total_steps)``, where :func:`point_trainer`
    stops. ``mask`` selects the parameters NAdamW decays (default: tensors of 2
    or more dimensions, :func:`hplists.torch.decay_matrices`; ``None`` decays
    all); other rules decay every parameter and take no mask. ``options`` go
    to :func:`hplists.torch.build`. The Trainer
    moves the model to its device in place (the parameters stay the objects
    the optimizer holds), so the pair may be built first; on XLA devices the
    Trainer wants the model moved before.

    Example:
        >>> import torch, hplists
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
        >>> opt, _ = optimizers(hplists.get_list("nadamw-paper")[1], net, 100)
        >>> [(len(g["params"]), g["weight_decay"]) for g in opt.param_groups]
        [(1, 0.15957548811577366), (3, 0.0)]
        >>> optimizers(hplists.get_list("nadamw-paper")[1], net, 0)
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: total_steps must be an integer in [1, inf], got 0
    """
    point = check_point(point)
    if _needs_loss(point):
        raise InvalidParameterError(
            f"the point's rule {method_of(point)!r} sizes each step from the batch loss, which "
            "transformers.Trainer does not hand optimizer.step; point_trainer and tune_trainer "
            "build a Trainer that does")
    return _optimizers(point, model, total_steps, mask, options)


def _optimizers(point: Point, model: Any, total_steps: int, mask: Mask | None,
                options: dict[str, Any]) -> tuple[torch.optim.Optimizer, LambdaLR]:
    steps = check_int("total_steps", total_steps, low=1)
    optimizer, scheduler = build(point, model, steps, **build_options(point, mask, options))
    return optimizer, scheduler


def total_steps(args: transformers.TrainingArguments, train_dataset: Any) -> int:
    """The number of optimizer steps ``Trainer(args, train_dataset=...).train()`` takes.

    ``args.max_steps`` if it is positive; otherwise ``num_train_epochs`` times
    the optimizer steps of an epoch, computed as the Trainer computes them: the
    dataset's length in batches of ``args.train_batch_size`` (the last one
    partial unless ``dataloader_drop_last``), shared among ``args.world_size``
    processes as Accelerate shards it, then divided by
    ``gradient_accumulation_steps`` rounding up. A dataset without a length
    needs ``max_steps``.

    Example:
        >>> from transformers import TrainingArguments
        >>> args = TrainingArguments(output_dir="out", per_device_train_batch_size=8,
        ...                          gradient_accumulation_steps=3, num_train_epochs=2,
        ...                          use_cpu=True, report_to=[])
        >>> total_steps(args, range(50))  # 7 batches, 3 steps per epoch, 2 epochs
        6
        >>> total_steps(args, None)
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: total_steps: args.max_steps is -1 and train_dataset has no length (NoneType); set TrainingArguments(max_steps=N) with N >= 1
    """
    if args.max_steps > 0:
        return int(args.max_steps)
    try:
        n = len(train_dataset)
    except TypeError:  # an IterableDataset, or None
        raise InvalidParameterError(
            f"total_steps: args.max_steps is {args.max_steps} and train_dataset has no length "
            f"({type(train_dataset).__name__}); set TrainingArguments(max_steps=N) with N >= 1"
        ) from None
    batches = _batches_per_process(args, n)
    per_epoch = max(math.ceil(batches / args.gradient_accumulation_steps), 1)
    steps = math.ceil(args.num_train_epochs * per_epoch)
    if n == 0 or steps < 1:
        raise InvalidParameterError(
            f"total_steps: {n} examples for {args.num_train_epochs} epochs make no optimizer "
            "step; num_train_epochs must be > 0 and train_dataset not empty (or set max_steps)")
    return steps


def _batches_per_process(args: transformers.TrainingArguments, n: int) -> int:
    """Batches one process sees in an epoch: accelerate's ``BatchSamplerShard.__len__``."""
    drop = args.dataloader_drop_last
    batches = n // args.train_batch_size if drop else math.ceil(n / args.train_batch_size)
    world = args.world_size
    # __post_init__ makes accelerator_config an AcceleratorConfig (declared dict | str | None).
    acc = args.accelerator_config
    if world == 1 or getattr(acc, "split_batches", False):  # split batches: each batch is cut among the processes
        return batches
    length, extra = divmod(batches, world)
    if extra == 0 or drop:
        return length
    if getattr(acc, "even_batches", True):  # the last round is completed with samples from the start
        return length + 1
    return length + int(args.process_index < extra)


def training_args(args: transformers.TrainingArguments, point: Point,
                  index: int) -> transformers.TrainingArguments:
    """``args`` for the ``index``-th point (1-based): its label smoothing and output directory.

    ``label_smoothing_factor=point.label_smoothing`` (the Trainer's
    ``LabelSmoother`` then applies it to the training loss);
    ``output_dir=<args.output_dir>/point-<index>``, so that the runs' checkpoints
    and logs stay apart; ``run_name`` gets the same suffix where it is set.

    Example:
        >>> import hplists
        >>> from transformers import TrainingArguments
        >>> args = TrainingArguments(output_dir="out", use_cpu=True, report_to=[])
        >>> a = training_args(args, hplists.get_list("nadamw-paper")[0], 1)
        >>> a.output_dir, a.label_smoothing_factor
        ('out/point-1', 0.2)
    """
    point = check_point(point)
    index = check_int("index", index, low=1)
    changes: dict[str, Any] = {
        "output_dir": os.path.join(args.output_dir or "trainer_output", f"point-{index}"),
        "label_smoothing_factor": point.label_smoothing,
    }
    if args.run_name:
        changes["run_name"] = f"{args.run_name}-point-{index}"
    # replace() runs TrainingArguments.__post_init__ again, which validates the new values.
    return dataclasses.replace(args, **changes)


def dropout_mismatches(model: torch.nn.Module, rate: float) -> list[str]:
    """Names of the model's dropout layers whose probability is not ``rate``.

    Every ``torch.nn.Dropout`` (and its 1d/2d/3d/alpha variants) is looked at;
    dropout a model applies functionally, without such a layer, is not seen.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.1))
        >>> dropout_mismatches(net, 0.1), dropout_mismatches(net, 0.0)
        ([], ['1 (p=0.1)'])
    """
    return [f"{name} (p={m.p:g})" for name, m in model.named_modules()
            if isinstance(m, torch.nn.modules.dropout._DropoutNd) and m.p != rate]


def _check_dropout(model: torch.nn.Module, point: Point) -> None:
    has_layers = any(isinstance(m, torch.nn.modules.dropout._DropoutNd) for m in model.modules())
    bad = dropout_mismatches(model, point.dropout_rate)
    if bad or (not has_layers and point.dropout_rate > 0):
        found = f"dropout layers {bad[:4]}{' ...' if len(bad) > 4 else ''}" if bad else \
            "no torch.nn.Dropout layer"
        raise InvalidParameterError(
            f"model_init(point) returned a model with {found}, but point.dropout_rate is "
            f"{point.dropout_rate:g}: build the model with the point's dropout rate in every "
            "dropout field of its config (e.g. BertConfig(hidden_dropout_prob=..., "
            "attention_probs_dropout_prob=...)), or pass check_dropout=False if the model "
            "applies it another way")


class _Horizon(transformers.TrainerCallback):
    """Stops a run before its first step if the Trainer's step count is not the schedule's,
    and after step ``stop`` (the point's horizon, where its schedule ends)."""

    def __init__(self, total: int, stop: int | None = None) -> None:
        self.total, self.stop = total, total if stop is None else stop

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step >= self.stop:
            control.should_training_stop = True

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.max_steps != self.total:
            raise HplistsError(
                f"the Trainer will take {state.max_steps} optimizer steps, but the schedule was "
                f"built for {self.total} (total_steps); set TrainingArguments(max_steps=N) so "
                "that both use N")


def point_trainer(
    point: Point,
    model_init: Callable[[Point], torch.nn.Module],
    args: transformers.TrainingArguments,
    train_dataset: Any,
    eval_dataset: Any = None,
    *,
    index: int = 1,
    mask: Mask | None = NADAMW_DEFAULT_MASK,
    check_dropout: bool = True,
    **trainer_kwargs: Any,
) -> transformers.Trainer:
    """The ``transformers.Trainer`` that trains a fresh model with ``point``.

    Seeds as the Trainer does before its own ``model_init`` (``args.seed``, so
    every point starts from the same weights), builds ``model_init(point)``,
    checks its dropout (:func:`dropout_mismatches`; ``check_dropout=False``
    skips it), and returns a Trainer with :func:`training_args` and
    :func:`optimizers` over :func:`total_steps`, stopping at the point's
    horizon if it has one (``hplists.steps_to_run``). ``trainer_kwargs`` go to
    ``transformers.Trainer`` (``data_collator``, ``compute_metrics``,
    ``callbacks``, ...); ``model``, ``optimizers`` and
    ``optimizer_cls_and_kwargs`` are set here.

    A point of MoMo's rules gets a Trainer that hands its optimizer the loss of
    each optimizer step (the sum of ``training_step``'s losses since the last
    step); on one process only.

    The label smoothing is the Trainer's ``LabelSmoother``, which smooths the
    loss of batches with a ``labels`` entry; a ``compute_loss_func`` of your
    own replaces it, and must then apply ``point.label_smoothing`` itself.
    """
    point = check_point(point)
    own = sorted(set(trainer_kwargs) & set(_OWN))
    if own:
        raise InvalidParameterError(f"point_trainer sets {own} itself; pass the model as "
                                    "model_init(point) and leave the optimizer to the point")
    if args.auto_find_batch_size:
        raise InvalidParameterError("args.auto_find_batch_size must be False: the schedule's "
                                    "horizon depends on the batch size, fixed before training")
    targs = training_args(args, point, index)
    if targs.full_determinism:
        transformers.enable_full_determinism(targs.seed)
    else:
        transformers.set_seed(targs.seed)
    model = model_init(point)
    if not isinstance(model, torch.nn.Module):
        raise InvalidParameterError(
            f"model_init(point) must return a torch.nn.Module, got {type(model).__name__}")
    if check_dropout:
        _check_dropout(model, point)
    steps = total_steps(targs, train_dataset)
    callbacks = [*(trainer_kwargs.pop("callbacks", None) or []),
                 _Horizon(steps, steps_to_run(point, steps))]
    needs_loss = _needs_loss(point)
    if needs_loss and targs.world_size > 1:
        raise InvalidParameterError(
            f"the point's rule {method_of(point)!r} sizes each step from the batch loss; in a "
            f"Trainer of {targs.world_size} processes each would step from its own loss while "
            "the gradients are averaged, and the replicas would drift apart: train it on one")
    pair = _optimizers(point, model, steps, mask, {})
    cls = _StepLossTrainer if needs_loss else transformers.Trainer
    trainer = cls(model=model, args=targs, train_dataset=train_dataset,
                  eval_dataset=eval_dataset, optimizers=pair, callbacks=callbacks,
                  **trainer_kwargs)
    if needs_loss:
        assert isinstance(trainer, _StepLossTrainer)
        pair[0].loss_source = trainer.take_step_loss  # type: ignore[attr-defined]
    return trainer


def metric_and_mode(args: transformers.TrainingArguments, metric: str | None = None,
                    greater_is_better: bool | None = None) -> tuple[str, str]:
    """The ``trainer.evaluate()`` key that ranks the points, and ``"max"`` or ``"min"``.

    ``metric`` (default: ``args.metric_for_best_model``, else ``"loss"``) gets
    the ``eval_`` prefix if it lacks it, as the Trainer's ``metric_for_best_model``
    does. The direction is ``greater_is_better``, else ``args.greater_is_better``
    when ranking by ``args.metric_for_best_model``, else the Trainer's rule:
    a name ending in ``loss`` is minimised, any other maximised.

    Example:
        >>> from transformers import TrainingArguments
        >>> args = TrainingArguments(output_dir="out", use_cpu=True, report_to=[])
        >>> metric_and_mode(args), metric_and_mode(args, "accuracy")
        (('eval_loss', 'min'), ('eval_accuracy', 'max'))
    """
    if greater_is_better is not None and not isinstance(greater_is_better, bool):
        raise InvalidParameterError(f"greater_is_better must be True, False or None, got "
                                    f"{greater_is_better!r}")
    own = args.metric_for_best_model
    name = metric if metric is not None else own or "loss"
    if not isinstance(name, str) or not name:
        raise InvalidParameterError(f"metric must be a key of trainer.evaluate()'s result "
                                    f"such as 'eval_loss', got {name!r}")
    key = name if name.startswith("eval_") else f"eval_{name}"
    if greater_is_better is None and own is not None and args.greater_is_better is not None \
            and key == (own if own.startswith("eval_") else f"eval_{own}"):
        greater_is_better = args.greater_is_better
    if greater_is_better is None:
        greater_is_better = not key.endswith("loss")
    return key, "max" if greater_is_better else "min"


def _evaluate(trainer: transformers.Trainer, metric: str) -> dict[str, Any]:
    """``trainer.evaluate()`` without label smoothing: the ranking metric first, no timings.

    The Trainer's ``LabelSmoother`` also smooths the evaluation loss, and the
    points of a list differ in label smoothing (0 to 0.2 in the shipped lists),
    so a smoothed ``eval_loss`` would favour the points with less of it. The
    ranking evaluation therefore computes the model's own loss; training used
    the point's smoothing.
    """
    smoother, trainer.label_smoother = trainer.label_smoother, None
    try:
        results = trainer.evaluate()
    finally:
        trainer.label_smoother = smoother
    if metric not in results:
        raise InvalidParameterError(
            f"metric {metric!r} is not a key of trainer.evaluate()'s result; allowed: "
            f"{sorted(k for k in results if not k.endswith(_TIMINGS))} (compute_metrics adds more)")
    kept = {k: v for k, v in results.items() if k != "epoch" and not k.endswith(_TIMINGS)}
    return {metric: kept.pop(metric), **kept, "output_dir": trainer.args.output_dir}


def tune_trainer(
    model_init: Callable[[Point], torch.nn.Module],
    args: transformers.TrainingArguments,
    points: str | Any | Sequence[Point] = "nadamw-paper",
    k: int | None = None,
    *,
    train_dataset: Any,
    eval_dataset: Any,
    metric: str | None = None,
    greater_is_better: bool | None = None,
    mask: Mask | None = NADAMW_DEFAULT_MASK,
    check_dropout: bool = True,
    callback: Callable[[TunedTrial], None] | None = None,
    **trainer_kwargs: Any,
) -> TuneResult:
    """Trains with the first ``k`` points of a list as ``k`` Trainer runs, and keeps the best.

    Each point gets a fresh model, ``model_init(point)`` (which sets the
    point's dropout), and its own Trainer (:func:`point_trainer`: the point's
    optimizer and schedule, the point's label smoothing,
    ``<args.output_dir>/point-<i>``), trains, and is evaluated with
    ``trainer.evaluate()`` on ``eval_dataset``, without label smoothing (so
    that losses compare across points). :func:`hplists.tune` runs the points in
    order, ranks them and prints the same table.

    Args:
        model_init: ``model_init(point)`` returns the model to train with
            ``point`` (``point.dropout_rate`` in its config).
        args: the runs' ``TrainingArguments``; ``max_steps`` or
            ``num_train_epochs`` set the horizon (:func:`total_steps`).
        points: a list name, a list, or a sequence of its points
            (:class:`~hplists.HParams`, :class:`~hplists.MethodPoint`).
        k: the trial budget (default: every point).
        metric: the key of ``trainer.evaluate()`` that ranks the points
            (:func:`metric_and_mode`; default ``args.metric_for_best_model``,
            else ``"eval_loss"``); keys come from the model's loss and
            ``compute_metrics``.
        greater_is_better: the direction (default: as the Trainer decides it).
        mask, check_dropout: as in :func:`point_trainer`.
        callback: called with each finished trial (:func:`hplists.tune`).
        trainer_kwargs: more ``transformers.Trainer`` arguments.

    Returns:
        :func:`hplists.tune`'s result; each trial's ``result`` is the evaluation
        (the metrics and the run's ``output_dir``).

    Example (``examples/transformers_quickstart.py`` runs it)::

        result = tune_trainer(lambda p: BertForSequenceClassification(config(p)), args,
                              "nadamw-paper", k=3, train_dataset=train, eval_dataset=val)
        print(result)               # one row per point, the best marked
        best = result.best.point
    """
    key, mode = metric_and_mode(args, metric, greater_is_better)
    index = itertools.count(1)  # tune calls train once per point, in list order

    def train(point: Point) -> Mapping[str, Any]:
        trainer = point_trainer(point, model_init, args, train_dataset, eval_dataset,
                                index=next(index), mask=mask, check_dropout=check_dropout,
                                **trainer_kwargs)
        trainer.train()
        return _evaluate(trainer, key)

    return tune(train, points, k=k, metric=key, mode=mode, callback=callback)
