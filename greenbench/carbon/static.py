"""Intensities that do not change over a run: CodeCarbon's annual tables, the world average,
and a constant the user gives (``--intensity 120``), all in gCO2e/kWh."""

from __future__ import annotations

from greenbench.carbon import codecarbon_data
from greenbench.carbon.intensity import Intensity, ProviderUnavailable, check_intensity
from greenbench.carbon.region import Region

STATIC = "codecarbon"
WORLD_AVERAGE = "world-average"
CONSTANT = "constant"


class StaticSource:
    """The annual value of one region from CodeCarbon's tables (an estimate for any run)."""

    name = STATIC

    def __init__(self, region: Region) -> None:
        self.region = region
        self.label = region.static_code or region.code

    def now(self) -> Intensity:
        if self.region.static_code is None:
            raise ProviderUnavailable(f"CodeCarbon has no table entry for {self.region.code}")
        try:
            entry = codecarbon_data.tables()[self.region.static_code]
        except KeyError:
            raise ProviderUnavailable(
                f"{self.region.static_code} is not in CodeCarbon "
                f"{codecarbon_data.codecarbon_version()}'s tables") from None
        except Exception as exc:  # a broken CodeCarbon install must not lose a measurement
            raise ProviderUnavailable(f"CodeCarbon's tables could not be read: {exc}") from exc
        note = "annual average used for a run at any time of year"
        if self.region.native is not None:
            note = f"nearest static region to {self.region.code}; {note}"
        return Intensity(
            value_g_per_kwh=entry.value_g_per_kwh, provider=STATIC, region=entry.code,
            source=entry.source, year=entry.year, estimate=True,
            note="; ".join(x for x in (entry.note, note) if x),
        )

    def over(self, start_unix_s: float, end_unix_s: float) -> Intensity:
        return self.now()


class WorldAverageSource:
    """The last fallback: CodeCarbon's world average, always available, always said aloud."""

    name = WORLD_AVERAGE
    label = codecarbon_data.WORLD

    def __init__(self, why: str = "") -> None:
        self.why = why

    def now(self) -> Intensity:
        entry = codecarbon_data.world_average()
        note = "world average: no regional intensity was used"
        note = "; ".join(x for x in (note, self.why, entry.note) if x)
        return Intensity(
            value_g_per_kwh=entry.value_g_per_kwh, provider=WORLD_AVERAGE,
            region=codecarbon_data.WORLD, source=entry.source, year=entry.year, estimate=True,
            note=note,
        )

    def over(self, start_unix_s: float, end_unix_s: float) -> Intensity:
        return self.now()


class ConstantSource:
    """A value the user gives, in gCO2e/kWh; checked when built (negative or absurd: error)."""

    name = CONSTANT

    def __init__(self, value_g_per_kwh: float, region: Region | None = None,
                 what: str = "--intensity") -> None:
        self.value_g_per_kwh = check_intensity(value_g_per_kwh, f"{what} {value_g_per_kwh:g}")
        self.region = region
        self.label = region.code if region is not None else "-"

    def now(self) -> Intensity:
        return Intensity(
            value_g_per_kwh=self.value_g_per_kwh, provider=CONSTANT, region=self.label,
            source="given by the user (--intensity)", estimate=False,
        )

    def over(self, start_unix_s: float, end_unix_s: float) -> Intensity:
        return self.now()
