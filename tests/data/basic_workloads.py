"""Small workloads for the runner's tests: no torch, each does one thing on purpose."""

import os
import signal
import time

import greenbench
from greenbench import Param, Suite, Workload


@greenbench.workload(unit="items", units_per_step=lambda p: p["n"], variants=("mode",))
def spin(n: int = 2000, mode: str = "sum"):
    """Sum or sort a range of numbers."""
    if mode == "sort":
        sorted(range(n, 0, -1))
    else:
        sum(range(n))


class Crash(Workload):
    name = "crash"
    description = "Raises in setup"

    def setup(self, params, device):
        raise RuntimeError("boom in setup")


class Killed(Workload):
    name = "killed"
    description = "Killed by SIGKILL mid-step, as the out-of-memory killer does"

    def step(self, state):
        os.kill(os.getpid(), signal.SIGKILL)


class Hang(Workload):
    name = "hang"
    description = "Never finishes a step"

    def step(self, state):
        time.sleep(3600)


class Slow(Workload):
    name = "slow"
    description = "Each step sleeps; for interrupting a run"
    params = (Param("sleep_s", float, 0.05, minimum=0.0),)

    def step(self, state):
        time.sleep(state["sleep_s"])


class Scored(Workload):
    name = "scored"
    description = "Reports a quality figure that improves each repeat"
    unit = "samples"
    quality_metric = "accuracy"
    quality_higher_is_better = True

    def setup(self, params, device):
        return {"calls": 0}

    def step(self, state):
        state["calls"] += 1
        sum(range(1000))

    def quality(self, state):
        return {"accuracy": min(1.0, state["calls"] / 1e6)}


crash = Crash()
killed = Killed()
hang = Hang()
slow = Slow()
scored = Scored()
tiny = Suite("tiny", "two quick cases", [("spin", {"mode": ["sum", "sort"]})])
