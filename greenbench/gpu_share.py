"""Shared GPUs: who else used a measured GPU during a window, and this case's share of it.

NVML measures a whole GPU, so when other processes run on the GPU a case is measured on, their
energy is in the case's figure. For each repeat the protocol asks NVML which compute processes
the GPU has (``nvmlDeviceGetComputeRunningProcesses``) and how much of its SMs each used during
the window (``nvmlDeviceGetProcessUtilization``; where the driver keeps no per-process samples,
the lifetime utilisation from NVML accounting, ``nvmlDeviceGetAccountingStats``, when
``nvidia-smi -am 1`` turned it on). When a process outside the measured tree used the GPU:

- the repeat says so: which pids, their names where visible, and their share of the SM use;
- it offers this case's share by utilisation, ``gpu:N:share``: the whole GPU's energy times the
  measured tree's share of the SM use. Its method is ``attributed`` (not a measurement: SM
  utilisation is time with a kernel running, not power), it is part of ``gpu:N`` and never
  added to a total; the measured total stays the whole GPU's.

In a container NVML may list host pids, which the measured tree cannot recognise as its own;
then no share is attributed and the repeat says why.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psutil

from greenbench.clock import SYSTEM, Clock
from greenbench.measurement import ATTRIBUTED, DomainEnergy, Measurement
from greenbench.sensors.base import SensorReadError
from greenbench.sensors.cpu_time import descendant_pids

WINDOW_BASIS = "SM utilisation during the repeat"
LIFETIME_BASIS = "GPU utilisation over each process's life (NVML accounting)"
NOT_OURS = ("the measured processes are not among the GPU's pids (in a container NVML may "
            "list host pids): no share attributed")


@dataclass
class GpuUse:
    """Who used one GPU during one window, from NVML."""

    domain: str
    #: pid -> its share (0-1) of the SM use, None where unknown; processes outside the tree
    others: dict[int, float | None]
    #: the measured tree's share (0-1); None where it cannot be told
    ours: float | None
    basis: str = ""
    names: dict[int, str] = field(default_factory=dict)
    note: str = ""

    def describe(self) -> str:
        shown = ", ".join(f"pid {pid} ({self.names.get(pid, '?')}"
                          + (f", {share:.0%} of SM use" if share is not None else "") + ")"
                          for pid, share in sorted(self.others.items()))
        text = (f"{self.domain} is shared: other processes used it: {shown}; the measured "
                "energy is the whole GPU's")
        if self.ours is not None:
            text += (f"; this case's share by {self.basis}, {self.ours:.0%}, is "
                     f"{self.domain}:share (attributed, not measured)")
        elif self.note:
            text += f"; {self.note}"
        return text


def own_pids() -> set[int]:
    """This process and its descendants."""
    me = os.getpid()
    try:
        children = descendant_pids(me)
    except (OSError, psutil.Error):
        children = []
    return {me, *children}


class SeenPids:
    """Every pid of this process's tree seen while a measured command runs, for
    ``greenbench measure``: by the window's end the command's processes have exited, so
    :func:`own_pids` alone would count their GPU use as someone else's. ``add`` takes the
    command's own pid as it starts; its descendants are picked up every ``every_s`` seconds.
    """

    def __init__(self, every_s: float = 0.2) -> None:
        self.every_s = every_s
        self.seen: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="greenbench-tree-pids",
                                        daemon=True)

    def __enter__(self) -> SeenPids:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def add(self, pid: int) -> None:
        with self._lock:
            self.seen.add(pid)

    def __call__(self) -> set[int]:
        with self._lock:
            return self.seen | own_pids()

    def _poll(self) -> None:
        while not self._stop.wait(self.every_s):
            now = own_pids()
            with self._lock:
                self.seen |= now


class ShareWatch:
    """Asks one GPU sensor, around a window, who else used its GPU."""

    def __init__(self, sensor: Any, own: Callable[[], set[int]] = own_pids,
                 clock: Clock = SYSTEM) -> None:
        self.sensor, self.own, self.clock = sensor, own, clock

    def begin(self) -> int:
        """The window's start, in NVML's time stamps (Unix microseconds)."""
        return int(self.clock.wall() * 1e6)

    def end(self, since_us: int, m: Measurement) -> GpuUse | None:
        """Record in ``m`` who else used the GPU since ``since_us``; None when nobody did, or
        when ``m`` does not hold the GPU under its own name (a distributed job's window names
        each host's domains ``host/domain``)."""
        domain = self.sensor.domain
        if domain not in {d.domain for d in m.domains}:
            return None
        try:
            running = self.sensor.processes()
            use = self.sensor.sm_use(since_us)
        except SensorReadError as exc:
            m.warnings.append(f"{domain}: cannot tell whether other processes share it ({exc})")
            return None
        basis = WINDOW_BASIS
        if not use:  # no per-process samples: lifetime use where accounting is on
            lifetime = self.sensor.lifetime_use(sorted(running))
            use, basis = (lifetime, LIFETIME_BASIS) if lifetime else ({}, "")
        ours_pids = self.own()
        pids = set(running) | set(use or {})
        if not pids - ours_pids:
            return None
        total = sum(use.values()) if use else 0.0
        share = {pid: (use.get(pid, 0.0) / total if total > 0 else None) for pid in pids}
        found = GpuUse(domain, {p: share[p] for p in pids - ours_pids}, None, basis,
                       _names(pids - ours_pids))
        if not pids & ours_pids:
            found.note = NOT_OURS
        elif total > 0:
            found.ours = sum(share[p] or 0.0 for p in pids & ours_pids)
            m.domains.append(_share_domain(m.domain(domain), found))
        else:
            found.note = "NVML reports no utilisation for them: no share attributed"
        m.warnings.append(found.describe())
        return found


def watches(sensors: Sequence[Any], counted: Callable[[Any], bool], clock: Clock = SYSTEM,
            own: Callable[[], set[int]] = own_pids) -> list[ShareWatch]:
    """A watch per counted GPU sensor that can list its GPU's processes."""
    return [ShareWatch(s, own=own, clock=clock) for s in sensors
            if counted(s) and callable(getattr(s, "processes", None))]


def share_flags(uses: Sequence[GpuUse], repeats: int) -> list[str]:
    """One flag per shared GPU for the case: the other pids, in how many repeats, their
    share, and this case's attributed share."""
    flags = []
    for domain in dict.fromkeys(u.domain for u in uses):
        mine = [u for u in uses if u.domain == domain]
        pids = sorted({p for u in mine for p in u.others})
        names = {p: n for u in mine for p, n in u.names.items()}
        others = ", ".join(f"{p} ({names.get(p, '?')})" for p in pids)
        text = (f"{domain} shared with other processes in {len(mine)} of {repeats} repeats: "
                f"pid {others}; the measured energy is the whole GPU's")
        ours = [u.ours for u in mine if u.ours is not None]
        if ours:
            text += (f"; this case's share by {mine[0].basis}: {_span(ours)}, in "
                     f"{domain}:share (attributed, not measured)")
        elif mine[0].note:
            text += f"; {mine[0].note}"
        flags.append(text)
    return flags


def _share_domain(gpu: DomainEnergy, use: GpuUse) -> DomainEnergy:
    share = use.ours or 0.0
    return DomainEnergy(
        domain=f"{gpu.domain}:share",
        energy_j=None if gpu.energy_j is None else gpu.energy_j * share,
        method=ATTRIBUTED,
        source=f"{gpu.source}:utilisation",
        mean_power_w=None if gpu.mean_power_w is None else gpu.mean_power_w * share,
        peak_power_w=None,
        samples=gpu.samples,
        part_of=gpu.domain,
        warnings=[f"{share:.0%} of {gpu.domain} by {use.basis}: attributed, not measured"],
    )


def _names(pids: set[int]) -> dict[int, str]:
    names = {}
    for pid in pids:
        try:
            names[pid] = psutil.Process(pid).name()
        except psutil.Error:
            names[pid] = "not visible here"
    return names


def _span(values: list[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:.0%}" if round(low, 2) == round(high, 2) else f"{low:.0%}-{high:.0%}"
