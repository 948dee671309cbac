"""Where a suite's wall time goes: measured repeats against process start, imports, set-up,
calibration and warm-up, settle, idle, and storage. Reported for the quick suite (the
target is that repeats take at least 60% of the wall time; the printout says how far)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from greenbench.runner import RunConfig, plan, run
from greenbench.store import Store
from greenbench.workload import discover

pytest.importorskip("torch")


def test_share_of_the_quick_suite_spent_in_repeats(benchmark, tmp_path: Path) -> None:
    registry = discover([])
    specs = plan(registry, [], {}, "quick", "cpu")
    marks: list[tuple[float, str]] = []
    t0 = time.perf_counter()
    record = run(specs, RunConfig(), registry, Store(tmp_path / "s.sqlite"),
                 on_event=lambda e: marks.append((time.perf_counter(), str(e.get("phase")
                                                                             or e["event"]))))
    wall = time.perf_counter() - t0
    ok = [c for c in record.cases if c.status == "ok"]
    repeats = sum(r.measurement.duration_s for c in ok for r in c.repeats)
    warmup = sum(c.warmup_window.duration_s for c in ok if c.warmup_window)
    idle = sum(c.idle.duration_s for c in ok if c.idle)
    settle = sum(c.warmup.settle_s or 0.0 for c in ok if c.warmup)
    # process start, imports and the workload's set-up: from a case's start to its warm-up
    starts = [t for t, name in marks if name == "case"]
    warmups = [t for t, name in marks if name == "warmup"]
    setup = sum(w - s for s, w in zip(starts, warmups, strict=False))
    rest = wall - repeats - warmup - idle - settle - setup
    shares = {"repeats": repeats, "start+imports+setup": setup, "calibration+warm-up": warmup,
              "settle": settle, "idle": idle, "quality, teardown, storage": rest}
    benchmark.extra_info.update({k: v / wall for k, v in shares.items()})
    print(f"\nquick suite, {len(ok)} cases, {wall:.1f} s wall:")
    for name, seconds in shares.items():
        print(f"  {name:<28} {seconds:6.1f} s  {seconds / wall:5.0%}")
    benchmark.pedantic(lambda: None, rounds=1)
    assert len(ok) == len(specs)
