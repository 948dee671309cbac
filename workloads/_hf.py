"""Hugging Face models for the ``hf-*`` workloads: a local folder or a shipped config, never a
download at run time.

``model`` is a folder with a ``config.json`` (and the weights, where the user has them:
``model.safetensors`` or ``pytorch_model.bin``), or the name of a config shipped in
``hf_configs/``: small members of well-known families that run on a laptop CPU (a GPT-2 style
decoder at two sizes, a BERT style encoder, a ViT, a CLIP dual encoder). Without weights the
model gets random ones, and the run says so. Every mistake is one line, before any work.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from greenbench.errors import UserError

SHIPPED = Path(__file__).parent / "hf_configs"
WEIGHTS = ("model.safetensors", "pytorch_model.bin")

#: what each task builds, by the architecture's transformers class family
TASK_CLASSES = {
    "generate": "AutoModelForCausalLM",
    "classify": "AutoModelForSequenceClassification",
    "classify-image": "AutoModelForImageClassification",
    "embed": "AutoModel",
    "train": "AutoModelForCausalLM",
}


def shipped() -> list[str]:
    return sorted(p.name for p in SHIPPED.iterdir() if (p / "config.json").is_file())


def folder(model: str) -> Path:
    """The folder of ``model`` (a shipped name or a path); UserError when there is none."""
    if (SHIPPED / model / "config.json").is_file():
        return SHIPPED / model
    path = Path(model).expanduser()
    if not path.is_dir() and (SHIPPED / model / "model_index.json").is_file():
        path = SHIPPED / model  # a shipped diffusers pipeline: said so below
    if path.is_dir():
        if not (path / "config.json").is_file():
            pipeline = " (it has a model_index.json: a diffusers pipeline, for hf-image)" \
                if (path / "model_index.json").is_file() else ""
            raise UserError(f"model {model}: {path} has no config.json{pipeline}; pass a "
                            "folder with a Hugging Face config.json (and its weights, if you "
                            "have them)")
        return path
    raise UserError(
        f"model {model}: not a local folder and not a shipped config ({', '.join(shipped())}); "
        "greenbench never downloads at run time: download it first (for example "
        f"huggingface-cli download {model} --local-dir {Path(model).name}) and pass the folder")


def config(model: str) -> Any:
    """The model's transformers config; UserError for one the installed transformers cannot
    read (an architecture it does not know)."""
    import transformers

    where = folder(model)
    try:
        return transformers.AutoConfig.from_pretrained(str(where), local_files_only=True)
    except (ValueError, KeyError, OSError) as exc:
        text = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise UserError(f"model {model}: transformers {transformers.__version__} cannot read "
                        f"its config.json ({text}); a newer transformers may know the "
                        "architecture") from None


def model_class(cfg: Any, task: str, workload: str) -> Any:
    """The transformers class that does ``task`` for this architecture; UserError when the
    architecture has none (a BERT cannot generate text)."""
    import transformers

    family = getattr(transformers, TASK_CLASSES[task])
    try:
        return family._model_mapping[type(cfg)]  # the class from_config would build
    except KeyError:
        raise UserError(f"{workload}: model type {cfg.model_type} cannot {task.split('-')[0]}"
                        f" in transformers {transformers.__version__}; "
                        f"{_alternatives(cfg)}") from None


def build(model: str, task: str, workload: str, seed: int) -> tuple[Any, bool]:
    """(the model, whether its weights are random): from the folder's weights if it has any,
    else randomly initialised from the config with ``seed``."""
    import torch

    cfg = config(model)
    cls = model_class(cfg, task, workload)
    where = folder(model)
    if any((where / w).is_file() for w in WEIGHTS):
        return cls.from_pretrained(str(where), local_files_only=True), False
    torch.manual_seed(seed)
    return cls(cfg), True


def random_weights_note(model: str) -> str:
    return (f"model {model} has no weights beside its config.json: randomly initialised "
            "weights (energy and speed are those of the architecture; outputs mean nothing)")


def _alternatives(cfg: Any) -> str:
    import transformers

    able = [task for task, name in TASK_CLASSES.items()
            if type(cfg) in getattr(transformers, name)._model_mapping]
    return ("it can: " + ", ".join(able)) if able else "no greenbench task fits it"


def token_ids(params: Mapping[str, Any], cfg: Any, length: int, n: int) -> Any:
    """``n`` fixed sequences of random token ids (the seed's own generator)."""
    import torch

    vocab = getattr(cfg, "vocab_size", None) or cfg.text_config.vocab_size
    g = torch.Generator().manual_seed(params["seed"])
    return torch.randint(0, vocab, (n, length), generator=g)
