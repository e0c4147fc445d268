"""Points are the same bits on every CPU, and stores written elsewhere resume without retraining.

numpy picks SIMD kernels for ``power``/``exp``/``log`` at run time, so an
AVX2 CPU and an AVX-512 one can disagree in the last bit. The samplers are
run in subprocesses whose numpy dispatch is restricted with
``NPY_DISABLE_CPU_FEATURES`` (numpy 2.4's groups ``X86_V4`` = AVX-512,
``X86_V3`` = AVX2/FMA) and compared bit for bit with an unrestricted one.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from decimal import Decimal, getcontext
from pathlib import Path

import numpy as np
import pytest

from hplists import exact
from hplists.exceptions import DataError, InvalidParameterError

ROOT = Path(__file__).resolve().parents[1]

# Every sampler whose values become point ids, printed as float.hex.
_SAMPLERS = r"""
import json, numpy as np
from numpy._core._multiarray_umath import __cpu_features__
from hplists.space import get_space
from hplists.space.sampling import METHODS, sample
from hplists.study import baselines
from hplists.study.calibration import calibration_points
from hplists.study.lrfree import SEARCHES
from hplists.study.target_setting import search_points
from hplists.store import canonical_point

def hexed(points):
    return [{k: float(v).hex() for k, v in canonical_point(p).items()} for p in points]

out = {"features": {k: bool(__cpu_features__.get(k)) for k in ("X86_V3", "X86_V4")},
       # numpy's own kernel, to show the restriction took effect
       "numpy_power": [float(v).hex() for v in 10.0 ** np.linspace(-4.3, -1.1, 997)]}
for name in ("nadamw-broad", "lr-free-broad", "lr-free-broad-no-lr", "nadamw-algoperf-archived",
             "targets-nadamw", "targets-adamw", "targets-nesterov", "targets-heavy_ball"):
    for method in METHODS:
        out[f"{name}/{method}"] = hexed(sample(get_space(name), 200, seed=3, method=method))
out["calibration"] = hexed(calibration_points(200))
out["lr_sweep"] = hexed(baselines.lr_sweep(0.5, 9) + baselines.lr_sweep(1e-4))
out["random_search"] = hexed(baselines.random_search(50))
out["targets"] = hexed(search_points("nadamw", 100) + search_points("heavy_ball", 100))
for s in SEARCHES:
    out[s.study] = hexed(s.points(100, 0))
print(json.dumps(out))
"""


def _run_samplers(disabled: str | None) -> dict:
    env = dict(os.environ)
    env.pop("NPY_DISABLE_CPU_FEATURES", None)
    if disabled:
        env["NPY_DISABLE_CPU_FEATURES"] = disabled
    done = subprocess.run([sys.executable, "-c", _SAMPLERS], env=env, capture_output=True,
                          text=True, timeout=600, check=True)
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def samples() -> dict[str, dict]:
    return {d or "default": _run_samplers(d) for d in (None, "X86_V4", "X86_V4 X86_V3")}


def test_samplers_give_the_same_bits_whatever_simd_numpy_takes(samples):
    """Every built-in space and method, the study samples, sweeps and random search."""
    base = samples["default"]
    for name, got in samples.items():
        assert not got["features"]["X86_V4"] or name == "default"
        for key in base:
            if key not in ("features", "numpy_power"):
                assert got[key] == base[key], f"{key} differs with numpy dispatch {name}"


def test_the_restricted_processes_really_run_other_kernels(samples):
    """Without this, the bit-for-bit comparison above could pass vacuously."""
    assert not samples["X86_V4 X86_V3"]["features"]["X86_V3"]
    if not samples["default"]["features"]["X86_V4"]:
        pytest.skip("this CPU has no AVX-512: numpy's default kernel is already a restricted one")
    assert samples["default"]["numpy_power"] != samples["X86_V4"]["numpy_power"]


@pytest.mark.parametrize("fn, ref", [
    (exact.pow10, lambda d: Decimal(10) ** d), (exact.exp, lambda d: d.exp()),
    (exact.log, lambda d: d.ln()), (exact.log10, lambda d: d.log10())])
def test_exact_functions_are_correctly_rounded(fn, ref):
    """Against a 100-digit evaluation rounded once to float64."""
    getcontext().prec = 100
    xs = np.random.default_rng(0).uniform(0.001, 5.0, 300)
    if fn is exact.pow10:
        xs = -xs
    want = [float(ref(Decimal(float(x)))) for x in xs]
    assert fn(xs).tolist() == want
    assert fn(float(xs[0])) == want[0]


def test_exact_functions_refuse_what_they_cannot_round():
    with pytest.raises(InvalidParameterError, match="log takes positive values"):
        exact.log(np.array([1.0, 0.0]))
    with pytest.raises(InvalidParameterError, match="pow10 takes finite values"):
        exact.pow10(math.inf)


def _copy(name: str, tmp_path: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        src = ROOT / "stores" / f"{name}{suffix}"
        if src.exists():
            shutil.copy(src, tmp_path / f"{name}{suffix}")
    return tmp_path / name


def test_the_committed_broad_sample_is_found_again_in_its_store(tmp_path):
    """broad200: 200 of 200 points resolve to the store's, each within RTOL of today's sample."""
    from hplists.store import canonical_point, open_store
    from hplists.study.calibration import calibration_points
    from hplists.study.samples import RTOL, matches, resolve_sample

    store = open_store(str(_copy("study.db", tmp_path)))
    recorded = store.recorded_points("broad200")
    sampled = calibration_points(200)
    resolved = resolve_sample(store, "broad200", sampled)
    assert [canonical_point(p) for p in resolved] == [recorded[i][0] for i in range(200)]
    assert all(matches(recorded[i][0], canonical_point(p), RTOL) for i, p in enumerate(sampled))


def test_the_committed_paper001_study_has_nothing_left_to_train(tmp_path):
    from hplists.store import open_store
    from hplists.study.workflow import StudyConfig, StudyWorkflow
    from hplists.workloads.registry import get_workload, workload_names

    # The built-in workloads only: other test modules register tiny ones in this process.
    ours = [n for n in workload_names() if type(get_workload(n)).__module__.startswith("hplists.")]
    base = tuple(n for n in ours if get_workload(n).base is None)
    store = open_store(str(_copy("study.db", tmp_path)))
    config = StudyConfig(workloads=base, variants=tuple(n for n in ours if n not in base))
    plan = StudyWorkflow(store, config).plan()
    assert {p.stage: p.trials - p.done for p in plan} == {p.stage: 0 for p in plan}


def test_a_recorded_point_from_another_sample_is_an_error_not_a_substitution(tmp_path):
    from hplists.store import open_store
    from hplists.study.samples import resolve_sample

    store = open_store(str(tmp_path / "s.db"))
    store.claim("s", {"lr": 1e-3}, "w", 0, point_index=0)
    with pytest.raises(DataError, match=r"study 's' recorded point 0 as .* sample's definition"):
        resolve_sample(store, "s", [{"lr": 2e-3}])
    assert resolve_sample(store, "other", [{"lr": 2e-3}]) == [{"lr": 2e-3}]
