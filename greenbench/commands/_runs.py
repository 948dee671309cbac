"""What the commands that read stored runs share: ``--store``, and finding a run by reference."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from greenbench.commands._options import OUTPUT_FILE
from greenbench.records import RunRecord
from greenbench.settings import option_default


def store_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--store PATH``: the results store (default $GREENBENCH_STORE or
    results/greenbench.sqlite)."""
    return click.option(
        "--store", "store_path", type=OUTPUT_FILE,
        default=option_default("store"), metavar="PATH",
        help="Results store: a file, or postgresql://user@host/db (default: "
             "$GREENBENCH_STORE, else store in the settings files, else "
             "results/greenbench.sqlite; see greenbench config).",
    )(f)


def load_run(ref: str, store_path: str | None) -> RunRecord:
    """A stored run by reference (an id, a unique prefix, ``latest``, ``latest~N``), or an
    exported run when ``ref`` names an existing file (pytest plugin baselines are such files)."""
    from greenbench.results_format import read_document_file
    from greenbench.store import Store

    if Path(ref).is_file():
        return read_document_file(ref)
    with Store(store_path, readonly=True) as store:
        return store.get_run(ref)
