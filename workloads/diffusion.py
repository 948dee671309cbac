"""``diffusion``: generate images with a small UNet denoiser over a number of denoising steps.

One step of the workload generates ``batch`` images the way text-to-image pipelines do: encode
the prompt once, start from Gaussian noise, and run ``steps`` deterministic DDIM updates
(Song et al., 2021) on a 1000-step linear noise schedule, each calling the UNet twice for
classifier-free guidance (once when ``guidance`` is 1). The UNet is randomly initialised, so the
images are noise-like: the workload measures cost, and cost is what scales with ``steps``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from greenbench.errors import UserError
from greenbench.workload import Param, Suite, Workload
from greenbench_workloads._variants import check_params
from greenbench_workloads.generate import SUITE_DESCRIPTION

TRAIN_TIMESTEPS = 1000  # length of the noise schedule the sampler strides through
_PROMPT_LEN, _PROMPT_VOCAB, _D_COND = 8, 1000, 64


class Diffusion(Workload):
    name = "diffusion"
    requires = ("torch",)
    description = "UNet denoiser over N denoising steps (text-to-image style): energy per image"
    unit = "images"
    params = (
        Param("steps", int, 10, minimum=1, maximum=TRAIN_TIMESTEPS,
              help="denoising steps per image"),
        Param("batch", int, 1, minimum=1, help="images generated together"),
        Param("image_size", int, 16, minimum=4, help="image side in pixels (multiple of 4)"),
        Param("base_channels", int, 32, minimum=8, help="UNet width (multiple of 8)"),
        Param("guidance", float, 3.0, minimum=1.0,
              help="classifier-free guidance scale; 1 = conditional pass only"),
        Param("seed", int, 0, help="seed of the weights, prompts and noise"),
    )

    def units_per_step(self, params: Mapping[str, Any]) -> float:
        return float(params["batch"])

    def check(self, params: Mapping[str, Any], device: str) -> None:
        if params["steps"] < 1:
            raise UserError(f"diffusion: steps must be at least 1 (got {params['steps']})")
        check_params(self.params, params)
        if params["image_size"] % 4:
            raise UserError(
                f"diffusion: image_size {params['image_size']} is not a multiple of 4 "
                "(the UNet halves it twice)"
            )
        if params["base_channels"] % 8:
            raise UserError(
                f"diffusion: base_channels {params['base_channels']} is not a multiple of 8 "
                "(GroupNorm uses 8 groups)"
            )

    def setup(self, params: Mapping[str, Any], device: str) -> dict[str, Any]:
        import torch

        from greenbench_workloads import _models as m
        from greenbench_workloads._torch import seed_all, torch_device

        p = dict(params)
        dev = torch_device(device)
        seed_all(p["seed"])
        betas = torch.linspace(1e-4, 0.02, TRAIN_TIMESTEPS, dtype=torch.float64)
        state = {
            "params": p, "device": dev,
            "unet": m.UNet(p["base_channels"], _D_COND).to(dev).eval(),
            "prompt_embed": torch.nn.EmbeddingBag(_PROMPT_VOCAB, _D_COND).to(dev),
            "null_cond": torch.zeros(1, _D_COND, device=dev),  # the "empty prompt"
            "prompts": torch.randint(0, _PROMPT_VOCAB, (p["batch"], _PROMPT_LEN), device=dev),
            "alpha_bar": torch.cumprod(1 - betas, 0).float().tolist(),
            "schedule": _timesteps(p["steps"]),
            "unet_calls": 0, "step_s": [], "images": None,
        }
        return state

    def step(self, state: dict[str, Any]) -> None:
        import torch

        from greenbench_workloads._models import now

        start = now(state["device"])
        with torch.inference_mode():
            state["images"] = _sample(state)
        state["step_s"].append((now(state["device"]) - start) / state["params"]["steps"])

    def metrics(self, state: dict[str, Any]) -> dict[str, float]:
        """Denoising steps, UNet evaluations per image, and time per denoising step."""
        from greenbench_workloads._models import percentiles_ms

        p = state["params"]
        out = {
            "denoise_steps": float(p["steps"]),
            "unet_evals_per_image": float(p["steps"] * (1 if p["guidance"] == 1.0 else 2)),
            **percentiles_ms("denoise_step", state["step_s"]),
        }
        state["step_s"] = []
        return out


def _timesteps(steps: int) -> list[int]:
    """``steps`` evenly spaced timesteps from the noisiest (999) down towards 0."""
    stride = TRAIN_TIMESTEPS / steps
    return [int(TRAIN_TIMESTEPS - 1 - i * stride) for i in range(steps)]


def _sample(state: dict[str, Any]) -> Any:
    """DDIM (eta = 0) from pure noise; returns images [b, 3, s, s] in [-1, 1]."""
    import torch

    p, unet, dev = state["params"], state["unet"], state["device"]
    b, s = p["batch"], p["image_size"]
    cond = state["prompt_embed"](state["prompts"])  # the prompt is encoded once per image
    guided = p["guidance"] != 1.0
    if guided:
        # conditional and unconditional halves share one UNet call, as pipelines batch them
        cond = torch.cat([cond, state["null_cond"].expand(b, -1)])
    x = torch.randn(b, 3, s, s, device=dev)
    ab, ts = state["alpha_bar"], state["schedule"]
    for i, t in enumerate(ts):
        x_in = torch.cat([x, x]) if guided else x
        eps = unet(x_in, torch.full((len(x_in),), t, device=dev), cond)
        state["unet_calls"] += 1
        if guided:
            eps_cond, eps_uncond = eps.chunk(2)
            eps = eps_uncond + p["guidance"] * (eps_cond - eps_uncond)
        a_t = ab[t]
        a_prev = ab[ts[i + 1]] if i + 1 < len(ts) else 1.0
        x0 = ((x - (1 - a_t) ** 0.5 * eps) / a_t**0.5).clamp(-1, 1)
        x = a_prev**0.5 * x0 + (1 - a_prev) ** 0.5 * eps
    return x.clamp(-1, 1)


WORKLOADS = [Diffusion()]
SUITES = [Suite("applications", SUITE_DESCRIPTION, [("diffusion", {"steps": [5, 20]})])]
