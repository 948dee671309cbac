"""Shared test settings.

Benchmarks (tests/benchmarks) hold speed and memory targets measured as ratios; they run in
the nox `bench` session (GREENBENCH_BENCH=1), not in the unit-test run, because this machine
is shared and noisy.
"""

from __future__ import annotations

import os
import signal

collect_ignore = [] if os.environ.get("GREENBENCH_BENCH") else ["benchmarks"]

# A suite started in the background by a non-interactive shell (`cmd &`, as some CI agents
# do) inherits SIGINT ignored; Python then sets no KeyboardInterrupt handler, in this process
# or in the greenbench processes the Ctrl-C tests start, which inherit the ignoring. Python's
# own handler here makes every process started from now on begin with SIGINT at its default.
signal.signal(signal.SIGINT, signal.default_int_handler)
