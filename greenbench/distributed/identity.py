"""Who a rank is: its place in the job, the host it runs on, and what that host lets it read.

A host is named by ``GREENBENCH_HOST_ID`` where set (containers that share a kernel but not
a hostname, tests that simulate hosts), else by its hostname and ``/etc/machine-id`` (or
the boot id where there is none): two containers on one machine share RAPL counters and must
count them once, so the kernel's identity decides, not the hostname alone.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from greenbench.sensors.base import ModelSensor, Sensor

HOST_ID_ENV = "GREENBENCH_HOST_ID"
_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id", "/proc/sys/kernel/random/boot_id")

#: how a sensor's domain is shared among the ranks of one host:
#: ``host`` (RAPL packages, DRAM, a machine-wide estimate, a constant RAM model): one reader
#: per host; ``device`` (a GPU): one reader per device UUID; ``process`` (an estimate from
#: the reading process's own CPU time): every rank reads its own, and they add
Sharing = Literal["host", "device", "process"]


@dataclass(frozen=True)
class Reading:
    """One domain a rank can read, and how it is shared."""

    domain: str
    sharing: Sharing
    #: the device's UUID (``device``), else None
    uuid: str | None = None


@dataclass(frozen=True)
class RankIdentity:
    rank: int
    world_size: int
    local_rank: int
    node_rank: int | None
    host_id: str
    hostname: str
    greenbench: str
    readings: tuple[Reading, ...] = ()
    #: UUIDs of the GPUs this rank computes on
    uses: tuple[str, ...] = ()
    slurm_job_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: the host's machine key (greenbench.machine: host name, CPU, GPU models)
    machine_key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RankIdentity:
        d = dict(data)
        d["readings"] = tuple(Reading(**r) for r in d.get("readings", ()))
        d["uses"] = tuple(d.get("uses", ()))
        return cls(**d)


def device_key(host: str, reading: Reading) -> str:
    """A GPU's identity across the job: its UUID, else (no UUID known) its host and index."""
    return reading.uuid or f"{host}/{reading.domain}"


def host_id(environ: Mapping[str, str] | None = None, id_files: Sequence[str] = _ID_FILES
            ) -> str:
    """This host's identity (see the module docstring)."""
    env = os.environ if environ is None else environ
    if env.get(HOST_ID_ENV):
        return env[HOST_ID_ENV]
    name = socket.gethostname()
    for path in id_files:
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text:
            return f"{name}/{text[:12]}"
    return name


def sharing_of(sensor: Sensor) -> Reading:
    """How ``sensor``'s domain is shared among the ranks of its host."""
    if sensor.domain.startswith("gpu:"):
        uuid = str(sensor.info().get("uuid") or "") or None
        return Reading(sensor.domain, "device", uuid)
    if isinstance(sensor, ModelSensor) and getattr(sensor, "scope", "machine") != "machine" \
            and not sensor.constant:
        return Reading(sensor.domain, "process")
    return Reading(sensor.domain, "host")


def identify(rank: int, world_size: int, sensors: Sequence[Sensor], device: str = "cpu",
             environ: Mapping[str, str] | None = None, workload: str | None = None
             ) -> RankIdentity:
    """This rank's identity, from torch.distributed's rank and the launcher's variables
    (torchrun's ``LOCAL_RANK`` and ``GROUP_RANK``, Slurm's ``SLURM_LOCALID``, ``SLURM_NODEID``
    and ``SLURM_JOB_ID``); ``device`` names the GPUs it computes on (``cuda:0``)."""
    from greenbench import __version__
    from greenbench.attribution import devices_of, gpu_domains
    from greenbench.machine import describe_machine

    env = os.environ if environ is None else environ
    host = host_id(env)
    readings = tuple(sharing_of(s) for s in sensors)
    wanted = gpu_domains(devices_of(device))
    local = _int(env.get("LOCAL_RANK") or env.get("SLURM_LOCALID"), 0) or 0
    node = _int(env.get("GROUP_RANK") or env.get("NODE_RANK") or env.get("SLURM_NODEID"), None)
    return RankIdentity(
        rank=rank, world_size=world_size, local_rank=local, node_rank=node,
        host_id=host, hostname=socket.gethostname(), greenbench=__version__,
        readings=readings,
        uses=tuple(device_key(host, r) for r in readings if r.domain in wanted),
        slurm_job_id=env.get("SLURM_JOB_ID"),
        extra={} if workload is None else {"workload": workload},
        machine_key=describe_machine()["key"],
    )


def _int(text: str | None, default: int | None) -> int | None:
    try:
        return int(text) if text not in (None, "") else default
    except ValueError:
        return default
