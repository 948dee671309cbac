"""The Intensity value object: one carbon intensity, in gCO2e/kWh, and where it came from.

An intensity is never a bare number: it carries its provider, region, the time or data year it
describes, whether it is an estimate or a forecast, and whether it is an average or a marginal
signal. Every provider in this package returns one, and a Footprint stores one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from greenbench.errors import UserError

UNIT = "gCO2e/kWh"

#: one pound per MWh in g/kWh (the avoirdupois pound is exactly 0.45359237 kg): eGRID and
#: WattTime publish lbs/MWh
G_PER_KWH_PER_LB_PER_MWH = 0.45359237

#: above this no grid on Earth emits (lignite plants are about 1,100-1,200 g/kWh); a larger
#: value is a unit mistake (lbs/MWh, kg/MWh) rather than a dirty grid
MAX_INTENSITY_G_PER_KWH = 2000.0

AVERAGE = "average"
MARGINAL = "marginal"


class ProviderUnavailable(Exception):
    """A provider could not give an intensity; the chain falls back and records ``reason``.

    The reason must never contain a credential: it is stored with results.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Intensity:
    """A carbon intensity in gCO2e/kWh with its provenance.

    ``time_utc`` (ISO 8601) is the moment or the start of the span the value describes, for
    live and time-series values; ``year`` is the data year of an annual table. ``estimate`` is
    true when the value stands in for the real intensity during the run (an annual average, a
    modelled value); ``forecast`` when it was predicted rather than observed.
    """

    value_g_per_kwh: float
    provider: str
    region: str
    source: str
    time_utc: str | None = None
    year: int | None = None
    estimate: bool = True
    forecast: bool = False
    signal: str = AVERAGE
    note: str | None = None

    @property
    def unit(self) -> str:
        return UNIT

    def describe(self) -> str:
        """One line for people: ``56 gCO2e/kWh (FRA, codecarbon 2023, estimate)``."""
        when = self.time_utc or (str(self.year) if self.year is not None else "")
        flags = [f for f, on in (("estimate", self.estimate), ("forecast", self.forecast),
                                 ("marginal", self.signal == MARGINAL)) if on]
        details = ", ".join(x for x in (self.region, self.provider, when, *flags) if x)
        return f"{self.value_g_per_kwh:.4g} {UNIT} ({details})"

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["unit"] = UNIT
        return doc

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Intensity:
        fields = {k: v for k, v in data.items() if k != "unit"}
        return cls(**fields)


@dataclass(frozen=True)
class Attempt:
    """One step of a fallback chain: which provider was asked, and what came of it.

    ``outcome`` is ``used``, ``failed`` (asked, no usable answer) or ``skipped`` (not asked,
    e.g. no API key set).
    """

    provider: str
    region: str
    outcome: str
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attempt:
        return cls(**data)


def check_intensity(value_g_per_kwh: float, what: str) -> float:
    """A user-given intensity in gCO2e/kWh, or a UserError naming ``what`` (an option, a line)."""
    if not math.isfinite(value_g_per_kwh):
        raise UserError(f"{what}: the intensity must be a finite number of gCO2e/kWh")
    if value_g_per_kwh < 0:
        raise UserError(f"{what}: a carbon intensity cannot be negative ({value_g_per_kwh:g} "
                        f"gCO2e/kWh)")
    if value_g_per_kwh > MAX_INTENSITY_G_PER_KWH:
        raise UserError(
            f"{what}: {value_g_per_kwh:g} gCO2e/kWh is above any real grid (max "
            f"{MAX_INTENSITY_G_PER_KWH:g}); is it in lbs/MWh or kg/MWh? Give gCO2e/kWh"
        )
    return float(value_g_per_kwh)
