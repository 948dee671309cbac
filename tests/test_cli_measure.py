"""`greenbench measure` and `greenbench sensors` end to end, on this machine's estimate path."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

GB = [sys.executable, "-m", "greenbench"]
NO_SENSORS = {"GREENBENCH_POWERCAP_ROOT": "/nonexistent-powercap", "CUDA_VISIBLE_DEVICES": ""}


def gb(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*GB, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **NO_SENSORS, **(env or {})}, **kw)


def test_measure_on_estimates_writes_every_figure_with_its_method(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    r = gb("measure", "--idle", "0.3", "--cpu-tdp", "100", "-o", str(out), "--",
           sys.executable, "-c", "import time; t=time.time()\nwhile time.time()-t<0.6: pass")
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["exit_code"] == 0
    assert doc["estimate"] is True and doc["method"] == "estimate"
    assert doc["duration_s"] == pytest.approx(0.6, abs=0.4)
    names = {d["name"]: d for d in doc["domains"]}
    assert set(names) == {"cpu-package:0", "dram:0"}
    for d in doc["domains"]:
        assert d["method"] == "estimate" and d["energy_j"] > 0 and d["mean_power_w"] > 0
    # with a 100 W TDP and the command spinning, the CPU estimate is well above nothing: 50 W
    # a core, so even a spinner that a busy machine gives a tenth of a core reads 5 W, where
    # a sleeping command reads hundredths of a watt
    assert names["cpu-package:0"]["mean_power_w"] > 2.0
    # the constant RAM model is beside the total, on its own line, not inside it
    assert doc["energy_j"] == pytest.approx(names["cpu-package:0"]["energy_j"])
    assert names["dram:0"]["constant"] and names["dram:0"]["not_counted"]
    assert doc["constant_j"] == pytest.approx(names["dram:0"]["energy_j"])
    assert "dram:0 (beside)" in r.stdout and "beside the total: dram:0" in r.stdout
    assert "net_energy_j" in doc and "idle" in doc
    assert "no energy sensor on this machine" in r.stderr
    assert "ESTIMATE" in r.stderr and "--cpu-tdp" in r.stderr or "100" in r.stderr


def test_a_sleeping_command_beside_a_busy_neighbour_is_charged_idle(tmp_path: Path) -> None:
    # the neighbour is detached from greenbench's tree, as another user's job would be
    spin = "import time\nt = time.time()\nwhile time.time() - t < 20: pass\n"
    spawned = subprocess.run(["sh", "-c", f'"{sys.executable}" -c "$0" >/dev/null 2>&1 & echo $!',
                              spin], capture_output=True, text=True, check=True)
    try:
        out = tmp_path / "m.json"
        r = gb("measure", "--cpu-tdp", "100", "-o", str(out), "--", "sleep", "1")
        machine = gb("measure", "--cpu-tdp", "100", "--scope", "machine", "-o",
                     str(tmp_path / "machine.json"), "--", "sleep", "1")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(spawned.stdout), signal.SIGKILL)
    assert r.returncode == 0 and machine.returncode == 0, r.stderr + machine.stderr
    ours = json.loads(out.read_text())["mean_power_w"]
    theirs = json.loads((tmp_path / "machine.json").read_text())["mean_power_w"]
    assert ours < 1.5  # sleep uses no CPU time: next to nothing is charged
    assert theirs > 18.0  # machine-wide: one of two CPUs busy is 21 W, the neighbour's


def test_exit_code_of_the_command_is_passed_through(tmp_path: Path) -> None:
    r = gb("measure", "--", sys.executable, "-c", "raise SystemExit(3)")
    assert r.returncode == 3


def test_unknown_command_is_127_in_one_line() -> None:
    r = gb("measure", "--", "no-such-program-xyz")
    assert r.returncode == 127
    assert r.stderr.strip().splitlines() == [
        "greenbench: error: command not found: no-such-program-xyz (is it on PATH?)"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((), "Missing argument 'COMMAND...'"),
        (("--bogus", "--", "true"), "No such option '--bogus'"),
        (("--interval", "0", "--", "true"), "--interval 0.0"),
        (("--cpu-tdp", "-5", "--", "true"), "TDP"),
        (("-o", "/nonexistent/dir/x.json", "--", "true"), "does not exist"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(args: tuple[str, ...], fragment: str) -> None:
    r = gb("measure", *args)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert fragment in lines[0]
    assert "Traceback" not in r.stderr


def test_ctrl_c_stops_the_child_and_keeps_the_partial_measurement(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    proc = subprocess.Popen(
        [*GB, "measure", "-o", str(out), "--", sys.executable, "-c",
         "import signal, time; signal.signal(signal.SIGINT, signal.SIG_DFL); time.sleep(60)"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **NO_SENSORS}, start_new_session=True,
    )
    time.sleep(2.0)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal does: the whole foreground group
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    doc = json.loads(out.read_text())
    assert doc["interrupted"] is True
    assert 1.0 < doc["duration_s"] < 30
    assert doc["energy_j"] > 0


def test_sensors_json_lists_unavailable_sensors_with_reasons() -> None:
    r = gb("sensors", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    by_source = {s["source"]: s for s in doc["sensors"]}
    assert by_source["rapl"]["available"] is False
    assert "powercap" in by_source["rapl"]["reason"]
    assert by_source["rapl"]["remedy"]
    assert by_source["nvml"]["available"] is False and by_source["nvml"]["reason"]
    est = [s for s in doc["sensors"] if s["kind"] == "estimate"]
    assert {s["domain"] for s in est} == {"cpu-package:0", "dram:0"}
    assert all(s["available"] for s in est)
    assert doc["summary"].startswith("no energy sensor on this machine")


def test_sensors_uses_a_fake_powercap_tree_instead_of_estimating(tmp_path: Path) -> None:
    from tests.powercap_fixtures import intel_package, make_powercap_tree

    tree = make_powercap_tree(tmp_path, packages=[intel_package(0, subzones=("core", "dram"))])
    r = gb("sensors", "--json", env={"GREENBENCH_POWERCAP_ROOT": str(tree.root)})
    doc = json.loads(r.stdout)
    available = {s["domain"]: s for s in doc["sensors"] if s["available"]}
    assert available["cpu-package:0"]["source"] == "rapl"
    assert available["dram:0"]["source"] == "rapl"
    assert not any(s["kind"] == "estimate" for s in available.values())


def test_help_does_not_import_heavy_modules() -> None:
    code = ("import sys; from greenbench.cli import main\n"
            "try: main(['--help'])\nexcept SystemExit: pass\n"
            "heavy = [m for m in ('torch','matplotlib','scipy','codecarbon','pandas','rich') "
            "if m in sys.modules]\nprint(heavy)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip().splitlines()[-1] == "[]"


def test_measure_with_a_constant_intensity_and_pue_records_the_footprint(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    r = gb("measure", "--intensity", "200", "--pue", "1.5", "-o", str(out), "--",
           sys.executable, "-c", "pass")
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    fp = doc["footprint"]
    assert fp["pue"] == 1.5
    assert fp["intensity"]["value_g_per_kwh"] == 200
    assert fp["operational_g"] == pytest.approx(doc["energy_j"] / 3.6e6 * 200 * 1.5)
    assert "emissions" in r.stdout


def test_carbon_mistakes_are_caught_before_measuring() -> None:
    for args, fragment in ((("--pue", "0.9"), "a PUE is at least 1.0"),
                           (("--intensity", "-3"), "--intensity"),
                           (("--region", "Frnace"), "did you mean FRA")):
        r = gb("measure", *args, "--", sys.executable, "-c", "pass")
        assert r.returncode == 2
        assert fragment in r.stderr and "greenbench measure:" not in r.stdout + r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
