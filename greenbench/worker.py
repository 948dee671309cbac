"""One case in its own process, measured by greenbench.protocol (calibrate, warm up, settle,
idle baseline, repeats), charged only for the devices it runs on.

Started by the runner as ``python -m greenbench.worker`` with the case as JSON on stdin. It
reports on a private pipe (file descriptor in ``GREENBENCH_WORKER_FD``), one JSON object per
line, so that whatever the workload prints cannot corrupt the protocol:

- ``{"event": "phase", "phase": "setup|warmup|idle|repeat", "repeat": i, "of": n}``
- ``{"event": "power", "power_w": W}`` about twice a second
- ``{"event": "result", "case": {...}}`` (a CaseRecord without its summary)
- ``{"event": "error", "error": "one line", "detail": "traceback"}``
"""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from greenbench.measurement import Measurement
from greenbench.meter import Meter, activate
from greenbench.protocol import Plan, Protocol, Result
from greenbench.records import CaseRecord, Repeat, Warmup
from greenbench.workload import Workload, load_workload


def main() -> int:
    from greenbench.lifeline import tie_to_parent

    tie_to_parent()  # a worker never outlives the greenbench that started it
    channel = os.fdopen(int(os.environ["GREENBENCH_WORKER_FD"]), "w", buffering=1)
    spec = json.loads(sys.stdin.read())

    lock = threading.Lock()

    def emit(event: dict[str, Any]) -> None:
        line = json.dumps(event, default=str) + "\n"
        with lock:  # the power reporter thread emits too
            channel.write(line)

    try:
        case = run_case(spec, emit)
    except Exception as exc:  # reported to the parent as the case's error, never lost
        emit({"event": "error", "error": f"{type(exc).__name__}: {exc}",
              "detail": traceback.format_exc()})
        return 1
    emit({"event": "result", "case": case.to_dict()})
    return 0


def run_case(spec: dict[str, Any], emit: Any) -> CaseRecord:
    from greenbench.attribution import not_counted
    from greenbench.gpu.limits import applied, workload_params
    from greenbench.sensors.registry import available_sensors, probe_all

    wl = load_workload(spec["workload"], spec.get("workload_files", []))
    params, limit_w = workload_params(spec["params"])  # the power limit is the worker's
    device = spec["device"]
    cfg = spec["config"]
    # asked here, not in the parent: on a GPU the answer starts CUDA, which the parent
    # must not hold while the workers measure
    reason = wl.skip_reason(params, device)
    if reason is not None:
        return CaseRecord(wl.name, spec["params"], "skipped", unit=wl.unit, error=reason,
                          variants=[p.name for p in wl.params if p.variant])
    with applied(device, limit_w) as limit:  # set before the sensors, put back after all
        sensors = available_sensors(probe_all(cpu_tdp_w=cfg.get("cpu_tdp_w"),
                                              scope=cfg.get("scope", "process")))
        meter = Meter(sensors, interval_s=cfg["interval_s"],
                      not_counted=not_counted([s.domain for s in sensors], device),
                      include_constants=bool(cfg.get("include_constants", False))).start()
        stop_power = _report_power(meter, emit)
        try:
            with activate(meter):
                case = _measure(wl, params, device, cfg, meter, emit)
        finally:
            stop_power.set()
            meter.stop()
    case.params = spec["params"]
    if limit is not None:
        case.flags.append(limit.note())
    return case


def case_plan(wl: Workload, cfg: dict[str, Any]) -> Plan:
    """The protocol's plan for a case, from the run's settings."""
    return Plan(repeats=cfg["repeats"], min_repeat_s=cfg["min_duration_s"],
                warmup_s=cfg["warmup_s"], idle_s=cfg["idle_s"], settle_s=cfg.get("settle_s"),
                steps=None if wl.calibrate else 1)


def phase_events(emit: Callable[[dict[str, Any]], None], plan: Plan
                 ) -> Callable[[str, int], None]:
    """The protocol's phase hook: each phase an event to the runner (a repeat with its
    number and of how many)."""

    def on_phase(name: str, i: int) -> None:
        event: dict[str, Any] = {"event": "phase", "phase": name}
        if name == "repeat":
            event.update(repeat=i, of=plan.repeats)
        emit(event)

    return on_phase


def _measure(
    wl: Workload, params: dict[str, Any], device: str, cfg: dict[str, Any], meter: Meter,
    emit: Any,
) -> CaseRecord:
    t0 = meter.clock.monotonic()
    emit({"event": "phase", "phase": "setup"})
    state = wl.setup(params, device)
    units_per_step = wl.units_per_step(params)
    plan = case_plan(wl, cfg)
    protocol = Protocol(meter, plan)
    repeats: list[Repeat] = []
    on_phase = phase_events(emit, plan)

    def before_repeat() -> None:
        if not repeats:  # workloads that collect per-step figures start repeat 1 afresh
            wl.metrics(state)
        meter.phase_results.clear()

    fixed_quality = not wl.quality_changes(params)

    def after_repeat(m: Measurement, steps: int, idle: Measurement | None) -> None:
        if fixed_quality and repeats:  # the same state as the first repeat's: reuse it
            first = repeats[0].quality
            quality = dict(first) if first is not None else None
        else:
            quality = wl.quality(state)
        repeats.append(Repeat(
            steps=steps,
            units=steps * units_per_step,
            measurement=m,
            metrics=per_step_metrics(m, idle, steps, units_per_step, quality,
                                     wl.metrics(state), list(meter.phase_results)),
            quality=quality,
        ))

    notes = wl.notes(state)
    try:
        result = protocol.run(lambda: wl.step(state), on_phase, before_repeat, after_repeat)
    finally:
        wl.teardown(state)
    idle = result.idle
    trace = meter.trace.between(t0, meter.clock.monotonic())
    trace["phases"] = _phases(result, t0)
    return CaseRecord(
        workload=wl.name,
        params=params,
        status="ok",
        unit=wl.unit,
        units_per_step=units_per_step,
        variants=[p.name for p in wl.params if p.variant],
        repeats=repeats,
        idle=idle,
        warmup=Warmup(result.warmup, step_s=result.step_s, steps_per_repeat=result.steps,
                      settle_s=result.settle_s),
        flags=[*notes, *result.flags],
        trace=trace,
        quality_metric=wl.quality_metric,
        quality_higher_is_better=wl.quality_higher_is_better,
    )


def per_step_metrics(
    m: Measurement,
    idle: Measurement | None,
    steps: int,
    units_per_step: float,
    quality: dict[str, float] | None,
    extra: dict[str, float],
    phase_results: list[Measurement],
) -> dict[str, float | None]:
    """Per-step figures of one repeat (see greenbench.records for their names)."""
    gross = m.energy_j
    units = steps * units_per_step
    idle_w = idle.mean_power_w if idle is not None else None
    net = gross - idle_w * m.duration_s if gross is not None and idle_w is not None else None
    out: dict[str, float | None] = {
        "energy_j": _div(gross, steps),
        "net_energy_j": _div(net, steps),
        "energy_per_unit_j": _div(gross, units),
        "net_energy_per_unit_j": _div(net, units),
        "time_s": m.duration_s / steps,
        "power_w": m.mean_power_w,
        "throughput_per_s": units / m.duration_s if m.duration_s > 0 else None,
    }
    for d in m.domains:
        out[f"domain:{d.domain}:energy_j"] = _div(d.energy_j, steps)
    for name, value in (quality or {}).items():
        out[f"quality:{name}"] = float(value)
    for name, value in extra.items():
        out[f"metric:{name}"] = float(value)
    by_phase: dict[str, float] = {}
    for p in phase_results:
        if p.energy_j is not None:
            key = f"phase:{p.name.removeprefix('phase:')}:energy_j"
            by_phase[key] = by_phase.get(key, 0.0) + p.energy_j
    out.update({k: v / steps for k, v in by_phase.items()})
    return out


def _phases(result: Result, t0: float) -> list[dict[str, Any]]:
    spans = [_span("warmup", result.warmup, t0)]
    if result.idle is not None:
        spans.append(_span("idle", result.idle, t0))
    spans += [_span(f"repeat {i + 1}", m, t0) for i, (m, _) in enumerate(result.repeats)]
    return spans


def _span(name: str, m: Measurement, t0: float) -> dict[str, Any]:
    return {"name": name, "start_s": round(m.start_s - t0, 4), "end_s": round(m.end_s - t0, 4)}


def _report_power(meter: Meter, emit: Any) -> threading.Event:
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(0.5):
            live = meter.live_power_w()
            powers = [p for s in meter.sensors
                      if s.part_of is None and (p := live.get(s.domain)) is not None]
            if powers:
                emit({"event": "power", "power_w": sum(powers)})

    threading.Thread(target=loop, name="greenbench-power", daemon=True).start()
    return stop


def _div(a: float | None, b: float) -> float | None:
    return None if a is None or b == 0 else a / b


if __name__ == "__main__":
    sys.exit(main())
