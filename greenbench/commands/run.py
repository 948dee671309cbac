"""``greenbench run``: workloads under the meter, each case in its own process, results stored."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

from greenbench.carbon.options import carbon_options
from greenbench.commands._accounting import accounting_options
from greenbench.commands._cases import print_cases
from greenbench.commands._common import (
    check_interval,
    console,
    fan_out,
    interval_option,
    mlflow_option,
    sensor_lines,
    sensor_options,
    writable_file,
)
from greenbench.commands._options import (
    OUTPUT_FILE,
    POSITIVE_SECONDS,
    SECONDS,
    SECONDS_OR_AUTO,
    Number,
)
from greenbench.commands._phase_times import PhaseTimes
from greenbench.commands._progress import Eta, LiveProgress, short_names
from greenbench.commands._runs import store_option
from greenbench.commands._verbosity import quiet, verbose, verbosity_options
from greenbench.errors import UserError
from greenbench.settings import given_as

EXIT_INTERRUPTED = 130
EXIT_CASES_FAILED = 1


@click.command()
@click.argument("workload_names", metavar="[WORKLOAD]...", nargs=-1)
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=V1,V2",
              help="Parameter values; several values make a grid (repeatable).")
@click.option("--suite", default=None, help="Run a named suite (default: quick, when no "
              "workload is named).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
@click.option("--repeats", type=Number(integer=True), default=6, show_default=True,
              help="Measured repeats per case (6 give a distribution-free 95% CI of the "
              "median; 5 or more allow a significance test).")
@click.option("--min-duration", "min_duration_s", type=SECONDS, default=0.5, show_default=True,
              metavar="S", help="Shortest repeat; raised to suit the slowest sensor.")
@click.option("--warmup", "warmup_s", type=SECONDS, default=2.0, show_default=True, metavar="S",
              help="Longest warm-up (ends early once step times are stable).")
@click.option("--idle", "idle_s", type=SECONDS_OR_AUTO, default="auto", show_default=True,
              metavar="S|auto", help="Idle baseline with the case's state loaded (0 to skip; "
              "auto: as long as the shortest repeat).")
@click.option("--timeout", "timeout_s", type=POSITIVE_SECONDS, default=600.0, show_default=True,
              metavar="S", help="A case running longer than this fails.")
@click.option("--workload-file", "workload_files", multiple=True, metavar="FILE.py",
              type=click.Path(dir_okay=False),
              help="Load workloads from a Python file. It is code greenbench runs, as do "
                   "installed workload plug-ins: only name files you trust.")
@store_option
@click.option("--json", "as_json", is_flag=True,
              help="Print the run as JSON (the export format) to standard output instead of "
                   "the table.")
@click.option("-o", "--output", "output", type=OUTPUT_FILE, default=None, metavar="FILE",
              help="Also write the run as JSON (the export format) to FILE.")
@click.option("--label", default=None, help="A label stored with the run.")
@click.option("--settle", "settle_s", type=SECONDS, default=None, metavar="S",
              help="Wait S seconds between warm-up and the idle baseline (default: 1 s when "
                   "a GPU is metered, whose power readings lag; else 0).")
@click.option("--processes", type=Number(integer=True), default=1, show_default=True,
              metavar="N",
              help="Worker processes per case, its repeats spread across them: the unit of "
                   "replication for comparisons (3 or more for a paper).")
@click.option("--nproc-per-node", type=Number(integer=True), default=None, metavar="N",
              help="Run each case on N ranks of this node through torchrun (a distributed "
                   "workload, such as transformer-ddp); see docs/distributed.md.")
@click.option("--nnodes", type=Number(integer=True), default=1, show_default=True,
              metavar="M", help="Nodes of the job (each runs the same command).")
@click.option("--node-rank", type=Number(integer=True), default=0, show_default=True,
              metavar="R", help="This node's place in the job; node 0 stores the figures.")
@click.option("--master-addr", default="127.0.0.1", show_default=True, metavar="A",
              help="Node 0's address (with --nnodes above 1).")
@click.option("--master-port", type=Number(integer=True), default=29500, show_default=True,
              metavar="P", help="Node 0's rendezvous port (with --nnodes above 1).")
@click.option("--job-timeout", "job_timeout_s", type=POSITIVE_SECONDS, default=30.0,
              show_default=True, metavar="S",
              help="How long a rank waits for the others (at a window's edge, node 0 at "
                   "start) before the case fails.")
@interval_option
@sensor_options
@accounting_options
@carbon_options
@mlflow_option
@verbosity_options
def run(
    workload_names: tuple[str, ...],
    params: tuple[str, ...],
    suite: str | None,
    device: str,
    repeats: int,
    min_duration_s: float,
    warmup_s: float,
    idle_s: float | None,
    timeout_s: float,
    workload_files: tuple[str, ...],
    store_path: str | None,
    as_json: bool,
    output: str | None,
    label: str | None,
    interval_s: float | None,
    cpu_tdp: float | None,
    scope: str,
    include_constants: bool,
    settle_s: float | None,
    processes: int,
    nproc_per_node: int | None,
    nnodes: int,
    node_rank: int,
    master_addr: str,
    master_port: int,
    job_timeout_s: float,
    region: str | None,
    intensity: float | None,
    intensity_file: str | None,
    provider: str | None,
    pue: float,
    to_mlflow: bool,
) -> None:
    """Run workloads under the meter and store the results.

    With no workload and no --suite, runs the `quick` suite, a smoke test: one small case
    each of attention, sparse-matmul and transformer (3 of the 16 built-in workloads),
    about 40 s on a 2-core CPU.

    The table of results goes to standard output; the progress line, notes and warnings
    to standard error.

    \b
    Examples:
      greenbench run
      greenbench run attention -p mechanism=softmax,linformer -p seq_len=256,1024
      greenbench run --suite attention-scaling --repeats 5
    """
    from rich.markup import escape

    from greenbench.carbon.options import resolve_carbon
    from greenbench.runner import RunConfig, plan
    from greenbench.runner import run as run_cases
    from greenbench.sensors.registry import probe_all, summary_line
    from greenbench.stop_signals import stop_signals
    from greenbench.store import Store
    from greenbench.workload import discover, parse_param_option

    config = RunConfig(
        device=device, repeats=repeats, min_duration_s=min_duration_s, warmup_s=warmup_s,
        idle_s=idle_s, interval_s=check_interval(interval_s), timeout_s=timeout_s,
        cpu_tdp_w=cpu_tdp, workload_files=[str(Path(f).resolve()) for f in workload_files],
        scope=scope, include_constants=include_constants, processes=processes,
        settle_s=settle_s, nproc_per_node=nproc_per_node, nnodes=nnodes, node_rank=node_rank,
        master_addr=master_addr, master_port=master_port, job_timeout_s=job_timeout_s,
    )
    config.check()
    carbon = resolve_carbon(region, intensity, intensity_file, provider, pue)
    _refuse_old_json_spelling(as_json, workload_names)
    overrides: dict[str, list[str]] = {}
    for text in params:
        name, values = parse_param_option(text)
        overrides.setdefault(name, []).extend(values)
    registry = discover(workload_files)
    specs = plan(registry, workload_names, overrides, suite, device)
    if nproc_per_node is None and (nnodes, node_rank) != (1, 0):
        raise UserError("--nnodes and --node-rank place the ranks of --nproc-per-node N: "
                        "give it too (docs/distributed.md)")
    from greenbench.distributed import launch

    launch.check_workloads([s.workload for s in specs], registry,
                           None if nproc_per_node is None else nproc_per_node * nnodes)
    if node_rank > 0:  # with --nproc-per-node, as checked above
        launch.wait_for_master(master_addr, master_port, job_timeout_s)
    probes = probe_all(cpu_tdp_w=cpu_tdp, scope=scope,  # type: ignore[arg-type]
                       cpu_tdp_given_as=given_as("cpu-tdp"))
    json_out = writable_file(output, "-o", store=store_path)
    store = Store(store_path)

    err = console(stderr=True)
    if not quiet():
        err.print(f"[dim]greenbench: {escape(summary_line(probes))}[/dim]")
        err.print(f"[dim]greenbench: {len(specs)} case(s), {repeats} repeat(s) each, "
                  f"device {escape(device)}, store {escape(str(store.path))}[/dim]")
    if verbose():
        for line in sensor_lines(probes):
            err.print(f"[dim]greenbench: {escape(line)}[/dim]")
    progress = None if quiet() else LiveProgress(
        err, Eta(len(specs), repeats, processes,
                 min_duration_s if idle_s is None else idle_s, min_duration_s), short_names(specs))
    phases = PhaseTimes(err) if verbose() else None
    with stop_signals() as stopped, progress or contextlib.nullcontext():
        record = run_cases(specs, config, registry, store,
                           on_event=fan_out(progress.event if progress else None,
                                            phases.event if phases else None),
                           label=label, sensors=[p.to_dict() for p in probes if p.available],
                           carbon=carbon)
    if as_json:
        from greenbench.results_format import dumps_document

        click.echo(dumps_document(store.export_run(record.id)), nl=False)
    else:
        out = console()
        print_cases(out, record)
        if record.footprint:
            from greenbench.carbon.footprint import Footprint

            out.print(escape(Footprint.from_dict(record.footprint).summary()))
    if json_out is not None:
        from greenbench.output_file import write_atomically
        from greenbench.results_format import dumps_document

        try:
            write_atomically(json_out, dumps_document(store.export_run(record.id)))
        except UserError as exc:  # the measurement is safe in the store: say where
            raise UserError(f"{exc} (run {record.id} is stored in {store.path}: "
                            f"greenbench results export {record.id} -o FILE)") from None
        if not quiet():
            err.print(f"wrote {escape(str(json_out))}")
    if not quiet():
        err.print(f"stored run [bold]{record.id}[/bold] in {escape(str(store.path))} "
                  f"(greenbench results show {record.id})")
    from greenbench.integrations import mlflow as to_tracking

    if to_tracking.wanted(to_mlflow):
        stored = store.get_run(record.id)
        try:
            logged = to_tracking.log_run(stored, store.export_run(record.id))
        except UserError as exc:  # the measurement is safe in the store: say where
            raise UserError(f"{exc} (run {record.id} is stored in {store.path})") from None
        if not quiet():
            err.print(escape(f"logged to MLflow: run {logged}"))
    if record.status == "interrupted":
        err.print(f"[yellow]interrupted: {len(record.cases)} finished case(s) kept; "
                  "the run is marked interrupted[/yellow]")
        sys.exit(stopped.exit_code(EXIT_INTERRUPTED))
    if any(c.status == "failed" for c in record.cases):
        sys.exit(EXIT_CASES_FAILED)


def _refuse_old_json_spelling(as_json: bool, workload_names: tuple[str, ...]) -> None:
    """``--json FILE`` once wrote FILE: say what writes it now rather than run FILE."""
    named = [n for n in workload_names if n.lower().endswith(".json")]
    if as_json and named:
        raise UserError(f"--json prints the run to standard output and takes no file name; "
                        f"to write {named[0]}, use -o {named[0]}")
