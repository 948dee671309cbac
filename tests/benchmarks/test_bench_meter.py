"""The meter's cost: sampling overhead, fixed cost against CodeCarbon, CLI start-up.

Targets are ratios measured in one run, alternating A and B, because this machine is shared
and noisy: sampling at the default interval and at 100 Hz costs a CPU-bound loop at most 1% of
its CPU time (a model estimate is read in the background at most every 0.1 s: its windows
come from their edges), and what one sample costs times the sampling rate stays under 1%;
measuring
once costs at most a third of CodeCarbon's time and at most 20 MB; `greenbench --help`
starts in under 0.3 s.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from greenbench.meter import DEFAULT_INTERVAL_S

HERE = Path(__file__).parent


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def overhead(interval_s: float) -> dict:
    out = subprocess.run([sys.executable, str(HERE / "overhead.py"), str(interval_s)],
                         capture_output=True, text=True, timeout=300, cwd=HERE, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def across_processes(interval_s: float, processes: int = 5) -> dict:
    """The median over fresh processes: within one, the paired ratio is steady, but it moves
    by 1-2% from one process to the next for the same settings (two identical runs read
    1.016 and 0.990 on the quiet VM), so one process cannot resolve a 1% cost."""
    runs = [overhead(interval_s) for _ in range(processes)]
    return {**runs[0], **{k: statistics.median(r[k] for r in runs)
                          for k in ("cpu_ratio", "wall_ratio", "sample_ms", "edge_ms")}}


def test_sampling_overhead_on_a_cpu_bound_loop(benchmark) -> None:
    default, fast = across_processes(DEFAULT_INTERVAL_S), across_processes(0.01)
    benchmark.extra_info.update({
        "cpu_ratio_default_interval": default["cpu_ratio"],
        "cpu_ratio_100hz": fast["cpu_ratio"],
        "wall_ratio_default_interval": default["wall_ratio"],
        "wall_ratio_100hz": fast["wall_ratio"],
        "sample_ms": fast["sample_ms"], "edge_ms": fast["edge_ms"]})
    print(f"\nmeter overhead, CPU time (wall time): x{default['cpu_ratio']:.4f} "
          f"(x{default['wall_ratio']:.4f}) at {DEFAULT_INTERVAL_S} s, x{fast['cpu_ratio']:.4f} "
          f"(x{fast['wall_ratio']:.4f}) at 100 Hz asked (sampling every "
          f"{fast['interval_s']:g} s with {', '.join(fast['sensors'])}); one sample reads in "
          f"{fast['sample_ms']:.3f} ms, one window edge in {fast['edge_ms']:.3f} ms")
    benchmark.pedantic(lambda: overhead(DEFAULT_INTERVAL_S), rounds=1)
    # the meter's cost is CPU work: its thread's, and the loop's own slowdown; wall time on a
    # shared 2-core machine moves by a few percent with the neighbours and is only reported
    assert default["cpu_ratio"] <= 1.01
    assert fast["cpu_ratio"] <= 1.01
    # what a sample costs times how often it runs: the overhead's budget, from its parts
    assert fast["sample_ms"] / 1e3 / fast["interval_s"] <= 0.01


def run_fixed_cost(tool: str) -> dict:
    out = subprocess.run([sys.executable, str(HERE / "fixed_cost.py"), tool],
                         capture_output=True, text=True, timeout=300, cwd=HERE, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_fixed_cost_against_codecarbon(benchmark) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("codecarbon")
    ours, theirs = [], []
    for _ in range(3):
        ours.append(run_fixed_cost("greenbench"))
        theirs.append(run_fixed_cost("codecarbon"))
    t_ours = statistics.median(r["seconds"] for r in ours)
    t_theirs = statistics.median(r["seconds"] for r in theirs)
    mb_ours = statistics.median(r["rss_mb"] for r in ours)
    mb_theirs = statistics.median(r["rss_mb"] for r in theirs)
    benchmark.extra_info.update({"greenbench_s": t_ours, "codecarbon_s": t_theirs,
                                 "greenbench_mb": mb_ours, "codecarbon_mb": mb_theirs})
    print(f"\nfixed cost: greenbench {t_ours:.3f} s / {mb_ours:.1f} MB, "
          f"CodeCarbon {t_theirs:.3f} s / {mb_theirs:.1f} MB, ratio {t_ours / t_theirs:.3f}")
    benchmark.pedantic(lambda: None, rounds=1)
    assert t_ours <= t_theirs / 3
    assert mb_ours <= 20


def test_help_starts_fast(benchmark) -> None:
    exe = Path(sys.executable).with_name("greenbench")
    cmd = [str(exe), "--help"] if exe.exists() else [sys.executable, "-m", "greenbench",
                                                     "--help"]
    times = [timed(lambda: subprocess.run(cmd, capture_output=True, check=True))
             for _ in range(7)]
    benchmark.extra_info["help_s_min"] = min(times)
    print(f"\ngreenbench --help: {min(times) * 1e3:.0f} ms (min of 7)")
    benchmark.pedantic(lambda: subprocess.run(cmd, capture_output=True, check=True), rounds=3)
    assert min(times) < 0.3
