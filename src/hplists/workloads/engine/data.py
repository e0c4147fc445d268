"""Datasets on the device, cached per workload, and the randomness of a seed."""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from hplists.workloads.contract import JaxWorkload


@dataclasses.dataclass
class DeviceData:
    """A workload's datasets on the device, as the compiled programs read them.

    The validation split is padded (with copies of its last example) to whole
    evaluation batches; ``valid_host`` keeps it unpadded on the host for scoring.
    """

    train: dict[str, Any]  # device arrays
    valid: Any  # device arrays shaped (num_eval_batches, eval_batch, ...)
    valid_host: Mapping[str, np.ndarray]
    num_train: int
    num_valid: int


# The device data of the last few workloads, by workload_key (least recently used first).
DATA_CACHE: collections.OrderedDict[tuple, DeviceData] = collections.OrderedDict()
_DATA_SLOTS = 3


def workload_key(workload: JaxWorkload) -> tuple:
    """What identifies a workload's data and programs in the engine's caches.

    Its class, version, data seed, batch sizes and every instance attribute: two
    workloads with the same key build the same data and compile the same programs.
    """
    attrs = tuple(sorted((k, repr(v)) for k, v in vars(workload).items()))
    return (type(workload), workload.version, workload.data_seed, workload.batch_size,
            workload.eval_batch_size, attrs)


def device_data(workload: JaxWorkload) -> DeviceData:
    """The workload's datasets on the device, built once and cached in :data:`DATA_CACHE`."""
    import jax
    import jax.numpy as jnp

    key = workload_key(workload)
    if key in DATA_CACHE:
        DATA_CACHE.move_to_end(key)
        return DATA_CACHE[key]
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

    data = DeviceData(
        train={k: jnp.asarray(v) for k, v in ds.train.items()},
        valid=jax.tree.map(jnp.asarray, {k: batched(v) for k, v in ds.valid.items()}),
        valid_host=ds.valid,
        num_train=ds.num_train,
        num_valid=n_valid,
    )
    DATA_CACHE[key] = data
    while len(DATA_CACHE) > _DATA_SLOTS:
        DATA_CACHE.popitem(last=False)
    return data


def batch_order(seed: int, num_train: int, steps: int, batch_size: int) -> np.ndarray:
    """Example indices of every step, shape ``(steps, batch_size)``: epochs of shuffles."""
    rng = np.random.default_rng([seed, 0x0BA7C4])
    need = steps * batch_size
    epochs = -(-need // num_train)
    order = np.concatenate([rng.permutation(num_train) for _ in range(epochs)])
    return order[:need].reshape(steps, batch_size).astype(np.int32)


def seed_keys(seed: int) -> tuple[Any, Any]:
    """The JAX keys of a seed: ``(init_key, dropout_key)``, for initial parameters and dropout."""
    import jax

    root = jax.random.key(seed)
    return jax.random.fold_in(root, 0), jax.random.fold_in(root, 1)
