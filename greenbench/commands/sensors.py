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

    probes = probe_all(cpu_tdp_w=cpu_tdp)
    if as_json:
        doc = {"summary": summary_line(probes), "sensors": [p.to_dict() for p in probes]}
        click.echo(json.dumps(doc, indent=2, default=str))
        return
    from rich.table import Table

    table = Table(title="Sensors", title_justify="left")
    for col in ("domain", "source", "kind", "status", "reason / remedy"):
        table.add_column(col, overflow="fold")
    for p in probes:
        if p.available:
            status = "[green]available[/green]"
            note = str(p.details.get("summary", "")) if p.kind.value == "estimate" else ""
        else:
            status = "[red]unavailable[/red]"
            note = p.reason + (f"\n[dim]remedy:[/dim] {p.remedy}" if p.remedy else "")
        table.add_row(p.domain, p.source, p.kind.value, status, note)
    out = console()
    out.print(table)
    out.print(summary_line(probes))
