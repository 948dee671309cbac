"""From a ``greenbench plot`` request to figures, and from figures to files.

File names say what a figure is and which runs it comes from (``bars-<run id>.pdf``,
``trace-<run id>-case3.pdf``), so a figure can always be traced back to stored results.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from greenbench.errors import UserError
from greenbench.plots import KINDS, style
from greenbench.plots.data import select_cases
from greenbench.records import RunRecord

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DEFAULT_DIR = "plots"
_RUNS_IN_NAME = 3

# Which options each kind reads; anything else given is a mistake worth a one-line error.
_OPTIONS = {
    "trace": {"case", "all_cases"},
    "bars": {"case", "metric", "x"},
    "scaling": {"case", "metric", "x"},
    "pareto": {"case", "metric", "against"},
    "breakdown": {"case"},
}
_FLAGS = {"case": "--case", "all_cases": "--all", "metric": "--metric", "x": "--x",
          "against": "--against"}


@dataclass(frozen=True)
class PlotRequest:
    """One ``greenbench plot`` invocation: the kind and its options (None: the default)."""

    kind: str
    metric: str | None = None
    x: str | None = None
    case: str | None = None
    all_cases: bool = False
    against: str | None = None
    width_in: float = style.COLUMN_WIDTH_IN

    def check(self) -> None:
        """UserError for an unknown kind or an option that kind does not use."""
        if self.kind not in KINDS:
            raise UserError(f"--kind {self.kind}: use one of {', '.join(KINDS)}")
        given = [name for name in _FLAGS if getattr(self, name) not in (None, False)]
        unused = [_FLAGS[n] for n in given if n not in _OPTIONS[self.kind]]
        if unused:
            raise UserError(f"{unused[0]} does not apply to --kind {self.kind}")
        if not 1.0 <= self.width_in <= 20.0:
            raise UserError(f"--width {self.width_in:g}: use inches between 1 and 20 "
                            f"(3.5 for one column, 7 for two)")


def render(runs: Sequence[RunRecord], request: PlotRequest) -> list[tuple[str, Figure]]:
    """(file stem, figure) for each figure the request asks for."""
    from dataclasses import replace

    from greenbench.plots.plain_text import optional, runs_for_figures

    request.check()
    runs = runs_for_figures(runs)
    r = replace(request, metric=optional(request.metric), x=optional(request.x),
                case=optional(request.case), against=optional(request.against))
    kind, width = request.kind, request.width_in
    if kind == "trace":
        return _traces(runs, r.case, r.all_cases, width)
    stem = f"{kind}-{runs_tag(runs)}"
    if kind == "bars":
        from greenbench.plots.bars import DEFAULT_METRIC, plot_bars

        return [(stem, plot_bars(runs, r.metric or DEFAULT_METRIC, by=r.x, selector=r.case,
                                 width_in=width))]
    if kind == "scaling":
        from greenbench.plots.scaling import DEFAULT_METRIC as SCALING_METRIC
        from greenbench.plots.scaling import plot_scaling

        return [(stem, plot_scaling(runs, r.x, r.metric or SCALING_METRIC, selector=r.case,
                                    width_in=width))]
    if kind == "pareto":
        from greenbench.plots.pareto import DEFAULT_METRIC as PARETO_METRIC
        from greenbench.plots.pareto import plot_pareto

        return [(stem, plot_pareto(runs, r.metric or PARETO_METRIC, against=r.against or "auto",
                                   selector=r.case, width_in=width))]
    from greenbench.plots.breakdown import plot_breakdown

    return [(stem, plot_breakdown(runs, selector=r.case, width_in=width))]


def write_figures(figures: Sequence[tuple[str, Figure]], out_dir: str | Path,
                  fmt: str = "pdf", description: str = "") -> list[Path]:
    """Save each figure as ``out_dir/<stem>.<fmt>``; UserError when the folder is unwritable."""
    if fmt not in style.FORMATS:
        raise UserError(f"--format {fmt}: use one of {', '.join(style.FORMATS)}")
    folder = writable_dir(out_dir)
    paths = []
    for stem, fig in figures:
        path = folder / f"{stem}.{fmt}"
        try:
            paths.append(style.save_figure(fig, path, fmt, description))
        except OSError as exc:
            raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    return paths


def writable_dir(out_dir: str | Path) -> Path:
    """``out_dir``, created if missing, after proving a file can be written there."""
    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # access() says yes to root even on a read-only mount: try a real write instead.
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".greenbench-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UserError(f"cannot write to output folder {folder}: "
                        f"{exc.strerror or exc}") from None
    return folder


def runs_tag(runs: Sequence[RunRecord]) -> str:
    """The run ids for a file name: ``A``, ``A+B``, or ``A+2-more`` beyond three."""
    ids = list(dict.fromkeys(r.id for r in runs))
    if len(ids) > _RUNS_IN_NAME:
        return f"{ids[0]}+{len(ids) - 1}-more"
    return "+".join(ids)


def _traces(runs: Sequence[RunRecord], case: str | None, all_cases: bool,
            width_in: float) -> list[tuple[str, Figure]]:
    from greenbench.plots.trace import plot_trace

    refs = [r for r in select_cases(runs, case) if r.case.trace and r.case.trace.get("t_s")]
    if not refs:
        raise UserError("no chosen case has a power trace recorded: nothing to draw")
    chosen = refs if all_cases else refs[:1]
    return [(f"trace-{r.run.id}-case{r.index}", plot_trace(r.run, r.index, width_in=width_in))
            for r in chosen]
