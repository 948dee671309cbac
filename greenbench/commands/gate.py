"""``greenbench gate --base REV --head REV [PYTEST ARGS]``: interleaved A/B energy gate."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from greenbench.commands._common import console
from greenbench.commands._verbosity import detail, note
from greenbench.errors import UserError
from greenbench.units import fmt_duration

DEFAULT_RULE = "energy:10%"
DEFAULT_ROUNDS = 32
DEFAULT_PROCESSES = 2
DEFAULT_MIN_TIME_S = 0.1
DEFAULT_RUNS = 5


@click.command(context_settings={"ignore_unknown_options": True,
                                 "allow_interspersed_args": False})
@click.option("--base", "base", metavar="REV", default=None,
              help="The revision to compare against (a commit, branch or tag).")
@click.option("--head", "head", metavar="REV", default="HEAD", show_default=True,
              help="The revision under test.")
@click.option("--fail", "rules", multiple=True, metavar="RULE",
              help=f"Exit 1 when a metric regresses significantly beyond a threshold, as in "
                   f"greenbench compare (default {DEFAULT_RULE}). Repeatable.")
@click.option("--alpha", type=float, default=0.05, show_default=True,
              help="Family-wise significance level: the chance that unchanged code fails the "
                   "gate through any of its benchmarks; each of N benchmarks is tested at "
                   "alpha / N (Bonferroni).")
@click.option("--rounds", type=click.IntRange(6), default=DEFAULT_ROUNDS, show_default=True,
              help="Rounds per benchmark and revision, paired one to one, over all the "
                   "processes (at least 6, the fewest with which the paired test can reach "
                   "p < 0.05; more for many benchmarks, each tested at alpha / N).")
@click.option("--processes", type=click.IntRange(1), default=DEFAULT_PROCESSES,
              show_default=True,
              help="Process pairs the rounds are spread over, one after another: each "
                   "process has its own luck (caches, physical memory), which more "
                   "processes average out.")
@click.option("--min-time", "min_time", type=click.FloatRange(0, min_open=True),
              default=DEFAULT_MIN_TIME_S, show_default=True, metavar="S",
              help="Shortest round, seconds (raised to 10 updates of the slowest sensor). "
                   "Many short pairs beat a few long ones: each pair cancels the load of its "
                   "own moment.")
@click.option("--repo", "repo", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="The git repository (default: the one holding the current "
                                 "folder).")
@click.option("--calibrate", is_flag=True,
              help="Gate the base revision (default HEAD) against itself --runs times and "
                   "print the false-alarm rate and the smallest change this runner detects.")
@click.option("--runs", type=click.IntRange(1), default=DEFAULT_RUNS, show_default=True,
              help="Sessions of --calibrate.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED, metavar="[PYTEST ARGS]")
def gate(
    base: str | None,
    head: str,
    rules: tuple[str, ...],
    alpha: float,
    rounds: int,
    processes: int,
    min_time: float,
    repo: Path | None,
    calibrate: bool,
    runs: int,
    as_json: bool,
    pytest_args: tuple[str, ...],
) -> None:
    """Gate HEAD's energy against BASE's, measured interleaved on this machine.

    Both revisions are checked out as git worktrees and their energy benchmarks (tests that
    use the energy_benchmark fixture; select them with PYTEST ARGS) run in two pytest
    processes at once that take turns: round i of both revisions runs back to back, A B, then
    B A, and so on, so whatever else the machine does hits both alike. Round i of the head is
    divided by round i of the base and the paired log ratios go through the exact Wilcoxon
    signed-rank test; the ratio is their Hodges-Lehmann estimate with its distribution-free
    95% interval. A benchmark regresses when the change exceeds the rule's threshold and
    p < alpha.

    Exit codes, as greenbench compare: 0 no gated regression; 1 a rule regressed; 2 an
    error (unknown revision, not a git repository, pytest could not run); 3 nothing
    comparable was measured.

    The verdicts go to standard output, progress to standard error. For -q and -v, put them
    before gate (greenbench -v gate ...): after it, they are pytest's.
    """
    from greenbench import gate as gating
    from greenbench.ab.worktrees import repository_root
    from greenbench.run_compare import metric_keys

    parsed = [gating.parse_rule(text) for text in rules or (DEFAULT_RULE,)]
    keys = metric_keys(("energy", "time"), parsed)
    if not 0.0 < alpha < 1.0:
        raise UserError(f"--alpha {alpha}: use a number between 0 and 1 (0.05 is usual)")
    start = (repo or Path.cwd()).resolve()
    if not start.is_dir():
        raise UserError(f"--repo {start}: no such folder")
    root = repository_root(start)
    subdir = start.relative_to(root) if start.is_relative_to(root) else Path()
    args = [f"--greenbench-min-time={min_time:g}", *pytest_args]
    if calibrate:
        _calibrate(root, base or "HEAD", args, subdir, parsed, keys, alpha, rounds, processes,
                   runs, as_json)
    if base is None:
        raise UserError("greenbench gate: give --base REV (the revision to compare against), "
                        "or --calibrate")
    with _workdir() as workdir:
        session, comparison = _gate_once(root, {"A": base, "B": head}, args, subdir, workdir,
                                         parsed, keys, alpha, rounds, processes)
    if as_json:
        click.echo(json.dumps({**comparison.to_dict(), "gate": _facts(session)}, indent=2))
    else:
        _print(session, comparison)
    sys.exit(comparison.exit_code)


# --------------------------------------------------------------------------- running


class _workdir:
    """A temporary folder, removed on success and kept (with the pytest logs) on failure."""

    def __enter__(self) -> Path:
        self.path = Path(tempfile.mkdtemp(prefix="greenbench-gate-"))
        return self.path

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        if exc is None or not isinstance(exc, UserError):
            shutil.rmtree(self.path, ignore_errors=True)


def _gate_once(root: Path, revisions: dict[str, str], args: list[str], subdir: Path,
               workdir: Path, rules: list[Any], keys: list[str], alpha: float,
               rounds: int, processes: int) -> tuple[Any, Any]:
    from greenbench.ab.sessions import merged, run_session
    from greenbench.ab.worktrees import checked_out
    from greenbench.run_compare import PAIRED_TEST, compare_runs

    sessions = []
    with checked_out(root, revisions, workdir) as checkouts:
        for k in range(processes):
            folder = workdir / f"processes-{k + 1}"
            folder.mkdir()
            share = rounds // processes + (1 if k < rounds % processes else 0)
            sessions.append(run_session(checkouts, args, folder, rounds=share, subdir=subdir))
            detail(f"process pair {k + 1}/{processes}: {share} round(s) per revision in "
                   f"{fmt_duration(sessions[-1].wall_s)} (in {folder}, kept if the gate errs)")
    base = merged([s.sides["A"].saved for s in sessions])
    head = merged([s.sides["B"].saved for s in sessions])
    # the gate fails when any benchmark regresses: alpha / N each keeps the chance that
    # unchanged code fails through one of N benchmarks at alpha (Bonferroni)
    both = {c.workload + str(c.params) for c in base.cases} & \
        {c.workload + str(c.params) for c in head.cases}
    comparison = compare_runs(base, head, metrics=keys, rules=rules,
                              alpha=alpha / max(len(both), 1), test=PAIRED_TEST)
    return _Sessions(sessions), comparison


class _Sessions:
    """The process pairs of one gate, seen as one: sides of the first, times and turns of all."""

    def __init__(self, sessions: list[Any]) -> None:
        self.all = sessions
        self.sides = sessions[0].sides
        self.wall_s = sum(s.wall_s for s in sessions)
        self.hash_seed = ", ".join(s.hash_seed for s in sessions)
        self.fixed_layout = all(s.fixed_layout for s in sessions)

    def back_to_back(self) -> tuple[int, int]:
        counts = [s.back_to_back() for s in self.all]
        return sum(a for a, _ in counts), sum(b for _, b in counts)


def _calibrate(root: Path, rev: str, args: list[str], subdir: Path, rules: list[Any],
               keys: list[str], alpha: float, rounds: int, processes: int, runs: int,
               as_json: bool) -> None:
    from greenbench.ab.calibrate import calibration

    comparisons = []
    seconds = []
    for i in range(runs):
        with _workdir() as workdir:
            session, comparison = _gate_once(root, {"A": rev, "B": rev}, args, subdir,
                                             workdir, rules, keys, alpha, rounds, processes)
        comparisons.append(comparison)
        seconds.append(_per_benchmark_s(session, comparison))
        ratios = ", ".join(_ratio_text(c) for c in comparison.cases)
        note(f"run {i + 1}/{runs}: exit {comparison.exit_code}; energy ratios {ratios}")
    result = calibration(comparisons, rules[0].key if rules else "energy_j")
    if as_json:
        click.echo(json.dumps({
            "runs": result.runs, "failed_runs": result.failed_runs,
            "false_alarm_upper_95": result.false_alarm_upper, "alpha": alpha,
            "rules": [r.text for r in rules], "rounds": rounds,
            "seconds_per_benchmark": max(seconds, default=None),
            "benchmarks": [vars(b) for b in result.benchmarks],
        }, indent=2))
    else:
        _print_calibration(result, rules, rounds, seconds, alpha)
    sys.exit(0)


# --------------------------------------------------------------------------- rendering


def _print(session: Any, comparison: Any) -> None:
    from rich.markup import escape

    from greenbench.commands.compare import _print as print_comparison

    out = console()
    a, b = session.sides["A"].revision, session.sides["B"].revision
    adjacent, both = session.back_to_back()
    out.print(escape(f"gate: head {b.name} ({b.short}) against base {a.name} ({a.short}), "
                     f"interleaved: {adjacent} of {both} round pairs measured back to back; "
                     f"{len(session.all)} process pair(s), hash seed {session.hash_seed} "
                     f"for both sides, address layout "
                     f"{'fixed (ASLR off)' if session.fixed_layout else 'random'}; "
                     f"{fmt_duration(session.wall_s)}, "
                     f"{fmt_duration(_per_benchmark_s(session, comparison))} per benchmark"))
    n = len(comparison.cases)
    if n > 1:
        out.print(f"family-wise alpha {comparison.alpha * n:g} over {n} benchmarks "
                  f"(Bonferroni): each tested at {comparison.alpha:.3g}")
    print_comparison(comparison)


def _print_calibration(result: Any, rules: list[Any], rounds: int,
                       seconds: list[float], alpha: float) -> None:
    from rich.markup import escape

    out = console()
    threshold = rules[0].threshold_label if rules else "-"
    upper = result.false_alarm_upper
    out.print()
    out.print(f"false alarms: {result.failed_runs} of {result.runs} runs failed the gate at "
              f"{escape(', '.join(r.text for r in rules))} (alpha {alpha:g} over all "
              f"benchmarks, {result.alpha:.3g} each; 95% upper bound of the rate {upper:.0%})")
    for b in result.benchmarks:
        spread = (f"{min(b.ratios):.3f} to {max(b.ratios):.3f}" if b.ratios else "-")
        detect = "-" if b.detectable is None else f"{b.detectable:+.1%}"
        out.print(escape(f"  {b.label}: paired ratios between runs {spread}; smallest change "
                         f"detected 4 times in 5 with {b.pairs} pairs: {detect}"))
    worst = max((abs(r - 1) for b in result.benchmarks for r in b.ratios), default=0.0)
    smallest = max((b.detectable or 0.0 for b in result.benchmarks), default=0.0)
    out.print(f"unchanged code moved by up to {worst:.1%} here: keep the threshold above that "
              f"(the gate's is {threshold}); changes below {smallest:+.1%} are caught less than "
              f"4 times in 5 (more --rounds catch smaller ones)")
    if seconds:
        out.print(f"time: {fmt_duration(max(seconds))} per benchmark ({rounds} rounds per "
                  "revision)")


def _ratio_text(case: Any) -> str:
    for v in case.verdicts:
        if v.key == "energy_j" and v.comparison is not None and v.comparison.ratio is not None:
            return f"{case.label.rsplit('::', 1)[-1]} {v.comparison.ratio:.3f} ({v.status})"
    return f"{case.label.rsplit('::', 1)[-1]} -"


def _per_benchmark_s(session: Any, comparison: Any) -> float:
    benchmarks = max(len(comparison.cases) + len(comparison.only_in_current)
                     + len(comparison.only_in_baseline), 1)
    return float(session.wall_s) / benchmarks


def _facts(session: Any) -> dict[str, Any]:
    adjacent, both = session.back_to_back()
    return {
        "base": {"rev": session.sides["A"].revision.name,
                 "commit": session.sides["A"].revision.commit},
        "head": {"rev": session.sides["B"].revision.name,
                 "commit": session.sides["B"].revision.commit},
        "wall_s": session.wall_s, "round_pairs": both, "back_to_back": adjacent,
        "hash_seed": session.hash_seed, "fixed_layout": session.fixed_layout,
    }
