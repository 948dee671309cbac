"""Stored text made safe to print: control characters shown as escapes, never obeyed.

Run ids, labels, host names, CPU models, workload names and errors come from whoever made the
run or the file it was imported from. Printed raw, an escape sequence in any of them retitles
the terminal, clears the screen or hides text, and a bidirectional override reorders what the
reader sees. Every such character is shown as ``\\x1b`` or ``\\u202e`` instead.
"""

from __future__ import annotations

import re
from typing import Any

from greenbench.records import RunRecord

# C0 and C1 controls, DEL, and the bidirectional embeddings, overrides and isolates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every control character written as a visible escape."""
    return _UNSAFE.sub(_escape_char, text)


def printable_run(run: RunRecord) -> RunRecord:
    """A copy of ``run`` whose every string (and key) is :func:`printable`."""
    return RunRecord.from_dict(_printable_value(run.to_dict()))


def _printable_value(value: Any) -> Any:
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {_printable_value(k): _printable_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_printable_value(v) for v in value]
    return value


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
