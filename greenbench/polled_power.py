"""Polled GPU power: what the protocol does about part-time readings, and the counter check.

NVML's power value on A100/H100 averages only about 25 ms of each 100 ms update period; the
other 75 ms are never seen (Yang, Adámek and Armour, "Part-time Power Measurements:
nvidia-smi's Lack of Attention", SC'24, arXiv:2312.02741). Naive energy figures from it erred
by about 39% on average in their study; their practices brought that to about 5%. Where polled
power is the measurement (a GPU without the energy counter, or ``GREENBENCH_NVML_METHOD=power``)
the protocol applies them (:class:`PartTimeMitigation`):

- a **minimum window**: each repeat lasts at least ``min_window_s`` (5 s) and runs at least
  ``min_steps`` (32) steps, so that many sampled slices average over the work's own phases;
- **several trials with random delays**: before each repeat a random pause of up to one update
  period, so that the repeats' sampled slices fall at different phases of the work;
- **the rise time discarded**: before each repeat ``rise_s`` (1 s) of steps run unmeasured,
  so that the reading has risen to the load before the window opens.

Where the GPU has the energy counter it is the measurement, and the polled power integrated
beside it is a cross-check per repeat (:func:`cross_check_flags`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from greenbench.measurement import Measurement
from greenbench.sensors.base import counter_agrees
from greenbench.units import fmt_duration

CITATION = "Yang et al., SC'24"


@dataclass(frozen=True)
class PartTimeMitigation:
    """What the protocol does on the polled-power path (see the module docstring)."""

    #: what one power value covers on this GPU, as far as is known
    reading: str = ""
    #: why polled power is the measurement here
    why: str = ""
    min_window_s: float = 5.0
    min_steps: int = 32
    #: the random pause before each repeat is uniform in [0, max_delay_s)
    max_delay_s: float = 0.1
    #: steps run unmeasured before each repeat, seconds
    rise_s: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self, domains: Sequence[str], steps_fixed: bool) -> str:
        """One line for the case's flags: what was applied, on which domains."""
        minimum = (f"repeats of at least {fmt_duration(self.min_window_s)}"
                   + ("" if steps_fixed else f" and {self.min_steps} steps"))
        text = (f"polled power on {', '.join(domains)} ({self.why}; one reading covers "
                f"{self.reading}): {minimum}, a random pause of 0-"
                f"{fmt_duration(self.max_delay_s)} before each repeat, "
                f"{fmt_duration(self.rise_s)} of rise time run and discarded before each "
                f"repeat ({CITATION})")
        if steps_fixed:
            text += f"; the {self.min_steps}-step minimum cannot apply: the case's steps are fixed"
        return text


def mitigation(sensors: Sequence[Any], counted: Any) -> tuple[PartTimeMitigation, list[str]] | None:
    """The mitigation for the counted polled-power sensors and their domains; None if none."""
    found = [(m, s.domain) for s in sensors
             if counted(s) and (m := getattr(s, "part_time", None)) is not None]
    if not found:
        return None
    strictest = max((m for m, _ in found), key=lambda m: (m.min_window_s, m.min_steps, m.rise_s))
    return strictest, [domain for _, domain in found]


def cross_check_flags(repeats: Sequence[Measurement], tolerance: float) -> list[str]:
    """A flag per counted domain whose counter and integrated polled power disagreed beyond
    ``tolerance`` (a fraction) in some repeat: in how many, and the counter/polled ratios."""
    flags = []
    domains = dict.fromkeys(d.domain for m in repeats for d in m.top_level()
                            if d.cross_check_energy_j is not None)
    for domain in domains:
        ratios, bad = [], 0
        for m in repeats:
            d = next((x for x in m.domains if x.domain == domain), None)
            if d is None or d.energy_j is None or d.cross_check_energy_j is None:
                continue
            if d.cross_check_energy_j > 0:
                ratios.append(d.energy_j / d.cross_check_energy_j)
            if not counter_agrees(d.energy_j, d.cross_check_energy_j, tolerance):
                bad += 1
        if bad:
            shown = (f" (counter/polled {min(ratios):.3f}-{max(ratios):.3f})" if ratios else "")
            flags.append(
                f"{domain}: the energy counter and integrated polled power disagree by more "
                f"than {tolerance:.0%} in {bad} of {len(repeats)} repeats{shown}; the counter "
                "is used: a counter that stands still or runs wrong (AMD SMI on some parts), "
                f"or polled power that sees only part of each update ({CITATION}), explains it")
    return flags
