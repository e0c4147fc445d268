"""The training engine: per-point hyperparameters, divergence, determinism, batching strategies."""

from __future__ import annotations

import itertools
import math

import numpy as np
import optax
import pytest

from helpers.workloads import TinyBlobs, TinyLeastSquares
from hplists import HParams
from hplists.curves import Status
from hplists.workloads import engine
from hplists.workloads.contract import eval_schedule


class Blobs(TinyBlobs):
    """Better-separated blobs, a wider hidden layer and a padded last evaluation batch."""

    name = "test_blobs"
    step_budget = 60
    hidden = 32
    center_scale = 1.5
    eval_batch_size = 64  # the 150 validation examples need a padded last batch

    def score(self, outputs, valid):
        assert outputs.shape == (150, 3)  # padding removed
        return super().score(outputs, valid)


class BlobsNoReg(Blobs):
    """The same task declaring no regularizers: the engine must pass zeros."""

    name = "test_blobs_noreg"
    regularizers = frozenset()


class Quadratic(TinyLeastSquares):
    """Least squares in 4-D: plain SGD with a large learning rate overflows to inf."""

    name = "test_quadratic"


class BadMetric(Quadratic):
    """Its metric turns NaN once predictions leave [-50, 50], while the loss stays finite."""

    name = "test_bad_metric"

    def score(self, outputs, valid):
        return {"mse": math.nan if np.abs(outputs).max() > 50 else 0.0}


class BadMetricNoLimit(BadMetric):
    name = "test_bad_metric_no_limit"
    divergence_factor = None


def sgd(hp, total_steps):
    """A non-NAdamW update rule taking plain-mapping points (module level: picklable)."""
    return optax.sgd(hp["learning_rate"])


GOOD = HParams(1e-2, 0.9, 0.99, warmup_fraction=0.05)


def test_hp_arrays_add_host_warmup_steps_and_zero_undeclared_regularizers():
    hp = engine.hp_arrays(
        [GOOD.replace(dropout_rate=0.1, label_smoothing=0.2, warmup_fraction=0.1)], 90,
        frozenset({"label_smoothing"}),
    )
    assert hp["warmup_steps"].tolist() == [9]
    assert hp["dropout_rate"].tolist() == [0.0]
    assert hp["label_smoothing"].tolist() == pytest.approx([0.2])


def test_plain_mapping_points_default_regularizers_to_zero():
    hp = engine.hp_arrays([{"learning_rate": 0.1}], 10)
    assert set(hp) == {"learning_rate", "dropout_rate", "label_smoothing"}


def test_points_with_different_names_are_rejected():
    with pytest.raises(ValueError, match="same hyperparameter names"):
        engine.hp_arrays([{"learning_rate": 0.1}, {"lr": 0.1}], 10)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"batching": "threads"}, "batching must be one of"),
     ({"seed": -1}, "seed must be"),
     ({"step_budget": 0}, "step_budget must be")],
)
def test_bad_arguments_name_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        engine.train(Blobs(), [GOOD], **kwargs)


def test_bad_dropout_rate_is_rejected_before_training():
    with pytest.raises(ValueError, match=r"points\[0\].dropout_rate"):
        engine.train(Quadratic(), [{"learning_rate": 0.1, "dropout_rate": 1.0}],
                     update_rule=sgd)


@pytest.mark.parametrize("batching", ["vmap", "sequential"])
def test_curves_follow_the_eval_schedule_and_a_good_point_learns(batching):
    bad_lr = GOOD.replace(learning_rate=1e-6)
    good, slow = engine.train(Blobs(), [GOOD, bad_lr], seed=0, batching=batching)
    assert good.steps.tolist() == list(eval_schedule(60, 20))
    assert np.all(np.diff(good.seconds) > 0) and good.seconds[0] > 0
    assert np.all(np.isfinite(good.train_loss))
    assert good.status == Status.COMPLETE and good.message == ""
    assert good.metric("error_rate")[-1] < 0.2 < slow.metric("error_rate")[-1]
    assert good.train_loss[-1] < good.train_loss[0]


def test_shortened_budget_evaluates_at_every_step_when_budget_is_below_num_evals():
    (curve,) = engine.train(Blobs(), [GOOD], step_budget=7)
    assert curve.steps.tolist() == [1, 2, 3, 4, 5, 6, 7]


@pytest.mark.parametrize("batching", ["vmap", "sequential"])
def test_non_finite_loss_freezes_only_that_point(batching):
    points = [{"learning_rate": 0.05}, {"learning_rate": 1e6}, {"learning_rate": 0.02}]
    curves = engine.train(Quadratic(), points, update_rule=sgd, batching=batching)
    ok, bad, ok2 = curves
    assert bad.status == Status.DIVERGED
    assert bad.message.startswith("training loss ")
    step = int(bad.message.split("at step ")[-1])
    assert 1 <= step <= 40 and np.all(bad.steps < step)
    assert ok.status == ok2.status == Status.COMPLETE
    assert len(ok) == 20 and ok.metric("mse")[-1] < 0.1 * ok.metric("mse")[0]
    # The survivors are unaffected by their diverging neighbour.
    alone = engine.train(Quadratic(), [points[0], points[2], points[0]], update_rule=sgd,
                         batching=batching)
    np.testing.assert_array_equal(alone[0].metric("mse"), ok.metric("mse"))
    np.testing.assert_array_equal(alone[1].metric("mse"), ok2.metric("mse"))


class QuadraticNoLimit(Quadratic):
    name = "test_quadratic_no_limit"
    divergence_factor = None


def test_loss_blow_up_beyond_the_divergence_factor_is_divergence():
    """SGD at lr 1.5 on this quadratic grows the loss ~4x per step: 100x the start within 10."""
    (curve,) = engine.train(Quadratic(), [{"learning_rate": 1.5}], update_rule=sgd)
    assert curve.status == Status.DIVERGED
    assert "exceeded 100 x its value at step 1" in curve.message
    step = int(curve.message.split("at step ")[-1])
    assert step <= 10 and len(curve) == step // 2 - (step % 2 == 0)
    (free,) = engine.train(QuadraticNoLimit(), [{"learning_rate": 1.5}], update_rule=sgd,
                           step_budget=20)
    assert free.status == Status.COMPLETE and free.train_loss[-1] > 1e6


def test_non_finite_metric_marks_diverged_at_that_evaluation():
    points = [{"learning_rate": 0.01}, {"learning_rate": 1.5}]
    fine, bad = engine.train(BadMetricNoLimit(), points, update_rule=sgd)
    assert fine.status == Status.COMPLETE
    assert bad.status == Status.DIVERGED
    assert "validation metric(s) ['mse'] became non-finite at step" in bad.message


def test_same_seed_same_curves_and_position_does_not_matter():
    a = GOOD.replace(dropout_rate=0.1, label_smoothing=0.1)
    b = GOOD.replace(learning_rate=3e-3)
    first = engine.train(Blobs(), [a, b], seed=3)
    again = engine.train(Blobs(), [b, a], seed=3)
    for x, y in ((first[0], again[1]), (first[1], again[0])):
        np.testing.assert_array_equal(x.train_loss, y.train_loss)
        np.testing.assert_array_equal(x.metric("error_rate"), y.metric("error_rate"))
    other = engine.train(Blobs(), [a, b], seed=4)
    assert not np.array_equal(other[0].train_loss, first[0].train_loss)


class BlobsSmallVmap(Blobs):
    name = "test_blobs_small_vmap"
    vmap_size = 2


def test_vmap_curves_do_not_depend_on_how_many_points_share_the_program():
    """Groups are padded to vmap_size, so 1, 2 or 3 companions (2 groups) change nothing."""
    a = GOOD.replace(dropout_rate=0.1)
    others = [GOOD.replace(learning_rate=3e-3), GOOD.replace(beta1=0.5)]
    alone = engine.train(BlobsSmallVmap(), [a], batching="vmap")[0]
    for companions in ([], others[:1], others):
        curves = engine.train(BlobsSmallVmap(), [*companions, a], batching="vmap")
        np.testing.assert_array_equal(curves[-1].train_loss, alone.train_loss)
        np.testing.assert_array_equal(curves[-1].metric("error_rate"),
                                      alone.metric("error_rate"))


def test_sequential_and_vmap_agree_to_rounding():
    points = [GOOD.replace(dropout_rate=0.1), GOOD.replace(learning_rate=3e-3)]
    v = engine.train(Blobs(), points, batching="vmap")
    s = engine.train(Blobs(), points, batching="sequential")
    for x, y in zip(v, s, strict=True):
        np.testing.assert_allclose(x.train_loss, y.train_loss, rtol=1e-4)


@pytest.mark.parametrize(
    "change",
    [dict(learning_rate=5e-3), dict(beta1=0.5), dict(beta2=0.9), dict(eps=1e-2),
     dict(weight_decay=0.5), dict(warmup_fraction=0.5), dict(dropout_rate=0.3),
     dict(label_smoothing=0.3)],
    ids=lambda d: next(iter(d)),
)
def test_every_hparams_field_changes_the_curve(change):
    base, changed = engine.train(Blobs(), [GOOD, GOOD.replace(**change)], step_budget=20)
    assert not np.array_equal(base.train_loss, changed.train_loss)


def test_undeclared_regularizers_are_not_applied():
    plain, regularized = engine.train(
        BlobsNoReg(), [GOOD, GOOD.replace(dropout_rate=0.3, label_smoothing=0.3)],
        step_budget=20,
    )
    np.testing.assert_array_equal(plain.train_loss, regularized.train_loss)


def test_update_rule_gets_every_hyperparameter_and_the_budget():
    seen = {}

    def rule(hp, total_steps):
        seen.update(names=sorted(hp), total=total_steps)
        return optax.sgd(hp["learning_rate"])

    engine.train(Quadratic(), [{"learning_rate": 0.01, "momentum": 0.0}], update_rule=rule,
                 step_budget=10)
    assert seen == {"names": ["dropout_rate", "label_smoothing", "learning_rate", "momentum"],
                    "total": 10}


def test_progress_callback_reaches_the_total_even_after_divergence():
    calls = []
    engine.train(Quadratic(), [{"learning_rate": 0.05}, {"learning_rate": 1e6}],
                 update_rule=sgd, progress=lambda *a: calls.append(a))
    assert calls[-1] == ("test_quadratic", 80, 80)  # StageBar's (stage, steps done, total)
    assert all(b >= a for (_, a, _), (_, b, _) in itertools.pairwise(calls))


def test_trial_flops_counts_steps_and_evaluations():
    flops = engine.trial_flops(Blobs())
    # forward + backward of two small matmuls per example at least
    assert flops["step"] > 2 * 16 * (8 * 32 + 32 * 3)
    assert flops["trial"] == pytest.approx(flops["step"] * 60 + flops["eval"] * 20)


@pytest.mark.slow
def test_processes_match_sequential_exactly():
    """Worker processes run the same single-point program: identical curves, in input order."""
    points = [GOOD, GOOD.replace(learning_rate=3e-3), GOOD.replace(dropout_rate=0.1)]
    s = engine.train(Blobs(), points, batching="sequential")
    p = engine.train(Blobs(), points, batching="processes")
    for x, y in zip(s, p, strict=True):
        np.testing.assert_array_equal(x.train_loss, y.train_loss)
        np.testing.assert_array_equal(x.metric("error_rate"), y.metric("error_rate"))
    pv = engine.train(Blobs(), points, batching="processes/vmap")
    assert [c.status for c in pv] == [Status.COMPLETE] * 3


def exploding_sgd(hp, total_steps):
    """SGD that refuses points with a ``boom`` hyperparameter (at compile time)."""
    if "boom" in hp:
        raise RuntimeError("boom")
    return optax.sgd(hp["learning_rate"])


def test_train_into_store_trains_pending_points_once(tmp_path):
    from hplists.store import open_store
    from hplists.trials import train_into_store

    store = open_store(tmp_path / "s.db")
    points = [{"learning_rate": 0.05}, {"learning_rate": 1e6}, {"learning_rate": 0.02}]
    counts = train_into_store(store, "study", Quadratic(), points, 0, update_rule=sgd,
                              chunk_size=2)
    assert counts == {"trained": 3, "diverged": 1, "failed": 0, "skipped": 0}
    records = {r.point_index: r for r in store.trials("study")}
    assert [records[i].status for i in range(3)] == [
        Status.COMPLETE, Status.DIVERGED, Status.COMPLETE]
    alone = engine.train(Quadratic(), [points[0]], update_rule=sgd)[0]
    np.testing.assert_array_equal(records[0].curve.metric("mse"), alone.metric("mse"))
    again = train_into_store(store, "study", Quadratic(), points, 0, update_rule=sgd)
    assert again == {"trained": 0, "diverged": 0, "failed": 0, "skipped": 3}


def test_train_into_store_records_a_failing_chunk_and_goes_on(tmp_path):
    from hplists.store import open_store
    from hplists.trials import train_into_store

    store = open_store(tmp_path / "s.db")
    points = [{"learning_rate": 0.02, "boom": 1.0}, {"learning_rate": 0.05}]
    counts = train_into_store(store, "study", Quadratic(), points, update_rule=exploding_sgd,
                              chunk_size=1, batching="sequential")
    assert counts["failed"] == 1 and counts["trained"] == 1
    records = {r.point_index: r for r in store.trials("study")}
    assert records[1].status == Status.COMPLETE and len(records[1].curve) == 20
    assert records[0].status == Status.ERROR and "boom" in records[0].message
    # An error is not a result: the next call trains it again.
    again = train_into_store(store, "study", Quadratic(), points, update_rule=exploding_sgd,
                             chunk_size=1, batching="sequential")
    assert again["failed"] == 1 and again["skipped"] == 1


def test_a_worker_that_starts_after_its_driver_died_exits_at_once():
    """Pools start workers on demand, and a slow start (importing JAX under load) can outlast a
    killed driver: the worker is then already another's child when its initializer runs. It
    knows its driver's pid from the pool, sees that it is gone, and exits instead of waiting
    for a parent that will never come back."""
    import os
    import subprocess
    import sys

    not_my_parent = 1 if os.getpid() != 1 else 2  # the child's parent is this process
    code = ("import time\n"
            "from hplists.workloads.engine import init_worker_process\n"
            f"init_worker_process(parent={not_my_parent})\n"
            "time.sleep(60)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=50)
    assert (out.returncode, out.stderr) == (1, "")  # os._exit(1) from the watcher, no error


@pytest.mark.slow
def test_worker_processes_exit_when_their_parent_is_killed(tmp_path):
    """kill -9 of a study must not leave orphaned workers burning the cores."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    script = tmp_path / "parent.py"
    script.write_text(
        "import os, signal, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_workloads_engine import GOOD, Blobs\n"
        "from hplists.workloads import engine\n"
        "if __name__ == '__main__':\n"
        "    engine.train(Blobs(), [GOOD, GOOD], batching='processes', step_budget=5)\n"
        "    print(*engine.worker_pids(), flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == -signal.SIGKILL, out.stderr
    pids = [int(p) for p in out.stdout.split()]
    assert pids

    def running(pid):
        try:  # a zombie has exited; only its parent (here init) has not reaped it
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(running(p) for p in pids):
        time.sleep(0.2)
    alive = [p for p in pids if running(p)]
    for p in alive:  # clean up before failing
        os.kill(p, signal.SIGKILL)
    assert not alive
