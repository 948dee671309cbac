"""``long-document``: classify documents thousands of tokens long with each attention mechanism.

A small transformer classifier (token and position embeddings, ``layers`` pre-norm blocks whose
attention comes from :func:`workloads._attention.make_attention`, mean pooling, a linear head)
reads ``batch`` documents of ``seq_len`` tokens per step, in inference. The mechanism is the
variant: exact softmax and sdpa are quadratic in the document length, Linformer and Performer
linear, which is where their energy per document parts ways.

The weights are random (no downloads) and shared by name with an exact-softmax reference built
from the same seed, so quality() compares the mechanism with exact attention on the same
documents: ``logit_rel_error`` -- the relative error of the logits without the head's bias
(the same on both sides; with it the figure was diluted by the bias's share of the logits) --,
``attn_rel_error`` -- the attention layers' own error on the inputs they received
(:func:`workloads._attention.attention_rel_error`), before mean pooling over thousands of
tokens averages much of it away -- and ``class_agreement``. Documents are Zipf-distributed
token ids, closer to the skewed token statistics of text than uniform noise. Weights,
Performer's random features and documents each come from their own stream of ``seed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from greenbench.errors import UserError
from greenbench.workload import Param, Suite, Workload
from greenbench_workloads._variants import (
    K_PARAM,
    M_PARAM,
    MECHANISM_PARAM,
    MECHANISMS,
    check_attention_params,
    check_params,
)
from greenbench_workloads.generate import SUITE_DESCRIPTION


class LongDocument(Workload):
    name = "long-document"
    requires = ("torch",)
    description = "Classify documents thousands of tokens long per attention mechanism"
    unit = "documents"
    quality_metric = "logit_rel_error"
    quality_higher_is_better = False
    params = (
        MECHANISM_PARAM,
        Param("seq_len", int, 2048, minimum=1, help="tokens per document"),
        Param("batch", int, 1, minimum=1, help="documents per step"),
        Param("d_model", int, 64, minimum=1, help="model width (divisible by heads)"),
        Param("heads", int, 2, minimum=1, help="attention heads"),
        Param("layers", int, 1, minimum=1, help="transformer blocks"),
        K_PARAM,
        M_PARAM,
        Param("vocab", int, 8192, minimum=2, help="vocabulary size"),
        Param("classes", int, 4, minimum=2, help="document classes"),
        Param("seed", int, 0, help="seed of the weights and documents (same for every variant)"),
    )

    def units_per_step(self, params: Mapping[str, Any]) -> float:
        return float(params["batch"])

    def check(self, params: Mapping[str, Any], device: str) -> None:
        check_params(self.params, params)
        if params["seq_len"] < 1:
            raise UserError(f"long-document: seq_len must be at least 1 (got {params['seq_len']})")
        check_attention_params(params["mechanism"], params["seq_len"], params["k"], params["m"],
                               d_model=params["d_model"], heads=params["heads"])

    def setup(self, params: Mapping[str, Any], device: str) -> dict[str, Any]:
        import torch

        from greenbench_workloads._torch import torch_device

        p = dict(params)
        dev = torch_device(device)
        reference = _classifier(p, "softmax")
        model = _classifier(p, p["mechanism"])
        # shared frame (embeddings, projections, MLPs, head) copied from the reference by name
        model.load_state_dict(reference.state_dict(), strict=False)
        docs = _zipf_documents(p["batch"], p["seq_len"], p["vocab"], seed=p["seed"]).to(dev)
        model, reference = model.to(dev).eval(), reference.to(dev).eval()
        with torch.inference_mode():
            ref_logits = reference(docs)
        return {"model": model, "reference": reference, "docs": docs, "ref_logits": ref_logits,
                "logits": None}

    def step(self, state: dict[str, Any]) -> None:
        import torch

        with torch.inference_mode():
            state["logits"] = state["model"](state["docs"])

    def quality(self, state: dict[str, Any]) -> dict[str, float]:
        """Relative error of the logits [batch, classes] (head bias removed) and of the
        attention layers against exact softmax attention, and the fraction of documents given
        the same class."""
        import torch

        from greenbench_workloads._attention import attention_rel_error
        from greenbench_workloads._torch import relative_error

        model, reference = state["model"], state["reference"]
        logits, ref = state["logits"], state["ref_logits"]
        agree = float((logits.argmax(-1) == ref.argmax(-1)).float().mean())
        bias = reference.head.bias.detach()
        pairs = zip((b.attention for b in model.blocks),
                    (b.attention for b in reference.blocks), strict=True)
        with torch.inference_mode():
            attn_error = attention_rel_error(pairs, lambda: model(state["docs"]))
        return {"logit_rel_error": relative_error(logits - bias, ref - bias),
                "attn_rel_error": attn_error, "class_agreement": agree}


def _classifier(p: Mapping[str, Any], mechanism: str) -> Any:
    """Seeded classifier using ``mechanism``: tokens [b, seq_len] -> logits [b, classes]."""
    from greenbench_workloads._attention import make_attention
    from greenbench_workloads._models import SequenceClassifier
    from greenbench_workloads._torch import generator, own_rng

    features = generator(p["seed"], "features")
    with own_rng(p["seed"], "weights"):
        return SequenceClassifier(
            p["vocab"], p["d_model"], p["layers"], p["seq_len"], p["classes"],
            attention=lambda: make_attention(mechanism, p["d_model"], p["heads"], p["seq_len"],
                                             k=p["k"], m=p["m"], generator=features),
        )


def _zipf_documents(batch: int, seq_len: int, vocab: int, seed: int) -> Any:
    """Token ids [batch, seq_len] drawn with probability proportional to 1 / rank."""
    import torch

    from greenbench_workloads._torch import generator

    weights = 1.0 / torch.arange(1, vocab + 1, dtype=torch.float64)
    g = generator(seed, "documents")
    return torch.multinomial(weights, batch * seq_len, replacement=True, generator=g).view(
        batch, seq_len
    )


WORKLOADS = [LongDocument()]
SUITES = [Suite("applications", SUITE_DESCRIPTION,
                [("long-document", {"mechanism": list(MECHANISMS)})])]
