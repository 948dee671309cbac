"""Runs shaped like real ones, for the plot and report tests: sweeps, traces, GPUs, carbon.

    run = sweep_run()                       # attention-like: mechanism x seq_len, GPU, carbon
    run = sweep_run(gpu=False, carbon=False, quality=False)
    run = single_case_run()                 # one case
    run = quick_run()                       # three workloads, one case each (the quick suite)
    run = mixed_run()                       # three workloads, some swept, with variants

Cases come from tests.factories.make_case (values per repeat, summaries by greenbench.stats);
this module adds what those lack: per-domain measurements, a power trace with warm-up, idle
and repeat phases, variants, a quality figure, and footprints built by greenbench.carbon.

Energy per step grows as ``OVERHEAD_J + a * seq_len ** b`` with b = 2 for ``softmax`` and 1
for ``linear``, so a fit over the largest points finds b close to the true exponent.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from greenbench.measurement import DomainEnergy, Measurement
from greenbench.records import CaseRecord, RunRecord, Warmup
from tests.factories import make_case, make_run

EXPONENTS = {"softmax": 2.0, "linear": 1.0}
SCALE = {"softmax": 2e-7, "linear": 4e-4}
OVERHEAD_J = 0.05
#: relative noise of the five repeats, so intervals have a width
NOISE = (1.00, 1.01, 0.99, 1.02, 0.98)
BATCH = 4
POWER_W = {"gpu:0": 180.0, "cpu-package:0": 45.0, "dram:0": 9.0}
IDLE_FRACTION = 0.3
QUALITY = {"softmax": 1e-6, "linear": 0.08}

_serial = itertools.count(1)


def sweep_run(
    mechanisms: Sequence[str] = ("softmax", "linear"),
    seq_lens: Sequence[int] = (256, 512, 1024, 2048, 4096),
    *,
    gpu: bool = True,
    quality: bool = True,
    carbon: bool = True,
    cpu_estimate: bool = False,
    repeats: int = 5,
    label: str | None = None,
) -> RunRecord:
    """An attention-like run: one case per mechanism x seq_len (mechanism is the variant)."""
    domains = _domains(gpu)
    run = make_run(0, label=label, workload="attention")
    run.id = f"20250301-0000{next(_serial):02d}-abcdef"
    run.machine.update(gpus=[{"name": "NVIDIA H100 80GB HBM3", "driver_version": "550.54",
                              "power_limit_w": 700.0}] if gpu else [], memory_gb=256.0)
    run.software.update(torch="2.3.0", numpy="1.26.4", codecarbon="2.3.4")
    run.config.update(repeats=repeats, warmup_s=2.0, idle_s=1.0, interval_s=0.1)
    run.sensors = [_sensor(d, cpu_estimate) for d in domains]
    for mech in mechanisms:
        for n in seq_lens:
            run.cases.append(_case(mech, n, domains, quality, cpu_estimate, repeats))
    if carbon:
        for case in run.cases:
            case.footprint = footprint_dict(_case_energy_j(case) / 3.6e6, gpu,
                                            units=sum(r.units for r in case.repeats))
        total_j = sum(_case_energy_j(c) for c in run.cases)
        run.footprint = footprint_dict(total_j / 3.6e6, gpu)
    return run


def single_case_run(*, gpu: bool = False, quality: bool = False,
                    carbon: bool = False) -> RunRecord:
    """One case: what a `greenbench measure`-like run with a single setting looks like."""
    return sweep_run(("softmax",), (1024,), gpu=gpu, quality=quality, carbon=carbon)


def footprint_dict(energy_kwh: float, gpu: bool, *, units: float | None = None,
                   region: str = "FRA", pue: float = 1.2) -> dict[str, Any]:
    """A Footprint.to_dict() made by greenbench.carbon itself, so the format is the real one."""
    from greenbench.carbon.chain import Resolution
    from greenbench.carbon.embodied import DeviceUse, embodied
    from greenbench.carbon.footprint import footprint
    from greenbench.carbon.intensity import Attempt, Intensity

    intensity = Intensity(56.0, "codecarbon", region,
                          "CodeCarbon static table (Our World in Data)", year=2023)
    resolution = Resolution(intensity, (
        Attempt("electricitymaps", region, "skipped", "ELECTRICITYMAPS_API_KEY not set"),
        Attempt("codecarbon", region, "used")))
    devices = [DeviceUse("gpu", 1, 1.0, "NVIDIA H100 80GB HBM3"),
               DeviceUse("gpu-server", 1, 1.0, "GPU server host")] if gpu else \
        [DeviceUse("cpu-server", 1, 1.0, "Test CPU")]
    share = embodied(devices, 60.0)
    return footprint(resolution, energy_kwh, pue, duration_s=60.0, embodied=share,
                     units=units, unit="tokens" if units else None).to_dict()


# --------------------------------------------------------------------------- helpers


def _domains(gpu: bool) -> list[str]:
    return (["gpu:0"] if gpu else []) + ["cpu-package:0", "dram:0"]


def _sensor(domain: str, cpu_estimate: bool) -> dict[str, Any]:
    if domain.startswith("gpu"):
        return {"domain": domain, "source": "nvml", "kind": "counter", "available": True,
                "update_period_s": 0.1, "part_of": None,
                "details": {"summary": "NVIDIA H100 80GB HBM3, total-energy counter"}}
    if cpu_estimate and domain.startswith("cpu"):
        return {"domain": domain, "source": "estimate:cpu-tdp", "kind": "estimate",
                "available": True, "update_period_s": 0.01, "part_of": None,
                "details": {"summary": "CPU: Test CPU, TDP 8 W (4 W/thread fallback)"},
                "info": {"formula": "P = TDP x (0.1 + 0.9 x load^3)"}}
    return {"domain": domain, "source": "rapl", "kind": "counter", "available": True,
            "update_period_s": 0.001, "part_of": None}


def _case(mech: str, n: int, domains: list[str], quality: bool, cpu_estimate: bool,
          repeats: int) -> CaseRecord:
    energy = OVERHEAD_J + SCALE[mech] * n ** EXPONENTS[mech]
    params = {"mechanism": mech, "seq_len": n, "batch": BATCH}
    return _workload_case("attention", params, ["mechanism"], "tokens", energy, BATCH * n,
                          domains, QUALITY[mech] if quality else None, cpu_estimate, repeats)


def _workload_case(workload: str, params: dict[str, Any], variants: list[str], unit: str,
                   energy: float, units_per_step: float, domains: list[str],
                   quality: float | None, cpu_estimate: bool, repeats: int) -> CaseRecord:
    """A case of any workload: ``energy`` J per step split over ``domains`` by their power,
    ``units_per_step`` units of work per step, a rel_error quality figure when given."""
    tokens = units_per_step
    power = sum(POWER_W[d] for d in domains)
    shares = {d: POWER_W[d] / power for d in domains}
    noise = [NOISE[i % len(NOISE)] for i in range(repeats)]
    e = [energy * k for k in noise]
    t = [x / power for x in e]
    values: dict[str, list[float]] = {
        "energy_j": e,
        "energy_per_unit_j": [x / tokens for x in e],
        "net_energy_j": [x * (1 - IDLE_FRACTION) for x in e],
        "net_energy_per_unit_j": [x * (1 - IDLE_FRACTION) / tokens for x in e],
        "time_s": t,
        "power_w": [power] * repeats,
        "throughput_per_s": [tokens / x for x in t],
        **{f"domain:{d}:energy_j": [x * shares[d] for x in e] for d in domains},
    }
    if quality is not None:
        values["quality:rel_error"] = [quality] * repeats
    case = make_case(workload, params, values, unit=unit, with_trace=False)
    case.units_per_step = float(tokens)
    case.variants = list(variants)
    case.quality_metric = "rel_error" if quality is not None else None
    case.quality_higher_is_better = False
    method_of = {d: "estimate" if cpu_estimate and d.startswith("cpu") else "counter"
                 for d in domains}
    for i, repeat in enumerate(case.repeats):
        repeat.units = repeat.steps * tokens
        duration = t[i] * repeat.steps
        repeat.measurement = Measurement(f"repeat {i + 1}", 10.0 + i, 10.0 + i + duration, [
            _domain(d, values[f"domain:{d}:energy_j"][i] * repeat.steps, duration, method_of[d])
            for d in domains])
    case.idle = _window("idle", 1.0, power * IDLE_FRACTION, domains, method_of)
    case.warmup = Warmup(_window("warmup", 2.0, power, domains, method_of), step_s=t[0],
                         steps_per_repeat=case.repeats[0].steps if case.repeats else None)
    case.flags = [f for f in case.flags if not f.startswith("estimate")]
    if cpu_estimate:
        case.flags.append("estimate: some energy figures come from a power model")
    case.trace = trace(domains, repeats)
    return case


# --------------------------------------------------------------------------- mixed workloads

#: each built-in workload's full parameter list and variants, as the real ones store them
_ATTENTION = ({"mechanism": "softmax", "seq_len": 512, "d_model": 256, "heads": 4, "batch": 2,
               "k": 128, "m": 128, "causal": False, "mode": "infer", "precision": "fp32",
               "seed": 0}, ["mechanism", "precision"], "tokens")
_SPARSE = ({"density": 0.1, "execution": "sparse", "in_features": 1024, "out_features": 1024,
            "batch": 1024, "precision": "fp32", "seed": 0}, ["execution", "precision"], "rows")
_TRANSFORMER = ({"size": "tiny", "seq_len": 64, "batch": 4, "vocab": 2048, "mode": "train",
                 "attention": "sdpa", "k": 64, "m": 64, "causal": True, "precision": "fp32",
                 "sparsity": "none", "density": 0.5, "compile": False, "seed": 0},
                ["attention", "precision", "sparsity", "compile"], "tokens")
_WORKLOADS = {"attention": _ATTENTION, "sparse-matmul": _SPARSE, "transformer": _TRANSFORMER}


def quick_run(*, carbon: bool = True, label: str = "quick") -> RunRecord:
    """Like a real run of the ``quick`` suite on a CPU-only machine: one case each of
    attention, sparse-matmul and transformer, each with its own (long) parameter list and
    variants, different units of work (tokens, rows), energy estimated by a power model."""
    return mixed_run({"attention": [{}], "sparse-matmul": [{}], "transformer": [{}]},
                     carbon=carbon, label=label)


def mixed_run(cases: dict[str, list[dict[str, Any]]] | None = None, *, carbon: bool = True,
              cpu_estimate: bool = True, label: str | None = "mixed",
              repeats: int = 5) -> RunRecord:
    """A run that mixes workloads; ``cases`` maps a workload to the parameter overrides of
    each of its cases. By default attention sweeps mechanism x seq_len, sparse-matmul runs
    dense and sparse, and transformer has one case."""
    if cases is None:
        cases = {"attention": [{"mechanism": m, "seq_len": n}
                               for m in ("softmax", "linear") for n in (256, 512, 1024)],
                 "sparse-matmul": [{"execution": "dense"}, {"execution": "sparse"}],
                 "transformer": [{}]}
    domains = _domains(False)
    run = make_run(0, label=label, workload="attention")
    run.id = f"20261129-0905{next(_serial):02d}-fca72e"
    run.machine.update(cpu_model="AMD EPYC", memory_gb=23.5)
    run.config.update(repeats=repeats, warmup_s=2.0, idle_s=1.0, interval_s=0.1)
    run.sensors = [_sensor(d, cpu_estimate) for d in domains]
    for workload, overrides in cases.items():
        defaults, variants, unit = _WORKLOADS[workload]
        for i, override in enumerate(overrides):
            params = {**defaults, **override}
            size = float(params.get("seq_len", 1) * params["batch"])
            energy = OVERHEAD_J * (1 + i) + 2e-6 * size * (2 if params.get("mechanism")
                                                            == "softmax" else 1)
            run.cases.append(_workload_case(workload, params, variants, unit, energy, size,
                                            domains, 0.1 * (i + 1), cpu_estimate, repeats))
    if carbon:
        for case in run.cases:
            case.footprint = footprint_dict(_case_energy_j(case) / 3.6e6, False,
                                            units=sum(r.units for r in case.repeats))
        run.footprint = footprint_dict(sum(_case_energy_j(c) for c in run.cases) / 3.6e6,
                                       False)
    return run


def trace(domains: Sequence[str], repeats: int = 3, interval_s: float = 0.1) -> dict[str, Any]:
    """A power trace: 2 s warm-up, 1 s idle, then 0.5 s per repeat, sampled every interval."""
    phases: list[dict[str, Any]] = [{"name": "warmup", "start_s": 0.0, "end_s": 2.0},
                                    {"name": "idle", "start_s": 2.0, "end_s": 3.0}]
    phases += [{"name": f"repeat {i + 1}", "start_s": 3.0 + 0.5 * i, "end_s": 3.5 + 0.5 * i}
               for i in range(repeats)]
    end = 3.0 + 0.5 * repeats
    t = [round(k * interval_s, 4) for k in range(int(end / interval_s) + 1)]
    power = {d: [round(POWER_W[d] * (IDLE_FRACTION if 2.0 <= x < 3.0 else 1.0)
                       * (1 + 0.02 * ((k % 5) - 2)), 3) for k, x in enumerate(t)]
             for d in domains}
    return {"t_s": t, "power_w": power, "phases": phases}


def _case_energy_j(case: CaseRecord) -> float:
    """Everything metered for the case: warm-up, idle and every repeat."""
    windows = [r.measurement for r in case.repeats] + [case.idle, case.warmup_window]
    return sum(m.energy_j or 0.0 for m in windows if m is not None)


def _domain(name: str, energy_j: float, duration_s: float, method: str) -> DomainEnergy:
    source = "nvml" if name.startswith("gpu") else ("estimate:cpu-tdp" if method == "estimate"
                                                    else "rapl")
    power = energy_j / duration_s if duration_s > 0 else None
    return DomainEnergy(name, energy_j, method, source, power, power, 10)


def _window(name: str, duration_s: float, power_w: float, domains: Sequence[str],
            method_of: dict[str, str]) -> Measurement:
    """A window at ``power_w`` in all, shared among domains as POWER_W shares them."""
    total = sum(POWER_W[d] for d in domains)
    return Measurement(name, 0.0, duration_s, [
        _domain(d, power_w * duration_s * POWER_W[d] / total, duration_s, method_of[d])
        for d in domains])
