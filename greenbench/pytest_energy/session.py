"""The plugin's per-session object: the meter, the results, save, compare, gate and summary.

It is registered with pytest only when something uses greenbench (a test asks for
``energy_benchmark``, a test of pytest-benchmark carries ``@pytest.mark.greenbench``, or a
``--greenbench-*`` option is given), so an unrelated session runs none of its hooks.

At the end of the session (``pytest_sessionfinish``) it builds one RunRecord from every
benchmark, compares it with the baseline (``--greenbench-compare``), saves it
(``--greenbench-save``/``--greenbench-autosave``) and, when a ``--greenbench-compare-fail``
rule regressed, sets the session's exit status to "tests failed". The terminal summary then
shows the tables and names each outcome: ENERGY REGRESSION, BUDGET EXCEEDED, NOTHING
COMPARABLE.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from greenbench.pytest_energy import bridge, storage, xdist
from greenbench.pytest_energy.fixture import EnergyBenchmark, budget_failures
from greenbench.pytest_energy.results import Outcome, build_run, compare_with
from greenbench.pytest_energy.settings import Measuring, Settings, marker_values

if TYPE_CHECKING:
    from greenbench.meter import Meter
    from greenbench.records import CaseRecord

WORKER_KEY = "greenbench"


class SessionMeter:
    """This machine's sensors (or a conftest's, through the ``pytest_greenbench_probes``
    hook) and one meter per device in use for the whole session, started on first use.

    A meter charges the host's CPU and DRAM domains and the GPUs of its device only (other
    GPUs are recorded beside the total); a CPU estimate charges this process tree's CPU time
    (``--greenbench-scope``). ``idle``: the idle power measured once at start when
    ``--greenbench-idle`` asks for it (it feeds the ``net_energy`` metrics).
    """

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        from greenbench.sensors.registry import probe_all, summary_line

        probes = config.hook.pytest_greenbench_probes(config=config)
        if probes is None:
            probes = probe_all(scope=settings.scope)  # type: ignore[arg-type]
        self.probes = probes
        self.settings = settings
        self.sensors = [p.to_dict() for p in probes if p.available]
        self.summary = summary_line(probes)
        self._meters: dict[str, Meter] = {}
        self.meter = self.meter_for(None)
        self.estimate = any(s.kind.value == "estimate" for s in self.meter.sensors
                            if self.meter.counted(s))
        self.idle = self.meter.idle(settings.idle_s) if settings.idle_s > 0 else None

    def meter_for(self, device: str | None) -> Meter:
        """The started meter that charges ``device`` (None: the session's device)."""
        from greenbench.attribution import not_counted
        from greenbench.meter import Meter
        from greenbench.sensors.registry import available_sensors

        device = device or self.settings.device
        if device not in self._meters:
            sensors = available_sensors(self.probes)
            self._meters[device] = Meter(
                sensors, not_counted=not_counted([s.domain for s in sensors], device),
                include_constants=self.settings.include_constants).start()
        return self._meters[device]

    def stop(self) -> None:
        for meter in self._meters.values():
            meter.stop()


class GreenbenchSession:
    """See the module docstring; one per pytest session (and one per xdist worker)."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.cases: dict[str, CaseRecord] = {}  # node id -> its record, in the order measured
        self.budget_failures: dict[str, list[str]] = {}
        self.xdist_skipped = 0
        self.outcome: Outcome | None = None
        self.saved_path: Path | None = None
        self.problems: list[str] = []
        self._meter: SessionMeter | None = None
        self._remote: dict[str, Any] = {}  # sensors and summary reported by xdist workers
        self._machine: dict[str, Any] | None = None
        self._baseline: Path | None = None
        self._no_baseline = ""

    # -- set-up -------------------------------------------------------------------------------

    def resolve_baseline(self) -> None:
        """Find the baseline now, so that a bad --greenbench-compare NAME fails before any
        test runs (pytest.UsageError)."""
        ref = self.settings.compare
        if ref is None:
            return
        key = self.machine()["key"]
        try:
            self._baseline = storage.resolve(self.settings.storage, key, ref,
                                             self.config.rootpath)
        except storage.BaselineNotFound as exc:
            raise pytest.UsageError(str(exc)) from None
        if self._baseline is None:
            others = storage.other_machines(self.settings.storage, key)
            where = storage.machine_dir(self.settings.storage, key)
            self._no_baseline = (
                f"no baseline saved for this machine (key {key}) in {where}"
                + (f"; baselines exist only for other machines ({', '.join(others)}), and "
                   "energy from another machine is not comparable" if others else
                   "; save one with --greenbench-save NAME or --greenbench-autosave")
            )

    def machine(self) -> dict[str, Any]:
        if self._machine is None:
            from greenbench.machine import describe_machine

            self._machine = describe_machine()
        return self._machine

    def sensing(self) -> SessionMeter:
        """The session's meter, probing the sensors on first use."""
        if self._meter is None:
            self._meter = SessionMeter(self.config, self.settings)
        return self._meter

    # -- the fixture --------------------------------------------------------------------------

    def make_fixture(self, request: pytest.FixtureRequest) -> EnergyBenchmark:
        item = request.node
        if xdist.is_worker(self.config) and (
            self.settings.xdist == "skip" or not xdist.serial_available()
        ):
            pytest.skip(xdist.SKIP_REASON)
        try:
            values = marker_values(item.get_closest_marker("greenbench"))
        except ValueError as exc:
            pytest.fail(str(exc), pytrace=False)
        return EnergyBenchmark(
            item.nodeid,
            self.settings.measuring.merged(values),
            disabled=self.settings.disabled,
            meter=self.sensing,
            record=self.record,
        )

    def record(self, nodeid: str, case: CaseRecord, failures: list[str]) -> None:
        self.cases[nodeid] = case
        if failures:
            self.budget_failures[nodeid] = failures

    # -- pytest-benchmark ---------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, Any]:
        bench = None
        if not self.settings.disabled and bridge.wants_wrap(item, self.settings.wrap_benchmark):
            bench = bridge.fixture_of(item)
        if bench is None:
            return (yield)
        try:
            measuring = Measuring().merged(marker_values(item.get_closest_marker("greenbench")))
        except ValueError as exc:
            pytest.fail(str(exc), pytrace=False)
        sensing = self.sensing()
        window = sensing.meter.begin(f"pytest-benchmark {item.nodeid}")
        try:
            result = yield
        finally:
            measurement = sensing.meter.end(window)
        info = bridge.extra_info(measurement, bench, sensing.summary)
        bench.extra_info[bridge.KEY] = info
        values = {"energy_j": info["energy_j"], "power_w": info["power_w"],
                  "time_s": info["time_s"],
                  "energy_per_unit_j": (info["energy_j"] / measuring.units
                                        if info["energy_j"] is not None else None)}
        failures = budget_failures(values, measuring, estimate=sensing.estimate,
                                   basis="mean power x pytest-benchmark's mean time")
        if failures:
            self.budget_failures[item.nodeid] = failures
            pytest.fail("\n".join(failures), pytrace=False)
        return result

    # -- xdist --------------------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped and xdist.is_controller(self.config):
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
            if xdist.SKIP_PREFIX in str(reason):
                self.xdist_skipped += 1

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """Gather what a worker measured (its results travel as JSON in workeroutput)."""
        from greenbench.records import CaseRecord

        payload = getattr(node, "workeroutput", {}).get(WORKER_KEY)
        if not payload:
            return
        data = json.loads(payload)
        for nodeid, case in data["cases"].items():
            self.cases[nodeid] = CaseRecord.from_dict(case)
        self.budget_failures.update(data["budget_failures"])
        self._remote = {"sensors": data["sensors"], "summary": data["summary"],
                        "interval_s": data["interval_s"]}

    # -- the end of the session ---------------------------------------------------------------

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if xdist.is_worker(self.config):
            self._send_to_controller()
            return
        s = self.settings
        if not self.cases:
            nothing = "no energy benchmark ran in this session"
            if s.compare is not None:
                self.outcome = Outcome(self._baseline, reason=nothing)
            if s.saving:
                self.problems.append(f"nothing saved: {nothing}")
            return
        from greenbench.errors import UserError

        run = build_run(
            list(self.cases.values()), self._sensor_records(), self._run_config(),
            rootdir=self.config.rootpath, label=s.save,
            status="interrupted" if exitstatus == pytest.ExitCode.INTERRUPTED else "complete",
            machine=self.machine(),
        )
        if s.compare is not None:
            self.outcome = compare_with(self._baseline, run, s.rules, s.alpha, self._no_baseline)
            if self.outcome.regressions and session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if s.saving:
            from greenbench.machine import git_commit

            name = s.save or storage.autosave_name(git_commit(self.config.rootpath))
            try:
                self.saved_path = storage.save(s.storage, run, name)
            except (OSError, UserError) as exc:
                self.problems.append(f"could not save the baseline in {s.storage}: {exc}")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from greenbench.pytest_energy.summary import summary_lines

        lines = summary_lines(self)
        if not lines:
            return
        terminalreporter.write_sep("-", "greenbench: energy")
        for text, markup in lines:
            terminalreporter.write_line(text, **markup)

    def pytest_unconfigure(self) -> None:
        if self._meter is not None:
            self._meter.stop()

    # -- helpers ------------------------------------------------------------------------------

    def sensors_summary(self) -> str | None:
        if self._meter is not None:
            return self._meter.summary
        return self._remote.get("summary")

    def _sensor_records(self) -> list[dict[str, Any]]:
        if self._meter is not None:
            return self._meter.sensors
        return list(self._remote.get("sensors", []))

    def _run_config(self) -> dict[str, Any]:
        m = self.settings.measuring
        interval = (self._meter.meter.interval_s if self._meter is not None
                    else self._remote.get("interval_s"))
        return {
            "source": "pytest", "pytest": pytest.__version__,
            "args": [str(a) for a in self.config.invocation_params.args],
            "rounds": m.rounds, "warmup_rounds": m.warmup_rounds, "min_time_s": m.min_time_s,
            "idle_s": self.settings.idle_s, "interval_s": interval,
            "xdist": self.settings.xdist if xdist.is_controller(self.config) else None,
        }

    def _send_to_controller(self) -> None:
        if not self.cases:
            return
        meter = self._meter
        workeroutput: dict[str, Any] = self.config.workeroutput  # type: ignore[attr-defined]
        workeroutput[WORKER_KEY] = json.dumps({
            "cases": {nodeid: case.to_dict() for nodeid, case in self.cases.items()},
            "budget_failures": self.budget_failures,
            "sensors": meter.sensors if meter else [],
            "summary": meter.summary if meter else None,
            "interval_s": meter.meter.interval_s if meter else None,
        }, default=str)
