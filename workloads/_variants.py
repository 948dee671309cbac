"""Names and rules of the variants the torch workloads share, importable without torch.

``check()`` runs in the parent process before any work and ``greenbench workloads`` lists
parameters without loading torch, so everything needed to validate parameters lives here
and imports torch only where a device has to be asked (a GPU's compute capability, whether a
kernel exists). Two kinds of refusal, kept apart on purpose:

* :class:`~greenbench.errors.UserError` (from the ``check_*`` functions): the parameters
  contradict each other anywhere (a Linformer ``k`` longer than the sequence, a density of 0,
  int8 training). The user must change them; nothing runs.
* a skip reason (from :func:`variant_skip_reason`): sound parameters this device or this
  torch build cannot run (fp16 on a CPU, 2:4 sparsity without an Ampere-or-newer GPU). The
  case is recorded as skipped with the reason, never run as some other variant.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from typing import Any

from greenbench.errors import UserError
from greenbench.workload import Param

MECHANISMS = ("softmax", "sdpa", "linformer", "performer")
PRECISIONS = ("fp32", "bf16", "fp16", "int8")
#: none: dense weights; masked: magnitude-pruned, run dense; sparse: pruned, run with torch's
#: sparse CSR kernels; 2:4: semi-structured (two of every four weights kept), GPU kernels
SPARSITIES = ("none", "masked", "sparse", "2:4")
MODES = ("train", "infer")

#: Linformer's projected length and Performer's number of random features when not given
DEFAULT_K = 128
DEFAULT_M = 128

#: the attention choice and its two knobs, shared by every workload built on make_attention
MECHANISM_PARAM = Param("mechanism", str, "softmax", choices=MECHANISMS, variant=True,
                        help="softmax (written out), sdpa (fused), linformer (k), performer (m)")
K_PARAM = Param("k", int, DEFAULT_K, minimum=1, help="linformer: projected length (<= seq_len)")
M_PARAM = Param("m", int, DEFAULT_M, minimum=1, help="performer: number of random features")


def device_type(device: str) -> str:
    """``"cuda:1"`` -> ``"cuda"``; ``"cpu"`` -> ``"cpu"``."""
    return device.split(":", 1)[0].strip().lower()


# -- UserError checks (parameters that contradict each other) --------------------------------


def check_attention_params(
    mechanism: str,
    seq_len: int,
    k: int | None = None,
    m: int | None = None,
    *,
    d_model: int | None = None,
    heads: int | None = None,
    causal: bool = False,
) -> None:
    """Raise UserError (one line) for an attention configuration that cannot be built.

    ``k`` is used by ``linformer`` only and ``m`` by ``performer`` only; None means the
    default (:data:`DEFAULT_K` capped at ``seq_len``, :data:`DEFAULT_M`). Causal attention is
    supported by softmax, sdpa and performer (prefix sums); Linformer's projection along the
    sequence mixes future positions into every key, so causal Linformer is refused.
    """
    if mechanism not in MECHANISMS:
        raise UserError(
            f"attention mechanism {mechanism!r} is unknown (choose from {', '.join(MECHANISMS)})"
        )
    if seq_len < 1:
        raise UserError(f"sequence length must be at least 1, got {seq_len}")
    if d_model is not None and heads is not None:
        if heads < 1 or d_model < 1:
            raise UserError(f"d_model ({d_model}) and heads ({heads}) must be at least 1")
        if d_model % heads:
            raise UserError(f"d_model ({d_model}) must be divisible by heads ({heads})")
    if mechanism == "linformer":
        if k is not None and not 1 <= k <= seq_len:
            raise UserError(
                f"linformer k={k} must be between 1 and the sequence length {seq_len}: "
                "it projects the sequence down to k positions"
            )
        if causal:
            raise UserError(
                "linformer cannot be causal: its projection along the sequence mixes future "
                "positions into every key (use softmax, sdpa or performer, or causal=false)"
            )
    if mechanism == "performer" and m is not None and m < 1:
        raise UserError(f"performer m={m} must be at least 1 (number of random features)")


def check_density(density: float) -> None:
    """Densities are the fraction of weights kept: in (0, 1]."""
    if not 0.0 < density <= 1.0:
        raise UserError(
            f"density {density} is outside (0, 1]: it is the fraction of weights kept "
            "(0.1 keeps 10%)"
        )


def check_variants(precision: str, sparsity: str, density: float, mode: str) -> None:
    """Raise UserError for a precision/sparsity/mode combination that is never runnable."""
    _check_choice("precision", precision, PRECISIONS)
    _check_choice("sparsity", sparsity, SPARSITIES)
    _check_choice("mode", mode, MODES)
    check_density(density)
    if precision == "int8" and mode == "train":
        raise UserError(
            "precision int8 is dynamic quantisation for inference: use mode=infer, or "
            "bf16/fp16 to train in lower precision"
        )
    if sparsity in ("sparse", "2:4") and mode == "train":
        raise UserError(
            f"sparsity={sparsity} runs inference only (its kernels have no weight gradient): "
            "use mode=infer, or sparsity=masked to train a pruned model"
        )
    if precision == "int8" and sparsity in ("sparse", "2:4"):
        raise UserError(
            f"precision int8 and sparsity={sparsity} do not combine (quantised layers have "
            "no sparse kernels here): use sparsity=masked with int8"
        )
    if sparsity == "2:4" and density != 0.5:
        raise UserError(
            f"sparsity=2:4 keeps exactly two of every four weights: set density=0.5, "
            f"not {density}"
        )


def check_params(params_decl: Any, values: Mapping[str, Any]) -> None:
    """Check each value against its Param (choices, bounds), for callers that skip the grid."""
    for p in params_decl:
        if p.name in values:
            p.check(values[p.name])


def _check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UserError(f"{what} {value!r} is unknown (choose from {', '.join(choices)})")


# -- skip reasons (sound parameters this device or torch build cannot run) --------------------


def variant_skip_reason(
    device: str,
    *,
    precision: str = "fp32",
    sparsity: str = "none",
    compile: bool = False,
) -> str | None:
    """Why ``device`` cannot run this variant, or None when it can.

    On a GPU this asks torch for the device's capability, which initialises CUDA in the
    calling process: run workers with the ``spawn`` start method.
    """
    kind = device_type(device)
    if kind == "cuda":
        reason = _cuda_skip_reason(precision, sparsity)
    elif kind == "cpu":
        reason = _cpu_skip_reason(precision, sparsity)
    else:
        reason = f"device {device!r}: the torch workloads run on cpu or cuda only"
    if reason is None and compile and kind == "cpu" and not _have_cxx_compiler():
        reason = "torch.compile on a CPU needs a C++ compiler (inductor); none found on PATH"
    return reason


def _cpu_skip_reason(precision: str, sparsity: str) -> str | None:
    if precision == "fp16":
        return "fp16 autocast is a GPU variant: CPUs have no fast fp16 matrix kernels"
    if sparsity == "2:4":
        return (
            "2:4 semi-structured sparsity needs an NVIDIA GPU with compute capability 8.0+ "
            "(Ampere or newer); this device is a CPU"
        )
    if sparsity == "sparse" and precision == "bf16":
        return _sparse_kernel_missing("cpu", "bf16")
    return None


def _cuda_skip_reason(precision: str, sparsity: str) -> str | None:
    import torch

    if not torch.cuda.is_available():
        return "device cuda: torch sees no CUDA GPU"
    major, minor = torch.cuda.get_device_capability()
    if precision == "int8":
        return "int8 dynamic quantisation (torch.ao quantize_dynamic) has CPU kernels only"
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        return f"this GPU (compute capability {major}.{minor}) has no bf16 support"
    if sparsity == "2:4":
        if major < 8:
            return (
                f"2:4 semi-structured sparsity needs compute capability 8.0+; this GPU has "
                f"{major}.{minor}"
            )
        if precision == "fp32":
            return (
                "2:4 kernels (cuSPARSELt) take fp16/bf16 weights: run 2:4 with "
                "precision=fp16 or bf16"
            )
    if sparsity == "sparse" and precision in ("bf16", "fp16"):
        return _sparse_kernel_missing("cuda", precision)
    return None


def _sparse_kernel_missing(device: str, precision: str) -> str | None:
    """Probe torch for a sparse CSR x dense matmul in this dtype (kernels vary by build)."""
    import warnings

    import torch

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "sparse CSR support is in beta"
            eye = torch.eye(4, dtype=dtype, device=device)
            _ = eye.to_sparse_csr() @ eye
    except (RuntimeError, NotImplementedError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (
            f"torch {torch.__version__} has no {precision} sparse CSR matmul on {device}: "
            f"{first}"
        )
    return None


def _have_cxx_compiler() -> bool:
    if os.environ.get("CXX") and shutil.which(os.environ["CXX"]):
        return True
    return any(shutil.which(c) for c in ("g++", "c++", "clang++"))
