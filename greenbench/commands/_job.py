"""``greenbench measure --distributed``: one agent per host around an unchanged job.

Each host runs ``greenbench measure --distributed --nnodes M --node-rank R --master-addr A
-- torchrun ...``. The agents meet in a TCPStore of their own at ``A:--agent-port`` (the agent
of node 0 serves it; torchrun keeps its own port), elect who reads what exactly as the ranks of
greenbench.distributed do (here one agent per host, so each host's counters are read once and
its GPUs by its own agent), and measure one collective window around the command. The agent
of node 0 prints the job's figures with a breakdown per host; every agent passes its
command's exit code through.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from greenbench.commands._options import OUTPUT_FILE
from greenbench.errors import UserError
from greenbench.settings import option_default

#: the agents' store port where --agent-port is not given: beside torchrun's usual 29500
DEFAULT_AGENT_PORT = 29501


def job_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--distributed", is_flag=True,
                     help="Measure a multi-host job: one greenbench agent per host, meeting "
                          "at --master-addr (see docs/distributed.md)."),
        click.option("--nnodes", type=click.IntRange(min=1), default=None, metavar="M",
                     help="With --distributed: hosts in the job (default: $SLURM_NNODES)."),
        click.option("--node-rank", type=click.IntRange(min=0), default=None, metavar="R",
                     help="With --distributed: this host's rank, 0 to M-1 (default: "
                          "$SLURM_NODEID)."),
        click.option("--master-addr", default=None, metavar="ADDR",
                     help="With --distributed: where the agent of node 0 listens (default: "
                          "$MASTER_ADDR)."),
        click.option("--agent-port", type=click.IntRange(1, 65535), default=None,
                     metavar="PORT", help="With --distributed: the agents' port, not "
                     f"torchrun's (default: $GREENBENCH_AGENT_PORT, else {DEFAULT_AGENT_PORT})."),
        click.option("--job-timeout", "job_timeout_s", type=click.FloatRange(min=0.1),
                     default=60.0, show_default=True, metavar="S",
                     help="With --distributed: how long an agent waits for the others."),
        click.option("--store", "store_path", type=OUTPUT_FILE,
                     default=option_default("store"), metavar="PATH",
                     help="With --distributed: the results store node 0 stores the job's "
                          "run in (default: $GREENBENCH_STORE, else store in the settings "
                          "files, else results/greenbench.sqlite)."),
    ]):
        f = option(f)
    return f


class JobPlace:
    """Where this agent stands in the job, from the options and the launcher's variables."""

    def __init__(self, nnodes: int | None, node_rank: int | None, master_addr: str | None,
                 agent_port: int | None, timeout_s: float) -> None:
        env = os.environ
        self.nnodes = nnodes if nnodes is not None else _int_env("SLURM_NNODES", "--nnodes")
        self.node_rank = (node_rank if node_rank is not None
                          else _int_env("SLURM_NODEID", "--node-rank"))
        addr = master_addr or env.get("MASTER_ADDR")
        if not addr:
            raise UserError("--distributed: give --master-addr (or set MASTER_ADDR): the "
                            "address of node 0, where the agents meet")
        self.master_addr: str = addr
        self.port = agent_port or _int_env("GREENBENCH_AGENT_PORT", None) or DEFAULT_AGENT_PORT
        if self.node_rank >= self.nnodes:
            raise UserError(f"--node-rank {self.node_rank}: use 0 to {self.nnodes - 1} for "
                            f"--nnodes {self.nnodes}")
        self.timeout_s = timeout_s

    def store(self) -> Any:
        """The agents' store: served by node 0's agent, a client elsewhere; a one-line
        UserError when it cannot be reached within the timeout."""
        import torch.distributed as dist

        try:
            return dist.TCPStore(self.master_addr, self.port, is_master=self.node_rank == 0,
                                 wait_for_workers=False,
                                 timeout=timedelta(seconds=self.timeout_s))
        except (RuntimeError, ValueError, OSError) as exc:
            what = "listen on" if self.node_rank == 0 else "reach node 0's agent at"
            raise UserError(f"--distributed: cannot {what} {self.master_addr}:{self.port} "
                            f"within {self.timeout_s:g} s ({str(exc).splitlines()[0][:100]})"
                            "; check --master-addr and --agent-port") from None


def measure_job(command: Sequence[str], place: JobPlace, sensors: Sequence[Any],
                interval_s: float, run: Callable[[], tuple[int, bool]],
                output: str | Path | None, store: str | Path | None = None
                ) -> tuple[int, bool]:
    """Measure ``run`` (which runs the command: (exit code, interrupted)) as this host's
    part of the job; node 0 prints the job's figures (and writes ``output``), then stores
    the job as a run in ``store``."""
    from greenbench.distributed import DistributedMeter

    gpus = sorted(int(s.domain[4:]) for s in sensors if s.domain.startswith("gpu:")
                  and s.domain[4:].isdigit())
    device = "cuda:" + ",".join(map(str, gpus)) if gpus else "cpu"
    meter = DistributedMeter(sensors, device=device, timeout_s=place.timeout_s,
                             interval_s=interval_s, store=place.store(),
                             rank=place.node_rank, world_size=place.nnodes)
    try:
        with meter.window("command") as w:
            code, interrupted = run()
    finally:
        meter.close()
    job = w.result
    if place.node_rank == 0 and job is not None:
        doc = {"command": list(command), "exit_code": code, "interrupted": interrupted,
               **job.to_dict(), "election": meter.election.to_dict()}
        from greenbench.distributed.record import job_record

        print_job(doc, job_record(job, meter.identities, meter.election).to_dict())
        if output is not None:
            from greenbench.output_file import write_atomically

            write_atomically(output, json.dumps(doc, indent=2, default=str) + "\n")
        _store(command, code, interrupted, job, meter, sensors, interval_s, store)
    return code, interrupted


def _store(command: Sequence[str], code: int, interrupted: bool, job: Any, meter: Any,
           sensors: Sequence[Any], interval_s: float, store: str | Path | None) -> None:
    """Node 0 stores the job as a run (after printing it and writing ``-o``: a store that
    cannot be written loses nothing already shown)."""
    import shlex

    from rich.markup import escape

    from greenbench.commands._common import console
    from greenbench.commands._verbosity import quiet
    from greenbench.distributed.stored import job_run, store_run

    shown = shlex.join(command)
    run = job_run(job, meter.identities, meter.election, workload="command",
                  params={"command": shown}, unit="runs",
                  sensors=[s.describe() | {"available": True} for s in sensors],
                  config={"interval_s": interval_s, "exit_code": code,
                          "nnodes": meter.world_size},
                  failure=None if code == 0 else f"the command exited with code {code}",
                  interrupted=interrupted)
    run_id = store_run(run, store)
    if not quiet():
        console(stderr=True).print(escape(f"stored run {run_id}"))


def print_job(doc: dict[str, Any], job: dict[str, Any]) -> None:
    """Node 0's report of the job: its total, the per-host breakdown (as ``results show``
    prints a stored one: ``job`` is its run.job), then the window's warnings."""
    from rich.markup import escape

    from greenbench.commands._common import console
    from greenbench.units import fmt_duration, fmt_energy

    out, err = console(), console(stderr=True)
    mark = " ESTIMATE" if doc["estimate"] else ""
    total = "no total (partial)" if doc["energy_j"] is None else fmt_energy(doc["energy_j"])
    out.print(escape(f"job: {len(doc['expected_hosts'])} host(s), "
                     f"{fmt_duration(doc['duration_s'])}, {total}{mark}"))
    print_hosts(out, job, notes=False)  # the warnings below say the same
    for warning in doc["warnings"]:
        err.print(f"[yellow]warning: {escape(warning)}[/yellow]")


def _int_env(name: str, option: str | None) -> int:
    raw = os.environ.get(name, "")
    if raw.strip().isdigit():
        return int(raw)
    if option is None:
        return 0
    raise UserError(f"--distributed: give {option} (or set ${name})")


def print_hosts(out: Any, job_doc: dict[str, Any], notes: bool = True) -> None:
    """A stored multi-host run's breakdown (``run.job``): a row per host (its machine key,
    ranks, energy, share of the job and how it was measured), its domains under it with the
    rank that read each (and a GPU's UUID), then (``notes``) what a reader must know:
    partial, clocks."""
    from rich.markup import escape

    from greenbench.commands._width import Col, label_tokens, print_table, words
    from greenbench.distributed.record import JobRecord
    from greenbench.units import fmt_duration, fmt_energy, method_label

    job = JobRecord.from_dict(job_doc)
    slurm = f", Slurm job {job.slurm_job_id}" if job.slurm_job_id else ""
    out.print(escape(f"hosts     {len(job.hosts)} of {len(job.expected_hosts)} reporting, "
                     f"world size {job.world_size}{slurm}"))
    total = job.energy_j
    cols = [Col("host / domain", give=2), Col("machine key", give=1), Col("ranks"),
            Col("energy", right=True), Col("share", right=True), Col("how (sensor)", give=3)]

    def row(*cells: list[str], style: str = "") -> None:
        for col, cell in zip(cols, cells, strict=True):
            col.add(cell, style)

    for host in job.hosts:
        e = host.energy_j
        share = "-" if total is None or e is None or total <= 0 else f"{e / total:.0%}"
        sources = ", ".join(dict.fromkeys(d.source for d in host.domains if d.counted))
        row(label_tokens(host.host_id), [host.machine_key or "?"],
            [f"{r}, " for r in host.ranks[:-1]] + [str(host.ranks[-1])] if host.ranks else [],
            [fmt_energy(e)], [share], words(method_label(host.method, sources)))
        for d in host.domains:
            beside = "" if d.counted else (f" [in {d.part_of}]" if d.part_of
                                           else " [beside: not counted]")
            how = method_label(d.method, d.source) + (f", {d.uuid}" if d.uuid else "")
            row(label_tokens("  " + d.domain), [""],
                _readers(d.read_by),
                [fmt_energy(d.energy_j)], [""], words(how + beside), style="dim")
    for host_id in job.missing_hosts:
        ranks = [i.rank for i in job.election if i.host_id == host_id] or job.missing_ranks
        row(label_tokens(host_id), ["?"], [", ".join(map(str, sorted(set(ranks))))],
            ["-"], ["-"], ["no ", "report ", "in ", "time"], style="red")
    row(["total"], [""], [""], [fmt_energy(total)], [""],
        words("no total: partial" if job.partial else method_label(_methods(job), "")))
    print_table(out, cols)
    if notes and job.partial:
        out.print("[red]" + escape(f"partial: no report from host(s) "
                                   f"{', '.join(job.missing_hosts)} (rank(s) "
                                   f"{', '.join(map(str, job.missing_ranks))}) in time; the "
                                   "job has no total (one over fewer hosts would understate "
                                   "it)") + "[/red]")
    if notes and job.clock_spread_flagged:
        out.print(f"[yellow]clocks: the ranks' wall clocks differed by "
                  f"{fmt_duration(job.clock_spread_s)} at the same window edge: synchronise them "
                  "(NTP)[/yellow]")


def _readers(ranks: list[int]) -> list[str]:
    """``read by 0`` unbroken, further ranks as tokens of their own: ``1, ``, ``2``."""
    shown = [f"{r}, " for r in ranks[:-1]] + [str(r) for r in ranks[-1:]]
    return [f"read by {shown[0]}", *shown[1:]] if shown else ["-"]


def _methods(job: Any) -> str:
    methods = {h.method for h in job.hosts}
    return methods.pop() if len(methods) == 1 else "mixed"
