"""Run in a fresh process that already imported torch: the fixed cost of measuring once.

Usage: python fixed_cost.py greenbench|codecarbon -> prints JSON {"seconds": s, "rss_mb": mb}
"""

import json
import logging
import os
import sys
import time

import psutil
import torch  # noqa: F401  (the premise: a process that already imported torch)

tool = sys.argv[1]
proc = psutil.Process()
rss0 = proc.memory_info().rss
t0 = time.perf_counter()
if tool == "greenbench":
    import greenbench

    with greenbench.measure("once") as m:
        pass
    greenbench.meter.default_meter().stop()
    assert m.measurement is not None
else:
    logging.disable(logging.CRITICAL)
    from codecarbon import OfflineEmissionsTracker

    tracker = OfflineEmissionsTracker(country_iso_code="USA", save_to_file=False,
                                      log_level="critical", output_dir=os.getcwd())
    tracker.start()
    tracker.stop()
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "rss_mb": (proc.memory_info().rss - rss0) / 2**20}))
