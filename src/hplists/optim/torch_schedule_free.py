r"""Schedule-Free AdamW for PyTorch, as ``hplists.optim.lrfree`` computes it with optax.

Two ``torch.optim.Optimizer`` classes:

* :class:`ScheduleFreeAdamW`: the rule ``sfadamw`` of :mod:`hplists.optim.lrfree`,
  that is ``optax.contrib.schedule_free`` over ``chain(scale_by_rms(b2, eps,
  eps_in_sqrt=False, bias_correction=True), add_decayed_weights(wd),
  scale_by_learning_rate(lr_k))`` (``optax.contrib.schedule_free_adamw``) with
  a linear warmup from 0 over ``W`` steps, then the constant ``lr``;
* :class:`ScheduleFreeAdamWAlgoPerf`: the rule ``sfadamw_algoperf``, the
  AlgoPerf v0.5 self-tuning submission's Schedule-Free AdamW (the polynomial
  averaging power ``r``, a bfloat16 second moment, float32 scalars).

The method is Defazio et al., "The Road Less Scheduled" (2024,
arXiv:2405.15682); the references transcribed here are optax's
``optax/contrib/_schedule_free.py`` (optax 0.2.8) and hplists' two rules.

The math of :class:`ScheduleFreeAdamW`. Step ``k = 0, 1, ...`` (``t = k + 1``),
warmup ``lr_k = lr min(k, W) / W`` (``lr`` when ``W = 0``), gradient ``g_k``
taken at the parameters ``y_k``::

    lr_max  = max(lr_max, lr_{k+1})               # optax's step_count starts at 1
    weight  = lr_max ** weight_lr_power
    c_k     = nan_to_num(weight / (weight_sum + weight)),  weight_sum += weight
    v_k     = b2 v_{k-1} + (1 - b2) g_k^2
    u_k     = g_k / (sqrt(v_k / (1 - b2^t)) + eps) + wd y_k
    z_{k+1} = z_k - lr_k u_k                       # the base count starts at 0
    x_k     = (y_k - (1 - b1) z_k) / b1            # recomputed, as optax does
    x_{k+1} = (1 - c_k) x_k + c_k z_{k+1}
    y_{k+1} = b1 x_{k+1} + (1 - b1) z_{k+1}

The learning rate of the averaging weight is the schedule at optax's
``step_count`` (which starts at 1), the learning rate of the ``z`` step the
schedule at the base optimizer's count (which starts at 0): with a warmup from
0 the first update is exactly 0, and the ``z`` steps lag the weights by one
step through the warmup. (The ``schedulefree`` package uses ``lr_{k+1}`` for
both; ``docs/lrfree-torch.md``.) Weight decay is decoupled, at ``y``, and
multiplied by the warmed-up learning rate. The state is ``z`` and ``v`` per
parameter and ``step``, ``max_lr``, ``weight_sum`` per parameter group; ``x``
is not stored but recomputed from ``y`` and ``z``, as optax does.

Train and evaluation parameters. The parameters hold ``y`` after
:meth:`~ScheduleFreeAdamW.train` (the mode a new optimizer starts in, and the
only one :meth:`~ScheduleFreeAdamW.step` accepts). :meth:`~ScheduleFreeAdamW.eval`
replaces them by the average ``x = (y - (1 - b1) z) / b1``, what
``optax.contrib.schedule_free_eval_params`` returns; ``train()`` goes back to
``y = b1 x + (1 - b1) z``. A round trip changes ``y`` by a few units in the
last place (no copy of ``y`` is kept).

Measured agreement with the optax rules (``jax.enable_x64``):

* :class:`ScheduleFreeAdamW`, float64: ``tests/test_torch_lrfree.py``,
  ``test_trajectory_matches_optax_rule`` (cases ``sfadamw-0`` to ``-3``: no
  warmup, a warmup of 6 and of 12 steps from 0, weight decay up to 0.1,
  ``weight_lr_power`` 1 and 2; 30 steps, three parameter tensors, each
  framework differentiating the same loss at its own iterate). The
  parameters after every step differ by at most 3.6e-15 (1.2e-15 of the
  parameter scale), ``x`` (:meth:`~ScheduleFreeAdamW.eval`, toggled after
  every step) by at most 4.4e-15; asserted to 1e-10. float32 against optax
  in float32: 5e-7 after 40 steps
  (``tests/test_optim_torch_schedule_free.py``, asserted to 1e-5); the
  scalars are float64 here, float32 there.
* :class:`ScheduleFreeAdamWAlgoPerf`, fed the same gradients as the rule
  (its bfloat16 state rounds a 1-ulp difference of a gradient differently):
  ``test_sfadamw_algoperf_matches_the_rule_fed_the_same_gradients``, 30
  steps with a warmup of 6: the second moment, ``x`` and ``z`` bit for bit,
  in float64 and float32; ``y`` differs by at most 1.7e-18 (float64) and
  3.7e-9 (float32), optax's ``y_prev + (y - y_prev)`` rounding once more.
* ``state_dict()`` / ``load_state_dict()`` (through ``torch.save``) resume
  bit for bit: ``test_state_dict_round_trip_resumes_bit_for_bit``.

Parameters whose ``.grad`` is ``None`` are skipped (their ``z``, ``v`` and
value stay), as every ``torch.optim`` optimizer does; optax would update
them with a zero gradient.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

from hplists._check import check_int, check_real
from hplists.exceptions import InvalidParameterError
from hplists.optim.torch_closure import closure_loss

__all__ = ["ScheduleFreeAdamW", "ScheduleFreeAdamWAlgoPerf", "warmup_lr"]


def warmup_lr(count: int, lr: float, warmup_steps: int) -> float:
    """The learning rate at ``count``: linear from 0 over ``warmup_steps`` steps, then ``lr``.

    ``optax.warmup_constant_schedule(0, lr, W)`` as ``hplists.optim.lrfree.sfadamw``
    writes it (``(0 - lr)(1 - min(count, W) / W) + lr``, in float64).

    Example:
        >>> [warmup_lr(k, 1.0, 4) for k in (0, 1, 2, 4, 9)]
        [0.0, 0.25, 0.5, 1.0, 1.0]
        >>> warmup_lr(0, 0.1, 0)
        0.1
    """
    c, w = float(count), float(max(warmup_steps, 1))
    if c < warmup_steps:
        return (0.0 - lr) * (1.0 - min(max(c, 0.0), w) / w) + lr
    return lr


def _power(base: float, exponent: float) -> float:
    try:
        return float(base) ** float(exponent)
    except OverflowError:
        return math.inf


def _averaging_weight(weight: float, total: float) -> float:
    """``jnp.nan_to_num(weight / total, nan=0, posinf=inf)``, NaN if either is NaN (optax's ck)."""
    if math.isnan(weight) or math.isnan(total):
        return math.nan
    if total == 0.0:
        return 0.0 if weight == 0.0 else math.copysign(math.inf, weight)
    ratio = weight / total
    return 0.0 if math.isnan(ratio) else ratio


def _check_params(params: Any) -> None:
    if isinstance(params, torch.Tensor):
        raise InvalidParameterError("params must be an iterable of tensors or parameter groups, "
                                    "got a single Tensor")


def _validate(group: dict[str, Any], algoperf: bool) -> None:
    check_real("lr", group["lr"], 0.0)
    betas = group["betas"]
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise InvalidParameterError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    # optax divides by b1 for the evaluation parameters: b1 = 0 is refused (its warning).
    check_real("beta1", betas[0], 0.0, 1.0, low_open=True)
    check_real("beta2", betas[1], 0.0, 1.0, high_open=True)
    check_real("eps", group["eps"], 0.0)
    check_real("weight_decay", group["weight_decay"], 0.0)
    check_int("warmup_steps", group["warmup_steps"], low=0)
    check_real("weight_lr_power", group["weight_lr_power"], 0.0)
    if algoperf:
        check_real("r", group["r"], 0.0)


class _ScheduleFreeBase(torch.optim.Optimizer, abc.ABC):
    """What the two classes share: validation, groups, the train/eval switch."""

    _algoperf = False
    _name = "ScheduleFreeAdamW"

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        _check_params(params)
        _validate(defaults, self._algoperf)
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Adds a group after validating its hyperparameters (and its floating-point tensors)."""
        merged = {**self.defaults, **param_group}
        _validate(merged, self._algoperf)
        params = param_group["params"]
        for p in [params] if isinstance(params, torch.Tensor) else list(params):
            if isinstance(p, torch.Tensor) and not p.is_floating_point():
                raise InvalidParameterError(
                    f"params must be real floating-point tensors, got dtype {p.dtype}")
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        group["betas"] = (float(group["betas"][0]), float(group["betas"][1]))
        group["warmup_steps"] = int(group["warmup_steps"])
        group.setdefault("step", 0)
        group.setdefault("max_lr", 0.0)
        group.setdefault("weight_sum", 0.0)
        group.setdefault("train_mode", True)

    def _check_train_mode(self) -> None:
        if not all(group["train_mode"] for group in self.param_groups):
            raise RuntimeError(f"{self._name}.step() needs train mode: the parameters hold the "
                               "evaluation average x; call optimizer.train() before training "
                               "and optimizer.eval() before evaluating")

    @abc.abstractmethod
    def _to_eval(self, group: dict[str, Any], p: torch.Tensor) -> None:
        """Swaps ``p`` from the trained sequence y to the average x (each variant keeps its own)."""

    @abc.abstractmethod
    def _to_train(self, group: dict[str, Any], p: torch.Tensor) -> None:
        """Swaps ``p`` back from x to y."""

    @torch.no_grad()
    def eval(self) -> None:
        """Parameters to the average ``x`` (optax's ``schedule_free_eval_params``); no-op if there."""
        for group in self.param_groups:
            if group["train_mode"]:
                for p in group["params"]:
                    if self.state[p]:
                        self._to_eval(group, p)
                group["train_mode"] = False

    @torch.no_grad()
    def train(self) -> None:
        """Parameters back to ``y``, where gradients are taken; no-op if already there."""
        for group in self.param_groups:
            if not group["train_mode"]:
                for p in group["params"]:
                    if self.state[p]:
                        self._to_train(group, p)
                group["train_mode"] = True


class ScheduleFreeAdamW(_ScheduleFreeBase):
    r"""Schedule-Free AdamW as ``hplists.optim.lrfree.sfadamw`` (optax) computes it.

    The math, the two warmup counts and the measured agreement: the module
    docstring. The warmup is part of the optimizer (``warmup_steps``), so no
    learning-rate scheduler is needed; a scheduler that changes a group's
    ``lr`` changes the peak the warmup climbs to.

    Args:
        params: parameters or parameter groups (dicts that may override any
            hyperparameter below). Each group has its own step count and
            averaging weights, as a separate optax transformation would.
        lr: the peak learning rate, >= 0 (optax's default 0.0025).
        betas: ``(beta1, beta2)``: ``beta1`` in (0, 1) interpolates ``y``
            between ``x`` and ``z``, ``beta2`` in [0, 1) is the second
            moment's decay.
        eps: added to ``sqrt(v_hat)``, outside the square root, >= 0.
        weight_decay: decoupled weight decay at ``y``, >= 0, multiplied by the
            warmed-up learning rate.
        warmup_steps: ``W``, an integer >= 0: the learning rate rises
            linearly from 0 over ``W`` steps (0: no warmup).
        weight_lr_power: ``p`` >= 0 of the averaging weight ``lr_max^p``.

    State: per parameter ``z`` and ``exp_avg_sq`` (``v``); per group
    ``step``, ``max_lr``, ``weight_sum`` and ``train_mode`` (in
    ``param_groups``), so ``state_dict()`` / ``load_state_dict()`` resume
    exactly. Save and load in the same mode (train mode, after training).

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
        >>> opt = ScheduleFreeAdamW([w], lr=0.1, warmup_steps=2)
        >>> def train_step():
        ...     opt.zero_grad(); (w ** 2).sum().backward(); opt.step()
        >>> train_step(); w.tolist()  # lr_0 = 0: optax's first update is 0 too
        [1.0, -2.0]
        >>> train_step(); train_step(); [round(v, 6) for v in w.tolist()]
        [0.906394, -1.90569]
        >>> opt.eval(); [round(v, 6) for v in w.tolist()]  # the average x, to evaluate
        [0.91235, -1.911724]
        >>> opt.train(); [round(v, 6) for v in w.tolist()]  # back to y
        [0.906394, -1.90569]
        >>> ScheduleFreeAdamW([w], betas=(0.0, 0.999))
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: beta1 must be in (0, 1], got 0.0
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 0.0025,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        *,
        warmup_steps: int = 0,
        weight_lr_power: float = 2.0,
    ) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      warmup_steps=warmup_steps,
                                      weight_lr_power=weight_lr_power))

    def _to_eval(self, group: dict[str, Any], p: torch.Tensor) -> None:
        b1 = group["betas"][0]
        p.copy_((p - self.state[p]["z"] * (1.0 - b1)) / b1)

    def _to_train(self, group: dict[str, Any], p: torch.Tensor) -> None:
        b1 = group["betas"][0]
        p.copy_(p * b1 + self.state[p]["z"] * (1.0 - b1))

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update (``closure`` re-evaluates the model and returns the loss)."""
        self._check_train_mode()
        loss = closure_loss(closure)
        for group in self.param_groups:
            self._update_group(group)
        return loss

    def _update_group(self, group: dict[str, Any]) -> None:
        k, lr, warm = group["step"], group["lr"], group["warmup_steps"]
        b1, b2 = group["betas"]
        eps, wd = group["eps"], group["weight_decay"]
        lr_z = warmup_lr(k, lr, warm)  # the base optimizer's count: k
        max_lr = max(group["max_lr"], warmup_lr(k + 1, lr, warm))  # step_count: k + 1
        weight = _power(max_lr, group["weight_lr_power"])
        total = group["weight_sum"] + weight
        ck = _averaging_weight(weight, total)
        bias_correction = 1.0 - b2 ** (k + 1)
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            if g.is_sparse:
                raise RuntimeError("ScheduleFreeAdamW does not support sparse gradients")
            state = self.state[p]
            if not state:
                state["z"] = p.detach().clone(memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            z, v = state["z"], state["exp_avg_sq"]
            # In-place passes, one temporary per tensor besides x (the same arithmetic,
            # rounded in another order: within 1e-15 of the rule's float64 trajectories).
            # scale_by_rms: (1 - b2) g^2 + b2 v, then g / (sqrt(v / (1 - b2^t)) + eps).
            v.mul_(b2).addcmul_(g, g, value=1.0 - b2)
            u = (v / bias_correction).sqrt_().add_(eps)
            torch.div(g, u, out=u)
            if wd != 0.0:
                u.add_(p, alpha=wd)  # add_decayed_weights at y
            x = torch.add(p, z, alpha=-(1.0 - b1)).div_(b1)  # x_k from y_k and z_k
            z.add_(u, alpha=-lr_z)  # scale_by_learning_rate: -lr_k u
            x.lerp_(z, ck)  # x_{k+1} = (1 - c) x_k + c z_{k+1}
            torch.lerp(x, z, 1.0 - b1, out=p)  # y_{k+1} = b1 x_{k+1} + (1 - b1) z_{k+1}
        group["step"] = k + 1
        group["max_lr"] = max_lr
        group["weight_sum"] = total


_F32 = np.float32


class ScheduleFreeAdamWAlgoPerf(_ScheduleFreeBase):
    r"""Schedule-Free AdamW as ``hplists.optim.lrfree.sfadamw_algoperf`` computes it.

    The AlgoPerf v0.5 self-tuning submission's variant (its math:
    :func:`hplists.optim.lrfree.sfadamw_algoperf`). With ``t = k + 1``::

        eta_t   = max(lr min(t, W) / W, eps),  lr_max = max(lr_max, eta_t)
        c_t     = t^r lr_max^p / sum_{s <= t} s^r lr_max_s^p
        v_t     = b2 v_{t-1} + (1 - b2) g_t^2              (bfloat16)
        z_{t+1} = z_t - eta_t sqrt(1 - b2^t) (g_t / (sqrt(v_t) + eps) + wd x_t)
        x_{t+1} = x_t + c_t (z_{t+1} - x_t)
        y_{t+1} = x_{t+1} + (1 - b1) (z_{t+1} - x_{t+1})

    As the rule: the scalars (``t``, the schedule, ``eta``, ``lr_max``, the
    weights, the step size) in float32 (numpy float32 here, ``jnp.float32``
    there); the second moment in bfloat16, each in-place operation of the
    submission rounded to bfloat16 (``v b2``, then ``+ (1 - b2) g^2``;
    ``sqrt(v)``, then ``+ eps``). ``x`` and ``z`` are stored (``x`` is what
    :meth:`eval` puts in the parameters, exactly); the parameters hold ``y``.
    The submission's reset on a plateau (it needs evaluation results) is not
    part of the rule, nor of this optimizer.

    Args:
        params: parameters or parameter groups.
        lr: the peak learning rate, >= 0.
        betas: ``(beta1, beta2)``, ``beta1`` in (0, 1), ``beta2`` in [0, 1).
        eps: >= 0, the floor of the learning rate and the denominator's term.
        weight_decay: >= 0, at ``x``, times ``eta_t sqrt(1 - b2^t)``.
        warmup_steps: ``W`` >= 0.
        weight_lr_power: ``p`` >= 0.
        r: the polynomial averaging power, >= 0 (the submission's 0.75).

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
        >>> opt = ScheduleFreeAdamWAlgoPerf([w], lr=0.1, betas=(0.9, 0.99), warmup_steps=2,
        ...                                 r=0.75)
        >>> for _ in range(3):
        ...     opt.zero_grad(); (w ** 2).sum().backward(); opt.step()
        >>> opt.state[w]["exp_avg_sq"].dtype, [round(v, 4) for v in w.tolist()]
        (torch.bfloat16, [0.804, -1.8004])
        >>> opt.eval(); torch.equal(w, opt.state[w]["x"])
        True
        >>> opt.train()
    """

    _algoperf = True
    _name = "ScheduleFreeAdamWAlgoPerf"

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 0.0025,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        *,
        warmup_steps: int = 0,
        weight_lr_power: float = 2.0,
        r: float = 0.0,
    ) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      warmup_steps=warmup_steps,
                                      weight_lr_power=weight_lr_power, r=r))

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Loads a state dict, keeping the second moment in bfloat16.

        ``torch.optim.Optimizer`` casts floating state to the parameter's dtype;
        bfloat16 values survive that cast, so casting back is exact.
        """
        super().load_state_dict(state_dict)
        for state in self.state.values():
            if "exp_avg_sq" in state:
                state["exp_avg_sq"] = state["exp_avg_sq"].to(torch.bfloat16)

    def _to_eval(self, group: dict[str, Any], p: torch.Tensor) -> None:
        p.copy_(self.state[p]["x"])

    def _to_train(self, group: dict[str, Any], p: torch.Tensor) -> None:
        x, z = self.state[p]["x"], self.state[p]["z"]
        p.copy_(x + (z - x) * (1.0 - group["betas"][0]))

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update (``closure`` re-evaluates the model and returns the loss)."""
        self._check_train_mode()
        loss = closure_loss(closure)
        for group in self.param_groups:
            self._update_group(group)
        return loss

    def _update_group(self, group: dict[str, Any]) -> None:
        b1, b2 = group["betas"]
        eps, wd = group["eps"], group["weight_decay"]
        # float32 scalars, as the rule's jnp.float32 arithmetic (Python floats are weak).
        t = _F32(group["step"] + 1)
        w = _F32(group["warmup_steps"])
        sched = t / max(w, _F32(1.0)) if t < w else _F32(1.0)
        eta = max(_F32(group["lr"]) * sched, _F32(eps))
        lr_max = max(_F32(group["max_lr"]), eta)
        with np.errstate(over="ignore"):
            weight = t ** _F32(group["r"]) * lr_max ** _F32(group["weight_lr_power"])
        weight_sum = _F32(group["weight_sum"]) + weight
        c = float(weight / weight_sum)
        step = eta * np.sqrt(_F32(1.0) - _F32(b2) ** t)
        step_wd = float(step * _F32(wd))
        step_f = float(step)
        b2_32, one_minus_b2 = float(_F32(b2)), float(_F32(1.0 - b2))
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            if g.is_sparse:
                raise RuntimeError("ScheduleFreeAdamWAlgoPerf does not support sparse gradients")
            state = self.state[p]
            if not state:
                state["z"] = p.detach().clone(memory_format=torch.preserve_format)
                state["x"] = p.detach().clone(memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, dtype=torch.bfloat16,
                                                       memory_format=torch.preserve_format)
            z, x, v = state["z"], state["x"], state["exp_avg_sq"]
            decayed = (v.float() * b2_32).bfloat16().float()
            new_v = decayed + g * one_minus_b2 * g
            v.copy_(new_v.to(torch.bfloat16))
            denom = (v.float().sqrt().bfloat16().float() + eps).bfloat16().float()
            z.sub_((g / denom) * step_f)
            if step_wd != 0.0:
                z.sub_(x * step_wd)
            x.add_((z - x) * c)
            p.copy_(x + (z - x) * (1.0 - b1))
        group["step"] = group["step"] + 1
        group["max_lr"] = float(lr_max)
        group["weight_sum"] = float(weight_sum)
