"""The fallback chain: its order for each way of asking, the reasons it records, and option
checks that fail before anything is measured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from greenbench.carbon.chain import Chain, Skipped
from greenbench.carbon.intensity import Intensity, ProviderUnavailable
from greenbench.carbon.options import resolve_carbon
from greenbench.errors import UserError
from tests.carbon_http import Reply, em_latest, isolate, replay_server


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


class Fake:
    def __init__(self, name: str, value: float | None, reason: str = "down") -> None:
        self.name, self.label, self.value, self.reason = name, "here", value, reason
        self.asked = 0

    def now(self) -> Intensity:
        self.asked += 1
        if self.value is None:
            raise ProviderUnavailable(self.reason)
        return Intensity(self.value, self.name, "here", "test")

    def over(self, start_unix_s: float, end_unix_s: float) -> Intensity:
        return self.now()


def test_first_answer_wins_and_every_step_before_it_is_recorded() -> None:
    first, second, third = Fake("a", None, "HTTP 500"), Fake("b", 42.0), Fake("c", 7.0)
    chain = Chain([Skipped("z", "here", "no key"), first, second, third])
    resolution = chain.now()
    assert resolution.intensity.value_g_per_kwh == 42.0
    assert [(a.provider, a.outcome, a.reason) for a in resolution.attempts] == [
        ("z", "skipped", "no key"), ("a", "failed", "HTTP 500"), ("b", "used", "")]
    assert third.asked == 0
    assert resolution.fell_back


def test_world_average_closes_every_chain() -> None:
    resolution = Chain([Fake("a", None)]).now()
    assert resolution.intensity.provider == "world-average"
    assert [a.outcome for a in resolution.attempts] == ["failed", "used"]


def test_a_provider_bug_falls_back_instead_of_losing_the_run() -> None:
    class Broken(Fake):
        def now(self) -> Intensity:
            raise KeyError("surprise")

    resolution = Chain([Broken("x", 1.0)]).now()
    assert resolution.intensity.provider == "world-average"
    assert "unexpected KeyError" in resolution.attempts[0].reason


@pytest.mark.parametrize(("args", "env", "names"), [
    (("FRA", None, None, None), {}, ["electricitymaps", "codecarbon", "world-average"]),
    ((None, None, None, None), {}, ["electricitymaps", "world-average"]),
    (("FRA", None, None, "static"), {}, ["codecarbon", "world-average"]),
    (("FRA", 120.0, None, None), {}, ["constant", "world-average"]),
    (("FRA", None, None, "electricitymaps"), {"ELECTRICITYMAPS_API_KEY": "k"},
     ["electricitymaps", "codecarbon", "world-average"]),
    (("watttime:CAISO_NORTH", None, None, "watttime"),
     {"WATTTIME_USERNAME": "u", "WATTTIME_PASSWORD": "p"},
     ["watttime", "codecarbon", "world-average"]),
    (("GBR", None, None, "uk"), {}, ["carbonintensity-uk", "codecarbon", "world-average"]),
])
def test_chain_order(monkeypatch: pytest.MonkeyPatch, args: tuple[Any, ...], env: dict[str, str],
                     names: list[str]) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    region, intensity, intensity_file, provider = args
    setup = resolve_carbon(region, intensity, intensity_file, provider, 1.0)
    assert setup.chain.names == names


def test_auto_uses_electricitymaps_when_a_key_is_set_then_falls_back(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with replay_server() as server:
        monkeypatch.setenv("GREENBENCH_ELECTRICITYMAPS_URL", server.url)
        monkeypatch.setenv("ELECTRICITYMAPS_API_KEY", "k")
        server.route("/v3/carbon-intensity/latest", Reply(200, em_latest(77.0, "FR")))
        used = resolve_carbon("FRA", None, None, None, 1.0).intensity_now()
        assert (used.intensity.provider, used.intensity.value_g_per_kwh) == ("electricitymaps",
                                                                             77.0)
        server.route("/v3/carbon-intensity/latest", Reply(503, {}))
        failed = resolve_carbon("DEU", None, None, None, 1.0).intensity_now()
        skipped = resolve_carbon("USA/CA", None, None, None, 1.0).intensity_now()
        assert len(server.requests) == 2  # FR then DE; USA/CA asked nothing
    assert [(a.provider, a.outcome) for a in failed.attempts] == [
        ("electricitymaps", "failed"), ("codecarbon", "used")]
    assert "HTTP 503" in failed.attempts[0].reason
    # USA/CA has no Electricity Maps zone: skipped, with the reason, before any request
    assert [(a.provider, a.outcome) for a in skipped.attempts] == [
        ("electricitymaps", "skipped"), ("codecarbon", "used")]
    assert "no Electricity Maps zone" in skipped.attempts[0].reason


def test_footprint_never_raises_when_every_provider_fails(monkeypatch) -> None:
    monkeypatch.setenv("ELECTRICITYMAPS_API_KEY", "k")  # its URL is a closed local port
    setup = resolve_carbon("electricitymaps:XX-NOWHERE", None, None, None, 1.0)
    fp = setup.footprint(energy_kwh=0.5, duration_s=60.0)
    assert fp.intensity.provider == "world-average"
    assert fp.operational_g == pytest.approx(0.5 * fp.intensity.value_g_per_kwh)
    assert any("world average" in n for n in fp.notes)
    assert any("electricitymaps failed" in n for n in fp.notes)


@pytest.mark.parametrize(("args", "words"), [
    ((None, -5.0, None, None, 1.0), "cannot be negative"),
    ((None, 5000.0, None, None, 1.0), "above any real grid"),
    ((None, float("nan"), None, None, 1.0), "finite"),
    ((None, None, None, None, 0.9), "at least 1.0"),
    ((None, None, None, None, 4.0), "above 3"),
    ((None, 100.0, "grid.csv", None, 1.0), "alternatives"),
    ((None, 100.0, None, "electricitymaps", 1.0), "alternatives"),
    ((None, None, None, "carbonsignal", 1.0), "unknown; use one of"),
    (("USA/CA", None, None, "electricitymaps", 1.0), "no Electricity Maps zone"),
    (("FRA", None, None, "watttime", 1.0), "watttime:CAISO_NORTH"),
])
def test_bad_options_are_one_line_user_errors(args: tuple[Any, ...], words: str) -> None:
    with pytest.raises(UserError) as info:
        resolve_carbon(*args)
    assert words in str(info.value)
    assert "\n" not in str(info.value)


def test_pue_is_recorded_even_at_its_default() -> None:
    setup = resolve_carbon("FRA", None, None, None, None)
    assert setup.pue == 1.0
    assert setup.describe()["pue"] == 1.0
    assert setup.footprint(energy_kwh=1.0, duration_s=1.0).to_dict()["pue"] == 1.0
