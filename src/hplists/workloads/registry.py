"""Registry of workloads by name.

Built-in workloads live in their own modules and are imported on first lookup,
so ``import hplists.workloads`` stays cheap. User workloads register with the
:func:`register` decorator, in a module the user imports (``hplists --import
MODULE ...`` on the command line), or from an installed package through the
entry-point group ``hplists.workloads``: each entry point names a module (whose
import registers its workloads) or a workload class, e.g. in ``pyproject.toml``::

    [project.entry-points."hplists.workloads"]
    my_task = "my_package.workloads"
"""

from __future__ import annotations

import importlib

from hplists.exceptions import InvalidParameterError
from hplists.workloads.contract import Workload

__all__ = ["ENTRY_POINT_GROUP", "get_workload", "import_modules", "register", "workload_names"]

ENTRY_POINT_GROUP = "hplists.workloads"

# Modules defining the built-in workloads (each registers its classes on import).
BUILTIN_MODULES: tuple[str, ...] = (
    "hplists.workloads.ctr_dlrm",
    "hplists.workloads.mri_unet",
    "hplists.workloads.image_resnet",
    "hplists.workloads.image_vit",
    "hplists.workloads.speech_conformer",
    "hplists.workloads.speech_rnn",
    "hplists.workloads.graph_gnn",
    "hplists.workloads.translate_transformer",
)

_REGISTRY: dict[str, type[Workload]] = {}
_loaded = False


def register(cls: type[Workload]) -> type[Workload]:
    """Class decorator: makes ``cls`` available as ``get_workload(cls.name)``.

    The class is checked here, once, against the contract of
    :class:`~hplists.workloads.contract.Workload`: a missing method or attribute
    is an error at registration, not a failure minutes into training.

    Example:
        >>> from hplists.workloads.contract import Workload
        >>> class Half(Workload):
        ...     name = "half-written"
        >>> register(Half)
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: workload 'half-written' (class Half) does not implement ['run']; ...
    """
    if not isinstance(cls, type) or not issubclass(cls, Workload):
        raise InvalidParameterError(f"register takes a subclass of hplists.workloads.contract."
                                    f"Workload (or JaxWorkload), got {cls!r}")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise InvalidParameterError(f"workload class {cls.__name__} must set a non-empty `name`")
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise InvalidParameterError(f"a different workload is already registered as {name!r}")
    _check_class(name, cls)
    _REGISTRY[name] = cls
    return cls


def _check_class(name: str, cls: type[Workload]) -> None:
    import inspect

    from hplists._check import check_int
    from hplists.metric import Metric
    from hplists.workloads.contract import REGULARIZERS, JaxWorkload

    where = f"workload {name!r} (class {cls.__name__})"
    if inspect.isabstract(cls):
        kind = "JaxWorkload" if issubclass(cls, JaxWorkload) else "Workload"
        raise InvalidParameterError(
            f"{where} does not implement {sorted(cls.__abstractmethods__)}; a {kind} needs "
            f"them (docs/workloads.md)")
    missing = [a for a in ("metric", "step_budget", "batch_size") if not hasattr(cls, a)]
    if missing:
        raise InvalidParameterError(f"{where} must set class attribute(s) {missing}")
    if not isinstance(cls.metric, Metric):
        raise InvalidParameterError(f"{where}: metric must be an hplists.metric.Metric, e.g. "
                                    f"Metric('error_rate', 'min'); got {cls.metric!r}")
    step_budget = check_int(f"{where}: step_budget", cls.step_budget, low=1)
    check_int(f"{where}: batch_size", cls.batch_size, low=1)
    check_int(f"{where}: num_evals", cls.num_evals, low=20, high=max(step_budget, 20))
    if not isinstance(cls.version, str) or not cls.version:
        raise InvalidParameterError(f"{where}: version must be a non-empty string, got "
                                    f"{cls.version!r}")
    unknown = sorted(set(cls.regularizers) - set(REGULARIZERS))
    if unknown:
        raise InvalidParameterError(f"{where}: regularizers {unknown} are not known; allowed "
                                    f"are {list(REGULARIZERS)}")
    if cls.base is not None and (not isinstance(cls.base, str) or cls.base == name):
        raise InvalidParameterError(f"{where}: base must be the name of another workload or "
                                    f"None, got {cls.base!r}")


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    for module in BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:  # a real import error inside the module
                raise
    _loaded = True
    _load_entry_points()


def _load_entry_points() -> None:
    """Workloads of installed packages: the ``hplists.workloads`` entry points."""
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
        except Exception as e:  # a broken plug-in names itself, it does not hide
            raise InvalidParameterError(
                f"entry point {ep.name!r} = {ep.value!r} of group {ENTRY_POINT_GROUP!r} "
                f"cannot be loaded: {type(e).__name__}: {e}") from e
        if isinstance(obj, type) and issubclass(obj, Workload):
            register(obj)


def import_modules(modules: list[str] | tuple[str, ...]) -> None:
    """Imports user modules that register workloads (``hplists --import MODULE``).

    ``MODULE`` is a module name, found on ``sys.path`` or in the current folder,
    or the path of a ``.py`` file. A module that exits while being imported
    (``sys.exit``) is an error, not a silent success.

    Example:
        >>> import_modules(["hplists.workloads.ctr_dlrm"])
        >>> import_modules(["no_such_module_xyz"])
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: --import no_such_module_xyz: No module named 'no_such_module_xyz'
        >>> import_modules([""])
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: --import needs a module name or the path of a .py file, got ''
    """
    import os
    import sys

    for module in modules:
        if not isinstance(module, str) or not module.strip():
            raise InvalidParameterError(f"--import needs a module name or the path of a .py "
                                        f"file, got {module!r}")
        try:
            if module.endswith(".py") or os.sep in module or "/" in module:
                _import_file(module)
            else:
                if os.getcwd() not in sys.path and "" not in sys.path:
                    sys.path.insert(0, os.getcwd())  # as `python -c` finds the current folder
                importlib.import_module(module)
        except ImportError as e:
            raise InvalidParameterError(f"--import {module}: {e}") from e
        except SystemExit as e:
            raise InvalidParameterError(f"--import {module}: the module called sys.exit({e.code!r}) "
                                        "while being imported; nothing was run") from None


def _import_file(path: str) -> None:
    """Imports ``dir/name.py`` as module ``name``, with ``dir`` on ``sys.path``.

    By name, so that its workloads pickle and worker processes (which inherit
    ``sys.path``) import the same module.
    """
    import sys
    from pathlib import Path

    file = Path(path)
    if not file.is_file() or file.suffix != ".py":
        raise ImportError(f"no Python file {path!r}")
    folder = str(file.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    importlib.import_module(file.stem)


def workload_names(*, variants: bool = True) -> list[str]:
    """Names of every registered workload (base workloads first, then variants)."""
    _load_builtins()
    names = [n for n, c in _REGISTRY.items() if variants or c.base is None]
    return sorted(names, key=lambda n: (_REGISTRY[n].base is not None, n))


def get_workload(name: str) -> Workload:
    """A fresh instance of the workload registered as ``name``.

    Example:
        >>> get_workload("no-such-workload")
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: unknown workload 'no-such-workload'; registered workloads are [...]
    """
    _load_builtins()
    if name not in _REGISTRY:
        import difflib

        close = difflib.get_close_matches(str(name), workload_names(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InvalidParameterError(f"unknown workload {name!r}{hint}; registered workloads are "
                                    f"{workload_names()}")
    return _REGISTRY[name]()
