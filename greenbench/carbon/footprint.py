"""A run's carbon footprint: operational and embodied emissions, and the SCI score.

    operational_g = energy_kwh x intensity_g_per_kwh x pue
    SCI           = (operational_g + embodied_g) / units      (ISO/IEC 21031:2024: (E.I + M)/R)

``Footprint`` is what the results store keeps with every run and case (``to_dict`` /
``from_dict`` round-trip through JSON); it holds every input, so any figure can be recomputed
and questioned later: the intensity with its provenance and the chain that chose it, the PUE,
and each device's embodied share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from greenbench.carbon.chain import Resolution
from greenbench.carbon.embodied import Embodied
from greenbench.carbon.intensity import Attempt, Intensity
from greenbench.carbon.static import WORLD_AVERAGE
from greenbench.carbon.timeseries import iso_utc
from greenbench.errors import UserError
from greenbench.units import fmt_quantity

FORMAT_VERSION = 1
J_PER_KWH = 3.6e6
#: PUE: 1.0 is a perfect facility; above 3 is no data centre in use today, but a typo
MAX_PUE = 3.0
METHOD = ("operational_g = energy_kwh x intensity_g_per_kwh x pue; "
          "sci_g_per_unit = (operational_g + embodied_g) / units (ISO/IEC 21031:2024)")


@dataclass(frozen=True)
class Footprint:
    """Emissions in gCO2e of ``energy_kwh`` of work, with every input that produced them.

    ``embodied`` is None when embodied emissions were not asked for; ``embodied.g`` is None
    when no device had an estimate. ``sci_g_per_unit`` is None without a functional unit.
    """

    energy_kwh: float
    intensity: Intensity
    pue: float
    operational_g: float
    total_g: float
    duration_s: float
    start_utc: str | None = None
    embodied: Embodied | None = None
    units: float | None = None
    unit: str | None = None
    sci_g_per_unit: float | None = None
    chain: tuple[Attempt, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def embodied_g(self) -> float | None:
        return None if self.embodied is None else self.embodied.g

    @property
    def is_estimate(self) -> bool:
        return self.intensity.estimate

    def summary(self) -> str:
        """One line for people: the total, its parts, and where the intensity came from."""
        parts = [f"{fmt_quantity(self.operational_g, 'g')} operational"]
        if self.embodied_g is not None:
            parts.append(f"{fmt_quantity(self.embodied_g, 'g')} embodied")
        line = (f"emissions {fmt_quantity(self.total_g, 'gCO2e')} ({' + '.join(parts)}; "
                f"intensity {self.intensity.describe()}, PUE {self.pue:g})")
        if self.sci_g_per_unit is not None and self.unit:
            line += f"; SCI {fmt_quantity(self.sci_g_per_unit, 'gCO2e')}/{self.unit}"
        return line

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "energy_kwh": self.energy_kwh,
            "duration_s": self.duration_s,
            "start_utc": self.start_utc,
            "intensity": self.intensity.to_dict(),
            "intensity_chain": [a.to_dict() for a in self.chain],
            "pue": self.pue,
            "operational_g": self.operational_g,
            "embodied_g": self.embodied_g,
            "embodied": None if self.embodied is None else self.embodied.to_dict(),
            "total_g": self.total_g,
            "units": self.units,
            "unit": self.unit,
            "sci_g_per_unit": self.sci_g_per_unit,
            "method": METHOD,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Footprint:
        embodied = data.get("embodied")
        return cls(
            energy_kwh=data["energy_kwh"], intensity=Intensity.from_dict(data["intensity"]),
            pue=data["pue"], operational_g=data["operational_g"], total_g=data["total_g"],
            duration_s=data["duration_s"], start_utc=data.get("start_utc"),
            embodied=None if embodied is None else Embodied.from_dict(embodied),
            units=data.get("units"), unit=data.get("unit"),
            sci_g_per_unit=data.get("sci_g_per_unit"),
            chain=tuple(Attempt.from_dict(a) for a in data.get("intensity_chain", [])),
            notes=tuple(data.get("notes", [])),
        )


def footprint(resolution: Resolution, energy_kwh: float, pue: float, *, duration_s: float,
              start_unix_s: float | None = None, embodied: Embodied | None = None,
              units: float | None = None, unit: str | None = None) -> Footprint:
    """The footprint of ``energy_kwh`` (kWh, at the IT equipment) under a resolved intensity.

    ``units`` of functional unit ``unit`` (token, sample, image, query) give SCI per unit.
    """
    if not math.isfinite(energy_kwh) or energy_kwh < 0:
        raise ValueError(f"energy_kwh must be a finite number >= 0, got {energy_kwh}")
    check_pue(pue)
    intensity = resolution.intensity
    operational_g = energy_kwh * intensity.value_g_per_kwh * pue
    embodied_g = embodied.g if embodied is not None and embodied.g is not None else 0.0
    total_g = operational_g + embodied_g
    notes = _notes(resolution, embodied)
    sci = None
    if units is not None and units > 0:
        sci = total_g / units
    elif units is not None or unit is not None:
        notes.append("no SCI: the run did no functional units")
    return Footprint(
        energy_kwh=energy_kwh, intensity=intensity, pue=pue, operational_g=operational_g,
        total_g=total_g, duration_s=duration_s,
        start_utc=None if start_unix_s is None else iso_utc(start_unix_s),
        embodied=embodied, units=units, unit=unit, sci_g_per_unit=sci,
        chain=resolution.attempts, notes=tuple(notes),
    )


def check_pue(pue: float, what: str = "--pue") -> float:
    """A PUE between 1.0 and MAX_PUE, or a UserError."""
    if not math.isfinite(pue) or pue < 1.0:
        raise UserError(f"{what} {pue:g}: a PUE is at least 1.0 (all power reaches the IT "
                        "equipment); 1.58 is a commonly quoted data-centre average")
    if pue > MAX_PUE:
        raise UserError(f"{what} {pue:g}: above {MAX_PUE:g} no data centre in use operates; "
                        "give the facility's power / IT power")
    return float(pue)


def _notes(resolution: Resolution, embodied: Embodied | None) -> list[str]:
    notes = []
    intensity = resolution.intensity
    if intensity.provider == WORLD_AVERAGE:
        notes.append(f"carbon intensity is the world average ({intensity.value_g_per_kwh:g} "
                     "gCO2e/kWh): give --region for a better figure")
    for attempt in resolution.attempts:
        if attempt.outcome == "failed":
            notes.append(f"{attempt.provider} failed: {attempt.reason}")
    if embodied is not None and embodied.missing:
        notes.append(f"no embodied estimate for {', '.join(embodied.missing)}: not counted")
    return notes
