"""One hyperparameter point for NAdamW with linear warmup and cosine decay.

A point fixes every free choice of the training algorithm of paper 001
(arXiv 2503.03986, Table 10): the base learning rate, the Adam betas and
epsilon, decoupled weight decay, the warmup fraction of the schedule, and the
two regularizers (dropout and label smoothing). Points are immutable and
validated on construction.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from hplists._check import check_real
from hplists.exceptions import InvalidParameterError

__all__ = ["ALGOPERF_KEYS", "HParams", "Point", "point_dict"]

# Key names used by AlgoPerf's external-tuning search spaces and submissions.
ALGOPERF_KEYS = (
    "learning_rate",
    "one_minus_beta1",
    "beta2",
    "weight_decay",
    "warmup_factor",
    "dropout_rate",
    "label_smoothing",
)


def _complement(x: float) -> float:
    """``1 - x`` as the shortest decimal ``d`` with ``1.0 - d == x`` (else ``1.0 - x``)."""
    exact = 1.0 - x
    for digits in range(1, 18):
        candidate = float(f"{exact:.{digits}g}")
        if 1.0 - candidate == x:
            return candidate
    return exact


@dataclasses.dataclass(frozen=True)
class HParams:
    """A hyperparameter point: NAdamW (as in ``optax.nadamw``) plus schedule and regularizers.

    Attributes:
        learning_rate: peak (base) learning rate reached at the end of warmup, > 0.
        beta1: decay of the first moment, in [0, 1).
        beta2: decay of the second moment, in [0, 1).
        eps: added to ``sqrt(v_hat)`` outside the square root, >= 0.
        weight_decay: decoupled weight decay, multiplied by the scheduled
            learning rate as optax does, >= 0.
        warmup_fraction: fraction of the step budget spent in linear warmup
            from 0, in [0, 1].
        dropout_rate: probability shared by every dropout layer, in [0, 1).
        label_smoothing: label smoothing of cross-entropy losses, in [0, 1).

    Example:
        >>> p = HParams(learning_rate=1e-3, beta1=0.9, beta2=0.999,
        ...             weight_decay=0.1, warmup_fraction=0.05)
        >>> p.one_minus_beta1
        0.1
        >>> HParams.from_json(p.to_json()) == p
        True
    """

    learning_rate: float
    beta1: float
    beta2: float
    eps: float = 1e-8
    weight_decay: float = 0.0
    warmup_fraction: float = 0.0
    dropout_rate: float = 0.0
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        checks: dict[str, dict[str, Any]] = {
            "learning_rate": dict(low=0.0, low_open=True),
            "beta1": dict(low=0.0, high=1.0, high_open=True),
            "beta2": dict(low=0.0, high=1.0, high_open=True),
            "eps": dict(low=0.0),
            "weight_decay": dict(low=0.0),
            "warmup_fraction": dict(low=0.0, high=1.0),
            "dropout_rate": dict(low=0.0, high=1.0, high_open=True),
            "label_smoothing": dict(low=0.0, high=1.0, high_open=True),
        }
        for name, kw in checks.items():
            # Store plain floats so points hash, compare and serialize exactly.
            object.__setattr__(self, name, check_real(name, getattr(self, name), **kw))

    @property
    def method(self) -> str:
        """The update rule the point is defined for: ``"nadamw"`` (as a list's ``optimizer``)."""
        return "nadamw"

    @property
    def one_minus_beta1(self) -> float:
        """``1 - beta1``, the parameterization of paper 001's search space and AlgoPerf.

        The shortest decimal whose complement is exactly ``beta1``, so that
        AlgoPerf's ``one_minus_beta1`` values survive a round trip digit for digit
        (``1.0 - 0.9`` alone would give ``0.09999999999999998``).
        """
        return _complement(self.beta1)

    @property
    def one_minus_beta2(self) -> float:
        """``1 - beta2``, as :attr:`one_minus_beta1`."""
        return _complement(self.beta2)

    def replace(self, **changes: Any) -> HParams:
        """Returns a copy with some fields changed (and validated).

        Example:
            >>> HParams(1e-3, 0.9, 0.999).replace(dropout_rate=0.1).dropout_rate
            0.1
        """
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, float]:
        """Returns the fields as a plain dict.

        Example:
            >>> sorted(HParams(1e-3, 0.9, 0.999).to_dict())[:3]
            ['beta1', 'beta2', 'dropout_rate']
        """
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> HParams:
        """Builds a point from a dict of field names; unknown keys are an error.

        Example:
            >>> HParams.from_dict({"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.99}).beta2
            0.99
        """
        if not isinstance(d, Mapping):
            raise InvalidParameterError(
                f"a point must be an object/dict of HParams fields, got {type(d).__name__}"
            )
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(map(str, d)) - fields)
        if unknown:
            raise InvalidParameterError(
                f"unknown HParams field(s) {unknown}; allowed fields are {sorted(fields)}"
            )
        missing = sorted(
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.name not in d
        )
        if missing:
            raise InvalidParameterError(f"missing required HParams field(s) {missing}")
        return cls(**dict(d))

    def to_json(self) -> str:
        """Serializes to JSON; floats round-trip exactly.

        Example:
            >>> HParams(1e-3, 0.9, 0.999).to_json()[:22]
            '{"learning_rate": 0.00'
        """
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> HParams:
        """Inverse of :meth:`to_json`."""
        from hplists._files import parse_json

        return cls.from_dict(parse_json(text, "HParams JSON"))

    def to_algoperf(self) -> dict[str, float]:
        """Returns the point with AlgoPerf's key names (``one_minus_beta1``, ``warmup_factor``).

        AlgoPerf has no ``eps`` key: its NAdamW baseline uses 1e-8, our default.

        Example:
            >>> HParams(1e-3, 0.9, 0.999, warmup_fraction=0.05).to_algoperf()["warmup_factor"]
            0.05
        """
        return {
            "learning_rate": self.learning_rate,
            "one_minus_beta1": self.one_minus_beta1,
            "beta2": self.beta2,
            "weight_decay": self.weight_decay,
            "warmup_factor": self.warmup_fraction,
            "dropout_rate": self.dropout_rate,
            "label_smoothing": self.label_smoothing,
        }

    @classmethod
    def from_algoperf(cls, d: Mapping[str, Any], eps: float = 1e-8) -> HParams:
        """Builds a point from AlgoPerf's key names.

        ``beta1`` may be given directly instead of ``one_minus_beta1``; a
        missing ``dropout_rate`` or ``label_smoothing`` means 0.

        Example:
            >>> d = {"learning_rate": 1e-3, "one_minus_beta1": 0.1, "beta2": 0.999,
            ...      "weight_decay": 0.1, "warmup_factor": 0.05}
            >>> HParams.from_algoperf(d).beta1
            0.9
        """
        allowed = set(ALGOPERF_KEYS) | {"beta1"}
        unknown = sorted(set(d) - allowed)
        if unknown:
            raise InvalidParameterError(
                f"unknown AlgoPerf key(s) {unknown}; allowed keys are {sorted(allowed)}"
            )
        if "one_minus_beta1" in d:
            beta1 = 1.0 - check_real("one_minus_beta1", d["one_minus_beta1"], 0.0, 1.0,
                                     low_open=True)
        elif "beta1" in d:
            beta1 = d["beta1"]
        else:
            raise InvalidParameterError("AlgoPerf point needs 'one_minus_beta1' (or 'beta1')")
        for key in ("learning_rate", "beta2", "weight_decay", "warmup_factor"):
            if key not in d:
                raise InvalidParameterError(f"AlgoPerf point is missing required key {key!r}")
        return cls(
            learning_rate=d["learning_rate"],
            beta1=beta1,
            beta2=d["beta2"],
            eps=eps,
            weight_decay=d["weight_decay"],
            warmup_fraction=d["warmup_factor"],
            dropout_rate=d.get("dropout_rate", 0.0),
            label_smoothing=d.get("label_smoothing", 0.0),
        )


# A point is an HParams (NAdamW) or, for other update rules, a mapping of hyperparameter
# names to numbers: what every part of hplists (engine, spaces, store, lists) takes.
Point = HParams | Mapping[str, float]


def point_dict(point: Point) -> dict[str, float]:
    """The point as a plain dict of floats (an HParams' fields, or a mapping's items).

    Example:
        >>> point_dict(HParams(1e-3, 0.9, 0.99))["beta2"], point_dict({"lr": 1})
        (0.99, {'lr': 1.0})
    """
    if isinstance(point, HParams):
        return point.to_dict()
    return {str(k): float(v) for k, v in point.items()}
