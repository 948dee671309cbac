"""Energy figures in pytest-benchmark's results, for tests that use its ``benchmark`` fixture.

pytest-benchmark times rounds far shorter than any energy sensor can resolve (microseconds
against 1-100 ms updates), so energy is not measured per round. Instead one meter window
spans the test's call (calibration, warm-up and rounds), and the energy *per call* is the
window's mean power times pytest-benchmark's mean time per call. That lands in
``benchmark.extra_info["greenbench"]`` and so in pytest-benchmark's JSON (``--benchmark-json``,
``--benchmark-autosave``)::

    "extra_info": {"greenbench": {"energy_j": 0.0021, "power_w": 16.7, "method": "estimate",
                                  "estimate": true, ...}}

Opt in per test with ``@pytest.mark.greenbench`` (budgets on it are checked too) or for the
whole session with ``--greenbench-wrap-benchmark``. These figures are not saved in greenbench
baselines nor gated: one window per test gives one value, and the gate needs rounds (use
``energy_benchmark`` for that).
"""

from __future__ import annotations

from typing import Any

from greenbench.measurement import Measurement

KEY = "greenbench"


def wants_wrap(item: Any, session_wide: bool) -> bool:
    """True when this test uses pytest-benchmark's fixture and asked for energy figures."""
    if "benchmark" not in getattr(item, "fixturenames", ()):
        return False
    return session_wide or item.get_closest_marker("greenbench") is not None


def fixture_of(item: Any) -> Any | None:
    """The test's pytest-benchmark fixture, when it is one and is enabled."""
    bench = getattr(item, "funcargs", {}).get("benchmark")
    if bench is None or not hasattr(bench, "extra_info") or getattr(bench, "disabled", False):
        return None
    return bench


def extra_info(m: Measurement, bench: Any, sensors_summary: str) -> dict[str, Any]:
    """What goes into ``extra_info["greenbench"]``; energy and power in J and W, per call."""
    mean_s = _mean_call_s(bench)
    power = m.mean_power_w
    energy = power * mean_s if power is not None and mean_s is not None else None
    return {
        "energy_j": energy,
        "power_w": power,
        "time_s": mean_s,
        "method": m.method,
        "estimate": m.is_estimate,
        "how": "mean power over the benchmark x pytest-benchmark's mean time per call",
        "window_energy_j": m.energy_j,
        "window_s": m.duration_s,
        "domains": {d.domain: d.energy_j for d in m.domains},
        "sensors": sensors_summary,
        "warnings": list(m.warnings),
    }


def _mean_call_s(bench: Any) -> float | None:
    """pytest-benchmark's mean seconds per call (its Metadata.stats.mean), when it ran."""
    stats = getattr(getattr(bench, "stats", None), "stats", None)
    mean = getattr(stats, "mean", None)
    return float(mean) if isinstance(mean, (int, float)) else None
