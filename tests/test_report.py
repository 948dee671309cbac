"""Reports: what they say (summary, methodology, carbon, Annex XI, model card), and that the
HTML, Markdown and LaTeX they are written in hold together."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from greenbench.errors import UserError
from greenbench.report import build_report, latex_table, render_html, render_markdown
from greenbench.report.carbon import NO_CARBON, carbon, metered
from greenbench.report.document import Code, Document, Facts, FigureBlock, Table
from greenbench.report.latex import escape
from greenbench.report.numbers import mwh, sig, yaml_number
from greenbench.report.write import report_format, write_report
from tests.factories import make_run
from tests.plot_factories import quick_run, single_case_run, sweep_run

# --------------------------------------------------------------------------- helpers


def section(doc: Document, title: str) -> list:
    return next(s.blocks for s in doc.sections if s.title.startswith(title))


def text_of(blocks: list) -> str:
    """The words of some blocks, for searching."""
    out = []
    for b in blocks:
        out += [str(getattr(b, attr)) for attr in ("text", "caption") if hasattr(b, attr)]
        out += getattr(b, "items", [])
        if isinstance(b, Facts):
            out += [f"{k}: {v}" for k, v in b.rows]
        if isinstance(b, Table):
            out += [" | ".join(row) for row in b.rows] + [" | ".join(b.header)]
    return "\n".join(out)


def model_card(doc: Document) -> dict[str, object]:
    """The co2_eq_emissions block, parsed the way YAML would read these simple lines."""
    code = next(b for b in section(doc, "Reporting") if isinstance(b, Code))
    lines = code.text.splitlines()
    assert lines[0] == "co2_eq_emissions:"
    fields: dict[str, object] = {}
    for line in lines[1:]:
        if line.strip().startswith("#"):
            continue
        key, _, value = line.strip().partition(": ")
        fields[key] = float(value) if not value.startswith('"') else json.loads(value)
    return fields


# --------------------------------------------------------------------------- contents


def test_report_has_every_section_in_order() -> None:
    doc = build_report([sweep_run()], figures=False)
    assert [s.title for s in doc.sections] == [
        "Summary", "Methodology", "Carbon assumptions", "Reporting: EU AI Act and model card"]


def test_summary_table_has_a_row_per_case_with_intervals_and_estimates_marked() -> None:
    run = sweep_run(cpu_estimate=True)
    run.cases[1].status, run.cases[1].error = "failed", "worker killed by SIGKILL"
    table = next(b for b in section(build_report([run], figures=False), "Summary")
                 if isinstance(b, Table))
    assert len(table.rows) == len(run.cases)
    row = dict(zip(table.header, table.rows[0], strict=True))
    assert row["Energy per unit"].endswith("µJ/token †")
    assert "† ESTIMATE" in table.caption
    assert re.fullmatch(r"\[[\d.]+, [\d.]+\] µJ", row["95% CI"])
    assert row["Quality: rel_error (lower is better)"] == "1.00e-06"
    assert "worker killed by SIGKILL" in text_of(section(build_report([run], figures=False),
                                                         "Summary"))


def test_methodology_says_how_every_number_was_obtained() -> None:
    text = text_of(section(build_report([sweep_run(cpu_estimate=True)], figures=False),
                           "Methodology"))
    for expected in ("NVIDIA H100 80GB HBM3, driver 550.54, power limit 700 W",  # hardware
                     "torch 2.3.0",  # software versions
                     "gpu:0 | nvml | energy counter",  # sensors and methods
                     "cpu-package:0 | estimate:cpu-tdp | ESTIMATE (power model)",
                     "sampled every 0.1 s (10 Hz)",  # sampling interval
                     "Warm-up: steps ran for up to 2 s",
                     "Repeats: 5 per case",
                     "idle baseline; net energy = gross energy - idle mean power",
                     "Confidence intervals (95%) bound the median",
                     "Student's t interval",
                     "cpu-package:0: estimated by estimate:cpu-tdp: CPU: Test CPU, TDP 8 W"):
        assert expected in text, expected


def test_methodology_says_when_nothing_is_estimated() -> None:
    text = text_of(section(build_report([sweep_run(carbon=False)], figures=False),
                           "Methodology"))
    assert "No energy figure is estimated" in text


def test_carbon_assumptions_give_region_intensity_source_year_pue_and_embodied() -> None:
    doc = build_report([sweep_run()], figures=False)
    text = text_of(section(doc, "Carbon"))
    for expected in ("Region: FRA", "Carbon intensity: 56 gCO2e/kWh (estimate",
                     "Intensity source: codecarbon: CodeCarbon static table",
                     "Intensity time: data year 2023", "PUE: 1.2",
                     "electricitymaps (FRA): skipped: ELECTRICITYMAPS_API_KEY not set",
                     "NVIDIA H100 80GB HBM3 | 1 | 150", "arXiv 2211.02001"):
        assert expected in text, expected


def test_no_carbon_data_is_said_plainly() -> None:
    doc = build_report([sweep_run(carbon=False)], figures=False)
    assert text_of(section(doc, "Carbon")) == NO_CARBON.format(which="this run")
    assert "No co2_eq_emissions block" in text_of(section(doc, "Reporting"))
    assert not any(isinstance(b, Code) for b in section(doc, "Reporting"))


def test_annex_xi_energy_is_in_mwh_to_two_significant_figures_with_the_method() -> None:
    run = sweep_run()
    assert run.footprint is not None
    expected = f"{run.footprint['energy_kwh'] / 1000:.2g} MWh"
    text = text_of(section(build_report([run], figures=False), "Reporting"))
    assert f"Energy consumption: {expected}" in text
    assert "sum of every metered window" in text
    assert "counter: nvml (gpu:0); counter: rapl (cpu-package:0, dram:0)" in text
    assert "| measured |" in text


def test_metered_energy_adds_warmup_idle_and_every_repeat() -> None:
    run = sweep_run(carbon=False)
    case = run.cases[0]
    assert case.idle is not None and case.warmup is not None
    expected = sum(r.measurement.energy_j for r in case.repeats) + \
        case.idle.energy_j + case.warmup_window.energy_j
    run.cases = [case]
    assert metered(run).energy_j == pytest.approx(expected)


def test_model_card_block_is_ready_to_paste() -> None:
    run = sweep_run()
    fields = model_card(build_report([run], figures=False))
    c = carbon(run)
    assert c is not None
    assert fields["emissions"] == pytest.approx(c.operational_g, rel=1e-2)
    assert fields["geographical_location"] == "FRA"
    assert fields["hardware_used"] == "1 x NVIDIA H100 80GB HBM3, Test CPU (2 threads)"
    assert fields["training_type"] == "inference (benchmark; no training)"
    assert "56 gCO2e/kWh from codecarbon 2023 for FRA, PUE 1.2" in str(fields["source"])
    override = model_card(build_report([run], figures=False, training_type="fine-tuning"))
    assert override["training_type"] == "fine-tuning"


def test_case_footprints_are_summed_when_the_run_has_none() -> None:
    run = sweep_run()
    run.footprint = None
    c = carbon(run)
    assert c is not None and c.scope == "the sum of 10 case footprint(s)"
    assert c.operational_g == pytest.approx(sum(x.footprint["operational_g"] for x in run.cases
                                                if x.footprint))


# --------------------------------------------------------------------------- figures


def test_report_draws_the_figures_that_fit_and_says_why_others_are_absent() -> None:
    many = section(build_report([sweep_run()]), "Figures")
    assert [b.name for b in many if isinstance(b, FigureBlock)] == [
        "bars", "scaling", "pareto", "breakdown", "trace"]
    one = section(build_report([single_case_run()]), "Figures")
    assert [b.name for b in one if isinstance(b, FigureBlock)] == ["bars", "breakdown", "trace"]
    reasons = text_of(one)
    assert "scaling: scaling needs a numeric parameter" in reasons
    assert "pareto: one case has no trade-off" in reasons


# --------------------------------------------------------------------------- HTML


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.images: list[str] = []
        self.external: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag not in ("meta", "img", "br"):
            self.stack.append(tag)
        if tag == "img":
            self.images.append(a.get("src") or "")
        if tag in ("link", "script") or (a.get("src") or "").startswith("http"):
            self.external.append(tag)
        if a.get("id"):
            self.ids.append(a["id"] or "")

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1:]}>"
        self.stack.pop()


def test_html_report_is_one_self_contained_well_formed_file() -> None:
    doc = build_report([sweep_run()])
    html = render_html(doc)
    parser = _Html()
    parser.feed(html)
    assert parser.stack == []
    assert parser.external == []
    assert len(parser.images) == 5
    for src in parser.images:
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix)
        assert base64.b64decode(src[len(prefix):])[:4] == b"\x89PNG"
    assert {"summary", "figures", "methodology", "carbon", "reporting"} <= set(parser.ids)


def test_html_escapes_text_from_the_results() -> None:
    run = single_case_run()
    run.label = "<script>alert(1)</script> & co"
    html = render_html(build_report([run], figures=False))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html


# --------------------------------------------------------------------------- Markdown


def test_markdown_report_references_figures_written_beside_it(tmp_path: Path) -> None:
    written = write_report([sweep_run()], tmp_path / "out" / "report.md")
    text = (tmp_path / "out" / "report.md").read_text()
    refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert refs == [f"report-figures/{n}.png" for n in
                    ("bars", "scaling", "pareto", "breakdown", "trace")]
    for ref in refs:
        assert (tmp_path / "out" / ref).read_bytes()[:4] == b"\x89PNG"
    assert len(written) == 6
    # Tables keep their column count on every row (a "|" in a value is escaped).
    table = [line for line in text.splitlines() if line.startswith("| Case |")][0]
    block = text[text.index(table):].split("\n\n")[0].splitlines()
    assert len({len(re.findall(r"(?<!\\)\|", line)) for line in block}) == 1
    assert "```yaml\nco2_eq_emissions:" in text


def test_markdown_escapes_markup_characters() -> None:
    run = single_case_run()
    run.label = "a|b *bold*"
    text, files = render_markdown(build_report([run], figures=False), "f")
    assert files == {}
    assert r"a\|b \*bold\*" in text


def test_report_format_follows_the_extension() -> None:
    assert report_format("r.HTML") == "html" and report_format("r.md") == "markdown"
    with pytest.raises(UserError, match=r"unknown report format \.pdf"):
        report_format("r.pdf")
    with pytest.raises(UserError, match="nothing to write"):
        write_report([sweep_run()])


# --------------------------------------------------------------------------- LaTeX


def tabular(tex: str) -> tuple[str, list[str]]:
    """(column spec, rows) of the one tabularx in ``tex``; the spec as one letter per column
    (``X`` for the case column), rows that span the table (a run's or workload's heading)
    left out."""
    spec = re.search(r"\\begin\{tabularx\}\{\\linewidth\}\{(.+)\}$", tex, re.M)
    assert spec is not None
    letters = re.sub(r"@\{\}|>\{[^}]*\}", "", spec.group(1))
    body = tex[spec.end():tex.index(r"\end{tabularx}")]
    rows = [line for line in body.splitlines() if line.strip().endswith(r"\\")
            and not line.startswith(r"\multicolumn") and not line.startswith(" & ")]
    return letters, rows


def cells(row: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)&", row.removesuffix(r" \\"))]


def test_latex_table_is_a_booktabs_fragment_with_matching_columns() -> None:
    tex = latex_table([sweep_run(cpu_estimate=True)])
    order = [tex.index(s) for s in (r"\begin{table}", r"\begin{tabularx}", r"\toprule",
                                    r"\midrule", r"\bottomrule", r"\end{tabularx}",
                                    r"\end{table}")]
    assert order == sorted(order)
    spec, rows = tabular(tex)
    assert spec.startswith("X") and set(spec[1:]) == {"r"}
    assert len(rows) == 1 + 10  # the header's second line and one row per case
    for row in rows:
        assert len(cells(row)) == len(spec), row
    # units in the header: the energy columns under one, the time column in its own
    assert r"\multicolumn{3}{c}{Energy per token (\ensuremath{\mu}J)}" in tex
    assert cells(rows[0])[0] == r"mechanism, seq\_len"
    assert r"\textsuperscript{\dag}" in rows[1] and r"\dag} Estimated" in tex
    # only the varying parameters, values in the order the workload declares them
    assert cells(rows[1])[0].strip() == "softmax, 256"
    assert "batch" not in tex
    assert "\\documentclass" not in tex  # a fragment, to \input


def test_latex_case_names_follow_the_declared_parameter_order() -> None:
    run = sweep_run(seq_lens=(256, 512))
    for i, case in enumerate(run.cases):  # declared: seq_len before mechanism
        case.params = {"seq_len": case.params["seq_len"], "batch": 4 + i,
                       "mechanism": case.params["mechanism"]}
    spec, rows = tabular(latex_table([run]))
    assert cells(rows[0])[0] == r"seq\_len, batch, mechanism"
    assert cells(rows[1])[0].strip() == "256, 4, softmax"


def test_latex_escapes_special_characters() -> None:
    assert escape(r"a_b 50% & #1 $x {y} ~ ^ \ <>") == (
        r"a\_b 50\% \& \#1 \$x \{y\} \textasciitilde{} \textasciicircum{} "
        r"\textbackslash{} \textless{}\textgreater{}")
    run = sweep_run()
    for i, case in enumerate(run.cases):
        case.params["note"] = f"{i}0%_&#"
    run.cases[0].workload = "odd$name"
    tex = latex_table([run])
    _, rows = tabular(tex)
    assert r"softmax, 512, 10\%\_\&\#" in tex and r"\textit{odd\$name}" in tex
    for row in rows:
        assert not re.search(r"(?<!\\)[%#$_]", row.replace(r"\textsuperscript{\dag}", "")
                             .replace("$n$", "")), row


def test_latex_table_of_several_runs_heads_each_run_and_rules_between_them() -> None:
    tex = latex_table([sweep_run(label="A"), sweep_run(label="B", quality=False)])
    spec, rows = tabular(tex)
    assert r"{\textbf{A}} \\" in tex and r"{\textbf{B}} \\" in tex
    assert tex.index(r"\textbf{A}") < tex.index(r"\textbf{B}")
    assert tex.count(r"\midrule") == 2
    assert all(len(cells(r)) == len(spec) for r in rows)


def test_latex_table_of_mixed_workloads_heads_each_workload_with_its_unit() -> None:
    tex = latex_table([quick_run()])
    assert r"\multicolumn{3}{c}{Energy per unit (\ensuremath{\mu}J)}" in tex
    assert r"{\textit{sparse-matmul} (per row)} \\" in tex
    assert r"{\textit{attention} (per token)} \\" in tex
    assert "d_model" not in tex and "d\\_model" not in tex  # nothing varies: no parameters


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_table_compiles(tmp_path: Path) -> None:
    run = sweep_run(cpu_estimate=True)
    for i, case in enumerate(run.cases):
        case.params["note"] = f"{i}0%_&#~^"
    (tmp_path / "table.tex").write_text(latex_table([run, make_run(1)]))
    (tmp_path / "doc.tex").write_text("\\documentclass{article}\n\\usepackage{booktabs}\n"
                                      "\\usepackage{tabularx}\n\\begin{document}\n"
                                      "\\input{table.tex}\n\\end{document}\n")
    out = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-2000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000


# --------------------------------------------------------------------------- numbers


def test_numbers_for_people() -> None:
    assert sig(63.24) == "63.2" and sig(0.00421) == "0.00421" and sig(4.2e-7) == "4.20e-07"
    assert mwh(1.5e3) == "4.2e-07 MWh" and mwh(7.2e9) == "2 MWh" and mwh(0) == "0 MWh"
    assert yaml_number(2.5) == "2.50" and yaml_number(1e-5) == "1.00e-05"
