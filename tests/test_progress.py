"""The live line of ``greenbench run``: an ETA from the first calibration on, counting down
between events, and the counters, times and power kept at 80 columns. Virtual time."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from greenbench.clock import VirtualClock
from greenbench.commands._progress import Eta, LiveProgress, ProgressLine, clock_text
from greenbench.units import fmt_power


@dataclass
class Spec:
    workload: str = "attention"
    params: dict[str, Any] = field(default_factory=lambda: {
        "mechanism": "linformer", "seq_len": 4096, "batch_size": 8, "d_model": 512})


@dataclass
class Case:
    status: str = "ok"
    label: str = "attention"
    error: str | None = None


def eta(clock: VirtualClock, cases: int = 3, repeats: int = 6, processes: int = 1) -> Eta:
    return Eta(cases, repeats, processes, idle_s=1.0, min_repeat_s=0.5, clock=clock)


def start_case(e: Eta | ProgressLine, index: int, of: int = 3) -> None:
    e.event({"event": "case", "index": index, "of": of, "spec": Spec()})


def phase(e: Eta | ProgressLine, name: str, repeat: int = 0, of: int = 6) -> None:
    event: dict[str, Any] = {"event": "phase", "phase": name}
    if name == "repeat":
        event.update(repeat=repeat, of=of)
    e.event(event)


def test_no_estimate_until_the_first_calibration_ends() -> None:
    clock = VirtualClock()
    e = eta(clock)
    assert e.remaining_s() is None
    start_case(e, 0)
    phase(e, "setup")
    clock.advance(1.0)
    phase(e, "warmup")
    clock.advance(2.0)
    assert e.remaining_s() is None  # still calibrating


def test_the_estimate_starts_at_calibration_and_counts_down() -> None:
    clock = VirtualClock()
    e = eta(clock)
    start_case(e, 0)
    phase(e, "setup")
    clock.advance(1.0)
    phase(e, "warmup")
    clock.advance(2.0)
    phase(e, "idle")  # calibrated after 3 s; idle 1 s to come, then 6 repeats of 0.5 s
    # this case: 1 s idle + 3 s repeats; two more cases of 4 s + 3 s each
    assert e.remaining_s() == pytest.approx(1 + 3 + 2 * 7)
    clock.advance(0.5)
    assert e.remaining_s() == pytest.approx(17.5)  # counts down between events


def test_repeats_seen_replace_the_configured_length() -> None:
    clock = VirtualClock()
    e = eta(clock, cases=1, repeats=4)
    start_case(e, 0, of=1)
    phase(e, "setup")
    clock.advance(3.0)
    phase(e, "warmup")
    phase(e, "idle")
    clock.advance(1.0)
    phase(e, "repeat", 1, 4)
    clock.advance(2.0)
    phase(e, "repeat", 2, 4)  # a repeat takes 2 s here, not the 0.5 s configured
    assert e.remaining_s() == pytest.approx(2.0 + 2 * 2.0)
    clock.advance(1.5)
    assert e.remaining_s() == pytest.approx(0.5 + 2 * 2.0)


def test_cases_not_started_take_as_long_as_the_finished_ones() -> None:
    clock = VirtualClock()
    e = eta(clock, cases=3, repeats=2)
    for index, took in ((0, 10.0), (1, 20.0)):
        start_case(e, index)
        phase(e, "setup")
        phase(e, "warmup")
        clock.advance(1.0)
        phase(e, "idle")
        phase(e, "repeat", 1, 2)
        clock.advance(took - 1.0)
        e.event({"event": "case_done", "index": index, "case": Case()})
    assert e.remaining_s() == pytest.approx(15.0)  # one case left, the mean of 10 s and 20 s
    start_case(e, 2)
    phase(e, "setup")
    clock.advance(0.5)
    # the third case's worker started 0.5 s ago and the others took 1 s to their first repeat;
    # no repeat was seen to its end, so two of 0.5 s as configured
    assert e.remaining_s() == pytest.approx(0.5 + 2 * 0.5)


def test_each_worker_of_a_case_is_counted() -> None:
    clock = VirtualClock()
    e = eta(clock, cases=1, repeats=4, processes=2)
    start_case(e, 0, of=1)
    phase(e, "setup")
    clock.advance(2.0)
    phase(e, "warmup")
    phase(e, "idle")  # expected start-up of a worker: 2 s + 1 s idle
    assert e.remaining_s() == pytest.approx(1.0 + 4 * 0.5 + 3.0)  # the second worker too


@pytest.mark.parametrize("width", [80, 200])
def test_the_line_keeps_counters_times_and_power(width: int) -> None:
    clock = VirtualClock()
    line = ProgressLine(eta(clock, cases=12, repeats=6))
    clock.advance(3725.0)
    start_case(line, 9, of=12)
    phase(line, "setup")
    clock.advance(2.0)
    phase(line, "warmup")
    clock.advance(3.0)
    phase(line, "idle")
    clock.advance(1.0)
    phase(line, "repeat", 1, 6)
    line.event({"event": "power", "power_w": 123.45})
    text = line.text(width)
    assert len(text) <= width
    for piece in ("case 10/12", "repeat 1/6", "1:02:11 elapsed", "left", fmt_power(123.45)):
        assert piece in text, (piece, text)
    assert ("attention[mechanism=linformer, seq_len=4096, batch_size=8, d_model=512]" in text) \
        == (width == 200)
    assert "attention[" in text  # the name is cut, never dropped, at 80 columns
    assert ("━" in text) == (width == 200)  # a bar where there is room for it


def test_the_bar_fills_with_the_repeats_that_ended() -> None:
    from greenbench.commands._progress import bar

    clock = VirtualClock()
    e = eta(clock, cases=2, repeats=4)
    assert e.done_share() == 0.0
    start_case(e, 0, of=2)
    phase(e, "setup")
    for i in (1, 2, 3):
        phase(e, "repeat", i, 4)
    assert e.done_share() == pytest.approx(2 / 8)  # the third repeat is still running
    e.event({"event": "case_done", "index": 0, "case": Case()})
    assert e.done_share() == pytest.approx(0.5)
    assert bar(0.5, 10) == "━━━━━╺────" and bar(1.0, 4) == "━━━━" and bar(0, 3) == "╺──"


def test_live_progress_prints_its_last_line_on_a_console_of_80_columns() -> None:
    buffer = io.StringIO()
    out = Console(width=80, file=buffer, highlight=False, color_system=None)
    clock = VirtualClock()
    with LiveProgress(out, eta(clock, cases=1)) as progress:
        start_case(progress, 0, of=1)
        phase(progress, "setup")
        progress.event({"event": "case_done", "index": 0,
                        "case": Case(status="failed", label="attention[x=1]", error="boom")})
    lines = buffer.getvalue().splitlines()
    assert "attention[x=1]: failed: boom" in lines
    assert all(len(line) <= 80 for line in lines)
    assert any(line.startswith("case 1/1") for line in lines)


def test_clock_text() -> None:
    assert [clock_text(s) for s in (0, 41.4, 725, 3761)] == ["0:00", "0:41", "12:05",
                                                              "1:02:41"]


def test_a_workers_start_up_counts_before_its_first_phase() -> None:
    clock = VirtualClock()
    e = eta(clock, cases=1, repeats=2)
    start_case(e, 0, of=1)
    clock.advance(1.5)  # forking the worker, importing the workload
    phase(e, "setup")
    phase(e, "warmup")
    clock.advance(1.0)
    phase(e, "idle")
    assert e.remaining_s() == pytest.approx((1.5 + 1.0 + 1.0) - 2.5 + 2 * 0.5)


def test_the_line_names_a_case_by_the_parameters_that_vary() -> None:
    from greenbench.commands._progress import short_names

    specs = [Spec(params={"mechanism": "linformer", "seq_len": n, "batch_size": 8})
             for n in (256, 4096)]
    clock = VirtualClock()
    line = ProgressLine(eta(clock, cases=2), short_names(specs))
    line.event({"event": "case", "index": 1, "of": 2, "spec": specs[1]})
    assert line.text(80).endswith("attention[seq_len=4096]")


# --------------------------------------------------------------------------- a real terminal

SPIN = '''
import greenbench


def loops(n: int = 200) -> dict:
    return {"n": n}


@greenbench.workload(unit="loops", setup=loops)
def spin(n: int) -> None:
    """A few microseconds of work a step."""
    sum(range(n))
'''


@pytest.mark.parametrize("width", [80, 200])
def test_the_line_in_a_real_terminal(tmp_path: Path, width: int) -> None:
    """``greenbench run`` in a tmux pane: its last progress line is one line, within the
    pane's width, with every part in it."""
    import shutil
    import subprocess
    import sys
    import time

    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (apt-get install tmux)")
    (tmp_path / "spin.py").write_text(SPIN)
    done = tmp_path / "done"
    command = (f"{sys.executable} -m greenbench run spin --workload-file {tmp_path}/spin.py "
               f"-p n=100,200 --repeats 2 --warmup 0.05 --idle 0.05 --min-duration 0.05 "
               f"--store {tmp_path}/store.sqlite 2>&1; touch {done}; sleep 60")
    session = f"greenbench-progress-{width}-{tmp_path.name}"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TERM": "xterm-256color"}
    subprocess.run(["tmux", "-L", session, "new-session", "-d", "-s", session, "-x",
                    str(width), "-y", "50", command], check=True, env=env)
    try:
        deadline = time.monotonic() + 120
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        screen = subprocess.run(["tmux", "-L", session, "capture-pane", "-p", "-t", session],
                                capture_output=True, text=True, check=True).stdout
    finally:
        subprocess.run(["tmux", "-L", session, "kill-server"], check=False)
    assert done.exists(), screen
    lines = screen.splitlines()
    progress = [line for line in lines if re.match(r"case \d+/\d+ ", line)]
    assert progress, screen
    last = progress[-1]
    assert len(last) <= width
    for piece in ("case 2/2", "2/2", "elapsed", "left", "spin"):
        assert piece in last, (piece, screen)
