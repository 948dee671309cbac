"""``greenbench -v run``: the wall time of each phase of each case, printed when it ends.

It listens to the runner's events (``case``, ``phase``, ``case_done``); a phase lasts until
the next event that starts another one, the first (``start``: starting the worker) from the
case's start, the last until the case is done. The repeats are summed into one figure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


class PhaseTimes:
    def __init__(self, out: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.out, self.clock = out, clock
        self.spent: dict[str, float] = {}
        self.current: tuple[str, float] | None = None

    def event(self, e: dict[str, Any]) -> None:
        kind = e["event"]
        if kind == "case":  # until the worker reports its first phase: starting it
            self.spent, self.current = {}, ("start", self.clock())
        elif kind == "phase":
            self._close()
            name = "repeats" if e["phase"] == "repeat" else str(e["phase"])
            self.current = (name, self.clock())
        elif kind == "case_done":
            self._close()
            self.out.print(self.line(e["case"].label))

    def line(self, label: str) -> str:
        from rich.markup import escape

        from greenbench.units import fmt_duration

        if not self.spent:
            return escape(f"{label}: no phase reported")
        shown = ", ".join(f"{name} {fmt_duration(s)}" for name, s in self.spent.items())
        total = fmt_duration(sum(self.spent.values()))
        return escape(f"{label}: {total} in all: {shown}")

    def _close(self) -> None:
        if self.current is not None:
            name, started = self.current
            self.spent[name] = self.spent.get(name, 0.0) + self.clock() - started
            self.current = None
