"""A small pre-LayerNorm transformer language model and synthetic token data for it.

Built from plain modules (no ``nn.TransformerEncoder``, whose eval fast path breaks on int8
dynamically quantised layers) around :func:`workloads._attention.make_attention`, so every
attention mechanism and every linear-layer variant (int8, pruning, sparse kernels) applies.
Imports torch: import it inside ``setup``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from greenbench_workloads._attention import make_attention

#: ignored positions in targets (torch's cross_entropy default)
IGNORE = -100


class FeedForward(nn.Module):
    """fc2(GELU(fc1(x))): (b, n, d) -> (b, n, d) with a hidden width of 4d.

    fc1 and fc2 are the weights the sparsity variants prune and may replace.
    """

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d_model, 4 * d_model)
        self.fc2 = nn.Linear(4 * d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    """x + attn(LN(x)), then x + ffn(LN(x)) (pre-LN, as in GPT-2)."""

    def __init__(self, d_model: int, attention: nn.Module) -> None:
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(d_model), attention
        self.ln2, self.ffn = nn.LayerNorm(d_model), FeedForward(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.ffn(self.ln2(x))


class LanguageModel(nn.Module):
    """Token ids (b, n) -> next-token (causal) or masked-token logits (b, n, vocab)."""

    def __init__(
        self,
        vocab: int,
        seq_len: int,
        d_model: int,
        layers: int,
        heads: int,
        mechanism: str,
        *,
        k: int | None = None,
        m: int | None = None,
        causal: bool = True,
        generator: torch.Generator | None = None,
    ) -> None:
        """``generator`` draws Performer's random features (the weights come from torch's
        global generator, like any module's)."""
        super().__init__()
        self.tokens = nn.Embedding(vocab, d_model)
        self.positions = nn.Embedding(seq_len, d_model)
        self.blocks = nn.ModuleList(
            Block(d_model, make_attention(mechanism, d_model, heads, seq_len, k=k, m=m,
                                          causal=causal, generator=generator))
            for _ in range(layers)
        )
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab, bias=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = self.tokens(ids) + self.positions(pos)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))

    def feed_forwards(self) -> list[FeedForward]:
        return [block.ffn for block in self.blocks]

    def attentions(self) -> list[nn.Module]:
        return [block.attn for block in self.blocks]


def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy in nats over non-ignored positions; logits (b, n, V), targets (b, n)."""
    return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), ignore_index=IGNORE)


def markov_batches(
    vocab: int, seq_len: int, batch: int, count: int, *, causal: bool,
    generator: torch.Generator, mask_rate: float = 0.15,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``count`` (inputs, targets) pairs of (batch, seq_len) token ids from a random Markov chain.

    Each token has four possible successors with probabilities 0.5/0.25/0.15/0.1 (entropy
    about 1.7 nats against ln(vocab) for uniform tokens), so a model can learn something and
    the loss means something. Causal: targets are the inputs shifted by one. Not causal
    (masked LM, Devlin et al. 2019): ``mask_rate`` of the inputs are replaced by the mask token
    ``vocab - 1`` and only those positions are scored.
    """
    successors = torch.randint(0, vocab - 1, (vocab - 1, 4), generator=generator)
    probs = torch.tensor([0.5, 0.25, 0.15, 0.1])
    rows = batch * count
    seq = torch.empty(rows, seq_len + 1, dtype=torch.long)
    seq[:, 0] = torch.randint(0, vocab - 1, (rows,), generator=generator)
    for t in range(seq_len):
        pick = torch.multinomial(probs.expand(rows, 4), 1, generator=generator).squeeze(1)
        seq[:, t + 1] = successors[seq[:, t], pick]
    if causal:
        inputs, targets = seq[:, :-1], seq[:, 1:]
    else:
        inputs, targets = seq[:, :-1].clone(), seq[:, :-1].clone()
        masked = torch.rand(rows, seq_len, generator=generator) < mask_rate
        masked[:, 0] |= ~masked.any(dim=1)  # at least one scored position per row
        inputs[masked] = vocab - 1
        targets[~masked] = IGNORE
    return [
        (inputs[i * batch : (i + 1) * batch].contiguous(),
         targets[i * batch : (i + 1) * batch].contiguous())
        for i in range(count)
    ]
