"""Tables that fit the terminal without breaking a number.

A cell is a list of *tokens*: pieces that are never split (``20.2 mJ``, ``seq_len=256]``), each
carrying the separator that follows it (``"mechanism=softmax, "``). A cell wraps only between
tokens, and a separator at the end of a line is dropped. Columns start at their natural width
(every cell on one line); where that is wider than the terminal, the widest columns give way
first, never below their longest token. Where even that does not fit, :func:`fit` says so;
:func:`named_rows` then puts each row's name on a line of its own above its figures.

rich's own wrapping breaks inside any word longer than its column (``seq_len=25`` / ``6]``),
and would break ``1.2 k`` between the number and its prefix: hence this layout.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: the spaces between two columns
GAP = 2


@dataclass
class Col:
    """A column: its header (wrapped between words) and its cells, one list of tokens a row."""

    header: str
    cells: list[list[str]] = field(default_factory=list)
    right: bool = False
    #: per-row rich styles
    styles: list[str] = field(default_factory=list)
    #: columns with a higher one wrap first when the table is too wide
    give: int = 0

    def add(self, tokens: Sequence[str], style: str = "") -> None:
        self.cells.append(list(tokens))
        self.styles.append(style)


def words(text: str) -> list[str]:
    """``text`` split after each space outside brackets: ``energy [95% CI]`` breaks only
    before ``[``."""
    return re.findall(r"(?:\[[^\]]*\]|\S)+\s*", text) or [""]


def label_tokens(name: str) -> list[str]:
    """``attention[mechanism=sdpa, seq_len=256]`` -> ``attention[``, ``mechanism=sdpa, ``,
    ``seq_len=256]``: a case name, a list of parameters or a test's node id breaks after a
    bracket, a comma, a ``/`` or a ``::`` only."""
    return re.findall(r".+?(?:/|::|\[|, |,|$)", name) or [name]


def wrap(tokens: Sequence[str], width: int) -> list[str]:
    """Tokens joined into lines of at most ``width`` (a longer token keeps a line of its own)."""
    lines: list[str] = []
    line = ""
    for token in tokens:
        if line and len((line + token).rstrip()) > width:
            lines.append(line.rstrip())
            line = ""
        line += token
    lines.append(line.rstrip())
    return lines


def _natural(cell: Sequence[str]) -> int:
    return len("".join(cell).rstrip())


def natural(col: Col) -> int:
    """The column's width with every cell on one line."""
    return max([_natural(words(col.header))] + [_natural(c) for c in col.cells])


def shortest(col: Col) -> int:
    """The narrowest the column can be: its longest token."""
    return max([_shortest(words(col.header))] + [_shortest(c) for c in col.cells])


def _shortest(cell: Sequence[str]) -> int:
    return max((len(t.rstrip()) for t in cell), default=0)


def fit(cols: Sequence[Col], room: int) -> list[int] | None:
    """Column widths for ``cols`` whose text takes ``room`` characters at most (see
    :func:`room`); None when their longest tokens do not fit. The columns that give way
    first are those with the highest ``give``, widest first."""
    least = [shortest(c) for c in cols]
    if sum(least) > room:
        return None
    widths = [natural(c) for c in cols]
    while sum(widths) > room:
        # the widest column that can still give way gives a character
        i = max((k for k in range(len(cols)) if widths[k] > least[k]),
                key=lambda k: (cols[k].give, widths[k]))
        widths[i] -= 1
    # wrapped cells may need less than they were given
    return [max(len(line) for cell in [words(c.header), *c.cells] for line in wrap(cell, w))
            for c, w in zip(cols, widths, strict=True)]


Segment = tuple[str, str]  # (text, rich style)


def render(cols: Sequence[Col], widths: Sequence[int], *, rule: str = "",
           above: Mapping[int, Sequence[str]] | None = None,
           below: Mapping[int, Sequence[str]] | None = None, width: int = 0,
           indent: int = 0) -> list[list[Segment]]:
    """The lines of a table, columns :data:`GAP` apart, as (text, style) segments.

    ``rule`` (a character) draws a line under the header. ``above`` puts a row's name on
    lines of its own before it (row -> tokens, wrapped to ``width``), with the columns
    ``indent`` characters in under it: the layout for names too long to share a line.
    ``below`` puts a row's details under it, two characters in.
    """
    above, below = above or {}, below or {}
    pad = " " * indent

    def block(cells: Sequence[Sequence[str]], styles: Sequence[str]) -> list[list[Segment]]:
        wrapped = [wrap(cell, w) for cell, w in zip(cells, widths, strict=True)]
        out = []
        for i in range(max(len(x) for x in wrapped)):
            line: list[Segment] = [(pad, "")]
            for k, (col, cell, w) in enumerate(zip(cols, wrapped, widths, strict=True)):
                text = cell[i] if i < len(cell) else ""
                line.append((text.rjust(w) if col.right else text.ljust(w), styles[k]))
                line.append((" " * GAP, ""))
            out.append(_trimmed(line))
        return out

    lines = block([words(c.header) for c in cols], ["bold"] * len(cols))
    if rule:
        lines.append([(pad + (" " * GAP).join(rule * w for w in widths), "dim")])
    for row in range(len(cols[0].cells) if cols else 0):
        if row in above:
            lines += [[(text, "")] for text in wrap(above[row], width)]
        lines += block([c.cells[row] for c in cols], [c.styles[row] for c in cols])
        if row in below:
            lines += [[("  " + text, "")] for text in wrap(below[row], width - 2)]
    return lines


def _trimmed(line: list[Segment]) -> list[Segment]:
    """The line without its trailing blanks."""
    while line and not line[-1][0].strip():
        line.pop()
    if line:
        line[-1] = (line[-1][0].rstrip(), line[-1][1])
    return line


def plain(lines: Sequence[Sequence[Segment]]) -> list[str]:
    return ["".join(text for text, _ in line) for line in lines]


def print_lines(out: Any, lines: Sequence[Sequence[Segment]]) -> None:
    """Print rendered lines on a rich console as they are: never wrapped or cut by rich (a
    line wider than the console, where a token is wider than it, is left whole)."""
    from rich.text import Text

    for line in lines:
        text = Text.assemble(*line, no_wrap=True, overflow="ignore")
        out.print(text, no_wrap=True, crop=False, overflow="ignore")


def named_rows(name: Col, cols: Sequence[Col], width: int,
               rule: str = "") -> list[list[Segment]]:
    """A table whose rows are named by ``name``: a column beside the figures where the names
    leave them their natural width (columns that ``give`` may wrap), else each name on a line
    of its own with its row's figures under it (indented where they fit)."""
    beside = shortest(name) + sum(shortest(c) if c.give else natural(c) for c in cols)
    if beside <= room(width, len(cols) + 1):
        every = [name, *cols]
        return render(every, fit(every, room(width, len(every))) or [], rule=rule)
    indent = 2 if fit(cols, room(width, len(cols), indent=2)) else 0
    widths = fit(cols, room(width, len(cols), indent)) or [shortest(c) for c in cols]
    return render(cols, widths, rule=rule, indent=indent, above=dict(enumerate(name.cells)),
                  width=width)


def print_table(out: Any, cols: Sequence[Col]) -> None:
    """``cols`` as a table at the console's width (at its narrowest where even that is
    wider)."""
    widths = fit(cols, room(out.width, len(cols))) or [shortest(c) for c in cols]
    print_lines(out, render(cols, widths, rule="─"))


def room(width: int, columns: int, indent: int = 0) -> int:
    """The text a table of ``columns`` columns can hold within ``width``."""
    return width - indent - GAP * (columns - 1)


def terminal_width() -> int:
    """The terminal's columns (``COLUMNS`` where set; 80 when the output is not a terminal)."""
    return shutil.get_terminal_size((80, 24)).columns
