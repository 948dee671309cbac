"""``greenbench workloads``: every workload found, its parameters and defaults, and the suites."""

from __future__ import annotations

import json

import click

from greenbench.commands._common import console


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON to stdout.")
@click.option("--workload-file", "workload_files", multiple=True, metavar="FILE.py",
              type=click.Path(dir_okay=False),
              help="Also load workloads from a Python file. It is code greenbench runs, as "
                   "do installed workload plug-ins: only name files you trust.")
def workloads(as_json: bool, workload_files: tuple[str, ...]) -> None:
    """List workloads (with parameters and defaults) and suites."""
    from greenbench.workload import discover

    registry = discover(workload_files)
    if as_json:
        doc = {
            "workloads": [
                {**wl.describe(), "origin": registry.origins.get(name)}
                for name, wl in sorted(registry.workloads.items())
            ],
            "suites": [
                {"name": s.name, "description": s.description,
                 "cases": [{"workload": w, "grid": g} for w, g in s.cases]}
                for s in sorted(registry.suites.values(), key=lambda s: s.name)
            ],
        }
        click.echo(json.dumps(doc, indent=2, default=str))
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Workloads", title_justify="left", show_lines=True)
    for col in ("workload", "unit", "parameters (default; * = variant)"):
        table.add_column(col, overflow="fold")
    for name, wl in sorted(registry.workloads.items()):
        params = []
        for p in wl.params:
            choices = f" in {{{', '.join(map(str, p.choices))}}}" if p.choices else ""
            params.append(f"{'*' if p.variant else ''}{p.name}={p.default}{choices}")
        table.add_row(f"[bold]{escape(name)}[/bold]\n{escape(wl.description)}", escape(wl.unit),
                      escape("\n".join(params)))
    suites = Table(title="Suites", title_justify="left")
    suites.add_column("suite")
    suites.add_column("cases", justify="right")
    suites.add_column("description", overflow="fold")
    for s in sorted(registry.suites.values(), key=lambda s: s.name):
        n = 0
        for _workload, grid in s.cases:
            count = 1
            for values in grid.values():
                count *= len(values)
            n += count
        suites.add_row(escape(s.name), str(n), escape(s.description))
    out = console()
    out.print(table)
    out.print(suites)
