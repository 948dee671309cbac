"""What a runner can detect: the unchanged code gated against itself, several times.

Every run of ``greenbench gate --calibrate`` is a full interleaved A/B session of the same
commit against itself, so each verdict other than *unchanged* is a false alarm, and the spread
of the paired log ratios is this runner's noise. From them:

- the **false-alarm rate**: runs that would have failed the gate, with the 95% upper bound
  of the rate when none did (``1 - 0.05 ** (1 / runs)``, the "rule of three" exactly);
- the **smallest detectable change** per benchmark: the true change that a two-sided test at
  ``alpha`` detects with 80% power given that noise and that many pairs,
  ``exp((z(1 - alpha/2) + z(0.8)) * s / sqrt(n * 3/pi)) - 1``, where ``s`` is the standard
  deviation of the paired log ratios pooled over the runs and ``3/pi`` the signed-rank test's
  efficiency relative to the t-test on normal data;
- the **spread between runs** of the paired ratio, which also holds what one interleaved
  session cannot average out (each revision runs in one process: its memory layout, its
  share of the caches).

A threshold must sit above the spread between runs (or unchanged code will fail); changes
between it and the smallest detectable change are caught only some of the time.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from greenbench.distributions import beta_ppf, normal_ppf
from greenbench.run_compare import RunComparison

POWER = 0.8
#: asymptotic efficiency of the signed-rank test relative to the t-test, normal data
_EFFICIENCY = 3 / math.pi


@dataclass(frozen=True)
class BenchmarkNoise:
    """One benchmark over the calibration runs (``metric``: the result key gated)."""

    label: str
    metric: str
    runs: int
    pairs: int
    ratios: list[float]
    log_ratio_sd: float | None
    detectable: float | None
    false_alarms: int


@dataclass(frozen=True)
class Calibration:
    runs: int
    failed_runs: int
    benchmarks: list[BenchmarkNoise]
    alpha: float

    @property
    def false_alarm_upper(self) -> float:
        """95% upper bound of the false-alarm rate per run from what was seen."""
        if self.runs == 0:
            return 1.0
        if self.failed_runs == 0:
            return 1 - 0.05 ** (1 / self.runs)
        return beta_ppf(0.95, self.failed_runs + 1, self.runs - self.failed_runs)


def calibration(comparisons: Sequence[RunComparison], metric: str = "energy_j") -> Calibration:
    """Summarise unchanged-against-itself comparisons (see the module docstring)."""
    alpha = comparisons[0].alpha if comparisons else 0.05
    failed = sum(1 for c in comparisons if c.exit_code == 1)
    by_label: dict[str, list[tuple[list[float], float | None, bool]]] = {}
    for comparison in comparisons:
        for case in comparison.cases:
            for v in case.verdicts:
                if v.key != metric or v.comparison is None:
                    continue
                logs = _pair_logs(comparison, case.label, metric)
                alarm = v.status not in ("unchanged", "not comparable") and v.gated
                by_label.setdefault(case.label, []).append((logs, v.comparison.ratio, alarm))
    benchmarks = []
    for label, seen in by_label.items():
        series = [logs for logs, _, _ in seen if logs]
        # each run's own mean removed: the spread within runs, pooled
        residuals = [x - statistics.fmean(logs) for logs in series for x in logs]
        pairs = min((len(logs) for logs in series), default=0)
        dof = len(residuals) - len(series)
        sd = math.sqrt(sum(r * r for r in residuals) / dof) if dof > 0 else None
        benchmarks.append(BenchmarkNoise(
            label=label, metric=metric, runs=len(seen), pairs=pairs,
            ratios=[r for _, r, _ in seen if r is not None],
            log_ratio_sd=sd,
            detectable=smallest_detectable(sd, pairs, alpha) if sd is not None else None,
            false_alarms=sum(1 for _, _, alarm in seen if alarm),
        ))
    return Calibration(len(comparisons), failed, benchmarks, alpha)


def smallest_detectable(log_sd: float, pairs: int, alpha: float, power: float = POWER) -> float:
    """The relative change (0.1 for +10%) detected with ``power`` by the paired test."""
    if pairs < 1:
        return math.inf
    z = normal_ppf(1 - alpha / 2) + normal_ppf(power)
    return math.exp(z * log_sd / math.sqrt(pairs * _EFFICIENCY)) - 1


def _pair_logs(comparison: RunComparison, label: str, metric: str) -> list[float]:
    from greenbench.records import case_names

    def values(run: object) -> list[float | None]:
        cases = run.cases  # type: ignore[attr-defined]
        for case, name in zip(cases, case_names(cases), strict=True):
            if name == label:
                return [r.metrics.get(metric) for r in case.repeats]
        return []

    pairs = zip(values(comparison.baseline), values(comparison.current), strict=False)
    return [math.log(b / a) for a, b in pairs if a and b and a > 0 and b > 0]
