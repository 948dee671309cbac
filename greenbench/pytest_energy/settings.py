"""Settings of the pytest plugin: its command-line options and ``@pytest.mark.greenbench``.

Every value is checked once, when pytest configures (options) or when a test's benchmark
starts (marker keywords); a bad value is a one-line error that names what is accepted.

Precedence for the measuring settings: arguments of ``energy_benchmark.pedantic(...)`` >
the test's ``@pytest.mark.greenbench(...)`` > command-line options > the defaults below.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from greenbench import metrics

if TYPE_CHECKING:
    from greenbench.gate import Rule

DEFAULT_STORAGE = ".greenbench"
"""Baselines folder, relative to pytest's rootdir (like ``.pytest_cache``)."""

DEFAULT_ROUNDS = 7
"""Measured rounds per benchmark. Mann-Whitney needs at least 4 per side to ever reach
p < 0.05 (with 3 the smallest p is 0.10, see greenbench.stats); 7 also gives the median a
distribution-free 95% interval (n >= 6) and leaves room for one outlier round."""

DEFAULT_WARMUP_ROUNDS = 1
"""Unmeasured rounds first: caches, allocator, CPU clocks and the CPU load estimate (which
averages the last 0.1 s) settle on the function's own steady state."""

DEFAULT_MIN_TIME_S = 0.2
"""Shortest round, seconds. Raised, per session, to MIN_UPDATES_PER_WINDOW updates of the
slowest sensor in use (1 s for NVML's 100 ms updates)."""

DEFAULT_ALPHA = 0.05
XDIST_MODES = ("skip", "serial")

#: marker keyword -> (type, what it means); budgets are checked against the median per call
MARKER_KEYWORDS: dict[str, tuple[type, str]] = {
    "rounds": (int, "measured rounds"),
    "warmup_rounds": (int, "unmeasured rounds first"),
    "min_time": (float, "shortest round, seconds"),
    "iterations": (int, "calls per round (default: calibrated)"),
    "units": (float, "units (tokens, samples, queries) per call"),
    "unit": (str, "name of the unit"),
    "device": (str, "the device it runs on (cuda:N): its GPUs are charged, no other"),
    "max_energy_j": (float, "budget: energy per call, J"),
    "max_energy_per_unit_j": (float, "budget: energy per unit, J"),
    "max_power_w": (float, "budget: mean power, W"),
    "max_time_s": (float, "budget: time per call, s"),
}

def _budget(key: str, what: str, per: str) -> tuple[str, str, str, str]:
    declared = metrics.BY_KEY[key]  # the unit comes from the one metric registry
    return key, what, declared.unit, per


BUDGETS: dict[str, tuple[str, str, str, str]] = {
    "max_energy_j": _budget("energy_j", "energy", " per call"),
    "max_energy_per_unit_j": _budget("energy_per_unit_j", "energy", " per unit ({unit})"),
    "max_power_w": _budget("power_w", "mean power", ""),
    "max_time_s": _budget("time_s", "time", " per call"),
}
"""Budget keyword -> (per-round metric key, what it is, SI unit, per what)."""


@dataclass(frozen=True)
class Measuring:
    """How one benchmark is measured: rounds, warm-up, round length, units and budgets."""

    rounds: int = DEFAULT_ROUNDS
    warmup_rounds: int = DEFAULT_WARMUP_ROUNDS
    min_time_s: float = DEFAULT_MIN_TIME_S
    iterations: int | None = None
    units: float = 1.0
    unit: str = "calls"
    #: the device the benchmark runs on (None: the session's --greenbench-device)
    device: str | None = None
    #: budget keyword (``max_energy_j``) -> limit in its SI unit
    budgets: dict[str, float] = field(default_factory=dict)

    def merged(self, values: Mapping[str, Any]) -> Measuring:
        """A copy with checked marker or pedantic keywords applied (None values ignored)."""
        given = {k: v for k, v in values.items() if v is not None}
        budgets = {**self.budgets, **{k: float(v) for k, v in given.items() if k in BUDGETS}}
        plain = {k: v for k, v in given.items() if k not in BUDGETS}
        if "min_time" in plain:
            plain["min_time_s"] = plain.pop("min_time")
        return replace(self, budgets=budgets, **plain)


@dataclass(frozen=True)
class Settings:
    """The session's options, checked (see ``greenbench.pytest_plugin`` for their help)."""

    storage: Path
    save: str | None = None
    autosave: bool = False
    #: None: no comparison; else ``latest``, a saved name or number, or a file
    compare: str | None = None
    rules: tuple[Rule, ...] = ()
    alpha: float = DEFAULT_ALPHA
    disabled: bool = False
    measuring: Measuring = field(default_factory=Measuring)
    idle_s: float = 0.0
    xdist: str = "skip"
    wrap_benchmark: bool = False
    device: str = "cpu"
    scope: str = "process"
    include_constants: bool = False

    @property
    def saving(self) -> bool:
        return bool(self.save or self.autosave)


def from_config(config: pytest.Config) -> Settings:
    """The session's settings; raises pytest.UsageError for a bad value, naming the option."""
    opt = config.getoption
    rules = tuple(_rules(opt("greenbench_compare_fail") or []))
    alpha = _fraction(opt("greenbench_alpha"), "--greenbench-alpha")
    rounds = _count(opt("greenbench_rounds"), "--greenbench-rounds", 1, DEFAULT_ROUNDS)
    warmup = _count(opt("greenbench_warmup_rounds"), "--greenbench-warmup-rounds", 0,
                    DEFAULT_WARMUP_ROUNDS)
    min_time = _seconds(opt("greenbench_min_time"), "--greenbench-min-time", DEFAULT_MIN_TIME_S)
    idle = _seconds(opt("greenbench_idle"), "--greenbench-idle", 0.0)
    save = opt("greenbench_save")
    if save is not None and not str(save).strip():
        raise pytest.UsageError("--greenbench-save NAME: give a non-empty name")
    compare = opt("greenbench_compare")
    if rules and compare is None:
        compare = "latest"  # a rule is pointless without a baseline: gate on the latest
    return Settings(
        storage=_storage(config, opt("greenbench_storage")),
        save=save,
        autosave=bool(opt("greenbench_autosave")),
        compare=compare,
        rules=rules,
        alpha=alpha,
        disabled=bool(opt("greenbench_disable")),
        measuring=Measuring(rounds=rounds, warmup_rounds=warmup, min_time_s=min_time),
        idle_s=idle,
        xdist=opt("greenbench_xdist"),
        wrap_benchmark=bool(opt("greenbench_wrap_benchmark")),
        device=_device(opt("greenbench_device")),
        scope=opt("greenbench_scope") or "process",
        include_constants=bool(opt("greenbench_include_constants")),
    )


def _device(value: str | None) -> str:
    from greenbench.attribution import devices_of
    from greenbench.errors import UserError

    if value is None:
        return "cpu"
    try:
        devices_of(value)
    except UserError as e:
        raise pytest.UsageError(f"--greenbench-device: {e}") from None
    return value


def marker_values(marker: pytest.Mark | None) -> dict[str, Any]:
    """The checked keywords of a ``@pytest.mark.greenbench(...)``; ValueError names the
    accepted ones."""
    if marker is None:
        return {}
    if marker.args:
        raise ValueError("@pytest.mark.greenbench takes keywords only, e.g. "
                         "@pytest.mark.greenbench(max_energy_j=2.0, rounds=9)")
    return check_keywords(marker.kwargs, "@pytest.mark.greenbench")


def check_keywords(values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Check measuring/budget keywords (see :data:`MARKER_KEYWORDS`); None values pass."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name not in MARKER_KEYWORDS:
            accepted = ", ".join(f"{k} ({what})" for k, (_, what) in MARKER_KEYWORDS.items())
            raise ValueError(f"{where}: unknown keyword {name!r}; accepted: {accepted}")
        if value is None:
            continue
        kind, what = MARKER_KEYWORDS[name]
        out[name] = _keyword(name, value, kind, what, where)
    return out


# --------------------------------------------------------------------------- helpers


def _keyword(name: str, value: Any, kind: type, what: str, where: str) -> Any:
    bad = ValueError(f"{where}: {name}={value!r}: expected {what}")
    if kind is str:
        if not isinstance(value, str) or not value.strip():
            raise bad
        return value.strip()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad
    if kind is int:
        if int(value) != value:
            raise bad
        minimum = 0 if name == "warmup_rounds" else 1
        if value < minimum:
            raise ValueError(f"{where}: {name}={value!r}: use at least {minimum}")
        return int(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and name != "min_time"):
        raise ValueError(f"{where}: {name}={value!r}: use a positive number ({what})")
    return float(value)


def _rules(texts: list[str]) -> list[Rule]:
    from greenbench.gate import RuleError, parse_rule

    rules = []
    for text in texts:
        try:
            rules.append(parse_rule(text))
        except RuleError as exc:
            raise pytest.UsageError(f"--greenbench-compare-fail {exc}") from None
    return rules


def _storage(config: pytest.Config, value: str | None) -> Path:
    path = Path(value or DEFAULT_STORAGE).expanduser()
    # relative to the rootdir, so that running pytest from a subfolder finds the same baselines
    return path if path.is_absolute() else config.rootpath / path


def _fraction(value: float | None, option: str) -> float:
    if value is None:
        return DEFAULT_ALPHA
    if not 0.0 < value < 1.0:
        raise pytest.UsageError(f"{option} {value:g}: use a number between 0 and 1 "
                                "(0.05 is usual)")
    return value


def _count(value: int | None, option: str, minimum: int, default: int) -> int:
    if value is None:
        return default
    if value < minimum:
        raise pytest.UsageError(f"{option} {value}: use at least {minimum}")
    return value


def _seconds(value: float | None, option: str, default: float) -> float:
    if value is None:
        return default
    if not math.isfinite(value) or value < 0:
        raise pytest.UsageError(f"{option} {value:g}: use a number of seconds >= 0")
    return value
