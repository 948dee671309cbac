"""CPU and RAM estimates: TDP lookup in CodeCarbon's real table, overrides, the power models,
the CPU load from psutil's counters, and that importing never pulls in CodeCarbon."""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import subprocess
import sys
import threading
import time
from collections import namedtuple
from pathlib import Path

import psutil
import pytest

from greenbench.errors import UserError
from greenbench.sensors import cpu_tdp, cpu_time, estimate
from greenbench.sensors.base import SensorKind
from greenbench.sensors.cpu_tdp import TdpMatch, TdpTable, lookup_tdp, normalise_cpu_name
from greenbench.sensors.estimate import (
    CpuEstimateSensor,
    CpuTdp,
    RamEstimateSensor,
    cpu_power_w,
    resolve_cpu_tdp,
)

# psutil's Linux field order; the sensor must not depend on which fields a platform has
CpuTimes = namedtuple("CpuTimes", "user nice system idle iowait irq softirq steal guest guest_nice")


def times(user=0.0, idle=0.0, *, system=0.0, iowait=0.0, steal=0.0, guest=0.0) -> CpuTimes:
    return CpuTimes(user, 0.0, system, idle, iowait, 0.0, 0.0, steal, guest, 0.0)


@pytest.fixture(scope="module")
def table() -> TdpTable:
    t = cpu_tdp.load_cpu_power_table()
    if t is None:
        pytest.skip("codecarbon is not installed: no TDP table")
    return t


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv(estimate.CPU_TDP_ENV, raising=False)


# --- CodeCarbon's table -------------------------------------------------------------------


def test_table_holds_the_rows_these_tests_rely_on(table):
    rows = dict(table.entries)
    assert rows["Intel Xeon Gold 6248"] == 150.0
    assert rows["Intel Xeon Gold 6248R"] == 205.0
    assert rows["AMD EPYC 7763"] == 280.0
    assert rows["AMD Ryzen 9 5950X"] == 105.0
    assert rows["AMD Ryzen 7 5800H"] == 45.0
    assert rows["AMD Ryzen 7 7840U"] == 28.0
    assert rows["Intel Xeon E5-2680"] == 130.0
    assert rows["Intel Xeon E5-2680 v3"] == 120.0
    assert rows["Apple M1"] == 10.0
    assert not [name for name in rows if "7B13" in name]  # GCP's EPYC: absent on purpose
    assert len(table) > 4000


def test_table_is_read_once_and_cached(table):
    assert cpu_tdp.load_cpu_power_table() is table


def test_table_reader_skips_rows_without_a_positive_tdp(tmp_path):
    csv_path = tmp_path / "cpu_power.csv"
    csv_path.write_text(
        "Name,TDP\nIntel Celeron 1000A,27.29.5\nQuark D1000,0.0\nAMD EPYC 7763,280.0\n"
    )
    t = cpu_tdp.read_cpu_power_csv(csv_path)
    assert t.entries == (cpu_tdp.TdpEntry("AMD EPYC 7763", 280.0),)
    assert t.skipped_rows == 2


# --- matching model strings as /proc/cpuinfo prints them ----------------------------------


@pytest.mark.parametrize(
    ("model", "name", "tdp_w"),
    [
        # macOS's brand string is the table's name verbatim
        ("Apple M1", "Apple M1", 10.0),
        ("AMD EPYC 7763", "AMD EPYC 7763", 280.0),
    ],
)
def test_exact_match(table, model, name, tdp_w):
    assert lookup_tdp(model, table) == TdpMatch(name, tdp_w, "exact")


@pytest.mark.parametrize(
    ("model", "name", "tdp_w"),
    [
        ("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", "Intel Xeon Gold 6248", 150.0),
        ("AMD EPYC 7763 64-Core Processor", "AMD EPYC 7763", 280.0),
        ("AMD Ryzen 9 5950X 16-Core Processor", "AMD Ryzen 9 5950X", 105.0),
        # Sandy Bridge prints version 1 as a lone "0"
        ("Intel(R) Xeon(R) CPU E5-2680 0 @ 2.70GHz", "Intel Xeon E5-2680", 130.0),
        ("12th Gen Intel(R) Core(TM) i7-12700H", "Intel Core i7-12700H", 45.0),
        ("AMD Ryzen Threadripper PRO 5975WX 32-Cores", "AMD Ryzen Threadripper PRO 5975WX", 280),
    ],
)
def test_normalised_match(table, model, name, tdp_w):
    assert lookup_tdp(model, table) == TdpMatch(name, tdp_w, "normalised")


@pytest.mark.parametrize(
    ("model", "name", "tdp_w"),
    [
        ("AMD Ryzen 7 5800H with Radeon Graphics", "AMD Ryzen 7 5800H", 45.0),
        ("AMD Ryzen 7 7840U w/ Radeon 780M Graphics", "AMD Ryzen 7 7840U", 28.0),
    ],
)
def test_fuzzy_match_ignores_the_integrated_graphics_tail(table, model, name, tdp_w):
    assert lookup_tdp(model, table) == TdpMatch(name, tdp_w, "fuzzy")


@pytest.mark.parametrize(
    "model",
    [
        "AMD EPYC",  # this VM: no model number, so no row is more than a guess
        "Intel(R) Xeon(R) CPU @ 2.20GHz",  # GCP's Intel VMs
        "AMD EPYC 7B13",  # a model number the table lacks
        "",
    ],
)
def test_no_match_without_a_known_model_number(table, model):
    assert lookup_tdp(model, table) is None


def test_model_numbers_must_match_exactly(table):
    gold_r = lookup_tdp("Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz", table)
    assert gold_r == TdpMatch("Intel Xeon Gold 6248R", 205.0, "normalised")
    v3 = lookup_tdp("Intel(R) Xeon(R) CPU E5-2680 v3 @ 2.50GHz", table)
    assert v3 == TdpMatch("Intel Xeon E5-2680 v3", 120.0, "normalised")


def test_fuzzy_match_allows_missing_brand_words_only():
    t = TdpTable.from_rows([("6272", 115.0), ("AMD Opteron 250", 85.0)])
    assert lookup_tdp("AMD Opteron(tm) Processor 6272", t) == TdpMatch("6272", 115.0, "fuzzy")
    # "HE" marks a low-power variant (55 W): the plain row's 85 W would be wrong
    assert lookup_tdp("AMD Opteron(tm) Processor 250 HE", t) is None
    assert lookup_tdp("Intel Pentium 6272", TdpTable.from_rows([("Intel Xeon 6272", 1)])) is None


def test_rows_that_disagree_give_no_match():
    t = TdpTable.from_rows([("AMD Phenom II X4 945 (125W)", 125.0), ("AMD Phenom II X4 945", 95)])
    assert lookup_tdp("AMD Phenom(tm) II X4 945 Processor", t) is None
    t = TdpTable.from_rows([("AMD Opteron 250", 85.0), ("250", 55.0)])
    assert lookup_tdp("Opteron 250", t) is None


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz", "intel xeon e5-2686 v4"),
        ("AMD EPYC 7763 64-Core Processor", "amd epyc 7763"),
        ("Intel(R) Core(TM)2 Duo CPU     E8400  @ 3.00GHz", "intel core 2 duo e8400"),
        ("AMD Ryzen 5 6600HS\u200b", "amd ryzen 5 6600hs"),
        ("Intel Atom\xa0E625CT", "intel atom e625ct"),
    ],
)
def test_normalise_cpu_name(raw, normalised):
    assert normalise_cpu_name(raw) == normalised


def test_lookup_without_codecarbon_is_no_match(monkeypatch):
    monkeypatch.setattr(cpu_tdp, "load_cpu_power_table", lambda: None)
    assert lookup_tdp("AMD EPYC 7763 64-Core Processor") is None


# --- what the machine reports -------------------------------------------------------------

CPUINFO_2_SOCKETS = """\
processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz
physical id\t: 0
flags\t\t: fpu vme sse2 avx2

processor\t: 1
model name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz
physical id\t: 1
flags\t\t: fpu vme sse2 avx2
"""


def test_cpuinfo_gives_model_sockets_and_no_hypervisor(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO_2_SOCKETS)
    assert cpu_tdp.cpu_model_name(path) == "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"
    assert cpu_tdp.cpu_socket_count(path) == 2
    assert cpu_tdp.running_under_hypervisor(path) is False


def test_cpuinfo_without_model_name_falls_back_to_platform(tmp_path, monkeypatch):
    path = tmp_path / "cpuinfo"
    path.write_text("processor\t: 0\nflags\t\t: fpu hypervisor\n")
    monkeypatch.setattr(cpu_tdp.platform, "processor", lambda: "x86_64")
    assert cpu_tdp.cpu_model_name(path) == "x86_64"
    assert cpu_tdp.cpu_model_name(tmp_path / "absent") == "x86_64"
    assert cpu_tdp.cpu_socket_count(path) == 1
    assert cpu_tdp.running_under_hypervisor(path) is True


# --- which TDP wins -----------------------------------------------------------------------

GOLD_6248 = "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"


def resolve(cpu_tdp_w=None, environ=None, model=GOLD_6248, hypervisor=False) -> CpuTdp:
    return resolve_cpu_tdp(
        cpu_tdp_w,
        environ=environ or {},
        model_name=model,
        logical_cpus=8,
        sockets=2,
        hypervisor=hypervisor,
    )


def test_argument_beats_env_beats_table_beats_fallback(table):
    by_arg = resolve(100.0, {estimate.CPU_TDP_ENV: "200"})
    assert (by_arg.tdp_w, by_arg.source) == (100.0, "--cpu-tdp")
    by_env = resolve(None, {estimate.CPU_TDP_ENV: "200"})
    assert (by_env.tdp_w, by_env.source) == (200.0, "env")
    by_table = resolve()
    assert (by_table.tdp_w, by_table.source) == (300.0, "table")  # 150 W x 2 sockets
    fallback = resolve(model="AMD EPYC")
    assert (fallback.tdp_w, fallback.source) == (32.0, "fallback")  # 4 W x 8 threads
    # the table's answer is kept for the record even when an override wins
    assert by_arg.match == TdpMatch("Intel Xeon Gold 6248", 150.0, "normalised")


def test_table_tdp_counts_one_chip_under_a_hypervisor(table):
    vm = resolve(hypervisor=True)
    assert vm.tdp_w == 150.0
    assert "whole chip" in vm.summary()


def test_argument_wins_over_an_invalid_env(table):
    assert resolve(100.0, {estimate.CPU_TDP_ENV: "lots"}).tdp_w == 100.0


@pytest.mark.parametrize("bad", [0.0, -5.0, 2000.5, 1e6, math.nan])
def test_invalid_cpu_tdp_is_a_user_error(bad, no_env):
    with pytest.raises(UserError, match="--cpu-tdp") as err:
        estimate.probe(cpu_tdp_w=bad)
    assert "\n" not in str(err.value)
    with pytest.raises(UserError):  # also when RAPL makes the CPU estimate unnecessary
        estimate.probe(cpu_tdp_w=bad, need_cpu=False)


@pytest.mark.parametrize("bad", ["lots", "-3", "0"])
def test_invalid_env_tdp_is_a_user_error(bad, monkeypatch):
    monkeypatch.setenv(estimate.CPU_TDP_ENV, bad)
    with pytest.raises(UserError, match=f"{estimate.CPU_TDP_ENV}={bad}"):
        estimate.probe()


def test_largest_accepted_tdp(table):
    assert resolve(2000.0).tdp_w == 2000.0


# --- the CPU power model ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("load", "watts"),
    [
        (0.0, 20.0),  # 200 x 0.1
        (1.0, 200.0),  # 200 x (0.1 + 0.9)
        (0.5, 42.5),  # 200 x (0.1 + 0.9 x 0.125)
    ],
)
def test_cpu_power_w(load, watts):
    assert cpu_power_w(200.0, load) == pytest.approx(watts)


@pytest.mark.parametrize("load", [-0.01, 1.01])
def test_cpu_power_w_rejects_load_outside_0_1(load):
    with pytest.raises(ValueError):
        cpu_power_w(100.0, load)


# --- the CPU sensor's load ----------------------------------------------------------------


def fixed_tdp(tdp_w: float = 100.0, logical_cpus: int = 2) -> CpuTdp:
    return CpuTdp(
        model_name="Test CPU",
        tdp_w=tdp_w,
        source="--cpu-tdp",
        match=None,
        logical_cpus=logical_cpus,
        sockets=1,
        hypervisor=False,
        table="test table",
    )


def test_machine_load_counts_busy_time_only(monkeypatch):
    # 2 CPUs, 1 s between samples: 2 CPU-seconds each time
    samples = iter([
        times(0, 0),
        times(1, 1),  # one CPU busy: load 0.5
        times(1, 3),  # idle: load 0
        times(3, 3),  # both busy: load 1
        times(4, 3, iowait=1),  # iowait is waiting, not work: load 0.5
        times(5, 4, iowait=1, guest=1),  # guest time is already inside user time: 0.5
    ])
    monkeypatch.setattr(cpu_time.psutil, "cpu_times", lambda: next(samples))
    s = CpuEstimateSensor(fixed_tdp(), "machine")
    states = [s.read_state(True) for _ in range(6)]
    watts = [s.energy_j(a, b, 1.0) for a, b in zip(states, states[1:], strict=False)]
    assert watts == pytest.approx([21.25, 10.0, 100.0, 21.25, 21.25])
    assert s.source == "estimate:cpu-tdp:machine"


def test_a_window_is_charged_once_from_its_edges_not_per_sample():
    # a window of 1 s at a steady 50% is 21.25 J by the machine's curve read at its edges;
    # as the sum of a busy and an idle half the cube would make it 55 J, a sampling artefact
    # the edge rule avoids
    s = CpuEstimateSensor(fixed_tdp(), "machine", reader=lambda edge: cpu_time.CpuTimes(0, 0))
    a, mid, b = cpu_time.CpuTimes(0, 0), cpu_time.CpuTimes(1, 1), cpu_time.CpuTimes(1, 2)
    assert s.energy_j(a, b, 1.0) == pytest.approx(cpu_power_w(100.0, 0.5))
    assert s.energy_j(a, mid, 0.5) + s.energy_j(mid, b, 0.5) == pytest.approx(55.0)
    share = CpuEstimateSensor(fixed_tdp(), "process", reader=lambda edge: cpu_time.CpuTimes(0, 0))
    # the process share is linear: 1 busy CPU-second of 2 CPUs at 100 W TDP is 50 J
    assert share.energy_j(a, b, 1.0) == pytest.approx(50.0)
    assert share.energy_j(a, mid, 0.5) + share.energy_j(mid, b, 0.5) == pytest.approx(50.0)


BUSY = "import time\nt = time.time()\nwhile time.time() - t < {s}: pass\n"


def test_the_process_tree_is_charged_for_its_child_not_for_a_neighbour():
    # the neighbour is detached (re-parented to init), as another user's process would be
    spawn = subprocess.run(["sh", "-c", f'"{sys.executable}" -c "$0" >/dev/null 2>&1 & echo $!',
                            BUSY.format(s=30)], capture_output=True, text=True, check=True)
    neighbour = psutil.Process(int(spawn.stdout))
    try:
        reader = cpu_time.ProcessTreeReader(logical_cpus=2)
        start = reader(True)
        # the child burns 0.4 s of its own CPU time, however loaded the machine is
        child = subprocess.Popen([sys.executable, "-c",
                                  "import time\nwhile time.process_time() < 0.4: pass\n"])
        child.wait()  # its time moves into ours once waited for
        idle_start = reader(True)
        time.sleep(0.4)  # we sleep while the neighbour spins on
        end = reader(True)
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):
            neighbour.kill()
    assert end.busy_s - idle_start.busy_s < 0.1  # the neighbour is not ours
    # the child's time is ours, less a tick (/proc counts in 10 ms ticks) and less the
    # reader's own time, which is left out exactly while /proc may not show it yet
    assert idle_start.busy_s - start.busy_s >= 0.39 - reader.own_s


def test_the_process_tree_is_not_charged_for_greenbench_reading_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Listing the tree costs CPU at every edge; those seconds are the meter's, not the
    measured code's. Here each read burns 50 ms of CPU and the code does nothing."""
    reader = cpu_time.ProcessTreeReader(logical_cpus=2)
    honest = reader._busy

    def costly(edge: bool) -> float:
        t = time.thread_time()
        while time.thread_time() - t < 0.05:
            pass
        return honest(edge)

    monkeypatch.setattr(reader, "_busy", costly)
    start = reader(True)
    for _ in range(6):
        reader(True)
    end = reader(True)
    assert reader.own_s >= 0.35  # 8 reads of 50 ms: what reading cost ...
    assert end.busy_s - start.busy_s < 0.03  # ... and none of it charged


@contextlib.contextmanager
def _tree_of_two(tmp_path):  # noqa: ANN202
    """A child that starts a grandchild, both sleeping: (child, grandchild's pid)."""
    pid_file = tmp_path / "grandchild"
    child = subprocess.Popen(["sh", "-c", f'sleep 30 & echo $! > "{pid_file}"; wait'])
    try:
        for _ in range(500):
            if pid_file.exists() and pid_file.read_text().strip():
                break
            time.sleep(0.01)
        else:
            raise AssertionError("the grandchild did not start")
        grandchild = int(pid_file.read_text())
        try:
            yield child, grandchild
        finally:
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(grandchild).kill()
    finally:
        child.kill()
        child.wait()


def test_the_tree_is_listed_from_the_kernels_children_files_as_psutil_lists_it(tmp_path):
    with _tree_of_two(tmp_path) as (child, grandchild):
        listed = set(cpu_time.tree_pids(os.getpid()))
        assert {child.pid, grandchild} <= listed
        assert listed == {p.pid for p in psutil.Process().children(recursive=True)}


def test_the_tree_reader_never_scans_every_process_where_the_kernel_lists_children(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """psutil's children() reads every process on the machine, inside each window edge."""
    if not cpu_time._KERNEL_LISTS_CHILDREN:
        pytest.skip("this kernel has no /proc/PID/task/TID/children")
    def scan(*args, **kwargs):
        raise AssertionError("psutil scanned every process")

    with _tree_of_two(tmp_path) as (child, grandchild):
        monkeypatch.setattr(psutil.Process, "children", scan)
        reader = cpu_time.ProcessTreeReader(logical_cpus=2)
        reader(True)
        assert {child.pid, grandchild} <= set(reader._members)
        first = reader._members[grandchild]
        reader(True)
        assert reader._members[grandchild] is first  # kept, not made again


def test_without_the_kernels_children_files_the_tree_is_psutils(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu_time, "_KERNEL_LISTS_CHILDREN", False)
    monkeypatch.setattr(cpu_time, "tree_pids", lambda root: pytest.fail("read /proc children"))
    with _tree_of_two(tmp_path) as (child, grandchild):
        reader = cpu_time.ProcessTreeReader(logical_cpus=2)
        reader(True)
        assert {child.pid, grandchild} <= set(reader._members)


def test_a_reader_whose_root_is_gone_says_so():
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    with pytest.raises(psutil.NoSuchProcess):
        cpu_time.tree_pids(done.pid)


def test_a_thread_reader_charges_its_thread_only():
    reader = cpu_time.ThreadReader(threading.get_native_id(), logical_cpus=2)
    start = reader(True)
    spin = threading.Thread(target=lambda: sum(i * i for i in range(3_000_000)))
    spin.start()
    spin.join()
    t = time.thread_time()
    while time.thread_time() - t < 0.2:
        pass
    end = reader(True)
    assert 0.15 <= end.busy_s - start.busy_s <= 0.35


def test_cpu_sensor_on_this_machine(no_env):
    (p,) = estimate.probe(cpu_tdp_w=50.0, need_ram=False)
    assert p.sensor is not None and p.kind is SensorKind.ESTIMATE
    assert p.domain == "cpu-package:0" and p.source == "estimate:cpu-tdp:process"
    assert p.sensor.info()["scope"] == "process"
    a = p.sensor.read_state(True)
    time.sleep(0.05)
    b = p.sensor.read_state(True)
    assert 0.0 <= p.sensor.energy_j(a, b, 0.05) <= 50.0 * 0.05


# --- the RAM sensor -----------------------------------------------------------------------


def test_ram_sensor_is_0_375_w_per_gib():
    s = RamEstimateSensor(16 * 2**30)
    assert s.read_value() == pytest.approx(6.0)
    assert s.info()["memory_gib"] == 16.0
    assert s.info()["w_per_gib"] == 0.375
    assert (s.domain, s.kind, s.source) == ("dram:0", SensorKind.ESTIMATE, "estimate:ram-size")


def test_ram_sensor_reads_the_memory_size(monkeypatch):
    Mem = namedtuple("Mem", "total available")
    monkeypatch.setattr(estimate.psutil, "virtual_memory", lambda: Mem(8 * 2**30, 0))
    assert RamEstimateSensor().read_value() == pytest.approx(3.0)


# --- probe --------------------------------------------------------------------------------


def test_probe_on_an_unknown_cpu_says_how_to_override(monkeypatch, no_env, table):
    monkeypatch.setattr(cpu_tdp, "cpu_model_name", lambda: "AMD EPYC")
    monkeypatch.setattr(estimate.psutil, "cpu_count", lambda logical=True: 2)
    cpu, ram = estimate.probe()
    assert cpu.details["summary"] == (
        "CPU: AMD EPYC, not in CodeCarbon's table: 4 W/thread x 2 threads = 8 W TDP "
        "(override with --cpu-tdp WATTS or GREENBENCH_CPU_TDP=WATTS); charging the CPU "
        "time of the measured process tree (user + system, children included)"
    )
    assert "--cpu-tdp WATTS" in cpu.remedy
    assert cpu.sensor is not None
    info = cpu.sensor.info()
    assert info["tdp_w"] == 8.0 and info["tdp_source"] == "fallback"
    assert info["match"] == "none" and info["logical_cpus"] == 2
    assert "CPU-seconds of the measured process tree" in info["formula"]
    assert ram.domain == "dram:0" and "W/GiB" in ram.details["summary"]


def test_probe_without_codecarbon_says_so(monkeypatch, no_env):
    monkeypatch.setattr(cpu_tdp, "load_cpu_power_table", lambda: None)
    monkeypatch.setattr(cpu_tdp, "cpu_model_name", lambda: "AMD EPYC 7763 64-Core Processor")
    (cpu,) = estimate.probe(need_ram=False)
    assert "CodeCarbon's TDP table not installed (greenbench's carbon extra)" in (
        cpu.details["summary"])
    assert cpu.sensor is not None
    assert cpu.sensor.info()["table"].endswith("pip install 'greenbench[carbon]'")
    assert cpu.sensor is not None and cpu.sensor.info()["tdp_source"] == "fallback"


def test_probe_gives_only_what_is_asked(no_env):
    assert [p.domain for p in estimate.probe(need_cpu=False)] == ["dram:0"]
    assert [p.domain for p in estimate.probe(need_ram=False)] == ["cpu-package:0"]
    assert estimate.probe(need_cpu=False, need_ram=False) == []


def test_probe_names_the_matched_table_row(monkeypatch, no_env, table):
    monkeypatch.setattr(cpu_tdp, "cpu_model_name", lambda: GOLD_6248)
    monkeypatch.setattr(cpu_tdp, "running_under_hypervisor", lambda: False)
    monkeypatch.setattr(cpu_tdp, "cpu_socket_count", lambda: 1)
    (cpu,) = estimate.probe(need_ram=False)
    assert (
        "'Intel Xeon Gold 6248' in CodeCarbon's table (normalised match)"
        in (cpu.details["summary"])
    )
    assert cpu.sensor is not None
    info = cpu.sensor.info()
    assert (info["table_entry"], info["tdp_w"], info["tdp_source"]) == (
        "Intel Xeon Gold 6248",
        150.0,
        "table",
    )
    assert cpu.remedy == ""


# --- import cost --------------------------------------------------------------------------


@pytest.mark.skipif(importlib.util.find_spec("codecarbon") is None, reason="needs codecarbon")
def test_importing_and_probing_never_imports_codecarbon():
    code = (
        "import sys\n"
        "import greenbench.sensors.estimate as e, greenbench.sensors.cpu_tdp as c\n"
        "assert 'codecarbon' not in sys.modules, 'imported by import'\n"
        "assert c.load_cpu_power_table() is not None\n"
        "e.probe()\n"
        "assert 'codecarbon' not in sys.modules, 'imported by probe'\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
