"""`greenbench measure` at a terminal (a pseudo-terminal here): the command can read the
keyboard, Ctrl-Z suspends greenbench and the command as one job, and Ctrl-C stops what the
command started even when that ignores SIGINT."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.test_cli_measure import NO_SENSORS
from tests.test_runner_faults import _read_pid, _wait_gone

pty = pytest.importorskip("pty")
pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")

READS_A_LINE = "print('ready', flush=True); print('got', input(), flush=True)"
#: starts a child that ignores SIGINT (and SIGHUP, which the terminal sends when its session
#: leader exits), waits until the child has written its pid, then waits for Ctrl-C
IGNORING_CHILD = """
import os, signal, subprocess, sys, time
signal.signal(signal.SIGINT, signal.SIG_DFL)
subprocess.Popen([sys.executable, "-c", "import os, signal, sys, time; "
    "signal.signal(signal.SIGINT, signal.SIG_IGN); signal.signal(signal.SIGHUP, signal.SIG_IGN); "
    "open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(120)", sys.argv[1]])
while not (os.path.exists(sys.argv[1]) and open(sys.argv[1]).read()):
    time.sleep(0.02)
print("ready", flush=True)
time.sleep(120)
"""


class Terminal:
    """greenbench measure ARGS on the far side of a pseudo-terminal, in its foreground."""

    def __init__(self, *args: str) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: greenbench, leading a session with this terminal
            env = {**os.environ, **NO_SENSORS}
            os.execve(sys.executable, [sys.executable, "-m", "greenbench", "measure", *args],
                      env)
        self.output = bytearray()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:
                return
            if not chunk:
                return
            self.output += chunk

    def wait_for(self, text: bytes, within_s: float = 60) -> None:
        deadline = time.monotonic() + within_s
        while text not in self.output:
            assert time.monotonic() < deadline, self.output.decode(errors="replace")
            time.sleep(0.05)

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def state(self) -> str:
        with open(f"/proc/{self.pid}/stat", "rb") as f:
            stat = f.read()
        return stat[stat.rfind(b")") + 2:][:1].decode()

    def exit_code(self, within_s: float = 30) -> int:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError(f"greenbench did not exit: {self.output.decode(errors='replace')}")


def test_the_command_reads_the_keyboard() -> None:
    term = Terminal("--", sys.executable, "-c", READS_A_LINE)
    term.wait_for(b"ready")
    term.type(b"hello\n")
    term.wait_for(b"got hello")
    assert term.exit_code() == 0


def test_ctrl_z_suspends_greenbench_and_the_command_together() -> None:
    term = Terminal("--", sys.executable, "-c", READS_A_LINE)
    term.wait_for(b"ready")
    term.type(b"\x1a")  # Ctrl-Z
    deadline = time.monotonic() + 10
    while term.state() != "T":
        assert time.monotonic() < deadline, "greenbench was not suspended with its command"
        time.sleep(0.05)
    os.killpg(os.getpgid(term.pid), signal.SIGCONT)  # the shell's fg
    term.type(b"again\n")
    term.wait_for(b"got again")
    assert term.exit_code() == 0


def test_ctrl_c_at_the_terminal_stops_what_the_command_started(tmp_path: Path) -> None:
    pid_file, out = tmp_path / "child.pid", tmp_path / "m.json"
    term = Terminal("-o", str(out), "--", sys.executable, "-c", IGNORING_CHILD,
                    str(pid_file))
    term.wait_for(b"ready")
    grandchild = _read_pid(pid_file)
    try:
        term.type(b"\x03")  # Ctrl-C
        assert term.exit_code() == 130
        assert _wait_gone(grandchild, 5), "a process the command started is still running"
        assert json.loads(out.read_text())["interrupted"] is True
    finally:
        if not _wait_gone(grandchild, 0):
            os.kill(grandchild, signal.SIGKILL)
