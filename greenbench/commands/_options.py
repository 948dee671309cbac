"""Numeric options checked where they are given: finite, and within their range.

``float("nan")`` and ``float("inf")`` parse as numbers, and comparisons with NaN are all
false, so a plain ``type=float`` lets ``--timeout nan`` through every ``<= 0`` check and on
into the measurement. ``Number`` refuses them, and a value out of range, with one line that
names the option; a whole number too large for the store is refused the same way.
"""

from __future__ import annotations

import math
import os
from typing import Any

import click

#: the largest whole number SQLite stores (a signed 64-bit integer)
MAX_INTEGER = 2**63 - 1


class Number(click.ParamType):
    """A finite number (or a whole number) in ``[minimum, maximum]``; ``above`` makes the
    lower bound exclusive (a duration that must be positive)."""

    def __init__(self, minimum: float | None = None, maximum: float | None = None, *,
                 above: bool = False, integer: bool = False) -> None:
        self.minimum, self.maximum, self.above, self.integer = minimum, maximum, above, integer
        if integer and maximum is None:
            self.maximum = MAX_INTEGER
        self.name = "integer" if integer else "number"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        try:
            number = _whole(value) if self.integer else float(value)
        except (TypeError, ValueError):
            kind = "a whole number" if self.integer else "a number"
            self.fail(f"{value!r} is not {kind}", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        low, high = self.minimum, self.maximum
        if low is not None and (number < low or (self.above and number == low)):
            self.fail(f"{value}: use a number {'>' if self.above else '>='} {_shown(low)}",
                      param, ctx)
        if high is not None and number > high:
            self.fail(f"{value}: use a number <= {_shown(high)}", param, ctx)
        return number


def _shown(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


def _whole(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    return int(str(value).strip())


#: seconds: zero or more; more than zero
SECONDS = Number(0)
POSITIVE_SECONDS = Number(0, above=True)
#: any finite number (ranges checked by the command, with its own advice)
FINITE = Number()


class SecondsOrAuto(Number):
    """Seconds >= 0, or ``auto`` (given to the command as None)."""

    def __init__(self) -> None:
        super().__init__(0)
        self.name = "seconds or auto"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
            return None
        try:
            float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is neither a number of seconds nor auto", param, ctx)
        return super().convert(value, param, ctx)


SECONDS_OR_AUTO = SecondsOrAuto()


class OutputPath(click.ParamType):
    """A path to write (a file, or a folder with ``folder=True``) that is never an option,
    and, for a file, not a folder.

    An option that takes a value takes the next word whatever it is, so ``--json -- sleep 1``
    once wrote a file named ``--``: a value that starts with ``-`` is refused, with the
    spelling that names such a file on purpose.
    """

    def __init__(self, folder: bool = False) -> None:
        self.folder = folder
        self.name = "folder" if folder else "file"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        text = str(value)
        if not text:
            self.fail(f"give a {self.name} name", param, ctx)
        if text.startswith("-"):
            self.fail(f"{text!r} looks like an option, not a {self.name} name (to name a "
                      f"{self.name} that starts with '-', write ./{text})", param, ctx)
        if not self.folder and os.path.isdir(text):
            self.fail(f"{text} is a folder; give a file path", param, ctx)
        return text


#: a file to write, and a folder to write into
OUTPUT_FILE = OutputPath()
OUTPUT_FOLDER = OutputPath(folder=True)
