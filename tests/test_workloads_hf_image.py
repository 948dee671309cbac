"""hf-image on the real diffusers library: the shipped pipeline makes images at the asked
size, steps and batch; a saved pipeline's weights are used; each kind of bad model is one
line before any work."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
diffusers = pytest.importorskip("diffusers")

from greenbench.errors import UserError  # noqa: E402
from greenbench.workload import discover  # noqa: E402
from greenbench_workloads._hf import SHIPPED  # noqa: E402
from tests.cli_runner import run_cli  # noqa: E402

REGISTRY = discover([])
SMALL = {"steps": 2, "resolution": 32}


def case(**params: object) -> tuple[object, dict]:
    wl = REGISTRY.get("hf-image")
    full = wl.defaults() | params
    wl.check(full, "cpu")
    return wl, full


def test_the_shipped_pipeline_makes_a_batch_of_images_at_the_asked_size() -> None:
    wl, full = case(batch=3, **SMALL)
    state = wl.setup(full, "cpu")
    wl.step(state)
    assert tuple(state["images"].shape) == (3, 3, 32, 32)
    assert wl.units_per_step(full) == 3.0  # energy per image
    assert wl.metrics(state) == {"denoising_steps": 2.0}


def test_random_weights_are_said_so_component_by_component() -> None:
    wl, full = case(**SMALL)
    state = wl.setup(full, "cpu")
    (note,) = wl.notes(state)
    assert "text_encoder, unet, vae" in note and "randomly initialised" in note


def test_each_denoising_step_runs_the_unet_once_more(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    wl, full = case(steps=3, guidance=1.0, resolution=32)
    state = wl.setup(full, "cpu")
    state["pipe"].unet.register_forward_pre_hook(lambda *a: calls.append(1))
    wl.step(state)
    assert len(calls) == 3
    state["params"]["steps"] = 5
    wl.step(state)
    assert len(calls) == 3 + 5


def test_guidance_above_one_runs_the_unet_on_twice_the_batch() -> None:
    batches: list[int] = []
    for guidance in (1.0, 7.5):
        wl, full = case(steps=1, guidance=guidance, batch=3, resolution=32)
        state = wl.setup(full, "cpu")
        state["pipe"].unet.register_forward_pre_hook(
            lambda module, args, kwargs: batches.append(int(
                (args[0] if args else kwargs["sample"]).shape[0])), with_kwargs=True)
        wl.step(state)
    assert batches == [3, 6]


def test_bf16_generates_under_autocast() -> None:
    import torch

    wl, full = case(precision="bf16", **SMALL)
    state = wl.setup(full, "cpu")
    wl.step(state)
    assert state["images"].dtype == torch.bfloat16


def test_a_saved_pipeline_uses_its_weights_and_says_nothing_about_random_ones(
        tmp_path: Path) -> None:
    from greenbench_workloads import _hf_diffusers

    pipe, random = _hf_diffusers.build("unet-tiny", seed=3)
    assert random == ["text_encoder", "unet", "vae"]
    pipe.save_pretrained(tmp_path / "mine")
    wl, full = case(model=str(tmp_path / "mine"), **SMALL)
    state = wl.setup(full, "cpu")
    assert state["random"] == [] and wl.notes(state) == []
    saved = pipe.unet.state_dict()
    for name, tensor in state["pipe"].unet.state_dict().items():
        assert bool((tensor == saved[name]).all()), name


def _copy(path: Path) -> Path:
    return Path(shutil.copytree(SHIPPED / "unet-tiny", path))


def _index(path: Path, **changes: object) -> Path:
    index = json.loads((path / "model_index.json").read_text())
    (path / "model_index.json").write_text(json.dumps(index | changes))
    return path


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: "stabilityai/sd-turbo", "greenbench never downloads at run time"),
    (lambda p: p.mkdir() or p, "has no model_index.json; pass a folder saved by a diffusers"),
    (lambda p: str(SHIPPED / "gpt2-tiny"),
     r"has no model_index.json \(it has a config.json: a transformers model"),
    (lambda p: _index(_copy(p), _class_name="NoSuchPipeline"),
     "has no pipeline NoSuchPipeline; a newer diffusers may know it"),
    (lambda p: _index(_copy(p), _class_name="DDPMPipeline"),
     "does not generate images from a text prompt"),
    (lambda p: (shutil.rmtree(_copy(p) / "vae"), p)[1],
     r"names a component vae \(AutoencoderKL\) but the folder has no vae/"),
    (lambda p: _index(_copy(p), vae=["somewhere_else", "AutoencoderKL"]),
     "comes from somewhere_else, which is neither diffusers, transformers nor a diffusers"),
])
def test_a_bad_model_is_one_line(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(UserError, match=message):
        case(model=str(make(tmp_path / "m")))


def test_a_stable_diffusion_folder_with_its_safety_checker_runs_it(tmp_path: Path) -> None:
    # Stable Diffusion folders name the safety checker's library by its pipeline module
    path = _index(_copy(tmp_path / "p"), requires_safety_checker=True,
                  safety_checker=["stable_diffusion", "StableDiffusionSafetyChecker"],
                  feature_extractor=["transformers", "CLIPImageProcessor"])
    (path / "safety_checker").mkdir()
    shutil.copy(SHIPPED / "clip-tiny" / "config.json", path / "safety_checker")
    (path / "feature_extractor").mkdir()
    (path / "feature_extractor" / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "CLIPImageProcessor", "size": {"shortest_edge": 32},
        "crop_size": {"height": 32, "width": 32}}))
    wl, full = case(model=str(path), **SMALL)
    state = wl.setup(full, "cpu")
    checked: list[int] = []
    state["pipe"].safety_checker.register_forward_pre_hook(lambda *a: checked.append(1))
    wl.step(state)
    assert checked == [1]
    assert state["random"] == ["safety_checker", "text_encoder", "unet", "vae"]


def test_a_resolution_the_pipeline_cannot_take_is_one_line() -> None:
    with pytest.raises(UserError, match="resolution 60 is not a multiple of 8"):
        case(resolution=60)


def test_the_cli_refuses_a_hub_name_before_any_work(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    result = run_cli(capsys, "run", "hf-image", "-p", "model=stabilityai/sd-turbo", "--store",
                     str(tmp_path / "s.sqlite"))
    assert result.code == 2
    last = result.err.strip().splitlines()[-1]
    assert last.startswith("greenbench: error: model stabilityai/sd-turbo: not a local folder")
    assert "pass the folder" in last
    assert not (tmp_path / "s.sqlite").exists()


def test_importing_a_pipeline_prints_no_transformers_notice() -> None:
    # a fresh interpreter: the notice comes once per process, at the pipeline's first import
    code = ("from greenbench_workloads import _hf_diffusers; "
            "print(_hf_diffusers.pipeline_class('unet-tiny').__name__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "StableDiffusionPipeline"
    assert "[transformers]" not in done.stderr
