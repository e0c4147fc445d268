"""Datasets on the device, cached per workload, and the randomness of a seed."""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from hplists.workloads.spec import JaxWorkload


@dataclasses.dataclass
class _Data:
    train: dict[str, Any]  # device arrays
    valid: Any  # device arrays shaped (num_eval_batches, eval_batch, ...)
    valid_host: Mapping[str, np.ndarray]
    num_train: int
    num_valid: int


_DATA: collections.OrderedDict[tuple, _Data] = collections.OrderedDict()
_DATA_SLOTS = 3


def _workload_key(workload: JaxWorkload) -> tuple:
    attrs = tuple(sorted((k, repr(v)) for k, v in vars(workload).items()))
    return (type(workload), workload.version, workload.data_seed, workload.batch_size,
            workload.eval_batch_size, attrs)


def _data(workload: JaxWorkload) -> _Data:
    import jax
    import jax.numpy as jnp

    key = _workload_key(workload)
    if key in _DATA:
        _DATA.move_to_end(key)
        return _DATA[key]
    ds = workload.make_data()
    n_valid = ds.num_valid
    eb = max(1, min(workload.eval_batch_size, n_valid))
    nb = -(-n_valid // eb)

    def batched(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a)
        pad = nb * eb - n_valid
        if pad:  # repeat the last example; padded outputs are cut before scoring
            a = np.concatenate([a, np.repeat(a[-1:], pad, axis=0)])
        return a.reshape((nb, eb, *a.shape[1:]))

    data = _Data(
        train={k: jnp.asarray(v) for k, v in ds.train.items()},
        valid=jax.tree.map(jnp.asarray, {k: batched(v) for k, v in ds.valid.items()}),
        valid_host=ds.valid,
        num_train=ds.num_train,
        num_valid=n_valid,
    )
    _DATA[key] = data
    while len(_DATA) > _DATA_SLOTS:
        _DATA.popitem(last=False)
    return data


def _batch_order(seed: int, num_train: int, steps: int, batch_size: int) -> np.ndarray:
    """Example indices of every step, shape ``(steps, batch_size)``: epochs of shuffles."""
    rng = np.random.default_rng([seed, 0x0BA7C4])
    need = steps * batch_size
    epochs = -(-need // num_train)
    order = np.concatenate([rng.permutation(num_train) for _ in range(epochs)])
    return order[:need].reshape(steps, batch_size).astype(np.int32)


def _keys(seed: int) -> tuple[Any, Any]:
    import jax

    root = jax.random.key(seed)
    return jax.random.fold_in(root, 0), jax.random.fold_in(root, 1)
