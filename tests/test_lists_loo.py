"""Leave-one-workload-out, list-size curves and tau sweeps (paper 001, Sec. 3.1, Fig. 2, Table 12)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import hplists
from hplists.lists.exhaustive import exhaustive_set
from hplists.lists.greedy import greedy_list
from hplists.lists.loo import leave_one_out, list_size_curve, tau_sweep
from hplists.scoring.matrix import TrialMatrix
from hplists.scoring.workload_specs import WorkloadSpec

INF = math.inf
F = np.array([[0.5, 0.6, INF],
              [INF, 0.9, 0.7],
              [0.8, INF, INF]])


def test_each_fold_builds_on_the_other_workloads_and_scores_the_held_out_one():
    loo = hplists.leave_one_out(F, k=1, tau=2.0)
    # fold 0 sees workloads 1, 2: point 1 (0.9, 0.7) beats point 0 (0.6, miss)
    # fold 1 sees 0, 2: point 0 (0.5, miss) costs 1.0 < point 1 (miss, 0.7): 1.18
    # fold 2 sees 0, 1: point 0 (0.5, 0.6)
    assert [f.built.indices for f in loo.folds] == [(1,), (0,), (0,)]
    assert loo.fractions.tolist() == [INF, 0.6, INF]
    assert [f.trained for f in loo.folds] == [False, True, False]
    assert [f.best_point for f in loo.folds] == [None, 0, None]
    assert loo.num_trained == 1
    assert loo.mean_cost == pytest.approx((2 + 0.6 + 2) / 3)
    # the reported list cost is the cost on the workloads it was built on
    assert loo.folds[0].built.cost == pytest.approx(math.sqrt(0.9 * 0.7))


def test_a_fold_never_sees_its_held_out_workload():
    """Changing the held-out column cannot change that fold's list."""
    rng = np.random.default_rng(0)
    G = rng.uniform(0.1, 1, (30, 5))
    G[rng.uniform(size=G.shape) < 0.6] = INF
    before = leave_one_out(G, k=4, tau=2.0)
    for i in range(G.shape[1]):
        H = G.copy()
        H[:, i] = rng.permutation(H[:, i])
        assert leave_one_out(H, k=4, tau=2.0).folds[i].built.indices == \
            before.folds[i].built.indices


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 7), st.integers(2, 5)),
              elements=st.one_of(st.floats(0.05, 1.0), st.just(INF))))
def test_list_size_curve_agrees_with_leave_one_out_at_every_size(G):
    max_k = G.shape[0]
    curve = list_size_curve(G, max_k, tau=2.0)
    for k in range(1, max_k + 1):
        loo = leave_one_out(G, k, tau=2.0)
        assert curve.trained[k - 1] == loo.num_trained
        assert curve.mean_cost[k - 1] == pytest.approx(loo.mean_cost)
    # greedy lists only grow, so held-out results never get worse with k
    assert np.all(np.diff(curve.trained) >= 0)
    assert np.all(np.diff(curve.mean_cost) <= 1e-12)


def test_exhaustive_folds_use_the_exhaustive_set():
    G = np.array([[0.4, 0.4, 0.9], [0.1, INF, 0.5], [INF, 0.1, 0.5], [0.3, 0.3, 0.3]])
    loo = leave_one_out(G, k=2, tau=2.0, method="exhaustive")
    assert loo.method == "exhaustive"
    for fold in loo.folds:
        others = np.delete(G, fold.workload, axis=1)
        assert fold.built.cost == pytest.approx(exhaustive_set(others, 2, 2.0).cost)
    sizes = list_size_curve(G, 2, tau=2.0, method="exhaustive")
    assert sizes.trained[-1] == loo.num_trained


def test_tau_sweep_runs_leave_one_out_at_each_tau():
    sweep = tau_sweep(F, [1.0, 1.5, 2.0], k=2)
    assert sweep.taus.tolist() == [1.0, 1.5, 2.0]
    for tau, n, c, run in zip(sweep.taus, sweep.trained, sweep.mean_cost, sweep.runs,
                              strict=True):
        ref = leave_one_out(F, 2, tau)
        assert run.tau == tau and n == ref.num_trained and c == pytest.approx(ref.mean_cost)


def test_matrix_input_carries_names_and_best_metrics():
    specs = (WorkloadSpec("a", "err", "min", 0.2, 10), WorkloadSpec("b", "bleu", "max", 30, 10),
             WorkloadSpec("c", "err", "min", 0.2, 10))
    m = TrialMatrix(fractions=F, best_metric=np.array([[0.1, 31, 0.3], [0.4, 30.5, 0.15],
                                                       [0.2, 20, 0.5]]),
                    seeds=np.ones(F.shape, dtype=int), point_ids=("p", "q", "r"),
                    points=({}, {}, {}), workloads=specs)
    loo = leave_one_out(m, k=2)
    assert [f.name for f in loo.folds] == ["a", "b", "c"]
    # fold "b" (max metric) picks the higher BLEU of its list
    fold_b = loo.folds[1]
    assert fold_b.best_metric == max(m.best_metric[list(fold_b.built.indices), 1])
    assert [f.built.indices for f in loo.folds] == [
        leave_one_out(F, k=2).folds[i].built.indices for i in range(3)]


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 2 workloads"):
        leave_one_out(np.ones((3, 1)), k=1)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 3\]"):
        leave_one_out(F, k=4)
    with pytest.raises(ValueError, match="method must be one of 'greedy', 'exhaustive'"):
        leave_one_out(F, k=1, method="random")
    with pytest.raises(ValueError, match="at least one penalty factor"):
        tau_sweep(F, [], k=1)
    with pytest.raises(ValueError, match="tau must be in"):
        tau_sweep(F, [0.5], k=1)


def test_greedy_and_loo_agree_on_the_full_workload_set():
    """Sanity: a fold's list is the greedy list of the matrix without that column."""
    for fold in leave_one_out(F, k=2).folds:
        assert fold.built.indices == greedy_list(np.delete(F, fold.workload, axis=1), 2).indices
