"""PyTorch entry point: NAdamW as ``optax.nadamw`` computes it, and its schedule.

Agreement with optax, and how it is measured: :mod:`hplists.optim.torch_nadamw`.

``hplists.torch.build(point, model, total_steps)`` returns ``(optimizer,
scheduler)`` for the usual ``optimizer.step(); scheduler.step()`` loop;
``method=`` builds paper 002's learning-rate-free methods on their PyTorch
packages instead (:mod:`hplists.torch_lrfree`). Importing this module needs
``torch``.

Example:
    >>> import torch, hplists
    >>> point = hplists.get_list("nadamw-paper").points[0]
    >>> opt, sched = hplists.torch.build(point, torch.nn.Linear(3, 1), total_steps=1000)
    >>> type(opt).__name__, opt.param_groups[0]["lr"]  # warmup starts at 0
    ('NAdamW', 0.0)
"""

from collections.abc import Mapping
from typing import Any

from hplists.exceptions import InvalidParameterError
from hplists.hparams import HParams
from hplists.optim import torch_nadamw
from hplists.optim.torch_nadamw import (
    NAdamW,
    WarmupCosineFactor,
    decay_matrices,
    param_groups,
)

__all__ = ["NAdamW", "WarmupCosineFactor", "build", "decay_matrices", "param_groups"]


def build(point: HParams | Mapping[str, float], params: Any, total_steps: int, *,
          method: str = "nadamw", **options: Any) -> tuple[Any, Any]:
    """``(optimizer, scheduler)`` that train with ``point`` for ``total_steps`` steps.

    ``method="nadamw"`` (the default) is :func:`hplists.optim.torch_nadamw.build`
    (``options``: ``mask``, ``eps_root``, ``state_dtype``, ``foreach``,
    ``fused``, ``compiled``). Another method of paper 002 (``"prodigy"``,
    ``"dadapt_adamw"``, ``"dog"``, ``"sfadamw"``) is its PyTorch package,
    configured as the optax rule (:func:`hplists.torch_lrfree.build`; ``point``
    a mapping of that rule's hyperparameters; ``options``: ``exact``). A
    shipped list names its method: ``method=get_list(name).optimizer``.

    Example:
        >>> import torch
        >>> opt, _ = build({"beta1": 0.9, "beta2": 0.99}, torch.nn.Linear(3, 1), 100,
        ...                method="prodigy")
        >>> type(opt).__name__
        'Prodigy'
        >>> build({}, torch.nn.Linear(3, 1), 100, method="prodigy", fused=True)
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: options ['fused'] are NAdamW's; method 'prodigy' takes only 'exact'
        >>> point = {"beta1": 0.9, "beta2": 0.99, "weight_decay": 0.1, "warmup_fraction": 0.05,
        ...          "safeguard_warmup": 1.0, "horizon": 0.5, "dropout_rate": 0.0,
        ...          "label_smoothing": 0.1}  # a point of a learning-rate-free list
        >>> opt, _ = build(point, torch.nn.Linear(3, 1), 100, method="prodigy")
        >>> type(opt).__name__
        'Prodigy'
    """
    if method == "nadamw":
        if isinstance(point, Mapping):
            point = HParams.from_dict(point)
        return torch_nadamw.build(point, params, total_steps, **options)
    extra = sorted(set(options) - {"exact"})
    if extra:
        raise InvalidParameterError(f"options {extra} are NAdamW's; method {method!r} takes only "
                                    "'exact'")
    from hplists import torch_lrfree

    if isinstance(point, HParams):
        point = point.to_dict()
    return torch_lrfree.build(method, point, params, total_steps=total_steps, **options)
