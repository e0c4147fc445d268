"""Picklable training functions for the parallel-tune tests (worker processes import them)."""

from __future__ import annotations

import os
import time


def accuracy(point) -> dict[str, float]:
    """A stand-in training run: its accuracy falls with the distance of lr from 2e-3."""
    return {"accuracy": 1.0 - abs(point.learning_rate - 0.002) * 100,
            "lr": point.learning_rate}


def slow_first(point) -> float:
    """The list's first point is slow and reaches 0.9; the second is fast and reaches it too."""
    if point.learning_rate > 0.007:  # point 1 of nadamw-paper
        time.sleep(1.5)
        return 0.95
    return 0.92 if 0.00116 < point.learning_rate < 0.00118 else 0.5


def crashing(point) -> float:
    """The second point of nadamw-paper kills its process (an out-of-memory stands for it)."""
    if 0.00116 < point.learning_rate < 0.00118:
        os._exit(3)
    return point.learning_rate


def failing_third(point) -> dict[str, float]:
    """Fails on the list's third point (nadamw-paper: lr 0.00118...), else like accuracy."""
    if 0.00118 < point.learning_rate < 0.00119:
        raise RuntimeError("out of memory")
    return accuracy(point)
