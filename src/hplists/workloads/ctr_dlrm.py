"""``ctr_dlrm``: click-through prediction with a small DLRM (analog of AlgoPerf's Criteo 1TB DLRM-small).

Data: click logs with 13 count-valued dense features and 10 categorical
features, drawn from a hidden generative model (:func:`make_click_logs`). The
click probability is ``sigmoid(logit)`` with

    logit = b + sum_k w_k tanh(s_k)                          (dense main effects)
              + sum_i a_i[c_i]                               (categorical main effects)
              + sum_i <U_i[c_i], tanh(W s / 2)>              (dense x categorical)
              + sum_{i<j} <U_i[c_i], U_j[c_j]>               (rank-4 factorization machine)
              + N(0, 0.5^2)                                  (unobserved heterogeneity)

where ``s`` standardizes ``1.5 |z|`` for a correlated Gaussian latent ``z``,
observed only as counts ``floor(exp(1.5 |z|) - 1)``; category ids follow Zipf
laws (a few frequent values, a long tail of rare ones, as in Criteo), and
``b`` sets the click rate to 25%. Each block is scaled to a fixed share of the logit's
spread. Categorical ids are hashed into 512 buckets per feature, so large
vocabularies collide. On the validation split the true model's log loss is
0.441, the constant click rate's 0.570 and a tuned logistic regression on
one-hot features reaches 0.504. 131072 training examples (2.3 epochs in the
budget) are few for the rarer of the 5120 embedding rows: at a good learning
rate the training loss ends near 0.46 while the validation loss turns up in
the last tenth of the budget, and weight decay helps a little.

Model (DLRM, Naumov et al. 2019, at small scale): a bottom MLP (13 -> 64 -> 16)
embeds ``log(1 + counts)``; each categorical feature has a 16-d embedding; the
pairwise dot products of the 11 vectors (45 numbers) and the bottom output go
through a top MLP (61 -> 128 -> 64 -> 1) with dropout after each hidden layer.
Loss: sigmoid cross-entropy (label smoothing applies, as in AlgoPerf). Metric:
validation log loss (lower is better); AUC is recorded too.

Variant ``ctr_dlrm_layernorm`` (paper 001, Table 3): LayerNorm after every hidden
layer of both MLPs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, cast

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from hplists.workloads import layers
from hplists.workloads.cache import cached_dataset
from hplists.workloads.contract import Batch, Dataset, JaxWorkload, Metric
from hplists.workloads.registry import register

__all__ = ["CtrDlrm", "CtrDlrmLayerNorm", "log_loss", "make_click_logs"]

_GENERATOR_VERSION = 2
_VOCABS = (5000, 2000, 1000, 500, 200, 100, 50, 20, 10, 4)
_BUCKETS = 512
_NUM_DENSE = 13


def _hash(ids: np.ndarray, feature: int, buckets: int) -> np.ndarray:
    """Multiplicative hashing of raw category ids into ``buckets`` (salted per feature)."""
    with np.errstate(over="ignore"):  # arithmetic modulo 2**64 is the point
        salt = np.uint64(0x9E3779B97F4A7C15) * np.uint64(feature + 1)
        h = (ids.astype(np.uint64) + salt) * np.uint64(0xBF58476D1CE4E5B9)
    return ((h >> np.uint64(31)) % np.uint64(buckets)).astype(np.int32)


def make_click_logs(
    seed: int, num_examples: int, vocabs: tuple[int, ...] = _VOCABS, buckets: int = _BUCKETS
) -> dict[str, np.ndarray]:
    """Samples click logs from the hidden model described in the module docstring.

    Returns ``dense`` (float32 ``log(1 + counts)``, shape ``(n, 13)``), ``cat``
    (int32 embedding rows, feature ``i`` hashed into rows
    ``[i * buckets, (i + 1) * buckets)``), ``label`` (float32 0/1) and
    ``logit`` (the noise-free true logit, for reference).

    Example:
        >>> logs = make_click_logs(0, 1000)
        >>> logs["dense"].shape, logs["cat"].shape, bool(0.15 < logs["label"].mean() < 0.35)
        ((1000, 13), (1000, 10), True)
    """
    from scipy.optimize import brentq
    from scipy.special import expit

    rng = np.random.default_rng([seed, 0xC7C])
    n, rank = num_examples, 4
    mix = rng.normal(size=(_NUM_DENSE, _NUM_DENSE)) / np.sqrt(_NUM_DENSE)
    z = rng.normal(size=(n, _NUM_DENSE)) @ mix.T
    level = 1.5 * np.abs(z)  # what the counts measure, up to rounding
    counts = np.floor(np.expm1(level))
    centered = (level - level.mean(0)) / level.std(0)
    raw = np.empty((n, len(vocabs)), np.int64)
    for i, v in enumerate(vocabs):
        p = 1.0 / np.arange(1, v + 1) ** 1.1
        raw[:, i] = rng.choice(v, size=n, p=p / p.sum())
    w = rng.normal(size=_NUM_DENSE)
    a = [rng.normal(size=v) for v in vocabs]
    u = [rng.normal(size=(v, rank)) for v in vocabs]
    wd = rng.normal(size=(_NUM_DENSE, rank))
    ui = [u[i][raw[:, i]] for i in range(len(vocabs))]
    parts = {
        "dense": (np.tanh(centered) @ w, 0.7),
        "cat": (sum(a[i][raw[:, i]] for i in range(len(vocabs))), 0.9),
        "dense_cat": (sum(np.sum(x * np.tanh(centered @ wd / 2), 1) for x in ui), 0.4),
        "pairs": (sum(np.sum(ui[i] * ui[j], 1)
                      for i in range(len(vocabs)) for j in range(i + 1, len(vocabs))), 0.9),
    }
    logit = sum(share * x / x.std() for x, share in parts.values())
    noisy = logit + 0.5 * rng.normal(size=n)
    bias = brentq(lambda b: expit(noisy + b).mean() - 0.25, -20.0, 20.0)
    label = rng.random(n) < expit(noisy + bias)
    cat = np.stack([i * buckets + _hash(raw[:, i], i, buckets) for i in range(len(vocabs))], 1)
    return {
        "dense": np.log1p(counts).astype(np.float32),
        "cat": cat.astype(np.int32),
        "label": label.astype(np.float32),
        "logit": (logit + bias).astype(np.float32),
    }


def log_loss(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean binary cross-entropy of sigmoid(``logits``) against 0/1 ``labels``, computed stably.

    Example:
        >>> round(log_loss(np.zeros(4), np.array([0., 1., 1., 0.])), 4)
        0.6931
    """
    x = np.asarray(logits, np.float64)
    y = np.asarray(labels, np.float64)
    return float(np.mean(np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))))


def _symmetric_uniform(scale: float) -> Any:
    def init(key: Any, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
        return jax.random.uniform(key, shape, dtype, -scale, scale)

    return init


class _MLP(nn.Module):
    widths: tuple[int, ...]
    layernorm: bool
    dropout_last: bool  # the top MLP drops out after each hidden layer

    @nn.compact
    def __call__(self, x: jax.Array, rng: Any, rate: Any) -> jax.Array:
        for i, width in enumerate(self.widths):
            x = nn.Dense(width)(x)
            if i == len(self.widths) - 1 and self.dropout_last:
                break  # the output logit
            if self.layernorm:
                x = nn.LayerNorm()(x)
            x = nn.relu(x)
            if self.dropout_last:
                x = layers.dropout(x, rate, None if rng is None else jax.random.fold_in(rng, i))
        return x


class _DLRM(nn.Module):
    num_rows: int
    buckets: int
    embed_dim: int
    bottom: tuple[int, ...]
    top: tuple[int, ...]
    layernorm: bool

    @nn.compact
    def __call__(self, dense: jax.Array, cat: jax.Array, rng: Any, rate: Any) -> jax.Array:
        x = _MLP(self.bottom, self.layernorm, False)(dense, None, 0.0)
        table = self.param(
            "embedding",
            _symmetric_uniform(1.0 / np.sqrt(self.buckets)),  # as AlgoPerf's DLRM
            (self.num_rows, self.embed_dim),
        )
        vectors = jnp.concatenate([x[:, None, :], jnp.take(table, cat, axis=0)], axis=1)
        gram = jnp.einsum("bid,bjd->bij", vectors, vectors)
        i, j = np.triu_indices(vectors.shape[1], k=1)
        features = jnp.concatenate([x, gram[:, i, j]], axis=1)
        return _MLP(self.top, self.layernorm, True)(features, rng, rate)[:, 0]



def _click_dataset(seed: int, num_train: int, num_valid: int, buckets: int) -> Dataset:
    logs = make_click_logs(seed, num_train + num_valid, buckets=buckets)
    keys = ("dense", "cat", "label")
    return Dataset(
        train={k: logs[k][:num_train] for k in keys},
        valid={k: logs[k][num_train:] for k in (*keys, "logit")},
        meta={"oracle_log_loss": log_loss(logs["logit"][num_train:], logs["label"][num_train:]),
              "click_rate": float(logs["label"][:num_train].mean())},
    )

@register
class CtrDlrm(JaxWorkload):
    """Click-through prediction on hashed click logs with DLRM-small; validation log loss."""

    name = "ctr_dlrm"
    version = "1"
    task = "click-through prediction (dense + hashed categorical features)"
    dataset = "synthetic click logs: 131072 train / 8192 valid, 13 dense + 10 hashed categorical"
    model = "DLRM: 16-d embeddings, bottom MLP 64-16, dot interactions, top MLP 128-64-1"
    loss = "sigmoid cross-entropy"
    metric = Metric("log_loss", "min")
    step_budget = 1200
    batch_size = 256
    num_evals = 20
    regularizers = frozenset({"dropout", "label_smoothing"})
    data_seed = 0
    eval_batch_size = 2048
    batching = "processes"

    num_train: ClassVar[int] = 131072
    num_valid: ClassVar[int] = 8192
    buckets: ClassVar[int] = _BUCKETS
    embed_dim: ClassVar[int] = 16
    layernorm: ClassVar[bool] = False

    def make_data(self) -> Dataset:
        return cached_dataset("ctr_dlrm", _click_dataset, version=_GENERATOR_VERSION,
                              seed=self.data_seed, num_train=self.num_train,
                              num_valid=self.num_valid, buckets=self.buckets)

    def _model(self) -> _DLRM:
        return _DLRM(num_rows=len(_VOCABS) * self.buckets, buckets=self.buckets,
                     embed_dim=self.embed_dim, bottom=(64, self.embed_dim),
                     top=(128, 64, 1), layernorm=self.layernorm)

    def init(self, rng: Any) -> Any:
        dense = jnp.zeros((1, _NUM_DENSE), jnp.float32)
        cat = jnp.zeros((1, len(_VOCABS)), jnp.int32)
        return self._model().init(rng, dense, cat, None, 0.0)["params"]

    def loss_fn(self, params: Any, batch: Batch, rng: Any, dropout_rate: Any,
                label_smoothing: Any) -> Any:
        # flax types apply's result as also (output, variables), which it is only with mutable=
        logits = cast(jax.Array, self._model().apply(
            {"params": params}, batch["dense"], batch["cat"], rng, dropout_rate))
        return layers.sigmoid_cross_entropy(logits, batch["label"], label_smoothing)

    def predict(self, params: Any, batch: Batch) -> Any:
        return self._model().apply({"params": params}, batch["dense"], batch["cat"], None, 0.0)

    def score(self, outputs: Any, valid: Mapping[str, np.ndarray]) -> dict[str, float]:
        logits = np.asarray(outputs, np.float64)
        labels = valid["label"]
        if not np.all(np.isfinite(logits)):
            return {"log_loss": float("nan"), "auc": float("nan")}
        from sklearn.metrics import roc_auc_score

        return {"log_loss": log_loss(logits, labels), "auc": float(roc_auc_score(labels, logits))}


@register
class CtrDlrmLayerNorm(CtrDlrm):
    """``ctr_dlrm`` with LayerNorm after every hidden layer of both MLPs."""

    name = "ctr_dlrm_layernorm"
    base = "ctr_dlrm"
    model = "DLRM as ctr_dlrm, with LayerNorm after every hidden layer"
    layernorm = True
