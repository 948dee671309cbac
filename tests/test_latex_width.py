"""The ``--latex`` table fits the page it is meant for, checked by compiling it with pdflatex:
one column of a standard two-column article (``\\columnwidth``) and the text of a one-column
one (``\\textwidth``), with no overfull box in the log and no ``\\resizebox``. Where pdflatex
is not installed these tests are skipped (CI installs Debian's texlive packages)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from greenbench.records import RunRecord
from greenbench.report import latex_table
from greenbench.results_format import read_document_file
from tests.factories import make_run
from tests.plot_factories import mixed_run, quick_run, sweep_run

needs_pdflatex = pytest.mark.skipif(shutil.which("pdflatex") is None,
                                    reason="pdflatex is not installed (apt-get install "
                                           "texlive-latex-base texlive-latex-recommended)")

CLASSES = {
    "two-column letter": "[twocolumn]{article}",
    "two-column A4": "[twocolumn,a4paper]{article}",
    "one-column": "{article}",
}


RUNS = Path(__file__).parent.parent / "docs" / "runs"


def twenty_case_sweep() -> RunRecord:
    """Two mechanisms over ten sequence lengths, quality recorded, CPU estimated."""
    return sweep_run(seq_lens=tuple(2 ** k for k in range(7, 17)), cpu_estimate=True)


def long_names_run() -> RunRecord:
    """Parameter values long enough that the case column has to wrap."""
    run = sweep_run(seq_lens=(256, 512), cpu_estimate=True)
    for i, case in enumerate(run.cases):
        case.params["model"] = f"meta-llama/Llama-3.1-8B-Instruct-variant-{i}"
    return run


def many_repeats_run() -> RunRecord:
    run = sweep_run(seq_lens=(256, 512, 1024))
    run.cases[0] = sweep_run(("softmax",), (256,), repeats=3).cases[0]  # n varies
    return run


TABLES = {
    "20-case sweep": lambda: [twenty_case_sweep()],
    "quick suite": lambda: [quick_run()],
    "mixed workloads": lambda: [mixed_run()],
    "two runs": lambda: [sweep_run(label="before"), sweep_run(label="after", quality=False)],
    "long names": lambda: [long_names_run()],
    "repeats differ": lambda: [many_repeats_run()],
    "one case": lambda: [make_run(1)],
    **{f"stored {name}": (lambda name=name: [read_document_file(RUNS / f"{name}.json")])
       for name in ("attention-scaling", "quick", "efficiency", "multilingual", "finetune")},
}


def compile_table(tmp_path: Path, table: str, documentclass: str) -> str:
    """pdflatex's log of a document holding ``table`` (fails the test if it does not build)."""
    (tmp_path / "table.tex").write_text(table)
    (tmp_path / "doc.tex").write_text(
        f"\\documentclass{documentclass}\n\\usepackage{{booktabs}}\n\\usepackage{{tabularx}}\n"
        "\\begin{document}\n\\input{table.tex}\n\\end{document}\n")
    out = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert out.returncode == 0, log[-3000:]
    return log


def overfull(log: str) -> list[str]:
    """Every overfull box pdflatex reports, with how far it sticks out."""
    return re.findall(r"Overfull \\[hv]box \([\d.]+pt too \w+\)[^\n]*", log)


@needs_pdflatex
@pytest.mark.parametrize("documentclass", CLASSES.values(), ids=list(CLASSES))
@pytest.mark.parametrize("shape", TABLES)
def test_latex_table_fits_the_column_or_text_width_without_overfull_boxes(
        tmp_path: Path, shape: str, documentclass: str) -> None:
    table = latex_table(TABLES[shape]())
    log = compile_table(tmp_path, table, documentclass)
    assert overfull(log) == []


@pytest.mark.parametrize("shape", TABLES)
def test_latex_table_is_never_scaled_to_fit(shape: str) -> None:
    table = latex_table(TABLES[shape]())
    assert "resizebox" not in table and "scalebox" not in table
    assert r"\begin{tabularx}{\linewidth}" in table


@needs_pdflatex
def test_the_check_itself_sees_an_overfull_table(tmp_path: Path) -> None:
    """The measurement is real: a table wider than the column is reported as overfull."""
    wide = ("\\begin{tabular}{" + "r" * 12 + "}\n" + " & ".join(["123456.789"] * 12)
            + r" \\" + "\n\\end{tabular}\n")
    assert overfull(compile_table(tmp_path, wide, CLASSES["two-column A4"]))
