"""The ``transformer`` workload: variants against the fp32 dense eager reference, and refusals."""

from __future__ import annotations

import pytest

from greenbench.errors import UserError
from greenbench.workload import discover, expand_grid

torch = pytest.importorskip("torch")

from greenbench_workloads import _torch as T  # noqa: E402
from greenbench_workloads._variants import variant_skip_reason  # noqa: E402
from greenbench_workloads.transformer import SIZES, TransformerWorkload  # noqa: E402

# two layers of width 128, 2 x 32 tokens: a step takes milliseconds
_SMALL = {"size": "tiny", "seq_len": 32, "batch": 2, "vocab": 256, "k": 16, "m": 32}


def _setup(**over):
    wl = TransformerWorkload()
    params = wl.defaults() | _SMALL | over
    wl.check(params, "cpu")
    assert wl.skip_reason(params, "cpu") is None
    return wl, wl.setup(params, "cpu")


def _quality(steps: int = 2, **over):
    wl, state = _setup(**over)
    for _ in range(steps):
        wl.step(state)
    quality = wl.quality(state)
    wl.teardown(state)
    return quality


def _ffn_weights(model):
    return [lin.weight for ffn in model.feed_forwards() for lin in (ffn.fc1, ffn.fc2)]


# -- quality against the reference -------------------------------------------------------


def test_fp32_dense_eager_inference_is_the_reference():
    q = _quality(mode="infer")  # sdpa against the written-out softmax: the same function
    assert q["rel_error"] < 1e-5 and q["attn_rel_error"] < 1e-5
    assert q["loss"] == pytest.approx(q["loss_ref"], rel=1e-6)
    assert 0.5 * torch.log(torch.tensor(256.0)) < q["loss"] < 2 * torch.log(torch.tensor(256.0))


@pytest.mark.parametrize(("precision", "tolerance"), [("bf16", 2e-2), ("int8", 5e-2)])
def test_low_precision_logits_stay_close_to_fp32(precision, tolerance):
    q = _quality(mode="infer", precision=precision)
    assert 0.0 < q["rel_error"] < tolerance
    assert abs(q["loss"] - q["loss_ref"]) < 0.05


def test_sparse_kernels_compute_what_masked_dense_computes():
    masked = _quality(mode="infer", sparsity="masked", density=0.2)
    sparse = _quality(mode="infer", sparsity="sparse", density=0.2)
    assert masked["rel_error"] > 1e-3  # pruning has a cost...
    assert sparse["rel_error"] == pytest.approx(masked["rel_error"], rel=1e-4)  # ...the same one
    assert sparse["loss"] == pytest.approx(masked["loss"], abs=1e-4)


def test_pruning_cost_grows_as_density_falls():
    errors = [_quality(mode="infer", sparsity="masked", density=d)["rel_error"]
              for d in (0.8, 0.4, 0.1)]
    assert errors[0] < errors[1] < errors[2]


@pytest.mark.parametrize("mode", ["infer", "train"])
@pytest.mark.parametrize("density", [0.1, 0.37])
def test_pruning_reaches_the_requested_density_and_training_keeps_it(mode, density):
    wl, state = _setup(mode=mode, sparsity="masked", density=density)
    for _ in range(3):
        wl.step(state)
    for weight in _ffn_weights(state.model):
        assert T.density_of(weight) == pytest.approx(density, abs=1.0 / weight.numel() + 1e-9)


@pytest.mark.parametrize("attention", ["softmax", "sdpa", "performer"])
def test_causal_training_runs_and_lowers_the_loss(attention):
    wl, state = _setup(mode="train", attention=attention)
    before = wl.quality(state)["loss"]
    for _ in range(25):
        wl.step(state)
    after = wl.quality(state)
    assert after["loss"] < before - 0.3
    # the reference is an fp32 eager softmax copy of the current weights: exact attention
    # matches it, Performer's approximation shows
    if attention == "performer":
        assert 0.0 < after["rel_error"] < after["attn_rel_error"]
    else:
        assert after["rel_error"] < 1e-5


def test_linformer_runs_as_a_masked_language_model():
    q = _quality(mode="train", attention="linformer", causal=False)
    assert q["loss"] > 0 and 0.0 < q["rel_error"] < q["attn_rel_error"]


def test_bf16_training_reports_its_rounding():
    q = _quality(mode="train", precision="bf16")
    assert 0.0 < q["rel_error"] < 2e-2


@pytest.mark.slow
def test_compiled_model_matches_eager():
    q = _quality(mode="infer", compile=True)
    assert q["rel_error"] < 1e-4


# -- sizes and units -----------------------------------------------------------------------


def test_size_presets_grow_and_use_64_wide_heads():
    widths = [(layers, d) for layers, d, _ in SIZES.values()]
    assert widths == sorted(widths)
    assert all(d // heads == 64 for _, d, heads in SIZES.values())
    assert list(SIZES)[0] == "tiny" and list(SIZES)[-1] == "base"


def test_unit_is_tokens():
    wl = TransformerWorkload()
    assert wl.unit == "tokens" and wl.units_per_step({"batch": 4, "seq_len": 64}) == 256


# -- refusals and skips ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"density": 0.0}, "outside"),
        ({"density": -0.5}, "density"),
        ({"precision": "int8", "mode": "train"}, "int8"),
        ({"sparsity": "sparse", "mode": "train"}, "inference only"),
        ({"sparsity": "2:4", "mode": "infer", "density": 0.3}, "density=0.5"),
        ({"precision": "int8", "sparsity": "sparse", "mode": "infer"}, "do not combine"),
        ({"attention": "linformer", "causal": True}, "cannot be causal"),
        ({"attention": "linformer", "causal": False, "k": 64}, "k=64"),
    ],
)
def test_bad_combinations_fail_check_in_one_line(over, needle):
    wl = TransformerWorkload()
    with pytest.raises(UserError, match=needle) as info:
        wl.check(wl.defaults() | _SMALL | over, "cpu")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("name", "value"),
                         [("precision", "fp8"), ("density", "1.5"), ("sparsity", "50%")])
def test_bad_values_fail_when_the_grid_is_built(name, value):
    with pytest.raises(UserError, match=name):
        expand_grid(TransformerWorkload(), {name: [value]})


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"precision": "fp16"}, "fp16"),
        ({"sparsity": "2:4", "mode": "infer"}, "2:4"),
    ],
)
def test_variants_a_cpu_cannot_run_are_skipped_with_the_reason(over, needle):
    wl = TransformerWorkload()
    reason = wl.skip_reason(wl.defaults() | over, "cpu")
    assert reason is not None and needle in reason


def test_bf16_sparse_kernels_are_skipped_exactly_when_torch_lacks_them():
    reason = variant_skip_reason("cpu", precision="bf16", sparsity="sparse")
    eye = torch.eye(4, dtype=torch.bfloat16)
    try:
        eye.to_sparse_csr() @ eye
        kernel = True
    except (RuntimeError, NotImplementedError):
        kernel = False
    assert (reason is None) == kernel
    if reason:
        assert "bf16" in reason


@pytest.mark.parametrize(
    ("capability", "precision", "sparsity", "needle"),
    [
        ((7, 5), "fp16", "2:4", "8.0"),
        ((9, 0), "fp32", "2:4", "fp16/bf16"),
        ((9, 0), "int8", "none", "CPU kernels only"),
        ((9, 0), "fp16", "2:4", None),
        ((9, 0), "fp16", "none", None),
    ],
)
def test_gpu_skip_rules(monkeypatch, capability, precision, sparsity, needle):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a: capability >= (8, 0))
    reason = variant_skip_reason("cuda:0", precision=precision, sparsity=sparsity)
    if needle is None:
        assert reason is None
    else:
        assert reason is not None and needle in reason


def test_compile_without_a_compiler_is_skipped(monkeypatch):
    import greenbench_workloads._variants as V

    monkeypatch.setattr(V, "_have_cxx_compiler", lambda: False)
    reason = variant_skip_reason("cpu", compile=True)
    assert reason is not None and "compiler" in reason


# -- suites --------------------------------------------------------------------------------


def test_efficiency_suite_covers_the_grid_and_every_case_passes_check():
    wl = TransformerWorkload()
    cases = [c for name, grid in discover().suite("efficiency").cases if name == wl.name
             for c in expand_grid(wl, grid)]
    for c in cases:
        wl.check(c, "cpu")  # a suite must never stop on a UserError
    seen = {(c["precision"], c["sparsity"], c["compile"]) for c in cases}
    for precision in ("fp32", "bf16", "fp16", "int8"):
        for compiled in (False, True):
            assert (precision, "none", compiled) in seen
            assert (precision, "masked", compiled) in seen
    assert ("fp32", "sparse", False) in seen and ("fp16", "2:4", False) in seen
    assert {c["mode"] for c in cases} == {"train", "infer"}


def test_quick_suite_has_one_case_of_each_of_these_workloads():
    quick = discover().suite("quick")
    names = [name for name, _ in quick.cases]
    for name in ("attention", "transformer", "sparse-matmul"):
        assert names.count(name) == 1


# -- the attention mechanism as a variant --------------------------------------------------


@pytest.mark.parametrize("mode", ["infer", "train"])
def test_every_mechanism_starts_from_the_same_weights_and_tokens(mode, monkeypatch):
    """Performer's random features come from a generator of their own: building them cannot
    shift the weights of later layers or the data (tiny has two layers)."""
    from greenbench_workloads import transformer

    # setup's warm-up step would move the weights in train mode: compare them before it
    monkeypatch.setattr(transformer, "_step", lambda state: None)
    states = {m: _setup(mode=mode, attention=m)[1] for m in ("softmax", "sdpa", "performer")}
    base = states["softmax"]
    base_weights = base.model.state_dict()
    for mechanism, state in states.items():
        weights = state.model.state_dict()
        for name, value in base_weights.items():
            assert torch.equal(weights[name], value), (mechanism, name)
        for (x, y), (bx, by) in zip(state.batches + [state.eval_batch],
                                    base.batches + [base.eval_batch], strict=True):
            assert torch.equal(x, bx) and torch.equal(y, by), mechanism


@pytest.mark.parametrize(("attention", "causal"), [("performer", True), ("linformer", False)])
def test_approximate_attention_is_measured_against_exact_softmax(attention, causal):
    """The reference has softmax attention, so the mechanism's error shows; the attention
    layers' own error is larger than the logits', which the residual stream dilutes."""
    q = _quality(mode="infer", attention=attention, causal=causal, seq_len=64)
    assert 0.0 < q["rel_error"] < q["attn_rel_error"]
    assert q["attn_rel_error"] > 0.05


def test_exact_attention_has_no_attention_error():
    for attention in ("softmax", "sdpa"):
        q = _quality(mode="infer", attention=attention)
        assert q["attn_rel_error"] < 1e-5
