"""What the test modules share, in one place (not test modules themselves).

* :mod:`helpers.workloads`: tiny JAX workloads that train in about a second, and
  the registry context they are used in (fixture ``tiny`` in ``conftest.py``);
* :mod:`helpers.checks`: the checks every built-in workload's test module makes;
* :mod:`helpers.tuning`: picklable ``train`` functions for :func:`hplists.tune`
  on worker processes.

Worker processes and subprocesses import these by module name, so
``tests/`` must be on their ``sys.path`` (pytest puts it there for the tests).
"""
