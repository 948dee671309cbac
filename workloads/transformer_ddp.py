"""``transformer-ddp``: the transformer workload trained with DistributedDataParallel on every
rank of a torch.distributed job (``greenbench run transformer-ddp --nproc-per-node N``).

The model, its variants and its quality figures are the ``transformer`` workload's
(:mod:`workloads.transformer`), in training. Every rank builds the same weights from the
seed (DDP also broadcasts rank 0's at the start) and trains on its own stream of the Markov
data, so one step is N batches and one all-reduce of the gradients over the job's backend
(gloo on CPUs, NCCL on GPUs). Unit: tokens; ``units_per_step`` is one rank's share
(``batch x seq_len``), and greenbench counts the job's (times the world size).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from greenbench.errors import UserError
from greenbench_workloads.transformer import TransformerWorkload, _build, _State, _step

#: parameters of ``transformer`` that do not apply: DDP trains (mode), and compiling a
#: module under DDP is a study of its own
_LEFT_OUT = ("mode", "compile")


class TransformerDdpWorkload(TransformerWorkload):
    name = "transformer-ddp"
    description = "Small transformer language model trained with DDP on every rank"
    distributed = True
    params = tuple(p for p in TransformerWorkload.params if p.name not in _LEFT_OUT)

    def check(self, params: Mapping[str, Any], device: str) -> None:
        super().check(_as_transformer(params), device)

    def skip_reason(self, params: Mapping[str, Any], device: str) -> str | None:
        return super().skip_reason(_as_transformer(params), device)

    def quality_changes(self, params: Mapping[str, Any]) -> bool:
        return True  # training moves the weights

    def setup(self, params: Mapping[str, Any], device: str) -> _State:
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel

        from greenbench_workloads import _lm
        from greenbench_workloads import _torch as T

        if not dist.is_available() or not dist.is_initialized():
            raise UserError("transformer-ddp runs on the ranks of a job: greenbench run "
                            "transformer-ddp --nproc-per-node N")
        p = _as_transformer(params)
        state = _build(p, device)  # the same weights on every rank, one step taken
        rank = dist.get_rank()
        state.batches = [
            (x.to(state.device), y.to(state.device))
            for x, y in _lm.markov_batches(p["vocab"], p["seq_len"], p["batch"],
                                           len(state.batches), causal=p["causal"],
                                           generator=T.generator(p["seed"], f"data:{rank}"))]
        ids = [state.device.index] if state.device.type == "cuda" else None
        state.run = DistributedDataParallel(state.model, device_ids=ids)
        _step(state)  # DDP's first step builds its buckets: not in the measured ones
        state.index = 0
        return state


def _as_transformer(params: Mapping[str, Any]) -> dict[str, Any]:
    return {**params, "mode": "train", "compile": False}


WORKLOADS = [TransformerDdpWorkload()]
