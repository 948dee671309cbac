"""`greenbench run` and `greenbench workloads` from the user's side: bad input fails in one
line before any work starts; workloads are listed with their parameters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FILE = str(Path(__file__).parent / "data" / "basic_workloads.py")


def gb(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "GREENBENCH_POWERCAP_ROOT": "/nonexistent", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run([sys.executable, "-m", "greenbench", *args], capture_output=True,
                          text=True, timeout=120, env=env, cwd=cwd)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("attentoin",), "unknown workload 'attentoin' (did you mean attention"),
        (("spin", "--workload-file", FILE, "-p", "nn=3"), "no parameter 'nn'"),
        (("spin", "--workload-file", FILE, "-p", "n=ten"), "'ten' is not an integer"),
        (("spin", "--workload-file", FILE, "-p", "n="), "has no values"),
        (("spin", "--workload-file", FILE, "-p", "mode"), "use -p NAME=VALUE"),
        (("--suite", "quik"), "unknown suite 'quik' (did you mean quick"),
        (("--device", "tpu"), "use cpu, cuda or cuda:N"),
        (("--repeats", "0"), "--repeats 0"),
        (("attention", "-p", "mechanism=linformer", "-p", "seq_len=64", "-p", "k=128"),
         "k"),
        (("sparse-matmul", "-p", "density=1.5"), "density"),
        (("transformer", "-p", "precision=fp8"), "not one of"),
        (("spin", "--workload-file", "missing.py"), "does not exist"),
        (("spin", "--workload-file", FILE, "--store", "/proc/nope/s.sqlite"), "/proc/nope"),
    ],
)
def test_bad_input_is_one_line_before_any_work(tmp_path: Path, args: tuple[str, ...],
                                               fragment: str) -> None:
    r = gb("run", *args, cwd=tmp_path)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert fragment in lines[0]
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "results").exists()  # nothing started, nothing stored


def test_workloads_json_lists_builtins_with_parameters_and_suites() -> None:
    r = gb("workloads", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    names = {w["name"]: w for w in doc["workloads"]}
    assert {"attention", "transformer", "sparse-matmul", "generate", "multilingual"} <= set(names)
    mech = next(p for p in names["attention"]["params"] if p["name"] == "mechanism")
    assert mech["variant"] is True and "linformer" in mech["choices"]
    suites = {s["name"] for s in doc["suites"]}
    assert {"quick", "attention-scaling", "efficiency", "applications"} <= suites


def test_a_failing_case_gives_exit_1_and_keeps_the_others(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    r = gb("run", "spin", "crash", "--workload-file", FILE, "--repeats", "2",
           "--min-duration", "0.05", "--warmup", "0.05", "--idle", "0", "-o", str(out),
           cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert "boom in setup" in r.stderr and "Traceback" not in r.stderr
    doc = json.loads(out.read_text())
    statuses = [c["status"] for c in doc["run"]["cases"]]
    assert statuses == ["ok", "failed"]
