"""``greenbench measure -- COMMAND``: the energy of any command, measured on the whole machine."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from greenbench.carbon.options import carbon_options
from greenbench.commands._accounting import accounting_options
from greenbench.commands._child import Child
from greenbench.commands._common import (
    check_interval,
    console,
    interval_option,
    mlflow_option,
    sensor_lines,
    sensor_options,
    writable_file,
)
from greenbench.commands._job import JobPlace, job_options, measure_job
from greenbench.commands._options import OUTPUT_FILE, SECONDS
from greenbench.commands._verbosity import quiet, verbose, verbosity_options
from greenbench.errors import UserError
from greenbench.measurement import Measurement
from greenbench.settings import given_as
from greenbench.stop_signals import stop_signals

EXIT_NOT_FOUND = 127
EXIT_NOT_EXECUTABLE = 126
EXIT_INTERRUPTED = 130


@click.command(context_settings={"ignore_unknown_options": False})
@interval_option
@click.option("--idle", "idle_s", type=SECONDS, default=0.0, metavar="S",
              help="Measure S seconds of idle power first; report net energy above idle.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the result as JSON to standard output (after the command's own "
                   "output) instead of the table.")
@click.option("-o", "--output", "output", type=OUTPUT_FILE, default=None, metavar="FILE",
              help="Also write the result as JSON to FILE.")
@sensor_options
@accounting_options
@carbon_options
@click.option("--serve-metrics", "serve_metrics", default=None, metavar="[ADDR:]PORT",
              help="While the command runs, serve its energy to Prometheus on PORT of "
                   "127.0.0.1 (see greenbench monitor).")
@job_options
@mlflow_option
@verbosity_options
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def measure(
    interval_s: float | None,
    idle_s: float,
    as_json: bool,
    output: str | None,
    cpu_tdp: float | None,
    scope: str,
    include_constants: bool,
    region: str | None,
    intensity: float | None,
    intensity_file: str | None,
    provider: str | None,
    pue: float,
    serve_metrics: str | None,
    distributed: bool,
    nnodes: int | None,
    node_rank: int | None,
    master_addr: str | None,
    agent_port: int | None,
    job_timeout_s: float,
    store_path: str | None,
    to_mlflow: bool,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND and measure the machine while it runs.

    Put `--` before the command: greenbench measure -- python train.py --epochs 1
    The command's exit code is passed through (127 when it does not exist, 128+N when a
    signal N killed it). Ctrl-C, SIGTERM or SIGHUP stop the command and everything it
    started (its process group), asking first, then insisting.

    The table goes to standard output after the command's own output; notes and warnings go
    to standard error. Like every option of measure, -q and -v go before the `--`.
    """
    from rich.markup import escape

    from greenbench.carbon.options import resolve_carbon
    from greenbench.gpu_share import SeenPids, watches
    from greenbench.meter import Meter
    from greenbench.sensors.registry import available_sensors, probe_all, summary_line

    interval = check_interval(interval_s)
    _check_command(command[0], as_json)
    if idle_s < 0:
        raise UserError(f"--idle {idle_s}: use a number of seconds >= 0")
    out_path = writable_file(output, "-o")
    carbon = resolve_carbon(region, intensity, intensity_file, provider, pue)
    # the command's tree is greenbench's own: once the command ends and is waited for, its
    # CPU time is in greenbench's children's time
    probes = probe_all(cpu_tdp_w=cpu_tdp, scope=scope,  # type: ignore[arg-type]
                       cpu_tdp_given_as=given_as("cpu-tdp"))
    if distributed:
        place = JobPlace(nnodes, node_rank, master_addr, agent_port, job_timeout_s)
        with stop_signals() as stopped:
            code, interrupted = measure_job(command, place, available_sensors(probes),
                                            interval, lambda: _run(command), out_path,
                                            store_path)
        sys.exit(stopped.exit_code(EXIT_INTERRUPTED) if interrupted else code)
    sensors = available_sensors(probes)
    meter = Meter(sensors, interval_s=interval, include_constants=include_constants).start()
    # who else used a measured GPU while the command ran (greenbench.gpu_share)
    tree = SeenPids()
    shared = watches(sensors, lambda s: True, own=tree)
    err = console(stderr=True)
    server = None
    if serve_metrics is not None:
        from greenbench.integrations.prometheus import serve

        try:
            server, url = serve(meter, serve_metrics)
        except UserError:
            meter.stop()
            raise
        if not quiet():
            err.print(escape(f"greenbench: serving {url} while the command runs"))
    if not quiet():
        err.print(f"[dim]greenbench: {escape(summary_line(probes))}[/dim]")
    if verbose():
        for line in sensor_lines(probes):
            err.print(f"[dim]greenbench: {escape(line)}[/dim]")
        err.print(f"[dim]greenbench: sampling every {interval:g} s"
                  + (f", after {idle_s:g} s of idle baseline" if idle_s > 0 else "")
                  + "[/dim]")

    idle = meter.idle(idle_s) if idle_s > 0 else None
    window = meter.begin("command")
    since = [w.begin() for w in shared]
    with stop_signals() as stopped, tree if shared else contextlib.nullcontext():
        try:
            exit_code, interrupted = _run(command, tree.add)
        finally:
            result = meter.end(window)
            meter.stop()
            if server is not None:
                server.shutdown()
    for watch, start in zip(shared, since, strict=True):
        watch.end(start, result)

    doc = _document(command, result, idle, exit_code, interrupted, probes)
    if result.energy_j is not None:
        fp = carbon.footprint(energy_kwh=result.energy_j / 3.6e6, duration_s=result.duration_s,
                              start_unix_s=result.start_wall_s)
        doc["footprint"] = fp.to_dict()
        doc["carbon"] = carbon.describe()
    if as_json:
        click.echo(json.dumps(doc, indent=2, default=str))
    else:
        out = console()
        _print(doc, result, out)
        if "footprint" in doc:
            out.print(escape(fp.summary()))
    _warn(doc, result, err)
    if interrupted:
        err.print("[yellow]interrupted: the command was stopped; the partial measurement "
                  "above covers the time it ran[/yellow]")
    if out_path is not None:
        from greenbench.output_file import write_atomically

        write_atomically(out_path, json.dumps(doc, indent=2, default=str) + "\n")
        if not quiet():
            err.print(escape(f"wrote {out_path}"))
    from greenbench.integrations import mlflow as to_tracking

    if to_tracking.wanted(to_mlflow):  # after the file: a tracking failure loses nothing
        logged = to_tracking.log_measurement(doc)
        if not quiet():
            err.print(escape(f"logged to MLflow: run {logged}"))
    sys.exit(stopped.exit_code(EXIT_INTERRUPTED) if interrupted else exit_code)


def _run(command: tuple[str, ...],
         started: Callable[[int], None] = lambda pid: None) -> tuple[int, bool]:
    """Run the command to its end (or to Ctrl-C, SIGTERM, SIGHUP): (exit code, interrupted).
    ``started`` gets the command's pid as soon as it runs."""
    child = _start(command)
    started(child.proc.pid)
    interrupted = False
    try:
        exit_code = child.wait()
        if child.interrupted_at_terminal():
            interrupted = True
            exit_code = child.stop()  # what it started may ignore Ctrl-C
    except KeyboardInterrupt:
        interrupted = True
        exit_code = child.stop()
    finally:
        child.close()
    return exit_code, interrupted


def _check_command(program: str, as_json: bool = False) -> None:
    """Fail before measuring anything when the program cannot be started."""
    if as_json and program.lower().endswith(".json") and shutil.which(program) is None:
        # ``--json FILE`` once wrote FILE: say what writes it now
        _fail(f"--json prints the result to standard output and takes no file name; to "
              f"write {program}, use -o {program}", 2)
    if os.sep in program:
        path = Path(program)
        if not path.exists():
            _fail(f"command not found: {program}", EXIT_NOT_FOUND)
        if not os.access(path, os.X_OK) or path.is_dir():
            _fail(f"command is not executable: {program}", EXIT_NOT_EXECUTABLE)
    elif shutil.which(program) is None:
        _fail(f"command not found: {program} (is it on PATH?)", EXIT_NOT_FOUND)


def _fail(message: str, code: int) -> None:
    click.echo(f"greenbench: error: {message}", err=True)
    sys.exit(code)


def _start(command: tuple[str, ...]) -> Child:
    try:
        return Child(command)
    except FileNotFoundError:
        _fail(f"command not found: {command[0]}", EXIT_NOT_FOUND)
    except PermissionError:
        _fail(f"command is not executable: {command[0]}", EXIT_NOT_EXECUTABLE)
    raise AssertionError("unreachable")


def _document(
    command: tuple[str, ...],
    result: Measurement,
    idle: Measurement | None,
    exit_code: int,
    interrupted: bool,
    probes: list[Any],
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "command": list(command),
        "exit_code": exit_code,
        "interrupted": interrupted,
        "start_unix_s": result.start_wall_s,
        "duration_s": result.duration_s,
        "energy_j": result.energy_j,
        "method": result.method,
        "estimate": result.is_estimate,
        "mean_power_w": result.mean_power_w,
        "domains": [
            {
                "name": d.domain,
                "energy_j": d.energy_j,
                "method": d.method,
                "source": d.source,
                "mean_power_w": d.mean_power_w,
                "peak_power_w": d.peak_power_w,
                "part_of": d.part_of,
                "constant": d.constant,
                "not_counted": d.not_counted,
                "samples": d.samples,
                "error": d.error,
                "warnings": d.warnings,
            }
            for d in result.domains
        ],
        "constant_j": result.constant_j,
        "warnings": result.warnings,
        "sensors": [p.to_dict() for p in probes if p.available],
    }
    if idle is not None:
        idle_power = idle.mean_power_w
        doc["idle"] = {"duration_s": idle.duration_s, "mean_power_w": idle_power}
        if idle_power is not None and result.energy_j is not None:
            idle_j = idle_power * result.duration_s
            doc["idle_energy_j"] = idle_j
            doc["net_energy_j"] = result.energy_j - idle_j
    return doc


def _print(doc: dict[str, Any], result: Measurement, out: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    from greenbench.units import fmt_duration, fmt_energy, fmt_power, method_label

    shown = shlex.join(doc["command"])
    table = Table(title=f"greenbench measure: {escape(shown)}", title_justify="left")
    table.add_column("domain", no_wrap=True)
    table.add_column("energy", justify="right", no_wrap=True)
    table.add_column("how (sensor)", overflow="fold")
    table.add_column("mean power", justify="right", no_wrap=True)
    table.add_column("peak power", justify="right", no_wrap=True)
    for d in result.domains:
        if d.not_counted is None:
            label = d.domain + (f" (in {d.part_of})" if d.part_of else "")
            table.add_row(escape(label), fmt_energy(d.energy_j),
                          escape(method_label(d.method, d.source)),
                          fmt_power(d.mean_power_w), fmt_power(d.peak_power_w))
    total_method = method_label(result.method, "")
    table.add_section()
    table.add_row("total", fmt_energy(result.energy_j), total_method,
                  fmt_power(result.mean_power_w), "")
    if "net_energy_j" in doc:
        table.add_row("net above idle", fmt_energy(doc["net_energy_j"]), total_method,
                      f"idle {fmt_power(doc['idle']['mean_power_w'])}", "")
    beside = result.beside()
    if beside:  # constants and GPUs not charged: each on its own line, outside the total
        table.add_section()
        for d in beside:
            table.add_row(escape(f"{d.domain} (beside)"), fmt_energy(d.energy_j),
                          escape(method_label(d.method, d.source)),
                          fmt_power(d.mean_power_w), "")
    out.print(table)
    out.print(f"duration {fmt_duration(result.duration_s)}, exit code {doc['exit_code']}")
    for d in beside:
        out.print(escape(f"beside the total: {d.domain}: {d.not_counted}"))


def _warn(doc: dict[str, Any], result: Measurement, err: Any) -> None:
    """The measurement's warnings, on standard error at every verbosity."""
    from rich.markup import escape

    warnings = result.warnings + [w for d in result.domains for w in d.warnings]
    if doc.get("net_energy_j", 0.0) < 0:
        warnings.append("net energy is negative: the command drew less than the idle "
                        "baseline; measure longer or with a longer --idle")
    for w in warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(w)}")
