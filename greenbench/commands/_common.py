"""Options and helpers shared by several commands."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from greenbench.commands._options import FINITE
from greenbench.errors import UserError
from greenbench.settings import option_default


def sensor_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--cpu-tdp WATTS``: override the TDP the CPU estimate uses."""
    return click.option(
        "--cpu-tdp",
        type=FINITE,
        default=option_default("cpu-tdp"),
        metavar="WATTS",
        help="CPU TDP for the CPU power estimate (when there is no RAPL); "
        "default $GREENBENCH_CPU_TDP, else cpu-tdp in the settings files, else from "
        "CodeCarbon's table by model name, or 4 W per thread.",
    )(f)


def mlflow_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--mlflow``: also log the results to MLflow (greenbench.integrations.mlflow)."""
    return click.option(
        "--mlflow", "to_mlflow", is_flag=True,
        help="Also log the results to MLflow ($MLFLOW_TRACKING_URI, else sqlite:///mlflow.db "
             "here; or set GREENBENCH_MLFLOW=1).")(f)


def interval_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--interval",
        "interval_s",
        type=FINITE,
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


def writable_file(path: str | None, option: str = "-o",
                  store: str | Path | None = None) -> Path | None:
    """Check an output path before measuring, so a typo does not cost the measurement; a
    path that is the results store (``store``, else the default one) or any of its files is
    refused."""
    from greenbench.output_file import refuse_store

    if path is None:
        return None
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"{option} {path}: cannot write: folder {parent} does not exist")
    if p.is_dir():
        raise UserError(f"{option} {path}: is a folder; give a file path")
    refuse_store(p, option, store)
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise UserError(f"{option} {path}: not writable; choose another path")
    return p


def sensor_lines(probes: list[Any]) -> list[str]:
    """One line per sensor for ``-v``: what each domain is read with, or why it is not."""
    from greenbench.units import method_label

    lines = []
    for p in probes:
        how = method_label(p.kind.value, p.source)
        if p.available:
            period = p.sensor.update_period_s
            lines.append(f"sensor {p.domain}: {how}, updates every {period:g} s")
        else:
            lines.append(f"sensor {p.domain}: {how} not used: {p.reason}")
    return lines


def fan_out(*listeners: Callable[[Any], None] | None) -> Callable[[Any], None]:
    """One event callback that calls each of ``listeners`` (None ones left out) in turn."""
    chosen = [listener for listener in listeners if listener is not None]

    def call(event: Any) -> None:
        for listener in chosen:
            listener(event)
    return call


def run_origin(ref: str, store_path: str | None) -> str:
    """Where ``load_run(ref, store_path)`` reads a run from, for ``-v``."""
    from greenbench.store import store_path as chosen_store

    return f"file {ref}" if Path(ref).is_file() else f"store {chosen_store(store_path)}"
