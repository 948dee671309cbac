"""User text in figures, drawn as typed: every ``$`` escaped for matplotlib's mathtext.

matplotlib reads text between two ``$`` signs as math: a workload, parameter value or label
such as ``costs $5 to $10`` would come out in math italic, and a lone ``$`` in a label that
also holds greenbench's own math (``CO$_2$e``) fails the whole figure. Figures are drawn from
copies of the runs whose text has every ``$`` escaped, and the request's names (case filter,
metric, parameter) are escaped alike, so that they still find what they name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from greenbench.records import RunRecord


def escaped(text: str) -> str:
    """``text`` with each ``$`` escaped (``\\$``), which matplotlib draws as a plain ``$``."""
    return text.replace("$", r"\$")


def optional(text: str | None) -> str | None:
    return None if text is None else escaped(text)


def runs_for_figures(runs: Sequence[RunRecord]) -> list[RunRecord]:
    """Copies of ``runs`` with every string (and every key) escaped."""
    return [RunRecord.from_dict(_escape(run.to_dict())) for run in runs]


def _escape(value: Any) -> Any:
    if isinstance(value, str):
        return escaped(value)
    if isinstance(value, dict):
        return {_escape(k): _escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape(v) for v in value]
    return value
