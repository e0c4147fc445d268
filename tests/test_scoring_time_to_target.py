"""Time-to-target: direction of the comparison, first hit, misses, divergence and NaN."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hplists.scoring.time_to_target import best_value, first_hit, step_fraction, time_to_target

NAN = math.nan
STEPS = [25, 50, 75, 100]


def test_min_metric_is_reached_at_the_first_evaluation_at_or_below_the_target():
    # equality counts as reached (<=), and later, better values do not matter
    assert time_to_target(STEPS, [0.6, 0.3, 0.2, 0.1], 0.3, "min") == 50.0


def test_max_metric_is_reached_at_the_first_evaluation_at_or_above_the_target():
    assert time_to_target(STEPS, [20.0, 30.8491, 31.0, 29.0], 30.8491, "max") == 50.0


def test_a_missed_target_is_inf():
    assert time_to_target(STEPS, [0.6, 0.5, 0.4, 0.35], 0.3, "min") == math.inf
    assert step_fraction(STEPS, [0.6, 0.5, 0.4, 0.35], 0.3, "min", 100) == math.inf


def test_step_fraction_divides_by_the_budget():
    assert step_fraction(STEPS, [0.6, 0.4, 0.25, 0.2], 0.3, "min", 100) == 0.75
    # an evaluation grid that stops short of the budget is fine
    assert step_fraction(STEPS[:2], [0.6, 0.2], 0.3, "min", 200) == 0.25


def test_batched_curves_share_the_steps():
    values = np.array([[0.6, 0.3, 0.2, 0.1], [0.9, 0.8, 0.7, 0.6], [0.1, 0.1, 0.1, 0.1]])
    assert time_to_target(STEPS, values, 0.3, "min").tolist() == [50.0, math.inf, 25.0]
    assert first_hit(values, 0.3, "min").tolist() == [1, -1, 0]


def test_a_diverged_run_keeps_the_hits_it_made_before_diverging():
    """As AlgoPerf's scoring: NaN never reaches the target, earlier evaluations still count."""
    assert time_to_target(STEPS, [0.5, 0.25, NAN, NAN], 0.3, "min", diverged=True) == 50.0
    assert time_to_target(STEPS, [0.5, 0.4, NAN, NAN], 0.3, "min", diverged=True) == math.inf
    # +-inf is a divergence too and never reaches a max target
    assert time_to_target(STEPS, [1.0, math.inf, NAN, NAN], 30.0, "max", diverged=True) == math.inf


def test_nan_in_a_run_not_marked_diverged_is_an_error():
    with pytest.raises(ValueError, match="not marked diverged"):
        time_to_target(STEPS, [0.5, NAN, 0.2, 0.1], 0.3, "min")
    with pytest.raises(ValueError, match=r"evaluation 1 of run \(1,\)"):
        time_to_target(STEPS, [[0.5, 0.4, 0.2, 0.1], [0.5, NAN, 0.2, 0.1]], 0.3, "min",
                       diverged=[True, False])


def test_evaluations_beyond_the_budget_are_an_error():
    with pytest.raises(ValueError, match="beyond the step budget 75"):
        step_fraction(STEPS, [0.6, 0.4, 0.25, 0.2], 0.3, "min", 75)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(mode="lower"), "mode must be one of 'min', 'max'"),
        (dict(target=NAN), "target must be"),
        (dict(steps=[25, 25, 75, 100]), "strictly increasing"),
        (dict(values=[0.1, 0.2]), "one value per step"),
    ],
)
def test_bad_input_names_the_field(kwargs, match):
    args = dict(steps=STEPS, values=[0.6, 0.4, 0.25, 0.2], target=0.3, mode="min") | kwargs
    with pytest.raises(ValueError, match=match):
        time_to_target(**args)


def test_best_value_ignores_divergence_and_is_worst_when_nothing_is_finite():
    assert best_value([[0.5, 0.3, 0.4], [NAN, NAN, NAN]], "min", diverged=True).tolist() == [
        0.3, math.inf]
    assert best_value([10.0, 31.0, 30.0], "max").tolist() == 31.0
    assert best_value([NAN, NAN], "max", diverged=True) == -math.inf
