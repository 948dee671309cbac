"""Pruning helpers, sparse execution, and the ``sparse-matmul`` workload."""

from __future__ import annotations

import pytest

from greenbench.errors import UserError
from greenbench.workload import discover, expand_grid

torch = pytest.importorskip("torch")

from greenbench_workloads import _torch as T  # noqa: E402
from greenbench_workloads.sparse_matmul import SparseMatmulWorkload  # noqa: E402

_SMALL = {"in_features": 128, "out_features": 96, "batch": 16}


# -- pruning -------------------------------------------------------------------------------


@pytest.mark.parametrize("density", [0.01, 0.1, 0.25, 0.5, 0.999, 1.0])
def test_magnitude_mask_keeps_exactly_the_requested_share(density):
    w = torch.randn(64, 48)
    mask = T.magnitude_mask(w, density)
    assert int(mask.sum()) == max(1, round(density * w.numel()))


def test_magnitude_mask_keeps_the_largest_weights():
    w = torch.randn(32, 32)
    mask = T.magnitude_mask(w, 0.2)
    assert w[mask].abs().min() >= w[~mask].abs().max()


def test_magnitude_mask_keeps_at_least_one_weight():
    assert int(T.magnitude_mask(torch.randn(10, 10), 1e-9).sum()) == 1


def test_prune_sets_density_in_place():
    linear = torch.nn.Linear(64, 32)
    mask = T.prune_(linear, "masked", 0.3)
    assert T.density_of(linear.weight) == pytest.approx(0.3, abs=1 / linear.weight.numel())
    assert torch.equal(linear.weight != 0, mask)


def test_two_four_mask_keeps_two_largest_of_every_four():
    w = torch.randn(8, 16)
    mask = T.two_four_mask(w)
    groups = mask.view(8, 4, 4)
    assert (groups.sum(-1) == 2).all()
    kept = (w.abs() * mask).view(8, 4, 4)
    dropped = (w.abs() * ~mask).view(8, 4, 4)
    assert (kept.max(-1).values >= dropped.max(-1).values).all()
    with pytest.raises(ValueError):
        T.two_four_mask(torch.randn(4, 6))


def test_csr_linear_equals_the_dense_layer():
    linear = torch.nn.Linear(40, 24)
    T.prune_(linear, "masked", 0.2)
    x = torch.randn(3, 5, 40)
    with torch.no_grad():
        assert T.relative_error(T.CsrLinear(linear)(x), linear(x)) < 1e-6


@pytest.mark.parametrize("shape", [(64, 256), (4, 16, 256)])
def test_csr_linear_runs_the_ops_of_a_bare_sparse_mm_and_no_more(shape):
    """The workloads measure torch's CSR kernel, not greenbench's harness: the layer's forward
    makes no copy or extra kernel call beyond torch.sparse.mm(W, x.t()).t() itself."""
    import collections

    from torch.profiler import ProfilerActivity, profile

    linear = torch.nn.Linear(256, 128, bias=False)
    T.prune_(linear, "sparse", 0.1)
    layer = T.CsrLinear(linear)
    x = torch.randn(shape)

    def kernels(f):
        with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU]) as prof:
            f()
        counts = collections.Counter({e.key: e.count for e in prof.key_averages()})
        # metadata-only ops (views, reshapes of contiguous rows, no-op dtype casts) move no data
        views = {"aten::reshape", "aten::view", "aten::_reshape_alias", "aten::to",
                 "aten::t", "aten::transpose", "aten::as_strided", "aten::alias"}
        return {k: v for k, v in counts.items() if k not in views}

    bare = kernels(lambda: torch.sparse.mm(layer.weight, x.reshape(-1, 256).t()).t())
    assert kernels(lambda: layer(x)) == bare


def test_relative_error():
    ref = torch.tensor([3.0, 4.0])
    assert T.relative_error(ref, ref) == 0.0
    assert T.relative_error(torch.zeros(2), ref) == pytest.approx(1.0)
    assert T.relative_error(ref * 1.1, ref) == pytest.approx(0.1, rel=1e-5)


# -- the workload --------------------------------------------------------------------------


def _quality(**over):
    wl = SparseMatmulWorkload()
    params = wl.defaults() | _SMALL | over
    wl.check(params, "cpu")
    assert wl.skip_reason(params, "cpu") is None
    state = wl.setup(params, "cpu")
    wl.step(state)
    quality = wl.quality(state)
    wl.teardown(state)
    return quality


@pytest.mark.parametrize("density", [0.05, 0.3, 1.0])
def test_dense_and_sparse_execution_have_the_same_quality(density):
    dense = _quality(execution="dense", density=density)
    sparse = _quality(execution="sparse", density=density)
    assert dense["exec_error"] == 0.0
    assert sparse["exec_error"] < 1e-6
    assert sparse["rel_error"] == pytest.approx(dense["rel_error"], abs=1e-6)
    if density == 1.0:
        assert dense["rel_error"] == 0.0
    else:  # random weights: the error of pruning is about sqrt(share of energy removed)
        assert 0.0 < dense["rel_error"] < 1.0


def test_bf16_dense_execution_reports_its_rounding():
    q = _quality(execution="dense", precision="bf16", density=0.5)
    assert 0.0 < q["exec_error"] < 2e-2


def test_unit_is_rows():
    wl = SparseMatmulWorkload()
    assert wl.unit == "rows" and wl.units_per_step({"batch": 7}) == 7


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"density": 0.0}, "outside"),
        ({"density": 1.5}, "density"),
        ({"execution": "2:4", "density": 0.1}, "density=0.5"),
        ({"execution": "2:4", "density": 0.5, "in_features": 96}, "multiples of 64"),
    ],
)
def test_bad_parameters_fail_check_in_one_line(over, needle):
    wl = SparseMatmulWorkload()
    with pytest.raises(UserError, match=needle) as info:
        wl.check(wl.defaults() | over, "cpu")
    assert "\n" not in str(info.value)


def test_unknown_execution_and_precision_fail_when_the_grid_is_built():
    with pytest.raises(UserError, match="execution"):
        expand_grid(SparseMatmulWorkload(), {"execution": ["csr"]})
    with pytest.raises(UserError, match="precision"):
        expand_grid(SparseMatmulWorkload(), {"precision": ["int8"]})


def test_two_four_on_a_cpu_is_skipped_with_the_reason():
    wl = SparseMatmulWorkload()
    reason = wl.skip_reason(wl.defaults() | {"execution": "2:4", "density": 0.5}, "cpu")
    assert reason is not None and "2:4" in reason and "GPU" in reason


def test_crossover_suite_sweeps_densities_for_both_executions_and_is_valid():
    wl = SparseMatmulWorkload()
    cases = [c for name, grid in discover().suite("sparse-crossover").cases
             if name == wl.name for c in expand_grid(wl, grid)]
    for c in cases:
        wl.check(c, "cpu")
    densities = {c["density"] for c in cases if c["execution"] == "sparse"}
    assert min(densities) <= 0.01 and max(densities) == 1.0
    assert densities == {c["density"] for c in cases if c["execution"] == "dense"}
