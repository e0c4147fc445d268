"""Lightning's ``configure_optimizers`` from any list's point.

:func:`configure_optimizers` returns the dictionary a ``LightningModule``'s
``configure_optimizers`` hook returns: the optimizer and schedule
:func:`hplists.torch.build` makes for the point's update rule (for a NAdamW
point: hplists' NAdamW, ``optax.nadamw``, with weight decay on tensors of 2 or
more dimensions, :func:`hplists.torch.param_groups`, and the warmup-cosine
schedule), the scheduler stepped after every optimizer step (``"interval":
"step"``). Inside the hook the budget defaults to
``self.trainer.estimated_stepping_batches`` (``max_steps``, or the epochs'
batches over ``accumulate_grad_batches``)::

    class Model(lightning.LightningModule):
        def configure_optimizers(self):
            return hplists.integrations.lightning.configure_optimizers(self.point, self)

or, with the mixin, ``class Model(PointOptimizers, lightning.LightningModule)``
and ``self.point`` set. The mixin also does what some rules need beyond the
optimizer: it stops the fit at a point's ``horizon``
(:func:`hplists.steps_to_run`: paper 002's 33/50/66% points train that share
of the budget, their schedule ending there), and it evaluates Schedule-Free at
its average (validation, test, prediction, and after the fit). MoMo's rules
read the batch loss from the closure Lightning's automatic optimization hands
``optimizer.step``. The point's ``dropout_rate`` and ``label_smoothing``
belong to the model and its loss (``torch.nn.CrossEntropyLoss(label_smoothing=...)``).

This module does not import Lightning: it reads the module's parameters and
``module.trainer`` only, so it serves ``lightning`` and ``pytorch_lightning`` alike.

Example:
    >>> import torch, hplists
    >>> point = hplists.get_list("nadamw-paper")[0]
    >>> conf = configure_optimizers(point, torch.nn.Linear(3, 1), total_steps=100)
    >>> type(conf["optimizer"]).__name__, conf["lr_scheduler"]["interval"]
    ('NAdamW', 'step')
"""

from __future__ import annotations

import math
from typing import Any

import torch

from hplists._check import check_int
from hplists.exceptions import InvalidParameterError
from hplists.hparams import HParams
from hplists.integrations.point_options import (
    NADAMW_DEFAULT_MASK,
    Mask,
    build_options,
    check_point,
)
from hplists.method_point import MethodPoint, steps_to_run
from hplists.torch import build

__all__ = ["PointOptimizers", "configure_optimizers", "stepping_batches"]


def stepping_batches(module: Any) -> int:
    """The optimizer steps of the module's fit: ``module.trainer.estimated_stepping_batches``.

    Example:
        >>> stepping_batches(torch.nn.Linear(2, 2))
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: total_steps: Linear is not attached to a Lightning Trainer; pass total_steps, or call configure_optimizers from the module's configure_optimizers hook
    """
    try:
        trainer = module.trainer
    except (AttributeError, RuntimeError):  # not a LightningModule, or not attached yet
        trainer = None
    if trainer is None:
        raise InvalidParameterError(
            f"total_steps: {type(module).__name__} is not attached to a Lightning Trainer; "
            "pass total_steps, or call configure_optimizers from the module's "
            "configure_optimizers hook")
    steps = trainer.estimated_stepping_batches
    if not (isinstance(steps, int) or (isinstance(steps, float) and math.isfinite(steps))) \
            or steps < 1:
        raise InvalidParameterError(
            f"total_steps: the Trainer's estimated_stepping_batches is {steps}, not a number of "
            "steps >= 1; set Trainer(max_steps=N), or max_epochs with a sized train dataloader")
    return int(steps)


def configure_optimizers(point: HParams | MethodPoint, module: torch.nn.Module,
                         total_steps: int | None = None, *,
                         mask: Mask | None = NADAMW_DEFAULT_MASK,
                         **options: Any) -> dict[str, Any]:
    """``{"optimizer": ..., "lr_scheduler": {...}}`` for ``LightningModule.configure_optimizers``.

    The optimizer and schedule are :func:`hplists.torch.build`'s for the
    point's rule. ``total_steps`` defaults to :func:`stepping_batches` (the
    Trainer's estimate, available inside the hook). ``mask`` selects the
    parameters NAdamW decays (default :func:`hplists.torch.decay_matrices`,
    the rule of :func:`hplists.torch.param_groups`; ``None`` decays all);
    other rules decay every parameter, as their lists were measured, and take
    no mask. ``options`` go to :func:`hplists.torch.build` (NAdamW: ``fused``,
    ``compiled``, ...).

    A point with a ``horizon`` trains ``hplists.steps_to_run(point,
    total_steps)`` steps, its schedule ending there: :class:`PointOptimizers`
    stops the fit at that step; with this function alone, stop it yourself
    (pass ``total_steps`` and set ``Trainer(max_steps=steps_to_run(point,
    total_steps))``). Schedule-Free evaluates its average: the mixin swaps it
    in, or see :func:`hplists.torch.evaluating`.

    Example:
        >>> import torch, hplists
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
        >>> conf = configure_optimizers(hplists.get_list("nadamw-paper")[0], net, 10)
        >>> [g["weight_decay"] for g in conf["optimizer"].param_groups]
        [0.020932289532959312, 0.0]
        >>> conf["lr_scheduler"]["scheduler"].lr_lambdas[0], conf["lr_scheduler"]["frequency"]
        (WarmupCosineFactor(warmup=1, total_steps=10), 1)
        >>> from hplists.method_point import MethodPoint
        >>> sf = MethodPoint("sfadamw", {"learning_rate": 1e-3, "warmup_fraction": 0.1})
        >>> type(configure_optimizers(sf, net, 10)["optimizer"]).__name__
        'ScheduleFreeAdamW'
    """
    point = check_point(point)
    if not isinstance(module, torch.nn.Module):
        raise InvalidParameterError(
            f"module must be a torch.nn.Module (a LightningModule), got {type(module).__name__}")
    steps = stepping_batches(module) if total_steps is None else total_steps
    steps = check_int("total_steps", steps, low=1)
    optimizer, scheduler = build(point, module, steps, **build_options(point, mask, options))
    # "step": Lightning steps the scheduler after every optimizer step, as the schedule's
    # count is defined (the default, "epoch", would step it once per epoch).
    return {"optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 1}}


class PointOptimizers:
    """Mixin: ``configure_optimizers`` from ``self.point``, and the hooks its rule needs.

    Put it before ``LightningModule`` in the bases and set ``self.point`` (a
    point of any list). Besides :func:`configure_optimizers`, it

    * stops the fit at the point's horizon (``hplists.steps_to_run`` of the
      Trainer's steps: ``trainer.should_stop`` after that optimizer step);
    * swaps Schedule-Free's average into the parameters to validate, test
      and predict, and back to train (``optimizer.eval()`` / ``train()``,
      which other rules do not have), and leaves the average in after the fit,
      so the fitted module evaluates what the rule evaluates.

    A module that overrides these hooks calls ``super()`` in them to keep this.

    Example:
        >>> import lightning, hplists
        >>> class Net(PointOptimizers, lightning.LightningModule):
        ...     def __init__(self, point):
        ...         super().__init__()
        ...         self.point, self.fc = point, torch.nn.Linear(2, 1)
        ...     def training_step(self, batch, batch_idx):
        ...         return self.fc(batch[0]).square().mean()
        >>> data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(8, 2)))
        >>> net = Net(hplists.get_list("nadamw-paper")[0])
        >>> trainer = lightning.Trainer(max_steps=5, accelerator="cpu", logger=False,
        ...     enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
        >>> trainer.fit(net, data)
        >>> type(trainer.optimizers[0]).__name__, trainer.optimizers[0].param_groups[0]["lr"]
        ('NAdamW', 0.0)
    """

    point: HParams | MethodPoint
    trainer: Any
    #: The optimizer step at which the fit stops (the point's horizon), once configured.
    stop_step: int | None = None

    def configure_optimizers(self) -> dict[str, Any]:
        """The optimizer and per-step scheduler of ``self.point`` over the Trainer's steps."""
        point = check_point(getattr(self, "point", None), f"{type(self).__name__}.point")
        assert isinstance(self, torch.nn.Module)
        steps = stepping_batches(self)
        self.stop_step = steps_to_run(point, steps)
        return configure_optimizers(point, self, steps)

    def _swap(self, to_eval: bool) -> None:
        """Schedule-Free's average in (``to_eval``) or out; other rules have nothing to swap."""
        for optimizer in getattr(getattr(self, "trainer", None), "optimizers", None) or ():
            swap = getattr(optimizer, "eval" if to_eval else "train", None)
            if callable(swap):
                swap()

    def on_train_start(self) -> None:
        super().on_train_start()  # type: ignore[misc]
        self._swap(False)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        super().on_train_batch_end(outputs, batch, batch_idx)  # type: ignore[misc]
        if self.stop_step is not None and self.trainer.global_step >= self.stop_step:
            self.trainer.should_stop = True

    def on_validation_model_eval(self) -> None:
        super().on_validation_model_eval()  # type: ignore[misc]
        self._swap(True)

    def on_validation_model_train(self) -> None:
        super().on_validation_model_train()  # type: ignore[misc]
        if getattr(self.trainer.state, "fn", None) == "fit":  # else validate() after a fit
            self._swap(False)

    def on_test_model_eval(self) -> None:
        super().on_test_model_eval()  # type: ignore[misc]
        self._swap(True)

    def on_predict_model_eval(self) -> None:
        super().on_predict_model_eval()  # type: ignore[misc]
        self._swap(True)

    def on_fit_end(self) -> None:
        super().on_fit_end()  # type: ignore[misc]
        self._swap(True)
