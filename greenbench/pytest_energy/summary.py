"""The lines of the terminal summary, each with its pytest markup (red, yellow, bold).

Every outcome has its own name at the start of a line, so a CI log can be searched for it:

- ``greenbench: ENERGY REGRESSION: ...``: a --greenbench-compare-fail rule regressed
  (beyond its threshold *and* p < --greenbench-alpha, a p-value within sessions only: the
  drift between the baseline's session and this one is not in it); the session fails;
- ``greenbench: BUDGET EXCEEDED: ...``: a marker budget; that test failed;
- ``greenbench: NOTHING COMPARABLE measured: ...``: no baseline, another machine, estimated
  against measured energy, or too few rounds; the session's exit status is left alone;
- ``greenbench: N energy benchmark(s) skipped in pytest-xdist workers ...``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from greenbench.pytest_energy.table import comparison_table, results_table

if TYPE_CHECKING:
    from greenbench.pytest_energy.session import GreenbenchSession

Line = tuple[str, dict[str, bool]]
_PLAIN: dict[str, bool] = {}
_RED = {"red": True, "bold": True}
_YELLOW = {"yellow": True}


def summary_lines(s: GreenbenchSession) -> list[Line]:
    """Nothing at all when greenbench had nothing to do in this session."""
    lines: list[Line] = []
    sensors = s.sensors_summary()
    if s.cases and sensors:
        lines.append((f"sensors: {sensors}", _YELLOW if "ESTIMATE" in sensors else _PLAIN))
    outcome = s.outcome
    if outcome is not None and outcome.comparison is not None:
        lines += _comparison(s)
    elif s.cases:
        lines += [(t, _PLAIN) for t in results_table(list(s.cases.values()), _width(s))]
    if s.saved_path is not None:
        lines.append((f"saved baseline: {_relative(s.saved_path, s)}", _PLAIN))
    lines += _outcomes(s)
    return _wrapped(lines, _width(s))


def _wrapped(lines: list[Line], width: int) -> list[Line]:
    """Lines longer than the terminal wrapped at spaces (so no number is cut), their
    continuations indented; an outcome (``greenbench: ...``) stays one line, whole, for a
    search of a CI log to find."""
    import textwrap

    return [(part, markup) for text, markup in lines
            for part in (textwrap.wrap(text, width, subsequent_indent="  ",
                                       break_long_words=False, break_on_hyphens=False)
                         if len(text) > width and not text.startswith("greenbench: ")
                         else [text])]


def _comparison(s: GreenbenchSession) -> list[Line]:
    outcome = s.outcome
    assert outcome is not None and outcome.comparison is not None
    c = outcome.comparison
    base = c.baseline
    described = ", ".join(str(x) for x in (
        base.label, base.machine.get("hostname"), base.created_utc,
        "ESTIMATE" if base.is_estimate else None) if x)
    rules = ", ".join(r.text for r in s.settings.rules) or "none (report only)"
    lines: list[Line] = [
        (f"baseline: {_relative(outcome.baseline_path, s)} ({described})", _PLAIN),
        (f"test: Mann-Whitney U, two-sided, alpha {s.settings.alpha:g}, within-session only "
         f"(the drift between two sessions is not in its p); rules: {rules}", _PLAIN),
    ]
    shown = list(dict.fromkeys([r.key for r in s.settings.rules] or ["energy_j"]))
    table, notes = comparison_table(outcome, shown, _width(s))
    lines += [(t, _PLAIN) for t in table]
    lines += [(f"  {n}", _YELLOW) for n in notes]
    if c.only_in_baseline:
        lines.append((f"  in the baseline but not run now: {', '.join(c.only_in_baseline)}",
                      _PLAIN))
    return lines


def _outcomes(s: GreenbenchSession) -> list[Line]:
    lines: list[Line] = []
    outcome = s.outcome
    if outcome is not None:
        regressions = outcome.regressions
        for name, verdict in regressions:
            lines.append((f"greenbench: ENERGY REGRESSION: {name}: {verdict.explanation}",
                          _RED))
        if regressions:
            n = len(regressions)
            lines.append((f"greenbench: the session fails: {n} regression"
                          f"{'s' if n > 1 else ''} beyond --greenbench-compare-fail, "
                          f"within-session p < {s.settings.alpha:g} (a test across two "
                          "sessions cannot see the drift between them; `greenbench gate` "
                          "interleaves the two revisions and can)", _RED))
        elif outcome.nothing_comparable:
            lines.append((f"greenbench: NOTHING COMPARABLE measured: {_why(outcome)}",
                          _YELLOW))
    for nodeid, failures in s.budget_failures.items():
        for failure in failures:
            text = failure.removeprefix("greenbench budget ")
            lines.append((f"greenbench: BUDGET {text.split(':')[0].upper()}: {nodeid}: "
                          f"{text.partition(': ')[2]}", _RED))
    if s.xdist_skipped:
        n = s.xdist_skipped
        lines.append((f"greenbench: {n} energy benchmark{'s' if n > 1 else ''} skipped in "
                      "pytest-xdist workers (parallel tests would be measured with them): "
                      "run them without -n, or pass --greenbench-xdist=serial", _YELLOW))
    lines += [(f"greenbench: {p}", _YELLOW) for p in s.problems]
    return lines


def _why(outcome: Any) -> str:
    """The reasons nothing could be compared, each once."""
    if outcome.reason is not None:
        return str(outcome.reason)
    reasons = [v.reason for v in outcome.comparison.verdicts if v.reason]
    if outcome.comparison.only_in_current and not outcome.comparison.cases:
        reasons.append("no benchmark of this session is in the baseline")
    return "; ".join(dict.fromkeys(reasons)) or "no comparison could be made"


def _width(s: GreenbenchSession) -> int:
    """The terminal's columns, as pytest sees them."""
    return int(s.config.get_terminal_writer().fullwidth)


def _relative(path: Any, s: GreenbenchSession) -> str:
    try:
        return str(path.relative_to(s.config.rootpath))
    except ValueError:
        return str(path)
