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
``baseline:<key>``     one row of Tables 5 and 6: a declared baseline
                       (:data:`hplists.study.baselines.BASELINES`)
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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hplists.exceptions import InvalidParameterError
from hplists.study import baselines as study_baselines
from hplists.study.baselines import Baseline

__all__ = ["BASELINES", "DEFAULT_STUDIES", "Baseline", "StudyNames", "write_study_report"]

#: The baselines as declared (:data:`hplists.study.baselines.BASELINES`): one row each.
BASELINES: tuple[Baseline, ...] = study_baselines.BASELINES


@dataclasses.dataclass(frozen=True)
class StudyNames:
    """The study names the report reads (see the module docstring).

    The baselines are the declared ones (:func:`hplists.study.baselines.baselines`,
    read when used), each in its own study unless ``baseline_studies`` names another.
    """

    broad: str = "broad200"
    reruns: str | None = None
    variants: str | None = None
    baseline_studies: tuple[tuple[str, str], ...] = ()

    @property
    def baselines(self) -> tuple[Baseline, ...]:
        """Every declared baseline, with the study the report reads it from."""
        names = dict(self.baseline_studies)
        return tuple(dataclasses.replace(b, study=names[b.key]) if b.key in names else b
                     for b in study_baselines.baselines())

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
                names = {**dict(out.baseline_studies), key[9:]: name}
                out = dataclasses.replace(out, baseline_studies=tuple(names.items()))
            else:
                raise InvalidParameterError(f"unknown study key {key!r}; the keys are {self.keys}")
        return out


DEFAULT_STUDIES = StudyNames()


# ---------------------------------------------------------------------------- a study's report


def write_study_report(study: Any, out_dir: str | Path | None, *, command: str,
                       readme: str | Path | None = None,
                       summary: str | Path | None = None) -> list[str]:
    """The report of ``study`` (a :class:`~hplists.study.staged.Study`) from its store.

    The report layer's side of a study (this layer is above the studies'), by
    :attr:`~hplists.study.staged.Study.name`: paper 001's report
    (:func:`hplists.report.document.write_report`, with the study names of the
    study's manifest and its ``k`` and ``tau``), paper 002's
    (:mod:`hplists.report.lrfree`) or the 8-bit state study's
    (:mod:`hplists.report.state_bits`). ``command`` is the command line the
    report records; with ``readme``, the report's generated section of that
    Markdown file is regenerated too, and with ``summary`` (``state8`` only) its
    compact table in that file (the README). ``out_dir`` is the report's folder
    (``state8``: optional). Returns the paths written.
    """
    writer = _WRITERS.get(study.name)
    if writer is None:
        raise InvalidParameterError(f"no report for study {study.name!r}; the reports are of "
                                    f"{sorted(_WRITERS)}")
    if summary is not None and study.name != "state8":
        raise InvalidParameterError(f"summary applies to study 'state8' only; study "
                                    f"{study.name!r} has no summary table")
    if out_dir is None and study.name != "state8":
        raise InvalidParameterError(f"out_dir is required for study {study.name!r}: its report "
                                    "is a folder")
    return writer(study, None if out_dir is None else Path(out_dir), command,
                  None if readme is None else str(readme),
                  None if summary is None else str(summary))


def _paper001(study: Any, out: Path, command: str, readme: str | None,
              summary: str | None) -> list[str]:
    from hplists.report.document import write_report
    from hplists.report.figures import file_stem

    names = DEFAULT_STUDIES.with_overrides(study.manifest()["studies"])
    report = write_report([study.store.location()], out, specs=study.given_specs or None,
                          studies=names, readme=readme, command=command, k=study.config.k,
                          tau=study.config.tau)
    written: Sequence[Path] = [
        out / "report.html", out / "report.md", out / "results.md",
        *(out / "tables" / f"{file_stem(t.key)}.csv" for t in report.tables),
        *(out / "figures" / f"{file_stem(f.key)}.png" for f in report.figures if f.png)]
    return [str(p) for p in written] + ([readme] if readme is not None else [])


def _lrfree(study: Any, out: Path, command: str, readme: str | None,
            summary: str | None) -> list[str]:
    from hplists.report import lrfree

    return lrfree.write(lrfree.LrFreeResults(study), str(out), command=command, readme=readme)


def _state8(study: Any, out: Path | None, command: str, readme: str | None,
            summary: str | None) -> list[str]:
    from hplists.report import state_bits

    return state_bits.write(state_bits.StateBitsResults(study), out, command=command,
                            readme=readme, summary=summary)


_WRITERS: dict[str, Callable[[Any, Any, str, str | None, str | None], list[str]]] = {
    "paper001": _paper001, "lrfree": _lrfree, "state8": _state8}
