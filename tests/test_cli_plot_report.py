"""``greenbench plot`` and ``greenbench report`` from the user's side: files written, and every
mistake answered in one line with a non-zero exit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from greenbench.results_format import dumps_document, to_document
from greenbench.store import Store
from tests.cli_runner import CliResult, run_cli
from tests.plot_factories import single_case_run, sweep_run


@pytest.fixture
def store_file(tmp_path: Path) -> Path:
    """A store with a single-case CPU run, then a GPU sweep with carbon data (the latest)."""
    path = tmp_path / "store.sqlite"
    with Store(path) as s:
        s.begin_run(single_case_run())
        s.begin_run(sweep_run(label="sweep"))
    return path


def gb(capsys: pytest.CaptureFixture[str], store: Path, *args: str) -> CliResult:
    return run_cli(capsys, *args, "--store", str(store))


def one_line_error(result: CliResult) -> str:
    assert result.code == 2, result
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    return lines[0]


# --------------------------------------------------------------------------- plot


@pytest.mark.parametrize("kind", ["bars", "scaling", "pareto", "breakdown", "trace"])
def test_plot_writes_a_pdf_per_kind_named_after_the_run(capsys, store_file: Path,
                                                         tmp_path: Path, kind: str) -> None:
    out = tmp_path / "figs"
    result = gb(capsys, store_file, "plot", "latest", "--kind", kind, "--out-dir", str(out))
    assert result.code == 0, result.err
    files = sorted(out.iterdir())
    assert len(files) == 1 and files[0].suffix == ".pdf"
    assert files[0].name.startswith(f"{kind}-20250301-")
    assert files[0].read_bytes()[:5] == b"%PDF-"
    assert result.out.strip() == f"wrote {files[0]}"


def test_plot_formats_and_trace_all(capsys, store_file: Path, tmp_path: Path) -> None:
    result = gb(capsys, store_file, "plot", "latest", "--kind", "trace", "--all",
                "--format", "svg", "--out-dir", str(tmp_path / "t"))
    assert result.code == 0, result.err
    names = sorted(p.name for p in (tmp_path / "t").iterdir())
    assert len(names) == 10 and all(n.endswith(".svg") for n in names)
    assert "<svg" in (tmp_path / "t" / names[0]).read_text()


def test_plot_reads_an_exported_run_file(capsys, tmp_path: Path) -> None:
    exported = tmp_path / "run.json"
    exported.write_text(dumps_document(to_document(sweep_run())))
    result = run_cli(capsys, "plot", str(exported), "--kind", "bars", "--format", "png",
                     "--out-dir", str(tmp_path / "p"))
    assert result.code == 0, result.err
    assert len(list((tmp_path / "p").glob("bars-*.png"))) == 1


def test_plot_of_an_unknown_run_is_one_line(capsys, store_file: Path, tmp_path: Path) -> None:
    line = one_line_error(gb(capsys, store_file, "plot", "nosuchrun", "--kind", "bars",
                             "--out-dir", str(tmp_path)))
    assert "nosuchrun" in line


def test_scaling_without_a_sweep_names_the_swept_parameters(capsys, store_file: Path,
                                                             tmp_path: Path) -> None:
    line = one_line_error(gb(capsys, store_file, "plot", "latest~1", "--kind", "scaling",
                             "--out-dir", str(tmp_path)))
    assert "scaling needs a numeric parameter" in line and "swept parameters: none" in line
    line = one_line_error(gb(capsys, store_file, "plot", "latest", "--kind", "scaling",
                             "--x", "heads", "--out-dir", str(tmp_path)))
    assert "swept parameters: mechanism (not numeric), seq_len (numeric)" in line


def test_plot_into_an_unwritable_folder_is_one_line(capsys, store_file: Path,
                                                    tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    line = one_line_error(gb(capsys, store_file, "plot", "latest", "--kind", "bars",
                             "--out-dir", str(blocker / "plots")))
    assert "cannot write to output folder" in line


def test_plot_options_that_do_not_fit_the_kind_are_one_line(capsys, store_file: Path,
                                                           tmp_path: Path) -> None:
    line = one_line_error(gb(capsys, store_file, "plot", "latest", "--kind", "bars", "--all",
                             "--out-dir", str(tmp_path)))
    assert "--all does not apply to --kind bars" in line
    result = gb(capsys, store_file, "plot", "latest", "--kind", "sideways")
    assert result.code == 2 and "sideways" in result.err


# --------------------------------------------------------------------------- report


def test_report_writes_html_and_latex(capsys, store_file: Path, tmp_path: Path) -> None:
    html, tex = tmp_path / "r.html", tmp_path / "t.tex"
    result = gb(capsys, store_file, "report", "latest", "-o", str(html), "--latex", str(tex))
    assert result.code == 0, result.err
    assert result.out.splitlines() == [f"wrote {html}", f"wrote {tex}"]
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page
    assert "co2_eq_emissions:" in page and "Annex XI" in page
    assert r"\begin{tabularx}" in tex.read_text()


def test_report_writes_markdown_with_figures_beside_it(capsys, store_file: Path,
                                                       tmp_path: Path) -> None:
    md = tmp_path / "sub" / "results.md"
    result = gb(capsys, store_file, "report", "latest", "latest~1", "-o", str(md))
    assert result.code == 0, result.err
    assert (tmp_path / "sub" / "results-figures" / "bars.png").exists()
    assert "2 run(s)" in md.read_text()


def test_report_mistakes_are_one_line(capsys, store_file: Path, tmp_path: Path) -> None:
    line = one_line_error(gb(capsys, store_file, "report", "latest", "-o",
                             str(tmp_path / "r.docx")))
    assert "unknown report format .docx" in line
    assert "nothing to write" in one_line_error(gb(capsys, store_file, "report", "latest"))
    assert "nosuchrun" in one_line_error(gb(capsys, store_file, "report", "nosuchrun",
                                            "--latex", str(tmp_path / "t.tex")))


def test_plot_and_report_help_load_no_matplotlib() -> None:
    code = ("import sys\nfrom greenbench.cli import main\n"
            "for cmd in ('plot', 'report'):\n"
            "    try: main([cmd, '--help'])\n"
            "    except SystemExit: pass\n"
            "print(json.dumps([m for m in ('matplotlib', 'numpy') if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", "import json\n" + code], capture_output=True,
                         text=True, timeout=60, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
    assert "--kind [trace|bars|scaling|pareto|breakdown]" in out.stdout
