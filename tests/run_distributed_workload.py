"""A distributed workload for tests/test_run_distributed.py: every step of every rank adds
known joules to its host's fake RAPL package counter, between two all-reduces.

The all-reduce before the counter moves keeps a rank from stepping before every reader has
opened its window; the one after keeps a reader from closing its window before every rank
of its host has added its joules. So each repeat's energy is exact.

Reads from the environment: ``T_PACKAGE``, the counter file (micro-joules) of the host the
rank plays; ``T_VERSION``, a greenbench version the rank ``T_VERSION_RANK`` says it runs (a
rank with another install, for the refusal of ranks that disagree); ``T_DIE_RANK``, a
rank that dies in its 20th step.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Mapping
from typing import Any

import greenbench
from greenbench.workload import Param, Workload

if os.environ.get("T_VERSION") and os.environ.get("T_VERSION_RANK") == os.environ.get("RANK"):
    greenbench.__version__ = os.environ["T_VERSION"]


def advance(path: str, joules: float) -> None:
    """Add ``joules`` to a micro-joule counter file in place; the ranks of one host share it,
    so each addition holds the file's lock."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        value = int(os.pread(fd, 64, 0)) + round(joules * 1e6)
        os.pwrite(fd, f"{value:020d}\n".encode(), 0)
    finally:
        os.close(fd)


class CounterSteps(Workload):
    name = "counter-steps"
    distributed = True
    requires = ("torch",)
    params = (Param("joules", float, 1.0, help="joules each rank's step adds to its host"),)

    def setup(self, params: Mapping[str, Any], device: str) -> dict[str, Any]:
        import torch

        dies = os.environ.get("T_DIE_RANK") == os.environ["RANK"]
        return {"path": os.environ["T_PACKAGE"], "joules": params["joules"],
                "tensor": torch.zeros(1), "steps": 0, "dies": dies}

    def step(self, state: dict[str, Any]) -> None:
        import torch.distributed as dist

        state["steps"] += 1
        if state["dies"] and state["steps"] == 20:
            os._exit(3)
        dist.all_reduce(state["tensor"])
        advance(state["path"], state["joules"])
        dist.all_reduce(state["tensor"])


class NotDistributed(Workload):
    name = "one-process"

    def step(self, state: Any) -> None:
        pass


COUNTER_STEPS = CounterSteps()
NOT_DISTRIBUTED = NotDistributed()
