"""Write the leaderboard site into a folder:

- ``index.html``: the page (greenbench.leaderboard.page), with ``leaderboard.css`` and
  ``leaderboard.js`` beside it (package data, copied as they are);
- ``data.json``: every row, and every run left out with the rules it fails;
- ``runs/<id>/index.html``: each shown run's report (greenbench.report's HTML writer).

Nothing refers outside the folder, so it can be opened from ``file://`` or copied to any
static web host as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.resources import files
from pathlib import Path

from greenbench import __version__
from greenbench.errors import UserError
from greenbench.leaderboard.entries import Entry, report_path, run_entries
from greenbench.leaderboard.page import LeftOut, render_page
from greenbench.records import RunRecord

ASSETS = ("leaderboard.css", "leaderboard.js")
DATA_FORMAT = "greenbench-leaderboard"


@dataclass(frozen=True)
class Built:
    index: Path
    entries: list[Entry]
    left_out: list[LeftOut]
    reports: int


def build_site(runs: Sequence[RunRecord], out_dir: str | Path, *, figures: bool = True,
               built_utc: str | None = None,
               on_report: Callable[[RunRecord], None] = lambda run: None) -> Built:
    """Check every run, and write the page of those that pass into ``out_dir``."""
    from greenbench.submission import check_run

    out = _folder(Path(out_dir))
    built_utc = built_utc or datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    shown: list[RunRecord] = []
    left_out: list[LeftOut] = []
    for run in runs:
        failures = check_run(run)
        if failures:
            left_out.append(LeftOut(run.id, run.label, [str(f) for f in failures]))
        else:
            shown.append(run)
    entries = [e for run in shown for e in run_entries(run)]
    templates = files("greenbench.leaderboard") / "templates"
    page = render_page(entries, left_out, built_utc=built_utc, runs=len(runs),
                       version=__version__,
                       template=(templates / "page.html").read_text(encoding="utf-8"))
    _write(out / "index.html", page)
    for name in ASSETS:
        _write(out / name, (templates / name).read_text(encoding="utf-8"))
    _write(out / "data.json", json.dumps(_data(entries, left_out, built_utc), indent=2,
                                         allow_nan=False) + "\n")
    for run in shown:
        on_report(run)
        _report(run, out / report_path(run.id), figures)
    return Built(out / "index.html", entries, left_out, len(shown))


def _data(entries: Sequence[Entry], left_out: Sequence[LeftOut], built_utc: str) -> dict:
    from greenbench.results_format import json_safe

    return json_safe({
        "format": DATA_FORMAT, "built_utc": built_utc, "greenbench": __version__,
        "results": [e.to_dict() for e in entries],
        "left_out": [{"run_id": r.run_id, "label": r.label, "failures": r.failures}
                     for r in left_out],
    })


def _report(run: RunRecord, path: Path, figures: bool) -> None:
    from greenbench.report.write import write_report

    write_report([run], path, figures=figures)


def _folder(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise UserError(f"-o {path}: not a folder; name a folder for the site (it is created "
                        "if missing)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"-o {path}: cannot create the folder: {exc.strerror or exc}") from None
    return path


def _write(path: Path, text: str) -> None:
    from greenbench.output_file import write_atomically

    write_atomically(path, text)
