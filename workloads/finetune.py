"""``finetune``: few-shot adaptation of a pretrained model by full fine-tuning, LoRA or the head.

A small MLP classifier is first trained in-process on a synthetic task (labels from a random
teacher network) and cached on disk, so that happens once per configuration. Each step is one
whole adaptation to a shifted task (the teacher's features and head changed a little) from
``k`` labelled examples: the pretrained weights are copied, the chosen parameters trained for
``adapt_steps`` full-batch Adam steps, and the adapted model kept for quality(). Accuracy on
the shifted task before adaptation (zero-shot) is the baseline, so the cheapest method that
beats it adequately is visible next to its energy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from greenbench.errors import UserError
from greenbench.workload import Param, Suite, Workload
from greenbench_workloads._variants import check_params
from greenbench_workloads.generate import SUITE_DESCRIPTION

SHIFTED_POOL = 1024  # labelled examples of the shifted task that k are drawn from
_TEST_SIZE = 4096
_D_IN, _CLASSES, _TEACHER_WIDTH = 32, 4, 16
_PRETRAIN_STEPS, _PRETRAIN_BATCH, _PRETRAIN_SIZE = 600, 512, 16384
_CACHE_VERSION = 2  # bump when the pretraining recipe changes, so stale files are not reused
_DEFAULT_LR = {"full": 3e-3, "lora": 1e-2, "head": 1e-2}


class Finetune(Workload):
    name = "finetune"
    requires = ("torch",)
    description = "Few-shot adaptation (full, LoRA, head only) from k examples: energy to adapt"
    unit = "adaptations"
    quality_metric = "accuracy"
    quality_higher_is_better = True
    calibrate = False  # one step is one whole adaptation
    params = (
        Param("method", str, "lora", choices=("full", "lora", "head"), variant=True,
              help="which parameters adapt: all, low-rank adapters only, or the last layer"),
        Param("k", int, 256, minimum=1,
              help=f"labelled examples of the shifted task (at most {SHIFTED_POOL})"),
        Param("adapt_steps", int, 100, minimum=1, help="full-batch optimiser steps"),
        Param("lora_rank", int, 4, minimum=1, help="rank of the LoRA adapters"),
        Param("lr", float, 0.0, minimum=0.0,
              help="Adam learning rate; 0 = the method's default (full 3e-3, lora/head 1e-2)"),
        Param("hidden", int, 128, minimum=4, help="width of the MLP's two hidden layers"),
        Param("seed", int, 0, help="seed of the adapters' initialisation"),
    )

    def check(self, params: Mapping[str, Any], device: str) -> None:
        if params["k"] > SHIFTED_POOL:
            raise UserError(
                f"finetune: k={params['k']} is larger than the data: the shifted task has "
                f"{SHIFTED_POOL} labelled examples"
            )
        if params["k"] < 1:
            raise UserError(f"finetune: k must be at least 1 (got {params['k']})")
        check_params(self.params, params)
        if params["lora_rank"] > params["hidden"]:
            raise UserError(
                f"finetune: lora_rank {params['lora_rank']} exceeds hidden {params['hidden']}"
            )

    def setup(self, params: Mapping[str, Any], device: str) -> dict[str, Any]:
        from greenbench_workloads import _models as m
        from greenbench_workloads._torch import torch_device

        p = dict(params)
        dev = torch_device(device)
        base_task = m.TeacherTask(_D_IN, _CLASSES, seed=1, width=_TEACHER_WIDTH)
        pretrained = load_or_pretrain(base_task, p["hidden"], dev)
        task = base_task.shifted(feature_change=0.5, head_change=0.3, seed=7)
        x, y = task.sample(SHIFTED_POOL, seed=8)
        x_test, y_test = task.sample(_TEST_SIZE, seed=9)
        state = {
            "params": p, "pretrained": pretrained, "model": pretrained,
            "shots": (x[: p["k"]].to(dev), y[: p["k"]].to(dev)),
            "test": (x_test.to(dev), y_test.to(dev)), "trainable": 0, "adaptations": 0,
        }
        state["zero_shot"] = m.accuracy(pretrained, *state["test"])
        return state

    def step(self, state: dict[str, Any]) -> None:
        state["model"], state["trainable"] = adapt(state["pretrained"], state["shots"],
                                                   state["params"])
        state["adaptations"] += 1

    def quality(self, state: dict[str, Any]) -> dict[str, float]:
        """Held-out accuracy on the shifted task after adaptation, the zero-shot baseline, gain."""
        from greenbench_workloads._models import accuracy

        after = accuracy(state["model"], *state["test"])
        return {"accuracy": after, "zero_shot_accuracy": state["zero_shot"],
                "gain": after - state["zero_shot"]}

    def metrics(self, state: dict[str, Any]) -> dict[str, float]:
        p = state["params"]
        return {"trainable_params": float(state["trainable"]),
                "adapt_steps": float(p["adapt_steps"]), "k": float(p["k"])}


def adapt(pretrained: Any, shots: tuple[Any, Any], p: Mapping[str, Any]) -> tuple[Any, int]:
    """Copy the pretrained model and train the method's parameters on the k shots.

    Returns the adapted model and how many parameters were trained. The pretrained model is
    never modified, so every call starts from the same weights.
    """
    import copy

    import torch
    import torch.nn.functional as F

    from greenbench_workloads._models import add_lora
    from greenbench_workloads._torch import seed_all

    seed_all(p["seed"])
    model = copy.deepcopy(pretrained).train()
    if p["method"] == "lora":
        params = add_lora(model, p["lora_rank"], alpha=2.0 * p["lora_rank"])
    elif p["method"] == "head":
        model.requires_grad_(False)
        params = list(model.head.parameters())
        for q in params:
            q.requires_grad_(True)
    else:
        params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=p["lr"] or _DEFAULT_LR[p["method"]])
    x, y = shots
    for _ in range(p["adapt_steps"]):
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval(), sum(q.numel() for q in params)


def load_or_pretrain(task: Any, hidden: int, device: Any) -> Any:
    """The MLP pretrained on ``task``, from the disk cache or trained now and cached.

    The file name holds every input of the recipe, so a changed recipe never loads stale
    weights; it is written to a temporary name and renamed, so parallel workers never read a
    half-written file.
    """
    import os

    import torch

    from greenbench_workloads._models import MLPClassifier, cache_dir

    model = MLPClassifier(_D_IN, hidden, _CLASSES).to(device)
    path = cache_dir() / (
        f"finetune-v{_CACHE_VERSION}-d{_D_IN}-h{hidden}-c{_CLASSES}-teacher{task.seed}"
        f"-s{_PRETRAIN_STEPS}.pt"
    )
    if path.is_file():
        model.load_state_dict(torch.load(path, map_location=device, weights_only=True))
        return model.eval()
    pretrain(model, task, device)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    torch.save({k: v.cpu() for k, v in model.state_dict().items()}, tmp)
    os.replace(tmp, path)
    return model.eval()


def pretrain(model: Any, task: Any, device: Any) -> None:
    """Minibatch Adam on samples of ``task``: about 0.9 held-out accuracy at the defaults."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    x, y = (t.to(device) for t in task.sample(_PRETRAIN_SIZE, seed=2))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(_PRETRAIN_STEPS):
        i = torch.randint(0, len(y), (_PRETRAIN_BATCH,), device=device)
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x[i]), y[i]).backward()
        opt.step()


WORKLOADS = [Finetune()]
SUITES = [Suite("applications", SUITE_DESCRIPTION,
                [("finetune", {"method": ["full", "lora", "head"]})])]
