"""Workloads that misbehave towards the runner: each breaks one of its assumptions."""

import os
import subprocess
import sys
import time

from greenbench import Param, Workload


class Orphan(Workload):
    name = "orphan"
    description = "Starts a child process that outlives the worker and holds its stderr"
    params = (Param("pid_file", str, ""),)

    def setup(self, params, device):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        if params["pid_file"]:
            with open(params["pid_file"], "w") as f:
                f.write(str(child.pid))
        return params

    def step(self, state):
        sum(range(1000))


class Garbage(Workload):
    name = "garbage"
    description = "Writes something that is not an event to the worker's event pipe"

    def setup(self, params, device):
        os.write(int(os.environ["GREENBENCH_WORKER_FD"]), b"\x1b[2Jnot an event\n")
        return params

    def step(self, state):
        sum(range(1000))


class Napping(Workload):
    name = "napping"
    description = "Each step sleeps; writes its worker's pid first, to be found and signalled"
    params = (Param("pid_file", str, ""), Param("sleep_s", float, 0.05, minimum=0.0))

    def setup(self, params, device):
        with open(params["pid_file"], "w") as f:
            f.write(str(os.getpid()))
        return params

    def step(self, state):
        time.sleep(state["sleep_s"])


orphan = Orphan()
garbage = Garbage()
napping = Napping()
