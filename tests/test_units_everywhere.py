"""One rule for printing a quantity, wherever it is printed: terminal tables, compare's
verdicts, the carbon line, reports. No exponent (``1.32e+03 J``), one micro sign, the same
figure in a report as in a table."""

from __future__ import annotations

import dataclasses
import io
import re
import sys
from pathlib import Path

import pytest

from greenbench import gate
from greenbench.report.numbers import si
from greenbench.units import fmt_duration, fmt_energy, fmt_power, fmt_quantity, fmt_si
from tests.plot_factories import footprint_dict
from tests.test_gate import comparison

GREENBENCH = Path(__file__).resolve().parents[1] / "greenbench"

#: 1 nJ to 10 TJ, both signs, with values that round up into the next prefix (999.6)
VALUES = [sign * m * 10.0 ** e for e in range(-9, 13) for m in (1.0, 1.32, 999.6 / 1000 * 10)
          for sign in (1, -1)]
EXPONENT = re.compile(r"\de[+-]?\d")


@pytest.mark.parametrize("value", VALUES)
def test_no_formatter_writes_an_exponent(value: float) -> None:
    shown = [fmt_energy(value), fmt_power(value), fmt_si(value, "tokens/s"),
             fmt_quantity(value, "gCO2e"), si(value, "J")]
    if value > 0:
        shown.append(fmt_duration(value))
    assert not [s for s in shown if EXPONENT.search(s)], shown


@pytest.mark.parametrize("value", VALUES)
def test_a_report_prints_a_figure_as_the_terminal_does(value: float) -> None:
    assert si(value, "J") == fmt_energy(value)
    assert si(value, "W") == fmt_power(value)


def test_a_thousand_joules_is_kilojoules_and_the_prefix_follows_the_rounded_value() -> None:
    assert fmt_energy(1320.0) == "1.32 kJ"
    assert fmt_energy(999.6) == "1 kJ"
    assert fmt_energy(50_000.0) == "50 kJ"  # never a switch to Wh within one column
    assert fmt_duration(0.9996) == "1 s"


def test_micro_is_one_sign_in_tables_and_reports() -> None:
    assert fmt_energy(2e-5) == si(2e-5, "J") == "20 µJ"


def test_an_ascii_terminal_gets_u_for_micro(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding="ascii"))
    assert fmt_energy(2e-5) == "20 uJ"


def test_compare_writes_a_small_difference_with_a_prefix() -> None:
    tiny = dataclasses.replace(comparison(1.3, 0.001, difference=1.2e-5),
                               difference_ci_low=8e-6, difference_ci_high=1.6e-5)
    verdict = gate.evaluate(gate.parse_rule("energy:1J"), tiny)
    assert "energy +12 µJ (95% CI +8..+16 µJ)" in verdict.explanation
    assert not EXPONENT.search(verdict.explanation.split(", ")[0])


def test_the_emissions_line_uses_the_same_rule() -> None:
    from greenbench.carbon.footprint import Footprint

    fields = footprint_dict(1.2e-9, gpu=False, units=1000.0)  # a few µg
    line = Footprint.from_dict(fields).summary()
    assert not EXPONENT.search(line), line
    assert re.search(r"emissions [\d.]+ [nµm]?gCO2e", line), line


#: where people read measured figures; these format through greenbench.units only
USER_FACING = ["commands", "report", "plots", "pytest_energy", "carbon", "gate.py",
               "run_compare.py", "runner.py"]
BY_HAND = re.compile(r"\{[^{}]*:[^{}]*\.\d+[efg]\}\s?(?:n|µ|u|m|k)?(?:J|W|Wh|gCO2e|g|s|ms)\b"
                     r"(?!/kWh)")


def test_no_measured_figure_is_formatted_by_hand() -> None:
    found = []
    for name in USER_FACING:
        root = GREENBENCH / name
        for path in [root] if root.is_file() else sorted(root.rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if BY_HAND.search(line):
                    found.append(f"{path.relative_to(GREENBENCH)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)
