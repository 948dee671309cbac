"""Options that say what a measurement is charged for: whose CPU time an estimate counts, and
whether constant models (RAM from its size) enter totals. Shared by ``run`` and ``measure``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from greenbench.sensors.cpu_time import PROCESS, SCOPES


def accounting_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--include-constants", is_flag=True, default=False,
        help="Add constant models (RAM power from its size) to the totals; by default they "
             "are shown beside them, on a line of their own.",
    )(f)
    return click.option(
        "--scope", type=click.Choice(SCOPES), default=PROCESS,
        show_default=True,
        help="Whose CPU time a CPU estimate charges: the measured process tree, one thread, "
             "or the whole machine (which charges other people's work too).",
    )(f)
