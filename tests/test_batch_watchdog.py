"""Workers die with their parent: the watchdog ends a process once the pid it watches is gone
(SIGKILL of the parent), and does nothing in the parent itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from riskmodel.batch import watchdog

CHILD = (
    "import sys, time; from riskmodel.batch.watchdog import die_with_parent; "
    "die_with_parent(int(sys.argv[1]), poll_s=0.05); time.sleep(60)"
)
PARENT = (
    "import os, subprocess, sys, time; "
    "p = subprocess.Popen([sys.executable, '-c', sys.argv[1], str(os.getpid())]); "
    "print(p.pid, flush=True); time.sleep(60)"
)


def _gone(pid: int) -> bool:
    """True when the process no longer exists or is a zombie (dead, not yet reaped)."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return True


def test_worker_exits_when_its_parent_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", PARENT, CHILD], stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    child = int(parent.stdout.readline())
    try:
        time.sleep(1.0)  # the child has imported and started its watchdog
        assert not _gone(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while not _gone(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(child)
    finally:
        if not _gone(child):
            os.kill(child, signal.SIGKILL)


def test_watchdog_is_a_no_op_in_the_parent():
    watchdog.die_with_parent(os.getpid())
    assert watchdog._started_for is None
    assert watchdog._parent_alive(os.getppid(), direct=True)
    assert watchdog._parent_alive(os.getpid(), direct=False)
