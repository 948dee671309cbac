"""Formatting of quantities for people: the prefix follows the rounded value; unknown is '-'."""

from __future__ import annotations

import pytest

from greenbench.units import fmt_duration, fmt_energy, fmt_power, fmt_si, method_label


@pytest.mark.parametrize(
    ("joules", "text"),
    [
        (None, "-"), (0.0, "0 J"), (0.000999, "999 µJ"), (0.0009996, "1 mJ"), (1.0, "1 J"),
        (12_345.0, "12.3 kJ"), (50_000.0, "50 kJ"), (1320.0, "1.32 kJ"), (999.6, "1 kJ"),
        (3e-7, "300 nJ"), (-0.5, "-500 mJ"),
    ],
)
def test_energy(joules: float | None, text: str) -> None:
    assert fmt_energy(joules) == text


def test_other_quantities() -> None:
    assert fmt_power(None) == "-" and fmt_power(16.84) == "16.8 W"
    assert fmt_duration(0.0123) == "12.3 ms" and fmt_duration(150) == "2 min 30 s"
    assert fmt_duration(28_042) == "7 h 47 min" and fmt_duration(7200) == "2 h 0 min"
    assert fmt_duration(119.6) == "120 s" and fmt_duration(179.7) == "3 min 0 s"
    assert fmt_si(101_300_000, "items/s") == "101 M items/s" and fmt_si(None, "x") == "-"
    assert method_label("estimate", "estimate:cpu-tdp") == "ESTIMATE (cpu-tdp)"
    assert method_label("counter", "rapl") == "counter (rapl)"
    assert method_label("power", "nvml") == "polled power (nvml)"
