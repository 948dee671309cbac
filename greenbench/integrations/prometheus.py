"""Energy counters and power gauges in the Prometheus exposition format.

A running :class:`~greenbench.meter.Meter` is exposed through the official client library:

- ``greenbench_energy_joules_total{domain, method, source, counted}``: a counter per domain,
  the energy since the meter started. Wraps and resets of the sensor's own counter are
  already unwrapped by the meter, and the exported value is held at its highest, so a scrape
  never sees it go back (restarting the measured command does not restart the meter);
- ``greenbench_power_watts{domain, method, source, counted}``: the latest power per domain;
- ``greenbench_up``: 1 while the meter runs.

``method`` is how the figure is obtained (``counter``, ``power``, ``estimate``) and ``counted``
whether the domain adds to greenbench's totals (``false`` for a domain inside another, a GPU
not attributed, or a constant model beside the total), so a dashboard can sum
``greenbench_energy_joules_total{counted="true"}`` without double counting.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from greenbench.errors import UserError
from greenbench.meter import Meter

#: the address served when only a port is given: this machine only
DEFAULT_ADDR = "127.0.0.1"


class MeterCollector:
    """A prometheus_client collector reading ``meter`` at each scrape."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self._highest: dict[str, float] = {}
        self._lock = threading.Lock()

    def describe(self) -> list[Any]:
        return []  # the families are known only at scrape time: no registration check

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        labels = ["domain", "method", "source", "counted"]
        energy = CounterMetricFamily("greenbench_energy_joules",
                                     "Energy per domain since greenbench started measuring, "
                                     "by how it was obtained", labels=labels)
        power = GaugeMetricFamily("greenbench_power_watts", "Latest power per domain",
                                  labels=labels)
        totals, live = self.meter.totals_j(), self.meter.live_power_w()
        with self._lock:
            for sensor in self.meter.sensors:
                counted = self.meter.counted(sensor) and not sensor.constant
                values = [sensor.domain, sensor.kind.value, sensor.source,
                          "true" if counted else "false"]
                total = totals.get(sensor.domain)
                if total is not None:
                    highest = max(total, self._highest.get(sensor.domain, 0.0))
                    self._highest[sensor.domain] = highest
                    energy.add_metric(values, highest)
                watts = live.get(sensor.domain)
                if watts is not None:
                    power.add_metric(values, watts)
        up = GaugeMetricFamily("greenbench_up", "1 while greenbench measures")
        up.add_metric([], 1.0)
        yield from (energy, power, up)


def parse_address(text: str) -> tuple[str, int]:
    """``9108`` -> (127.0.0.1, 9108); ``0.0.0.0:9108`` -> (0.0.0.0, 9108)."""
    addr, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 0 <= number < 65536:
        raise UserError(f"--serve-metrics {text}: give a port (9108) or ADDRESS:PORT "
                        "(0.0.0.0:9108 to serve other machines; 0 picks a free port)")
    return addr or DEFAULT_ADDR, number


def serve(meter: Meter, address: str) -> tuple[Any, str]:
    """Serve ``meter``'s metrics over HTTP at ``address``; (the server, its URL). A one-line
    UserError when the prometheus extra is missing or the port is taken."""
    try:
        from prometheus_client import CollectorRegistry, start_http_server
    except ImportError:
        raise UserError("--serve-metrics needs prometheus-client: pip install "
                        "'greenbench[prometheus]'") from None
    host, port = parse_address(address)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MeterCollector(meter))
    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise UserError(f"--serve-metrics {address}: cannot serve on {host}:{port} "
                        f"({exc.strerror or exc}); pick another port") from None
    return server, f"http://{host}:{server.server_port}/metrics"
