"""The runner and the store under faults: a diverged figure, Ctrl-C while the store is
locked, a store that fails mid-run. Finished cases are kept and the run never stays
"running". Cases come from a stand-in for the worker; the store is real SQLite."""

from __future__ import annotations

import _thread
import json
import math
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from greenbench import runner
from greenbench.errors import UserError
from greenbench.records import CaseRecord
from greenbench.results_format import dumps_document
from greenbench.store import Store
from tests.cli_runner import run_cli
from tests.factories import make_case


def specs(n: int) -> list[runner.CaseSpec]:
    return [runner.CaseSpec("toy", {"batch": i}) for i in range(n)]


def fake_worker(monkeypatch: pytest.MonkeyPatch, cases: list[CaseRecord]) -> None:
    """``run_case`` hands out ``cases`` in turn instead of starting workers."""
    queue = list(cases)
    monkeypatch.setattr(runner, "run_case",
                        lambda spec, config, on_event, zygote=None: queue.pop(0))


def run_cases(store: Store, n: int) -> Any:
    return runner.run(specs(n), runner.RunConfig(), registry=None, store=store,  # type: ignore[arg-type]
                      sensors=[])


def strict_json(text: str) -> Any:
    def refuse(name: str) -> None:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


# --------------------------------------------------------------------------- non-finite


def diverged_case() -> CaseRecord:
    case = make_case(with_trace=False)
    case.summary.clear()
    case.repeats[1].metrics["quality:loss"] = math.nan
    case.repeats[1].quality = {"loss": math.nan}
    case.repeats[3].metrics["metric:grad_norm"] = math.inf
    return case


def test_a_nan_quality_figure_is_stored_as_null_noted_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "s.sqlite"
    fake_worker(monkeypatch, [diverged_case(), make_case(with_trace=False)])
    with Store(path) as store:
        record = run_cases(store, 2)
        stored = store.get_run(record.id)
        text = dumps_document(store.export_run(record.id))
    assert stored.status == "complete" and len(stored.cases) == 2
    first = stored.cases[0]
    assert first.summary["quality:loss"].n == 4  # the NaN left out, the other four kept
    assert first.repeats[1].metrics["quality:loss"] is None
    assert first.repeats[1].quality == {"loss": None}
    assert any(f.startswith("quality:loss: 1 of 5 repeat(s) gave nan") and "null" in f
               for f in first.flags)
    assert any("metric:grad_norm" in f and "inf" in f for f in first.flags)
    assert "metric:grad_norm" not in first.summary  # its one value left was the infinity
    strict_json(text)  # the export stays valid JSON
    shown = run_cli(capsys, "results", "show", record.id, "--store", str(path))
    assert shown.code == 0 and "nan" in shown.out


def test_every_value_of_a_metric_non_finite_gives_no_summary_but_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = make_case(with_trace=False)
    case.summary.clear()
    for r in case.repeats:
        r.metrics["quality:loss"] = math.inf
    fake_worker(monkeypatch, [case])
    with Store(tmp_path / "s.sqlite") as store:
        stored = store.get_run(run_cases(store, 1).id)
    assert "quality:loss" not in stored.cases[0].summary
    assert any("5 of 5" in f for f in stored.cases[0].flags)


def test_a_nan_that_reaches_the_store_is_written_as_null_not_invalid_json(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite"
    case = make_case(with_trace=False)
    case.repeats[0].measurement.domains[0].mean_power_w = math.nan
    with Store(path) as store:
        from tests.factories import make_run

        run = make_run(0)
        run.cases.append(case)
        store.begin_run(run)
    con = sqlite3.connect(path)
    for (text,) in con.execute("SELECT record FROM cases"):
        strict_json(text)
    con.close()


def test_energy_intervals_of_few_spread_repeats_never_go_below_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = {"energy_per_unit_j": [0.01, 0.30, 0.02], "net_energy_per_unit_j": [-0.2, 0.3, 0.0],
              "time_s": [0.01, 0.5, 0.02]}
    case = make_case(values=values, with_trace=False)
    case.summary.clear()
    fake_worker(monkeypatch, [case])
    with Store(tmp_path / "s.sqlite") as store:
        summary = store.get_run(run_cases(store, 1).id).cases[0].summary
    for metric in ("energy_per_unit_j", "time_s"):
        assert summary[metric].ci_low == 0.0
        assert "cut at 0" in summary[metric].ci_method
    assert summary["net_energy_per_unit_j"].ci_low < 0  # a net energy may be negative


# --------------------------------------------------------------------------- Ctrl-C, store faults


def test_ctrl_c_while_a_finished_case_waits_for_the_store_lock_keeps_that_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "s.sqlite"
    store = Store(path)
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    fake_worker(monkeypatch, [make_case(with_trace=False) for _ in range(3)])
    real_add = store.add_case
    locked_once: list[bool] = []

    def add_while_another_writer_holds_the_lock(run_id: str, index: int,
                                                case: CaseRecord) -> None:
        if not locked_once:  # the first case: Ctrl-C lands while the runner waits for the
            locked_once.append(True)  # lock, and the other writer lets go a moment later
            blocker.execute("BEGIN IMMEDIATE")

            def interrupt_then_release() -> None:
                time.sleep(0.3)
                _thread.interrupt_main()
                time.sleep(0.3)
                blocker.execute("ROLLBACK")

            threading.Thread(target=interrupt_then_release).start()
        real_add(run_id, index, case)

    monkeypatch.setattr(store, "add_case", add_while_another_writer_holds_the_lock)
    try:
        record = run_cases(store, 3)
    finally:
        store.close()
    blocker.close()
    assert record.status == "interrupted"
    with Store(path, readonly=True) as s:
        stored = s.get_run(record.id)
    assert stored.status == "interrupted"
    assert len(stored.cases) == 1 and stored.cases[0].status == "ok"


def test_a_store_that_fails_mid_run_leaves_the_run_failed_not_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "s.sqlite"
    fake_worker(monkeypatch, [make_case(with_trace=False) for _ in range(3)])
    store = Store(path)
    real_add = store.add_case

    def add_then_fill(run_id: str, index: int, case: CaseRecord) -> None:
        if index == 1:
            raise UserError(f"results store {path}: database or disk is full")
        real_add(run_id, index, case)

    monkeypatch.setattr(store, "add_case", add_then_fill)
    with pytest.raises(UserError, match="disk is full"):
        run_cases(store, 3)
    store.close()
    with Store(path, readonly=True) as s:
        (summary,) = s.list_runs()
        stored = s.get_run(summary.id)
    assert stored.status == "failed" and len(stored.cases) == 1


def test_a_stored_interval_below_zero_is_shown_from_zero_in_show_and_latex(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.factories import make_run

    run = make_run(0)
    # Summarized the way runs were before intervals were cut at zero: the low is negative.
    run.cases.append(make_case(values={"energy_per_unit_j": [0.01, 0.30, 0.02]},
                               with_trace=False))
    assert run.cases[0].summary["energy_per_unit_j"].ci_low < 0
    path = tmp_path / "s.sqlite"
    with Store(path) as s:
        s.begin_run(run)
    shown = run_cli(capsys, "results", "show", run.id, "--all-metrics", "--store", str(path))
    assert shown.code == 0 and "[-" not in shown.out and " -0." not in shown.out
    assert "0 - 0.7" in shown.out or "0 - " in shown.out
    tex = tmp_path / "t.tex"
    result = run_cli(capsys, "report", run.id, "--latex", str(tex), "--store", str(path))
    assert result.code == 0, result.err
    # the table's interval column reads LOW--HIGH, never from a negative number
    latex = tex.read_text()
    assert not any(f"& -{digit}" in latex for digit in "0123456789") and "& 0--" in latex


def test_show_json_of_a_run_stored_with_nan_text_is_valid_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.factories import make_run

    path = tmp_path / "s.sqlite"
    with Store(path) as s:
        run_id = s.begin_run(make_run(1))
    con = sqlite3.connect(path)  # what older versions wrote for a NaN median
    con.execute("UPDATE cases SET record = replace(record, '\"median\":0.5', '\"median\":NaN')")
    con.commit()
    con.close()
    result = run_cli(capsys, "results", "show", run_id, "--json", "--store", str(path))
    assert result.code == 0, result.err
    doc = strict_json(result.out)
    assert doc["cases"][0]["summary"]["quality:loss"]["median"] is None
