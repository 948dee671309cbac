"""Reports that tell a reviewer exactly how the numbers were obtained.

- :func:`build_report` -- a format-free Document: summary table, the figures that fit the data,
  methodology, carbon assumptions, EU AI Act Annex XI energy and a Hugging Face
  ``co2_eq_emissions`` block;
- :func:`render_html` (one self-contained file) and :func:`render_markdown` (text plus PNG
  figures beside it) render it;
- :func:`latex_table` -- a booktabs table of the main results;
- :func:`write_report` -- what ``greenbench report`` calls.

Names load lazily: importing this package loads neither matplotlib nor numpy.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "build_report": "greenbench.report.build",
    "render_html": "greenbench.report.html",
    "render_markdown": "greenbench.report.markdown",
    "latex_table": "greenbench.report.latex",
    "write_report": "greenbench.report.write",
    "report_format": "greenbench.report.write",
    "Document": "greenbench.report.document",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'greenbench.report' has no attribute {name!r}")
    return getattr(import_module(module), name)
