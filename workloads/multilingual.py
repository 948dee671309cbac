"""``multilingual``: energy per sentence for the same content in twelve languages and scripts.

The text is ``workloads/data/parallel_sentences.json``: twenty sentences written for greenbench
and translated into each language (CC0; see ``workloads/data/README.md``). One step scores
every sentence of one language with a small causal language model (forward pass and per-token
log-likelihood, as when ranking or filtering text). Two models read the text differently:

* ``byte`` -- UTF-8 bytes (vocabulary 256 + BOS): a Thai or Hindi sentence is about three
  bytes per character, so it costs more than the English one with the same content.
* ``char`` -- Unicode code points, vocabulary = every character of the shipped text (+ BOS):
  Chinese and Japanese become the shortest sequences.

``language`` is a variant, so a grid over it gives one case per language; the parity ratio
needs all of them and is computed afterwards by :func:`language_parity` from the per-language
energies. Models are randomly initialised: the cost depends on sequence lengths, not weights.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

from greenbench.errors import UserError
from greenbench.workload import Param, Suite, Workload
from greenbench_workloads._variants import check_params
from greenbench_workloads.generate import SUITE_DESCRIPTION

DATA_FILE = "parallel_sentences.json"
#: ISO 639-1 codes of the shipped text, Latin scripts first
LANGUAGES = ("en", "es", "de", "ru", "el", "ar", "he", "hi", "zh", "ja", "ko", "th")
TOKENIZERS = ("byte", "char")
_BYTE_VOCAB = 256


class Multilingual(Workload):
    name = "multilingual"
    requires = ("torch",)
    description = "Same sentences in 12 languages, byte- or character-level model: J/sentence"
    unit = "sentences"
    params = (
        Param("language", str, "en", choices=LANGUAGES, variant=True,
              help="ISO 639-1 code of the shipped language to score"),
        Param("tokenizer", str, "byte", choices=TOKENIZERS, variant=True,
              help="byte: UTF-8 bytes; char: Unicode code points"),
        Param("batch", int, 1, minimum=1,
              help="sentences per forward pass (above 1, shorter ones are padded)"),
        Param("d_model", int, 64, minimum=8, help="model width"),
        Param("layers", int, 2, minimum=1, help="transformer blocks"),
        Param("heads", int, 4, minimum=1, help="attention heads (must divide d_model)"),
        Param("seed", int, 0, help="seed of the weights (same for every language)"),
    )

    def units_per_step(self, params: Mapping[str, Any]) -> float:
        return float(len(load_parallel_text()[params["language"]]))

    def check(self, params: Mapping[str, Any], device: str) -> None:
        if params["language"] not in LANGUAGES:
            raise UserError(
                f"multilingual: unknown language code {params['language']!r} "
                f"(known: {', '.join(LANGUAGES)})"
            )
        check_params(self.params, params)
        if params["d_model"] % params["heads"]:
            raise UserError(
                f"multilingual: d_model {params['d_model']} is not divisible by heads "
                f"{params['heads']}"
            )

    def setup(self, params: Mapping[str, Any], device: str) -> dict[str, Any]:
        import torch

        from greenbench_workloads._models import TinyLM
        from greenbench_workloads._torch import seed_all, torch_device

        p = dict(params)
        dev = torch_device(device)
        sequences = [encode(s, p["tokenizer"]) for s in load_parallel_text()[p["language"]]]
        vocab = vocabulary_size(p["tokenizer"])
        longest = max(len(t) for t in sequences)
        # every language gets the same weights: the longest sentence of any language fits
        seed_all(p["seed"])
        model = TinyLM(vocab, p["d_model"], p["layers"], p["heads"], max_len=_max_len(p)).to(dev)
        batches = []
        for i in range(0, len(sequences), p["batch"]):
            chunk = sequences[i:i + p["batch"]]
            width = max(len(t) for t in chunk)
            pad = torch.full((len(chunk), width), -100, dtype=torch.long)  # -100: ignored
            for row, t in enumerate(chunk):
                pad[row, : len(t)] = torch.tensor(t)
            batches.append(pad.to(dev))
        return {"params": p, "model": model.eval(), "batches": batches, "longest": longest,
                "tokens": sum(len(t) for t in sequences), "nll": 0.0}

    def step(self, state: dict[str, Any]) -> None:
        import torch
        import torch.nn.functional as F

        with torch.inference_mode():
            total = 0.0
            for batch in state["batches"]:
                logits = state["model"](batch.clamp_min(0))
                # score token i+1 from position i; padding (-100) is ignored
                total += float(F.cross_entropy(logits[:, :-1].flatten(0, 1),
                                               batch[:, 1:].flatten(), ignore_index=-100,
                                               reduction="sum"))
            state["nll"] = total

    def metrics(self, state: dict[str, Any]) -> dict[str, float]:
        """Sequence lengths behind the energy: tokens, characters and bytes per sentence."""
        counts = text_counts(state["params"]["language"])
        n = counts["sentences"]
        return {"tokens_per_sentence": (state["tokens"] - n) / n,  # BOS not counted
                "chars_per_sentence": counts["chars"] / n,
                "bytes_per_sentence": counts["bytes"] / n,
                "longest_sequence": float(state["longest"])}


def language_parity(energy_per_sentence: Mapping[str, float]) -> float:
    """Highest over lowest energy per sentence across languages (1.0 = perfect parity).

    Takes {language: J per sentence} from one ``multilingual`` case per language (same
    tokenizer, device and sizes). Raises ValueError for fewer than two languages or a value
    that is not positive, since a ratio against zero or a single language means nothing.
    """
    if len(energy_per_sentence) < 2:
        raise ValueError("language parity needs the energies of at least two languages")
    bad = {k: v for k, v in energy_per_sentence.items() if not v > 0}
    if bad:
        raise ValueError(f"energies must be positive, got {bad}")
    values = energy_per_sentence.values()
    return max(values) / min(values)


@lru_cache(maxsize=1)
def load_parallel_text() -> dict[str, tuple[str, ...]]:
    """{language code: its sentences, in the same order for every language} from the JSON."""
    data = resources.files("greenbench_workloads").joinpath("data", DATA_FILE)
    raw = data.read_text(encoding="utf-8")
    doc = json.loads(raw)
    missing = [code for code in LANGUAGES if code not in doc["languages"]]
    if missing:
        raise ValueError(f"{DATA_FILE} lacks languages {missing}")
    return {code: tuple(s[code] for s in doc["sentences"]) for code in LANGUAGES}


def text_counts(language: str) -> dict[str, int]:
    """Sentences, Unicode code points and UTF-8 bytes of one language's text."""
    sentences = load_parallel_text()[language]
    return {"sentences": len(sentences),
            "chars": sum(len(s) for s in sentences),
            "bytes": sum(len(s.encode("utf-8")) for s in sentences)}


def encode(sentence: str, tokenizer: str) -> list[int]:
    """Token ids of a sentence, BOS first: UTF-8 bytes or indices of its code points."""
    if tokenizer == "byte":
        return [_BYTE_VOCAB, *sentence.encode("utf-8")]
    table = _char_table()
    return [len(table), *(table[c] for c in sentence)]


def vocabulary_size(tokenizer: str) -> int:
    """Token ids used by ``encode``, including BOS."""
    return (_BYTE_VOCAB if tokenizer == "byte" else len(_char_table())) + 1


@lru_cache(maxsize=1)
def _char_table() -> dict[str, int]:
    """Every code point of the shipped text (all languages) -> an id, in code-point order."""
    chars = {c for sentences in load_parallel_text().values() for s in sentences for c in s}
    return {c: i for i, c in enumerate(sorted(chars))}


def _max_len(p: Mapping[str, Any]) -> int:
    """Longest encoded sentence over all languages, so every language shares one model."""
    return max(len(encode(s, p["tokenizer"]))
               for sentences in load_parallel_text().values() for s in sentences)


WORKLOADS = [Multilingual()]
SUITES = [Suite("applications", SUITE_DESCRIPTION,
                [("multilingual", {"language": ["en", "th"], "tokenizer": ["byte", "char"]})])]
