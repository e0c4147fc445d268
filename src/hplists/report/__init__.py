"""The report: paper 001's tables and figures, regenerated from trial stores.

``hplists report --store STORE [--store STORE ...] -o DIR`` writes a self-contained
``report.html``, ``report.md``, ``results.md`` (the paper-001 section of ``docs/results.md``),
``tables/*.csv`` and ``figures/*.png``. In Python:

* :func:`write_report` does the same;
* :class:`Analysis` computes everything the report shows from trial records;
* :mod:`~hplists.report.tables` and :mod:`~hplists.report.figures` hold one
  function per table and figure of paper 001, returning plain data / images;
* :mod:`~hplists.report.studies` says which study holds which experiment;
* :mod:`~hplists.report.paper001` holds the paper's numbers.

matplotlib and opda (the ``report`` extra) are needed for figures and bands.
"""

from hplists.report.analysis import Analysis, load_records
from hplists.report.document import Report, build, write_report
from hplists.report.studies import BASELINES, DEFAULT_STUDIES, Baseline, StudyNames

__all__ = [
    "BASELINES",
    "DEFAULT_STUDIES",
    "Analysis",
    "Baseline",
    "Report",
    "StudyNames",
    "build",
    "load_records",
    "write_report",
]
