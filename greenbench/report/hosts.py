"""The report's per-host section: a multi-host run's job, host by host (``run.job``).

For each multi-host run: the job's shape (ranks, hosts, Slurm job), a table of its hosts
(machine key, ranks, energy, share of the job, method) and one of their domains with the
rank that read each (the election: every host's counters once, every GPU by its UUID once),
then what a reader must know: a partial job's missing hosts, clocks out of step.
"""

from __future__ import annotations

from collections.abc import Sequence

from greenbench.distributed.record import JobRecord
from greenbench.records import RunRecord
from greenbench.report.document import Block, Bullets, Paragraph, Subheading, Table
from greenbench.report.numbers import si
from greenbench.units import fmt_duration

_METHODS = {"counter": "energy counter", "power": "polled power, integrated",
            "estimate": "ESTIMATE (power model)", "mixed": "mixed (some ESTIMATED)"}


def host_blocks(runs: Sequence[RunRecord]) -> list[Block]:
    """The section's blocks: one part per multi-host run among ``runs`` (none: no section)."""
    blocks: list[Block] = []
    for run in runs:
        if run.job is None:
            continue
        job = JobRecord.from_dict(run.job)
        if len(runs) > 1:
            blocks.append(Subheading(f"Run {run.label or run.id}"))
        slurm = f", Slurm job {job.slurm_job_id}" if job.slurm_job_id else ""
        total = ("no total: the job is partial" if job.energy_j is None and job.partial
                 else si(job.energy_j, "J"))
        blocks.append(Paragraph(
            f"A job of {job.world_size} rank(s) on {len(job.expected_hosts)} host(s)"
            f"{slurm}; {len(job.hosts)} reported. Job energy: {total}, every host counted "
            "once: each host-level counter (RAPL package, DRAM) was read by one rank of its "
            "host and each GPU, by UUID, by one rank of the job, as the ranks elected."))
        blocks.append(_host_table(job))
        blocks.append(_domain_table(job))
        notes = []
        if job.partial:
            notes.append(f"Partial: no report from host(s) {', '.join(job.missing_hosts)} "
                         f"(rank(s) {', '.join(map(str, job.missing_ranks))}) in time; the "
                         "job has no total, as one over fewer hosts would understate it.")
        if job.clock_spread_flagged:
            spread = fmt_duration(job.clock_spread_s)
            notes.append(f"The ranks' wall clocks differed by {spread} at the same window "
                         "edge: carbon intensities by time of day may be looked up for the "
                         "wrong time.")
        if job.is_estimate:
            notes.append("Hosts marked ESTIMATE were measured by a power model, not a "
                         "sensor; the job's total is then an estimate too.")
        if notes:
            blocks.append(Bullets(notes))
    return blocks


def _host_table(job: JobRecord) -> Table:
    total = job.energy_j
    rows = []
    for h in job.hosts:
        e = h.energy_j
        share = "-" if total is None or e is None or total <= 0 else f"{e / total:.0%}"
        rows.append([h.host_id, h.hostname, h.machine_key or "-",
                     ", ".join(map(str, h.ranks)), si(e, "J"), share,
                     _METHODS.get(h.method, h.method)])
    rows += [[host, "-", "-", "-", "-", "-", "no report in time"] for host in job.missing_hosts]
    return Table(["Host", "Hostname", "Machine key", "Ranks", "Energy", "Share", "Method"],
                 rows, "Energy per host over the job's window.", "lllrrrl")


def _domain_table(job: JobRecord) -> Table:
    rows = []
    for h in job.hosts:
        for d in h.domains:
            counted = "yes" if d.counted else (f"inside {d.part_of}" if d.part_of
                                               else f"no: {d.not_counted}")
            rows.append([h.host_id, d.domain, d.uuid or "-", si(d.energy_j, "J"),
                         _METHODS.get(d.method, d.method), d.source,
                         ", ".join(map(str, d.read_by)), counted])
    return Table(["Host", "Domain", "GPU UUID", "Energy", "Method", "Sensor", "Read by rank",
                  "Counted"], rows, "Each host's domains and the rank that read each.",
                 "lllrllrl")
