"""``train-to-target``: train a small model until it reaches a target accuracy.

As MLPerf Training reports time to train, this reports the energy and time to reach a
quality target, so precision and sparsity variants are compared at equal quality rather than
per step (a variant with cheaper steps that needs more of them can lose). One workload step is
one whole run from the same initial weights: minibatch Adam on a synthetic, learnable task
(a Gaussian mixture with several clusters per class), held-out accuracy checked every
``eval_every`` optimiser steps (the checks count towards the energy, as in MLPerf), stopping at
the first check that reaches ``target`` or at ``max_steps``. Hitting the cap is reported in
metrics (``hit_step_cap`` = 1, ``reached_target`` = 0), never hidden.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from greenbench.errors import UserError
from greenbench.workload import Param, Suite, Workload
from greenbench_workloads._variants import check_params, check_variants, variant_skip_reason
from greenbench_workloads.generate import SUITE_DESCRIPTION

_D_IN, _CLASSES, _CLUSTERS, _SIGMA = 32, 8, 8, 0.7
_TRAIN_SIZE, _EVAL_SIZE = 32768, 2048


class TrainToTarget(Workload):
    name = "train-to-target"
    requires = ("torch",)
    description = "Train until a target accuracy: energy and time to target per variant"
    unit = "runs"
    quality_metric = "accuracy"
    quality_higher_is_better = True
    calibrate = False  # one step is one whole run to the target
    params = (
        Param("precision", str, "fp32", choices=("fp32", "bf16", "fp16"), variant=True,
              help="autocast precision of forward and loss (fp16 needs a GPU)"),
        Param("sparsity", str, "none", choices=("none", "masked"), variant=True,
              help="masked: magnitude-prune hidden layers at init and keep them pruned"),
        Param("density", float, 0.5, help="fraction of hidden-layer weights kept when masked"),
        Param("target", float, 0.95, minimum=0.0, maximum=1.0,
              help="held-out accuracy that ends the run"),
        Param("max_steps", int, 3000, minimum=1, help="optimiser-step cap (reported when hit)"),
        Param("eval_every", int, 25, minimum=1, help="optimiser steps between accuracy checks"),
        Param("batch", int, 64, minimum=1, help="training examples per optimiser step"),
        Param("hidden", int, 128, minimum=4, help="width of the MLP's two hidden layers"),
        Param("lr", float, 1e-3, minimum=0.0, help="Adam learning rate"),
        Param("seed", int, 0, help="seed of the initial weights and minibatch order"),
    )

    def check(self, params: Mapping[str, Any], device: str) -> None:
        check_params(self.params, params)
        check_variants(params["precision"], params["sparsity"], params["density"], "train")
        if not 0.0 < params["target"] <= 1.0:
            raise UserError(f"train-to-target: target {params['target']} is outside (0, 1]")
        if params["max_steps"] < 1:
            raise UserError(
                f"train-to-target: max_steps must be at least 1 (got {params['max_steps']})"
            )

    def skip_reason(self, params: Mapping[str, Any], device: str) -> str | None:
        return variant_skip_reason(device, precision=params["precision"],
                                   sparsity=params["sparsity"])

    def setup(self, params: Mapping[str, Any], device: str) -> dict[str, Any]:
        import torch

        from greenbench_workloads import _models as m
        from greenbench_workloads._torch import prune_, seed_all, torch_device

        p = dict(params)
        dev = torch_device(device)
        seed_all(p["seed"])
        model = m.MLPClassifier(_D_IN, p["hidden"], _CLASSES).to(dev)
        masks = {}
        if p["sparsity"] == "masked":
            # the output layer stays dense, as is usual in pruning studies: few weights, much effect
            masks = {lin: prune_(lin, "masked", p["density"])
                     for lin in model.body if isinstance(lin, torch.nn.Linear)}
        train = m.gaussian_mixture(_TRAIN_SIZE, _D_IN, _CLASSES, _CLUSTERS, _SIGMA, seed=1)
        held_out = m.gaussian_mixture(_EVAL_SIZE, _D_IN, _CLASSES, _CLUSTERS, _SIGMA, seed=2)
        return {
            "params": p, "device": dev, "model": model, "masks": masks,
            "initial": {k: v.clone() for k, v in model.state_dict().items()},
            "train": tuple(t.to(dev) for t in train),
            "held_out": tuple(t.to(dev) for t in held_out),
            "run": None,
        }

    def step(self, state: dict[str, Any]) -> None:
        state["run"] = train_until_target(state)

    def quality(self, state: dict[str, Any]) -> dict[str, float]:
        """Held-out accuracy where the last run stopped (>= target unless the cap was hit)."""
        return {"accuracy": state["run"]["accuracy"]}

    def metrics(self, state: dict[str, Any]) -> dict[str, float]:
        """Steps taken, whether the target was reached or the cap hit, and time to stop."""
        run = state["run"]
        out = {
            "steps": float(run["steps"]),
            "evaluations": float(len(run["history"])),
            "reached_target": 1.0 if run["reached"] else 0.0,
            "hit_step_cap": 0.0 if run["reached"] else 1.0,
            "time_to_stop_s": run["seconds"],
        }
        if run["reached"]:  # absent, not NaN or the cap, when the target was not reached
            out["steps_to_target"] = float(run["steps"])
            out["time_to_target_s"] = run["seconds"]
        return out


def train_until_target(state: dict[str, Any]) -> dict[str, Any]:
    """One run from the initial weights; returns steps, reached, accuracy, history, seconds.

    ``history`` holds (optimiser steps so far, held-out accuracy) for every check.
    """
    import torch
    import torch.nn.functional as F

    from greenbench_workloads._models import accuracy, now
    from greenbench_workloads._torch import autocast, grad_scaler

    p, dev, model = state["params"], state["device"], state["model"]
    start = now(dev)
    model.load_state_dict(state["initial"])
    opt = torch.optim.Adam(model.parameters(), lr=p["lr"])
    scaler = grad_scaler(p["precision"], dev)
    x, y = state["train"]
    g = torch.Generator(device=dev).manual_seed(p["seed"])
    history: list[tuple[int, float]] = []
    steps, acc = 0, 0.0
    while steps < p["max_steps"]:
        i = torch.randint(0, len(y), (p["batch"],), device=dev, generator=g)
        opt.zero_grad(set_to_none=True)
        with autocast(p["precision"], dev):
            loss = F.cross_entropy(model(x[i]), y[i])
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        _reapply_masks(state["masks"])
        steps += 1
        if steps % p["eval_every"] == 0 or steps == p["max_steps"]:
            with autocast(p["precision"], dev):
                acc = accuracy(model, *state["held_out"])
            history.append((steps, acc))
            if acc >= p["target"]:
                break
    return {"steps": steps, "reached": acc >= p["target"], "accuracy": acc,
            "history": history, "seconds": now(dev) - start}


def _reapply_masks(masks: Mapping[Any, Any]) -> None:
    """Zero pruned weights again: Adam's momentum would otherwise regrow them."""
    import torch

    with torch.no_grad():
        for linear, mask in masks.items():
            linear.weight.mul_(mask)


WORKLOADS = [TrainToTarget()]
SUITES = [Suite("applications", SUITE_DESCRIPTION,
                [("train-to-target", {"sparsity": ["none", "masked"]})])]
