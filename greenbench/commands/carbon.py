"""``greenbench carbon``: the carbon intensity that would be used, and carbon-aware timing."""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any

import click

from greenbench.carbon.options import (
    AUTO,
    PROVIDERS,
    choose_region,
    make_provider,
    normalise_provider,
    resolve_carbon,
)
from greenbench.carbon.region import REGION_FORMS
from greenbench.commands._common import console
from greenbench.commands._options import Number
from greenbench.errors import UserError
from greenbench.settings import option_default

_LIVE = ("electricitymaps", "watttime", "carbonintensity-uk")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def carbon() -> None:
    """Carbon intensity (where the number comes from) and the best time to run a job."""


@carbon.command(help=f"""Show the carbon intensity that would be used now, and the chain of
providers that led to it.

\b
{chr(10).join(REGION_FORMS)}

Providers are asked in order and each failure is recorded; CodeCarbon's static value for the
region, then the world average, close the chain. --json prints value_g_per_kwh, unit, provider,
region, year, time_utc, estimate, forecast, signal, source and the chain.""")
@click.option("--region", default=option_default("region"), metavar="REGION",
              help="Region code (see above).")
@click.option("--provider", default=None, metavar="NAME",
              help=f"One of {', '.join(PROVIDERS)} (default auto).")
@click.option("--intensity-file", type=click.Path(dir_okay=False), default=None,
              metavar="CSV", help="A timestamp,gCO2e/kWh series: its value now.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON to stdout.")
def intensity(region: str | None, provider: str | None, intensity_file: str | None,
              as_json: bool) -> None:
    setup = resolve_carbon(region, None, intensity_file, provider, 1.0)
    resolution = setup.intensity_now()
    found = resolution.intensity
    if as_json:
        doc: dict[str, Any] = {**found.to_dict(), "region_requested": setup.region.code,
                               "region_origin": setup.region_origin,
                               "chain": [a.to_dict() for a in resolution.attempts]}
        click.echo(json.dumps(doc, indent=2))
        return
    from rich.markup import escape
    from rich.table import Table

    out = console()
    table = Table(title="Carbon intensity", title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    when = found.time_utc or (f"data year {found.year}" if found.year else "not stated")
    rows = [("intensity", f"{found.value_g_per_kwh:.4g} {found.unit}"),
            ("provider", found.provider), ("region", found.region), ("time / year", when),
            ("estimate", "yes" if found.estimate else "no"),
            ("forecast", "yes" if found.forecast else "no"), ("signal", found.signal),
            ("source", found.source), ("region asked", f"{setup.region.code} "
                                                      f"(from {setup.region_origin})")]
    if found.note:
        rows.append(("note", found.note))
    for row in rows:
        table.add_row(*(escape(str(cell)) for cell in row))
    out.print(table)
    out.print(_chain_table(resolution.attempts))
    if found.provider == "world-average":  # a warning: on stderr, as every command's
        console(stderr=True).print(
            "[yellow]warning:[/yellow] Using the world average: no regional intensity was "
            "available; give --region or set GREENBENCH_REGION.")


@carbon.command(help="""The start time within the next H hours that minimises a job's forecast
emissions, and what it saves against starting now.

The forecast comes from --forecast (a timestamp,gCO2e/kWh CSV, as for --intensity-file) or a
live provider (--provider electricitymaps, watttime or carbonintensity-uk; with none given,
Electricity Maps when ELECTRICITYMAPS_API_KEY is set). Durations: 90m, 2h, 1h30m, 3600s;
a bare number for --within is hours. The job is assumed to draw even power.""")
@click.option("--duration", required=True, metavar="D", help="How long the job runs.")
@click.option("--region", default=option_default("region"), metavar="REGION",
              help="Region code, as for `carbon intensity` (for live providers).")
@click.option("--forecast", "forecast_file", type=click.Path(dir_okay=False), default=None,
              metavar="CSV", help="Forecast file: timestamp,gCO2e/kWh rows.")
@click.option("--provider", default=None, metavar="NAME",
              help=f"Live forecast provider: {', '.join(_LIVE)}.")
@click.option("--within", default="24", show_default=True, metavar="H",
              help="Latest start, in hours from now (or 90m, 2h, 1d).")
@click.option("--now", "now_text", default=None, metavar="TIME",
              help="Take TIME (ISO 8601 or Unix seconds) as now: to plan ahead or replay a "
              "forecast.")
@click.option("--energy-kwh", type=Number(0), default=None, metavar="KWH",
              help="The job's energy, to show grams of CO2e saved.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON to stdout.")
def window(duration: str, region: str | None, forecast_file: str | None,
           provider: str | None, within: str, now_text: str | None,
           energy_kwh: float | None, as_json: bool) -> None:
    from greenbench.carbon.timeseries import iso_utc, parse_time
    from greenbench.carbon.window import best_window, parse_duration

    duration_s = _finite(parse_duration(duration, "--duration"), "--duration", duration,
                         positive=True)
    within_s = _finite(parse_duration(within, "--within", default_unit="h"), "--within", within)
    now = time.time() if now_text is None else parse_time(now_text, "--now")
    series, origin = _forecast(forecast_file, provider, region)
    choice = best_window(series, duration_s, now, within_s)
    if as_json:
        click.echo(json.dumps({**choice.to_dict(energy_kwh), "forecast": origin}, indent=2))
        return
    from rich.markup import escape

    from greenbench.units import fmt_duration, fmt_quantity

    out = console()
    delay = choice.start_unix_s - now
    start = "now" if delay <= 0 else f"in {fmt_duration(delay)}"
    out.print(f"Best start: [bold]{iso_utc(choice.start_unix_s)}[/bold] ({start}), for "
              f"{fmt_duration(duration_s)}: mean {choice.best_g_per_kwh:.4g} gCO2e/kWh")
    out.print(f"Starting now ({iso_utc(choice.now_unix_s)}): mean "
              f"{choice.now_g_per_kwh:.4g} gCO2e/kWh")
    saved = f"{choice.saving_fraction:.1%} of the emissions"
    if energy_kwh is not None:
        saved += f" ({fmt_quantity(choice.saving_g(energy_kwh), 'gCO2e')} for {energy_kwh:g} kWh)"
    out.print(f"Saving against starting now: {saved}")
    out.print(f"[dim]forecast: {escape(origin)}; starts searched up to "
              f"{iso_utc(choice.latest_start_unix_s)}[/dim]")


def _finite(seconds: float, option: str, text: str, positive: bool = False) -> float:
    """A parsed duration that is a finite number of seconds (> 0 when ``positive``)."""
    if not math.isfinite(seconds) or seconds < 0 or (positive and seconds == 0):
        bound = "longer than 0" if positive else "of 0 or more"
        raise UserError(f"{option} {text}: use a finite duration {bound}, like 90m, 2h or 3600s")
    return seconds


def _forecast(forecast_file: str | None, provider: str | None,
              region: str | None) -> tuple[Any, str]:
    """The forecast Series and a line saying where it came from."""
    from greenbench.carbon.intensity import ProviderUnavailable
    from greenbench.carbon.live import ENV_EM_KEY
    from greenbench.carbon.timeseries import load_series

    name = normalise_provider(provider)
    if forecast_file is not None and name != AUTO:
        raise UserError("--forecast and --provider are alternatives: give one of them")
    if forecast_file is not None:
        loaded = load_series(forecast_file, "--forecast")
        return loaded.series, f"file {loaded.path}"
    if name == AUTO:
        if not os.environ.get(ENV_EM_KEY, "").strip():
            raise UserError("carbon window needs a forecast: --forecast CSV, or --provider "
                            f"{' / '.join(_LIVE)} (the static tables do not vary in time)")
        name = "electricitymaps"
    if name not in _LIVE:
        raise UserError(f"--provider {name} has no forecast; use one of {', '.join(_LIVE)}")
    where, _ = choose_region(region, name, os.environ)
    source = make_provider(name, where, os.environ)
    try:
        return source.forecast(), f"{name} ({source.label})"
    except ProviderUnavailable as exc:
        raise UserError(f"no forecast from {name}: {exc.reason}") from None


def _chain_table(attempts: Any) -> Any:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Provider chain (in order)", title_justify="left")
    for col in ("provider", "region", "outcome", "reason"):
        table.add_column(col, overflow="fold")
    colour = {"used": "green", "failed": "red", "skipped": "dim"}
    for a in attempts:
        table.add_row(escape(a.provider), escape(a.region),
                      f"[{colour[a.outcome]}]{escape(a.outcome)}[/]", escape(a.reason))
    return table
