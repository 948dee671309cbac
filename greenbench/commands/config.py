"""``greenbench config``: every setting, its value, and where that value came from."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import click

from greenbench.commands._options import FINITE


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON to stdout.")
@click.option("--store", default=None, metavar="PATH", help="As a command's --store.")
@click.option("--region", default=None, metavar="REGION", help="As a command's --region.")
@click.option("--cpu-tdp", type=FINITE, default=None, metavar="WATTS",
              help="As a command's --cpu-tdp.")
@click.option("--pue", type=FINITE, default=None, metavar="PUE", help="As a command's --pue.")
def config(as_json: bool, store: str | None, region: str | None, cpu_tdp: float | None,
           pue: float | None) -> None:
    """Show every setting, its value and where it came from.

    Highest first: the option; the GREENBENCH_* environment variable; [tool.greenbench] in
    the nearest pyproject.toml (from the current directory up); the user file
    $XDG_CONFIG_HOME/greenbench/config.toml (default ~/.config/greenbench/config.toml);
    the default. Give an option here to see what a command given it would use.
    """
    from greenbench.settings import project_file, resolve, user_file
    from greenbench.store.location import shown_location

    values = [replace(v, value=shown_location(v.value))  # a store's URL: no password
              if v.setting.key == "store" and isinstance(v.value, str) else v
              for v in resolve({"store": store, "region": region, "cpu-tdp": cpu_tdp,
                                "pue": pue})]
    project, user = project_file(), user_file()
    if as_json:
        doc: dict[str, Any] = {
            "settings": [v.to_dict() for v in values],
            "files": {"project": None if project is None else str(project),
                      "user": str(user), "user_exists": user.is_file()},
        }
        click.echo(json.dumps(doc, indent=2))
        return
    from rich.markup import escape
    from rich.table import Table

    from greenbench.commands._common import console

    table = Table(box=None, pad_edge=False, title="Settings", title_justify="left")
    table.add_column("setting", no_wrap=True, style="bold")
    table.add_column("value", overflow="fold")
    table.add_column("from", overflow="fold")
    # the files are named once, under the table, so that a row fits 80 columns
    files = {str(project): "project file", str(user): "user file"}
    for v in values:
        shown = escape(f"{v.value:g}" if isinstance(v.value, float) else str(v.value)) \
            if v.value is not None else f"[dim]{escape(v.setting.default_text)}[/dim]"
        table.add_row(v.setting.key, shown, escape(files.get(v.source, v.source)))
    out = console()
    out.print(table)
    # a path is never broken: a long one runs on, for the terminal to wrap
    out.print("project file: " + (escape(f"{project} [tool.greenbench]") if project
                                  else "none found"), soft_wrap=True)
    out.print(f"user file:    {escape(str(user))}{'' if user.is_file() else ' (absent)'}",
              soft_wrap=True)
