"""long-document: every attention mechanism classifies long documents; quality vs exact."""

from __future__ import annotations

import pytest

from greenbench.errors import UserError
from greenbench_workloads.long_document import LongDocument

torch = pytest.importorskip("torch")

SMALL = {"seq_len": 256, "batch": 2, "d_model": 32, "heads": 2, "layers": 1, "k": 32, "m": 32,
         "vocab": 500, "classes": 4, "seed": 0}


def test_uses_every_mechanism_of_the_attention_module() -> None:
    from greenbench_workloads import _attention

    assert LongDocument().param("mechanism").choices == _attention.MECHANISMS


@pytest.mark.parametrize("mechanism", ["softmax", "sdpa", "linformer", "performer"])
def test_each_mechanism_gives_logits_per_document(mechanism: str) -> None:
    wl = LongDocument()
    params = {**SMALL, "mechanism": mechanism}
    wl.check(params, "cpu")
    state = wl.setup(params, "cpu")
    wl.step(state)
    assert state["logits"].shape == (2, 4)
    q = wl.quality(state)
    if mechanism == "softmax":
        assert q["logit_rel_error"] == 0.0 and q["class_agreement"] == 1.0
    elif mechanism == "sdpa":
        assert q["logit_rel_error"] < 1e-5
    else:  # approximations: close to exact attention, but not equal
        assert 0.0 < q["logit_rel_error"] < 0.5
    assert wl.units_per_step(params) == 2


def test_approximations_share_the_reference_weights() -> None:
    wl = LongDocument()
    exact = wl.setup({**SMALL, "mechanism": "softmax"}, "cpu")["model"].state_dict()
    linear = wl.setup({**SMALL, "mechanism": "performer"}, "cpu")["model"].state_dict()
    shared = [k for k in exact if k in linear]
    assert len(shared) == len(exact)
    assert all(torch.equal(exact[k], linear[k]) for k in shared)


def test_linformer_k_longer_than_the_document_is_refused() -> None:
    with pytest.raises(UserError, match="linformer k=512"):
        LongDocument().check({**SMALL, "mechanism": "linformer", "k": 512}, "cpu")


def _quality(mechanism: str) -> dict[str, float]:
    wl = LongDocument()
    state = wl.setup({**SMALL, "mechanism": mechanism}, "cpu")
    wl.step(state)
    return wl.quality(state)


def test_logit_error_does_not_count_the_head_bias() -> None:
    """The head's bias is the same for the mechanism and the reference: adding to it leaves
    the logit error as it was (with the bias counted, the figure fell as the bias grew)."""
    wl = LongDocument()
    state = wl.setup({**SMALL, "mechanism": "linformer"}, "cpu")
    wl.step(state)
    before = wl.quality(state)["logit_rel_error"]
    with torch.no_grad():
        for model in (state["model"], state["reference"]):
            model.head.bias.add_(5.0)
        state["ref_logits"] = state["reference"](state["docs"])
    wl.step(state)
    assert wl.quality(state)["logit_rel_error"] == pytest.approx(before, rel=1e-4)


@pytest.mark.parametrize("mechanism", ["linformer", "performer"])
def test_attention_error_is_reported_before_pooling_dilutes_it(mechanism: str) -> None:
    q = _quality(mechanism)
    assert q["logit_rel_error"] < q["attn_rel_error"]
    exact = _quality("sdpa")
    assert exact["attn_rel_error"] < 1e-5


def test_documents_are_the_same_for_every_mechanism() -> None:
    wl = LongDocument()
    docs = [wl.setup({**SMALL, "mechanism": m}, "cpu")["docs"] for m in ("softmax", "performer")]
    assert torch.equal(docs[0], docs[1])
