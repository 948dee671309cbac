"""Operational and embodied emissions and SCI, on worked examples checked by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from greenbench.carbon.chain import Resolution
from greenbench.carbon.embodied import (
    BUILTIN,
    SECONDS_PER_YEAR,
    DeviceUse,
    amortised_g,
    devices_from_machine,
    embodied,
    load_table,
)
from greenbench.carbon.footprint import Footprint, footprint
from greenbench.carbon.intensity import Attempt, Intensity
from greenbench.carbon.options import resolve_carbon
from greenbench.errors import UserError
from tests.carbon_http import isolate


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


def resolved(value_g_per_kwh: float) -> Resolution:
    return Resolution(Intensity(value_g_per_kwh, "constant", "-", "test", estimate=False),
                      (Attempt("constant", "-", "used"),))


def test_sci_worked_example(tmp_path: Path) -> None:
    # By hand: E = 1.5 kWh, I = 400 g/kWh, PUE = 1.2 -> operational 1.5 x 400 x 1.2 = 720 g.
    # One board of 315.576 kgCO2e over 1 year (31,557,600 s), held 3,600 s:
    #   M = 315,576 g x 3,600 / 31,557,600 = 36 g.  SCI = (720 + 36) / 1,000 tokens = 0.756.
    config = tmp_path / "embodied.json"
    config.write_text(json.dumps({"devices": {"board": {
        "kg_co2e": 315.576, "lifetime_years": 1, "source": "worked example"}}}))
    table = load_table(config)
    m = embodied([DeviceUse("board")], held_s=3600.0, table=table)
    fp = footprint(resolved(400.0), 1.5, 1.2, duration_s=3600.0, embodied=m, units=1000,
                   unit="token")
    assert fp.operational_g == pytest.approx(720.0)
    assert fp.embodied_g == pytest.approx(36.0)
    assert fp.total_g == pytest.approx(756.0)
    assert fp.sci_g_per_unit == pytest.approx(0.756)
    assert fp.unit == "token"
    assert m.parts[0].source == "worked example"


def test_sci_through_the_setup_with_a_constant_intensity(tmp_path: Path) -> None:
    config = tmp_path / "embodied.json"
    config.write_text(json.dumps({"devices": {"board": {"kg_co2e": 315.576,
                                                         "lifetime_years": 1}}}))
    setup = resolve_carbon(None, 400.0, None, None, 1.2, embodied_config=str(config))
    fp = setup.footprint(energy_kwh=1.5, duration_s=3600.0, units=1000, unit="token",
                         devices=[DeviceUse("board")])
    assert fp.sci_g_per_unit == pytest.approx(0.756)
    assert fp.intensity.provider == "constant"


def test_amortisation_scales_with_time_share_and_count() -> None:
    year = SECONDS_PER_YEAR
    assert amortised_g(1.0, 1.0, year) == pytest.approx(1000.0)
    assert amortised_g(1.0, 4.0, year) == pytest.approx(250.0)
    assert amortised_g(1.0, 1.0, year, share=0.25, count=8) == pytest.approx(2000.0)


def test_published_estimates_carry_their_sources() -> None:
    assert BUILTIN["gpu-server"].kg_co2e == 2500.0
    assert BUILTIN["gpu"].kg_co2e == 150.0
    assert BUILTIN["gpu:a100"].kg_co2e == 318.0
    assert "2211.02001" in BUILTIN["gpu"].source
    assert "HotCarbon 2023" in BUILTIN["gpu:a100"].source


def test_devices_from_machine_facts() -> None:
    a100s = devices_from_machine({"gpus": [{"name": "NVIDIA A100-SXM4-80GB"}] * 8})
    assert [(d.key, d.count) for d in a100s] == [("gpu:a100", 8)]  # host already included
    mixed = devices_from_machine({"gpus": [{"name": "NVIDIA H100"}, {"name": "NVIDIA H100"}]})
    assert [(d.key, d.count) for d in mixed] == [("gpu", 2), ("gpu-server", 1)]
    cpu_only = devices_from_machine({"gpus": [], "cpu_model": "AMD EPYC 7B13"})
    assert [d.key for d in cpu_only] == ["cpu-server"]


def test_device_without_an_estimate_is_named_not_zeroed() -> None:
    setup = resolve_carbon("FRA", None, None, None, 1.0)
    fp = setup.footprint(energy_kwh=1.0, duration_s=60.0, machine={"gpus": [],
                                                                   "cpu_model": "EPYC"})
    assert fp.embodied is not None and fp.embodied_g is None
    assert fp.embodied.missing == ("EPYC",)
    assert fp.total_g == fp.operational_g
    assert any("no embodied estimate for EPYC" in n for n in fp.notes)


def test_embodied_config_in_toml_overrides_and_adds(tmp_path: Path) -> None:
    config = tmp_path / "embodied.toml"
    config.write_text('lifetime_years = 5\n[devices.gpu]\nkg_co2e = 200\n'
                      '[devices.cpu-server]\nkg_co2e = 1200\nsource = "vendor sheet"\n')
    table = load_table(config)
    assert table["gpu"].kg_co2e == 200.0 and table["gpu"].lifetime_years == 5.0
    assert table["cpu-server"].source == "vendor sheet"
    assert table["gpu-server"].lifetime_years == 5.0  # built-ins take the new default


def test_embodied_config_from_environment(tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "e.json"
    config.write_text(json.dumps({"devices": {"cpu-server": {"kg_co2e": 1000}}}))
    monkeypatch.setenv("GREENBENCH_EMBODIED_CONFIG", str(config))
    assert load_table()["cpu-server"].kg_co2e == 1000.0


@pytest.mark.parametrize(("text", "words"), [
    ('{"devices": {"gpu": {"kg_co2e": -1}}}', "out of range"),
    ('{"devices": {"gpu": {"kg": 1}}}', "unknown field"),
    ('{"devices": {"new": {"source": "x"}}}', "kg_co2e is required"),
    ('{"lifetime_years": 0}', "out of range"),
    ("{broken", "malformed"),
])
def test_bad_embodied_config(tmp_path: Path, text: str, words: str) -> None:
    config = tmp_path / "e.json"
    config.write_text(text)
    with pytest.raises(UserError, match=words):
        load_table(config)


def test_no_functional_unit_means_no_sci() -> None:
    fp = footprint(resolved(100.0), 2.0, 1.0, duration_s=1.0)
    assert fp.sci_g_per_unit is None and fp.total_g == pytest.approx(200.0)
    zero = footprint(resolved(100.0), 2.0, 1.0, duration_s=1.0, units=0, unit="image")
    assert zero.sci_g_per_unit is None
    assert any("no SCI" in n for n in zero.notes)


def test_footprint_round_trips_through_json() -> None:
    setup = resolve_carbon("SE-SE3", None, None, None, 1.58)
    fp = setup.footprint(energy_kwh=0.25, duration_s=900.0, start_unix_s=1_714_564_800.0,
                         units=64, unit="image",
                         machine={"gpus": [{"name": "NVIDIA L4"}]})
    doc = json.loads(json.dumps(fp.to_dict()))
    again = Footprint.from_dict(doc)
    assert again == fp
    for key in ("energy_kwh", "pue", "operational_g", "embodied_g", "total_g",
                "sci_g_per_unit", "unit", "intensity", "intensity_chain", "embodied"):
        assert key in doc
    assert doc["intensity"]["region"] == "SWE/SE3" and doc["intensity"]["year"] == 2025
    assert doc["start_utc"] == "2024-05-01T12:00:00Z"


def test_negative_energy_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        footprint(resolved(100.0), -1.0, 1.0, duration_s=1.0)
