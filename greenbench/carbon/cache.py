"""A small on-disk cache of provider answers, so repeated runs do not hammer the APIs.

Files live under ``$GREENBENCH_CACHE_DIR`` or ``~/.cache/greenbench`` (``intensity/``), one
JSON file per request, named by a hash of the provider and URL. Requests carry credentials
only in headers, never in the URL, so no key reaches a cache file. A cache that cannot be read
or written is ignored: it only saves requests.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ENV_CACHE_DIR = "GREENBENCH_CACHE_DIR"


def cache_dir() -> Path:
    base = os.environ.get(ENV_CACHE_DIR)
    root = Path(base) if base else Path.home() / ".cache" / "greenbench"
    return root / "intensity"


def cached(key: str, ttl_s: float, fetch: Callable[[], Any]) -> tuple[Any, float]:
    """``(answer, fetched_unix_s)``: the cached answer for ``key`` if younger than ``ttl_s``,
    else ``fetch()`` (whose exceptions pass through, and are not cached)."""
    path = cache_dir() / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".json")
    now = time.time()
    try:
        entry = json.loads(path.read_text())
        if entry.get("key") == key and now - float(entry["fetched_unix_s"]) < ttl_s:
            return entry["body"], float(entry["fetched_unix_s"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    body = fetch()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": key, "fetched_unix_s": now, "body": body}))
        os.replace(tmp, path)
    except OSError:
        pass
    return body, now
