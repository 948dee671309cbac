"""Carbon assumptions, and the figures regulators and model cards ask for.

- Carbon assumptions: the region, the intensity with its source and year, the fallback chain,
  the PUE and every embodied figure, or a clear note that no carbon data was recorded.
- EU AI Act, Annex XI §1.2(e): energy consumption (the documentation form asks for MWh to at
  least two significant figures, with the method).
- Hugging Face model card: a ``co2_eq_emissions`` block (emissions in grams, source,
  training_type, geographical_location, hardware_used) ready to paste.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from greenbench import __version__
from greenbench.records import RunRecord
from greenbench.report.document import Block, Bullets, Code, Facts, Paragraph, Subheading, Table
from greenbench.report.numbers import J_PER_KWH, mwh, si, sig, yaml_number
from greenbench.results_format import case_is_estimate

NO_CARBON = ("No carbon data was recorded with {which}: emissions are not reported. Record "
             "them by measuring with a region or an intensity (--region, --intensity, --pue).")


@dataclass(frozen=True)
class Metered:
    """Everything the meter measured for a run: energy (J), time (s), and how."""

    energy_j: float
    duration_s: float
    windows: int
    unknown_windows: int
    methods: str
    estimate: bool


@dataclass(frozen=True)
class Carbon:
    """A run's emissions (gCO2e): its own footprint, or the sum of its cases' footprints."""

    scope: str
    energy_kwh: float
    operational_g: float
    embodied_g: float | None
    total_g: float
    footprints: list[dict[str, Any]]

    @property
    def first(self) -> dict[str, Any]:
        return self.footprints[0]


# --------------------------------------------------------------------------- data


def metered(run: RunRecord) -> Metered:
    """Sum of every metered window (warm-up, idle baseline, repeats) of every case."""
    energy = duration = 0.0
    windows = unknown = 0
    for case in run.cases:
        for m in [r.measurement for r in case.repeats] + [case.warmup_window, case.idle]:
            if m is None:
                continue
            windows += 1
            if m.energy_j is None:
                unknown += 1
                continue
            energy += m.energy_j
            duration += m.duration_s
    estimate = any(case_is_estimate(c, run.is_estimate) for c in run.cases if c.repeats)
    return Metered(energy, duration, windows, unknown, sensor_methods(run), estimate)


def sensor_methods(run: RunRecord) -> str:
    """``counter: rapl (cpu-package:0, dram:0); estimate:cpu-tdp:process (...)``."""
    by_method: dict[str, list[str]] = {}
    for s in run.sensors:
        if s.get("part_of"):
            continue  # inside another domain: not added again
        kind, source = str(s.get("kind")), str(s.get("source"))
        # an estimate's source already says so (estimate:cpu-tdp): not "estimate: estimate:"
        key = source if source.startswith(kind) else f"{kind}: {source}"
        by_method.setdefault(key, []).append(str(s.get("domain")))
    return "; ".join(f"{k} ({', '.join(v)})" for k, v in by_method.items()) or "no sensors"


def carbon(run: RunRecord) -> Carbon | None:
    """The run's emissions, or None when neither the run nor any case has a footprint."""
    if run.footprint:
        fp = run.footprint
        return Carbon("the whole run", float(fp.get("energy_kwh") or 0.0),
                      float(fp.get("operational_g") or 0.0), _opt(fp.get("embodied_g")),
                      float(fp.get("total_g") or 0.0), [fp])
    fps = [c.footprint for c in run.cases if c.footprint]
    if not fps:
        return None
    embodied = [f["embodied_g"] for f in fps if f.get("embodied_g") is not None]
    return Carbon(f"the sum of {len(fps)} case footprint(s)",
                  sum(float(f.get("energy_kwh") or 0.0) for f in fps),
                  sum(float(f.get("operational_g") or 0.0) for f in fps),
                  sum(embodied) if embodied else None,
                  sum(float(f.get("total_g") or 0.0) for f in fps), fps)


# --------------------------------------------------------------------------- carbon section


def carbon_blocks(runs: Sequence[RunRecord]) -> list[Block]:
    """Per run: intensity and provenance, PUE, embodied figures, emissions; or a clear note."""
    blocks: list[Block] = []
    with_data = [(run, c) for run in runs if (c := carbon(run)) is not None]
    if not with_data:
        return [Paragraph(NO_CARBON.format(which="these runs" if len(runs) > 1 else "this run"))]
    for run in runs:
        c = carbon(run)
        if len(runs) > 1:
            blocks.append(Subheading(f"Run {run.label or run.id}"))
        if c is None:
            blocks.append(Paragraph(NO_CARBON.format(which="this run")))
            continue
        blocks += _footprint_blocks(c)
    return blocks


def _footprint_blocks(c: Carbon) -> list[Block]:
    fp = c.first
    i = fp.get("intensity") or {}
    when = i.get("time_utc") or (f"data year {i['year']}" if i.get("year") else "not stated")
    flags = [f for f, on in (("estimate: an average standing in for the grid during the run",
                              i.get("estimate")), ("forecast", i.get("forecast")),
                             ("marginal signal", i.get("signal") == "marginal")) if on]
    facts = [
        ("Scope", f"{c.scope}: {sig(c.energy_kwh * J_PER_KWH / 3600)} Wh at the IT equipment"),
        ("Region", str(i.get("region") or "not stated")),
        ("Carbon intensity", f"{float(i.get('value_g_per_kwh', 0.0)):.4g} "
                             f"{i.get('unit', 'gCO2e/kWh')}"
                             + (f" ({'; '.join(flags)})" if flags else " (measured)")),
        ("Intensity source", f"{i.get('provider', '?')}: {i.get('source', '?')}"),
        ("Intensity time", str(when)),
        ("PUE", f"{fp.get('pue', 1.0):g}" + (" (IT energy only: no facility overhead)"
                                              if fp.get("pue", 1.0) == 1.0 else "")),
        ("Operational emissions", si(c.operational_g, "gCO2e")),
        ("Embodied emissions", "not counted" if c.embodied_g is None
         else si(c.embodied_g, "gCO2e")),
        ("Total", si(c.total_g, "gCO2e")),
        ("Method", str(fp.get("method") or "energy x intensity x PUE")),
    ]
    if fp.get("sci_g_per_unit") is not None and len(c.footprints) == 1:
        facts.append(("SCI per unit", f"{si(fp['sci_g_per_unit'], 'gCO2e')}/"
                                      f"{fp.get('unit') or 'unit'}"))
    blocks: list[Block] = [Facts(facts)]
    chain = fp.get("intensity_chain") or []
    if chain:
        blocks += [Paragraph("How the intensity was chosen (providers asked, in order):"),
                   Bullets([f"{a.get('provider')} ({a.get('region')}): {a.get('outcome')}"
                            + (f": {a['reason']}" if a.get("reason") else "") for a in chain])]
    embodied = fp.get("embodied") or {}
    if embodied.get("parts"):
        rows = [[str(p.get("label")), str(p.get("count")), f"{p.get('kg_co2e', 0):g}",
                 f"{p.get('lifetime_years', 0):g}", si(p.get("held_s"), "s"),
                 si(p.get("g"), "gCO2e"), str(p.get("source"))] for p in embodied["parts"]]
        blocks.append(Table(["Device", "Count", "Embodied (kgCO2e)", "Lifetime (years)",
                             "Held", "Share", "Source"], rows,
                            "Embodied emissions, amortised over each device's lifetime",
                            "lrrrrrl"))
    notes = list(dict.fromkeys(n for f in c.footprints for n in f.get("notes") or []))
    if embodied.get("missing"):
        notes.append("no embodied estimate for " + ", ".join(embodied["missing"])
                     + ": not counted")
    if notes:
        blocks += [Paragraph("Notes:"), Bullets(list(dict.fromkeys(notes)))]
    return blocks


# --------------------------------------------------------------------------- reporting


def reporting_blocks(runs: Sequence[RunRecord], training_type: str | None = None) -> list[Block]:
    """EU AI Act Annex XI energy figures and a Hugging Face ``co2_eq_emissions`` block."""
    return [Subheading("EU AI Act, Annex XI §1.2(e): energy consumption"),
            *_annex_xi(runs),
            Subheading("Hugging Face model card: co2_eq_emissions"),
            *_model_card(runs, training_type)]


def _annex_xi(runs: Sequence[RunRecord]) -> list[Block]:
    rows = []
    total_j = 0.0
    for run in runs:
        m = metered(run)
        c = carbon(run)
        energy_j = c.energy_kwh * J_PER_KWH if c else m.energy_j
        total_j += energy_j
        kind = "estimated (power model for some domains)" if m.estimate else "measured"
        rows.append([run.label or run.id, mwh(energy_j), si(energy_j, "J"), kind, m.methods,
                     si(m.duration_s, "s")])
    blocks: list[Block] = [
        Table(["Run", "Energy (MWh, 2 s.f.)", "Energy", "Known or estimated", "Method",
               "Metered time"], rows, "Energy consumption", "lrrlll"),
        Facts([("Energy consumption", mwh(total_j)),
               ("Method", "sum of every metered window (warm-up, idle baseline and repeats) "
                          "of every case, at the IT equipment: the domains listed (CPU "
                          "packages, DRAM, GPUs as sensed; fans, disks and power-supply "
                          "losses are not seen), before any PUE")]),
    ]
    pues = {float(c.first.get("pue") or 1.0) for run in runs if (c := carbon(run))}
    if pues and pues != {1.0}:
        facility = total_j * max(pues)
        blocks.append(Paragraph(f"With the recorded PUE ({', '.join(f'{p:g}' for p in pues)}) "
                                f"the facility's energy is about {mwh(facility)}."))
    blocks.append(Paragraph(
        "This is the energy of the measured work only. If these runs are not the model's "
        "complete training, scale the figure to the training run (e.g. per step x steps) "
        "and say so when reporting it."))
    return blocks


def _energy_kind(runs: Sequence[RunRecord]) -> str:
    """What the energy behind a figure is, in one phrase that never says both at once:
    ``measured energy``, ``estimated energy`` (no sensor), or ``energy partly estimated``
    (some domains measured, some from a power model)."""
    if not any(metered(run).estimate for run in runs):
        return "measured energy"
    kinds = {s.get("kind") for run in runs for s in run.sensors if not s.get("part_of")}
    return "estimated energy" if kinds <= {"estimate"} else "energy partly estimated"


def _model_card(runs: Sequence[RunRecord], training_type: str | None) -> list[Block]:
    found = [(run, c) for run in runs if (c := carbon(run)) is not None]
    if not found:
        return [Paragraph(NO_CARBON.format(which="these runs" if len(runs) > 1 else "this run")
                          + " No co2_eq_emissions block can be given without it.")]
    operational = sum(c.operational_g for _, c in found)
    embodied = [c.embodied_g for _, c in found if c.embodied_g is not None]
    intensities = list(dict.fromkeys(
        (c.first.get("intensity") or {}).get("region") or "unknown" for _, c in found))
    describe = "; ".join(_intensity_words(c.first) for _, c in found)
    methods = "; ".join(dict.fromkeys(metered(run).methods for run, _ in found))
    source = (f"greenbench {__version__}: {_energy_kind([run for run, _ in found])} "
              f"({methods}) x carbon intensity ({describe})")
    lines = ["co2_eq_emissions:",
             f"  emissions: {yaml_number(operational)}",
             f"  source: {json.dumps(source)}",
             f"  training_type: {json.dumps(training_type or _training_type(runs))}",
             f"  geographical_location: {json.dumps(', '.join(intensities))}",
             f"  hardware_used: {json.dumps(hardware_used(runs))}"]
    if embodied:
        lines.append(f"  # operational only; embodied share not included: "
                     f"{yaml_number(sum(embodied))} g")
    return [Paragraph("Paste into the YAML metadata at the top of the model card "
                      "(emissions in grams of CO2e):"), Code("\n".join(lines), "yaml")]


def hardware_used(runs: Sequence[RunRecord]) -> str:
    """``1 x NVIDIA H100 80GB HBM3, AMD EPYC 7763 (64 threads)``, over every machine."""
    parts: list[str] = []
    for run in runs:
        m = run.machine
        counts: dict[str, int] = {}
        for g in m.get("gpus") or []:
            counts[str(g.get("name", "GPU"))] = counts.get(str(g.get("name", "GPU")), 0) + 1
        parts += [f"{n} x {name}" for name, n in counts.items()]
        parts.append(f"{m.get('cpu_model', 'unknown CPU')} ({m.get('cpu_logical', '?')} "
                     "threads)")
    return ", ".join(dict.fromkeys(parts))


def _intensity_words(fp: dict[str, Any]) -> str:
    """``56 gCO2e/kWh from codecarbon 2023 for FRA, PUE 1.2``."""
    i = fp.get("intensity") or {}
    year = f" {i['year']}" if i.get("year") else ""
    return (f"{float(i.get('value_g_per_kwh', 0.0)):.4g} gCO2e/kWh from {i.get('provider')}"
            f"{year} for {i.get('region')}, PUE {fp.get('pue', 1.0):g}")


def _training_type(runs: Sequence[RunRecord]) -> str:
    """A guess from the workloads; ``--training-type`` overrides it."""
    names = " ".join(c.workload.lower() for run in runs for c in run.cases)
    modes = {str(c.params.get("mode", "")).lower() for run in runs for c in run.cases}
    if "finetune" in names or "fine-tun" in names or "fine_tun" in names:
        return "fine-tuning"
    if "train" in modes or "train" in names:
        return "pre-training"
    return "inference (benchmark; no training)"


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)
