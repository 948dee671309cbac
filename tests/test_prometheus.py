"""Energy in the Prometheus format: scraped over real HTTP on 127.0.0.1, parsed with
prometheus_client's own parser, on virtual time with a counter that wraps."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from greenbench.clock import VirtualClock
from greenbench.errors import UserError
from greenbench.meter import Meter
from tests.standins import SteppedCounter, constant

parser = pytest.importorskip("prometheus_client.parser")

REPO = Path(__file__).parent.parent


def scrape(url: str) -> dict[tuple[str, str], tuple[float, dict[str, str]]]:
    """(sample name, domain) -> (value, labels) of one scrape."""
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    out = {}
    for family in parser.text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, s.labels.get("domain", ""))] = (s.value, s.labels)
    return out


def test_counters_rise_by_the_exact_joules_and_never_go_back_across_a_wrap() -> None:
    from greenbench.integrations.prometheus import serve

    clock = VirtualClock()
    # RAPL-like: 1 ms updates, a 1000 J range, 250 W: wraps every 4 s
    pkg = SteppedCounter(clock, "cpu-package:0", constant(250.0), update_period_s=0.001,
                         wrap_j=1000.0, max_power_w=500.0, start_j=900.0)
    meter = Meter([pkg], interval_s=0.1, clock=clock)
    meter.sample()
    server, url = serve(meter, "127.0.0.1:0")
    try:
        seen = []
        for _ in range(6):  # 6 x 1.5 s = 9 s: past two wraps
            for _ in range(15):
                clock.advance(0.1)
                meter.sample()
            seen.append(scrape(url)[("greenbench_energy_joules_total", "cpu-package:0")])
    finally:
        server.shutdown()
    values = [v for v, _ in seen]
    assert values == pytest.approx([375.0 * (i + 1) for i in range(6)], abs=0.5)
    assert all(b >= a for a, b in zip(values, values[1:], strict=False))
    labels = seen[0][1]
    assert labels == {"domain": "cpu-package:0", "method": "counter", "source": "standin",
                      "counted": "true"}


def test_a_constant_model_is_served_as_not_counted() -> None:
    from greenbench.integrations.prometheus import MeterCollector
    from greenbench.sensors.estimate import RamEstimateSensor

    ram = RamEstimateSensor(16 * 2**30)
    clock = VirtualClock()
    meter = Meter([ram], clock=clock)
    meter.sample()
    clock.advance(2.0)
    families = {f.name: f for f in MeterCollector(meter).collect()}
    (sample,) = families["greenbench_energy_joules"].samples
    assert sample.labels["counted"] == "false" and sample.labels["method"] == "estimate"
    assert sample.value == pytest.approx(16.0 * 0.375 * 2.0)


@pytest.mark.parametrize("text", ["abc", "70000", "host:"])
def test_a_bad_address_is_one_line(text: str) -> None:
    from greenbench.integrations.prometheus import parse_address

    with pytest.raises(UserError, match="give a port"):
        parse_address(text)


@pytest.mark.timeout(60)
def test_greenbench_monitor_serves_metrics_until_told_to_stop() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "greenbench", "monitor", "--serve-metrics",
                             "127.0.0.1:0", "--duration", "30"], env=env,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        url = None
        for line in proc.stderr:
            found = re.search(r"serving (http://\S+/metrics)", line)
            if found:
                url = found.group(1)
                break
        assert url, "monitor never said where it serves"
        first = scrape(url)
        time.sleep(1.0)
        second = scrape(url)
        assert first[("greenbench_up", "")][0] == 1.0
        key = ("greenbench_energy_joules_total", "cpu-package:0")
        assert second[key][0] >= first[key][0]
        assert second[key][1]["method"] in ("counter", "estimate")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert proc.returncode == 0


@pytest.mark.timeout(60)
def test_measure_serves_the_commands_energy_while_it_runs(tmp_path: Path) -> None:
    """The command itself scrapes greenbench's endpoint twice: the energy rises between."""
    scraper = (
        "import re, sys, time, urllib.request\n"
        "url = sys.argv[1]\n"
        "def energy():\n"
        "    text = urllib.request.urlopen(url, timeout=10).read().decode()\n"
        "    return float(re.search(r'greenbench_energy_joules_total\\{[^}]*"
        "domain=\"cpu-package:0\"[^}]*\\} (\\S+)', text).group(1))\n"
        "a = energy()\n"
        "end = time.monotonic() + 1.0\n"
        "while time.monotonic() < end: pass\n"
        "b = energy()\n"
        "print(a, b)\n"
        "sys.exit(0 if b > a else 1)\n")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "greenbench", "measure", "--serve-metrics", str(port), "--",
         sys.executable, "-c", scraper, f"http://127.0.0.1:{port}/metrics"],
        env=env, capture_output=True, text=True, timeout=50)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"serving http://127.0.0.1:{port}/metrics" in done.stderr


def test_measure_with_a_taken_port_says_so_before_running(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        marker = tmp_path / "ran"
        done = subprocess.run(
            [sys.executable, "-m", "greenbench", "measure", "--serve-metrics", str(port),
             "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')"],
            env=env, capture_output=True, text=True, timeout=50)
    assert done.returncode == 2 and "pick another port" in done.stderr
    assert not marker.exists() and "Traceback" not in done.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
