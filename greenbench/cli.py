"""The ``greenbench`` command line: a thin shell over the library.

Each command lives in its own module under ``greenbench.commands`` and is imported only when
it is invoked, so ``greenbench --help`` loads neither torch, matplotlib nor codecarbon.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

import click

from greenbench import __version__
from greenbench.commands._verbosity import verbosity_options
from greenbench.errors import UserError

# name -> (module, attribute, one-line help shown by `greenbench --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": ("greenbench.commands.run", "run", "Run workloads under the meter; store results."),
    "workloads": ("greenbench.commands.workloads", "workloads", "List workloads and suites."),
    "measure": ("greenbench.commands.measure", "measure", "Measure any command's energy."),
    "sensors": ("greenbench.commands.sensors", "sensors", "List every sensor, available or not."),
    "results": ("greenbench.commands.results", "results",
                "List, show, check, export, import, push and pull results."),
    "compare": ("greenbench.commands.compare", "compare", "Compare two runs; gate regressions."),
    "gate": ("greenbench.commands.gate", "gate",
             "Gate two git revisions' energy, measured interleaved (A/B)."),
    "monitor": ("greenbench.commands.monitor", "monitor",
                "Serve this machine's energy to Prometheus."),
    "carbon": ("greenbench.commands.carbon", "carbon", "Carbon intensity and best time windows."),
    "plot": ("greenbench.commands.plot", "plot", "Publication figures from stored runs."),
    "report": ("greenbench.commands.report", "report", "HTML / Markdown / LaTeX reports."),
    "leaderboard": ("greenbench.commands.leaderboard", "leaderboard",
                    "Build a static leaderboard page from pooled runs."),
    "config": ("greenbench.commands.config", "config",
               "Show every setting, its value and where it came from."),
    "gpu": ("greenbench.commands.gpu", "gpu", "GPU power limits; restore a killed run's."),
    "optimize": ("greenbench.commands.optimize", "optimize",
                 "Sweep power limit and batch; recommend the setting to run at."),
}


class LazyGroup(click.Group):
    """Lists commands from COMMANDS without importing them; imports one when it runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (mod, _, _) in COMMANDS.items() if _exists(mod)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None or not _exists(entry[0]):
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = getattr(module, entry[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(n, COMMANDS[n][2]) for n in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="greenbench")
@verbosity_options
def cli() -> None:
    """Measure what machine-learning work costs in energy and carbon.

    Every energy figure says how it was obtained: read from an energy counter, integrated
    from polled power, or estimated by a model.

    Results go to standard output; progress, notes, warnings and errors to standard error.
    -q and -v apply to the command that follows (greenbench -q run).
    """


def main(argv: list[str] | None = None) -> Any:
    """Entry point: every user mistake is one line on stderr and a non-zero exit."""
    try:
        code = cli.main(args=argv, prog_name="greenbench", standalone_mode=False)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "greenbench"
        click.echo(f"{where}: error: {exc.format_message()} (see '{where} --help')", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"greenbench: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("greenbench: interrupted", err=True)
        sys.exit(130)
    except UserError as exc:
        # one line, whatever the message quotes (SQLite's and OS messages may hold newlines)
        text = "; ".join(part.strip() for part in str(exc).splitlines() if part.strip())
        click.echo(f"greenbench: error: {text}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


def _exists(module: str) -> bool:
    return importlib.util.find_spec(module) is not None
