"""Random-search tuning curves: exact expectations, opda bands, equivalent budget."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from opda.nonparametric import EmpiricalDistribution

import hplists
from hplists.scoring.tuning_curve import equivalent_budget, expected_best, tuning_curve


def test_expected_best_without_replacement_enumerates_all_subsets():
    """E[best of n distinct points] equals the average over all C(P, n) subsets."""
    y = np.array([0.3, 0.1, 0.7, 0.7, 0.2, 0.9])
    for n in range(1, y.size + 1):
        subsets = list(itertools.combinations(y, n))
        assert expected_best(y, n, minimize=False)[0] == pytest.approx(
            np.mean([max(s) for s in subsets]), rel=1e-12)
        assert expected_best(y, n, minimize=True)[0] == pytest.approx(
            np.mean([min(s) for s in subsets]), rel=1e-12)


def test_expected_best_with_replacement_enumerates_all_draws():
    y = np.array([0.3, 0.1, 0.7, 0.2])
    for n in (1, 2, 3):
        draws = list(itertools.product(y, repeat=n))
        assert expected_best(y, n, minimize=True, replacement=True)[0] == pytest.approx(
            np.mean([min(d) for d in draws]), rel=1e-12)


def test_expected_best_agrees_with_opdas_u_and_v_statistics():
    y = np.random.default_rng(0).normal(size=200)
    ns = np.arange(1, 201)
    dist = EmpiricalDistribution(y)
    for minimize in (False, True):
        np.testing.assert_allclose(expected_best(y, ns, minimize=minimize),
                                   dist.u_tuning_curve(ns, minimize=minimize), atol=1e-10)
        np.testing.assert_allclose(expected_best(y, ns, minimize=minimize, replacement=True),
                                   dist.v_tuning_curve(ns, minimize=minimize), atol=1e-10)


def test_infinite_values_make_the_expectation_infinite_only_when_they_can_be_the_best():
    y = [0.5, math.inf, math.inf]
    # without replacement, 2 draws of 3 points miss the finite one with probability 1/3
    assert expected_best(y, [1, 2, 3], minimize=True).tolist() == [math.inf, math.inf, 0.5]
    assert expected_best(y, 3, minimize=False).tolist() == [math.inf]


def test_bands_from_opda_bracket_the_curve_and_need_bounds_for_the_mean():
    rng = np.random.default_rng(1)
    y = rng.uniform(0.2, 0.6, size=40)
    tc = hplists.tuning_curve(y, [1, 2, 5, 10, 20], minimize=True, bounds=(0.0, 1.0),
                              replacement=True)
    assert tc.confidence == 0.7
    assert np.all(tc.lower <= tc.point + 1e-12) and np.all(tc.point <= tc.upper + 1e-12)
    assert np.all(np.diff(tc.point) <= 0)  # more trials never hurt on average
    # bands computed with opda directly agree
    lo, _, hi = EmpiricalDistribution.confidence_bands(
        y, 0.7, a=0.0, b=1.0, generator=np.random.default_rng(0), method="ld_equal_tailed",
        n_jobs=1)
    np.testing.assert_allclose(tc.lower, hi.average_tuning_curve(tc.ns, minimize=True))
    np.testing.assert_allclose(tc.upper, lo.average_tuning_curve(tc.ns, minimize=True))
    unbounded = tuning_curve(y, [1, 5], minimize=True, band_method="dkw")
    assert np.all(np.isinf(unbounded.upper))  # a mean with unbounded support


def test_median_tuning_curve_uses_opdas_quantile_curve():
    y = np.random.default_rng(2).uniform(size=30)
    tc = tuning_curve(y, [1, 3, 9], minimize=False, statistic="median", band_method="dkw")
    np.testing.assert_allclose(tc.point, EmpiricalDistribution(y).quantile_tuning_curve(
        [1, 3, 9], q=0.5, minimize=False))
    assert tc.replacement


def test_equivalent_budget_is_the_first_n_whose_expected_best_matches():
    y = [0.3, 0.25, 0.4, 0.2]
    curve = expected_best(y, [1, 2, 3, 4], minimize=True)  # 0.2875, 0.2333, 0.2125, 0.2
    assert curve[1] <= 0.25 < curve[0]
    assert equivalent_budget(y, 0.25, minimize=True) == 2
    assert equivalent_budget(y, 0.2, minimize=True) == 4  # the best point: all of them
    assert equivalent_budget(y, 0.19, minimize=True) is None
    # with replacement E[max of n] = 2 - 0.5**n: 1.9 needs n = 4, and 2.0 is never reached
    assert equivalent_budget([1.0, 2.0], 1.9, minimize=False, replacement=True) == 4
    assert equivalent_budget([1.0, 2.0], 2.0, minimize=False, replacement=True) is None


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: expected_best([], 1, minimize=True), "non-empty"),
        (lambda: expected_best([0.1, math.nan], 1, minimize=True), "NaN"),
        (lambda: expected_best([0.1, 0.2], 3, minimize=True), "at most the 2 sampled points"),
        (lambda: expected_best([0.1, 0.2], 0, minimize=True), "n .number of random-search"),
        (lambda: tuning_curve([0.1], [1], minimize=True, statistic="mode"), "statistic must"),
        (lambda: tuning_curve([0.1], [1], minimize=True, band_method="x"), "band_method must"),
        (lambda: tuning_curve([2.0], [1], minimize=True, bounds=(0, 1)), "bounds must contain"),
    ],
)
def test_bad_input_names_the_field(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def _matrix():
    from hplists.scoring.matrix import TrialMatrix
    from hplists.scoring.workload_specs import WorkloadSpec

    fractions = np.array([[0.5, INF], [INF, 0.4], [0.9, 0.8], [INF, INF]])
    best = np.array([[0.10, 31.0], [0.30, 32.0], [0.15, 30.5], [0.50, 20.0]])
    specs = (WorkloadSpec("cls", "error_rate", "min", 0.2, 100),
             WorkloadSpec("mt", "bleu", "max", 30.0, 100))
    return TrialMatrix(fractions, best, np.ones((4, 2), dtype=int), ("a", "b", "c", "d"),
                       ({},) * 4, specs)


INF = math.inf


def test_workload_tuning_curve_uses_the_workloads_direction_and_caps_times_at_tau():
    from hplists.scoring.tuning_curve import workload_tuning_curve

    m = _matrix()
    curve, result, n = workload_tuning_curve(m, "mt", indices=[2, 3], confidence=None)
    assert not curve.minimize
    np.testing.assert_allclose(curve.point, expected_best([31.0, 32.0, 30.5, 20.0],
                                                          [1, 2, 3, 4], minimize=False))
    assert result == 30.5 and n == equivalent_budget([31.0, 32.0, 30.5, 20.0], 30.5,
                                                     minimize=False)
    curve, result, n = workload_tuning_curve(m, "cls", quantity="time", tau=2.0, indices=[0],
                                             band_method="dkw")
    assert curve.minimize and result == 0.5
    np.testing.assert_allclose(curve.point, expected_best([0.5, 2.0, 0.9, 2.0], [1, 2, 3, 4],
                                                          minimize=True))
    assert np.all(np.isfinite(curve.upper))  # capped times are bounded by (0, tau)
    assert n == 4  # the best point of all: random search needs every point
    with pytest.raises(ValueError, match="quantity must be one of 'metric', 'time'"):
        workload_tuning_curve(m, "cls", quantity="speed")
    with pytest.raises(ValueError, match="unknown workload 'x'"):
        workload_tuning_curve(m, "x")


def test_lists_accept_a_trial_matrix():
    m = _matrix()
    assert hplists.greedy_list(m, 2).indices == hplists.greedy_list(m.fractions, 2).indices
    assert hplists.exhaustive_set(m, 2).cost == hplists.exhaustive_set(m.fractions, 2).cost


@pytest.mark.parametrize("seed", range(3))
def test_equivalent_budget_of_a_large_sample_is_the_first_n_of_the_whole_curve(seed, monkeypatch):
    """Blocks of n (bounded memory, P log P time) find the n the whole curve gives."""
    from hplists.scoring import tuning_curve as tc

    rng = np.random.default_rng(seed)
    monkeypatch.setattr(tc, "_CELLS", 500)  # a block of a few n on these samples
    for _ in range(40):
        size = int(rng.integers(2, 300))
        y = rng.choice([0.1, 0.2, 0.5, 1.0, np.inf], size=size) if rng.random() < 0.5 \
            else rng.random(size)
        minimize = bool(rng.random() < 0.5)
        finite = y[np.isfinite(y)]
        for result in ([float(np.quantile(finite, q)) for q in (0.0, 0.05, 0.5)]
                       if finite.size else [0.5]):
            for replacement in (False, True):
                max_n = size if not replacement else 10 * size
                ns = np.arange(1, max_n + 1)
                curve = tc.expected_best(y, ns, minimize=minimize, replacement=replacement)
                slack = 1e-12 * abs(result)
                ok = curve <= result + slack if minimize else curve >= result - slack
                want = int(ns[np.argmax(ok)]) if ok.any() else None
                assert tc.equivalent_budget(y, result, minimize=minimize,
                                            replacement=replacement) == want
