"""Run in a fresh interpreter: the meter's sampling overhead on a CPU-bound loop.

Usage: python overhead.py INTERVAL_S -> prints JSON with the ratios, the interval the meter
chose, what one background sample and one window edge cost, and the sensors.

A bare run and a metered run side by side, in alternating order (A B, B A): a drift of the
machine or a second-run advantage hits both alike, and the median of the paired ratios
ignores the pairs a neighbour disturbed. Two ratios: of wall time (what a user waits; on a
shared machine the neighbours' load moves it by a few percent either way) and of the
process's CPU time (every thread's, so the sampling thread's own work is in it, while time
spent waiting for a neighbour is not). A fresh process, because a test runner's own threads
and heap (pytest's, here 1-2% on the same loop) are not the meter's cost.
"""

import json
import statistics
import sys
import time

from greenbench.meter import Meter
from greenbench.sensors.base import ModelSensor
from greenbench.sensors.registry import available_sensors, probe_all


def cpu_bound() -> None:
    total = 0
    for i in range(3_000_000):
        total += i * i


def timed() -> tuple[float, float]:
    t, c = time.perf_counter(), time.process_time()
    cpu_bound()
    return time.perf_counter() - t, time.process_time() - c


def read_cost_ms(sensors: list, edge: bool, n: int = 200) -> float:
    """Mean milliseconds to read every sensor once, as a sample (or a window edge) does."""
    def read_all() -> None:
        for s in sensors:
            s.read_state(edge) if isinstance(s, ModelSensor) else s.read()
    t = time.perf_counter()
    for _ in range(n):
        read_all()
    return (time.perf_counter() - t) / n * 1e3


interval_s = float(sys.argv[1])
sensors = available_sensors(probe_all())
meter = Meter(sensors, interval_s=interval_s)
wall, cpu = [], []
for i in range(41):
    if i % 2:
        with meter:
            metered = timed()
        bare = timed()
    else:
        bare = timed()
        with meter:
            metered = timed()
    wall.append(metered[0] / bare[0])
    cpu.append(metered[1] / bare[1])
print(json.dumps({"wall_ratio": statistics.median(wall), "cpu_ratio": statistics.median(cpu),
                  "interval_s": meter.interval_s,
                  "sample_ms": read_cost_ms(sensors, edge=False),
                  "edge_ms": read_cost_ms(sensors, edge=True),
                  "sensors": [f"{s.domain} ({s.source})" for s in sensors]}))
