"""Where the plugin keeps baselines: exported-run JSON files, one folder per machine.

Layout, under ``--greenbench-storage`` (default ``.greenbench/`` in pytest's rootdir)::

    .greenbench/
      92b0ae3e9e5d2022/                 <- the machine key (greenbench.machine), 16 hex digits
        0001_main.json                  <- --greenbench-save main
        0002_3f2a9c1d2e4b_20250101T120000Z.json   <- --greenbench-autosave: commit, UTC time

Each file is an export document (``greenbench.results_format.to_document``: ``format``,
``format_version`` and the run), the same format ``greenbench results export`` writes, so
``greenbench compare OLD.json NEW.json --fail energy:5%`` gates from two files and
``greenbench results import`` stores one. The machine key is in the path *and* in the file
(``run.machine.key``), with the host name, CPU, sensors and measurement methods.

Numbers go up per machine folder; a file is created exclusively, so two sessions saving at
once never overwrite each other.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from greenbench.records import RunRecord

_FILE = re.compile(r"^(?P<number>\d{4,})_(?P<name>.+)\.json$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_LATEST = re.compile(r"^latest(?:~(?P<back>\d+))?$")


class BaselineNotFound(LookupError):
    """An explicitly named baseline does not exist; the message lists what does."""


@dataclass(frozen=True)
class Saved:
    """One saved baseline file."""

    path: Path
    number: int
    name: str

    @property
    def label(self) -> str:
        return f"{self.number:04d}_{self.name}"


def machine_dir(storage: Path, key: str) -> Path:
    return storage / key


def saved(storage: Path, key: str) -> list[Saved]:
    """The baselines saved for machine ``key``, oldest (lowest number) first."""
    folder = machine_dir(storage, key)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _FILE.match(path.name)
        if match and path.is_file():
            found.append(Saved(path, int(match["number"]), match["name"]))
    return sorted(found, key=lambda s: (s.number, s.name))


def other_machines(storage: Path, key: str) -> list[str]:
    """Machine keys other than ``key`` with at least one baseline saved."""
    if not storage.is_dir():
        return []
    return sorted(p.name for p in storage.iterdir()
                  if p.is_dir() and p.name != key and saved(storage, p.name))


def autosave_name(commit: str | None, now: datetime | None = None) -> str:
    """``<commit>_<UTC time>`` (``run_<UTC time>`` outside git)."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    return f"{commit or 'run'}_{stamp}"


def save(storage: Path, run: RunRecord, name: str) -> Path:
    """Write ``run`` as the next numbered baseline of its machine; returns the file."""
    from greenbench.results_format import dumps_document, to_document

    folder = machine_dir(storage, run.machine_key)
    folder.mkdir(parents=True, exist_ok=True)
    text = dumps_document(to_document(run))
    safe = _UNSAFE.sub("_", name).strip("._") or "run"
    number = max((s.number for s in saved(storage, run.machine_key)), default=0) + 1
    while True:
        path = folder / f"{number:04d}_{safe}.json"
        try:
            # "x": exclusive create, so a concurrent session that took this number moves on
            with open(path, "x", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
        except FileExistsError:
            number += 1
            continue
        return path


def resolve(storage: Path, key: str, ref: str, rootdir: Path | None = None) -> Path | None:
    """The baseline file that ``ref`` names for machine ``key``.

    ``ref`` is ``latest`` (the default), ``latest~N`` (N before the latest), a number
    (``3`` or ``0003``), a saved name (the latest file of that name), or the path of any
    exported-run file (absolute, or relative to the working folder or the rootdir).
    Returns None when ``latest`` is asked for and nothing is saved for this machine yet;
    raises :class:`BaselineNotFound` for anything else that matches nothing.
    """
    ref = ref.strip()
    for candidate in (Path(ref), (rootdir or Path.cwd()) / ref):
        if ref.endswith(".json") and candidate.is_file():
            return candidate
    files = saved(storage, key)
    latest = _LATEST.match(ref)
    if latest:
        back = int(latest["back"] or 0)
        if not files:
            if back:
                raise BaselineNotFound(_nothing_saved(storage, key, ref))
            return None
        if back >= len(files):
            raise BaselineNotFound(f"--greenbench-compare {ref}: only {len(files)} baseline(s) "
                                   f"saved in {machine_dir(storage, key)}")
        return files[-1 - back].path
    if ref.isdigit():
        matches = [s for s in files if s.number == int(ref)]
    else:
        matches = [s for s in files if ref in (s.name, s.label, s.path.stem)]
    if matches:
        return matches[-1].path
    if not files:
        raise BaselineNotFound(_nothing_saved(storage, key, ref))
    shown = ", ".join(s.label for s in files[-5:])
    raise BaselineNotFound(f"--greenbench-compare {ref}: no such baseline in "
                           f"{machine_dir(storage, key)}; saved: {shown}")


def _nothing_saved(storage: Path, key: str, ref: str) -> str:
    return (f"--greenbench-compare {ref}: nothing saved for this machine (key {key}) in "
            f"{storage}; save one with --greenbench-save NAME or --greenbench-autosave")
