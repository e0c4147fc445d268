"""Trial stores by URL: which backend a URL (or a plain path) names, and opening it.

A store is named by a SQLAlchemy-style URL or by a plain path:

* ``study.db``, ``stores/study.db``: a plain path is an SQLite file
  (:class:`~hplists.store.sqlite.SQLiteStore`), as it always was;
* ``sqlite:///relative/path.db`` and ``sqlite:////absolute/path.db`` (three
  slashes, then the path: an absolute one starts with a fourth);
* ``postgresql://user:password@host:5432/dbname`` (also ``postgres://``; any
  libpq parameter may follow as ``?key=value``):
  :class:`~hplists.store.postgres.PostgresStore`.

A scheme may carry a driver, as in SQLAlchemy (``postgresql+psycopg://``,
``sqlite+pysqlite://``); only the driver the backend uses is accepted.

A backend is a :class:`~hplists.store.base.TrialStore` subclass with the two
class methods :meth:`~hplists.store.base.TrialStore.open_url` and
:meth:`~hplists.store.base.TrialStore.url_exists`, registered under its scheme
with :func:`register_backend` as ``"module:Class"``: the module is imported
only when a URL of that scheme is opened, so a backend's driver is needed only
by those who use it.

Example:
    >>> backend_for("stores/study.db").scheme, backend_for("sqlite:////tmp/s.db").scheme
    ('sqlite', 'sqlite')
    >>> backend_for("postgres://me@db.example:5432/trials").scheme
    'postgresql'
    >>> backend_for("mysql://me@db/trials")
    Traceback (most recent call last):
    ...
    hplists.exceptions.InvalidParameterError: unknown trial store URL scheme 'mysql' in 'mysql://me@db/trials'; the schemes are 'sqlite' (an SQLite file; a plain path means this) and 'postgresql' (a PostgreSQL database; also 'postgres')
    >>> mask_url("postgresql://me:secret@db:5432/trials")
    'postgresql://me:***@db:5432/trials'
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import re
import urllib.parse
from typing import TYPE_CHECKING

from hplists.exceptions import InvalidParameterError

if TYPE_CHECKING:
    from hplists.store.base import TrialStore

__all__ = ["Backend", "backend_for", "backends", "mask_url", "open_store", "register_backend",
           "store_exists"]

# A URL starts with a scheme and "://" (RFC 3986 scheme characters); anything else is a path.
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://")


@dataclasses.dataclass(frozen=True)
class Backend:
    """A registered store backend.

    Attributes:
        scheme: the URL scheme that names it (``"postgresql"``).
        target: ``"module:Class"`` of its :class:`~hplists.store.base.TrialStore` subclass.
        description: a few words for error messages.
        aliases: other schemes that name it (``"postgres"``).
        drivers: the ``+driver`` suffixes of the scheme it accepts (``"psycopg"``).
    """

    scheme: str
    target: str
    description: str
    aliases: tuple[str, ...] = ()
    drivers: tuple[str, ...] = ()

    def load(self) -> type[TrialStore]:
        """The backend's class (its module is imported here, on first use)."""
        module, _, name = self.target.partition(":")
        cls: type[TrialStore] = getattr(importlib.import_module(module), name)
        return cls


_BACKENDS: dict[str, Backend] = {}


def register_backend(scheme: str, target: str, *, description: str,
                     aliases: tuple[str, ...] = (), drivers: tuple[str, ...] = ()) -> Backend:
    """Registers a store backend under ``scheme`` (and ``aliases``); returns it.

    ``target`` is ``"module:Class"``; the class is a
    :class:`~hplists.store.base.TrialStore` with the class methods ``open_url``
    and ``url_exists``. Registering a scheme again replaces its backend.
    """
    names = (scheme, *aliases)
    for name in names:
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9.\-]*", name):
            raise InvalidParameterError(f"a store URL scheme is lower-case letters, digits, "
                                        f"'.' and '-', without '+'; got {name!r}")
    if not isinstance(target, str) or not re.fullmatch(r"[\w.]+:\w+", target):
        raise InvalidParameterError(f"target must be 'module:Class', got {target!r}")
    backend = Backend(scheme, target, description, tuple(aliases), tuple(drivers))
    for name in names:
        _BACKENDS[name] = backend
    return backend


def backends() -> list[Backend]:
    """The registered backends, each once, in registration order."""
    return list(dict.fromkeys(_BACKENDS.values()))


def _allowed() -> str:
    parts = []
    for b in backends():
        also = f"; also {', '.join(repr(a) for a in b.aliases)}" if b.aliases else ""
        parts.append(f"{b.scheme!r} ({b.description}{also})")
    return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]


def mask_url(url: str) -> str:
    """``url`` with its password (in the user part or a ``password=`` parameter) as ``***``.

    What error messages and :meth:`~hplists.store.base.TrialStore.location`
    show; a plain path comes back unchanged.
    """
    if not _URL.match(url):
        return url
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url.split("://", 1)[0] + "://***"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{hostport}"
    query = re.sub(r"(^|&)(password=)[^&]*", r"\1\2***", parts.query)
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def backend_for(url_or_path: str | os.PathLike[str]) -> Backend:
    """The backend that a URL's scheme names; SQLite's for a plain path.

    An unknown scheme (or driver) is an
    :class:`~hplists.exceptions.InvalidParameterError` that names it and the
    schemes there are.
    """
    if isinstance(url_or_path, os.PathLike):
        return _BACKENDS["sqlite"]
    if not isinstance(url_or_path, str):
        raise InvalidParameterError(f"a trial store is a path or a URL (str or os.PathLike), "
                                    f"got {type(url_or_path).__name__}")
    m = _URL.match(url_or_path)
    if not m:
        return _BACKENDS["sqlite"]
    scheme = m["scheme"].lower()
    base, plus, driver = scheme.partition("+")
    backend = _BACKENDS.get(base)
    if backend is None:
        raise InvalidParameterError(f"unknown trial store URL scheme {scheme!r} in "
                                    f"{mask_url(url_or_path)!r}; the schemes are {_allowed()}")
    if plus and driver not in backend.drivers:
        known = ", ".join(repr(f"{base}+{d}") for d in backend.drivers) or "none"
        raise InvalidParameterError(f"trial store URL {mask_url(url_or_path)!r} names driver "
                                    f"{driver!r}; the {backend.scheme} store uses {known} "
                                    f"(or plain {base!r})")
    return backend


def open_store(url_or_path: str | os.PathLike[str], *, create: bool = True,
               timeout: float = 60.0, heartbeat_timeout: float = 3600.0) -> TrialStore:
    """Opens (and, if ``create``, creates) the trial store that ``url_or_path`` names.

    See the module docstring for the URLs; the arguments are those of
    :class:`~hplists.store.sqlite.SQLiteStore` (``timeout``: seconds a write
    waits for another writer's lock; ``heartbeat_timeout``: seconds without a
    heartbeat after which a trial claimed on another host is stale).
    """
    backend = backend_for(url_or_path)
    return backend.load().open_url(url_or_path, create=create, timeout=timeout,
                                   heartbeat_timeout=heartbeat_timeout)


def store_exists(url_or_path: str | os.PathLike[str]) -> bool:
    """Whether ``url_or_path`` names a store that is there (a file; a database with the tables).

    For SQLite, whether the file exists (what ``Path(path).is_file()`` said);
    for a server, whether the database holds a store's tables. A server that
    cannot be reached is the :class:`~hplists.exceptions.DataError` that
    opening it would be, not ``False``: a store that is down is not absent.

    Example:
        >>> import tempfile, os
        >>> store_exists(os.path.join(tempfile.mkdtemp(), "none.db"))
        False
    """
    return backend_for(url_or_path).load().url_exists(url_or_path)


register_backend("sqlite", "hplists.store.sqlite:SQLiteStore", drivers=("pysqlite",),
                 description="an SQLite file; a plain path means this")
register_backend("postgresql", "hplists.store.postgres:PostgresStore", aliases=("postgres",),
                 drivers=("psycopg",), description="a PostgreSQL database")
