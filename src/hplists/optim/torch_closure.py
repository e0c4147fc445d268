"""The ``closure`` argument of a PyTorch optimizer's ``step``, for hplists' optimizers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

__all__ = ["closure_loss"]


def closure_loss(closure: Callable[[], Any] | None) -> Any:
    """``closure()`` evaluated with gradients enabled, or ``None`` without a closure.

    ``Optimizer.step`` runs under ``torch.no_grad()``; a closure re-evaluates the
    model and calls ``backward()``, which needs gradients, as in ``torch.optim``.

    Example:
        >>> import torch
        >>> w = torch.ones(2, requires_grad=True)
        >>> with torch.no_grad():
        ...     loss = closure_loss(lambda: (w.square().sum().backward(), w.sum())[1])
        >>> loss.item(), w.grad.tolist()
        (2.0, [2.0, 2.0])
        >>> closure_loss(None) is None
        True
    """
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()
