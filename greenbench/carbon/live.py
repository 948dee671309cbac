"""Live intensity from web APIs: Electricity Maps (v3), WattTime (v3) and the UK Carbon
Intensity API, each giving the current value and a forecast (for ``carbon window``).

Credentials come from the environment (ELECTRICITYMAPS_API_KEY, WATTTIME_USERNAME and
WATTTIME_PASSWORD) and travel only in request headers: never in a URL, a cache file, a reason
or a result. Base URLs can be overridden (GREENBENCH_*_URL) so tests can point them at a local
server. A failure raises ProviderUnavailable, and the chain falls back.

A live value is the latest one; for a run it is applied to the whole run, with its time kept.
"""

from __future__ import annotations

import base64
import os
import statistics
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from greenbench.carbon.cache import cached
from greenbench.carbon.fetch import DEFAULT_TIMEOUT_S, get_json
from greenbench.carbon.intensity import (
    AVERAGE,
    G_PER_KWH_PER_LB_PER_MWH,
    MARGINAL,
    MAX_INTENSITY_G_PER_KWH,
    Intensity,
    ProviderUnavailable,
)
from greenbench.carbon.timeseries import Series, iso_utc, parse_time, steps
from greenbench.errors import UserError

ELECTRICITYMAPS = "electricitymaps"
WATTTIME = "watttime"
UK = "carbonintensity-uk"

ENV_EM_KEY = "ELECTRICITYMAPS_API_KEY"
ENV_WT_USER = "WATTTIME_USERNAME"
ENV_WT_PASSWORD = "WATTTIME_PASSWORD"
ENV_EM_URL = "GREENBENCH_ELECTRICITYMAPS_URL"
ENV_WT_URL = "GREENBENCH_WATTTIME_URL"
ENV_UK_URL = "GREENBENCH_UK_CARBON_URL"

#: the latest value changes every 5 min (WattTime) to 1 h (Electricity Maps); forecasts are
#: re-issued about hourly
LATEST_TTL_S = 300.0
FORECAST_TTL_S = 1800.0
#: WattTime login tokens live 30 minutes; renew a little before
_WT_TOKEN_TTL_S = 25 * 60.0
_wt_tokens: dict[tuple[str, str], tuple[str, float]] = {}
#: providers (name, base URL, zone) that failed in this process, and why
_failures: dict[str, str] = {}


class ElectricityMaps:
    """Electricity Maps API v3: ``/v3/carbon-intensity/latest`` and ``/forecast`` for a zone
    (``FR``, ``SE-SE3``, ``US-CAL-CISO``); average, life-cycle gCO2eq/kWh."""

    name = ELECTRICITYMAPS

    def __init__(self, zone: str, token: str, base_url: str | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.label = zone
        self.zone, self._token, self.timeout_s = zone, token, timeout_s
        self.base_url = _base(base_url, ENV_EM_URL, "https://api.electricitymaps.com")

    def now(self) -> Intensity:
        url = self._url("latest")
        body = _ask(self, url, LATEST_TTL_S, lambda: self._check(url, _em_point))
        value, when = _em_point(body)
        factor = body.get("emissionFactorType") or "life-cycle"
        return Intensity(
            value_g_per_kwh=value, provider=self.name, region=self.zone,
            source=f"Electricity Maps API v3 ({factor} emission factors)", time_utc=when,
            estimate=bool(body.get("isEstimated", False)), signal=AVERAGE,
        )

    def over(self, start_unix_s: float, end_unix_s: float) -> Intensity:
        return _latest_for_run(self.now())

    def forecast(self) -> Series:
        url = self._url("forecast")
        body = _ask(self, url, FORECAST_TTL_S, lambda: self._check(url, _em_forecast))
        return _em_forecast(body)

    def _url(self, what: str) -> str:
        query = urllib.parse.urlencode({"zone": self.zone})
        return f"{self.base_url}/v3/carbon-intensity/{what}?{query}"

    def _check(self, url: str, parse: Any) -> Any:
        body = get_json(url, headers={"auth-token": self._token}, timeout_s=self.timeout_s,
                        secrets=[self._token], auth_hint=f"check {ENV_EM_KEY}")
        parse(body)  # validate before the body is cached
        return body


class WattTime:
    """WattTime API v3: log in for a token, then ``/v3/forecast`` of the ``co2_moer`` signal,
    the *marginal* operating emission rate, published in lbs/MWh and converted to g/kWh."""

    name = WATTTIME

    def __init__(self, region: str, username: str, password: str, base_url: str | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.label = region
        self.region, self.timeout_s = region, timeout_s
        self._username, self._password = username, password
        self.base_url = _base(base_url, ENV_WT_URL, "https://api.watttime.org")

    def now(self) -> Intensity:
        body = self._forecast_body()
        first = body["data"][0]
        return Intensity(
            value_g_per_kwh=_wt_value(first, body), provider=self.name, region=self.region,
            source="WattTime API v3, co2_moer (marginal operating emission rate)",
            time_utc=iso_utc(parse_time(str(first["point_time"]), "WattTime point_time")),
            estimate=True, forecast=True, signal=MARGINAL,
            note="first point of the current forecast",
        )

    def over(self, start_unix_s: float, end_unix_s: float) -> Intensity:
        return _latest_for_run(self.now())

    def forecast(self) -> Series:
        body = self._forecast_body()
        times = [parse_time(str(p["point_time"]), "WattTime point_time") for p in body["data"]]
        values = [_wt_value(p, body) for p in body["data"]]
        period = body.get("meta", {}).get("data_point_period_seconds")
        return _series(times, values, float(period) if period else None)

    def _forecast_body(self) -> Any:
        query = urllib.parse.urlencode({"region": self.region, "signal_type": "co2_moer"})
        url = f"{self.base_url}/v3/forecast?{query}"

        def fetch() -> Any:
            body = get_json(url, headers={"Authorization": f"Bearer {self._login()}"},
                            timeout_s=self.timeout_s, secrets=self._secrets(),
                            auth_hint=f"check {ENV_WT_USER} and {ENV_WT_PASSWORD}")
            _wt_check(body)
            return body

        body = _ask(self, url, LATEST_TTL_S, fetch)
        return body

    def _login(self) -> str:
        # the token is a credential: kept in memory only, never in the on-disk cache
        key = (self.base_url, self._username)
        token, expires = _wt_tokens.get(key, ("", 0.0))
        if token and time.monotonic() < expires:
            return token
        basic = base64.b64encode(f"{self._username}:{self._password}".encode()).decode()
        body = get_json(f"{self.base_url}/login", headers={"Authorization": f"Basic {basic}"},
                        timeout_s=self.timeout_s, secrets=self._secrets(),
                        auth_hint=f"check {ENV_WT_USER} and {ENV_WT_PASSWORD}")
        fresh = body.get("token") if isinstance(body, dict) else None
        if not isinstance(fresh, str) or not fresh:
            raise ProviderUnavailable("WattTime login answered without a token")
        _wt_tokens[key] = (fresh, time.monotonic() + _WT_TOKEN_TTL_S)
        return fresh

    def _secrets(self) -> list[str]:
        token = _wt_tokens.get((self.base_url, self._username), ("", 0.0))[0]
        return [self._password, token]


class UKCarbonIntensity:
    """The UK Carbon Intensity API (National Grid ESO; no key): Great Britain only, half-hourly
    actual and forecast gCO2/kWh, ``/intensity`` and ``/intensity/{from}/fw48h``."""

    name = UK

    def __init__(self, base_url: str | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.label = "GB"
        self.timeout_s = timeout_s
        self.base_url = _base(base_url, ENV_UK_URL, "https://api.carbonintensity.org.uk")

    def now(self) -> Intensity:
        url = f"{self.base_url}/intensity"
        body = _ask(self, url, LATEST_TTL_S, lambda: self._check(url))
        period = body["data"][0]
        actual = period["intensity"].get("actual")
        value = actual if actual is not None else period["intensity"]["forecast"]
        return Intensity(
            value_g_per_kwh=float(value), provider=self.name, region="GB",
            source="UK Carbon Intensity API (National Grid ESO), national",
            time_utc=iso_utc(parse_time(period["from"], "UK API 'from'")),
            estimate=actual is None, forecast=actual is None, signal=AVERAGE,
            note=None if actual is not None else "no actual value yet: the forecast for now",
        )

    def over(self, start_unix_s: float, end_unix_s: float) -> Intensity:
        return _latest_for_run(self.now())

    def forecast(self) -> Series:
        start = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
        url = f"{self.base_url}/intensity/{start}/fw48h"
        body = _ask(self, url, FORECAST_TTL_S, lambda: self._check(url))
        times, values, ends = [], [], []
        for period in body["data"]:
            times.append(parse_time(period["from"], "UK API 'from'"))
            ends.append(parse_time(period["to"], "UK API 'to'"))
            values.append(float(period["intensity"]["forecast"]))
        return Series(times, values, ends[-1])

    def _check(self, url: str) -> Any:
        body = get_json(url, timeout_s=self.timeout_s)
        try:
            periods = body["data"]
            if not periods:
                raise ProviderUnavailable("UK Carbon Intensity API: no data in the answer")
            for p in periods:
                parse_time(p["from"], "UK API 'from'")
                parse_time(p["to"], "UK API 'to'")
                value = p["intensity"].get("actual")
                _plausible(value if value is not None else p["intensity"]["forecast"], self.name)
        except (KeyError, TypeError, IndexError, AttributeError, UserError):
            raise ProviderUnavailable("UK Carbon Intensity API: unexpected answer format") \
                from None
        return body


def _ask(provider: Any, url: str, ttl_s: float, fetch: Callable[[], Any]) -> Any:
    """The cached or fetched answer for ``url``; a provider that failed once in this process
    is not asked again (a run asks for every case, and each ask may wait its deadline)."""
    who = f"{provider.name}|{provider.base_url}|{provider.label}"
    if who in _failures:
        raise ProviderUnavailable(f"{_failures[who]} (failed earlier in this process; "
                                  "not asked again)")
    try:
        body, _ = cached(f"{provider.name}|{url}", ttl_s, fetch)
    except ProviderUnavailable as exc:
        _failures[who] = exc.reason
        raise
    return body


def credentials(env: Mapping[str, str], *names: str) -> list[str] | None:
    """The values of the named environment variables, or None if any is unset or empty."""
    values = [env.get(n, "").strip() for n in names]
    return values if all(values) else None


def _latest_for_run(latest: Intensity) -> Intensity:
    note = f"latest live value (at {latest.time_utc}) applied to the whole run"
    return replace(latest, note="; ".join(x for x in (latest.note, note) if x))


def _em_point(body: Any) -> tuple[float, str | None]:
    try:
        value = _plausible(body["carbonIntensity"], ELECTRICITYMAPS)
        when = body.get("datetime")
        when = iso_utc(parse_time(when, "datetime")) if when else None
    except (KeyError, TypeError, AttributeError, UserError):
        raise ProviderUnavailable("Electricity Maps: unexpected answer format "
                                  "(no carbonIntensity)") from None
    return value, when


def _em_forecast(body: Any) -> Series:
    try:
        points = body["forecast"]
        times = [parse_time(p["datetime"], "datetime") for p in points]
        values = [_plausible(p["carbonIntensity"], ELECTRICITYMAPS) for p in points]
        return _series(times, values, None)
    except (KeyError, TypeError, AttributeError, UserError, ValueError):
        raise ProviderUnavailable("Electricity Maps: unexpected forecast format") from None


def _wt_check(body: Any) -> None:
    try:
        units = body.get("meta", {}).get("units", "lbs_co2_per_mwh")
        if "lbs" not in str(units):
            raise ProviderUnavailable(f"WattTime: unexpected units {units!r}")
        if not body["data"]:
            raise ProviderUnavailable("WattTime: no data in the answer")
        for p in body["data"]:
            parse_time(str(p["point_time"]), "point_time")
            _wt_value(p, body)
    except (KeyError, TypeError, AttributeError, IndexError, UserError):
        raise ProviderUnavailable("WattTime: unexpected answer format") from None


def _wt_value(point: Any, body: Any) -> float:
    return _plausible(float(point["value"]) * G_PER_KWH_PER_LB_PER_MWH, WATTTIME)


def _plausible(value: Any, provider: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProviderUnavailable(f"{provider}: intensity {value!r} is not a number")
    if not 0 <= value <= MAX_INTENSITY_G_PER_KWH:
        raise ProviderUnavailable(f"{provider}: implausible intensity {value} gCO2e/kWh")
    return float(value)


def _series(times: list[float], values: list[float], step_s: float | None) -> Series:
    if not times:
        raise ProviderUnavailable("the forecast is empty")
    if step_s is None:
        step_s = statistics.median(steps(times)) \
            if len(times) > 1 else 3600.0
    try:
        return Series(times, values, times[-1] + step_s)
    except ValueError as exc:
        raise ProviderUnavailable(f"the forecast is malformed ({exc})") from None


def _base(given: str | None, env_name: str, default: str) -> str:
    return (given or os.environ.get(env_name) or default).rstrip("/")
