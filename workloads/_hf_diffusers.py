"""Diffusers pipelines for ``hf-image``: a local pipeline folder or a shipped one, never a
download at run time.

``model`` is a folder laid out as ``diffusers`` saves a pipeline (``model_index.json`` naming
the pipeline class and its components, one sub-folder per component with its config and, where
the user has them, its weights), or the name of a pipeline shipped in ``hf_configs/``:
``unet-tiny``, a Stable Diffusion style text-to-image pipeline (a UNet2DConditionModel with
cross-attention, a KL autoencoder, a CLIP text encoder, a byte-level tokenizer and a DDIM
scheduler) small enough to run on a laptop CPU in seconds. A model component without weights
gets random ones from its config, and the run says which. Every mistake is one line, before
any work.
"""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from greenbench.errors import UserError
from greenbench_workloads._hf import SHIPPED

INDEX = "model_index.json"
#: the weight files diffusers and transformers save for one component (or the index of a
#: sharded one)
WEIGHTS = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin",
           "model.safetensors", "pytorch_model.bin",
           "diffusion_pytorch_model.safetensors.index.json", "model.safetensors.index.json")
LIBRARIES = ("diffusers", "transformers")


def shipped() -> list[str]:
    return sorted(p.name for p in SHIPPED.iterdir() if (p / INDEX).is_file())


def folder(model: str) -> Path:
    """The pipeline folder of ``model`` (a shipped name or a path); UserError when there is
    none."""
    if (SHIPPED / model / INDEX).is_file():
        return SHIPPED / model
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / INDEX).is_file():
            hint = (" (it has a config.json: a transformers model, for hf-generate, "
                    "hf-classify, hf-embed or hf-train)") if (path / "config.json").is_file() \
                else ""
            raise UserError(f"model {model}: {path} has no {INDEX}{hint}; pass a folder saved "
                            "by a diffusers pipeline's save_pretrained")
        return path
    raise UserError(
        f"model {model}: not a local folder and not a shipped pipeline ({', '.join(shipped())});"
        " greenbench never downloads at run time: download it first (for example "
        f"huggingface-cli download {model} --local-dir {Path(model).name}) and pass the folder")


def index(model: str) -> dict[str, Any]:
    """The pipeline's ``model_index.json``; UserError where it is not one."""
    where = folder(model) / INDEX
    try:
        data = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"model {model}: cannot read {where} ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("_class_name"), str):
        raise UserError(f"model {model}: {where} names no pipeline class (_class_name)")
    return data


def pipeline_class(model: str) -> Any:
    """The diffusers pipeline class the folder names; UserError where the installed diffusers
    does not have it, or where it does not make images from a text prompt."""
    import inspect

    import diffusers

    name = index(model)["_class_name"]
    with _quiet_transformers():  # importing a pipeline imports its image processors
        cls = getattr(diffusers, name, None)
    if not isinstance(cls, type) or not issubclass(cls, diffusers.DiffusionPipeline):
        raise UserError(f"model {model}: diffusers {diffusers.__version__} has no pipeline "
                        f"{name}; a newer diffusers may know it")
    accepted = inspect.signature(cls.__call__).parameters
    if not {"prompt", "num_inference_steps", "height", "width"} <= set(accepted):
        raise UserError(f"hf-image: model {model} is a {name}, which does not generate images "
                        "from a text prompt at a given size and number of steps")
    return cls


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """transformers' warnings off for a while: importing a Stable Diffusion pipeline imports
    the CLIP image processor of its safety checker, and without torchvision transformers
    warns about falling back to PIL for it, which hf-image never uses."""
    import transformers

    before = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        yield
    finally:
        transformers.logging.set_verbosity(before)


def components(model: str) -> dict[str, tuple[str, str] | None]:
    """Each component the pipeline names: (library, class), or None for an absent one."""
    out: dict[str, tuple[str, str] | None] = {}
    for name, spec in index(model).items():
        if name.startswith("_") or not isinstance(spec, list):
            continue
        if len(spec) != 2 or spec == [None, None]:
            out[name] = None
            continue
        library, cls = spec
        if _module_name(library) is None:
            raise UserError(f"model {model}: component {name} comes from {library}, which is "
                            "neither diffusers, transformers nor a diffusers pipeline module")
        if not (folder(model) / name).is_dir():
            raise UserError(f"model {model}: {INDEX} names a component {name} ({cls}) but "
                            f"the folder has no {name}/ sub-folder")
        out[name] = (library, cls)
    return out


def build(model: str, seed: int) -> tuple[Any, list[str]]:
    """(the pipeline, the components whose weights are random): each model component from
    its weights where its sub-folder has them, else randomly initialised from its config
    with ``seed``; schedulers and tokenizers from their files."""
    import torch

    cls = pipeline_class(model)
    where = folder(model)
    torch.manual_seed(seed)
    parts: dict[str, Any] = {}
    random: list[str] = []
    for name, spec in components(model).items():
        if spec is None:
            parts[name] = None
            continue
        part, is_random = _component(model, where / name, name, *spec)
        parts[name] = part
        if is_random:
            random.append(name)
    options = {k: v for k, v in index(model).items()
               if not k.startswith("_") and not isinstance(v, list)}
    pipe = cls(**parts, **options)
    pipe.set_progress_bar_config(disable=True)
    return pipe, random


def _module_name(library: str) -> str | None:
    """The module a component's library names: ``diffusers``, ``transformers``, or one of
    diffusers' pipeline modules (``stable_diffusion`` for Stable Diffusion's safety checker);
    None for any other."""
    import importlib.util

    if library in LIBRARIES:
        return library
    inner = f"diffusers.pipelines.{library}"
    return inner if library.isidentifier() and importlib.util.find_spec(inner) else None


def _component(model: str, where: Path, name: str, library: str, cls_name: str
               ) -> tuple[Any, bool]:
    module = importlib.import_module(_module_name(library) or library)
    found = getattr(module, cls_name, None)
    if not isinstance(found, type):
        raise UserError(f"model {model}: {library} has no {cls_name} (component {name}); "
                        "a newer diffusers or transformers may have it")
    cls: Any = found
    try:
        if any((where / w).is_file() for w in WEIGHTS):
            return cls.from_pretrained(str(where), local_files_only=True), False
        if _is_model(cls):
            return _from_config(cls, where), True
        return cls.from_pretrained(str(where), local_files_only=True), False
    except (ValueError, KeyError, OSError, TypeError) as exc:
        text = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise UserError(f"model {model}: cannot build component {name} ({cls_name}) from "
                        f"{where} ({text})") from None


def _is_model(cls: type) -> bool:
    import diffusers
    import transformers

    return issubclass(cls, (diffusers.ModelMixin, transformers.PreTrainedModel))


def _from_config(cls: Any, where: Path) -> Any:
    import diffusers
    import transformers

    if issubclass(cls, diffusers.ModelMixin):
        return cls.from_config(cls.load_config(str(where)))
    return cls(transformers.AutoConfig.from_pretrained(str(where), local_files_only=True))


def random_weights_note(model: str, random: list[str]) -> str:
    return (f"model {model}: {', '.join(random)} without weights beside their config: randomly "
            "initialised (energy and speed are those of the architecture; the images mean "
            "nothing)")
