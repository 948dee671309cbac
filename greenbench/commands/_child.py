"""The command that ``greenbench measure`` runs: in a process group of its own, handed the
terminal while it runs, and stopped as a whole.

Its own group lets greenbench stop everything the command started, including children that
ignore SIGINT. When greenbench holds the terminal, the command's group is given it (so the
command can read the keyboard, and Ctrl-C reaches it as if run directly) and greenbench takes
it back afterwards.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

from greenbench.process_group import Escalation, alive, signal_group

#: Ctrl-C first; then ask, then insist; each after the previous had this long
STOP: Escalation = ((signal.SIGINT, 5.0), (signal.SIGTERM, 3.0), (signal.SIGKILL, None))
_POLL_S = 0.05


class Child:
    """A started command, leader of its own process group."""

    def __init__(self, command: Sequence[str]) -> None:
        own_group = ({"process_group": 0} if sys.version_info >= (3, 11)
                     else {"preexec_fn": os.setpgrp})
        self.proc = subprocess.Popen(list(command), **own_group)
        self.pgid = self.proc.pid
        self._tty = _foreground_terminal()
        if self._tty is not None:
            _hand_terminal(self._tty, self.pgid)
            # had it read the terminal before it was handed over, it stopped (SIGTTIN)
            signal_group(self.pgid, signal.SIGCONT)

    def wait(self) -> int:
        """Wait for the command; its exit status as a shell gives it (128+N for signal N)."""
        if self._tty is not None:
            self._follow_stops(self._tty)
        return exit_status(self.proc.wait())

    def _follow_stops(self, tty: int) -> None:
        """Until the command exits, act as its shell would: when Ctrl-Z stops it, stop
        greenbench too (so the shell that started greenbench gets the terminal back), and
        hand it the terminal again when greenbench is resumed; when it stopped to read the
        terminal, hand it the terminal."""
        while True:
            info = os.waitid(os.P_PID, self.pgid, os.WEXITED | os.WSTOPPED | os.WNOWAIT)
            if info is None or info.si_code not in (os.CLD_STOPPED, os.CLD_TRAPPED):
                return  # it exited; Popen collects the status
            os.waitid(os.P_PID, self.pgid, os.WSTOPPED)  # this stop is seen
            if info.si_status in (signal.SIGTSTP, signal.SIGSTOP):
                _hand_terminal(tty, os.getpgrp())
                os.kill(os.getpid(), signal.SIGSTOP)  # until the shell's fg (SIGCONT)
            _hand_terminal(tty, self.pgid)
            signal_group(self.pgid, signal.SIGCONT)

    def interrupted_at_terminal(self) -> bool:
        """Whether Ctrl-C at the terminal ended it (the terminal signalled its group only)."""
        return self._tty is not None and self.proc.returncode == -signal.SIGINT

    def stop(self) -> int:
        """Stop the command's whole group, escalating; its exit status.

        A further Ctrl-C while waiting moves on to the next signal at once.
        """
        for sig, wait_s in STOP:
            if self._stopped():
                break
            signal_group(self.pgid, sig)
            deadline = None if wait_s is None else time.monotonic() + wait_s
            try:
                while not self._stopped() and (deadline is None or time.monotonic() < deadline):
                    time.sleep(_POLL_S)
            except KeyboardInterrupt:
                continue
        return exit_status(self.proc.wait())

    def close(self) -> None:
        """Take the terminal back, if it was handed over."""
        if self._tty is not None:
            _hand_terminal(self._tty, os.getpgrp())
            self._tty = None

    def _stopped(self) -> bool:
        return self.proc.poll() is not None and not alive(self.pgid)


def exit_status(code: int) -> int:
    """A Popen return code as shells report it: 128+N for a command killed by signal N."""
    return 128 - code if code < 0 else code


def _foreground_terminal() -> int | None:
    """Standard input's descriptor when it is a terminal and greenbench is in its foreground."""
    try:
        if os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp():
            return 0
    except OSError:
        pass
    return None


def _hand_terminal(fd: int, pgid: int) -> None:
    # a process group not in the foreground gets SIGTTOU for tcsetpgrp unless it ignores it
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        with contextlib.suppress(OSError):
            os.tcsetpgrp(fd, pgid)
    finally:
        signal.signal(signal.SIGTTOU, previous)
