"""diffusion: the denoising loop's cost grows with the step count; images come out bounded."""

from __future__ import annotations

import statistics
import time

import pytest

from greenbench.errors import UserError
from greenbench_workloads.diffusion import Diffusion, _timesteps

torch = pytest.importorskip("torch")

SMALL = {"steps": 4, "batch": 2, "image_size": 8, "base_channels": 8, "guidance": 3.0, "seed": 0}


def _flops(params: dict) -> tuple[int, int]:
    """(FLOPs of one generation, UNet calls it made), counted by torch's FLOP counter."""
    from torch.utils.flop_counter import FlopCounterMode

    wl = Diffusion()
    state = wl.setup(params, "cpu")
    with FlopCounterMode(display=False) as counter:
        wl.step(state)
    return counter.get_total_flops(), state["unet_calls"]


def test_work_grows_linearly_with_the_step_count() -> None:
    counted = {steps: _flops({**SMALL, "steps": steps}) for steps in (2, 4, 8)}
    assert [calls for _, calls in counted.values()] == [2, 4, 8]
    f2, f4, f8 = (flops for flops, _ in counted.values())
    assert f2 > 0 and f8 > f4 > f2
    assert f8 - f4 == pytest.approx(2 * (f4 - f2), rel=0.01)  # the same cost per extra step


def test_guidance_doubles_the_unet_work_per_step() -> None:
    guided, _ = _flops(SMALL)
    plain, _ = _flops({**SMALL, "guidance": 1.0})
    assert guided == pytest.approx(2 * plain, rel=0.05)


def test_time_per_image_grows_with_the_step_count() -> None:
    wl = Diffusion()
    few, many = (wl.setup({**SMALL, "steps": s}, "cpu") for s in (1, 12))
    times: dict[int, list[float]] = {1: [], 12: []}
    for _ in range(5):  # alternate, so machine noise hits both alike
        for steps, state in ((1, few), (12, many)):
            t = time.perf_counter()
            wl.step(state)
            times[steps].append(time.perf_counter() - t)
    assert statistics.median(times[12]) > 3 * statistics.median(times[1])


def test_step_produces_bounded_images_and_reports_per_step_figures() -> None:
    wl = Diffusion()
    state = wl.setup(SMALL, "cpu")
    wl.step(state)
    images = state["images"]
    assert images.shape == (2, 3, 8, 8) and torch.isfinite(images).all()
    assert images.abs().max() <= 1.0
    m = wl.metrics(state)
    assert m["denoise_steps"] == 4 and m["unet_evals_per_image"] == 8
    assert m["denoise_step_p50_ms"] > 0
    assert wl.units_per_step(SMALL) == 2


def test_schedule_strides_from_the_noisiest_step_downwards() -> None:
    assert _timesteps(1) == [999]
    assert _timesteps(4) == [999, 749, 499, 249]
    ts = _timesteps(1000)
    assert ts == sorted(ts, reverse=True) and len(set(ts)) == 1000 and ts[-1] == 0


def test_bad_sizes_are_refused_before_any_work() -> None:
    wl = Diffusion()
    with pytest.raises(UserError, match="multiple of 4"):
        wl.check({**SMALL, "image_size": 10}, "cpu")
    with pytest.raises(UserError, match="steps must be at least 1"):
        wl.check({**SMALL, "steps": 0}, "cpu")
