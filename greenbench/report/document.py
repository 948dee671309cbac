"""A report as plain blocks (paragraphs, fact lists, tables, code, figures), independent of the
format it is written in: :mod:`~greenbench.report.html` and :mod:`~greenbench.report.markdown`
render the same Document, so both always say the same thing.

All text is plain (no markup); each renderer escapes it for its format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union


@dataclass
class Paragraph:
    text: str


@dataclass
class Subheading:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Facts:
    """Name-value pairs, shown as a two-column table."""

    rows: list[tuple[str, str]]


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    caption: str = ""
    #: "l" or "r" per column; numbers read best right-aligned
    align: str = ""


@dataclass
class Code:
    """Text to copy verbatim (a YAML block to paste into a model card)."""

    text: str
    language: str = ""


@dataclass
class FigureBlock:
    """A matplotlib Figure with a file-name stem and a caption."""

    name: str
    caption: str
    figure: Any


Block = Union[Paragraph, Subheading, Bullets, Facts, Table, Code, FigureBlock]  # noqa: UP007


@dataclass
class Section:
    title: str
    anchor: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Document:
    title: str
    intro: list[Block]
    sections: list[Section]
