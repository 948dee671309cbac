"""Small models and helpers shared by the application workloads (generate, multimodal, ...).

Everything here is randomly initialised or trained in-process: no weights are downloaded. Shapes
use ``b`` for batch, ``t`` for sequence length, ``d`` for model width and ``h`` for heads.
Importing this module imports torch, so workload modules import it inside ``setup`` only.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from greenbench_workloads._torch import sync

# -- measurement helpers -----------------------------------------------------------------------


def phase(name: str) -> contextlib.AbstractContextManager[object]:
    """The meter's named phase (its energy is reported separately), or a no-op without a meter.

    The import is guarded so that the workloads also run against a greenbench without
    ``greenbench.meter`` (an older install); they then report no phase energies.
    """
    try:
        from greenbench.meter import phase as meter_phase
    except ImportError:
        return contextlib.nullcontext()
    return meter_phase(name)


def now(device: torch.device) -> float:
    """perf_counter() in seconds after the device has finished its queued work."""
    sync(device)
    return time.perf_counter()


def percentiles_ms(prefix: str, seconds: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99 of durations in seconds, as ``{prefix}_p50_ms: ...`` (empty input: {})."""
    if not seconds:
        return {}
    values = torch.tensor(list(seconds), dtype=torch.float64) * 1000.0
    qs = torch.tensor([0.5, 0.9, 0.99], dtype=torch.float64)
    p50, p90, p99 = torch.quantile(values, qs).tolist()
    return {f"{prefix}_p50_ms": p50, f"{prefix}_p90_ms": p90, f"{prefix}_p99_ms": p99}


def cache_dir() -> Path:
    """Where in-process trained models are kept: $GREENBENCH_CACHE_DIR or ~/.cache/greenbench."""
    env = os.environ.get("GREENBENCH_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "greenbench"


# -- transformer pieces ------------------------------------------------------------------------


class KVCache:
    """Keys and values of every layer for up to ``max_len`` positions, preallocated.

    ``k`` and ``v`` are [layers, b, h, max_len, d/h]; ``length`` positions are filled. Decoding
    writes each new position in place, so a step costs O(length) and allocates nothing.
    """

    def __init__(
        self, layers: int, batch: int, heads: int, head_dim: int, max_len: int,
        device: torch.device, dtype: torch.dtype = torch.float32,
    ) -> None:
        shape = (layers, batch, heads, max_len, head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.length = 0

    def extend(
        self, layer: int, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store new [b, h, t, d/h] keys/values of one layer; return all of them so far."""
        start, end = self.length, self.length + k.shape[2]
        if end > self.k.shape[3]:
            raise ValueError(f"KV cache holds {self.k.shape[3]} positions, {end} requested")
        self.k[layer, :, :, start:end] = k
        self.v[layer, :, :, start:end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]


class SelfAttention(nn.Module):
    """Multi-head self-attention through ``scaled_dot_product_attention``, optionally cached."""

    def __init__(self, d_model: int, heads: int, causal: bool) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} is not divisible by heads {heads}")
        self.heads, self.causal = heads, causal
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(
        self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0
    ) -> torch.Tensor:
        """[b, t, d] -> [b, t, d]; with a cache, x holds only the positions after cache.length."""
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        if cache is not None:
            k, v = cache.extend(layer, k, v)
        past = k.shape[2] - t
        if not self.causal or (past == 0 and t > 0):
            y = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        elif t == 1:
            # one new query may see every cached key: no mask at all (the common decode case)
            y = F.scaled_dot_product_attention(q, k, v)
        else:
            # is_causal aligns the mask top-left, which is wrong after a prefix: build it
            mask = torch.ones(t, past + t, dtype=torch.bool, device=x.device).tril(past)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out(y.transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    """Pre-norm transformer block around any attention module ([b, t, d] -> [b, t, d])."""

    def __init__(self, d_model: int, attention: nn.Module, mlp_ratio: int = 4) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attention = attention
        self.norm2 = nn.LayerNorm(d_model)
        hidden = mlp_ratio * d_model
        self.mlp = nn.Sequential(nn.Linear(d_model, hidden), nn.GELU(), nn.Linear(hidden, d_model))

    def forward(self, x: torch.Tensor, **attention_kwargs: object) -> torch.Tensor:
        x = x + self.attention(self.norm1(x), **attention_kwargs)
        return x + self.mlp(self.norm2(x))


class TinyLM(nn.Module):
    """A decoder-only language model: token and learned position embeddings, causal blocks.

    ``forward(tokens[b, t], cache) -> logits[b, t, vocab]``. With a :class:`KVCache` the tokens
    are the positions after ``cache.length`` and the cache is advanced past them.
    """

    def __init__(self, vocab: int, d_model: int, layers: int, heads: int, max_len: int) -> None:
        super().__init__()
        self.vocab, self.heads, self.max_len = vocab, heads, max_len
        self.embed = nn.Embedding(vocab, d_model)
        self.position = nn.Embedding(max_len, d_model)
        self.blocks = nn.ModuleList(
            Block(d_model, SelfAttention(d_model, heads, causal=True)) for _ in range(layers)
        )
        self.norm = nn.LayerNorm(d_model)
        # untied: with random weights a tied head maps every token back to itself, and greedy
        # decoding would repeat one token forever (a cache bug could then hide)
        self.head = nn.Linear(d_model, vocab, bias=False)

    def new_cache(self, batch: int, max_len: int | None = None) -> KVCache:
        d = self.embed.embedding_dim
        p = self.embed.weight
        return KVCache(len(self.blocks), batch, self.heads, d // self.heads,
                       max_len or self.max_len, p.device, p.dtype)

    def forward(self, tokens: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        past = cache.length if cache is not None else 0
        positions = torch.arange(past, past + tokens.shape[1], device=tokens.device)
        x = self.embed(tokens) + self.position(positions)
        for i, block in enumerate(self.blocks):
            x = block(x, cache=cache, layer=i)
        if cache is not None:
            cache.length += tokens.shape[1]
        return self.head(self.norm(x))


class Encoder(nn.Module):
    """Bidirectional transformer over embeddings: [b, t, d] -> [b, t, d]."""

    def __init__(self, d_model: int, layers: int, heads: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            Block(d_model, SelfAttention(d_model, heads, causal=False)) for _ in range(layers)
        )
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


class SequenceClassifier(nn.Module):
    """tokens [b, t] -> class logits [b, classes]: embeddings, blocks, mean pooling, a head.

    ``attention()`` builds each block's attention module ([b, t, d] -> [b, t, d]), so any
    mechanism fits; positions are learned for up to ``max_len`` tokens.
    """

    def __init__(
        self, vocab: int, d_model: int, layers: int, max_len: int, classes: int,
        attention: Callable[[], nn.Module],
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.position = nn.Embedding(max_len, d_model)
        self.blocks = nn.ModuleList(Block(d_model, attention()) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens) + self.position.weight[: tokens.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x).mean(1))


@torch.no_grad()
def greedy_decode_recompute(model: TinyLM, prompt: torch.Tensor, new_tokens: int) -> torch.Tensor:
    """Reference decoding without a cache: the whole sequence is re-run for every new token.

    prompt [b, t] -> generated tokens [b, new_tokens]; quadratic work, used to check the cache.
    """
    seq = prompt
    for _ in range(new_tokens):
        nxt = model(seq)[:, -1].argmax(-1, keepdim=True)
        seq = torch.cat([seq, nxt], dim=1)
    return seq[:, prompt.shape[1]:]


# -- LoRA --------------------------------------------------------------------------------------


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank update: y = W x + (alpha/r) B A x.

    A [r, in] starts random and B [out, r] at zero, so the wrapped layer starts out identical
    to the original (Hu et al., 2021).
    """

    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features, device=base.weight.device))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank, device=base.weight.device))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        self.scale = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_a.T @ self.lora_b.T) * self.scale


def add_lora(model: nn.Module, rank: int, alpha: float) -> list[nn.Parameter]:
    """Freeze ``model`` and wrap each of its Linear layers in LoRA; return the adapter params."""
    for p in model.parameters():
        p.requires_grad_(False)
    targets = [(parent, name, child) for parent in model.modules()
               for name, child in parent.named_children() if isinstance(child, nn.Linear)]
    adapters: list[nn.Parameter] = []
    for parent, name, child in targets:
        wrapped = LoRALinear(child, rank, alpha)
        setattr(parent, name, wrapped)
        adapters += [wrapped.lora_a, wrapped.lora_b]
    return adapters


# -- synthetic classification tasks ------------------------------------------------------------


class MLPClassifier(nn.Module):
    """features [b, d_in] -> logits [b, classes]: ``depth`` hidden ReLU layers, then a head."""

    def __init__(self, d_in: int, hidden: int, classes: int, depth: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = d_in
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class TeacherTask:
    """Labels from a fixed random "teacher" network: y = argmax(W2 tanh(W1 x + b1)).

    Learnable by a student MLP but not linearly separable; inputs are standard normal.
    ``shifted(...)`` gives a related task for few-shot adaptation.
    """

    def __init__(self, d_in: int, classes: int, seed: int, width: int = 64) -> None:
        g = torch.Generator().manual_seed(seed)
        self.d_in, self.classes, self.seed = d_in, classes, seed
        self.w1 = torch.randn(width, d_in, generator=g) / math.sqrt(d_in)
        self.b1 = torch.randn(width, generator=g) * 0.1
        self.w2 = torch.randn(classes, width, generator=g) / math.sqrt(width)

    def sample(self, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """n inputs [n, d_in] (float32) and labels [n] (int64), reproducible from ``seed``."""
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(n, self.d_in, generator=g)
        return x, self.label(x)

    def label(self, x: torch.Tensor) -> torch.Tensor:
        return (torch.tanh(x @ self.w1.T + self.b1) @ self.w2.T).argmax(-1)

    def shifted(self, feature_change: float, head_change: float, seed: int) -> TeacherTask:
        """A related task: a rank-2 change to W1 and a dense change to W2, relative sizes given.

        The pretrained student's features still mostly apply, so adapting from a few hundred
        examples beats the unadapted model (about 0.67 -> 0.78 accuracy at the finetune
        defaults), while a few dozen can overfit and lose to it.
        """
        g = torch.Generator().manual_seed(seed)
        task = copy.copy(self)
        task.seed = seed
        width = self.w1.shape[0]
        u, v = torch.randn(width, 2, generator=g), torch.randn(2, self.d_in, generator=g)
        task.w1 = self.w1 + feature_change * (u @ v) / math.sqrt(2 * self.d_in)
        task.w2 = self.w2 + head_change * torch.randn(self.w2.shape, generator=g) / math.sqrt(
            width
        )
        return task


def gaussian_mixture(
    n: int, d_in: int, classes: int, clusters: int, sigma: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Points around ``classes * clusters`` fixed random centres; a point's class is its
    centre's index modulo ``classes``. Returns x [n, d_in] (float32) and y [n] (int64).

    Classes are balanced and multi-modal, so a linear model cannot fit them and an MLP's
    held-out accuracy climbs steadily from 1/classes: a task with a clear time to target.
    The centres depend only on (d_in, classes, clusters); ``seed`` picks the points.
    """
    centres = torch.randn(classes * clusters, d_in, generator=torch.Generator().manual_seed(99))
    g = torch.Generator().manual_seed(seed)
    component = torch.randint(0, classes * clusters, (n,), generator=g)
    x = centres[component] + sigma * torch.randn(n, d_in, generator=g)
    return x, component % classes


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 4096) -> float:
    """Fraction of rows of x [n, d] whose argmax logit equals y [n], in eval mode."""
    was_training = model.training
    model.eval()
    correct = sum(
        int((model(xb).argmax(-1) == yb).sum()) for xb, yb in _batches(x, y, batch)
    )
    model.train(was_training)
    return correct / max(1, len(y))


def _batches(x: torch.Tensor, y: torch.Tensor, size: int) -> Iterator[tuple[torch.Tensor, ...]]:
    for i in range(0, len(y), size):
        yield x[i:i + size], y[i:i + size]


# -- image-text dual encoder (CLIP-style) ------------------------------------------------------


class DualEncoder(nn.Module):
    """A CLIP-style pair of encoders mapping images and texts into one embedding space.

    Images [b, 3, s, s] are cut into (s/patch)^2 patches by a strided convolution, texts [b, t]
    are token ids; each side is a bidirectional transformer, mean-pooled and projected to
    ``embed_dim``, then L2-normalised. The loss is CLIP's symmetric cross-entropy over the
    batch's image-text similarity matrix with a learned temperature (Radford et al., 2021).
    """

    def __init__(
        self, image_size: int, patch: int, vocab: int, text_len: int,
        d_model: int, layers: int, heads: int, embed_dim: int,
    ) -> None:
        super().__init__()
        patches = (image_size // patch) ** 2
        self.patchify = nn.Conv2d(3, d_model, patch, stride=patch)
        self.image_pos = nn.Parameter(torch.randn(1, patches, d_model) * 0.02)
        self.image_encoder = Encoder(d_model, layers, heads)
        self.image_proj = nn.Linear(d_model, embed_dim, bias=False)
        self.token = nn.Embedding(vocab, d_model)
        self.text_pos = nn.Parameter(torch.randn(1, text_len, d_model) * 0.02)
        self.text_encoder = Encoder(d_model, layers, heads)
        self.text_proj = nn.Linear(d_model, embed_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """[b, 3, s, s] -> unit-norm embeddings [b, embed_dim]."""
        x = self.patchify(images).flatten(2).transpose(1, 2) + self.image_pos
        return F.normalize(self.image_proj(self.image_encoder(x).mean(1)), dim=-1)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """[b, t] -> unit-norm embeddings [b, embed_dim]."""
        x = self.token(tokens) + self.text_pos
        return F.normalize(self.text_proj(self.text_encoder(x).mean(1)), dim=-1)

    def loss(self, images: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Symmetric contrastive loss (scalar): pair i is the positive for row and column i."""
        logits = self.logit_scale.exp().clamp(max=100) * (
            self.encode_image(images) @ self.encode_text(tokens).T
        )
        target = torch.arange(len(images), device=images.device)
        return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def concept_pairs(
    n: int, concepts: int, image_size: int, text_len: int, vocab: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Synthetic image-text pairs that share a hidden concept, so retrieval can be learned.

    Concept c has a smooth random image template and ``text_len // 2`` tokens of its own; a
    pair is the template plus noise and those tokens shuffled among random filler tokens.
    Returns images [n, 3, s, s], tokens [n, text_len] (int64) and concepts [n] (int64).
    """
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(concepts, 3, 4, 4, generator=torch.Generator().manual_seed(12345))
    templates = F.interpolate(coarse, size=image_size, mode="bilinear", align_corners=False)
    words = torch.randperm(vocab, generator=torch.Generator().manual_seed(54321))
    own = words[: concepts * (text_len // 2)].view(concepts, text_len // 2)
    concept = torch.randint(0, concepts, (n,), generator=g)
    images = templates[concept] + 0.5 * torch.randn(n, 3, image_size, image_size, generator=g)
    filler = torch.randint(0, vocab, (n, text_len - text_len // 2), generator=g)
    tokens = torch.cat([own[concept], filler], dim=1)
    order = torch.rand(n, text_len, generator=g).argsort(dim=1)
    return images, tokens.gather(1, order), concept


# -- diffusion denoiser ------------------------------------------------------------------------


class UNet(nn.Module):
    """A two-level convolutional UNet predicting the noise in x_t: eps(x [b, 3, s, s], t [b], c).

    ``cond`` [b, d_cond] is a prompt embedding added to the timestep embedding (pooled
    conditioning, as in class- or text-conditioned DDPMs). s must be a multiple of 4.
    """

    def __init__(self, base: int, d_cond: int) -> None:
        super().__init__()
        temb = 4 * base
        self.base = base
        self.time_mlp = nn.Sequential(nn.Linear(base, temb), nn.SiLU(), nn.Linear(temb, temb))
        self.cond_proj = nn.Linear(d_cond, temb)
        self.inp = nn.Conv2d(3, base, 3, padding=1)
        self.down1 = _ResBlock(base, base, temb)
        self.down2 = _ResBlock(base, 2 * base, temb)
        self.mid = _ResBlock(2 * base, 2 * base, temb)
        self.up2 = _ResBlock(4 * base, 2 * base, temb)
        self.up1 = _ResBlock(3 * base, base, temb)
        self.pool1 = nn.Conv2d(base, base, 3, stride=2, padding=1)
        self.pool2 = nn.Conv2d(2 * base, 2 * base, 3, stride=2, padding=1)
        self.out = nn.Sequential(nn.GroupNorm(8, base), nn.SiLU(), nn.Conv2d(base, 3, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        emb = self.time_mlp(_timestep_embedding(t, self.base)) + self.cond_proj(cond)
        h1 = self.down1(self.inp(x), emb)
        h2 = self.down2(self.pool1(h1), emb)
        h = self.mid(self.pool2(h2), emb)
        h = self.up2(torch.cat([F.interpolate(h, scale_factor=2.0), h2], 1), emb)
        h = self.up1(torch.cat([F.interpolate(h, scale_factor=2.0), h1], 1), emb)
        return self.out(h)


class _ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, with the timestep embedding added in between (DDPM style)."""

    def __init__(self, cin: int, cout: int, temb: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(temb, cout)
        self.norm2, self.conv2 = nn.GroupNorm(8, cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x))) + self.emb(emb)[:, :, None, None]
        return self.skip(x) + self.conv2(F.silu(self.norm2(h)))


def _timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps t [b] -> [b, dim] (Vaswani et al. frequencies)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)
