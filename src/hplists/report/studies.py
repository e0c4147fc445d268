"""Which study in the trial store holds which experiment of the report.

The report reads the trial store(s) by study name. The defaults are the names
``hplists study`` writes (:mod:`hplists.study.workflow`,
:mod:`hplists.study.baselines`); every name can be changed, in Python with
:meth:`StudyNames.with_overrides` or on the command line with
``hplists report ... --study-name broad=my-sample``.

=====================  ==========================================================
key                    what the study holds
=====================  ==========================================================
``broad``              the ``nadamw-broad`` sample (200 points, seed 0) on the
                       base workloads: Tables 4, 12, 13, Figures 1, 2, and the
                       lists (rebuilt from it with the method core)
``reruns``             the list points rerun with seeds 1..5 on the workloads
                       they are scored on: on each base workload, the final
                       list's points and those of the list built without it
                       (Tables 5, 6, 9); default ``<broad>/reruns``
``variants``           the final list rerun on every variant (Tables 7, 8);
                       default ``<broad>/variants``
``baseline:<key>``     one row of Tables 5 and 6 (see :data:`BASELINES`)
=====================  ==========================================================

Rows are picked out of ``reruns`` by point: the leave-one-out row on a
workload uses only the points of the list built without it, the final list's
row only the final list's points.

Example:
    >>> DEFAULT_STUDIES.reruns_study, DEFAULT_STUDIES.with_overrides({"broad": "b12"}).reruns_study
    ('broad200/reruns', 'b12/reruns')
    >>> DEFAULT_STUDIES.with_overrides({"baseline:metz": "metz-5"}).baselines[4].study
    'metz-5'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from hplists.exceptions import InvalidParameterError

__all__ = ["BASELINES", "DEFAULT_STUDIES", "Baseline", "StudyNames"]


@dataclasses.dataclass(frozen=True)
class Baseline:
    """One row of Tables 5 and 6 that is not ours.

    Attributes:
        key: short name, used in ``--study-name baseline:<key>=...``.
        label: the row's label in the report.
        study: the study holding its trials.
        paper_row: the matching row of the paper's Tables 5 and 6 (``None`` if
            the paper has none).
        budget: trials per workload and seed (the tuning budget).
    """

    key: str
    label: str
    study: str
    paper_row: str | None
    budget: int


BASELINES: tuple[Baseline, ...] = (
    Baseline("lr-wd0.5", "LR sweep (WD = 0.5)", "baseline/lr-sweep-wd0.5",
             "LR sweep (WD = 0.5)", 5),
    Baseline("lr-wd1e-4", "LR sweep (WD = 1e-4)", "baseline/lr-sweep-wd1e-4",
             "LR sweep (WD = 1e-4)", 5),
    Baseline("bo-5", "BO, Optuna GP (budget = 5)", "baseline/bo-gp-5",
             "Vizier (budget = 5)", 5),
    Baseline("bo-10", "BO, Optuna GP (budget = 10)", "baseline/bo-gp-10",
             "Vizier (budget = 10)", 10),
    Baseline("metz", "Metz et al. (first 5)", "baseline/metz", "Metz et al", 5),
    Baseline("random-5", "Random search (budget = 5)", "baseline/random-5",
             "Random Search (budget = 5)", 5),
    Baseline("nadamw-paper", "List nadamw-paper (paper 001, Table 10)", "list/nadamw-paper",
             None, 5),
    Baseline("nadamw-algoperf-baseline", "List nadamw-algoperf-baseline",
             "list/nadamw-algoperf-baseline", None, 5),
)


@dataclasses.dataclass(frozen=True)
class StudyNames:
    """The study names the report reads (see the module docstring)."""

    broad: str = "broad200"
    reruns: str | None = None
    variants: str | None = None
    baselines: tuple[Baseline, ...] = BASELINES

    @property
    def reruns_study(self) -> str:
        """The study of the list reruns (default ``<broad>/reruns``)."""
        return self.reruns or f"{self.broad}/reruns"

    @property
    def variants_study(self) -> str:
        """The study of the final list on the variants (default ``<broad>/variants``)."""
        return self.variants or f"{self.broad}/variants"

    @property
    def keys(self) -> list[str]:
        """Every key accepted by :meth:`with_overrides`."""
        return ["broad", "reruns", "variants", *(f"baseline:{b.key}" for b in self.baselines)]

    def with_overrides(self, overrides: Mapping[str, str]) -> StudyNames:
        """A copy with some study names changed; keys as in :attr:`keys`."""
        out = self
        for key, name in overrides.items():
            if not isinstance(name, str) or not name:
                raise InvalidParameterError(f"study name for {key!r} must be a non-empty string, "
                                 f"got {name!r}")
            if key == "broad":
                out = dataclasses.replace(out, broad=name)
            elif key == "reruns":
                out = dataclasses.replace(out, reruns=name)
            elif key == "variants":
                out = dataclasses.replace(out, variants=name)
            elif key.startswith("baseline:") and key[9:] in {b.key for b in out.baselines}:
                out = dataclasses.replace(out, baselines=tuple(
                    dataclasses.replace(b, study=name) if b.key == key[9:] else b
                    for b in out.baselines))
            else:
                raise InvalidParameterError(f"unknown study key {key!r}; the keys are {self.keys}")
        return out


DEFAULT_STUDIES = StudyNames()
