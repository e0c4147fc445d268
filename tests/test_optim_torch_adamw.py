"""AdamW in PyTorch (hplists.optim.torch_adamw) computes the rule of hplists.optim.adamw:
optax.adamw with the warmup-cosine schedule, which the learning-rate-free study's AdamW
baselines train with."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

torch = pytest.importorskip("torch")

import hplists  # noqa: E402
from helpers.quadratic import noisy_quadratic  # noqa: E402
from hplists import MethodPoint, steps_to_run  # noqa: E402
from hplists.exceptions import InvalidParameterError  # noqa: E402
from hplists.optim import torch_adamw  # noqa: E402

STEPS = 60
BASE = {"learning_rate": 3e-2, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.1,
        "warmup_fraction": 0.1}
POINTS = {
    "plain": MethodPoint("adamw", BASE),
    "horizon 0.5, eps 1e-3": MethodPoint("adamw", {**BASE, "horizon": 0.5, "eps": 1e-3}),
    "no warmup, beta1 0.5": MethodPoint("adamw", {**BASE, "warmup_fraction": 0.0,
                                                  "beta1": 0.5}),
}


def _gradients(seed: int, shape: tuple[int, ...]):
    return noisy_quadratic(seed, shape, STEPS)


def _jax_run(point, theta0, grad):
    steps = steps_to_run(point, STEPS)
    with jax.enable_x64(True):
        tx = hplists.optax.build(point, STEPS)
        theta = jnp.asarray(theta0, jnp.float64)
        state = tx.init(theta)
        out = []
        for s in range(steps):
            u, state = tx.update(jnp.asarray(grad(s, np.asarray(theta))), state, theta)
            theta = optax.apply_updates(theta, u)
            out.append(np.asarray(theta))
    return np.array(out)


def _torch_run(point, theta0, grad):
    theta = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
    opt, sched = hplists.torch.build(point, [theta], STEPS)
    out = []
    for s in range(steps_to_run(point, STEPS)):
        theta.grad = torch.tensor(grad(s, theta.detach().numpy()))
        opt.step()
        sched.step()
        out.append(theta.detach().numpy().copy())
    return np.array(out), opt, sched


@pytest.mark.parametrize("name", sorted(POINTS))
def test_float64_trajectory_is_the_jax_rules(name):
    """Every parameter after every step, float64 in both: within 1e-12 of the distance
    travelled (measured: at most 1.2e-15)."""
    point = POINTS[name]
    theta0 = np.random.default_rng(0).normal(size=(7,))
    grad = _gradients(1, (7,))
    want = _jax_run(point, theta0, grad)
    got, opt, _ = _torch_run(point, theta0, grad)
    assert isinstance(opt, torch.optim.AdamW) and got.shape == want.shape
    scale = np.max(np.abs(want - theta0))
    assert scale > 0.1
    assert np.max(np.abs(got - want)) <= 1e-12 * scale


def test_a_horizon_ends_the_schedule_there():
    point = POINTS["horizon 0.5, eps 1e-3"]
    theta = torch.zeros(3, requires_grad=True)
    opt, sched = hplists.torch.build(point, [theta], STEPS)
    lrs = []
    for _ in range(steps_to_run(point, STEPS)):
        lrs.append(opt.param_groups[0]["lr"])
        theta.grad = torch.ones(3)
        opt.step()
        sched.step()
    assert len(lrs) == 30 and lrs[0] == 0.0 and max(lrs) == pytest.approx(3e-2)
    assert opt.param_groups[0]["lr"] == 0.0  # after update 30: the schedule's end


def test_state_dict_round_trip_resumes_the_same_trajectory():
    point = POINTS["plain"]
    grad = _gradients(2, (5,))
    theta0 = np.zeros(5)
    want, _, _ = _torch_run(point, theta0, grad)
    theta = torch.tensor(theta0, requires_grad=True)
    opt, sched = hplists.torch.build(point, [theta], STEPS)
    for s in range(20):
        theta.grad = torch.tensor(grad(s, theta.detach().numpy()))
        opt.step()
        sched.step()
    saved = opt.state_dict(), sched.state_dict(), theta.detach().clone()
    theta2 = saved[2].clone().requires_grad_(True)
    opt2, sched2 = hplists.torch.build(point, [theta2], STEPS)
    opt2.load_state_dict(saved[0])
    sched2.load_state_dict(saved[1])
    for s in range(20, STEPS):
        theta2.grad = torch.tensor(grad(s, theta2.detach().numpy()))
        opt2.step()
        sched2.step()
    assert np.array_equal(theta2.detach().numpy(), want[-1])


def test_bad_points_and_options_name_what_is_wrong():
    with pytest.raises(InvalidParameterError, match=r"needs hyperparameter\(s\) \['beta2'\]"):
        torch_adamw.build({k: v for k, v in BASE.items() if k != "beta2"},
                          torch.nn.Linear(2, 1), 10)
    with pytest.raises(InvalidParameterError, match="warmup_fraction"):
        torch_adamw.build({k: v for k, v in BASE.items() if k != "warmup_fraction"},
                          torch.nn.Linear(2, 1), 10)
    with pytest.raises(InvalidParameterError, match="'adamw' takes none"):
        hplists.torch.build(POINTS["plain"], torch.nn.Linear(2, 1), 10, fused=True)
