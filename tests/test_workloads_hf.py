"""The hf-* workloads on the real transformers library: every shipped config runs its task,
and each kind of bad model is one line before any work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from greenbench.errors import UserError  # noqa: E402
from greenbench.workload import discover  # noqa: E402
from tests.cli_runner import run_cli  # noqa: E402

REGISTRY = discover([])


def case(name: str, **params: object) -> tuple[object, dict]:
    wl = REGISTRY.get(name)
    full = wl.defaults() | params
    wl.check(full, "cpu")
    return wl, full


@pytest.mark.parametrize(("workload", "model", "params"), [
    ("hf-generate", "gpt2-tiny", {"prompt_len": 16, "new_tokens": 4}),
    ("hf-classify", "bert-tiny", {"seq_len": 16, "queries": 8, "batch": 4}),
    ("hf-classify", "vit-tiny", {"queries": 8, "batch": 4}),
    ("hf-embed", "bert-tiny", {"seq_len": 16, "queries": 8, "batch": 4}),
    ("hf-embed", "clip-tiny", {"seq_len": 16, "queries": 8, "batch": 4}),
    ("hf-train", "gpt2-tiny", {"seq_len": 16, "batch": 2}),
    ("hf-train", "vit-tiny", {"batch": 2}),
])
def test_each_shipped_config_runs_its_task(workload: str, model: str, params: dict) -> None:
    wl, full = case(workload, model=model, **params)
    state = wl.setup(full, "cpu")
    wl.step(state)
    wl.step(state)
    assert state["random"] and "randomly initialised" in wl.notes(state)[0]
    if workload == "hf-generate":
        figures = wl.metrics(state)
        assert {"ttft_p50_ms", "inter_token_p50_ms"} <= set(figures)
        assert wl.units_per_step(full) == 4.0
    if workload == "hf-train":
        assert wl.quality(state)["loss"] > 0


def test_generation_reports_prefill_and_decode_apart() -> None:
    from greenbench.meter import Meter, activate
    from greenbench.sensors.estimate import RamEstimateSensor

    wl, full = case("hf-generate", model="gpt2-tiny", prompt_len=8, new_tokens=3)
    state = wl.setup(full, "cpu")
    meter = Meter([RamEstimateSensor(2**30)])
    with activate(meter):
        wl.step(state)
    assert [m.name.removeprefix("phase:") for m in meter.phase_results] == ["prefill", "decode"]


def test_a_folder_with_weights_uses_them_and_says_nothing_about_random_ones(
        tmp_path: Path) -> None:
    from greenbench_workloads._hf import SHIPPED

    cfg = transformers.AutoConfig.from_pretrained(str(SHIPPED / "gpt2-tiny"),
                                                  local_files_only=True)
    model = transformers.GPT2LMHeadModel(cfg)
    model.save_pretrained(tmp_path / "mine")
    wl, full = case("hf-generate", model=str(tmp_path / "mine"), prompt_len=8, new_tokens=2)
    state = wl.setup(full, "cpu")
    assert not state["random"] and wl.notes(state) == []


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.mkdir() or p, "has no config.json"),
    (lambda p: "gpt2", "greenbench never downloads at run time"),
    (lambda p: (p.mkdir(), (p / "config.json").write_text(json.dumps(
        {"model_type": "no-such-architecture"})))[0] or p, "cannot read its config.json"),
])
def test_a_bad_model_is_one_line(tmp_path: Path, make, message: str) -> None:
    model = make(tmp_path / "m")
    with pytest.raises(UserError, match=message):
        case("hf-generate", model=str(model))


def test_a_task_the_architecture_cannot_do_names_what_it_can() -> None:
    with pytest.raises(UserError, match=r"hf-generate: model type vit cannot generate .* "
                                        r"it can: classify-image, embed"):
        case("hf-generate", model="vit-tiny")


def test_the_cli_refuses_a_bad_model_before_any_work(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    result = run_cli(capsys, "run", "hf-generate", "-p", "model=gpt2", "--store",
                     str(tmp_path / "s.sqlite"))
    assert result.code == 2
    assert result.err.strip().splitlines()[-1].startswith("greenbench: error: model gpt2:")
    assert not (tmp_path / "s.sqlite").exists()


def test_a_diffusers_pipeline_given_to_a_transformers_task_points_to_hf_image() -> None:
    with pytest.raises(UserError, match=r"a diffusers pipeline, for hf-image"):
        case("hf-embed", model="unet-tiny")


def test_time_to_first_token_and_inter_token_latency_leave_the_phase_marks_out(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """On virtual time: each phase's edges cost 5 ms (the meter reading its sensors), each
    forward pass 1 ms. TTFT is the prefill's 1 ms and every gap between tokens the decode's
    1 ms; with the marks inside, TTFT read 6 ms and the first gap 6 ms."""
    import contextlib

    clock = [0.0]

    @contextlib.contextmanager
    def costly_phase(name: str):  # noqa: ANN202
        clock[0] += 0.005
        yield
        clock[0] += 0.005

    monkeypatch.setattr("greenbench_workloads._models.now", lambda device: clock[0])
    monkeypatch.setattr("greenbench_workloads._models.phase", costly_phase)
    wl, full = case("hf-generate", model="gpt2-tiny", prompt_len=8, new_tokens=4)
    state = wl.setup(full, "cpu")
    forward, seen = state["run"], []

    def timed(**kwargs):  # noqa: ANN003, ANN202
        seen.append(kwargs)
        clock[0] += 0.001
        return forward(**kwargs)

    state["run"] = timed
    wl.step(state)
    assert state["ttft_s"] == [pytest.approx(0.001)]
    assert state["token_s"] == [pytest.approx(0.001)] * 3
    # the prefill asks for the last position's logits only, as generate() does
    assert seen[0].get("logits_to_keep") == 1
