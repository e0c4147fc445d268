"""PyTorch entry point: NAdamW as ``optax.nadamw`` computes it, and its schedule.

Agreement with optax, and how it is measured: :mod:`hplists.optim.torch_nadamw`.

``hplists.torch.build(point, model, total_steps)`` returns ``(optimizer,
scheduler)`` for the usual ``optimizer.step(); scheduler.step()`` loop, for a
point of any list: a point of a learning-rate-free list builds its method
(:mod:`hplists.torch_lrfree`). Importing this module needs ``torch``.

Example:
    >>> import torch, hplists
    >>> point = hplists.get_list("nadamw-paper").points[0]
    >>> opt, sched = hplists.torch.build(point, torch.nn.Linear(3, 1), total_steps=1000)
    >>> type(opt).__name__, opt.param_groups[0]["lr"]  # warmup starts at 0
    ('NAdamW', 0.0)
"""

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from hplists.exceptions import InvalidParameterError
from hplists.hparams import HParams, point_dict
from hplists.method_point import method_of, nadamw_hparams, steps_to_run
from hplists.optim import torch_nadamw
from hplists.optim.torch_nadamw import (
    NAdamW,
    WarmupCosineFactor,
    decay_matrices,
    param_groups,
)

__all__ = ["NAdamW", "WarmupCosineFactor", "build", "decay_matrices", "evaluating",
           "param_groups"]


def build(point: HParams | Mapping[str, float], params: Any, total_steps: int, *,
          method: str | None = None, **options: Any) -> tuple[Any, Any]:
    """``(optimizer, scheduler)`` that train with ``point`` for ``total_steps`` steps.

    ``point`` is a point of any list (``hplists.get_list(name)[i]``): the
    method is the point's own (an ``HParams`` is NAdamW's, a
    :class:`~hplists.method_point.MethodPoint` knows its list's), or
    ``method=`` for a plain mapping of hyperparameters.

    NAdamW is :func:`hplists.optim.torch_nadamw.build` (``options``:
    ``mask``, ``eps_root``, ``state_dtype``, ``foreach``, ``fused``,
    ``compiled``, ``state_bits``: 8 for 8-bit moments, docs/8bit.md). A
    method of paper 002 is built by :func:`hplists.torch_lrfree.build`
    (``options``: ``exact``) so that it computes its optax rule: hplists' own
    Schedule-Free AdamW, Mechanic and COCOB, or the method's package where that
    computes the same rule (Prodigy, D-Adapt, DoG); a method without such a
    path (:data:`hplists.torch_lrfree.UNSUPPORTED`) is an error that says why. Metz et al.'s
    ``nadamw`` rule (the ``metz-nadamw`` list) is
    :func:`hplists.optim.torch_metz.build` (no options), AdamW's (the
    learning-rate-free study's baselines) ``torch.optim.AdamW`` with the
    warmup-cosine schedule (:func:`hplists.optim.torch_adamw.build`, no options).

    A point with a ``horizon`` ``h`` has its schedule end, and its training
    stop, at ``hplists.steps_to_run(point, total_steps) = int(h * total_steps)``
    (paper 002 trains such points that long). Stepping the scheduler past a
    schedule's end warns once: the learning rate is 0 there.

    Example:
        >>> import torch
        >>> from hplists.method_point import MethodPoint
        >>> point = MethodPoint("prodigy", {"beta1": 0.9, "beta2": 0.99, "weight_decay": 0.1,
        ...                                 "warmup_fraction": 0.05, "safeguard_warmup": 1.0,
        ...                                 "horizon": 0.5, "dropout_rate": 0.0})
        >>> opt, _ = build(point, torch.nn.Linear(3, 1), 100)  # trains 50 steps
        >>> type(opt).__name__
        'Prodigy'
        >>> opt, _ = build({"beta1": 0.9}, torch.nn.Linear(3, 1), 100, method="prodigy")
        >>> build(point, torch.nn.Linear(3, 1), 100, fused=True)
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: options ['fused'] are NAdamW's; method 'prodigy' takes only 'exact'
    """
    name = method_of(point, method)
    if name == "nadamw":  # a horizon is the span of NAdamW's schedule
        return torch_nadamw.build(nadamw_hparams(point), params,
                                  steps_to_run(point, total_steps), **options)
    if name == "adamw":  # the learning-rate-free study's AdamW baselines
        if options:
            raise InvalidParameterError(f"options {sorted(options)} are NAdamW's; method "
                                        "'adamw' takes none")
        from hplists.optim import torch_adamw

        hp = {k: v for k, v in point_dict(point).items() if k != "horizon"}
        return torch_adamw.build(hp, params, steps_to_run(point, total_steps))
    if name == "metz":
        if options:
            raise InvalidParameterError(f"options {sorted(options)} are NAdamW's; method 'metz' "
                                        "takes none")
        from hplists.optim import torch_metz

        return torch_metz.build(point_dict(point), params, total_steps)
    extra = sorted(set(options) - {"exact"})
    if extra:
        raise InvalidParameterError(f"options {extra} are NAdamW's; method {name!r} takes only "
                                    "'exact'")
    from hplists import torch_lrfree

    return torch_lrfree.build(name, point_dict(point), params, total_steps=total_steps,
                              **options)


@contextlib.contextmanager
def evaluating(optimizer: Any) -> Iterator[Any]:
    """Evaluate inside this block: Schedule-Free's parameters become its average, then return.

    Schedule-Free optimizers train one sequence and evaluate another: their
    ``eval()`` swaps the average into the parameters and ``train()`` swaps it
    back. Other optimizers have no such methods and evaluate the parameters
    they train, so one evaluation loop serves every list.

    Example:
        >>> import torch, hplists
        >>> net = torch.nn.Linear(3, 1)
        >>> opt, _ = build(hplists.get_list("nadamw-paper")[0], net, total_steps=10)
        >>> with torch.no_grad(), evaluating(opt):
        ...     _ = net(torch.ones(1, 3))
    """
    swaps = callable(getattr(optimizer, "eval", None)) and callable(getattr(optimizer, "train",
                                                                            None))
    if swaps:
        optimizer.eval()
    try:
        yield optimizer
    finally:
        if swaps:
            optimizer.train()
