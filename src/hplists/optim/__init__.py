"""Update rules and learning-rate schedules (PyTorch and Optax)."""

from hplists.optim.schedule import warmup_cosine, warmup_cosine_factor, warmup_steps

__all__ = ["warmup_cosine", "warmup_cosine_factor", "warmup_steps"]
