"""Workers die with their parent: a daemon thread in each local worker process that ends the
worker when the process that dispatched its tasks is gone.

Loky workers outlive a SIGKILL of the parent (issue #14 measured over 20 minutes at about
300 MB each). ``prctl(PR_SET_PDEATHSIG)`` is not used: it fires when the parent *thread* that
started the worker ends, and loky starts workers from whichever thread resizes its pool. The
watchdog instead polls once a second: the worker is re-parented (``getppid`` changes) the
moment its parent dies, even before the parent is reaped.
"""

from __future__ import annotations

import os
import threading
import time

#: Seconds between two checks of the parent.
POLL_S = 1.0

_started_for: int | None = None


def _parent_alive(parent_pid: int, direct: bool) -> bool:
    if direct:
        return os.getppid() == parent_pid
    try:
        os.kill(parent_pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - exists, owned by someone else
        return True
    return True


def _watch(parent_pid: int, direct: bool, poll_s: float) -> None:
    while _parent_alive(parent_pid, direct):
        time.sleep(poll_s)
    os._exit(1)  # no cleanup to do: chunks are written by the parent only


def die_with_parent(parent_pid: int, poll_s: float = POLL_S) -> None:
    """Start (once per process) the thread that exits this process when ``parent_pid`` is gone.
    Does nothing in the parent itself."""
    global _started_for
    if parent_pid == os.getpid() or _started_for == parent_pid:
        return
    direct = os.getppid() == parent_pid  # else (an intermediate process) poll the pid itself
    if not _parent_alive(parent_pid, direct):
        os._exit(1)
    _started_for = parent_pid
    threading.Thread(target=_watch, args=(parent_pid, direct, poll_s), daemon=True,
                     name="riskmodel-parent-watchdog").start()
