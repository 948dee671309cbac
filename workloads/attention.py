"""``attention``: one multi-head attention layer, with the mechanism as the variant.

Mechanisms (see :mod:`workloads._attention` for the maths and papers): ``softmax`` (written
out, quadratic), ``sdpa`` (torch's fused kernel, quadratic), ``linformer`` (sequence projected
to ``k``; Wang et al. 2020) and ``performer`` (FAVOR+ with ``m`` random features; Choromanski
et al. 2020). The unit is the token (one step = ``batch x seq_len`` tokens), so J/token is
flat in the sequence length for the linear mechanisms and grows with it for the quadratic
ones -- the shape the ``attention-scaling`` suite draws.

Modes: ``infer`` runs the layer under ``torch.inference_mode``; ``train`` runs forward, an
MSE loss against a fixed teacher layer's output, backward and an AdamW step.

Quality (``quality()``, per repeat), on a held-out batch and always against exact fp32
softmax attention with the *same* projection weights:

* ``attn_rel_error`` -- ||(out - b) - (ref - b)|| / ||ref - b||, the layer's output *without
  its output-projection bias* b: the error of W_o times the attention's mix of values, where
  the approximation happens, plus the precision's rounding (0 for fp32 softmax; ~1e-7 for
  sdpa). The bias is the same on both sides and, at PyTorch's default initialisation, makes
  up most of the layer output's norm, so an error relative to the whole output (bias
  included) understated the attention's error by 1.6-2x.
* ``loss`` (train) -- the MSE to the teacher, and ``loss_ref`` the reference's MSE. Every
  mechanism trains toward the same teacher on the same inputs: weights, teacher, inputs and
  Performer's random features each come from a generator of their own, seeded from ``seed``
  (:func:`workloads._torch.stream_seed`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from greenbench.workload import Param, Suite, Workload
from greenbench_workloads._variants import (
    K_PARAM,
    M_PARAM,
    MECHANISM_PARAM,
    MECHANISMS,
    MODES,
    PRECISIONS,
    check_attention_params,
    check_params,
    check_variants,
    variant_skip_reason,
)


@dataclass
class _State:
    """What setup builds; tensors are (batch, seq_len, d_model) on the device."""

    device: Any
    mode: str
    precision: str
    layer: Any  # the variant being measured
    reference: Any  # fp32 softmax attention sharing the layer's projection weights
    x: Any
    target: Any
    x_eval: Any
    target_eval: Any
    ref_out: Any = None  # reference output on x_eval (infer: weights never change)
    optimizer: Any = None
    scaler: Any = None


class AttentionWorkload(Workload):
    name = "attention"
    requires = ("torch",)
    description = "One multi-head attention layer: softmax, sdpa, Linformer or Performer"
    unit = "tokens"
    quality_metric = "attn_rel_error"
    quality_higher_is_better = False
    params = (
        MECHANISM_PARAM,
        Param("seq_len", int, 512, minimum=1, help="sequence length n, tokens"),
        Param("d_model", int, 256, minimum=1, help="model width (divisible by heads)"),
        Param("heads", int, 4, minimum=1, help="attention heads"),
        Param("batch", int, 2, minimum=1, help="sequences per step"),
        K_PARAM,
        M_PARAM,
        Param("causal", bool, False, help="mask future positions (not with linformer)"),
        Param("mode", str, "infer", choices=MODES,
              help="infer: forward only; train: forward, backward, AdamW step"),
        Param("precision", str, "fp32", choices=PRECISIONS, variant=True,
              help="fp32, bf16/fp16 autocast, int8 dynamic quantisation (CPU inference)"),
        Param("seed", int, 0, help="seed for weights and inputs (same across variants)"),
    )

    def units_per_step(self, params: Mapping[str, Any]) -> float:
        return float(params["batch"] * params["seq_len"])

    def check(self, params: Mapping[str, Any], device: str) -> None:
        check_params(self.params, params)
        check_attention_params(
            params["mechanism"], params["seq_len"], params["k"], params["m"],
            d_model=params["d_model"], heads=params["heads"], causal=params["causal"],
        )
        check_variants(params["precision"], "none", 1.0, params["mode"])

    def skip_reason(self, params: Mapping[str, Any], device: str) -> str | None:
        return variant_skip_reason(device, precision=params["precision"])

    def setup(self, params: Mapping[str, Any], device: str) -> _State:
        import torch

        from greenbench_workloads import _torch as T
        from greenbench_workloads._attention import make_attention

        dev = T.torch_device(device)
        seed, mechanism, causal = params["seed"], params["mechanism"], params["causal"]
        n, d, h = params["seq_len"], params["d_model"], params["heads"]
        # each source of randomness from its own stream of the seed, so that every mechanism
        # gets the same projection weights, teacher and inputs
        with T.own_rng(seed, "weights"):
            layer = make_attention(mechanism, d, h, n, k=params["k"], m=params["m"],
                                   causal=causal, generator=T.generator(seed, "features"))
            reference = make_attention("softmax", d, h, n, causal=causal)
        reference.load_state_dict(layer.state_dict(), strict=False)
        with T.own_rng(seed, "teacher"):
            teacher = make_attention("softmax", d, h, n, causal=causal)
        gen = T.generator(seed, "inputs")

        shape = (params["batch"], n, d)
        x, x_eval = (torch.randn(shape, generator=gen) for _ in range(2))
        with torch.no_grad():
            target, target_eval = teacher(x), teacher(x_eval)
            # unit variance, so a loss of 1 means "no better than predicting zeros"
            scale = target.std()
            target, target_eval = target / scale, target_eval / scale

        layer, reference = layer.to(dev), reference.to(dev).eval()
        state = _State(dev, params["mode"], params["precision"], layer, reference,
                       x.to(dev), target.to(dev), x_eval.to(dev), target_eval.to(dev))
        if state.mode == "infer":
            with torch.inference_mode():
                state.ref_out = reference(state.x_eval)
            if state.precision == "int8":
                state.layer = T.quantize_int8(layer.eval())
            state.layer.eval()
        else:
            state.optimizer = torch.optim.AdamW(layer.parameters(), lr=1e-3)
            state.scaler = T.grad_scaler(state.precision, dev)
        return state

    def step(self, state: _State) -> None:
        import torch

        from greenbench_workloads import _torch as T

        if state.mode == "infer":
            with torch.inference_mode(), T.autocast(state.precision, state.device):
                state.layer(state.x)
        else:
            _train_step(state)
        T.sync(state.device)

    def quality_changes(self, params: Mapping[str, Any]) -> bool:
        return bool(params["mode"] == "train")  # inference leaves the weights as they are

    def quality(self, state: _State) -> dict[str, float]:
        import torch
        import torch.nn.functional as F

        from greenbench_workloads import _torch as T
        from greenbench_workloads._attention import output_bias

        with torch.no_grad():
            with T.autocast(state.precision, state.device):
                out = state.layer(state.x_eval)
            if state.mode == "infer":
                ref = state.ref_out
            else:
                # training moved the weights: compare against softmax with the current ones
                state.reference.load_state_dict(state.layer.state_dict(), strict=False)
                ref = state.reference(state.x_eval)
            bias = output_bias(state.reference)
            figures = {"attn_rel_error": T.relative_error(out.float() - bias, ref - bias)}
            if state.mode == "train":
                figures["loss"] = float(F.mse_loss(out.float(), state.target_eval))
                figures["loss_ref"] = float(F.mse_loss(ref, state.target_eval))
            return figures

    def teardown(self, state: _State) -> None:
        import torch

        if state.device.type == "cuda":
            torch.cuda.empty_cache()


def _train_step(state: _State) -> None:
    import torch.nn.functional as F

    from greenbench_workloads import _torch as T

    state.optimizer.zero_grad(set_to_none=True)
    with T.autocast(state.precision, state.device):
        out = state.layer(state.x)
    loss = F.mse_loss(out.float(), state.target)
    state.scaler.scale(loss).backward()
    state.scaler.step(state.optimizer)
    state.scaler.update()


WORKLOADS = [AttentionWorkload()]

#: this module's case in the ``quick`` suite
QUICK = ("attention", {"mechanism": ["softmax"]})

SUITES = [
    Suite(
        "attention-scaling",
        "Softmax, sdpa, Linformer and Performer attention over sequence lengths 256-4096",
        [("attention", {
            "mechanism": list(MECHANISMS),
            "seq_len": [256, 512, 1024, 2048, 4096],
            "batch": [1],
        })],
    ),
]
