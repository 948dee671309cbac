"""greenbench's built-in workloads, registered through the ``greenbench.workloads`` entry point.

Each module in this package lists its workloads in ``WORKLOADS``, may add suites in ``SUITES``,
and may name one small case for the ``quick`` suite (the default of ``greenbench run``, a smoke
test of the measuring chain) in ``QUICK``; :func:`registry` builds that suite and its
description from them, so the description always names what it runs. Modules must not import
torch at import time: ``greenbench workloads`` lists them without loading it; torch is
imported inside ``setup``.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from greenbench.workload import Suite


def registry() -> list[Any]:
    """Every built-in workload and suite (the entry point's target)."""
    items: list[Any] = []
    quick: list[tuple[str, dict[str, list[Any]]]] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        items.extend(getattr(module, "WORKLOADS", ()))
        items.extend(getattr(module, "SUITES", ()))
        if hasattr(module, "QUICK"):
            quick.append(module.QUICK)
    total = sum(not isinstance(item, Suite) for item in items)
    items.append(Suite("quick", quick_description([w for w, _ in quick], total), quick))
    return items


def quick_description(workloads: list[str], total: int) -> str:
    """``A smoke test: one small case each of a, b and c (3 of the 10 built-in workloads)``."""
    named = ", ".join(workloads[:-1]) + " and " + workloads[-1] if len(workloads) > 1 \
        else workloads[0]
    return (f"A smoke test: one small case each of {named} ({len(workloads)} of the {total} "
            "built-in workloads)")
