"""``sparse-matmul``: one linear layer at a given weight density, run dense or sparse.

The weight (out_features x in_features) is magnitude-pruned to ``density`` and the layer
``y = x W^T`` is run on ``batch`` input rows either with a dense matmul over the zeroed
weight (``execution=dense``: time independent of density) or with torch's sparse CSR kernels
(``execution=sparse``: time roughly proportional to the nonzeros, plus overhead). Sweeping
``density`` shows where sparse execution starts to pay on the device. Where that is depends on
the CPU, its threads and the shapes, so measure it (the ``sparse-crossover`` study in
docs/findings.md): at 1024x1024 and 1024 rows in fp32, CSR paid below a density of about 0.19
on a 2-core AMD EPYC (Zen 5, AVX-512, no AMX) VM, and below 0.08-0.10 on a 2-core Intel Xeon
with AMX, whose dense matmuls are faster.
``execution=2:4`` runs semi-structured sparsity (two of every four weights kept, so
``density`` must be 0.5) on GPUs with compute capability 8.0+ and 16-bit precision.

Unit: rows (one input row is one token's activation vector; a step is ``batch`` rows).

Quality, per repeat: ``rel_error`` -- ||y - y_dense|| / ||y_dense|| against the unpruned fp32
layer, the cost of pruning (the same for dense and sparse execution at one density) -- and
``exec_error`` against the pruned layer run dense in fp32, the execution's own error (~1e-7
for fp32 CSR; the rounding of bf16/fp16).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from greenbench.errors import UserError
from greenbench.workload import Param, Suite, Workload
from greenbench_workloads._variants import check_params, check_variants, variant_skip_reason

EXECUTIONS = ("dense", "sparse", "2:4")
#: execution -> the sparsity variant it runs (dense execution of a pruned weight = masked)
_SPARSITY = {"dense": "masked", "sparse": "sparse", "2:4": "2:4"}


@dataclass
class _State:
    device: Any
    precision: str
    layer: Any
    x: Any
    ref_unpruned: Any  # fp32 output of the unpruned weight
    ref_pruned: Any  # fp32 output of the pruned weight, run dense


class SparseMatmulWorkload(Workload):
    name = "sparse-matmul"
    requires = ("torch",)
    description = "A linear layer at a weight density, dense versus sparse execution"
    unit = "rows"
    quality_metric = "rel_error"
    quality_higher_is_better = False
    params = (
        Param("density", float, 0.1, minimum=0.0, maximum=1.0,
              help="fraction of weights kept, in (0, 1]"),
        Param("execution", str, "sparse", choices=EXECUTIONS, variant=True,
              help="dense (masked weight, dense matmul), sparse (CSR kernels), 2:4 (GPU)"),
        Param("in_features", int, 1024, minimum=4, help="input width (divisible by 4 for 2:4)"),
        Param("out_features", int, 1024, minimum=1, help="output width"),
        Param("batch", int, 1024, minimum=1, help="input rows per step"),
        Param("precision", str, "fp32", choices=("fp32", "bf16", "fp16"), variant=True,
              help="fp32, or bf16/fp16 compute"),
        Param("seed", int, 0, help="seed for weights and inputs"),
    )

    def units_per_step(self, params: Mapping[str, Any]) -> float:
        return float(params["batch"])

    def check(self, params: Mapping[str, Any], device: str) -> None:
        check_params(self.params, params)
        check_variants(params["precision"], _SPARSITY[params["execution"]],
                       params["density"], "infer")
        shape = (params["out_features"], params["in_features"])
        if params["execution"] == "2:4" and any(side % 64 for side in shape):
            # the strictest of torch's 2:4 backends (CUTLASS, cuSPARSELt) for 16-bit weights
            raise UserError(
                f"execution=2:4 needs in_features and out_features that are multiples of 64, "
                f"got {shape[1]} and {shape[0]}"
            )

    def skip_reason(self, params: Mapping[str, Any], device: str) -> str | None:
        return variant_skip_reason(device, precision=params["precision"],
                                   sparsity=_SPARSITY[params["execution"]])

    def setup(self, params: Mapping[str, Any], device: str) -> _State:
        import torch
        from torch import nn

        from greenbench_workloads import _torch as T

        dev = T.torch_device(device)
        gen = T.seed_all(params["seed"])
        linear = nn.Linear(params["in_features"], params["out_features"], bias=False).to(dev)
        x = torch.randn(params["batch"], params["in_features"], generator=gen).to(dev)
        execution, precision = params["execution"], params["precision"]
        with torch.inference_mode():
            ref_unpruned = linear(x)
        T.prune_(linear, _SPARSITY[execution], params["density"])
        with torch.inference_mode():
            ref_pruned = linear(x)
        # dense execution keeps the nn.Linear: autocast in step() casts it like any layer
        layer: Any = linear
        if execution != "dense":
            layer = T.sparse_executor(linear, _SPARSITY[execution], precision)
        return _State(dev, precision, layer, x, ref_unpruned, ref_pruned)

    def step(self, state: _State) -> None:
        import torch

        from greenbench_workloads import _torch as T

        with torch.inference_mode(), T.autocast(state.precision, state.device):
            state.layer(state.x)
        T.sync(state.device)

    def quality_changes(self, params: Mapping[str, Any]) -> bool:
        return False  # inference only: the weights never change

    def quality(self, state: _State) -> dict[str, float]:
        import torch

        from greenbench_workloads import _torch as T

        with torch.inference_mode(), T.autocast(state.precision, state.device):
            out = state.layer(state.x)
        return {
            "rel_error": T.relative_error(out, state.ref_unpruned),
            "exec_error": T.relative_error(out, state.ref_pruned),
        }


WORKLOADS = [SparseMatmulWorkload()]

_DENSITIES = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0]
#: this module's case in the ``quick`` suite
QUICK = ("sparse-matmul", {"density": [0.1], "execution": ["sparse"]})

SUITES = [
    Suite(
        "sparse-crossover",
        "Dense versus sparse execution of a 1024x1024 linear layer over densities 0.01-1",
        [
            ("sparse-matmul", {"density": _DENSITIES, "execution": ["dense", "sparse"]}),
            ("sparse-matmul", {"density": [0.5], "execution": ["2:4"],
                               "precision": ["fp16", "bf16"]}),
        ],
    ),
]
