"""Formatting of physical quantities for people (tables, one-line messages)."""

from __future__ import annotations


def fmt_energy(joules: float | None) -> str:
    """``12.3 J``, ``4.56 kJ``, ``1.23 Wh`` for large values; ``-`` for unknown (never 0)."""
    if joules is None:
        return "-"
    # round to 3 significant digits first, so 0.000999 reads 999 uJ and 0.0009996 reads 1 mJ
    a = abs(float(f"{joules:.3g}"))
    if a >= 36_000:  # 10 Wh and up reads better in Wh
        return f"{joules / 3600:.3g} Wh"
    for limit, factor, unit in ((10_000, 1e-3, "kJ"), (1, 1.0, "J"), (1e-3, 1e3, "mJ"),
                                (1e-6, 1e6, "uJ"), (1e-9, 1e9, "nJ")):
        if a >= limit:
            return f"{joules * factor:.3g} {unit}"
    return "0 J" if a == 0 else f"{joules:.2g} J"


def fmt_power(watts: float | None) -> str:
    return "-" if watts is None else f"{watts:.3g} W"


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 7200:
        hours, rest = divmod(round(seconds / 60), 60)
        return f"{int(hours)} h {int(rest)} min"
    if seconds >= 120:
        minutes, s = divmod(round(seconds), 60)
        return f"{int(minutes)} min {s} s"
    if seconds >= 1:
        return f"{seconds:.3g} s"
    return f"{seconds * 1e3:.3g} ms"


def method_label(method: str, source: str) -> str:
    """How a figure was obtained, for tables: ``counter (rapl)``, ``ESTIMATE (cpu-tdp)``."""
    words = {"counter": "counter", "power": "polled power", "estimate": "ESTIMATE",
             "mixed": "mixed (some ESTIMATED)"}
    word = words.get(method, method)
    short = source.removeprefix("estimate:")
    return f"{word} ({short})" if short else word


def fmt_si(value: float | None, unit: str) -> str:
    """``101 M items/s``: three significant digits with an SI prefix."""
    if value is None:
        return "-"
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix} {unit}"
    return f"{value:.3g} {unit}"


def singular(unit_name: str) -> str:
    """``tokens`` -> ``token``: "energy per token" reads better than "per tokens"."""
    if unit_name.endswith("ies"):
        return unit_name[:-3] + "y"
    if unit_name.endswith("s") and not unit_name.endswith("ss"):
        return unit_name[:-1]
    return unit_name
