"""generate: the KV cache gives the same tokens as recomputing; latencies and phases reported."""

from __future__ import annotations

import pytest

from greenbench.errors import UserError

torch = pytest.importorskip("torch")

from greenbench_workloads import _models  # noqa: E402
from greenbench_workloads.generate import Generate  # noqa: E402

SMALL = {"prompt_len": 7, "output_len": 9, "batch": 3, "d_model": 32, "layers": 2, "heads": 4,
         "vocab": 97, "kv_cache": True, "seed": 3}


def _lm() -> _models.TinyLM:
    torch.manual_seed(0)
    return _models.TinyLM(vocab=97, d_model=32, layers=3, heads=4, max_len=40).eval()


def test_cached_forward_matches_full_forward_position_by_position() -> None:
    model = _lm()
    seq = torch.randint(0, 97, (2, 20))
    with torch.no_grad():
        full = model(seq)
        cache = model.new_cache(batch=2)
        # a prompt chunk, a second chunk after a prefix (explicit mask), then single tokens
        parts = [model(seq[:, :6], cache), model(seq[:, 6:11], cache)]
        parts += [model(seq[:, i:i + 1], cache) for i in range(11, 20)]
    assert cache.length == 20
    torch.testing.assert_close(torch.cat(parts, dim=1), full, rtol=1e-4, atol=1e-5)


def test_workload_decode_with_cache_equals_recomputing_the_sequence() -> None:
    wl = Generate()
    state = wl.setup(SMALL, "cpu")
    wl.step(state)
    expected = _models.greedy_decode_recompute(state["model"], state["prompt"], 9)
    assert state["tokens"].shape == (3, 9)
    assert len(state["tokens"].unique()) > 3  # varied tokens, so a match means something
    assert torch.equal(state["tokens"], expected)


def test_decoding_without_cache_gives_the_same_tokens() -> None:
    wl = Generate()
    cached, uncached = wl.setup(SMALL, "cpu"), wl.setup({**SMALL, "kv_cache": False}, "cpu")
    wl.step(cached)
    wl.step(uncached)
    assert torch.equal(cached["tokens"], uncached["tokens"])


def test_a_wrong_cache_would_be_caught() -> None:
    # the reference must disagree with a decoder that forgets its past (guards the test above)
    model = _lm()
    prompt = torch.randint(0, 97, (2, 6))
    with torch.no_grad():
        forgetful = [model(prompt)[:, -1].argmax(-1, keepdim=True)]
        for _ in range(7):
            forgetful.append(model(forgetful[-1])[:, -1].argmax(-1, keepdim=True))
    reference = _models.greedy_decode_recompute(model, prompt, 8)
    assert not torch.equal(torch.cat(forgetful, 1), reference)


def test_metrics_report_ttft_and_token_latency_percentiles_per_repeat() -> None:
    wl = Generate()
    state = wl.setup(SMALL, "cpu")
    for _ in range(2):
        wl.step(state)
    m = wl.metrics(state)
    for key in ("ttft_p50_ms", "ttft_p99_ms", "token_latency_p50_ms", "token_latency_p90_ms",
                "token_latency_p99_ms"):
        assert m[key] > 0
    assert m["token_latency_p50_ms"] <= m["token_latency_p99_ms"]
    assert wl.metrics(state) == {}  # samples belong to one repeat
    assert wl.units_per_step(SMALL) == 27


def test_prefill_and_decode_run_in_named_phases(monkeypatch: pytest.MonkeyPatch) -> None:
    import contextlib

    seen: list[str] = []

    def record(name: str) -> contextlib.AbstractContextManager[None]:
        seen.append(name)
        return contextlib.nullcontext()

    monkeypatch.setattr(_models, "phase", record)
    wl = Generate()
    state = wl.setup(SMALL, "cpu")
    wl.step(state)
    assert seen == ["prefill", "decode"]


def test_output_length_zero_is_one_clear_line() -> None:
    with pytest.raises(UserError, match="output_len must be at least 1") as err:
        Generate().check({**SMALL, "output_len": 0}, "cpu")
    assert "\n" not in str(err.value)
