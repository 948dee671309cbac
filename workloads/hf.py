"""Real architectures on Hugging Face ``transformers``, measured the way the public references
measure them. ``model`` is a local folder with a ``config.json`` (weights optional) or a
shipped config (see ``greenbench_workloads._hf``); nothing is downloaded at run time.

- ``hf-generate``: text generation at fixed shapes in the LLM-Perf style (Hugging Face's
  LLM-Perf leaderboard through optimum-benchmark: batch 1, 256 prompt tokens, 64 new tokens
  by default, greedy, no early stop): energy per generated token; prefill and decode energy
  apart (phases ``prefill`` and ``decode``); time to first token and inter-token latency
  percentiles, timed inside the phases (the meter's reads at a phase's edges are not the
  model's time). The prefill asks for the last position's logits only, as ``generate()``
  does.
- ``hf-classify``, ``hf-embed``: a fixed set of queries, processed in batches, in the AI Energy
  Score style (Wh per 1,000 queries there; here joules per query, which is Wh per 1,000
  queries times 3.6).
- ``hf-train``: training steps with AdamW (a causal LM loss for decoders, classification for
  encoders and ViTs): energy per sample; its ``tokens_per_sample`` figure turns it into
  energy per token.

Precision (fp32, bf16) and ``torch.compile`` are variants; batch and sequence length are
parameters. Image generation on ``diffusers`` (``hf-image``) is in ``hf_image``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from greenbench.errors import UserError
from greenbench.workload import Param, Suite, Workload

_MODEL = Param("model", str, "gpt2-tiny",
               help="a shipped config (gpt2-tiny, gpt2-mini, bert-tiny, vit-tiny, clip-tiny) "
                    "or a local folder with config.json")
COMMON = (
    Param("precision", str, "fp32", choices=("fp32", "bf16"), variant=True,
          help="autocast precision of the forward (and backward) pass"),
    Param("compile", bool, False, variant=True, help="torch.compile the model first"),
    Param("seed", int, 0, help="seed of random weights and inputs"),
)


class _HF(Workload):
    requires = ("torch", "transformers")
    task = "embed"

    def check(self, params: Mapping[str, Any], device: str) -> None:
        from greenbench_workloads import _hf

        cfg = _hf.config(params["model"])
        _hf.model_class(cfg, self._task(cfg), self.name)
        limit = getattr(cfg, "n_positions", None) or getattr(cfg, "max_position_embeddings",
                                                             None)
        length = self._length(params)
        if limit and length and length > limit:
            raise UserError(f"{self.name}: {length} tokens is more than model "
                            f"{params['model']} takes ({limit} positions)")

    def notes(self, state: Any) -> list[str]:
        from greenbench_workloads._hf import random_weights_note

        return [random_weights_note(state["params"]["model"])] if state["random"] else []

    def _task(self, cfg: Any) -> str:
        return self.task

    def _length(self, params: Mapping[str, Any]) -> int | None:
        return params.get("seq_len")

    def _build(self, params: Mapping[str, Any], device: str, train: bool = False
               ) -> dict[str, Any]:
        import torch

        from greenbench_workloads import _hf
        from greenbench_workloads._torch import torch_device

        dev = torch_device(device)
        cfg = _hf.config(params["model"])
        model, random = _hf.build(params["model"], self._task(cfg), self.name, params["seed"])
        model = model.to(dev).train(train)
        run = torch.compile(model) if params["compile"] else model
        return {"params": dict(params), "device": dev, "config": cfg, "model": model,
                "run": run, "random": random}


def _is_image(cfg: Any) -> bool:
    return hasattr(cfg, "num_channels") and hasattr(cfg, "image_size")


def _pixels(cfg: Any, n: int, seed: int) -> Any:
    import torch

    vision = getattr(cfg, "vision_config", cfg)
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, getattr(vision, "num_channels", 3), vision.image_size,
                       vision.image_size, generator=g)


class Generate(_HF):
    name = "hf-generate"
    task = "generate"
    unit = "tokens"
    description = ("Greedy text generation at fixed shapes (LLM-Perf style): energy per "
                   "generated token, prefill and decode apart, TTFT and inter-token latency")
    params = (_MODEL,
              Param("batch", int, 1, minimum=1, help="prompts generated together"),
              Param("prompt_len", int, 256, minimum=1, help="prompt tokens"),
              Param("new_tokens", int, 64, minimum=1, help="tokens generated per prompt"),
              *COMMON)

    def units_per_step(self, params: Mapping[str, Any]) -> float:
        return float(params["batch"] * params["new_tokens"])

    def _length(self, params: Mapping[str, Any]) -> int | None:
        return int(params["prompt_len"] + params["new_tokens"])

    def setup(self, params: Mapping[str, Any], device: str) -> dict[str, Any]:
        from greenbench_workloads import _hf

        state = self._build(params, device)
        state["prompt"] = _hf.token_ids(params, state["config"], params["prompt_len"],
                                        params["batch"]).to(state["device"])
        state["ttft_s"], state["token_s"] = [], []
        # transformers 5 names the key-value cache `cache`; earlier ones `past_key_values`
        accepted = inspect.signature(state["model"].forward).parameters
        state["cache_arg"] = "cache" if "cache" in accepted else "past_key_values"
        # the prefill's logits at the last position only, as generate() asks them (the
        # other 255 positions' logits cost a quarter of a tiny model's prefill)
        state["last_logits"] = ({"logits_to_keep": 1} if "logits_to_keep" in accepted
                                else {"num_logits_to_keep": 1} if "num_logits_to_keep" in accepted
                                else {})
        return state

    def step(self, state: dict[str, Any]) -> None:
        import torch

        from greenbench_workloads._models import now, phase
        from greenbench_workloads._torch import autocast

        p, run, dev = state["params"], state["run"], state["device"]
        with torch.inference_mode(), autocast(p["precision"], dev):
            # each clock starts inside its phase: a phase's edge reads the meter's sensors,
            # which is the meter's time, not the model's
            with phase("prefill"):
                start = now(dev)
                out = run(input_ids=state["prompt"], use_cache=True, **state["last_logits"])
                token = out.logits[:, -1].argmax(-1, keepdim=True)
                last = now(dev)  # the first token is on the host: streamed
            state["ttft_s"].append(last - start)
            with phase("decode"):
                last = now(dev)
                for _ in range(p["new_tokens"] - 1):
                    out = run(input_ids=token, use_cache=True, **{state["cache_arg"]: _cache(out)})
                    token = out.logits[:, -1].argmax(-1, keepdim=True)
                    t = now(dev)
                    state["token_s"].append(t - last)
                    last = t

    def quality_changes(self, params: Mapping[str, Any]) -> bool:
        return False

    def metrics(self, state: dict[str, Any]) -> dict[str, float]:
        from greenbench_workloads._models import percentiles_ms

        out = {**percentiles_ms("ttft", state["ttft_s"]),
               **percentiles_ms("inter_token", state["token_s"])}
        state["ttft_s"], state["token_s"] = [], []
        return out


def _cache(out: Any) -> Any:
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


class Queries(_HF):
    """A fixed query set, ``queries`` long, processed ``batch`` at a time, cycling."""

    unit = "queries"
    params = (_MODEL,
              Param("batch", int, 8, minimum=1, help="queries per forward pass"),
              Param("seq_len", int, 128, minimum=1, help="tokens per text query"),
              Param("queries", int, 64, minimum=1, help="size of the fixed query set"),
              *COMMON)

    def units_per_step(self, params: Mapping[str, Any]) -> float:
        return float(params["batch"])

    def quality_changes(self, params: Mapping[str, Any]) -> bool:
        return False

    def setup(self, params: Mapping[str, Any], device: str) -> dict[str, Any]:
        from greenbench_workloads import _hf

        state = self._build(params, device)
        cfg, n, dev = state["config"], params["queries"], state["device"]
        text = _is_image(cfg) is False
        inputs: dict[str, Any] = {}
        if text or cfg.model_type == "clip":
            length = min(params["seq_len"], getattr(getattr(cfg, "text_config", cfg),
                                                    "max_position_embeddings", 10**9))
            inputs["input_ids"] = _hf.token_ids(params, cfg, length, n).to(dev)
        if not text or cfg.model_type == "clip":
            inputs["pixel_values"] = _pixels(cfg, n, params["seed"]).to(dev)
        state["inputs"], state["at"] = inputs, 0
        return state

    def step(self, state: dict[str, Any]) -> None:
        import torch

        from greenbench_workloads._torch import autocast

        p = state["params"]
        at, n = state["at"], p["queries"]
        index = [(at + i) % n for i in range(p["batch"])]
        state["at"] = (at + p["batch"]) % n
        batch = {k: v[index] for k, v in state["inputs"].items()}
        with torch.inference_mode(), autocast(p["precision"], state["device"]):
            state["last"] = self._forward(state, batch)

    def _forward(self, state: dict[str, Any], batch: dict[str, Any]) -> Any:
        return state["run"](**batch).logits


class Classify(Queries):
    name = "hf-classify"
    task = "classify"
    description = ("Text or image classification over a fixed query set (AI Energy Score "
                   "style): energy per query")

    def _task(self, cfg: Any) -> str:
        return "classify-image" if _is_image(cfg) else "classify"


class Embed(Queries):
    name = "hf-embed"
    task = "embed"
    description = ("Embeddings over a fixed query set (mean-pooled hidden states; image and "
                   "text embeddings for CLIP): energy per query")

    def _forward(self, state: dict[str, Any], batch: dict[str, Any]) -> Any:
        out = state["run"](**batch)
        if state["config"].model_type == "clip":
            return out.image_embeds, out.text_embeds
        return out.last_hidden_state.mean(dim=1)


class Train(_HF):
    name = "hf-train"
    task = "train"
    unit = "samples"
    quality_metric = "loss"
    description = ("Training steps with AdamW (causal LM for decoders, classification "
                   "otherwise): energy per sample and, with tokens_per_sample, per token")
    params = (_MODEL,
              Param("batch", int, 8, minimum=1, help="samples per optimizer step"),
              Param("seq_len", int, 128, minimum=1, help="tokens per text sample"),
              Param("lr", float, 1e-3, minimum=0.0, help="AdamW learning rate"),
              *COMMON)

    def units_per_step(self, params: Mapping[str, Any]) -> float:
        return float(params["batch"])

    def _task(self, cfg: Any) -> str:
        import transformers

        causal = type(cfg) in transformers.AutoModelForCausalLM._model_mapping
        return "train" if causal else ("classify-image" if _is_image(cfg) else "classify")

    def setup(self, params: Mapping[str, Any], device: str) -> dict[str, Any]:
        import torch

        from greenbench_workloads import _hf

        state = self._build(params, device, train=True)
        cfg, dev, b = state["config"], state["device"], params["batch"]
        state["causal"] = self._task(cfg) == "train"
        g = torch.Generator().manual_seed(params["seed"] + 1)
        if _is_image(cfg):
            state["batch"] = {"pixel_values": _pixels(cfg, b, params["seed"]).to(dev),
                              "labels": torch.randint(0, cfg.num_labels, (b,), generator=g)
                              .to(dev)}
            state["tokens"] = 0.0
        else:
            ids = _hf.token_ids(params, cfg, params["seq_len"], b).to(dev)
            labels = ids if state["causal"] else torch.randint(0, cfg.num_labels, (b,),
                                                               generator=g).to(dev)
            state["batch"] = {"input_ids": ids, "labels": labels}
            state["tokens"] = float(params["seq_len"])
        state["optimizer"] = torch.optim.AdamW(state["model"].parameters(), lr=params["lr"])
        return state

    def step(self, state: dict[str, Any]) -> None:
        from greenbench_workloads._torch import autocast

        with autocast(state["params"]["precision"], state["device"]):
            loss = state["run"](**state["batch"]).loss
        loss.backward()
        state["optimizer"].step()
        state["optimizer"].zero_grad(set_to_none=True)
        state["loss"] = loss.detach()

    def quality(self, state: dict[str, Any]) -> dict[str, float]:
        return {"loss": float(state["loss"])} if "loss" in state else {}

    def metrics(self, state: dict[str, Any]) -> dict[str, float]:
        return {"tokens_per_sample": state["tokens"]}


WORKLOADS = [Generate(), Classify(), Embed(), Train()]
SUITES = [Suite("hf", "Hugging Face architectures from the shipped configs: generation at two "
                "GPT-2 sizes and two batch sizes, classification, embedding, training and "
                "image generation",
                [("hf-generate", {"model": ["gpt2-tiny", "gpt2-mini"], "batch": [1, 4]}),
                 ("hf-classify", {"model": ["bert-tiny", "vit-tiny"]}),
                 ("hf-embed", {"model": ["bert-tiny", "clip-tiny"]}),
                 ("hf-train", {"model": ["gpt2-tiny", "bert-tiny"]}),
                 ("hf-image", {"model": ["unet-tiny"]})])]
