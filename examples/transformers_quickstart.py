"""Tune a Hugging Face model with transformers.Trainer: the first k points of a list, keep the best.

Trains a tiny BERT classifier, built from a config (nothing is downloaded),
on synthetic token sequences (the label says whether the first token's id is
below the second's) once per point, with the point's optimizer and schedule
(hplists' NAdamW and the warmup-cosine schedule for ``nadamw-paper``; any list
with a PyTorch rule works: ``--list``), its label smoothing and
dropout, and reports each point's validation accuracy (``trainer.evaluate()``
with an accuracy ``compute_metrics``).

    python examples/transformers_quickstart.py --k 5
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np
import torch
from rich.console import Console
from transformers import BertConfig, BertForSequenceClassification, TrainingArguments

import hplists
from hplists.integrations.transformers import tune_trainer

VOCAB, LENGTH = 32, 8


class Tokens(torch.utils.data.Dataset):
    """``n`` random sequences of ``LENGTH`` tokens and their labels."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randint(0, VOCAB, (n, LENGTH), generator=g)
        self.y = (self.x[:, 0] < self.x[:, 1]).long()

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.x[i], "labels": self.y[i]}


def model_init(point: hplists.HParams) -> BertForSequenceClassification:
    """A fresh tiny BERT with the point's dropout in every dropout field of its config."""
    config = BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=LENGTH, num_labels=2,
                        hidden_dropout_prob=point.dropout_rate,
                        attention_probs_dropout_prob=point.dropout_rate)
    return BertForSequenceClassification(config)


def accuracy(prediction) -> dict[str, float]:
    return {"accuracy": float(np.mean(prediction.predictions.argmax(-1) == prediction.label_ids))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", default="nadamw-paper", help="hyperparameter list name")
    parser.add_argument("--k", type=int, default=5, help="trial budget: the first k points")
    parser.add_argument("--steps", type=int, default=100, help="optimizer steps per trial")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # tiny model: threads cost more than they give

    with tempfile.TemporaryDirectory() as out:
        training = TrainingArguments(
            output_dir=out, max_steps=args.steps, per_device_train_batch_size=args.batch_size,
            seed=args.seed, use_cpu=True, report_to=[], save_strategy="no",
            logging_strategy="no", disable_tqdm=True,
            max_grad_norm=0.0,  # the lists were built without gradient clipping
        )
        result = tune_trainer(model_init, training, args.list, k=args.k,
                              train_dataset=Tokens(2048, args.seed),
                              eval_dataset=Tokens(512, args.seed + 1),
                              compute_metrics=accuracy, metric="accuracy")
    Console(width=120).print(result)
    print(f"best: point {result.best.index} with validation accuracy {result.best.value:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
