"""The dataset cache is keyed by the generator's parameters, so no two parameter sets share data."""

from __future__ import annotations

import numpy as np
import pytest

from hplists.exceptions import InvalidParameterError
from hplists.workloads import cache, phantoms
from hplists.workloads.contract import Dataset
from hplists.workloads.phantoms import kspace_dataset


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HPLISTS_CACHE_DIR", str(tmp_path))


def _counting():
    calls = []

    def make(seed, scale=1.0):
        calls.append((seed, scale))
        return Dataset({"x": np.full(3, seed * scale)}, {"x": np.zeros(1)}, {"scale": scale})

    return make, calls


def test_parameters_that_print_alike_get_their_own_entries():
    make, calls = _counting()
    a = cache.cached_dataset("toy", make, version=1, seed=1, scale=0.08)
    b = cache.cached_dataset("toy", make, version=1, seed=1, scale=0.0800001)  # "%g": both 0.08
    assert calls == [(1, 0.08), (1, 0.0800001)]
    assert a.train["x"][0] == 0.08 and b.train["x"][0] == 0.0800001
    assert len(list(cache.cache_dir().glob("toy-*.npz"))) == 2


def test_a_hit_returns_the_saved_arrays_without_generating():
    make, calls = _counting()
    first = cache.cached_dataset("toy", make, version=1, seed=2)
    again = cache.cached_dataset("toy", make, version=1, seed=2)
    assert calls == [(2, 1.0)]
    np.testing.assert_array_equal(again.train["x"], first.train["x"])
    assert again.meta == {"scale": 1.0}


def test_version_name_and_parameter_order_key_the_entry():
    make, calls = _counting()
    cache.cached_dataset("toy", make, version=1, seed=3, scale=2.0)
    cache.cached_dataset("toy", make, version=1, scale=2.0, seed=3)  # same parameters
    cache.cached_dataset("toy", make, version=2, seed=3, scale=2.0)  # generator changed
    cache.cached_dataset("toy2", make, version=1, seed=3, scale=2.0)
    assert len(calls) == 3


def test_a_file_holding_another_key_is_rebuilt_not_trusted():
    make, calls = _counting()
    cache.cached_dataset("toy", make, version=1, seed=4)
    (path,) = cache.cache_dir().glob("toy-*.npz")
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["__key__"] = np.asarray(cache.cache_key("toy", 1, {"seed": 5}))
    arrays["train/x"] = np.full(3, 5.0)
    np.savez(path, **arrays)  # as if two parameter sets collided on one file name
    again = cache.cached_dataset("toy", make, version=1, seed=4)
    assert calls == [(4, 1.0), (4, 1.0)]
    assert again.train["x"].tolist() == [4.0, 4.0, 4.0]


def test_a_parameter_that_cannot_key_the_cache_is_named():
    make, _ = _counting()
    with pytest.raises(InvalidParameterError, match=r"dataset parameter params.seed must be"):
        cache.cached_dataset("toy", make, version=1, seed=object())


def test_a_builtin_generator_gives_the_same_arrays_cached_and_fresh():
    kwargs = dict(num_train=3, num_valid=2, size=16, acceleration=4, center_fraction=0.08)
    built = kspace_dataset(0, **kwargs)  # generated and saved
    from_disk = kspace_dataset(0, **kwargs)
    fresh = phantoms._build(0, **kwargs)
    for split in ("train", "valid"):
        assert sorted(getattr(from_disk, split)) == sorted(getattr(fresh, split))
        for k, v in getattr(fresh, split).items():
            np.testing.assert_array_equal(getattr(built, split)[k], v)
            np.testing.assert_array_equal(getattr(from_disk, split)[k], v)
            assert getattr(from_disk, split)[k].dtype == v.dtype


def test_the_earlier_key_and_build_form_still_works_with_a_deprecation_warning():
    """Outside workload modules written against cached_dataset(key, build) keep running."""
    calls = []

    def build():
        calls.append(1)
        return Dataset({"x": np.arange(3.0)}, {"x": np.zeros(1)})

    with pytest.warns(DeprecationWarning, match=r"version=1, \*\*params"):
        first = cache.cached_dataset("toy-n3", build)
    with pytest.warns(DeprecationWarning):
        again = cache.cached_dataset("toy-n3", build)
    assert first.train["x"].tolist() == again.train["x"].tolist() == [0.0, 1.0, 2.0]
    assert calls == [1]  # the second call read the file
    with pytest.raises(InvalidParameterError, match="version= is required with parameters"):
        cache.cached_dataset("toy", build, n=3)
    with pytest.raises(InvalidParameterError, match="version must be an int or a string"):
        cache.cached_dataset("toy", build, version=None)


def test_a_workload_whose_data_cannot_be_built_stops_the_run_once_with_the_message(tmp_path):
    """Not the same error recorded for every trial: the run raises at the first task."""
    from helpers.workloads import TinyBlobs
    from hplists import HParams
    from hplists.exceptions import WorkloadBuildError
    from hplists.store import open_store
    from hplists.trials import StaticSource, TrainTask, run

    class Broken(TinyBlobs):
        name = "broken_blobs"
        batching = "sequential"

        def make_data(self):
            return cache.cached_dataset("blobs", lambda n: None, n=3)  # version= missing

    store = open_store(tmp_path / "s.db")
    pts = tuple(HParams(1e-3 * (i + 1), 0.9, 0.99, warmup_fraction=0.05) for i in range(4))
    tasks = [TrainTask("s", Broken(), 0, pts[:2], (0, 1)), TrainTask("s", Broken(), 0, pts[2:],
                                                                      (2, 3))]
    with pytest.raises(WorkloadBuildError, match=r"workload 'broken_blobs': its data could not "
                       r"be built \(InvalidParameterError: .*version= is required"):
        run(store, StaticSource(store, tasks))
    recorded = store.trials(study="s")
    assert len(recorded) == 1 and recorded[0].status.value == "error"  # the first claimed
