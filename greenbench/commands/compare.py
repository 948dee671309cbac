"""``greenbench compare RUN_A RUN_B``: case-by-case comparison and regression gate."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click

from greenbench.commands._common import console, run_origin
from greenbench.commands._runs import load_run, store_option
from greenbench.commands._verbosity import detail, quiet, verbosity_options

_STATUS_STYLE = {"regressed": "red", "improved": "green", "unchanged": "",
                 "not comparable": "yellow"}


@click.command()
@click.argument("run_a", metavar="RUN_A")
@click.argument("run_b", metavar="RUN_B")
@click.option("--fail", "rules", multiple=True, metavar="RULE",
              help="Exit 1 when a metric regresses significantly beyond a threshold: "
                   "METRIC:N% or METRIC:AMOUNTUNIT, METRIC one of energy, energy_per_unit, "
                   "net_energy, time, power (e.g. energy_per_unit:5%, time:20ms). Repeatable.")
@click.option("--alpha", type=float, default=0.05, show_default=True,
              help="Significance level of the test.")
@click.option("--test", "test", type=click.Choice(["mann-whitney", "welch"]),
              default="mann-whitney", show_default=True,
              help="Significance test: Mann-Whitney U (rank test, robust to the skewed noise of "
                   "energy repeats) or Welch's t-test.")
@click.option("--metric", "metrics", multiple=True, metavar="M",
              help="Metric to compare (repeatable; default energy_per_unit, energy, time, "
                   "power). Names as in --fail, or result keys such as energy_j.")
@click.option("--allow-cross-machine", is_flag=True,
              help="Compare runs from different machines.")
@click.option("--allow-estimates", is_flag=True,
              help="Compare estimated energy with measured energy.")
@click.option("--baseline-session", "more_baselines", multiple=True, metavar="RUN",
              help="Another session of the baseline's code (repeatable): a change is then "
                   "called only beyond the spread between the baseline sessions.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@store_option
@verbosity_options
def compare(
    run_a: str,
    run_b: str,
    rules: tuple[str, ...],
    alpha: float,
    test: str,
    metrics: tuple[str, ...],
    allow_cross_machine: bool,
    allow_estimates: bool,
    more_baselines: tuple[str, ...],
    as_json: bool,
    store_path: str | None,
) -> None:
    """Compare RUN_B (current) against RUN_A (baseline), case by case.

    Cases match by workload and parameters. Each metric gets the ratio of medians
    (current / baseline) with a 95% bootstrap interval, a p-value and a verdict. The default
    test is the two-sided Mann-Whitney U test: energy repeats are few and right-skewed
    (background work and throttling only ever add energy), where a rank test stays valid and
    the t-test's normality assumption does not. With 5 repeats per side it can reach p < 0.05;
    with 3 it cannot, and the verdict says so.

    A regression needs both a change beyond the rule's threshold and significance (p < alpha).
    RUN_A and RUN_B are two sessions, so that p-value is within-session only: the drift
    between sessions (large on shared machines) is not in it, and every verdict says so.
    With --baseline-session (more sessions of RUN_A's code) a change must also lie outside
    the 95% prediction interval of a new session from the baseline sessions' medians. To gate
    two revisions with a test that includes the drift, use `greenbench gate` (interleaved A/B).
    Runs from different machines, or with estimated against measured energy, are not
    comparable unless --allow-cross-machine / --allow-estimates.

    RUN_A and RUN_B are run ids, unique prefixes, latest or latest~N, or exported run JSON
    files (greenbench results export).

    Exit codes: 0 no gated regression; 1 a --fail rule regressed; 2 an error (bad rule, unknown
    run); 3 nothing comparable was measured.
    """
    from greenbench import gate
    from greenbench.run_compare import compare_runs, metric_keys

    parsed = [gate.parse_rule(text) for text in rules]  # before loading: fail fast on typos
    keys = metric_keys(metrics, parsed)
    baseline = load_run(run_a, store_path)
    current = load_run(run_b, store_path)
    if not as_json:  # stored text on a terminal: control characters shown, never obeyed
        from greenbench.printable import printable_run

        baseline, current = printable_run(baseline), printable_run(current)
    sessions = [load_run(ref, store_path) for ref in more_baselines]
    for side, ref, run in (("baseline", run_a, baseline), ("current", run_b, current),
                           *(("baseline session", r, s) for r, s in zip(more_baselines, sessions,
                                                                         strict=True))):
        detail(f"{side} {ref}: run {run.id}, {len(run.cases)} case(s), from "
               f"{run_origin(ref, store_path)}")
    detail(f"metrics compared: {', '.join(keys)}")
    result = compare_runs(baseline, current, metrics=keys, rules=parsed, alpha=alpha, test=test,
                          allow_cross_machine=allow_cross_machine,
                          allow_estimates=allow_estimates, more_baselines=sessions)
    from greenbench.distributed.comparison import compare_jobs

    jobs = compare_jobs(baseline, current)  # multi-host runs: totals and host sets
    if as_json:
        doc = result.to_dict()
        if jobs is not None:
            doc["jobs"] = jobs.to_dict()
        click.echo(json.dumps(doc, indent=2))
    else:
        _print(result, [] if jobs is None else jobs.lines())
    sys.exit(result.exit_code)


# --------------------------------------------------------------------------- rendering


def _print(result: Any, job_lines: Sequence[str] = ()) -> None:
    from rich.markup import escape

    from greenbench.commands._width import Col, named_rows, print_lines
    from greenbench.run_compare import WITHIN_SESSION

    out = console()
    from greenbench.paired import TEST_NAME

    test = {"mann-whitney": "Mann-Whitney U", "welch": "Welch's t",
            "wilcoxon": TEST_NAME}.get(result.test, result.test)
    scope = ("rounds interleaved, so drift cancels" if result.test == "wilcoxon" else
             "within-session only: the drift between the two sessions is not in its p")
    out.print(f"baseline {_describe(result.baseline)}")
    out.print(f"current  {_describe(result.current)}")
    rules = ", ".join(r.text for r in result.rules) or "none (report only)"
    out.print(f"test: {test}, two-sided, alpha {result.alpha:.3g} ({scope}); "
              f"rules: {escape(rules)}")
    for i, line in enumerate(job_lines):
        style = "yellow" if line.startswith("host sets differ") else "bold" if i == 0 else ""
        out.print(f"[{style}]{escape(line)}[/{style}]" if style else escape(line))
    order = {key: i for i, key in enumerate(result.metrics)}
    for case in result.cases:
        mark = " [yellow](ESTIMATE)[/yellow]" if case.estimate else ""
        label = escape(case.label)
        if case.reason is not None:
            out.print(f"\n[bold]{label}[/bold]{mark}: [yellow]not comparable[/yellow]: "
                      f"{escape(case.reason)}")
            continue
        cols = [Col("metric"), *(Col(h, right=True) for h in ("baseline", "current", "ratio",
                                                             "95% CI", "p")),
                Col("verdict", give=1)]
        notes: dict[str, list[str]] = {}  # note -> metrics, so a shared reason prints once
        for v in sorted(case.verdicts, key=lambda v: order.get(v.key, len(order))):
            for col, (cell, style) in zip(cols, _row(v), strict=True):
                col.add(cell, style)
            note = v.reason or (v.comparison.note if v.comparison is not None else None)
            # the header already says the p-value is within-session: not once per case again
            note = (note or "").replace(WITHIN_SESSION, "").replace("; ; ", "; ").strip("; ")
            if note:
                notes.setdefault(note, []).append(v.metric)
        out.print()
        out.print(f"[bold]{label}[/bold]{mark}")
        # a metric's name goes above its figures where it would squeeze the rule's verdict
        print_lines(out, named_rows(cols[0], cols[1:], out.width, rule="─"))
        for note, metrics in () if quiet() else notes.items():  # -q: the verdicts alone
            shown = ", ".join(dict.fromkeys(metrics))
            out.print(f"  [dim]note[/dim] {shown}: {escape(note)}")
    for side, labels in (("baseline", result.only_in_baseline),
                         ("current", result.only_in_current)):
        if labels:
            out.print(f"\nonly in the {side} run (not compared): {escape(', '.join(labels))}")
    out.print()
    out.print(_conclusion(result))


def _row(v: Any) -> list[tuple[list[str], str]]:
    """The cells of one metric's row (tokens, style): metric, baseline, current, ratio,
    its interval, p and the verdict."""
    from greenbench import gate

    unit = gate.METRICS.get(v.metric, ("", ""))[1]
    c = v.comparison
    verdict = ([f"{v.status} ", f"[{v.rule.text}]"] if v.rule is not None else [v.status],
               _STATUS_STYLE.get(v.status, ""))
    if c is None:
        return [([v.metric], "")] + [(["-"], "")] * 5 + [verdict]
    ci = ([f"{c.ratio_ci_low:.3f} - ", f"{c.ratio_ci_high:.3f}"]
          if c.ratio_ci_low is not None and c.ratio_ci_high is not None else ["-"])
    return [
        ([v.metric], ""), ([_value(c.baseline.median, unit)], ""),
        ([_value(c.current.median, unit)], ""),
        (["-" if c.ratio is None else f"{c.ratio:.3f}"], ""), (ci, ""),
        (["-" if c.p_value is None else f"{c.p_value:.2g}"], ""), verdict,
    ]


def _value(x: float, unit: str) -> str:
    from greenbench.units import fmt_duration, fmt_energy, fmt_power

    formatter = {"J": fmt_energy, "s": fmt_duration, "W": fmt_power}.get(unit)
    return formatter(x) if formatter else f"{x:.4g}"


def _describe(run: Any) -> str:
    from rich.markup import escape

    label = f" ({run.label})" if run.label else ""
    estimate = ", ESTIMATE" if run.is_estimate else ""
    host = run.machine.get("hostname") or run.machine_key
    return escape(f"{run.id}{label}: {host}, {run.created_utc}{estimate}")


def _conclusion(result: Any) -> str:
    from rich.markup import escape

    from greenbench import gate

    code = result.exit_code
    if code == gate.EXIT_REGRESSED:
        failed = sorted({f"{v.rule.text}" for v in result.verdicts if v.regressed})
        return f"[red]regressed[/red]: {escape(', '.join(failed))} (exit {code})"
    if code == gate.EXIT_NOTHING_COMPARABLE:
        return f"[yellow]nothing comparable was measured[/yellow] (exit {code})"
    counts: dict[str, int] = {}
    for v in result.verdicts:
        counts[v.status] = counts.get(v.status, 0) + 1
    shown = ", ".join(f"{n} {status}" for status, n in counts.items())
    return f"no gated regression: {shown} (exit {code})"
