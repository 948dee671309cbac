"""Region codes: what a user may type after ``--region``, and what each provider makes of it.

The scheme (REGION_HELP below is the user-facing text):

- ``world``: the world average, said out loud wherever it is used;
- ``FRA``: a country, ISO 3166-1 alpha-3 (country names such as ``France`` are accepted);
- ``USA/CA`` or ``US-CA``: a sub-national region CodeCarbon has data for: US states
  (``USA/TX``), Canadian provinces (``CAN/QC``), Chinese provinces (``CHN/BJ``), Nordic bidding
  zones (``SWE/SE3``, ``NOR/NO1``, ``FIN/FI``); the part after the separator may also be the
  name (``USA/california``);
- ``gcp:europe-west1``: a cloud region (CodeCarbon ships Google Cloud regions only);
- ``electricitymaps:US-CAL-CISO``, ``watttime:CAISO_NORTH``: a live provider's own zone name,
  for zones that no country or state code names.

With no region, ``GREENBENCH_REGION`` is used, else the world average (there is no network
geo-lookup). An unknown region is a UserError that suggests close matches.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from greenbench.carbon import codecarbon_data
from greenbench.errors import UserError

ENV_REGION = "GREENBENCH_REGION"

REGION_HELP = (
    "REGION is one of: 'world' (the world average); a country as ISO 3166-1 alpha-3 (FRA, "
    "DEU, USA) or its name; a sub-national region as COUNTRY/CODE or the ISO 3166-2 form "
    "(USA/CA = US-CA, CAN/QC = CA-QC, CHN/BJ = CN-BJ, Nordic zones SWE/SE3 = SE-SE3, NOR/NO1, "
    "FIN/FI); a cloud region gcp:europe-west1 (CodeCarbon has Google Cloud only); or a live "
    "provider's own zone, electricitymaps:US-CAL-CISO or watttime:CAISO_NORTH. Default: "
    f"${ENV_REGION}, else region in [tool.greenbench] or the user's config.toml (greenbench "
    "config), else the world average (said so in the output)."
)

#: the same scheme as lines, for a help page that keeps its layout
REGION_FORMS = (
    "Region forms (--region):",
    "  world                 the world average (said so wherever it is used)",
    "  FRA, France           a country: ISO 3166-1 alpha-3, or its name",
    "  USA/CA, US-CA         a US state (USA/california works too)",
    "  CAN/QC, CA-QC         a Canadian province",
    "  CHN/BJ, CN-BJ         a Chinese province",
    "  SWE/SE3, SE-SE3       a Nordic bidding zone (SWE/SE1-4, NOR/NO1-5, FIN/FI)",
    "  gcp:europe-west1      a Google Cloud region (CodeCarbon has no AWS/Azure data)",
    "  electricitymaps:ZONE  an Electricity Maps zone, e.g. electricitymaps:US-CAL-CISO",
    "  watttime:REGION       a WattTime region, e.g. watttime:CAISO_NORTH",
    f"Default: ${ENV_REGION}, else region in the settings files (greenbench config),",
    "else the world average (no network geo-lookup).",
)

#: the countries with sub-national data, for the ISO 3166-2 form (``US-CA``)
_ALPHA2_SUBNATIONAL = {"US": "USA", "CA": "CAN", "CN": "CHN", "SE": "SWE", "NO": "NOR",
                       "FI": "FIN"}
_EM_PREFIXES = ("electricitymaps", "em")
_WT_PREFIXES = ("watttime", "wt")
_CLOUDS_WITHOUT_DATA = ("aws", "azure")


@dataclass(frozen=True)
class Region:
    """A parsed region: its canonical ``code``, the static-table key, and any native zone.

    ``static_code`` is the key into CodeCarbon's tables (None for ``world`` and for a native
    zone that maps to no table); ``native`` is ``(provider, zone)`` for a provider's own zone.
    """

    code: str
    name: str
    static_code: str | None
    native: tuple[str, str] | None = None

    @property
    def is_world(self) -> bool:
        return self.code == codecarbon_data.WORLD

    @property
    def country(self) -> str | None:
        """The ISO alpha-3 country, when the region lies in one."""
        if self.static_code is None or ":" in self.static_code:
            return None
        return self.static_code.split("/")[0]


WORLD_REGION = Region(codecarbon_data.WORLD, "World average", None)


def region_from_env(env: Mapping[str, str] | None = None) -> Region | None:
    """``$GREENBENCH_REGION`` parsed, or None when unset."""
    value = (env if env is not None else os.environ).get(ENV_REGION, "").strip()
    return parse_region(value, what=f"${ENV_REGION}") if value else None


def parse_region(text: str, what: str = "--region") -> Region:
    """Parse a region code (see the module doc); raise UserError with suggestions if unknown."""
    raw = text.strip()
    if not raw:
        raise UserError(f"{what}: empty region; {REGION_HELP}")
    if raw.lower() == codecarbon_data.WORLD:
        return WORLD_REGION
    if ":" in raw:
        return _prefixed(raw, what)
    tables = codecarbon_data.tables()
    if "/" in raw or _looks_iso_3166_2(raw):
        return _subnational(raw, what, tables)
    if raw.upper() in tables:
        entry = tables[raw.upper()]
        return Region(entry.code, entry.name, entry.code)
    by_name = _by_name(raw, tables)
    if by_name is not None:
        return by_name
    raise UserError(_country_without_data(raw, what, tables) or _unknown(raw, what, tables))


def electricitymaps_zone(region: Region) -> str | None:
    """The Electricity Maps zone for a region (``FR``, ``SE-SE3``), or None when none maps."""
    if region.native is not None:
        return region.native[1] if region.native[0] == "electricitymaps" else None
    code = region.static_code
    if code is None or ":" in code:
        return None
    country, _, sub = code.partition("/")
    alpha2 = alpha3_to_alpha2(country)
    if alpha2 is None:
        return None
    if not sub:
        return alpha2
    # Electricity Maps names the Nordic bidding zones like ENTSO-E: SE-SE3, NO-NO1; FI is whole
    if country in ("SWE", "NOR"):
        return f"{alpha2}-{sub}"
    if country == "FIN":
        return alpha2
    return None  # US states and Chinese/Canadian provinces are not Electricity Maps zones


def watttime_region(region: Region) -> str | None:
    """WattTime's region (balancing authority) name: only its own names map, no code does."""
    if region.native is not None and region.native[0] == "watttime":
        return region.native[1]
    return None


def alpha3_to_alpha2(alpha3: str) -> str | None:
    country = _pycountry_lookup(alpha_3=alpha3)
    if country is not None:
        return str(country.alpha_2)
    return {v: k for k, v in _ALPHA2_SUBNATIONAL.items()}.get(alpha3)


def alpha2_to_alpha3(alpha2: str) -> str | None:
    country = _pycountry_lookup(alpha_2=alpha2)
    if country is not None:
        return str(country.alpha_3)
    return _ALPHA2_SUBNATIONAL.get(alpha2.upper())


def _prefixed(raw: str, what: str) -> Region:
    prefix, _, rest = raw.partition(":")
    prefix, rest = prefix.strip().lower(), rest.strip()
    if not rest:
        raise UserError(f"{what} {raw}: nothing after '{prefix}:'; e.g. gcp:europe-west1")
    if prefix in _EM_PREFIXES:
        zone = rest.upper()
        static = _static_for_em_zone(zone)
        return Region(f"electricitymaps:{zone}", f"Electricity Maps zone {zone}", static,
                      ("electricitymaps", zone))
    if prefix in _WT_PREFIXES:
        zone = rest.upper()
        return Region(f"watttime:{zone}", f"WattTime region {zone}", None, ("watttime", zone))
    if prefix in _CLOUDS_WITHOUT_DATA:
        raise UserError(
            f"{what} {raw}: CodeCarbon has cloud-region intensities for Google Cloud only "
            f"({prefix.upper()} publishes none); give the region's grid location instead, e.g. "
            "USA/VA or IRL"
        )
    tables = codecarbon_data.tables()
    code = f"{prefix}:{rest.lower()}"
    if code in tables:
        return Region(code, tables[code].name, code)
    if prefix == "gcp":
        raise UserError(_unknown(raw, what, {k: v for k, v in tables.items()
                                             if k.startswith("gcp:")}))
    raise UserError(
        f"{what} {raw}: unknown prefix '{prefix}:'; use gcp:, electricitymaps: or watttime:"
    )


def _looks_iso_3166_2(raw: str) -> bool:
    head, sep, tail = raw.partition("-")
    return bool(sep) and len(head) == 2 and head.isalpha() and bool(tail)


def _subnational(raw: str, what: str, tables: Mapping[str, codecarbon_data.StaticEntry]
                 ) -> Region:
    if "/" in raw:
        country, _, sub = raw.partition("/")
        country = country.strip().upper()
    else:
        alpha2, _, sub = raw.partition("-")
        mapped = _ALPHA2_SUBNATIONAL.get(alpha2.upper())
        if mapped is None:
            alpha3 = alpha2_to_alpha3(alpha2) or "the alpha-3 code"
            raise UserError(
                f"{what} {raw}: CodeCarbon has no sub-national data for {alpha2.upper()}; "
                f"use the country, {alpha3}"
            )
        country = mapped
    sub = sub.strip()
    code = f"{country}/{sub.upper()}"
    if code in tables:
        return Region(code, tables[code].name, code)
    in_country = {k: v for k, v in tables.items() if k.startswith(f"{country}/")}
    for entry in in_country.values():
        if sub.lower() in (a.lower() for a in entry.aliases) or sub.lower() == entry.name.lower():
            return Region(entry.code, entry.name, entry.code)
    if not in_country:
        countries = ", ".join(sorted({k.split("/")[0] for k in tables if "/" in k}))
        raise UserError(f"{what} {raw}: CodeCarbon has no sub-national data for {country} "
                        f"(it has {countries}); use the country code alone")
    raise UserError(_unknown(raw, what, in_country))


def _by_name(raw: str, tables: Mapping[str, codecarbon_data.StaticEntry]) -> Region | None:
    wanted = raw.lower()
    countries = [e for e in tables.values()
                 if "/" not in e.code and ":" not in e.code and e.name.lower() == wanted]
    if countries:
        return Region(countries[0].code, countries[0].name, countries[0].code)
    subs = [e for e in tables.values()
            if "/" in e.code and wanted in (a.lower() for a in (e.name, *e.aliases))]
    if len(subs) == 1:  # a name in two countries (Georgia) stays ambiguous
        return Region(subs[0].code, subs[0].name, subs[0].code)
    return None


def _static_for_em_zone(zone: str) -> str | None:
    """The static-table key nearest an Electricity Maps zone (SE-SE3 -> SWE/SE3, DE -> DEU)."""
    tables = codecarbon_data.tables()
    alpha2, _, sub = zone.partition("-")
    alpha3 = alpha2_to_alpha3(alpha2)
    if alpha3 is None:
        return None
    if sub and f"{alpha3}/{sub}" in tables:
        return f"{alpha3}/{sub}"
    return alpha3 if alpha3 in tables else None


def _country_without_data(raw: str, what: str,
                          tables: Mapping[str, codecarbon_data.StaticEntry]) -> str | None:
    """The message for a real country (code or name) that CodeCarbon's tables lack, else None.

    Monaco (MCO), Liechtenstein (LIE), San Marino (SMR) and some thirty territories are valid
    ISO 3166-1 countries with no row in CodeCarbon's energy-mix tables.
    """
    country = _pycountry_lookup(alpha_3=raw) if len(raw) == 3 else None
    if country is None:
        country = _pycountry_lookup(name=raw)
    if country is None or str(country.alpha_3) in tables:
        return None
    return (
        f"{what} {raw}: {country.name} ({country.alpha_3}) is a valid country, but "
        "CodeCarbon's tables have no carbon intensity for it; use --region world (the world "
        "average), the code of a neighbouring country that supplies its grid, or "
        "--intensity G_PER_KWH with your grid's own figure"
    )


def _unknown(raw: str, what: str, tables: Mapping[str, codecarbon_data.StaticEntry]) -> str:
    # Match against codes and names alike, and show each suggestion as "CODE (Name)".
    label: dict[str, codecarbon_data.StaticEntry] = {}
    for entry in tables.values():
        for key in (entry.code, entry.name, *entry.aliases):
            if key:
                label.setdefault(key.lower(), entry)
    close = difflib.get_close_matches(raw.lower(), list(label), n=8, cutoff=0.6)
    seen: list[str] = []
    for key in close:
        entry = label[key]
        shown = f"{entry.code} ({entry.name})" if entry.name != entry.code else entry.code
        if shown not in seen:
            seen.append(shown)
    hint = f"; did you mean {', '.join(seen[:4])}?" if seen else \
        "; see `greenbench carbon intensity --help` for the region forms"
    return f"{what} {raw}: unknown region{hint}"


def _pycountry_lookup(**key: str) -> Any:
    # pycountry comes with CodeCarbon; without it only the few countries above map
    try:
        import pycountry
    except ImportError:
        return None
    countries: Any = pycountry.countries
    try:
        return countries.get(**{k: v.upper() for k, v in key.items()})
    except (KeyError, LookupError):
        return None
