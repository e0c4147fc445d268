"""A study's sample, resolved against what its store recorded.

A study's points are defined by a space, a seed and a sampling method, and
:mod:`hplists.space` computes them to the same bits on every machine. A store
written by an earlier version, or by a sampler whose last bit depended on the
CPU, may hold points that differ from today's sample in the last bit. Since a
trial is identified by its point's exact values, such a point would be trained
again under a new id. So the store is the source of truth for the indices it
holds: :func:`resolve_sample` replaces each sampled point by the point the
study recorded at the same index, after checking that the two agree to within
:data:`RTOL` in every value. A larger difference means the sample's definition
changed (another space, seed or method), and that is an error, never a silent
substitution.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from hplists.exceptions import DataError
from hplists.hparams import HParams
from hplists.store.base import TrialStore, canonical_point

__all__ = ["RTOL", "matches", "resolve_sample"]

# Far above float64 rounding (2.2e-16), far below any difference between two sampled points.
RTOL = 1e-12


def matches(recorded: Mapping[str, float], sampled: Mapping[str, float], rtol: float = RTOL) -> bool:
    """Whether two points have the same names and values equal to within ``rtol``.

    Example:
        >>> matches({"lr": 0.00019473753634247413}, {"lr": 0.00019473753634247415})
        True
        >>> matches({"lr": 1e-3}, {"lr": 1.1e-3}), matches({"lr": 1e-3}, {"lr": 1e-3, "wd": 0.1})
        (False, False)
    """
    if set(recorded) != set(sampled):
        return False
    return all(math.isclose(recorded[k], sampled[k], rel_tol=rtol, abs_tol=0.0) for k in recorded)


def resolve_sample(store: TrialStore | None, study: str, points: Sequence[Any]) -> list[Any]:
    """``points`` (a study's sample, index ``i`` at position ``i``) with the store's recorded bits.

    Each index that ``study`` recorded gets the recorded point, of the same
    type as the sampled one (an :class:`~hplists.HParams` stays one). Indices
    not recorded keep the sampled point. With no store, the sample is returned
    as it is.

    Raises:
        DataError: a recorded point differs from the sample at its index by more
            than :data:`RTOL` (the study was sampled from another space, seed or
            method).

    Example:
        >>> import os, tempfile
        >>> from hplists import Curve
        >>> from hplists.store import open_store
        >>> store = open_store(os.path.join(tempfile.mkdtemp(), "s.db"))
        >>> key = store.claim("s", {"lr": 0.00019473753634247413}, "w", 0, point_index=0)
        >>> resolve_sample(store, "s", [{"lr": 0.00019473753634247415}, {"lr": 0.5}])
        [{'lr': 0.00019473753634247413}, {'lr': 0.5}]
    """
    if store is None:
        return list(points)
    recorded = store.recorded_points(study)
    out = list(points)
    for i, point in enumerate(out):
        found = recorded.get(i)
        if not found:
            continue
        sampled = canonical_point(point)
        same = [r for r in found if matches(r, sampled)]
        if not same:
            raise DataError(
                f"study {study!r} recorded point {i} as {found[0]}, but its sample gives "
                f"{sampled}: the sample's definition (space, seed or method) differs from the "
                "one the study ran with; run the study under another name, or with the "
                "configuration it was started with")
        if len(same) > 1:
            warnings.warn(f"study {study!r} recorded {len(same)} copies of point {i} that differ "
                          "in the last bits (written on machines that sampled differently); the "
                          "first recorded is used, and the others' trials are kept in the store",
                          stacklevel=2)
        chosen = same[0]
        if chosen != sampled:
            out[i] = HParams.from_dict(chosen) if isinstance(point, HParams) else dict(chosen)
    return out
