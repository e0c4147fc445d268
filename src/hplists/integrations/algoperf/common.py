"""What the PyTorch and JAX submissions share: reading a trial, the horizon, the plain functions.

AlgoPerf's ``submission_runner.py`` hands every submission function the trial's
``hyperparameters``: a namedtuple that ``algoperf/halton.py:generate_search``
built from one point of ``--tuning_search_space`` (or that
``logger_utils.write_hparams`` read back from ``hparams.json``). A dict of the
same keys is accepted too. :func:`read_trial` turns it, with the workload's
``step_hint``, into a :class:`Trial`: the :class:`hplists.HParams` point and
the number of steps its schedule spans.

Keys (``hplists export NAME --format algoperf`` writes the first seven):

* ``learning_rate, one_minus_beta1, beta2, weight_decay, warmup_factor`` are
  required; ``dropout_rate`` and ``label_smoothing`` default to 0
  (:meth:`hplists.HParams.from_algoperf`; ``beta1`` may replace
  ``one_minus_beta1``). ``eps`` is 1e-8, as in AlgoPerf's NAdamW baseline,
  which has no key for it.
* ``grad_clip`` (optional, as in AlgoPerf's baselines): the gradient is
  scaled by ``min(1, grad_clip / (norm + 1e-6))`` before the update. hplists'
  lists are defined without clipping; leave it out to run them as defined.
* ``step_hint_factor`` (optional, hplists' own, default 1): the schedule's
  horizon is ``int(step_hint_factor * workload.step_hint)``. The external-tuning
  NAdamW baselines (and the self-tuning ones, which get 1.5 times the time
  budget instead) decay to 0 at ``workload.step_hint``, which is what the
  factor 1 does; AlgoPerf's target-setting runs use 0.75 (``int(0.75 *
  workload.step_hint)`` in ``algorithms/target_setting_algorithms/``, and
  ``step_hint * 0.75`` in the ``*_nadamw_target_setting.py`` qualification
  baselines).
  As every key, it must be in every point of the search space (the namedtuple
  takes the first point's keys).

Any other key is an error naming it, so that a misspelt hyperparameter fails
at ``init_optimizer_state`` instead of silently taking a default.

The submissions never import ``algoperf``, so they import (and are tested)
without it; the one value they need from ``algoperf.spec``,
``ForwardPassMode.TRAIN`` for ``workload.model_fn``, is looked up when first
needed (:func:`train_mode`).

Example:
    >>> import collections
    >>> hp = collections.namedtuple("Hyperparameters", ["learning_rate", "one_minus_beta1",
    ...     "beta2", "weight_decay", "warmup_factor"])(1e-3, 0.1, 0.999, 0.1, 0.05)
    >>> trial = read_trial(type("W", (), {"step_hint": 1000})(), hp)
    >>> trial.point.beta1, trial.total_steps, trial.warmup_steps
    (0.9, 1000, 50)
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from hplists._check import check_int, check_real
from hplists.exceptions import InvalidParameterError
from hplists.hparams import HParams
from hplists.method_point import steps_to_run
from hplists.optim.schedule import warmup_cosine, warmup_steps

__all__ = [
    "BATCH_SIZES",
    "SUBMISSION_KEYS",
    "SelfTuning",
    "Trial",
    "data_selection",
    "get_batch_size",
    "horizon",
    "log_loss",
    "prepare_for_eval",
    "read_hyperparameters",
    "read_trial",
    "self_tuning_shim",
    "shim",
    "train_mode",
    "training_complete_error",
]

# Keys this submission reads besides HParams.from_algoperf's, with their defaults.
SUBMISSION_KEYS: dict[str, float | None] = {"grad_clip": None, "step_hint_factor": 1.0}

# Global batch size per workload: those of AlgoPerf's NAdamW baselines, so that a
# list runs on the batch size its scores were measured with. A variant missing here
# (e.g. ``wmt_post_ln``) gets its base workload's: submission_runner.py retries
# get_batch_size with the base name when it raises ValueError.
BATCH_SIZES: dict[str, int] = {
    "criteo1tb": 262_144,
    "fastmri": 32,
    "imagenet_resnet": 1024,
    "imagenet_resnet_silu": 512,
    "imagenet_resnet_gelu": 512,
    "imagenet_vit": 1024,
    "librispeech_conformer": 256,
    "librispeech_deepspeech": 256,
    "ogbg": 512,
    "wmt": 128,
    "mnist": 16,
}

# The module names AlgoPerf loads, per --framework.
_MODULES = {
    "pytorch": "hplists.integrations.algoperf.pytorch_submission",
    "jax": "hplists.integrations.algoperf.jax_submission",
}


@dataclasses.dataclass(frozen=True)
class Trial:
    """One AlgoPerf trial as hplists runs it.

    Attributes:
        point: the NAdamW point (``optax.nadamw`` hyperparameters and regularizers).
        total_steps: the schedule's horizon, where the learning rate reaches 0 and stays.
        grad_clip: the ``grad_clip`` key, or None (no clipping).
    """

    point: HParams
    total_steps: int
    grad_clip: float | None = None

    @property
    def warmup_steps(self) -> int:
        """``int(warmup_fraction * total_steps)``, as AlgoPerf's baselines count them."""
        return warmup_steps(self.point.warmup_fraction, self.total_steps)

    def schedule(self) -> Callable[[Any], Any]:
        """``step -> learning rate`` (:func:`hplists.optim.schedule.warmup_cosine`).

        Example:
            >>> sched = Trial(HParams(1e-3, 0.9, 0.99, warmup_fraction=0.1), 100).schedule()
            >>> sched(0), sched(10), sched(100), sched(150)
            (0.0, 0.001, 0.0, 0.0)
        """
        return warmup_cosine(self.point.learning_rate, self.point.warmup_fraction,
                             self.total_steps)


def _as_dict(hyperparameters: Any) -> dict[str, Any]:
    if hyperparameters is None:
        raise InvalidParameterError(
            "hyperparameters is None: this submission is for AlgoPerf's external-tuning "
            "ruleset; run submission_runner.py with --tuning_ruleset=external and "
            "--tuning_search_space=FILE (from `hplists export NAME --format algoperf`)"
        )
    if hasattr(hyperparameters, "_asdict"):  # the namedtuple of halton.generate_search
        return dict(hyperparameters._asdict())
    if isinstance(hyperparameters, Mapping):
        return dict(hyperparameters)
    raise InvalidParameterError(
        "hyperparameters must be AlgoPerf's namedtuple or a dict of its keys, got "
        f"{type(hyperparameters).__name__}"
    )


def read_hyperparameters(hyperparameters: Any) -> tuple[HParams, dict[str, float | None]]:
    """``(point, extras)`` of one trial: the HParams and :data:`SUBMISSION_KEYS`' values.

    Errors name the field: a missing or unknown key, a value out of range
    (``one_minus_beta1`` in (0, 1], ``beta2`` in [0, 1), ...).

    Example:
        >>> hp = {"learning_rate": 1e-3, "one_minus_beta1": 0.1, "beta2": 0.999,
        ...       "weight_decay": 0.1, "warmup_factor": 0.05, "grad_clip": 1.0}
        >>> point, extras = read_hyperparameters(hp)
        >>> point.beta1, extras
        (0.9, {'grad_clip': 1.0, 'step_hint_factor': 1.0})
        >>> read_hyperparameters(dict(hp, one_minus_beta1=0.0))
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: AlgoPerf hyperparameters: one_minus_beta1 must be in (0, 1], got 0.0
    """
    d = _as_dict(hyperparameters)
    extras = {key: d.pop(key, default) for key, default in SUBMISSION_KEYS.items()}
    try:
        point = HParams.from_algoperf(d)
        if extras["grad_clip"] is not None:
            extras["grad_clip"] = check_real("grad_clip", extras["grad_clip"], low=0.0,
                                             low_open=True)
        extras["step_hint_factor"] = check_real("step_hint_factor", extras["step_hint_factor"],
                                                low=0.0, low_open=True)
    except InvalidParameterError as e:
        # Say where the bad value came from: the search space, not a call of ours.
        raise InvalidParameterError(f"AlgoPerf hyperparameters: {e}") from e
    return point, extras


def horizon(step_hint: Any, factor: float = 1.0) -> int:
    """The schedule's horizon: ``int(factor * step_hint)``, at least 1.

    Example:
        >>> horizon(10_000), horizon(10_000, 0.75)
        (10000, 7500)
    """
    step_hint = check_int("workload.step_hint", step_hint, low=1)
    factor = check_real("step_hint_factor", factor, low=0.0, low_open=True)
    total = int(factor * step_hint)
    if total < 1:
        raise InvalidParameterError(
            f"step_hint_factor * workload.step_hint must be at least 1 step, got "
            f"{factor!r} * {step_hint} = {factor * step_hint!r}"
        )
    return total


def read_trial(workload: Any, hyperparameters: Any) -> Trial:
    """The :class:`Trial` of ``hyperparameters`` on ``workload`` (reads ``workload.step_hint``)."""
    items = tuple(sorted(_as_dict(hyperparameters).items()))
    try:
        hash(items)
    except TypeError:  # e.g. a list value: parsed (and refused) without the cache
        return _read(workload.step_hint, items)
    # update_params reads the trial every step; the cache parses and validates it once.
    return _read_lru(workload.step_hint, items)


def _read(step_hint: Any, items: tuple[tuple[str, Any], ...]) -> Trial:
    point, extras = read_hyperparameters(dict(items))
    factor = extras["step_hint_factor"]
    assert factor is not None  # read_hyperparameters fills the default
    return Trial(point, horizon(step_hint, factor), extras["grad_clip"])


_read_lru = functools.lru_cache(maxsize=16)(_read)


class _ForwardPassMode(enum.Enum):
    """Stand-in for ``algoperf.spec.ForwardPassMode`` where algoperf is not installed."""

    TRAIN = 0
    EVAL = 1


def train_mode() -> Any:
    """``algoperf.spec.ForwardPassMode.TRAIN``, or a stand-in with its name and value.

    AlgoPerf's workloads compare ``mode`` with their own enum, so the real one
    is used whenever ``algoperf`` is importable (always under
    ``submission_runner.py``); the stand-in serves workloads written without
    algoperf, such as the test harness.

    Example:
        >>> train_mode().name
        'TRAIN'
    """
    try:
        spec = importlib.import_module("algoperf.spec")
    except ImportError:
        return _ForwardPassMode.TRAIN
    return spec.ForwardPassMode.TRAIN


# Steps at which the training loss goes to workload.metrics_logger (reading it syncs).
LOG_EVERY = 100


def log_loss(workload: Any, global_step: int, loss: Callable[[], float]) -> None:
    """Hands ``loss()`` to the workload's ``metrics_logger`` every :data:`LOG_EVERY` steps.

    ``loss`` is called only on those steps: reading a device value waits for it.

    Example:
        >>> class Logger:
        ...     def append_scalar_metrics(self, metrics, step): print(step, metrics)
        >>> w = type("W", (), {"metrics_logger": Logger()})()
        >>> log_loss(w, 200, lambda: 0.5); log_loss(w, 201, lambda: 0.5)
        200 {'loss': 0.5}
    """
    logger = getattr(workload, "metrics_logger", None)
    if logger is not None and global_step % LOG_EVERY == 0:
        logger.append_scalar_metrics({"loss": float(loss())}, global_step)


def get_batch_size(workload_name: str) -> int:
    """The global batch size for ``workload_name`` (:data:`BATCH_SIZES`).

    Example:
        >>> get_batch_size("wmt")
        128
        >>> get_batch_size("cifar")
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: workload_name must be one of 'criteo1tb', ...; got 'cifar'
    """
    if workload_name not in BATCH_SIZES:
        # A ValueError: submission_runner.py then retries with the base workload's name.
        allowed = ", ".join(repr(name) for name in BATCH_SIZES)
        raise InvalidParameterError(f"workload_name must be one of {allowed}; got {workload_name!r}")
    return BATCH_SIZES[workload_name]


def data_selection(
    workload: Any,
    input_queue: Iterator[dict[str, Any]],
    optimizer_state: Any,
    current_param_container: Any,
    model_state: Any,
    hyperparameters: Any,
    global_step: int,
    rng: Any,
) -> dict[str, Any]:
    """The next batch of the pre-shuffled queue, as every NAdamW run of the lists took it.

    Example:
        >>> data_selection(None, iter([{"inputs": 1}]), None, None, None, None, 0, None)
        {'inputs': 1}
    """
    del workload, optimizer_state, current_param_container, model_state
    del hyperparameters, global_step, rng
    return next(input_queue)


def prepare_for_eval(
    workload: Any,
    current_param_container: Any,
    current_params_types: Any,
    model_state: Any,
    hyperparameters: Any,
    loss_type: Any,
    optimizer_state: Any,
    eval_results: list[tuple[int, float]],
    global_step: int,
    rng: Any,
) -> tuple[Any, Any, Any]:
    """``(optimizer_state, current_param_container, model_state)`` unchanged: NAdamW
    evaluates the parameters it trains (no averaging or swapping)."""
    del workload, current_params_types, hyperparameters, loss_type, eval_results
    del global_step, rng
    return optimizer_state, current_param_container, model_state


def shim(framework: str) -> str:
    """The one-line file to pass as ``--submission_path``.

    ``submission_runner.py`` turns ``--submission_path`` into a module name by
    dropping ``.py`` and replacing ``/`` with ``.``, so the path must be
    relative, free of other dots, and importable from where it runs: a file in
    the AlgoPerf checkout that re-exports the installed module does that.

    Example:
        >>> print(shim("jax"), end="")
        from hplists.integrations.algoperf.jax_submission import *  # noqa: F403
    """
    if framework not in _MODULES:
        allowed = ", ".join(repr(f) for f in _MODULES)
        raise InvalidParameterError(f"framework must be one of {allowed}; got {framework!r}")
    return f"from {_MODULES[framework]} import *  # noqa: F403\n"


# ---------------------------------------------------------------------------------------
# The self-tuning ruleset: one point of any list, brought by the submission itself.


@dataclasses.dataclass(frozen=True)
class SelfTuning:
    """One point of any list as a self-tuning submission trains it on every workload.

    Under ``--tuning_ruleset=self`` AlgoPerf hands the submission no
    hyperparameters; the point is the submission's own. Its budget is
    ``M = int(budget_factor * workload.step_hint)`` steps: the schedule is built
    for ``M``, a point with a ``horizon`` ``h`` trains ``int(h M)`` steps
    (:func:`hplists.steps_to_run`) and any other point ``M``, and then
    ``update_params`` raises ``algoperf.spec.TrainingCompleteError``, which ends
    the run (AlgoPerf evaluates once more). AlgoPerf also stops a run at its
    time limit, which may come first.

    ``budget_factor`` is the budget the point's list was chosen for, its
    :attr:`hplists.NamedList.budget_factor`: 3 for the learning-rate-free
    study's lists (paper 002's ``M = 3 T``; their horizons are fractions of
    it), 1 for NAdamW's (their schedules end at ``T``, the step hint).

    Example:
        >>> import hplists
        >>> from hplists.method_point import MethodPoint
        >>> workload = type("W", (), {"step_hint": 400})()
        >>> run = SelfTuning(MethodPoint("prodigy", {"beta1": 0.9, "horizon": 0.33}), 3)
        >>> run.budget(workload), run.steps(workload)
        (1200, 396)
        >>> SelfTuning(hplists.get_list("nadamw-paper")[0], 1).steps(workload)
        400
    """

    point: Any
    budget_factor: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "budget_factor", check_real(
            "budget_factor", self.budget_factor, low=0.0, low_open=True))
        steps_to_run(self.point, 1)  # a horizon outside (0, 1] fails here, not mid-run

    def budget(self, workload: Any) -> int:
        """``M = int(budget_factor * workload.step_hint)``: the steps the schedule spans."""
        return horizon(workload.step_hint, self.budget_factor)

    def steps(self, workload: Any) -> int:
        """The updates this point makes on ``workload``: ``int(h M)``, or ``M`` without a horizon."""
        return steps_to_run(self.point, self.budget(workload))

    def stop_at_the_end(self, workload: Any, global_step: int) -> None:
        """Raise AlgoPerf's ``TrainingCompleteError`` once :meth:`steps` updates are made.

        Raised at the start of ``update_params`` for update ``global_step``
        (counted from 0), before it changes anything: AlgoPerf keeps the state
        it had and evaluates it.
        """
        steps, budget = self.steps(workload), self.budget(workload)
        if global_step >= steps:
            raise training_complete_error()(
                f"{steps} updates made: the point's {'horizon' if steps < budget else 'budget'} "
                f"(M = {budget} steps)")

    def check_ruleset(self, hyperparameters: Any) -> None:
        """Refuse a search space: this submission brings its own point."""
        if hyperparameters is not None:
            raise InvalidParameterError(
                "hyperparameters were given: this submission is for AlgoPerf's self-tuning "
                "ruleset and trains its own point; run submission_runner.py with "
                "--tuning_ruleset=self and no --tuning_search_space (the external-tuning "
                "submissions read a search space: hplists.integrations.algoperf.shim)")


class TrainingCompleteError(Exception):
    """Stand-in for ``algoperf.spec.TrainingCompleteError`` where algoperf is not installed."""


def training_complete_error() -> type[Exception]:
    """``algoperf.spec.TrainingCompleteError``, or :class:`TrainingCompleteError` without algoperf.

    ``submission_runner.py`` catches AlgoPerf's own class (raised from
    ``update_params``) and ends the run; the stand-in serves workloads written
    without algoperf, such as the test harness.

    Example:
        >>> issubclass(training_complete_error(), Exception)
        True
    """
    try:
        spec = importlib.import_module("algoperf.spec")
    except ImportError:
        return TrainingCompleteError
    return spec.TrainingCompleteError


def self_tuning_shim(framework: str, name: str, index: int = 0,
                     budget_factor: float | None = None) -> str:
    """The file to pass as ``--submission_path`` under ``--tuning_ruleset=self``.

    It trains point ``index`` (from 0) of the list ``name`` (a shipped list's
    name or a list file's absolute path) for :class:`SelfTuning`'s budget,
    ``budget_factor`` step hints (default: the list's own,
    :attr:`hplists.NamedList.budget_factor`): the module's functions are those
    of ``pytorch_submission.self_tuning`` or ``jax_submission.self_tuning``.

    Example:
        >>> print(self_tuning_shim("jax", "nadamw-paper"), end="")
        import hplists
        from hplists.integrations.algoperf.jax_submission import self_tuning
        <BLANKLINE>
        # AlgoPerf's five submission functions, training point 0 of 'nadamw-paper'.
        globals().update(self_tuning(hplists.get_list('nadamw-paper')[0], budget_factor=1.0))
    """
    if framework not in _MODULES:
        allowed = ", ".join(repr(f) for f in _MODULES)
        raise InvalidParameterError(f"framework must be one of {allowed}; got {framework!r}")
    from hplists.lists import get_list

    named = get_list(name)  # an unknown name or a bad file fails now, not under AlgoPerf
    index = check_int("index", index, low=0)
    if index >= len(named):
        raise InvalidParameterError(f"index must be below {len(named)}, the points of "
                                    f"{name!r}; got {index}")
    if budget_factor is None:
        budget_factor = named.budget_factor
    # The budget and the horizon are checked now too.
    budget_factor = SelfTuning(named[index], budget_factor).budget_factor
    return (f"import hplists\nfrom {_MODULES[framework]} import self_tuning\n\n"
            f"# AlgoPerf's five submission functions, training point {index} of {name!r}.\n"
            f"globals().update(self_tuning(hplists.get_list({name!r})[{index}], "
            f"budget_factor={budget_factor!r}))\n")
