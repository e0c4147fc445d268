"""The training engine: many hyperparameter points of one JAX workload, as fast as the CPU allows.

``train(workload, points, seed)`` trains every point for the step budget and
returns one :class:`~hplists.curves.Curve` per point. For each point:

* every hyperparameter is its own (traced) value: the update rule is built
  *inside* the compiled program from the point's mapping, so one compiled
  program serves every point. The learning-rate schedule gets
  ``warmup_steps = int(warmup_fraction * T)`` computed on the host
  (:func:`hplists.optim.schedule.warmup_steps`), as AlgoPerf does;
* ``dropout_rate`` and ``label_smoothing`` reach :meth:`JaxWorkload.loss_fn`
  (0 when the point has none, or the workload does not declare the regularizer);
* a ``horizon`` ``h`` in (0, 1] (default 1) trains ``int(h * T)`` steps
  (:func:`trial_steps`) with the update rule's horizon (where its schedule
  ends) at that step, and stops there. Evaluations are those of the full
  budget ``T`` up to that step, plus one at it, so time-to-target is still
  measured against ``T`` (paper 002, Sec. 3.1);
* the update rule gets the training loss (``update(..., value=loss)``) for
  rules that need it (MoMo), and is evaluated at its ``eval_params`` hook's
  parameters where it declares one (Schedule-Free methods); its ``static``
  hyperparameters are Python constants, one compiled program per value
  (:mod:`hplists.optim.update_rule`);
* a point whose training loss or validation metrics become non-finite, or
  whose training loss exceeds ``workload.divergence_factor`` (default 100)
  times its value at step 1, is frozen (its parameters stop changing) and ends
  ``diverged``, with a message naming the step; its curve keeps the
  evaluations before that step. The other points go on.

Randomness depends on the seed only, never on which other points share a batch
or on a point's position in it: initial parameters, the order of training
examples and the dropout keys all derive from ``seed``. Points trained with the
same seed therefore see the same initialization, minibatches and dropout
uniforms (common random numbers: their differences are due to their
hyperparameters alone). Same point, same seed, same batching strategy: same
curve, bit for bit, whatever the other points. (``"sequential"`` and
``"processes"`` run the same single-point program and agree exactly; a
vmapped program rounds differently, so ``"vmap"`` agrees with them to float32
rounding, which training may amplify.)

Batching strategies (``batching=``, default the workload's ``batching``):

* ``"vmap"``: ``workload.vmap_size`` points in one program vectorized with
  :func:`jax.vmap` (a last, partial group is padded with copies of its last
  point); minibatches, dropout uniforms and initial parameters are shared
  across the points, so they are computed once.
* ``"sequential"``: one point at a time; the program is compiled once (the
  hyperparameters are arguments) and reused for every point.
* ``"processes"`` (or ``"processes/vmap"``): points spread over one worker
  process per core (spawned once and kept), each single-threaded and running
  ``"sequential"`` (or ``"vmap"``) on its share.

Which is fastest depends on the workload: XLA:CPU runs small operations on one
thread, so small models gain from one process per core, while large
matrix products use both cores from one process. ``benchmarks/workloads.py``
measures the three per workload and the winner is the workload's default.

The steps between two evaluations run inside one compiled loop
(:func:`jax.lax.fori_loop`), so Python dispatches once per evaluation, not once
per step. Compiled programs are cached per workload, step budget, update rule
and number of points, and compiled ahead of time before the clock starts.

What a curve records at each evaluation step ``s``:

* ``seconds``: wall-clock seconds since the point's run started (after
  compilation; initialization, training, evaluation and scoring included). For
  points trained together in one vmapped program, the batch's wall time divided
  by the number of points (the amortized cost of one trial).
* ``train_loss``: the mean training loss (with the point's dropout and label
  smoothing) over the steps since the previous evaluation.
* the metrics :meth:`JaxWorkload.score` returns for the predictions of the
  parameters after ``s`` updates on the whole validation split.
"""

from __future__ import annotations

import atexit
import collections
import concurrent.futures
import dataclasses
import math
import multiprocessing
import os
import queue as queue_mod
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from hplists._check import check_choice, check_int, check_real
from hplists.curves import Curve, Status
from hplists.hparams import HParams, Point
from hplists.optim.schedule import warmup_steps
from hplists.optim.update_rule import UpdateRule, eval_params_of, static_of
from hplists.workloads.spec import JaxWorkload, eval_schedule

__all__ = [
    "BATCHINGS",
    "Progress",
    "clear_cache",
    "enable_compilation_cache",
    "hp_arrays",
    "init_worker_process",
    "iter_train",
    "shutdown_workers",
    "train",
    "trial_flops",
    "trial_steps",
    "worker_pids",
]

BATCHINGS = ("vmap", "sequential", "processes", "processes/vmap", "processes/sequential")

# progress(point_steps_done, point_steps_total), called from the main process.
Progress = Callable[[int, int], None]

# Flags that make a worker process's XLA:CPU single-threaded, so that one
# worker per core do not fight over the cores.
WORKER_XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false"


# ---------------------------------------------------------------------------
# Points


def _point_dict(point: Point, index: int) -> dict[str, float]:
    if isinstance(point, HParams):
        d = point.to_dict()
    elif isinstance(point, Mapping):
        d = {}
        for k, v in point.items():
            d[str(k)] = check_real(f"points[{index}][{k!r}]", v)
    else:
        raise ValueError(
            f"points[{index}] must be an HParams or a mapping of names to numbers, "
            f"got {type(point).__name__}"
        )
    d.setdefault("dropout_rate", 0.0)
    d.setdefault("label_smoothing", 0.0)
    for name in ("dropout_rate", "label_smoothing"):
        check_real(f"points[{index}].{name}", d[name], 0.0, 1.0, high_open=True)
    return d


def trial_steps(point: Point, step_budget: int) -> int:
    """Steps one trial of ``point`` trains: ``int(h * T)`` for a ``horizon`` ``h``, else ``T``.

    Example:
        >>> trial_steps({"horizon": 0.33, "beta1": 0.9}, 1200), trial_steps({"beta1": 0.9}, 1200)
        (396, 1200)
        >>> trial_steps({"horizon": 1.5}, 100)
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: horizon must be in (0, 1], got 1.5
    """
    step_budget = check_int("step_budget", step_budget, low=1)
    h = point.get("horizon") if isinstance(point, Mapping) else None
    if h is None:
        return step_budget
    h = check_real("horizon", h, 0.0, 1.0, low_open=True)
    # The epsilon keeps products such as 0.29 * 100 = 28.999999999999996 at 29.
    return max(1, int(h * step_budget + 1e-9))


def hp_arrays(
    points: Sequence[Point],
    total_steps: int,
    regularizers: frozenset[str] | set[str] = frozenset(("dropout", "label_smoothing")),
) -> dict[str, np.ndarray]:
    """Stacks points into one float32 array per hyperparameter (int32 ``warmup_steps``).

    This is the ``hp`` mapping the update rule receives (one entry per point).
    ``warmup_steps`` is added where a point has ``warmup_fraction``; a
    regularizer missing from ``regularizers`` is set to 0.

    Example:
        >>> from hplists import HParams
        >>> hp = hp_arrays([HParams(1e-3, 0.9, 0.99, warmup_fraction=0.05)], 1000)
        >>> hp["warmup_steps"].tolist(), hp["dropout_rate"].tolist()
        ([50], [0.0])
    """
    total_steps = check_int("total_steps", total_steps, low=1)
    if len(points) == 0:
        raise ValueError("points must contain at least one point, got none")
    dicts = [_point_dict(p, i) for i, p in enumerate(points)]
    names = set(dicts[0])
    for i, d in enumerate(dicts):
        if set(d) != names:
            raise ValueError(
                f"all points must have the same hyperparameter names; points[0] has "
                f"{sorted(names)} but points[{i}] has {sorted(d)}"
            )
    out = {k: np.array([d[k] for d in dicts], dtype=np.float32) for k in sorted(names)}
    if "warmup_fraction" in names:
        out["warmup_steps"] = np.array(
            [warmup_steps(d["warmup_fraction"], total_steps) for d in dicts], dtype=np.int32
        )
    if "dropout" not in regularizers:
        out["dropout_rate"] = np.zeros(len(dicts), np.float32)
    if "label_smoothing" not in regularizers:
        out["label_smoothing"] = np.zeros(len(dicts), np.float32)
    return out


# ---------------------------------------------------------------------------
# Data and randomness


@dataclasses.dataclass
class _Data:
    train: dict[str, Any]  # device arrays
    valid: Any  # device arrays shaped (num_eval_batches, eval_batch, ...)
    valid_host: Mapping[str, np.ndarray]
    num_train: int
    num_valid: int


_DATA: collections.OrderedDict[tuple, _Data] = collections.OrderedDict()
_DATA_SLOTS = 3


def _workload_key(workload: JaxWorkload) -> tuple:
    attrs = tuple(sorted((k, repr(v)) for k, v in vars(workload).items()))
    return (type(workload), workload.version, workload.data_seed, workload.batch_size,
            workload.eval_batch_size, attrs)


def _data(workload: JaxWorkload) -> _Data:
    import jax
    import jax.numpy as jnp

    key = _workload_key(workload)
    if key in _DATA:
        _DATA.move_to_end(key)
        return _DATA[key]
    ds = workload.make_data()
    n_valid = ds.num_valid
    eb = max(1, min(workload.eval_batch_size, n_valid))
    nb = -(-n_valid // eb)

    def batched(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a)
        pad = nb * eb - n_valid
        if pad:  # repeat the last example; padded outputs are cut before scoring
            a = np.concatenate([a, np.repeat(a[-1:], pad, axis=0)])
        return a.reshape((nb, eb, *a.shape[1:]))

    data = _Data(
        train={k: jnp.asarray(v) for k, v in ds.train.items()},
        valid=jax.tree.map(jnp.asarray, {k: batched(v) for k, v in ds.valid.items()}),
        valid_host=ds.valid,
        num_train=ds.num_train,
        num_valid=n_valid,
    )
    _DATA[key] = data
    while len(_DATA) > _DATA_SLOTS:
        _DATA.popitem(last=False)
    return data


def _batch_order(seed: int, num_train: int, steps: int, batch_size: int) -> np.ndarray:
    """Example indices of every step, shape ``(steps, batch_size)``: epochs of shuffles."""
    rng = np.random.default_rng([seed, 0x0BA7C4])
    need = steps * batch_size
    epochs = -(-need // num_train)
    order = np.concatenate([rng.permutation(num_train) for _ in range(epochs)])
    return order[:need].reshape(steps, batch_size).astype(np.int32)


def _keys(seed: int) -> tuple[Any, Any]:
    import jax

    root = jax.random.key(seed)
    return jax.random.fold_in(root, 0), jax.random.fold_in(root, 1)


# ---------------------------------------------------------------------------
# Compiled programs


class _State(NamedTuple):
    params: Any
    opt_state: Any
    ok: Any  # bool: not diverged
    diverged_at: Any  # int32: the step whose loss diverged (0: none)
    bad_loss: Any  # float32: that step's loss
    first_loss: Any  # float32: the loss at step 1, before any update


@dataclasses.dataclass
class _Programs:
    init: Any
    chunk: Any
    predict: Any
    with_state: bool  # predict takes the optimizer state (the rule's eval_params hook)

    def evaluate(self, state: _State, valid: Any) -> Any:
        if self.with_state:
            return self.predict(state.params, valid, state.opt_state)
        return self.predict(state.params, valid)


_PROGRAMS: collections.OrderedDict[tuple, _Programs] = collections.OrderedDict()
_PROGRAM_SLOTS = 16

# Where compiled programs persist across processes and runs (set to "off" to disable).
COMPILATION_CACHE_ENV = "HPLISTS_COMPILATION_CACHE"
_CACHE_STATE: dict[str, Any] = {"done": False, "path": None}


def enable_compilation_cache(path: str | os.PathLike[str] | None = None) -> str | None:
    """Turns on JAX's persistent compilation cache for the engine's programs; returns its folder.

    A trial of a new (workload, update rule, horizon) spends most of its time
    compiling (about 30 s against 4 s for image_resnet), and every worker
    process and every resumed run compiled again. With the cache, a program
    compiled once is loaded from disk by any later process: the same compiled
    code, so curves are unchanged. Called by the engine before its first
    compilation; the folder is ``path``, else ``$HPLISTS_COMPILATION_CACHE``,
    else ``$XDG_CACHE_HOME/hplists/jax`` (``~/.cache/hplists/jax``). Setting
    ``HPLISTS_COMPILATION_CACHE=off`` keeps JAX's configuration untouched. JAX's
    setting is process-wide, so other JAX code in the process uses the cache too;
    a cache folder the user configured already is kept.

    Example:
        >>> import os
        >>> folder = enable_compilation_cache()
        >>> folder is None or os.path.isdir(folder)
        True
    """
    import jax

    if _CACHE_STATE["done"] and path is None:
        return _CACHE_STATE["path"]
    _CACHE_STATE["done"] = True
    env = os.environ.get(COMPILATION_CACHE_ENV, "")
    if path is None and env.lower() in ("off", "0", "false", "no"):
        return None
    # jax's flags are dynamic attributes of its Config, which its stubs do not declare
    configured = jax.config.jax_compilation_cache_dir  # type: ignore[attr-defined]
    if path is None and configured:
        _CACHE_STATE["path"] = str(configured)
        return _CACHE_STATE["path"]
    if path is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = env or os.path.join(base, "hplists", "jax")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:  # an unwritable home: compile as before
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    _CACHE_STATE["path"] = str(path)
    return _CACHE_STATE["path"]


def _default_rule() -> UpdateRule:
    from hplists.optax import rule

    return rule


def _make_fns(workload: JaxWorkload, total_steps: int, rule: UpdateRule,
              early_exit: bool = False) -> tuple:
    """Pure single-point functions: init, chunk of steps, predict over the validation split.

    With ``early_exit`` the chunk stops at a diverged step (a while loop); under
    ``vmap`` a fixed-length loop is cheaper, as a batched while loop would
    select between old and new states at every step.
    """
    import jax
    import jax.numpy as jnp
    import optax

    factor = getattr(workload, "divergence_factor", None)
    factor = math.inf if factor is None else check_real("divergence_factor", factor, low=1.0)

    def init(hp: Mapping[str, Any], init_key: Any) -> _State:
        params = workload.init(init_key)
        opt_state = rule(hp, total_steps).init(params)
        nan = jnp.array(jnp.nan, jnp.float32)
        return _State(params, opt_state, jnp.array(True), jnp.array(0, jnp.int32), nan, nan)

    def step(i: Any, carry: tuple, hp: Mapping[str, Any], train: Any, order: Any,
             dropout_key: Any) -> tuple:
        state, loss_sum = carry
        tx = optax.with_extra_args_support(rule(hp, total_steps))
        idx = order[i]
        batch = jax.tree.map(lambda a: jnp.take(a, idx, axis=0), train)
        rng = jax.random.fold_in(dropout_key, i)
        loss, grads = jax.value_and_grad(workload.loss_fn)(
            state.params, batch, rng, hp["dropout_rate"], hp["label_smoothing"]
        )
        updates, opt_state = tx.update(grads, state.opt_state, state.params, value=loss)
        params = optax.apply_updates(state.params, updates)
        loss = loss.astype(jnp.float32)
        first = jnp.where(i == 0, loss, state.first_loss)
        limit = jnp.where(first > 0, factor * first, jnp.inf)
        good = jnp.isfinite(loss) & (loss <= limit)
        ok = state.ok & good
        now = state.ok & ~good

        def keep(new: Any, old: Any) -> Any:
            return jnp.where(ok, new, old)

        new = _State(
            jax.tree.map(keep, params, state.params),
            jax.tree.map(keep, opt_state, state.opt_state),
            ok,
            jnp.where(now, i + 1, state.diverged_at).astype(jnp.int32),
            jnp.where(now, loss, state.bad_loss),
            first,
        )
        return new, loss_sum + jnp.where(ok, loss, 0.0)

    def chunk(state: _State, hp: Mapping[str, Any], train: Any, order: Any, dropout_key: Any,
              start: Any, stop: Any) -> tuple[_State, Any]:
        """Steps ``start+1 .. stop``; returns the state and the mean loss over them."""
        zero = jnp.zeros((), jnp.float32)
        if early_exit:
            _, state, loss_sum = jax.lax.while_loop(
                lambda c: (c[0] < stop) & c[1].ok,
                lambda c: (c[0] + 1, *step(c[0], c[1:], hp, train, order, dropout_key)),
                (start, state, zero),
            )
        else:
            state, loss_sum = jax.lax.fori_loop(
                start, stop, lambda i, c: step(i, c, hp, train, order, dropout_key),
                (state, zero))
        return state, loss_sum / jnp.maximum(stop - start, 1).astype(jnp.float32)

    evaluated = eval_params_of(rule)

    def predict(params: Any, valid: Any, opt_state: Any = None) -> Any:
        if evaluated is not None:
            params = evaluated(opt_state, params)
        return jax.lax.map(lambda b: workload.predict(params, b), valid)

    return init, step, chunk, predict


def _programs(workload: JaxWorkload, total_steps: int, rule: UpdateRule,
              hp: Mapping[str, np.ndarray], data: _Data, order: np.ndarray, keys: tuple,
              vmapped: bool) -> _Programs:
    import jax

    n = len(next(iter(hp.values())))
    cache_key = (_workload_key(workload), total_steps, rule, tuple(sorted(hp)),
                 n if vmapped else None, order.shape)
    if cache_key in _PROGRAMS:
        _PROGRAMS.move_to_end(cache_key)
        return _PROGRAMS[cache_key]
    enable_compilation_cache()
    init, _, chunk, predict = _make_fns(workload, total_steps, rule, early_exit=not vmapped)
    with_state = eval_params_of(rule) is not None
    if vmapped:
        init = jax.vmap(init, in_axes=(0, None))
        chunk = jax.vmap(chunk, in_axes=(0, 0, None, None, None, None, None))
        predict = jax.vmap(predict, in_axes=(0, None, 0) if with_state else (0, None))
        hp_spec = {k: jax.ShapeDtypeStruct(v.shape, v.dtype) for k, v in hp.items()}
    else:
        hp_spec = {k: jax.ShapeDtypeStruct((), v.dtype) for k, v in hp.items()}
    init_key, dropout_key = keys
    i32 = jax.ShapeDtypeStruct((), np.int32)
    state_spec = jax.eval_shape(init, hp_spec, init_key)
    progs = _Programs(
        init=jax.jit(init).lower(hp_spec, init_key).compile(),
        chunk=jax.jit(chunk, donate_argnums=0)
        .lower(state_spec, hp_spec, data.train, order, dropout_key, i32, i32)
        .compile(),
        predict=(jax.jit(predict).lower(state_spec.params, data.valid, state_spec.opt_state)
                 if with_state else jax.jit(predict).lower(state_spec.params, data.valid)
                 ).compile(),
        with_state=with_state,
    )
    _PROGRAMS[cache_key] = progs
    while len(_PROGRAMS) > _PROGRAM_SLOTS:
        _PROGRAMS.popitem(last=False)
    return progs


def clear_cache() -> None:
    """Forgets cached datasets and compiled programs (e.g. after editing a workload)."""
    _DATA.clear()
    _PROGRAMS.clear()


# ---------------------------------------------------------------------------
# One group of points trained together in this process


def _unpad(outputs: Any, i: int | np.integer | None, n_valid: int) -> Any:
    import jax

    def cut(o: np.ndarray) -> np.ndarray:
        o = o if i is None else o[i]
        return o.reshape((-1, *o.shape[2:]))[:n_valid]

    return jax.tree.map(cut, outputs)


def _run_group(workload: JaxWorkload, points: Sequence[Point], seed: int, total_steps: int,
               rule: UpdateRule, vmapped: bool, tick: Callable[[int], None],
               budget: int | None = None) -> list[Curve]:
    """Trains ``points`` together (vmapped) or one point (not vmapped); returns their curves.

    ``total_steps`` is where training (and the rule's schedule) ends; the
    evaluations are those of ``budget`` (default ``total_steps``) up to it,
    plus one at ``total_steps``.

    A vmapped group is padded to ``workload.vmap_size`` points with copies of
    its last point (trained, never scored): XLA's batched kernels round
    differently for different batch sizes, so a fixed size keeps every point's
    numbers independent of how many others it trains with.
    """
    import jax

    n = len(points)
    if vmapped:
        size = check_int("vmap_size", getattr(workload, "vmap_size", 16), low=1)
        if n > size:
            raise ValueError(f"a vmapped group holds at most vmap_size={size} points, got {n}")
        points = [*points, *[points[-1]] * (size - n)]
    elif n != 1:
        raise ValueError(f"a sequential group holds one point, got {n}")
    steps = _eval_steps(workload, total_steps, budget)
    hp = hp_arrays(points, total_steps, workload.regularizers)
    data = _data(workload)
    order = _batch_order(seed, data.num_train, total_steps, workload.batch_size)
    keys = _keys(seed)
    progs = _programs(workload, total_steps, rule, hp, data, order, keys, vmapped)
    if not vmapped:
        hp = {k: v[0] for k, v in hp.items()}
    order_dev = jax.device_put(order)

    rows: list[list[dict[str, Any]]] = [[] for _ in range(n)]
    status = [Status.COMPLETE] * n
    message = [""] * n
    alive = np.ones(n, bool)
    t0 = time.perf_counter()
    state = progs.init(hp, keys[0])
    prev = ticked = 0
    for s in steps:
        state, loss = progs.chunk(state, hp, data.train, order_dev, keys[1],
                                  np.int32(prev), np.int32(s))
        ok, at, bad_loss, first, loss = (np.atleast_1d(a) for a in jax.device_get(
            (state.ok, state.diverged_at, state.bad_loss, state.first_loss, loss)))
        outputs = jax.device_get(progs.evaluate(state, data.valid)) if ok.any() else None
        newly_frozen = False
        for i in np.flatnonzero(alive):
            if not ok[i]:
                status[i] = Status.DIVERGED
                message[i] = _loss_message(int(at[i]), float(bad_loss[i]), float(first[i]),
                                           workload.divergence_factor)
                alive[i] = False
                continue
            metrics = workload.score(_unpad(outputs, i if vmapped else None, data.num_valid),
                                     data.valid_host)
            bad = sorted(k for k, v in metrics.items() if not math.isfinite(float(v)))
            if bad or not math.isfinite(float(loss[i])):
                what = f"validation metric(s) {bad}" if bad else "training loss"
                status[i] = Status.DIVERGED
                message[i] = f"{what} became non-finite at step {s}"
                alive[i] = False
                newly_frozen = True
                continue
            row = {"step": s, "seconds": (time.perf_counter() - t0) / n,
                   "train_loss": float(loss[i])}
            row.update({k: float(v) for k, v in metrics.items()})
            rows[i].append(row)
        tick(n * (s - prev))
        ticked += n * (s - prev)
        if not alive.any():
            break
        if newly_frozen:  # stop updating points whose metrics went bad
            frozen = np.concatenate([alive, ok[n:]]) if vmapped else np.asarray(alive[0])
            state = state._replace(ok=jax.device_put(frozen))
        prev = s
    tick(n * total_steps - ticked)  # steps that diverged points no longer need
    curves = []
    metric_names = _metric_names(rows)
    for j in range(n):
        if rows[j]:
            curves.append(Curve.from_rows(rows[j], status[j], message[j]))
        else:
            curves.append(Curve(np.zeros(0, np.int64), [], [],
                                {k: [] for k in metric_names}, status[j], message[j]))
    return curves


def _eval_steps(workload: JaxWorkload, total_steps: int, budget: int | None) -> tuple[int, ...]:
    budget = total_steps if budget is None else budget
    steps = [s for s in eval_schedule(budget, min(workload.num_evals, budget)) if s <= total_steps]
    if not steps or steps[-1] < total_steps:
        steps.append(total_steps)
    return tuple(steps)


def _loss_message(step: int, loss: float, first: float, factor: float | None) -> str:
    if not math.isfinite(loss):
        return f"training loss became non-finite at step {step}"
    return (f"training loss {loss:.4g} exceeded {factor:g} x its value at step 1 ({first:.4g}) "
            f"at step {step}")


def _metric_names(rows: list[list[dict[str, Any]]]) -> list[str]:
    for r in rows:
        if r:
            return [k for k in r[0] if k not in ("step", "seconds", "train_loss")]
    return []


# ---------------------------------------------------------------------------
# Worker processes


_POOL: concurrent.futures.ProcessPoolExecutor | None = None
_QUEUE: Any = None
_WORKER_QUEUE: Any = None


def init_worker_process() -> None:
    """Prepares a worker process: single-threaded XLA:CPU, and an exit when its parent dies.

    Every pool of training processes (the engine's own, the trial runner's)
    starts its workers with this, so one worker per core do not fight over the
    cores and no worker outlives a killed driver.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if WORKER_XLA_FLAGS not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {WORKER_XLA_FLAGS}".strip()
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _init_worker(q: Any) -> None:
    global _WORKER_QUEUE
    init_worker_process()
    _WORKER_QUEUE = q


def _exit_with_parent(parent: int) -> None:
    """Ends this worker when the process that started it is gone (killed, crashed)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _worker_task(task: int, workload: JaxWorkload, points: list[Point], seed: int,
                 total_steps: int, rule: UpdateRule | None, inner: str,
                 budget: int | None = None) -> list[Curve]:
    done = 0

    def tick(k: int) -> None:
        nonlocal done
        done += k
        if _WORKER_QUEUE is not None:
            _WORKER_QUEUE.put((task, done))

    rule = rule or _default_rule()
    return [c for _, c in _iter_local(workload, points, seed, total_steps, rule, inner, tick,
                                      budget)]


def worker_count() -> int:
    """Worker processes that ``"processes"`` batching trains points on, in parallel.

    Example:
        >>> 1 <= worker_count() <= 2
        True
    """
    return max(1, min(2, os.cpu_count() or 1))


def _pool() -> tuple[concurrent.futures.ProcessPoolExecutor, Any]:
    global _POOL, _QUEUE
    if _POOL is None:
        ctx = multiprocessing.get_context("spawn")
        _QUEUE = ctx.Queue()
        _POOL = concurrent.futures.ProcessPoolExecutor(
            worker_count(), mp_context=ctx, initializer=_init_worker, initargs=(_QUEUE,)
        )
    return _POOL, _QUEUE


def worker_pids() -> list[int]:
    """Process ids of the live worker processes of ``batching="processes"`` (for accounting)."""
    if _POOL is None:
        return []
    return [p.pid for p in getattr(_POOL, "_processes", {}).values() if p.is_alive()]


@atexit.register
def shutdown_workers() -> None:
    """Stops the worker processes of ``batching="processes"`` (they restart on demand)."""
    global _POOL, _QUEUE
    if _POOL is not None:
        _POOL.shutdown(wait=True, cancel_futures=True)
    _POOL, _QUEUE = None, None


def _iter_processes(workload: JaxWorkload, points: Sequence[Point], seed: int,
                    total_steps: int, rule: UpdateRule | None, inner: str,
                    tick: Callable[[int], None], budget: int | None = None
                    ) -> Iterator[tuple[int, Curve]]:
    pool, q = _pool()
    n = len(points)
    # One task per program: a point ("sequential") or a group of vmap_size points.
    size = 1 if inner == "sequential" else getattr(workload, "vmap_size", 16)
    groups = [list(range(lo, min(lo + size, n))) for lo in range(0, n, size)]
    futures = {}
    try:
        for task, idx in enumerate(groups):
            fut = pool.submit(_worker_task, task, workload, [points[i] for i in idx], seed,
                              total_steps, rule, inner, budget)
            futures[fut] = idx
    except concurrent.futures.process.BrokenProcessPool:
        shutdown_workers()
        raise
    seen: dict[int, int] = {}
    pending = set(futures)
    try:
        while pending:
            done, pending = concurrent.futures.wait(
                pending, timeout=0.2, return_when=concurrent.futures.FIRST_COMPLETED
            )
            _drain(q, seen, tick)
            for fut in done:
                try:
                    curves = fut.result()
                except concurrent.futures.process.BrokenProcessPool as e:
                    shutdown_workers()
                    raise RuntimeError(
                        f"a worker process died while training {workload.name!r}. With "
                        "batching='processes' the workload class and the update rule must be "
                        "importable in a fresh process (defined in a module, not in __main__ of "
                        "an interactive session or inside a function), and the worker must "
                        "have enough memory; batching='sequential' has no such requirement"
                    ) from e
                yield from zip(futures[fut], curves, strict=True)
        _drain(q, seen, tick)
    finally:
        for fut in pending:
            fut.cancel()


def _drain(q: Any, seen: dict[int, int], tick: Callable[[int], None]) -> None:
    while True:
        try:
            task, done = q.get_nowait()
        except queue_mod.Empty:
            return
        if done > seen.get(task, 0):
            tick(done - seen.get(task, 0))
            seen[task] = done


# ---------------------------------------------------------------------------
# Public API


def _iter_local(workload: JaxWorkload, points: Sequence[Point], seed: int, total_steps: int,
                rule: UpdateRule, batching: str, tick: Callable[[int], None],
                budget: int | None = None) -> Iterator[tuple[int, Curve]]:
    if batching == "vmap":
        size = check_int("vmap_size", getattr(workload, "vmap_size", 16), low=1)
        for lo in range(0, len(points), size):
            chunk = list(points[lo:lo + size])
            for j, c in enumerate(_run_group(workload, chunk, seed, total_steps, rule, True,
                                             tick, budget)):
                yield lo + j, c
    else:
        for i, p in enumerate(points):
            yield i, _run_group(workload, [p], seed, total_steps, rule, False, tick, budget)[0]


@dataclasses.dataclass(frozen=True)
class _Bound:
    """An update rule with its static hyperparameters fixed (picklable, hashable)."""

    rule: Any
    static: tuple[tuple[str, Any], ...]

    def __call__(self, hp: Mapping[str, Any], total_steps: int) -> Any:
        return self.rule({**hp, **dict(self.static)}, total_steps)

    @property
    def eval_params(self) -> Any:
        return eval_params_of(self.rule)


def _partition(points: Sequence[Point], step_budget: int, rule: UpdateRule | None
               ) -> list[tuple[list[int], list[Point], int, Any]]:
    """Groups points that train in one program: same names, trial length and static values.

    Returns ``(indices, points, steps, rule)`` per group, in order of first
    appearance; a group's points lose their static keys, which its rule binds.
    """
    names = static_of(rule) if rule is not None else ()
    groups: dict[tuple, tuple[list[int], list[Point], int, Any]] = {}
    for i, p in enumerate(points):
        steps = trial_steps(p, step_budget)
        static: tuple[tuple[str, Any], ...] = ()
        if names:
            d = p.to_dict() if isinstance(p, HParams) else dict(p)
            static = tuple((k, d.pop(k)) for k in names if k in d)
            p = d
        names_of = p.to_dict() if isinstance(p, HParams) else p
        key = (steps, static, tuple(sorted(map(str, names_of))) if isinstance(names_of, Mapping)
               else ())
        if key not in groups:
            groups[key] = ([], [], steps, _Bound(rule, static) if static else rule)
        groups[key][0].append(i)
        groups[key][1].append(p)
    return list(groups.values())


def iter_train(
    workload: JaxWorkload,
    points: Sequence[Point],
    seed: int = 0,
    *,
    step_budget: int | None = None,
    update_rule: UpdateRule | None = None,
    batching: str | None = None,
    progress: Progress | bool | None = None,
) -> Iterator[tuple[int, Curve]]:
    """Like :func:`train`, but yields ``(index, curve)`` as soon as each point finishes.

    Points finish in batches, not necessarily in order (``"processes"``).
    """
    if not isinstance(workload, JaxWorkload):
        raise ValueError(
            f"workload must be a JaxWorkload, got {type(workload).__name__}; other workloads "
            "train themselves in their run() method"
        )
    seed = check_int("seed", seed, low=0)
    total = check_int("step_budget", workload.step_budget if step_budget is None else step_budget,
                      low=1)
    batching = check_choice("batching", batching or workload.batching, BATCHINGS)
    points = list(points)
    if not points:
        hp_arrays(points, total, workload.regularizers)  # raises: no points
    groups = _partition(points, total, update_rule)
    for _, pts, steps, _ in groups:  # validate before starting anything
        hp_arrays(pts, steps, workload.regularizers)
    total_work = sum(len(g[0]) * g[2] for g in groups)
    bar, tick = _progress(progress, total_work, workload.name)
    try:
        inner = batching.partition("/")[2] or "sequential"
        if batching.startswith("processes") and multiprocessing.current_process().daemon:
            # A daemonic process (e.g. another pool's worker) may not start workers.
            batching = inner
        for idx, pts, steps, rule in groups:
            budget = None if steps == total else total
            if batching.startswith("processes"):
                it = _iter_processes(workload, pts, seed, steps, rule, inner, tick, budget)
            else:
                it = _iter_local(workload, pts, seed, steps, rule or _default_rule(), batching,
                                 tick, budget)
            for j, curve in it:
                yield idx[j], curve
    finally:
        if bar is not None:
            bar.stop()


def train(
    workload: JaxWorkload,
    points: Sequence[Point],
    seed: int = 0,
    *,
    step_budget: int | None = None,
    update_rule: UpdateRule | None = None,
    batching: str | None = None,
    progress: Progress | bool | None = None,
) -> list[Curve]:
    """Trains every point on ``workload`` for ``step_budget`` steps; one curve per point, in order.

    Args:
        workload: a :class:`~hplists.workloads.spec.JaxWorkload`.
        points: :class:`~hplists.hparams.HParams`, or mappings of hyperparameter
            names to numbers for other update rules (all with the same names).
        seed: controls initialization, the order of training examples and
            dropout; the data are fixed by the workload's ``data_seed``.
        step_budget: number of steps T (default: the workload's). Evaluations
            follow ``eval_schedule(T, min(num_evals, T))``.
        update_rule: ``(hp, T) -> optax.GradientTransformation``, called
            inside the compiled program with traced values (default:
            :func:`hplists.optax.rule`, NAdamW with warmup and cosine decay).
            For ``"processes"`` it must be picklable (a module-level function).
        batching: ``"vmap"``, ``"sequential"``, ``"processes"`` or
            ``"processes/vmap"``; default the workload's ``batching``.
        progress: ``True`` for a progress bar with ETA, or a function called
            with ``(point_steps_done, point_steps_total)``.

    Example:
        >>> from hplists import HParams
        >>> from hplists.workloads.engine import train
        >>> from hplists.workloads.registry import get_workload
        >>> w = get_workload("ctr_dlrm")
        >>> curves = train(w, [HParams(2e-3, 0.9, 0.99, warmup_fraction=0.05),
        ...                    HParams(1e3, 0.9, 0.99)], seed=0, step_budget=40,
        ...                batching="sequential")
        >>> [c.status.value for c in curves]
        ['complete', 'diverged']
        >>> curves[1].message
        'training loss ... exceeded 100 x its value at step 1 (0.7...) at step 2'
        >>> curves[0].steps[:3].tolist()
        [2, 4, 6]
    """
    out: list[Curve | None] = [None] * len(points)
    for i, curve in iter_train(workload, points, seed, step_budget=step_budget,
                               update_rule=update_rule, batching=batching, progress=progress):
        out[i] = curve
    return out  # type: ignore[return-value]


def _progress(progress: Progress | bool | None, total: int, name: str
              ) -> tuple[Any, Callable[[int], None]]:
    if progress is None or progress is False:
        return None, lambda k: None
    if progress is True:
        from hplists.progress import StageBar

        bar = StageBar(True)
        return bar, bar.start(name, total)
    if not callable(progress):
        raise ValueError(f"progress must be True, False, None or a callable, got {progress!r}")
    done = 0

    def tick(k: int) -> None:
        nonlocal done
        done += k
        progress(done, total)

    return None, tick


def trial_flops(workload: JaxWorkload, step_budget: int | None = None) -> dict[str, float]:
    """FLOPs of one trial as XLA counts them: per training step, per evaluation, in total.

    Counted on the single-point programs (``cost_analysis()`` of the compiled
    step and prediction), so the total is what any batching strategy computes
    per point: ``step * T + eval * num_evals``.
    """
    import jax

    total = workload.step_budget if step_budget is None else step_budget
    rule = _default_rule()
    hp = {k: v[0] for k, v in hp_arrays(
        [HParams(1e-3, 0.9, 0.99, warmup_fraction=0.05)], total, workload.regularizers).items()}
    data = _data(workload)
    order = _batch_order(0, data.num_train, total, workload.batch_size)
    init_key, dropout_key = _keys(0)
    init, step, _, predict = _make_fns(workload, total, rule)
    state = jax.eval_shape(init, hp, init_key)
    one_step = jax.jit(lambda s, h, t, o, k: step(np.int32(0), (s, np.float32(0)), h, t, o, k))
    step_flops = _flops(one_step.lower(state, hp, data.train, order, dropout_key).compile())
    eval_flops = _flops(jax.jit(predict).lower(state.params, data.valid).compile())
    # lax.map's loop body is counted once: scale by the number of eval batches.
    eval_flops *= int(jax.tree.leaves(data.valid)[0].shape[0])
    n_evals = len(eval_schedule(total, min(workload.num_evals, total)))
    return {"step": step_flops, "eval": eval_flops,
            "trial": step_flops * total + eval_flops * n_evals}


def _flops(compiled: Any) -> float:
    cost = compiled.cost_analysis()
    if isinstance(cost, list):
        cost = cost[0] if cost else {}
    return float((cost or {}).get("flops", 0.0))
