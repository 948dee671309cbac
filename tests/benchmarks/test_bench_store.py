"""The results store's speed on a store of 1,000 runs (3 cases each, with traces).

Targets: ``Store.list_runs()`` over all 1,000 runs in well under 0.2 s (it reads only the light
columns), and ``greenbench results list --limit 0`` under 1 s in all (about 0.1 s on an idle
machine). The command is timed against bare start-up in alternation and the bounds are loose
(minimum of several rounds) because this machine is shared.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from greenbench.store import Store
from tests.factories import make_run

RUNS = 1000


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "store.sqlite"
    with Store(path) as s:
        for _ in range(RUNS):
            s.begin_run(make_run(3))
    return path


def test_list_runs_reads_1000_runs_quickly(benchmark, big_store: Path) -> None:
    with Store(big_store) as s:
        runs = benchmark(s.list_runs)
    assert len(runs) == RUNS
    assert benchmark.stats.stats.min < 0.2


def test_results_list_command_on_1000_runs_under_a_second(benchmark, big_store: Path) -> None:
    """Timed against bare start-up (``greenbench --version``) in alternation, so that a busy
    machine slows both: the list's own cost must stay under 0.3 s (about 0.03 s on an idle
    machine, where the whole command takes about 0.1 s), and the whole under 1 s."""
    env = {"COLUMNS": "160", "PATH": "/usr/bin:/bin"}
    listing = [sys.executable, "-m", "greenbench", "results", "list", "--limit", "0",
               "--store", str(big_store)]
    startup = [sys.executable, "-m", "greenbench", "--version"]
    bare: list[float] = []
    listed: list[float] = []

    def run_commands() -> None:
        t = time.perf_counter()
        subprocess.run(startup, capture_output=True, check=True, env=env)
        bare.append(time.perf_counter() - t)
        t = time.perf_counter()
        done = subprocess.run(listing, capture_output=True, text=True, check=True, env=env)
        listed.append(time.perf_counter() - t)
        assert done.stdout.count("toy") >= RUNS

    benchmark.pedantic(run_commands, rounds=5, iterations=1)
    assert min(listed) < 1.0, f"results list took {min(listed):.2f} s"
    own = min(listed) - min(bare)
    assert own < 0.3, f"results list cost {own:.2f} s beyond start-up"
