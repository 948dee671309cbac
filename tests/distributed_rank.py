"""One rank of a simulated multi-host job, for tests/test_distributed.py.

Reads its orders from the environment (torch.distributed's variables, or torchrun's):

- ``GREENBENCH_HOST_ID``, ``GREENBENCH_POWERCAP_ROOT``: the host it plays, and that host's
  fake powercap tree (none: the host has no RAPL and is estimated);
- ``T_ADVANCE``: ``path=joules;path=joules``: counters this rank advances inside the window
  (in place, at a fixed width, so that a concurrent read never sees a half-written file);
- ``T_GPU``: ``domain=uuid;...``: stand-in GPUs this rank sees, ``T_USES``: the one it uses,
  ``T_GPU_J``: joules each stand-in GPU counter gains during the window;
- ``T_BEHAVIOUR``: ``die`` or ``hang`` inside the window; ``T_CLOCK_OFFSET_S``: a wall-clock
  offset; ``T_TIMEOUT_S``; ``T_OUT``: where rank 0 writes the job's window as JSON;
- ``T_WORKLOAD``: the workload name this rank says it runs; ``T_STORE``: the results store
  rank 0 stores the window in as a run.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import torch.distributed as dist

from greenbench.clock import SystemClock
from greenbench.distributed import DistributedMeter
from greenbench.errors import UserError
from greenbench.sensors import estimate, rapl
from greenbench.sensors.base import Sensor, SensorKind


class OffsetClock(SystemClock):
    def __init__(self, offset_s: float) -> None:
        self.offset_s = offset_s

    def wall(self) -> float:
        return super().wall() + self.offset_s


class StandInGpu(Sensor):
    """An NVML-like energy counter of one GPU, in a file shared by the ranks that see it."""

    kind = SensorKind.COUNTER
    update_period_s = 0.001

    def __init__(self, domain: str, uuid: str, path: Path) -> None:
        self.domain = domain
        self.source = "stand-in"
        self.uuid = uuid
        self.path = path

    def read_value(self) -> float:
        return int(self.path.read_text()) / 1e3

    def info(self) -> dict:
        return {"uuid": self.uuid}


def advance(path: str, joules: float, scale: float = 1e6) -> None:
    """Add ``joules`` to a counter file holding micro- (or milli-) joules, in place; a RAPL
    zone's counter wraps at its ``max_energy_range_uj`` as the hardware's does."""
    limit = Path(path).with_name("max_energy_range_uj")
    fd = os.open(path, os.O_RDWR)
    try:
        value = int(os.pread(fd, 64, 0)) + round(joules * scale)
        if limit.exists():
            value %= int(limit.read_text())
        os.pwrite(fd, f"{value:020d}\n".encode(), 0)
    finally:
        os.close(fd)


def pairs(text: str) -> list[tuple[str, str]]:
    return [tuple(p.split("=", 1)) for p in text.split(";") if p]  # type: ignore[misc]


def main() -> int:
    env = os.environ
    timeout_s = float(env.get("T_TIMEOUT_S", "10"))
    dist.init_process_group("gloo", init_method="env://")
    root = env.get("GREENBENCH_POWERCAP_ROOT")
    sensors: list[Sensor] = [p.sensor for p in rapl.probe(root) if p.sensor] if root else []
    if not sensors:
        sensors = [p.sensor for p in estimate.probe(cpu_tdp_w=100.0, need_cpu=True,
                                                    need_ram=False) if p.sensor]
    gpu_dir = Path(env.get("T_GPU_DIR", "."))
    gpus = [StandInGpu(d, u, gpu_dir / f"{u}.mj") for d, u in pairs(env.get("T_GPU", ""))]
    uses = env.get("T_USES")
    device = "cpu"
    if uses:
        device = f"cuda:{next(g.domain for g in gpus if g.uuid == uses).split(':')[1]}"
    try:
        meter = DistributedMeter([*sensors, *gpus], device=device, timeout_s=timeout_s,
                                 clock=OffsetClock(float(env.get("T_CLOCK_OFFSET_S", "0"))),
                                 workload=env.get("T_WORKLOAD"),
                                 results_store=env.get("T_STORE"))
    except UserError as exc:
        print(f"greenbench: error: {exc}", file=sys.stderr)
        os._exit(2)
    with meter.window("train") as w:
        for path, joules in pairs(env.get("T_ADVANCE", "")):
            advance(path, float(joules))
        for g in gpus:
            if g.uuid == uses:
                advance(str(g.path), float(env.get("T_GPU_J", "0")), scale=1e3)
        if env.get("T_BEHAVIOUR") == "die":
            os._exit(3)
        if env.get("T_BEHAVIOUR") == "hang":
            time.sleep(3600)
        time.sleep(0.2)
    meter.close()
    if meter.rank == 0 and w.result is not None:
        doc = {**w.result.to_dict(), "election": meter.election.to_dict()}
        Path(env["T_OUT"]).write_text(json.dumps(doc, default=str))
    os._exit(0)  # no teardown handshake with a rank that may be gone


if __name__ == "__main__":
    sys.exit(main())
