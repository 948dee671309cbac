"""greenbench's built-in workloads, registered through the ``greenbench.workloads`` entry point.

Each module in this package lists its workloads in ``WORKLOADS`` and may add cases to suites in
``SUITES`` (suites of the same name merge, so every module adds its own small case to
``quick``). Modules must not import torch at import time: ``greenbench workloads`` lists them
without loading it; torch is imported inside ``setup``.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any


def registry() -> list[Any]:
    """Every built-in workload and suite (the entry point's target)."""
    items: list[Any] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        items.extend(getattr(module, "WORKLOADS", ()))
        items.extend(getattr(module, "SUITES", ()))
    return items
