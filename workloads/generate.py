"""``generate``: autoregressive decoding of a chat reply with a KV cache.

One step answers one batch of prompts: a prefill pass over the prompt produces the first token,
then ``output_len - 1`` decode passes produce one token each. Prefill and decode run inside the
meter's phases "prefill" and "decode", so their energies are reported separately. The model is a
small randomly initialised decoder (no downloaded weights); greedy decoding makes the tokens
deterministic, so the cache can be checked against recomputing the whole sequence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from greenbench.errors import UserError
from greenbench.workload import Param, Suite, Workload
from greenbench_workloads._variants import check_params

SUITE_DESCRIPTION = (
    "Application workloads at small sizes: chat generation, long documents, image-text, "
    "diffusion, few-shot fine-tuning, multilingual text and train-to-target"
)


class Generate(Workload):
    name = "generate"
    requires = ("torch",)
    description = "Autoregressive decoding with a KV cache: energy per generated token"
    unit = "tokens"
    params = (
        Param("prompt_len", int, 32, minimum=1, help="prompt tokens per sequence"),
        Param("output_len", int, 16, minimum=1, help="tokens generated per sequence"),
        Param("batch", int, 1, minimum=1, help="sequences decoded together"),
        Param("d_model", int, 64, minimum=8, help="model width"),
        Param("layers", int, 2, minimum=1, help="transformer blocks"),
        Param("heads", int, 4, minimum=1, help="attention heads (must divide d_model)"),
        Param("vocab", int, 512, minimum=2, help="vocabulary size"),
        Param("kv_cache", bool, True, variant=True,
              help="keep keys/values of past positions (false: recompute the whole sequence)"),
        Param("seed", int, 0, help="seed of the weights and prompts"),
    )

    def units_per_step(self, params: Mapping[str, Any]) -> float:
        return float(params["batch"] * params["output_len"])

    def check(self, params: Mapping[str, Any], device: str) -> None:
        if params["output_len"] < 1:
            raise UserError(
                f"generate: output_len must be at least 1 (got {params['output_len']}); "
                "nothing would be generated"
            )
        if params["prompt_len"] < 1:
            raise UserError(f"generate: prompt_len must be at least 1 (got {params['prompt_len']})")
        check_params(self.params, params)
        if params["d_model"] % params["heads"]:
            raise UserError(
                f"generate: d_model {params['d_model']} is not divisible by heads {params['heads']}"
            )

    def setup(self, params: Mapping[str, Any], device: str) -> dict[str, Any]:
        import torch

        from greenbench_workloads import _models as m
        from greenbench_workloads._torch import seed_all, torch_device

        dev = torch_device(device)
        seed_all(params["seed"])
        total = params["prompt_len"] + params["output_len"]
        model = m.TinyLM(params["vocab"], params["d_model"], params["layers"], params["heads"],
                         max_len=total).to(dev).eval()
        prompt = torch.randint(0, params["vocab"], (params["batch"], params["prompt_len"]),
                               device=dev)
        return {"params": dict(params), "device": dev, "model": model, "prompt": prompt,
                "ttft_s": [], "token_s": [], "tokens": None}

    def step(self, state: dict[str, Any]) -> None:
        import torch

        with torch.inference_mode():
            state["tokens"] = _decode(state)

    def metrics(self, state: dict[str, Any]) -> dict[str, float]:
        """Time to first token and per-token decode latency percentiles of the last repeat."""
        from greenbench_workloads._models import percentiles_ms

        out = {**percentiles_ms("ttft", state["ttft_s"]),
               **percentiles_ms("token_latency", state["token_s"])}
        state["ttft_s"], state["token_s"] = [], []
        return out


def _decode(state: dict[str, Any]) -> Any:
    """Greedy-decode the prompts once; record latencies; return the tokens [b, output_len]."""
    import torch

    from greenbench_workloads._models import now, phase

    model, prompt, dev = state["model"], state["prompt"], state["device"]
    p = state["params"]
    cache = model.new_cache(p["batch"]) if p["kv_cache"] else None
    start = now(dev)
    with phase("prefill"):
        token = model(prompt, cache)[:, -1].argmax(-1, keepdim=True)
        # a reply is streamed: the first token must be on the host, hence the sync in now()
        last = now(dev)
    state["ttft_s"].append(last - start)
    out = [token]
    seq = prompt
    with phase("decode"):
        for _ in range(p["output_len"] - 1):
            if cache is not None:
                logits = model(token, cache)
            else:
                seq = torch.cat([seq, token], dim=1)
                logits = model(seq)
            token = logits[:, -1].argmax(-1, keepdim=True)
            out.append(token)
            t = now(dev)
            state["token_s"].append(t - last)
            last = t
    return torch.cat(out, dim=1)


WORKLOADS = [Generate()]
SUITES = [Suite("applications", SUITE_DESCRIPTION, [("generate", {"kv_cache": [True, False]})])]
