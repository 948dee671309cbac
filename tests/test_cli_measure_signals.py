"""`greenbench measure` and signals: the command's whole process group is stopped, and a
command killed by a signal exits as a shell reports it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli_measure import GB, NO_SENSORS, gb
from tests.test_runner_faults import _read_pid, _running, _wait_gone

#: a command that starts a child ignoring SIGINT (as a data loader or a daemon may), which
#: writes its pid once it ignores it; then the command sleeps
IGNORING_CHILD = """
import signal, subprocess, sys, time
signal.signal(signal.SIGINT, signal.SIG_DFL)
subprocess.Popen([sys.executable, "-c", "import os, signal, sys, time; "
    "signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(120)", sys.argv[1]])
time.sleep(120)
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stopping_measure_stops_what_the_command_started(tmp_path: Path, sig: int) -> None:
    pid_file, out = tmp_path / "child.pid", tmp_path / "m.json"
    proc = subprocess.Popen(
        [*GB, "measure", "-o", str(out), "--", sys.executable, "-c", IGNORING_CHILD,
         str(pid_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **NO_SENSORS}, start_new_session=True,
    )
    try:
        grandchild = _read_pid(pid_file)
        os.kill(proc.pid, sig)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == (130 if sig == signal.SIGINT else 128 + sig), err
        assert "Traceback" not in err
        assert _wait_gone(grandchild, 5), "a process the command started is still running"
        doc = json.loads(out.read_text())
        assert doc["interrupted"] is True
    finally:
        if pid_file.exists() and _running(int(pid_file.read_text())):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
        proc.kill()
        proc.communicate()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSEGV])
def test_a_command_killed_by_signal_n_exits_128_plus_n(tmp_path: Path, sig: int) -> None:
    out = tmp_path / "m.json"
    r = gb("measure", "-o", str(out), "--", sys.executable, "-c",
           f"import os; os.kill(os.getpid(), {int(sig)})")
    assert r.returncode == 128 + sig, r.stderr
    assert f"exit code {128 + sig}" in r.stdout
    assert json.loads(out.read_text())["exit_code"] == 128 + sig

