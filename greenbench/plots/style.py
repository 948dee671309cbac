"""Publication style: one column wide, 8 pt text, fonts embedded, colour-blind-safe colours.

Every figure is built inside :func:`context` and saved with :func:`save_figure`, which applies
the same settings, so a PDF or SVG keeps its text as real text (TrueType fonts embedded in PDF,
``<text>`` in SVG) that a journal's production system can edit and search. Figures are plain
``matplotlib.figure.Figure`` objects on an Agg canvas: pyplot (and its global GUI backend) is
never touched, so plotting works the same in a terminal, a notebook or a CI job.

matplotlib is imported inside the functions, never at module import.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: one column of a two-column paper (IEEE, ACM, NeurIPS are 3.25-3.5 in)
COLUMN_WIDTH_IN = 3.5
#: the full text width of a two-column paper
DOUBLE_WIDTH_IN = 7.0
FONT_PT = 8
SMALL_PT = 7
NOTE_PT = 6
#: raster resolution of PNG output (PDF and SVG are vector)
PNG_DPI = 300
FORMATS = ("pdf", "svg", "png")

#: Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour
#: vision deficiency. Ordered most-distinct first; yellow comes late because it is faint on white.
OKABE_ITO = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "bluish green": "#009E73",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
    "sky blue": "#56B4E9",
    "yellow": "#F0E442",
    "black": "#000000",
}
PALETTE = tuple(OKABE_ITO.values())
#: a second cue besides colour, so that series survive greyscale printing
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", "-.", ":")

#: estimated figures are hatched (bars) or drawn with open markers / dashed lines
ESTIMATE_HATCH = "////"
ESTIMATE_LINESTYLE = "--"

#: the same colour for a hardware domain in every figure (trace, breakdown)
DOMAIN_COLOURS = {
    "CPU": OKABE_ITO["blue"],
    "DRAM": OKABE_ITO["orange"],
    "GPU": OKABE_ITO["bluish green"],
    "system": OKABE_ITO["reddish purple"],
}
TOTAL_COLOUR = OKABE_ITO["black"]
IDLE_COLOUR = "#BBBBBB"
NET_COLOUR = OKABE_ITO["vermillion"]
EMBODIED_COLOUR = OKABE_ITO["sky blue"]
#: light fills behind a power trace; drawn translucent, so the lines stay readable
PHASE_COLOURS = {
    "warmup": "#999999",
    "idle": OKABE_ITO["sky blue"],
    "repeat": OKABE_ITO["yellow"],
}

RC: dict[str, Any] = {
    "font.size": FONT_PT,
    "axes.titlesize": FONT_PT,
    "axes.labelsize": FONT_PT,
    "xtick.labelsize": SMALL_PT,
    "ytick.labelsize": SMALL_PT,
    "legend.fontsize": SMALL_PT,
    "legend.frameon": False,
    "legend.handlelength": 1.6,
    "figure.titlesize": FONT_PT,
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "grid.linewidth": 0.4,
    "grid.alpha": 0.4,
    "lines.linewidth": 1.0,
    "lines.markersize": 3.5,
    "errorbar.capsize": 1.5,
    "hatch.linewidth": 0.5,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    # TrueType (42), not Type 3: editable, searchable text that journals accept.
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    # Text stays text in SVG instead of becoming paths.
    "svg.fonttype": "none",
    # A fixed salt makes SVG element ids, and so the whole file, reproducible.
    "svg.hashsalt": "greenbench",
    # No "tight" bounding box: constrained layout already fits everything, and a figure
    # must come out exactly as wide as asked (one column), not wider.
    "savefig.dpi": PNG_DPI,
}


@contextmanager
def context() -> Iterator[None]:
    """Apply the publication style while figures are built and saved."""
    import matplotlib as mpl
    from cycler import cycler

    rc = {**RC, "axes.prop_cycle": cycler(color=PALETTE)}
    with mpl.rc_context(cast(Any, rc)):  # matplotlib types keys as a Literal
        yield


def new_figure(width_in: float, height_in: float) -> Figure:
    """A constrained-layout Figure on an Agg canvas; call inside :func:`context`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def marker(i: int) -> str:
    return MARKERS[i % len(MARKERS)]


def add_note(fig: Figure, lines: list[str]) -> None:
    """Small grey text under the plot: what the figure leaves out and why (never silently)."""
    if lines:
        width = chars_per_line(fig.get_figwidth(), NOTE_PT)
        text = "\n".join(textwrap.fill(line, width) for line in lines)
        fig.supxlabel(text, fontsize=NOTE_PT, color="#555555", ha="center")


def chars_per_line(width_in: float, size_pt: float) -> int:
    """How many characters of DejaVu Sans at ``size_pt`` fit in ``width_in`` (average glyph
    about 0.55 em wide), so that text is wrapped instead of widening the figure."""
    return max(20, int(width_in * 72 / (0.55 * size_pt)))


def legend_columns(labels: list[str], width_in: float, size_pt: float = SMALL_PT) -> int:
    """As many legend columns as fit across ``width_in`` (each as wide as the longest label
    plus its handle), at least one."""
    if not labels:
        return 1
    entry_in = (max(len(label) for label in labels) * 0.55 + 3.5) * size_pt / 72
    return max(1, min(len(labels), int(width_in / entry_in)))


def say_empty(ax: Axes, text: str) -> None:
    """Write ``text`` in the middle of an axes that has nothing to show."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center",
            fontsize=SMALL_PT, wrap=True, color="#333333")


def save_figure(fig: Figure, path: str | Path, fmt: str | None = None,
                description: str = "") -> Path:
    """Write ``fig`` as PDF, SVG or PNG (from ``fmt`` or the file's suffix); returns the path.

    Creation dates are left out so that the same results give byte-identical PDF and SVG files.
    """
    p = Path(path)
    fmt = fmt or p.suffix.lstrip(".").lower()
    with context():
        fig.savefig(p, format=fmt, metadata=_metadata(fmt, description))
    return p


def figure_bytes(fig: Figure, fmt: str = "png", dpi: int | None = None) -> bytes:
    """The encoded figure, for embedding in a report."""
    buf = io.BytesIO()
    with context():
        fig.savefig(buf, format=fmt, metadata=_metadata(fmt, ""), dpi=dpi or PNG_DPI)
    return buf.getvalue()


def _metadata(fmt: str, description: str) -> dict[str, Any]:
    creator = "greenbench (matplotlib)"
    if fmt == "pdf":
        return {"Creator": creator, "Subject": description, "CreationDate": None}
    if fmt == "svg":
        return {"Creator": creator, "Description": description, "Date": None}
    return {"Software": creator, "Description": description}
