"""Shared test settings.

Benchmarks (tests/benchmarks) hold speed and memory targets measured as ratios; they run in
the nox `bench` session (GREENBENCH_BENCH=1), not in the unit-test run, because this machine
is shared and noisy.
"""

from __future__ import annotations

import os

collect_ignore = [] if os.environ.get("GREENBENCH_BENCH") else ["benchmarks"]
