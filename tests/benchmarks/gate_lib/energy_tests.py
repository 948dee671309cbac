"""gate_lib's energy benchmarks (copied as tests/test_energy.py of the library's repository)."""

import random

from gate_lib import checksum, histogram, word_counts

_rng = random.Random(1)
DATA = bytes(_rng.randrange(256) for _ in range(20_000))
TEXT = " ".join(_rng.choice(["alpha", "beta", "gamma", "delta", "Alpha"]) for _ in range(20_000))
VALUES = [_rng.random() for _ in range(20_000)]


def test_checksum(energy_benchmark):
    assert energy_benchmark(checksum, DATA) > 0


def test_word_counts(energy_benchmark):
    assert energy_benchmark(word_counts, TEXT)["alpha"] > 0


def test_histogram(energy_benchmark):
    assert sum(energy_benchmark(histogram, VALUES)) == len(VALUES)
