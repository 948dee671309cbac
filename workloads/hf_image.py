"""Image generation on Hugging Face ``diffusers``, measured the way AI Energy Score measures
its text-to-image task: a fixed set of prompts, one image per prompt, the energy per image
(AI Energy Score reports Wh per 1,000 queries there; here joules per image, which is Wh per
1,000 images times 3.6). The energy of an image is close to proportional to the number of
denoising steps, so ``steps`` is stated with every figure (``denoising_steps``) rather than
left to a pipeline's default; its default, 30, is what optimum-benchmark (through which AI
Energy Score measures) asks of a diffusion pipeline unless told otherwise (Stable Diffusion
pipelines' own default is 50). Batch, resolution, classifier-free guidance and precision are
parameters too.

``model`` is a local diffusers pipeline folder (``model_index.json``, weights optional) or a
shipped pipeline (see ``greenbench_workloads._hf_diffusers``); nothing is downloaded at run
time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from greenbench.errors import UserError
from greenbench.workload import Param, Workload
from greenbench_workloads.hf import COMMON

#: the fixed prompt set, cycled ``batch`` at a time (prompt content does not change the work
#: of a fixed-size pipeline: every prompt is padded to the tokenizer's length)
PROMPTS = (
    "a lighthouse on a rocky coast at dusk, oil painting",
    "a bowl of ramen on a wooden table, photograph",
    "a red fox asleep in fresh snow",
    "an isometric drawing of a small solar-powered house",
    "a watercolour map of an imaginary island",
    "a cyclist crossing a bridge in the rain, long exposure",
    "a close-up of a circuit board, macro photograph",
    "a field of sunflowers under a thunderstorm",
)


class Image(Workload):
    name = "hf-image"
    requires = ("torch", "diffusers", "transformers")
    unit = "images"
    description = ("Text-to-image generation with a diffusers pipeline (AI Energy Score "
                   "style): energy per image at a given number of denoising steps")
    params = (
        Param("model", str, "unet-tiny",
              help="a shipped pipeline (unet-tiny) or a local diffusers pipeline folder "
                   "with model_index.json"),
        Param("steps", int, 30, minimum=1,
              help="denoising steps per image (30: optimum-benchmark's default)"),
        Param("batch", int, 1, minimum=1, help="images generated together, one prompt each"),
        Param("resolution", int, 64, minimum=8,
              help="image height and width in pixels (a multiple of 8)"),
        Param("guidance", float, 7.5, minimum=0.0,
              help="classifier-free guidance scale; above 1 the UNet also runs on the "
                   "empty prompt, twice the work per step"),
        *COMMON,
    )

    def units_per_step(self, params: Mapping[str, Any]) -> float:
        return float(params["batch"])

    def quality_changes(self, params: Mapping[str, Any]) -> bool:
        return False

    def check(self, params: Mapping[str, Any], device: str) -> None:
        from greenbench_workloads import _hf_diffusers

        _hf_diffusers.pipeline_class(params["model"])
        _hf_diffusers.components(params["model"])
        if params["resolution"] % 8:
            raise UserError(f"hf-image: resolution {params['resolution']} is not a multiple "
                            "of 8 (Stable Diffusion style pipelines need one)")

    def setup(self, params: Mapping[str, Any], device: str) -> dict[str, Any]:
        import torch

        from greenbench_workloads import _hf_diffusers
        from greenbench_workloads._torch import torch_device

        dev = torch_device(device)
        pipe, random = _hf_diffusers.build(params["model"], params["seed"])
        pipe = pipe.to(dev)
        if params["compile"]:
            pipe.unet = torch.compile(pipe.unet)
        return {"params": dict(params), "device": dev, "pipe": pipe, "random": random,
                "at": 0}

    def step(self, state: dict[str, Any]) -> None:
        import torch

        from greenbench_workloads._torch import autocast

        p, dev = state["params"], state["device"]
        at = state["at"]
        prompts = [PROMPTS[(at + i) % len(PROMPTS)] for i in range(p["batch"])]
        state["at"] = (at + p["batch"]) % len(PROMPTS)
        # the same starting noise every step: every step does the same work
        generator = torch.Generator(device="cpu").manual_seed(p["seed"])
        with torch.inference_mode(), autocast(p["precision"], dev):
            out = state["pipe"](prompt=prompts, num_inference_steps=p["steps"],
                                height=p["resolution"], width=p["resolution"],
                                guidance_scale=p["guidance"], generator=generator,
                                output_type="pt")
        state["images"] = out.images

    def metrics(self, state: dict[str, Any]) -> dict[str, float]:
        return {"denoising_steps": float(state["params"]["steps"])}

    def notes(self, state: Any) -> list[str]:
        from greenbench_workloads._hf_diffusers import random_weights_note

        random = state["random"]
        return [random_weights_note(state["params"]["model"], random)] if random else []


WORKLOADS = [Image()]
