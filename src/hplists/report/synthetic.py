"""A synthetic study of realistic shape, to try the report, test it and time it without training.

The curves are generated, not trained: each workload has an optimal region of
the ``nadamw-broad`` space (centred near a shared region, so some points work
on several workloads, as in paper 001, Table 4); a point's distance from it
sets how far and how fast its validation metric improves, too high a learning
rate makes it diverge, and each seed adds noise. Targets are set so that a
few percent of the 200 sampled points reach them. Every study the report reads
is present: the broad sample, the leave-one-out and final lists (rebuilt from
the sample with the real method core and rerun with several seeds), the
variants, and the baselines of Tables 5 and 6.

Nothing here is a result: it only gives the report data of the right shape.

Example:
    >>> records, specs = synthetic_study(num_points=20, workloads=2, baselines=False,
    ...                                  reruns=False)
    >>> len(records), sorted(specs)
    (40, ['ctr_dlrm', 'mri_unet'])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hplists.curves import Curve, Status
from hplists.exceptions import InvalidParameterError
from hplists.hparams import HParams, Point
from hplists.metric import best_of, sign
from hplists.report.studies import DEFAULT_STUDIES, StudyNames
from hplists.scoring.workload_specs import WorkloadSpec
from hplists.store.base import TrialRecord, canonical_point, point_id

__all__ = ["synthetic_study", "write_synthetic_store"]

# name, metric, mode, step budget, value at init, best reachable value, seconds per step
_WORKLOADS: tuple[tuple[str, str, Literal["min", "max"], int, float, float, float], ...] = (
    ("ctr_dlrm", "log_loss", "min", 1200, 0.70, 0.452, 0.004),
    ("mri_unet", "ssim", "max", 800, 0.30, 0.745, 0.02),
    ("image_resnet", "error_rate", "min", 400, 0.90, 0.21, 0.05),
    ("image_vit", "error_rate", "min", 600, 0.90, 0.30, 0.04),
    ("speech_conformer", "wer", "min", 800, 1.00, 0.16, 0.06),
    ("speech_rnn", "wer", "min", 600, 1.00, 0.22, 0.05),
    ("graph_gnn", "mean_average_precision", "max", 1000, 0.03, 0.29, 0.01),
    ("translate_transformer", "bleu", "max", 1000, 0.0, 31.0, 0.08),
)
_VARIANT_SUFFIX = ("layernorm", "layernorm", "silu", "postln", "gelu", "tanh", "gelu", "postln")
# Share of the 200 sampled points that reach each base workload's target (paper: 1%-12%).
_SUCCESS = (0.10, 0.04, 0.02, 0.08, 0.04, 0.11, 0.05, 0.04)
_CENTER = np.array([0.55, 0.45, 0.35, 0.45, 0.5, 0.5, 0.5])
_WEIGHTS = np.array([9.0, 1.5, 1.2, 2.5, 0.6, 0.8, 0.6])


def _hparams(points: Sequence[Point]) -> list[HParams]:
    """The points as HParams (``nadamw-broad`` and the NAdamW lists hold only HParams)."""
    out = [p for p in points if isinstance(p, HParams)]
    if len(out) != len(points):
        raise TypeError("the synthetic study's points must be HParams")
    return out


def _stand_in(point: Point) -> HParams:
    """A baseline's point as NAdamW HParams (a point of another update rule: its shared fields)."""
    if isinstance(point, HParams):
        return point
    p = dict(point)
    wd = p.get("weight_decay", p.get("adamw_weight_decay", 0.0))
    return HParams(float(p.get("learning_rate", 1e-3)), float(p.get("beta1", 0.9)),
                   float(p.get("beta2", 0.999)), weight_decay=float(wd),
                   warmup_fraction=float(p.get("warmup_fraction", 0.05)))


def _unit(points: Sequence[HParams]) -> np.ndarray:
    """Points as coordinates in ``nadamw-broad``'s unit cube (outside it for other points)."""
    def log01(x: float, lo: float, hi: float) -> float:
        return (math.log(max(x, 1e-12)) - math.log(lo)) / (math.log(hi) - math.log(lo))

    return np.array([[
        log01(p.learning_rate, 1e-4, 1e-2),
        log01(1 - p.beta1, 1e-3, 0.2),
        log01(1 - p.beta2, 1e-3, 0.2),
        log01(max(p.weight_decay, 1e-6), 1e-4, 0.5),
        (p.warmup_fraction - 0.02) / 0.08,
        p.label_smoothing / 0.2,
        p.dropout_rate / 0.1,
    ] for p in points])


class _Workload:
    def __init__(self, j: int, variant: bool, num_evals: int, seed: int) -> None:
        name, metric, mode, budget, init, best, sps = _WORKLOADS[j]
        rng = np.random.default_rng([seed, j, int(variant)])
        self.name = f"{name}_{_VARIANT_SUFFIX[j]}" if variant else name
        self.metric, self.mode, self.budget, self.init, self.best = metric, mode, budget, init, best
        self.sps = sps
        base_rng = np.random.default_rng([seed, j, 0])
        self.center = np.clip(_CENTER + base_rng.normal(0, 0.12, 7), 0.05, 0.95)
        if variant:  # the variant's best region moves away from the base workload's
            self.center = np.clip(self.center + rng.normal(0, 0.08, 7), 0.05, 0.95)
        self.weights = _WEIGHTS * base_rng.uniform(0.6, 1.4, 7)
        self.steps = np.unique(np.linspace(budget / num_evals, budget, num_evals).round()
                               ).astype(np.int64)
        self.success = _SUCCESS[j] * (0.8 if variant else 1.0)
        self.target = math.nan

    def curves(self, points: Sequence[HParams], seed: int, tag: int) -> list[Curve]:
        z = _unit(points)
        quality = np.exp(-((z - self.center) ** 2 * self.weights).sum(axis=1))
        rng = np.random.default_rng([tag, seed, len(self.name), int(abs(1e6 * z[:, 0].sum()))])
        quality = np.clip(quality + rng.normal(0, 0.015, len(points)), 0, 1)
        rate = 1.5 + 4.0 * quality
        frac = self.steps / self.budget
        progress = quality[:, None] * (1 - np.exp(-rate[:, None] * frac)) / (1 - np.exp(-rate))[
            :, None]
        progress = progress + rng.normal(0, 0.004, progress.shape)
        values = self.init + (self.best - self.init) * progress
        # too high a learning rate (with little warmup) diverges at some evaluation
        risk = 1 / (1 + np.exp(-(z[:, 0] - self.center[0] - 0.3 + 0.1 * z[:, 4]) * 12))
        diverge = rng.uniform(size=len(points)) < risk
        at = rng.integers(1, len(self.steps), len(points))
        out = []
        for i in range(len(points)):
            v = values[i].copy()
            status, message = Status.COMPLETE, ""
            if diverge[i]:
                v[at[i]:] = np.nan
                status, message = Status.DIVERGED, "loss is NaN"
            loss = np.where(np.isnan(v), np.nan, 2.5 * (1.2 - progress[i]))
            out.append(Curve(self.steps, self.steps * self.sps * rng.uniform(0.95, 1.05), loss,
                             {self.metric: v}, status, message))
        return out

    def set_target(self, curves: Sequence[Curve]) -> None:
        best = []
        for c in curves:
            v = c.metrics[self.metric]
            v = v[np.isfinite(v)]
            best.append(-sign(self.mode) * best_of(v, self.mode) if v.size else np.inf)
        q = float(np.quantile(best, self.success))
        # midway to the next better point, so the count is exact and rounding-proof
        below = np.sort(np.asarray(best)[np.asarray(best) > q])
        q = (q + below[0]) / 2 if below.size else q
        self.target = round(-sign(self.mode) * q, 6)

    @property
    def spec(self) -> WorkloadSpec:
        return WorkloadSpec(self.name, self.metric, self.mode, self.target, self.budget)


def _records(study: str, points: Sequence[HParams], w: _Workload, seeds: Sequence[int],
             tag: int, indices: Sequence[int | None] | None = None) -> list[TrialRecord]:
    indices = range(len(points)) if indices is None else indices
    out = []
    for s in seeds:
        for i, p, c in zip(indices, points, w.curves(points, s, tag), strict=True):
            point = canonical_point(p)
            out.append(TrialRecord(study, point_id(point), i, point, w.name, "1", int(s),
                                   c.status, c.message, c, {"synthetic": True}))
    return out


def synthetic_study(
    *,
    num_points: int = 200,
    workloads: int = 8,
    num_evals: int = 25,
    seeds: int = 5,
    baselines: bool = True,
    reruns: bool = True,
    variants: bool = True,
    k: int = 5,
    seed: int = 0,
    studies: StudyNames = DEFAULT_STUDIES,
) -> tuple[list[TrialRecord], dict[str, WorkloadSpec]]:
    """Trial records of a whole synthetic study, and the workload specs to score them.

    Args:
        num_points: size of the ``nadamw-broad`` sample (paper: 200).
        workloads: how many of the 8 base workloads (in the paper's order).
        num_evals: evaluations per trial.
        seeds: seeds of each rerun and baseline.
        baselines: include every declared baseline (:data:`hplists.study.baselines.BASELINES`).
        reruns: include the leave-one-out and final list reruns (and the variants).
        variants: include the variant workloads (with ``reruns``).
        k: list length of the reruns and of the baselines with points.
        seed: seed of everything random.
        studies: study names to write.
    """
    from hplists.lists.greedy import greedy_list
    from hplists.lists.loo import leave_one_out
    from hplists.scoring.matrix import TrialMatrix
    from hplists.space import get_space

    space = get_space("nadamw-broad")
    sample = _hparams(space.sample(num_points, seed=seed))
    base = [_Workload(j, False, num_evals, seed) for j in range(workloads)]
    records: list[TrialRecord] = []
    for j, w in enumerate(base):
        recs = _records(studies.broad, sample, w, [0], tag=j)
        w.set_target([r.curve for r in recs if r.curve is not None])  # _records sets each
        records += recs
    if records and len(base) > 1:  # one failed trial, as real studies have
        r = records[len(sample) + 3]
        records[len(sample) + 3] = TrialRecord(r.study, r.point_id, r.point_index, r.point,
                                               r.workload, "1", 0, Status.ERROR,
                                               "worker process died", None, {})
    specs = {w.name: w.spec for w in base}
    seed_list = list(range(1, seeds + 1))  # reruns use seeds 1..S; the sample used seed 0
    if reruns:
        matrix = TrialMatrix.from_records(records, specs, errors="inf")
        loo = leave_one_out(matrix, k)
        final = greedy_list(matrix.fractions, k).indices
        for fold in loo.folds:  # on each base workload: the final list and its held-out list
            rows = list(dict.fromkeys([*final, *fold.built.indices]))
            points = [HParams.from_dict(matrix.points[i]) for i in rows]
            w = next(w for w in base if w.name == fold.name)
            records += _records(studies.reruns_study, points, w, seed_list, tag=100,
                                indices=rows)
        if variants:
            points = [HParams.from_dict(matrix.points[i]) for i in final]
            for j in range(workloads):
                v = _Workload(j, True, num_evals, seed)
                v.set_target(v.curves(sample, 0, tag=50 + j))
                specs[v.name] = v.spec
                records += _records(studies.variants_study, points, v, seed_list, tag=200,
                                    indices=final)
    if baselines:  # every declared baseline (hplists.study.baselines), as its record says
        from hplists.study.baselines import BaselineSetup

        rng = np.random.default_rng([seed, 7])
        setup = BaselineSetup(n=k, random_seed=int(rng.integers(2**31)))
        for b in studies.baselines:
            fixed = None if b.points is None else [_stand_in(p) for p in b.points(setup)]
            for j, w in enumerate(base):
                if fixed is not None:
                    records += _records(b.study, fixed, w, seed_list, tag=300 + j)
                    continue
                for s in seed_list:  # searches draw new points for every repetition
                    pts = _hparams(space.sample(b.budget, seed=int(rng.integers(2**31)),
                                                method="random"))
                    records += _records(b.study, pts, w, [s], tag=400 + j, indices=[None] * len(pts))
    return records, specs


def write_synthetic_store(path: str | Path, **kwargs: Any) -> dict[str, WorkloadSpec]:
    """Writes :func:`synthetic_study` into a new trial store at ``path``; returns the specs.

    A ``<path>.specs.json`` file next to it holds the specs (for ``--specs``).
    """
    import json

    from hplists.store import open_store

    path = Path(path)
    if path.exists():
        raise InvalidParameterError(f"{str(path)!r} exists; write the synthetic store to a new file")
    records, specs = synthetic_study(**kwargs)
    store = open_store(path)
    try:
        store.put_many(records)
    finally:
        store.close()
    Path(f"{path}.specs.json").write_text(json.dumps(
        {"workloads": {n: s.to_dict() for n, s in specs.items()}}, indent=2) + "\n")
    return specs
