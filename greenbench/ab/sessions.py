"""The two pytest processes of an A/B gate, run at once and taking turns, and what they save.

Each revision runs in its own pytest process, from its own worktree (its folder first on
``PYTHONPATH``), with greenbench's plugin saving the session as an exported-run file in a
folder of its own. The two processes take turns through a :class:`TurnScheduler`, so their
benchmarks' rounds interleave (greenbench.ab.scheduler).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from greenbench.ab.scheduler import PARTNER_WAIT_S, TurnScheduler
from greenbench.ab.worktrees import Revision
from greenbench.errors import UserError
from greenbench.records import RunRecord

_NO_TESTS = 5


@dataclass
class Side:
    """One revision's pytest process: its revision, exit status, log and saved run."""

    label: str
    revision: Revision
    returncode: int | None = None
    log: Path | None = None
    run: RunRecord | None = None

    @property
    def saved(self) -> RunRecord:
        """The run this side saved (run_session raises when there is none)."""
        assert self.run is not None
        return self.run

    def log_tail(self, lines: int = 15) -> str:
        if self.log is None or not self.log.is_file():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Session:
    """Both sides of one interleaved session and the order the turns went in."""

    sides: dict[str, Side]
    grants: list[tuple[str, str]] = field(default_factory=list)
    wall_s: float = 0.0
    hash_seed: str = ""
    #: the two processes started with address-space randomisation off (Linux)
    fixed_layout: bool = False

    def back_to_back(self) -> tuple[int, int]:
        """(rounds both sides measured one right after the other, rounds both measured)."""
        where: dict[str, dict[str, int]] = {}
        for i, (side, key) in enumerate(self.grants):
            if key.endswith("#setup"):
                continue
            where.setdefault(key, {})[side] = i
        both = [w for w in where.values() if len(w) == 2]
        adjacent = sum(1 for w in both if abs(w["A"] - w["B"]) == 1)
        return adjacent, len(both)


def pytest_command(pytest_args: list[str], storage: Path, name: str, rounds: int) -> list[str]:
    """The pytest command line of one side (the user's own arguments last, so they win)."""
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            f"--greenbench-storage={storage}", f"--greenbench-save={name}",
            f"--greenbench-rounds={rounds}", *pytest_args]


def side_environment(revision: Revision, turns: str, hash_seed: str) -> dict[str, str]:
    """The environment of one side: its checkout first on PYTHONPATH, the turn socket, and
    the hash seed both sides share."""
    from greenbench.pytest_energy.turns import ENV

    env = dict(os.environ)
    # one seed for both processes: with a seed each, the dicts and sets of the same code
    # probe differently, and one process ran a word count 28% slower than the other
    env["PYTHONHASHSEED"] = hash_seed
    paths = [str(p) for p in revision.import_paths()]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env[ENV] = turns
    return env


def run_session(
    revisions: dict[str, Revision],
    pytest_args: list[str],
    workdir: Path,
    *,
    rounds: int,
    subdir: Path = Path(),
    partner_wait_s: float = PARTNER_WAIT_S,
) -> Session:
    """Run both revisions' benchmarks at once, taking turns; read what each saved.

    ``revisions`` maps the sides ``A`` (base) and ``B`` (head) to their checkouts; ``subdir``
    is where in the checkout pytest starts (the user's folder relative to the repository).
    Raises UserError when a side's pytest could not run its tests.
    """
    sides = {label: Side(label, rev) for label, rev in revisions.items()}
    hash_seed = os.environ.get("PYTHONHASHSEED") or str(random.randrange(1, 2**32))
    socket_path, socket_dir = _socket_path(workdir)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    t0 = time.perf_counter()
    with TurnScheduler(socket_path, partner_wait_s) as scheduler, fixed_layout() as fixed:
        try:
            for label, side in sides.items():
                storage = workdir / f"runs-{label}"
                side.log = workdir / f"pytest-{label}.log"
                with open(side.log, "wb") as log:
                    procs[label] = subprocess.Popen(
                        pytest_command(pytest_args, storage, _save_name(side), rounds),
                        cwd=side.revision.path / subdir, stdout=log,
                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                        env=side_environment(side.revision, f"{socket_path}:{label}",
                                             hash_seed),
                    )
            while len([s for s in sides.values() if s.returncode is not None]) < len(sides):
                for label, proc in procs.items():
                    if sides[label].returncode is None and proc.poll() is not None:
                        sides[label].returncode = proc.returncode
                        scheduler.finished(label)
                time.sleep(0.05)
        finally:
            for proc in procs.values():
                if proc.poll() is None:  # interrupted: stop the children we started
                    proc.terminate()
                    proc.wait(timeout=10)
        grants = list(scheduler.grants)
    if socket_dir is not None:
        socket_dir.rmdir()
    session = Session(sides, grants, time.perf_counter() - t0, hash_seed, fixed)
    for label, side in sides.items():
        side.run = _saved_run(workdir / f"runs-{label}")
        if side.run is None:
            raise UserError(_failure(side))
    return session


def merged(runs: list[RunRecord]) -> RunRecord:
    """One side's sessions as one run: each benchmark's rounds in session order, each round
    marked with its session as its ``process`` (the unit of replication)."""
    from copy import deepcopy
    from dataclasses import replace

    from greenbench.records import case_names
    from greenbench.runner import summarize_case

    cases: dict[str, Any] = {}
    for k, run in enumerate(runs):
        for case, name in zip(run.cases, case_names(run.cases), strict=True):
            case = deepcopy(case)
            for r in case.repeats:
                r.process = k
            if name in cases:
                cases[name].repeats += case.repeats
            else:
                cases[name] = case
    for case in cases.values():
        case.summary = {}
        summarize_case(case)
    return replace(runs[0], cases=list(cases.values()))


@contextmanager
def fixed_layout() -> Iterator[bool]:
    """Processes started inside run with address-space layout randomisation off.

    With it on, each process of the same code gets its own addresses, so its own cache and
    allocator luck: here one process ran a word count 20-25% slower than another, session
    after session. The personality flag set here is inherited by the children and applies
    when they exec; this process's own layout is not changed. Yields False where the kernel
    refuses (then the layouts stay random, and the calibration shows what that costs).
    """
    libc = _libc()
    if libc is None:
        yield False
        return
    before = libc.personality(_QUERY)
    if before == -1 or libc.personality(before | _ADDR_NO_RANDOMIZE) == -1:
        yield False
        return
    try:
        yield libc.personality(_QUERY) & _ADDR_NO_RANDOMIZE != 0
    finally:
        libc.personality(before)


_QUERY = 0xFFFFFFFF
_ADDR_NO_RANDOMIZE = 0x0040000


def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.personality.argtypes = [ctypes.c_ulong]
        libc.personality.restype = ctypes.c_int
        return libc
    except (OSError, AttributeError):
        return None


#: longest Unix socket path that every POSIX system accepts (Linux allows 107 bytes)
_SOCKET_PATH_MAX = 100


def _socket_path(workdir: Path) -> tuple[Path, Path | None]:
    """Where the turn socket goes: in ``workdir``, or in a short folder of its own (returned
    second, to remove) when that path would be too long for a Unix socket."""
    path = workdir / "turns.sock"
    if len(os.fsencode(path)) <= _SOCKET_PATH_MAX:
        return path, None
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="gb-", dir="/tmp"))
    return folder / "turns.sock", folder


def _save_name(side: Side) -> str:
    return f"{'base' if side.label == 'A' else 'head'}-{side.revision.short}"


def _saved_run(storage: Path) -> RunRecord | None:
    from greenbench.results_format import read_document_file

    files = sorted(storage.glob("*/*.json"))
    return read_document_file(files[-1]) if files else None


def _failure(side: Side) -> str:
    rev = f"{side.revision.name} ({side.revision.short})"
    code = side.returncode
    if code == _NO_TESTS:
        why = "pytest collected no tests: pass the benchmarks' path or -k/-m to select them"
    elif code == 0:
        why = "no energy benchmark ran (no test uses the energy_benchmark fixture)"
    else:
        tail = [line for line in side.log_tail().splitlines() if line.strip()]
        why = f"pytest exited {code}" + (f": {tail[-1].strip()}" if tail else "")
    return f"{rev}: {why} (log: {side.log})"
