"""Two multi-host runs side by side: the jobs' totals, each host's part, and the host sets.

``compare`` compares the runs' cases as for any run; this adds what only a job has. A total
is compared only where both jobs reported every host (a partial job has no total), and a
job whose hosts differ from the other's says so: its total covers other machines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from greenbench.distributed.record import JobRecord
from greenbench.records import RunRecord


@dataclass
class JobComparison:
    baseline: JobRecord | None
    current: JobRecord | None

    @property
    def only_in_baseline(self) -> list[str]:
        return [h for h in self._hosts(self.baseline) if h not in self._hosts(self.current)]

    @property
    def only_in_current(self) -> list[str]:
        return [h for h in self._hosts(self.current) if h not in self._hosts(self.baseline)]

    @property
    def hosts_differ(self) -> bool:
        return bool(self.only_in_baseline or self.only_in_current)

    @property
    def ratio(self) -> float | None:
        """Current total over the baseline's, where both jobs have one."""
        a = self.baseline.energy_j if self.baseline else None
        b = self.current.energy_j if self.current else None
        return None if a is None or b is None or a <= 0 else b / a

    @staticmethod
    def _hosts(job: JobRecord | None) -> list[str]:
        return [] if job is None else list(job.expected_hosts)

    def to_dict(self) -> dict[str, Any]:
        def side(job: JobRecord | None) -> dict[str, Any] | None:
            return None if job is None else {
                "hosts": job.expected_hosts, "energy_j": job.energy_j,
                "partial": job.partial, "estimate": job.is_estimate,
                "per_host_j": {h.host_id: h.energy_j for h in job.hosts}}

        return {"baseline": side(self.baseline), "current": side(self.current),
                "ratio": self.ratio, "hosts_differ": self.hosts_differ,
                "only_in_baseline": self.only_in_baseline,
                "only_in_current": self.only_in_current}

    def lines(self) -> list[str]:
        """What ``compare`` prints: the totals, each common host's part, the differences."""
        from greenbench.units import fmt_energy

        def total(job: JobRecord | None) -> str:
            if job is None:
                return "one host"
            energy = "no total (partial)" if job.energy_j is None else fmt_energy(job.energy_j)
            mark = " ESTIMATE" if job.is_estimate else ""
            return f"{len(job.expected_hosts)} host(s), {energy}{mark}"

        ratio = "" if self.ratio is None else f", ratio {self.ratio:.3f}"
        out = [f"jobs: baseline {total(self.baseline)}; current {total(self.current)}{ratio} "
               "(one window each: no interval)"]
        if self.baseline is not None and self.current is not None:
            mine = {h.host_id: h.energy_j for h in self.current.hosts}
            for h in self.baseline.hosts:
                if h.host_id in mine:
                    a, b = h.energy_j, mine[h.host_id]
                    r = f" ({b / a:.3f})" if a and b is not None else ""
                    out.append(f"  {h.host_id}: {fmt_energy(a)} -> {fmt_energy(b)}{r}")
        if self.hosts_differ:
            parts = [f"only in the {side}: {', '.join(hosts)}" for side, hosts in
                     (("baseline", self.only_in_baseline), ("current", self.only_in_current))
                     if hosts]
            out.append("host sets differ (" + "; ".join(parts) + "): the totals cover "
                       "different machines")
        return out


def compare_jobs(baseline: RunRecord, current: RunRecord) -> JobComparison | None:
    """The jobs of two runs, where either is a multi-host run; None where neither is."""
    if baseline.job is None and current.job is None:
        return None
    return JobComparison(
        None if baseline.job is None else JobRecord.from_dict(baseline.job),
        None if current.job is None else JobRecord.from_dict(current.job))
