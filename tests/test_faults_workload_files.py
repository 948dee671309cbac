"""A workload file is code greenbench runs: one that exits at import gives a one-line error,
and the help says such files (and plug-ins) run code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from greenbench.errors import UserError
from greenbench.workload import load_file


@pytest.mark.parametrize("body", ["import sys\nsys.exit(3)\n", "raise SystemExit('bye')\n",
                                  "exit(0)\n"])
def test_a_workload_file_that_exits_at_import_is_a_one_line_error(
    tmp_path: Path, body: str,
) -> None:
    path = tmp_path / "quits.py"
    path.write_text(body)
    with pytest.raises(UserError, match=r"called sys\.exit\(.*\) while being imported"):
        load_file(path)


def test_greenbench_says_so_instead_of_exiting_silently(tmp_path: Path) -> None:
    path = tmp_path / "quits.py"
    path.write_text("import sys\nsys.exit(0)\n")
    env = {**os.environ, "GREENBENCH_POWERCAP_ROOT": "/nonexistent"}
    done = subprocess.run([sys.executable, "-m", "greenbench", "workloads", "--workload-file",
                           str(path)], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "quits.py called sys.exit(0)" in lines[0]


@pytest.mark.parametrize("command", ["run", "workloads"])
def test_the_help_says_workload_files_run_code(command: str) -> None:
    done = subprocess.run([sys.executable, "-m", "greenbench", command, "--help"],
                          capture_output=True, text=True, timeout=60)
    assert "code greenbench runs" in " ".join(done.stdout.split())
