"""A noisy neighbour: loads one core on and off at random, until it is stopped.

    python -m tests.benchmarks.noisy_neighbour [SEED]

Busy spells and idle spells each last a random 0.05 to 1.5 s, so the load changes within a
benchmark's rounds, between its rounds and between sessions, as a CI runner's neighbours do.
"""

from __future__ import annotations

import random
import sys
import time


def main(seed: int) -> None:
    rng = random.Random(seed)
    while True:
        until = time.perf_counter() + rng.uniform(0.05, 1.5)
        x = 0
        while time.perf_counter() < until:
            x = (x * 31 + 7) % 1_000_003
        time.sleep(rng.uniform(0.05, 1.5))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
