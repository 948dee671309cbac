"""Embodied emissions: the share of manufacturing emissions a run is responsible for.

SCI (ISO/IEC 21031:2024) amortises each device's total embodied emissions over its expected
lifetime by the time the run reserved it, and by the share of the device it reserved:

    M = total embodied x (time reserved / expected lifetime) x (resources reserved / total)

The built-in table holds published estimates with their sources; a TOML or JSON file (a path
given to ``load_table``/``resolve_carbon``, or ``$GREENBENCH_EMBODIED_CONFIG``) overrides or
adds entries. A device with no estimate is listed as missing, never silently counted as zero.

Config file format (TOML shown; JSON with the same structure works too)::

    lifetime_years = 4            # default for entries that give none
    [devices.gpu]
    kg_co2e = 150
    source = "Luccioni et al. 2022, arXiv 2211.02001"
    [devices.cpu-server]
    kg_co2e = 1200
    lifetime_years = 6
    source = "vendor product carbon footprint sheet"
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from greenbench.errors import UserError

ENV_EMBODIED_CONFIG = "GREENBENCH_EMBODIED_CONFIG"

SECONDS_PER_YEAR = 365.25 * 86400
#: greenbench's assumption, not a published figure: a common service life for data-centre
#: servers; set ``lifetime_years`` in the config file to what your hardware really serves
DEFAULT_LIFETIME_YEARS = 4.0

_BLOOM = ("Luccioni, Viguier, Ligozat, Estimating the Carbon Footprint of BLOOM, a 176B "
          "Parameter Language Model, arXiv 2211.02001 (JMLR 24(253), 2023)")
_CHIEN = ("Chien et al., Reducing the Carbon Impact of Generative AI Inference (today and in "
          "2035), HotCarbon 2023, doi:10.1145/3604930.3605705")

GPU_SERVER = "gpu-server"
GPU = "gpu"
GPU_A100 = "gpu:a100"
#: no built-in figure: greenbench adds a CPU server estimate only with a citable source
CPU_SERVER = "cpu-server"


@dataclass(frozen=True)
class EmbodiedEstimate:
    """Total embodied emissions of one device in kgCO2e, what it covers, and its source."""

    key: str
    kg_co2e: float
    source: str
    covers: str = ""
    lifetime_years: float = DEFAULT_LIFETIME_YEARS
    #: the figure already holds the device's share of its host (so no host is added)
    includes_host: bool = False


BUILTIN: dict[str, EmbodiedEstimate] = {
    GPU_SERVER: EmbodiedEstimate(GPU_SERVER, 2500.0, _BLOOM,
                                 "one GPU server node, its GPUs excluded"),
    GPU: EmbodiedEstimate(GPU, 150.0, _BLOOM, "one GPU (the study calls it a lower bound)"),
    GPU_A100: EmbodiedEstimate(GPU_A100, 318.0, _CHIEN,
                               "one A100's 1/8 share of an 8-GPU cloud instance, host included",
                               includes_host=True),
}


@dataclass(frozen=True)
class DeviceUse:
    """Devices a run held: ``count`` of table entry ``key``, each at ``share`` (0-1] of it."""

    key: str
    count: int = 1
    share: float = 1.0
    label: str = ""


@dataclass(frozen=True)
class EmbodiedPart:
    """One device's amortised share, in gCO2e, with every input that produced it."""

    key: str
    label: str
    count: int
    share: float
    held_s: float
    kg_co2e: float
    lifetime_years: float
    source: str
    g: float


@dataclass(frozen=True)
class Embodied:
    """The run's embodied emissions (SCI's M) in gCO2e; None when no device had an estimate.

    ``missing`` names devices that had no estimate (not counted: say so, do not guess).
    """

    g: float | None
    parts: tuple[EmbodiedPart, ...] = ()
    missing: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"g": self.g, "parts": [asdict(p) for p in self.parts],
                "missing": list(self.missing)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Embodied:
        return cls(data.get("g"), tuple(EmbodiedPart(**p) for p in data.get("parts", [])),
                   tuple(data.get("missing", [])))


def amortised_g(kg_co2e: float, lifetime_years: float, held_s: float, share: float = 1.0,
                count: int = 1) -> float:
    """SCI's M for ``count`` devices: kgCO2e x 1000 x held time / lifetime x share, in gCO2e."""
    return kg_co2e * 1000.0 * held_s / (lifetime_years * SECONDS_PER_YEAR) * share * count


def embodied(devices: Iterable[DeviceUse], held_s: float,
             table: Mapping[str, EmbodiedEstimate] | None = None) -> Embodied:
    """Amortise each device's estimate over ``held_s`` seconds (the time the run held it)."""
    table = BUILTIN if table is None else table
    parts: list[EmbodiedPart] = []
    missing: list[str] = []
    for use in devices:
        est = table.get(use.key)
        if est is None:
            missing.append(use.label or use.key)
            continue
        g = amortised_g(est.kg_co2e, est.lifetime_years, held_s, use.share, use.count)
        parts.append(EmbodiedPart(use.key, use.label or use.key, use.count, use.share, held_s,
                                  est.kg_co2e, est.lifetime_years, est.source, g))
    total = sum(p.g for p in parts) if parts else None
    return Embodied(total, tuple(parts), tuple(missing))


def devices_from_machine(machine: Mapping[str, Any],
                         table: Mapping[str, EmbodiedEstimate] | None = None
                         ) -> list[DeviceUse]:
    """The devices a run on this machine holds, from greenbench's machine facts.

    Each GPU maps to ``gpu:a100`` when its name says A100, else ``gpu``; a GPU machine adds a
    ``gpu-server`` host unless every GPU figure already includes its host; a machine with no
    GPU is a ``cpu-server`` (no built-in figure: configure one). The whole machine is taken as
    held by the run (share 1).
    """
    table = BUILTIN if table is None else table
    counts: dict[tuple[str, str], int] = {}
    for gpu in machine.get("gpus") or []:
        name = str(gpu.get("name", "GPU"))
        key = GPU_A100 if "a100" in name.lower() and GPU_A100 in table else GPU
        counts[(key, name)] = counts.get((key, name), 0) + 1
    uses = [DeviceUse(key, n, 1.0, name) for (key, name), n in counts.items()]
    if not uses:
        return [DeviceUse(CPU_SERVER, 1, 1.0, str(machine.get("cpu_model") or CPU_SERVER))]
    if not all(table.get(u.key, BUILTIN[GPU]).includes_host for u in uses):
        uses.append(DeviceUse(GPU_SERVER, 1, 1.0, "GPU server host"))
    return uses


def load_table(path: str | Path | None = None,
               env: Mapping[str, str] | None = None) -> dict[str, EmbodiedEstimate]:
    """The built-in table, overridden by ``path`` or ``$GREENBENCH_EMBODIED_CONFIG`` if set."""
    env = os.environ if env is None else env
    chosen = path or env.get(ENV_EMBODIED_CONFIG) or None
    if chosen is None:
        return dict(BUILTIN)
    return _merge(BUILTIN, _read_config(Path(chosen)), str(chosen))


def _read_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"embodied config {path}: cannot read it ({exc.strerror})") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import tomllib  # Python 3.11+; on 3.10 use a .json file

            data = tomllib.loads(text)
    except ModuleNotFoundError:
        raise UserError(f"embodied config {path}: TOML needs Python 3.11+; use a .json file") \
            from None
    except ValueError as exc:  # json.JSONDecodeError and tomllib.TOMLDecodeError
        raise UserError(f"embodied config {path}: malformed ({exc})") from None
    if not isinstance(data, dict):
        raise UserError(f"embodied config {path}: expected a table with [devices.NAME] entries")
    return data


def _merge(base: Mapping[str, EmbodiedEstimate], data: Mapping[str, Any],
           where: str) -> dict[str, EmbodiedEstimate]:
    default_life = _positive(data.get("lifetime_years", DEFAULT_LIFETIME_YEARS),
                             f"embodied config {where}: lifetime_years", upper=30)
    table = {k: replace(v, lifetime_years=default_life) for k, v in base.items()}
    devices = data.get("devices", {})
    if not isinstance(devices, dict):
        raise UserError(f"embodied config {where}: 'devices' must be a table of entries")
    allowed = {"kg_co2e", "source", "covers", "lifetime_years", "includes_host"}
    for key, entry in devices.items():
        what = f"embodied config {where}: devices.{key}"
        if not isinstance(entry, dict):
            raise UserError(f"{what}: expected a table with kg_co2e and source")
        unknown = set(entry) - allowed
        if unknown:
            raise UserError(f"{what}: unknown field(s) {', '.join(sorted(unknown))}; "
                            f"use {', '.join(sorted(allowed))}")
        old = table.get(key)
        if "kg_co2e" not in entry and old is None:
            raise UserError(f"{what}: kg_co2e is required for a new device")
        kg = _positive(entry.get("kg_co2e", old.kg_co2e if old else 0.0), f"{what}.kg_co2e",
                       upper=1e6, allow_zero=True)
        source = str(entry.get("source") or (old.source if old and "kg_co2e" not in entry
                                             else f"configuration file {where}"))
        table[key] = EmbodiedEstimate(
            key, kg, source, str(entry.get("covers", old.covers if old else "")),
            _positive(entry.get("lifetime_years", default_life), f"{what}.lifetime_years",
                      upper=30),
            bool(entry.get("includes_host", old.includes_host if old else False)),
        )
    return table


def _positive(value: Any, what: str, upper: float, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value):
        raise UserError(f"{what}: expected a number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero) or value > upper:
        raise UserError(f"{what}: {value} is out of range (0 to {upper:g})")
    return float(value)
