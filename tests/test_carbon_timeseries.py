"""Time-series intensity: the integral over a run's real span, and malformed files named by
file and line."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from greenbench.carbon.options import resolve_carbon
from greenbench.carbon.timeseries import Series, load_series
from greenbench.errors import UserError
from tests.carbon_http import isolate

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc).timestamp()
HOUR = 3600.0


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


def write(tmp_path: Path, text: str, name: str = "grid.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


STEP_CSV = """timestamp,intensity_g_per_kwh
2024-05-01T12:00:00Z,100
2024-05-01T13:00:00Z,300
2024-05-01T14:00:00Z,300
"""


def test_run_across_a_step_integrates_both_sides(tmp_path: Path) -> None:
    # 12:30-13:30 spends half its time at 100 and half at 300 gCO2e/kWh: mean 200
    setup = resolve_carbon(None, None, str(write(tmp_path, STEP_CSV)), None, 1.0)
    fp = setup.footprint(energy_kwh=2.0, duration_s=HOUR, start_unix_s=T0 + 0.5 * HOUR)
    assert fp.intensity.value_g_per_kwh == pytest.approx(200.0)
    assert fp.operational_g == pytest.approx(400.0)  # 2 kWh x 200 g/kWh
    assert fp.intensity.provider == "file"
    assert fp.intensity.time_utc == "2024-05-01T12:30:00Z"
    assert not fp.intensity.estimate


def test_uneven_split_across_the_step(tmp_path: Path) -> None:
    # 12:00-13:30: one hour at 100, half an hour at 300 -> (100 + 150) / 1.5
    setup = resolve_carbon(None, None, str(write(tmp_path, STEP_CSV)), None, 1.0)
    fp = setup.footprint(energy_kwh=1.0, duration_s=1.5 * HOUR, start_unix_s=T0)
    assert fp.intensity.value_g_per_kwh == pytest.approx(250.0 / 1.5)


def test_series_integral_and_held_edges() -> None:
    s = Series([0.0, 10.0, 20.0], [1.0, 3.0, 5.0], 30.0)
    assert s.integral(0, 30) == pytest.approx(10 + 30 + 50)
    assert s.integral(5, 15) == pytest.approx(5 * 1 + 5 * 3)
    assert s.mean(12, 12) == 3.0
    assert s.integral(-10, 0) == pytest.approx(10.0)  # first value held before the start
    assert s.integral(30, 40) == pytest.approx(50.0)  # last value held after the end


def test_unix_seconds_and_no_header(tmp_path: Path) -> None:
    path = write(tmp_path, f"{T0:.0f},50\n{T0 + HOUR:.0f},150\n")
    loaded = load_series(path)
    assert loaded.series.mean(T0, T0 + 2 * HOUR) == pytest.approx(100.0)


def test_named_columns_are_found_and_lbs_converted(tmp_path: Path) -> None:
    text = ("zone,point_time,moer_lbs_per_mwh\n"
            "X,2024-05-01T12:00:00+00:00,1000\nX,2024-05-01T12:05:00+00:00,1000\n")
    loaded = load_series(write(tmp_path, text))
    assert loaded.converted_from_lbs
    assert loaded.series.values[0] == pytest.approx(453.59237)


def test_run_outside_the_series_falls_back_with_reason(tmp_path: Path) -> None:
    setup = resolve_carbon("FRA", None, str(write(tmp_path, STEP_CSV)), None, 1.0)
    fp = setup.footprint(energy_kwh=1.0, duration_s=60, start_unix_s=T0 + 48 * HOUR)
    assert fp.intensity.provider == "codecarbon"
    assert fp.chain[0].provider == "file" and fp.chain[0].outcome == "failed"
    assert "lies outside" in fp.chain[0].reason


def test_run_partly_outside_holds_edges_and_says_so(tmp_path: Path) -> None:
    setup = resolve_carbon(None, None, str(write(tmp_path, STEP_CSV)), None, 1.0)
    fp = setup.footprint(energy_kwh=1.0, duration_s=2 * HOUR, start_unix_s=T0 + 2 * HOUR)
    assert fp.intensity.value_g_per_kwh == pytest.approx(300.0)
    assert "outside the series" in (fp.intensity.note or "")


@pytest.mark.parametrize(("text", "line", "words"), [
    ("timestamp,intensity\n2024-05-01T12:00Z,100\n2024-05-01T13:00Z,abc\n", 3, "not a number"),
    ("timestamp,intensity\n2024-05-01T12:00Z,100\n\nyesterday,100\n", 4, "cannot read the time"),
    ("2024-05-01T12:00Z,100\n2024-05-01T11:00Z,100\n", 2, "not after the previous"),
    ("2024-05-01T12:00Z,100\n2024-05-01T13:00Z,-5\n", 2, "cannot be negative"),
    ("2024-05-01T12:00Z,100\n2024-05-01T13:00Z,9000\n", 2, "above any real grid"),
    ("2024-05-01T12:00Z,100\n2024-05-01T13:00Z\n", 2, "expected a time and an intensity"),
    ("1714564800000,100\n1714568400000,100\n", 1, "milliseconds"),
])
def test_malformed_file_names_the_line(tmp_path: Path, text: str, line: int,
                                       words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(UserError) as info:
        resolve_carbon(None, None, str(path), None, 1.0)
    message = str(info.value)
    assert f"{path} line {line}:" in message and words in message
    assert "\n" not in message


def test_empty_missing_and_single_row_files(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no rows"):
        load_series(write(tmp_path, "# only a comment\n"))
    with pytest.raises(UserError, match="no such file"):
        load_series(tmp_path / "absent.csv")
    with pytest.raises(UserError, match="at least two rows"):
        load_series(write(tmp_path, "2024-05-01T12:00Z,100\n"))
