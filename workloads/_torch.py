"""Torch helpers shared by the built-in workloads: devices, seeds, precision, pruning, errors.

Import this module only inside ``setup`` (it imports torch). The rules for which variants are
valid or skipped live in :mod:`workloads._variants`, which needs no torch.

Precision variants (``precision`` parameter):

* ``fp32`` -- the reference; nothing changes.
* ``bf16`` / ``fp16`` -- :func:`autocast` around forward and loss (weights stay fp32, matmuls
  run in 16 bits); fp16 training also needs :func:`grad_scaler`. What bf16 saves on a CPU
  depends on its matrix instructions: tiny-transformer inference cost 1.8-2.2x less than fp32
  on a Zen 5 EPYC with AVX512-BF16 and 1.4-1.8x less on a Xeon with AMX (docs/findings.md);
  a CPU with neither has no fast bf16 matmuls and may well run bf16 *slower* than fp32.
  Measure it; a slower bf16 is correct, not a bug.
* ``int8`` -- :func:`quantize_int8`: dynamic quantisation of every ``nn.Linear`` (weights int8,
  activations quantised per batch), CPU inference only.

Sparsity variants (``sparsity`` parameter), applied to chosen linear layers:

* ``masked`` -- :func:`magnitude_mask` zeroes the smallest weights; the layer still runs dense,
  so it costs the same time and shows only the quality cost of pruning.
* ``sparse`` -- the pruned weight is stored as CSR and multiplied with torch's sparse kernels
  (:class:`CsrLinear`); it pays only below some density, which the ``sparse-matmul`` workload
  measures.
* ``2:4`` -- :func:`two_four_mask` keeps two of every four consecutive weights and
  :class:`SemiStructuredLinear` runs them with ``torch.sparse.to_sparse_semi_structured``
  (Mishra et al. 2021, "Accelerating Sparse Deep Neural Networks", arXiv 2104.08378).
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import warnings
from collections.abc import Iterator

import torch
from torch import nn

_HALF = {"bf16": torch.bfloat16, "fp16": torch.float16}


# -- devices and seeds ---------------------------------------------------------------------


def torch_device(device: str) -> torch.device:
    """The greenbench device string (``cpu``, ``cuda``, ``cuda:1``) as a torch device."""
    return torch.device(device)


def sync(device: str | torch.device) -> None:
    """Wait for queued GPU work, so a step's time and energy include its kernels."""
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def stream_seed(seed: int, stream: str) -> int:
    """A seed for one named source of randomness (``weights``, ``inputs``, ...) of a case.

    Derived from the case's seed by hashing, so streams are independent of one another and the
    same in every process and variant: drawing more from one cannot shift another.
    """
    digest = hashlib.sha256(f"{seed}/{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def generator(seed: int, stream: str) -> torch.Generator:
    """A CPU generator of its own for the named stream of the case's seed."""
    return torch.Generator().manual_seed(stream_seed(seed, stream))


@contextlib.contextmanager
def own_rng(seed: int, stream: str) -> Iterator[None]:
    """Run a block (module construction: ``nn.Linear`` draws from the global generator) with
    torch's CPU generator seeded for the named stream, and restore the generator after.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(stream_seed(seed, stream))
        yield


def seed_all(seed: int) -> torch.Generator:
    """Seed python and torch (all devices); return a CPU generator seeded the same.

    Build weights and data with the same seed in every variant so that quality() compares
    variants on identical inputs and weights.
    """
    random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


# -- precision -------------------------------------------------------------------------------


def compute_dtype(precision: str) -> torch.dtype:
    """The dtype matmuls run in under ``precision`` (int8 layers return fp32)."""
    return _HALF.get(precision, torch.float32)


def autocast(precision: str, device: str | torch.device) -> contextlib.AbstractContextManager:
    """Context for a forward pass in ``precision``: autocast for bf16/fp16, else nothing."""
    if precision not in _HALF:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=_HALF[precision])


def grad_scaler(precision: str, device: str | torch.device) -> torch.amp.GradScaler:
    """A loss scaler: active for fp16 training (small gradients underflow), else a no-op."""
    dev = torch.device(device)
    return torch.amp.GradScaler(dev.type, enabled=precision == "fp16" and dev.type == "cuda")


def quantize_int8(module: nn.Module) -> nn.Module:
    """Dynamic int8 quantisation of every ``nn.Linear`` (CPU inference); returns a new module.

    ``torch.ao.quantization.quantize_dynamic`` works in torch 2.13 but warns that it (and the
    quantised tensors it creates) will be removed; those warnings are silenced here because
    the variant is deliberate (torchao is the successor). ``nn.TransformerEncoder``'s eval
    fast path fails on the result, which is why the models here are made of plain modules.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.ao\.quantization is deprecated")
        warnings.filterwarnings("ignore", message=r".*quantized tensor creation functions")
        return torch.ao.quantization.quantize_dynamic(module, {nn.Linear}, dtype=torch.qint8)


# -- pruning ----------------------------------------------------------------------------------


def magnitude_mask(weight: torch.Tensor, density: float) -> torch.Tensor:
    """Boolean mask keeping the ``round(density * numel)`` largest-magnitude weights (>= 1).

    Unstructured magnitude pruning (Han et al. 2015, "Learning both Weights and Connections
    for Efficient Neural Networks"), per tensor. Exactly that many entries are kept, ties
    broken by position, so the reached density is the requested one to within 1/numel.
    """
    keep = max(1, round(density * weight.numel()))
    flat = weight.detach().abs().flatten()
    mask = torch.zeros_like(flat, dtype=torch.bool)
    mask[torch.topk(flat, keep, sorted=False).indices] = True
    return mask.view_as(weight)


def two_four_mask(weight: torch.Tensor) -> torch.Tensor:
    """Boolean mask keeping the two largest of every four consecutive weights along a row.

    ``weight`` is (out_features, in_features) with in_features divisible by 4.
    """
    out_f, in_f = weight.shape
    if in_f % 4:
        raise ValueError(f"2:4 sparsity needs in_features divisible by 4, got {in_f}")
    groups = weight.detach().abs().reshape(out_f, in_f // 4, 4)
    mask = torch.zeros_like(groups, dtype=torch.bool)
    mask.scatter_(-1, groups.topk(2, dim=-1).indices, True)
    return mask.reshape(out_f, in_f)


def prune_(linear: nn.Linear, sparsity: str, density: float) -> torch.Tensor:
    """Zero the pruned weights of ``linear`` in place; return the mask (True = kept)."""
    weight = linear.weight
    mask = two_four_mask(weight) if sparsity == "2:4" else magnitude_mask(weight, density)
    with torch.no_grad():
        weight.mul_(mask)
    return mask


def density_of(weight: torch.Tensor) -> float:
    """Fraction of nonzero entries."""
    return float((weight != 0).sum()) / weight.numel()


# -- sparse execution --------------------------------------------------------------------------


class CsrLinear(nn.Module):
    """``y = x W^T + b`` with W stored in CSR and multiplied by torch's sparse kernels.

    Shapes: x (..., in_features) -> (..., out_features). Inference only (no weight gradient).
    ``dtype`` is the storage and compute dtype (fp32, or the autocast dtype on a GPU):
    autocast does not cover sparse ops, so the input is cast explicitly.
    """

    def __init__(self, linear: nn.Linear, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "sparse CSR support is in beta"
            self.weight = linear.weight.detach().to(dtype).to_sparse_csr()
        bias = linear.bias
        self.bias = None if bias is None else bias.detach().to(dtype)
        self.out_features = linear.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, x.shape[-1]).to(self.weight.dtype)
        # CSR (out, in) @ dense (in, rows): the kernel wants the sparse operand on the left
        out = torch.sparse.mm(self.weight, rows.t()).t()
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*x.shape[:-1], self.out_features)


class SemiStructuredLinear(nn.Module):
    """``y = x W^T + b`` with a 2:4-pruned W run by ``torch.sparse.to_sparse_semi_structured``.

    GPU (compute capability 8.0+), fp16/bf16 weights; torch pads the input rows itself.
    Shapes: x (..., in_features) -> (..., out_features).
    """

    def __init__(self, linear: nn.Linear, dtype: torch.dtype) -> None:
        super().__init__()
        from torch.sparse import to_sparse_semi_structured

        self.weight = nn.Parameter(
            to_sparse_semi_structured(linear.weight.detach().to(dtype)), requires_grad=False
        )
        bias = linear.bias
        self.bias = None if bias is None else nn.Parameter(bias.detach().to(dtype), False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x.to(self.weight.dtype), self.weight, self.bias)


def sparse_executor(linear: nn.Linear, sparsity: str, precision: str) -> nn.Module:
    """The module that runs an already-pruned ``linear`` for ``sparsity`` sparse or 2:4."""
    dtype = compute_dtype(precision) if linear.weight.is_cuda else torch.float32
    if sparsity == "sparse":
        return CsrLinear(linear, dtype)
    if sparsity == "2:4":
        return SemiStructuredLinear(linear, compute_dtype(precision))
    raise ValueError(f"no sparse executor for sparsity={sparsity!r}")


# -- quality -----------------------------------------------------------------------------------


def relative_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    """``||out - ref||_F / ||ref||_F`` in fp32 (0 = identical; dimensionless)."""
    out32, ref32 = out.detach().float(), ref.detach().float()
    denom = ref32.norm().clamp_min(torch.finfo(torch.float32).tiny)
    return float((out32 - ref32).norm() / denom)


@contextlib.contextmanager
def evaluating(module: nn.Module) -> Iterator[None]:
    """Run ``module`` in eval mode under inference_mode, restoring its training flag after."""
    was_training = module.training
    module.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        module.train(was_training)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def first_line(exc: BaseException) -> str:
    """An exception's first line, for skip and error messages."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
