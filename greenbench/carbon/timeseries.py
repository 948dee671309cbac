"""Time-varying intensity: a series of (time, gCO2e/kWh) read as a step function.

Each value holds from its timestamp until the next one, as grid operators publish interval
averages (half-hourly, hourly); the last value holds for the series' typical step. A run's
intensity is the time-weighted mean of the series over the run's actual span, i.e. its
emissions are energy x (1/T) * integral of I(t) dt, which assumes even power over the run.

The CSV format: one row per time, a time column (ISO 8601, naive times are UTC, or Unix
seconds) and an intensity column in gCO2e/kWh. A header is optional; with one, the time column
is the first whose name mentions time or date, the intensity column the first that mentions
intensity, co2 or value (a name with ``lbs`` is converted from lbs/MWh). Lines starting with
``#`` are comments. Any malformed line is a UserError naming the file and line number.
"""

from __future__ import annotations

import bisect
import csv
import io
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from greenbench.carbon.intensity import (
    G_PER_KWH_PER_LB_PER_MWH,
    Intensity,
    ProviderUnavailable,
    check_intensity,
)
from greenbench.errors import UserError
from greenbench.units import fmt_duration

FILE = "file"

_TIME_WORDS = ("time", "date", "from", "start")
_VALUE_WORDS = ("intensity", "co2", "value", "moer")


class Series:
    """A step function of intensity (gCO2e/kWh) over Unix time (s).

    ``times`` strictly increase; value i holds on [times[i], times[i+1]) and the last value on
    [times[-1], end_unix_s). Outside that span the edge values are held (see ``covers``).
    """

    def __init__(self, times: Sequence[float], values: Sequence[float],
                 end_unix_s: float) -> None:
        if not times or len(times) != len(values):
            raise ValueError("a series needs as many values as times, at least one")
        if any(step <= 0 for step in steps(times)) or end_unix_s <= times[-1]:
            raise ValueError("series times must strictly increase")
        self.times = [float(t) for t in times]
        self.values = [float(v) for v in values]
        self.end_unix_s = float(end_unix_s)
        # cumulative integral (g/kWh x s) at each step start, for O(log n) integrals
        self._cum = [0.0]
        edges = [*self.times[1:], self.end_unix_s]
        for i, v in enumerate(self.values):
            self._cum.append(self._cum[-1] + v * (edges[i] - self.times[i]))

    @property
    def start_unix_s(self) -> float:
        return self.times[0]

    def covers(self, start_unix_s: float, end_unix_s: float) -> bool:
        return self.start_unix_s <= start_unix_s and end_unix_s <= self.end_unix_s

    def integral(self, start_unix_s: float, end_unix_s: float) -> float:
        """Integral of the intensity over [start, end], in (gCO2e/kWh) x s; edges held."""
        return self._primitive(end_unix_s) - self._primitive(start_unix_s)

    def mean(self, start_unix_s: float, end_unix_s: float) -> float:
        """Time-weighted mean intensity over [start, end] in gCO2e/kWh (the value at an instant
        when start == end)."""
        if end_unix_s < start_unix_s:
            raise ValueError("the span ends before it starts")
        if end_unix_s == start_unix_s:
            return self.value_at(start_unix_s)
        return self.integral(start_unix_s, end_unix_s) / (end_unix_s - start_unix_s)

    def value_at(self, t_unix_s: float) -> float:
        i = bisect.bisect_right(self.times, t_unix_s) - 1
        return self.values[min(max(i, 0), len(self.values) - 1)]

    def _primitive(self, x: float) -> float:
        if x <= self.start_unix_s:
            return self.values[0] * (x - self.start_unix_s)
        if x >= self.end_unix_s:
            return self._cum[-1] + self.values[-1] * (x - self.end_unix_s)
        i = bisect.bisect_right(self.times, x) - 1
        return self._cum[i] + self.values[i] * (x - self.times[i])


@dataclass(frozen=True)
class LoadedSeries:
    series: Series
    path: str
    column: str
    converted_from_lbs: bool = False


class SeriesSource:
    """Intensity over a run from a time-series file: the series' mean over the run's span."""

    name = FILE

    def __init__(self, loaded: LoadedSeries, region_label: str = "-") -> None:
        self.loaded = loaded
        self.label = region_label

    def now(self) -> Intensity:
        now = datetime.now(timezone.utc).timestamp()
        return self.over(now, now)

    def over(self, start_unix_s: float, end_unix_s: float) -> Intensity:
        s = self.loaded.series
        if end_unix_s < s.start_unix_s or start_unix_s > s.end_unix_s:
            raise ProviderUnavailable(
                f"{self.loaded.path} covers {iso_utc(s.start_unix_s)} to "
                f"{iso_utc(s.end_unix_s)}; the run ({iso_utc(start_unix_s)}) lies outside it")
        notes = []
        if end_unix_s > start_unix_s:
            notes.append(f"time-weighted mean over {iso_utc(start_unix_s)} to "
                         f"{iso_utc(end_unix_s)}")
        if not s.covers(start_unix_s, end_unix_s):
            outside = max(0.0, s.start_unix_s - start_unix_s) + max(0.0, end_unix_s
                                                                     - s.end_unix_s)
            notes.append(f"{fmt_duration(outside)} of the run lie outside the series; its edge "
                         "values were held there")
        if self.loaded.converted_from_lbs:
            notes.append("converted from lbs/MWh")
        return Intensity(
            value_g_per_kwh=s.mean(start_unix_s, end_unix_s), provider=FILE,
            region=self.label, source=f"{self.loaded.path} (column {self.loaded.column!r})",
            time_utc=iso_utc(start_unix_s), estimate=False, note="; ".join(notes) or None,
        )


def load_series(path: str | Path, what: str = "--intensity-file") -> LoadedSeries:
    """Read a CSV time series (see the module doc); UserError naming the line when malformed."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"{what} {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{what} {path}: cannot read it ({exc})") from None
    rows = [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text)), start=1)
            if row and any(c.strip() for c in row) and not row[0].lstrip().startswith("#")]
    if not rows:
        raise UserError(f"{what} {path}: the file has no rows; expected time,gCO2e/kWh lines")
    t_col, v_col, column, lbs = 0, 1, "2", False
    first_n, first = rows[0]
    if len(first) >= 2 and not _is_number(first[1]):
        t_col, v_col = _header_columns(first, f"{path} line {first_n}")
        column, lbs = first[v_col].strip(), "lbs" in first[v_col].lower()
        rows = rows[1:]
    times: list[float] = []
    values: list[float] = []
    for n, row in rows:
        where = f"{path} line {n}"
        if len(row) <= max(t_col, v_col):
            raise UserError(f"{where}: expected a time and an intensity, found {len(row)} "
                            "field(s)")
        t = parse_time(row[t_col], where)
        try:
            raw = float(row[v_col])
        except ValueError:
            raise UserError(f"{where}: intensity {row[v_col].strip()!r} is not a number") \
                from None
        value = check_intensity(raw * (G_PER_KWH_PER_LB_PER_MWH if lbs else 1.0), where)
        if times and t <= times[-1]:
            raise UserError(f"{where}: time {row[t_col].strip()} is not after the previous "
                            "row's; sort the file by time, without duplicates")
        times.append(t)
        values.append(value)
    if len(times) < 2:
        raise UserError(f"{what} {path}: needs at least two rows (the last value holds for the "
                        "spacing of the rows)")
    step = statistics.median(steps(times))
    return LoadedSeries(Series(times, values, times[-1] + step), str(path), column, lbs)


def parse_time(text: str, where: str) -> float:
    """ISO 8601 (naive = UTC; a trailing Z is accepted) or Unix seconds -> Unix seconds."""
    raw = text.strip()
    if _is_number(raw):
        value = float(raw)
        if value > 1e11:  # beyond the year 5000 in seconds: milliseconds, most likely
            raise UserError(f"{where}: time {raw} looks like milliseconds; give Unix seconds")
        return value
    iso = raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw
    try:
        dt = datetime.fromisoformat(iso)
    except ValueError:
        raise UserError(f"{where}: cannot read the time {raw!r}; use ISO 8601 "
                        "(2024-05-01T12:00:00Z) or Unix seconds") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def steps(times: Sequence[float]) -> list[float]:
    """The gaps between consecutive times (s)."""
    return [b - a for a, b in zip(times[:-1], times[1:], strict=True)]


def iso_utc(t_unix_s: float) -> str:
    return datetime.fromtimestamp(t_unix_s, timezone.utc).isoformat(timespec="seconds") \
        .replace("+00:00", "Z")


def _header_columns(header: list[str], where: str) -> tuple[int, int]:
    names = [h.strip().lower() for h in header]
    if len(names) == 2:
        return 0, 1
    t_col = next((i for i, h in enumerate(names) if any(w in h for w in _TIME_WORDS)), None)
    v_col = next((i for i, h in enumerate(names)
                  if i != t_col and any(w in h for w in _VALUE_WORDS)), None)
    if t_col is None or v_col is None:
        raise UserError(f"{where}: cannot tell the time and intensity columns apart in "
                        f"{header}; name them e.g. 'timestamp,intensity_g_per_kwh'")
    return t_col, v_col


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
