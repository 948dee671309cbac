"""A self-contained HTML report: one file, figures embedded as base64 PNG, no external CSS,
fonts or scripts, so it can be mailed, archived or attached to a submission as is."""

from __future__ import annotations

import base64
from html import escape

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

#: screen resolution of embedded figures (the PDFs from `greenbench plot` are vector)
FIGURE_DPI = 200

_CSS = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 72rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.85rem; max-width: 100%; }
div.table { overflow-x: auto; }
td.l { overflow-wrap: anywhere; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #e4e4e4; vertical-align: top; }
thead th { border-bottom: 2px solid #444; text-align: left; }
td.r { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
table.facts th { text-align: left; font-weight: 600; white-space: nowrap; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: 0.3rem; }
figure { margin: 1.5rem 0; } figure img { max-width: 100%; height: auto; }
figcaption { font-size: 0.9rem; color: #444; max-width: 50rem; }
pre { background: #f6f6f6; padding: 0.8rem; overflow-x: auto; }
nav ul { columns: 2; }
"""


def render_html(doc: Document) -> str:
    """The whole report as one HTML5 document."""
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{escape(doc.title)}</title>", f"<style>{_CSS}</style>", "</head>",
             "<body>", f"<h1>{escape(doc.title)}</h1>"]
    parts += [_block(b) for b in doc.intro]
    parts.append("<nav><ul>" + "".join(f'<li><a href="#{s.anchor}">{escape(s.title)}</a></li>'
                                        for s in doc.sections) + "</ul></nav>")
    for section in doc.sections:
        parts.append(f'<section id="{section.anchor}"><h2>{escape(section.title)}</h2>')
        parts += [_block(b) for b in section.blocks]
        parts.append("</section>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return f"<p>{escape(block.text)}</p>"
    if isinstance(block, Subheading):
        return f"<h3>{escape(block.text)}</h3>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{escape(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Facts):
        rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>"
                       for k, v in block.rows)
        return f'<table class="facts"><tbody>{rows}</tbody></table>'
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Code):
        return f'<pre><code class="language-{escape(block.language)}">{escape(block.text)}' \
               "</code></pre>"
    return _figure(block)


def _table(t: Table) -> str:
    align = t.align or "l" * len(t.header)
    head = "".join(f"<th>{escape(h)}</th>" for h in t.header)
    body = "".join(
        "<tr>" + "".join(f'<td class="{align[i] if i < len(align) else "l"}">{escape(c)}</td>'
                         for i, c in enumerate(row)) + "</tr>" for row in t.rows)
    caption = f"<caption>{escape(t.caption)}</caption>" if t.caption else ""
    # text cells wrap (anywhere, if a word is too long), numbers stay whole: the table keeps
    # within the page, and scrolls sideways on its own, never the page, on a narrow screen
    return (f'<div class="table"><table>{caption}<thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _figure(f: FigureBlock) -> str:
    from greenbench.plots.style import figure_bytes

    data = base64.b64encode(figure_bytes(f.figure, "png", FIGURE_DPI)).decode("ascii")
    return (f'<figure id="figure-{escape(f.name)}"><img alt="{escape(f.caption)}" '
            f'src="data:image/png;base64,{data}"><figcaption>{escape(f.caption)}'
            "</figcaption></figure>")
