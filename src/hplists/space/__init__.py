"""Search spaces and (quasi-)random sampling of hyperparameter points.

Example:
    >>> from hplists.space import get_space
    >>> points = get_space("nadamw-broad").sample(5, seed=0)      # scrambled Halton
    >>> baseline = get_space("nadamw-broad").sample(5, seed=0, method="random")
    >>> len(points), len(baseline)
    (5, 5)
"""

from hplists.space.builtin import available_spaces, get_space, load_space, register_space
from hplists.space.dimensions import Dimension, Discrete, Fixed, Linear, Log
from hplists.space.sampling import METHODS, sample, unit_sequence
from hplists.space.space import SearchSpace

__all__ = [
    "METHODS",
    "Dimension",
    "Discrete",
    "Fixed",
    "Linear",
    "Log",
    "SearchSpace",
    "available_spaces",
    "get_space",
    "load_space",
    "register_space",
    "sample",
    "unit_sequence",
]
