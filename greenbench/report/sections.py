"""The summary table and the methodology: what was measured, on what, and how.

The methodology answers a reviewer's questions from the stored run alone: hardware, software
versions, sensors and how each domain was read, the sampling interval, warm-up, idle handling,
repeats, how confidence intervals were computed, and what is estimated and how.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from greenbench.records import CaseRecord, RunRecord, case_names
from greenbench.report.document import Block, Bullets, Facts, Paragraph, Subheading, Table
from greenbench.report.numbers import interval, si, sig
from greenbench.results_format import case_is_estimate, energy_method
from greenbench.stats import HIGH_CV
from greenbench.units import fmt_percent, fmt_si, singular

#: after an estimated figure in the summary table; its caption says what it means
ESTIMATE_MARK = "†"

_METHOD_WORDS = {"counter": "energy counter", "power": "polled power, integrated",
                 "estimate": "ESTIMATE (power model)"}


# --------------------------------------------------------------------------- summary


def summary_blocks(runs: Sequence[RunRecord]) -> list[Block]:
    """A sentence on what the table holds, the table, and every failure or flag."""
    many = len(runs) > 1
    counts = Counter(c.status for r in runs for c in r.cases)
    told = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    blocks: list[Block] = [Paragraph(
        f"{len(runs)} run(s), {sum(counts.values())} case(s) ({told or 'none'}). Every figure "
        "is the median over repeats, per step of the workload or per unit of work, with the "
        "95% confidence interval of the median. Energy is gross (idle included) unless "
        "marked net (above the idle baseline). The table's caption says which figures are "
        "an ESTIMATE, from a power model rather than a sensor.")]
    qualities = {c.quality_metric for r in runs for c in r.cases if c.quality_metric}
    header = (["Run"] if many else []) + [
        "Case", "Status", "n", "Energy per unit", "95% CI", "Net energy per unit",
        "Time per step", "Throughput", "Mean power", _quality_header(runs, qualities), "CV",
        "Energy method"]
    rows = [(([run.label or run.id] if many else []) + case_row(
                run, i, case, name, quality_named=len(qualities) > 1))
            for run in runs
            for i, (case, name) in enumerate(zip(run.cases, case_names(run.cases),
                                                 strict=True))]
    # a quality cell that names its metric is text, and wraps; a bare value is a number
    align = ("l" if many else "") + "lll" + "r" * 6 + ("l" if len(qualities) > 1 else "r") \
        + "rl"
    # a column with one value throughout says it once, in the caption
    said = []
    for name in ("Status", "n", "Energy method"):
        column = header.index(name)
        values = {row[column] for row in rows}
        if len(rows) > 1 and len(values) == 1:
            said.append(f"{'repeats' if name == 'n' else name.lower()}: {values.pop()}")
            header.pop(column)
            align = align[:column] + align[column + 1:]
            for row in rows:
                row.pop(column)
    caption = "Results per case" + (f" ({'; '.join(said)})" if said else "") + "."
    estimated = [f"{run.label or run.id} {i}" if many else str(i) for run in runs
                 for i, c in enumerate(run.cases)
                 if c.repeats and case_is_estimate(c, run.is_estimate)]
    if estimated:
        every = len(estimated) == sum(1 for r in runs for c in r.cases if c.repeats)
        caption += (f" {ESTIMATE_MARK} ESTIMATE: energy, net energy and mean power from a "
                    "power model, not a sensor, in " + ("every case" if every else
                                                         "cases " + ", ".join(estimated))
                    + ".")
    blocks.append(Table(header, rows, caption, align))
    # the estimate flag is already in every estimated cell; notes keep the rest
    notes = [f"{run.label or run.id} case {i}: {text}" for run in runs
             for i, case in enumerate(run.cases)
             for text in ([case.error] if case.error else []) + case.flags
             if not text.startswith("estimate:")]
    if notes:
        blocks += [Paragraph("Notes on the cases:"), Bullets(notes)]
    return blocks


def case_row(run: RunRecord, index: int, case: CaseRecord, name: str | None = None, *,
             quality_named: bool = True) -> list[str]:
    """One row of the summary table (see :func:`summary_blocks` for the columns): estimated
    figures end in :data:`ESTIMATE_MARK`, which the table's caption explains once; the
    quality cell names its metric unless the column's header does (``quality_named``)."""
    s = case.summary
    estimate = case_is_estimate(case, run.is_estimate)
    mark = f" {ESTIMATE_MARK}" if estimate else ""
    epu = s.get("energy_per_unit_j")
    per = f"/{singular(case.unit)}"
    quality = "-"
    if case.quality_metric and (q := s.get(f"quality:{case.quality_metric}")):
        better = "higher" if case.quality_higher_is_better else "lower"
        quality = (f"{case.quality_metric} = {sig(q.median)} ({better} is better)"
                   if quality_named else sig(q.median))
    throughput = _median(case, "throughput_per_s")
    cv = epu.cv if epu else None
    return [
        f"{index}: {name or case.label}", case.status, str(len(case.repeats)),
        _with_unit(si(epu.median if epu else None, "J"), per) + mark,
        interval(epu, "J") if epu else "-",
        _with_unit(si(net := _median(case, "net_energy_per_unit_j"), "J"), per) + mark
        + (" (below zero: see the notes)" if net is not None and net < 0 else ""),
        si(_median(case, "time_s"), "s"),
        fmt_si(throughput, f"{case.unit}/s"),
        si(_median(case, "power_w"), "W") + mark,
        quality,
        "-" if cv is None
        else fmt_percent(cv, HIGH_CV) + (" (high)" if epu and epu.high_cv else ""),
        energy_method(case, run.is_estimate) if case.repeats else "-",
    ]


def _quality_header(runs: Sequence[RunRecord], names: set[str]) -> str:
    """``Quality: rel_error (lower is better)`` when every case is scored by one figure."""
    if len(names) != 1:
        return "Quality"
    name = next(iter(names))
    higher = next(c.quality_higher_is_better for r in runs for c in r.cases
                  if c.quality_metric == name)
    return f"Quality: {name} ({'higher' if higher else 'lower'} is better)"


# --------------------------------------------------------------------------- methodology


def methodology_blocks(run: RunRecord) -> list[Block]:
    """Hardware, software, sensors, procedure, intervals and estimates of one run."""
    title = f"Run {run.id}" + (f" ({run.label})" if run.label else "")
    return [
        Subheading(title),
        Facts([("Created (UTC)", run.created_utc), ("Status", run.status),
               *hardware_facts(run.machine), *software_facts(run.software)]),
        sensor_table(run),
        Paragraph(procedure_text(run.config)),
        Paragraph(interval_text(run)),
        Paragraph("What is estimated, and how:"),
        Bullets(estimate_items(run)),
    ]


def hardware_facts(machine: dict[str, Any]) -> list[tuple[str, str]]:
    cores = f"{machine.get('cpu_logical', '?')} logical"
    if machine.get("cpu_physical"):
        cores += f", {machine['cpu_physical']} physical"
    gpus = [_gpu_text(g) for g in machine.get("gpus") or []]
    facts = [("CPU", f"{machine.get('cpu_model', 'unknown')} ({cores})"),
             ("GPUs", "; ".join(gpus) or "none"),
             ("Memory", f"{machine['memory_gb']:g} GiB" if machine.get("memory_gb") else "-"),
             ("Operating system", str(machine.get("os") or "-")),
             ("Host", f"{machine.get('hostname', '?')} (machine key {machine.get('key', '?')})")]
    return facts


def software_facts(software: dict[str, Any]) -> list[tuple[str, str]]:
    versions = ", ".join(f"{k} {v}" for k, v in software.items()
                         if v and not isinstance(v, dict) and k != "git_commit")
    facts = [("Software", versions or "-"),
             ("Code version", str(software.get("git_commit") or "not recorded (no git)"))]
    malloc = software.get("malloc_env") or {}
    if malloc:
        facts.append(("Allocator settings", " ".join(f"{k}={v}" for k, v in malloc.items())))
    return facts


def sensor_table(run: RunRecord) -> Table:
    """One row per sensor: domain, source, method, update period, and what it says."""
    rows = []
    for s in run.sensors:
        kind = str(s.get("kind", ""))
        period = s.get("update_period_s")
        note = (s.get("details") or {}).get("summary") or ""
        rows.append([str(s.get("domain")), str(s.get("source")), _METHOD_WORDS.get(kind, kind),
                     "-" if period is None else si(float(period), "s"),
                     str(s.get("part_of") or "-"), str(note)])
    return Table(["Domain", "Source", "Method", "Update period", "Part of", "Notes"], rows,
                 "Sensors", "llllll")


def procedure_text(config: dict[str, Any]) -> str:
    """The measurement procedure in words, with the run's own settings."""
    from greenbench.protocol import STABLE_BATCHES, STABLE_SPREAD
    from greenbench.runner import CV_LIMIT

    interval_s = config.get("interval_s")
    rate = f" ({1 / interval_s:g} Hz)" if interval_s else ""
    idle_s = config.get("idle_s", 0)  # None: as long as the shortest repeat
    idle_for = ("a window as long as the shortest repeat" if idle_s is None
                else f"{idle_s:g} s")
    idle = (f"After warm-up and a settle period (1 s where a GPU is metered, whose power "
            f"readings lag), {idle_for} with the case's state loaded and no work measured "
            "the idle baseline; net energy = gross energy - idle mean power x repeat duration."
            if idle_s is None or idle_s else
            "No idle baseline was measured (--idle 0): no net energy.")
    return (
        f"Each case ran in its own worker process on device {config.get('device', '?')}. "
        f"Power was sampled every {_num(interval_s)} s{rate}; energy counters were read at "
        f"each window's edges. Warm-up: steps ran for up to {_num(config.get('warmup_s'))} s, "
        f"ending early once the last {STABLE_BATCHES} batch timings agreed within "
        f"{STABLE_SPREAD:.0%} of their median; warm-up energy is recorded but not part of any "
        f"result. {idle} "
        f"Repeats: {config.get('repeats', '?')} per case, each at least "
        f"{_num(config.get('min_duration_s'))} s (lengthened for slow sensors), with the number "
        "of steps calibrated from the warm-up; every figure is divided by the steps (or units) "
        f"of its repeat. A coefficient of variation above {CV_LIMIT:.0%} is flagged."
    )


def interval_text(run: RunRecord) -> str:
    """How the run's confidence intervals were computed, from the summaries themselves."""
    methods = Counter(s.ci_method.split(":")[0] for c in run.cases for s in c.summary.values())
    levels = {s.ci_level for c in run.cases for s in c.summary.values()}
    words = {"order-statistic": "distribution-free order-statistic interval (n >= 6)",
             "student-t": "Student's t interval around the mean (2 <= n < 6)",
             "none": "no interval (a single repeat)"}
    used = "; ".join(f"{words.get(m, m)}: {n} summaries" for m, n in methods.most_common())
    level = ", ".join(f"{x:.0%}" for x in sorted(x for x in levels if x)) or "95%"
    return (f"Confidence intervals ({level}) bound the median over repeats: "
            f"{used or 'none computed'}. See greenbench.stats.summarize for the derivation.")


def estimate_items(run: RunRecord) -> list[str]:
    """Every estimated figure of the run, with its model and inputs."""
    items = []
    for s in run.sensors:
        if s.get("kind") != "estimate":
            continue
        details = s.get("details") or {}
        info = s.get("info") or {}
        how = details.get("summary") or info.get("formula") or "a power model"
        formula = f"; {info['formula']}" if info.get("formula") and details.get("summary") else ""
        items.append(f"{s.get('domain')}: estimated by {s.get('source')}: {how}{formula}")
    if not items:
        items.append("No energy figure is estimated: every domain was read from an energy "
                     "counter or integrated from polled power.")
    estimated_cases = [str(i) for i, c in enumerate(run.cases)
                       if c.repeats and case_is_estimate(c, run.is_estimate)]
    if estimated_cases:
        items.append("Cases whose energy includes estimated domains: "
                     + ", ".join(estimated_cases))
    footprints = [run.footprint] + [c.footprint for c in run.cases]
    if any(f and (f.get("intensity") or {}).get("estimate") for f in footprints):
        items.append("Carbon intensity: an average standing in for the grid during the run "
                     "(see Carbon assumptions).")
    if any(f and f.get("embodied_g") is not None for f in footprints):
        items.append("Embodied emissions: published per-device estimates amortised over the "
                     "device's lifetime (see Carbon assumptions).")
    return items


# --------------------------------------------------------------------------- helpers


def _gpu_text(gpu: dict[str, Any]) -> str:
    parts = [str(gpu.get("name", "GPU"))]
    if gpu.get("driver_version"):
        parts.append(f"driver {gpu['driver_version']}")
    if gpu.get("power_limit_w"):
        parts.append(f"power limit {gpu['power_limit_w']:g} W")
    return ", ".join(parts)


def _median(case: CaseRecord, metric: str) -> float | None:
    s = case.summary.get(metric)
    return None if s is None else s.median


def _with_unit(text: str, per: str) -> str:
    return text if text == "-" else text + per


def _num(value: Any) -> str:
    return "?" if value is None else f"{value:g}"
