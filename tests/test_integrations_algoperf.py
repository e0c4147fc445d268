"""The AlgoPerf submissions run hplists' optax-exact NAdamW and schedule.

The harness calls the submission functions as AlgoPerf's ``submission_runner.py``
does (``init_optimizer_state`` and ``data_selection`` positionally, ``update_params``
and ``prepare_for_eval`` with keywords; argument names from ``algoperf/spec.py``) on
small real workloads: a 2-layer tanh MLP classifying random data with a masked,
label-smoothed cross-entropy, in PyTorch and in JAX. The workloads implement
exactly what the submissions read (``step_hint``, ``model_fn``, ``loss_fn``,
``metrics_logger``). The runs are in float64, one JAX run also in float32.
"""

from __future__ import annotations

import collections
import copy
import functools
import importlib
import importlib.util
import inspect
import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
import torch.nn.functional as F
from jax.sharding import Mesh, NamedSharding, PartitionSpec

import hplists
from hplists import get_list
from hplists import optax as hplists_optax
from hplists import torch as hplists_torch
from hplists.cli.main import main
from hplists.exceptions import InvalidParameterError
from hplists.integrations.algoperf import common, jax_submission, pytorch_submission, shim
from hplists.method_point import MethodPoint
from hplists.optim.schedule import warmup_cosine, warmup_cosine_factor, warmup_steps
from hplists.torch import NAdamW, WarmupCosineFactor

D_IN, HIDDEN, CLASSES, BATCH = 4, 8, 3, 8
STEP_HINT = 50  # the horizon T: every listed point warms up for >= 1 step; runs go 4 past it
STEPS = STEP_HINT + 4
# algoperf/spec.py's argument names, in order.
SPEC = {
    "init_optimizer_state": ["workload", "model_params", "model_state", "hyperparameters",
                             "rng"],
    "update_params": ["workload", "current_param_container", "current_params_types",
                      "model_state", "hyperparameters", "batch", "loss_type", "optimizer_state",
                      "eval_results", "global_step", "rng", "train_state"],
    "prepare_for_eval": ["workload", "current_param_container", "current_params_types",
                         "model_state", "hyperparameters", "loss_type", "optimizer_state",
                         "eval_results", "global_step", "rng"],
    "data_selection": ["workload", "input_queue", "optimizer_state", "current_param_container",
                       "model_state", "hyperparameters", "global_step", "rng"],
    "get_batch_size": ["workload_name"],
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def generate_search(search_space: list[dict]) -> list[tuple]:
    """What ``algoperf/halton.py:generate_search`` does with a list of points: one
    namedtuple per point, its fields the first point's keys."""
    cls = collections.namedtuple("Hyperparameters", list(search_space[0]))
    return [cls(**trial) for trial in search_space]


def trial(i: int = 0, **extra) -> tuple:
    """Point ``i`` of nadamw-paper as AlgoPerf hands it to a submission."""
    d = get_list("nadamw-paper")[i].to_algoperf()
    return generate_search([dict(d, **extra)])[0]


def batches(n: int = STEPS, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """Random float64 inputs, labels and a mask with zeros (padding), as numpy."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        weights = (rng.random(BATCH) > 0.2).astype(np.float64)
        weights[0] = 1.0
        out.append({"inputs": rng.standard_normal((BATCH, D_IN)),
                    "targets": rng.integers(0, CLASSES, BATCH), "weights": weights})
    return out


def initial_weights(seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"w1": rng.standard_normal((D_IN, HIDDEN)) / 2, "b1": rng.standard_normal(HIDDEN) / 4,
            "w2": rng.standard_normal((HIDDEN, CLASSES)) / 2, "b2": rng.standard_normal(CLASSES)}


class Logger:
    def __init__(self) -> None:
        self.rows: list[tuple[int, dict]] = []

    def append_scalar_metrics(self, metrics: dict, global_step: int) -> None:
        self.rows.append((global_step, metrics))


class TorchWorkload:
    """The part of an AlgoPerf PyTorch workload the submission reads."""

    def __init__(self, step_hint: int = STEP_HINT) -> None:
        self.step_hint = step_hint
        self.metrics_logger = Logger()
        self.dropout_rates: list[float] = []

    def model_fn(self, params, augmented_and_preprocessed_input_batch, model_state, mode, rng,
                 update_batch_norm, dropout_rate):
        assert mode.name == "TRAIN" and update_batch_norm and params.training
        self.dropout_rates.append(dropout_rate)
        return params(augmented_and_preprocessed_input_batch["inputs"]), model_state

    def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
        return torch_loss(label_batch, logits_batch, mask_batch, label_smoothing)


def torch_loss(labels, logits, mask, label_smoothing) -> dict:
    per = F.cross_entropy(logits, labels, reduction="none", label_smoothing=label_smoothing)
    per = per * mask
    return {"summed": per.sum(), "n_valid_examples": mask.sum(), "per_example": per}


class JaxWorkload:
    """The part of an AlgoPerf JAX workload the submission reads."""

    def __init__(self, step_hint: int = STEP_HINT) -> None:
        self.step_hint = step_hint
        self.metrics_logger = Logger()

    def model_fn(self, params, augmented_and_preprocessed_input_batch, model_state, mode, rng,
                 update_batch_norm, dropout_rate):
        assert mode.name == "TRAIN" and update_batch_norm
        return jax_logits(params, augmented_and_preprocessed_input_batch["inputs"]), model_state

    def loss_fn(self, label_batch, logits_batch, mask_batch=None, label_smoothing=0.0):
        return jax_loss(label_batch, logits_batch, mask_batch, label_smoothing)


def jax_logits(params, x):
    return jnp.tanh(x @ params["w1"] + params["b1"]) @ params["w2"] + params["b2"]


def jax_loss(labels, logits, mask, label_smoothing) -> dict:
    # torch's label smoothing: targets (1 - s) one_hot + s / K.
    targets = optax.smooth_labels(jax.nn.one_hot(labels, CLASSES, dtype=logits.dtype),
                                  label_smoothing)
    per = optax.softmax_cross_entropy(logits, targets) * mask
    return {"summed": per.sum(), "n_valid_examples": mask.sum(), "per_example": per}


def torch_model(weights: dict[str, np.ndarray]) -> torch.nn.Module:
    model = torch.nn.Sequential(torch.nn.Linear(D_IN, HIDDEN), torch.nn.Tanh(),
                                torch.nn.Linear(HIDDEN, CLASSES)).double()
    with torch.no_grad():  # nn.Linear computes x W^T + b
        model[0].weight.copy_(torch.from_numpy(weights["w1"].T))
        model[0].bias.copy_(torch.from_numpy(weights["b1"]))
        model[2].weight.copy_(torch.from_numpy(weights["w2"].T))
        model[2].bias.copy_(torch.from_numpy(weights["b2"]))
    return model


def torch_weights(model: torch.nn.Module) -> dict[str, np.ndarray]:
    return {"w1": model[0].weight.detach().numpy().T, "b1": model[0].bias.detach().numpy(),
            "w2": model[2].weight.detach().numpy().T, "b2": model[2].bias.detach().numpy()}


def torch_batch(b: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(v) for k, v in b.items()}


def run(module, workload, params, hyperparameters, data, on_step=None):
    """AlgoPerf's training loop (submission_runner.py's train_once, minus time and evals)."""
    rng = jax.random.PRNGKey(0) if module is jax_submission else 0
    model_state = None
    state = module.init_optimizer_state(workload, params, model_state, hyperparameters, rng)
    queue = iter(data)
    for global_step in range(len(data)):
        if on_step is not None:
            on_step(global_step, state, params)
        batch = module.data_selection(workload, queue, state, params, model_state,
                                      hyperparameters, global_step, rng)
        state, params, model_state = module.update_params(
            workload=workload, current_param_container=params, current_params_types=None,
            model_state=model_state, hyperparameters=hyperparameters, batch=batch,
            loss_type=None, optimizer_state=state, eval_results=[], global_step=global_step,
            rng=rng, train_state={})
        state, params, model_state = module.prepare_for_eval(
            workload=workload, current_param_container=params, current_params_types=None,
            model_state=model_state, hyperparameters=hyperparameters, loss_type=None,
            optimizer_state=state, eval_results=[], global_step=global_step + 1, rng=rng)
    return state, params


def max_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    return max(float(np.max(np.abs(np.asarray(a[k]) - np.asarray(b[k])))) for k in a)


def torch_reference(point, weights, data, total_steps, grad_clip=None) -> dict[str, np.ndarray]:
    """hplists.torch.NAdamW and the hplists schedule in a plain loop."""
    model = torch_model(weights)
    opt = NAdamW(model.parameters(), lr=point.learning_rate, betas=(point.beta1, point.beta2),
                 eps=point.eps, weight_decay=point.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, WarmupCosineFactor(warmup_steps(point.warmup_fraction, total_steps), total_steps))
    for b in map(torch_batch, data):
        opt.zero_grad()
        out = torch_loss(b["targets"], model(b["inputs"]), b["weights"], point.label_smoothing)
        (out["summed"] / out["n_valid_examples"]).backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        opt.step()
        sched.step()
    return torch_weights(model)


def optax_loop(tx, point, weights, data, *, with_loss: bool = False):
    """``tx`` in a plain jitted loop over ``data`` (the loss as ``value`` if ``with_loss``):
    ``(params, state)``."""
    params = {k: jnp.asarray(v) for k, v in weights.items()}
    state = tx.init(params)

    def mean_loss(p, b):
        out = jax_loss(b["targets"], jax_logits(p, b["inputs"]), b["weights"],
                       point.label_smoothing)
        return out["summed"] / out["n_valid_examples"]

    @jax.jit
    def step(params, state, b):
        loss, grads = jax.value_and_grad(mean_loss)(params, b)
        updates, state = tx.update(grads, state, params, **({"value": loss} if with_loss else {}))
        return optax.apply_updates(params, updates), state

    for b in data:
        params, state = step(params, state, b)
    return params, state


def optax_reference(point, weights, data, total_steps) -> dict[str, np.ndarray]:
    """optax.nadamw with the hplists schedule: a jitted step of its own."""
    tx = optax.nadamw(warmup_cosine(point.learning_rate, point.warmup_fraction, total_steps),
                      b1=point.beta1, b2=point.beta2, eps=point.eps,
                      weight_decay=point.weight_decay)
    params, _ = optax_loop(tx, point, weights, data)
    return {k: np.asarray(v) for k, v in params.items()}


def jax_params(weights):
    """Parameters replicated over all devices, as AlgoPerf's JAX workloads initialize them."""
    mesh = Mesh(jax.devices(), ("batch",))
    return jax.device_put({k: jnp.asarray(v) for k, v in weights.items()},
                          NamedSharding(mesh, PartitionSpec()))


# (a) the parameters are those of hplists' NAdamW + schedule, run directly


@pytest.mark.parametrize("i", [0, 1])
def test_pytorch_submission_equals_hplists_nadamw_and_schedule(i):
    point, weights, data = get_list("nadamw-paper")[i], initial_weights(), batches()
    workload = TorchWorkload()
    _, model = run(pytorch_submission, workload, torch_model(weights), trial(i),
                   [torch_batch(b) for b in data])
    got, want = torch_weights(model), torch_reference(point, weights, data, STEP_HINT)
    assert max_diff(got, want) == 0.0  # the same optimizer and schedule: bit for bit
    assert max_diff(got, weights) > 1e-3  # and it trained
    assert workload.dropout_rates == [point.dropout_rate] * STEPS
    assert [s for s, _ in workload.metrics_logger.rows] == [0]


@functools.cache
def jax_run(grad_clip: float | None = None, dtype=np.float64):
    """The JAX submission's run of point 0 (one compilation per call, so shared by the
    tests): ``(final params, params before each update)``, as numpy."""
    extra = {} if grad_clip is None else {"grad_clip": grad_clip}
    weights = {k: v.astype(dtype) for k, v in initial_weights().items()}
    data = [dict(b, inputs=b["inputs"].astype(dtype), weights=b["weights"].astype(dtype))
            for b in batches()]
    snapshots: list[dict[str, np.ndarray]] = []

    def on_step(step, state, params):
        snapshots.append({k: np.asarray(v) for k, v in params.items()})

    with jax.enable_x64(dtype == np.float64):
        _, params = run(jax_submission, JaxWorkload(), jax_params(weights), trial(0, **extra),
                        data, on_step)
        assert params["w1"].dtype == dtype
    return {k: np.asarray(v) for k, v in params.items()}, snapshots


@functools.cache
def optax_run() -> dict[str, np.ndarray]:
    with jax.enable_x64(True):
        return optax_reference(get_list("nadamw-paper")[0], initial_weights(), batches(),
                               STEP_HINT)


def test_jax_submission_equals_optax_nadamw_and_schedule():
    params, _ = jax_run()
    # Measured: 1.1e-16 (parameters of scale 1; both jitted, on one CPU device).
    assert max_diff(params, optax_run()) < 1e-14
    assert max_diff(params, initial_weights()) > 1e-3


@pytest.mark.parametrize("grad_clip", [None, 0.05])
def test_both_submissions_train_the_same_parameters(grad_clip):
    """The PyTorch submission runs optax.nadamw's rule: it and the JAX one agree in float64,
    gradient clipping included."""
    weights, data = initial_weights(), batches()
    extra = {} if grad_clip is None else {"grad_clip": grad_clip}
    _, model = run(pytorch_submission, TorchWorkload(), torch_model(weights), trial(0, **extra),
                   [torch_batch(b) for b in data])
    # Measured: 4.4e-16 (no clipping) and 6.7e-16 (clipping), parameters of scale 1.3.
    assert max_diff(torch_weights(model), jax_run(grad_clip)[0]) < 1e-13
    if grad_clip is not None:
        clipped = torch_reference(get_list("nadamw-paper")[0], weights, data, STEP_HINT, grad_clip)
        assert max_diff(torch_weights(model), clipped) == 0.0
        unclipped = torch_reference(get_list("nadamw-paper")[0], weights, data, STEP_HINT)
        assert max_diff(clipped, unclipped) > 1e-4  # the clipping acted


def test_jax_submission_works_in_float32_within_1e_6():
    params, _ = jax_run(dtype=np.float32)
    # Measured: 2.6e-7 from the float64 reference.
    assert max_diff(params, optax_run()) < 1e-6


# (b) the learning rate is 0 at step 0 and at and after the horizon


def test_pytorch_learning_rate_is_0_at_step_0_and_from_the_horizon_on():
    point, weights = get_list("nadamw-paper")[0], initial_weights()
    lrs, snapshots = [], []

    def on_step(step, state, model):
        lrs.append(state["optimizer"].param_groups[0]["lr"])
        snapshots.append(copy.deepcopy(torch_weights(model)))

    _, model = run(pytorch_submission, TorchWorkload(), torch_model(weights), trial(0),
                   [torch_batch(b) for b in batches()], on_step)
    warm = warmup_steps(point.warmup_fraction, STEP_HINT)
    assert lrs == [point.learning_rate * warmup_cosine_factor(t, warm, STEP_HINT)
                   for t in range(STEPS)]
    assert lrs[0] == 0.0 and lrs[warm] == point.learning_rate
    assert lrs[STEP_HINT:] == [0.0] * (STEPS - STEP_HINT) and min(lrs[1:STEP_HINT]) > 0
    # Update 0 (lr 0) moves nothing, nor do the updates from the horizon on.
    assert max_diff(snapshots[1], weights) == 0.0
    assert all(max_diff(s, snapshots[STEP_HINT]) == 0.0
               for s in [*snapshots[STEP_HINT:], torch_weights(model)])


def test_jax_learning_rate_is_0_at_step_0_and_from_the_horizon_on():
    schedule = common.read_trial(JaxWorkload(), trial(0)).schedule()
    assert schedule(0) == 0.0 and schedule(STEP_HINT) == 0.0 and schedule(STEP_HINT + 7) == 0.0
    final, snapshots = jax_run()
    assert max_diff(snapshots[1], initial_weights()) == 0.0
    assert max_diff(snapshots[2], initial_weights()) > 0.0
    assert all(max_diff(s, snapshots[STEP_HINT]) == 0.0
               for s in [*snapshots[STEP_HINT:], final])


def test_step_hint_factor_sets_the_horizon():
    hp = trial(0, step_hint_factor=0.75)
    state = pytorch_submission.init_optimizer_state(TorchWorkload(), torch_model(initial_weights()),
                                                    None, hp, 0)
    assert state["scheduler"].lr_lambdas[0].total_steps == int(0.75 * STEP_HINT)
    assert common.read_trial(TorchWorkload(), trial(0)).total_steps == STEP_HINT


# (c) `hplists export --format algoperf` is what the submissions read


def jax_updates(trials, points, steps: int = 3) -> list[tuple[dict, dict]]:
    """For each trial, ``steps`` updates on random gradients by the JAX submission's
    ``update_fn`` and by ``optax.nadamw`` built from its point: one jitted call for all."""
    rng = np.random.default_rng(2)
    with jax.enable_x64(True):
        params = jax_params(initial_weights())
        grads = {k: jnp.asarray(rng.standard_normal((steps, *v.shape))) for k, v in params.items()}
        rules = []
        for hp, point in zip(trials, points, strict=True):
            state, update_fn = jax_submission.init_optimizer_state(
                JaxWorkload(), params, None, hp, jax.random.PRNGKey(0))
            tx = optax.nadamw(warmup_cosine(point.learning_rate, point.warmup_fraction,
                                            STEP_HINT),
                              b1=point.beta1, b2=point.beta2, eps=point.eps,
                              weight_decay=point.weight_decay)
            rules.append(((update_fn, state), (tx.update, tx.init(params))))

        def train(update, opt_state):
            def body(carry, g):
                p, s = carry
                u, s = update(g, s, p)
                return (optax.apply_updates(p, u), s), None

            return jax.lax.scan(body, (params, opt_state), grads)[0][0]

        out = jax.jit(lambda: [(train(*ours), train(*want)) for ours, want in rules])()
        return [tuple({k: np.asarray(v) for k, v in x.items()} for x in pair) for pair in out]


def test_exported_search_space_yields_the_lists_points(tmp_path, capsys):
    path = tmp_path / "space.json"
    assert main(["export", "nadamw-paper", "--format", "algoperf", "-o", str(path)]) == 0
    assert "--submission_path" in capsys.readouterr().err  # the hint to run it with us
    points = get_list("nadamw-paper")
    trials = generate_search(json.loads(path.read_text()))
    assert len(trials) == len(points)
    weights = initial_weights()
    for hp, point in zip(trials, points, strict=True):
        assert common.read_trial(TorchWorkload(), hp).point == point
        state = pytorch_submission.init_optimizer_state(TorchWorkload(), torch_model(weights),
                                                        None, hp, 0)
        group = state["optimizer"].param_groups[0]
        assert (group["initial_lr"], group["lr"]) == (point.learning_rate, 0.0)
        assert group["betas"] == (point.beta1, point.beta2)
        assert (group["eps"], group["weight_decay"]) == (point.eps, point.weight_decay)
        factor = state["scheduler"].lr_lambdas[0]
        assert (factor.warmup, factor.total_steps) == (
            warmup_steps(point.warmup_fraction, STEP_HINT), STEP_HINT)
    # JAX: the submission's update_fn is optax.nadamw with the point's constants, exactly.
    for got, want in jax_updates(trials, points):
        assert max_diff(got, want) == 0.0 and max_diff(got, initial_weights()) > 0.0


# (d) bad hyperparameters fail with the field's name


BAD = [
    ({"drop": "learning_rate"}, "missing required key 'learning_rate'"),
    ({"drop": "one_minus_beta1"}, "needs 'one_minus_beta1'"),
    ({"one_minus_beta1": 0.0}, r"one_minus_beta1 must be in \(0, 1\], got 0.0"),
    ({"one_minus_beta1": 1.5}, r"one_minus_beta1 must be in \(0, 1\], got 1.5"),
    ({"beta2": 1.0}, r"beta2 must be in \[0, 1\), got 1.0"),
    ({"learing_rate": 1e-3}, "unknown AlgoPerf key.*'learing_rate'"),
    ({"grad_clip": 0.0}, "grad_clip must be in"),
    ({"step_hint_factor": -1.0}, "step_hint_factor must be in"),
]


@pytest.mark.parametrize("module", [pytorch_submission, jax_submission])
@pytest.mark.parametrize(("change", "message"), BAD)
def test_bad_hyperparameters_name_the_field(module, change, message):
    d = get_list("nadamw-paper")[0].to_algoperf()
    change = dict(change)
    d.pop(change.pop("drop", None), None)
    d.update(change)
    params = torch_model(initial_weights()) if module is pytorch_submission else jax_params(
        initial_weights())
    with pytest.raises(InvalidParameterError, match=f"AlgoPerf hyperparameters: .*{message}"):
        module.init_optimizer_state(TorchWorkload(), params, None, generate_search([d])[0], 0)


def test_no_hyperparameters_or_a_bad_step_hint_is_explained():
    model = torch_model(initial_weights())
    with pytest.raises(InvalidParameterError, match="external-tuning ruleset"):
        pytorch_submission.init_optimizer_state(TorchWorkload(), model, None, None, 0)
    with pytest.raises(InvalidParameterError, match=r"workload.step_hint must be an integer"):
        pytorch_submission.init_optimizer_state(TorchWorkload(0), model, None, trial(0), 0)
    with pytest.raises(InvalidParameterError, match="at least 1 step"):
        common.read_trial(TorchWorkload(1), trial(0, step_hint_factor=0.5))


# (e) the documented difference to AlgoPerf's NAdamW


def test_algoperf_bias_correction_makes_the_first_step_1_29_times_larger():
    """docs/algoperf.md: AlgoPerf's baselines use m_hat = (b1 m_t + (1 - b1) g_t) / (1 - b1^t);
    optax.nadamw (and hplists) b1 m_t / (1 - b1^(t+1)) + (1 - b1) g_t / (1 - b1^t)."""
    b1, b2, g = 0.9, 0.99, 1.0
    w = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = NAdamW([w], lr=1.0, betas=(b1, b2), eps=0.0, weight_decay=0.0)
    w.grad = torch.full_like(w, g)
    opt.step()
    ours = -float(w.detach())  # lr 1: the step is m_hat / sqrt(v_hat), v_hat = g^2 at t = 1
    m1 = (1 - b1) * g
    assert ours == pytest.approx(b1 * m1 / (1 - b1**2) + (1 - b1) * g / (1 - b1), rel=1e-15)
    algoperf = (b1 * m1 + (1 - b1) * g) / (1 - b1) / abs(g)
    assert algoperf / ours == pytest.approx((1 + b1) ** 2 / (1 + 2 * b1), rel=1e-15)
    assert round(algoperf / ours, 2) == 1.29


# Loading: AlgoPerf's module contract


@pytest.mark.parametrize(("framework", "module"),
                         [("pytorch", pytorch_submission), ("jax", jax_submission)])
def test_the_shim_loads_as_submission_runner_loads_it(tmp_path, monkeypatch, framework, module):
    (tmp_path / f"hplists_nadamw_{framework}.py").write_text(shim(framework))
    monkeypatch.syspath_prepend(str(tmp_path))
    # submission_runner.py: the path minus ".py", "/" -> ".", then importlib.import_module.
    loaded = importlib.import_module(f"hplists_nadamw_{framework}.py"[:-3].replace("/", "."))
    try:
        for name, args in SPEC.items():
            assert getattr(loaded, name) is getattr(module, name)
            assert list(inspect.signature(getattr(module, name)).parameters) == args
        assert "train_state" in inspect.signature(loaded.update_params).parameters
    finally:
        sys.modules.pop(f"hplists_nadamw_{framework}", None)


def test_batch_sizes_are_the_baselines_and_variants_fall_back():
    assert pytorch_submission.get_batch_size("imagenet_resnet") == 1024
    assert jax_submission.get_batch_size("imagenet_resnet_silu") == 512
    # submission_runner.py retries with the base workload's name on a ValueError.
    with pytest.raises(ValueError, match="wmt_post_ln"):
        pytorch_submission.get_batch_size("wmt_post_ln")


def test_the_package_imports_without_algoperf():
    assert importlib.util.find_spec("algoperf") is None  # as here: not installable
    assert common.train_mode().name == "TRAIN"


# (f) the self-tuning ruleset: one point of any list, brought by the submission

LISTS = Path(__file__).resolve().parent / "data" / "lists"
SELF_HINT = 8  # M = 3 x 8 = 24 steps for the learning-rate-free lists' points


def self_tuning_list(name: str):
    return get_list(name if name == "nadamw-paper" else str(LISTS / f"{name}-example.json"))


def self_tuning_point(name: str):
    return self_tuning_list(name)[0]


def run_self_tuning(module, point, workload, params, budget_factor):
    """submission_runner.py's loop under --tuning_ruleset=self: no hyperparameters, updates
    until update_params raises TrainingCompleteError, prepare_for_eval after every update
    (an eval each step) and once at the end. ``(params, updates made)``."""
    f = module.self_tuning(point, budget_factor=budget_factor)
    rng = jax.random.PRNGKey(0) if module is jax_submission else 0
    convert = torch_batch if module is pytorch_submission else (lambda b: b)
    state = f["init_optimizer_state"](workload, params, None, None, rng)
    queue, model_state, step = iter(map(convert, batches(4 * SELF_HINT))), None, 0
    while True:
        batch = f["data_selection"](workload, queue, state, params, model_state, None, step, rng)
        try:
            state, params, model_state = f["update_params"](
                workload=workload, current_param_container=params, current_params_types=None,
                model_state=model_state, hyperparameters=None, batch=batch, loss_type=None,
                optimizer_state=state, eval_results=[], global_step=step, rng=rng,
                train_state={})
        except common.TrainingCompleteError:
            break
        step += 1
        state, params, model_state = f["prepare_for_eval"](
            workload=workload, current_param_container=params, current_params_types=None,
            model_state=model_state, hyperparameters=None, loss_type=None,
            optimizer_state=state, eval_results=[], global_step=step, rng=rng)
    return params, step


def torch_build_reference(point, steps: int, budget: int) -> dict[str, np.ndarray]:
    """hplists.torch.build's optimizer in a plain loop, the loss through the closure."""
    model = torch_model(initial_weights())
    opt, sched = hplists_torch.build(point, model, budget)
    for b in map(torch_batch, batches(steps)):
        opt.zero_grad()
        out = torch_loss(b["targets"], model(b["inputs"]), b["weights"], point.label_smoothing)
        loss = out["summed"] / out["n_valid_examples"]
        loss.backward()
        opt.step(lambda loss=loss: loss)
        sched.step()
    with hplists_torch.evaluating(opt):
        return copy.deepcopy(torch_weights(model))


def optax_build_reference(point, steps: int, budget: int) -> dict[str, np.ndarray]:
    """hplists.optax.build's transformation in a plain jitted loop, the loss as ``value``."""
    params, state = optax_loop(hplists_optax.build(point, budget), point, initial_weights(),
                               batches(steps), with_loss=True)
    return {k: np.asarray(v) for k, v in hplists_optax.eval_params(state, params).items()}


@pytest.mark.parametrize("name", ["prodigy", "momo_adam", "sfadamw", "nadamw-paper"])
def test_self_tuning_pytorch_trains_the_point_as_hplists_torch_build_does(name):
    """Horizon, budget, the loss for MoMo, Schedule-Free evaluated at its average (swapped in
    by prepare_for_eval, back by update_params): the plain hplists.torch.build loop's result."""
    point, factor = self_tuning_point(name), self_tuning_list(name).budget_factor
    run = common.SelfTuning(point, factor)
    workload = TorchWorkload(SELF_HINT)
    model, updates = run_self_tuning(pytorch_submission, point, workload,
                                     torch_model(initial_weights()), factor)
    assert updates == run.steps(workload) == hplists.steps_to_run(point, run.budget(workload))
    assert run.budget(workload) == (SELF_HINT if name == "nadamw-paper" else 3 * SELF_HINT)
    want = torch_build_reference(point, updates, run.budget(workload))
    # Measured: 0, and 2.2e-16 for Schedule-Free, whose eval/train swap after every update
    # rounds (parameters of scale 1).
    assert max_diff(torch_weights(model), want) < 1e-13
    assert max_diff(want, initial_weights()) > 1e-6  # it trained (Prodigy's d starts at 1e-6)


@pytest.mark.parametrize("name", ["prodigy", "momo_adam", "sfadamw", "nadamw-paper"])
def test_self_tuning_jax_trains_the_point_as_hplists_optax_build_does(name):
    """The same in JAX: Schedule-Free's average is evaluated while training resumes from the
    iterate prepare_for_eval kept. Both frameworks' submissions train the same parameters."""
    point, factor = self_tuning_point(name), self_tuning_list(name).budget_factor
    run = common.SelfTuning(point, factor)
    workload = JaxWorkload(SELF_HINT)
    with jax.enable_x64(True):
        params, updates = run_self_tuning(jax_submission, point, workload,
                                          jax_params(initial_weights()), factor)
        want = optax_build_reference(point, updates, run.budget(workload))
    assert updates == run.steps(workload)
    # Measured: at most 1.1e-16; PyTorch's loop 4.4e-16 to 1.6e-15 away.
    assert max_diff({k: np.asarray(v) for k, v in params.items()}, want) < 1e-13
    assert max_diff(want, torch_build_reference(point, updates, run.budget(workload))) < 1e-12
    assert max_diff(want, initial_weights()) > 1e-6


def test_self_tuning_nadamw_with_a_horizon_spans_its_schedule_to_the_horizon():
    """A NAdamW point of the learning-rate-free study (horizon h of M = 3 T) trains int(h M)
    updates with its schedule ending there: the external submission's run of that horizon."""
    base = get_list("nadamw-paper")[0]
    point = MethodPoint("nadamw", {**base.to_dict(), "horizon": 0.5})
    run = common.SelfTuning(point, 3)
    workload = TorchWorkload(SELF_HINT)
    model, updates = run_self_tuning(pytorch_submission, point, workload,
                                     torch_model(initial_weights()), 3)
    assert updates == run.steps(workload) == 12
    want = torch_reference(base, initial_weights(), batches(12), 12)
    assert max_diff(torch_weights(model), want) == 0.0


def test_self_tuning_refuses_a_search_space_and_bad_settings():
    point = self_tuning_point("prodigy")
    for module in (pytorch_submission, jax_submission):
        f = module.self_tuning(point, budget_factor=3)
        with pytest.raises(InvalidParameterError, match="--tuning_ruleset=self"):
            f["init_optimizer_state"](TorchWorkload(), None, None, trial(0), None)
    with pytest.raises(InvalidParameterError, match="budget_factor"):
        common.SelfTuning(point, budget_factor=0)
    with pytest.raises(InvalidParameterError, match="horizon must be in"):
        common.SelfTuning(MethodPoint("prodigy", {"horizon": 1.5}), 3)
    with pytest.raises(InvalidParameterError, match="index must be below 5"):
        common.self_tuning_shim("jax", "nadamw-paper", index=5)
    with pytest.raises(InvalidParameterError, match="nadamw-papre"):
        common.self_tuning_shim("jax", "nadamw-papre")
    assert common.SelfTuning(point, budget_factor=1.5).budget(TorchWorkload(10)) == 15


@pytest.mark.parametrize(("framework", "module"),
                         [("pytorch", pytorch_submission), ("jax", jax_submission)])
def test_the_self_tuning_shim_loads_as_submission_runner_loads_it(tmp_path, monkeypatch,
                                                                  framework, module):
    """The file defines AlgoPerf's five functions with spec.py's argument names, for the
    list's point at the given index and budget."""
    path = str(LISTS / "momo_adam-example.json")
    # The list's own budget by default (3: a learning-rate-free list's), or the one given.
    assert "budget_factor=3.0))" in common.self_tuning_shim(framework, path, index=1)
    text = common.self_tuning_shim(framework, path, index=1, budget_factor=2)
    (tmp_path / f"hplists_self_{framework}.py").write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    seen = []
    real = module.self_tuning
    monkeypatch.setattr(module, "self_tuning",
                        lambda point, **kw: seen.append((point, kw)) or real(point, **kw))
    loaded = importlib.import_module(f"hplists_self_{framework}")
    try:
        assert seen == [(get_list(path)[1], {"budget_factor": 2.0})]
        for name, args in SPEC.items():
            assert list(inspect.signature(getattr(loaded, name)).parameters) == args
    finally:
        sys.modules.pop(f"hplists_self_{framework}", None)
