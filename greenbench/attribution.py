"""Which measured domains a case is charged for: the devices it runs on, nothing else.

A case owns the host's CPU and DRAM domains and the GPUs of its devices: ``cuda:N`` (and
``cuda``, torch's default device 0) owns ``gpu:N``, a multi-GPU case (``cuda:0,cuda:1`` or
``cuda:0,1``) owns each. Every other GPU is still read and recorded, marked ``not attributed``,
and kept out of the case's totals: on an 8-GPU node a ``cuda:0`` case would otherwise be
charged for seven idle GPUs.

A sensor whose figure already contains other domains (Grace Hopper's module power: the GPU,
the Grace CPU and its memory) declares them in ``overlaps`` (domain names, or prefixes ending
in ``:``). It is recorded beside the total, never added to it (:func:`module_overlaps`, applied
by the meter for every caller): adding it to ``gpu:N`` and to RAPL or the CPU estimate of the
same CPU would count that CPU twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from greenbench.errors import UserError


def devices_of(device: str) -> list[str]:
    """``cuda:0,1`` -> [``cuda:0``, ``cuda:1``]; ``cpu`` -> [``cpu``]."""
    parts = [p.strip() for p in device.split(",") if p.strip()]
    out: list[str] = []
    for p in parts:
        if p.isdigit() and out and out[-1].startswith("cuda"):
            p = f"cuda:{p}"
        if p not in ("cpu", "cuda") and not (p.startswith("cuda:") and p[5:].isdigit()):
            raise UserError(f"device {device!r}: use cpu, cuda, cuda:N or cuda:N,M")
        out.append(p)
    if not out:
        raise UserError("no device named: use cpu, cuda, cuda:N or cuda:N,M")
    return out


def gpu_domains(devices: Iterable[str]) -> set[str]:
    """The GPU domains the devices own."""
    owned = set()
    for d in devices:
        if d == "cuda":
            owned.add("gpu:0")
        elif d.startswith("cuda:"):
            owned.add(f"gpu:{d[5:]}")
    return owned


def not_counted(domains: Iterable[str], device: str) -> dict[str, str]:
    """Domain -> why it is left out of a case on ``device``: GPUs the case does not use."""
    devices = devices_of(device)
    owned = gpu_domains(devices)
    reason = f"not attributed: the case runs on {', '.join(devices)}"
    return {d: reason for d in domains if d.startswith("gpu:") and d not in owned}


def module_overlaps(sensors: Iterable[Any]) -> dict[str, str]:
    """Domain -> why it stays beside the total: sensors whose figure contains other domains
    (``overlaps``), such as a Grace Hopper module's power."""
    beside = {}
    for s in sensors:
        overlaps = getattr(s, "overlaps", None)
        if overlaps:
            shown = ", ".join(o.rstrip(":") + ("*" if o.endswith(":") else "") for o in overlaps)
            beside[s.domain] = (f"module power: it contains {shown} (GPU, CPU and memory of one "
                                "module), so it is shown beside the total, never added to it")
    return beside
