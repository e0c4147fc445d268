"""Reading the files users name, with errors that name the file.

A missing file, a directory, bytes that are not UTF-8, JSON or TOML that does
not parse, or JSON nested too deeply to read are an
:class:`~hplists.exceptions.InvalidParameterError` whose message starts with
what the file is and its path, never a bare ``OSError`` or decoder message.

Example:
    >>> try:
    ...     read_text("no/such/file.json", "search space file")
    ... except InvalidParameterError as e:
    ...     print(e)
    search space file 'no/such/file.json' does not exist
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from hplists.exceptions import InvalidParameterError

__all__ = ["atomic_open", "atomic_write", "load_json", "parse_json", "parse_toml",
           "prepare_output", "read_text"]

# The process's umask, read once (os.umask can only be read by setting it).
_UMASK = os.umask(0o22)
os.umask(_UMASK)


def read_text(path: str | os.PathLike[str], what: str = "file") -> str:
    """The file's text (UTF-8); any reason it cannot be read is an InvalidParameterError."""
    name = str(path)
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InvalidParameterError(f"{what} {name!r} does not exist") from None
    except IsADirectoryError:
        raise InvalidParameterError(f"{what} {name!r} is a directory, not a file") from None
    except OSError as e:
        raise InvalidParameterError(f"{what} {name!r} cannot be read: "
                                    f"{e.strerror or type(e).__name__}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidParameterError(f"{what} {name!r} is not UTF-8 text (byte {e.start}: "
                                    f"{e.reason})") from None


def _parse(loads: Any, text: str, source: str, kind: str) -> Any:
    try:
        return loads(text)
    except RecursionError:
        raise InvalidParameterError(f"{source} is nested too deeply to read") from None
    except ValueError as e:  # decode errors, and e.g. an integer of more than 4300 digits
        raise InvalidParameterError(f"{source} is not valid {kind}: {e}") from None


def parse_json(text: str, source: str) -> Any:
    """``text`` parsed as JSON; ``source`` (e.g. ``"list file 'x.json'"``) names it in errors."""
    return _parse(json.loads, text, source, "json")


def parse_toml(text: str, source: str) -> Any:
    """``text`` parsed as TOML; ``source`` names it in errors."""
    return _parse(tomllib.loads, text, source, "toml")


def load_json(path: str | os.PathLike[str], what: str = "file") -> Any:
    """The JSON document in ``path``; every failure names ``what`` and the path."""
    return parse_json(read_text(path, what), f"{what} {str(path)!r}")


def prepare_output(path: str | os.PathLike[str], *, force: bool = True,
                   what: str = "output file") -> Path:
    """Checks that ``path`` can be written as a file and creates its parent directories.

    A directory, or (unless ``force``) an existing file, is an
    InvalidParameterError, raised before any work is done for the output.

    Example:
        >>> import tempfile, os
        >>> d = tempfile.mkdtemp()
        >>> prepare_output(os.path.join(d, "new", "dir", "x.csv")).parent.is_dir()
        True
        >>> prepare_output(d)
        Traceback (most recent call last):
        ...
        hplists.exceptions.InvalidParameterError: output file '...' is a directory; give a file name
    """
    p = Path(path)
    name = str(path)
    if p.is_dir():
        raise InvalidParameterError(f"{what} {name!r} is a directory; give a file name")
    if p.exists() and not force:
        raise InvalidParameterError(f"{what} {name!r} exists; pass --force to overwrite it")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InvalidParameterError(f"cannot create the directory of {what} {name!r}: "
                                    f"{e.strerror or type(e).__name__}") from None
    return p


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """A file that replaces ``path`` only once it is completely written: the one way hplists writes.

    The data goes to a temporary file in ``path``'s directory (so the final
    rename is atomic on the same file system), is flushed and ``fsync``-ed,
    takes the permissions a plain ``open`` would give, and is renamed over
    ``path``. A crash or an exception at any moment leaves either the old file
    or the new one, never a half-written one, and no temporary file behind.
    Two writers never share a temporary name.

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
        >>> with atomic_open(target) as f:
        ...     _ = f.write("hello")
        >>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
        ('hello', ['out.txt'])
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, newline="" if "b" not in mode else None) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; plain open() would not
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Writes ``data`` (text as UTF-8) to ``path`` atomically (:func:`atomic_open`).

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.json"
        >>> atomic_write(target, "{}"); target.read_text()
        '{}'
    """
    if isinstance(data, str):
        data = data.encode()
    with atomic_open(path, "wb") as f:
        f.write(data)
