"""The exchange formats of stored runs: a versioned JSON document and a flat CSV table.

The JSON document is what ``greenbench results export`` writes, ``import`` reads, ``compare``
accepts in place of a stored run, and the pytest plugin saves as a baseline. It is described
field by field in docs/results-format.md; ``records.FORMAT_VERSION`` numbers it.

Nothing here touches the database: these are pure conversions between :class:`RunRecord` and
plain data, so the store, the CLI and the plugin share one definition of the format.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from greenbench import metrics
from greenbench.errors import UserError
from greenbench.records import FORMAT_VERSION, CaseRecord, RunRecord
from greenbench.stats import Summary

FORMAT_NAME = "greenbench-run"
"""The ``format`` field of every exported document: tells it apart from any other JSON."""

CSV_COLUMNS = (
    "run_id", "created_utc", "machine", "machine_key", "case_index", "workload", "params",
    "case_status", "unit", "metric", "n", "median", "mean", "stdev", "min", "max",
    "ci_low", "ci_high", "ci_level", "ci_method", "cv", "high_cv", "method", "estimate",
)
"""One CSV row per case x metric summary, in this column order."""

MAX_DOCUMENT_BYTES = 64 * 2**20
"""Largest document read: a few hundred cases with full traces; beyond, memory runs out."""

MAX_TRACE_POINTS = 20_000
"""Most samples a trace keeps, as the meter does (``Meter(trace_limit=...)``)."""


# --------------------------------------------------------------------------- JSON


def to_document(run: RunRecord) -> dict[str, Any]:
    """The export document of one run: ``{"format", "format_version", "run"}``.

    Deterministic (no export time inside), so that export -> import -> export is identical.
    """
    return {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "run": run.to_dict()}


def from_document(doc: Any, source: str = "document") -> RunRecord:
    """The run inside an export document; a UserError naming ``source`` and the bad field
    if it is not one (greenbench.document_check). A trace longer than the meter ever keeps is
    thinned to :data:`MAX_TRACE_POINTS`, with a flag saying so."""
    from greenbench.document_check import check_run

    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise UserError(f"{source}: not a greenbench run export (no \"format\": "
                        f"\"{FORMAT_NAME}\" field); export one with `greenbench results export`")
    version = doc.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise UserError(f"{source}: bad format_version {version!r}: expected an integer >= 1")
    if version > FORMAT_VERSION:
        raise UserError(f"{source}: written by a newer greenbench (format {version} > "
                        f"{FORMAT_VERSION}): upgrade greenbench to read it")
    unknown = sorted(set(doc) - {"format", "format_version", "run"})
    if unknown:
        raise UserError(f"{source}: malformed export: unknown field {unknown[0]!r}")
    check_run(doc.get("run"), source)
    run = RunRecord.from_dict(doc["run"])
    for case in run.cases:
        _thin_trace(case)
    return run


def read_document_file(path: str | Path) -> RunRecord:
    """Load an exported run from a JSON file; every problem is a one-line UserError."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise UserError(f"{p}: {size / 2**20:.0f} MiB is more than a greenbench export "
                            f"holds (at most {MAX_DOCUMENT_BYTES // 2**20} MiB: traces are "
                            f"capped at {MAX_TRACE_POINTS} points); is it an export?")
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{p}: cannot read: {exc}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{p}: not valid JSON ({exc.msg} at line {exc.lineno}); "
                        "expected a run exported by `greenbench results export`") from None
    except RecursionError:
        raise UserError(f"{p}: nested too deeply to be a greenbench export") from None
    return from_document(doc, str(p))


def dumps_document(doc: dict[str, Any]) -> str:
    """The document as JSON text, the way export writes it (indented, newline at the end).

    Always valid JSON: a NaN or infinity that reached a record is written as null."""
    try:
        text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False)
    except ValueError:
        text = json.dumps(json_safe(doc), indent=2, ensure_ascii=False, allow_nan=False)
    return text + "\n"


def _thin_trace(case: CaseRecord) -> None:
    """Keep every k-th sample (and the last) of a trace longer than MAX_TRACE_POINTS."""
    trace = case.trace
    times = (trace or {}).get("t_s") or []
    if trace is None or len(times) <= MAX_TRACE_POINTS:
        return
    step = math.ceil(len(times) / MAX_TRACE_POINTS)
    keep = [*range(0, len(times) - 1, step), len(times) - 1]
    trace["t_s"] = [times[i] for i in keep]
    trace["power_w"] = {d: [col[i] for i in keep] for d, col in trace.get("power_w", {}).items()}
    case.flags.append(f"trace thinned on import from {len(times)} to {len(keep)} samples "
                      f"(one in {step} kept)")


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None (JSON has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


# --------------------------------------------------------------------------- CSV


def csv_rows(run: RunRecord) -> list[dict[str, Any]]:
    """One row per case x summarized metric (see :data:`CSV_COLUMNS`)."""
    rows: list[dict[str, Any]] = []
    for index, case in enumerate(run.cases):
        method = energy_method(case, run.is_estimate)
        estimate = case_is_estimate(case, run.is_estimate)
        for metric, s in case.summary.items():
            energy_like = is_energy_metric(metric)
            rows.append({
                "run_id": run.id,
                "created_utc": run.created_utc,
                "machine": run.machine.get("hostname", ""),
                "machine_key": run.machine_key,
                "case_index": index,
                "workload": case.workload,
                "params": json.dumps(case.params, sort_keys=True),
                "case_status": case.status,
                "unit": case.unit,
                "metric": metric,
                **{k: getattr(s, k) for k in ("n", "median", "mean", "stdev", "min", "max",
                                              "ci_low", "ci_high", "ci_level", "ci_method",
                                              "cv", "high_cv")},
                # Time and throughput come from the clock whatever the sensors were.
                "method": method if energy_like else "clock",
                "estimate": energy_like and estimate,
            })
    return rows


def to_csv(run: RunRecord) -> str:
    """The CSV text of :func:`csv_rows`, with a header line. Control characters in stored
    text are written as visible escapes: spreadsheets and terminals show CSV raw."""
    from greenbench.printable import printable

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: printable(v) if isinstance(v, str) else v for k, v in row.items()}
                     for row in csv_rows(run))
    return out.getvalue()


# --------------------------------------------------------------------------- shared facts


def median_interval(metric: str, summary: Summary) -> tuple[float | None, float | None]:
    """A summary's interval of the median as shown: for a quantity that cannot be negative,
    never below zero (runs stored before intervals were cut at zero hold such lows)."""
    low, high = summary.ci_low, summary.ci_high
    if low is not None and low < 0 and is_nonnegative_metric(metric):
        low = 0.0
    return low, high


def is_nonnegative_metric(metric: str) -> bool:
    """True for figures that cannot be below zero: gross energies, times, powers and rates
    (net energies and the workload's own figures can)."""
    return metrics.is_nonnegative(metric)


def is_energy_metric(metric: str) -> bool:
    """True for figures that come from the energy sensors (see greenbench.metrics)."""
    return metrics.is_energy_metric(metric)


def energy_method(case: CaseRecord, run_is_estimate: bool) -> str:
    """How a case's energy was obtained: the repeats' measurement method(s) (``counter``,
    ``power``, ``estimate``, ``mixed``, joined by ``+`` when repeats differ), else ``estimate``
    or ``measured`` after the run's sensors when the repeats do not say."""
    methods = sorted({m for r in case.repeats if (m := r.measurement.method) != "none"})
    if methods:
        return "+".join(methods)
    return "estimate" if run_is_estimate else "measured"


def case_is_estimate(case: CaseRecord, run_is_estimate: bool) -> bool:
    """True when some of the case's energy totals rest on a model, by the one rule of
    :attr:`greenbench.measurement.Measurement.is_estimate`; by the run's sensors where no
    repeat says (a repeat with no domain in its total)."""
    verdicts = [r.measurement.is_estimate for r in case.repeats if r.measurement.top_level()]
    return any(verdicts) if verdicts else run_is_estimate
