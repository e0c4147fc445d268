"""hplists.tune: the first k points in list order, the best kept, early stop at a target."""

from __future__ import annotations

import dataclasses
import math

import pytest
from rich.console import Console

import hplists
from hplists import HParams
from hplists.lists import register_list, registry

PAPER = hplists.get_list("nadamw-paper").points


def _by_lr(values):
    """A train function whose result is looked up by the point's learning rate."""
    table = dict(zip([p.learning_rate for p in PAPER], values, strict=False))
    calls = []

    def train(point):
        calls.append(point)
        return table[point.learning_rate]

    return train, calls


def test_runs_the_first_k_points_in_order_and_keeps_the_highest():
    train, calls = _by_lr([0.5, 0.9, 0.7, 0.95, 0.1])
    result = hplists.tune(train, "nadamw-paper", k=3)
    assert calls == list(PAPER[:3])
    assert [t.index for t in result.trials] == [1, 2, 3]
    assert result.best.index == 2 and result.best.point == PAPER[1] and result.best.value == 0.9
    assert result.budget == 3 and result.reached is None


def test_min_mode_keeps_the_lowest_and_ties_go_to_the_earlier_point():
    train, _ = _by_lr([0.3, 0.2, 0.2, 0.4, 0.5])
    assert hplists.tune(train, k=4, mode="min").best.index == 2
    train, _ = _by_lr([0.9, 0.9, 0.1])
    assert hplists.tune(train, k=3).best.index == 1


def test_diverged_runs_rank_below_every_finite_one():
    train, _ = _by_lr([math.nan, -5.0, math.inf, 0.0])
    result = hplists.tune(train, k=4, mode="min")
    assert result.best.index == 2  # -inf-free: +inf is a failure, not the worst finite value
    assert [t.ok for t in result.trials] == [False, True, False, True]
    train, _ = _by_lr([math.nan, math.nan])
    assert hplists.tune(train, k=2).best.index == 1  # nothing finite: the list's first


def test_a_target_stops_at_the_first_point_that_reaches_it():
    train, calls = _by_lr([0.5, 0.91, 0.99, 0.95, 0.1])
    result = hplists.tune(train, target=0.9)
    assert len(calls) == 2 and result.reached is True and result.budget == 5
    result = hplists.tune(train, k=2, target=0.999)
    assert len(result.trials) == 2 and result.reached is False
    train, _ = _by_lr([0.3, 0.25])
    assert hplists.tune(train, k=2, mode="min", target=0.25).trials[-1].index == 2


def test_mappings_are_ranked_by_the_named_metric_and_every_number_is_kept():
    def train(point):
        return {"accuracy": point.beta1, "loss": point.learning_rate, "note": "text"}

    result = hplists.tune(train, PAPER[:3], metric="accuracy")
    assert result.best.point == max(PAPER[:3], key=lambda p: p.beta1)
    assert set(result.best.metrics) == {"accuracy", "loss"}
    assert result.best.result["note"] == "text"
    with pytest.raises(ValueError, match=r"metric must name one of its numbers \['accuracy', 'loss'\]"):
        hplists.tune(train, PAPER[:1])


def test_callback_sees_each_trial_as_it_finishes():
    seen = []
    train, _ = _by_lr([0.1, 0.2, 0.3])
    hplists.tune(train, hplists.get_list("nadamw-paper"), k=3, callback=seen.append)
    assert [t.index for t in seen] == [1, 2, 3] and all(t.seconds >= 0 for t in seen)


def test_the_table_shows_every_trial_and_marks_the_best():
    train, _ = _by_lr([0.5, 0.9])
    result = hplists.tune(train, k=2, metric="accuracy")
    text = str(result)
    assert "best (accuracy, max): point 2 with 0.9000" in text
    lines = text.splitlines()
    assert lines[1].split()[:2] == ["point", "lr"] and lines[3].lstrip().startswith("2 *")
    console = Console(width=150, record=True)
    console.print(result)
    rendered = console.export_text()  # exporting clears the record
    assert "│   2 * │" in rendered and "0.9000" in rendered


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(mode="maximize"), "mode must be one of"),
        (dict(k=0), "k must be an integer"),
        (dict(target=math.nan), "target must be a finite number"),
        (dict(points="nope"), "unknown list name 'nope'"),
        (dict(points=[]), "points must not be empty"),
        (dict(points=[{"learning_rate": 1e-3}]), "item 0 is dict"),
    ],
)
def test_bad_arguments_name_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        hplists.tune(lambda p: 0.0, **kwargs)


def test_train_must_return_a_number_or_a_mapping():
    with pytest.raises(ValueError, match="train must return a number or a mapping"):
        hplists.tune(lambda p: "0.9", k=1)
    assert hplists.tune(lambda p: 1, [HParams(1e-3, 0.9, 0.99)]).best.value == 1.0


def test_when_every_trial_fails_no_point_is_marked_best():
    """All diverged (NaN), or all raised on an executor: the table names no best point."""
    import concurrent.futures

    def broken(point):
        raise RuntimeError("out of memory")

    diverged = str(hplists.tune(lambda p: math.nan, "nadamw-paper", k=2))
    assert "none gave a finite value (point 1)" in diverged
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        failed = str(hplists.tune(broken, "nadamw-paper", k=2, executor=pool))
    assert "none gave a finite value (point 1: RuntimeError('out of memory'))" in failed
    for text in (diverged, failed):
        assert "*" not in text and "best (" not in text


def test_metric_loss_without_a_mode_keeps_the_lowest_loss_and_says_so(capsys):
    """The README's own example with metric="loss": not the worst point (mode defaulted to
    "max" before); the direction comes from the name, and one line says which."""
    train, _ = _by_lr([{"accuracy": a, "loss": 1 - a} for a in (0.5, 0.9, 0.7, 0.95, 0.1)])
    result = hplists.tune(train, "nadamw-paper", k=5, metric="loss")
    assert result.mode == "min" and result.best.index == 4 and result.best.value == 1 - 0.95
    assert "metric 'loss' ranks lower-is-better (mode='min')" in capsys.readouterr().err
    assert hplists.tune(train, k=5, metric="accuracy").mode == "max"


def test_an_unknown_metric_name_needs_a_mode():
    train, _ = _by_lr([{"throughput": 1.0}] * 5)
    with pytest.raises(ValueError, match="mode is required for metric 'throughput': pass "
                                         "mode='min' if lower is better"):
        hplists.tune(train, k=2, metric="throughput")
    assert hplists.tune(train, k=2, metric="throughput", mode="max").mode == "max"


def test_a_budget_past_the_lists_end_trains_the_whole_list():
    """k is a budget of trials: a calibrated default (one point) with k=5 trains its one
    point, whether the list comes by name or as a NamedList (a name used to refuse it)."""
    one = hplists.get_list("nadamw-paper")[:1]
    register_list(dataclasses.replace(one, name="test-one-point"))
    try:
        for points in ("test-one-point", one):
            result = hplists.tune(lambda p: p.learning_rate, points, k=5, mode="min")
            assert [t.index for t in result.trials] == [1] and result.budget == 1
    finally:
        registry._EXTRA.pop("test-one-point", None)
