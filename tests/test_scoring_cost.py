"""The cost C_tau (paper 001, Sec. 2.5): the paper's test vector, bounds, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import hplists
from hplists.scoring.cost import cost, list_fractions, prefix_costs

INF = math.inf

# Paper 001, Table 9 (= Table 14): step fractions of the final 5-point list on
# the 8 AlgoPerf base workloads (Criteo, fastMRI, ResNet, ViT, Conformer,
# DeepSpeech, OGBG, WMT). fastMRI was missed.
TABLE_9 = [0.75886, INF, 0.949664, 0.809714, 0.82, 0.79, 0.58, 0.659837]


def test_paper_table_9_vector_gives_the_hand_computed_c2():
    """C_2 of Table 9, by hand: cap the miss at tau = 2, multiply, take the 8th root."""
    # min(t_i/T_i, 2) for each workload: the inf (fastMRI) becomes 2.
    capped = [0.75886, 2.0, 0.949664, 0.809714, 0.82, 0.79, 0.58, 0.659837]
    # Running product, written out:
    #   0.75886
    #   * 2        = 1.51772
    #   * 0.949664 = 1.4413240460799999
    #   * 0.809714 = 1.167060258647621
    #   * 0.82     = 0.9569894120910493
    #   * 0.79     = 0.7560216355519289
    #   * 0.58     = 0.4384925486201187
    #   * 0.659837 = 0.28933360780385325
    product = 0.28933360780385325
    assert math.prod(capped) == pytest.approx(product, rel=1e-15)
    # 8th root: 0.8564^8 = 0.28934..., so C_2 = 0.856396...
    expected = product ** (1 / 8)
    assert expected == pytest.approx(0.8563964538, abs=1e-10)
    assert cost(TABLE_9, tau=2.0) == pytest.approx(expected, rel=1e-12)
    assert hplists.cost(TABLE_9) == pytest.approx(expected, rel=1e-12)  # default tau is 2


def test_a_missed_workload_costs_exactly_tau():
    assert cost([INF, INF], tau=1.5) == pytest.approx(1.5)
    assert cost([0.25, INF], tau=4.0) == pytest.approx(1.0)  # sqrt(0.25 * 4)


def test_two_d_input_is_a_list_of_points_and_uses_the_best_per_workload():
    F = np.array([[0.5, INF, 0.9], [0.8, 0.6, INF]])
    assert cost(F, 2.0) == pytest.approx((0.5 * 0.6 * 0.9) ** (1 / 3))
    assert list_fractions(F, [1]).tolist() == [0.8, 0.6, INF]


def test_prefix_costs_follow_the_list_order():
    F = np.array([[0.5, INF], [0.8, 0.5], [0.1, 0.1]])
    costs, trained = prefix_costs(F, [1, 0, 2], tau=2.0)
    assert costs == pytest.approx([math.sqrt(0.4), math.sqrt(0.25), 0.1])
    assert trained.tolist() == [2, 2, 2]


@settings(max_examples=200, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 6)),
           elements=st.one_of(st.floats(0.01, 1.0), st.just(INF))),
    st.floats(1.0, 4.0),
)
def test_cost_lies_between_the_smallest_capped_fraction_and_tau(F, tau):
    c = cost(F, tau)
    best = np.minimum(F.min(axis=0), tau)
    assert best.min() * (1 - 1e-12) <= c <= tau * (1 + 1e-12)


@pytest.mark.parametrize(
    ("fractions", "tau", "match"),
    [
        ([0.5, float("nan")], 2.0, "NaN"),
        ([0.5, -0.1], 2.0, ">= 0"),
        ([], 2.0, "at least one workload"),
        ([[[0.5]]], 2.0, "1-D or 2-D"),
        ([0.5], 0.5, "tau must be in"),
        ([0.5], float("inf"), "tau must be in"),
    ],
)
def test_bad_input_names_the_field(fractions, tau, match):
    with pytest.raises(ValueError, match=match):
        cost(fractions, tau)


def test_list_fractions_rejects_unknown_point_indices():
    with pytest.raises(ValueError, match=r"indices must be in \[0, 1\]"):
        list_fractions(np.ones((2, 3)), [0, 2])
