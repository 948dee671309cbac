"""Whose CPU time an estimate charges: the measured process tree, one thread, or the machine.

An estimate of CPU power from utilisation needs a utilisation. The machine-wide one
(``psutil.cpu_times()``) charges whatever else runs on the machine: on a shared CI runner the
same function read 10.6 W in one session and 16.8 W in the next. The measured code's own CPU
time does not depend on the neighbours, so it is the default (:data:`PROCESS`):

- ``process``: user + system seconds of a root process (the worker, the pytest process, or
  greenbench itself for ``measure``) and every living descendant, each with the time of the
  children it has already waited for, less the CPU time greenbench spent reading them (listing
  a process tree costs milliseconds at every window edge; charged, it would add a few per cent
  to short windows and make nested windows disagree with their parts). A child that exits is
  waited for by its parent, so its time moves into the parent's ``children_*`` fields and is
  still counted once. A daemon that detaches (re-parented to init) leaves the tree: its later
  work is not charged.
- ``thread``: user + system seconds of one thread (the one that runs a benchmark), so that the
  meter's own sampling thread and other threads in the process are not charged.
- ``machine``: busy seconds of all logical CPUs (total - idle - iowait), CodeCarbon's choice;
  right on a dedicated machine, wrong on a shared one.

Every reader returns a :class:`CpuTimes`: busy CPU-seconds and the CPU-seconds available
(logical CPUs x wall seconds, or the kernel's own total for ``machine``), both cumulative, so
that an interval's load is the ratio of their differences.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import psutil

from greenbench.sensors.base import SensorReadError

Scope = Literal["process", "thread", "machine"]
SCOPES: tuple[Scope, ...] = ("process", "thread", "machine")
PROCESS: Scope = "process"
#: how often the sampling thread looks for new processes in the tree, seconds; window edges
#: always look
RESCAN_S = 1.0


@dataclass(frozen=True)
class CpuTimes:
    """Cumulative CPU-seconds: ``busy`` spent by whoever is charged, ``available`` in all."""

    busy_s: float
    available_s: float


def machine_reader() -> Callable[[bool], CpuTimes]:
    def read(_edge: bool) -> CpuTimes:
        t = _call(psutil.cpu_times)
        # Linux already counts guest time in user time (and guest_nice in nice)
        total = float(sum(t)) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)
        waiting = t.idle + getattr(t, "iowait", 0.0)
        return CpuTimes(total - waiting, total)

    return read


class ProcessTreeReader:
    """CPU time of ``pid`` and its descendants; ``clock`` gives wall seconds for availability."""

    def __init__(self, pid: int | None = None, logical_cpus: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.pid = os.getpid() if pid is None else pid
        self.logical_cpus = logical_cpus or psutil.cpu_count() or 1
        self._clock = clock
        self._root: psutil.Process = _call(psutil.Process, self.pid)
        self._members: dict[int, psutil.Process] = {}
        self._scanned_at = -float("inf")
        self._t0 = clock()
        # time the tree had before the estimate began is never charged; keeping a floor also
        # makes the reading monotonic when a member leaves the tree with its time
        self._last_busy = 0.0
        #: CPU time this reader has spent reading (listing the tree costs milliseconds at a
        #: window's edge): the meter's own work, never charged to the measured code
        self.own_s = 0.0
        self._base = self._busy(edge=True)

    def __call__(self, edge: bool) -> CpuTimes:
        started = time.thread_time()
        raw = self._busy(edge)
        self.own_s += time.thread_time() - started
        busy = max(self._last_busy, raw - self._base - self.own_s)
        self._last_busy = busy
        return CpuTimes(busy, (self._clock() - self._t0) * self.logical_cpus)

    def _busy(self, edge: bool) -> float:
        now = time.monotonic()
        if edge or now - self._scanned_at >= RESCAN_S:
            try:
                self._members = self._descendants()
            except psutil.NoSuchProcess as e:
                raise SensorReadError(f"measured process {self.pid} is gone") from e
            except (OSError, psutil.Error) as e:
                raise SensorReadError(f"cannot list the processes of {self.pid}: {e}") from e
            self._scanned_at = now
        total = _own_and_waited(self._root, required=True)
        for member in self._members.values():
            total += _own_and_waited(member, required=False)
        return total

    def _descendants(self) -> dict[int, psutil.Process]:
        """The root's living descendants by pid.

        From Linux's ``/proc/PID/task/TID/children``: a few small files for the tree alone,
        0.02-0.07 ms for a worker with torch's threads, where psutil's ``children()`` reads
        every process on the machine (1 ms with 65 processes; a server with thousands pays
        that many times over, at every window edge, inside the window's wall time). Where
        the kernel has no such files, psutil's scan (:func:`descendant_pids`). A pid seen
        before keeps its process object unless the pid was reused.
        """
        members = {}
        for pid in descendant_pids(self.pid):
            known = self._members.get(pid)
            if known is not None and known.is_running():
                members[pid] = known
                continue
            try:
                members[pid] = psutil.Process(pid)
            except psutil.NoSuchProcess:
                continue  # exited since the listing: its parent will have its time
        return members


class ThreadReader:
    """CPU time of one thread of this process (by native id)."""

    def __init__(self, native_id: int, logical_cpus: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.native_id = native_id
        self.logical_cpus = logical_cpus or psutil.cpu_count() or 1
        self._clock = clock
        self._process = psutil.Process()
        self._t0 = clock()
        self._base = self._thread_s()

    def __call__(self, _edge: bool) -> CpuTimes:
        busy = self._thread_s() - self._base
        return CpuTimes(busy, (self._clock() - self._t0) * self.logical_cpus)

    def _thread_s(self) -> float:
        for t in _call(self._process.threads):
            if t.id == self.native_id:
                return float(t.user_time + t.system_time)
        raise SensorReadError(f"thread {self.native_id} has ended")


def descendant_pids(root: int) -> list[int]:
    """The pids of ``root``'s living descendants: from the kernel's children files where it
    has them (:func:`tree_pids`), else from psutil's scan of every process."""
    if _KERNEL_LISTS_CHILDREN:
        return tree_pids(root)
    return [p.pid for p in psutil.Process(root).children(recursive=True)]


def tree_pids(root: int) -> list[int]:
    """The pids of ``root``'s descendants, from ``/proc/PID/task/TID/children`` (Linux 3.5
    and later, where the kernel has CONFIG_PROC_CHILDREN, as distribution kernels do)."""
    found: list[int] = []
    stack = [root]
    while stack:
        pid = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except FileNotFoundError:
            if pid == root:
                raise psutil.NoSuchProcess(root) from None
            continue  # exited since its parent's listing
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    children = [int(c) for c in f.read().split()]
            except FileNotFoundError:
                continue  # the thread ended
            found.extend(children)
            stack.extend(children)
    return found


_KERNEL_LISTS_CHILDREN = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


def describe(scope: Scope) -> str:
    return {
        "process": "CPU time of the measured process tree (user + system, children included)",
        "thread": "CPU time of the measuring thread (user + system)",
        "machine": "machine-wide CPU busy time (total - idle - iowait), other work included",
    }[scope]


def _own_and_waited(p: psutil.Process, required: bool) -> float:
    try:
        t = p.cpu_times()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        if required:
            raise SensorReadError(f"measured process {p.pid} is gone") from None
        return 0.0  # exited: its parent will have its time once it waits for it
    except (OSError, psutil.Error) as e:
        raise SensorReadError(f"cannot read the CPU time of process {p.pid}: {e}") from e
    return float(t.user + t.system + getattr(t, "children_user", 0.0)
                 + getattr(t, "children_system", 0.0))


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except (OSError, psutil.Error) as e:
        raise SensorReadError(f"cannot read CPU times: {e}") from e


class LoadWitness:
    """Busy CPU-seconds of the machine and of the measured process tree, read at window
    edges, so that a window measured by a machine-wide sensor (RAPL) can say when other
    processes were busy during it: their work is in the reading too."""

    def __init__(self, machine: Callable[[bool], CpuTimes] | None = None,
                 tree: Callable[[bool], CpuTimes] | None = None) -> None:
        self._machine = machine or machine_reader()
        self._tree = tree or ProcessTreeReader()

    def read(self) -> tuple[CpuTimes, CpuTimes]:
        return self._machine(True), self._tree(True)


#: other processes' share of the machine's CPU time above which a sensor-measured window is
#: flagged as carrying foreign load
FOREIGN_SHARE = 0.10


def foreign_load_warning(start: tuple[CpuTimes, CpuTimes], end: tuple[CpuTimes, CpuTimes]
                         ) -> str | None:
    """A warning when processes outside the measured tree used more than FOREIGN_SHARE of
    the machine's CPU time between two witness readings, else None."""
    machine_busy = end[0].busy_s - start[0].busy_s
    available = end[0].available_s - start[0].available_s
    tree_busy = end[1].busy_s - start[1].busy_s
    if available <= 0:
        return None
    foreign = machine_busy - tree_busy
    if foreign <= FOREIGN_SHARE * available:
        return None
    return (f"foreign load: other processes used {foreign / available:.0%} of the machine's "
            f"CPU time (the measured processes {max(tree_busy, 0) / available:.0%}); a "
            "machine-wide sensor counts their energy too")
