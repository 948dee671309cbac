"""HTTP GET of JSON for the live providers: one deadline for the whole request, bounded
retries on 429 that honour Retry-After, redirects followed only within the provider's own
origin, and failures turned into reasons that name no credential.

urllib's own timeout bounds each socket operation, not the request: a server sending one
byte a second keeps every read alive. Here a timer shuts the request's socket down once its
deadline has passed. urllib's redirect handler copies every header, API keys and passwords
included, to wherever a redirect points; here a redirect to another scheme, host or port is
refused, so no credential leaves for another host and no other host's answer is taken for
the provider's.

Only the standard library (urllib.request) is used, so the live providers add no dependency.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from greenbench.carbon.intensity import ProviderUnavailable

DEFAULT_TIMEOUT_S = 5.0
#: the longest one request may take, retries and their waits included
DEFAULT_DEADLINE_S = 15.0
#: 429 retries, and the longest Retry-After we are willing to wait for (each): a run's
#: footprint must not stall for minutes on a rate limit when a fallback exists
MAX_RETRIES = 2
MAX_RETRY_WAIT_S = 10.0
#: a provider answer is a few kB; anything much larger is not the JSON we asked for
MAX_BODY_BYTES = 8 * 2**20
#: how often an expired deadline looks again for a connection opened meanwhile
_SHUT_POLL_S = 0.05
#: the read timeout left to a request whose deadline has passed
_CUT_S = 0.001

# time.sleep, kept as a module attribute so tests can record the waits instead of sleeping
_sleep = time.sleep


def get_json(url: str, *, headers: Mapping[str, str] | None = None,
             timeout_s: float = DEFAULT_TIMEOUT_S, deadline_s: float | None = None,
             secrets: Sequence[str] = (), auth_hint: str = "") -> Any:
    """GET ``url`` and decode its JSON body, or raise ProviderUnavailable with a safe reason.

    ``timeout_s`` bounds each connect and read; ``deadline_s`` (default DEFAULT_DEADLINE_S)
    the whole call. ``secrets``
    are scrubbed from any reason (belt and braces: none should appear anyway); ``auth_hint``
    is appended to 401/403 reasons (e.g. "check ELECTRICITYMAPS_API_KEY").
    """
    host = urllib.parse.urlsplit(url).netloc
    request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                   "User-Agent": "greenbench",
                                                   **(headers or {})})
    if deadline_s is None:
        deadline_s = DEFAULT_DEADLINE_S
    give_up = time.monotonic() + deadline_s
    late = f"{host}: no complete answer within {deadline_s:g} s"
    for attempt in range(MAX_RETRIES + 1):
        remaining = give_up - time.monotonic()
        if remaining <= 0:
            raise ProviderUnavailable(late)
        deadline = _Deadline(remaining)
        try:
            with deadline, deadline.opener().open(request, timeout=timeout_s) as response:
                body = response.read(MAX_BODY_BYTES + 1)
            if deadline.expired:  # cut off: what arrived may be a truncated answer
                raise ProviderUnavailable(late)
            break
        except urllib.error.HTTPError as exc:
            if exc.code == 429 and attempt < MAX_RETRIES:
                wait_s = _retry_after_s(exc.headers.get("Retry-After"))
                if wait_s is not None and wait_s <= min(MAX_RETRY_WAIT_S,
                                                        give_up - time.monotonic()):
                    _sleep(wait_s)
                    continue
            raise ProviderUnavailable(_scrub(_http_reason(exc, host, auth_hint), secrets)) \
                from None
        except ProviderUnavailable:
            raise
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if deadline.expired:
                raise ProviderUnavailable(late) from None
            raise ProviderUnavailable(_scrub(_connection_reason(exc, host, timeout_s),
                                             secrets)) from None
    if len(body) > MAX_BODY_BYTES:
        raise ProviderUnavailable(f"{host}: answer larger than {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(body)
    except ValueError:
        raise ProviderUnavailable(f"{host}: the answer is not valid JSON") from None


def _connection_reason(exc: BaseException, host: str, timeout_s: float) -> str:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return f"{host}: no answer within {timeout_s:g} s"
    if isinstance(exc, urllib.error.URLError):
        return f"{host}: cannot connect ({reason})"
    return f"{host}: connection failed ({exc})"


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or default


class _SameOrigin(urllib.request.HTTPRedirectHandler):
    """Follows a redirect within the request's scheme, host and port; refuses any other."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Any, newurl: str) -> urllib.request.Request | None:
        if _origin(newurl) != _origin(req.full_url):
            fp.close()
            to = urllib.parse.urlsplit(newurl)
            raise ProviderUnavailable(
                f"{urllib.parse.urlsplit(req.full_url).netloc}: redirected (HTTP {code}) to "
                f"another origin, {to.scheme}://{to.netloc}; not followed (the request's "
                "credentials and the provider's answer stay with the provider)")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class _Deadline:
    """Shuts down the sockets of one request once ``seconds`` have passed."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._seconds = seconds
        self._sockets: list[socket.socket] = []
        self._done = threading.Event()
        self._timer = threading.Thread(target=self._expire, name="greenbench-http-deadline",
                                       daemon=True)

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()

    def opener(self) -> urllib.request.OpenerDirector:
        deadline = self

        class Http(urllib.request.HTTPHandler):
            def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
                return self.do_open(deadline.track(http.client.HTTPConnection), req)

        class Https(urllib.request.HTTPSHandler):
            def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
                return self.do_open(deadline.track(http.client.HTTPSConnection), req,
                                    context=self._context)  # type: ignore[attr-defined]

        return urllib.request.build_opener(_SameOrigin, Http, Https)

    def track(self, cls: type[http.client.HTTPConnection]) -> Callable[..., Any]:
        """``cls``, keeping each socket it connects (urllib drops the connection's own
        reference once the response is open, but reads the body through that socket)."""
        sockets = self._sockets

        class Tracked(cls):  # type: ignore[valid-type,misc]
            def connect(self) -> None:
                super().connect()
                sockets.append(self.sock)

        return Tracked

    def _expire(self) -> None:
        if self._done.wait(self._seconds):
            return
        self.expired = True
        while not self._done.is_set():  # a connection may still be opening
            for sock in self._sockets:
                # wakes a blocked read; a byte arriving after it no longer keeps the next
                # read waiting, as Linux still delivers data after SHUT_RD
                with contextlib.suppress(OSError):
                    sock.settimeout(_CUT_S)
                    sock.shutdown(socket.SHUT_RDWR)
            self._done.wait(_SHUT_POLL_S)


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
