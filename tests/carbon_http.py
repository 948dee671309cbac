"""A local HTTP server on 127.0.0.1 that replays provider answers, for the live-provider tests.

Routes map a path to a list of canned responses, served in order (the last one repeats), so
a test can script "429 then 200". Every request is recorded with its headers, so a test can
check what was sent (the auth header) and what was not (a key in the URL). No test reaches
the internet: the providers' base URLs are pointed here through their GREENBENCH_*_URL
variables.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    """One canned response: a status, a body (dict/list -> JSON, str sent as is), headers,
    a delay before answering (to provoke a client timeout), and a pause between the body's
    bytes (a server that answers one byte at a time, which no per-read timeout catches)."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drip_s: float = 0.0


@dataclass
class Seen:
    """A request as the server saw it; header names lower-cased (HTTP ignores their case)."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    url: str


class ReplayServer:
    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[Seen] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        # a short poll interval: shutdown() waits up to one interval, once per test
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def route(self, path: str, *replies: Reply) -> None:
        """Serve ``replies`` in order at ``path`` (a trailing ``*`` matches any suffix)."""
        self.routes[path] = list(replies)

    def hits(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path
                or (path.endswith("*") and r.path.startswith(path[:-1]))]

    def start(self) -> ReplayServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # the name http.server calls
                parts = urlsplit(self.path)
                server.requests.append(Seen(parts.path, parse_qs(parts.query),
                                            {k.lower(): v for k, v in self.headers.items()},
                                            self.path))
                replies = server.routes.get(parts.path) or next(
                    (r for key, r in server.routes.items()
                     if key.endswith("*") and parts.path.startswith(key[:-1])), None)
                if not replies:
                    reply = Reply(404, {"error": f"no route {parts.path}"})
                else:
                    reply = replies.pop(0) if len(replies) > 1 else replies[0]
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                body = reply.body if isinstance(reply.body, (str, bytes)) else \
                    json.dumps(reply.body)
                data = body.encode() if isinstance(body, str) else body
                try:
                    self.send_response(reply.status)
                    for k, v in {"Content-Type": "application/json", **reply.headers}.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if not reply.drip_s:
                        self.wfile.write(data)
                    for i in range(len(data) if reply.drip_s else 0):
                        self.wfile.write(data[i:i + 1])
                        self.wfile.flush()
                        time.sleep(reply.drip_s)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to answer

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler


#: every variable the carbon code reads from the environment
CARBON_ENV = ("ELECTRICITYMAPS_API_KEY", "WATTTIME_USERNAME", "WATTTIME_PASSWORD",
              "GREENBENCH_REGION", "GREENBENCH_EMBODIED_CONFIG")
URL_ENV = ("GREENBENCH_ELECTRICITYMAPS_URL", "GREENBENCH_WATTTIME_URL", "GREENBENCH_UK_CARBON_URL")


def isolate(monkeypatch: Any, tmp_path: Any) -> None:
    """No key, region or cache from the developer's environment; and any live request that a
    test did not point at a replay server goes to a closed local port, never the internet."""
    for name in CARBON_ENV:
        monkeypatch.delenv(name, raising=False)
    for name in URL_ENV:
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.setenv("GREENBENCH_CACHE_DIR", str(tmp_path / "cache"))
    from greenbench.carbon import live

    monkeypatch.setattr(live, "_wt_tokens", {})
    monkeypatch.setattr(live, "_failures", {}, raising=False)


@contextmanager
def replay_server() -> Iterator[ReplayServer]:
    server = ReplayServer().start()
    try:
        yield server
    finally:
        server.stop()


# Recorded-format answers (shapes as the providers document them; values made up).

def em_latest(value: float = 302.0, zone: str = "DE", estimated: bool = False) -> dict[str, Any]:
    return {"zone": zone, "carbonIntensity": value, "datetime": "2024-05-01T12:00:00.000Z",
            "updatedAt": "2024-05-01T12:05:12.000Z", "createdAt": "2024-04-28T12:00:00.000Z",
            "emissionFactorType": "lifecycle", "isEstimated": estimated,
            "estimationMethod": "TIME_SLICER_AVERAGE" if estimated else None}


def em_forecast(values: list[float], start: str = "2024-05-01T12:00:00.000Z",
                zone: str = "DE") -> dict[str, Any]:
    from datetime import datetime, timedelta

    t0 = datetime.fromisoformat(start.replace("Z", "+00:00"))
    points = [{"carbonIntensity": v,
               "datetime": (t0 + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")}
              for i, v in enumerate(values)]
    return {"zone": zone, "forecast": points, "updatedAt": start}


def wt_forecast(lbs_per_mwh: list[float], region: str = "CAISO_NORTH",
                start: str = "2024-05-01T12:00:00+00:00") -> dict[str, Any]:
    from datetime import datetime, timedelta

    t0 = datetime.fromisoformat(start)
    data = [{"point_time": (t0 + timedelta(minutes=5 * i)).isoformat(), "value": v}
            for i, v in enumerate(lbs_per_mwh)]
    return {"data": data, "meta": {"region": region, "signal_type": "co2_moer",
                                   "units": "lbs_co2_per_mwh", "data_point_period_seconds": 300,
                                   "model": {"date": "2024-04-01"},
                                   "generated_at": start, "warnings": []}}


def uk_intensity(actual: float | None = 180.0, forecast: float = 190.0) -> dict[str, Any]:
    return {"data": [{"from": "2024-05-01T12:00Z", "to": "2024-05-01T12:30Z",
                      "intensity": {"forecast": forecast, "actual": actual,
                                    "index": "moderate"}}]}
