"""Write a report to disk: HTML or Markdown by the file's extension, and a LaTeX table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from greenbench.errors import UserError
from greenbench.records import RunRecord

HTML_SUFFIXES = (".html", ".htm")
MARKDOWN_SUFFIXES = (".md", ".markdown")


def report_format(path: str | Path) -> str:
    """``html`` or ``markdown`` from the file's extension; UserError for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix in HTML_SUFFIXES:
        return "html"
    if suffix in MARKDOWN_SUFFIXES:
        return "markdown"
    raise UserError(f"{path}: unknown report format {suffix or '(no extension)'}; "
                    "use .html for a self-contained page or .md for Markdown")


def write_report(runs: Sequence[RunRecord], path: str | Path | None = None, *,
                 latex: str | Path | None = None, title: str | None = None,
                 training_type: str | None = None, figures: bool = True) -> list[Path]:
    """Write the report (``path``) and/or the LaTeX table (``latex``); returns every file
    written. Markdown figures go to ``<name>-figures/`` beside the report."""
    if path is None and latex is None:
        raise UserError("nothing to write: give -o FILE (.html or .md) and/or --latex FILE")
    fmt = report_format(path) if path is not None else None
    written: list[Path] = []
    if path is not None:
        from greenbench.report.build import build_report

        doc = build_report(runs, title=title, training_type=training_type, figures=figures)
        target = Path(path)
        if fmt == "html":
            from greenbench.report.html import render_html

            written.append(_write(target, render_html(doc).encode("utf-8")))
        else:
            from greenbench.report.markdown import render_markdown

            text, files = render_markdown(doc, f"{target.stem}-figures")
            written.append(_write(target, text.encode("utf-8")))
            written += [_write(target.parent / rel, data) for rel, data in files.items()]
    if latex is not None:
        from greenbench.report.latex import latex_table

        written.append(_write(Path(latex), latex_table(runs).encode("utf-8")))
    return written


def _write(path: Path, data: bytes) -> Path:
    from greenbench.output_file import write_atomically

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    return write_atomically(path, data)
