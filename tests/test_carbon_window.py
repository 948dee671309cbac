"""Carbon-aware timing: the best start on synthetic forecasts, checked against brute force."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from greenbench.carbon.timeseries import Series, iso_utc
from greenbench.carbon.window import best_window, parse_duration
from greenbench.commands.carbon import carbon
from greenbench.errors import UserError
from tests.carbon_http import isolate

H = 3600.0
T0 = 1_714_564_800.0  # 2024-05-01T12:00:00Z


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


def hourly(values: list[float]) -> Series:
    return Series([T0 + i * H for i in range(len(values))], values, T0 + len(values) * H)


def test_best_two_hours_of_a_synthetic_day() -> None:
    forecast = hourly([300, 250, 100, 80, 120, 400, 450, 500])
    choice = best_window(forecast, 2 * H, now_unix_s=T0, within_s=24 * H)
    assert choice.start_unix_s == T0 + 2 * H  # 100 then 80
    assert choice.best_g_per_kwh == pytest.approx(90.0)
    assert choice.now_g_per_kwh == pytest.approx(275.0)  # (300 + 250) / 2
    assert choice.saving_fraction == pytest.approx(1 - 90 / 275)
    assert choice.saving_g(10.0) == pytest.approx((275 - 90) * 10)


def test_best_start_between_steps() -> None:
    # A 1.5 h job over 300 then 100 then 500: sliding right trades 300 for 100 until the job
    # reaches the 500 hour at +3 h, so the best start is 3 h - 1.5 h = +1.5 h:
    # 0.5 h x 300 + 1 h x 100 = 250 over 1.5 h
    forecast = hourly([500, 300, 100, 500, 500])
    choice = best_window(forecast, 1.5 * H, now_unix_s=T0, within_s=4 * H)
    assert choice.start_unix_s == T0 + 1.5 * H
    assert choice.best_g_per_kwh == pytest.approx(250.0 / 1.5)


def test_within_limits_the_start() -> None:
    forecast = hourly([300, 300, 300, 50, 50])
    # starts up to +2.5 h: the best reaches only half of the first 50 hour
    assert best_window(forecast, H, T0, within_s=2.5 * H).start_unix_s == T0 + 2.5 * H
    assert best_window(forecast, H, T0, within_s=0).start_unix_s == T0


def test_flat_forecast_starts_now() -> None:
    choice = best_window(hourly([200] * 6), 2 * H, now_unix_s=T0 + 600, within_s=3 * H)
    assert choice.start_unix_s == T0 + 600
    assert choice.saving_fraction == 0.0


@pytest.mark.parametrize("seed", range(20))
def test_exact_search_matches_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    forecast = hourly([rng.uniform(20, 600) for _ in range(24)])
    duration = rng.choice([0.5, 1.25, 3.0, 7.5]) * H
    now = T0 + rng.uniform(0, 2) * H
    choice = best_window(forecast, duration, now, within_s=12 * H)
    grid = [now + k * 60 for k in range(int(12 * H / 60) + 1)
            if now + k * 60 + duration <= forecast.end_unix_s]
    brute = min(forecast.mean(s, s + duration) for s in grid)
    assert choice.best_g_per_kwh <= brute + 1e-9
    assert forecast.mean(choice.start_unix_s, choice.start_unix_s + duration) == \
        pytest.approx(choice.best_g_per_kwh)
    assert now <= choice.start_unix_s <= now + 12 * H


def test_forecast_too_short_for_the_job() -> None:
    with pytest.raises(UserError, match="too short"):
        best_window(hourly([100, 100]), 3 * H, T0, within_s=H)


@pytest.mark.parametrize(("text", "seconds"), [("90m", 5400), ("2h", 7200), ("1h30m", 5400),
                                                ("45s", 45), ("1d", 86400), ("3600", 3600),
                                                ("1.5h", 5400), ("10min", 600)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, "--duration") == seconds


@pytest.mark.parametrize("text", ["2x", "h", "1h30", "", "-"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(UserError):
        parse_duration(text, "--duration")


def forecast_csv(tmp_path: Path, values: list[float]) -> Path:
    path = tmp_path / "forecast.csv"
    path.write_text("time,intensity\n" + "".join(
        f"{iso_utc(T0 + i * H)},{v}\n" for i, v in enumerate(values)))
    return path


def test_window_command_with_a_forecast_file(tmp_path: Path) -> None:
    path = forecast_csv(tmp_path, [300, 250, 100, 80, 120, 400])
    result = CliRunner().invoke(carbon, ["window", "--duration", "2h", "--forecast", str(path),
                                         "--now", iso_utc(T0), "--within", "6",
                                         "--energy-kwh", "10", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["start_utc"] == "2024-05-01T14:00:00Z"
    assert doc["delay_s"] == 2 * H
    assert doc["best_g_per_kwh"] == pytest.approx(90.0)
    assert doc["saving_g"] == pytest.approx(1850.0)


def test_window_command_for_people(tmp_path: Path) -> None:
    path = forecast_csv(tmp_path, [300, 250, 100, 80, 120, 400])
    result = CliRunner().invoke(carbon, ["window", "--duration", "90m", "--forecast", str(path),
                                         "--now", iso_utc(T0)])
    assert result.exit_code == 0, result.output
    assert "Best start" in result.output and "Saving against starting now" in result.output


def test_window_needs_a_forecast() -> None:
    result = CliRunner().invoke(carbon, ["window", "--duration", "2h"])
    assert isinstance(result.exception, UserError)
    assert "needs a forecast" in str(result.exception)


def test_window_with_a_provider_that_fails_says_why(monkeypatch) -> None:
    monkeypatch.setenv("ELECTRICITYMAPS_API_KEY", "k")  # URL: a closed local port
    result = CliRunner().invoke(carbon, ["window", "--duration", "2h", "--region", "DEU",
                                         "--provider", "electricitymaps"])
    assert isinstance(result.exception, UserError)
    assert "no forecast from electricitymaps" in str(result.exception)
