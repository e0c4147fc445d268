"""Ranking a search's points: C_tau first, ties broken by the data, never by sample order."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hplists.exceptions import InvalidParameterError
from hplists.scoring.cost import cost
from hplists.scoring.ranking import log_cost_exact, log_target_gap, rank_points
from hplists.scoring.workload_specs import WorkloadSpec

INF = math.inf
SPECS = [WorkloadSpec("err", "error_rate", "min", 0.2, 100),
         WorkloadSpec("ssim", "ssim", "max", 0.8, 100)]


def test_cost_comes_first():
    f = np.array([[INF, INF], [0.5, INF], [0.5, 0.9]])
    best = np.array([[0.21, 0.79], [0.1, 0.5], [0.2, 0.8]])
    assert rank_points(f, best, SPECS, 2.0) == [2, 1, 0]


def test_ties_in_cost_go_to_the_point_closest_to_the_targets_not_the_first_index():
    """Every point misses both targets (C_2 = 2 for all): the closest ranks first."""
    f = np.full((3, 2), INF)
    best = np.array([[0.9, 0.1], [0.25, 0.7], [0.3, 0.75]])  # gaps: far, 1.25*8/7, 1.5*16/15
    assert rank_points(f, best, SPECS, 2.0) == [1, 2, 0]


def test_a_workload_with_no_finite_value_is_infinitely_far_and_equal_data_keeps_sample_order():
    f = np.full((3, 2), INF)
    best = np.array([[0.25, -INF], [0.3, 0.7], [0.3, 0.7]])
    assert rank_points(f, best, SPECS, 2.0) == [1, 2, 0]


def test_exact_log_cost_agrees_with_the_cost_module():
    rng = np.random.default_rng(0)
    f = rng.uniform(0.1, 3.0, (50, 8))
    f[f > 2.5] = INF
    for row in f:
        assert math.exp(log_cost_exact(row, 2.0)) == pytest.approx(cost(row, 2.0), rel=1e-14)


def test_target_gap_orients_each_metric_so_that_lower_is_closer():
    assert math.exp(log_target_gap([0.1, 0.8], SPECS)) == pytest.approx(math.sqrt(0.5))
    assert log_target_gap([0.0, 0.9], SPECS) < log_target_gap([0.1, 0.9], SPECS)  # 0 error: best


def test_shapes_must_agree():
    with pytest.raises(InvalidParameterError, match="best has shape"):
        rank_points(np.ones((2, 2)), np.ones((3, 2)), SPECS, 2.0)
    with pytest.raises(InvalidParameterError, match="best has 1 values for 2 workloads"):
        log_target_gap([0.1], SPECS)
