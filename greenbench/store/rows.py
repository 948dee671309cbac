"""A run and its cases as the store's rows, and back; the content hash of a run."""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import fields
from typing import Any

from greenbench.records import CaseRecord, RunRecord
from greenbench.results_format import case_is_estimate, json_safe, to_document
from greenbench.store.schema import RUN_COLUMNS

_RUN_FIELDS = tuple(f.name for f in fields(RunRecord) if f.name != "cases")


def dumps(value: Any) -> str:
    """Compact JSON; a NaN or infinity is stored as null (the runner notes it in the case's
    flags), so that every stored document stays valid JSON."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        return json.dumps(json_safe(value), separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)


def content_hash(run: RunRecord) -> str:
    """sha256 of the run's export document in canonical form (keys sorted, compact): the same
    run exported twice, or pushed and pulled back, hashes alike."""
    canonical = json.dumps(json_safe(to_document(run)), sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def run_values(run: RunRecord) -> dict[str, Any]:
    """The ``runs`` row of a run: every RunRecord field, those without a column in ``extra``."""
    plain = run.to_dict()
    extra = {name: plain[name] for name in _RUN_FIELDS if name not in RUN_COLUMNS}
    return {
        **{name: plain[name] for name in RUN_COLUMNS},
        "hostname": run.machine.get("hostname"), "machine_key": run.machine_key,
        "is_estimate": int(run.is_estimate), "extra": extra or None,
    }


def case_values(run_id: str, index: int, case: CaseRecord) -> dict[str, Any]:
    """The ``cases`` row of a case: its record without the trace, and the trace compressed."""
    record = case.to_dict()
    trace = record.pop("trace")
    return {"run_id": run_id, "idx": index, "workload": case.workload, "params": case.params,
            "status": case.status, "record": record,
            "trace": None if trace is None else zlib.compress(dumps(trace).encode(), 6)}


def run_from_row(row: Any, case_rows: list[Any]) -> RunRecord:
    """The RunRecord of a ``runs`` row and its ``cases`` rows (``record``, ``trace``). Fields
    in ``extra`` this greenbench does not know (a newer one stored them) are left out; a field
    in both (given a column since) is read from its column."""
    cases = []
    for record, blob in case_rows:
        record = dict(record)
        record["trace"] = None if blob is None else json.loads(zlib.decompress(blob))
        cases.append(CaseRecord.from_dict(record))
    values = {name: getattr(row, name) for name in RUN_COLUMNS}
    for name, value in (row.extra or {}).items():
        if name in _RUN_FIELDS and values.get(name) is None:  # a column, where it has one
            values[name] = value
    return RunRecord(**values, cases=cases)


_FIXED_COLUMNS = ("run_id", "created_utc", "machine", "machine_key", "label", "run_status",
                  "estimate", "case_index", "workload", "unit", "status")


def flat_case_row(r: dict[str, Any]) -> dict[str, Any]:
    """One row of :func:`greenbench.store.load_results`."""
    record = r["record"]
    case = CaseRecord.from_dict({**record, "trace": None})
    row: dict[str, Any] = {
        "run_id": r["run_id"], "created_utc": r["created_utc"], "machine": r["machine"],
        "machine_key": r["machine_key"], "label": r["label"], "run_status": r["run_status"],
        "estimate": case_is_estimate(case, r["run_estimate"]),
        "case_index": r["case_index"], "workload": r["workload"], "unit": case.unit,
    }
    for name, value in r["params"].items():
        row[f"param_{name}" if name in _FIXED_COLUMNS else name] = value
    row["status"] = r["status"]
    for metric in sorted({m for rep in case.repeats for m in rep.metrics} | set(case.summary)):
        summary = case.summary.get(metric)
        if summary is not None:
            row[metric] = summary.median
        else:
            values = sorted(case.values(metric))
            row[metric] = _median(values) if values else None
    return row


def _median(ordered: list[float]) -> float:
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
