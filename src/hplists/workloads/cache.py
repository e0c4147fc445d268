"""On-disk cache of generated datasets.

Built-in datasets are generated procedurally (or from data a package ships)
and are deterministic given their seed; building some takes seconds, so the
first build is saved as ``.npz`` (no pickles) under the cache directory:
``$HPLISTS_CACHE_DIR``, else ``~/.cache/hplists``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hplists._files import atomic_open
from hplists.workloads.spec import Dataset

__all__ = ["cache_dir", "cached_dataset"]


def cache_dir() -> Path:
    """The directory datasets are cached in (created on demand)."""
    root = os.environ.get("HPLISTS_CACHE_DIR") or Path.home() / ".cache" / "hplists"
    path = Path(root) / "data"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cached_dataset(key: str, build: Callable[[], Dataset]) -> Dataset:
    """Returns the dataset cached under ``key``, building and saving it on a miss.

    ``key`` must change whenever the data would (include the generator's
    version and seed). Writes are atomic, so concurrent builders are safe.

    Example:
        >>> import numpy as np, tempfile, os
        >>> os.environ["HPLISTS_CACHE_DIR"] = tempfile.mkdtemp()
        >>> make = lambda: Dataset({"x": np.arange(4.0)}, {"x": np.arange(2.0)}, {"n": 4})
        >>> cached_dataset("toy-v1-seed0", make).meta["n"]
        4
        >>> cached_dataset("toy-v1-seed0", make).train["x"].tolist()  # from disk
        [0.0, 1.0, 2.0, 3.0]
    """
    path = cache_dir() / f"{key}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        meta = json.loads(str(arrays.pop("__meta__")))
        train = {k[6:]: v for k, v in arrays.items() if k.startswith("train/")}
        valid = {k[6:]: v for k, v in arrays.items() if k.startswith("valid/")}
        return Dataset(train, valid, meta)
    data = build()
    arrays = {f"train/{k}": np.asarray(v) for k, v in data.train.items()}
    arrays.update({f"valid/{k}": np.asarray(v) for k, v in data.valid.items()})
    arrays["__meta__"] = np.asarray(json.dumps(dict(data.meta)))
    with atomic_open(path, "wb") as f:
        np.savez(f, **arrays)
    return data
