"""Measuring torch.distributed jobs: every host and every GPU counted exactly once.

In a training script, after ``torch.distributed.init_process_group``::

    import greenbench.distributed

    with greenbench.distributed.measure("epoch") as w:
        train_one_epoch()
    if w.result is not None and rank == 0:
        print(w.result.energy_j, [h.to_dict() for h in w.result.hosts])

Every rank must enter the same windows in the same order. See docs/distributed.md for what is
counted once and why, and :mod:`greenbench.distributed.meter` for the protocol.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from greenbench.distributed.combine import HostEnergy, JobMeasurement
from greenbench.distributed.meter import DistributedMeter, DistributedWindow

__all__ = ["DistributedMeter", "DistributedWindow", "HostEnergy", "JobMeasurement", "measure"]

_meter: DistributedMeter | None = None


@contextlib.contextmanager
def measure(name: str, **options: Any) -> Iterator[DistributedWindow]:
    """A collective window on this process's job meter, made by the first call with
    ``options`` (see :class:`DistributedMeter`)."""
    global _meter
    if _meter is None:
        _meter = DistributedMeter(**options)
    with _meter.window(name) as w:
        yield w
