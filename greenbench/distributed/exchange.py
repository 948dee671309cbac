"""greenbench's own collectives, apart from training's: a key-value exchange with a deadline.

Every rank writes its part under ``greenbench/<job>/<step>/<rank>`` in the job's TCPStore
(the one torchrun's agent or rank 0 serves at ``MASTER_ADDR:MASTER_PORT``) and waits, up to
a deadline, for the others' parts. Because each part is a key of its own, a rank that died
or hangs is *named* when the deadline passes (a barrier or all-gather would only time out),
so a window can be reported ``partial`` with the missing hosts instead of hanging. It needs
no CUDA tensors and no NCCL: CPU-only jobs work, and training's communicators stay free.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from greenbench.errors import UserError

#: how often a waiting rank looks for the parts still missing, seconds
POLL_S = 0.005


@dataclass
class Gathered:
    """The parts that arrived, by rank, and the ranks whose part did not by the deadline."""

    parts: dict[int, Any]
    missing: list[int]


class Exchange:
    """``publish`` this rank's part of a step, ``gather`` everyone's (see the module)."""

    def __init__(self, store: Any, rank: int, world_size: int, job: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.rank = rank
        self.world_size = world_size
        self.job = job
        self._clock = clock

    def _key(self, step: str, rank: int) -> str:
        return f"greenbench/{self.job}/{step}/{rank}"

    def publish(self, step: str, part: Any) -> None:
        self.store.set(self._key(step, self.rank), json.dumps(part, default=str))

    def gather(self, step: str, timeout_s: float, ranks: Sequence[int] | None = None
               ) -> Gathered:
        """Everyone's part of ``step`` (this rank's must be published first)."""
        waiting = list(range(self.world_size) if ranks is None else ranks)
        parts: dict[int, Any] = {}
        deadline = self._clock() + timeout_s
        while True:
            for r in list(waiting):
                key = self._key(step, r)
                if self.store.check([key]):
                    parts[r] = json.loads(self.store.get(key))
                    waiting.remove(r)
            if not waiting or self._clock() >= deadline:
                return Gathered(parts, waiting)
            time.sleep(POLL_S)

    def all_gather(self, step: str, part: Any, timeout_s: float) -> Gathered:
        self.publish(step, part)
        return self.gather(step, timeout_s)


def job_store(environ: Mapping[str, str] | None = None, timeout_s: float = 30.0) -> Any:
    """A client of the job's TCPStore at ``MASTER_ADDR:MASTER_PORT``; a UserError in one
    line when the variables are missing or the store cannot be reached in ``timeout_s``."""
    import torch.distributed as dist

    env = os.environ if environ is None else environ
    addr, port = env.get("MASTER_ADDR"), env.get("MASTER_PORT")
    if not addr or not port:
        raise UserError("greenbench.distributed needs MASTER_ADDR and MASTER_PORT (torchrun and "
                        "the Slurm recipes in docs/distributed.md set them)")
    try:
        return dist.TCPStore(addr, int(port), is_master=False,
                             timeout=timedelta(seconds=timeout_s))
    except (RuntimeError, ValueError, OSError) as exc:
        raise UserError(f"cannot reach the job's store at {addr}:{port} within "
                        f"{timeout_s:g} s ({str(exc).splitlines()[0][:120]}); is the master "
                        "address right and the launcher running?") from None


def job_name(environ: Mapping[str, str] | None = None) -> str:
    """Keys of one attempt of one job: torchrun's restart count keeps a restarted job's
    keys apart from the failed attempt's, which the store still holds."""
    env = os.environ if environ is None else environ
    return "-".join(x for x in (env.get("TORCHELASTIC_RUN_ID") or env.get("SLURM_JOB_ID")
                                or "job", env.get("TORCHELASTIC_RESTART_COUNT", "0")) if x)
