"""greenbench: measure what machine-learning work costs in energy and carbon.

The public API is imported lazily so that ``import greenbench`` (and ``greenbench --help``)
stays fast: nothing heavy (torch, matplotlib, codecarbon) loads until it is used.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Meter": "greenbench.meter",
    "measure": "greenbench.emissions",
    "Measurement": "greenbench.measurement",
    "Workload": "greenbench.workload",
    "Param": "greenbench.workload",
    "Suite": "greenbench.workload",
    "load_results": "greenbench.store",
}

__all__ = ["__version__", "workload", *_LAZY]

# The decorator shares its name with its module; importing it here (the module is light,
# standard library only) binds the name to the decorator for good.
from greenbench.workload import workload  # noqa: E402


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'greenbench' has no attribute {name!r}")
    return getattr(import_module(module), name)
