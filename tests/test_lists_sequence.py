"""Lists behave like sequences of their points."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pytest

import hplists
from hplists.hparams import HParams
from hplists.lists import NamedList, get_list
from hplists.lists.constructed import ConstructedList
from hplists.lists.exhaustive import exhaustive_set
from hplists.lists.greedy import greedy_list
from hplists.lists.loo import leave_one_out

F = np.array([[0.5, np.inf, np.inf, 0.7],
              [0.9, 0.6, np.inf, np.inf],
              [np.inf, np.inf, 0.4, 0.8],
              [0.3, 0.95, np.inf, np.inf],
              [np.inf, 0.5, 0.9, np.inf]])  # fmt: skip


# NamedList ------------------------------------------------------------------------------


def test_iterating_a_named_list_yields_its_hparams_in_priority_order():
    named = hplists.get_list("nadamw-paper")
    seen = [p for p in named]
    assert seen == list(named.points)
    assert all(isinstance(p, HParams) for p in seen)
    assert seen[0].learning_rate == 0.007188680089024849  # Table 10's first row
    assert seen[-1].learning_rate == 0.0005102205206215031  # and its last


def test_named_list_len_index_negative_index_in_reversed():
    named = get_list("nadamw-paper")
    assert len(named) == 5
    assert isinstance(named, Sequence)
    assert named[0] is named.points[0]
    assert named[-1] is named.points[4]
    assert named[np.int64(2)] is named.points[2]
    assert named.points[3] in named
    assert dataclasses.replace(named.points[0], learning_rate=1.0) not in named
    assert list(reversed(named)) == list(named.points)[::-1]
    assert named.index(named.points[3]) == 3
    assert named.count(named.points[1]) == 1


def test_named_list_slice_keeps_name_optimizer_and_provenance():
    named = get_list("nadamw-paper")
    head = named[:3]
    assert isinstance(head, NamedList)
    assert len(head) == 3
    assert head.points == named.points[:3]
    assert (head.name, head.optimizer, head.description, head.source, head.provenance) == (
        named.name, named.optimizer, named.description, named.source, named.provenance)
    assert head == get_list("nadamw-paper", k=3)
    assert named[::-1].points == named.points[::-1]
    assert named[1:3].points == named.points[1:3]
    assert named[10:].points == ()  # an empty slice, as for tuples


def test_named_list_equality_is_unchanged():
    assert get_list("nadamw-paper") == get_list("nadamw-paper")
    assert get_list("nadamw-paper") != get_list("nadamw-paper", k=4)
    assert get_list("nadamw-paper") != get_list("nadamw-paper").points  # not a bare tuple


def test_named_list_bad_index_raises_sequence_errors_with_clear_messages():
    named = get_list("nadamw-paper")
    with pytest.raises(IndexError, match=r"'nadamw-paper' index 5 out of range: it has 5 points"):
        named[5]
    with pytest.raises(IndexError, match="index -6 out of range"):
        named[-6]
    with pytest.raises(TypeError, match="indices must be integers or slices, not str"):
        named["0"]  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="not float"):
        named[1.0]  # type: ignore[call-overload]


def test_existing_attributes_still_work():
    named = get_list("nadamw-paper")
    assert named.first(2) == named.points[:2]
    assert NamedList.from_dict(named.to_dict()) == named
    metz = get_list("metz-nadamw")  # points are plain dicts there
    assert list(metz) == list(metz.points) and metz[0] == metz.points[0]


def test_tune_accepts_a_named_list_and_its_slices():
    def train(point: HParams) -> float:
        return -abs(point.learning_rate - 0.0012)

    named = get_list("nadamw-paper")
    by_name = hplists.tune(train, "nadamw-paper", k=3)
    by_list = hplists.tune(train, named, k=3)
    by_slice = hplists.tune(train, named[:3])
    assert by_name.budget == by_list.budget == by_slice.budget == 3
    assert [t.point for t in by_slice.trials] == list(named[:3])
    assert by_name.best.index == by_list.best.index == by_slice.best.index == 3
    assert hplists.tune(train, iter(named[1:3])).budget == 2


def test_tune_explains_that_a_constructed_list_holds_row_indices():
    with pytest.raises(ValueError, match=r"row indices.*\[candidates\[i\] for i in built\]"):
        hplists.tune(lambda p: 0.0, greedy_list(F, k=2))


# ConstructedList ------------------------------------------------------------------------


def test_greedy_list_iterates_indexes_and_contains_its_rows():
    built = greedy_list(F, k=4, tau=2.0)
    assert isinstance(built, Sequence)
    assert list(built) == list(built.indices)
    assert len(built) == 4
    assert built[0] == built.indices[0] and built[-1] == built.indices[3]
    assert all(isinstance(i, int) for i in built)
    assert built.indices[1] in built
    assert list(reversed(built)) == list(built.indices)[::-1]
    assert built.index(built.indices[2]) == 2
    candidates = [f"point {i}" for i in range(F.shape[0])]
    assert [candidates[i] for i in built] == [f"point {i}" for i in built.indices]


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_prefix_slice_of_a_greedy_list_is_the_greedy_list_of_that_size(k):
    built = greedy_list(F, k=4, tau=2.0)
    want = greedy_list(F, k=k, tau=2.0)
    negative_stop = built[: k - 4 or None]  # negative stops are prefixes too
    for head in (built[:k], built[0:k:1], built.prefix(k), negative_stop):
        assert isinstance(head, ConstructedList)
        assert (head.indices, head.costs, head.trained, head.tau, head.method) == (
            want.indices, want.costs, want.trained, want.tau, want.method)
        np.testing.assert_array_equal(head.fractions, want.fractions)
        np.testing.assert_array_equal(head.prefix_fractions, want.prefix_fractions)


def test_prefix_of_an_exhaustive_set_recomputes_its_costs_and_fractions():
    built = exhaustive_set(F, k=3, tau=2.0)
    head = built[:2]
    assert isinstance(head, ConstructedList) and head.method == "exhaustive"
    rows = F[list(built.indices[:2])]
    np.testing.assert_array_equal(head.fractions, rows.min(axis=0))
    assert head.costs == built.costs[:2] and head.trained == built.trained[:2]
    assert head.cost == pytest.approx(np.exp(np.log(np.minimum(rows.min(axis=0), 2.0)).mean()))


def test_leave_one_out_folds_slice_with_fractions_on_every_workload():
    for fold in leave_one_out(F, k=3, tau=2.0).folds:
        head = fold.built[:2]
        assert isinstance(head, ConstructedList)
        np.testing.assert_array_equal(head.fractions, F[list(fold.built.indices[:2])].min(axis=0))
        np.testing.assert_array_equal(fold.built.fractions,
                                      F[list(fold.built.indices)].min(axis=0))


def test_other_slices_of_a_constructed_list_are_tuples_of_row_indices():
    built = greedy_list(F, k=4, tau=2.0)
    assert built[1:] == built.indices[1:]
    assert built[::-1] == built.indices[::-1]
    assert built[::2] == built.indices[::2]
    assert built[:0] == ()
    bare = dataclasses.replace(built, prefix_fractions=None)  # made without the matrix
    assert bare[:2] == built.indices[:2]
    with pytest.raises(ValueError, match="keeps no prefix_fractions"):
        bare.prefix(2)


def test_constructed_list_bad_index_and_prefix_raise_clear_errors():
    built = greedy_list(F, k=2, tau=2.0)
    with pytest.raises(IndexError, match=r"ConstructedList index 2 out of range: it has 2 points"):
        built[2]
    with pytest.raises(TypeError, match="ConstructedList indices must be integers or slices"):
        built["a"]  # type: ignore[call-overload]
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 2\] \(the list's length\)"):
        built.prefix(3)


def test_constructed_list_equality_and_repr_ignore_prefix_fractions_as_before():
    built = greedy_list(F, k=1, tau=2.0)
    assert "prefix_fractions" not in repr(built)
    fields = [f.name for f in dataclasses.fields(built) if f.compare]
    assert fields == ["indices", "costs", "trained", "fractions", "tau", "method"]


def test_constructed_lists_compare_by_value_on_several_workloads():
    """Equality works for any number of workloads (the fractions are an array)."""
    from hplists.lists.greedy import greedy_list

    F = np.array([[0.5, np.inf, 0.9], [0.9, 0.6, np.inf], [np.inf, np.inf, 0.4]])
    a, b = greedy_list(F, k=2, tau=2.0), greedy_list(F.copy(), k=2, tau=2.0)
    assert a == b and not (a != b)
    assert a != greedy_list(F, k=3, tau=2.0)
    assert a != greedy_list(F, k=2, tau=3.0)
    assert a != a.indices  # a list is not its row indices
    with pytest.raises(TypeError, match="unhashable"):
        hash(a)
