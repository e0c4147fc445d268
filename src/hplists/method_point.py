"""A point of any update rule, read like an :class:`~hplists.hparams.HParams`, and its horizon.

NAdamW points are :class:`~hplists.hparams.HParams`. A point of another update
rule (Prodigy, Schedule-Free AdamW, Metz et al.'s NAdamW, ...) names its own
hyperparameters, so it is a :class:`MethodPoint`: a read-only mapping of names
to floats that also answers attribute access and knows the update rule it is
defined for. Both kinds give ``point.dropout_rate`` and
``point.label_smoothing`` (0 when a point does not set them, as the training
engine reads it), so one training function serves every list::

    def train(point):
        model = Model(dropout=point.dropout_rate)
        opt, sched = hplists.torch.build(point, model, total_steps)
        ...

A ``horizon`` ``h`` in (0, 1] means the point trains ``int(h * total_steps)``
steps and stops (paper 002, Sec. 3.1): its schedule ends there, and the rest of
the budget is not spent. :func:`steps_to_run` gives that number; the engine,
``hplists.torch.build`` and ``hplists.optax.build`` all use it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from hplists._check import check_int, check_real
from hplists.exceptions import InvalidParameterError

__all__ = ["REGULARIZERS", "SELF_TUNING_FACTOR", "MethodPoint", "method_of", "nadamw_hparams",
           "steps_to_run"]

# Hyperparameters of the model and the loss that every point has (0 when unset).
REGULARIZERS = ("dropout_rate", "label_smoothing")

# Paper 002 (Sec. 3.1) takes each workload's maximum steps from AlgoPerf's self-tuning
# ruleset, which runs 3x the external-tuning budget: submission_runner.py (AlgoPerf v0.5)
# uses `3 * workload.max_allowed_runtime_sec` unless the ruleset is external, and paper
# 002's Table 2 max steps are exactly 3 x step_hint (Criteo 31,998 = 3 x 10,666). A
# learning-rate-free list's horizons are fractions of that maximum, M = 3 T, where T is
# the step hint's analog (hplists.study.lrfree; AlgoPerf submissions:
# hplists.integrations.algoperf.common.self_tuning_budget).
SELF_TUNING_FACTOR = 3


class MethodPoint(Mapping[str, float]):
    """A read-only point of update rule ``method``: a mapping with attribute access.

    Values are validated as finite floats. ``point.name`` reads a
    hyperparameter (``dropout_rate`` and ``label_smoothing`` are 0 when unset);
    ``point.method`` is the update rule. It equals another ``MethodPoint`` of
    the same method with the same values, and a plain mapping with the same
    values (so code that compared points with dicts keeps working).

    Example:
        >>> p = MethodPoint("prodigy", {"beta1": 0.9, "beta2": 0.99, "horizon": 0.5})
        >>> p.beta1, p["beta2"], p.dropout_rate, p.method
        (0.9, 0.99, 0.0, 'prodigy')
        >>> dict(p) == {"beta1": 0.9, "beta2": 0.99, "horizon": 0.5}
        True
        >>> p.learning_rate
        Traceback (most recent call last):
        ...
        AttributeError: 'prodigy' point has no hyperparameter 'learning_rate'; it has ['beta1', 'beta2', 'horizon']
    """

    __slots__ = ("_method", "_values")
    _method: str
    _values: dict[str, float]

    def __init__(self, method: str, values: Mapping[str, Any]) -> None:
        if not isinstance(method, str) or not method:
            raise InvalidParameterError(f"method must be a non-empty string, got {method!r}")
        if not isinstance(values, Mapping):
            raise InvalidParameterError(
                f"a {method!r} point must be a mapping of hyperparameter names to numbers, "
                f"got {type(values).__name__}")
        checked: dict[str, float] = {}
        for k, v in values.items():
            if not isinstance(k, str) or not k:
                raise InvalidParameterError(f"point keys must be non-empty strings, got {k!r}")
            checked[k] = check_real(k, v)
        object.__setattr__(self, "_method", method)
        object.__setattr__(self, "_values", checked)

    @property
    def method(self) -> str:
        """The update rule the point is defined for (a name of ``hplists.optim.rules``)."""
        return self._method

    def __getitem__(self, key: str) -> float:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> float:
        if name.startswith("_"):
            raise AttributeError(name)
        values = self._values
        if name in values:
            return values[name]
        if name in REGULARIZERS:
            return 0.0
        raise AttributeError(f"{self._method!r} point has no hyperparameter {name!r}; it has "
                             f"{sorted(values)}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a MethodPoint is read-only; use point.replace({name}=...)")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MethodPoint):
            return self._method == other._method and self._values == other._values
        if isinstance(other, Mapping):
            return self._values == dict(other.items())
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self._method, frozenset(self._values.items())))

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"MethodPoint({self._method!r}, {items})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (MethodPoint, (self._method, self._values))

    def to_dict(self) -> dict[str, float]:
        """The hyperparameters as a plain dict (what list files and the store hold).

        Example:
            >>> MethodPoint("dog", {"init_step": 1e-6}).to_dict()
            {'init_step': 1e-06}
        """
        return dict(self._values)

    def replace(self, **changes: float) -> MethodPoint:
        """A copy with some hyperparameters changed or added.

        Example:
            >>> MethodPoint("dog", {"init_step": 1e-6}).replace(weight_decay=0.1).weight_decay
            0.1
        """
        return MethodPoint(self._method, {**self._values, **changes})


def method_of(point: Any, method: str | None = None) -> str:
    """The update rule of ``point``: ``method`` if given, else the point's own.

    An :class:`~hplists.hparams.HParams` is NAdamW's; a :class:`MethodPoint`
    knows its method; a plain mapping is read as a NAdamW point when its keys
    are :class:`~hplists.hparams.HParams` fields, and otherwise needs
    ``method``. A ``method`` that contradicts the point's own is an error, not
    a silent choice.

    Example:
        >>> from hplists import HParams
        >>> method_of(HParams(1e-3, 0.9, 0.99)), method_of(MethodPoint("dog", {}))
        ('nadamw', 'dog')
        >>> method_of({"learning_rate": 1e-3, "beta1": 0.9}), method_of({"init_step": 1e-6}, "dog")
        ('nadamw', 'dog')
        >>> method_of({"horizon": 0.5, "beta1": 0.9})
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: a plain mapping of hyperparameters is read as a NAdamW point (HParams), but ['horizon'] are not HParams fields ...
    """
    import dataclasses

    from hplists.hparams import HParams

    if isinstance(point, HParams):
        own: str | None = "nadamw"
    elif isinstance(point, MethodPoint):
        own = point.method
    elif isinstance(point, Mapping):
        own = None
    else:
        raise InvalidParameterError(
            f"point must be an HParams, a point of a list (hplists.get_list) or a mapping of "
            f"hyperparameter names to numbers, got {type(point).__name__}")
    if method is None:
        if own is not None:
            return own
        fields = {f.name for f in dataclasses.fields(HParams)}
        unknown = sorted(set(map(str, point)) - fields)
        if unknown:
            raise InvalidParameterError(
                f"a plain mapping of hyperparameters is read as a NAdamW point (HParams), but "
                f"{unknown} are not HParams fields (they are {sorted(fields)}); for another "
                "update rule pass method=... (e.g. 'prodigy'), or use a point of a list "
                "(hplists.get_list)")
        return "nadamw"
    if own is not None and own != method:
        raise InvalidParameterError(
            f"method={method!r} contradicts the point, which is a {own!r} point; leave "
            f"method out, or pass the point's hyperparameters as a plain dict")
    return method


def steps_to_run(point: Any, total_steps: int) -> int:
    """Steps ``point`` trains within a budget of ``total_steps``: ``int(h * total_steps)`` or all.

    A point with a ``horizon`` ``h`` in (0, 1] (paper 002's 33/50/66% runs)
    has its schedule end at this step and stops there; any other point trains
    the whole budget. The training engine, ``hplists.torch.build`` and
    ``hplists.optax.build`` compute the horizon with this function.

    Example:
        >>> steps_to_run({"horizon": 0.33, "beta1": 0.9}, 1200), steps_to_run({"beta1": 0.9}, 1200)
        (396, 1200)
        >>> steps_to_run({"horizon": 1.5}, 100)
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: horizon must be in (0, 1], got 1.5
    """
    total_steps = check_int("total_steps", total_steps, low=1)
    h = point.get("horizon") if isinstance(point, Mapping) else None
    if h is None:
        return total_steps
    h = check_real("horizon", h, 0.0, 1.0, low_open=True)
    # The epsilon keeps products such as 0.29 * 100 = 28.999999999999996 at 29.
    return max(1, int(h * total_steps + 1e-9))


def nadamw_hparams(point: Any) -> Any:
    """A NAdamW point as :class:`~hplists.HParams`, its ``horizon`` left out.

    NAdamW's schedule has no horizon of its own: a point with horizon ``h``
    (the learning-rate-free study's NAdamW baselines) trains NAdamW with its
    warmup and decay spanning :func:`steps_to_run`'s ``int(h * total_steps)``
    steps, as the training engine builds it. Build it with this ``HParams``
    and ``total_steps=steps_to_run(point, total_steps)``.

    Example:
        >>> p = MethodPoint("nadamw", {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.99,
        ...                            "horizon": 0.5})
        >>> nadamw_hparams(p).learning_rate, steps_to_run(p, 100)
        (0.001, 50)
    """
    from hplists.hparams import HParams

    if isinstance(point, HParams):
        return point
    return HParams.from_dict({k: v for k, v in point.items() if k != "horizon"})
