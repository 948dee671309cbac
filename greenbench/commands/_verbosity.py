"""How much the commands say: ``-q/--quiet`` and ``-v/--verbose``.

Results go to standard output and are printed at every level; errors and warnings always
reach standard error. ``--quiet`` hides progress and notes (which sensors were found, where a
file went); ``--verbose`` adds diagnostics (each sensor, per-phase timings, resolved paths).
The flags are given before the command (``greenbench -q run``, on every command) or after it
(run, measure, compare, plot, report: not gate, whose further arguments are pytest's); the
level lives on the click context's ``obj``, shared by the group and the command.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

QUIET, NORMAL, VERBOSE = -1, 0, 1


@dataclass
class Verbosity:
    quiet: bool = False
    verbose: bool = False

    @property
    def level(self) -> int:
        return QUIET if self.quiet else VERBOSE if self.verbose else NORMAL


def verbosity_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``-q/--quiet`` and ``-v/--verbose``, stored on the context rather than passed on."""
    f = click.option("-v", "--verbose", is_flag=True, expose_value=False, is_eager=True,
                     callback=_store("verbose"),
                     help="Also print diagnostics: each sensor, per-phase timings, where "
                          "files went.")(f)
    return click.option("-q", "--quiet", is_flag=True, expose_value=False, is_eager=True,
                        callback=_store("quiet"),
                        help="Print results, warnings and errors only (no progress or "
                             "notes).")(f)


def _store(name: str) -> Callable[[click.Context, click.Parameter, bool], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if not value:
            return
        state = ctx.ensure_object(Verbosity)
        setattr(state, name, True)
        if state.quiet and state.verbose:
            raise click.UsageError("-q/--quiet and -v/--verbose contradict each other: "
                                   "give one of them", ctx)
    return callback


def level() -> int:
    """The verbosity of the command running now (NORMAL outside the command line)."""
    ctx = click.get_current_context(silent=True)
    state = ctx.find_object(Verbosity) if ctx is not None else None
    return NORMAL if state is None else state.level


def quiet() -> bool:
    return level() == QUIET


def verbose() -> bool:
    return level() == VERBOSE


def note(text: str) -> None:
    """A note on standard error, left out by -q (``text`` is plain, not markup)."""
    if not quiet():
        _err(text)


def detail(text: str) -> None:
    """A diagnostic on standard error, printed with -v only (``text`` is plain)."""
    if verbose():
        _err(text)


def _err(text: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, highlight=False).print(f"[dim]greenbench: {escape(text)}[/dim]")
