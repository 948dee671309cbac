"""The process that writes a run, stored with it, so that a run whose process is gone
(killed with SIGKILL, out of memory, its machine rebooted) reads ``died``, not ``running``
for ever.

A process is named by its pid *and* its start time, so a pid that a later process took over
is not mistaken for the run's. Only a run begun on this host can be judged: another host's
pids mean nothing here, and such a run keeps the status it has.
"""

from __future__ import annotations

import socket

DIED = "died"
#: the start times psutil gives one process agree to well within this (they are derived
#: from the boot time and the process's start tick)
START_TOLERANCE_S = 1.0


def this_process() -> tuple[int, float]:
    """(pid, start time as a Unix time) of the calling process."""
    import psutil

    me = psutil.Process()
    return me.pid, me.create_time()


def is_gone(hostname: str | None, pid: int | None, started: float | None) -> bool:
    """True only when the process (``pid`` started at ``started``) ran on this host and runs
    no longer: exited, a zombie, or its pid now another process's."""
    if pid is None or started is None or hostname != socket.gethostname():
        return False
    import psutil

    try:
        process = psutil.Process(pid)
        if abs(process.create_time() - started) > START_TOLERANCE_S:
            return True
        return bool(process.status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:  # ZombieProcess included
        return True
    except psutil.AccessDenied:  # someone else's live process: not known to be gone
        return False


def shown_status(status: str, hostname: str | None, pid: int | None,
                 started: float | None) -> str:
    """The status to show: ``died`` for a ``running`` run whose process is gone."""
    return DIED if status == "running" and is_gone(hostname, pid, started) else status
