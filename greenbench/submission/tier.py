"""Which tier a run's energy belongs to: ``measured`` (counters, polled power) or
``estimated`` (a power model). Estimated figures are ranked apart from measured ones, never
mixed with them (METHODOLOGY: keep estimates out of comparisons against measured figures)."""

from __future__ import annotations

from typing import Literal

from greenbench.records import CaseRecord, RunRecord

Tier = Literal["measured", "estimated"]
TIERS: tuple[Tier, ...] = ("measured", "estimated")


def case_tier(case: CaseRecord, run: RunRecord) -> Tier:
    """``estimated`` when some of the case's energy rests on a model (the one rule of
    :func:`greenbench.results_format.case_is_estimate`), else ``measured``."""
    from greenbench.results_format import case_is_estimate

    return "estimated" if case_is_estimate(case, run.is_estimate) else "measured"


def run_tier(run: RunRecord) -> Tier:
    """``estimated`` when any measured case of the run is, else ``measured``."""
    cases = [c for c in run.cases if c.status == "ok" and c.repeats]
    if not cases:
        return "estimated" if run.is_estimate else "measured"
    return "estimated" if any(case_tier(c, run) == "estimated" for c in cases) else "measured"
