"""Learning-rate-free update rules of paper 002, on the reference implementations in ``optax.contrib``.

Every rule has the engine's signature ``(hp, total_steps) ->
optax.GradientTransformation`` (:mod:`hplists.optim.update_rule`); values of
``hp`` may be traced scalars, one per point.

The relative schedule (paper 002, Sec. 2.3 and 3.1). The methods remove the
base learning rate, not the schedule: a factor ``s_t`` in ``[0, 1]`` is
multiplied into the update, with ``s_t`` the linear warmup from 0 then cosine
decay to 0 at the horizon ``T`` (:func:`hplists.optim.schedule.warmup_cosine_factor`;
``W = int(warmup_fraction * T)``). Where optax takes a learning rate it is
passed as ``learning_rate = peak * s_t`` (for Prodigy and D-Adapt the learning
rate enters the distance estimate, as in their PyTorch packages); COCOB is
invariant to a constant learning-rate multiplier on its input, so its factor
multiplies its output instead. ``relative_schedule = 0`` turns the schedule off
(``s_t = 1``): the literature defaults run that way, "out of the box" (paper
002, Sec. 4 and App. A). With a horizon ``h < 1`` the engine passes
``T = int(h * step_budget)`` and stops training there.

==================  =========================================================  =====================
rule                optax (``optax.contrib``)                                   hyperparameters
==================  =========================================================  =====================
``dog``             ``dog(learning_rate=s, init_step=("heuristic", r))``       weight_decay, init_step
``dowg``            ``dowg(learning_rate=s, eps)``                              weight_decay, eps
``dadapt_adamw``    ``dadapt_adamw(learning_rate=s, betas)``, idle steps kept   beta1, beta2, weight_decay
``prodigy``         ``prodigy(learning_rate=s, betas)``, idle steps kept        beta1, beta2, weight_decay,
                                                                               safeguard_warmup (static)
``mechanic``        ``mechanize(optax.sgd(learning_rate=s))``, L2 before SGD     weight_decay
``mechanic_adam``   ``mechanize(optax.adamw(learning_rate=s, b1, b2, wd))``     beta1, beta2, weight_decay
``mechanic_nadam``  ``mechanize(optax.nadamw(learning_rate=s, b1, b2, wd))``    beta1, beta2, weight_decay
``cocob``           ``cocob(1.0, alpha, weight_decay)`` then ``x s_t``          weight_decay, alpha
``momo``            ``momo(learning_rate=lr s, beta=beta1)``                    beta1, weight_decay, learning_rate
``momo_adam``       ``momo_adam(learning_rate=lr s, b1, b2)``                   beta1, beta2, weight_decay, learning_rate
``sfadamw``         ``schedule_free`` over AdamW, warmup only (no decay)        learning_rate, beta1, beta2,
                                                                               weight_decay, warmup_fraction
==================  =========================================================  =====================

Idle steps. optax's D-Adapt and Prodigy estimate ``d`` as ``0 / 0 = NaN``
when the learning rate is 0, which it is at step 0 of a warmup from 0; their
PyTorch packages (``dadaptation``, ``prodigyopt``) skip such steps. Here too:
a step with ``s_t = 0`` changes neither the parameters nor the method's state
(:func:`skip_idle_steps`).

Importing this module imports neither JAX nor optax (a rule imports them when it is built),
so the method records below serve the PyTorch side (:mod:`hplists.torch_lrfree`) too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from hplists.exceptions import InvalidParameterError
from hplists.optim._traced import warmup
from hplists.optim.schedule import warmup_cosine_factor
from hplists.optim.update_rule import hooks

if TYPE_CHECKING:
    import optax

__all__ = [
    "METHODS",
    "SCHEDULE_FREE",
    "SCHEDULE_KEYS",
    "TAKES",
    "VARIANTS",
    "Method",
    "cocob",
    "dadapt_adamw",
    "dog",
    "dowg",
    "get_method",
    "mechanic",
    "mechanic_adam",
    "mechanic_nadam",
    "methods_markdown",
    "momo",
    "momo_adam",
    "prodigy",
    "relative_schedule",
    "schedule_keys",
    "sfadamw",
    "sfadamw_algoperf",
    "skip_idle_steps",
]


# Keys every rule accepts: the relative schedule's and those the engine consumes.
SCHEDULE_KEYS = ("warmup_fraction", "warmup_steps", "relative_schedule", "horizon",
                 "dropout_rate", "label_smoothing")
# A Schedule-Free rule has a warmup and no schedule to scale or cut at a horizon.
_SF_SCHEDULE_KEYS = ("warmup_fraction", "warmup_steps", "dropout_rate", "label_smoothing")
SCHEDULE_FREE = ("sfadamw", "sfadamw_algoperf")
_MECHANIC = ("beta1", "beta2", "weight_decay", "eps", "mechanic_weight_decay", "s_init")
_SF = ("learning_rate", "beta1", "beta2", "weight_decay", "eps", "weight_lr_power")

#: Rule -> the hyperparameters it takes besides its schedule's keys (:func:`schedule_keys`):
#: what each rule checks, and what :mod:`hplists.torch_lrfree` accepts for it.
TAKES: dict[str, tuple[str, ...]] = {
    "dog": ("weight_decay", "init_step"),
    "dowg": ("weight_decay", "eps"),
    "dadapt_adamw": ("beta1", "beta2", "weight_decay", "eps", "estim_lr0"),
    "prodigy": ("beta1", "beta2", "weight_decay", "eps", "estim_lr0", "safeguard_warmup"),
    "mechanic": ("weight_decay", "mechanic_weight_decay", "s_init"),
    "mechanic_adam": _MECHANIC,
    "mechanic_nadam": _MECHANIC,
    "cocob": ("weight_decay", "alpha"),
    "momo": ("beta1", "weight_decay", "learning_rate"),
    "momo_adam": ("beta1", "beta2", "weight_decay", "eps", "learning_rate"),
    "sfadamw": _SF,
    "sfadamw_algoperf": (*_SF, "r"),
}

#: Rules that are a variant of a method of :data:`METHODS` (the same algorithm, set up as a
#: published submission ran it) -> that method.
VARIANTS: dict[str, str] = {"sfadamw_algoperf": "sfadamw"}


def schedule_keys(rule: str) -> tuple[str, ...]:
    """The schedule's keys that ``rule`` accepts besides :data:`TAKES` (horizon, warmup, ...).

    Example:
        >>> "horizon" in schedule_keys("prodigy"), "horizon" in schedule_keys("sfadamw")
        (True, False)
    """
    return _SF_SCHEDULE_KEYS if rule in SCHEDULE_FREE else SCHEDULE_KEYS


def _check(hp: Mapping[str, Any], rule: str) -> None:
    if not isinstance(hp, Mapping):
        raise InvalidParameterError(f"update rule {rule!r} takes a mapping of hyperparameter names to "
                         f"values, got {type(hp).__name__}")
    allowed, extra = TAKES[rule], schedule_keys(rule)
    unknown = sorted(set(hp) - set(allowed) - set(extra))
    if unknown:
        raise InvalidParameterError(f"update rule {rule!r} does not take hyperparameter(s) {unknown}; it "
                         f"takes {sorted(allowed)} and the schedule's {sorted(extra)}")


def relative_schedule(hp: Mapping[str, Any], total_steps: int) -> Callable[[Any], Any]:
    """``count -> s_t``: warmup from 0 then cosine decay to 0 at ``total_steps`` (or 1 when off).

    ``hp`` may hold ``warmup_fraction`` (or ``warmup_steps``, default 0) and
    ``relative_schedule`` (1: on, the default; 0: ``s_t = 1`` at every step).

    Example:
        >>> s = relative_schedule({"warmup_fraction": 0.2}, 10)
        >>> [round(float(s(t)), 3) for t in (0, 1, 2, 6, 10)]
        [0.0, 0.5, 1.0, 0.5, 0.0]
        >>> float(relative_schedule({"relative_schedule": 0.0}, 10)(3))
        1.0
    """
    import jax.numpy as jnp

    on = hp.get("relative_schedule", 1.0)
    if isinstance(on, (int, float)) and on == 0:
        return lambda count: jnp.ones((), jnp.float32)
    warm = warmup(hp, total_steps) if ("warmup_fraction" in hp or "warmup_steps" in hp) else 0

    def schedule(count: Any) -> Any:
        factor = warmup_cosine_factor(count, warm, total_steps, xp=jnp)
        if isinstance(on, (int, float)):
            return factor
        return jnp.where(on > 0, factor, jnp.ones_like(factor))

    return schedule


class IdleSkipState(NamedTuple):
    """State of :func:`skip_idle_steps`: the wrapped method's state and the schedule's count."""

    inner: Any
    count: Any


def skip_idle_steps(make: Callable[[Any], optax.GradientTransformation],
                    schedule: Callable[[Any], Any]) -> optax.GradientTransformationExtraArgs:
    """``make(lr)`` driven by ``lr = schedule(t)``; a step with ``lr == 0`` changes nothing.

    On an idle step the updates are 0 and the wrapped state is kept as it was
    (its own step count included, as the PyTorch packages of D-Adapt and
    Prodigy do); only the schedule's count ``t`` advances.

    Example:
        >>> import jax.numpy as jnp
        >>> from optax import contrib
        >>> tx = skip_idle_steps(lambda lr: contrib.prodigy(learning_rate=lr),
        ...                      lambda t: jnp.minimum(t / 2.0, 1.0))
        >>> state = tx.init(jnp.ones(2))
        >>> u, state = tx.update(jnp.ones(2), state, jnp.ones(2))
        >>> float(u[0]), int(state.inner.count), bool(jnp.isfinite(state.inner.estim_lr))
        (0.0, 0, True)
    """
    import jax
    import jax.numpy as jnp
    import optax

    def init(params: Any) -> IdleSkipState:
        return IdleSkipState(make(1.0).init(params), jnp.zeros([], jnp.int32))

    def update(updates: Any, state: IdleSkipState, params: Any = None,
               **extra: Any) -> tuple[Any, IdleSkipState]:
        lr = schedule(state.count)
        tx = optax.with_extra_args_support(make(lr))
        new_updates, inner = tx.update(updates, state.inner, params, **extra)
        idle = lr == 0
        new_updates = jax.tree.map(lambda u: jnp.where(idle, jnp.zeros_like(u), u), new_updates)
        inner = jax.tree.map(lambda new, old: jnp.where(idle, old, new), inner, state.inner)
        return new_updates, IdleSkipState(inner, optax.safe_increment(state.count))

    return optax.GradientTransformationExtraArgs(init, update)


# ------------------------------------------------------------------------------------ rules


def dog(hp: Mapping[str, Any], total_steps: int) -> optax.GradientTransformation:
    """DoG (Ivgi et al., 2023): ``optax.contrib.dog`` with the relative schedule.

    ``eta_t = max_{i<=t} ||x_i - x_0|| / sqrt(sum_{i<=t} ||g_i||^2)``, initial
    distance ``r_eps = init_step * (1 + ||x_0||)`` (optax's "heuristic"); weight
    decay is coupled (L2 added to the gradient).

    Example:
        >>> import jax.numpy as jnp
        >>> tx = dog({"weight_decay": 0.0, "relative_schedule": 0.0}, 10)
        >>> u, _ = tx.update(jnp.ones(2), tx.init(jnp.ones(2)), jnp.ones(2))
        >>> u.shape
        (2,)
    """
    from optax import contrib
    _check(hp, "dog")
    return contrib.dog(learning_rate=relative_schedule(hp, total_steps),
                       init_step=("heuristic", hp.get("init_step", 1e-6)),
                       weight_decay=hp.get("weight_decay", 0.0))


def dowg(hp: Mapping[str, Any], total_steps: int) -> optax.GradientTransformation:
    """DoWG (Khaled et al., 2023): ``optax.contrib.dowg`` with the relative schedule.

    Initial squared distance ``eps`` (1e-4, optax's default); weight decay coupled.

    Example:
        >>> tx = dowg({"weight_decay": 0.0}, 10)
    """
    from optax import contrib
    _check(hp, "dowg")
    return contrib.dowg(learning_rate=relative_schedule(hp, total_steps),
                        eps=hp.get("eps", 1e-4), weight_decay=hp.get("weight_decay", 0.0))


def dadapt_adamw(hp: Mapping[str, Any], total_steps: int) -> optax.GradientTransformation:
    """D-Adaptation for AdamW (Defazio & Mishchenko, 2023): ``optax.contrib.dadapt_adamw``.

    The relative schedule is its learning rate; idle steps are skipped
    (:func:`skip_idle_steps`). Weight decay is decoupled, multiplied by
    ``d_t * s_t`` and the bias correction.

    Example:
        >>> tx = dadapt_adamw({"beta1": 0.9, "beta2": 0.999, "warmup_fraction": 0.1}, 10)
    """
    from optax import contrib
    _check(hp, "dadapt_adamw")
    b1, b2 = hp.get("beta1", 0.9), hp.get("beta2", 0.999)
    return skip_idle_steps(
        lambda lr: contrib.dadapt_adamw(learning_rate=lr, betas=(b1, b2),
                                        eps=hp.get("eps", 1e-8),
                                        estim_lr0=hp.get("estim_lr0", 1e-6),
                                        weight_decay=hp.get("weight_decay", 0.0)),
        relative_schedule(hp, total_steps))


@hooks(static=("safeguard_warmup",))
def prodigy(hp: Mapping[str, Any], total_steps: int) -> optax.GradientTransformation:
    """Prodigy (Mishchenko & Defazio, 2023): ``optax.contrib.prodigy``, idle steps skipped.

    ``safeguard_warmup`` (0 or 1, a Python constant: the engine groups points
    by it) removes the learning rate from the denominator of the ``d``
    estimate; paper 002 (Sec. 2.3) needed it with a warmup. Weight decay is
    decoupled, multiplied by ``d_t * s_t`` and the bias correction.

    Example:
        >>> tx = prodigy({"beta1": 0.9, "beta2": 0.999, "safeguard_warmup": 1,
        ...               "warmup_fraction": 0.1}, 10)
    """
    from optax import contrib
    _check(hp, "prodigy")
    b1, b2 = hp.get("beta1", 0.9), hp.get("beta2", 0.999)
    safeguard = hp.get("safeguard_warmup", 0)
    if not isinstance(safeguard, (bool, int, float)) or safeguard not in (0, 1):
        raise InvalidParameterError(f"update rule 'prodigy': safeguard_warmup must be the constant 0 or 1, "
                         f"got {safeguard!r}")
    return skip_idle_steps(
        lambda lr: contrib.prodigy(learning_rate=lr, betas=(b1, b2), eps=hp.get("eps", 1e-8),
                                   estim_lr0=hp.get("estim_lr0", 1e-6),
                                   weight_decay=hp.get("weight_decay", 0.0),
                                   safeguard_warmup=bool(safeguard)),
        relative_schedule(hp, total_steps))


def _mechanize(hp: Mapping[str, Any], base: optax.GradientTransformation
               ) -> optax.GradientTransformation:
    from optax import contrib
    return contrib.mechanize(base, weight_decay=hp.get("mechanic_weight_decay", 1e-2),
                             eps=1e-8, s_init=hp.get("s_init", 1e-6), num_betas=6)


def _mechanic(hp: Mapping[str, Any], total_steps: int, rule: str,
              base: Callable[..., optax.GradientTransformation]) -> optax.GradientTransformation:
    _check(hp, rule)
    return _mechanize(hp, base(relative_schedule(hp, total_steps), b1=hp.get("beta1", 0.9),
                               b2=hp.get("beta2", 0.999), eps=hp.get("eps", 1e-8),
                               weight_decay=hp.get("weight_decay", 0.0)))


def mechanic(hp: Mapping[str, Any], total_steps: int) -> optax.GradientTransformation:
    """Mechanic over plain SGD: ``optax.contrib.mechanize(optax.sgd(s_t))`` (paper 002 Table 4).

    The method as Cutkosky et al. (2023) state it, tuning the scale of SGD's
    updates; weight decay is coupled (L2 on the gradient, before SGD).
    Mechanic's own decay, ``s_init`` and 6 betas are its defaults.

    Example:
        >>> tx = mechanic({"weight_decay": 0.0, "warmup_fraction": 0.1}, 10)
    """
    import optax
    _check(hp, "mechanic")
    return _mechanize(hp, optax.chain(optax.add_decayed_weights(hp.get("weight_decay", 0.0)),
                                      optax.sgd(relative_schedule(hp, total_steps))))


def mechanic_adam(hp: Mapping[str, Any], total_steps: int) -> optax.GradientTransformation:
    """Mechanic (Cutkosky et al., 2023) over AdamW: ``optax.contrib.mechanize(optax.adamw(...))``.

    The base AdamW has learning rate ``s_t`` and the point's betas and
    decoupled weight decay (multiplied by ``s_t``, then by Mechanic's scale);
    Mechanic's own decay ``mechanic_weight_decay`` (1e-2), ``s_init`` (1e-6)
    and 6 betas are its defaults.

    Example:
        >>> tx = mechanic_adam({"beta1": 0.9, "beta2": 0.999, "warmup_fraction": 0.1}, 10)
    """
    import optax
    return _mechanic(hp, total_steps, "mechanic_adam", optax.adamw)


def mechanic_nadam(hp: Mapping[str, Any], total_steps: int) -> optax.GradientTransformation:
    """Mechanic over NAdamW: ``optax.contrib.mechanize(optax.nadamw(...))`` (see :func:`mechanic_adam`).

    Example:
        >>> tx = mechanic_nadam({"beta1": 0.9, "beta2": 0.999}, 10)
    """
    import optax
    return _mechanic(hp, total_steps, "mechanic_nadam", optax.nadamw)


def cocob(hp: Mapping[str, Any], total_steps: int) -> optax.GradientTransformation:
    """COCOB-Backprop (Orabona & Tommasi, 2017): ``optax.contrib.cocob``, output times ``s_t``.

    COCOB rescales its input by its own running gradient scales, so a constant
    learning rate passed to optax (which multiplies the gradients) cancels
    out; the relative schedule therefore multiplies COCOB's update, just
    before it is applied. Weight decay is coupled (L2 on the gradient).

    Example:
        >>> tx = cocob({"weight_decay": 0.0}, 10)
    """
    import optax
    from optax import contrib
    _check(hp, "cocob")
    return optax.chain(
        contrib.cocob(learning_rate=1.0, alpha=hp.get("alpha", 100.0), eps=1e-8,
                      weight_decay=hp.get("weight_decay", 0.0)),
        optax.scale_by_schedule(relative_schedule(hp, total_steps)))


def _capped(hp: Mapping[str, Any], total_steps: int, peak: float) -> Callable[[Any], Any]:
    lr, s = hp.get("learning_rate", peak), relative_schedule(hp, total_steps)
    on = hp.get("relative_schedule", 1.0)
    if isinstance(on, (int, float)) and on == 0:
        # s_t = 1: the cap itself, not times the schedule's float32 one, which would round a
        # float64 cap to float32 under jax_enable_x64 (in float32 both are the same bits).
        return lambda count: lr
    return lambda count: lr * s(count)


def momo(hp: Mapping[str, Any], total_steps: int) -> optax.GradientTransformationExtraArgs:
    """MoMo (Schaipp et al., 2023): ``optax.contrib.momo``; needs the loss (``value=``).

    The step size is ``min(lr * s_t, Polyak-type term)`` with lower bound 0;
    ``beta1`` is its momentum, ``learning_rate`` its cap (default 1.0); weight
    decay is proximal (``x / (1 + lr s_t wd)``).

    Example:
        >>> tx = momo({"beta1": 0.9}, 10)
    """
    from optax import contrib
    _check(hp, "momo")
    return contrib.momo(learning_rate=_capped(hp, total_steps, 1.0), beta=hp.get("beta1", 0.9),
                        weight_decay=hp.get("weight_decay", 0.0))


def momo_adam(hp: Mapping[str, Any], total_steps: int) -> optax.GradientTransformationExtraArgs:
    """MoMo-Adam (Schaipp et al., 2023): ``optax.contrib.momo_adam``; needs the loss.

    Cap ``learning_rate * s_t`` (default 1e-2), Adam's betas, proximal weight decay.

    Example:
        >>> tx = momo_adam({"beta1": 0.9, "beta2": 0.999}, 10)
    """
    from optax import contrib
    _check(hp, "momo_adam")
    return contrib.momo_adam(learning_rate=_capped(hp, total_steps, 1e-2),
                             b1=hp.get("beta1", 0.9), b2=hp.get("beta2", 0.999),
                             eps=hp.get("eps", 1e-8), weight_decay=hp.get("weight_decay", 0.0))


def _sf_eval_params(opt_state: Any, params: Any) -> Any:
    from optax import contrib
    return contrib.schedule_free_eval_params(opt_state, params)


@hooks(eval_params=_sf_eval_params)
def sfadamw(hp: Mapping[str, Any], total_steps: int) -> optax.GradientTransformationExtraArgs:
    """Schedule-Free AdamW (Defazio et al., 2024): ``optax.contrib.schedule_free_adamw``, traced.

    The same transformation as ``schedule_free_adamw(learning_rate, warmup_steps=W,
    b1, b2, eps, weight_decay, weight_lr_power)`` with ``W = int(warmup_fraction
    * T)``, written with a warmup that accepts a traced ``W`` (optax's needs a
    Python int). It warms up and never decays, so it takes no horizon. It is
    evaluated at ``schedule_free_eval_params`` (the average ``x``), which the
    engine does through this rule's ``eval_params`` hook.

    Example:
        >>> tx = sfadamw({"learning_rate": 0.0025, "beta1": 0.9, "beta2": 0.999,
        ...               "warmup_fraction": 0.02}, 100)
    """
    import optax
    from optax import contrib
    _check(hp, "sfadamw")
    import jax.numpy as jnp

    lr = hp.get("learning_rate", 0.0025)
    warm = warmup(hp, total_steps) if ("warmup_fraction" in hp or "warmup_steps" in hp) else 0

    def schedule(count: Any) -> Any:
        # optax.warmup_constant_schedule(0, lr, W): polynomial_schedule's formula, then lr.
        # count * 1.0: the default float (float64 under x64), not int32 / int32 = float32.
        c, w = count * 1.0, jnp.maximum(jnp.asarray(warm), 1) * 1.0
        frac = 1 - jnp.clip(c, 0, w) / w
        return jnp.where(c < warm, (0.0 - lr) * frac + lr, lr * jnp.ones_like(c))

    base = optax.chain(
        optax.scale_by_rms(decay=hp.get("beta2", 0.999), eps=hp.get("eps", 1e-8),
                           eps_in_sqrt=False, bias_correction=True),
        optax.add_decayed_weights(hp.get("weight_decay", 0.0)),
        optax.scale_by_learning_rate(schedule))
    return contrib.schedule_free(base, learning_rate=schedule, b1=hp.get("beta1", 0.9),
                                 weight_lr_power=hp.get("weight_lr_power", 2.0))


class SFAlgoPerfState(NamedTuple):
    """State of :func:`sfadamw_algoperf`: step count, the two sequences, the second moment.

    ``x`` is the averaged sequence (evaluated), ``z`` the base sequence; the
    parameters the engine holds are ``y = beta1 x + (1 - beta1) z``. ``v`` is
    bfloat16, as the submission keeps it.
    """

    count: Any
    z: Any
    x: Any
    v: Any
    lr_max: Any
    weight_sum: Any


def _sf_algoperf_eval_params(opt_state: Any, params: Any) -> Any:
    return opt_state.x


@hooks(eval_params=_sf_algoperf_eval_params)
def sfadamw_algoperf(hp: Mapping[str, Any], total_steps: int
                     ) -> optax.GradientTransformationExtraArgs:
    r"""Schedule-Free AdamW exactly as the AlgoPerf v0.5 self-tuning submission ran it.

    The winning submission (``mlcommons/submissions_algorithms``:
    ``previous_leaderboards/algoperf_v05/submissions/self_tuning/schedule_free_adamw/
    submission.py``, PyTorch; the later JAX port wraps optax and drops ``r``)
    differs from ``optax.contrib.schedule_free_adamw`` (:func:`sfadamw`) in
    what optax cannot express. With ``t = k + 1``, ``W`` warmup steps and peak
    ``lr``:

    .. math::

        \eta_t &= \max(lr \min(t, W) / W, \epsilon), \quad
        \eta^{max}_t = \max_{s \le t} \eta_s \\
        c_t &= t^r (\eta^{max}_t)^p / \textstyle\sum_{s \le t} s^r (\eta^{max}_s)^p \\
        v_t &= \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \quad (\text{kept in bfloat16}) \\
        z_{t+1} &= z_t - \eta_t \sqrt{1 - \beta_2^t}\,(g_t / (\sqrt{v_t} + \epsilon)
                   + wd\, x_t) \\
        x_{t+1} &= (1 - c_t) x_t + c_t z_{t+1}, \quad
        y_{t+1} = \beta_1 x_{t+1} + (1 - \beta_1) z_{t+1}

    where the gradient ``g_t`` is taken at ``y_t``. Against optax: the
    polynomial averaging power ``r`` (``t^r`` in the weight; optax has
    ``r = 0``), the same ``\eta_t`` in the step and in the weight (optax's
    step lags one count behind, so its first step is idle), weight decay at
    ``x`` times ``\sqrt{1 - \beta_2^t}`` (optax: at ``y``, times the learning
    rate), ``\epsilon`` added to ``\sqrt{v}`` before the bias correction, the
    floor ``\max(\cdot, \epsilon)`` on the learning rate, and a bfloat16
    second moment. Its hyperparameters (``SFADAMW_ALGOPERF`` in
    :mod:`hplists.study.lrfree`) are the submission's. Not reproduced: the
    submission's reset (after 10% of the step hint, if the last four
    evaluations improved by less than 0.01, every weight goes back to its
    initial value and the learning rate is halved), which needs evaluation
    results inside the optimizer.

    Example:
        >>> import jax.numpy as jnp
        >>> tx = sfadamw_algoperf({"learning_rate": 0.0025, "beta1": 0.9, "beta2": 0.99,
        ...                        "warmup_steps": 2, "r": 0.75}, 100)
        >>> params = {"w": jnp.ones(3)}
        >>> u, state = tx.update({"w": jnp.ones(3)}, tx.init(params), params)
        >>> int(state.count), bool((state.z["w"] < 1).all())  # the first step moves z
        (1, True)
    """
    import optax
    _check(hp, "sfadamw_algoperf")
    import jax
    import jax.numpy as jnp

    lr = hp.get("learning_rate", 0.0025)
    b1, b2 = hp.get("beta1", 0.9), hp.get("beta2", 0.999)
    eps, wd = hp.get("eps", 1e-8), hp.get("weight_decay", 0.0)
    power, r = hp.get("weight_lr_power", 2.0), hp.get("r", 0.0)
    warm = warmup(hp, total_steps) if ("warmup_fraction" in hp or "warmup_steps" in hp) else 0

    def init(params: Any) -> SFAlgoPerfState:
        zeros = jnp.zeros([], jnp.float32)
        return SFAlgoPerfState(
            jnp.zeros([], jnp.int32), jax.tree.map(jnp.asarray, params),
            jax.tree.map(jnp.asarray, params),
            jax.tree.map(lambda p: jnp.zeros(jnp.shape(p), jnp.bfloat16), params), zeros, zeros)

    def update(grads: Any, state: SFAlgoPerfState, params: Any = None,
               **extra: Any) -> tuple[Any, SFAlgoPerfState]:
        del extra
        t = (state.count + 1).astype(jnp.float32)
        w = jnp.asarray(warm).astype(jnp.float32)
        sched = jnp.where(t < w, t / jnp.maximum(w, 1.0), 1.0)  # (k + 1) / W while k < W
        eta = jnp.maximum(lr * sched, eps)
        lr_max = jnp.maximum(state.lr_max, eta)
        weight = t ** r * lr_max ** power
        weight_sum = state.weight_sum + weight
        c = weight / weight_sum
        step = eta * jnp.sqrt(1.0 - b2 ** t)
        f32, bf16 = jnp.float32, jnp.bfloat16

        def rounded(a: Any) -> Any:  # a float32 result stored in a bfloat16 tensor
            return a.astype(bf16).astype(f32)

        # The submission's in-place ops on its bfloat16 tensor compute in float32 and round
        # each result: mul_(beta2), addcmul_(g, g, 1 - beta2), sqrt(), add_(eps).
        v = jax.tree.map(lambda v, g: (rounded(v.astype(f32) * f32(b2))
                                       + f32(1.0 - b2) * g * g).astype(bf16), state.v, grads)
        z = jax.tree.map(
            lambda z, x, g, v: z - step * (g / rounded(rounded(jnp.sqrt(v.astype(f32))) + eps))
            - step * wd * x, state.z, state.x, grads, v)
        x = jax.tree.map(lambda x, z: x + c * (z - x), state.x, z)
        y = jax.tree.map(lambda x, z: x + (1.0 - b1) * (z - x), x, z)
        updates = jax.tree.map(lambda y, p: (y - p).astype(p.dtype), y, params)
        return updates, SFAlgoPerfState(state.count + 1, z, x, v, lr_max, weight_sum)

    return optax.with_extra_args_support(optax.GradientTransformation(init, update))


# ---------------------------------------------------------------------------------- methods


@dataclasses.dataclass(frozen=True)
class Method:
    """A method of paper 002: its rule, what it takes, and its literature defaults.

    Attributes:
        name: the update rule's registered name (:mod:`hplists.optim.rules`).
        label: the row label of paper 002's tables.
        hyperparameters: what the calibration searches (besides the warmup,
            dropout, label smoothing and horizon).
        defaults: the literature defaults ("out of the box": optax's defaults,
            regularization off, no relative schedule).
        sources: where each default comes from.
        weight_decay: what its weight decay means.
        state: optimizer-state floats per parameter (and what they are).
        horizon: whether it decays to 0 at a horizon.
        learning_rate_free: whether it has no base learning rate.
        torch: what computes the same algorithm in PyTorch, if anything
            (:mod:`hplists.torch_lrfree`): a package's pip name, or
            ``"hplists"`` for hplists' own implementation
            (:mod:`hplists.optim.torch_schedule_free`,
            :mod:`hplists.optim.torch_mechanic`, :mod:`hplists.optim.torch_cocob`,
            :mod:`hplists.optim.torch_momo`).
        torch_missing: why there is no PyTorch path (exactly one of ``torch``
            and ``torch_missing`` is set).
        needs_loss: whether an update needs the batch loss (optax:
            ``update(..., value=loss)``; PyTorch: ``optimizer.step(loss=loss)``).
    """

    name: str
    label: str
    hyperparameters: tuple[str, ...]
    defaults: Mapping[str, float]
    sources: Mapping[str, str]
    weight_decay: str
    state: str
    horizon: bool = True
    learning_rate_free: bool = True
    torch: str = ""
    torch_missing: str = ""
    needs_loss: bool = False

    def __post_init__(self) -> None:
        if bool(self.torch) == bool(self.torch_missing):
            raise ValueError(f"method {self.name!r}: give exactly one of torch (what computes it in "
                             "PyTorch) and torch_missing (why nothing does)")


_OFF = {"relative_schedule": 0.0, "weight_decay": 0.0, "dropout_rate": 0.0,
        "label_smoothing": 0.0}
_ADAM = {"beta1": 0.9, "beta2": 0.999}
_ADAM_SRC = "Adam's (0.9, 0.999), optax's default; paper 002 Sec. 4 keeps them"

METHODS: dict[str, Method] = {m.name: m for m in (
    Method("dog", "DoG", ("weight_decay",), {**_OFF, "init_step": 1e-6},
           {"init_step": "r_eps = 1e-6 (1 + ‖x_0‖): Ivgi et al. (2023), optax's "
                         "('heuristic', 1e-6)", "learning rate": "1 (paper 002 Table 1)"},
           "coupled (L2 added to the gradient)", "1 (x_0)", torch="dog-optimizer"),
    Method("dowg", "DoWG", ("weight_decay",), {**_OFF, "eps": 1e-4},
           {"eps": "initial squared distance = eps = 1e-4: optax's default (Khaled et al., "
                   "2023)", "learning rate": "1 (paper 002 Table 1)"},
           "coupled (L2 added to the gradient)", "1 (x_0)", torch="hplists"),
    Method("dadapt_adamw", "D-Adapt (w. Adam)", ("beta1", "beta2", "weight_decay"),
           {**_OFF, **_ADAM, "estim_lr0": 1e-6},
           {"estim_lr0": "d_0 = 1e-6: Defazio & Mishchenko (2023), optax and `dadaptation`",
            "beta1, beta2": _ADAM_SRC},
           "decoupled (AdamW), multiplied by d_t s_t and the bias correction",
           "3 (m, v, s)", torch="dadaptation"),
    Method("prodigy", "Prodigy (w. Adam)", ("beta1", "beta2", "weight_decay"),
           {**_OFF, **_ADAM, "estim_lr0": 1e-6, "safeguard_warmup": 0},
           {"estim_lr0": "d_0 = 1e-6: Mishchenko & Defazio (2023), optax and `prodigyopt`",
            "safeguard_warmup": "off: optax's and prodigyopt's default (the calibration "
                                "turns it on with a warmup, paper 002 Sec. 2.3)",
            "beta1, beta2": _ADAM_SRC},
           "decoupled (AdamW), multiplied by d_t s_t and the bias correction",
           "4 (m, v, s, x_0)", torch="prodigyopt"),
    Method("mechanic", "Mechanic", ("weight_decay",),
           {**_OFF, "mechanic_weight_decay": 1e-2, "s_init": 1e-6},
           {"s_init": "1e-6: optax's default", "mechanic_weight_decay": "lambda = 0.01: "
            "Cutkosky et al. (2023), optax", "base": "SGD with learning rate 1 (paper 002 "
            "Table 1: schedule-based, peak lr 1)"},
           "coupled (L2 added to the gradient); Mechanic adds its own lambda ‖g‖ / ‖x‖ x",
           "1 (x_0)", torch="hplists"),
    Method("mechanic_adam", "Mechanic (w. Adam)", ("beta1", "beta2", "weight_decay"),
           {**_OFF, **_ADAM, "mechanic_weight_decay": 1e-2, "s_init": 1e-6},
           {"s_init": "1e-6: optax's default", "mechanic_weight_decay": "lambda = 0.01: "
            "Cutkosky et al. (2023), optax", "num_betas": "6: optax's default (paper 002 "
            "Sec. 2.3 keeps it)", "beta1, beta2": _ADAM_SRC},
           "decoupled in the base AdamW (times s_t and Mechanic's scale); Mechanic adds "
           "its own lambda ‖g‖ / ‖x‖ x", "3 (m, v of Adam; x_0)", torch="hplists"),
    Method("mechanic_nadam", "Mechanic (w. Nadam)", ("beta1", "beta2", "weight_decay"),
           {**_OFF, **_ADAM, "mechanic_weight_decay": 1e-2, "s_init": 1e-6},
           {"s_init": "1e-6: optax's default", "mechanic_weight_decay": "0.01: optax",
            "beta1, beta2": _ADAM_SRC},
           "as Mechanic (w. Adam), over NAdamW", "3 (m, v of NAdam; x_0)", torch="hplists"),
    Method("cocob", "COCOB", ("weight_decay",), {**_OFF, "alpha": 100.0},
           {"alpha": "100: Orabona & Tommasi (2017), optax"},
           "coupled (L2 added to the gradient)", "5 (x_0, sum g, L, sum |g|, reward)",
           torch="hplists"),
    Method("momo", "MoMo", ("beta1", "weight_decay"), {**_OFF, "beta1": 0.9,
                                                       "learning_rate": 1.0},
           {"learning_rate": "cap 1: Schaipp et al. (2023), optax; lower bound 0",
            "beta1": "0.9: optax"},
           "proximal (x / (1 + lr s_t wd))", "1 (momentum)", torch="hplists",
           needs_loss=True),
    Method("momo_adam", "MoMo (w. Adam)", ("beta1", "beta2", "weight_decay"),
           {**_OFF, **_ADAM, "learning_rate": 1e-2},
           {"learning_rate": "cap 1e-2: Schaipp et al. (2023), optax; lower bound 0",
            "beta1, beta2": _ADAM_SRC},
           "proximal (x / (1 + lr s_t wd))", "2 (m, v)", torch="hplists",
           needs_loss=True),
    Method("sfadamw", "Schedule-Free AdamW",
           ("learning_rate", "beta1", "beta2", "weight_decay"),
           {"learning_rate": 0.0025, **_ADAM, "weight_decay": 0.0, "weight_lr_power": 2.0,
            "dropout_rate": 0.0, "label_smoothing": 0.0},
           {"learning_rate": "0.0025: optax's schedule_free_adamw (Defazio et al., 2024)",
            "weight_lr_power": "2: optax", "warmup": "none: optax's default"},
           "decoupled at y, multiplied by the warmed-up learning rate", "2 (z, v)",
           horizon=False, learning_rate_free=False, torch="hplists"),
)}


def get_method(name: str) -> Method:
    """The :class:`Method` registered as ``name``.

    Example:
        >>> get_method("prodigy").label
        'Prodigy (w. Adam)'
        >>> get_method("adam")
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: method must be one of 'dog', ...; got 'adam'
    """
    from hplists._check import check_choice

    return METHODS[check_choice("method", name, tuple(METHODS))]


def methods_markdown() -> str:
    """The methods as a Markdown table: defaults with their sources, weight decay, state size.

    ``docs/lrfree.md`` holds this table (a test keeps the two equal).

    Example:
        >>> methods_markdown().splitlines()[0].startswith("| rule | method |")
        True
    """
    def fmt(v: float) -> str:
        return f"{v:g}"

    rows = ["| rule | method | literature defaults | sources | weight decay | state "
            "(floats/param) | PyTorch package |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for m in METHODS.values():
        defaults = ", ".join(f"{k}={fmt(v)}" for k, v in m.defaults.items()
                             if k not in ("dropout_rate", "label_smoothing"))
        sources = "; ".join(f"{k}: {v}" for k, v in m.sources.items())
        torch = f"`{m.torch}`" if m.torch else "none"
        rows.append(f"| `{m.name}` | {m.label} | {defaults} | {sources} | {m.weight_decay} "
                    f"| {m.state} | {torch} |")
    return "\n".join(rows) + "\n"
