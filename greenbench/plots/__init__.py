"""Publication figures from stored runs (matplotlib, imported only when a figure is drawn).

Every ``plot_*`` function takes RunRecords and returns a ``matplotlib.figure.Figure`` on an
Agg canvas, styled for one column of a paper (see :mod:`greenbench.plots.style`):

- :func:`plot_trace` -- power over time per domain for one case, phases shaded;
- :func:`plot_bars` -- a metric by case or variant with 95% confidence intervals;
- :func:`plot_scaling` -- a metric against a swept parameter, log-log, fitted exponents;
- :func:`plot_pareto` -- energy per unit against quality (or throughput), Pareto front drawn;
- :func:`plot_breakdown` -- energy by domain, idle and net parts, and emissions.

:func:`render` draws one kind for the ``greenbench plot`` command, :func:`write_figures` saves
them, :func:`save_figure` saves one. Names load lazily so that importing this package (and
``greenbench plot --help``) loads neither matplotlib nor numpy.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

KINDS = ("trace", "bars", "scaling", "pareto", "breakdown")

_LAZY = {
    "plot_trace": "greenbench.plots.trace",
    "plot_bars": "greenbench.plots.bars",
    "plot_scaling": "greenbench.plots.scaling",
    "scaling_series": "greenbench.plots.scaling",
    "fit_power_law": "greenbench.plots.scaling",
    "PowerFit": "greenbench.plots.scaling",
    "plot_pareto": "greenbench.plots.pareto",
    "pareto_front": "greenbench.plots.pareto",
    "plot_breakdown": "greenbench.plots.breakdown",
    "PlotRequest": "greenbench.plots.request",
    "render": "greenbench.plots.request",
    "write_figures": "greenbench.plots.request",
    "save_figure": "greenbench.plots.style",
    "figure_bytes": "greenbench.plots.style",
}

__all__ = ["KINDS", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'greenbench.plots' has no attribute {name!r}")
    return getattr(import_module(module), name)
