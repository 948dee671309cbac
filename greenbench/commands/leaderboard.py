"""``greenbench leaderboard build STORE... -o DIR``: a static page of pooled results."""

from __future__ import annotations

import click

from greenbench.commands._verbosity import detail, note, verbosity_options


@click.group()
def leaderboard() -> None:
    """Static leaderboard pages from pooled runs (docs/leaderboard.md)."""


@leaderboard.command()
@click.argument("stores", nargs=-1, required=True, metavar="STORE...")
@click.option("-o", "--output", "out_dir", required=True, metavar="DIR",
              type=click.Path(file_okay=False),
              help="The folder to write the site into (created if missing).")
@click.option("--no-figures", is_flag=True,
              help="Leave the figures out of the runs' reports (faster).")
@verbosity_options
def build(stores: tuple[str, ...], out_dir: str, no_figures: bool) -> None:
    """Build a static, self-contained leaderboard site from stores or exported runs.

    STORE is a results store (a path, or a URL the store opens) or an exported run JSON
    file. Each run is checked with the rules of `greenbench results check`; those that fail
    are left out, with a line saying which and why. The page holds one table per workload
    and unit, measured and estimated results apart, grouped by hardware class; DIR/index.html
    opens in a browser from disk, nothing is fetched from the internet.

    \b
    Example:
      greenbench leaderboard build results/greenbench.sqlite lab-b.sqlite -o site
    """
    from greenbench.extras import require
    from greenbench.leaderboard.site import build_site
    from greenbench.leaderboard.sources import read_runs
    from greenbench.printable import printable

    if not no_figures:
        require("drawing the reports' figures", "matplotlib", "plots",
                otherwise="leave them out with --no-figures")
    runs = read_runs(stores)
    detail(f"{len(runs)} run(s) from {len(stores)} source(s)")
    built = build_site(runs, out_dir, figures=not no_figures,
                       on_report=lambda run: detail(f"report of run {run.id}"))
    for run in built.left_out:
        for failure in run.failures:
            note(printable(f"left out run {run.run_id}: {failure}"))
    click.echo(f"wrote {built.index}: {len(built.entries)} result(s) from {built.reports} "
               f"run(s), {len(built.left_out)} run(s) left out")
