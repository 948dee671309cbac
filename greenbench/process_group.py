"""Process groups: finding and ending the processes a worker or a measured command started.

A worker and a measured command each lead their own process group, so whatever they start
(a data loader, a shell pipeline) can be found by group id and ended with them. Counting the
members reads ``/proc`` (Linux); elsewhere only "some are left" can be said.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Sequence

#: how often a wait for a group to empty looks again
_POLL_S = 0.02

#: (signal, seconds to wait for the group to empty before the next); None waits for good
Escalation = Sequence[tuple[signal.Signals, float | None]]

#: leftover processes of a finished case: a moment to clean up, then no choice
LEFTOVERS: Escalation = ((signal.SIGTERM, 1.0), (signal.SIGKILL, 2.0))


def members(pgid: int) -> list[int] | None:
    """The live (not zombie) processes of group ``pgid``, or None where /proc is missing."""
    if not os.path.isdir("/proc/self"):
        return None
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        # pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 2 and fields[0] != b"Z" and int(fields[2]) == pgid:
            found.append(int(entry))
    return found


def alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` is still running."""
    live = members(pgid)
    if live is not None:
        return bool(live)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def end(pgid: int, escalation: Escalation = LEFTOVERS,
        done: Callable[[], bool] | None = None) -> None:
    """Signal group ``pgid`` with each signal in turn until it is empty (or ``done()``)."""
    finished = done or (lambda: not alive(pgid))
    for sig, wait_s in escalation:
        if finished():
            return
        signal_group(pgid, sig)
        deadline = None if wait_s is None else time.monotonic() + wait_s
        while not finished() and (deadline is None or time.monotonic() < deadline):
            time.sleep(_POLL_S)
