"""greenbench's pytest plugin: energy benchmarks, budgets and energy-regression gates in CI.

Registered through the ``pytest11`` entry point when greenbench is installed (disable with
``-p no:greenbench``). Inert until used: importing it loads only pytest and the standard
library; sensors are probed, and hooks run, only once a test asks for ``energy_benchmark``
(or marks a pytest-benchmark test with ``@pytest.mark.greenbench``) or a ``--greenbench-*``
option is given.

- fixture ``energy_benchmark``: ``energy_benchmark(fn, *args, **kwargs)`` and
  ``energy_benchmark.pedantic(...)`` (greenbench.pytest_energy.fixture);
- marker ``@pytest.mark.greenbench(rounds=, warmup_rounds=, min_time=, iterations=, units=,
  unit=, max_energy_j=, max_energy_per_unit_j=, max_power_w=, max_time_s=)``;
- options: see :func:`pytest_addoption`; docs/ci-gating.md shows them in a CI job;
- hook ``pytest_greenbench_probes(config)``: measure with your own sensors
  (greenbench.pytest_energy.hookspec).

The work happens in greenbench.pytest_energy; this module only wires it to pytest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from greenbench.pytest_energy.fixture import EnergyBenchmark
    from greenbench.pytest_energy.session import GreenbenchSession

_MARKER = (
    "greenbench(**settings): energy benchmark settings and budgets: rounds, warmup_rounds, "
    "min_time (s), iterations, units, unit, max_energy_j (J per call), max_energy_per_unit_j, "
    "max_power_w, max_time_s"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("greenbench", "energy benchmarks (greenbench)")
    add = group.addoption
    add("--greenbench-storage", metavar="PATH", default=None,
        help="Folder of saved baselines, one subfolder per machine (default: .greenbench in "
             "the rootdir).")
    add("--greenbench-save", metavar="NAME", default=None,
        help="Save this session's energy benchmarks as baseline NAME (an exported-run JSON "
             "file that `greenbench compare` reads).")
    add("--greenbench-autosave", action="store_true", default=False,
        help="Save this session's energy benchmarks, named after the commit and time.")
    add("--greenbench-compare", metavar="NAME", nargs="?", const="latest", default=None,
        help="Compare with a saved baseline: latest (the default), latest~N, a number, a "
             "name, or a .json file.")
    add("--greenbench-compare-fail", metavar="RULE", action="append", default=None,
        help="Fail the session when a metric regresses beyond RULE and significantly: "
             "METRIC:N%% or METRIC:AMOUNTUNIT, METRIC one of energy, energy_per_unit, "
             "net_energy, time, power (e.g. energy:5%%, energy:0.5J, time:20ms). Repeatable; "
             "implies --greenbench-compare.")
    add("--greenbench-alpha", metavar="P", type=float, default=None,
        help="Significance level of the regression test (default 0.05).")
    add("--greenbench-disable", action="store_true", default=False,
        help="Run each benchmarked function once, unmeasured (fast test runs).")
    add("--greenbench-rounds", metavar="N", type=int, default=None,
        help="Measured rounds per benchmark (default 7; at least 4 are needed to detect a "
             "regression at alpha 0.05).")
    add("--greenbench-warmup-rounds", metavar="N", type=int, default=None,
        help="Unmeasured rounds before them (default 1).")
    add("--greenbench-min-time", metavar="SECONDS", type=float, default=None,
        help="Shortest round (default 0.2); raised to 10 updates of the slowest sensor.")
    add("--greenbench-idle", metavar="SECONDS", type=float, default=None,
        help="Measure idle power this long once, for the net_energy metrics (default: off).")
    add("--greenbench-device", metavar="DEVICE", default=None,
        help="The device the benchmarks run on (cpu, cuda:N, cuda:N,M): its GPUs are "
             "charged, no other GPU (default cpu; the marker's device= sets one test's).")
    # greenbench.sensors.cpu_time.SCOPES, written out: importing it would load psutil into
    # every pytest session, and the plugin costs nothing where it is not used
    add("--greenbench-scope", choices=("process", "thread", "machine"), default=None,
        help="Whose CPU time a CPU estimate charges: this process tree (default), the "
             "benchmark's thread, or the whole machine (charges other people's work).")
    add("--greenbench-include-constants", action="store_true", default=False,
        help="Add constant models (RAM power from its size) to the totals; by default they "
             "are shown beside them.")
    add("--greenbench-xdist", choices=("skip", "serial"), default="skip",
        help="Under pytest-xdist: skip energy benchmarks in workers (default), or run them "
             "one at a time while every other test waits.")
    add("--greenbench-wrap-benchmark", action="store_true", default=False,
        help="Add energy figures to every pytest-benchmark result (extra_info), not only to "
             "tests marked @pytest.mark.greenbench.")


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from greenbench.pytest_energy import hookspec

    pluginmanager.add_hookspecs(hookspec)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _MARKER)
    # checked without importing anything, so that a session without greenbench options
    # loads nothing more; an xdist controller needs the session to gather workers' results
    given = any(not (value is None or value is False or value == "skip")
                for name, value in vars(config.option).items()
                if name.startswith("greenbench_"))
    controller = (not hasattr(config, "workerinput")
                  and getattr(config.option, "dist", "no") != "no")
    if given or controller:
        _session(config)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # a marked pytest-benchmark test needs the session's hooks before it runs; an
    # energy_benchmark test would register them itself, but earlier costs nothing more
    if config.pluginmanager.get_plugin(_NAME) is not None:
        return
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "energy_benchmark" in names or (
            "benchmark" in names and item.get_closest_marker("greenbench") is not None
        ):
            _session(config)
            return


@pytest.fixture
def energy_benchmark(request: pytest.FixtureRequest) -> EnergyBenchmark:
    """Measure a function's energy per call over calibrated rounds (greenbench).

    ``energy_benchmark(fn, *args, **kwargs)`` returns ``fn(*args, **kwargs)``;
    ``energy_benchmark.pedantic(fn, args=, kwargs=, setup=, teardown=, rounds=,
    warmup_rounds=, iterations=, min_time=, units=, unit=)`` gives full control.
    """
    return _session(request.config).make_fixture(request)


_NAME = "greenbench-session"


def _session(config: pytest.Config) -> GreenbenchSession:
    """The session object, created and registered on first need; options checked then."""
    session: Any = config.pluginmanager.get_plugin(_NAME)
    if session is not None:
        return session
    from greenbench.pytest_energy import settings, xdist
    from greenbench.pytest_energy.session import GreenbenchSession

    checked = settings.from_config(config)
    session = GreenbenchSession(config, checked)
    if not xdist.is_worker(config):
        session.resolve_baseline()
    elif checked.xdist == "serial" and xdist.serial_available():
        config.pluginmanager.register(xdist.SerialWorker(config), "greenbench-serial")
    config.pluginmanager.register(session, _NAME)
    return session
