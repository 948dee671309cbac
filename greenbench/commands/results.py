"""``greenbench results``: list, show, check, export, import, push, pull and delete stored
runs."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from greenbench.commands._cases import print_cases, print_footprints
from greenbench.commands._common import console, writable_file
from greenbench.commands._options import OUTPUT_FILE, Number
from greenbench.commands._runs import load_run, store_option
from greenbench.commands._verbosity import note
from greenbench.commands._width import terminal_width
from greenbench.errors import UserError
from greenbench.records import CaseRecord, RunRecord
from greenbench.stats import Summary

DEFAULT_LIST_LIMIT = 50


@click.group()
def results() -> None:
    """List, show, check, export, import, push, pull and delete stored runs.

    RUN is a run id, a unique prefix of one, latest or latest~N (N runs before the latest).
    """


# --------------------------------------------------------------------------- list


@results.command("list")
@click.option("--limit", type=Number(0, integer=True), default=DEFAULT_LIST_LIMIT,
              show_default=True,
              help="Show the N latest runs; 0 shows all.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@store_option
def list_(limit: int, as_json: bool, store_path: str | None) -> None:
    """List stored runs, newest first."""
    from greenbench.store import Store

    with Store(store_path, readonly=True) as store:
        runs = store.list_runs(limit or None)
        total = store.count_runs() if limit and len(runs) == limit else len(runs)
        path = store.path
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in runs], indent=2))
        return
    if not runs:
        click.echo(f"no runs in {path}")
        return
    # Plain aligned columns rather than a rich table: a thousand rows print in milliseconds
    # (rich needs about half a second), and the output stays easy to grep and cut.
    click.echo("\n".join(_run_lines(runs, terminal_width())))
    if total > len(runs):
        click.echo(f"({len(runs)} of {total} runs in {path}; --limit 0 shows all)")


# --------------------------------------------------------------------------- show


@results.command()
@click.argument("run")
@click.option("--all-metrics", is_flag=True,
              help="Also print a table of every metric of every case.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the run's facts and case summaries as JSON (no repeats or traces).")
@store_option
def show(run: str, all_metrics: bool, as_json: bool, store_path: str | None) -> None:
    """Show one run: facts, sensors and methods, and a table of its cases.

    RUN is a run id, a unique prefix of one, latest or latest~N (N runs before the latest), or
    an exported run JSON file. Energy figures from a power model are marked ESTIMATE.
    """
    from greenbench.printable import printable_run

    record = load_run(run, store_path)
    if as_json:
        from greenbench.results_format import json_safe

        # Valid JSON even for a run stored before NaN was written as null.
        click.echo(json.dumps(json_safe(_show_document(record)), indent=2, allow_nan=False))
        return
    record = printable_run(record)  # stored text: control characters shown, never obeyed
    out = console()
    _print_facts(out, record)
    if record.job is not None:
        from greenbench.commands._job import print_hosts

        print_hosts(out, record.job)
    print_cases(out, record)
    print_footprints(out, record)
    if all_metrics:
        for index, case in enumerate(record.cases):
            _print_metrics(out, record, index, case)


def _show_document(run: RunRecord) -> dict[str, Any]:
    from greenbench.results_format import case_is_estimate, energy_method

    facts = run.to_dict()
    facts.pop("cases")
    return {
        "run": facts,
        "estimate": run.is_estimate,
        "cases": [
            {"index": i, "workload": c.workload, "params": c.params, "status": c.status,
             "unit": c.unit, "error": c.error, "flags": c.flags, "repeats": len(c.repeats),
             "energy_method": energy_method(c, run.is_estimate),
             "estimate": case_is_estimate(c, run.is_estimate),
             "summary": {k: v.to_dict() for k, v in c.summary.items()}}
            for i, c in enumerate(run.cases)
        ],
    }


def _print_facts(out: Any, run: RunRecord) -> None:
    from rich.markup import escape

    from greenbench.results_format import energy_method

    m, sw = run.machine, run.software
    label = f" ({run.label})" if run.label else ""
    out.print(f"[bold]run {run.id}[/bold]"
              + escape(f"{label}: {run.status}, created {run.created_utc}"))
    gpus = ", ".join(str(g.get("name")) for g in m.get("gpus") or []) or "no GPU"
    out.print(escape(f"machine   {m.get('hostname', '?')}: {m.get('cpu_model', '?')}, "
                     f"{m.get('cpu_logical', '?')} threads, {gpus} (key {run.machine_key or '?'})"))
    shown_sw = ", ".join(f"{k} {v}" for k, v in sw.items() if v and not isinstance(v, dict))
    out.print(escape(f"software  {shown_sw}"))
    if run.config:
        out.print(escape("config    " + " ".join(f"{k}={v}" for k, v in run.config.items()
                                                 if v not in (None, [], {})
                                                 and not isinstance(v, dict))))
    if run.footprint:
        from greenbench.carbon.footprint import Footprint

        out.print(escape("carbon    " + Footprint.from_dict(run.footprint).summary()))
    sensors = "; ".join(_sensor_text(s) for s in run.sensors) or "none recorded"
    out.print(escape(f"sensors   {sensors}"))
    methods = sorted({energy_method(c, run.is_estimate) for c in run.cases if c.repeats})
    if methods:
        out.print(f"energy    {', '.join(methods)}")
    if run.is_estimate:
        out.print("[yellow]ESTIMATE: some energy figures come from a power model, not a "
                  "sensor; compare them only with other estimates[/yellow]")


def _print_metrics(out: Any, run: RunRecord, index: int, case: CaseRecord) -> None:
    from rich.markup import escape

    from greenbench.commands._width import Col, print_table
    from greenbench.results_format import case_is_estimate, is_energy_metric, median_interval

    estimate = case_is_estimate(case, run.is_estimate)
    cols = [Col("metric", give=1), Col("n", right=True), Col("median", right=True),
            Col("95% CI", right=True), Col("CV", right=True), Col("CI method")]
    starred = False
    for metric, s in sorted(case.summary.items()):
        star = estimate and is_energy_metric(metric)
        starred = starred or star
        low, high = median_interval(metric, s)
        ci = [f"{_num(low)} - ", _num(high)] if low is not None and high is not None else ["-"]
        cv, high_cv = _cv(s)
        # The method's first token ("student-t", "order-statistic") is enough in a table.
        cells = [[metric], [str(s.n)], [_num(s.median) + ("*" if star else "")], ci, [cv],
                 [s.ci_method.split(":")[0]]]
        for col, cell in zip(cols, cells, strict=True):
            col.add(cell, "yellow" if col.header == "CV" and high_cv else "")
    out.print(escape(f"{index}: {case.label}"))
    print_table(out, cols)
    if starred:
        out.print("* ESTIMATE: from a power model, not a sensor")


# --------------------------------------------------------------------------- check


@results.command()
@click.argument("run")
@click.option("--json", "as_json", is_flag=True,
              help="Print every rule's verdict as JSON (exit status as without).")
@store_option
def check(run: str, as_json: bool, store_path: str | None) -> None:
    """Check that a run may be pooled with other labs' runs (docs/leaderboard.md).

    RUN is a run id, a unique prefix of one, latest or latest~N, or an exported run JSON
    file. Each failed rule is named on one line, and the exit status is 1; a run that passes
    every rule gets a short summary, exit 0.
    """
    from greenbench.printable import printable
    from greenbench.submission import RULES, evaluate, run_tier

    record = load_run(run, store_path)
    verdicts = evaluate(record)
    failed = [v for v in verdicts if v.failed]
    if as_json:
        thresholds = {r.name: r.threshold for r in RULES}
        click.echo(json.dumps({
            "run": record.id, "passed": not failed, "tier": run_tier(record),
            "rules": [{"rule": v.rule, "status": v.status, "detail": v.detail,
                       "threshold": thresholds[v.rule]} for v in verdicts]}, indent=2))
    elif failed:
        for v in failed:
            click.echo(printable(f"{v.rule}: {v.detail}"))
        click.echo(printable(f"run {record.id} fails {len(failed)} of {len(verdicts)} rules: "
                             "not for pooling"))
    else:
        skipped = [f"{v.rule} ({v.detail})" for v in verdicts if v.status == "n/a"]
        passed = len(verdicts) - len(skipped)
        tier = next(v.detail for v in verdicts if v.rule == "energy-method")
        click.echo(printable(f"run {record.id} passes {passed} of {len(verdicts)} rules; "
                             f"{tier}" + (f"; not applicable: {', '.join(skipped)}"
                                          if skipped else "")))
    if failed:
        sys.exit(1)


# --------------------------------------------------------------------------- export / import


@results.command()
@click.argument("run")
@click.option("-o", "--output", type=OUTPUT_FILE, default=None, metavar="FILE",
              help="Write to FILE instead of standard output.")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default=None,
              help="json: the whole run (docs/results-format.md); csv: one row per case and "
                   "metric summary. Default: from FILE's suffix, else json.")
@store_option
def export(run: str, output: str | None, fmt: str | None, store_path: str | None) -> None:
    """Export one run as JSON or CSV (to standard output unless -o FILE).

    RUN is a run id, a unique prefix of one, latest or latest~N (N runs before the latest).
    """
    from greenbench.output_file import write_atomically
    from greenbench.results_format import dumps_document, to_csv, to_document

    writable_file(output, "-o", store=store_path)
    record = load_run(run, store_path)
    if fmt is None:
        fmt = "csv" if output and output.lower().endswith(".csv") else "json"
    text = to_csv(record) if fmt == "csv" else dumps_document(to_document(record))
    if output is None:
        click.echo(text, nl=False)
        return
    write_atomically(output, text)
    note(f"exported run {record.id} to {output} ({fmt})")


@results.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--skip-existing", is_flag=True,
              help="Skip runs already in the store (default: refuse them, import nothing more).")
@store_option
def import_(files: tuple[str, ...], skip_existing: bool, store_path: str | None) -> None:
    """Import runs exported with `greenbench results export` (JSON)."""
    from rich.markup import escape

    from greenbench.results_format import read_document_file
    from greenbench.store import Store

    runs = [read_document_file(f) for f in files]  # check every file before storing any
    err = console(stderr=True)
    with Store(store_path) as store:
        # One transaction: a refused run leaves nothing half-imported.
        stored = store.import_runs(list(zip(runs, files, strict=True)),
                                   skip_existing=skip_existing)
        for path, run, run_id in zip(files, runs, stored, strict=True):
            if run_id is None:
                err.print(escape(f"skipped run {run.id} from {path}: already in {store.path}"))
            else:
                err.print(escape(f"imported run {run_id} from {path} into {store.path}"))


# --------------------------------------------------------------------------- push / pull


@results.command()
@click.argument("run")
@click.option("--to", "target", required=True, metavar="STORE",
              help="The store to copy the run to: a file path, or postgresql://user@host/db "
                   "(the password from PGPASSWORD, PGPASSFILE or "
                   "$GREENBENCH_STORE_PASSWORD_FILE).")
@click.option("--no-check", is_flag=True,
              help="Push without `greenbench results check`'s rules first.")
@store_option
def push(run: str, target: str, no_check: bool, store_path: str | None) -> None:
    """Copy a run from the store to another (a lab's shared one), as it is.

    The run must pass `greenbench results check` first (each failed rule named, exit 1)
    unless --no-check. A run the other store already holds is recognised (its content hash)
    and not copied twice.
    """
    from greenbench.store import Store

    with Store(store_path, readonly=True) as source:
        record = source.get_run(run)
        where = str(source.path)
    if not no_check:
        _refuse_failing(record)
    _copy(record, where, target, create=True)


@results.command()
@click.argument("run")
@click.option("--from", "origin", required=True, metavar="STORE",
              help="The store to copy the run from: a file path, or "
                   "postgresql://user@host/db.")
@store_option
def pull(run: str, origin: str, store_path: str | None) -> None:
    """Copy a run from another store (a lab's shared one) into the store, as it is.

    RUN is a run id, a unique prefix of one, latest or latest~N in that other store.
    """
    from greenbench.store import Store

    with Store(origin, readonly=True) as source:
        record = source.get_run(run)
        where = str(source.path)
    _copy(record, where, store_path, create=True)


def _refuse_failing(record: RunRecord) -> None:
    """Each rule ``record`` fails, one a line, and exit 1 (``results check``'s rules)."""
    from greenbench.printable import printable
    from greenbench.submission import check_run

    failures = check_run(record)
    if failures:
        for failure in failures:
            click.echo(printable(str(failure)), err=True)
        click.echo(printable(f"run {record.id} fails {len(failures)} rule(s) of `greenbench "
                             "results check`: not pushed (--no-check pushes it anyway)"),
                   err=True)
        sys.exit(1)


def _copy(record: RunRecord, source: str, target: str | None, *, create: bool) -> None:
    from rich.markup import escape

    from greenbench.printable import printable
    from greenbench.store import Store

    err = console(stderr=True)
    with Store(target, create=create) as store:
        copied = store.put_run(record, source)
        where = str(store.path)
    if copied:
        err.print(escape(printable(f"copied run {record.id} ({len(record.cases)} case(s)) "
                                   f"from {source} to {where}")), soft_wrap=True)
    else:
        err.print(escape(printable(f"run {record.id} is already in {where} (the same "
                                   "content): nothing copied")), soft_wrap=True)


@results.command()
@click.argument("runs", nargs=-1, required=True, metavar="RUN...")
@store_option
def delete(runs: tuple[str, ...], store_path: str | None) -> None:
    """Delete runs and their cases from the store (a bad import, a botched measurement).

    RUN is a run id or a unique prefix of one; latest and latest~N are refused here, so that
    a run is never deleted by its position.
    """
    from rich.markup import escape

    from greenbench.printable import printable
    from greenbench.store import Store

    err = console(stderr=True)
    with Store(store_path, create=False) as store:
        for ref in runs:
            if ref.strip().startswith("latest"):
                raise UserError(f"delete {ref}: name the run by its id (see `greenbench "
                                "results list`)")
            run_id = store.resolve(ref)
            cases = store.case_count(run_id)
            store.delete_run(run_id)
            err.print(escape(printable(f"deleted run {run_id} ({cases} case(s)) from "
                                       f"{store.path}")))


# --------------------------------------------------------------------------- formatting


def _cv(summary: Summary) -> tuple[str, bool]:
    """The CV as shown, and whether it is high."""
    if summary.cv is None:
        return "-", False
    from greenbench.stats import HIGH_CV
    from greenbench.units import fmt_percent

    shown = fmt_percent(summary.cv, HIGH_CV)
    return (f"{shown} HIGH", True) if summary.high_cv else (shown, False)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _run_lines(runs: list[Any], width: int) -> list[str]:
    """One line per run where the terminal is wide enough; else the machine, workloads and
    label go on a line under the run's id, status and cases."""
    from greenbench.commands._width import (
        Col,
        fit,
        label_tokens,
        natural,
        plain,
        render,
        room,
        shortest,
        words,
    )
    from greenbench.printable import printable

    facts = [Col("ID"), Col("CREATED (UTC)"), Col("STATUS"), Col("CASES", right=True),
             Col("ENERGY")]
    more = [Col("MACHINE", give=1), Col("WORKLOADS", give=1), Col("LABEL", give=1)]
    for r in runs:
        created = _short_time(r.created_utc)
        facts[0].add([printable(r.id)])
        facts[1].add([created[:11], created[11:]])
        facts[2].add([printable(r.status)])
        facts[3].add([f"{r.cases_ok}/{r.cases}" if r.cases_ok != r.cases else str(r.cases)])
        facts[4].add(["ESTIMATE" if r.is_estimate else "measured"])
        more[0].add(_machine_cell(printable(r.hostname or r.machine_key or "?"), r))
        more[1].add(label_tokens(", ".join(printable(w) for w in r.workloads) or "-"))
        more[2].add(words(printable(r.label or "")))
    cols = facts + more
    if sum(natural(c) for c in facts) + sum(shortest(c) for c in more) <= room(width, len(cols)):
        return plain(render(cols, fit(cols, room(width, len(cols))) or []))
    details = {}
    for i, r in enumerate(runs):
        machine, workloads, label = (c.cells[i] for c in more)
        details[i] = [f"on {''.join(machine).strip()}: ", *workloads]
        if r.label:
            details[i][-1] += "; "
            details[i] += [f"label: {label[0]}", *label[1:]]
    widths = fit(facts, room(width, len(facts))) or [shortest(c) for c in facts]
    return plain(render(facts, widths, below=details, width=width))


def _machine_cell(host: str, run: Any) -> list[str]:
    """The host that stored the run and, for a multi-host job, how many others took part (the
    cell's tokens: a line may break between them)."""
    if run.hosts <= 1:
        return [host]
    others = run.hosts - 1
    cell = [f"{host} ", f"+{others} host{'s' if others > 1 else ''}"]
    if run.missing_hosts:
        cell[-1] += " "
        cell.append(f"({run.missing_hosts} missing)")
    return cell


def _short_time(created_utc: str) -> str:
    """``2025-01-01T12:34:56+00:00`` -> ``2025-01-01 12:34:56``."""
    return created_utc.replace("T", " ")[:19]


def _sensor_text(sensor: dict[str, Any]) -> str:
    kind = str(sensor.get("kind", "?"))
    shown = kind.upper() if kind == "estimate" else kind
    return f"{sensor.get('domain', '?')} ({sensor.get('source', '?')}, {shown})"
