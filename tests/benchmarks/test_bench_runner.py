"""The runner's own cost per case (worker start, calibration, storage) against the work it
measures. Warm-up and the idle baseline are part of the method, so they are not counted as
overhead; everything else outside the measured repeats is."""

from __future__ import annotations

import time
from pathlib import Path

from greenbench.runner import CaseSpec, RunConfig, run
from greenbench.store import Store
from greenbench.workload import discover

FILE = str(Path(__file__).parent.parent / "data" / "basic_workloads.py")


def test_runner_overhead_per_case(benchmark, tmp_path: Path) -> None:
    registry = discover([FILE], entry_points=False)
    config = RunConfig(repeats=6, min_duration_s=0.5, warmup_s=0.5, idle_s=0.5,
                       workload_files=[FILE])
    specs = [CaseSpec("spin", {"n": 2000, "mode": "sum"}) for _ in range(3)]
    store = Store(tmp_path / "s.sqlite")
    t0 = time.perf_counter()
    record = run(specs, config, registry, store)
    wall = time.perf_counter() - t0
    measured = sum(r.measurement.duration_s for c in record.cases for r in c.repeats)
    method = sum(c.warmup_window.duration_s + c.idle.duration_s for c in record.cases
                 if c.warmup_window and c.idle)
    overhead_per_case = (wall - measured - method) / len(specs)
    benchmark.extra_info.update({"overhead_s_per_case": overhead_per_case,
                                 "measured_s_per_case": measured / len(specs)})
    print(f"\nrunner overhead {overhead_per_case:.2f} s per case against "
          f"{measured / len(specs):.2f} s measured ({overhead_per_case / wall * 3:.0%} of wall)")
    benchmark.pedantic(lambda: store.list_runs(), rounds=3)
    # a fresh interpreter, sensor probing and the store write: under 2 s on a 2-core VM
    assert overhead_per_case < 2.0
