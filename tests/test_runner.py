"""The runner: isolated worker processes, failures that stay contained, Ctrl-C keeps results."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from greenbench.records import RunRecord
from greenbench.runner import CaseSpec, RunConfig, plan, run, run_case
from greenbench.store import Store
from greenbench.workload import discover

DATA = Path(__file__).parent / "data"
FILE = str(DATA / "basic_workloads.py")
FAST = dict(repeats=2, min_duration_s=0.1, warmup_s=0.2, idle_s=0.1, interval_s=0.02,
            workload_files=[FILE])


def registry():
    return discover([FILE], entry_points=False)


def test_a_case_runs_in_a_worker_and_reports_per_step_figures() -> None:
    events: list[dict] = []
    case = run_case(CaseSpec("spin", {"n": 3000, "mode": "sum"}), RunConfig(**FAST),
                    events.append)
    assert case.status == "ok", case.error
    assert len(case.repeats) == 2
    r = case.repeats[0]
    assert r.steps >= 1 and r.units == r.steps * 3000
    assert r.metrics["energy_j"] is not None and r.metrics["energy_j"] > 0
    assert r.metrics["energy_per_unit_j"] == pytest.approx(r.metrics["energy_j"] / 3000)
    assert r.metrics["time_s"] * r.steps == pytest.approx(r.measurement.duration_s, rel=1e-6)
    assert case.idle is not None and case.warmup is not None
    assert [p["name"] for p in case.trace["phases"]] == ["warmup", "idle", "repeat 1",
                                                         "repeat 2"]
    phases = [e["phase"] for e in events if e["event"] == "phase"]
    assert phases[:4] == ["setup", "warmup", "settle", "idle"] and phases.count("repeat") == 2


def test_repeats_are_calibrated_to_the_minimum_duration() -> None:
    case = run_case(CaseSpec("slow", {"sleep_s": 0.02}),
                    RunConfig(**{**FAST, "min_duration_s": 0.2}))
    assert case.status == "ok", case.error
    for r in case.repeats:
        assert r.steps >= 8
        assert r.measurement.duration_s >= 0.2


def test_crash_kill_and_hang_fail_their_case_and_the_others_go_on(tmp_path: Path) -> None:
    reg = registry()
    specs = [CaseSpec("crash", {}), CaseSpec("killed", {}), CaseSpec("hang", {}),
             CaseSpec("spin", {"n": 1000, "mode": "sum"})]
    store = Store(tmp_path / "s.sqlite")
    record = run(specs, RunConfig(**{**FAST, "timeout_s": 4.0}), reg, store)
    statuses = [c.status for c in record.cases]
    assert statuses == ["failed", "failed", "failed", "ok"]
    crash, killed, hang, _ = record.cases
    assert "boom in setup" in (crash.error or "")
    assert "SIGKILL" in (killed.error or "")
    assert "timed out after 4 s" in (hang.error or "")
    stored = store.get_run(record.id)
    assert stored.status == "complete"
    assert [c.status for c in stored.cases] == statuses


def test_summary_has_median_ci_and_cv_per_metric(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    config = RunConfig(**{**FAST, "repeats": 3})
    record = run([CaseSpec("scored", {})], config, registry(), store)
    case = record.cases[0]
    s = case.summary["energy_per_unit_j"]
    assert s.n == 3
    assert s.ci_low is not None and s.ci_high is not None
    assert s.ci_low <= s.median <= s.ci_high
    assert "quality:accuracy" in case.summary
    assert any(f.startswith("estimate") for f in case.flags) == record.is_estimate


def test_plan_uses_the_quick_suite_by_default_and_checks_before_work() -> None:
    reg = registry()
    specs = plan(reg, [], {}, "tiny", "cpu")
    assert [(s.workload, s.params["mode"]) for s in specs] == [("spin", "sum"),
                                                              ("spin", "sort")]
    specs = plan(reg, ["spin"], {"n": ["1", "2"]}, None, "cpu")
    assert [s.params["n"] for s in specs] == [1, 2]


def test_ctrl_c_keeps_finished_cases_and_marks_the_run_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    cmd = [sys.executable, "-m", "greenbench", "run", "slow", "-p",
           "sleep_s=0.01,0.011,0.012,0.013,0.014,0.015,0.016,0.017,0.018,0.019",
           "--workload-file", FILE,
           "--store", str(db), "--repeats", "2", "--min-duration", "0.1", "--warmup", "0.1",
           "--idle", "0.1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _cases_stored(db) < 1:
        time.sleep(0.2)
    assert _cases_stored(db) >= 1, proc.stderr.read().decode() if proc.stderr else ""
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err.decode()
    assert b"Traceback" not in err
    assert b"interrupted" in err
    store = Store(db)
    stored: RunRecord = store.get_run("latest")
    assert stored.status == "interrupted"
    assert 1 <= len(stored.cases) < 10
    assert all(c.status == "ok" for c in stored.cases)


def _cases_stored(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return int(con.execute("select count(*) from cases").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_a_run_with_carbon_setup_stores_footprints_with_sci(tmp_path: Path) -> None:
    from greenbench.carbon.options import resolve_carbon

    carbon = resolve_carbon(None, 300.0, None, None, 1.2)
    store = Store(tmp_path / "s.sqlite")
    record = run([CaseSpec("spin", {"n": 1000, "mode": "sum"})], RunConfig(**FAST), registry(),
                 store, carbon=carbon)
    case = store.get_run(record.id).cases[0]
    energy_j = sum(r.measurement.energy_j for r in case.repeats)
    units = sum(r.units for r in case.repeats)
    fp = case.footprint
    assert fp["operational_g"] == pytest.approx(energy_j / 3.6e6 * 300 * 1.2)
    assert fp["sci_g_per_unit"] == pytest.approx(fp["total_g"] / units)
    assert fp["unit"] == "items"
    assert store.get_run(record.id).footprint["total_g"] == pytest.approx(fp["total_g"])
    assert record.config["carbon"]["pue"] == 1.2
