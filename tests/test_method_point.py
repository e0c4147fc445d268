"""Every list's points read alike and build in both frameworks, horizons included."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

import hplists
from hplists import HParams, MethodPoint, steps_to_run
from hplists.exceptions import InvalidParameterError
from hplists.method_point import method_of
from hplists.optim import lrfree

EXAMPLES = sorted((Path(__file__).parent / "data" / "lists").glob("*.json"))
# Shipped lists, and list files of the learning-rate-free kind (Prodigy with horizons,
# Mechanic, Schedule-Free), read the way `hplists build -o` output is read.
ALL_LISTS = [*hplists.available_lists(), *map(str, EXAMPLES)]


def test_example_list_files_cover_the_learning_rate_free_kinds():
    methods = {hplists.get_list(str(p)).optimizer for p in EXAMPLES}
    assert {"prodigy", "mechanic_adam", "sfadamw"} <= methods


@pytest.mark.parametrize("name", ALL_LISTS)
def test_every_point_answers_the_regularizers_and_its_method(name):
    named = hplists.get_list(name)
    for point in named:
        assert isinstance(point, (HParams, MethodPoint))
        assert point.method == named.optimizer
        assert 0.0 <= point.dropout_rate < 1.0 and 0.0 <= point.label_smoothing < 1.0


def test_a_method_point_is_a_read_only_mapping_equal_to_its_dict():
    p = MethodPoint("prodigy", {"beta1": 0.9, "horizon": 0.5})
    assert p == {"beta1": 0.9, "horizon": 0.5} and dict(p) == p.to_dict()
    assert p != MethodPoint("dog", {"beta1": 0.9, "horizon": 0.5})
    assert hash(p) == hash(MethodPoint("prodigy", {"horizon": 0.5, "beta1": 0.9}))
    assert pickle.loads(pickle.dumps(p)) == p and pickle.loads(pickle.dumps(p)).method == "prodigy"
    with pytest.raises(AttributeError, match="read-only"):
        p.beta1 = 0.5  # type: ignore[misc]
    with pytest.raises(AttributeError, match=r"no hyperparameter 'learning_rate'.*\['beta1'"):
        _ = p.learning_rate
    with pytest.raises(InvalidParameterError, match="beta1"):
        MethodPoint("prodigy", {"beta1": float("nan")})
    assert p.replace(beta1=0.5).beta1 == 0.5 and p.beta1 == 0.9


def test_a_method_that_contradicts_the_point_is_an_error_not_a_choice():
    with pytest.raises(InvalidParameterError, match="contradicts"):
        method_of(HParams(1e-3, 0.9, 0.99), "prodigy")
    with pytest.raises(InvalidParameterError, match=r"\['horizon'\] are not HParams fields.*method="):
        method_of({"beta1": 0.9, "horizon": 0.5})
    assert method_of({"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.99}) == "nadamw"
    with pytest.raises(InvalidParameterError, match="point must be an HParams"):
        method_of([1e-3, 0.9])
    assert method_of({"beta1": 0.9}, "dog") == "dog"


def test_steps_to_run_is_the_engines_trial_length():
    from hplists.workloads.engine import trial_steps

    for h in (0.33, 0.5, 0.66, 0.29, 1.0):
        for total in (1, 7, 100, 1200, 31998):
            assert steps_to_run({"horizon": h}, total) == trial_steps({"horizon": h}, total)
    assert steps_to_run(HParams(1e-3, 0.9, 0.99), 50) == 50


def _train_optax(tx, steps):
    import jax
    import jax.numpy as jnp
    import optax

    params = {"w": jnp.ones((4, 3)), "b": jnp.zeros(3)}
    state = tx.init(params)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        noise = {k: jnp.asarray(rng.normal(size=v.shape), v.dtype) for k, v in params.items()}
        # A noisy quadratic; the loss goes to every rule (MoMo's need it, the others ignore it).
        loss, grads = jax.value_and_grad(lambda p, n=noise: sum(
            jnp.sum(p[k] ** 2 + n[k] * p[k]) for k in p))(params)
        updates, state = tx.update(grads, state, params, value=loss)
        params = optax.apply_updates(params, updates)
    return params


@pytest.mark.parametrize("name", ALL_LISTS)
def test_optax_build_trains_every_lists_first_point(name):
    point = hplists.get_list(name)[0]
    params = _train_optax(hplists.optax.build(point, total_steps=20), 5)
    assert all(np.isfinite(np.asarray(v)).all() for v in params.values())
    assert not np.array_equal(np.asarray(params["w"]), np.ones((4, 3)))  # it trained


@pytest.mark.parametrize("point", [
    HParams(1e-3, 0.9, 0.99, warmup_fraction=0.1),
    MethodPoint("prodigy", {"beta1": 0.9, "beta2": 0.99, "warmup_fraction": 0.1, "horizon": 0.5}),
])
def test_optax_updates_past_the_schedule_end_warn_once(point):
    steps = steps_to_run(point, 20)
    tx = hplists.optax.build(point, total_steps=20)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        _train_optax(tx, steps)
    assert not [x for x in w if "past the end" in str(x.message)]
    tx = hplists.optax.build(point, total_steps=20)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        _train_optax(tx, steps + 3)
    assert len([x for x in w if "past the end" in str(x.message)]) == 1


def test_optax_horizon_point_has_a_zero_learning_rate_from_its_horizon():
    """After int(h T) steps the relative schedule is 0: the parameters stop moving."""
    import jax.numpy as jnp
    import optax

    point = MethodPoint("prodigy", {"beta1": 0.9, "beta2": 0.99, "warmup_fraction": 0.1,
                                    "horizon": 0.5})
    tx = hplists.optax.build(point, total_steps=40)
    params = {"w": jnp.ones(3)}
    state = tx.init(params)
    history = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(25):
            updates, state = tx.update({"w": jnp.ones(3)}, state, params)
            params = optax.apply_updates(params, updates)
            history.append(np.asarray(params["w"]).copy())
    assert not np.array_equal(history[5], history[19])
    assert np.array_equal(history[20], history[24])  # steps 21.. have s_t = 0




@pytest.mark.parametrize("name", ALL_LISTS)
def test_torch_build_trains_every_lists_first_point(name):
    torch = pytest.importorskip("torch")
    from hplists import torch_lrfree

    point = hplists.get_list(name)[0]
    reason = torch_lrfree.UNSUPPORTED.get(point.method)
    net = torch.nn.Linear(3, 2)
    if reason is not None:
        with pytest.raises(InvalidParameterError, match=point.method):
            hplists.torch.build(point, net, total_steps=20)
        pytest.skip(f"{point.method}: {reason}")
    if point.method in torch_lrfree.PACKAGES:
        pytest.importorskip(torch_lrfree.PACKAGES[point.method].replace("-optimizer", ""))
    opt, sched = hplists.torch.build(point, net, total_steps=20)
    before = net.weight.detach().clone()
    needs_loss = point.method in lrfree.METHODS and lrfree.get_method(point.method).needs_loss
    for _ in range(5):
        loss = net(torch.ones(4, 3)).square().mean()
        loss.backward()
        if needs_loss:
            opt.step(loss=loss)
        else:
            opt.step()
        sched.step()
        opt.zero_grad()
    assert torch.isfinite(net.weight).all() and not torch.equal(before, net.weight)


def test_torch_horizon_point_stops_at_its_horizon_and_warns_once_past_it():
    torch = pytest.importorskip("torch")
    pytest.importorskip("prodigyopt")
    point = MethodPoint("prodigy", {"beta1": 0.9, "beta2": 0.99, "warmup_fraction": 0.1,
                                    "horizon": 0.5})
    net = torch.nn.Linear(3, 1)
    opt, sched = hplists.torch.build(point, net, total_steps=40)
    lrs = []
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for _ in range(24):
            lrs.append(opt.param_groups[0]["lr"])
            net(torch.ones(2, 3)).square().mean().backward()
            opt.step()
            sched.step()
            opt.zero_grad()
    assert steps_to_run(point, 40) == 20 and lrs[20:] == [0.0] * 4 and lrs[10] > 0
    assert len([x for x in w if "past the end" in str(x.message)]) == 1


def test_a_nadamw_point_with_a_horizon_is_nadamw_over_its_horizon_in_both_frameworks():
    """The learning-rate-free study's NAdamW baselines carry a horizon h: their schedule spans
    int(h T) steps, so each build equals the plain HParams' over int(h T) (it refused before:
    'unknown HParams field horizon')."""
    torch = pytest.importorskip("torch")
    import jax.numpy as jnp
    import optax

    base = HParams(3e-3, 0.9, 0.99, weight_decay=0.1, warmup_fraction=0.1)
    point = MethodPoint("nadamw", {**base.to_dict(), "horizon": 0.5})
    assert steps_to_run(point, 40) == 20
    lrs = {}
    for p, total in ((point, 40), (base, 20)):
        net = torch.nn.Linear(3, 1)
        opt, sched = hplists.torch.build(p, net, total_steps=total)
        lrs[p is point] = []
        for _ in range(20):
            lrs[p is point].append(opt.param_groups[0]["lr"])
            net(torch.ones(2, 3)).square().mean().backward()
            opt.step()
            sched.step()
            opt.zero_grad()
    assert lrs[True] == lrs[False] and max(lrs[True]) == pytest.approx(3e-3)
    got = {}
    for p, total in ((point, 40), (base, 20)):
        tx = hplists.optax.build(p, total_steps=total)
        params = {"w": jnp.ones(3)}
        state = tx.init(params)
        for _ in range(20):
            updates, state = tx.update({"w": params["w"] * 0.5}, state, params)
            params = optax.apply_updates(params, updates)
        got[p is point] = np.asarray(params["w"])
    assert np.array_equal(got[True], got[False]) and not np.array_equal(got[True], np.ones(3))
