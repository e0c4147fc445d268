"""hplists.torch_lrfree: each PyTorch optimizer, as built, against the optax rule of the same name.

In float64, ``STEPS`` steps on one fixed problem (three parameter tensors, the
gradient of one smooth non-separable loss at each framework's own iterate):
the PyTorch optimizer + ``LambdaLR`` (stepped after each optimizer step) and
``get_rule(method)(hp, T)`` under ``jax.enable_x64`` must give the same
parameters after every step, to ``RTOL`` of the parameter scale (Schedule-Free:
its evaluation parameters ``x`` too). Cases include a warmup from 0 (an idle
step 0), steps past the horizon (idle steps at the end), a horizon, weight
decay, Prodigy's ``safeguard_warmup`` and Mechanic's own settings. The
``schedulefree`` package's warmup, which is why hplists has its own
Schedule-Free optimizer, is pinned exactly. ``sfadamw_algoperf`` keeps a
bfloat16 state, so it is compared fed the same gradients
(``test_sfadamw_algoperf_matches_the_rule_fed_the_same_gradients``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")

import jax.numpy as jnp  # noqa: E402

from hplists import torch_lrfree  # noqa: E402
from hplists.optim.rules import get_rule  # noqa: E402

STEPS = 30
RTOL = 1e-10
PACKAGE_MODULE = {"prodigy": "prodigyopt", "dadapt_adamw": "dadaptation", "dog": "dog",
                  "sfadamw": "hplists", "sfadamw_algoperf": "hplists", "mechanic": "hplists",
                  "mechanic_adam": "hplists", "mechanic_nadam": "hplists", "cocob": "hplists",
                  "dowg": "hplists", "momo": "hplists", "momo_adam": "hplists"}
NEEDS_LOSS = {"momo", "momo_adam"}

_RNG = np.random.default_rng(13)
X0 = [_RNG.normal(size=(3, 4)), _RNG.normal(size=(5,)), _RNG.normal(size=(2, 2))]
A = [np.abs(_RNG.normal(size=x.shape)) + 0.2 for x in X0]
C = [_RNG.normal(size=x.shape) for x in X0]


def _loss(xs, xp):
    """Quadratic per tensor, a sine, and a coupling of all tensors (the same in torch and jnp)."""
    total = 0.0
    coupling = 0.0
    for x, a, c in zip(xs, A, C, strict=True):
        total = total + 0.5 * xp.sum(xp.asarray(a) * (x - xp.asarray(c)) ** 2)
        total = total + 0.1 * xp.sum(xp.sin(3.0 * x))
        coupling = coupling + xp.sum(x)
    return total + 0.05 * coupling**2


class _TorchNS:
    sum = staticmethod(torch.sum)
    sin = staticmethod(torch.sin)

    @staticmethod
    def asarray(a):
        return torch.as_tensor(a, dtype=torch.float64)


def _train_step(method, params, opt, sched):
    """One step on the fixed loss; MoMo's optimizers get the loss, as they need it."""
    opt.zero_grad()
    loss = _loss(params, _TorchNS)
    loss.backward()
    if method in NEEDS_LOSS:
        opt.step(loss=loss)
    else:
        opt.step()
    sched.step()


def _torch_path(method, point, total_steps, steps=STEPS, eval_params=False, exact=True):
    pytest.importorskip(PACKAGE_MODULE[method])
    params = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in X0]
    opt, sched = torch_lrfree.build(method, point, params, total_steps=total_steps, exact=exact)
    out, evals = [], []
    for _ in range(steps):
        _train_step(method, params, opt, sched)
        out.append(np.concatenate([p.detach().numpy().ravel() for p in params]))
        if eval_params:
            opt.eval()
            evals.append(np.concatenate([p.detach().numpy().ravel() for p in params]))
            opt.train()
    return np.array(out), np.array(evals)


def _optax_path(method, hp, total_steps, steps=STEPS, tx=None, eval_params=False):
    with jax.enable_x64(True):
        tx = optax.with_extra_args_support(tx or get_rule(method)(hp, total_steps))
        xs = [jnp.asarray(x, dtype=jnp.float64) for x in X0]
        state = tx.init(xs)
        value_and_grad = jax.value_and_grad(lambda p: _loss(p, jnp))
        out, evals = [], []
        for _ in range(steps):
            value, grad = value_and_grad(xs)
            updates, state = tx.update(grad, state, xs, value=value)
            xs = optax.apply_updates(xs, updates)
            out.append(np.concatenate([np.asarray(x).ravel() for x in xs]))
            if eval_params:
                ev = optax.contrib.schedule_free_eval_params(state, xs)
                evals.append(np.concatenate([np.asarray(x).ravel() for x in ev]))
        assert out[-1].dtype == np.float64
        return np.array(out), np.array(evals)


def _rule_hp(point, total_steps):
    """The hp the engine hands the rule: the horizon's T, and W = int(warmup_fraction * T)."""
    hp = dict(point)
    t = torch_lrfree.schedule_steps(point, total_steps)
    if "warmup_fraction" in hp:
        hp["warmup_steps"] = int(hp["warmup_fraction"] * t)
    return hp, t


def _max_rel_diff(a, b):
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


CASES = {
    "prodigy": [
        {"beta1": 0.9, "beta2": 0.999, "relative_schedule": 0.0},
        {"beta1": 0.9, "beta2": 0.99, "weight_decay": 0.1, "warmup_fraction": 0.2},
        {"beta1": 0.9, "beta2": 0.99, "weight_decay": 0.1, "warmup_fraction": 0.2,
         "estim_lr0": 1e-3, "eps": 1e-6},
        {"beta1": 0.85, "beta2": 0.995, "weight_decay": 0.05, "warmup_fraction": 0.1,
         "safeguard_warmup": 1},
        {"beta1": 0.9, "beta2": 0.999, "warmup_fraction": 0.1, "horizon": 0.5},
    ],
    "dadapt_adamw": [
        {"beta1": 0.9, "beta2": 0.999, "relative_schedule": 0.0},
        {"beta1": 0.9, "beta2": 0.99, "weight_decay": 0.1, "warmup_fraction": 0.2},
        {"beta1": 0.8, "beta2": 0.999, "warmup_fraction": 0.1, "horizon": 0.5},
    ],
    "dog": [
        {"relative_schedule": 0.0},
        {"weight_decay": 0.01, "warmup_fraction": 0.2, "init_step": 1e-4},
        {"warmup_fraction": 0.1, "horizon": 0.5},
    ],
    "sfadamw": [
        {"learning_rate": 2.0**-7, "beta1": 0.9, "beta2": 0.999},
        {"learning_rate": 2.0**-5, "beta1": 0.9, "beta2": 0.9955159689799007,
         "weight_decay": 0.08121616522670176, "warmup_fraction": 0.0, "weight_lr_power": 2.0},
        # A warmup from 0 (W = 6: the rule's first update is 0, its z steps lag the weights).
        {"learning_rate": 0.05, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.1,
         "warmup_fraction": 0.2},
        {"learning_rate": 0.01, "beta1": 0.95, "beta2": 0.999, "weight_decay": 0.01,
         "warmup_steps": 12, "weight_lr_power": 1.0, "eps": 1e-6},
    ],
    "mechanic": [
        {"relative_schedule": 0.0},
        {"weight_decay": 0.1, "warmup_fraction": 0.2, "s_init": 1e-3},
        {"warmup_fraction": 0.1, "horizon": 0.5, "mechanic_weight_decay": 0.05},
    ],
    "mechanic_adam": [
        {"beta1": 0.9, "beta2": 0.999, "relative_schedule": 0.0},
        {"beta1": 0.85, "beta2": 0.99, "weight_decay": 0.1, "warmup_fraction": 0.2,
         "s_init": 1e-3, "mechanic_weight_decay": 0.05},
        {"beta1": 0.9, "beta2": 0.99, "warmup_fraction": 0.1, "horizon": 0.5, "eps": 1e-6},
    ],
    "mechanic_nadam": [
        {"beta1": 0.9, "beta2": 0.999, "relative_schedule": 0.0},
        {"beta1": 0.85, "beta2": 0.99, "weight_decay": 0.1, "warmup_fraction": 0.2,
         "s_init": 1e-3, "mechanic_weight_decay": 0.05},
    ],
    "momo": [
        {"beta1": 0.9, "learning_rate": 1.0, "relative_schedule": 0.0},
        {"beta1": 0.8, "learning_rate": 0.5, "weight_decay": 0.1, "warmup_fraction": 0.2},
        {"beta1": 0.9, "learning_rate": 0.05, "warmup_fraction": 0.1, "horizon": 0.5},
    ],
    "momo_adam": [
        {"beta1": 0.9, "beta2": 0.999, "learning_rate": 1e-2, "relative_schedule": 0.0},
        {"beta1": 0.85, "beta2": 0.99, "learning_rate": 0.1, "weight_decay": 0.1,
         "warmup_fraction": 0.2},
        {"beta1": 0.9, "beta2": 0.999, "learning_rate": 0.05, "warmup_fraction": 0.1,
         "horizon": 0.5, "eps": 1e-6},
    ],
    "cocob": [
        {"relative_schedule": 0.0},
        {"weight_decay": 0.1, "warmup_fraction": 0.2},
        {"warmup_fraction": 0.1, "horizon": 0.5, "alpha": 20.0},
    ],
    "dowg": [
        {"relative_schedule": 0.0},
        {"weight_decay": 0.1, "warmup_fraction": 0.2},
        {"warmup_fraction": 0.1, "horizon": 0.5, "eps": 1e-2},
    ],
}
PARAMS = [(m, i) for m, cases in CASES.items() for i in range(len(cases))]


@pytest.mark.parametrize(("method", "case"), PARAMS, ids=[f"{m}-{i}" for m, i in PARAMS])
@pytest.mark.filterwarnings("ignore:the optimizer has stepped past the end of its schedule")
def test_trajectory_matches_optax_rule(method, case):
    # Past the horizon on purpose (the idle steps are compared too), so the warning is expected.
    point = CASES[method][case]
    # A budget of STEPS; a horizon of 0.5 ends the schedule at STEPS // 2, and the steps
    # after it are idle (s_t = 0) in both: Prodigy/D-Adapt skip them, DoG accumulates.
    hp, t = _rule_hp(point, STEPS)
    sf = method == "sfadamw"
    got, got_eval = _torch_path(method, point, STEPS, eval_params=sf)
    want, want_eval = _optax_path(method, hp, t, eval_params=sf)
    assert np.all(np.isfinite(want))
    assert np.max(np.abs(want[-1] - X0_FLAT)) > 1e-5  # it moved: 5 orders above the tolerance
    diff = _max_rel_diff(got, want)
    assert diff <= RTOL, f"{method} case {case}: max relative difference {diff:.3g}"
    if sf:
        assert _max_rel_diff(got_eval, want_eval) <= RTOL
        assert np.max(np.abs(got_eval - got)) > 1e-6  # x differs from y


X0_FLAT = np.concatenate([x.ravel() for x in X0])


@pytest.mark.parametrize("method", ["prodigy", "dadapt_adamw"])
def test_idle_first_step_is_skipped_by_both(method):
    """A warmup from 0: step 0 changes nothing and the method's step count does not advance."""
    point = {"beta1": 0.9, "beta2": 0.999, "warmup_fraction": 0.2}
    got, _ = _torch_path(method, point, STEPS, steps=2)
    assert np.array_equal(got[0], X0_FLAT)
    assert not np.array_equal(got[1], X0_FLAT)
    params = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in X0]
    opt, sched = torch_lrfree.build(method, point, params, total_steps=STEPS)
    _loss(params, _TorchNS).backward()
    opt.step()
    sched.step()
    assert opt.param_groups[0]["k"] == 0
    assert opt.param_groups[0]["d"] == 1e-6


def _schedulefree_run(point, steps=STEPS):
    """``schedulefree.AdamWScheduleFree`` with the point's settings and its own warmup."""
    import schedulefree

    params = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in X0]
    opt = schedulefree.AdamWScheduleFree(
        params, lr=point["learning_rate"], betas=(point["beta1"], point["beta2"]),
        weight_decay=point.get("weight_decay", 0.0), warmup_steps=point.get("warmup_steps", 0),
        r=0.0, weight_lr_power=2.0)
    opt.train()
    out = []
    for _ in range(steps):
        opt.zero_grad()
        _loss(params, _TorchNS).backward()
        opt.step()
        out.append(np.concatenate([p.detach().numpy().ravel() for p in params]))
    return np.array(out)


def test_schedulefree_package_warms_up_one_step_ahead_of_the_rule():
    """Why ``'sfadamw'`` is hplists' own optimizer: the package's warmup leads optax's.

    With ``warmup_steps=W`` the ``schedulefree`` package uses lr ``(k+1)/W`` at step
    ``k`` for both its z step and its averaging weight; optax's ``schedule_free`` takes
    the weight at ``(k+1)/W`` but the z step at ``k/W`` (0 at step 0, so optax's first
    update is 0). An optax schedule_free whose z step is shifted by one step is the
    package to rounding; the rule is not, and ``build`` (with either ``exact``) is the rule.
    Without a warmup the package, ``build``'s optimizer and the rule agree.
    """
    pytest.importorskip("schedulefree")
    lr, w, b1, b2, wd = 0.05, 5, 0.9, 0.999, 0.01
    point = {"learning_rate": lr, "beta1": b1, "beta2": b2, "weight_decay": wd,
             "warmup_steps": w}
    got = _schedulefree_run(point)
    rule, _ = _optax_path("sfadamw", point, STEPS)
    assert np.array_equal(rule[0], X0_FLAT)  # optax's first update is exactly 0
    assert np.max(np.abs(got[0] - X0_FLAT)) > 1e-3  # the package's is not
    assert _max_rel_diff(got, rule) > 1e-3

    def sched(count):
        return lr * jnp.minimum(jnp.asarray(count, jnp.float64) / w, 1.0)

    base = optax.chain(
        optax.scale_by_rms(decay=b2, eps=1e-8, eps_in_sqrt=False, bias_correction=True),
        optax.add_decayed_weights(wd),
        optax.scale_by_learning_rate(lambda count: sched(count + 1)))  # the shift
    with jax.enable_x64(True):
        shifted = optax.contrib.schedule_free(base, learning_rate=sched, b1=b1)
        want, _ = _optax_path("sfadamw", point, STEPS, tx=shifted)
    assert _max_rel_diff(got, want) <= RTOL

    ours, _ = _torch_path("sfadamw", point, STEPS)
    assert np.array_equal(ours[0], X0_FLAT)
    assert _max_rel_diff(ours, rule) <= RTOL
    not_exact, _ = _torch_path("sfadamw", point, STEPS, exact=False)  # accepted, the same
    assert np.array_equal(not_exact, ours)

    no_warmup = {**point, "warmup_steps": 0}
    package = _schedulefree_run(no_warmup)
    ours, _ = _torch_path("sfadamw", no_warmup, STEPS)
    assert _max_rel_diff(package, ours) <= RTOL


def test_sfadamw_rule_keeps_a_float64_learning_rate_under_x64():
    """The rule's warmup schedule computes in the default float, so lr 0.01 (not a float32
    number) agrees with the package to ``RTOL``, not only to float32 rounding."""
    point = {"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999}
    want, _ = _optax_path("sfadamw", point, STEPS)
    got, _ = _torch_path("sfadamw", point, STEPS)
    assert _max_rel_diff(got, want) <= RTOL


def test_a_method_without_a_pytorch_path_raises_with_its_reason(monkeypatch):
    """Every method has a path today; one recorded without (its ``torch_missing``) is refused
    with the reason and the methods that have one, not trained by something else."""
    monkeypatch.setitem(torch_lrfree.UNSUPPORTED, "dowg", "no faithful package")
    with pytest.raises(ValueError, match=r"method 'dowg' has no PyTorch path in "
                                         r"hplists.torch_lrfree: no faithful package; method "
                                         r"must be one of 'dog', .*'prodigy'"):
        torch_lrfree.build("dowg", {}, [torch.zeros(2)], total_steps=10)


def test_registry_is_split_between_supported_and_unsupported():
    from hplists.optim.lrfree import METHODS

    rules = set(METHODS) | {"sfadamw_algoperf"}  # the AlgoPerf variant is a rule, not a method
    assert set(torch_lrfree.METHODS) | set(torch_lrfree.UNSUPPORTED) == rules
    assert not set(torch_lrfree.METHODS) & set(torch_lrfree.UNSUPPORTED)
    for m in set(torch_lrfree.METHODS) & set(METHODS):
        assert METHODS[m].torch == torch_lrfree.PACKAGES[m]
    # Every method a learning-rate-free list can be exported for runs from PyTorch,
    # Mechanic and Schedule-Free (with its warmup) on hplists' own optimizers.
    assert {"sfadamw", "mechanic", "mechanic_adam", "mechanic_nadam"} <= set(
        m for m, package in torch_lrfree.PACKAGES.items() if package == "hplists")


@pytest.mark.parametrize(("method", "point", "params", "match"), [
    ("adam", {}, None, r"method must be one of 'dog', 'dowg', 'dadapt_adamw', 'prodigy', 'mechanic'"),
    ("prodigy", {"learning_rate": 1.0}, None, r"does not take hyperparameter\(s\) \['learning_rate'\]"),
    ("sfadamw", {"relative_schedule": 1.0}, None, r"does not take .*relative_schedule"),
    ("prodigy", {"beta1": 1.0}, None, r"beta1 must be in \[0, 1\), got 1.0"),
    ("dog", {"relative_schedule": 0.5}, None, r"relative_schedule must be one of 0, 1"),
    ("prodigy", {"safeguard_warmup": 2}, None, r"safeguard_warmup must be one of 0, 1"),
    ("dadapt_adamw", {"horizon": 1.5}, None, r"horizon must be in \(0, 1\], got 1.5"),
    ("dog", {"weight_decay": -1.0}, None, r"weight_decay must be in \[0, inf\), got -1.0"),
    ("dog", [0.1], None, r"point must be a mapping"),
    ("dog", {}, [{"params": []}], r"params must be a torch.nn.Module or a non-empty iterable"),
    ("dog", {}, 3, r"params must be a torch.nn.Module or an iterable of tensors"),
    ("mechanic", {"beta1": 0.9}, None, r"does not take hyperparameter\(s\) \['beta1'\]"),
    ("mechanic_adam", {"s_init": 0.0}, None, r"s_init must be in \(0, inf\), got 0.0"),
    ("mechanic_nadam", {"mechanic_weight_decay": -1.0}, None,
     r"mechanic_weight_decay must be in \[0, inf\), got -1.0"),
    ("sfadamw", {"warmup_steps": -1}, None, r"warmup_steps must be an integer in \[0, inf\]"),
    ("sfadamw_algoperf", {"r": -0.5}, None, r"r must be in \[0, inf\), got -0.5"),
    ("sfadamw_algoperf", {"horizon": 0.5}, None, r"does not take .*horizon"),
])
def test_bad_input_names_the_field(method, point, params, match):
    params = [torch.zeros(2)] if params is None else params
    with pytest.raises(ValueError, match=match):
        torch_lrfree.build(method, point, params, total_steps=10)


def test_exact_is_a_bool():
    with pytest.raises(ValueError, match=r"exact must be one of True, False; got 'no'"):
        torch_lrfree.build("dog", {}, [torch.zeros(2)], total_steps=10, exact="no")


def test_bad_total_steps():
    with pytest.raises(ValueError, match=r"total_steps must be an integer in \[1, inf\]"):
        torch_lrfree.build("dog", {}, [torch.zeros(2)], total_steps=0)


def test_scheduler_is_the_relative_schedule_and_saves():
    pytest.importorskip("prodigyopt")
    net = torch.nn.Linear(2, 1)
    opt, sched = torch_lrfree.build("prodigy", {"warmup_fraction": 0.1, "horizon": 0.5},
                                    net, total_steps=200)
    lrs = [opt.param_groups[0]["lr"]] + [sched.lr_lambdas[0](t) for t in range(1, 101)]
    assert lrs[0] == 0.0 and lrs[5] == 0.5 and lrs[10] == 1.0  # T = 100, W = 10
    assert lrs[55] == pytest.approx(0.5) and lrs[100] == 0.0
    assert "lr_lambdas" in sched.state_dict()
    _, const = torch_lrfree.build("prodigy", {"relative_schedule": 0}, net, total_steps=10)
    assert const.get_last_lr() == [1.0]
    assert math.isclose(const.lr_lambdas[0](10**6), 1.0)


def test_a_loop_past_a_points_horizon_warns_once():
    """A point with horizon 0.5 trained for total_steps: half the loop would train nothing."""
    params = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in X0]
    point = {"beta1": 0.9, "beta2": 0.999, "warmup_fraction": 0.1, "horizon": 0.5}
    opt, sched = torch_lrfree.build("prodigy", point, params, total_steps=20)
    assert torch_lrfree.schedule_steps(point, 20) == 10
    with pytest.warns(UserWarning, match=r"stepped past the end of its schedule \(10 steps\)") \
            as caught:
        for _ in range(20):
            _loss(params, _TorchNS).backward()
            opt.step()
            sched.step()
            opt.zero_grad()
    assert sum("past the end" in str(w.message) for w in caught) == 1



ALGOPERF = {"learning_rate": 0.0025, "beta1": 0.9, "beta2": 0.9955159689799007,
            "weight_decay": 0.08121616522670176, "warmup_fraction": 0.2,
            "weight_lr_power": 2.0, "r": 0.75, "eps": 1e-8}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sfadamw_algoperf_matches_the_rule_fed_the_same_gradients(dtype):
    """``'sfadamw_algoperf'`` (ScheduleFreeAdamWAlgoPerf) against the rule, step by step.

    Its second moment is bfloat16, so a 1-ulp difference in a gradient can round it
    differently; both are fed the PyTorch run's gradients. The bfloat16 moment agrees
    bit for bit, x and z to 1e-12 of the parameter scale (bit for bit where measured),
    the parameters y to 1e-12 (float64) or 1e-6 (float32): optax applies y as
    y_prev + (y - y_prev), which rounds once more.
    """
    point = {**ALGOPERF, "learning_rate": 0.05}  # larger steps than the submission's
    hp, t = _rule_hp(point, STEPS)
    tdtype, jdtype = getattr(torch, dtype), getattr(jnp, dtype)
    params = [torch.tensor(x, dtype=tdtype, requires_grad=True) for x in X0]
    opt, sched = torch_lrfree.build("sfadamw_algoperf", point, params, total_steps=STEPS)
    assert opt.param_groups[0]["warmup_steps"] == hp["warmup_steps"] == 6
    tol = 1e-12 if dtype == "float64" else 1e-6
    with jax.enable_x64(dtype == "float64"):
        tx = get_rule("sfadamw_algoperf")(hp, t)
        ys = [jnp.asarray(x, dtype=jdtype) for x in X0]
        state = tx.init(ys)
        for _ in range(STEPS):
            opt.zero_grad()
            _loss(params, _TorchNS).backward()
            grads = [jnp.asarray(p.grad.numpy()) for p in params]
            opt.step()
            sched.step()
            updates, state = tx.update(grads, state, ys)
            ys = optax.apply_updates(ys, updates)
            for i, p in enumerate(params):
                ours = opt.state[p]
                assert np.array_equal(np.asarray(state.v[i].astype(jnp.float32)),
                                      ours["exp_avg_sq"].float().numpy())
                for name, want in (("z", state.z[i]), ("x", state.x[i]), ("y", ys[i])):
                    got = (p if name == "y" else ours[name]).detach().numpy()
                    assert _max_rel_diff(got, np.asarray(want)) <= tol, name
        assert np.max(np.abs(np.asarray(ys[0]) - X0[0])) > 1e-3  # it moved
    opt.eval()
    for i, p in enumerate(params):  # eval params: x, as the rule's eval_params hook
        assert _max_rel_diff(p.detach().numpy(), np.asarray(state.x[i])) <= tol


ROUND_TRIP = {
    "sfadamw": {"learning_rate": 0.05, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.1,
                "warmup_fraction": 0.2},
    "sfadamw_algoperf": ALGOPERF,
    "mechanic": {"weight_decay": 0.1, "warmup_fraction": 0.2, "s_init": 1e-3},
    "mechanic_adam": {"beta1": 0.85, "beta2": 0.99, "weight_decay": 0.1,
                      "warmup_fraction": 0.2, "s_init": 1e-3},
    "mechanic_nadam": {"beta1": 0.85, "beta2": 0.99, "weight_decay": 0.1,
                       "warmup_fraction": 0.2, "s_init": 1e-3},
    "cocob": {"weight_decay": 0.1, "warmup_fraction": 0.2},
    "dowg": {"weight_decay": 0.1, "warmup_fraction": 0.2},
    "momo": {"beta1": 0.8, "learning_rate": 0.5, "weight_decay": 0.1, "warmup_fraction": 0.2},
    "momo_adam": {"beta1": 0.85, "beta2": 0.99, "learning_rate": 0.1, "weight_decay": 0.1,
                  "warmup_fraction": 0.2},
}


@pytest.mark.parametrize("method", sorted(ROUND_TRIP))
def test_state_dict_round_trip_resumes_bit_for_bit(method):
    """Save optimizer, scheduler and parameters mid-warmup (torch.save, weights_only), load
    them into a freshly built optimizer: the next steps are bit-identical to the run that
    went on, and (float64) the whole trajectory is still the rule's."""
    import io

    point = ROUND_TRIP[method]

    def fresh():
        params = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in X0]
        return (params, *torch_lrfree.build(method, point, params, total_steps=STEPS))

    def run(params, opt, sched, steps):
        out = []
        for _ in range(steps):
            _train_step(method, params, opt, sched)
            out.append(np.concatenate([p.detach().numpy().ravel() for p in params]))
        return out

    params, opt, sched = fresh()
    first = run(params, opt, sched, 4)  # inside the warmup (W = 6)
    buf = io.BytesIO()
    torch.save({"opt": opt.state_dict(), "sched": sched.state_dict(),
                "params": [p.detach() for p in params]}, buf)
    went_on = run(params, opt, sched, 8)
    buf.seek(0)
    saved = torch.load(buf, weights_only=True)
    params2, opt2, sched2 = fresh()
    with torch.no_grad():
        for p, q in zip(params2, saved["params"], strict=True):
            p.copy_(q)
    opt2.load_state_dict(saved["opt"])
    sched2.load_state_dict(saved["sched"])
    resumed = run(params2, opt2, sched2, 8)
    assert np.array_equal(np.array(resumed), np.array(went_on))
    if method != "sfadamw_algoperf":  # bfloat16 state: compared fed the same gradients above
        hp, t = _rule_hp(point, STEPS)
        want, _ = _optax_path(method, hp, t, steps=12)
        assert _max_rel_diff(np.array(first + resumed), want) <= RTOL


def test_schedule_free_steps_only_in_train_mode():
    params = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in X0]
    opt, _ = torch_lrfree.build("sfadamw", {"warmup_steps": 2}, params, total_steps=STEPS)
    _loss(params, _TorchNS).backward()
    opt.step()
    opt.eval()
    with pytest.raises(RuntimeError, match=r"needs train mode.*optimizer.train\(\)"):
        opt.step()
    opt.train()
    opt.step()


def test_the_pytorch_paths_are_derived_from_the_method_records():
    """Each method says once what computes it in PyTorch, or why nothing does: the facade's
    packages and refusals are those records, so the docs' table and the facade cannot differ."""
    from hplists.optim.lrfree import METHODS, VARIANTS

    for m in METHODS.values():
        if m.torch:
            assert torch_lrfree.PACKAGES[m.name] == m.torch and m.name not in torch_lrfree.UNSUPPORTED
        else:
            assert torch_lrfree.UNSUPPORTED[m.name] == m.torch_missing
            assert m.name not in torch_lrfree.PACKAGES
    for variant, method in VARIANTS.items():
        assert torch_lrfree.PACKAGES[variant] == METHODS[method].torch
    assert set(torch_lrfree.METHODS) == set(torch_lrfree.PACKAGES)


def test_the_pytorch_facade_and_the_method_records_import_no_jax():
    """A PyTorch user needs neither JAX nor optax: the method records live beside the optax
    rules, which import optax only when a rule is built."""
    import subprocess
    import sys

    code = ("import sys, hplists.torch_lrfree, hplists.optim.lrfree as m; "
            "assert m.METHODS and m.TAKES; "
            "print(sorted(k for k in ('jax', 'optax', 'flax') if k in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("method", ["momo", "momo_adam"])
def test_momo_leaves_parameters_without_a_gradient_alone(method):
    """As torch.optim optimizers do: a frozen parameter is neither decayed nor counted, so
    the others move exactly as they would without it; MoMo refuses a step without the loss
    or with both a loss and a closure, and a step with no gradient at all changes nothing."""
    from hplists.exceptions import InvalidParameterError

    point = {"beta1": 0.9, "weight_decay": 0.1, "learning_rate": 0.1, "relative_schedule": 0.0}
    if method == "momo_adam":
        point["beta2"] = 0.99

    def run(with_frozen):
        w = torch.tensor(X0[0], requires_grad=True)
        frozen = torch.ones(3, dtype=torch.float64, requires_grad=False)
        params = [w, frozen] if with_frozen else [w]
        opt, sched = torch_lrfree.build(method, point, params, total_steps=STEPS)
        for _ in range(5):
            opt.zero_grad()
            loss = (torch.as_tensor(A[0]) * (w - torch.as_tensor(C[0])) ** 2).sum()
            loss.backward()
            opt.step(loss=loss)
            sched.step()
        return w.detach().clone(), frozen, opt, loss

    alone, _, _, _ = run(False)
    moved, frozen, opt, loss = run(True)
    assert torch.equal(moved, alone) and torch.equal(frozen, torch.ones(3, dtype=torch.float64))
    with pytest.raises(InvalidParameterError, match="needs the batch loss"):
        opt.step()
    with pytest.raises(InvalidParameterError, match="not both"):
        opt.step(lambda: loss, loss=loss)
    opt.zero_grad(set_to_none=True)
    state = opt.state_dict()
    assert opt.step(loss=loss) is loss
    assert str(opt.state_dict()) == str(state)


def test_momo_takes_the_loss_from_its_loss_source_when_step_gets_none():
    """A framework that calls step() without arguments sets loss_source; a loss or a closure
    given to step() still comes first."""
    from hplists.optim.torch_momo import MoMo

    def trained(how):
        w = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
        opt = MoMo([w])
        loss = (w ** 2).sum()
        loss.backward()
        how(opt, loss)
        return w.detach().tolist()

    def from_source(opt, loss):
        opt.loss_source = lambda: loss
        opt.step()

    want = trained(lambda opt, loss: opt.step(loss=loss))
    assert trained(from_source) == want == [0.5, 1.0, 1.5]

    def source_second(opt, loss):
        opt.loss_source = lambda: loss * 100
        opt.step(loss=loss)

    assert trained(source_second) == want
