"""``greenbench sensors``: every sensor greenbench knows, available or not, and why."""

from __future__ import annotations

import json

import click

from greenbench.commands._common import console, sensor_options


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON to stdout.")
@sensor_options
def sensors(as_json: bool, cpu_tdp: float | None) -> None:
    """List every sensor, available or not, with the reason and the remedy."""
    from greenbench.sensors.registry import probe_all, summary_line
    from greenbench.settings import given_as

    probes = probe_all(cpu_tdp_w=cpu_tdp, cpu_tdp_given_as=given_as("cpu-tdp"))
    if as_json:
        doc = {"summary": summary_line(probes), "sensors": [p.to_dict() for p in probes]}
        click.echo(json.dumps(doc, indent=2, default=str))
        return
    from rich.markup import escape
    from rich.table import Table

    from greenbench.units import method_label

    # a borderless two-line-per-sensor layout stays readable in an 80-column terminal
    table = Table(box=None, show_header=True, pad_edge=False, title="Sensors",
                  title_justify="left")
    table.add_column("", no_wrap=True)
    table.add_column("domain", no_wrap=True)
    table.add_column("how (sensor)", no_wrap=True)
    table.add_column("details", overflow="fold")
    for p in probes:
        how = method_label(p.kind.value, p.source)
        if p.available:
            mark = "[green]ok[/green]"
            note = str(p.details.get("summary", "")) if p.kind.value == "estimate" else ""
            info = p.sensor.info() if p.sensor is not None else {}
            note = note or ", ".join(f"{k}={info[k]}" for k in ("name", "zone", "power_limit_w")
                                     if k in info)
            if p.details.get("note"):  # how the sensor is used (polled power, module scope)
                note += f"\n{p.details['note']}"
            note = escape(note)
        else:
            mark = "[red]no[/red]"
            note = escape(p.reason) + (f"\n[dim]remedy: {escape(p.remedy)}[/dim]"
                                       if p.remedy else "")
        table.add_row(mark, p.domain, how, note)
    out = console()
    out.print(table)
    out.print(escape(summary_line(probes)))
