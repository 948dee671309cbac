"""``greenbench plot RUN... --kind KIND``: publication figures from stored runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from greenbench.commands._common import run_origin
from greenbench.commands._options import OUTPUT_FOLDER
from greenbench.commands._runs import load_run, store_option
from greenbench.commands._verbosity import detail, verbosity_options
from greenbench.plots import KINDS

if TYPE_CHECKING:
    from greenbench.records import RunRecord

def _no_output_file(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``-o`` names a file on report and export; plot writes several, into a folder."""
    if value is not None:
        raise click.UsageError(f"-o {value}: plot writes its figures into a folder: use "
                               f"--out-dir {value}", ctx)


# The option values live here (not in greenbench.plots.style) so that --help loads no
# plotting code at all.
_FORMATS = ("pdf", "svg", "png")


@click.command()
@click.argument("runs", nargs=-1, required=True, metavar="RUN...")
@click.option("--kind", required=True, type=click.Choice(KINDS),
              help="trace: power over time per domain for one case (or --all); bars: a metric "
                   "per case or variant with 95% CIs; scaling: a metric against a swept "
                   "parameter, log-log, with fitted exponents; pareto: energy per unit "
                   "against quality or throughput; breakdown: energy by domain, idle and net, "
                   "and emissions.")
@click.option("--metric", default=None, metavar="METRIC",
              help="What to plot (bars, scaling, pareto): energy_per_unit, energy, net_energy, "
                   "net_energy_per_unit, time, power, throughput, or a result key such as "
                   "quality:loss. Default: energy_per_unit (energy per step for scaling).")
@click.option("--x", "x", default=None, metavar="PARAM",
              help="Swept parameter for the x axis (scaling) or to group bars by (bars).")
@click.option("--case", default=None, metavar="INDEX|FILTER",
              help="Which cases: an index (3), a workload name, or NAME=VALUE[,NAME=VALUE]. "
                   "For trace, the first matching case unless --all.")
@click.option("--all", "all_cases", is_flag=True, help="trace: one figure per case.")
@click.option("--against", default=None, metavar="WHAT",
              help="pareto: trade energy against quality (the workload's quality figure), "
                   "throughput, or quality:NAME. Default: quality when recorded, else "
                   "throughput.")
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default="pdf", show_default=True,
              help="pdf and svg are vector with embedded fonts; png is 300 dpi.")
@click.option("--out-dir", "out_dir", default="plots", show_default=True,
              type=OUTPUT_FOLDER, metavar="DIR", help="Folder for the figures (created).")
@click.option("-o", "--output", hidden=True, expose_value=False, callback=_no_output_file)
@click.option("--width", "width_in", type=float, default=3.5, show_default=True,
              metavar="INCHES", help="Figure width: 3.5 for one column, 7 for two.")
@store_option
@verbosity_options
def plot(runs: tuple[str, ...], kind: str, metric: str | None, x: str | None,
         case: str | None, all_cases: bool, against: str | None, fmt: str, out_dir: str,
         width_in: float, store_path: str | None) -> None:
    """Draw publication figures of one or more runs.

    RUN is a run id, a unique prefix, latest or latest~N, or an exported run JSON file.
    Figures are one column wide (3.5 in, 8 pt text), use the Okabe-Ito colour-blind-safe
    palette, put units on every axis, and mark estimated energy (hatched bars, open markers,
    dashed lines). Files are named after the kind and the run ids.

    \b
    Examples:
      greenbench plot latest --kind bars
      greenbench plot latest --kind scaling --x seq_len
      greenbench plot latest --kind trace --case mechanism=softmax,seq_len=1024
    """
    from greenbench.extras import require
    from greenbench.plots.request import PlotRequest, render, runs_tag, writable_dir, write_figures

    require("greenbench plot", "matplotlib", "plots")  # before anything else is checked
    request = PlotRequest(kind, metric=metric, x=x, case=case, all_cases=all_cases,
                          against=against, width_in=width_in)
    request.check()  # before loading anything: a misplaced option costs nothing
    writable_dir(out_dir)  # and an unwritable folder fails before any drawing
    records = _load(runs, store_path)
    for ref in runs:
        detail(f"{ref}: from {run_origin(ref, store_path)}")
    detail(f"{len(records)} run(s), {sum(len(r.cases) for r in records)} case(s)")
    figures = render(records, request)
    detail(f"{len(figures)} {kind} figure(s), {width_in:g} in wide, as {fmt} into {out_dir}")
    paths = write_figures(figures, out_dir, fmt,
                          description=f"greenbench {kind} of run(s) {runs_tag(records)}")
    for path in paths:
        click.echo(f"wrote {path}")


def _load(refs: tuple[str, ...], store_path: str | None) -> list[RunRecord]:
    records = [load_run(ref, store_path) for ref in refs]
    unique = {r.id: r for r in records}  # the same run named twice is drawn once
    return list(unique.values())
