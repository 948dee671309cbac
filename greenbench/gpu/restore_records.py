"""What a changed GPU limit was before, kept on disk until it is put back.

Before greenbench sets a limit it writes a record (the GPU's UUID, the limit to put back, the
process that changed it and when) to ``power-limits.json`` in greenbench's state folder:
``$GREENBENCH_STATE_DIR``, else ``$XDG_STATE_HOME/greenbench``, else
``~/.local/state/greenbench``. The record goes when the limit is put back. One that outlives
its process (a kill -9, a power cut) is what ``greenbench gpu restore`` puts back. Every read
and write holds an exclusive lock on ``power-limits.lock`` beside it, so that two runs on one
machine never lose each other's records.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from greenbench.errors import UserError

ENV_STATE_DIR = "GREENBENCH_STATE_DIR"
FILE_NAME = "power-limits.json"


@dataclass(frozen=True)
class RestoreRecord:
    source: str  # nvml | amdsmi
    uuid: str
    gpu: str  # how it was named: cuda:0 (NVIDIA A100-SXM4-40GB)
    original_w: float
    set_w: float
    pid: int
    started: float  # the process's start time (Unix s): a reused pid is not it
    host: str
    time_utc: str

    @classmethod
    def now(cls, source: str, uuid: str, gpu: str, original_w: float, set_w: float
            ) -> RestoreRecord:
        from greenbench.run_owner import this_process

        pid, started = this_process()
        return cls(source, uuid, gpu, original_w, set_w, pid, started, socket.gethostname(),
                   datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def process_gone(self) -> bool:
        from greenbench.run_owner import is_gone

        return is_gone(self.host, self.pid, self.started)


def state_dir(env: Mapping[str, str] = os.environ) -> Path:
    given = env.get(ENV_STATE_DIR, "").strip()
    if given:
        return Path(given)
    base = env.get("XDG_STATE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".local" / "state") / "greenbench"


def path(env: Mapping[str, str] = os.environ) -> Path:
    return state_dir(env) / FILE_NAME


def add(record: RestoreRecord) -> None:
    with _locked() as records:
        records.append(record)


def remove(record: RestoreRecord) -> None:
    with _locked() as records:
        if record in records:
            records.remove(record)


def read_all() -> list[RestoreRecord]:
    with _locked() as records:
        return list(records)


@contextlib.contextmanager
def _locked() -> Iterator[list[RestoreRecord]]:
    """The records, under the lock; what the block leaves in the list is written back."""
    file = path()
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        lock = os.open(file.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise UserError(f"cannot keep GPU restore records in {file.parent}: "
                        f"{exc.strerror or exc} (set {ENV_STATE_DIR} to a writable "
                        "folder)") from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        records = _read(file)
        before = list(records)
        yield records
        if records != before:
            _write(file, records)
    finally:
        os.close(lock)


def _read(file: Path) -> list[RestoreRecord]:
    try:
        text = file.read_text()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise UserError(f"cannot read {file}: {exc.strerror or exc}") from None
    try:
        return [RestoreRecord(**r) for r in json.loads(text)["records"]]
    except (ValueError, KeyError, TypeError):
        raise UserError(f"{file} is not a greenbench restore record; check the GPUs' power "
                        "limits (nvidia-smi -q -d POWER), then delete it") from None


def _write(file: Path, records: list[RestoreRecord]) -> None:
    if not records:
        file.unlink(missing_ok=True)
        return
    tmp = file.with_suffix(".tmp")
    tmp.write_text(json.dumps({"records": [asdict(r) for r in records]}, indent=1) + "\n")
    os.replace(tmp, file)
