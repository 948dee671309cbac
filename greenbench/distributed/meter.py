"""Collective windows over a torch.distributed job: each host and each GPU measured once.

After the job's ``init_process_group``, every rank builds a :class:`DistributedMeter`: the
ranks publish who they are (greenbench.distributed.identity), elect who reads what
(greenbench.distributed.election) and meter only their own duties. A window is collective:
every rank enters, the readers read at both edges, and the parts are combined by declared
aggregation (greenbench.distributed.combine). A rank that died or hangs makes the window
partial after ``timeout_s``, with its host named; nothing waits forever.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from greenbench.clock import SYSTEM, Clock
from greenbench.distributed.combine import JobMeasurement, combine, window_part
from greenbench.distributed.election import Election, elect
from greenbench.distributed.exchange import Exchange, job_name, job_store
from greenbench.distributed.identity import RankIdentity, identify
from greenbench.errors import UserError
from greenbench.meter import DEFAULT_INTERVAL_S, Meter
from greenbench.sensors.base import Sensor

#: how long a rank waits for the others at a window's edge or at start, seconds
DEFAULT_TIMEOUT_S = 30.0


class DistributedWindow:
    """What ``DistributedMeter.window`` yields: ``result`` is set when the block ends."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.result: JobMeasurement | None = None
        #: the stored run's id, on rank 0 of a meter given ``results_store``
        self.run_id: str | None = None


class DistributedMeter:
    """Every rank's meter of one job (see the module). ``results_store``: a results store
    (a path, or True for the default one) where rank 0 stores each window as a run, its
    id in the window's ``run_id``; None (the default) stores nothing."""

    def __init__(
        self,
        sensors: Sequence[Sensor] | None = None,
        *,
        device: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        interval_s: float = DEFAULT_INTERVAL_S,
        clock: Clock = SYSTEM,
        store: Any = None,
        rank: int | None = None,
        world_size: int | None = None,
        environ: Mapping[str, str] | None = None,
        workload: str | None = None,
        results_store: str | Path | bool | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        if rank is None or world_size is None:
            rank, world_size = _rank_and_size()
        if sensors is None:
            from greenbench.sensors.registry import available_sensors, probe_all

            sensors = available_sensors(probe_all())
        self.rank, self.world_size, self.timeout_s, self.clock = rank, world_size, timeout_s, clock
        self.workload, self.results_store = workload, results_store
        self._sensors = list(sensors)
        me = identify(rank, world_size, sensors,
                      device if device is not None else _default_device(), env, workload)
        self.exchange = Exchange(store if store is not None else job_store(env, timeout_s),
                                 rank, world_size, job_name(env))
        got = self.exchange.all_gather("identity", me.to_dict(), timeout_s)
        if got.missing:
            raise UserError(f"greenbench.distributed: rank(s) {_ranks(got.missing)} did not "
                            f"start measuring within {timeout_s:g} s; did every rank create "
                            "a DistributedMeter?")
        self.identities = [RankIdentity.from_dict(got.parts[r]) for r in sorted(got.parts)]
        self._read("identity", got.parts)
        _agree(self.identities)
        self.election: Election = elect(self.identities)
        duties = self.election.of(rank)
        mine = {d.domain for d in duties}
        self.meter = Meter([s for s in sensors if s.domain in mine], interval_s, clock=clock,
                           not_counted={d.domain: d.not_counted for d in duties
                                        if d.not_counted})
        self.meter.start()
        self._windows = 0

    @contextlib.contextmanager
    def window(self, name: str) -> Iterator[DistributedWindow]:
        """A collective window: every rank must enter it, in the same order."""
        k = self._windows
        self._windows += 1
        holder = DistributedWindow(name)
        self.exchange.all_gather(f"w{k}/begin", True, self.timeout_s)  # a barrier
        w = self.meter.begin(name)
        try:
            yield holder
        finally:
            m = self.meter.end(w)
            got = self.exchange.all_gather(f"w{k}/end", window_part(self.rank, m,
                                                                    self.clock.wall()),
                                           self.timeout_s)
            holder.result = combine(name, got.parts, self.identities, got.missing)
            self._read(f"w{k}", got.parts)
            if self.rank == 0 and self.results_store is not None \
                    and self.results_store is not False:
                holder.run_id = self._store(holder.result)

    def _store(self, job: JobMeasurement) -> str:
        """Rank 0 stores a window as a run (greenbench.distributed.stored)."""
        from greenbench.distributed.stored import job_run, store_run

        run = job_run(job, self.identities, self.election,
                      workload=self.workload or "distributed", params={"window": job.name},
                      unit="windows",
                      sensors=[s.describe() | {"available": True} for s in self._sensors],
                      config={"interval_s": self.meter.requested_interval_s,
                              "timeout_s": self.timeout_s})
        where = self.results_store
        return store_run(run, None if isinstance(where, bool) else where)

    def _read(self, step: str, parts: Mapping[int, Any]) -> None:
        """Rank 0 may host the job's store: it waits until every rank that reported has
        read the others' parts, so that its exit cannot cut a slower rank off."""
        self.exchange.publish(f"{step}/read", True)
        if self.rank == 0:
            self.exchange.gather(f"{step}/read", self.timeout_s, ranks=sorted(parts))

    def close(self) -> None:
        self.meter.stop()

    def __enter__(self) -> DistributedMeter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _rank_and_size() -> tuple[int, int]:
    try:
        import torch.distributed as dist
    except ImportError:
        raise UserError("greenbench.distributed needs torch: pip install "
                        "'greenbench[torch]'") from None
    if not dist.is_available() or not dist.is_initialized():
        raise UserError("greenbench.distributed: call torch.distributed.init_process_group() "
                        "first (or pass rank= and world_size=)")
    return dist.get_rank(), dist.get_world_size()


def _default_device() -> str:
    """``cuda:LOCAL_RANK`` where this rank sees GPUs (one GPU per rank, the usual layout),
    else ``cpu``."""
    try:
        import torch
    except ImportError:
        return "cpu"
    if torch.cuda.is_available():
        return f"cuda:{torch.cuda.current_device()}"
    return "cpu"


def _agree(identities: Sequence[RankIdentity]) -> None:
    """Ranks that run different greenbench versions or workloads would measure different
    things under one name: refused, with both named."""
    for what, value in (("greenbench version", lambda i: i.greenbench),
                        ("workload", lambda i: i.extra.get("workload"))):
        seen: dict[Any, int] = {}
        for ident in identities:
            seen.setdefault(value(ident), ident.rank)
        if len(seen) > 1:
            shown = "; ".join(f"rank {r}: {v}" for v, r in seen.items())
            raise UserError(f"greenbench.distributed: the ranks disagree on the {what} "
                            f"({shown}); run the same one everywhere")


def _ranks(ranks: Sequence[int]) -> str:
    return ", ".join(map(str, ranks))
