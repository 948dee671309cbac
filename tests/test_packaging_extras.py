"""The plain install (no extras): what needs one names it in one line, the rest works.

Each test runs greenbench in a subprocess whose ``sitecustomize`` hides the extras' modules
from the import system, as if they were not installed (the worker processes inherit it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from greenbench.results_format import dumps_document, to_document
from tests.plot_factories import single_case_run

DATA = Path(__file__).parent / "data"

#: the modules of the extras: carbon, plots, torch, and pandas (only for DataFrame export);
#: and scipy, which only the tests install (the reference for greenbench.distributions)
EXTRAS = ("codecarbon", "matplotlib", "torch", "pandas", "scipy")

BLOCKER = """
import os, sys

class _NotInstalled:
    blocked = set(os.environ["GB_TEST_NOT_INSTALLED"].split(","))

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
"""


@pytest.fixture
def plain(tmp_path: Path):
    """Run ``python -m greenbench ARGS`` (or ``python -c CODE ARGS``) without the extras."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {**os.environ, "GB_TEST_NOT_INSTALLED": ",".join(EXTRAS),
           "PYTHONPATH": os.pathsep.join([str(site), *filter(None, [os.environ.get(
               "PYTHONPATH")])])}

    def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        argv = list(args) if args[0] == "-c" else ["-m", "greenbench", *args]
        return subprocess.run([sys.executable, *argv], cwd=tmp_path, env=env, text=True,
                              capture_output=True, timeout=timeout)

    return run


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_the_extras_are_hidden_in_the_subprocess(plain) -> None:
    done = plain("-c", "import matplotlib")
    assert "No module named 'matplotlib'" in done.stderr


def test_plot_without_matplotlib_names_the_plots_extra(plain) -> None:
    line = one_line_error(plain("plot", "latest", "--kind", "bars"))
    assert line == ("greenbench: error: greenbench plot needs matplotlib: "
                    "pip install 'greenbench[plots]'")


def test_report_figures_without_matplotlib_name_the_extra_and_no_figures_works(
        plain, tmp_path: Path) -> None:
    run_file = tmp_path / "run.json"
    run_file.write_text(dumps_document(to_document(single_case_run())))
    line = one_line_error(plain("report", str(run_file), "-o", "r.html"))
    assert "needs matplotlib: pip install 'greenbench[plots]'" in line
    assert "--no-figures" in line
    assert not (tmp_path / "r.html").exists()

    done = plain("report", str(run_file), "-o", "r.md", "--no-figures")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "r.md").read_text().startswith("# ")


def test_a_region_without_codecarbon_names_the_carbon_extra(plain) -> None:
    line = one_line_error(plain("carbon", "intensity", "--region", "FRA"))
    assert line == ("greenbench: error: a region's carbon intensity needs codecarbon: "
                    "pip install 'greenbench[carbon]'")


def test_the_world_average_without_codecarbon_is_the_builtin_copy_and_says_why(plain) -> None:
    done = plain("-c", "from greenbench.carbon.codecarbon_data import world_average\n"
                       "e = world_average(); print(e.value_g_per_kwh); print(e.note)")
    assert done.returncode == 0, done.stderr
    value, note = done.stdout.splitlines()
    assert float(value) == 475.0
    assert "CodeCarbon is not installed" in note and "carbon extra" in note


def test_a_run_works_without_any_extra(plain) -> None:
    done = plain("run", "spin", "-p", "n=1000", "--workload-file",
                 str(DATA / "basic_workloads.py"), "--repeats", "1", "--warmup", "0",
                 "--idle", "0.05", "--min-duration", "0.05", timeout=120)
    assert done.returncode == 0, done.stderr
    assert "stored run" in done.stdout + done.stderr



def test_the_pytest_plugin_measures_and_saves_without_any_extra(plain, tmp_path: Path) -> None:
    (tmp_path / "test_work.py").write_text(
        "def test_work(energy_benchmark):\n"
        "    energy_benchmark(lambda: sum(range(2000)))\n")
    done = plain("-c", "import sys, pytest; sys.exit(pytest.main(sys.argv[1:]))",
                 "-q", "-p", "no:cacheprovider", "test_work.py", "--greenbench-storage=energy",
                 "--greenbench-rounds=2", "--greenbench-warmup-rounds=0",
                 "--greenbench-min-time=0.01", "--greenbench-save=base", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "greenbench: energy" in done.stdout  # the summary of what was measured
    assert list((tmp_path / "energy").rglob("*_base.json"))


def test_the_gate_and_compare_work_without_any_extra(plain, tmp_path: Path) -> None:
    (tmp_path / "test_work.py").write_text(
        "def test_work(energy_benchmark):\n"
        "    energy_benchmark(lambda: sum(range(2000)))\n")
    session = ("-c", "import sys, pytest; sys.exit(pytest.main(sys.argv[1:]))", "-q",
               "-p", "no:cacheprovider", "test_work.py", "--greenbench-storage=energy",
               "--greenbench-rounds=6", "--greenbench-warmup-rounds=0",
               "--greenbench-min-time=0.01")
    saved = plain(*session, "--greenbench-save=base", timeout=120)
    assert saved.returncode == 0, saved.stdout + saved.stderr
    # the gate's paired test, the Mann-Whitney test and the intervals, all without scipy
    gated = plain(*session, "--greenbench-compare=base", "--greenbench-compare-fail=energy:500%",
                  timeout=120)
    assert gated.returncode == 0, gated.stdout + gated.stderr
    assert "test_work" in gated.stdout
    for _ in range(2):
        assert plain("run", "spin", "-p", "n=1000", "--workload-file",
                     str(DATA / "basic_workloads.py"), "--repeats", "5", "--warmup", "0",
                     "--idle", "0.05", "--min-duration", "0.05", timeout=120).returncode == 0
    compared = plain("compare", "latest~1", "latest")
    assert compared.returncode in (0, 1), compared.stderr
    assert "Traceback" not in compared.stderr
    assert "spin" in compared.stdout
