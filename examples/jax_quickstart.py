"""Tune a JAX model with a budget of k trials: run the first k points of a list, keep the best.

Trains a small MLP (with the point's dropout and label smoothing) on
scikit-learn's bundled digits images (8x8, 10 classes; 80/20 stratified
train/validation split) once per point, with the transformation
``hplists.optax.build`` makes for it (``optax.nadamw`` and the warmup-cosine
schedule for ``nadamw-paper``; any list works: ``--list``), and reports each
point's validation accuracy.

    python examples/jax_quickstart.py --k 5
"""

from __future__ import annotations

import argparse
import itertools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from rich.console import Console
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import hplists
import hplists.optax

SIZES = (64, 128, 128, 10)


def load_data(seed: int) -> tuple[np.ndarray, ...]:
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x / 16.0, y, test_size=0.2, stratify=y, random_state=seed
    )
    return (x_train.astype(np.float32), y_train, x_val.astype(np.float32), y_val)


def init_params(key: jax.Array) -> dict[str, dict[str, jax.Array]]:
    params = {}
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(SIZES)):
        key, sub = jax.random.split(key)
        bound = 1.0 / math.sqrt(fan_in)  # PyTorch's nn.Linear initialization
        w_key, b_key = jax.random.split(sub)
        params[f"dense{i}"] = {
            "w": jax.random.uniform(w_key, (fan_in, fan_out), minval=-bound, maxval=bound),
            "b": jax.random.uniform(b_key, (fan_out,), minval=-bound, maxval=bound),
        }
    return params


def apply(params: Any, x: jax.Array, dropout_rate: float, key: jax.Array | None) -> jax.Array:
    """The MLP; dropout is active when ``key`` is given."""
    layers = list(params.values())
    for i, layer in enumerate(layers):
        x = x @ layer["w"] + layer["b"]
        if i < len(layers) - 1:
            x = jax.nn.relu(x)
            if key is not None and dropout_rate > 0.0:
                key, sub = jax.random.split(key)
                keep = jax.random.bernoulli(sub, 1.0 - dropout_rate, x.shape)
                x = jnp.where(keep, x / (1.0 - dropout_rate), 0.0)
    return x


def train_and_evaluate(
    point: hplists.HParams, data: tuple[np.ndarray, ...], steps: int, batch_size: int, seed: int
) -> tuple[float, float]:
    """Trains with ``point`` for ``steps`` steps; returns (validation accuracy, validation loss)."""
    x_train, y_train, x_val, y_val = data
    key = jax.random.PRNGKey(seed)
    params = init_params(key)
    # NAdamW's option: decay the weight matrices only (other rules decay every parameter)
    decay_matrices = lambda p: jax.tree.map(lambda x: x.ndim > 1, p)  # noqa: E731
    options = {"mask": decay_matrices} if isinstance(point, hplists.HParams) else {}
    tx = hplists.optax.build(point, total_steps=steps, **options)
    opt_state = tx.init(params)

    def loss_fn(params: Any, x: jax.Array, y: jax.Array, key: jax.Array) -> jax.Array:
        logits = apply(params, x, point.dropout_rate, key)
        labels = optax.smooth_labels(jax.nn.one_hot(y, 10), point.label_smoothing)
        return optax.softmax_cross_entropy(logits, labels).mean()

    @jax.jit
    def train_step(params: Any, opt_state: Any, x: jax.Array, y: jax.Array, step: jax.Array):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y, jax.random.fold_in(key, step))
        updates, opt_state = tx.update(grads, opt_state, params, value=loss)  # MoMo reads it
        return optax.apply_updates(params, updates), opt_state

    rng = np.random.default_rng(seed)
    for step in range(hplists.steps_to_run(point, steps)):  # a horizon stops early
        idx = rng.integers(len(x_train), size=batch_size)
        params, opt_state = train_step(params, opt_state, x_train[idx], y_train[idx], step)
    params = hplists.optax.eval_params(opt_state, params)  # Schedule-Free: its average
    logits = apply(params, jnp.asarray(x_val), point.dropout_rate, None)
    accuracy = float((logits.argmax(-1) == y_val).mean())
    val_loss = float(optax.softmax_cross_entropy_with_integer_labels(logits, y_val).mean())
    return accuracy, val_loss


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", default="nadamw-paper", help="hyperparameter list name")
    parser.add_argument("--k", type=int, default=5, help="trial budget: the first k points")
    parser.add_argument("--steps", type=int, default=600, help="training steps per trial")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    data = load_data(args.seed)

    def train(point: hplists.HParams) -> dict[str, float]:
        accuracy, loss = train_and_evaluate(point, data, args.steps, args.batch_size, args.seed)
        return {"accuracy": accuracy, "loss": loss}

    result = hplists.tune(train, args.list, k=args.k, metric="accuracy")
    Console(width=120).print(result)
    print(f"best: point {result.best.index} with validation accuracy {result.best.value:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
