"""Tidy rows out of stored runs: which cases a figure draws, their medians and intervals, how
to label them, and in which unit. No matplotlib here, so the figures' logic is tested without
drawing.

A case is described by its *facets*: its parameters, plus ``workload`` and ``run`` when a
figure mixes workloads or runs. In figures a parameter is *swept* when it takes more than one
value among the drawn cases of one workload (:func:`swept_by_workload`, as
:func:`greenbench.workload.swept` finds per workload for the results table); only those
appear in labels, so a bar reads ``seq_len=1024`` rather than the case's full parameter list,
and a case never names a parameter its workload lacks (:class:`Names`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from greenbench import metrics
from greenbench.errors import UserError
from greenbench.records import CaseRecord, RunRecord
from greenbench.results_format import case_is_estimate
from greenbench.units import singular

#: names a user may give for --metric (those of `greenbench compare`, from greenbench.metrics)
METRIC_ALIASES = {m.name: m.key for m in metrics.METRICS}

RUN, WORKLOAD = "run", "workload"

# SI prefixes by power of ten, for units where a prefix reads naturally
_PREFIXES = {-9: "n", -6: "µ", -3: "m", 0: "", 3: "k", 6: "M", 9: "G"}
_PREFIXABLE = {"J": (-9, 9), "W": (-3, 6), "s": (-9, 0), "gCO2e": (-6, 6), "Wh": (-3, 9)}

# A trailing unit in a workload's own metric name: "latency_ms", "accuracy_pct"
_SUFFIX_UNITS = {"_j": "J", "_s": "s", "_ms": "ms", "_w": "W", "_pct": "%", "_percent": "%",
                 "_kwh": "kWh", "_wh": "Wh", "_g": "g", "_mb": "MB", "_gb": "GB",
                 "_tokens": "tokens", "_per_s": "1/s"}
# Parameters whose value is a count of something known; the rest are plain counts
_PARAM_UNITS = {"seq_len": "tokens", "seq_length": "tokens", "context": "tokens",
                "context_len": "tokens", "max_new_tokens": "tokens", "new_tokens": "tokens",
                "tokens": "tokens", "batch": "samples", "batch_size": "samples"}


@dataclass(frozen=True)
class Stat:
    """A median over repeats and its confidence interval (None when n < 2), in base units."""

    median: float
    low: float | None
    high: float | None
    n: int

    @property
    def has_ci(self) -> bool:
        return self.low is not None and self.high is not None

    def err(self) -> tuple[float, float]:
        """Distances from the median down to the interval's low end and up to its high end."""
        if self.low is None or self.high is None:
            return 0.0, 0.0
        # A Student-t interval is centred on the mean, but always contains the median
        # (greenbench.stats); max() only guards against rounding.
        return max(self.median - self.low, 0.0), max(self.high - self.median, 0.0)


@dataclass(frozen=True, eq=False)
class CaseRef:
    """One case of one run."""

    run: RunRecord
    index: int

    @property
    def case(self) -> CaseRecord:
        return self.run.cases[self.index]

    @property
    def estimate(self) -> bool:
        """True when some of the case's energy figures come from a power model."""
        return case_is_estimate(self.case, self.run.is_estimate)

    @property
    def run_name(self) -> str:
        return self.run.label or self.run.id

    def facets(self) -> dict[str, Any]:
        return {RUN: self.run_name, WORKLOAD: self.case.workload, **self.case.params}

    def stat(self, metric: str) -> Stat | None:
        """The case's summary of ``metric``, or None when it has no value."""
        from greenbench.results_format import median_interval

        s = self.case.summary.get(metric)
        if s is not None:
            low, high = median_interval(metric, s)
            return Stat(float(s.median), _opt(low), _opt(high), s.n)
        values = self.case.values(metric)
        if not values:
            return None
        return Stat(float(statistics.median(values)), None, None, len(values))


# --------------------------------------------------------------------------- choosing cases


def select_cases(runs: Sequence[RunRecord], selector: str | None = None) -> list[CaseRef]:
    """The finished (``ok``) cases of ``runs``, optionally narrowed by ``selector``.

    ``selector`` is a case index (``3``: the fourth case of each run), ``NAME=VALUE[,...]``
    (cases whose parameters match), or a workload name. UserError when nothing is left.
    """
    refs = [CaseRef(run, i) for run in runs for i in range(len(run.cases))]
    if selector is not None and selector.strip():
        refs = _narrow(refs, selector.strip(), runs)
    ok = [r for r in refs if r.case.status == "ok"]
    if not ok:
        names = ", ".join(r.id for r in runs)
        if refs:
            why = "; ".join(f"case {r.index} {r.case.status}" + (f": {r.case.error}"
                                                                 if r.case.error else "")
                            for r in refs[:3])
            raise UserError(f"no finished case to plot in {names} ({why})")
        raise UserError(f"run {names} has no cases: nothing to plot")
    return ok


def _narrow(refs: list[CaseRef], selector: str, runs: Sequence[RunRecord]) -> list[CaseRef]:
    if selector.isdigit():
        index = int(selector)
        chosen = [r for r in refs if r.index == index]
        if len(chosen) < len(runs):
            short = [run for run in runs if index >= len(run.cases)]
            raise UserError(f"--case {index}: run {short[0].id} has only {len(short[0].cases)} "
                            f"case(s), numbered from 0")
        return chosen
    if "=" in selector:
        wanted = _parse_filter(selector)
        known = {k for r in refs for k in r.facets()}
        unknown = [k for k in wanted if k not in known]
        if unknown:
            raise UserError(f"--case {selector}: no case has a parameter {unknown[0]!r}; "
                            f"parameters: {', '.join(sorted(known - {RUN}))}")
        chosen = [r for r in refs
                  if all(_same(r.facets().get(k), v) for k, v in wanted.items())]
    else:
        chosen = [r for r in refs if r.case.workload == selector]
    if not chosen:
        listing = "; ".join(f"{r.index}: {r.case.label}" for r in refs[:6])
        raise UserError(f"--case {selector} matches no case (cases: {listing})")
    return chosen


def _parse_filter(text: str) -> dict[str, str]:
    wanted: dict[str, str] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise UserError(f"--case {text}: use INDEX, WORKLOAD or NAME=VALUE[,NAME=VALUE]")
        wanted[name.strip()] = value.strip()
    return wanted


def _same(actual: Any, text: str) -> bool:
    if isinstance(actual, float) and not isinstance(actual, bool):
        try:
            return math.isclose(actual, float(text))
        except ValueError:
            return False
    return str(actual).lower() == text.lower()


# --------------------------------------------------------------------------- facets


def swept(refs: Sequence[CaseRef]) -> dict[str, list[Any]]:
    """Facets with more than one value across ``refs``, each with its distinct values (sorted
    when numeric); variants first, then the rest in parameter order. A parameter only some
    cases have counts as varying here (its value None in the others): the LaTeX table names
    cases this way. Figures use :func:`swept_by_workload`."""
    order: list[str] = []
    for r in refs:
        order += [k for k in (*r.case.variants, *r.facets()) if k not in order]
    out: dict[str, list[Any]] = {}
    for key in order:
        values = distinct(r.facets().get(key) for r in refs)
        if len(values) > 1:
            out[key] = values
    return out


def swept_by_workload(refs: Sequence[CaseRef]) -> dict[str, list[Any]]:
    """Facets that vary, each with its distinct values (sorted when numeric): ``run`` and
    ``workload`` when the cases come from several, and each parameter that takes more than
    one value among the cases of one workload (its values from every case that has it), as
    :func:`greenbench.workload.swept` finds per workload for the results table. A parameter
    that only one workload has, or that differs only between workloads, is not swept.
    Variants first, then the rest in parameter order."""
    by_workload = varying(refs)
    order = list(dict.fromkeys(k for r in refs for k in (*r.case.variants, *r.facets())))
    out: dict[str, list[Any]] = {}
    for key in order:
        if key in (RUN, WORKLOAD):
            values = distinct(r.facets()[key] for r in refs)
            if len(values) > 1:
                out[key] = values
        elif any(key in keys for keys in by_workload.values()):
            out[key] = distinct(r.case.params[key] for r in refs if key in r.case.params)
    return out


def varying(refs: Sequence[CaseRef]) -> dict[str, list[str]]:
    """workload -> its parameters that take more than one value among its cases in ``refs``,
    variants first, then in parameter order. A parameter some cases lack is compared only
    among the cases that have it."""
    out: dict[str, list[str]] = {}
    for workload in dict.fromkeys(r.case.workload for r in refs):
        members = [r for r in refs if r.case.workload == workload]
        order = list(dict.fromkeys(k for r in members for k in (*r.case.variants,
                                                                    *r.case.params)))
        out[workload] = [k for k in order
                         if len(distinct(r.case.params[k] for r in members
                                         if k in r.case.params)) > 1]
    return out


class Names:
    """How the drawn cases are told apart: by run when they come from several runs, by
    workload when from several workloads, and by the parameters that vary among the cases of
    their own workload (never by a parameter the case lacks, nor one that is None).

    With one workload a row can be labelled by values alone under a title naming the keys
    (``256`` under ``seq_len (tokens)``); with several, parameters are named (``attention,
    seq_len=512``) because each workload has its own.
    """

    def __init__(self, refs: Sequence[CaseRef]) -> None:
        self.varying = varying(refs)
        self.mixed = len(self.varying) > 1
        self.multi_run = len({r.run_name for r in refs}) > 1

    def params(self, ref: CaseRef) -> list[str]:
        """The parameters that vary among the cases of ``ref``'s workload, that it has."""
        return [k for k in self.varying.get(ref.case.workload, [])
                if ref.case.params.get(k) is not None]

    def variants(self, ref: CaseRef) -> list[str]:
        return [k for k in self.params(ref) if k in ref.case.variants]

    def settings(self, ref: CaseRef) -> list[str]:
        """The varying parameters that are not variants (a sweep's x, sizes, ...)."""
        return [k for k in self.params(ref) if k not in ref.case.variants]

    def prefix(self) -> list[str]:
        """``run`` and ``workload`` where the cases differ by them."""
        return ([RUN] if self.multi_run else []) + ([WORKLOAD] if self.mixed else [])

    def keys(self, ref: CaseRef) -> list[str]:
        """Everything that tells ``ref`` apart from the other cases."""
        return self.prefix() + self.params(ref)

    def label(self, ref: CaseRef, keys: Sequence[str] | None = None) -> str:
        """``softmax, 256`` with one workload; ``attention, seq_len=512`` with several."""
        return describe(ref, self.keys(ref) if keys is None else keys,
                        values_only=not self.mixed)

    def title(self, refs: Sequence[CaseRef], used: Sequence[str] | None = None) -> str:
        """The axis title over :meth:`label` labels (``used``: the keys they show, by default
        all): ``mechanism, seq_len`` or ``seq_len (tokens)`` with one workload, ``workload``
        (or ``run, workload``) with several, whose labels name their own parameters."""
        if used is None:
            used = list(dict.fromkeys(k for r in refs for k in self.keys(r)))
        if self.mixed:
            return ", ".join(k for k in used if k in (RUN, WORKLOAD))
        return keys_label(refs, used)


def key_of(ref: CaseRef, keys: Sequence[str]) -> tuple[tuple[str, Any], ...]:
    """A hashable (name, value) key of the facets ``keys`` of a case."""
    facets = ref.facets()
    return tuple((k, facets.get(k)) for k in keys)


def case_name(run: RunRecord, index: int) -> str:
    """``attention[mechanism=softmax, seq_len=512]``: a case of a run named by its workload and
    the parameters that vary between that workload's cases in the run (as the results table
    names it); the workload alone when it has one case."""
    from greenbench.workload import swept as swept_params

    case = run.cases[index]
    same = [c.params for c in run.cases if c.workload == case.workload]
    keys = swept_params(same)
    shown = ", ".join(f"{k}={v}" for k, v in case.params.items() if k in keys)
    return case.workload + (f"[{shown}]" if shown else "")


def units_note(refs: Sequence[CaseRef], metric: str) -> str | None:
    """A note when a per-unit metric mixes units of work: ``units differ by workload: per
    token (attention, transformer); per row (sparse-matmul)``; None when the cases share a
    unit or the metric is not per unit."""
    if "per_unit" not in metric and metric != "throughput_per_s":
        return None
    by_unit: dict[str, list[str]] = {}
    for r in refs:
        names = by_unit.setdefault(singular(r.case.unit), [])
        if r.case.workload not in names:
            names.append(r.case.workload)
    if len(by_unit) < 2:
        return None
    return "units differ by workload: " + "; ".join(
        f"per {unit} ({', '.join(names)})" for unit, names in by_unit.items())


def variant_names(refs: Sequence[CaseRef]) -> list[str]:
    """The names of the variant parameters of the drawn cases, in their declared order."""
    names: list[str] = []
    for r in refs:
        names += [v for v in r.case.variants if v not in names]
    return names


def distinct(values: Iterable[Any]) -> list[Any]:
    """Distinct values, sorted when all are numbers, else in order of first appearance."""
    seen: list[Any] = []
    for v in values:
        if v not in seen:
            seen.append(v)
    if seen and all(is_number(v) for v in seen):
        return sorted(seen)
    return seen


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def describe(ref: CaseRef, keys: Sequence[str], *, values_only: bool = False) -> str:
    """``mechanism=softmax, seq_len=1024`` (or ``softmax, 1024`` with ``values_only``): the
    facets ``keys`` of a case, the workload by value alone, and the run too when it is all
    there is (``before``) or the values are bare; beside named parameters it is ``run
    before``, so that a run label such as ``sparse`` is not read as a parameter's value.
    The workload when no keys. Keys the case does not have (another workload's
    parameters) are left out."""
    facets = ref.facets()
    shown = [k for k in keys if facets.get(k) is not None]  # never "k=None": it lacks k
    named = not values_only and any(k not in (RUN, WORKLOAD) for k in shown)
    parts = [f"run {facets[k]}" if k == RUN and named
             else str(facets[k]) if values_only or k in (RUN, WORKLOAD) else f"{k}={facets[k]}"
             for k in shown]
    return ", ".join(parts) or ref.case.workload


def keys_label(refs: Sequence[CaseRef], keys: Sequence[str]) -> str:
    """The axis label over value-only tick labels: ``mechanism, seq_len``, or with its unit
    when one numeric parameter makes the rows: ``seq_len (tokens)``."""
    if len(keys) == 1 and keys[0] not in (RUN, WORKLOAD):
        values = distinct(v for r in refs if (v := r.facets().get(keys[0])) is not None)
        if values and all(is_number(v) for v in values):
            return param_label(keys[0], values)
    return ", ".join(keys)


# --------------------------------------------------------------------------- metrics, units


def resolve_metric(name: str, refs: Sequence[CaseRef]) -> str:
    """A result key from a --metric name (an alias or a key); UserError naming what exists."""
    key = METRIC_ALIASES.get(name, name)
    if any(r.stat(key) is not None for r in refs):
        return key
    present = sorted({m for r in refs for m in r.case.summary})
    aliases = ", ".join(METRIC_ALIASES)
    raise UserError(f"--metric {name}: no case has it; use one of {aliases} or a result key "
                    f"({', '.join(present) or 'none recorded'})")


def quantity(metric: str, unit_name: str = "unit") -> tuple[str, str]:
    """(what a metric is, its base unit): ``("Energy per token", "J")``."""
    declared = metrics.label(metric, unit_name)
    if declared is not None:
        return declared
    kind, _, rest = metric.partition(":")
    name = rest if kind in ("quality", "metric") and rest else metric
    return name_and_unit(name)


def name_and_unit(name: str) -> tuple[str, str]:
    """A workload's own figure: ``latency_ms`` is (latency, ms); ``loss`` is dimensionless."""
    for suffix, unit in sorted(_SUFFIX_UNITS.items(), key=lambda kv: -len(kv[0])):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], unit
    return name, "dimensionless"


def axis_label(what: str, unit: str) -> str:
    return f"{what} ({unit})"


def param_label(name: str, values: Sequence[Any]) -> str:
    """An axis label for a swept parameter, with its unit (a count when nothing else fits)."""
    what, unit = name_and_unit(name)
    if unit == "dimensionless":
        if name in _PARAM_UNITS:
            unit = _PARAM_UNITS[name]
        elif all(isinstance(v, int) for v in values):
            unit = "count"
    return axis_label(what, unit)


def common_unit(refs: Sequence[CaseRef]) -> str:
    """The cases' functional unit when they share one, else the generic ``unit``."""
    units = {r.case.unit for r in refs}
    return units.pop() if len(units) == 1 else "unit"


def si_scale(values: Iterable[float | None], unit: str) -> tuple[float, str]:
    """(factor, unit) so that ``value * factor`` in that unit reads 1-999 for the largest value:
    ``([2e-5], "J")`` gives ``(1e6, "µJ")``. Units without natural prefixes get a power of ten
    (``10^6 tokens/s``)."""
    finite = [abs(v) for v in values if v is not None and math.isfinite(v) and v != 0]
    if not finite:
        return 1.0, unit
    exponent = 3 * math.floor(math.log10(max(finite)) / 3)
    if unit in _PREFIXABLE:
        low, high = _PREFIXABLE[unit]
        exponent = min(max(exponent, low), high)
        return 10.0 ** -exponent, _PREFIXES[exponent] + unit
    if exponent == 0 or unit == "dimensionless":
        return 1.0, unit
    return 10.0 ** -exponent, f"$10^{{{exponent}}}$ {unit}"


# --------------------------------------------------------------------------- domains


@dataclass(frozen=True)
class DomainFact:
    """How one domain was measured: ``counter``, ``power`` or ``estimate``, from ``source``."""

    domain: str
    method: str
    source: str
    part_of: str | None
    #: why the domain is recorded but not in the total (a constant model, a GPU the case
    #: does not run on); None when it is in the total
    not_counted: str | None = None

    @property
    def estimate(self) -> bool:
        return self.method == "estimate"


def domain_facts(run: RunRecord, case: CaseRecord) -> dict[str, DomainFact]:
    """Every domain the case's measurements or the run's sensors name, with its method."""
    facts: dict[str, DomainFact] = {}
    windows = [r.measurement for r in case.repeats] + [case.idle, case.warmup_window]
    for m in windows:
        for d in m.domains if m is not None else []:
            if d.domain not in facts:
                facts[d.domain] = DomainFact(d.domain, d.method, d.source, d.part_of,
                                             d.not_counted)
    for s in run.sensors:
        name = str(s.get("domain"))
        if name not in facts and s.get("available", True):
            facts[name] = DomainFact(name, str(s.get("kind", "")), str(s.get("source", "")),
                                     s.get("part_of"))
    return facts


def domain_family(domain: str) -> str:
    """``cpu-package:0`` -> CPU, ``dram:1`` -> DRAM, ``gpu:0`` -> GPU; others keep their name.
    A multi-host run's ``host/domain`` is of its domain's family."""
    head = domain.rsplit("/", 1)[-1].split(":")[0].lower()
    if head.startswith("cpu") or head.startswith("package"):
        return "CPU"
    if head in ("dram", "ram", "memory"):
        return "DRAM"
    if head.startswith("gpu"):
        return "GPU"
    return head


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)
