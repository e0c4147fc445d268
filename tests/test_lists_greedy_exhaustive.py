"""Greedy lists (Algorithm 1) and exhaustive best sets (Appendix D) on matrices of step fractions."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import hplists
from hplists.lists.exhaustive import exhaustive_set, nondominated
from hplists.lists.greedy import greedy_list
from hplists.scoring.cost import cost

INF = math.inf

# Random trial matrices: P points x N workloads, fractions on a coarse grid (so
# ties happen) or inf (missed), as in real studies where most points miss.
FRACTION = st.one_of(st.sampled_from([0.2, 0.4, 0.5, 0.6, 0.8, 1.0]),
                     st.floats(0.05, 1.0), st.just(INF), st.just(INF))
MATRIX = arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(1, 5)), elements=FRACTION)
TAU = st.sampled_from([1.0, 1.33, 2.0, 3.0])


def brute_force(F, k, tau):
    return min(cost(F[list(s)], tau) for s in itertools.combinations(range(F.shape[0]), k))


@settings(max_examples=150, deadline=None)
@given(MATRIX, TAU)
def test_greedy_lists_are_prefix_consistent(F, tau):
    """The list of size K - 1 is the first K - 1 points of the list of size K."""
    full = greedy_list(F, F.shape[0], tau)
    for k in range(1, F.shape[0] + 1):
        assert greedy_list(F, k, tau).indices == full.indices[:k]


@settings(max_examples=150, deadline=None)
@given(MATRIX, TAU)
def test_cost_never_rises_as_the_list_grows(F, tau):
    built = greedy_list(F, F.shape[0], tau)
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(built.costs))
    assert all(b >= a for a, b in itertools.pairwise(built.trained))
    for k, c in enumerate(built.costs, 1):
        assert c == pytest.approx(cost(F[list(built.indices[:k])], tau), rel=1e-12)


@settings(max_examples=150, deadline=None)
@given(MATRIX, TAU, st.data())
def test_exhaustive_is_the_brute_force_minimum_and_never_worse_than_greedy(F, tau, data):
    k = data.draw(st.integers(1, F.shape[0]))
    best = exhaustive_set(F, k, tau)
    assert len(set(best.indices)) == k
    assert best.cost <= greedy_list(F, k, tau).cost * (1 + 1e-12)
    assert best.cost == pytest.approx(brute_force(F, k, tau), rel=1e-12)
    assert best.cost == pytest.approx(cost(F[list(best.indices)], tau), rel=1e-12)


@settings(max_examples=150, deadline=None)
@given(MATRIX, TAU, st.data())
def test_cost_lies_between_the_smallest_fraction_and_tau(F, tau, data):
    k = data.draw(st.integers(1, F.shape[0]))
    for built in (greedy_list(F, k, tau), exhaustive_set(F, k, tau)):
        smallest = min(np.minimum(F[list(built.indices)], tau).min(), tau)
        assert smallest * (1 - 1e-12) <= built.cost <= tau * (1 + 1e-12)


def test_greedy_follows_algorithm_1_on_a_worked_example():
    F = np.array([[0.5, INF, INF],
                  [0.9, 0.6, INF],
                  [INF, INF, 0.4]])
    built = hplists.greedy_list(F, k=3, tau=2.0)
    # step 1: point 1 alone costs (0.9*0.6*2)^(1/3) = 1.026 < 1.26 (point 0) and 1.17 (point 2)
    # step 2: adding point 2 gives (0.9*0.6*0.4)^(1/3) = 0.6; adding point 0 gives 0.843
    assert built.indices == (1, 2, 0)
    assert built.costs == pytest.approx([1.08 ** (1 / 3), 0.6, 0.12 ** (1 / 3)])
    assert built.trained == (2, 3, 3)
    assert built.fractions.tolist() == [0.5, 0.6, 0.4]


def test_greedy_breaks_ties_by_workloads_trained_then_lowest_index():
    # points 0 and 1 cost the same alone at tau = 1 (a miss costs 1, as does a fraction of 1),
    # but point 1 trains two workloads
    F = np.array([[0.25, INF], [0.25, 1.0], [0.25, 1.0]])
    assert greedy_list(F, 1, tau=1.0).indices == (1,)
    # once nothing lowers the cost, the lowest unused indices follow
    assert greedy_list(F, 3, tau=1.0).indices == (1, 0, 2)


def test_exhaustive_can_beat_greedy():
    # greedy takes the point best on its own (0: cost 0.4, vs sqrt(0.1 * 2) for 1 or 2)
    # and is stuck with it (0.2 for a pair); the pair 1+2 costs 0.1
    F = np.array([[0.4, 0.4], [0.1, INF], [INF, 0.1]])
    greedy, best = greedy_list(F, 2, 2.0), exhaustive_set(F, 2, 2.0)
    assert greedy.indices == (0, 1) and greedy.cost == pytest.approx(0.2)
    assert sorted(best.indices) == [1, 2] and best.cost == pytest.approx(0.1)


def test_exhaustive_set_is_ordered_greedily_within_the_set():
    F = np.array([[0.4, 0.4], [0.1, INF], [INF, 0.1], [0.2, 0.3]])
    best = hplists.exhaustive_set(F, 3, 2.0)
    assert best.method == "exhaustive"
    assert best.indices == tuple(best.indices[i] for i in
                                 greedy_list(F[list(best.indices)], 3, 2.0).indices)
    assert best.costs[-1] == pytest.approx(0.1)


def test_points_that_train_nothing_are_pruned_exactly():
    F = np.full((6, 3), INF)
    F[4] = [0.5, INF, 0.7]
    F[5] = [0.5, INF, 0.7]  # duplicate of 4: the lower index is kept
    assert nondominated(F).tolist() == [4]
    best = exhaustive_set(F, 3, 2.0)
    # the only useful point, then the lowest-index others
    assert sorted(best.indices) == [0, 1, 4] and best.indices[0] == 4
    assert best.cost == pytest.approx((0.5 * 2 * 0.7) ** (1 / 3))


def test_exhaustive_on_a_realistic_200_point_study_is_no_worse_than_greedy():
    """A 200 x 8 study where each point reaches few targets (paper 001, Table 4)."""
    rng = np.random.default_rng(0)
    F = rng.uniform(0.3, 1.0, (200, 8))
    F[rng.uniform(size=F.shape) < 0.9] = INF
    best = exhaustive_set(F, 3, 2.0)
    assert best.cost <= greedy_list(F, 3, 2.0).cost * (1 + 1e-12)


@pytest.mark.parametrize("build", [greedy_list, exhaustive_set])
def test_k_larger_than_the_number_of_points_is_a_clear_error(build):
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 2\] .*got 3"):
        build(np.ones((2, 3)), 3)
    with pytest.raises(ValueError, match="k must be an integer"):
        build(np.ones((2, 3)), 0)
    with pytest.raises(ValueError, match="k must be an integer"):
        build(np.ones((2, 3)), 1.5)


@pytest.mark.parametrize("build", [greedy_list, exhaustive_set])
def test_bad_matrices_and_taus_are_clear_errors(build):
    with pytest.raises(ValueError, match="NaN"):
        build(np.array([[0.5, math.nan]]), 1)
    with pytest.raises(ValueError, match="2-D array"):
        build(np.array([0.5, 0.6]), 1)
    with pytest.raises(ValueError, match="tau must be in"):
        build(np.ones((2, 2)), 1, tau=0.9)


# Coarse grids: many points tie on every workload, and many sets tie on cost.
TIED = arrays(np.float64, st.tuples(st.integers(1, 14), st.integers(1, 5)),
              elements=st.sampled_from([0.25, 0.5, 1.0, 2.5, INF, INF]))


def _dominated_by_definition(F, tau):
    capped, finite = np.minimum(F, tau), np.isfinite(F)
    out = []
    for q in range(F.shape[0]):
        for p in range(F.shape[0]):
            geq = (capped[p] <= capped[q]).all() and (finite[p] | ~finite[q]).all()
            same = (capped[p] == capped[q]).all() and (finite[p] == finite[q]).all()
            if p != q and geq and (not same or p < q):
                out.append(q)
                break
    return out


@settings(max_examples=200, deadline=None)
@given(TIED, TAU)
def test_nondominated_points_are_those_no_other_point_dominates(F, tau):
    dominated = _dominated_by_definition(F, tau)
    assert nondominated(F, tau).tolist() == [i for i in range(F.shape[0]) if i not in dominated]


@settings(max_examples=200, deadline=None)
@given(TIED, TAU, st.data())
def test_exhaustive_ties_go_to_the_most_trained_then_the_smallest_indices(F, tau, data):
    """The documented tie-break, by brute force over the non-dominated points' sets."""
    k = data.draw(st.integers(1, F.shape[0]))
    keep = [i for i in range(F.shape[0]) if i not in _dominated_by_definition(F, tau)]
    if len(keep) <= k:
        want = keep + [i for i in range(F.shape[0]) if i not in keep][: k - len(keep)]
    else:
        with np.errstate(divide="ignore"):
            logs = np.log(np.minimum(F, tau))
        sets = []
        for s in itertools.combinations(keep, k):
            total = 0.0
            for i in range(F.shape[1]):  # summed workload by workload, as the search sums
                total += float(logs[list(s), i].min())
            sets.append((total, int(np.isfinite(F[list(s)]).any(axis=0).sum()), s))
        low = min(t for t, _, _ in sets)
        want = list(min((s for s in sets if s[0] <= low + 1e-12),
                        key=lambda s: (-s[1], s[2]))[2])
    assert sorted(exhaustive_set(F, k, tau).indices) == sorted(want)
