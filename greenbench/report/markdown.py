"""A Markdown report (GitHub-flavoured tables), with its figures as PNG files beside it."""

from __future__ import annotations

from greenbench.report.document import (
    Block,
    Bullets,
    Code,
    Document,
    Facts,
    FigureBlock,
    Paragraph,
    Subheading,
    Table,
)

FIGURE_DPI = 200
_SPECIAL = "\\`*_[]<>#"


def render_markdown(doc: Document, figures_dir: str) -> tuple[str, dict[str, bytes]]:
    """(the Markdown text, {path relative to the report: PNG bytes} for each figure), the
    figures referenced as ``figures_dir/<name>.png``."""
    files: dict[str, bytes] = {}
    lines = [f"# {escape(doc.title)}", ""]
    lines += [text for b in doc.intro for text in (_block(b, figures_dir, files), "")]
    lines += [f"- [{escape(s.title)}](#{s.anchor})" for s in doc.sections] + [""]
    for section in doc.sections:
        # An explicit anchor: GitHub's generated ones vary with punctuation in the title.
        lines += [f'<a id="{section.anchor}"></a>', "", f"## {escape(section.title)}", ""]
        for block in section.blocks:
            lines += [_block(block, figures_dir, files), ""]
    return "\n".join(lines).rstrip() + "\n", files


def escape(text: str) -> str:
    """Backslash-escape what Markdown would read as markup (``seq_len`` stays ``seq_len``)."""
    return "".join("\\" + c if c in _SPECIAL else c for c in text)


def _block(block: Block, figures_dir: str, files: dict[str, bytes]) -> str:
    if isinstance(block, Paragraph):
        return escape(block.text)
    if isinstance(block, Subheading):
        return f"### {escape(block.text)}"
    if isinstance(block, Bullets):
        return "\n".join(f"- {escape(item)}" for item in block.items)
    if isinstance(block, Facts):
        return "\n".join(f"- **{escape(k)}:** {escape(v)}" for k, v in block.rows)
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Code):
        return f"```{block.language}\n{block.text}\n```"
    return _figure(block, figures_dir, files)


def _table(t: Table) -> str:
    align = t.align or "l" * len(t.header)
    rule = ["---:" if (align[i] if i < len(align) else "l") == "r" else "---"
            for i in range(len(t.header))]
    lines = [_row(t.header), _row(rule, raw=True)]
    for row in t.rows:
        lines.append(_row(row))
    caption = f"**{escape(t.caption)}**\n\n" if t.caption else ""
    return caption + "\n".join(lines)


def _row(cells: list[str], raw: bool = False) -> str:
    return "| " + " | ".join(c if raw else _cell(c) for c in cells) + " |"


def _cell(text: str) -> str:
    return escape(text).replace("|", "\\|").replace("\n", "<br>")


def _figure(f: FigureBlock, figures_dir: str, files: dict[str, bytes]) -> str:
    from greenbench.plots.style import figure_bytes

    path = f"{figures_dir}/{f.name}.png"
    files[path] = figure_bytes(f.figure, "png", FIGURE_DPI)
    alt = f.caption.replace("[", "(").replace("]", ")")
    target = f"<{path}>" if " " in path else path  # CommonMark's form for spaces in a path
    return f"![{alt}]({target})\n\n*{escape(f.caption)}*"
