"""Numbers for people: SI prefixes, significant figures, intervals, in one place."""

from __future__ import annotations

import math

from greenbench.stats import Summary
from greenbench.units import fmt_quantity, plain, scale

J_PER_MWH = 3.6e9
J_PER_KWH = 3.6e6


def si(value: float | None, unit: str) -> str:
    """``6.32e-5, "J"`` -> ``63.2 µJ``; ``-`` for unknown: the terminal's rule
    (:func:`greenbench.units.fmt_quantity`), so a report and a table print one figure alike."""
    return fmt_quantity(value, unit)


def sig(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant figures, without scientific notation for ordinary
    magnitudes (1e-3 to 1e6), with it beyond: ``0.00042``, ``4.2e-07``."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    magnitude = math.floor(math.log10(abs(value)))
    if -3 <= magnitude < 6:
        decimals = max(digits - 1 - magnitude, 0)
        return f"{value:.{decimals}f}"
    return f"{value:.{digits - 1}e}"


def interval(s: Summary, unit: str, factor: float = 1.0,
             metric: str = "energy_per_unit_j") -> str:
    """``[62.1, 64.4] µJ``-style interval of a summary's median, in the median's prefix."""
    from greenbench.results_format import median_interval

    (low, high), median = median_interval(metric, s), s.median
    if low is None or high is None:
        return "no interval (n < 2)"
    f, shown = scale(median * factor, unit)
    return f"[{plain(low * factor * f)}, {plain(high * factor * f)}] {shown}"


def mwh(joules: float) -> str:
    """Energy in MWh to two significant figures (what the EU AI Act's documentation asks)."""
    value = joules / J_PER_MWH
    if value == 0:
        return "0 MWh"
    return f"{value:.2g} MWh"


def yaml_number(value: float) -> str:
    """A float YAML 1.1 parsers read as a number: ``1e-05`` would be a string, ``1.0e-05`` not."""
    text = sig(value, 3)
    if "e" in text and "." not in text.split("e")[0]:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent}"
    return text
