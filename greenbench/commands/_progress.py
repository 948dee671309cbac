"""The live line of ``greenbench run``: case i of N, the phase with repeat i of n, elapsed
time, the time left and live power, in that order of precedence on a narrow terminal.

The time left is estimated from what the run has shown so far and counts down between events:

- a worker's start-up, setup, warm-up (calibration), settle and idle baseline: as observed in
  this run, and for the first worker from the moment its calibration ends (its start-up and
  warm-up as seen, plus the idle baseline it is configured to take);
- a repeat: as long as the repeats seen so far, else the configured shortest repeat (which
  calibration aims at);
- a case not started: as long as the cases finished so far took on average, else as the first
  case is expected to take.

Until the first worker's calibration ends there is nothing to go on, and the line says so.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from greenbench.clock import SYSTEM, Clock
from greenbench.units import fmt_power


class Eta:
    """The remaining time of a run, from the runner's events (see greenbench.worker)."""

    def __init__(self, cases: int, repeats: int, processes: int, idle_s: float,
                 min_repeat_s: float, clock: Clock = SYSTEM) -> None:
        self.cases, self.repeats, self.idle_s = cases, repeats, idle_s
        self.processes = max(1, min(processes, repeats))
        self.min_repeat_s, self.clock = min_repeat_s, clock
        self.started = clock.monotonic()
        self.index = -1  # the case running
        self.case_s: list[float] = []  # cases finished
        self.overhead_s: list[float] = []  # a worker's start until its first repeat
        self.repeat_s: list[float] = []  # one repeat start to the next
        self.expected_overhead_s: float | None = None  # for the first worker, once calibrated
        self._case_start = self._proc_start = self._repeat_start = 0.0
        self._workers = 0  # workers started in this case
        self.repeat = 0  # repeats started in this case
        self.phase = "starting"

    def event(self, e: dict[str, Any]) -> None:
        now = self.clock.monotonic()
        kind = e["event"]
        if kind == "case":
            self.index = int(e["index"])
            self.cases = int(e.get("of", self.cases))
            self._case_start = now
            self._workers, self.repeat, self._repeat_start = 0, 0, 0.0
            self.phase = "setup"
        elif kind == "phase":
            self._phase(str(e["phase"]), now)
        elif kind == "case_done":
            self.case_s.append(now - self._case_start)
            self.phase = "done"

    def _phase(self, phase: str, now: float) -> None:
        if phase == "setup":  # a new worker of this case (the first one's start-up counts)
            self._workers += 1
            self._proc_start = self._case_start if self._workers == 1 else now
            self._repeat_start = 0.0
        elif phase == "repeat":
            if self._repeat_start:
                self.repeat_s.append(now - self._repeat_start)
            else:
                self.overhead_s.append(now - self._proc_start)
            self._repeat_start = now
            self.repeat += 1
        elif self.phase == "warmup" and self.expected_overhead_s is None:
            # calibration is over: the first worker's start-up and warm-up are known
            self.expected_overhead_s = now - self._proc_start + self.idle_s
        self.phase = phase

    def done_share(self) -> float:
        """The share of the run's repeats that have ended (0 to 1)."""
        if self.index < 0 or not self.cases:
            return 0.0
        ended = self.repeats if self.phase == "done" else max(0, self.repeat - 1)
        return min(1.0, (self.index + ended / max(self.repeats, 1)) / self.cases)

    def elapsed_s(self) -> float:
        return self.clock.monotonic() - self.started

    def remaining_s(self) -> float | None:
        """Seconds left, or None before the first calibration has ended."""
        if self.overhead_s:
            overhead = statistics.fmean(self.overhead_s)
        elif self.expected_overhead_s is not None:
            overhead = self.expected_overhead_s
        else:
            return None
        now = self.clock.monotonic()
        repeat = statistics.fmean(self.repeat_s) if self.repeat_s else self.min_repeat_s
        if self.index < 0 or self.phase == "done":
            left = 0.0
        else:
            if self._repeat_start:  # in a repeat: what is left of it
                left = max(0.0, self._repeat_start + repeat - now)
            else:  # still starting, warming up or measuring idle
                left = max(0.0, self._proc_start + overhead - now)
            left += (self.repeats - self.repeat) * repeat
            left += max(0, self.processes - max(self._workers, 1)) * overhead
        per_case = (statistics.fmean(self.case_s) if self.case_s
                    else self.processes * overhead + self.repeats * repeat)
        return left + max(0, self.cases - self.index - 1) * per_case


class ProgressLine:
    """A rich renderable: the line as it stands at each refresh, fitted to the width."""

    def __init__(self, eta: Eta, names: Sequence[str] = ()) -> None:
        self.eta = eta
        self.names = list(names)  # each case's short name, if known
        self.label = ""
        self.power = ""

    def event(self, e: dict[str, Any]) -> None:
        self.eta.event(e)
        kind = e["event"]
        if kind == "case":
            spec, index = e["spec"], int(e["index"])
            shown = ", ".join(f"{k}={v}" for k, v in spec.params.items())
            self.label = (self.names[index] if index < len(self.names) else
                          f"{spec.workload}[{shown}]" if shown else spec.workload)
            self.power = ""
        elif kind == "power":
            self.power = fmt_power(e["power_w"])

    def text(self, width: int) -> str:
        """The line within ``width``: the counters, times and power first, then as much of
        the case's name as there is room for, and a bar of the run's progress where there
        is room for one too."""
        eta = self.eta
        remaining = eta.remaining_s()
        parts = [f"case {max(eta.index, 0) + 1}/{eta.cases}",
                 f"{eta.phase} {eta.repeat}/{eta.repeats}",
                 f"{clock_text(eta.elapsed_s())} elapsed",
                 "calibrating" if remaining is None else f"~{clock_text(remaining)} left"]
        if self.power:
            parts.append(self.power)
        line = "  ".join(parts)
        room = width - len(line) - 2
        if self.label and room >= 4:
            label = self.label if len(self.label) <= room else self.label[:room - 1] + "…"
            line += "  " + label
        room = width - len(line) - 2
        if room >= MIN_BAR:
            line += "  " + bar(eta.done_share(), min(room, MAX_BAR))
        return line[:width]

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.text import Text

        yield Text(self.text(options.max_width), no_wrap=True, overflow="crop")


#: the narrowest and widest bar shown
MIN_BAR, MAX_BAR = 10, 40


def bar(share: float, width: int) -> str:
    """``━━━━━━╺─────``: ``share`` (0 to 1) of ``width`` filled."""
    filled = min(width, max(0, int(share * width)))
    return "━" * filled + ("╺" + "─" * (width - filled - 1) if filled < width else "")


def clock_text(seconds: float) -> str:
    """``0:41``, ``12:05``, ``1:02:41``."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, s = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{s:02d}" if hours else f"{minutes}:{s:02d}"


def short_names(specs: Sequence[Any]) -> list[str]:
    """The cases' names as the results table gives them: the workload and the parameters
    that vary (the rest would push what tells the cases apart off a narrow line)."""
    from greenbench.records import CaseRecord, case_names

    return case_names([CaseRecord(workload=s.workload, params=dict(s.params), status="planned")
                       for s in specs])


class LiveProgress:
    """The line on the console while the run lasts (refreshed four times a second, so the
    times move between events); a case that fails is reported above it."""

    def __init__(self, out: Any, eta: Eta, names: Sequence[str] = ()) -> None:
        from rich.live import Live

        self.line = ProgressLine(eta, names)
        self.live = Live(self.line, console=out, refresh_per_second=4, transient=False,
                         redirect_stdout=False, redirect_stderr=False)

    def __enter__(self) -> LiveProgress:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def event(self, e: dict[str, Any]) -> None:
        self.line.event(e)
        if e["event"] == "case_done" and e["case"].status != "ok":
            from rich.markup import escape

            case = e["case"]
            self.live.console.print(f"[yellow]{escape(case.label)}: {case.status}: "
                                    f"{escape(str(case.error))}[/yellow]")
