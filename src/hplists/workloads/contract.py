"""The workload contract, in the spirit of AlgoPerf's ``algoperf/spec.py``.

A *workload* is a dataset, a model, a loss, a validation metric with a
direction and a target, a step budget and an evaluation schedule. It turns a
batch of hyperparameter points and a seed into one validation curve per point.

Two levels:

* :class:`Workload` is framework-agnostic. Subclass it directly to wrap any
  training code (a PyTorch script can train one point at a time in ``run``).
* :class:`JaxWorkload` is the contract of the built-in library. A subclass
  declares data, parameters, loss, predictions and scoring as pure functions;
  the training engine (``hplists.workloads.engine``) runs many points at once
  with the schedule, update rule, dropout and label smoothing of each point.

An update rule maps a point's (possibly traced) hyperparameters and the step
budget to an ``optax.GradientTransformation``; the default is NAdamW exactly as
``optax.nadamw`` defines it (``hplists.optax.rule``).
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from hplists._check import check_int
from hplists.curves import Curve
from hplists.exceptions import InvalidParameterError
from hplists.hparams import Point, point_dict
from hplists.metric import Metric
from hplists.optim.update_rule import UpdateRule

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = [
    "REGULARIZERS",
    "REGULARIZER_KEYS",
    "Batch",
    "Dataset",
    "JaxWorkload",
    "Metric",
    "Point",
    "UpdateRule",
    "Workload",
    "applied_regularizers",
    "eval_schedule",
]

REGULARIZERS = ("dropout", "label_smoothing")
REGULARIZER_KEYS = {"dropout": "dropout_rate", "label_smoothing": "label_smoothing"}


def applied_regularizers(point: Point, regularizers: frozenset[str] | set[str]) -> dict[str, float]:
    """The dropout rate and label smoothing a workload trains ``point`` with.

    A workload applies only the regularizers it declares; the engine trains
    the others at 0 (and a point without the key at 0). This is what the trial
    runner records with each trial, since the stored point keeps the values
    the list asked for.

    Example:
        >>> from hplists import HParams
        >>> p = HParams(1e-3, 0.9, 0.99, dropout_rate=0.1, label_smoothing=0.2)
        >>> applied_regularizers(p, {"label_smoothing"})
        {'dropout_rate': 0.0, 'label_smoothing': 0.2}
    """
    d = point_dict(point)
    return {key: float(d.get(key, 0.0)) if reg in regularizers else 0.0
            for reg, key in REGULARIZER_KEYS.items()}

Batch = Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Train and validation arrays of a workload, as NumPy arrays keyed by name.

    Every array of a split has the examples on its leading axis.
    """

    train: Mapping[str, np.ndarray]
    valid: Mapping[str, np.ndarray]
    meta: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        for split in ("train", "valid"):
            arrays = getattr(self, split)
            sizes = {k: np.shape(v)[0] for k, v in arrays.items()}
            if len(set(sizes.values())) > 1:
                raise InvalidParameterError(f"{split} arrays disagree on the number of examples: {sizes}")

    @property
    def num_train(self) -> int:
        return int(np.shape(next(iter(self.train.values())))[0])

    @property
    def num_valid(self) -> int:
        return int(np.shape(next(iter(self.valid.values())))[0])


def eval_schedule(step_budget: int, num_evals: int) -> tuple[int, ...]:
    """``num_evals`` evaluation steps spread evenly over the budget, the last step included.

    Example:
        >>> eval_schedule(100, 4)
        (25, 50, 75, 100)
    """
    step_budget = check_int("step_budget", step_budget, low=1)
    num_evals = check_int("num_evals", num_evals, low=1, high=step_budget)
    steps = np.unique(np.round(np.linspace(0, step_budget, num_evals + 1)[1:]).astype(int))
    return tuple(int(s) for s in steps)


class Workload(abc.ABC):
    """Framework-agnostic workload contract.

    Class attributes a subclass sets:
        name, version: identity; the version changes whenever results would.
        task, dataset, model, loss: human-readable descriptions.
        metric: the validation metric and its direction.
        step_budget: the number of training steps T.
        batch_size: examples per step.
        num_evals: evaluations per run (>= 20), evenly spaced, last step included.
        regularizers: which of ``"dropout"``, ``"label_smoothing"`` apply.
        base: for an architectural variant, the name of its base workload.
        target_value: the validation target, when the workload carries it itself.
        targets_path: else a targets file of the workload's own (an outside
            author's); else the built-in library's targets file, shipped with the
            workloads package. A file's entry counts only for the workload
            version it was set for.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    task: ClassVar[str] = ""
    dataset: ClassVar[str] = ""
    model: ClassVar[str] = ""
    loss: ClassVar[str] = ""
    metric: ClassVar[Metric]
    step_budget: ClassVar[int]
    batch_size: ClassVar[int]
    num_evals: ClassVar[int] = 20
    regularizers: ClassVar[frozenset[str]] = frozenset()
    base: ClassVar[str | None] = None
    target_value: ClassVar[float | None] = None
    targets_path: ClassVar[str | None] = None

    @property
    def eval_steps(self) -> tuple[int, ...]:
        """Steps at which the validation metric is computed."""
        return eval_schedule(self.step_budget, self.num_evals)

    @property
    def target(self) -> float | None:
        """The validation target: the workload's own, else its targets file's entry for its version.

        ``None`` until a target is set for this workload at this version.
        """
        if self.target_value is not None:
            return float(self.target_value)
        from hplists.workloads import targets_file  # local: it reads a data file

        entry = targets_file.entry_for(self.name, self.targets_path)
        if entry is None or str(entry.get("workload_version", self.version)) != str(self.version):
            return None
        return float(entry["target"])

    @abc.abstractmethod
    def run(
        self,
        points: Sequence[Point],
        seed: int = 0,
        *,
        step_budget: int | None = None,
        update_rule: UpdateRule | None = None,
    ) -> list[Curve]:
        """Trains every point for ``step_budget`` steps (default: the workload's).

        Returns one :class:`Curve` per point, in order. A point whose loss or
        metrics become non-finite ends with status ``diverged``; the others go
        on. The same point and seed give the same curve.
        """

    def describe(self) -> dict[str, Any]:
        """A plain-dict summary (for tables and provenance)."""
        return {
            "name": self.name,
            "version": self.version,
            "task": self.task,
            "dataset": self.dataset,
            "model": self.model,
            "loss": self.loss,
            "metric": self.metric.name,
            "mode": self.metric.mode,
            "target": self.target,
            "step_budget": self.step_budget,
            "batch_size": self.batch_size,
            "num_evals": self.num_evals,
            "regularizers": sorted(self.regularizers),
            "base": self.base,
        }


class JaxWorkload(Workload):
    """A workload the built-in JAX engine can train many points of at once.

    A subclass implements five pure pieces; the engine owns the loop, the
    per-point schedule and update rule, batching across points, divergence
    handling and timing:

    * :meth:`make_data` builds the (deterministic, cached) dataset;
    * :meth:`init` returns initial parameters from a PRNG key;
    * :meth:`loss_fn` returns the mean training loss of a batch, given the
      point's ``dropout_rate`` and ``label_smoothing`` (possibly traced, so use
      ``hplists.workloads.layers.dropout`` rather than ``flax.linen.Dropout``);
    * :meth:`predict` maps parameters and a validation batch to outputs;
    * :meth:`score` turns the outputs on the whole validation split into
      metrics on the host (``{metric.name: value, ...}``).
    """

    data_seed: ClassVar[int] = 0
    eval_batch_size: ClassVar[int] = 512
    # "vmap", "sequential" or "processes"; chosen per workload from benchmarks/workloads.py.
    batching: ClassVar[str] = "vmap"
    # Most points the "vmap" strategy trains in one program.
    vmap_size: ClassVar[int] = 16
    # A point whose training loss exceeds this multiple of its loss at step 1 has
    # diverged, like one whose loss turns non-finite (None: only non-finite counts).
    # Adam-type updates are bounded by the learning rate, so absurd rates often
    # blow the loss up by orders of magnitude without overflowing float32.
    divergence_factor: ClassVar[float | None] = 100.0

    @abc.abstractmethod
    def make_data(self) -> Dataset:
        """Builds the dataset from ``data_seed``; deterministic, no network."""

    @abc.abstractmethod
    def init(self, rng: Any) -> Any:
        """Initial parameters (a pytree of arrays)."""

    @abc.abstractmethod
    def loss_fn(
        self,
        params: Any,
        batch: Batch,
        rng: Any,
        dropout_rate: Any,
        label_smoothing: Any,
    ) -> Any:
        """Mean training loss of ``batch`` (dropout active)."""

    @abc.abstractmethod
    def predict(self, params: Any, batch: Batch) -> Any:
        """Validation outputs of ``batch`` (dropout off): logits, images, ..."""

    @abc.abstractmethod
    def score(self, outputs: Any, valid: Mapping[str, np.ndarray]) -> dict[str, float]:
        """Validation metrics from the outputs on the whole validation split."""

    def run(
        self,
        points: Sequence[Point],
        seed: int = 0,
        *,
        step_budget: int | None = None,
        update_rule: UpdateRule | None = None,
    ) -> list[Curve]:
        from hplists.workloads import engine

        return engine.train(
            self, points, seed=seed, step_budget=step_budget, update_rule=update_rule
        )
