"""Multi-head attention with an interchangeable mechanism: the contract other workloads use.

``make_attention(mechanism, d_model, heads, seq_len, k=..., m=..., causal=...)`` returns an
``nn.Module`` mapping x (batch, seq, d_model) -> (batch, seq, d_model). Every mechanism shares
the same frame -- a fused query/key/value projection, ``heads`` heads of width
``d_model // heads``, an output projection, all plain ``nn.Linear`` so int8 dynamic
quantisation applies -- and differs only in how queries, keys and values are mixed
(:meth:`MultiHeadAttention.attend`, shapes (batch, heads, seq, head_dim)):

* ``softmax`` -- softmax(Q K^T / sqrt(d)) V written out: the quadratic baseline (Vaswani et
  al. 2017, "Attention Is All You Need"). Time and memory O(n^2) in the sequence length n.
* ``sdpa`` -- ``torch.nn.functional.scaled_dot_product_attention``: the same function through
  torch's fused kernels (flash / memory-efficient attention where the device has them).
* ``linformer`` -- keys and values projected along the sequence to length k by learned
  (k, seq_len) matrices E and F shared by all heads, then softmax attention over k positions:
  O(n k) (Wang et al. 2020, "Linformer: Self-Attention with Linear Complexity",
  arXiv 2006.04768). E and F start as mean pooling over k blocks (the identity when
  k = seq_len). Not causal. Inputs shorter than ``seq_len`` use the first columns of E and F,
  which equals zero-padding the keys and values to ``seq_len``.
* ``performer`` -- FAVOR+: exp(q.k / sqrt(d)) is estimated by phi(q).phi(k) with m positive
  orthogonal random features, giving O(n m) attention (Choromanski et al. 2020, "Rethinking
  Attention with Performers", arXiv 2009.14794). The features are drawn once at
  construction from the ``generator`` passed in -- never from torch's global generator, so
  building a Performer cannot change the weights or inputs drawn after it -- and kept fixed
  (no redrawing during training), so runs are repeatable. Causal Performer uses chunked
  prefix sums.

Parameters are validated by :func:`check_attention_params` (re-exported from
:mod:`workloads._variants`, which needs no torch) and raise ``UserError``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from greenbench_workloads._variants import (
    DEFAULT_K,
    DEFAULT_M,
    MECHANISMS,
    check_attention_params,
)

__all__ = [
    "MECHANISMS", "MultiHeadAttention", "attention_rel_error", "check_attention_params",
    "make_attention", "output_bias",
]


def make_attention(
    mechanism: str,
    d_model: int,
    heads: int,
    seq_len: int,
    *,
    k: int | None = None,
    m: int | None = None,
    causal: bool = False,
    generator: torch.Generator | None = None,
) -> nn.Module:
    """One multi-head attention layer: forward(x (b, n, d_model)) -> (b, n, d_model).

    ``seq_len`` is the longest sequence the layer accepts (Linformer's projections are that
    long); ``k`` (Linformer, default min(128, seq_len)) and ``m`` (Performer, default 128) are
    ignored by the other mechanisms. ``generator`` draws Performer's random features (required
    for ``performer``, unused by the others). The projection weights come from torch's global
    generator, like any ``nn.Linear``. Raises UserError for invalid combinations.
    """
    check_attention_params(
        mechanism, seq_len, k, m, d_model=d_model, heads=heads, causal=causal
    )
    if mechanism == "softmax":
        return SoftmaxAttention(d_model, heads, causal=causal)
    if mechanism == "sdpa":
        return SdpaAttention(d_model, heads, causal=causal)
    if mechanism == "linformer":
        return LinformerAttention(d_model, heads, seq_len, k or min(DEFAULT_K, seq_len))
    if generator is None:
        raise ValueError("make_attention('performer', ...) needs a generator for its features")
    return PerformerAttention(d_model, heads, m or DEFAULT_M, causal=causal, generator=generator)


class MultiHeadAttention(nn.Module):
    """Projections and head splitting shared by all mechanisms; subclasses define attend()."""

    def __init__(self, d_model: int, heads: int, *, causal: bool = False) -> None:
        super().__init__()
        self.d_model, self.heads, self.causal = d_model, heads, causal
        self.head_dim = d_model // heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        # (b, n, 3d) -> 3 x (b, heads, n, head_dim)
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        mixed = self.attend(q, k, v)
        return self.out(mixed.transpose(1, 2).reshape(b, n, d))

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Mix values: q, k, v (b, heads, n, head_dim) -> (b, heads, n, head_dim)."""
        raise NotImplementedError


class SoftmaxAttention(MultiHeadAttention):
    """softmax(Q K^T / sqrt(d) [+ causal mask]) V, materialising the n x n scores."""

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        scores = (q @ k.transpose(-2, -1)) * (self.head_dim**-0.5)
        if self.causal:
            n = q.shape[-2]
            future = torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1)
            scores = scores.masked_fill(future, float("-inf"))
        return scores.softmax(dim=-1) @ v


class SdpaAttention(MultiHeadAttention):
    """torch's fused scaled_dot_product_attention: the same function, optimised kernels."""

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)


class LinformerAttention(MultiHeadAttention):
    """softmax(Q (E K)^T / sqrt(d)) (F V) with learned E, F of shape (k, seq_len)."""

    def __init__(self, d_model: int, heads: int, seq_len: int, k: int) -> None:
        super().__init__(d_model, heads)
        self.seq_len, self.k = seq_len, k
        # Start as mean pooling over k contiguous blocks, one of the projections the paper
        # names (section 4): untrained random projections would scale keys and values with
        # sqrt(seq_len) and make the error against softmax grow with n for no reason. With
        # k = seq_len this is the identity. Both stay learnable.
        self.proj_k = nn.Parameter(mean_pooling(k, seq_len))
        self.proj_v = nn.Parameter(mean_pooling(k, seq_len))

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        n = k.shape[-2]
        if n > self.seq_len:
            raise ValueError(f"linformer built for {self.seq_len} positions got {n}")
        # (k, n) @ (b, h, n, d) -> (b, h, k, d); first n columns == zero-padded keys/values
        keys = self.proj_k[:, :n] @ k
        values = self.proj_v[:, :n] @ v
        return F.scaled_dot_product_attention(q, keys, values)


class PerformerAttention(MultiHeadAttention):
    """FAVOR+ attention with ``m`` positive orthogonal random features."""

    #: positions per block of the causal prefix sums: bounds memory at O(chunk^2 + m d)
    chunk = 128
    eps = 1e-6
    floor = -30.0

    def __init__(
        self, d_model: int, heads: int, m: int, *, generator: torch.Generator,
        causal: bool = False,
    ) -> None:
        super().__init__(d_model, heads, causal=causal)
        self.m = m
        self.register_buffer("features", orthogonal_gaussian(m, self.head_dim, generator))

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        phi_q = self.feature_map(q, is_query=True)
        phi_k = self.feature_map(k, is_query=False)
        if self.causal:
            return _causal_linear_attention(phi_q, phi_k, v, self.chunk, self.eps)
        kv = phi_k.transpose(-2, -1) @ v.to(phi_k.dtype)  # (b, h, m, d)
        norm = phi_k.sum(dim=-2).unsqueeze(-1)  # (b, h, m, 1)
        return (phi_q @ kv) / (phi_q @ norm).clamp_min(self.eps)

    def feature_map(self, x: torch.Tensor, *, is_query: bool) -> torch.Tensor:
        """phi(x) = exp(w_i . x' - |x'|^2 / 2) / sqrt(m), x' = x / d^(1/4): (b,h,n,d) -> (b,h,n,m).

        E[phi(q) . phi(k)] = exp(q . k / sqrt(d)), positive by construction. A maximum is
        subtracted inside the exp for stability; it is the same for every key a query sees
        (per query row for queries, per (batch, head) for keys), so it cancels in the
        normalisation. Computed in fp32 even under autocast: the exp is where 16 bits fail.
        The exponent is floored at -30 (see below), a relative change under 1e-13.
        """
        x = x.float() * self.head_dim**-0.25
        proj = x @ self.features.t()  # (b, h, n, m)
        proj = proj - x.pow(2).sum(dim=-1, keepdim=True) / 2
        dims = (-1,) if is_query else (-2, -1)
        proj = proj - proj.detach().amax(dim=dims, keepdim=True)
        # exp(< -30) is below fp32's resolution next to the largest feature (exp(0) = 1), but
        # left alone it produces denormals that slow x86 CPUs down by 30x at n >= 2048
        return torch.exp(proj.clamp_min(self.floor)) / math.sqrt(self.m)


def output_bias(attention: nn.Module) -> torch.Tensor:
    """The bias of a layer's output projection (d_model,), zeros if it has none.

    Quality figures subtract it from both outputs before comparing: it is the same in the
    variant and the reference and would otherwise dilute the attention's error. Works on int8
    dynamically quantised layers too, whose ``bias`` is a method.
    """
    out = attention.out
    bias = out.bias() if callable(out.bias) else out.bias
    if bias is None:
        return torch.zeros(attention.d_model)
    return bias.detach().float()


def attention_rel_error(
    pairs: Iterable[tuple[nn.Module, nn.Module]], forward: Callable[[], object]
) -> float:
    """The attention layers' own error inside a model, where the approximation happens.

    ``pairs`` are (variant layer, exact reference layer with the same weights); ``forward()``
    runs the variant model once. Each variant layer's input and output are caught on the way
    and the reference layer is run on the *same* input, so the residual stream, later layers
    and the head cannot dilute or compound the figure. Returns
    ||(out - b) - (ref - b)|| / ||ref - b|| over all layers together, without the output bias b
    (see :func:`output_bias`); call it under no_grad or inference_mode.
    """
    pairs = list(pairs)
    caught: list[tuple[torch.Tensor, torch.Tensor]] = []

    def catch(_module: nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        caught.append((args[0], out))

    hooks = [variant.register_forward_hook(catch) for variant, _ in pairs]
    try:
        forward()
    finally:
        for hook in hooks:
            hook.remove()
    if len(caught) != len(pairs):
        raise RuntimeError(f"expected {len(pairs)} attention calls, caught {len(caught)}")
    num = den = 0.0
    for (x, out), (_, reference) in zip(caught, pairs, strict=True):
        bias = output_bias(reference)
        with torch.autocast(x.device.type, enabled=False):  # the reference is exact fp32
            ref = reference(x.float()).float() - bias
        num += float((out.float() - bias - ref).pow(2).sum())
        den += float(ref.pow(2).sum())
    return math.sqrt(num / den) if den > 0 else 0.0


def mean_pooling(k: int, n: int) -> torch.Tensor:
    """(k, n) matrix whose row i averages positions [floor(i n / k), floor((i+1) n / k))."""
    edges = [i * n // k for i in range(k + 1)]
    pool = torch.zeros(k, n)
    for i in range(k):
        lo, hi = edges[i], max(edges[i + 1], edges[i] + 1)
        pool[i, lo:hi] = 1.0 / (hi - lo)
    return pool


def orthogonal_gaussian(m: int, d: int, generator: torch.Generator) -> torch.Tensor:
    """(m, d) random features from ``generator``: blocks of d orthogonal directions with chi(d)
    lengths.

    Each row is marginally N(0, I_d) but rows within a block are exactly orthogonal, which
    lowers the estimator's variance (Performer paper, section 2.4).
    """
    blocks = []
    for _ in range(math.ceil(m / d)):
        q, _ = torch.linalg.qr(torch.randn(d, d, generator=generator))
        blocks.append(q.t())
    directions = torch.cat(blocks)[:m]
    lengths = torch.randn(m, d, generator=generator).norm(dim=1, keepdim=True)
    return directions * lengths


def _causal_linear_attention(
    phi_q: torch.Tensor, phi_k: torch.Tensor, v: torch.Tensor, chunk: int, eps: float
) -> torch.Tensor:
    """Causal sum_{j<=i} phi(q_i).phi(k_j) v_j / sum_{j<=i} phi(q_i).phi(k_j), blockwise.

    Within a block the (chunk x chunk) lower triangle is done directly; earlier blocks enter
    through running sums S = sum phi(k_j) v_j^T (m x d) and z = sum phi(k_j), so memory stays
    O(chunk^2 + m d) per head instead of the O(n m d) of a full prefix sum.
    """
    b, h, n, m = phi_q.shape
    v = v.to(phi_k.dtype)
    state = phi_q.new_zeros(b, h, m, v.shape[-1])
    total = phi_q.new_zeros(b, h, m, 1)
    lower = torch.ones(chunk, chunk, device=phi_q.device, dtype=phi_q.dtype).tril()
    outputs = []
    for start in range(0, n, chunk):
        q_c, k_c, v_c = (t[..., start : start + chunk, :] for t in (phi_q, phi_k, v))
        size = q_c.shape[-2]
        local = (q_c @ k_c.transpose(-2, -1)) * lower[:size, :size]  # (b, h, c, c)
        num = q_c @ state + local @ v_c
        den = q_c @ total + local.sum(dim=-1, keepdim=True)
        outputs.append(num / den.clamp_min(eps))
        state = state + k_c.transpose(-2, -1) @ v_c
        total = total + k_c.sum(dim=-2).unsqueeze(-1)
    return torch.cat(outputs, dim=-2)
