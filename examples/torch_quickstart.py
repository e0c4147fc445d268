"""Tune a PyTorch model with a budget of k trials: run the first k points of a list, keep the best.

Trains a small MLP (with the point's dropout and label smoothing) on
scikit-learn's bundled digits images (8x8, 10 classes; 80/20 stratified
train/validation split) once per point, with the optimizer and schedule
``hplists.torch.build`` makes for it (hplists' NAdamW and the warmup-cosine
schedule for ``nadamw-paper``; any list with a PyTorch rule works: ``--list``),
and reports each point's validation accuracy.

    python examples/torch_quickstart.py --k 5
"""

from __future__ import annotations

import argparse

import torch
from rich.console import Console
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import hplists
import hplists.torch


def load_data(seed: int) -> tuple[torch.Tensor, ...]:
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x / 16.0, y, test_size=0.2, stratify=y, random_state=seed
    )
    as_x = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    as_y = lambda a: torch.tensor(a, dtype=torch.long)  # noqa: E731
    return as_x(x_train), as_y(y_train), as_x(x_val), as_y(y_val)


def make_model(dropout_rate: float) -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Linear(64, 128),
        torch.nn.ReLU(),
        torch.nn.Dropout(dropout_rate),
        torch.nn.Linear(128, 128),
        torch.nn.ReLU(),
        torch.nn.Dropout(dropout_rate),
        torch.nn.Linear(128, 10),
    )


def train_and_evaluate(
    point: hplists.HParams, data: tuple[torch.Tensor, ...], steps: int, batch_size: int, seed: int
) -> tuple[float, float]:
    """Trains with ``point`` for ``steps`` steps; returns (validation accuracy, validation loss)."""
    x_train, y_train, x_val, y_val = data
    torch.manual_seed(seed)
    model = make_model(point.dropout_rate)
    # NAdamW's option: decay the weight matrices only (other rules decay every parameter)
    options = {"mask": hplists.torch.decay_matrices} if isinstance(point, hplists.HParams) else {}
    optimizer, scheduler = hplists.torch.build(point, model, total_steps=steps, **options)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=point.label_smoothing)
    order = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(hplists.steps_to_run(point, steps)):  # a point with a horizon stops early
        idx = torch.randint(len(x_train), (batch_size,), generator=order)
        loss = loss_fn(model(x_train[idx]), y_train[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step(lambda: loss)  # noqa: B023 (called at once) MoMo's step reads the loss
        scheduler.step()
    model.eval()
    with torch.no_grad(), hplists.torch.evaluating(optimizer):  # Schedule-Free: its average
        logits = model(x_val)
        accuracy = (logits.argmax(-1) == y_val).float().mean().item()
        val_loss = torch.nn.functional.cross_entropy(logits, y_val).item()
    return accuracy, val_loss


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", default="nadamw-paper", help="hyperparameter list name")
    parser.add_argument("--k", type=int, default=5, help="trial budget: the first k points")
    parser.add_argument("--steps", type=int, default=600, help="training steps per trial")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # tiny model: threads cost more than they give

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
