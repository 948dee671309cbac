"""A worker ends with the greenbench process that started it.

The worker leads its own session (so that Ctrl-C reaches greenbench, which then stops it), so
nothing would end it if greenbench itself were killed: it would burn CPU through its repeats
and skew the next run. On Linux the kernel kills it the moment its parent dies (a
parent-death signal); elsewhere a watchdog thread notices that it has been re-parented.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping

#: the runner's process id, so that a worker whose parent died before it started can tell
ENV_PARENT_PID = "GREENBENCH_PARENT_PID"
#: prctl(2) option: the signal this process gets when the thread that forked it ends
_PR_SET_PDEATHSIG = 1
#: how often the watchdog thread (where there is no parent-death signal) looks
_WATCH_S = 0.5


def tie_to_parent(env: Mapping[str, str] = os.environ) -> None:
    """End this process (and its process group) as soon as its parent is gone."""
    given = env.get(ENV_PARENT_PID, "")
    parent = int(given) if given.isdigit() else os.getppid()
    if not _parent_death_signal(signal.SIGKILL):
        threading.Thread(target=_watch, args=(parent,), name="greenbench-lifeline",
                         daemon=True).start()
    if os.getppid() != parent:  # the parent died before the signal was armed
        _end()


def _parent_death_signal(sig: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_WATCH_S)
    _end()


def _end() -> None:
    """Kill this process, and with it what it started when it leads its process group."""
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpid(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)
