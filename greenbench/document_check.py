"""A run document checked field by field before anything reads or stores it.

An exported run may come from anywhere: a colleague, a CI artifact, an editor. Everything
``show``, ``export --format csv``, ``compare``, ``report`` and ``plot`` read from a run is
checked here first (types, finite numbers, safe ids, known statuses, energies that are not
negative), so that a bad file fails its import with the path of the bad field, in one line,
instead of being stored and failing every later command. The fields are those of
docs/results-format.md; free-form objects (machine, software, config, sensor details,
footprints) are checked for JSON types and nesting depth only where nothing reads them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import MISSING, fields
from datetime import datetime
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from greenbench.errors import UserError
from greenbench.measurement import DomainEnergy
from greenbench.metrics import is_nonnegative as is_nonnegative_metric
from greenbench.records import CaseRecord, Repeat, RunRecord

RUN_STATUSES = ("running", "complete", "interrupted", "failed", "died")
CASE_STATUSES = ("ok", "failed", "skipped", "interrupted")
MAX_DEPTH = 12
"""Deepest nesting of a free-form object: runs need 4 or 5; deeper is no greenbench export."""

#: a run id names files (plots, traces) and is typed on command lines
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}")
_SUMMARY_NUMBERS = ("median", "mean", "min", "max")
_SUMMARY_OPTIONAL = ("stdev", "ci_low", "ci_high", "cv")


class _Bad(Exception):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")


def check_run(run: Any, source: str) -> None:
    """Raise a one-line UserError naming ``source`` and the field path of the first problem."""
    try:
        _run(run)
    except _Bad as exc:
        raise UserError(f"{source}: malformed run: {exc}") from None


# --------------------------------------------------------------------------- the run


def _run(run: Any) -> None:
    obj = _object(run, "run", RunRecord)
    run_id = _string(obj["id"], "run.id")
    if not _SAFE_ID.fullmatch(run_id):
        raise _Bad("run.id", f"{run_id[:40]!r} is not a run id (letters, digits and . _ : + - "
                   "only, up to 128 characters)")
    created = _string(obj["created_utc"], "run.created_utc")
    try:
        datetime.fromisoformat(created)
    except ValueError:
        raise _Bad("run.created_utc", f"{created[:40]!r} is not an ISO 8601 time") from None
    _choice(obj["status"], "run.status", RUN_STATUSES)
    _optional(obj.get("label"), "run.label", _string)
    _machine(_object(obj["machine"], "run.machine"))
    software = _object(obj["software"], "run.software")
    _optional(software.get("git_commit"), "run.software.git_commit", _string)
    _optional(software.get("malloc_env"), "run.software.malloc_env", _object)
    _free(software, "run.software")
    _config(_object(obj["config"], "run.config"))
    for i, sensor in enumerate(_list(obj["sensors"], "run.sensors")):
        _sensor(_object(sensor, f"run.sensors[{i}]"), f"run.sensors[{i}]")
    _optional(obj.get("footprint"), "run.footprint", _footprint)
    _optional(obj.get("job"), "run.job", _job)
    for i, case in enumerate(_list(obj.get("cases", []), "run.cases")):
        _case(case, f"run.cases[{i}]")


def _machine(m: Mapping[str, Any]) -> None:
    for key in ("hostname", "key", "cpu_model", "os", "machine"):
        _optional(m.get(key), f"run.machine.{key}", _string)
    for key in ("cpu_logical", "cpu_physical"):
        _optional(m.get(key), f"run.machine.{key}", _count)
    _optional(m.get("memory_gb"), "run.machine.memory_gb", _nonnegative)
    for i, gpu in enumerate(_list(m.get("gpus", []), "run.machine.gpus")):
        path = f"run.machine.gpus[{i}]"
        g = _object(gpu, path)
        for key in ("name", "driver_version", "domain", "uuid"):
            _optional(g.get(key), f"{path}.{key}", _string)
        _optional(g.get("power_limit_w"), f"{path}.power_limit_w", _nonnegative)
    _free(m, "run.machine")


def _config(c: Mapping[str, Any]) -> None:
    """The settings the report's methodology section reads back."""
    _optional(c.get("device"), "run.config.device", _string)
    for key in ("repeats", "processes"):
        _optional(c.get(key), f"run.config.{key}", _count)
    for key in ("min_duration_s", "warmup_s", "idle_s", "interval_s", "timeout_s",
                "cpu_tdp_w"):
        _optional(c.get(key), f"run.config.{key}", _nonnegative)
    for i, f in enumerate(_list(c.get("workload_files", []), "run.config.workload_files")):
        _string(f, f"run.config.workload_files[{i}]")
    _optional(c.get("carbon"), "run.config.carbon", _object)
    _free(c, "run.config")


def _sensor(s: Mapping[str, Any], path: str) -> None:
    for key in ("domain", "source", "kind", "part_of", "reason", "remedy"):
        _optional(s.get(key), f"{path}.{key}", _string)
    _optional(s.get("available"), f"{path}.available", _boolean)
    _optional(s.get("update_period_s"), f"{path}.update_period_s", _nonnegative)
    for key, text in (("details", "summary"), ("info", "formula")):
        inner = s.get(key)
        if inner is not None:
            _optional(_object(inner, f"{path}.{key}").get(text), f"{path}.{key}.{text}",
                      _string)
    _free(s, path)


def _case(case: Any, path: str) -> None:
    c = _object(case, path, CaseRecord)
    if not _string(c["workload"], f"{path}.workload"):
        raise _Bad(f"{path}.workload", "is empty")
    params = _object(c["params"], f"{path}.params")
    for name, value in params.items():
        _param(value, f"{path}.params.{name}")
    _choice(c["status"], f"{path}.status", CASE_STATUSES)
    if "unit" in c:  # absent reads as steps; null would reach the tables as no unit at all
        _string(c["unit"], f"{path}.unit")
    _optional(c.get("units_per_step"), f"{path}.units_per_step", _nonnegative)
    for key in ("variants", "flags"):
        for i, item in enumerate(_list(c.get(key, []), f"{path}.{key}")):
            _string(item, f"{path}.{key}[{i}]")
    for key in ("error", "error_detail", "quality_metric"):
        _optional(c.get(key), f"{path}.{key}", _string)
    _optional(c.get("quality_higher_is_better"), f"{path}.quality_higher_is_better", _boolean)
    for i, repeat in enumerate(_list(c.get("repeats", []), f"{path}.repeats")):
        _repeat(repeat, f"{path}.repeats[{i}]")
    _optional(c.get("idle"), f"{path}.idle", _measurement)
    _optional(c.get("warmup"), f"{path}.warmup", _warmup)
    for metric, summary in _object(c.get("summary", {}), f"{path}.summary").items():
        _summary(summary, f"{path}.summary.{metric}", is_nonnegative_metric(metric))
    _optional(c.get("trace"), f"{path}.trace", _trace)
    _optional(c.get("footprint"), f"{path}.footprint", _footprint)


def _repeat(repeat: Any, path: str) -> None:
    r = _object(repeat, path, Repeat)
    _count(r["steps"], f"{path}.steps")
    _count(r.get("process", 0), f"{path}.process")
    _nonnegative(r["units"], f"{path}.units")
    _measurement(r["measurement"], f"{path}.measurement")
    for metric, value in _object(r["metrics"], f"{path}.metrics").items():
        check = _nonnegative if is_nonnegative_metric(metric) else _number
        _optional(value, f"{path}.metrics.{metric}", check)
    quality = r.get("quality")
    if quality is not None:
        for name, value in _object(quality, f"{path}.quality").items():
            _optional(value, f"{path}.quality.{name}", _number)


def _warmup(warmup: Any, path: str) -> None:
    """A warm-up: its window's fields (where it was metered) beside its calibration's."""
    w = _object(warmup, path)
    for key in ("step_s", "call_s", "settle_s", "min_repeat_s", "min_round_s"):
        _optional(w.get(key), f"{path}.{key}", _nonnegative)
    for key in ("steps_per_repeat", "iterations", "rounds"):
        _optional(w.get(key), f"{path}.{key}", _count)
    _measurement(w, path)


def _measurement(measurement: Any, path: str) -> None:
    m = _object(measurement, path)
    for key in ("name", "method"):
        _optional(m.get(key), f"{path}.{key}", _string)
    for key in ("start_wall_s", "start_s", "end_s"):
        _optional(m.get(key), f"{path}.{key}", _number)
    for key in ("duration_s", "energy_j", "mean_power_w"):
        _optional(m.get(key), f"{path}.{key}", _nonnegative)
    _optional(m.get("estimate"), f"{path}.estimate", _boolean)
    for i, w in enumerate(_list(m.get("warnings", []), f"{path}.warnings")):
        _string(w, f"{path}.warnings[{i}]")
    for i, domain in enumerate(_list(m.get("domains", []), f"{path}.domains")):
        dpath = f"{path}.domains[{i}]"
        d = _object(domain, dpath)
        for key in ("domain", "method", "source"):
            _string(d.get(key), f"{dpath}.{key}")
        _declared(d, DomainEnergy, dpath)
        for key in ("energy_j", "mean_power_w", "peak_power_w"):
            _optional(d.get(key), f"{dpath}.{key}", _nonnegative)
        _optional(d.get("constant"), f"{dpath}.constant", _boolean)
        _free(d, dpath)
    _free(m, path)


def _summary(summary: Any, path: str, nonnegative: bool) -> None:
    s = _object(summary, path)
    if _count(s.get("n"), f"{path}.n") < 1:
        raise _Bad(f"{path}.n", "must be at least 1")
    for key in _SUMMARY_NUMBERS:
        (_nonnegative if nonnegative else _number)(s.get(key), f"{path}.{key}")
    for key in _SUMMARY_OPTIONAL:
        _optional(s.get(key), f"{path}.{key}", _number)
    # every summary has them (greenbench.stats.Summary), and show reads them
    _number(s.get("ci_level"), f"{path}.ci_level")
    _string(s.get("ci_method"), f"{path}.ci_method")
    _boolean(s.get("high_cv"), f"{path}.high_cv")


def _trace(trace: Any, path: str) -> None:
    t = _object(trace, path)
    times = _list(t.get("t_s", []), f"{path}.t_s")
    for i, x in enumerate(times):
        _number(x, f"{path}.t_s[{i}]")
    for domain, column in _object(t.get("power_w", {}), f"{path}.power_w").items():
        values = _list(column, f"{path}.power_w.{domain}")
        if len(values) != len(times):
            raise _Bad(f"{path}.power_w.{domain}", f"{len(values)} values for {len(times)} "
                       "times")
        for i, x in enumerate(values):
            _optional(x, f"{path}.power_w.{domain}[{i}]", _nonnegative)
    for i, phase in enumerate(_list(t.get("phases", []), f"{path}.phases")):
        p = _object(phase, f"{path}.phases[{i}]")
        _optional(p.get("name"), f"{path}.phases[{i}].name", _string)
        for key in ("start_s", "end_s"):
            _optional(p.get(key), f"{path}.phases[{i}].{key}", _number)


def _footprint(footprint: Any, path: str) -> None:
    """A footprint as greenbench.carbon writes it: every field of the carbon dataclasses of
    the type it declares (what ``results show`` and the report format), then read back by
    ``Footprint.from_dict``."""
    from greenbench.carbon.embodied import EmbodiedPart
    from greenbench.carbon.footprint import Footprint
    from greenbench.carbon.intensity import Attempt, Intensity

    f = _object(footprint, path)
    _declared(f, Footprint, path, nested={"intensity", "embodied", "chain"})
    for key in ("energy_kwh", "operational_g", "total_g", "duration_s", "pue"):
        _nonnegative(f.get(key), f"{path}.{key}")
    for key in ("embodied_g", "sci_g_per_unit", "units"):
        _optional(f.get(key), f"{path}.{key}", _nonnegative)
    _declared(_object(f.get("intensity"), f"{path}.intensity"), Intensity, f"{path}.intensity")
    for i, attempt in enumerate(_list(f.get("intensity_chain", []), f"{path}.intensity_chain")):
        _declared(_object(attempt, f"{path}.intensity_chain[{i}]"), Attempt,
                  f"{path}.intensity_chain[{i}]")
    embodied = f.get("embodied")
    if embodied is not None:
        e = _object(embodied, f"{path}.embodied")
        _optional(e.get("g"), f"{path}.embodied.g", _nonnegative)
        for i, part in enumerate(_list(e.get("parts", []), f"{path}.embodied.parts")):
            _declared(_object(part, f"{path}.embodied.parts[{i}]"), EmbodiedPart,
                      f"{path}.embodied.parts[{i}]")
        for i, name in enumerate(_list(e.get("missing", []), f"{path}.embodied.missing")):
            _string(name, f"{path}.embodied.missing[{i}]")
    _free(f, path)
    try:
        Footprint.from_dict(dict(f)).summary()
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _Bad(path, f"not a footprint greenbench can read ({type(exc).__name__}: "
                   f"{exc})") from None


def _job(job: Any, path: str) -> None:
    """A multi-host run's job as greenbench.distributed.record writes it: each host's and
    domain's declared types, energies that are not negative, then read back."""
    from greenbench.distributed.record import DERIVED, HostDomain, JobHost, JobRecord

    def known(value: Mapping[str, Any], cls: type, derived: str, where: str) -> None:
        unknown = sorted(set(value) - {f.name for f in fields(cls)} - set(DERIVED[derived]))
        if unknown:
            raise _Bad(where, f"unknown field {unknown[0]!r} (a newer format?)")

    j = _object(job, path)
    known(j, JobRecord, "job", path)
    _declared(j, JobRecord, path, nested={"hosts", "election"})
    for i, host in enumerate(_list(j.get("hosts", []), f"{path}.hosts")):
        hpath = f"{path}.hosts[{i}]"
        h = _object(host, hpath)
        known(h, JobHost, "host", hpath)
        _declared(h, JobHost, hpath, nested={"domains"})
        for k, domain in enumerate(_list(h.get("domains", []), f"{hpath}.domains")):
            d = _object(domain, f"{hpath}.domains[{k}]")
            known(d, HostDomain, "domain", f"{hpath}.domains[{k}]")
            _declared(d, HostDomain, f"{hpath}.domains[{k}]")
            _optional(d.get("energy_j"), f"{hpath}.domains[{k}].energy_j", _nonnegative)
    try:
        JobRecord.from_dict(j)
    except (KeyError, TypeError, ValueError) as exc:
        raise _Bad(path, f"not a job greenbench can read ({type(exc).__name__}: "
                   f"{exc})") from None


def _declared(value: Mapping[str, Any], cls: type, path: str,
              nested: Collection[str] = ()) -> None:
    """Each field of dataclass ``cls`` present in ``value`` has the type ``cls`` declares
    (str, int, float, bool, None and unions, tuples and lists of those); ``nested`` fields
    are checked by the caller."""
    hints = get_type_hints(cls)
    for f in fields(cls):
        if f.name in value and f.name not in nested:
            _typed(value[f.name], hints[f.name], f"{path}.{f.name}")


def _typed(value: Any, tp: Any, path: str) -> None:
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, UnionType):
        if value is None and type(None) in args:
            return
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            _typed(value, options[0], path)
            return
        for option in options:
            try:
                _typed(value, option, path)
                return
            except _Bad:
                continue
        raise _Bad(path, f"must be one of {', '.join(map(str, options))}, not {_kind(value)}")
    if origin in (tuple, list):
        for i, item in enumerate(_list(value, path)):
            _typed(item, args[0], f"{path}[{i}]")
        return
    check = {float: _number, int: _count, str: _string, bool: _boolean}.get(tp)
    if check is not None:
        check(value, path)


# --------------------------------------------------------------------------- leaves


def _object(value: Any, path: str, record: type | None = None) -> Mapping[str, Any]:
    """An object; with ``record`` (a records dataclass), one with that class's fields: every
    field without a default, and no other."""
    if not isinstance(value, dict):
        raise _Bad(path, f"must be an object, not {_kind(value)}")
    for key in value:
        if not isinstance(key, str):
            raise _Bad(path, "has a key that is not a string")
    if record is not None:
        declared = fields(record)
        unknown = sorted(set(value) - {f.name for f in declared})
        if unknown:
            raise _Bad(path, f"unknown field {unknown[0]!r} (a newer format?)")
        missing = [f.name for f in declared if f.name not in value
                   and f.default is MISSING and f.default_factory is MISSING]
        if missing:
            raise _Bad(path, f"missing {', '.join(missing)}")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise _Bad(path, f"must be a list, not {_kind(value)}")
    return value


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _Bad(path, f"must be a string, not {_kind(value)}")
    return value


def _boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _Bad(path, f"must be true or false, not {_kind(value)}")
    return value


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Bad(path, f"must be a number, not {_kind(value)}")
    if not math.isfinite(value):
        raise _Bad(path, f"must be a finite number, not {value}")
    return float(value)


def _nonnegative(value: Any, path: str) -> float:
    x = _number(value, path)
    if x < 0:
        raise _Bad(path, f"{value} is negative; it cannot be")
    return x


def _count(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Bad(path, f"must be a whole number >= 0, not {_shown(value)}")
    return value


def _choice(value: Any, path: str, allowed: tuple[str, ...]) -> str:
    if _string(value, path) not in allowed:
        raise _Bad(path, f"{value[:40]!r} is not one of {', '.join(allowed)}")
    return value


def _param(value: Any, path: str) -> None:
    """A parameter value: a string, a finite number, true/false, null, or a list of those."""
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            _number(item, path)
        elif not (item is None or isinstance(item, (str, bool))):
            raise _Bad(path, f"must be a string, number, true/false or null, not "
                       f"{_kind(item)}")


def _optional(value: Any, path: str, check: Callable[[Any, str], Any]) -> None:
    if value is not None:
        check(value, path)


def _free(value: Mapping[str, Any], path: str) -> None:
    """A free-form object: JSON values, finite numbers, no deeper than MAX_DEPTH."""
    stack: list[tuple[Any, str, int]] = [(value, path, 1)]
    while stack:
        item, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _Bad(path, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            stack += [(v, f"{where}.{k}", depth + 1) for k, v in item.items()]
        elif isinstance(item, list):
            stack += [(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(item)]
        elif isinstance(item, float) and not math.isfinite(item):
            raise _Bad(where, f"must be a finite number, not {item}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "true/false", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    return repr(value)[:40] if isinstance(value, (int, float, str)) else _kind(value)
