"""The Python API gives the footprint of a measured window when a region or an intensity is
configured: by argument, by GREENBENCH_REGION, or in [tool.greenbench]."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import greenbench
from greenbench.clock import VirtualClock
from greenbench.errors import UserError
from greenbench.meter import Meter
from greenbench.sensors.base import SensorReadError
from tests.standins import SteppedCounter, constant

WATTS, SECONDS = 100.0, 2.0


class Broken(SteppedCounter):
    def read_value(self) -> float:
        raise SensorReadError("sysfs read failed: EIO")


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def meter(clock: VirtualClock) -> Meter:
    """A 100 W counter on virtual time."""
    return Meter([SteppedCounter(clock, "cpu-package:0", constant(WATTS),
                                 update_period_s=0.001)], clock=clock)


@pytest.fixture(autouse=True)
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No region in the environment, no settings files, no live provider's key."""
    for name in ("GREENBENCH_REGION", "ELECTRICITYMAPS_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    yield tmp_path / "work"


def test_an_intensity_gives_the_footprint_of_the_energy_measured(
        meter: Meter, clock: VirtualClock) -> None:
    with greenbench.measure("epoch", meter, intensity=400.0, pue=1.5) as m:
        clock.advance(SECONDS)
    assert m.measurement is not None and m.measurement.method == "counter"
    energy_j = m.measurement.energy_j
    assert energy_j == pytest.approx(WATTS * SECONDS, rel=0.01)
    fp = m.footprint
    assert fp is not None
    assert fp.energy_kwh == energy_j / 3.6e6
    assert fp.operational_g == pytest.approx(energy_j / 3.6e6 * 400.0 * 1.5, rel=1e-12)
    assert fp.intensity.value_g_per_kwh == 400.0 and fp.intensity.provider == "constant"
    assert fp.pue == 1.5 and fp.duration_s == m.measurement.duration_s


def test_a_region_from_the_environment_names_its_source(
        meter: Meter, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("codecarbon")
    monkeypatch.setenv("GREENBENCH_REGION", "FRA")
    with greenbench.measure("epoch", meter) as m:
        clock.advance(SECONDS)
    assert m.carbon is not None
    assert (m.carbon.region.code, m.carbon.region_origin) == ("FRA", "$GREENBENCH_REGION")
    assert m.footprint is not None and m.footprint.intensity.provider == "codecarbon"
    assert m.footprint.intensity.region == "FRA"


def test_a_region_and_pue_from_the_project_file_and_an_argument_above_them(
        meter: Meter, clock: VirtualClock, nowhere: Path) -> None:
    pytest.importorskip("codecarbon")
    project = nowhere / "pyproject.toml"
    project.write_text('[tool.greenbench]\nregion = "DEU"\npue = 1.3\n')
    with greenbench.measure("epoch", meter) as m:
        clock.advance(SECONDS)
    assert m.carbon is not None and m.footprint is not None
    assert (m.carbon.region.code, m.carbon.region_origin) == ("DEU", str(project))
    assert m.footprint.pue == 1.3 and m.footprint.intensity.region == "DEU"
    with greenbench.measure("epoch", meter, region="SWE/SE3") as m:
        clock.advance(SECONDS)
    assert m.carbon is not None and m.footprint is not None
    assert (m.carbon.region.code, m.carbon.region_origin) == ("SWE/SE3", "region=")
    assert m.footprint.pue == 1.3


def test_with_no_region_or_intensity_there_is_no_footprint(
        meter: Meter, clock: VirtualClock) -> None:
    with greenbench.measure("epoch", meter) as m:
        clock.advance(SECONDS)
    assert m.measurement is not None and m.measurement.energy_j is not None
    assert m.footprint is None and m.carbon is None


def test_no_footprint_from_an_energy_that_could_not_be_read(clock: VirtualClock) -> None:
    meter = Meter([Broken(clock, "cpu-package:0", constant(WATTS))], clock=clock)
    with greenbench.measure("epoch", meter, intensity=400.0) as m:
        clock.advance(SECONDS)
    assert m.measurement is not None and m.measurement.energy_j is None
    assert m.footprint is None


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"region": "Frnace"}, r"^region= Frnace: unknown region"),
    ({"intensity": 100.0, "pue": 0.5}, r"^pue= 0\.5: a PUE is at least 1\.0"),
    ({"intensity": 100.0, "provider": "em"}, r"are alternatives"),
])
def test_a_mistake_is_refused_before_the_block_runs(
        meter: Meter, kwargs: dict[str, object], message: str) -> None:
    ran = False
    with (pytest.raises(UserError, match=message),
          greenbench.measure("epoch", meter, **kwargs)):  # type: ignore[arg-type]
        ran = True
    assert not ran
