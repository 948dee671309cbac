"""`greenbench optimize`: a sweep on stand-in GPUs whose power and speed answer the limit
finds the known optimum of each objective; bad input is one line."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest

from greenbench.gpu import restore_records
from greenbench.optimize import Point, default_limits, describe, points, recommend
from greenbench.records import CaseRecord, RunRecord
from greenbench.stats import summarize
from greenbench.store import Store
from tests import shared_gpus
from tests.cli_runner import run_cli
from tests.fake_amdsmi import install as install_amd
from tests.fake_pynvml import FakeGpu
from tests.fake_pynvml import install as install_nvml

#: the stand-in's model: the GPU draws min(limit, demand); a step takes
#: T0[batch] * (demand / drawn) ** 0.5, so a lower limit is slower but costs less energy
DEMAND_W = 300.0
T0_S = {1: 0.04, 4: 0.1}  # long enough that a busy machine's late wake-ups do not reorder them

MODEL = f'''
import os, time
from pathlib import Path
import greenbench
from tests.shared_gpus import add_energy, load, set_power

STATE = Path(os.environ["GREENBENCH_TEST_GPU_STATE"])
T0_S = {T0_S!r}


def prepare(batch: int = 1):
    limit_w = load(STATE)[0]["power_limit_mw"] / 1000  # the limit in force for the case
    drawn = min(limit_w, {DEMAND_W!r})
    set_power(STATE, 0, drawn * 1000)  # polled power agrees with the counter
    return {{"watts": drawn, "seconds": T0_S[batch] * ({DEMAND_W!r} / drawn) ** 0.5}}


@greenbench.workload(setup=prepare, unit="samples", units_per_step=lambda p: p["batch"])
def modelled(watts, seconds):
    time.sleep(seconds)
    add_energy(STATE, 0, watts * seconds * 1000)
'''


def per_sample(limit_w: float, batch: int) -> tuple[float, float]:
    """The model's (energy J, time s) per sample."""
    drawn = min(limit_w, DEMAND_W)
    seconds = T0_S[batch] * math.sqrt(DEMAND_W / drawn)
    return drawn * seconds / batch, seconds / batch


# --- the picks, on exact figures --------------------------------------------------------------


def synthetic_run(limits: list[float], batches: list[int], spread: float = 0.01) -> RunRecord:
    """A run whose cases hold the model's figures exactly (medians), with +-spread repeats."""
    cases = []
    for limit_w, batch in itertools.product(limits, batches):
        energy, seconds = per_sample(limit_w, batch)
        factors = [1 - spread, 1 - spread / 2, 1, 1, 1 + spread / 2, 1 + spread]
        case = CaseRecord("modelled", {"batch": batch, "power_limit_w": limit_w}, "ok",
                          unit="samples", units_per_step=batch)
        case.summary = {"energy_per_unit_j": summarize([energy * f for f in factors]),
                        "time_s": summarize([seconds * batch * f for f in factors])}
        cases.append(case)
    return RunRecord("r1", "2026-01-01T00:00:00+00:00", "complete", {}, {}, {}, [], cases)


def labels(found: list[Point]) -> dict[str, str]:
    return {p.objective.split(" (")[0]: p.point.label for p in found if p.point}


def test_each_objective_picks_the_known_optimum_of_the_model():
    limits = [100.0, 150.0, 200.0, 250.0, 300.0]
    run = synthetic_run(limits, [1, 4])
    found, left_out = points(run, ["power_limit_w", "batch"])
    grid = {(w, b): per_sample(w, b) for w, b in itertools.product(limits, [1, 4])}
    least_energy = min(grid, key=lambda k: grid[k][0])
    least_time = min(grid, key=lambda k: grid[k][1])
    bound = grid[least_time][1] * 1.25
    within = min((k for k in grid if grid[k][1] <= bound), key=lambda k: grid[k][0])
    zeus = min(grid, key=lambda k: 0.5 * grid[k][0] + 0.5 * 300.0 * grid[k][1])

    picks = recommend(found, max_slowdown=0.25, eta=0.5, max_power_w=300.0)

    def name(key: tuple[float, int]) -> str:
        return f"power_limit_w={key[0]:g}, batch={key[1]}"

    assert left_out == []
    assert [p.point.label for p in picks if p.point] == [
        name(least_energy), name(least_time), name(within), name(zeus)]
    assert (least_energy, least_time, within) == ((100.0, 4), (300.0, 4), (200.0, 4))
    assert picks[0].point.energy.median == pytest.approx(grid[least_energy][0])
    assert picks[1].point.time.median == pytest.approx(grid[least_time][1])


def test_a_pick_whose_interval_overlaps_the_runner_up_says_so():
    # 250 W and 300 W at batch 4 differ by 9% in time; a 30% spread hides that
    tight = recommend(points(synthetic_run([250.0, 300.0], [4]), ["power_limit_w"])[0])
    loose = recommend(points(synthetic_run([250.0, 300.0], [4], spread=0.3),
                             ["power_limit_w"])[0])

    assert "beyond the 95% CIs" in describe(tight[1])
    assert not tight[1].overlaps
    assert loose[1].overlaps
    assert "its 95% CI overlaps the runner-up's (power_limit_w=250): these repeats do not " \
           "tell the two apart" in describe(loose[1])


def test_failed_settings_are_named_not_dropped():
    run = synthetic_run([200.0, 300.0], [1])
    run.cases[0].status, run.cases[0].error = "failed", "worker killed by SIGKILL"

    found, left_out = points(run, ["power_limit_w"])

    assert [p.label for p in found] == ["power_limit_w=300"]
    assert left_out == ["power_limit_w=200.0: left out (failed: worker killed by SIGKILL)"]


def test_default_limits_span_the_allowed_range_highest_first():
    assert default_limits(100.0, 400.0) == [400.0, 325.0, 250.0, 175.0, 100.0]
    assert default_limits(150.0, 150.0) == [150.0]


# --- the whole command, real workers, stand-in GPU --------------------------------------------


@pytest.fixture
def gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = shared_gpus.inject(monkeypatch, tmp_path, [FakeGpu(
        limit_range_mw=(100_000, 300_000), power_limit_mw=300_000, default_limit_mw=300_000,
        may_set_limit=True)])
    # torch on this machine has no CUDA; the stand-in GPU is the one greenbench sets
    monkeypatch.setattr("greenbench.runner.check_device", lambda device: None)
    return state


def test_a_sweep_on_a_gpu_that_answers_the_limit_finds_each_optimum(gpu, tmp_path, capsys):
    model = tmp_path / "model.py"
    model.write_text(MODEL)
    store = tmp_path / "s.sqlite"

    result = run_cli(capsys, "optimize", "modelled", "--workload-file", str(model),
                     "--device", "cuda:0", "--over", "power_limit_w,batch",
                     "-p", "power_limit_w=150,225,300", "-p", "batch=1,4",
                     "--max-slowdown", "25%", "--repeats", "3", "--min-duration", "0.1",
                     "--warmup", "0.2", "--store", str(store),
                     "--out-dir", str(tmp_path / "plots"))

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].endswith("6 of 6 settings measured; gross energy and time per sample, "
                             "medians [95% CI]")
    picks = {line.split(":")[0]: line.split(": ")[1] for line in lines[1:4]}
    assert picks["least energy"] == "power_limit_w=150, batch=4"
    assert picks["least time"] == "power_limit_w=300, batch=4"
    [within] = [v for k, v in picks.items() if k.startswith("least energy within 25%")]
    assert within == "power_limit_w=225, batch=4"
    assert "energy: gpu:0: counter (nvml)" in result.out
    [run] = Store(store).list_runs()
    stored = Store(store).get_run(run.id)
    assert len(stored.cases) == 6
    assert all(any(f.startswith("power limit on cuda:0") for f in c.flags) for c in stored.cases)
    assert shared_gpus.load(gpu)[0]["power_limit_mw"] == 300_000  # put back
    assert stored.config["power_limit"] == {
        "gpu": "cuda:0 (NVIDIA A100-SXM4-40GB)", "uuid": "GPU-00000000-0000-0000-0000-000000000000",
        "library": "nvml", "original_w": 300.0, "asked_w": [150.0, 225.0, 300.0],
        "restore_records": str(restore_records.path())}
    assert (tmp_path / "plots" / f"optimize-{stored.id}.png").exists()


# --- bad input --------------------------------------------------------------------------------


def test_optimize_on_a_machine_without_gpus_is_one_line(capsys, monkeypatch, tmp_path):
    install_nvml(monkeypatch, None)
    install_amd(monkeypatch, None)
    monkeypatch.setenv("GREENBENCH_STATE_DIR", str(tmp_path))

    result = run_cli(capsys, "optimize", "attention", "--device", "cuda:0", "--over",
                     "power_limit_w", "--store", str(tmp_path / "s.sqlite"))

    assert result.code == 2
    [line] = result.err.strip().splitlines()
    assert line.startswith("greenbench: error: no GPU to set a power limit on: NVML: "
                           "nvidia-ml-py not installed")


def test_optimize_on_a_gpu_that_is_not_there_names_the_ones_there_are(gpu, capsys, tmp_path):
    result = run_cli(capsys, "optimize", "attention", "--device", "cuda:9", "--over",
                     "power_limit_w", "--store", str(tmp_path / "s.sqlite"))

    assert result.code == 2
    assert result.err.strip().splitlines() == [
        "greenbench: error: --device cuda:9: this machine has 1 GPU(s): cuda:0 "
        "(NVIDIA A100-SXM4-40GB)"]


@pytest.mark.parametrize(("args", "says"), [
    (("--over", "power_limit_w,seq_len"), "--over seq_len: give its values, e.g. -p seq_len="),
    (("--over", "power_limit_w", "--max-slowdown", "fast"),
     "--max-slowdown fast: use a percentage such as 10%"),
    (("--over", "power_limit_w", "-p", "power_limit_w=90"),
     "power_limit_w=90: cuda:0 (NVIDIA A100-SXM4-40GB) allows 100 to 300 W"),
])
def test_optimize_bad_input_is_one_line(gpu, capsys, tmp_path, args, says):
    result = run_cli(capsys, "optimize", "attention", "--device", "cuda:0", *args,
                     "--store", str(tmp_path / "s.sqlite"))

    assert result.code == 2
    [line] = result.err.strip().splitlines()
    assert says in line
    assert shared_gpus.load(gpu)[0]["limits_set"] == []
