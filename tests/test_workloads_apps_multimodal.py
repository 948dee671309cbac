"""multimodal: contrastive training learns retrieval; embedding changes no weights."""

from __future__ import annotations

import pytest

from greenbench.errors import UserError
from greenbench_workloads.multimodal import Multimodal

torch = pytest.importorskip("torch")

SMALL = {"mode": "train", "batch": 16, "image_size": 16, "patch": 8, "text_len": 8,
         "vocab": 200, "d_model": 32, "layers": 1, "heads": 2, "embed_dim": 16,
         "concepts": 8, "lr": 3e-3, "seed": 0}


def test_training_steps_lower_the_loss_and_raise_retrieval_accuracy() -> None:
    wl = Multimodal()
    state = wl.setup(SMALL, "cpu")
    before = wl.quality(state)
    for _ in range(40):
        wl.step(state)
    after = wl.quality(state)
    assert after["loss"] < before["loss"] - 0.3
    assert after["retrieval_acc"] > max(0.5, before["retrieval_acc"] + 0.2)
    assert wl.metrics(state) == {"optimizer_steps": 40.0}


def test_embedding_mode_leaves_the_weights_alone() -> None:
    wl = Multimodal()
    state = wl.setup({**SMALL, "mode": "embed"}, "cpu")
    before = [p.clone() for p in state["model"].parameters()]
    for _ in range(3):
        wl.step(state)
    assert all(torch.equal(a, b) for a, b in zip(before, state["model"].parameters(),
                                                 strict=True))
    assert 0.0 <= wl.quality(state)["retrieval_acc"] <= 1.0


def test_embeddings_are_unit_vectors_of_the_shared_size() -> None:
    state = Multimodal().setup(SMALL, "cpu")
    images, tokens = state["batches"][0]
    with torch.no_grad():
        img, txt = state["model"].encode_image(images), state["model"].encode_text(tokens)
    assert img.shape == txt.shape == (16, 16)
    torch.testing.assert_close(img.norm(dim=1), torch.ones(16))
    assert Multimodal().units_per_step(SMALL) == 16


def test_patch_that_does_not_divide_the_image_is_refused() -> None:
    with pytest.raises(UserError, match="does not divide"):
        Multimodal().check({**SMALL, "patch": 5}, "cpu")
