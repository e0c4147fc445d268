"""Performance profiles and the AlgoPerf benchmark score, against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import hplists
from hplists.scoring.profiles import benchmark_score, performance_profiles

INF = math.inf


def test_small_example_matches_the_hand_computation():
    """Three submissions on two workloads, worked out by hand.

    times:      w0    w1
        A      1.0   2.0     fastest on both -> ratios (1, 1)
        B      2.5   inf     ratios (2.5, inf)
        C      3.0   9.0     w1 is 4.5x the best (> 4x) -> inf; ratios (3, inf)

    The grid is tau_j = 1 + 3j/99, j = 0..99, so the profiles are step
    functions: rho_A = 1 everywhere; rho_B = 1/2 from tau_50 = 2.5151... (the
    first grid point >= 2.5; tau_49 = 2.4848...); rho_C = 1/2 from tau_66 = 3.0.
    Trapezoid areas with width h = 3/99, normalized by 4 - 1 = 3:
        A: 99 h / 3 = 1
        B: (1/4 + 49 * 1/2) h / 3 = 24.75/99 = 0.25
        C: (1/4 + 33 * 1/2) h / 3 = 16.75/99    (intervals 66..98)
    """
    times = [[1.0, 2.0], [2.5, INF], [3.0, 9.0]]
    p = performance_profiles(times)
    assert p.taus[0] == 1.0 and p.taus[-1] == 4.0 and p.taus.size == 100
    assert p.ratios.tolist() == [[1.0, 1.0], [2.5, INF], [3.0, INF]]
    assert p.times[2].tolist() == [3.0, INF]  # beyond 4x the best: inf
    assert p.rho[1, 49] == 0.0 and p.rho[1, 50] == 0.5
    # tau_66 is 3.0 up to rounding; whether 3.0 <= tau_66 decides rho_C[66]
    tau66 = p.taus[66]
    assert p.rho[2, 66] == (0.5 if 3.0 <= tau66 else 0.0)
    scores = benchmark_score(times)
    c_area = (0.25 + 33 * 0.5) if 3.0 <= tau66 else (0.25 + 32 * 0.5)
    assert scores == pytest.approx([1.0, 24.75 / 99, c_area / 99], rel=1e-12)
    assert hplists.benchmark_score(p) == pytest.approx(scores)
    assert hplists.performance_profiles(times).rho.shape == (3, 100)


def _reference(times, max_tau=4.0, num_points=100):
    """AlgoPerf's procedure written out with loops (performance_profile.py, score_submissions.py)."""
    times = np.array(times, dtype=float)
    s, n = times.shape
    best = [min(times[:, i]) for i in range(n)]
    taus = np.linspace(1.0, max_tau, num_points)
    scores = []
    for a in range(s):
        ratios = []
        for i in range(n):
            t = times[a, i]
            if t > 4 * best[i]:
                t = INF
            ratios.append(t / best[i] if math.isfinite(best[i]) else INF)
        rho = [sum(r <= tau for r in ratios) / n for tau in taus]
        area = sum((rho[j] + rho[j + 1]) / 2 * (taus[j + 1] - taus[j]) for j in range(len(taus) - 1))
        scores.append(area / (max_tau - 1.0))
    return np.array(scores)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 6)),
              elements=st.one_of(st.floats(0.05, 1.0), st.just(INF))))
def test_scores_match_a_loop_implementation_of_algoperf_and_lie_in_0_1(times):
    scores = benchmark_score(times)
    assert scores == pytest.approx(_reference(times), abs=1e-12)
    assert np.all((scores >= 0) & (scores <= 1))


def test_the_fastest_everywhere_scores_1_and_a_submission_missing_everything_scores_0():
    scores = benchmark_score([[0.5, 0.5, 0.5], [INF, INF, INF], [0.6, 0.5, INF]])
    assert scores[0] == 1.0 and scores[1] == 0.0 and 0 < scores[2] < 1


def test_a_workload_nobody_trains_gives_no_credit_to_anyone():
    p = performance_profiles([[0.5, INF], [0.7, INF]])
    assert p.rho[:, -1].tolist() == [0.5, 0.5]


@pytest.mark.parametrize(
    ("times", "kwargs", "match"),
    [
        ([[0.5, math.nan]], {}, "NaN"),
        ([[0.5, 0.0]], {}, "> 0"),
        ([0.5, 0.6], {}, "2-D array"),
        ([[0.5]], {"max_tau": 1.0}, "max_tau must be in"),
        ([[0.5]], {"num_points": 1}, "num_points must be an integer"),
    ],
)
def test_bad_input_names_the_field(times, kwargs, match):
    with pytest.raises(ValueError, match=match):
        performance_profiles(times, **kwargs)
