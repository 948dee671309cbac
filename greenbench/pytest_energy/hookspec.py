"""Hooks a conftest.py or plugin may implement to extend greenbench's pytest plugin."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec(firstresult=True)
def pytest_greenbench_probes(config: pytest.Config) -> list[Any] | None:
    """The sensors to measure with, as ``greenbench.sensors.base.Probe`` objects.

    Return None (the default) to use every sensor greenbench finds on this machine
    (``greenbench.sensors.registry.probe_all()``). Return your own probes to measure with
    something greenbench does not know: a metered PDU, a lab power meter, a sensor of a
    device under test. Their ``kind`` (``counter``, ``power``, ``estimate``) is recorded with
    every result, so measured and estimated baselines stay apart. Mark your implementation
    ``@pytest.hookimpl(optionalhook=True)`` so that its conftest.py also loads when the plugin
    is disabled (``-p no:greenbench``).
    """
    return None
