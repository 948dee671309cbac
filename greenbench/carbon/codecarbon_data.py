"""The one adapter over CodeCarbon's offline carbon-intensity tables.

CodeCarbon ships annual intensities inside its package: per country (ISO 3166 alpha-3, from
Our World in Data), US states (EPA eGRID, lbs/MWh), Canadian provinces (a generation mix),
Nordic bidding zones, Chinese provinces, and Google Cloud regions, plus a world average. Its
loader ``codecarbon.input.DataSource`` is importable but not documented API, so every use of it
lives here, behind ``tables()`` and ``world_average()``: when CodeCarbon changes its layout,
this module is the only one to fix.

codecarbon is imported inside the functions, never at import time, so ``greenbench --help``
does not load it (nor pandas, which it uses).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from greenbench.carbon.intensity import G_PER_KWH_PER_LB_PER_MWH
from greenbench.extras import MissingExtra, missing

WORLD = "world"

#: CodeCarbon's world average and its source, used only when CodeCarbon cannot be loaded, so
#: that a measurement can still be turned into emissions (and says so)
_WORLD_FALLBACK_G_PER_KWH = 475.0
_WORLD_FALLBACK_SOURCE = "IEA Global Energy & CO2 Status Report 2019 (CodeCarbon's world average)"

#: ISO 3166-2:CA codes for the province names CodeCarbon's table uses as keys
_CANADA_CODES = {
    "alberta": "AB", "british columbia": "BC", "manitoba": "MB", "new brunswick": "NB",
    "newfoundland and labrador": "NL", "northwest territories": "NT", "nova scotia": "NS",
    "nunavut": "NU", "ontario": "ON", "prince edward island": "PE", "quebec": "QC",
    "saskatchewan": "SK", "yukon": "YT",
}

#: the country of each Nordic bidding zone CodeCarbon knows (SE1-SE4, NO1-NO5, FI)
_NORDIC_COUNTRY = {"SE": "SWE", "NO": "NOR", "FI": "FIN"}


@dataclass(frozen=True)
class StaticEntry:
    """One row of the static tables: an annual intensity in gCO2e/kWh for one region.

    ``code`` is greenbench's canonical region code (``FRA``, ``USA/CA``, ``SWE/SE3``,
    ``gcp:europe-west1``); ``aliases`` are other spellings a user may type (names).
    """

    code: str
    name: str
    value_g_per_kwh: float
    year: int | None
    source: str
    note: str | None = None
    aliases: tuple[str, ...] = ()


def codecarbon_version() -> str | None:
    try:
        return metadata.version("codecarbon")
    except metadata.PackageNotFoundError:
        return None


def world_average() -> StaticEntry:
    """CodeCarbon's world average (475 gCO2e/kWh in CodeCarbon 3.x) with its source."""
    try:
        data = _data_source().get_carbon_intensity_per_source_data()
        return StaticEntry(WORLD, "World average", float(data["world_average"]), None,
                           f"{data.get('world_average_source', 'CodeCarbon')} "
                           f"(CodeCarbon {codecarbon_version()})")
    except MissingExtra:  # no square brackets: the note is printed through rich markup
        note = "CodeCarbon is not installed (greenbench's carbon extra); built-in copy"
    except Exception as exc:  # any failure to load means: use the built-in copy
        note = f"CodeCarbon's tables could not be read ({exc}); built-in copy"
    return StaticEntry(WORLD, "World average", _WORLD_FALLBACK_G_PER_KWH, None,
                       _WORLD_FALLBACK_SOURCE, note=note)


@functools.lru_cache(maxsize=1)
def tables() -> dict[str, StaticEntry]:
    """Every region CodeCarbon has an intensity for, keyed by canonical code (loaded once)."""
    ds = _data_source()
    version = codecarbon_version()
    entries: list[StaticEntry] = []
    entries += _countries(ds, version)
    entries += _us_states(ds, version)
    entries += _canada(ds, version)
    entries += _nordic(ds, version)
    entries += _china(ds, version)
    entries += _cloud(ds, version)
    return {e.code: e for e in entries}


def _data_source() -> Any:
    try:
        from codecarbon.input import DataSource
    except ModuleNotFoundError as exc:
        if exc.name != "codecarbon":
            raise
        raise missing("a region's carbon intensity", "codecarbon", "carbon") from None

    return DataSource()


def _countries(ds: Any, version: str | None) -> list[StaticEntry]:
    out = []
    for iso, mix in ds.get_global_energy_mix_data().items():
        value = mix.get("carbon_intensity")
        if value is None:  # CodeCarbon then derives it from the mix; so do we, with its code
            value = _emissions_class()._global_energy_mix_to_emissions_rate(mix).kgs_per_kWh * 1e3
        out.append(StaticEntry(
            code=iso.upper(), name=str(mix.get("country_name", iso)),
            value_g_per_kwh=float(value), year=_int_or_none(mix.get("year")),
            source=f"Our World in Data, via CodeCarbon {version} (global_energy_mix.json)",
            aliases=(str(mix.get("country_name", "")),),
        ))
    return out


def _us_states(ds: Any, version: str | None) -> list[StaticEntry]:
    data = ds.get_country_emissions_data("usa")
    meta = data.get("_source", {})
    source = f"{meta.get('name', 'EPA eGRID')}, via CodeCarbon {version} (usa_emissions.json)"
    out = []
    for name, row in data.items():
        code = row.get("regionCode") if isinstance(row, dict) else None
        if name.startswith("_") or not code or name == "usa":
            continue
        out.append(StaticEntry(
            code=f"USA/{code.upper()}", name=name.title(),
            value_g_per_kwh=float(row["emissions"]) * G_PER_KWH_PER_LB_PER_MWH,
            year=_int_or_none(meta.get("year")), source=source, aliases=(name,),
            note="converted from lbs/MWh",
        ))
    return out


def _canada(ds: Any, version: str | None) -> list[StaticEntry]:
    to_rate = _emissions_class()._region_energy_mix_to_emissions_rate
    out = []
    for name, mix in ds.get_country_energy_mix_data("can").items():
        code = _CANADA_CODES.get(name.lower())
        if code is None:
            continue
        out.append(StaticEntry(
            code=f"CAN/{code}", name=name.title(),
            # CodeCarbon's own conversion, so the values agree with CodeCarbon's exactly
            value_g_per_kwh=float(to_rate(mix).kgs_per_kWh) * 1e3,
            year=None,
            source=f"provincial generation mix, via CodeCarbon {version} (canada_energy_mix.json)",
            note="derived from the share of coal, petroleum and natural gas, as CodeCarbon does; "
                 "the table states no data year",
            aliases=(name,),
        ))
    return out


def _nordic(ds: Any, version: str | None) -> list[StaticEntry]:
    data = ds.get_nordic_country_energy_mix_data()
    source = data.get("metadata", {}).get("source", "ENTSO-E")
    out = []
    for zone, row in data.get("data", {}).items():
        country = _NORDIC_COUNTRY.get(zone[:2].upper())
        if country is None:
            continue
        out.append(StaticEntry(
            code=f"{country}/{zone.upper()}", name=str(row.get("description", zone)),
            value_g_per_kwh=float(row["emission_factor"]), year=_int_or_none(row.get("year")),
            source=f"{source}, via CodeCarbon {version} (nordic_emissions.json)",
            note=row.get("note"),
        ))
    return out


def _china(ds: Any, version: str | None) -> list[StaticEntry]:
    data = ds.get_china_provincial_emissions_data()
    meta = data.get("metadata", {})
    source = f"{meta.get('source', 'MEE/NBS')}, via CodeCarbon {version}"
    out = []
    for key, row in data.get("data", {}).items():
        out.append(StaticEntry(
            code=f"CHN/{key.split('-', 1)[-1].upper()}", name=str(row.get("description", key)),
            value_g_per_kwh=float(row["emission_factor"]), year=_int_or_none(row.get("year")),
            source=source, note="CO2 only, not CO2e: the official factor counts no other gas",
            aliases=tuple(row.get("names", ())),
        ))
    return out


def _cloud(ds: Any, version: str | None) -> list[StaticEntry]:
    out = []
    for row in ds.get_cloud_emissions_data().to_dict("records"):
        provider, region = str(row["provider"]).lower(), str(row["region"])
        place = ", ".join(str(row[k]) for k in ("city", "state", "country_name")
                          if isinstance(row.get(k), str) and row[k])
        out.append(StaticEntry(
            code=f"{provider}:{region}", name=f"{row.get('providerName', provider)} {region}"
                                              + (f" ({place})" if place else ""),
            value_g_per_kwh=float(row["impact"]), year=None,
            source=f"{row.get('source') or provider}, via CodeCarbon {version} (impact.csv)",
            note="the table states no data year",
        ))
    return out


def _emissions_class() -> Any:
    from codecarbon.core.emissions import Emissions

    return Emissions


def _int_or_none(value: Any) -> int | None:
    if value is None:
        return None
    match = re.fullmatch(r"\s*(\d{4})\s*", str(value))
    return int(match.group(1)) if match else None
