"""Gradients of a noisy quadratic, for comparing an optimizer's trajectory with a rule's.

Not a test module: ``tests/test_optim_torch_metz.py`` and ``test_optim_torch_adamw.py``
feed the same gradients of the current parameters to the PyTorch optimizer and to the
JAX rule it transcribes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def noisy_quadratic(seed: int, shape: tuple[int, ...], steps: int
                    ) -> Callable[[int, np.ndarray], np.ndarray]:
    """``(step, theta) -> h (theta - theta*) + noise[step]``, curvatures ``h`` in [0.1, 10]."""
    rng = np.random.default_rng(seed)
    h = np.exp(rng.uniform(np.log(0.1), np.log(10.0), size=shape))
    target = rng.normal(size=shape)
    noise = rng.normal(size=(steps, *shape)) * 0.1
    return lambda step, theta: h * (theta - target) + noise[step]
