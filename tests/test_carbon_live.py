"""Live providers against a local replay server on 127.0.0.1: success, 401, 429 with retry,
timeout, malformed JSON; caching; and credentials that never reach a result, log or cache."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from greenbench.carbon import fetch, live
from greenbench.carbon.options import CarbonSetup, resolve_carbon
from greenbench.errors import UserError
from tests.carbon_http import (
    ReplayServer,
    Reply,
    em_forecast,
    em_latest,
    isolate,
    replay_server,
    uk_intensity,
    wt_forecast,
)

EM_KEY = "em-secret-key-8f3a"
WT_USER, WT_PASSWORD, WT_TOKEN = "ada", "wt-secret-pass-77c1", "wt-secret-token-91d2"
LATEST = "/v3/carbon-intensity/latest"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The Retry-After waits the client would sleep, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(fetch, "_sleep", recorded.append)
    return recorded


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReplayServer]:
    with replay_server() as srv:
        for name in ("GREENBENCH_ELECTRICITYMAPS_URL", "GREENBENCH_WATTTIME_URL",
                     "GREENBENCH_UK_CARBON_URL"):
            monkeypatch.setenv(name, srv.url)
        yield srv


def em_setup(monkeypatch: pytest.MonkeyPatch, timeout_s: float = 5.0) -> CarbonSetup:
    monkeypatch.setenv("ELECTRICITYMAPS_API_KEY", EM_KEY)
    return resolve_carbon("DEU", None, None, "electricitymaps", 1.0, timeout_s=timeout_s)


# Electricity Maps ---------------------------------------------------------------------------

def test_electricitymaps_success(server, monkeypatch: pytest.MonkeyPatch) -> None:
    server.route(LATEST, Reply(200, em_latest(302.0, "DE", estimated=True)))
    resolution = em_setup(monkeypatch).intensity_now()
    found = resolution.intensity
    assert (found.value_g_per_kwh, found.provider, found.region) == (302.0, "electricitymaps",
                                                                      "DE")
    assert found.time_utc == "2024-05-01T12:00:00Z"
    assert found.estimate and not found.forecast and found.signal == "average"
    assert [a.outcome for a in resolution.attempts] == ["used"]
    seen = server.hits(LATEST)[0]
    assert seen.query == {"zone": ["DE"]}
    assert seen.headers.get("auth-token") == EM_KEY
    assert EM_KEY not in seen.url


def test_electricitymaps_401_falls_back_with_reason(server, monkeypatch) -> None:
    server.route(LATEST, Reply(401, {"error": "invalid token"}))
    resolution = em_setup(monkeypatch).intensity_now()
    assert resolution.intensity.provider == "codecarbon"
    assert resolution.intensity.region == "DEU"
    failed = resolution.attempts[0]
    assert (failed.provider, failed.outcome) == ("electricitymaps", "failed")
    assert "HTTP 401" in failed.reason and "ELECTRICITYMAPS_API_KEY" in failed.reason
    assert EM_KEY not in failed.reason


def test_429_is_retried_after_the_wait_it_asks_for(server, monkeypatch, waits) -> None:
    server.route(LATEST, Reply(429, {"error": "slow down"}, {"Retry-After": "2"}),
                 Reply(200, em_latest(250.0)))
    found = em_setup(monkeypatch).intensity_now().intensity
    assert found.value_g_per_kwh == 250.0
    assert waits == [2.0]
    assert len(server.hits(LATEST)) == 2


def test_429_with_too_long_a_wait_falls_back_at_once(server, monkeypatch, waits) -> None:
    server.route(LATEST, Reply(429, {}, {"Retry-After": "3600"}))
    resolution = em_setup(monkeypatch).intensity_now()
    assert resolution.intensity.provider == "codecarbon"
    assert "HTTP 429" in resolution.attempts[0].reason
    assert waits == []
    assert len(server.hits(LATEST)) == 1


def test_429_retries_are_bounded(server, monkeypatch, waits) -> None:
    server.route(LATEST, Reply(429, {}, {"Retry-After": "0"}))
    resolution = em_setup(monkeypatch).intensity_now()
    assert resolution.intensity.provider == "codecarbon"
    assert len(server.hits(LATEST)) == fetch.MAX_RETRIES + 1
    assert waits == [0.0] * fetch.MAX_RETRIES


def test_timeout_falls_back(server, monkeypatch) -> None:
    server.route(LATEST, Reply(200, em_latest(), delay_s=2.0))
    started = time.monotonic()
    resolution = em_setup(monkeypatch, timeout_s=0.2).intensity_now()
    assert time.monotonic() - started < 1.5
    assert resolution.intensity.provider == "codecarbon"
    assert "no answer within 0.2 s" in resolution.attempts[0].reason


@pytest.mark.parametrize(("body", "words"), [
    ("{not json", "not valid JSON"),
    ({"zone": "DE"}, "unexpected answer format"),
    ({"carbonIntensity": "high"}, "is not a number"),
    ({"carbonIntensity": 99999}, "implausible intensity"),
])
def test_malformed_answers_fall_back(server, monkeypatch, body: object, words: str) -> None:
    server.route(LATEST, Reply(200, body))
    resolution = em_setup(monkeypatch).intensity_now()
    assert resolution.intensity.provider == "codecarbon"
    assert words in resolution.attempts[0].reason


def test_unreachable_server_falls_back(monkeypatch) -> None:
    # isolate() points every base URL at a closed local port
    resolution = em_setup(monkeypatch).intensity_now()
    assert resolution.intensity.provider == "codecarbon"
    assert "cannot connect" in resolution.attempts[0].reason


def test_answers_are_cached_and_a_failed_provider_is_not_asked_again(server, monkeypatch,
                                                                     tmp_path) -> None:
    server.route(LATEST, Reply(500, {}), Reply(200, em_latest(111.0)))
    setup = em_setup(monkeypatch)
    assert setup.intensity_now().intensity.provider == "codecarbon"  # 500
    again = setup.intensity_now()  # within this process: not asked again
    assert again.intensity.provider == "codecarbon"
    assert "not asked again" in again.attempts[0].reason
    assert len(server.hits(LATEST)) == 1
    monkeypatch.setattr(live, "_failures", {})  # a later process asks again; 500 not cached
    assert setup.intensity_now().intensity.value_g_per_kwh == 111.0
    assert setup.intensity_now().intensity.value_g_per_kwh == 111.0  # from the cache
    assert len(server.hits(LATEST)) == 2
    assert list((tmp_path / "cache" / "intensity").glob("*.json"))


def test_electricitymaps_forecast(server, monkeypatch) -> None:
    server.route("/v3/carbon-intensity/forecast", Reply(200, em_forecast([300, 200, 100])))
    monkeypatch.setenv("ELECTRICITYMAPS_API_KEY", EM_KEY)
    series = live.ElectricityMaps("DE", EM_KEY).forecast()
    assert series.values == [300.0, 200.0, 100.0]
    assert series.end_unix_s - series.times[-1] == 3600.0


# WattTime -----------------------------------------------------------------------------------

def wt_routes(server: ReplayServer, forecast_reply: Reply) -> None:
    server.route("/login", Reply(200, {"token": WT_TOKEN}))
    server.route("/v3/forecast", forecast_reply)


def wt_setup(monkeypatch: pytest.MonkeyPatch) -> CarbonSetup:
    monkeypatch.setenv("WATTTIME_USERNAME", WT_USER)
    monkeypatch.setenv("WATTTIME_PASSWORD", WT_PASSWORD)
    return resolve_carbon("watttime:CAISO_NORTH", None, None, "watttime", 1.0)


def test_watttime_marginal_signal_converted_from_lbs(server, monkeypatch) -> None:
    wt_routes(server, Reply(200, wt_forecast([1000.0, 800.0])))
    found = wt_setup(monkeypatch).intensity_now().intensity
    assert found.value_g_per_kwh == pytest.approx(453.59237)  # 1000 lbs/MWh
    assert (found.provider, found.region, found.signal) == ("watttime", "CAISO_NORTH",
                                                            "marginal")
    assert found.forecast
    login = server.hits("/login")[0]
    expected = base64.b64encode(f"{WT_USER}:{WT_PASSWORD}".encode()).decode()
    assert login.headers["authorization"] == f"Basic {expected}"
    data = server.hits("/v3/forecast")[0]
    assert data.headers["authorization"] == f"Bearer {WT_TOKEN}"
    assert data.query == {"region": ["CAISO_NORTH"], "signal_type": ["co2_moer"]}


def test_watttime_bad_login_falls_back_to_world_with_reason(server, monkeypatch) -> None:
    server.route("/login", Reply(401, {"error": "bad credentials"}))
    resolution = wt_setup(monkeypatch).intensity_now()
    outcomes = [(a.provider, a.outcome) for a in resolution.attempts]
    assert outcomes == [("watttime", "failed"), ("codecarbon", "skipped"),
                        ("world-average", "used")]
    assert "WATTTIME_USERNAME" in resolution.attempts[0].reason
    assert WT_PASSWORD not in json.dumps([a.to_dict() for a in resolution.attempts])


def test_watttime_forecast_series(server, monkeypatch) -> None:
    wt_routes(server, Reply(200, wt_forecast([1000.0, 500.0, 0.0])))
    series = live.WattTime("CAISO_NORTH", WT_USER, WT_PASSWORD).forecast()
    assert series.values == pytest.approx([453.59237, 226.796185, 0.0])
    assert series.end_unix_s - series.times[-1] == 300.0


# UK Carbon Intensity ------------------------------------------------------------------------

def test_uk_actual_value(server) -> None:
    server.route("/intensity", Reply(200, uk_intensity(actual=180.0)))
    found = resolve_carbon("GBR", None, None, "uk", 1.0).intensity_now().intensity
    assert (found.value_g_per_kwh, found.provider, found.region) == (180.0,
                                                                      "carbonintensity-uk", "GB")
    assert not found.estimate and not found.forecast
    assert found.time_utc == "2024-05-01T12:00:00Z"


def test_uk_forecast_when_no_actual_yet(server) -> None:
    server.route("/intensity", Reply(200, uk_intensity(actual=None, forecast=190.0)))
    found = resolve_carbon(None, None, None, "carbonintensity-uk", 1.0).intensity_now().intensity
    assert found.value_g_per_kwh == 190.0
    assert found.forecast and found.estimate


def test_uk_forecast_series(server) -> None:
    body = {"data": [
        {"from": "2024-05-01T12:00Z", "to": "2024-05-01T12:30Z",
         "intensity": {"forecast": 200, "actual": None, "index": "moderate"}},
        {"from": "2024-05-01T12:30Z", "to": "2024-05-01T13:00Z",
         "intensity": {"forecast": 100, "actual": None, "index": "low"}},
    ]}
    server.route("/intensity/*", Reply(200, body))
    series = live.UKCarbonIntensity().forecast()
    assert series.values == [200.0, 100.0]
    assert series.end_unix_s - series.start_unix_s == 3600.0
    assert server.hits("/intensity/*")[0].path.endswith("/fw48h")


def test_uk_only_serves_great_britain() -> None:
    with pytest.raises(UserError, match="Great Britain only"):
        resolve_carbon("FRA", None, None, "uk", 1.0)


# Credentials --------------------------------------------------------------------------------

@pytest.mark.parametrize(("provider", "region", "env_name"), [
    ("electricitymaps", "DEU", "ELECTRICITYMAPS_API_KEY"),
    ("watttime", "watttime:CAISO_NORTH", "WATTTIME_PASSWORD"),
])
def test_missing_credentials_for_a_named_provider(monkeypatch, provider: str, region: str,
                                                  env_name: str) -> None:
    monkeypatch.setenv("WATTTIME_USERNAME", WT_USER)  # the password alone is missing
    with pytest.raises(UserError) as info:
        resolve_carbon(region, None, None, provider, 1.0)
    assert env_name in str(info.value)


def test_keys_never_reach_results_logs_output_or_cache(server, monkeypatch, tmp_path,
                                                       caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    server.route(LATEST, Reply(401, {"error": f"token {EM_KEY} rejected"}),
                 Reply(200, em_latest(123.0)))
    wt_routes(server, Reply(200, wt_forecast([900.0])))
    setup = em_setup(monkeypatch)
    failed = setup.footprint(energy_kwh=1.0, duration_s=10.0, units=5, unit="query")
    monkeypatch.setattr(live, "_failures", {})  # a later process asks again
    used = setup.footprint(energy_kwh=1.0, duration_s=10.0, units=5, unit="query")
    wt = wt_setup(monkeypatch).footprint(energy_kwh=1.0, duration_s=10.0)
    from click.testing import CliRunner

    from greenbench.commands.carbon import carbon

    cli = CliRunner().invoke(carbon, ["intensity", "--region", "DEU", "--json"])
    assert cli.exit_code == 0, cli.output
    written = [json.dumps(fp.to_dict()) for fp in (failed, used, wt)]
    written += [caplog.text, cli.output, capsys.readouterr().err, json.dumps(setup.describe())]
    written += [p.read_text() for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    for secret in (EM_KEY, WT_PASSWORD, WT_TOKEN):
        assert not [w for w in written if secret in w], secret
    assert used.intensity.value_g_per_kwh == 123.0
