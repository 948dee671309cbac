"""Carbon-aware timing: the start time, within a horizon, that minimises a job's forecast
emissions, and what it saves against starting now.

For a job of fixed duration D and even power, emissions are proportional to the integral of
the forecast intensity over [s, s + D]. With a step-function forecast that integral is
piecewise linear in s, with kinks only where s or s + D crosses a step, so the minimum lies at
one of those kinks or at an end of the allowed range: checking them all is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from greenbench.carbon.timeseries import Series, iso_utc
from greenbench.errors import UserError


@dataclass(frozen=True)
class WindowChoice:
    """The best start and the start-now baseline, as mean intensities in gCO2e/kWh."""

    start_unix_s: float
    duration_s: float
    best_g_per_kwh: float
    now_unix_s: float
    now_g_per_kwh: float
    latest_start_unix_s: float

    @property
    def saving_fraction(self) -> float:
        """Share of the emissions saved against starting now (0 when now is best)."""
        if self.now_g_per_kwh <= 0:
            return 0.0
        return 1.0 - self.best_g_per_kwh / self.now_g_per_kwh

    def saving_g(self, energy_kwh: float) -> float:
        """gCO2e saved for a job using ``energy_kwh`` (kWh), at even power."""
        return (self.now_g_per_kwh - self.best_g_per_kwh) * energy_kwh

    def to_dict(self, energy_kwh: float | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "start_utc": iso_utc(self.start_unix_s),
            "start_unix_s": self.start_unix_s,
            "delay_s": self.start_unix_s - self.now_unix_s,
            "duration_s": self.duration_s,
            "best_g_per_kwh": self.best_g_per_kwh,
            "now_utc": iso_utc(self.now_unix_s),
            "now_g_per_kwh": self.now_g_per_kwh,
            "saving_fraction": self.saving_fraction,
            "searched_until_utc": iso_utc(self.latest_start_unix_s),
        }
        if energy_kwh is not None:
            doc["energy_kwh"] = energy_kwh
            doc["best_g"] = self.best_g_per_kwh * energy_kwh
            doc["now_g"] = self.now_g_per_kwh * energy_kwh
            doc["saving_g"] = self.saving_g(energy_kwh)
        return doc


def best_window(forecast: Series, duration_s: float, now_unix_s: float,
                within_s: float) -> WindowChoice:
    """The start in [now, now + within] that minimises the mean forecast intensity over a job
    of ``duration_s``; the job must end inside the forecast. Ties go to the earliest start."""
    if duration_s <= 0:
        raise UserError("--duration: use a positive duration, e.g. 2h or 90m")
    if within_s < 0:
        raise UserError("--within: use a horizon >= 0, e.g. 24h")
    earliest = max(now_unix_s, forecast.start_unix_s)
    latest = min(now_unix_s + within_s, forecast.end_unix_s - duration_s)
    if latest < earliest:
        raise UserError(
            f"the forecast runs from {iso_utc(forecast.start_unix_s)} to "
            f"{iso_utc(forecast.end_unix_s)}: too short for a {duration_s:g} s job starting "
            f"between {iso_utc(now_unix_s)} and {iso_utc(now_unix_s + within_s)}"
        )
    kinks = [*forecast.times, forecast.end_unix_s]
    candidates = {earliest, latest}
    candidates.update(t for t in kinks if earliest <= t <= latest)
    candidates.update(t - duration_s for t in kinks if earliest <= t - duration_s <= latest)
    baseline = forecast.mean(earliest, earliest + duration_s)
    best_start, best = earliest, baseline
    for start in sorted(candidates):
        mean = forecast.mean(start, start + duration_s)
        if mean < best - 1e-9 * max(1.0, abs(best)):  # strictly better: ties keep the earlier
            best_start, best = start, mean
    return WindowChoice(best_start, duration_s, best, earliest, baseline, latest)


def parse_duration(text: str, what: str, default_unit: str = "s") -> float:
    """``90m``, ``2h``, ``1h30m``, ``45s``, ``1d`` or a bare number in ``default_unit`` -> s."""
    units = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
    raw = text.strip().lower().replace(" ", "")
    if not raw:
        raise UserError(f"{what}: empty; use a duration like 90m, 2h or 3600s")
    try:
        return float(raw) * units[default_unit]
    except ValueError:
        pass
    total, number = 0.0, ""
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch.isdigit() or ch == ".":
            number += ch
            i += 1
            continue
        unit = "min" if raw.startswith("min", i) else ch
        if unit not in units or not number:
            raise UserError(f"{what} {text}: use a duration like 90m, 2h, 1h30m or 3600s")
        try:
            total += float(number) * units[unit]
        except ValueError:
            raise UserError(f"{what} {text}: use a duration like 90m, 2h or 3600s") from None
        number = ""
        i += len(unit)
    if number:  # trailing number without a unit (1h30): minutes would be a guess
        raise UserError(f"{what} {text}: give a unit after {number} (s, m, h, d)")
    return total
