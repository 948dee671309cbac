"""Carbon accounting: intensity providers with a fallback chain, PUE, embodied emissions, SCI,
and carbon-aware timing. Names are imported lazily, so importing this package loads neither
codecarbon nor pandas; CodeCarbon's tables are read only when a static intensity is needed.

Modules, one concept each: ``intensity`` (the value object), ``region`` (region codes),
``codecarbon_data`` (the one adapter over CodeCarbon's data), ``static``, ``timeseries``,
``live`` (+ ``fetch``, ``cache``), ``chain``, ``embodied``, ``footprint``, ``window``, and
``options`` (click options and ``resolve_carbon`` for run/measure).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "Intensity": "greenbench.carbon.intensity",
    "Attempt": "greenbench.carbon.intensity",
    "Region": "greenbench.carbon.region",
    "parse_region": "greenbench.carbon.region",
    "Chain": "greenbench.carbon.chain",
    "Resolution": "greenbench.carbon.chain",
    "Series": "greenbench.carbon.timeseries",
    "load_series": "greenbench.carbon.timeseries",
    "Embodied": "greenbench.carbon.embodied",
    "DeviceUse": "greenbench.carbon.embodied",
    "Footprint": "greenbench.carbon.footprint",
    "best_window": "greenbench.carbon.window",
    "CarbonSetup": "greenbench.carbon.options",
    "carbon_options": "greenbench.carbon.options",
    "resolve_carbon": "greenbench.carbon.options",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'greenbench.carbon' has no attribute {name!r}")
    return getattr(import_module(module), name)
