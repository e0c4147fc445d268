"""Scoring recorded trials: time-to-target, the cost C_tau, profiles and tuning curves.

Modules, one concept each:

* :mod:`~hplists.scoring.time_to_target`: first evaluated step reaching a target;
* :mod:`~hplists.scoring.workload_specs`: a workload's metric, direction, target and budget;
* :mod:`~hplists.scoring.matrix`: trial records to a ``[P, N]`` matrix of step
  fractions, and to per-submission times;
* :mod:`~hplists.scoring.cost`: the cost ``C_tau`` of a list (paper 001, Sec. 2.5);
* :mod:`~hplists.scoring.profiles`: performance profiles and the AlgoPerf score;
* :mod:`~hplists.scoring.tuning_curve`: random-search tuning curves and the
  equivalent random-search budget of a list.

The most used functions are also top-level names: ``hplists.cost``,
``hplists.performance_profiles``, ``hplists.benchmark_score``,
``hplists.tuning_curve``.
"""
