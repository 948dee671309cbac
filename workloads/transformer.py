"""``transformer``: a small transformer language model, trained or run, with efficiency variants.

Sizes are the BERT miniatures of Turc et al. 2019 ("Well-Read Students Learn Better",
arXiv 1908.08962) up to BERT-base: tiny 2x128 (layers x width), mini 4x256, small 4x512,
medium 8x512, base 12x768, heads = width / 64, feed-forward width 4x. The model is a pre-LN
decoder (``causal=true``, next-token loss) or encoder (``causal=false``, masked-token loss;
required by Linformer) over tokens from a random Markov chain (:mod:`workloads._lm`).
Unit: tokens (one step = ``batch x seq_len`` tokens).

Variants, each against the fp32 dense eager reference with exact softmax attention and the
same weights and inputs (weights, Performer's random features and data each come from their
own stream of ``seed``, so every variant, mechanism included, starts from the same weights):

* ``attention`` -- softmax, sdpa, linformer (``k``), performer (``m``); see
  :mod:`workloads._attention`.
* ``precision`` -- fp32; bf16 / fp16 autocast (fp16 GPU only, with loss scaling when
  training); int8 dynamic quantisation of all linear layers (CPU inference).
* ``sparsity`` -- the feed-forward weights (fc1, fc2 of every block) magnitude-pruned to
  ``density`` and run dense (``masked``; the mask is re-applied after every optimizer step) or
  with sparse CSR kernels (``sparse``, inference), or 2:4-pruned and run with semi-structured
  kernels (``2:4``, inference, GPU, ``density`` must be 0.5). ``density`` is ignored when
  ``sparsity=none``.
* ``compile`` -- eager, or ``torch.compile`` (compiled in setup, so not measured).

``quality()`` reports, on a held-out batch: ``rel_error`` -- ||logits - ref|| / ||ref||, the
model's output (the head has no bias) --, ``attn_rel_error`` -- the attention layers' own error
on the inputs they received, without their output bias
(:func:`workloads._attention.attention_rel_error`): the residual stream carries the
embeddings past every attention layer, so the logits' error is a fraction of the attention's
-- and ``loss`` / ``loss_ref`` -- the cross-entropy (nats per scored token) of the variant and
the reference. In ``infer`` the reference is the unpruned, unquantised fp32 eager model with
softmax attention, so the figures show what the attention approximation, pruning,
quantisation or 16-bit arithmetic cost. In ``train`` the weights move, so the reference is
an fp32 eager softmax copy of the *current* (already pruned) weights: the errors isolate the
mechanism and the arithmetic, and the loss depends on how many steps ran (compare training
variants at equal steps, or with the train-to-target workload).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from greenbench.errors import UserError
from greenbench.workload import Param, Suite, Workload
from greenbench_workloads._variants import (
    MECHANISMS,
    MODES,
    PRECISIONS,
    SPARSITIES,
    check_attention_params,
    check_params,
    check_variants,
    variant_skip_reason,
)

#: size -> (layers, d_model, heads); Turc et al. 2019's miniatures and BERT-base
SIZES = {
    "tiny": (2, 128, 2),
    "mini": (4, 256, 4),
    "small": (4, 512, 8),
    "medium": (8, 512, 8),
    "base": (12, 768, 12),
}
_POOL = 4  # batches cycled through by step(), prepared in setup


@dataclass
class _State:
    device: Any
    params: dict[str, Any]
    model: Any  # the variant (pruned / quantised / sparse modules), uncompiled
    run: Any  # what step() calls: model, or torch.compile(model)
    reference: Any  # fp32 dense eager model with softmax attention, same weights
    batches: list[Any]
    eval_batch: Any
    masks: list[tuple[Any, Any]] = field(default_factory=list)  # (weight, mask) to re-apply
    ref_logits: Any = None
    ref_loss: float | None = None
    optimizer: Any = None
    scaler: Any = None
    index: int = 0


class TransformerWorkload(Workload):
    name = "transformer"
    requires = ("torch",)
    description = "Small transformer language model (tiny to base), train or infer"
    unit = "tokens"
    quality_metric = "rel_error"
    quality_higher_is_better = False
    params = (
        Param("size", str, "tiny", choices=tuple(SIZES),
              help="tiny 2x128, mini 4x256, small 4x512, medium 8x512, base 12x768"),
        Param("seq_len", int, 128, minimum=2, help="tokens per sequence"),
        Param("batch", int, 4, minimum=1, help="sequences per step"),
        Param("vocab", int, 2048, minimum=8, help="vocabulary size"),
        Param("mode", str, "train", choices=MODES,
              help="train: forward, backward, AdamW step; infer: forward only"),
        Param("attention", str, "sdpa", choices=MECHANISMS, variant=True,
              help="attention mechanism"),
        Param("k", int, 64, minimum=1, help="linformer: projected length (<= seq_len)"),
        Param("m", int, 64, minimum=1, help="performer: number of random features"),
        Param("causal", bool, True,
              help="true: next-token decoder; false: masked-token encoder (linformer)"),
        Param("precision", str, "fp32", choices=PRECISIONS, variant=True,
              help="fp32, bf16/fp16 autocast, int8 dynamic quantisation (CPU inference)"),
        Param("sparsity", str, "none", choices=SPARSITIES, variant=True,
              help="feed-forward pruning: none, masked (dense), sparse (CSR), 2:4 (GPU)"),
        Param("density", float, 0.5, minimum=0.0, maximum=1.0,
              help="fraction of feed-forward weights kept, in (0, 1]"),
        Param("compile", bool, False, variant=True, help="torch.compile the model"),
        Param("seed", int, 0, help="seed for weights and data (same across variants)"),
    )

    def units_per_step(self, params: Mapping[str, Any]) -> float:
        return float(params["batch"] * params["seq_len"])

    def check(self, params: Mapping[str, Any], device: str) -> None:
        check_params(self.params, params)
        if params["size"] not in SIZES:
            raise UserError(f"size {params['size']!r} is unknown ({', '.join(SIZES)})")
        _, d_model, heads = SIZES[params["size"]]
        check_attention_params(
            params["attention"], params["seq_len"], params["k"], params["m"],
            d_model=d_model, heads=heads, causal=params["causal"],
        )
        check_variants(params["precision"], params["sparsity"], params["density"],
                       params["mode"])

    def skip_reason(self, params: Mapping[str, Any], device: str) -> str | None:
        return variant_skip_reason(device, precision=params["precision"],
                                   sparsity=params["sparsity"], compile=params["compile"])

    def setup(self, params: Mapping[str, Any], device: str) -> _State:
        return _build(dict(params), device)

    def step(self, state: _State) -> None:
        _step(state)

    def quality_changes(self, params: Mapping[str, Any]) -> bool:
        return bool(params["mode"] == "train")  # inference leaves the weights as they are

    def quality(self, state: _State) -> dict[str, float]:
        import torch

        from greenbench_workloads import _lm
        from greenbench_workloads import _torch as T

        inputs, targets = state.eval_batch
        infer = state.params["mode"] == "infer"
        # infer: the measured (possibly compiled) model in step()'s grad mode. train: the eager
        # module, because a compiled one would be compiled again for no-grad evaluation
        model = state.run if infer else state.model
        with torch.inference_mode() if infer else torch.no_grad():
            with T.autocast(state.params["precision"], state.device):
                logits = model(inputs)
            loss = float(_lm.lm_loss(logits, targets))
            if infer:
                ref_logits, ref_loss = state.ref_logits, state.ref_loss
            else:
                state.reference.load_state_dict(state.model.state_dict(), strict=False)
                ref_logits = state.reference(inputs)
                ref_loss = float(_lm.lm_loss(ref_logits, targets))
            attn_error = _attention_error(state, inputs)
        return {
            "rel_error": T.relative_error(logits, ref_logits),
            "attn_rel_error": attn_error,
            "loss": loss,
            "loss_ref": float(ref_loss),
        }

    def teardown(self, state: _State) -> None:
        import torch

        if state.device.type == "cuda":
            torch.cuda.empty_cache()


def _attention_error(state: _State, inputs: Any) -> float:
    """The attention layers' own error (see :func:`workloads._attention.attention_rel_error`),
    run through the eager model: hooks are not to be added to a compiled one."""
    from greenbench_workloads import _torch as T
    from greenbench_workloads._attention import attention_rel_error

    def forward() -> None:
        with T.autocast(state.params["precision"], state.device):
            state.model(inputs)

    pairs = zip(state.model.attentions(), state.reference.attentions(), strict=True)
    return attention_rel_error(pairs, forward)


# -- setup, top-down ---------------------------------------------------------------------------


def _build(p: dict[str, Any], device: str) -> _State:
    """Model, reference and data on the device, with the variant applied and warmed up."""
    import torch

    from greenbench_workloads import _lm
    from greenbench_workloads import _torch as T

    dev = T.torch_device(device)
    layers, d_model, heads = SIZES[p["size"]]
    # weights, Performer's features and data each from their own stream of the seed: every
    # variant (attention mechanism included) gets the same weights and the same tokens
    with T.own_rng(p["seed"], "weights"):
        model = _lm.LanguageModel(
            p["vocab"], p["seq_len"], d_model, layers, heads, p["attention"],
            k=p["k"], m=p["m"], causal=p["causal"],
            generator=T.generator(p["seed"], "features"),
        ).to(dev)
        # the exact model: softmax attention (with the same mask), the same weights by name
        reference = _lm.LanguageModel(
            p["vocab"], p["seq_len"], d_model, layers, heads, "softmax", causal=p["causal"],
        ).to(dev).eval()
    reference.load_state_dict(model.state_dict(), strict=False)
    batches = [
        (x.to(dev), y.to(dev))
        for x, y in _lm.markov_batches(p["vocab"], p["seq_len"], p["batch"], _POOL + 1,
                                       causal=p["causal"],
                                       generator=T.generator(p["seed"], "data"))
    ]
    state = _State(dev, p, model, model, reference, batches[:_POOL], batches[_POOL])

    if p["mode"] == "infer":
        with torch.inference_mode():
            state.ref_logits = reference(state.eval_batch[0])
            state.ref_loss = float(_lm.lm_loss(state.ref_logits, state.eval_batch[1]))
    state.masks = _prune(model, p)
    if p["mode"] == "infer":
        state.model = _inference_variant(model, p).eval()
    else:
        state.optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        state.scaler = T.grad_scaler(p["precision"], dev)
    state.run = torch.compile(state.model) if p["compile"] else state.model
    # one step now: torch.compile compiles here, not in the measured steps; every variant
    # takes it so training variants stay step-for-step comparable
    _step(state)
    state.index = 0
    return state


def _prune(model: Any, p: dict[str, Any]) -> list[tuple[Any, Any]]:
    """Prune every feed-forward weight in place; return (weight, mask) pairs."""
    if p["sparsity"] == "none":
        return []
    from greenbench_workloads import _torch as T

    masks = []
    for ffn in model.feed_forwards():
        for linear in (ffn.fc1, ffn.fc2):
            masks.append((linear.weight, T.prune_(linear, p["sparsity"], p["density"])))
    return masks


def _inference_variant(model: Any, p: dict[str, Any]) -> Any:
    """Swap in sparse executors (sparse, 2:4) or quantise (int8); the model is pruned already."""
    from greenbench_workloads import _torch as T

    if p["sparsity"] in ("sparse", "2:4"):
        for ffn in model.feed_forwards():
            ffn.fc1 = T.sparse_executor(ffn.fc1, p["sparsity"], p["precision"])
            ffn.fc2 = T.sparse_executor(ffn.fc2, p["sparsity"], p["precision"])
    if p["precision"] == "int8":
        model = T.quantize_int8(model.eval())
    return model


# -- steps -------------------------------------------------------------------------------------


def _step(state: _State) -> None:
    """One batch from the pool: inference or a training step, then wait for the device."""
    from greenbench_workloads import _torch as T

    inputs, targets = state.batches[state.index % len(state.batches)]
    state.index += 1
    if state.params["mode"] == "infer":
        _infer_step(state, inputs)
    else:
        _train_step(state, inputs, targets)
    T.sync(state.device)


def _infer_step(state: _State, inputs: Any) -> None:
    import torch

    from greenbench_workloads import _torch as T

    with torch.inference_mode(), T.autocast(state.params["precision"], state.device):
        state.run(inputs)


def _train_step(state: _State, inputs: Any, targets: Any) -> None:
    import torch

    from greenbench_workloads import _lm
    from greenbench_workloads import _torch as T

    state.optimizer.zero_grad(set_to_none=True)
    with T.autocast(state.params["precision"], state.device):
        loss = _lm.lm_loss(state.run(inputs), targets)
    state.scaler.scale(loss).backward()
    state.scaler.step(state.optimizer)
    state.scaler.update()
    if state.masks:  # keep pruned weights at zero (the optimizer moved them)
        with torch.no_grad():
            for weight, mask in state.masks:
                weight.mul_(mask)


WORKLOADS = [TransformerWorkload()]

_FULL = ["fp32", "bf16", "fp16", "int8"]
_NO_INT8 = ["fp32", "bf16", "fp16"]
#: this module's case in the ``quick`` suite
QUICK = ("transformer", {"size": ["tiny"], "seq_len": [64], "mode": ["train"]})

SUITES = [
    Suite(
        "efficiency",
        "Transformer precision x sparsity x compile grid (inference and training)",
        [
            # inference: every precision with dense and masked weights, eager and compiled
            ("transformer", {"mode": ["infer"], "precision": _FULL,
                             "sparsity": ["none", "masked"], "compile": [False, True]}),
            # sparse kernels (no int8 form): CSR at the default density, 2:4 on GPUs
            ("transformer", {"mode": ["infer"], "precision": _NO_INT8,
                             "sparsity": ["sparse", "2:4"], "compile": [False, True]}),
            # CSR pays only at low density (see sparse-crossover): masked vs sparse at 0.1
            ("transformer", {"mode": ["infer"], "sparsity": ["masked", "sparse"],
                             "density": [0.1]}),
            # training: int8 and sparse kernels are inference-only
            ("transformer", {"mode": ["train"], "precision": _NO_INT8,
                             "sparsity": ["none", "masked"], "compile": [False, True]}),
        ],
    ),
]
