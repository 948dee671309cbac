"""Energy benchmarks under pytest-xdist: never measured while other tests run.

Energy sensors see the whole machine (RAPL packages, GPUs, the machine-wide CPU load behind
the estimate), so a benchmark running beside other workers' tests measures them too. The user
chooses with ``--greenbench-xdist``:

- ``skip`` (default): energy benchmarks are skipped in xdist workers, with a reason, and the
  summary says how many; run them in a separate step without ``-n`` (``pytest -p no:xdist``
  or ``-n 0``). Cheapest and safe: parallel CI jobs stay parallel.
- ``serial``: energy benchmarks run in the workers, but alone: every other test holds a
  shared lock while it runs and an energy benchmark takes the lock exclusively, so while one
  is measured no other test runs in any worker (the other workers wait). A second lock file
  acts as a turnstile, so a waiting benchmark is not starved by a stream of short tests.
  POSIX only (``fcntl.flock``); elsewhere ``serial`` falls back to ``skip`` and says so.

The lock files live in the temporary folder, named after xdist's test-run id, so one
``pytest -n`` session shares them and concurrent sessions do not.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import IO, Any

import pytest

SKIP_PREFIX = "greenbench: energy benchmarks are not run in pytest-xdist workers"
SKIP_REASON = (
    f"{SKIP_PREFIX} (parallel tests would be measured with them); run them without -n, or "
    "pass --greenbench-xdist=serial to run them one at a time"
)
FIXTURE = "energy_benchmark"

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def is_controller(config: pytest.Config) -> bool:
    """True in the process that runs xdist workers (never in a worker, never without -n)."""
    return not is_worker(config) and getattr(config.option, "dist", "no") != "no"


def serial_available() -> bool:
    return fcntl is not None


def is_energy_item(item: pytest.Item) -> bool:
    return FIXTURE in getattr(item, "fixturenames", ())


class SerialLock:
    """A readers-writer lock across the workers of one xdist session (see the module doc)."""

    def __init__(self, run_id: str, folder: Path | None = None) -> None:
        base = Path(folder or tempfile.gettempdir())
        self.path = base / f"greenbench-xdist-{run_id}.lock"
        self.turnstile_path = base / f"greenbench-xdist-{run_id}.turnstile"
        self._main: IO[bytes] | None = None
        self._turnstile: IO[bytes] | None = None

    def shared(self) -> None:
        """Wait for any benchmark that is running or waiting, then hold the lock shared."""
        turnstile = self._open_turnstile()
        fcntl.flock(turnstile, fcntl.LOCK_EX)  # blocks while a benchmark waits or runs
        fcntl.flock(turnstile, fcntl.LOCK_UN)
        fcntl.flock(self._open_main(), fcntl.LOCK_SH)

    def exclusive(self) -> None:
        """Hold the lock alone: wait until every running test has finished."""
        turnstile = self._open_turnstile()
        fcntl.flock(turnstile, fcntl.LOCK_EX)  # new tests now queue behind us
        try:
            fcntl.flock(self._open_main(), fcntl.LOCK_EX)
        finally:
            fcntl.flock(turnstile, fcntl.LOCK_UN)

    def release(self) -> None:
        if self._main is not None:
            fcntl.flock(self._main, fcntl.LOCK_UN)

    def close(self) -> None:
        for f in (self._main, self._turnstile):
            if f is not None:
                f.close()
        self._main = self._turnstile = None

    def _open_main(self) -> IO[bytes]:
        if self._main is None:
            self._main = open(self.path, "a+b")  # noqa: SIM115 (held open across tests)
        return self._main

    def _open_turnstile(self) -> IO[bytes]:
        if self._turnstile is None:
            self._turnstile = open(self.turnstile_path, "a+b")  # noqa: SIM115
        return self._turnstile


class SerialWorker:
    """Registered in each xdist worker under ``--greenbench-xdist=serial``."""

    def __init__(self, config: pytest.Config) -> None:
        workerinput: dict[str, Any] = config.workerinput  # type: ignore[attr-defined]
        self.lock = SerialLock(str(workerinput.get("testrunuid", os.getppid())))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, Any, Any]:
        # the whole protocol (setup, call, teardown): fixtures may do work worth measuring
        if is_energy_item(item):
            self.lock.exclusive()
        else:
            self.lock.shared()
        try:
            return (yield)
        finally:
            self.lock.release()

    def pytest_unconfigure(self) -> None:
        self.lock.close()
