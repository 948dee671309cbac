"""gate_lib: three small pure-Python functions, each a few milliseconds of CPU work a call."""

from __future__ import annotations


def checksum(data: bytes) -> int:
    """Adler-32, byte by byte."""
    return _adler(data)


def word_counts(text: str) -> dict[str, int]:
    """How often each lower-cased word occurs."""
    return _count(text.lower().split())


def histogram(values: list[float], bins: int = 16) -> list[int]:
    """Counts of ``values`` in ``bins`` equal bins between their minimum and maximum."""
    low, high = min(values), max(values)
    width = (high - low) / bins or 1.0
    return _bin(values, low, width, [0] * bins)


def _adler(data: bytes) -> int:
    a, b = 1, 0
    for byte in data:
        a = (a + byte) % 65521
        b = (b + a) % 65521
    return (b << 16) | a


def _bin(values: list[float], low: float, width: float, counts: list[int]) -> list[int]:
    last = len(counts) - 1
    for v in values:
        counts[min(int((v - low) / width), last)] += 1
    return counts


def _count(words: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    return counts
