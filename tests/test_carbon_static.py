"""Static intensities: equal to CodeCarbon's own figures, read through CodeCarbon itself;
region codes, suggestions for unknown ones, and the world average said out loud."""

from __future__ import annotations

import pytest

from greenbench.carbon import codecarbon_data
from greenbench.carbon.options import resolve_carbon
from greenbench.carbon.region import electricitymaps_zone, parse_region
from greenbench.errors import UserError
from tests.carbon_http import isolate


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    isolate(monkeypatch, tmp_path)


def codecarbon_g_per_kwh(country: str, region: str | None = None) -> float:
    """What CodeCarbon itself computes for 1 kWh on private infrastructure, in g."""
    from codecarbon.core.emissions import Emissions
    from codecarbon.core.units import Energy
    from codecarbon.external.geography import GeoMetadata
    from codecarbon.input import DataSource

    kg = Emissions(DataSource()).get_private_infra_emissions(
        Energy.from_energy(kWh=1.0), GeoMetadata(country_iso_code=country, region=region))
    return kg * 1000.0


def static_g_per_kwh(region: str) -> float:
    setup = resolve_carbon(region, None, None, "static", 1.0)
    found = setup.intensity_now().intensity
    assert found.provider == "codecarbon"
    return found.value_g_per_kwh


@pytest.mark.parametrize(("ours", "country", "cc_region"), [
    ("FRA", "FRA", None),
    ("DEU", "DEU", None),
    ("IND", "IND", None),
    ("BRA", "BRA", None),
    ("USA/CA", "USA", "california"),
    ("US-TX", "USA", "texas"),
    ("CA-QC", "CAN", "quebec"),
    ("CAN/AB", "CAN", "alberta"),
    ("SE-SE3", "SWE", "SE3"),
    ("NOR/NO4", "NOR", "NO4"),
    ("CN-BJ", "CHN", "beijing"),
    ("CHN/GD", "CHN", "guangdong"),
])
def test_static_value_equals_codecarbons_own(ours: str, country: str,
                                             cc_region: str | None) -> None:
    assert static_g_per_kwh(ours) == pytest.approx(codecarbon_g_per_kwh(country, cc_region),
                                                   rel=1e-9)


@pytest.mark.parametrize("gcp_region", ["europe-west1", "us-central1", "asia-east1"])
def test_cloud_region_equals_codecarbons_own(gcp_region: str) -> None:
    from codecarbon.core.emissions import Emissions
    from codecarbon.core.units import Energy
    from codecarbon.external.geography import CloudMetadata
    from codecarbon.input import DataSource

    expected = Emissions(DataSource()).get_cloud_emissions(
        Energy.from_energy(kWh=1.0), CloudMetadata(provider="gcp", region=gcp_region)) * 1000
    assert static_g_per_kwh(f"gcp:{gcp_region}") == pytest.approx(expected, rel=1e-9)


def test_world_average_is_codecarbons_and_is_said_out_loud() -> None:
    from codecarbon.input import DataSource

    expected = DataSource().get_carbon_intensity_per_source_data()["world_average"]
    resolution = resolve_carbon(None, None, None, None, 1.0).intensity_now()
    found = resolution.intensity
    assert found.value_g_per_kwh == expected
    assert found.provider == "world-average"
    assert found.estimate
    assert "world average" in (found.note or "")
    assert "no region given" in (found.note or "")


def test_static_intensity_keeps_year_and_source() -> None:
    found = resolve_carbon("USA/CA", None, None, None, 1.0).intensity_now().intensity
    assert found.year == 2023
    assert "eGRID" in found.source
    assert found.estimate and not found.forecast and found.signal == "average"
    assert found.unit == "gCO2e/kWh"


@pytest.mark.parametrize(("text", "code"), [
    ("FRA", "FRA"), ("fra", "FRA"), ("France", "FRA"), ("US-CA", "USA/CA"),
    ("USA/california", "USA/CA"), ("usa/ca", "USA/CA"), ("CA-QC", "CAN/QC"),
    ("SE-SE3", "SWE/SE3"), ("CHN/beijing", "CHN/BJ"), ("gcp:europe-west1", "gcp:europe-west1"),
    ("world", "world"), ("California", "USA/CA"),
])
def test_region_forms_map_to_one_canonical_code(text: str, code: str) -> None:
    assert parse_region(text).code == code


def test_provider_zones_parse_and_keep_a_static_fallback() -> None:
    em = parse_region("electricitymaps:se-se3")
    assert em.native == ("electricitymaps", "SE-SE3")
    assert em.static_code == "SWE/SE3"
    wt = parse_region("watttime:CAISO_NORTH")
    assert wt.native == ("watttime", "CAISO_NORTH")
    assert wt.static_code is None


@pytest.mark.parametrize(("text", "zone"), [("FRA", "FR"), ("SWE/SE3", "SE-SE3"),
                                            ("FIN/FI", "FI"), ("USA/CA", None),
                                            ("world", None)])
def test_electricitymaps_zone_from_region(text: str, zone: str | None) -> None:
    assert electricitymaps_zone(parse_region(text)) == zone


@pytest.mark.parametrize(("text", "suggestion"), [
    ("Frnace", "FRA (France)"), ("FRX", "FRA (France)"), ("USA/TXX", "USA/TX (Texas)"),
    ("gcp:europ-west1", "gcp:europe-west1"),
])
def test_unknown_region_suggests_close_matches(text: str, suggestion: str) -> None:
    with pytest.raises(UserError) as info:
        parse_region(text)
    message = str(info.value)
    assert "unknown region" in message and suggestion in message
    assert "\n" not in message


def test_cloud_without_data_says_so() -> None:
    with pytest.raises(UserError, match="Google Cloud only"):
        parse_region("aws:us-east-1")


def test_subnational_form_for_a_country_without_subnational_data() -> None:
    with pytest.raises(UserError, match="use the country, DEU"):
        parse_region("DE-BY")


def test_region_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GREENBENCH_REGION", "SE-SE3")
    setup = resolve_carbon(None, None, None, None, 1.0)
    assert setup.region.code == "SWE/SE3"
    assert setup.region_origin == "$GREENBENCH_REGION"
    monkeypatch.setenv("GREENBENCH_REGION", "Atlantis")
    with pytest.raises(UserError, match=r"\$GREENBENCH_REGION Atlantis: unknown region"):
        resolve_carbon(None, None, None, None, 1.0)


def test_adapter_is_the_only_codecarbon_reader_and_is_lazy() -> None:
    import subprocess
    import sys

    code = ("import sys; import greenbench.carbon.options, greenbench.commands.carbon; "
            "print('codecarbon' in sys.modules, 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]
    assert len(codecarbon_data.tables()) > 300


def test_no_other_carbon_module_imports_codecarbon() -> None:
    import re
    from pathlib import Path

    imports_codecarbon = re.compile(r"^\s*(from|import)\s+codecarbon(\.|\s|$)", re.MULTILINE)
    package = Path(codecarbon_data.__file__).parent
    readers = sorted(p.name for p in package.glob("*.py")
                     if imports_codecarbon.search(p.read_text()))
    assert readers == ["codecarbon_data.py"]
