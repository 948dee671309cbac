"""Run the ``greenbench`` command line in-process, the way a user's shell would see it.

``greenbench.cli.main`` turns a UserError into one line on stderr and an exit code, which
click's CliRunner would not do (it sees the exception), so tests call ``main`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from greenbench.cli import main


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    """Run ``greenbench ARGS...``; return its exit code, stdout and stderr."""
    capsys.readouterr()  # drop anything printed before
    with pytest.raises(SystemExit) as info:
        main(list(args))
    captured = capsys.readouterr()
    code = info.value.code
    return CliResult(code if isinstance(code, int) else (0 if code is None else 1),
                     captured.out, captured.err)
