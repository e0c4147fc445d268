"""The opt-in ``algoperf-halton`` sampler reproduces AlgoPerf's ``algoperf/halton.py``.

Every number pinned here was printed by AlgoPerf's own file
(mlcommons/algorithmic-efficiency, ``algoperf/halton.py`` at commit
``2c90454fc05d5bdf3598b0c7651e611f132a7060``, numpy 2.4.6), run outside this
repository as ``numpy.random.seed(seed); halton.generate_sequence(num_samples=n,
num_dims=d)`` and ``halton.generate_search(space, 5)`` on AlgoPerf's
``algorithms/archived_paper_baselines/nadamw/tuning_search_space.json``. The
comparison is exact (``==`` on floats): the sequence is meant to be rerun
point for point.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from hplists.cli.main import main
from hplists.cli.space import SAMPLE_METHODS
from hplists.space import get_space
from hplists.space.sampling import METHODS, algoperf_halton, algoperf_primes, sample, unit_sequence


def test_bases_are_algoperfs_primes_just_below_1000():
    """generate_primes(1000)[-num_dims - 1:-1]: 991 is used, 997 (the largest) is not."""
    assert algoperf_primes(7) == [947, 953, 967, 971, 977, 983, 991]
    assert algoperf_primes(2) == [983, 991]
    assert algoperf_primes(1) == [991]
    # 166 odd primes lie below 1000; 200 dimensions need AlgoPerf's second sieve, below 2000
    assert len(algoperf_primes(200)) == 200 and algoperf_primes(200)[-1] == 1997


def test_sequence_equals_algoperfs_for_seed_0():
    u = algoperf_halton(7, 5, seed=0)
    assert u[0].tolist() == [0.4900986017554397, 0.80169296388567, 0.505816810296563,
                             0.3505619084936204, 0.2569004196958611, 0.23023079535282354,
                             0.36079632571974196]
    assert u[:, 0].tolist() == [0.4900986017554397, 0.648493533117636, 0.18703629974910374,
                                0.0011862469507932794, 0.14796555001309541]
    # 200 points: the last row, after AlgoPerf's shuffle of the rows
    assert algoperf_halton(7, 200, seed=0)[199].tolist() == [
        0.9124850853879635, 0.25185036157717056, 0.9980608640711234, 0.10957323702091193,
        0.7563886489691467, 0.8446763701239324, 0.039908333792396]
    big = algoperf_halton(200, 4, seed=0)  # bases up to 1997
    assert big[0, -1] == 0.40914641567637 and big[3, 0] == 0.2775163243101626


def test_sequence_equals_algoperfs_for_seed_42_and_only_the_row_order_depends_on_the_seed():
    u = algoperf_halton(2, 3, seed=42)
    assert u.tolist() == [[0.2739744372653363, 0.28612427728381884],
                          [0.9911667058309517, 0.8300193327833143],
                          [0.23023079535282354, 0.36079632571974196]]
    # each dimension depends only on its base: the same rows as the last two columns for d = 7
    seven = algoperf_halton(7, 3, seed=42)
    np.testing.assert_array_equal(seven[:, -2:], u)
    assert sorted(map(tuple, algoperf_halton(2, 3, seed=0))) == sorted(map(tuple, u))


def test_no_prefix_property_unlike_scipys_halton():
    """AlgoPerf shuffles the n rows: 3 points are not the first 3 of 5."""
    assert not np.array_equal(algoperf_halton(7, 3, seed=0), algoperf_halton(7, 5, seed=0)[:3])
    scipy = unit_sequence(7, 5, seed=0)
    np.testing.assert_array_equal(unit_sequence(7, 3, seed=0), scipy[:3])


def test_search_points_equal_algoperfs_generate_search():
    """AlgoPerf's mapping (min * exp(u log(max/min)), floor(u n)); its fixed dimensions (single
    feasible points) take a coordinate too. one_minus_beta1 becomes beta1 = 1 - it."""
    points = sample(get_space("nadamw-algoperf-archived"), 5, seed=0, method="algoperf-halton")
    assert [p.learning_rate for p in points] == [
        0.0009554263254837416, 0.0019814680146414726, 0.0002366315233112939,
        0.00010054778177688589, 0.00019766560226064676]
    second = points[1]
    assert second.beta1 == 1 - 0.045677535963609565
    assert second.weight_decay == 0.010340635370188849
    assert (second.beta2, second.warmup_fraction) == (0.999, 0.05)
    assert (second.label_smoothing, second.dropout_rate) == (0.1, 0.0)
    seed42 = sample(get_space("nadamw-algoperf-archived"), 5, seed=42, method="algoperf-halton")
    assert seed42[0].learning_rate == 0.0002366315233112939  # the same 5 points, reordered


def test_default_stays_scipys_scrambled_halton():
    """The default method is unchanged (scipy's Halton), and differs from AlgoPerf's."""
    assert METHODS[0] == "halton"
    space = get_space("nadamw-broad")
    assert sample(space, 4, seed=0) == sample(space, 4, seed=0, method="halton")
    assert not np.array_equal(unit_sequence(7, 4, seed=0),
                              unit_sequence(7, 4, seed=0, method="algoperf-halton"))


def test_bad_input_names_the_field_and_allowed_values():
    with pytest.raises(ValueError, match="method must be one of 'halton', 'algoperf-halton', "
                       "'random'; got 'sobol'"):
        unit_sequence(2, 3, method="sobol")
    with pytest.raises(ValueError, match="method must be one of"):
        sample(get_space("nadamw-broad"), 3, method="AlgoPerf")
    with pytest.raises(ValueError, match="seed"):
        algoperf_halton(2, 3, seed=2**32)  # numpy.random.seed's range
    with pytest.raises(ValueError, match=r"^d must be an integer"):
        algoperf_halton(0, 3)


def test_cli_sample_offers_the_same_methods(capsys):
    """`hplists sample --method` lists exactly the sampler names the library validates."""
    assert SAMPLE_METHODS == METHODS
    code = main(["sample", "nadamw-algoperf-archived", "--n", "5", "--method",
                 "algoperf-halton", "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0
    assert json.loads(out)[0]["learning_rate"] == 0.0009554263254837416
