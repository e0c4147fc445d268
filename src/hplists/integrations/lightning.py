"""Lightning's ``configure_optimizers`` from a list's point: hplists' NAdamW and schedule.

:func:`configure_optimizers` returns the dictionary a ``LightningModule``'s
``configure_optimizers`` hook returns: hplists' NAdamW (``optax.nadamw``) with
the point's hyperparameters, weight decay on tensors of 2 or more dimensions
(:func:`hplists.torch.param_groups`), and the warmup-cosine schedule stepped
after every optimizer step (``"interval": "step"``), reaching 0 at the
horizon. Inside the hook the horizon defaults to
``self.trainer.estimated_stepping_batches`` (``max_steps``, or the epochs'
batches over ``accumulate_grad_batches``)::

    class Model(lightning.LightningModule):
        def configure_optimizers(self):
            return hplists.integrations.lightning.configure_optimizers(self.point, self)

or, with the mixin, ``class Model(PointOptimizers, lightning.LightningModule)``
and ``self.point`` set. The point's ``dropout_rate`` and ``label_smoothing``
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
from collections.abc import Callable
from typing import Any

import torch

from hplists._check import check_int
from hplists.exceptions import InvalidParameterError
from hplists.hparams import HParams
from hplists.optim import torch_nadamw

__all__ = ["PointOptimizers", "configure_optimizers", "stepping_batches"]

Mask = Callable[[str, torch.Tensor], bool]


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


def configure_optimizers(point: HParams, module: torch.nn.Module, total_steps: int | None = None,
                         *, mask: Mask | None = torch_nadamw.decay_matrices,
                         **options: Any) -> dict[str, Any]:
    """``{"optimizer": NAdamW, "lr_scheduler": {...}}`` for ``LightningModule.configure_optimizers``.

    ``total_steps`` defaults to :func:`stepping_batches` (the Trainer's
    estimate, available inside the hook). ``mask`` selects the decayed
    parameters (default :func:`hplists.torch.decay_matrices`, the rule of
    :func:`hplists.torch.param_groups`; ``None`` decays all); ``options`` go
    to :func:`hplists.torch.build` (``fused``, ``compiled``, ...).

    Example:
        >>> import torch, hplists
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
        >>> conf = configure_optimizers(hplists.get_list("nadamw-paper")[0], net, 10)
        >>> [g["weight_decay"] for g in conf["optimizer"].param_groups]
        [0.020932289532959312, 0.0]
        >>> conf["lr_scheduler"]["scheduler"].lr_lambdas[0], conf["lr_scheduler"]["frequency"]
        (WarmupCosineFactor(warmup=1, total_steps=10), 1)
    """
    if not isinstance(point, HParams):
        raise InvalidParameterError(
            f"point must be an hplists.HParams (a NAdamW point), got {type(point).__name__}")
    if not isinstance(module, torch.nn.Module):
        raise InvalidParameterError(
            f"module must be a torch.nn.Module (a LightningModule), got {type(module).__name__}")
    steps = stepping_batches(module) if total_steps is None else total_steps
    steps = check_int("total_steps", steps, low=1)
    optimizer, scheduler = torch_nadamw.build(point, module, steps, mask=mask, **options)
    # "step": Lightning steps the scheduler after every optimizer step, as the schedule's
    # count is defined (the default, "epoch", would step it once per epoch).
    return {"optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 1}}


class PointOptimizers:
    """Mixin: ``configure_optimizers`` from ``self.point`` (:func:`configure_optimizers`).

    Put it before ``LightningModule`` in the bases and set ``self.point``.

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

    point: HParams

    def configure_optimizers(self) -> dict[str, Any]:
        """The optimizer and per-step scheduler of ``self.point`` over the Trainer's steps."""
        if not isinstance(getattr(self, "point", None), HParams):
            raise InvalidParameterError(
                f"{type(self).__name__}.point must be an hplists.HParams to configure the "
                f"optimizers, got {type(getattr(self, 'point', None)).__name__}")
        assert isinstance(self, torch.nn.Module)
        return configure_optimizers(self.point, self)
