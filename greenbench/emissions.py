"""The Python API's ``greenbench.measure``: a measured window, and its emissions when a region
or an intensity is configured.

    with greenbench.measure("epoch", region="FRA") as m:
        train_one_epoch()
    m.measurement.energy_j, m.measurement.method   # the energy, and how it was obtained
    m.footprint.total_g, m.footprint.intensity      # gCO2e, and where the intensity came from

The carbon setup comes from the arguments, else from the settings (``GREENBENCH_REGION``,
``region`` and ``pue`` in ``[tool.greenbench]`` or the user's config file; see
:mod:`greenbench.settings`), and is checked before the block runs, so a mistake costs no
measurement. With no region and no intensity configured there is no footprint (None): the
world average is used only when asked for (``region="world"``). Nor is there one when the
energy could not be read: emissions are never computed from a substitute.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING

from greenbench.meter import Meter, Window
from greenbench.meter import measure as measure_window
from greenbench.settings import resolve

if TYPE_CHECKING:
    from greenbench.carbon.footprint import Footprint
    from greenbench.carbon.options import CarbonSetup
    from greenbench.measurement import Measurement


class Measured:
    """What ``with greenbench.measure(...) as m`` gives: ``measurement`` (set when the block
    ends), ``footprint`` (its emissions, or None, see the module doc) and ``carbon`` (the
    setup used, None when none was configured)."""

    def __init__(self, window: Window, carbon: CarbonSetup | None) -> None:
        self.window = window
        self.carbon = carbon
        self.footprint: Footprint | None = None

    @property
    def name(self) -> str:
        return self.window.name

    @property
    def measurement(self) -> Measurement | None:
        return self.window.measurement


@contextlib.contextmanager
def measure(name: str = "measure", meter: Meter | None = None, *, region: str | None = None,
            intensity: float | None = None, intensity_file: str | None = None,
            provider: str | None = None, pue: float | None = None) -> Iterator[Measured]:
    """``with greenbench.measure("step") as m: ...``; then ``m.measurement`` holds the energy
    and, with a region or an intensity configured, ``m.footprint`` the emissions.

    ``region``, ``intensity``, ``intensity_file``, ``provider`` and ``pue`` mean what the
    command line's ``--region``, ``--intensity``, ``--intensity-file``, ``--provider`` and
    ``--pue`` do. Raises :class:`~greenbench.errors.UserError` for a bad one, before measuring.
    """
    carbon = carbon_setup(region, intensity, intensity_file, provider, pue)
    with measure_window(name, meter) as window:
        measured = Measured(window, carbon)
        yield measured
    energy_j = None if window.measurement is None else window.measurement.energy_j
    if carbon is not None and window.measurement is not None and energy_j is not None:
        m = window.measurement
        measured.footprint = carbon.footprint(energy_kwh=energy_j / 3.6e6,
                                              duration_s=m.duration_s,
                                              start_unix_s=m.start_wall_s)


def carbon_setup(region: str | None = None, intensity: float | None = None,
                 intensity_file: str | None = None, provider: str | None = None,
                 pue: float | None = None) -> CarbonSetup | None:
    """The carbon setup from the arguments, else the settings; None when neither names a
    region or an intensity."""
    found = {v.setting.key: v for v in resolve({"region": region, "pue": pue})}
    where, factor = found["region"], found["pue"]
    if where.value is None and intensity is None and intensity_file is None and provider is None:
        return None
    from greenbench.carbon.footprint import check_pue
    from greenbench.carbon.options import resolve_carbon
    from greenbench.carbon.region import parse_region

    # a mistake names where the value came from: the argument, a variable or a file
    check_pue(float(factor.value), "pue=" if factor.source == "option" else factor.source)
    origin = "region=" if where.source == "option" else where.source
    if where.value is not None:
        parse_region(str(where.value), origin)
    setup = resolve_carbon(None if where.value is None else str(where.value), intensity,
                           intensity_file, provider, float(factor.value))
    return setup if where.value is None else dataclasses.replace(setup, region_origin=origin)
