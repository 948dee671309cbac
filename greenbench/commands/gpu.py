"""``greenbench gpu``: the GPUs' power limits, and putting back what a killed run left."""

from __future__ import annotations

import sys

import click

#: `gpu restore` could not put back every limit
EXIT_NOT_RESTORED = 1


@click.group()
def gpu() -> None:
    """GPU power limits: what each GPU allows, and restoring a killed run's limits."""


@gpu.command()
def limits() -> None:
    """Each GPU's power limit now, its default and the range it allows."""
    from greenbench.gpu.backends import visible_gpus

    gpus, why = visible_gpus()
    if not gpus:
        click.echo(f"no GPU: {'; '.join(why) or 'none found'}")
        return
    for g in gpus:
        low, high = g.range_w()
        click.echo(f"{g.label} {g.uuid}: limit {g.limit_w():g} W, in force "
                   f"{g.in_force_w():g} W, default {g.default_w():g} W, allowed "
                   f"{low:g} to {high:g} W")


@gpu.command()
def restore() -> None:
    """Put back every GPU power limit a killed greenbench run left changed.

    Before setting a limit greenbench records the original in its state folder
    ($GREENBENCH_STATE_DIR, else $XDG_STATE_HOME/greenbench, else
    ~/.local/state/greenbench); a run that ends puts it back itself. This puts back the
    limits of runs that were killed (kill -9, a power cut), and removes their records; a run
    still going is left alone.
    """
    from greenbench.gpu import restore_records
    from greenbench.gpu.limits import restore_left

    done, failed = restore_left()
    # one line each, unwrapped: a GPU's UUID and its limits belong together
    for line in done:
        click.echo(line)
    for line in failed:
        click.echo(f"greenbench: {line}", err=True)
    if not done and not failed:
        click.echo(f"nothing to restore: no changed power limit is recorded in "
                   f"{restore_records.path()}")
    if any("could not put back" in line for line in failed):
        sys.exit(EXIT_NOT_RESTORED)
