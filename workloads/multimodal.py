"""``multimodal``: a CLIP-style image-text dual encoder, trained or used to embed pairs.

``mode=train``: one step is one optimiser step of the contrastive loss on a batch of pairs.
``mode=embed``: one step embeds a batch of images and texts and scores every image against
every text (retrieval). The pairs are synthetic (a hidden concept shared by an image template
and a set of words), so training measurably improves retrieval and nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from greenbench.errors import UserError
from greenbench.workload import Param, Suite, Workload
from greenbench_workloads._variants import check_params
from greenbench_workloads.generate import SUITE_DESCRIPTION

_POOL_BATCHES = 8  # distinct training batches cycled through, generated in setup


class Multimodal(Workload):
    name = "multimodal"
    requires = ("torch",)
    description = "CLIP-style image-text dual encoder (train step or embedding): energy per pair"
    unit = "pairs"
    quality_metric = "retrieval_acc"
    quality_higher_is_better = True
    params = (
        Param("mode", str, "train", choices=("train", "embed"), variant=True,
              help="train: contrastive optimiser step; embed: encode both sides and score"),
        Param("batch", int, 32, minimum=2, help="image-text pairs per step"),
        Param("image_size", int, 32, minimum=4, help="image side in pixels (3 channels)"),
        Param("patch", int, 8, minimum=1, help="patch side in pixels (must divide image_size)"),
        Param("text_len", int, 16, minimum=2, help="tokens per text"),
        Param("vocab", int, 1000, minimum=16, help="text vocabulary size"),
        Param("d_model", int, 64, minimum=8, help="width of both encoders"),
        Param("layers", int, 2, minimum=1, help="transformer blocks per encoder"),
        Param("heads", int, 4, minimum=1, help="attention heads (must divide d_model)"),
        Param("embed_dim", int, 64, minimum=2, help="shared embedding size"),
        Param("concepts", int, 16, minimum=2, help="hidden concepts in the synthetic pairs"),
        Param("lr", float, 1e-3, minimum=0.0, help="AdamW learning rate (train mode)"),
        Param("seed", int, 0, help="seed of the weights and data"),
    )

    def units_per_step(self, params: Mapping[str, Any]) -> float:
        return float(params["batch"])

    def check(self, params: Mapping[str, Any], device: str) -> None:
        check_params(self.params, params)
        if params["image_size"] % params["patch"]:
            raise UserError(
                f"multimodal: patch {params['patch']} does not divide image_size "
                f"{params['image_size']}"
            )
        if params["d_model"] % params["heads"]:
            raise UserError(
                f"multimodal: d_model {params['d_model']} is not divisible by heads "
                f"{params['heads']}"
            )
        if params["concepts"] * (params["text_len"] // 2) > params["vocab"]:
            raise UserError(
                "multimodal: vocab is too small for concepts * text_len/2 concept words; "
                "raise vocab or lower concepts"
            )

    def setup(self, params: Mapping[str, Any], device: str) -> dict[str, Any]:
        import torch

        from greenbench_workloads import _models as m
        from greenbench_workloads._torch import seed_all, torch_device

        p = dict(params)
        dev = torch_device(device)
        seed_all(p["seed"])
        model = m.DualEncoder(p["image_size"], p["patch"], p["vocab"], p["text_len"],
                              p["d_model"], p["layers"], p["heads"], p["embed_dim"]).to(dev)
        n = p["batch"] * _POOL_BATCHES
        data = m.concept_pairs(n, p["concepts"], p["image_size"], p["text_len"], p["vocab"],
                               seed=p["seed"])
        held_out = m.concept_pairs(256, p["concepts"], p["image_size"], p["text_len"],
                                   p["vocab"], seed=p["seed"] + 1)
        batches = [
            (x.to(dev), t.to(dev))
            for x, t in zip(data[0].split(p["batch"]), data[1].split(p["batch"]), strict=True)
        ]
        opt = torch.optim.AdamW(model.parameters(), lr=p["lr"]) if p["mode"] == "train" else None
        model.train(p["mode"] == "train")
        return {"params": p, "model": model, "opt": opt, "batches": batches, "i": 0,
                "held_out": tuple(x.to(dev) for x in held_out), "steps": 0}

    def step(self, state: dict[str, Any]) -> None:
        import torch

        images, tokens = state["batches"][state["i"] % len(state["batches"])]
        state["i"] += 1
        model = state["model"]
        if state["opt"] is None:
            with torch.inference_mode():
                # the scores are the point of embedding: retrieval ranks texts per image
                model.encode_image(images) @ model.encode_text(tokens).T
            return
        state["opt"].zero_grad(set_to_none=True)
        model.loss(images, tokens).backward()
        state["opt"].step()
        state["steps"] += 1

    def quality(self, state: dict[str, Any]) -> dict[str, float]:
        """Held-out contrastive loss and image->text top-1 retrieval accuracy (same concept).

        In embed mode the weights are the untrained initialisation, so accuracy is near
        1/concepts; the figure is there to show that, not to rank anything.
        """
        import torch

        model = state["model"]
        images, tokens, concept = state["held_out"]
        was_training = model.training
        model.eval()
        with torch.inference_mode():
            loss = float(model.loss(images, tokens))
            best = (model.encode_image(images) @ model.encode_text(tokens).T).argmax(1)
            acc = float((concept[best] == concept).float().mean())
        model.train(was_training)
        return {"loss": loss, "retrieval_acc": acc}

    def metrics(self, state: dict[str, Any]) -> dict[str, float]:
        return {"optimizer_steps": float(state["steps"])}


WORKLOADS = [Multimodal()]
SUITES = [Suite("applications", SUITE_DESCRIPTION, [("multimodal", {"mode": ["train", "embed"]})])]
