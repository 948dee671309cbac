"""Options and helpers shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from greenbench.errors import UserError


def sensor_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--cpu-tdp WATTS``: override the TDP the CPU estimate uses."""
    return click.option(
        "--cpu-tdp",
        type=float,
        default=None,
        metavar="WATTS",
        help="CPU TDP for the CPU power estimate (when there is no RAPL); "
        "default from CodeCarbon's table by model name, or 4 W per thread.",
    )(f)


def interval_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--interval",
        "interval_s",
        type=float,
        default=None,
        metavar="S",
        help="Sampling interval in seconds (default 0.1; 0.01 for 100 Hz).",
    )(f)


def check_interval(interval_s: float | None) -> float:
    from greenbench.meter import DEFAULT_INTERVAL_S

    if interval_s is None:
        return DEFAULT_INTERVAL_S
    if not 0.001 <= interval_s <= 60:
        raise UserError(f"--interval {interval_s}: use a value between 0.001 and 60 seconds")
    return interval_s


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)
