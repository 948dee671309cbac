"""Taking turns with another pytest process, so that two revisions' rounds interleave.

``greenbench gate`` runs the base and the head revision's benchmarks in two pytest processes at
once and lets only one of them measure at a time: before a benchmark's calibration and before
each of its rounds the fixture asks for the turn (:func:`begin`), and gives it back after
(:func:`end`). The gate's scheduler (greenbench.ab.scheduler) hands the turn over A B, B A,
A B, ... so that round *i* of both revisions runs seconds apart.

A process keeps the turn after :func:`end` until it asks again or exits: whatever it does in
between (a test's own fixtures, tests that are not benchmarks, the end of the session: saving
its results, the terminal summary) never runs beside the other revision's rounds. Measured
here before that rule, the partner's end of session made the last round of the last
benchmark read 25-110% high.

Inert unless the environment names a scheduler (:data:`ENV`, ``SOCKET_PATH:SIDE``): then the
first :func:`begin` connects to it over a Unix socket. Lines: ``hello SIDE`` once, then
``begin KEY`` (answered ``go``) and ``end`` (sent when the process asks again). When the
scheduler goes away the benchmarks carry on without turns, so no measurement is lost.
"""

from __future__ import annotations

import os
import socket

ENV = "GREENBENCH_AB_TURNS"


class _Client:
    def __init__(self, spec: str) -> None:
        path, _, side = spec.rpartition(":")
        self.sock: socket.socket | None = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.reader = self.sock.makefile("r", encoding="utf-8")
        self.holding = False
        self._send(f"hello {side}")

    def begin(self, key: str) -> None:
        if self.holding:  # hand the turn over only now (see the module docstring)
            self.holding = False
            self._send("end")
        self._send(f"begin {key}")
        if self.sock is not None and self.reader.readline().strip() == "go":
            self.holding = True
        else:
            self._drop()

    def _send(self, line: str) -> None:
        if self.sock is None:
            return
        try:
            self.sock.sendall((line.replace("\n", " ") + "\n").encode("utf-8"))
        except OSError:
            self._drop()

    def _drop(self) -> None:
        if self.sock is not None:
            self.reader.close()  # the socket's file descriptor stays open while it is
            self.sock.close()
        self.sock = None
        self.holding = False


_client: _Client | None = None


def begin(nodeid: str, phase: str) -> None:
    """Wait for the turn to run ``phase`` (``setup``, ``round 3``) of benchmark ``nodeid``."""
    global _client
    spec = os.environ.get(ENV)
    if not spec:
        return
    if _client is None:
        try:
            _client = _Client(spec)
        except OSError:
            os.environ.pop(ENV, None)  # no scheduler: measure without turns
            return
    _client.begin(f"{nodeid}#{phase}")


def end() -> None:
    """The measured part is over. The turn itself is handed over when this process next asks
    for it, or exits (see the module docstring)."""
