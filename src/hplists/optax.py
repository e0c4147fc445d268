"""JAX entry point: ``hplists.optax.build(point, total_steps)`` returns ``optax.nadamw``
with the warmup-cosine schedule. Importing this module needs ``optax``.
"""

from hplists.optim.optax_nadamw import build, rule

__all__ = ["build", "rule"]
