"""Live providers against a hostile server on 127.0.0.1: redirects to another origin never
carry credentials and never supply the value; a server that answers one byte at a time is
cut off at the request's deadline; a provider that failed is not asked again."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from greenbench.carbon import fetch, live
from greenbench.carbon.intensity import ProviderUnavailable
from tests.carbon_http import ReplayServer, Reply, em_latest, isolate, replay_server, wt_forecast
from tests.test_carbon_live import EM_KEY, LATEST, WT_PASSWORD, WT_USER, em_setup, wt_setup


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReplayServer]:
    with replay_server() as srv:
        for name in ("GREENBENCH_ELECTRICITYMAPS_URL", "GREENBENCH_WATTTIME_URL",
                     "GREENBENCH_UK_CARBON_URL"):
            monkeypatch.setenv(name, srv.url)
        yield srv


@pytest.fixture
def elsewhere() -> Iterator[ReplayServer]:
    """Another origin (another port of 127.0.0.1) that would answer anything."""
    with replay_server() as srv:
        srv.route("/*", Reply(200, em_latest(1.0)))
        yield srv


@pytest.mark.parametrize("code", [301, 302, 307, 308])
def test_an_api_key_never_follows_a_redirect_to_another_origin(
        provider: ReplayServer, elsewhere: ReplayServer, monkeypatch: pytest.MonkeyPatch,
        code: int) -> None:
    provider.route(LATEST, Reply(code, "", headers={"Location": f"{elsewhere.url}/steal"}))
    found = em_setup(monkeypatch).intensity_now()
    assert elsewhere.requests == [], "a request reached another origin"
    assert found.intensity.provider != "electricitymaps"
    assert found.intensity.value_g_per_kwh != 1.0
    reason = found.attempts[0].reason
    assert "redirected" in reason and "another origin" in reason and EM_KEY not in reason


def test_a_watttime_password_never_follows_a_redirect_to_another_origin(
        provider: ReplayServer, elsewhere: ReplayServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    provider.route("/login", Reply(307, "", headers={"Location": f"{elsewhere.url}/login"}))
    provider.route("/v3/forecast", Reply(200, wt_forecast([900.0])))
    found = wt_setup(monkeypatch).intensity_now()
    basic = base64.b64encode(f"{WT_USER}:{WT_PASSWORD}".encode()).decode()
    assert not [r for r in elsewhere.requests if basic in r.headers.get("authorization", "")]
    assert elsewhere.requests == []
    assert found.intensity.provider != "watttime"


def test_a_redirect_within_the_provider_is_followed(provider: ReplayServer,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    provider.route(LATEST, Reply(302, "", headers={"Location": "/v3/moved"}))
    provider.route("/v3/moved", Reply(200, em_latest(222.0)))
    found = em_setup(monkeypatch).intensity_now()
    assert found.intensity.provider == "electricitymaps"
    assert found.intensity.value_g_per_kwh == 222.0


def test_a_server_answering_byte_by_byte_is_cut_off_at_the_deadline(
        provider: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> None:
    provider.route(LATEST, Reply(200, em_latest(333.0), drip_s=0.05))  # ~15 s for the body
    monkeypatch.setattr(fetch, "DEFAULT_DEADLINE_S", 1.0)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="no complete answer within 1 s"):
        live.ElectricityMaps("DE", EM_KEY, timeout_s=1.0).now()
    assert time.monotonic() - started < 4


def test_a_failed_provider_is_asked_once_for_a_whole_run(
        provider: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> None:
    provider.route(LATEST, Reply(503, {}))
    setup = em_setup(monkeypatch)
    footprints = [setup.footprint(energy_kwh=0.1, duration_s=1.0) for _ in range(5)]
    assert len(provider.hits(LATEST)) == 1
    assert all(fp.intensity.provider == "codecarbon" for fp in footprints)
    assert "not asked again" in footprints[-1].chain[0].reason
