"""PyTorch path for paper 002's learning-rate-free methods, computed as their optax rules.

``build(method, point, params, total_steps=T)`` returns ``(optimizer,
scheduler)`` for the usual ``optimizer.step(); scheduler.step()`` loop, an
optimizer that computes the same algorithm as the optax rule of the same name
(:mod:`hplists.optim.lrfree`): a third-party PyTorch package configured to
match, or hplists' own implementation where no package computes the rule.

* ``prodigy``: ``prodigyopt.Prodigy`` with ``lr=1, use_bias_correction=True,
  decouple=True, d0=estim_lr0, beta3=None`` (``sqrt(beta2)``), ``d_coef=1,
  growth_rate=inf`` and the point's ``safeguard_warmup``;
* ``dadapt_adamw``: ``dadaptation.DAdaptAdam`` with ``lr=1,
  use_bias_correction=True, decouple=True, d0=estim_lr0, growth_rate=inf``;
* ``dog``: ``dog.DoG`` (package ``dog-optimizer``) with ``lr=1,
  reps_rel=init_step, eps=1e-8``;
* ``sfadamw``: :class:`hplists.optim.torch_schedule_free.ScheduleFreeAdamW`
  with the point's ``learning_rate``, betas, ``eps``, ``weight_decay``,
  ``weight_lr_power`` and ``warmup_steps = W``: optax's ``schedule_free``,
  warmup included (the ``schedulefree`` package warms up one step ahead of
  optax, ``docs/lrfree-torch.md``);
* ``sfadamw_algoperf``:
  :class:`hplists.optim.torch_schedule_free.ScheduleFreeAdamWAlgoPerf`, the
  AlgoPerf submission's variant as the rule computes it (``r``, a bfloat16
  second moment);
* ``mechanic``, ``mechanic_adam``, ``mechanic_nadam``:
  :class:`hplists.optim.torch_mechanic.Mechanic` (``optax.contrib.mechanize``:
  ``h`` clipped to ``[-m, m]``, ``m`` from 0; ``mechanic_weight_decay``,
  ``s_init``, 6 betas) around ``torch.optim.SGD(lr=1, weight_decay)`` (L2 on
  the gradient, as the rule's ``add_decayed_weights`` before ``sgd``),
  ``torch.optim.AdamW(lr=1, betas, eps, weight_decay)`` (``optax.adamw``; its
  fused kernel where torch has one for the parameters) and
  :class:`hplists.optim.torch_nadamw.NAdamW` (``optax.nadamw``).
* ``momo``, ``momo_adam``: :class:`hplists.optim.torch_momo.MoMo` and
  :class:`~hplists.optim.torch_momo.MoMoAdam` (``optax.contrib.momo`` and
  ``momo_adam``, lower bound 0), the step-size cap ``learning_rate`` times
  ``s_t``; they need the batch loss, ``optimizer.step(loss=loss)``;
* ``cocob``: :class:`hplists.optim.torch_cocob.COCOB` (``optax.contrib.cocob``
  with ``alpha`` and ``weight_decay``), its update times ``s_t``, as the
  rule's ``scale_by_schedule`` after ``cocob``;
* ``dowg``: :class:`hplists.optim.torch_dowg.DoWG` (``optax.contrib.dowg``
  with ``eps`` and ``weight_decay``), its step times ``s_t``, the rule's
  learning rate.

The scheduler is a ``LambdaLR`` with the relative schedule ``s_t`` (linear
warmup from 0 over ``W = int(warmup_fraction * T)`` steps, cosine decay to 0 at
``T``; the constant 1 when ``relative_schedule == 0``). With a ``horizon`` ``h``
in the point, ``T = int(h * total_steps)`` as the training engine computes it:
train that many steps and stop. Prodigy, D-Adapt, DoG and Mechanic's base
have the learning rate 1 scaled by ``s_t`` (DoWG too), as their optax rules pass
``learning_rate = s_t``; COCOB's update is scaled by it; Prodigy and D-Adapt skip a step with ``s_t = 0`` (the
whole state kept), as the optax rules do through
:func:`hplists.optim.lrfree.skip_idle_steps`. Schedule-Free has its constant
``learning_rate`` and its warmup inside the optimizer (the scheduler is the
constant 1).

Every method of :mod:`hplists.optim.lrfree` has a path here; a method
without one would be in :data:`UNSUPPORTED` (from its record's
``torch_missing``), and ``build`` would raise an ``InvalidParameterError``
(a ``ValueError``) that says why. ``docs/lrfree-torch.md`` says what was verified and how
(``tests/test_torch_lrfree.py``: float64 trajectories against the optax rules).

Importing this module needs ``torch``; each package is imported only by
:func:`build` for its method.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch.optim.lr_scheduler import LambdaLR

from hplists._check import check_choice, check_int, check_real
from hplists.exceptions import InvalidParameterError
from hplists.method_point import steps_to_run
from hplists.optim import lrfree
from hplists.optim.torch_nadamw import WarmupCosineFactor

__all__ = ["METHODS", "PACKAGES", "UNSUPPORTED", "ConstantFactor", "build", "schedule_steps"]

# Method -> the package (the pip name) whose optimizer build() uses for it; "hplists" for
# hplists' own implementations (hplists.optim.torch_schedule_free, .torch_mechanic,
# .torch_cocob, .torch_momo), which
# need only torch. A variant rule is computed by its method's package.
PACKAGES: dict[str, str] = {
    **{m.name: m.torch for m in lrfree.METHODS.values() if m.torch},
    **{v: lrfree.METHODS[m].torch for v, m in lrfree.VARIANTS.items()
       if lrfree.METHODS[m].torch},
}
METHODS: tuple[str, ...] = tuple(PACKAGES)

# Methods of hplists.optim.lrfree without a faithful PyTorch path, and why.
UNSUPPORTED: dict[str, str] = {m.name: m.torch_missing for m in lrfree.METHODS.values()
                               if not m.torch}


class ConstantFactor:
    """``step -> 1.0``, for ``LambdaLR`` (a class, not a lambda, so that ``state_dict`` saves it).

    Example:
        >>> ConstantFactor()(0), ConstantFactor()(10**6)
        (1.0, 1.0)
    """

    def __call__(self, step: int) -> float:
        return 1.0

    def __repr__(self) -> str:
        return "ConstantFactor()"


def schedule_steps(point: Mapping[str, Any], total_steps: int) -> int:
    """The horizon ``T`` of the relative schedule: ``int(h * total_steps)``, or ``total_steps``.

    As the training engine computes it (:func:`hplists.workloads.engine.trial_steps`):
    a point with a ``horizon`` ``h`` in (0, 1] trains this many steps and stops.

    Example:
        >>> schedule_steps({"horizon": 0.33}, 1200), schedule_steps({}, 1200)
        (396, 1200)
    """
    return steps_to_run(point, total_steps)


def _check_method(method: Any) -> str:
    if method in UNSUPPORTED:
        raise InvalidParameterError(
            f"method {method!r} has no PyTorch path in hplists.torch_lrfree: "
            f"{UNSUPPORTED[method]}; method must be one of "
            f"{', '.join(repr(m) for m in METHODS)}")
    return check_choice("method", method, METHODS)


def _check_point(method: str, point: Any) -> dict[str, float]:
    if not isinstance(point, Mapping):
        raise InvalidParameterError(f"point must be a mapping of hyperparameter names to values, got "
                         f"{type(point).__name__}")
    extra = lrfree.schedule_keys(method)
    allowed = lrfree.TAKES[method] + extra
    unknown = sorted(set(point) - set(allowed))
    if unknown:
        raise InvalidParameterError(f"method {method!r} does not take hyperparameter(s) {unknown}; it "
                         f"takes {sorted(lrfree.TAKES[method])} and the schedule's {sorted(extra)}")
    out: dict[str, float] = {}
    for name, value in point.items():
        if name in ("beta1", "beta2"):
            out[name] = check_real(name, value, 0.0, 1.0, high_open=True)
        elif name in ("warmup_fraction", "dropout_rate", "label_smoothing"):
            out[name] = check_real(name, value, 0.0, 1.0)
        elif name == "warmup_steps":
            out[name] = check_int(name, value, low=0)
        elif name in ("relative_schedule", "safeguard_warmup"):
            v = check_real(name, value)
            if v not in (0.0, 1.0):
                raise InvalidParameterError(f"{name} must be one of 0, 1; got {value!r}")
            out[name] = v
        elif name == "horizon":
            out[name] = check_real(name, value, 0.0, 1.0, low_open=True)
        elif name in ("weight_decay", "weight_lr_power", "mechanic_weight_decay", "r"):
            out[name] = check_real(name, value, 0.0)
        else:  # eps, estim_lr0, init_step, learning_rate, s_init
            out[name] = check_real(name, value, 0.0, low_open=True)
    return out


def _params(params: Any) -> list[torch.Tensor]:
    if isinstance(params, torch.nn.Module):
        return list(params.parameters())
    if isinstance(params, torch.Tensor):
        return [params]
    if not isinstance(params, Iterable):
        raise InvalidParameterError(f"params must be a torch.nn.Module or an iterable of tensors, got "
                         f"{type(params).__name__}")
    out = list(params)
    if not out or not all(isinstance(p, torch.Tensor) for p in out):
        raise InvalidParameterError("params must be a torch.nn.Module or a non-empty iterable of tensors "
                         "(one parameter group: the optax rules treat all parameters as one "
                         "vector, parameter groups are not supported)")
    return out


def _warmup(hp: Mapping[str, float], total: int) -> int:
    if "warmup_steps" in hp:
        return int(hp["warmup_steps"])
    return int(hp.get("warmup_fraction", 0.0) * total)


def _fused_if_possible(cls: Any, tensors: list[torch.Tensor], **options: Any
                       ) -> torch.optim.Optimizer:
    """``cls(tensors, fused=True, **options)`` where torch has a fused kernel for the
    tensors' devices and dtypes (the same update in one pass per tensor: Mechanic's base
    AdamW steps 1.9x faster, ``benchmarks/optimizer_step.py``), else the default path."""
    try:
        return cls(tensors, fused=True, **options)
    except (RuntimeError, ValueError):  # no fused kernel for this device or dtype
        return cls(tensors, **options)


def build(method: str, point: Mapping[str, float], params: Any, *,
          total_steps: int, exact: bool = True) -> tuple[torch.optim.Optimizer, LambdaLR]:
    """The PyTorch optimizer and scheduler of ``method`` at ``point``, as its optax rule.

    Args:
        method: one of :data:`METHODS` (``'prodigy'``, ``'dadapt_adamw'``,
            ``'dog'``, ``'sfadamw'``, ``'sfadamw_algoperf'``, ``'mechanic'``,
            ``'mechanic_adam'``, ``'mechanic_nadam'``, ``'cocob'``, ``'dowg'``,
            ``'momo'``, ``'momo_adam'``); the other methods of
            :mod:`hplists.optim.lrfree` raise an ``InvalidParameterError``
            saying why (:data:`UNSUPPORTED`).
        point: the hyperparameters the optax rule takes (missing ones get the
            rule's defaults), e.g. ``beta1``, ``beta2``, ``weight_decay``,
            ``warmup_fraction``, ``relative_schedule``, ``horizon``.
        params: a ``torch.nn.Module`` or an iterable of tensors (one group).
        total_steps: the step budget ``T`` (the schedule ends at
            :func:`schedule_steps`).
        exact: ``True`` or ``False``; every method here is built exactly as
            its optax rule either way. (``False`` used to let ``'sfadamw'``
            with a warmup run on the ``schedulefree`` package's warmup, one
            step ahead of optax's; that path is gone, and the argument is
            accepted so that calls passing it keep working.)

    Returns:
        ``(optimizer, scheduler)``: call ``optimizer.step()`` then
        ``scheduler.step()`` each step. For ``'sfadamw'`` and
        ``'sfadamw_algoperf'`` the optimizer is in train mode; call
        ``optimizer.eval()`` before evaluating (the parameters become the
        average ``x``, optax's ``schedule_free_eval_params``) and
        ``optimizer.train()`` after.

    Example:
        >>> import torch
        >>> net = torch.nn.Linear(3, 1)
        >>> opt, sched = build("prodigy", {"beta1": 0.9, "beta2": 0.99,
        ...                                "warmup_fraction": 0.1}, net, total_steps=100)
        >>> type(opt).__name__, opt.param_groups[0]["lr"]  # warmup from 0
        ('Prodigy', 0.0)
        >>> for _ in range(3):
        ...     net(torch.ones(4, 3)).square().mean().backward()
        ...     opt.step(); sched.step(); opt.zero_grad()
        >>> opt.param_groups[0]["k"]  # the idle step 0 was skipped, as the optax rule does
        2
        >>> opt, _ = build("sfadamw", {"learning_rate": 0.01, "warmup_fraction": 0.02}, net,
        ...                total_steps=1000)
        >>> type(opt).__name__, opt.param_groups[0]["warmup_steps"]
        ('ScheduleFreeAdamW', 20)
        >>> opt, _ = build("mechanic_adam", {"beta1": 0.9, "beta2": 0.999}, net, total_steps=100)
        >>> type(opt).__name__, type(opt.base).__name__
        ('Mechanic', 'AdamW')
        >>> build("dowg", {"weight_decay": 0.01}, net, total_steps=100)[0].param_groups[0]["eps"]
        0.0001
    """
    method = _check_method(method)
    check_choice("exact", exact, (True, False))
    hp = _check_point(method, point)
    tensors = _params(params)
    total = schedule_steps(hp, total_steps)
    b1, b2 = hp.get("beta1", 0.9), hp.get("beta2", 0.999)
    wd, eps = hp.get("weight_decay", 0.0), hp.get("eps", 1e-8)
    quiet = contextlib.redirect_stdout(io.StringIO())  # the packages print on construction
    optimizer: torch.optim.Optimizer
    if method in lrfree.SCHEDULE_FREE:
        from hplists.optim.torch_schedule_free import (
            ScheduleFreeAdamW,
            ScheduleFreeAdamWAlgoPerf,
        )

        common: dict[str, Any] = dict(
            lr=hp.get("learning_rate", 0.0025), betas=(b1, b2), eps=eps, weight_decay=wd,
            warmup_steps=_warmup(hp, total_steps), weight_lr_power=hp.get("weight_lr_power", 2.0))
        if method == "sfadamw":
            optimizer = ScheduleFreeAdamW(tensors, **common)
        else:
            optimizer = ScheduleFreeAdamWAlgoPerf(tensors, **common, r=hp.get("r", 0.0))
        return optimizer, LambdaLR(optimizer, ConstantFactor())
    if method.startswith("mechanic"):
        from hplists.optim.torch_mechanic import Mechanic

        base: torch.optim.Optimizer
        if method == "mechanic":
            base = torch.optim.SGD(tensors, lr=1.0, weight_decay=wd)
        elif method == "mechanic_adam":
            base = _fused_if_possible(torch.optim.AdamW, tensors, lr=1.0, betas=(b1, b2),
                                      eps=eps, weight_decay=wd)
        else:
            from hplists.optim.torch_nadamw import NAdamW

            base = NAdamW(tensors, lr=1.0, betas=(b1, b2), eps=eps, weight_decay=wd)
        optimizer = Mechanic(base, weight_decay=hp.get("mechanic_weight_decay", 1e-2),
                             eps=1e-8, s_init=hp.get("s_init", 1e-6), num_betas=6)
    elif method == "prodigy":
        import prodigyopt

        with quiet:
            optimizer = prodigyopt.Prodigy(
                tensors, lr=1.0, betas=(b1, b2), beta3=None, eps=eps,
                weight_decay=wd, decouple=True, use_bias_correction=True,
                safeguard_warmup=bool(hp.get("safeguard_warmup", 0.0)),
                d0=hp.get("estim_lr0", 1e-6), d_coef=1.0, growth_rate=math.inf)
    elif method == "dadapt_adamw":
        import dadaptation

        with quiet:
            optimizer = dadaptation.DAdaptAdam(
                tensors, lr=1.0, betas=(b1, b2), eps=eps, weight_decay=wd,
                decouple=True, use_bias_correction=True, d0=hp.get("estim_lr0", 1e-6),
                growth_rate=math.inf)
    elif method in ("momo", "momo_adam"):
        from hplists.optim.torch_momo import MoMo, MoMoAdam

        # The rule's step-size cap is learning_rate * s_t: LambdaLR on a base lr of the cap.
        if method == "momo":
            optimizer = MoMo(tensors, lr=hp.get("learning_rate", 1.0), beta=b1, weight_decay=wd)
        else:
            optimizer = MoMoAdam(tensors, lr=hp.get("learning_rate", 1e-2), betas=(b1, b2),
                                 eps=eps, weight_decay=wd)
    elif method == "cocob":
        from hplists.optim.torch_cocob import COCOB

        optimizer = COCOB(tensors, lr=1.0, alpha=hp.get("alpha", 100.0), eps=1e-8,
                          weight_decay=wd)
    elif method == "dowg":
        from hplists.optim.torch_dowg import DoWG

        optimizer = DoWG(tensors, lr=1.0, eps=hp.get("eps", 1e-4), weight_decay=wd)
    else:  # dog
        import dog

        optimizer = dog.DoG(tensors, reps_rel=hp.get("init_step", 1e-6), lr=1.0,
                            weight_decay=wd, eps=1e-8)
    if hp.get("relative_schedule", 1.0) == 0:
        factor: Any = ConstantFactor()
    else:
        factor = WarmupCosineFactor(min(_warmup(hp, total), total), total)
    return optimizer, LambdaLR(optimizer, factor)
