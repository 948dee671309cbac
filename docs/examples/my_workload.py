"""Two workloads of one's own and a suite of them, as docs/workloads.md explains. Try:

    greenbench workloads --workload-file docs/examples/my_workload.py
    greenbench run digits-step --workload-file docs/examples/my_workload.py -p n=1000,4000
    greenbench run --suite mine --workload-file docs/examples/my_workload.py
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

import greenbench
from greenbench import Param, Suite, Workload

# -- a function: the quick way -----------------------------------------------------------------

def make_numbers(n: int = 2000, base: int = 10, seed: int = 0) -> dict[str, Any]:
    """Runs once per case, unmeasured: its keywords are the parameters (-p n=1000,4000) and
    what it returns is what every measured call of digits_step gets."""
    rng = random.Random(seed)
    return {"numbers": [rng.randrange(10**12) for _ in range(n)], "base": base}


@greenbench.workload(unit="numbers", units_per_step=lambda p: p["n"], setup=make_numbers,
                     variants=("base",))
def digits_step(numbers: list[int], base: int) -> None:
    """Split every number into its digits."""
    for x in numbers:
        while x:
            x //= base


# -- a class: parameters with ranges and choices, and a quality figure -------------------------

class FitLine(Workload):
    """Fit y = a x + b to noisy points by gradient descent, one update per step."""

    name = "fit-line"
    description = "Fit a line to noisy points by gradient descent"
    unit = "points"
    params = (
        Param("points", int, 256, minimum=2, help="points seen by each update"),
        Param("lr", float, 0.1, minimum=0.0, maximum=1.0, help="learning rate"),
        Param("solver", str, "plain", choices=("plain", "momentum"), variant=True,
              help="the update rule, the choice whose energy is compared"),
    )
    quality_metric = "mse"  # what plots and reports show beside the energy
    quality_higher_is_better = False

    def units_per_step(self, params: Any) -> float:
        return float(params["points"])

    def setup(self, params: Any, device: str) -> dict[str, Any]:
        rng = np.random.default_rng(0)
        x = rng.uniform(-1.0, 1.0, params["points"])
        y = 3.0 * x + 1.0 + rng.normal(0.0, 0.1, x.size)
        return {"x": x, "y": y, "ab": np.zeros(2), "velocity": np.zeros(2),
                "lr": params["lr"], "momentum": 0.9 if params["solver"] == "momentum" else 0.0}

    def step(self, state: dict[str, Any]) -> None:
        x, y, ab = state["x"], state["y"], state["ab"]
        error = ab[0] * x + ab[1] - y
        gradient = np.array([2 * np.mean(error * x), 2 * np.mean(error)])
        state["velocity"] = state["momentum"] * state["velocity"] - state["lr"] * gradient
        state["ab"] = ab + state["velocity"]

    def quality(self, state: dict[str, Any]) -> dict[str, float]:
        ab = state["ab"]
        return {"mse": float(np.mean((ab[0] * state["x"] + ab[1] - state["y"]) ** 2))}


fit_line = FitLine()  # greenbench finds the instances (and suites) at the file's top level


# -- a suite: named cases, each a grid ---------------------------------------------------------

suite = Suite("mine", "Both workloads, small", [
    ("digits-step", {"n": [1000, 4000]}),
    ("fit-line", {"solver": ["plain", "momentum"]}),
])
