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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

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
ESTIMATE_LINESTYLE: Final = "--"

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
    """The marker of series ``i``: with :func:`colour`, a pair no other of the first 64
    series has (past the palette's length the markers shift by one against the colours)."""
    return MARKERS[(i + i // len(PALETTE)) % len(MARKERS)]


def add_note(fig: Figure, lines: list[str]) -> None:
    """Small grey text under the plot: what the figure leaves out and why (never silently).

    Each line is wrapped to the figure's width (measured in the font, not guessed), so a long
    note adds lines instead of running off the page."""
    if lines:
        width = fig.get_figwidth() - 2 * _EDGE_IN
        text = "\n".join(wrap(line, width, NOTE_PT) for line in lines)
        fig.supxlabel(text, fontsize=NOTE_PT, color="#555555", ha="center")


#: a little room kept free at the figure's edges, so nothing touches them
_EDGE_IN = 0.04
#: legend geometry in em (matplotlib's defaults, and RC's handlelength)
_HANDLE_EM = 1.6
_HANDLE_PAD_EM = 0.8
_COLUMN_SPACING_EM = 2.0
_BORDER_EM = 0.5  # borderpad, and a little to spare


def text_width_in(text: str, size_pt: float = SMALL_PT) -> float:
    """The width of ``text`` in inches, in the figures' font at ``size_pt`` (widest line)."""
    from matplotlib.cbook import is_math_text
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    with context():
        prop = FontProperties(size=size_pt)
        widths = []
        for line in text.split("\n") or [""]:
            math = is_math_text(line)  # as matplotlib decides: escaped "\$" is no math
            shown = line if math else line.replace(r"\$", "$")
            w, _, _ = text_to_path.get_text_width_height_descent(shown, prop, ismath=math)
            widths.append(w)
    return max(widths) / 72 * 1.03  # hinting at 300 dpi makes text a little wider


def wrap(text: str, width_in: float, size_pt: float = SMALL_PT,
         max_lines: int | None = None) -> str:
    """``text`` broken into lines no wider than ``width_in``: at ", " and spaces first, inside
    a word only when it alone is too wide; beyond ``max_lines`` the last line ends in "…"."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines += _wrap_paragraph(paragraph, width_in, size_pt)
    if max_lines is not None and len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1].rstrip(" ,")
        while last and text_width_in(last + "…", size_pt) > width_in:
            last = last[:-1].rstrip(" ,")
        lines[-1] = last + "…"
    return "\n".join(lines)


def _wrap_paragraph(text: str, width_in: float, size_pt: float) -> list[str]:
    import re

    if text_width_in(text, size_pt) <= width_in:
        return [text]
    tokens = re.split(r"(?<= )", text)  # "a, " "b=1, " "c": the separator stays on the left
    lines: list[str] = []
    line = ""
    for token in tokens:
        if line and text_width_in((line + token).rstrip(), size_pt) > width_in:
            lines.append(line.rstrip())
            line = ""
        line += token
        while text_width_in(line.rstrip(), size_pt) > width_in and len(line.rstrip()) > 1:
            # one word wider than the line: cut it where it stops fitting
            cut = len(line.rstrip()) - 1
            while cut > 1 and text_width_in(line[:cut], size_pt) > width_in:
                cut -= 1
            lines.append(line[:cut])
            line = line[cut:]
    if line.strip():
        lines.append(line.rstrip())
    return lines


def legend_columns(labels: list[str], width_in: float, size_pt: float = SMALL_PT,
                   column_spacing_em: float = _COLUMN_SPACING_EM) -> int:
    """As many legend columns as fit across ``width_in``, at least one; labels are measured,
    and split into columns as matplotlib splits them (``numpy.array_split``: top to bottom,
    the first columns one entry longer)."""
    if not labels:
        return 1
    em = size_pt / 72
    widths = [text_width_in(label, size_pt) for label in labels]
    best = 1
    for ncols in range(1, len(labels) + 1):
        size, extra = divmod(len(labels), ncols)
        columns, start = [], 0
        for c in range(ncols):
            end = start + size + (c < extra)
            columns.append(widths[start:end])
            start = end
        total = sum(max(c) + (_HANDLE_EM + _HANDLE_PAD_EM) * em for c in columns) \
            + (len(columns) - 1) * column_spacing_em * em + 2 * _BORDER_EM * em
        if total <= width_in:
            best = ncols
    return best


def legend_label(label: str, width_in: float, size_pt: float = SMALL_PT) -> str:
    """A legend entry wrapped so that, with its handle, it fits across ``width_in``."""
    em = size_pt / 72
    return wrap(label, width_in - (_HANDLE_EM + _HANDLE_PAD_EM + 2 * _BORDER_EM) * em, size_pt)


def fit_height(fig: Figure, wants: dict[Any, float], *, max_height_in: float | None = None,
               tries: int = 4) -> None:
    """Grow (or shrink) the figure's height, never its width, until each axes in ``wants`` is
    as tall as wanted (inches) once constrained layout has made room for every label, legend
    and note. A layout that collapsed (text too tall for the figure) makes the figure taller.
    """
    import warnings

    laid_out = False
    for _ in range(tries):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fig.draw_without_rendering()
        laid_out = True
        height = fig.get_figheight()
        collapsed = any("constrained_layout not applied" in str(w.message) for w in caught)
        if collapsed:
            new = height * 1.5
        else:
            deficit = sum(want - ax.get_position().height * height for ax, want in wants.items())
            new = max(height + deficit, 1.0)
        if max_height_in is not None:
            new = min(new, max_height_in)
        if abs(new - height) < 0.02:
            break
        fig.set_figheight(new)
        laid_out = False
    _keep_xlabels_inside(fig, laid_out)


def _keep_xlabels_inside(fig: Figure, laid_out: bool = False) -> None:
    """An x label wider than its narrow axes (long row labels take the width) would stick out
    of the figure on the right: align every x label to its axes' right end instead, so that
    it reaches left, under the row labels, where there is room."""
    if not laid_out:
        fig.draw_without_rendering()
    renderer = cast(Any, fig.canvas).get_renderer()  # an Agg canvas (new_figure)
    right = fig.bbox.x1
    if any(ax.xaxis.label.get_text() and ax.xaxis.label.get_window_extent(renderer).x1 > right
           for ax in fig.axes):
        for ax in fig.axes:
            if ax.xaxis.label.get_text():
                ax.set_xlabel(ax.xaxis.label.get_text(), loc="right")
        fig.draw_without_rendering()


def line_height_in(size_pt: float = SMALL_PT) -> float:
    """The height of one line of text at ``size_pt`` (1.2 em)."""
    return 1.2 * size_pt / 72


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
    from greenbench.output_file import write_with

    with context():
        # Through a temporary file: a failed write leaves an earlier figure intact.
        write_with(p, lambda f: fig.savefig(f, format=fmt,
                                            metadata=_metadata(fmt, description)))
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
