"""Tune a Lightning module with a budget of k trials: run the first k points of a list, keep the best.

Fits a small MLP ``LightningModule`` (with the point's dropout and label
smoothing; its ``configure_optimizers`` and hooks from the mixin
``hplists.integrations.lightning.PointOptimizers``: the point's optimizer and
schedule, stepped per step, the stop at its horizon, Schedule-Free's average
to evaluate) on synthetic data (4 Gaussian classes in 8 dimensions) once per
point with ``lightning.Trainer(max_steps=...)``, and reports each point's
validation accuracy. Any list with a PyTorch rule works (``--list``).

    python examples/lightning_quickstart.py --k 5
"""

from __future__ import annotations

import argparse
import logging

import lightning
import torch
from rich.console import Console

import hplists
from hplists.integrations.lightning import PointOptimizers


class Classifier(PointOptimizers, lightning.LightningModule):
    """An MLP trained with ``self.point``: its optimizer, schedule, dropout and label smoothing."""

    def __init__(self, point: hplists.HParams | hplists.MethodPoint) -> None:
        super().__init__()
        self.point = point  # PointOptimizers.configure_optimizers reads it
        self.net = torch.nn.Sequential(
            torch.nn.Linear(8, 64), torch.nn.ReLU(), torch.nn.Dropout(point.dropout_rate),
            torch.nn.Linear(64, 4))
        self.loss = torch.nn.CrossEntropyLoss(label_smoothing=point.label_smoothing)

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        return self.loss(self.net(x), y)


def make_data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points of 4 classes, each a unit Gaussian around its own center."""
    centers = torch.randn(4, 8, generator=torch.Generator().manual_seed(0)) * 1.5
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    return centers[y] + torch.randn(n, 8, generator=g), y


def train_and_evaluate(point: hplists.HParams | hplists.MethodPoint, steps: int, batch_size: int,
                       seed: int) -> dict[str, float]:
    """Fits with ``point`` for ``steps`` steps; returns validation accuracy and loss."""
    lightning.seed_everything(seed, verbose=False)
    x, y = make_data(2048, seed)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y),
                                         batch_size=batch_size, shuffle=True)
    model = Classifier(point)
    trainer = lightning.Trainer(max_steps=steps, accelerator="cpu", devices=1, logger=False,
                                enable_checkpointing=False, enable_progress_bar=False,
                                enable_model_summary=False)
    trainer.fit(model, loader)
    x_val, y_val = make_data(512, seed + 1)
    model.eval()
    with torch.no_grad():
        logits = model.net(x_val)
    return {"accuracy": (logits.argmax(-1) == y_val).float().mean().item(),
            "loss": torch.nn.functional.cross_entropy(logits, y_val).item()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", default="nadamw-paper", help="hyperparameter list name")
    parser.add_argument("--k", type=int, default=5, help="trial budget: the first k points")
    parser.add_argument("--steps", type=int, default=200, help="optimizer steps per trial")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # tiny model: threads cost more than they give
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # no per-fit banner

    def train(point: hplists.HParams | hplists.MethodPoint) -> dict[str, float]:
        return train_and_evaluate(point, args.steps, args.batch_size, args.seed)

    result = hplists.tune(train, args.list, k=args.k, metric="accuracy")
    Console(width=120).print(result)
    print(f"best: point {result.best.index} with validation accuracy {result.best.value:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
