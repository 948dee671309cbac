"""The attention mechanisms against exact softmax attention, and the ``attention`` workload."""

from __future__ import annotations

import subprocess
import sys

import pytest

from greenbench.errors import UserError
from greenbench.workload import discover, expand_grid

torch = pytest.importorskip("torch")

from greenbench_workloads._attention import (  # noqa: E402
    MECHANISMS,
    PerformerAttention,
    _causal_linear_attention,
    check_attention_params,
    make_attention,
    orthogonal_gaussian,
)
from greenbench_workloads._torch import relative_error  # noqa: E402
from greenbench_workloads.attention import AttentionWorkload  # noqa: E402

D, H, N = 32, 2, 48  # small: every test here runs in milliseconds


def _gen(seed: int = 0):
    return torch.Generator().manual_seed(seed)


def _pair(mechanism: str, *, causal: bool = False, **kw):
    """(softmax reference, mechanism) sharing the projection weights, in eval mode."""
    torch.manual_seed(0)
    ref = make_attention("softmax", D, H, N, causal=causal).eval()
    other = make_attention(mechanism, D, H, N, causal=causal, generator=_gen(), **kw).eval()
    other.load_state_dict(ref.state_dict(), strict=False)
    return ref, other


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_equals_softmax(causal):
    ref, sdpa = _pair("sdpa", causal=causal)
    x = torch.randn(3, N, D)
    with torch.no_grad():
        assert relative_error(sdpa(x), ref(x)) < 1e-5


def test_linformer_with_k_equal_n_and_identity_projections_equals_softmax():
    ref, lin = _pair("linformer", k=N)
    with torch.no_grad():
        # the mean-pooling start with k = n is already the identity; set it explicitly anyway
        assert torch.equal(lin.proj_k, torch.eye(N))
        lin.proj_k.copy_(torch.eye(N))
        lin.proj_v.copy_(torch.eye(N))
        x = torch.randn(2, N, D)
        assert relative_error(lin(x), ref(x)) < 1e-5


def test_linformer_with_k_below_n_differs_from_softmax():
    ref, lin = _pair("linformer", k=N // 4)
    x = torch.randn(2, N, D)
    with torch.no_grad():
        assert relative_error(lin(x), ref(x)) > 1e-3


def test_linformer_accepts_shorter_sequences_and_refuses_longer():
    lin = make_attention("linformer", D, H, N, k=8)
    with torch.no_grad():
        assert lin(torch.randn(1, N // 2, D)).shape == (1, N // 2, D)
        with pytest.raises(ValueError):
            lin(torch.randn(1, N + 1, D))


@pytest.mark.parametrize("causal", [False, True])
def test_performer_error_falls_as_m_grows(causal):
    """Mean error over seeds of the random features at m = 8, 64, 512 strictly falls."""
    x = torch.randn(2, N, D, generator=torch.Generator().manual_seed(1))
    errors = []
    for m in (8, 64, 512):
        runs = []
        for seed in range(4):
            ref, perf = _pair("performer", causal=causal, m=m)
            # a fresh draw of the random features
            perf.features.copy_(orthogonal_gaussian(m, D // H, _gen(100 + seed)))
            with torch.no_grad():
                runs.append(relative_error(perf(x), ref(x)))
        errors.append(sum(runs) / len(runs))
    assert errors[0] > errors[1] > errors[2], errors
    assert errors[2] < 0.15, errors


def test_causal_performer_blocks_equal_full_prefix_sums():
    """The chunked causal FAVOR+ equals the O(n^2) masked form, chunk not dividing n."""
    g = torch.Generator().manual_seed(2)
    phi_q, phi_k = torch.rand(2, 3, 50, 16, generator=g), torch.rand(2, 3, 50, 16, generator=g)
    v = torch.randn(2, 3, 50, 8, generator=g)
    weights = (phi_q @ phi_k.transpose(-2, -1)).tril()
    expected = (weights @ v) / weights.sum(-1, keepdim=True)
    got = _causal_linear_attention(phi_q, phi_k, v, chunk=16, eps=1e-9)
    assert relative_error(got, expected) < 1e-5


@pytest.mark.parametrize("mechanism", ["softmax", "sdpa", "performer"])
def test_causal_outputs_ignore_the_future(mechanism):
    torch.manual_seed(0)
    layer = make_attention(mechanism, D, H, N, causal=True, generator=_gen()).eval()
    x = torch.randn(1, N, D)
    changed = x.clone()
    changed[:, N // 2 :] += torch.randn(1, N - N // 2, D)
    with torch.no_grad():
        a, b = layer(x), layer(changed)
    assert torch.allclose(a[:, : N // 2], b[:, : N // 2], atol=1e-5)
    assert not torch.allclose(a[:, N // 2 :], b[:, N // 2 :], atol=1e-3)


def test_performer_features_are_orthogonal_within_a_block():
    w = PerformerAttention(64, 4, m=16, generator=_gen()).features  # head_dim 16: one full block
    directions = w / w.norm(dim=1, keepdim=True)
    assert torch.allclose(directions @ directions.t(), torch.eye(16), atol=1e-5)


def test_performer_is_stable_on_long_sequences():
    torch.manual_seed(0)
    layer = make_attention("performer", D, H, 4096, m=32, generator=_gen()).eval()
    with torch.no_grad():
        out = layer(torch.randn(1, 4096, D) * 3)
    assert torch.isfinite(out).all()


# -- parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "needle"),
    [
        (("linformer", 64, 65, None), {}, "k=65"),
        (("linformer", 64, 0, None), {}, "k=0"),
        (("performer", 64, None, 0), {}, "m=0"),
        (("linformer", 64, 8, None), {"causal": True}, "cannot be causal"),
        (("softmax", 64, None, None), {"d_model": 30, "heads": 4}, "divisible"),
        (("flash", 64, None, None), {}, "unknown"),
    ],
)
def test_bad_attention_parameters_are_one_line_user_errors(args, kwargs, needle):
    with pytest.raises(UserError, match=needle) as info:
        check_attention_params(*args, **kwargs)
    assert "\n" not in str(info.value)
    with pytest.raises(UserError):
        make_attention(args[0], kwargs.get("d_model", 32), kwargs.get("heads", 2), args[1],
                       k=args[2], m=args[3], causal=kwargs.get("causal", False),
                       generator=_gen())


def test_workload_check_rejects_linformer_k_longer_than_the_sequence():
    wl = AttentionWorkload()
    params = wl.defaults() | {"mechanism": "linformer", "seq_len": 64, "k": 128}
    with pytest.raises(UserError, match="k=128"):
        wl.check(params, "cpu")
    # the same k is fine for a mechanism that does not use it
    wl.check(params | {"mechanism": "softmax"}, "cpu")


def test_workload_rejects_unknown_precision_and_int8_training():
    wl = AttentionWorkload()
    with pytest.raises(UserError, match="precision"):
        expand_grid(wl, {"precision": ["fp8"]})
    with pytest.raises(UserError, match="int8"):
        wl.check(wl.defaults() | {"precision": "int8", "mode": "train"}, "cpu")


def test_fp16_on_cpu_is_skipped_with_a_reason():
    wl = AttentionWorkload()
    reason = wl.skip_reason(wl.defaults() | {"precision": "fp16"}, "cpu")
    assert reason and "fp16" in reason and "GPU" in reason
    assert wl.skip_reason(wl.defaults(), "cpu") is None


# -- the workload --------------------------------------------------------------------------

_SMALL = {"seq_len": 64, "d_model": 32, "heads": 2, "batch": 2, "k": 16, "m": 32}


def _run(**over):
    wl = AttentionWorkload()
    params = wl.defaults() | _SMALL | over
    wl.check(params, "cpu")
    assert wl.skip_reason(params, "cpu") is None
    state = wl.setup(params, "cpu")
    for _ in range(2):
        wl.step(state)
    quality = wl.quality(state)
    wl.teardown(state)
    return quality


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize("mode", ["infer", "train"])
def test_every_mechanism_runs_and_reports_its_error_against_softmax(mechanism, mode):
    q = _run(mechanism=mechanism, mode=mode)
    figures = {"attn_rel_error"} | ({"loss", "loss_ref"} if mode == "train" else set())
    assert set(q) == figures
    if mechanism == "softmax":
        assert q["attn_rel_error"] == 0.0
    elif mechanism == "sdpa":
        assert q["attn_rel_error"] < 1e-5
    else:  # approximations: a real, finite error
        assert 1e-4 < q["attn_rel_error"] < 2.0


@pytest.mark.parametrize(("precision", "tolerance"), [("bf16", 2e-2), ("int8", 5e-2)])
def test_low_precision_outputs_stay_close_to_fp32(precision, tolerance):
    q = _run(precision=precision)
    assert 0.0 < q["attn_rel_error"] < tolerance


def _setup(**over):
    wl = AttentionWorkload()
    params = wl.defaults() | _SMALL | over
    return wl, wl.setup(params, "cpu")


@pytest.mark.parametrize("mechanism", ["linformer", "performer"])
def test_attention_error_is_measured_without_the_output_bias(mechanism):
    """The output projection's bias is the same in the layer and the reference: the figure
    must not fall when it grows, and must equal the error of W_o times the attention's mix."""
    wl, state = _setup(mechanism=mechanism)
    before = wl.quality(state)["attn_rel_error"]
    with torch.no_grad():
        layer, ref = state.layer, state.reference
        x = state.x_eval
        expected = relative_error(layer(x) - layer.out.bias, ref(x) - ref.out.bias)
        for module in (layer, ref):
            module.out.bias.add_(10.0)
        state.ref_out = ref(x)
    after = wl.quality(state)["attn_rel_error"]
    assert before == pytest.approx(expected, rel=1e-5)
    assert after == pytest.approx(before, rel=1e-3)
    # the whole layer's output, bias included, understates it (the old figure)
    with torch.no_grad():
        assert relative_error(layer(x), state.ref_out) < 0.5 * before


@pytest.mark.parametrize("mode", ["infer", "train"])
def test_every_mechanism_gets_the_same_weights_teacher_and_inputs(mode):
    states = {m: _setup(mechanism=m, mode=mode)[1] for m in MECHANISMS}
    base = states["softmax"]
    for mechanism, state in states.items():
        assert torch.equal(state.x, base.x), mechanism
        assert torch.equal(state.x_eval, base.x_eval), mechanism
        assert torch.equal(state.target, base.target), mechanism
        assert torch.equal(state.target_eval, base.target_eval), mechanism
        for name in ("qkv.weight", "qkv.bias", "out.weight", "out.bias"):
            assert torch.equal(state.layer.state_dict()[name], base.layer.state_dict()[name])


def test_performer_features_leave_the_global_generator_alone():
    """Building a Performer draws from the global generator exactly what softmax's layer does
    (its nn.Linear weights), so whatever is drawn after it is the same for every mechanism."""
    torch.manual_seed(5)
    make_attention("softmax", D, H, N)
    after_softmax = torch.rand(3)
    torch.manual_seed(5)
    make_attention("performer", D, H, N, m=64, generator=_gen())
    assert torch.equal(torch.rand(3), after_softmax)


def test_performer_features_repeat_for_the_same_generator_seed():
    a = orthogonal_gaussian(40, 16, _gen(3))
    assert torch.equal(a, orthogonal_gaussian(40, 16, _gen(3)))
    assert not torch.equal(a, orthogonal_gaussian(40, 16, _gen(4)))


def test_training_lowers_the_loss():
    wl = AttentionWorkload()
    params = wl.defaults() | _SMALL | {"mode": "train"}
    state = wl.setup(params, "cpu")
    before = wl.quality(state)["loss"]
    for _ in range(30):
        wl.step(state)
    assert wl.quality(state)["loss"] < 0.9 * before


def test_unit_is_tokens():
    wl = AttentionWorkload()
    assert wl.unit == "tokens"
    assert wl.units_per_step({"batch": 3, "seq_len": 100}) == 300


def test_scaling_suite_sweeps_the_four_mechanisms_to_4096_and_is_valid():
    suite = discover().suite("attention-scaling")
    cases = [c for name, grid in suite.cases if name == "attention"
             for c in expand_grid(AttentionWorkload(), grid)]
    assert {c["mechanism"] for c in cases} == set(MECHANISMS)
    assert max(c["seq_len"] for c in cases) >= 4096
    for c in cases:
        AttentionWorkload().check(c, "cpu")


def test_workload_modules_import_without_torch():
    code = (
        "import sys; import greenbench_workloads.attention, greenbench_workloads.transformer, "
        "greenbench_workloads.sparse_matmul, greenbench_workloads._variants; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
