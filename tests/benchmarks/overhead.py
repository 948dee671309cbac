"""Run in a fresh interpreter: the meter's sampling overhead on a CPU-bound loop.

Usage: python overhead.py INTERVAL_S -> prints JSON {"ratio": r, "interval_s": s, "sensors": [...]}

A bare run and a metered run side by side, in alternating order (A B, B A): a drift of the
machine or a second-run advantage hits both alike, and the median of the paired ratios
ignores the pairs a neighbour disturbed. A fresh process, because a test runner's own
threads and heap (pytest's, here 1-2% on the same loop) are not the meter's cost.
"""

import json
import statistics
import sys
import time

from greenbench.meter import Meter
from greenbench.sensors.registry import available_sensors, probe_all


def cpu_bound() -> None:
    total = 0
    for i in range(3_000_000):
        total += i * i


def timed() -> float:
    t = time.perf_counter()
    cpu_bound()
    return time.perf_counter() - t


interval_s = float(sys.argv[1])
sensors = available_sensors(probe_all())
meter = Meter(sensors, interval_s=interval_s)
ratios = []
for i in range(41):
    if i % 2:
        with meter:
            metered = timed()
        bare = timed()
    else:
        bare = timed()
        with meter:
            metered = timed()
    ratios.append(metered / bare)
print(json.dumps({"ratio": statistics.median(ratios), "interval_s": meter.interval_s,
                  "sensors": [f"{s.domain} ({s.source})" for s in sensors]}))
