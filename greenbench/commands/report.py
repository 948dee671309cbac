"""``greenbench report RUN... -o FILE``: HTML or Markdown reports, and a LaTeX table."""

from __future__ import annotations

import click

from greenbench.commands._common import run_origin
from greenbench.commands._options import OUTPUT_FILE
from greenbench.commands._runs import load_run, store_option
from greenbench.commands._verbosity import detail, verbosity_options


@click.command()
@click.argument("runs", nargs=-1, required=True, metavar="RUN...")
@click.option("-o", "--output", default=None, type=OUTPUT_FILE, metavar="FILE",
              help="The report: .html (one self-contained file, figures embedded) or .md "
                   "(figures as PNG in FILE-figures/ beside it).")
@click.option("--latex", default=None, type=OUTPUT_FILE, metavar="FILE",
              help="Also write a booktabs table of the main results, as wide as the "
                   "column it is put in (needs \\usepackage{booktabs} and "
                   "\\usepackage{tabularx}).")
@click.option("--title", default=None, help="The report's title.")
@click.option("--training-type", default=None, metavar="TEXT",
              help="For the model-card block: pre-training, fine-tuning, ... (default: "
                   "guessed from the workloads).")
@click.option("--no-figures", is_flag=True, help="Leave the figures out (faster).")
@store_option
@verbosity_options
def report(runs: tuple[str, ...], output: str | None, latex: str | None, title: str | None,
           training_type: str | None, no_figures: bool, store_path: str | None) -> None:
    """Write a report of one or more runs for a paper or a reviewer.

    It holds a summary table, the figures that fit the data, the methodology (hardware,
    software, sensors and methods, sampling, warm-up, repeats, idle handling, confidence
    intervals, what is estimated), the carbon assumptions, the energy in MWh for the EU AI
    Act's Annex XI, and a Hugging Face co2_eq_emissions block ready to paste.

    RUN is a run id, a unique prefix, latest or latest~N, or an exported run JSON file.

    \b
    Examples:
      greenbench report latest -o report.html
      greenbench report latest -o results.md --latex table.tex
    """
    from greenbench.errors import UserError
    from greenbench.extras import require
    from greenbench.report.write import report_format, write_report

    if output is None and latex is None:
        raise UserError("nothing to write: give -o FILE (.html or .md) and/or --latex FILE")
    if output is not None and not no_figures:
        require("drawing the report's figures", "matplotlib", "plots",
                otherwise="leave them out with --no-figures")
    if output is not None:
        report_format(output)  # a wrong extension fails before any run is loaded
    records = list({r.id: r for r in (load_run(ref, store_path) for ref in runs)}.values())
    for ref in runs:
        detail(f"{ref}: from {run_origin(ref, store_path)}")
    detail(f"{len(records)} run(s), {sum(len(r.cases) for r in records)} case(s); figures "
           + ("left out" if no_figures or output is None else "drawn"))
    for path in write_report(records, output, latex=latex, title=title,
                             training_type=training_type, figures=not no_figures):
        click.echo(f"wrote {path}")
