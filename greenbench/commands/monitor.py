"""``greenbench monitor --serve-metrics PORT``: the machine's energy, scraped by Prometheus."""

from __future__ import annotations

import click

from greenbench.commands._common import check_interval, console, interval_option, sensor_options
from greenbench.commands._options import SECONDS
from greenbench.commands._verbosity import quiet, verbosity_options


@click.command()
@click.option("--serve-metrics", "address", required=True, metavar="[ADDR:]PORT",
              help="Serve /metrics on PORT of 127.0.0.1 (ADDR:PORT for another address, "
                   "0.0.0.0:PORT for every one).")
@click.option("--duration", "duration_s", type=SECONDS, default=None, metavar="S",
              help="Stop after S seconds (default: until Ctrl-C, SIGTERM or SIGHUP).")
@interval_option
@sensor_options
@verbosity_options
def monitor(address: str, duration_s: float | None, interval_s: float | None,
            cpu_tdp: float | None) -> None:
    """Measure this machine continuously and serve its energy counters and power gauges
    in the Prometheus format, one series per domain with its method as a label.

    The CPU estimate of a machine without RAPL charges the whole machine's load here (there
    is no measured command): its figures are labelled method="estimate".
    """
    import threading

    from rich.markup import escape

    from greenbench.integrations.prometheus import serve
    from greenbench.meter import Meter
    from greenbench.sensors.registry import available_sensors, probe_all, summary_line
    from greenbench.stop_signals import Stopped, stop_signals

    interval = check_interval(interval_s)
    probes = probe_all(cpu_tdp_w=cpu_tdp, scope="machine")
    meter = Meter(available_sensors(probes), interval_s=interval).start()
    server, url = serve(meter, address)
    err = console(stderr=True)
    if not quiet():
        err.print(f"[dim]greenbench: {escape(summary_line(probes))}[/dim]")
        err.print(escape(f"serving {url} (Ctrl-C to stop)"))
    done = threading.Event()
    try:
        with stop_signals():
            done.wait(duration_s)
    except (KeyboardInterrupt, Stopped):
        pass
    finally:
        server.shutdown()
        meter.stop()
