"""The pieces of greenbench's pytest plugin; ``greenbench.pytest_plugin`` wires them to pytest.

- :mod:`.settings`: command-line options and ``@pytest.mark.greenbench`` keywords, checked;
- :mod:`.fixture`: the ``energy_benchmark`` fixture (calibration, rounds, budgets);
- :mod:`.session`: the per-session plugin object (meter, results, save, compare, summary);
- :mod:`.results`: a session's results as a RunRecord, compared against a baseline;
- :mod:`.storage`: where baselines live (exported-run JSON files, one folder per machine);
- :mod:`.table`, :mod:`.summary`: the terminal summary (tables, and each outcome by name);
- :mod:`.hookspec`: ``pytest_greenbench_probes``, to measure with your own sensors;
- :mod:`.xdist`: what happens under pytest-xdist (skip in workers, or one at a time);
- :mod:`.bridge`: energy figures in pytest-benchmark's ``extra_info``.

Nothing here is imported until a test uses the plugin or one of its options is given, so a
session that does neither pays nothing for it.
"""
