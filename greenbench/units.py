"""Formatting of physical quantities for people (tables, one-line messages, reports).

One rule everywhere, terminal and report alike: three significant figures in positional
notation (never ``1.32e+03``), trailing zeros dropped, the SI prefix chosen for the *rounded*
value (0.0009996 J reads ``1 mJ``), ``µ`` for micro (``u`` where standard output cannot print
``µ``), and ``-`` for an unknown figure (never 0).
"""

from __future__ import annotations

import math
import sys

MICRO = "µ"
_PREFIXES = {-9: "n", -6: MICRO, -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T"}
#: the prefixes each unit takes, as powers of ten; a unit not listed is a word (``tokens/s``)
#: and takes k to T, written apart from it (``101 M tokens/s``)
_RANGES = {"J": (-9, 9), "W": (-9, 9), "s": (-9, 0), "g": (-9, 6), "gCO2e": (-9, 6),
           "Wh": (-3, 9)}
_WORD_RANGE = (0, 12)


def micro() -> str:
    """``µ``, or ``u`` where standard output cannot encode it (an ASCII-only terminal)."""
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        MICRO.encode(encoding)
    except (LookupError, UnicodeEncodeError):
        return "u"
    return MICRO


def plain(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant figures, positional, trailing zeros dropped:
    ``1320`` -> ``1320``, ``0.000421`` -> ``0.000421``, ``1.5`` -> ``1.5``."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    magnitude = math.floor(math.log10(abs(float(f"{value:.{digits}g}"))))
    text = f"{value:.{max(digits - 1 - magnitude, 0)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def scale(value: float | None, unit: str) -> tuple[float, str]:
    """``(factor, prefixed unit)`` for ``value``: ``value * factor`` reads 1-999 once rounded
    to three figures, within the unit's prefixes (``2e-5, "J"`` -> ``(1e6, "µJ")``)."""
    low, high = _RANGES.get(unit, _WORD_RANGE)
    if value is None or not math.isfinite(value) or value == 0:
        exponent = 0 if low <= 0 <= high else low
    else:
        rounded = abs(float(f"{value:.3g}"))
        exponent = min(max(3 * math.floor(math.log10(rounded) / 3), low), high)
    prefix = _PREFIXES[exponent].replace(MICRO, micro())
    shown = f"{prefix}{unit}" if unit in _RANGES else (f"{prefix} {unit}" if prefix else unit)
    return 10.0 ** -exponent, shown


def fmt_quantity(value: float | None, unit: str, *, sign: bool = False) -> str:
    """``1320, "J"`` -> ``1.32 kJ``; ``sign`` writes ``+`` before a positive value."""
    if value is None or not math.isfinite(value):
        return "-"
    factor, shown = scale(value, unit)
    text = plain(value * factor)
    return f"{'+' if sign and value > 0 else ''}{text} {shown}"


def fmt_range(low: float, high: float, unit: str, *, sign: bool = False) -> str:
    """``+0.41..+0.8 J``: both ends in the prefix of the larger one."""
    factor, shown = scale(max(abs(low), abs(high)), unit)
    ends = [("+" if sign and v > 0 else "") + plain(v * factor) for v in (low, high)]
    return f"{ends[0]}..{ends[1]} {shown}"


def fmt_energy(joules: float | None) -> str:
    """``12.3 J``, ``4.56 kJ``, ``999 µJ``; ``-`` for unknown (never 0)."""
    return fmt_quantity(joules, "J")


def fmt_power(watts: float | None) -> str:
    return fmt_quantity(watts, "W")


def fmt_duration(seconds: float | None) -> str:
    """``12.3 ms``, ``45.6 s``, ``2 min 30 s``, ``7 h 47 min``."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    if seconds >= 7200:
        hours, rest = divmod(round(seconds / 60), 60)
        return f"{int(hours)} h {int(rest)} min"
    if seconds >= 120:
        minutes, s = divmod(round(seconds), 60)
        return f"{int(minutes)} min {s} s"
    return fmt_quantity(seconds, "s")


def fmt_percent(fraction: float | None, limit: float | None = None) -> str:
    """``13%``; beside a ``limit``, with the decimals it takes to tell the two apart (0.1004
    against a 10% limit reads ``10.04%``, never ``10%``)."""
    if fraction is None or not math.isfinite(fraction):
        return "-"
    for decimals in range(4):
        text = f"{fraction:.{decimals}%}"
        if limit is None or fraction == limit or text != f"{limit:.{decimals}%}":
            break
    return text


def method_label(method: str, source: str) -> str:
    """How a figure was obtained, for tables: ``counter (rapl)``, ``ESTIMATE (cpu-tdp)``."""
    words = {"counter": "counter", "power": "polled power", "estimate": "ESTIMATE",
             "mixed": "mixed (some ESTIMATED)"}
    word = words.get(method, method)
    short = source.removeprefix("estimate:")
    return f"{word} ({short})" if short else word


def fmt_si(value: float | None, unit: str) -> str:
    """``101 M items/s``: three significant figures with an SI prefix."""
    return fmt_quantity(value, unit)


def singular(unit_name: str) -> str:
    """``tokens`` -> ``token``: "energy per token" reads better than "per tokens"."""
    if unit_name.endswith("ies"):
        return unit_name[:-3] + "y"
    if unit_name.endswith("s") and not unit_name.endswith("ss"):
        return unit_name[:-1]
    return unit_name
