"""Checks that every workload's test module makes, written once.

Not a test module: ``tests/test_workload_*.py`` import it (``from helpers import checks as wc``)
and keep what is specific to their workload (data, metric, model details, what counts as
learning). Each check pins down one part of the contract in :mod:`hplists.workloads.contract`:
the registered contract, the model's shapes, how the regularizers reach the loss, learning
with divergence confined to the point that diverges, determinism in the seed, what an
architectural variant may change, and (for the two CTC speech workloads) frame-level outputs.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Collection, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hplists import HParams
from hplists.curves import Curve, Status
from hplists.workloads import engine
from hplists.workloads.contract import JaxWorkload, eval_schedule
from hplists.workloads.registry import get_workload

# Settings every variant shares with its base; each test adds its architecture's own.
COMMON_SETTINGS = (
    "step_budget",
    "batch_size",
    "num_evals",
    "metric",
    "regularizers",
    "data_seed",
    "eval_batch_size",
)
# What a variant renames rather than changes.
IDENTITY = frozenset({"name", "base", "model"})
NUM_EVALS = 20


def module_fixtures(name: str) -> tuple[Any, Any]:
    """The ``workload`` and ``data`` fixtures of a test module, built once per module.

    Usage, at module level: ``workload, data = wc.module_fixtures("ctr_dlrm")``.
    """

    @pytest.fixture(scope="module")
    def workload() -> JaxWorkload:
        return get_workload(name)

    @pytest.fixture(scope="module")
    def data(workload: JaxWorkload) -> Any:
        return workload.make_data()

    return workload, data


def rows(split: Mapping[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """The first ``n`` examples of every array of a split: a small batch."""
    return {k: v[:n] for k, v in split.items()}


@functools.cache
def jitted(workload: JaxWorkload, method: str) -> Any:
    """``jax.jit`` of one of a workload's methods, made once so that checks share programs."""
    return jax.jit(getattr(workload, method))


def initial_params(workload: JaxWorkload, seed: int = 0) -> Any:
    """Initial parameters from ``jax.random.key(seed)``, by one compiled ``init`` per workload.

    Compiling a convolutional ``init`` takes seconds; the tests of a workload share it.
    """
    return jitted(workload, "init")(jax.random.key(seed))


def check_contract(
    workload: JaxWorkload,
    name: str,
    cls: type,
    metric: str,
    mode: str,
    regularizers: Collection[str],
) -> None:
    """The registry's workload ``name`` is a base workload of ``cls`` with its metric, direction
    and regularizers.

    A base workload has no ``base``, is evaluated ``NUM_EVALS`` times on the evenly spaced
    schedule that ends at its step budget, describes itself under its own name and names a
    batching strategy the engine knows.
    """
    assert isinstance(workload, cls) and workload.name == name
    assert workload.metric.name == metric and workload.metric.mode == mode
    assert workload.regularizers == set(regularizers)
    assert workload.base is None and workload.describe()["name"] == workload.name
    assert len(workload.eval_steps) == NUM_EVALS and workload.eval_steps[-1] == workload.step_budget
    assert workload.eval_steps == eval_schedule(workload.step_budget, NUM_EVALS)
    assert workload.batching in engine.BATCHINGS


def check_model_shapes(
    workload: JaxWorkload,
    params: Any,
    batch: Mapping[str, np.ndarray],
    out_shape: tuple[int, ...],
    *,
    dropout_rate: float,
    label_smoothing: float,
    num_params: tuple[int, int] | None = None,
    run_predict: bool = True,
) -> tuple[Any, Any]:
    """``predict`` maps a batch to outputs of ``out_shape``; the training loss is a finite scalar.

    ``num_params=(low, high)`` also bounds the parameter count (strictly). With
    ``run_predict=False`` the outputs' shape is traced, not computed (no compilation), and
    the returned outputs are a shape description. Returns the outputs and the loss.
    """
    if num_params is not None:
        n = sum(a.size for a in jax.tree.leaves(params))
        low, high = num_params
        assert low < n < high, f"{n} parameters, not in ({low}, {high})"
    if run_predict:
        outputs = jitted(workload, "predict")(params, batch)
    else:
        outputs = jax.eval_shape(workload.predict, params, batch)
    assert outputs.shape == out_shape
    loss = jitted(workload, "loss_fn")(
        params, batch, jax.random.key(1), dropout_rate, label_smoothing
    )
    assert loss.shape == () and np.isfinite(loss)
    return outputs, loss


def check_regularizers_reach_the_loss(
    workload: JaxWorkload, params: Any, batch: Mapping[str, np.ndarray]
) -> None:
    """Each declared regularizer changes the training loss and an undeclared one leaves it as
    is; the random key matters only through dropout, where another key drops other units.

    Use the batch of :func:`check_model_shapes` to reuse its compiled loss.
    """
    loss = jitted(workload, "loss_fn")
    key, other = jax.random.key(1), jax.random.key(2)
    base = float(loss(params, batch, key, 0.0, 0.0))
    assert float(loss(params, batch, other, 0.0, 0.0)) == base, "the key matters without dropout"
    dropped = float(loss(params, batch, key, 0.3, 0.0))
    smoothed = float(loss(params, batch, key, 0.0, 0.2))
    if "dropout" in workload.regularizers:
        assert dropped != base, "dropout does not reach the loss"
        assert float(loss(params, batch, other, 0.3, 0.0)) != dropped, "dropout ignores the key"
    else:
        assert dropped == base, "an undeclared dropout rate changes the loss"
    if "label_smoothing" in workload.regularizers:
        assert smoothed != base, "label smoothing does not reach the loss"
    else:
        assert smoothed == base, "an undeclared label smoothing changes the loss"


def train_good_absurd_tiny(
    workload: JaxWorkload,
    good: HParams,
    steps: int,
    *,
    absurd_lr: float = 1e3,
    tiny: bool = True,
) -> tuple[Curve, Curve | None]:
    """Trains ``good``, an absurd learning rate and (``tiny=True``) a learning rate of 1e-6
    side by side for ``steps`` steps: the absurd point alone diverges, at a named step; the
    others complete with an evaluation at every step of the schedule.

    Returns the good and the tiny curve (None without one) for the workload's own judgement
    of what learning means.
    """
    points = [good, HParams(absurd_lr, 0.9, 0.99)]
    if tiny:
        points.append(HParams(1e-6, 0.9, 0.99))
    curves = engine.train(workload, points, step_budget=steps, batching="sequential")
    absurd = curves.pop(1)
    assert absurd.status == Status.DIVERGED and "at step" in absurd.message
    for curve in curves:
        assert curve.status == Status.COMPLETE
        assert curve.steps.tolist() == list(eval_schedule(steps, NUM_EVALS))
    return curves[0], curves[1] if tiny else None


def check_same_seed_same_curve(workload: JaxWorkload, point: HParams, steps: int) -> None:
    """The same point and seed give the same curve, to the bit; another seed another curve.

    Every recorded metric and the training loss are compared.
    """
    a, b, c = (
        engine.train(workload, [point], seed=seed, step_budget=steps, batching="sequential")[0]
        for seed in (1, 1, 2)
    )
    assert a.metrics.keys() == b.metrics.keys() and workload.metric.name in a.metrics
    for name in a.metrics:
        np.testing.assert_array_equal(a.metric(name), b.metric(name))
    np.testing.assert_array_equal(a.train_loss, b.train_loss)
    assert not np.array_equal(a.train_loss, c.train_loss)


def _settings(workload: JaxWorkload) -> dict[str, Any]:
    """The workload's plain class-level settings (no methods or properties)."""
    out = {}
    for name in dir(type(workload)):
        value = inspect.getattr_static(type(workload), name)
        if name.startswith("_") or callable(value):
            continue
        if isinstance(value, property | functools.cached_property | staticmethod | classmethod):
            continue
        out[name] = value
    return out


def check_variant_settings(
    workload: JaxWorkload,
    variant: JaxWorkload,
    cls: type,
    knob: str,
    values: tuple[Any, Any],
    same: Collection[str] = (),
) -> None:
    """A variant of ``cls`` names ``workload`` as its base and changes one setting, ``knob``,
    from ``values[0]`` to ``values[1]``.

    Every other setting is the base's (all class-level settings are compared, the common
    ones and ``same`` by name among them); only its identity (name, base, model text) differs.
    """
    assert isinstance(variant, cls) and variant.base == workload.name
    assert (getattr(workload, knob), getattr(variant, knob)) == values
    ours, theirs = _settings(workload), _settings(variant)
    assert ours.keys() == theirs.keys()
    assert {*COMMON_SETTINGS, *same} <= ours.keys()
    for name in ours.keys() - IDENTITY - {knob}:
        assert ours[name] == theirs[name], f"{variant.name} changes {name}"


def check_same_initial_parameters(p: Any, q: Any) -> None:
    """Two models initialized from one key have the same parameter tree and values."""
    assert jax.tree.structure(p) == jax.tree.structure(q)
    for a, b in zip(jax.tree.leaves(p), jax.tree.leaves(q), strict=True):
        np.testing.assert_array_equal(a, b)


def _by_path(params: Any) -> dict[str, Any]:
    return {jax.tree_util.keystr(k): v for k, v in jax.tree_util.tree_leaves_with_path(params)}


def check_parameters_differ_only_under(
    p: Any, q: Any, *markers: str
) -> tuple[set[str], set[str]]:
    """Two models initialized from one key share every parameter but some under ``markers``.

    The parameters at the same path have the same values; every path only one model has
    contains one of ``markers``; at least one path differs. Returns the paths only ``p``
    has and those only ``q`` has.
    """
    fp, fq = _by_path(p), _by_path(q)
    for path in fp.keys() & fq.keys():
        np.testing.assert_array_equal(fp[path], fq[path], err_msg=path)
    only_p, only_q = fp.keys() - fq.keys(), fq.keys() - fp.keys()
    assert only_p | only_q, "the parameter trees are the same"
    assert all(any(m in path for m in markers) for path in only_p | only_q), only_p | only_q
    return only_p, only_q


def check_predictions_differ(
    workload: JaxWorkload,
    variant: JaxWorkload,
    p: Any,
    q: Any,
    batch: Mapping[str, np.ndarray],
) -> None:
    """The variant's change reaches its predictions: other outputs on the same batch."""
    ours = jitted(workload, "predict")(p, batch)
    theirs = jitted(variant, "predict")(q, batch)
    assert not np.allclose(ours, theirs)


def check_ctc_model(
    workload: JaxWorkload,
    params: Any,
    batch: Mapping[str, np.ndarray],
    out_shape: tuple[int, int],
    num_params: tuple[int, int],
) -> None:
    """A CTC speech model passes :func:`check_model_shapes` (with dropout) and predicts int32
    frame-level ids, blank (0) on every frame that is padding after the 2x subsampling;
    untrained, its loss per label is above 1 (about log(vocab) or more, as it spreads its
    mass evenly).
    """
    ids, loss = check_model_shapes(workload, params, batch, out_shape, dropout_rate=0.1,
                                   label_smoothing=0.0, num_params=num_params)
    assert ids.dtype == jnp.int32
    pad = batch["input_paddings"][:, ::2]
    assert np.all(np.asarray(ids)[pad == 1] == 0)
    assert loss > 1.0


def check_ctc_references_score_zero_wer(workload: JaxWorkload, valid: Any) -> None:
    """Scoring the references themselves, as frame-level ids with a blank between labels,
    gives zero word and label error rates; all blanks delete every word and label."""
    labels = valid["labels"]
    ids = np.zeros((len(labels), 2 * labels.shape[1]), np.int32)
    ids[:, ::2] = labels
    assert workload.score(ids, valid) == {"wer": 0.0, "ler": 0.0}
    blank = workload.score(np.zeros_like(ids), valid)
    assert blank["wer"] == 1.0 and blank["ler"] == 1.0


# The first point of nadamw-paper, rounded: what a user runs first.
PAPER_FIRST = HParams(7.19e-3, 0.952, 0.955, weight_decay=0.021, warmup_fraction=0.1)


class CtcSpeechChecks:
    """The tests both CTC speech workloads share; a test module subclasses it as ``Test...``.

    Subclasses set ``name`` (the registered workload), ``cls`` (its class) and
    ``num_params`` (the allowed parameter-count range); the module provides the
    ``workload`` and ``data`` fixtures (:func:`module_fixtures`).
    """

    name: str
    cls: type
    num_params: tuple[int, int]
    learn_steps: int  # steps in which the paper's first point beats chance
    short_steps = 100

    def test_registered_with_its_contract(self, workload: JaxWorkload) -> None:
        # CTC has no label smoothing.
        check_contract(workload, self.name, self.cls, "wer", "min", {"dropout"})

    def test_model_shapes_and_ctc_loss(self, workload: JaxWorkload, data: Any) -> None:
        params = workload.init(jax.random.key(0))
        check_ctc_model(workload, params, rows(data.valid, 5), (5, 24), self.num_params)

    def test_dropout_reaches_the_loss_and_the_key_only_drives_dropout(
        self, workload: JaxWorkload, data: Any
    ) -> None:
        """The dropout rate is a per-point argument of the loss; label smoothing does not apply."""
        check_regularizers_reach_the_loss(workload, workload.init(jax.random.key(0)),
                                          rows(data.valid, 5))

    def test_score_of_the_references_is_zero_wer(self, workload: JaxWorkload, data: Any) -> None:
        check_ctc_references_score_zero_wer(workload, data.valid)

    @pytest.mark.slow
    def test_good_point_beats_chance_and_absurd_lr_diverges_alone(self, workload: JaxWorkload
                                                                   ) -> None:
        good, _ = train_good_absurd_tiny(workload, PAPER_FIRST, self.learn_steps, tiny=False)
        wer = good.metric("wer")
        assert wer[0] >= 0.95  # chance: an untrained model emits blanks, every word is deleted
        assert wer.min() < 0.75 and wer[-1] < wer[: len(wer) // 2].min()

    def test_same_seed_same_curve_other_seed_other_curve(self, workload: JaxWorkload) -> None:
        check_same_seed_same_curve(workload, PAPER_FIRST.replace(dropout_rate=0.1),
                                   self.short_steps)
