"""A case's GPU power limit: checked before the run, set before the case, put back after.

``-p power_limit_w=250,300`` is a parameter of every case on a GPU (``--device cuda:N``),
not of the workload: the runner takes it out of the workload's grid and crosses the grid
with it (:func:`take_axis`), checks every value against the GPU's allowed range and that
the user may set limits at all (:func:`check_limits`: by setting the limit in force to
itself, which changes nothing), and the worker sets it around the case (:func:`applied`).

The order in the worker: the restore record is written (greenbench.gpu.restore_records),
then the limit is set, then read back (the limit in force is the lowest of every limit on
the board, so it may differ from the one asked). When the case ends, by success, an
exception in the workload, SIGINT or SIGTERM (turned into KeyboardInterrupt by
greenbench.stop_signals), the original limit is set again and the record removed. A worker
killed outright (SIGKILL, out of memory) cannot do that: the runner then puts its limits back
from its records (:func:`restore_left`), and ``greenbench gpu restore`` does the same after
greenbench itself was killed.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from greenbench.errors import UserError
from greenbench.gpu import restore_records
from greenbench.gpu.backends import Gpu, GpuError, backend, gpu_for
from greenbench.gpu.restore_records import RestoreRecord

#: the parameter every case on a GPU takes
POWER_LIMIT = "power_limit_w"


@dataclass
class Applied:
    """A limit set for a case: asked, read back, and what was put back afterwards."""

    gpu: Gpu
    asked_w: float
    in_force_w: float
    original_w: float
    restored: bool = False
    problem: str | None = None

    def note(self) -> str:
        """The case's flag: what was asked, what was in force, what happened afterwards."""
        head = (f"power limit on {self.gpu.label}: asked {self.asked_w:g} W, in force "
                f"{self.in_force_w:g} W (read back)")
        if self.problem:
            return f"{head}; {self.problem}"
        return f"{head}; the original {self.original_w:g} W was put back after the case"


def take_axis(overrides: Mapping[str, list[str]]) -> tuple[dict[str, list[str]],
                                                           list[float] | None]:
    """The -p grid without ``power_limit_w``, and its values in watts (None: not given)."""
    rest = {k: v for k, v in overrides.items() if k != POWER_LIMIT}
    if POWER_LIMIT not in overrides:
        return rest, None
    return rest, parse_limits(overrides[POWER_LIMIT])


def parse_limits(values: Sequence[str]) -> list[float]:
    out: list[float] = []
    for text in values:
        try:
            watts = float(text)
        except ValueError:
            watts = math.nan
        if not math.isfinite(watts) or watts <= 0:
            raise UserError(f"parameter {POWER_LIMIT}: {text!r} is not a positive number of "
                            "watts")
        shown = int(watts) if watts.is_integer() else watts  # case names read 250, not 250.0
        if shown not in out:
            out.append(shown)
    if not out:
        raise UserError(f"parameter {POWER_LIMIT} has an empty list of values")
    return out


def check_limits(device: str, limits_w: Sequence[float]) -> Gpu:
    """The GPU, once every limit is within its range, no other process holds a changed
    limit on it, and this user may set limits; GpuError (one line) otherwise."""
    gpu = gpu_for(device)
    for watts in limits_w:
        check_range(gpu, watts)
    for record in restore_records.read_all():
        if record.uuid == gpu.uuid:
            raise GpuError(_held(record))
    gpu.set_w(gpu.limit_w())  # NoPermission without the right to set limits
    return gpu


def check_range(gpu: Gpu, watts: float) -> None:
    low, high = gpu.range_w()
    if not low <= watts <= high:
        raise GpuError(f"{POWER_LIMIT}={watts:g}: {gpu.label} allows {low:g} to {high:g} W "
                       f"(default {gpu.default_w():g} W); nothing was changed")


@contextlib.contextmanager
def applied(device: str, watts: float | None) -> Iterator[Applied | None]:
    """Run the block with ``watts`` as the power limit of ``device``'s GPU (None: leave the
    limit alone); the original is put back however the block ends but SIGKILL."""
    if watts is None:
        yield None
        return
    from greenbench.stop_signals import stop_signals

    with stop_signals():
        gpu = gpu_for(device)
        check_range(gpu, watts)
        original = gpu.limit_w()
        record = RestoreRecord.now(gpu.backend.source, gpu.uuid, gpu.label, original, watts)
        restore_records.add(record)
        try:
            gpu.set_w(watts)
            result = Applied(gpu, watts, gpu.in_force_w(), original)
        except BaseException:
            _undo_failed_set(gpu, record)
            raise
        try:
            yield result
        finally:
            try:
                _put_back(gpu, record)
                result.restored = True
            except GpuError as exc:
                result.problem = (f"the original {original:g} W could not be put back "
                                  f"({exc}): run greenbench gpu restore")


def restore_left(pid: int | None = None) -> tuple[list[str], list[str]]:
    """Put back the limits left by ``pid`` (None: by every process that is gone); (what was
    done, what could not be done), one line each. A record of a live process stays."""
    done: list[str] = []
    failed: list[str] = []
    for record in restore_records.read_all():
        if pid is None and not record.process_gone():
            failed.append(f"{record.gpu} ({record.uuid}): still held by greenbench process "
                          f"{record.pid} on {record.host}, since {record.time_utc}: left "
                          "alone")
            continue
        if pid is not None and record.pid != pid:
            continue
        try:
            lib = backend(record.source)
            lib.set_w(lib.by_uuid(record.uuid), record.original_w)
        except GpuError as exc:
            failed.append(f"{record.gpu} ({record.uuid}): could not put back "
                          f"{record.original_w:g} W: {exc}")
            continue
        restore_records.remove(record)
        done.append(f"{record.gpu} ({record.uuid}): put back {record.original_w:g} W (process "
                    f"{record.pid} left it at {record.set_w:g} W on {record.time_utc})")
    return done, failed


def run_config(cases: Sequence[Mapping[str, Any]], device: str) -> dict[str, Any]:
    """What a run stores of the limits it will change (empty when none): the GPU, its
    original limit, the limits asked and where the restore records are kept."""
    asked = sorted({float(p[POWER_LIMIT]) for p in cases if POWER_LIMIT in p})
    if not asked:
        return {}
    gpu = gpu_for(device)
    return {"power_limit": {"gpu": gpu.label, "uuid": gpu.uuid, "library": gpu.backend.source,
                            "original_w": gpu.limit_w(), "asked_w": asked,
                            "restore_records": str(restore_records.path())}}


def workload_params(params: Mapping[str, Any]) -> tuple[dict[str, Any], float | None]:
    """A case's parameters without the power limit, and the limit (None: none asked)."""
    rest = {k: v for k, v in params.items() if k != POWER_LIMIT}
    limit = params.get(POWER_LIMIT)
    return rest, None if limit is None else float(limit)


def _put_back(gpu: Gpu, record: RestoreRecord) -> None:
    gpu.set_w(record.original_w)
    restore_records.remove(record)


def _undo_failed_set(gpu: Gpu, record: RestoreRecord) -> None:
    """After a set that failed: the record goes once the limit reads as the original (it
    stays, for greenbench gpu restore, when that cannot be told)."""
    with contextlib.suppress(GpuError):
        if gpu.limit_w() != record.original_w:
            gpu.set_w(record.original_w)
        if gpu.limit_w() == record.original_w:
            restore_records.remove(record)


def _held(record: RestoreRecord) -> str:
    if record.process_gone():
        return (f"{record.gpu} was left at {record.set_w:g} W by greenbench process "
                f"{record.pid}, which is gone: run greenbench gpu restore first")
    return (f"{record.gpu}: greenbench process {record.pid} is changing its power limit "
            "now; wait for it to finish")
