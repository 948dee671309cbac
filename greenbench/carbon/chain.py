"""The fallback chain: ask intensity providers in order, keep the first answer, and record why
each one before it was skipped or failed. The world average closes every chain, so a chain
always answers and a measurement is never lost for want of an intensity."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from greenbench.carbon.intensity import Attempt, Intensity, ProviderUnavailable
from greenbench.carbon.static import WorldAverageSource


class IntensitySource(Protocol):
    """Anything that gives an intensity in gCO2e/kWh: now, or over a run's span (Unix s)."""

    name: str
    label: str

    def now(self) -> Intensity: ...

    def over(self, start_unix_s: float, end_unix_s: float) -> Intensity: ...


@dataclass(frozen=True)
class Skipped:
    """A provider left out before asking it (no key set, no zone for the region), and why."""

    name: str
    label: str
    reason: str


@dataclass(frozen=True)
class Resolution:
    """The intensity a chain settled on, and every attempt that led to it, in order."""

    intensity: Intensity
    attempts: tuple[Attempt, ...]

    @property
    def fell_back(self) -> bool:
        return any(a.outcome == "failed" for a in self.attempts)

    def to_dict(self) -> dict[str, Any]:
        return {"intensity": self.intensity.to_dict(),
                "chain": [a.to_dict() for a in self.attempts]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Resolution:
        return cls(Intensity.from_dict(data["intensity"]),
                   tuple(Attempt.from_dict(a) for a in data.get("chain", [])))


class Chain:
    """Providers in the order they are asked; the world average is appended if missing."""

    def __init__(self, steps: Sequence[IntensitySource | Skipped]) -> None:
        self.steps: list[IntensitySource | Skipped] = list(steps)
        if not self.steps or not isinstance(self.steps[-1], WorldAverageSource):
            self.steps.append(WorldAverageSource())

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.steps]

    def now(self) -> Resolution:
        """The current intensity."""
        return self._resolve(lambda source: source.now())

    def over(self, start_unix_s: float, end_unix_s: float) -> Resolution:
        """The intensity over a run's span, [start, end] in Unix seconds."""
        return self._resolve(lambda source: source.over(start_unix_s, end_unix_s))

    def _resolve(self, ask: Callable[[IntensitySource], Intensity]) -> Resolution:
        attempts: list[Attempt] = []
        for step in self.steps:
            if isinstance(step, Skipped):
                attempts.append(Attempt(step.name, step.label, "skipped", step.reason))
                continue
            try:
                intensity = ask(step)
            except ProviderUnavailable as exc:
                attempts.append(Attempt(step.name, step.label, "failed", exc.reason))
                continue
            except Exception as exc:  # a provider's bug must not cost the user a measurement
                attempts.append(Attempt(step.name, step.label, "failed",
                                        f"unexpected {type(exc).__name__}: {exc}"[:300]))
                continue
            attempts.append(Attempt(step.name, step.label, "used"))
            return Resolution(intensity, tuple(attempts))
        raise AssertionError("the world average always answers")  # pragma: no cover
