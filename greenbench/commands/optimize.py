"""``greenbench optimize``: sweep a GPU's power limit (and batch, or any parameter), store the
run, draw its energy-time Pareto front, and recommend the setting to run at."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from greenbench.commands._common import console
from greenbench.commands._options import POSITIVE_SECONDS, SECONDS, Number
from greenbench.commands._runs import store_option
from greenbench.errors import UserError

if TYPE_CHECKING:
    from greenbench.records import RunRecord

EXIT_INTERRUPTED = 130
EXIT_NOTHING_MEASURED = 1


@click.command()
@click.argument("workload_name", metavar="WORKLOAD")
@click.option("--device", required=True, help="The GPU: cuda or cuda:N.")
@click.option("--over", required=True, metavar="NAME,NAME",
              help="What to sweep: power_limit_w and/or workload parameters (batch, ...).")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=V1,V2",
              help="Values of a swept parameter, or a fixed one (repeatable); "
                   "power_limit_w defaults to --limits steps over the GPU's allowed range.")
@click.option("--max-slowdown", default="10%", show_default=True, metavar="PERCENT",
              help="The slowdown the third pick may cost, against the fastest setting.")
@click.option("--eta", type=Number(0.0, 1.0), default=None, metavar="ETA",
              help="Also pick the least ZeusCost(eta) = eta*E + (1-eta)*MaxPower*T.")
@click.option("--limits", "limit_count", type=Number(2, 50, integer=True), default=5,
              show_default=True, metavar="N",
              help="How many power limits to try when -p power_limit_w is not given.")
@click.option("--repeats", type=Number(1, integer=True), default=6, show_default=True,
              help="Measured repeats per setting.")
@click.option("--min-duration", "min_duration_s", type=SECONDS, default=0.5,
              show_default=True, metavar="S", help="Shortest repeat.")
@click.option("--warmup", "warmup_s", type=SECONDS, default=2.0, show_default=True,
              metavar="S", help="Longest warm-up per setting.")
@click.option("--idle", "idle_s", type=SECONDS, default=0.0, show_default=True, metavar="S",
              help="Idle baseline per setting (the picks use gross energy, which needs none).")
@click.option("--timeout", "timeout_s", type=POSITIVE_SECONDS, default=600.0,
              show_default=True, metavar="S", help="A setting running longer fails.")
@click.option("--workload-file", "workload_files", multiple=True, metavar="FILE.py",
              type=click.Path(dir_okay=False), help="Load workloads from a Python file.")
@store_option
@click.option("--label", default=None, help="A label stored with the run.")
@click.option("--out-dir", "out_dir", default="plots", show_default=True, metavar="DIR",
              help="Where the Pareto figure goes (with matplotlib installed).")
def optimize(workload_name: str, device: str, over: str, params: tuple[str, ...],
             max_slowdown: str, eta: float | None, limit_count: int, repeats: int,
             min_duration_s: float, warmup_s: float, idle_s: float, timeout_s: float,
             workload_files: tuple[str, ...], store_path: str | None, label: str | None,
             out_dir: str) -> None:
    """Measure a grid of settings and recommend the one to run at.

    Every combination of the --over values is measured (a grid: a point costs a warm-up
    and its repeats, about 10 s at the defaults on a GPU, so 5 limits x 3 batches take
    some 3 minutes; docs/optimize.md says why a grid). Three picks are printed: least
    energy, least time, and least energy within --max-slowdown of the fastest; each says
    whether its 95% interval overlaps the runner-up's.

    \b
    Examples:
      greenbench optimize transformer --device cuda:0 --over power_limit_w,batch -p batch=8,32
      greenbench optimize attention --device cuda:0 --over power_limit_w --max-slowdown 5%
    """
    from rich.markup import escape

    from greenbench.gpu.backends import gpu_for
    from greenbench.gpu.limits import POWER_LIMIT
    from greenbench.optimize import (
        default_limits,
        describe,
        energy_methods,
        points,
        recommend,
    )
    from greenbench.runner import RunConfig, plan
    from greenbench.runner import run as run_cases
    from greenbench.stop_signals import stop_signals
    from greenbench.store import Store
    from greenbench.workload import discover, parse_param_option

    swept = [name.strip() for name in over.split(",") if name.strip()]
    if not swept:
        raise UserError("--over: name what to sweep, e.g. --over power_limit_w,batch")
    slowdown = _fraction(max_slowdown)
    gpu = gpu_for(device)  # a CPU-only machine, or a GPU that is not there: one line
    overrides: dict[str, list[str]] = {}
    for text in params:
        name, values = parse_param_option(text)
        overrides.setdefault(name, []).extend(values)
    low_w, high_w = gpu.range_w()
    if POWER_LIMIT in swept and POWER_LIMIT not in overrides:
        overrides[POWER_LIMIT] = [f"{w:g}" for w in default_limits(low_w, high_w, limit_count)]
    missing = [n for n in swept if n not in overrides]
    if missing:
        raise UserError(f"--over {missing[0]}: give its values, e.g. -p {missing[0]}=8,32")
    config = RunConfig(device=device, repeats=repeats, min_duration_s=min_duration_s,
                       warmup_s=warmup_s, idle_s=idle_s, timeout_s=timeout_s,
                       workload_files=[str(Path(f).resolve()) for f in workload_files])
    config.check()
    registry = discover(workload_files)
    specs = plan(registry, [workload_name], overrides, None, device)
    store = Store(store_path)
    err = console(stderr=True)
    sizes = " x ".join(f"{len(overrides[n])} {n}" for n in swept)
    err.print(escape(f"greenbench: optimize {workload_name} on {gpu.label}: {len(specs)} "
                     f"settings ({sizes}), {repeats} repeat(s) each"))
    with stop_signals() as stopped:
        record = run_cases(specs, config, registry, store, label=label)
    found, left_out = points(record, swept)
    picks = recommend(found, slowdown, eta, high_w)
    unit = record.cases[0].unit if record.cases else "unit"
    # plain lines, never wrapped: each pick is one line a script can read
    click.echo(f"optimize run {record.id}: {len(found)} of {len(specs)} settings measured; "
               f"gross energy and time per {_one(unit)}, medians [95% CI]")
    for pick in picks:
        click.echo(describe(pick))
    for line in left_out:
        click.echo(f"note: {line}")
    methods = energy_methods(record)
    if methods:
        click.echo("energy: " + "; ".join(methods))
    if any(p.estimate for p in found):
        click.echo("note: some energy figures are ESTIMATED by a model, not measured")
    _draw(record, out_dir, err)
    err.print(f"stored run [bold]{record.id}[/bold] in {escape(str(store.path))} "
              f"(greenbench results show {record.id})")
    if record.status == "interrupted":
        err.print("[yellow]interrupted: the picks are from the settings measured so "
                  "far[/yellow]")
        sys.exit(stopped.exit_code(EXIT_INTERRUPTED))
    if not found:
        sys.exit(EXIT_NOTHING_MEASURED)


def _fraction(text: str) -> float:
    """``10%`` or ``0.1`` -> 0.1."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < 10:
        raise UserError(f"--max-slowdown {text}: use a percentage such as 10%")
    return value


def _one(unit: str) -> str:
    from greenbench.units import singular

    return singular(unit)


def _draw(record: RunRecord, out_dir: str, err: Any) -> None:
    """The energy-time Pareto front (energy per unit against throughput), when matplotlib is
    installed; a note saying how to get it otherwise."""
    from rich.markup import escape

    from greenbench.extras import installed

    if not installed("matplotlib"):
        err.print("greenbench: no Pareto figure: pip install 'greenbench[plots]'")
        return
    from greenbench.plots.pareto import plot_pareto
    from greenbench.plots.request import write_figures

    with contextlib.suppress(UserError):  # no points to draw: the picks said so already
        fig = plot_pareto([record], against="throughput")
        [path] = write_figures([(f"optimize-{record.id}", fig)], out_dir, fmt="png")
        err.print(escape(f"wrote {path}"))
