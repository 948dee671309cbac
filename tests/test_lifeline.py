"""A worker ends with its parent: the kernel's parent-death signal on Linux, a watchdog
elsewhere, and at once when the parent is already gone."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.test_runner_faults import _wait_gone

#: a middle process starts a child tied to it, waits until it says it is tied, prints its
#: pid and exits
ORPHANING = """
import os, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL,
                         env={**os.environ, "GREENBENCH_PARENT_PID": str(os.getpid())})
child.stdout.readline()
print(child.pid, flush=True)
"""


def _orphaned_child(code: str) -> int:
    out = subprocess.run([sys.executable, "-c", ORPHANING, code], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    return int(out.split()[0])


TIED = """
import time
from greenbench import lifeline
{patch}
lifeline.tie_to_parent()
print("tied", flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_the_kernel_ends_a_worker_whose_parent_dies() -> None:
    child = _orphaned_child(TIED.format(patch=""))
    assert _wait_gone(child, 10), "the tied process outlived its parent"


def test_a_watchdog_ends_a_worker_whose_parent_dies_where_there_is_no_prctl() -> None:
    patch = "lifeline._parent_death_signal = lambda sig: False"
    child = _orphaned_child(TIED.format(patch=patch))
    assert _wait_gone(child, 10), "the watched process outlived its parent"


def test_a_worker_whose_parent_is_already_gone_ends_at_once() -> None:
    code = ("import time\nfrom greenbench import lifeline\n"
            "lifeline.tie_to_parent({'GREENBENCH_PARENT_PID': '999999999'})\ntime.sleep(60)")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], timeout=60)
    assert proc.returncode == -9
    assert time.monotonic() - started < 30
