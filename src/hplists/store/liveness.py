"""Who owns a running trial, and whether that owner is gone: the stale rule of every store backend.

A ``running`` trial records the claiming process: a per-process
:func:`run_token` (a random UUID, renewed after ``fork``; suffixed per thread,
:func:`thread_token`), its host (:func:`host_identity`: the hostname and the
PID namespace), the pid, the process's identity (:func:`proc_identity`: Linux
boot id and start time, from ``/proc``) and a heartbeat time. A backend hands
such a trial out again (*reclaims* it) when

1. it carries the claimer's own run token (the process is retrying it), or
2. it was claimed on this host, in this PID namespace, by a process that no
   longer exists (the pid is gone, a zombie, or now belongs to another
   process: the recorded identity differs, as after a reboot), or
3. it was claimed on another host, or in another PID namespace (containers
   that share a hostname but not their process table), and its heartbeat is
   older than ``heartbeat_timeout`` seconds (liveness cannot be checked
   there). The trial runner heartbeats every trial in flight from a
   background thread, so a live trial is never taken.

A trial its own run handed back (:data:`RELEASED_PID`: the run was
interrupted and said so, see ``TrialStore.release``) is taken at once, on any
host. Rules 2 and 3 and that one are :func:`stale_reason`; rule 1 is the backend's (it compares
tokens). The backends (:mod:`hplists.store.sqlite`, :mod:`hplists.store.postgres`)
record :class:`Owner` with every claim and ask :func:`stale_reason` about
every running trial they find.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import uuid
from pathlib import Path

__all__ = [
    "HOST_ENV",
    "RELEASED_PID",
    "Owner",
    "host_identity",
    "owner",
    "proc_identity",
    "process_gone",
    "run_token",
    "stale_reason",
    "thread_token",
]

HOST_ENV = "HPLISTS_HOST_ID"
# The pid recorded for a running trial that its run handed back: no process has pid 0.
RELEASED_PID = 0

_TOKEN: list[str] = []


def _reset_token() -> None:
    _TOKEN.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_token)


def run_token() -> str:
    """This process's run token: a random UUID, fixed for the life of the process.

    Example:
        >>> run_token() == run_token()
        True
    """
    if not _TOKEN:
        _TOKEN.append(uuid.uuid4().hex)
    return _TOKEN[0]


def thread_token() -> str:
    """The run token of the calling thread: the process's, suffixed in any other thread.

    A claim belongs to the thread that made it, so two threads of one process
    never train the same trial (a trial running under a live process and
    another token is not handed out).

    Example:
        >>> import threading
        >>> other = []
        >>> t = threading.Thread(target=lambda: other.append(thread_token())); t.start(); t.join()
        >>> thread_token() == run_token(), other[0].startswith(run_token() + "-t")
        (True, True)
    """
    if threading.current_thread() is threading.main_thread():
        return run_token()
    return f"{run_token()}-t{threading.get_ident()}"


def host_identity() -> str:
    """This process's host as the stale rule sees it: the hostname and its PID namespace.

    Processes on one host can check each other's liveness through ``/proc``,
    but only within one PID namespace: containers that share a hostname (host
    networking) and not their PIDs see other processes under the same pid. So
    the identity is ``"<hostname>/pid:[<namespace inode>]"``, and a trial
    claimed in another namespace is judged by its heartbeat, as one claimed on
    another machine. ``HPLISTS_HOST_ID`` overrides it (a cluster that names
    its nodes).

    Example:
        >>> host_identity().startswith(socket.gethostname())
        True
    """
    override = os.environ.get(HOST_ENV, "").strip()
    if override:
        return override
    host = socket.gethostname()
    try:
        return f"{host}/{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return host


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, identity) of ``pid`` from /proc, or None if there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = text[text.rindex(")") + 2 :].split()
    return rest[0], f"{_boot_id()}:{rest[19]}"  # state, boot id : start time


def proc_identity(pid: int) -> str | None:
    """``"<boot id>:<start time>"`` of process ``pid`` (Linux ``/proc``), or ``None`` elsewhere.

    A pid can be reused; the identity cannot (across reboots either).

    Example:
        >>> ident = proc_identity(os.getpid())
        >>> ident is None or ident == proc_identity(os.getpid())
        True
    """
    st = _proc_stat(pid) if Path("/proc/self/stat").exists() else None
    return None if st is None else st[1]


def process_gone(pid: int, identity: str | None) -> str | None:
    """Why process ``pid`` (with recorded ``identity``) is dead, or None if it may be alive.

    Example:
        >>> process_gone(os.getpid(), proc_identity(os.getpid())) is None
        True
    """
    if Path("/proc/self/stat").exists():
        st = _proc_stat(pid)
        if st is None:
            return f"process {pid} no longer exists"
        state, ident = st
        if state in ("Z", "X"):
            return f"process {pid} has exited (zombie)"
        if identity and ident != identity:
            return f"pid {pid} now belongs to another process"
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return f"process {pid} no longer exists"
    except PermissionError:
        return None
    return None


@dataclasses.dataclass(frozen=True)
class Owner:
    """Who claims or writes a trial: what a store records with it (see the module docstring)."""

    run_token: str
    host: str
    pid: int
    proc_identity: str | None


def owner(host: str | None = None) -> Owner:
    """The calling thread as an :class:`Owner` (``host`` defaults to :func:`host_identity`).

    Example:
        >>> o = owner()
        >>> o.pid == os.getpid() and o.run_token == thread_token()
        True
    """
    pid = os.getpid()
    return Owner(thread_token(), host_identity() if host is None else host, pid,
                 proc_identity(pid))


def stale_reason(host: str, pid: int, identity: str | None, heartbeat: float, *,
                 my_host: str, now: float, heartbeat_timeout: float) -> str | None:
    """Why a trial ``running`` under (``host``, ``pid``, ``identity``) may be taken, or None.

    ``my_host`` is the claimer's :func:`host_identity`; ``now`` and
    ``heartbeat`` are seconds on one clock (a backend with a server clock
    uses it for both). A trial claimed on this host and in this PID namespace
    is judged by its process (:func:`process_gone`), any other by the age of
    its heartbeat. One its run handed back (``pid`` :data:`RELEASED_PID`) may
    be taken at once.

    Example:
        >>> stale_reason("node-2", 0, None, 7000.0, my_host="node-1", now=7200.0,
        ...              heartbeat_timeout=3600.0)
        'handed back by its interrupted run'
        >>> stale_reason("node-2", 1, None, 0.0, my_host="node-1", now=7200.0,
        ...              heartbeat_timeout=3600.0)
        "claimed on host 'node-2', no heartbeat for 7200 s (> heartbeat_timeout 3600 s)"
        >>> stale_reason("node-2", 1, None, 7000.0, my_host="node-1", now=7200.0,
        ...              heartbeat_timeout=3600.0) is None
        True
    """
    if int(pid) == RELEASED_PID:
        return "handed back by its interrupted run"
    # Rows written before hosts carried their PID namespace hold the plain hostname.
    legacy = "/" not in str(host) and my_host.split("/")[0] == host
    if host == my_host or legacy:
        return process_gone(int(pid), identity)
    age = now - float(heartbeat)
    if age > heartbeat_timeout:
        return (f"claimed on host {host!r}, no heartbeat for {age:.0f} s "
                f"(> heartbeat_timeout {heartbeat_timeout:g} s)")
    return None
