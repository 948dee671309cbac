"""A tiny library and its energy benchmarks, the subject of the gate benchmark (gate_bench).

These files are not tests of greenbench: gate_bench copies them into a fresh git repository
(``gate_lib.py`` as the package, ``energy_tests.py`` as its ``tests/test_energy.py``), commits
them, then commits changed versions of them, and gates the commits against each other.
"""
