"""On-disk cache of generated datasets, keyed by the generator and its parameters.

Built-in datasets are generated procedurally (or from data a package ships)
and are deterministic given the generator's parameters; building some takes
seconds, so the first build is saved as ``.npz`` (no pickles) under the cache
directory: ``$HPLISTS_CACHE_DIR``, else ``~/.cache/hplists``.

The key is derived from what produces the data, not written by hand: the
dataset's name, its generator's version and every keyword argument the
generator is called with, as canonical JSON. The file name holds a hash of
that JSON and the file holds the JSON itself, checked on every load, so two
parameter sets can never share an entry (a hand-written key such as
``f"c{x:g}"`` could: ``0.08`` and ``0.0800001`` both print ``0.08``).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hplists._files import atomic_open
from hplists.exceptions import InvalidParameterError
from hplists.workloads.contract import Dataset

__all__ = ["cache_dir", "cache_key", "cached_dataset"]


def cache_dir() -> Path:
    """The directory datasets are cached in (created on demand)."""
    root = os.environ.get("HPLISTS_CACHE_DIR") or Path.home() / ".cache" / "hplists"
    path = Path(root) / "data"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _canonical(value: Any, where: str) -> Any:
    """``value`` as plain JSON types; numpy scalars become Python numbers, tuples lists."""
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)  # json writes the shortest repr that round-trips: no precision lost
    if isinstance(value, (list, tuple)):
        return [_canonical(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        return {str(k): _canonical(v, f"{where}.{k}") for k, v in value.items()}
    raise InvalidParameterError(
        f"dataset parameter {where} must be a bool, int, float, str, None, list or mapping "
        f"(it keys the cache), got {type(value).__name__}"
    )


def cache_key(name: str, version: int | str, params: Mapping[str, Any]) -> str:
    """The canonical JSON that identifies a dataset: name, generator version and parameters.

    Example:
        >>> cache_key("toy", 1, {"seed": np.int64(0), "scale": 0.5})
        '{"name":"toy","params":{"scale":0.5,"seed":0},"version":"1"}'
    """
    if not isinstance(name, str) or not name:
        raise InvalidParameterError(f"name must be a non-empty string, got {name!r}")
    payload = {"name": name, "version": str(version),
               "params": _canonical(dict(params), "params")}
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _path(name: str, key: str) -> Path:
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return cache_dir() / f"{safe}-{digest}.npz"


def _load(path: Path, key: str) -> Dataset | None:
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    if str(arrays.pop("__key__", "")) != key:  # another parameter set (or an older layout)
        return None
    meta = json.loads(str(arrays.pop("__meta__")))
    train = {k[6:]: v for k, v in arrays.items() if k.startswith("train/")}
    valid = {k[6:]: v for k, v in arrays.items() if k.startswith("valid/")}
    return Dataset(train, valid, meta)


_LEGACY = object()  # no version given: the earlier form cached_dataset(key, build)


def cached_dataset(name: str, generate: Callable[..., Dataset], /, *,
                   version: int | str | object = _LEGACY, **params: Any) -> Dataset:
    """``generate(**params)``, cached under a key made of ``name``, ``version`` and ``params``.

    Bump ``version`` whenever the generator's output for the same parameters
    would change. Writes are atomic, so concurrent builders are safe; a file
    whose recorded key differs from the requested one is rebuilt.

    The earlier form ``cached_dataset(key, build)`` (a hand-made key that
    encodes the parameters, a ``build()`` without arguments) still works, with
    a ``DeprecationWarning`` that spells out the migration: pass
    ``version=`` and the generator's parameters as keywords.

    Example:
        >>> import tempfile
        >>> os.environ["HPLISTS_CACHE_DIR"] = tempfile.mkdtemp()
        >>> def make(n):
        ...     return Dataset({"x": np.arange(float(n))}, {"x": np.arange(2.0)}, {"n": n})
        >>> cached_dataset("toy", make, version=1, n=4).meta["n"]
        4
        >>> cached_dataset("toy", make, version=1, n=4).train["x"].tolist()  # from disk
        [0.0, 1.0, 2.0, 3.0]
        >>> cached_dataset("toy", make, version=1, n=3).train["x"].tolist()  # another key
        [0.0, 1.0, 2.0]
    """
    if version is _LEGACY:
        if params:
            raise InvalidParameterError(
                f"cached_dataset({name!r}, ...): version= is required with parameters; "
                "bump it whenever the generator's output would change")
        warnings.warn(
            f"cached_dataset({name!r}, build) without version= is deprecated and will be "
            "removed: write cached_dataset(name, generate, version=1, **params), where "
            "generate(**params) builds the dataset and version is bumped whenever its output "
            "for the same parameters would change (the parameters then key the file, so the "
            "name no longer needs to encode them)", DeprecationWarning, stacklevel=2)
        version = "legacy"
    if isinstance(version, bool) or not isinstance(version, (int, str)):
        raise InvalidParameterError(f"cached_dataset({name!r}, ...): version must be an int or "
                                    f"a string, got {version!r}")
    key = cache_key(name, version, params)
    path = _path(name, key)
    if path.is_file():
        found = _load(path, key)
        if found is not None:
            return found
    data = generate(**params)
    arrays: dict[str, Any] = {f"train/{k}": np.asarray(v) for k, v in data.train.items()}
    arrays.update({f"valid/{k}": np.asarray(v) for k, v in data.valid.items()})
    arrays["__meta__"] = np.asarray(json.dumps(dict(data.meta)))
    arrays["__key__"] = np.asarray(key)
    with atomic_open(path, "wb") as f:
        np.savez(f, **arrays)
    return data
