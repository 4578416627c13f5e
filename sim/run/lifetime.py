"""Process lifetime: a run stops cleanly on SIGTERM and SIGHUP as on Ctrl-C, and the
processes that write clips for it die with it (or at least write nothing more).

A pool worker asks the kernel for SIGKILL when its parent dies (``PR_SET_PDEATHSIG``
on Linux) and also watches its parent's pid from a thread, in case the parent died
before the request took effect or the platform has no such request. Any clip writer
checks ``orphaned()`` before it renames a finished clip into the dataset.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import signal
import socket
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # linux/prctl.h
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Stopped(KeyboardInterrupt):
    """The run was asked to stop by a signal (SIGTERM, SIGHUP); handled like Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Orphaned(RuntimeError):
    """The process that owns this clip is gone: the clip is not written."""


def _stop(signum: int, frame) -> None:
    for sig in STOP_SIGNALS:  # a second signal must not interrupt the clean-up
        signal.signal(sig, signal.SIG_IGN)
    raise Stopped(signum)


def stop_on_signals() -> None:
    """Raise ``Stopped`` in the main thread on SIGTERM or SIGHUP (from ``timeout``,
    Slurm, Kubernetes, a closed terminal)."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, _stop)


def exit_code(exc: KeyboardInterrupt) -> int:
    """128 + the signal number: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP."""
    return 128 + (exc.signum if isinstance(exc, Stopped) else signal.SIGINT)


_OWNER: dict = {}


def die_with_parent(parent_pid: int, poll_s: float = 1.0) -> None:
    """Make this process end when ``parent_pid`` (its parent) does: the kernel's
    parent-death signal where there is one, and a watchdog thread that exits when the
    parent pid changes (the process was re-parented)."""
    _OWNER.update(parent=parent_pid)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before the request was made
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def run_child(parent_pid: int, module: str, function: str, *args) -> None:
    """A child process's entry point: tie its life to ``parent_pid`` first, then import
    ``module`` and run ``function(*args)``. This module imports only the standard
    library, so the tie holds from the child's first moment, before the seconds its
    imports take."""
    die_with_parent(parent_pid)
    getattr(importlib.import_module(module), function)(*args)


def set_owner(host: str, pid: int) -> None:
    """Record the run's main process (for Ray tasks, whose parent is a Ray worker)."""
    _OWNER.update(host=host, pid=pid)


def orphaned() -> bool:
    """Whether the run this process writes for is gone: its parent changed (a pool
    worker) or its owner process on this host no longer exists (a Ray task)."""
    parent = _OWNER.get("parent")
    if parent is not None and os.getppid() != parent:
        return True
    pid = _OWNER.get("pid")
    if pid is not None and _OWNER.get("host") == socket.gethostname():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False
