"""From command-line options to a carbon setup: the ``carbon_options`` click decorator that
``run`` and ``measure`` share, and ``resolve_carbon``, which checks the options (before any
measuring starts, so a mistake costs nothing) and builds the fallback chain.

How run/measure use it::

    @click.command()
    @carbon_options
    def run(..., region, intensity, intensity_file, provider, pue):
        setup = resolve_carbon(region, intensity, intensity_file, provider, pue)  # may raise
        ...measure...
        fp = setup.footprint(energy_kwh=e_j / 3.6e6, duration_s=d, start_unix_s=t0,
                             units=n, unit="token", machine=machine_facts)
        record.footprint = fp.to_dict()

The chain, in order: ``--intensity`` alone; or ``--intensity-file`` then the region's static
value; or the named ``--provider`` then the region's static value; or by default Electricity
Maps when ELECTRICITYMAPS_API_KEY is set, then the static value. The world average closes
every chain.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import click

from greenbench.carbon.chain import Chain, IntensitySource, Resolution, Skipped
from greenbench.carbon.embodied import DeviceUse, EmbodiedEstimate, devices_from_machine, load_table
from greenbench.carbon.embodied import embodied as embodied_share
from greenbench.carbon.fetch import DEFAULT_TIMEOUT_S
from greenbench.carbon.footprint import Footprint, check_pue, footprint
from greenbench.carbon.region import (
    ENV_REGION,
    REGION_HELP,
    WORLD_REGION,
    Region,
    electricitymaps_zone,
    parse_region,
    region_from_env,
    watttime_region,
)
from greenbench.carbon.static import STATIC, ConstantSource, StaticSource, WorldAverageSource
from greenbench.carbon.timeseries import SeriesSource, load_series
from greenbench.errors import UserError
from greenbench.settings import given_as, option_default

AUTO = "auto"
#: the --provider names, and the aliases accepted for them
PROVIDERS = (AUTO, STATIC, "electricitymaps", "watttime", "carbonintensity-uk")
_ALIASES = {"static": STATIC, "em": "electricitymaps", "wt": "watttime",
            "uk": "carbonintensity-uk"}


@dataclass(frozen=True)
class CarbonSetup:
    """Everything needed to turn measured energy into emissions: the intensity chain, the PUE
    (recorded even when 1.0), the region and where it came from, and the embodied table."""

    chain: Chain
    pue: float
    region: Region
    region_origin: str
    embodied_table: Mapping[str, EmbodiedEstimate] = field(default_factory=dict)

    def intensity_now(self) -> Resolution:
        return self.chain.now()

    def footprint(self, *, energy_kwh: float, duration_s: float,
                  start_unix_s: float | None = None, units: float | None = None,
                  unit: str | None = None, machine: Mapping[str, Any] | None = None,
                  devices: Sequence[DeviceUse] | None = None) -> Footprint:
        """The footprint of a measured window; never raises for a provider failure.

        ``start_unix_s`` defaults to ``now - duration_s``. Embodied emissions are counted for
        ``devices``, or for the devices found in ``machine`` facts; with neither, none are.
        """
        start = time.time() - duration_s if start_unix_s is None else start_unix_s
        resolution = self.chain.over(start, start + duration_s)
        if devices is None and machine is not None:
            devices = devices_from_machine(machine, self.embodied_table)
        embodied = None if devices is None else \
            embodied_share(devices, duration_s, self.embodied_table)
        return footprint(resolution, energy_kwh, self.pue, duration_s=duration_s,
                         start_unix_s=start, embodied=embodied, units=units, unit=unit)

    def describe(self) -> dict[str, Any]:
        """For a run's configuration: what was asked (no credential ever appears here)."""
        return {"region": self.region.code, "region_origin": self.region_origin,
                "providers": self.chain.names, "pue": self.pue}


def carbon_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Adds --region, --intensity, --intensity-file, --provider and --pue to a command; they
    arrive as ``region, intensity, intensity_file, provider, pue`` for ``resolve_carbon``."""
    from greenbench.commands._options import FINITE

    options = [
        click.option("--region", default=option_default("region"), metavar="REGION",
                     help=f"Where the electricity comes from. {REGION_HELP}"),
        click.option("--intensity", type=FINITE, default=None, metavar="G_PER_KWH",
                     help="A constant carbon intensity in gCO2e/kWh instead of a provider."),
        click.option("--intensity-file", type=click.Path(dir_okay=False), default=None,
                     metavar="CSV", help="A time series of timestamp,gCO2e/kWh; the run is "
                     "integrated against it over its actual span."),
        click.option("--provider", default=None, metavar="NAME",
                     help="Intensity provider: " + ", ".join(PROVIDERS) + " (default auto: "
                     "Electricity Maps if ELECTRICITYMAPS_API_KEY is set, else CodeCarbon's "
                     "static tables). Failures fall back to the static value, then the world "
                     "average, with the reason recorded."),
        click.option("--pue", type=FINITE, default=option_default("pue"), show_default="1.0, "
                     "or pue in the settings files", metavar="PUE",
                     help="Power usage effectiveness of the facility (>= 1.0; 1.58 is a "
                     "commonly quoted data-centre average)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def resolve_carbon(region: str | None, intensity: float | None, intensity_file: str | None,
                   provider: str | None, pue: float | None, *,
                   embodied_config: str | None = None, env: Mapping[str, str] | None = None,
                   timeout_s: float = DEFAULT_TIMEOUT_S) -> CarbonSetup:
    """Check the carbon options and build a CarbonSetup; UserError (one line) on bad input."""
    env = os.environ if env is None else env
    pue = check_pue(1.0 if pue is None else pue)
    name = normalise_provider(provider)
    chosen = [o for o, v in (("--intensity", intensity), ("--intensity-file", intensity_file),
                             ("--provider", None if name == AUTO else name)) if v is not None]
    if len(chosen) > 1:
        raise UserError(f"{' and '.join(chosen)} are alternatives: give one of them")
    where, origin = choose_region(region, name, env)
    given = origin != "default"
    steps: list[IntensitySource | Skipped] = []
    if intensity is not None:
        steps.append(ConstantSource(intensity, where if given else None))
    elif intensity_file is not None:
        steps.append(SeriesSource(load_series(intensity_file), where.code if given else "-"))
        steps += _static_steps(where)
    else:
        if name == AUTO:
            steps.append(_auto_electricitymaps(where, env, timeout_s))
        elif name != STATIC:
            steps.append(make_provider(name, where, env, timeout_s))
        steps += _static_steps(where)
    steps.append(WorldAverageSource("" if given else
                                    f"no region given (--region, ${ENV_REGION} or "
                                    "region in the settings)"))
    return CarbonSetup(Chain(steps), pue, where, origin,
                       load_table(embodied_config, env))


def normalise_provider(provider: str | None) -> str:
    if provider is None or not provider.strip():
        return AUTO
    name = provider.strip().lower()
    name = _ALIASES.get(name, name)
    if name not in PROVIDERS:
        raise UserError(f"--provider {provider}: unknown; use one of {', '.join(PROVIDERS)}")
    return name


def make_provider(name: str, region: Region, env: Mapping[str, str],
                  timeout_s: float = DEFAULT_TIMEOUT_S) -> Any:
    """A live provider the user asked for by name; UserError when it cannot serve the region
    or its credentials are missing (asked explicitly, so no silent fallback)."""
    from greenbench.carbon import live

    if name == live.ELECTRICITYMAPS:
        zone = electricitymaps_zone(region)
        if zone is None:
            raise UserError(f"--provider electricitymaps: no Electricity Maps zone for region "
                            f"{region.code}; give a country (--region DEU) or a zone "
                            "(--region electricitymaps:US-CAL-CISO)")
        token = live.credentials(env, live.ENV_EM_KEY)
        if token is None:
            raise UserError(f"--provider electricitymaps: set {live.ENV_EM_KEY} to your "
                            "Electricity Maps API key")
        return live.ElectricityMaps(zone, token[0], timeout_s=timeout_s)
    if name == live.WATTTIME:
        wt_region = watttime_region(region)
        if wt_region is None:
            raise UserError("--provider watttime: WattTime needs its own region name, e.g. "
                            "--region watttime:CAISO_NORTH")
        creds = live.credentials(env, live.ENV_WT_USER, live.ENV_WT_PASSWORD)
        if creds is None:
            raise UserError(f"--provider watttime: set {live.ENV_WT_USER} and "
                            f"{live.ENV_WT_PASSWORD} to your WattTime account")
        return live.WattTime(wt_region, creds[0], creds[1], timeout_s=timeout_s)
    if name == live.UK:
        if region.country != "GBR":
            raise UserError(f"--provider carbonintensity-uk covers Great Britain only; region "
                            f"{region.code} is not GBR")
        return live.UKCarbonIntensity(timeout_s=timeout_s)
    raise UserError(f"--provider {name}: not a live provider")  # pragma: no cover


def choose_region(region: str | None, provider: str,
                  env: Mapping[str, str]) -> tuple[Region, str]:
    """The region to use and where it came from: --region (or the settings file that gave
    its default), $GREENBENCH_REGION, or the default."""
    if region is not None and region.strip():
        origin = given_as("region")  # typed, or read from a settings file
        return parse_region(region, origin), origin
    from_env = region_from_env(env)
    if from_env is not None:
        return from_env, f"${ENV_REGION}"
    if provider == "carbonintensity-uk":  # the only region it serves
        return parse_region("GBR"), "carbonintensity-uk (Great Britain only)"
    return WORLD_REGION, "default"


def _auto_electricitymaps(region: Region, env: Mapping[str, str],
                          timeout_s: float) -> IntensitySource | Skipped:
    from greenbench.carbon import live

    zone = electricitymaps_zone(region)
    token = live.credentials(env, live.ENV_EM_KEY)
    if token is None:
        return Skipped(live.ELECTRICITYMAPS, zone or region.code, f"{live.ENV_EM_KEY} not set")
    if zone is None:
        return Skipped(live.ELECTRICITYMAPS, region.code,
                       f"no Electricity Maps zone for {region.code}")
    return live.ElectricityMaps(zone, token[0], timeout_s=timeout_s)


def _static_steps(region: Region) -> list[IntensitySource | Skipped]:
    if region.is_world:
        return []
    if region.static_code is None:
        return [Skipped(STATIC, region.code, f"no CodeCarbon table entry for {region.code}")]
    return [StaticSource(region)]
