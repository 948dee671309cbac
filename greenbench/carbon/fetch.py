"""HTTP GET of JSON for the live providers: a timeout on every request, bounded retries on
429 that honour Retry-After, and failures turned into reasons that name no credential.

Only the standard library (urllib.request) is used, so the live providers add no dependency.
"""

from __future__ import annotations

import email.utils
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from greenbench.carbon.intensity import ProviderUnavailable

DEFAULT_TIMEOUT_S = 5.0
#: 429 retries, and the longest Retry-After we are willing to wait for (each): a run's
#: footprint must not stall for minutes on a rate limit when a fallback exists
MAX_RETRIES = 2
MAX_RETRY_WAIT_S = 10.0
#: a provider answer is a few kB; anything much larger is not the JSON we asked for
MAX_BODY_BYTES = 8 * 2**20

# time.sleep, kept as a module attribute so tests can record the waits instead of sleeping
_sleep = time.sleep


def get_json(url: str, *, headers: Mapping[str, str] | None = None,
             timeout_s: float = DEFAULT_TIMEOUT_S, secrets: Sequence[str] = (),
             auth_hint: str = "") -> Any:
    """GET ``url`` and decode its JSON body, or raise ProviderUnavailable with a safe reason.

    ``secrets`` are scrubbed from any reason (belt and braces: none should appear anyway);
    ``auth_hint`` is appended to 401/403 reasons (e.g. "check ELECTRICITYMAPS_API_KEY").
    """
    host = urllib.parse.urlsplit(url).netloc
    request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                   "User-Agent": "greenbench",
                                                   **(headers or {})})
    for attempt in range(MAX_RETRIES + 1):
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                body = response.read(MAX_BODY_BYTES + 1)
            break
        except urllib.error.HTTPError as exc:
            if exc.code == 429 and attempt < MAX_RETRIES:
                wait_s = _retry_after_s(exc.headers.get("Retry-After"))
                if wait_s is not None and wait_s <= MAX_RETRY_WAIT_S:
                    _sleep(wait_s)
                    continue
            raise ProviderUnavailable(_scrub(_http_reason(exc, host, auth_hint), secrets)) \
                from None
        except TimeoutError:
            raise ProviderUnavailable(f"{host}: no answer within {timeout_s:g} s") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise ProviderUnavailable(f"{host}: no answer within {timeout_s:g} s") from None
            raise ProviderUnavailable(_scrub(f"{host}: cannot connect ({exc.reason})", secrets)) \
                from None
        except OSError as exc:
            raise ProviderUnavailable(_scrub(f"{host}: connection failed ({exc})", secrets)) \
                from None
    if len(body) > MAX_BODY_BYTES:
        raise ProviderUnavailable(f"{host}: answer larger than {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(body)
    except ValueError:
        raise ProviderUnavailable(f"{host}: the answer is not valid JSON") from None


def _retry_after_s(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if value is None:
        return 1.0  # no hint: one short pause before the next try
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _http_reason(exc: urllib.error.HTTPError, host: str, auth_hint: str) -> str:
    reason = f"{host}: HTTP {exc.code} {exc.reason}"
    if exc.code in (401, 403) and auth_hint:
        reason += f" ({auth_hint})"
    if exc.code == 429:
        reason += " (rate limited; retries exhausted or Retry-After too long)"
    return reason


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
