"""The runs a leaderboard is built from: every run of each store, or an exported run file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from greenbench.errors import UserError
from greenbench.records import RunRecord


def read_runs(sources: Sequence[str]) -> list[RunRecord]:
    """Every run of every source, each once (the same run in two stores is one run), oldest
    first. A source is a store (a path, or a URL the store opens) or an exported run JSON."""
    runs: dict[str, RunRecord] = {}
    for source in sources:
        for run in _read(source):
            runs.setdefault(run.id, run)
    return sorted(runs.values(), key=lambda r: (r.created_utc, r.id))


def _read(source: str) -> list[RunRecord]:
    from greenbench.store import Store

    path = Path(source)
    if path.is_file() and path.suffix.lower() == ".json":
        from greenbench.results_format import read_document_file

        return [read_document_file(path)]
    if "://" not in source and not path.exists():
        raise UserError(f"{source}: no such store or exported run; give a store made by "
                        "`greenbench run` or a file from `greenbench results export`")
    with Store(source, readonly=True) as store:
        return [store.get_run(s.id) for s in store.list_runs()]
