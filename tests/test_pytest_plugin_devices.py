"""The pytest plugin charges a benchmark for the GPUs of its device only."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]

GPUS = '''
from greenbench.sensors.base import Probe, Sensor, SensorKind

WATTS = {"gpu:0": 300.0, "gpu:1": 50.0}


class SteadyGpu(Sensor):
    kind = SensorKind.POWER
    source = "test:gpu"
    update_period_s = 0.001

    def __init__(self, domain):
        self.domain = domain

    def read_value(self):
        return WATTS[self.domain]


def probes():
    return [Probe(d, "test:gpu", SensorKind.POWER, sensor=SteadyGpu(d)) for d in WATTS]
'''

CONFTEST = '''
import pytest

pytest_plugins = ["pytester"]

import gpus


@pytest.hookimpl(optionalhook=True)
def pytest_greenbench_probes(config):
    return gpus.probes()
'''

SUITE = '''
import time

import pytest

pytest_plugins = ["pytester"]


def work():
    time.sleep(0.001)


def test_default(energy_benchmark):
    energy_benchmark(work)


@pytest.mark.greenbench(device="cuda:1")
def test_on_gpu1(energy_benchmark):
    energy_benchmark(work)
'''


def test_a_benchmark_is_charged_for_its_device_only(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(gpus=GPUS, conftest=CONFTEST, test_suite=SUITE)
    result = pytester.runpytest("-p", "no:cacheprovider", "-W",
                                "ignore::pytest.PytestAssertRewriteWarning",
                                "--greenbench-min-time=0.05", "--greenbench-rounds=3",
                                "--greenbench-device=cuda:0", "--greenbench-save=b")
    result.assert_outcomes(passed=2)
    (saved,) = pytester.path.glob(".greenbench/*/*.json")
    cases = {c["workload"]: c for c in json.loads(saved.read_text())["run"]["cases"]}
    power = {name: c["summary"]["power_w"]["median"] for name, c in cases.items()}
    assert power["test_suite.py::test_default"] == pytest.approx(300.0, rel=1e-3)
    assert power["test_suite.py::test_on_gpu1"] == pytest.approx(50.0, rel=1e-3)
    domains = cases["test_suite.py::test_default"]["repeats"][0]["measurement"]["domains"]
    other = next(d for d in domains if d["domain"] == "gpu:1")
    assert other["not_counted"].startswith("not attributed") and other["energy_j"] > 0


def test_a_malformed_device_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(energy_benchmark):\n    energy_benchmark(len, 'x')\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--greenbench-device=gpu0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--greenbench-device: device 'gpu0': use cpu, cuda, cuda:N*"])


def test_the_plugins_scope_choices_are_the_estimates_scopes(pytester: pytest.Pytester) -> None:
    from greenbench.sensors.cpu_time import SCOPES

    result = pytester.runpytest("-p", "no:cacheprovider", "--greenbench-scope=neighbours")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*choose from {', '.join(repr(s) for s in SCOPES)}*"])
