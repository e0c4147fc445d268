"""Tiny workloads for the tests: each trains in about a second.

Not a test module: the engine, study, baseline, runner, calibration, targets and
CLI tests import it, and subprocesses of the crash tests import it by name. A
test module that needs its own variation subclasses one of the parametrized
bases here (:class:`TinyBlobs`, :class:`TinyLogistic`, :class:`TinyLeastSquares`)
and changes class attributes, instead of writing a workload again. The study
workloads (:data:`ALL`) are added to the registry only for the duration of a
test (:func:`registered`), so the rest of the suite never sees them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import jax
import jax.numpy as jnp
import numpy as np

from hplists.optim.update_rule import hooks
from hplists.workloads import layers, registry
from hplists.workloads.contract import Dataset, JaxWorkload, Metric


class TinyBlobs(JaxWorkload):
    """Three Gaussian classes in 8-D, a one-hidden-layer MLP with dropout."""

    name = "study_blobs"
    metric = Metric("error_rate", "min")
    step_budget = 40
    batch_size = 16
    num_evals = 20
    regularizers = frozenset({"dropout", "label_smoothing"})
    eval_batch_size = 75
    batching = "vmap"
    hidden = 16

    center_scale = 1.2  # class separation
    num_examples, num_train = 450, 300

    def make_data(self) -> Dataset:
        rng = np.random.default_rng(0)
        centers = rng.normal(size=(3, 8)) * self.center_scale
        y = rng.integers(0, 3, self.num_examples)
        x = (centers[y] + rng.normal(size=(self.num_examples, 8))).astype(np.float32)
        n = self.num_train
        return Dataset({"x": x[:n], "y": y[:n]}, {"x": x[n:], "y": y[n:]})

    def init(self, rng):
        k1, k2 = jax.random.split(rng)
        return {"w1": jax.random.normal(k1, (8, self.hidden)) / 3, "b1": jnp.zeros(self.hidden),
                "w2": jax.random.normal(k2, (self.hidden, 3)) / 6}

    def _logits(self, p, x, rng, rate):
        h = layers.dropout(jax.nn.relu(x @ p["w1"] + p["b1"]), rate, rng)
        return h @ p["w2"]

    def loss_fn(self, params, batch, rng, dropout_rate, label_smoothing):
        logits = self._logits(params, batch["x"], rng, dropout_rate)
        return layers.softmax_cross_entropy(logits, batch["y"], label_smoothing)

    def predict(self, params, batch):
        return self._logits(params, batch["x"], None, 0.0)

    def score(self, outputs, valid):
        return {"error_rate": float(np.mean(np.argmax(outputs, 1) != valid["y"]))}


class TinyBlobsWide(TinyBlobs):
    """The variant: a wider hidden layer."""

    name = "study_blobs_wide"
    base = "study_blobs"
    hidden = 48


class TinyBlobsProcessesVmap(TinyBlobs):
    """TinyBlobs in vmapped programs of 3 points on the worker processes (not registered)."""

    name = "study_blobs_processes_vmap"
    batching = "processes/vmap"
    vmap_size = 3


class TinyLine(JaxWorkload):
    """Noisy linear regression scored by R^2 (a metric that goes up)."""

    name = "study_line"
    metric = Metric("r2", "max")
    step_budget = 40
    batch_size = 8
    num_evals = 20
    batching = "vmap"

    def make_data(self) -> Dataset:
        rng = np.random.default_rng(1)
        x = rng.normal(size=(200, 4)).astype(np.float32)
        y = (x @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.3 * rng.normal(size=200)).astype(np.float32)
        return Dataset({"x": x[:150], "y": y[:150]}, {"x": x[150:], "y": y[150:]})

    def init(self, rng):
        return {"w": jnp.zeros(4), "b": jnp.zeros(())}

    def loss_fn(self, params, batch, rng, dropout_rate, label_smoothing):
        return jnp.mean((batch["x"] @ params["w"] + params["b"] - batch["y"]) ** 2)

    def predict(self, params, batch):
        return batch["x"] @ params["w"] + params["b"]

    def score(self, outputs, valid):
        y = valid["y"]
        return {"r2": float(1 - np.mean((outputs - y) ** 2) / np.var(y))}


class TinyXor(JaxWorkload):
    """Four XOR clusters in 2-D: needs the hidden layer; accuracy (goes up)."""

    name = "study_xor"
    metric = Metric("accuracy", "max")
    step_budget = 40
    batch_size = 16
    num_evals = 20
    regularizers = frozenset({"label_smoothing"})
    batching = "vmap"

    def make_data(self) -> Dataset:
        rng = np.random.default_rng(2)
        c = rng.integers(0, 4, 400)
        centers = np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]], np.float32)
        x = (centers[c] + 0.35 * rng.normal(size=(400, 2))).astype(np.float32)
        y = (c >= 2).astype(np.int32)
        return Dataset({"x": x[:250], "y": y[:250]}, {"x": x[250:], "y": y[250:]})

    def init(self, rng):
        k1, k2 = jax.random.split(rng)
        return {"w1": jax.random.normal(k1, (2, 16)), "b1": jnp.zeros(16),
                "w2": jax.random.normal(k2, (16, 2)) / 4}

    def _logits(self, p, x):
        return jnp.tanh(x @ p["w1"] + p["b1"]) @ p["w2"]

    def loss_fn(self, params, batch, rng, dropout_rate, label_smoothing):
        return layers.softmax_cross_entropy(self._logits(params, batch["x"]), batch["y"],
                                            label_smoothing)

    def predict(self, params, batch):
        return self._logits(params, batch["x"])

    def score(self, outputs, valid):
        return {"accuracy": float(np.mean(np.argmax(outputs, 1) == valid["y"]))}


class TinyLogistic(JaxWorkload):
    """Three-class logistic regression on 200 noisy examples: a trial takes milliseconds."""

    name = "tiny_logistic"
    metric = Metric("error_rate", "min")
    step_budget = 40
    batch_size = 16
    num_evals = 20
    regularizers = frozenset({"label_smoothing"})
    eval_batch_size = 200

    def make_data(self) -> Dataset:
        rng = np.random.default_rng(self.data_seed)
        w = rng.normal(size=(10, 3))
        x = rng.normal(size=(400, 10)).astype(np.float32)
        y = np.argmax(x @ w + rng.normal(size=(400, 3)), 1)
        return Dataset({"x": x[:200], "y": y[:200]}, {"x": x[200:], "y": y[200:]})

    def init(self, rng):
        return {"w": jnp.zeros((10, 3)), "b": jnp.zeros(3)}

    def loss_fn(self, params, batch, rng, dropout_rate, label_smoothing):
        logits = batch["x"] @ params["w"] + params["b"]
        return layers.softmax_cross_entropy(logits, batch["y"], label_smoothing)

    def predict(self, params, batch):
        return batch["x"] @ params["w"] + params["b"]

    def score(self, outputs, valid):
        return {"error_rate": float(np.mean(np.argmax(outputs, 1) != valid["y"]))}


class TinyLeastSquares(JaxWorkload):
    """Noise-free least squares ``y = x @ coefs`` from zero weights, scored by MSE.

    Plain SGD with a large learning rate overflows it to inf: the divergence tests use it.
    """

    name = "tiny_least_squares"
    metric = Metric("mse", "min")
    step_budget = 40
    batch_size = 8
    num_evals = 20
    coefs: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0)
    data_seed = 1

    def make_data(self) -> Dataset:
        rng = np.random.default_rng(self.data_seed)
        x = rng.normal(size=(64, len(self.coefs))).astype(np.float32)
        y = (x @ np.asarray(self.coefs)).astype(np.float32)
        return Dataset({"x": x[:48], "y": y[:48]}, {"x": x[48:], "y": y[48:]})

    def init(self, rng):
        return jnp.zeros(len(self.coefs))

    def loss_fn(self, params, batch, rng, dropout_rate, label_smoothing):
        return jnp.mean((batch["x"] @ params - batch["y"]) ** 2)

    def predict(self, params, batch):
        return batch["x"] @ params

    def score(self, outputs, valid):
        return {"mse": float(np.mean((outputs - valid["y"]) ** 2))}


BASE = ("study_blobs", "study_line", "study_xor")
ALL = (TinyBlobs, TinyBlobsWide, TinyLine, TinyXor)


def register() -> None:
    """Adds the tiny workloads to the registry for the rest of the process (subprocesses)."""
    for cls in ALL:
        registry.register(cls)


@contextlib.contextmanager
def registered() -> Iterator[None]:
    """The tiny workloads are registered inside the ``with`` block only."""
    registry.workload_names()  # load the built-ins first, so that they are not re-imported later
    before = dict(registry._REGISTRY)
    try:
        register()
        yield
    finally:
        registry._REGISTRY.clear()
        registry._REGISTRY.update(before)


def specs_from_broad(store, study: str, quantile: float = 0.3) -> dict:
    """Targets reached by about ``quantile`` of the study's points on each workload.

    Tests need targets that some but not all points reach; these come from the
    data, the way a real target comes from a procedure, never from a guess.
    """
    from hplists.scoring.workload_specs import WorkloadSpec
    from hplists.study.bayesopt import objective
    from hplists.workloads.registry import get_workload

    out = {}
    for name in store.workloads(study):
        w = get_workload(name)
        values = [objective(r.curve, w.metric.name, w.metric.mode)
                  for r in store.trials(study=study, workload=name)]
        finite = np.array([v for v in values if v is not None])
        signed = float(np.quantile(finite, 1 - quantile))
        target = signed if w.metric.mode == "max" else -signed
        out[name] = WorkloadSpec(name, w.metric.name, w.metric.mode, target, w.step_budget)
    return out


def _dying_rule(hp, total_steps):
    """An update rule whose process dies while building it (a worker crash, for the runner)."""
    import os

    if hp.get("die", 0) > 0:  # a static hyperparameter: a Python number here
        os._exit(3)
    import optax

    return optax.sgd(0.05)


dying_rule = hooks(static=("die",))(_dying_rule)
