"""The submission rules, one small function each, with its threshold and why.

A run is pooled (pushed to a shared store, shown on the leaderboard) only when every rule
passes, as MLPerf's submission checker accepts a result only when all its checks do. Each rule
looks at the cases that measured something (status ``ok``); its verdict is ``pass``, ``fail``
(with a one-line reason naming the cases) or ``n/a`` (the rule does not concern this run).
Thresholds are the project's own defaults wherever one exists: the runner's repeat length and
CV limit, the statistics' smallest sample for a test, the meter's updates per window.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from greenbench.measurement import Measurement
from greenbench.meter import DEFAULT_INTERVAL_S, MIN_UPDATES_PER_WINDOW
from greenbench.records import FORMAT_VERSION, CaseRecord, RunRecord, case_names
from greenbench.runner import CV_CHECKED, CV_LIMIT, RunConfig
from greenbench.stats import MIN_N_FOR_TEST
from greenbench.units import fmt_duration, fmt_percent

Status = Literal["pass", "fail", "n/a"]

MIN_REPEATS = MIN_N_FOR_TEST
"""Fewest repeats per case: below it no comparison test runs (greenbench.stats)."""

MIN_REPEAT_S = RunConfig.min_duration_s
"""Shortest repeat: the runner's default ``--min-duration``."""

MAX_CV = CV_LIMIT
"""Largest coefficient of variation of the checked metrics (the runner's "high CV" limit)."""

SAME_WINDOW_TOLERANCE = 1e-6
"""Relative difference allowed between a repeat's figures recomputed from its own window."""

CASES_SHOWN = 3
"""Cases named in one failure line; the rest are counted."""


@dataclass(frozen=True)
class Verdict:
    rule: str
    status: Status
    detail: str

    @property
    def failed(self) -> bool:
        return self.status == "fail"


@dataclass(frozen=True)
class Failure:
    """A failed rule: its name and why, in one line (``str(failure)``)."""

    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


@dataclass(frozen=True)
class Rule:
    name: str
    #: the threshold, in words
    threshold: str
    #: why the rule exists (the check function's docstring)
    why: str
    test: Callable[[RunRecord], tuple[Status, str]]


RULES: list[Rule] = []


def _rule(name: str, threshold: str) -> Callable[[Callable[[RunRecord], tuple[Status, str]]],
                                                  Callable[[RunRecord], tuple[Status, str]]]:
    def register(fn: Callable[[RunRecord], tuple[Status, str]]
                 ) -> Callable[[RunRecord], tuple[Status, str]]:
        why = " ".join((fn.__doc__ or "").split())
        RULES.append(Rule(name, threshold, why, fn))
        return fn
    return register


def evaluate(run: RunRecord) -> list[Verdict]:
    """Every rule's verdict on ``run``, in the order of :data:`RULES`."""
    return [Verdict(r.name, *r.test(run)) for r in RULES]


def check_run(run: RunRecord) -> list[Failure]:
    """The rules ``run`` fails (empty: it may be pooled)."""
    return [Failure(v.rule, v.detail) for v in evaluate(run) if v.failed]


# --------------------------------------------------------------------------- the rules


@_rule("format-version", f"an export document of format version {FORMAT_VERSION} that reads back")
def format_version(run: RunRecord) -> tuple[Status, str]:
    """Pooled runs travel as export documents: the run must be one of the version this
    greenbench writes, and pass the document check (types, finite numbers, safe ids) that
    every import applies, so that every store and page reads it alike."""
    from greenbench.errors import UserError
    from greenbench.results_format import from_document, json_safe, to_document

    doc = to_document(run)
    try:
        from_document(json_safe(doc), f"run {run.id}")
    except UserError as exc:
        return "fail", str(exc)
    return "pass", f"format version {doc['format_version']}"


@_rule("status", "the run complete; every case ok or skipped")
def status(run: RunRecord) -> tuple[Status, str]:
    """A run still running, interrupted or died, or with a failed case, is not a finished
    measurement: pooling it would publish part of a result as the whole."""
    if run.status != "complete":
        return "fail", f"the run's status is {run.status}, not complete"
    bad = [(i, c.status) for i, c in enumerate(run.cases) if c.status not in ("ok", "skipped")]
    if bad:
        return "fail", _cases_text(run, bad, "did not finish")
    if not _measured(run):
        return "fail", "no case measured anything"
    return "pass", f"complete, {len(_measured(run))} case(s) measured"


@_rule("energy-method", "every repeat's energy read, with its method; the tier follows")
def energy_method(run: RunRecord) -> tuple[Status, str]:
    """Every figure says how it was obtained: each repeat's total must be read (a failed read
    is never shown as 0) and come from a counter, polled power or a model. Runs with a model
    in a total go to the estimated tier, ranked apart from measured runs (ML.ENERGY and
    greenbench alike never mix the two)."""
    from greenbench.results_format import energy_method as method_of
    from greenbench.submission.tier import run_tier

    bad = []
    for i, case in _measured(run):
        missing = sum(1 for r in case.repeats
                      if r.measurement.energy_j is None or r.measurement.method == "none")
        if missing:
            bad.append((i, f"{missing} of {len(case.repeats)} repeat(s) with no energy read"))
    if bad:
        return "fail", _cases_text(run, bad, "have no energy")
    methods = sorted({method_of(c, run.is_estimate) for _, c in _measured(run)})
    return "pass", f"tier {run_tier(run)} (method: {', '.join(methods) or 'none'})"


@_rule("repeats", f"at least {MIN_REPEATS} repeats per case")
def repeats(run: RunRecord) -> tuple[Status, str]:
    """With fewer repeats no significance test can tell two results apart (the fewest
    greenbench.stats tests), and the 95% interval is too wide to rank by."""
    bad = [(i, f"{len(c.repeats)}") for i, c in _measured(run) if len(c.repeats) < MIN_REPEATS]
    if bad:
        return "fail", _cases_text(run, bad, f"have fewer than {MIN_REPEATS} repeats")
    fewest = min((len(c.repeats) for _, c in _measured(run)), default=0)
    return "pass", f"at least {fewest} repeats per case"


@_rule("repeat-duration", f"each repeat at least {fmt_duration(MIN_REPEAT_S)} less one sampling "
                          f"interval, and {MIN_UPDATES_PER_WINDOW} updates of its slowest sensor")
def repeat_duration(run: RunRecord) -> tuple[Status, str]:
    """A window shorter than a few sensor updates measures the sensor's timing more than the
    work (NVML updates every 20-100 ms; the meter flags windows under 10 updates); the
    runner's default repeat is the floor, less one sampling interval: a window's edges are
    its sensors' last reads, up to one interval before the clock's."""
    bad = []
    for i, case in _measured(run):
        short = [r.measurement.duration_s for r in case.repeats
                 if r.measurement.duration_s < _shortest_repeat_s(run, r.measurement)]
        if short:
            bad.append((i, f"{len(short)} shorter, the shortest {fmt_duration(min(short))}"))
    if bad:
        return "fail", _cases_text(run, bad, "have repeats too short")
    shortest = min((r.measurement.duration_s for _, c in _measured(run) for r in c.repeats),
                   default=0.0)
    return "pass", f"shortest repeat {fmt_duration(shortest)}"


@_rule("cv", f"CV of {' and '.join(CV_CHECKED)} at most {fmt_percent(MAX_CV)}")
def cv(run: RunRecord) -> tuple[Status, str]:
    """Results that vary more than this over repeats are flagged as noisy by every greenbench
    command (METHODOLOGY: flag CV above 10%); a noisy result is not ranked."""
    bad = []
    for i, case in _measured(run):
        high = [f"{m} {fmt_percent(s.cv, MAX_CV)}" for m in CV_CHECKED
                if (s := case.summary.get(m)) is not None and s.cv is not None and s.cv > MAX_CV]
        if high:
            bad.append((i, ", ".join(high)))
    if bad:
        return "fail", _cases_text(run, bad, f"vary more than {fmt_percent(MAX_CV)}")
    worst = max((s.cv for _, c in _measured(run) for m in CV_CHECKED
                 if (s := c.summary.get(m)) is not None and s.cv is not None), default=None)
    return "pass", "no CV" if worst is None else f"largest CV {fmt_percent(worst, MAX_CV)}"


@_rule("idle-baseline", "an idle baseline with its energy read, per case")
def idle_baseline(run: RunRecord) -> tuple[Status, str]:
    """Net energy is the repeats' energy above idle: without a read idle window a result
    cannot say how much of its energy the work drew (METHODOLOGY: report gross, idle and
    net)."""
    bad = [(i, "none" if c.idle is None else "not read") for i, c in _measured(run)
           if c.idle is None or c.idle.energy_j is None or c.idle.duration_s <= 0]
    if bad:
        return "fail", _cases_text(run, bad, "have no idle baseline")
    return "pass", "present in every case"


@_rule("same-repeats", "energy per unit and throughput of every repeat from its own window")
def same_repeats(run: RunRecord) -> tuple[Status, str]:
    """Throughput and energy come from the same window (METHODOLOGY; MLPerf Power reads both
    from one run): each repeat's energy per unit times its units is its window's energy, its
    throughput times the window's duration is its units, and both summaries hold every
    repeat."""
    bad = []
    for i, case in _measured(run):
        problem = _window_mismatch(case)
        if problem:
            bad.append((i, problem))
    if bad:
        return "fail", _cases_text(run, bad, "have energy and throughput apart")
    return "pass", "energy and throughput from the same repeats"


@_rule("complete-hosts", "every host of a multi-host job reported")
def complete_hosts(run: RunRecord) -> tuple[Status, str]:
    """A job total over fewer hosts than ran understates its energy; a multi-host run is
    pooled only when every host and rank reported (not applicable on one host)."""
    job = run.job
    if job is None:
        return "n/a", "one host"
    hosts = [h for h in job.get("hosts") or [] if isinstance(h, dict)]
    reported = {h.get("host_id") for h in hosts}
    missing = [str(h) for h in job.get("missing_hosts") or []]
    missing += [str(h) for h in job.get("expected_hosts") or [] if h not in reported]
    ranks = {r for h in hosts for r in h.get("ranks") or []}
    world = job.get("world_size")
    if isinstance(world, int) and ranks and len(ranks) < world:
        missing.append(f"{world - len(ranks)} of {world} rank(s)")
    missing += [f"rank {r}" for r in job.get("missing_ranks") or []]
    if missing or job.get("partial"):
        return "fail", f"missing {', '.join(dict.fromkeys(missing)) or 'part of the job'}"
    return "pass", f"{len(hosts)} host(s) reported"


# --------------------------------------------------------------------------- helpers


def _measured(run: RunRecord) -> list[tuple[int, CaseRecord]]:
    return [(i, c) for i, c in enumerate(run.cases) if c.status == "ok" and c.repeats]


def _cases_text(run: RunRecord, bad: Sequence[tuple[int, str]], what: str) -> str:
    names = case_names(run.cases)
    shown = [f"{names[i]} ({detail})" for i, detail in bad[:CASES_SHOWN]]
    more = f" and {len(bad) - CASES_SHOWN} more" if len(bad) > CASES_SHOWN else ""
    return f"{len(bad)} case(s) {what}: {'; '.join(shown)}{more}"


def _shortest_repeat_s(run: RunRecord, window: Measurement) -> float:
    """The floor for one repeat: the runner's default less the run's sampling interval, or
    MIN_UPDATES_PER_WINDOW updates of the slowest recorded sensor in its total."""
    interval = run.config.get("interval_s")
    if not isinstance(interval, (int, float)) or isinstance(interval, bool):
        interval = DEFAULT_INTERVAL_S
    periods = {(s.get("domain"), s.get("source")): s.get("update_period_s")
               for s in run.sensors}
    slowest = max((p for d in window.top_level()
                   if isinstance(p := periods.get((d.domain, d.source)), (int, float))),
                  default=0.0)
    return max(MIN_REPEAT_S - interval, MIN_UPDATES_PER_WINDOW * slowest)


def _window_mismatch(case: CaseRecord) -> str | None:
    for n, r in enumerate(case.repeats, start=1):
        m = r.measurement
        energy, per_unit = m.energy_j, r.metrics.get("energy_per_unit_j")
        rate = r.metrics.get("throughput_per_s")
        if per_unit is None or rate is None:
            return f"repeat {n} lacks {'energy per unit' if per_unit is None else 'throughput'}"
        if energy is not None and not _close(per_unit * r.units, energy):
            return f"repeat {n}'s energy per unit is not its window's"
        if not _close(rate * m.duration_s, r.units):
            return f"repeat {n}'s throughput is not its window's"
    for metric in ("energy_per_unit_j", "throughput_per_s"):
        s = case.summary.get(metric)
        if s is None or s.n != len(case.repeats):
            held = "no" if s is None else f"{s.n} of {len(case.repeats)}"
            return f"the {metric} summary holds {held} repeats"
    return None


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=SAME_WINDOW_TOLERANCE, abs_tol=1e-12)
