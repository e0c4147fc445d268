"""The update rule and schedule of Metz et al. (2020)'s ``nadamw`` hyperparameter list.

Metz, Maheswaranathan, Sun, Freeman, Poole and Sohl-Dickstein, "Using a
thousand optimization tasks to learn hyperparameter search strategies"
(arXiv 2002.11887) publish an ordered list of 1000 configurations of one
update rule, in ``google-research/google-research``, folder ``opt_list/``.
The rule is defined by ``opt_list/opt_list/jax_common.py`` (``nadamw_update``
and ``get_cosine_learning_rate_fn``, commit ``0c1bbe5f``), which the
Optix, Flax, ``jax.experimental.optimizers`` and PyTorch ports all call or
repeat. This module implements those formulas for the training engine (the
code is ours; the formulas are theirs). Paper 001 runs the first five entries
"with the exact update rule" as a baseline (Sec. 3.1.1); so do we.

The rule is **Adam with bias correction folded into the step size, optional
Nesterov momentum, decoupled (AdamW) weight decay and a coupled L2 term**. Per
parameter, at 0-based step ``s`` (``t = s + 1``), with gradient ``g``::

    g'    = g - l2 * theta                                   (sic: minus; see below)
    m     = b1 m + (1 - b1) g'
    v     = b2 v + (1 - b2) g'^2
    lr_t  = lr(s) * sqrt(1 - b2^t) / (1 - b1^t)
    n     = b1 m + (1 - b1) g'   if use_nesterov   else   m
    theta = theta - lr_t * n / (sqrt(v) + eps) - lr_t * wd * theta

Differences from ``optax.nadamw`` (the rule of paper 001's points) worth knowing:

* ``eps`` is added to ``sqrt(v)`` *before* the bias correction of ``v``
  (it is "epsilon hat" of Kingma and Ba), and the list's values of ``eps``
  range up to 1e4, where the rule is momentum SGD with step ``lr_t / eps``;
* the decoupled decay is multiplied by the bias-corrected ``lr_t``, not by
  ``lr(s)``;
* the L2 term is *subtracted* from the gradient in every port
  (``grad = grad - param * l2_weight_decay``), which makes it an L2 *reward*.
  We keep the published sign. The first five entries all have ``l2 = 0``.

The schedule (``get_cosine_learning_rate_fn``), with ``T`` the step budget,
``c = constant_fraction``, ``w = warmup_fraction``, ``m = min_learning_rate_mult``,
``s' = min(s, T)``::

    W      = T * max(w, c)                                 (only when w > 0)
    warmup = lr * s' / W                                   while s' < W
    decay  = (lr - m lr) * (cos(pi (max(s', cT) - cT) / (T - cT)) / 2 + 1/2) + m lr

so the learning rate is constant at ``lr`` until ``cT`` and then follows a
half cosine to ``m lr`` at ``T``. Note ``max(w, c)``: when ``w > 0`` the linear
warmup lasts until ``max(w, c) T``, i.e. through the whole constant phase (for
the second entry of the list, 32% of the budget). With ``w = 0`` there is no
warmup. At ``c = 1`` the published formula divides 0 by 0; we return its
limit ``lr``.

Precision: every quantity is computed in the parameters' dtype (float32 for
narrower ones). opt_list's ports compute the schedule in float32 (their
``ff``); with float64 parameters this module instead evaluates the formulas
above in float64 throughout. Measured:
``tests/test_optim_metz.py`` runs the first five entries for 300 steps under
``jax.enable_x64`` against a float64 numpy transcription of ``nadamw_update``
and ``get_cosine_learning_rate_fn`` (max abs difference <= 2.3e-16, pinned at
1e-12; before this change, with float32 betas and schedule, up to 1.4e-4 on
entry 5). float32 parameters give the same bits as before.

Points are plain mappings with the keys of the published configurations
(``learning_rate, beta1, beta2, epsilon, use_nesterov, adamw_weight_decay,
l2_weight_decay, warmup_fraction, min_learning_rate_mult, constant_fraction``;
``use_nesterov`` as 0.0 or 1.0, so that the engine can trace it).

Example:
    >>> import jax.numpy as jnp
    >>> from hplists.lists import get_list
    >>> point = get_list("metz-nadamw").points[0]
    >>> tx = build(point, total_steps=100)
    >>> params = {"w": jnp.ones(3)}
    >>> updates, _ = tx.update({"w": jnp.ones(3)}, tx.init(params), params)
    >>> updates["w"].shape
    (3,)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from hplists._check import check_int, check_real
from hplists.exceptions import InvalidParameterError

__all__ = ["KEYS", "MetzState", "build", "check_point", "metz_nadamw", "rule", "schedule"]

# The hyperparameters of one configuration, as the published JSON names them.
KEYS = (
    "learning_rate",
    "beta1",
    "beta2",
    "epsilon",
    "use_nesterov",
    "adamw_weight_decay",
    "l2_weight_decay",
    "warmup_fraction",
    "min_learning_rate_mult",
    "constant_fraction",
)


def schedule(step: Any, total_steps: Any, learning_rate: Any, min_learning_rate_mult: Any,
             constant_fraction: Any, warmup_fraction: Any, xp: Any = None,
             dtype: Any = None) -> Any:
    """The learning rate at 0-based ``step`` (``get_cosine_learning_rate_fn`` of opt_list).

    Every argument may be an array (e.g. traced per-point values) when ``xp``
    is an array namespace (``numpy``, ``jax.numpy``); with ``xp=None`` they
    are Python numbers and a float (float64) comes back. The formula is in the
    module docstring.

    With ``xp``, the result is computed in ``dtype`` (default float32, which is
    what opt_list's ports use: their ``ff`` casts every input to float32);
    :func:`metz_nadamw` passes the parameters' dtype, so that float64 runs get
    the formula in float64.

    Example:
        >>> # warmup to 0.1 over max(0.1, 0.3) * 10 = 3 steps, then a half cosine from 3 to 10
        >>> [round(schedule(s, 10, 0.1, 0.0, 0.3, 0.1), 4) for s in (0, 1, 3, 10, 12)]
        [0.0, 0.0333, 0.1, 0.0, 0.0]
        >>> round(schedule(5, 10, 0.1, 0.0, 0.3, 0.0), 4)  # no warmup: constant until 3
        0.0812
    """
    if xp is None:
        s = min(float(step), float(total_steps))
        cs = total_steps * constant_fraction
        x = max(s, cs)
        low = min_learning_rate_mult * learning_rate
        span = total_steps - cs
        cos = math.cos((x - cs) * math.pi / span) if span > 0 else 1.0
        decay = (learning_rate - low) * (cos / 2.0 + 0.5) + low
        if warmup_fraction > 0:
            w = total_steps * max(warmup_fraction, constant_fraction)
            if w > s:
                return learning_rate * s / w
        return decay
    f = xp.float32 if dtype is None else dtype
    total = xp.asarray(total_steps, f)
    s = xp.minimum(xp.asarray(step, f), total)
    lr = xp.asarray(learning_rate, f)
    cs = total * xp.asarray(constant_fraction, f)
    x = xp.maximum(s, cs)
    low = xp.asarray(min_learning_rate_mult, f) * lr
    span = total - cs
    cos = xp.where(span > 0, xp.cos((x - cs) * math.pi / xp.where(span > 0, span, 1.0)), 1.0)
    decay = (lr - low) * (cos / 2.0 + 0.5) + low
    wf = xp.asarray(warmup_fraction, f)
    w = total * xp.maximum(wf, xp.asarray(constant_fraction, f))
    warm = (wf > 0) & (w > s)
    return xp.where(warm, lr * s / xp.where(w > 0, w, 1.0), decay)


class MetzState(NamedTuple):
    """State of :func:`metz_nadamw`: the step count and the two moment estimates."""

    count: Any  # int32, number of updates made so far
    mu: Any
    nu: Any


def metz_nadamw(
    learning_rate: Any,
    beta1: Any,
    beta2: Any,
    epsilon: Any,
    adamw_weight_decay: Any,
    l2_weight_decay: Any,
    use_nesterov: Any,
    warmup_fraction: Any,
    constant_fraction: Any,
    min_learning_rate_mult: Any,
    total_steps: int,
) -> Any:
    """The opt_list update rule as an ``optax.GradientTransformation`` (needs ``params``).

    Every hyperparameter may be a traced scalar (``use_nesterov`` then selects
    with ``where``). The update, added to the parameters, is the negative of
    the step in the module docstring. Moments are kept in the parameters'
    dtype; the step count is int32.

    Each parameter leaf is updated in its own dtype, or in float32 when that
    is narrower (bfloat16, float16): ``beta1``, ``beta2``, ``t``, the schedule
    and ``lr_t`` are cast to it, so float64 parameters (``jax_enable_x64``) get
    the published formulas in float64, and float32 parameters get exactly the
    float32 arithmetic of earlier versions. (A hyperparameter that arrives as a
    float32 array, e.g. a traced per-point value, is already rounded to float32.)

    Example:
        >>> import jax.numpy as jnp
        >>> tx = metz_nadamw(0.1, 0.5, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, total_steps=10)
        >>> p = jnp.array([1.0])
        >>> u, state = tx.update(jnp.array([2.0]), tx.init(p), p)
        >>> # m = 1, v = 2, lr_t = 0.1 sqrt(1 - 0.5) / (1 - 0.5): the step is 0.1 sqrt(2) / sqrt(2)
        >>> round(float(u[0]), 6)
        -0.1
    """
    import jax
    import jax.numpy as jnp
    import optax

    def init(params: Any) -> MetzState:
        zeros = jax.tree.map(jnp.zeros_like, params)
        return MetzState(jnp.zeros((), jnp.int32), zeros, jax.tree.map(jnp.zeros_like, params))

    def update(grads: Any, state: MetzState, params: Any = None) -> tuple[Any, MetzState]:
        if params is None:
            raise InvalidParameterError("metz_nadamw needs the parameters (weight decay and L2 read them)")
        step = state.count
        nesterov = jnp.asarray(use_nesterov, jnp.float32) > 0.5
        coefficients: dict[Any, tuple[Any, Any, Any]] = {}

        def scalars(dtype: Any) -> tuple[Any, Any, Any]:
            """beta1, beta2 and lr_t in ``dtype`` (computed once per dtype)."""
            if dtype not in coefficients:
                lr = schedule(step, total_steps, learning_rate, min_learning_rate_mult,
                              constant_fraction, warmup_fraction, xp=jnp, dtype=dtype)
                t = (step + 1).astype(dtype)
                b1 = jnp.asarray(beta1, dtype)
                b2 = jnp.asarray(beta2, dtype)
                coefficients[dtype] = (b1, b2, lr * jnp.sqrt(1.0 - b2**t) / (1.0 - b1**t))
            return coefficients[dtype]

        def one(g: Any, p: Any, m0: Any, v0: Any) -> tuple[Any, Any, Any]:
            b1, b2, lr_t = scalars(jnp.promote_types(p.dtype, jnp.float32))
            g = g - p * l2_weight_decay
            m = b1 * m0 + (1.0 - b1) * g
            v = b2 * v0 + (1.0 - b2) * jnp.square(g)
            num = jnp.where(nesterov, b1 * m + (1.0 - b1) * g, m)
            step_ = lr_t * num / (jnp.sqrt(v) + epsilon) + lr_t * adamw_weight_decay * p
            return (-step_).astype(p.dtype), m.astype(m0.dtype), v.astype(v0.dtype)

        out = jax.tree.map(one, grads, params, state.mu, state.nu)
        # Any: jaxlib ships no stubs for PyTreeDef (jaxlib._jax), so mypy cannot see its methods.
        treedef: Any = jax.tree.structure(grads)
        flat = treedef.flatten_up_to(out)
        updates = treedef.unflatten([o[0] for o in flat])
        mu = treedef.unflatten([o[1] for o in flat])
        nu = treedef.unflatten([o[2] for o in flat])
        return updates, MetzState(step + 1, mu, nu)

    return optax.GradientTransformation(init, update)


def check_point(point: Mapping[str, Any]) -> dict[str, float]:
    """A configuration as a dict of floats with exactly :data:`KEYS`, validated.

    ``use_nesterov`` may be a bool; it becomes 1.0 or 0.0.

    Example:
        >>> p = check_point({"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999,
        ...     "epsilon": 1e-8, "use_nesterov": True, "adamw_weight_decay": 0.0,
        ...     "l2_weight_decay": 0.0, "warmup_fraction": 0.0,
        ...     "min_learning_rate_mult": 0.0, "constant_fraction": 0.5})
        >>> p["use_nesterov"]
        1.0
        >>> check_point({"learning_rate": 1e-3})
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: Metz et al. point is missing key(s) ['adamw_weight_decay', 'beta1', 'beta2', 'constant_fraction', 'epsilon', 'l2_weight_decay', 'min_learning_rate_mult', 'use_nesterov', 'warmup_fraction']
    """
    if not isinstance(point, Mapping):
        raise InvalidParameterError(f"a Metz et al. point must be a mapping of {list(KEYS)}, "
                         f"got {type(point).__name__}")
    # The engine adds dropout_rate/label_smoothing (always 0 here) and warmup_steps.
    extra = sorted(set(point) - set(KEYS) - {"dropout_rate", "label_smoothing", "warmup_steps"})
    missing = sorted(set(KEYS) - set(point))
    if extra:
        raise InvalidParameterError(f"Metz et al. point has unknown key(s) {extra}; keys are {list(KEYS)}")
    if missing:
        raise InvalidParameterError(f"Metz et al. point is missing key(s) {missing}")
    nesterov = point["use_nesterov"]
    if nesterov not in (True, False, 0, 1):
        raise InvalidParameterError(f"use_nesterov must be a bool, 0 or 1, got {nesterov!r}")
    out = {
        "learning_rate": check_real("learning_rate", point["learning_rate"], 0.0, low_open=True),
        "beta1": check_real("beta1", point["beta1"], 0.0, 1.0, high_open=True),
        "beta2": check_real("beta2", point["beta2"], 0.0, 1.0, high_open=True),
        "epsilon": check_real("epsilon", point["epsilon"], 0.0),
        "use_nesterov": 1.0 if nesterov else 0.0,
        "adamw_weight_decay": check_real("adamw_weight_decay", point["adamw_weight_decay"]),
        "l2_weight_decay": check_real("l2_weight_decay", point["l2_weight_decay"]),
        "warmup_fraction": check_real("warmup_fraction", point["warmup_fraction"], 0.0, 1.0),
        "min_learning_rate_mult": check_real("min_learning_rate_mult",
                                             point["min_learning_rate_mult"], 0.0),
        "constant_fraction": check_real("constant_fraction", point["constant_fraction"],
                                        0.0, 1.0),
    }
    return out


def rule(hp: Mapping[str, Any], total_steps: int) -> Any:
    """The training engine's update-rule hook: :func:`metz_nadamw` from a point's mapping.

    Values may be traced scalars (one per point under ``jax.vmap``). Keys other
    than :data:`KEYS` (the engine's ``warmup_steps``, ``dropout_rate``,
    ``label_smoothing``) are ignored: this schedule computes its own warmup.
    Pass it to the engine as ``update_rule=hplists.optim.metz.rule``.
    """
    return metz_nadamw(
        learning_rate=hp["learning_rate"],
        beta1=hp["beta1"],
        beta2=hp["beta2"],
        epsilon=hp["epsilon"],
        adamw_weight_decay=hp["adamw_weight_decay"],
        l2_weight_decay=hp["l2_weight_decay"],
        use_nesterov=hp["use_nesterov"],
        warmup_fraction=hp["warmup_fraction"],
        constant_fraction=hp["constant_fraction"],
        min_learning_rate_mult=hp["min_learning_rate_mult"],
        total_steps=total_steps,
    )


def build(point: Mapping[str, Any], total_steps: int) -> Any:
    """The ``optax.GradientTransformation`` that trains with ``point`` for ``total_steps``.

    Unlike most optax transformations, ``update`` needs ``params``.
    """
    total_steps = check_int("total_steps", total_steps, low=1)
    return rule(check_point(point), total_steps)
