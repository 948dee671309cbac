"""The turn two pytest processes pass back and forth: one measures while the other waits.

Each process asks for the turn before a benchmark's calibration and before each of its rounds
(greenbench.pytest_energy.turns). :func:`choose` decides who gets it; the order that comes
out, for benchmarks both revisions have, is A B, B A, A B, ...: both halves of a pair run
back to back, and which half goes first alternates from pair to pair, so that neither
revision always measures right after the other (warm caches, a core's clock just raised).
A side whose partner lacks the benchmark, has finished, or stays away longer than
``partner_wait_s`` is not held up.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

SIDES = ("A", "B")
PARTNER_WAIT_S = 30.0
"""How long a side waits for the other to reach the same round before it measures alone."""


def other(side: str) -> str:
    return "B" if side == "A" else "A"


def choose(
    pending: Mapping[str, str | None],
    done: Mapping[str, set[str]],
    finished: Mapping[str, bool],
    waited_s: Mapping[str, float],
    first: str,
    partner_wait_s: float = PARTNER_WAIT_S,
    last: str | None = None,
) -> str | None:
    """The side to give the free turn to now, or None to wait.

    ``pending``: the key each side waits for (None: not waiting); ``done``: keys each side has
    measured; ``finished``: the side's process is gone; ``waited_s``: how long each pending
    side has waited; ``first``: who opens the next pair; ``last``: who had the turn last.
    """
    waiting = [s for s in SIDES if pending[s] is not None]
    for side in waiting:  # the second half of a pair goes right after the first
        if pending[side] in done[other(side)]:
            return side
    if len(waiting) == 2:
        if pending["A"] == pending["B"]:
            return first
        # different benchmarks (one lacks one): take turns, so that the side that is behind
        # catches up and the next benchmark both have pairs again
        return other(last) if last in SIDES else max(waiting, key=lambda s: waited_s[s])
    if waiting:
        side = waiting[0]
        if finished[other(side)] or waited_s[side] >= partner_wait_s:
            return side
    return None


@dataclass
class _State:
    pending: str | None = None
    since: float = 0.0
    done: set[str] = field(default_factory=set)
    finished: bool = False
    conn: socket.socket | None = None


class TurnScheduler:
    """Serves the turn on a Unix socket at ``path`` from a background thread.

    Use as a context manager around the two processes; call :meth:`finished` when one exits.
    ``grants`` lists (side, key) in the order the turn was given.
    """

    def __init__(self, path: Path, partner_wait_s: float = PARTNER_WAIT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.partner_wait_s = partner_wait_s
        self.grants: list[tuple[str, str]] = []
        self._clock = clock
        self._sides = {s: _State() for s in SIDES}
        self._holder: str | None = None
        self._pairs = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._thread = threading.Thread(target=self._serve, name="greenbench-turns",
                                        daemon=True)

    def __enter__(self) -> TurnScheduler:
        self._server.bind(str(self.path))
        self._server.listen(4)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()
        self.path.unlink(missing_ok=True)

    def finished(self, side: str) -> None:
        """``side``'s process has exited: the other never waits for it again."""
        with self._lock:
            self._drop(side)

    # -- the loop -----------------------------------------------------------------------------

    def _serve(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._server, selectors.EVENT_READ)
        buffers: dict[socket.socket, bytes] = {}
        names: dict[socket.socket, str] = {}
        while not self._stop.is_set():
            for key, _ in sel.select(timeout=0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self._server:
                    conn, _ = self._server.accept()
                    sel.register(conn, selectors.EVENT_READ)
                    buffers[conn] = b""
                    continue
                data = sock.recv(4096)
                if not data:
                    sel.unregister(sock)
                    sock.close()
                    side = names.pop(sock, None)
                    if side is not None:
                        with self._lock:
                            self._drop(side)
                    continue
                buffers[sock] += data
                while b"\n" in buffers[sock]:
                    line, _, buffers[sock] = buffers[sock].partition(b"\n")
                    self._handle(sock, line.decode("utf-8"), names)
            with self._lock:
                self._grant()
        sel.close()

    def _handle(self, sock: socket.socket, line: str, names: dict[socket.socket, str]) -> None:
        word, _, rest = line.partition(" ")
        with self._lock:
            if word == "hello" and rest in SIDES:
                names[sock] = rest
                self._sides[rest].conn = sock
                return
            side = names.get(sock)
            if side is None:
                return
            state = self._sides[side]
            if word == "begin":
                state.pending, state.since = rest, self._clock()
            elif word == "end" and self._holder == side:
                self._holder = None

    def _grant(self) -> None:
        if self._holder is not None:
            return
        now = self._clock()
        states = self._sides
        side = choose(
            {s: st.pending for s, st in states.items()},
            {s: st.done for s, st in states.items()},
            {s: st.finished for s, st in states.items()},
            {s: now - st.since for s, st in states.items()},
            SIDES[self._pairs % 2],
            self.partner_wait_s,
            self.grants[-1][0] if self.grants else None,
        )
        if side is None:
            return
        state = states[side]
        key = state.pending
        assert key is not None and state.conn is not None
        if key not in states[other(side)].done:
            self._pairs += 1  # this opens a pair: the next pair opens with the other side
        state.pending = None
        state.done.add(key)
        self._holder = side
        self.grants.append((side, key))
        try:
            state.conn.sendall(b"go\n")
        except OSError:
            self._drop(side)

    def _drop(self, side: str) -> None:
        state = self._sides[side]
        state.finished = True
        state.pending = None
        if self._holder == side:
            self._holder = None
