"""scripts/gpu_check.sh, the prepared check for a machine with an NVIDIA GPU: it parses, and
its closing summary reads what the runs before it store (runs built here, as the check's
steps would store them: no GPU on this machine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from greenbench.measurement import DomainEnergy
from greenbench.store import Store
from tests.factories import make_run

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "gpu_check.sh"


def test_the_check_parses():
    assert subprocess.run(["bash", "-n", str(SCRIPT)], check=False).returncode == 0


def stored_check(out: Path) -> None:
    """What steps 1-6 leave in ``out``: sensors, a measure document, four labelled runs."""
    (out / "sensors.json").write_text(json.dumps({"summary": "measuring gpu:0 (nvml)",
                                                  "sensors": []}))
    (out / "measure.json").write_text(json.dumps({"duration_s": 15.0, "domains": [
        {"name": "gpu:0", "energy_j": 9000.0, "cross_check_energy_j": 9090.0}]}))
    (out / "limit_before.txt").write_text("700000\n")
    (out / "limit_after.txt").write_text("700000\n")
    with Store(out / "gpu.sqlite") as store:
        for label, limits in (("counter", [None]), ("polled", [None]), ("shared", [None]),
                              ("limits", [420.0, 700.0])):
            run = make_run(len(limits), label=label)
            for case, limit in zip(run.cases, limits, strict=True):
                case.params = {"mechanism": "sdpa"}
                if limit is not None:
                    case.params["power_limit_w"] = limit
                for i, repeat in enumerate(case.repeats):
                    repeat.measurement.domains.append(DomainEnergy(
                        "gpu:0", 300.0 + i, "counter", "nvml", 300.0, 310.0, 10,
                        cross_check_energy_j=300.0))
            if label == "shared":
                run.cases[0].flags.append("gpu:0 shared with other processes in 3 of 3 "
                                          "repeats: pid 4242 (python3)")
            store.begin_run(run)


def test_the_summary_reads_the_stored_runs(tmp_path):
    stored_check(tmp_path)
    script = SCRIPT.read_text()
    summary = script[script.index('log "summary"'):].split("\n", 1)[1]
    env = {**os.environ, "PYTHONPATH": str(REPO), "PATH": os.path.dirname(sys.executable)
           + os.pathsep + os.environ.get("PATH", "")}

    done = subprocess.run(["bash", "-c", f"out={tmp_path}\n{summary}"], capture_output=True,
                          text=True, env=env, timeout=120, check=False)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "sensors: measuring gpu:0 (nvml)" in lines
    assert "measure: gpu:0 counter/polled 0.9901 over 15.0 s" in lines
    assert any(line.startswith("counter: toy[mechanism=sdpa]: counter/polled per repeat "
                               "1.0000-1.0133 (5 repeats)") for line in lines)
    assert any(line.endswith("gpu:0 shared with other processes in 3 of 3 repeats: pid 4242 "
                             "(python3)") for line in lines)
    assert "sdpa energy/unit, polled power over counter: 1.0000" in lines
    assert "power limit before 700 W, after 700 W: put back" in lines
    assert "limit 420.0 W: energy/unit 0.02 J, step 100.00 ms" in lines
    assert "low limit vs default: energy x1.000, time x1.000" in lines
