"""finetune: LoRA and head-only train only their parameters; pretraining is cached on disk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from greenbench.errors import UserError
from greenbench_workloads import finetune
from greenbench_workloads.finetune import Finetune

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("greenbench-cache")


Setup = tuple[Finetune, Callable[..., dict]]


@pytest.fixture
def setup(cache: Path, monkeypatch: pytest.MonkeyPatch) -> Setup:
    monkeypatch.setenv("GREENBENCH_CACHE_DIR", str(cache))
    wl = Finetune()

    def make(**overrides: object) -> dict:
        params = {**wl.defaults(), "adapt_steps": 20, **overrides}
        wl.check(params, "cpu")
        return wl.setup(params, "cpu")

    return wl, make


def _changed(before: torch.nn.Module, after: torch.nn.Module) -> dict[str, bool]:
    """Which of ``before``'s parameters differ in ``after`` (LoRA wraps Linear as ``.base``)."""
    got = dict(after.named_parameters())
    out = {}
    for name, p in before.named_parameters():
        owner, _, leaf = name.rpartition(".")
        twin = got.get(name, got.get(f"{owner}.base.{leaf}"))
        out[name] = not torch.equal(p, twin)
    return out


def test_lora_trains_only_the_adapter_parameters(setup: Setup) -> None:
    wl, make = setup
    state = make(method="lora")
    wl.step(state)
    adapted, pretrained = state["model"], state["pretrained"]
    assert not any(_changed(pretrained, adapted).values())  # every base weight untouched
    adapters = {n: p for n, p in adapted.named_parameters() if "lora_" in n}
    assert adapters and all(p.requires_grad for p in adapters.values())
    assert {n for n, p in adapted.named_parameters() if p.requires_grad} == set(adapters)
    assert all(p.abs().sum() > 0 for n, p in adapters.items() if n.endswith("lora_b"))
    assert wl.metrics(state)["trainable_params"] == sum(p.numel() for p in adapters.values())
    assert wl.quality(state)["accuracy"] != state["zero_shot"]  # the adapters do something


def test_head_only_changes_the_head_and_full_changes_everything(setup: Setup) -> None:
    wl, make = setup
    head = make(method="head")
    wl.step(head)
    changed = _changed(head["pretrained"], head["model"])
    assert {n for n, c in changed.items() if c} == {"head.weight", "head.bias"}
    full = make(method="full")
    wl.step(full)
    assert all(_changed(full["pretrained"], full["model"]).values())


def test_each_adaptation_starts_from_the_pretrained_weights(setup: Setup) -> None:
    wl, make = setup
    state = make(method="full")
    before = {k: v.clone() for k, v in state["pretrained"].state_dict().items()}
    wl.step(state)
    first = wl.quality(state)["accuracy"]
    wl.step(state)
    assert wl.quality(state)["accuracy"] == first
    assert all(torch.equal(v, state["pretrained"].state_dict()[k]) for k, v in before.items())


def test_adapting_from_enough_examples_beats_zero_shot(setup: Setup) -> None:
    wl, make = setup
    state = make(method="full", k=512, adapt_steps=100)
    wl.step(state)
    q = wl.quality(state)
    assert 0.5 < q["zero_shot_accuracy"] < 0.85  # the shift hurts but features transfer
    assert q["gain"] > 0.03 and q["accuracy"] == pytest.approx(q["zero_shot_accuracy"] + q["gain"])


def test_pretraining_happens_once_then_loads_from_the_cache(
    setup: Setup, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, make = setup
    first = make()
    files = list(cache.glob("finetune-*.pt"))
    assert len(files) == 1

    def fail(*args: object) -> None:
        raise AssertionError("pretrained again despite the cache")

    monkeypatch.setattr(finetune, "pretrain", fail)
    again = make()
    assert all(torch.equal(a, b) for a, b in zip(first["pretrained"].parameters(),
                                                  again["pretrained"].parameters(), strict=True))


def test_k_larger_than_the_data_is_one_clear_line() -> None:
    wl = Finetune()
    with pytest.raises(UserError, match="larger than the data") as err:
        wl.check({**wl.defaults(), "k": finetune.SHIFTED_POOL + 1}, "cpu")
    assert "\n" not in str(err.value)
    assert wl.calibrate is False
