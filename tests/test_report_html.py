"""The HTML report's summary table as a browser lays it out: within a 1200 px page, and
saying ESTIMATE once, visibly (in its caption), instead of in every estimated cell."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from greenbench.records import RunRecord
from greenbench.report import build_report, render_html
from greenbench.results_format import read_document_file
from tests.plot_factories import mixed_run, quick_run, sweep_run

RUNS = Path(__file__).parent.parent / "docs" / "runs"
#: the page's text column: body max-width 72rem at 15 px (inside a 1200 px window)
BODY_PX = 72 * 15
#: the table's text: 0.85rem at 15 px, a sans-serif's widest average character (digits,
#: capitals and µ included) taken as 0.6 em
CHAR_PX = 0.85 * 15 * 0.6
#: each cell's padding, left and right: 0.6rem
CELL_PAD_PX = 2 * 0.6 * 15


class SummaryTable(HTMLParser):
    """The first table of the summary section: caption, header cells, body cells (class)."""

    def __init__(self) -> None:
        super().__init__()
        self.caption = ""
        self.header: list[str] = []
        self.rows: list[list[tuple[str, str]]] = []
        self._in_summary = self._done = False
        self._cell: list[str] | None = None
        self._where = ""
        self._class = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section" and attrs.get("id") == "summary":
            self._in_summary = True
        if not self._in_summary or self._done:
            return
        if tag in ("caption", "th", "td"):
            self._cell, self._where, self._class = [], tag, attrs.get("class") or ""
        if tag == "tr" and self._where != "":
            self.rows.append([])

    def handle_endtag(self, tag):
        if not self._in_summary or self._done:
            return
        if tag == "table":
            self._done = True
        if tag in ("caption", "th", "td") and self._cell is not None:
            text = "".join(self._cell)
            if tag == "caption":
                self.caption = text
            elif tag == "th":
                self.header.append(text)
            else:
                self.rows[-1].append((text, self._class))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def summary_table(runs: list[RunRecord]) -> tuple[str, SummaryTable]:
    html = render_html(build_report(runs, figures=False))
    parser = SummaryTable()
    parser.feed(html)
    return html, parser


def narrowest_px(table: SummaryTable) -> float:
    """The least width a browser can give the table: numbers (class r) are never broken,
    text cells (class l) may break anywhere, headers break between words."""
    rows = [r for r in table.rows if r]
    total = 0.0
    for col, head in enumerate(table.header):
        chars = max(len(word) for word in head.split())
        for row in rows:
            text, cls = row[col]
            chars = max(chars, len(text) if cls == "r" else 1)
        total += chars * CHAR_PX + CELL_PAD_PX
    return total


SHAPES = {
    "20-case sweep, estimated": lambda: [sweep_run(seq_lens=tuple(2 ** k for k in range(7, 17)),
                                                    cpu_estimate=True)],
    "quick suite": lambda: [quick_run()],
    "mixed workloads": lambda: [mixed_run()],
    "two runs": lambda: [sweep_run(label="before"), sweep_run(label="after")],
    "stored quick run": lambda: [read_document_file(RUNS / "quick.json")],
    "stored attention sweep": lambda: [read_document_file(RUNS / "attention-scaling.json")],
}


@pytest.mark.parametrize("shape", SHAPES)
def test_html_summary_table_fits_a_1200_px_page(shape: str) -> None:
    html, table = summary_table(SHAPES[shape]())
    assert table.rows and table.header
    assert narrowest_px(table) <= BODY_PX
    # text cells may break inside a long word; a table wider still scrolls on its own
    assert "td.l { overflow-wrap: anywhere; }" in html
    assert re.search(r'<div class="table"><table><caption>Results per case', html)


@pytest.mark.parametrize("shape", SHAPES)
def test_html_summary_table_says_estimate_once_in_its_caption(shape: str) -> None:
    runs = SHAPES[shape]()
    _, table = summary_table(runs)
    cells = [text for row in table.rows for text, _ in row]
    assert not any("ESTIMATE" in c for c in cells + table.header)
    estimated = any(r.is_estimate or any("estimate" in f for c in r.cases for f in c.flags)
                    for r in runs)
    assert table.caption.count("ESTIMATE") == (1 if estimated else 0)
    if estimated:
        assert "† ESTIMATE: energy, net energy and mean power from a power model" in \
            table.caption
        assert any(c.endswith(" †") for c in cells)
    else:
        assert not any("†" in c for c in cells)


def test_columns_with_one_value_throughout_are_said_once_in_the_caption() -> None:
    _, table = summary_table([sweep_run(cpu_estimate=True)])
    assert "Status" not in table.header and "n" not in table.header
    assert table.caption.startswith("Results per case (status: ok; repeats: 5; energy "
                                    "method: mixed).")
    assert "Quality: rel_error (lower is better)" in table.header
    run = sweep_run()
    run.cases[1].status = "failed"
    _, table = summary_table([run])
    assert "Status" in table.header
