"""One rank of a real torch.distributed training job (gloo) with a greenbench callback, for
tests/test_integration_distributed.py.

Its orders come from the environment: torch.distributed's variables; ``T_FRAMEWORK``
(``huggingface`` or ``lightning``); ``GREENBENCH_HOST_ID`` and ``GREENBENCH_POWERCAP_ROOT``,
the simulated host and its fake powercap tree; ``T_ADVANCE``, ``path=joules`` that this rank
adds to a counter of that tree in every training step; ``T_STORE``, the results store;
``T_OUT``, where the rank writes what its callback and its loggers saw, as JSON.

Each training step advances the counters between two barriers, so every advance of a step
falls inside the collective windows open around that step on every rank, and the expected
energies are exact.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from greenbench.sensors import rapl
from tests.distributed_rank import advance, pairs

ENV = os.environ
SENSORS = [p.sensor for p in rapl.probe(ENV["GREENBENCH_POWERCAP_ROOT"]) if p.sensor]
SEEN: list[dict[str, Any]] = []  # what the loggers of this rank were given


def work() -> None:
    dist.barrier()
    for path, joules in pairs(ENV.get("T_ADVANCE", "")):
        advance(path, float(joules))
    dist.barrier()


def data() -> Any:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 4, generator=g)
    return torch.utils.data.TensorDataset(x, x.sum(1, True))


def huggingface() -> Any:
    import transformers

    from greenbench.integrations.huggingface import GreenbenchCallback

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def forward(self, x: Any, y: Any) -> dict[str, Any]:
            work()
            return {"loss": torch.nn.functional.mse_loss(self.layer(x), y)}

    class Pairs(torch.utils.data.Dataset):  # type: ignore[misc]
        def __init__(self) -> None:
            self.inner = data()

        def __len__(self) -> int:
            return len(self.inner)

        def __getitem__(self, i: int) -> dict[str, Any]:
            x, y = self.inner[i]
            return {"x": x, "y": y}

    class Seen(transformers.TrainerCallback):  # type: ignore[misc]
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None,
                   **kw: Any) -> None:
            SEEN.append(dict(logs or {}))

    args = transformers.TrainingArguments(
        output_dir=ENV["T_OUT"] + ".out", max_steps=6, logging_steps=2,
        per_device_train_batch_size=2, report_to=[], use_cpu=True, save_strategy="no",
        disable_tqdm=True, seed=0, ddp_backend="gloo")
    trainer = transformers.Trainer(model=Tiny(), args=args, train_dataset=Pairs(),
                                   callbacks=[Seen()])
    callback = GreenbenchCallback.attach(trainer, store=ENV["T_STORE"], sensors=SENSORS)
    trainer.train()
    return callback


def lightning_fit() -> Any:
    import lightning

    from greenbench.integrations.lightning import GreenbenchCallback

    class Tiny(lightning.LightningModule):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            work()
            x, y = batch
            return torch.nn.functional.mse_loss(self.layer(x), y)

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    class Kept(lightning.pytorch.loggers.Logger):  # type: ignore[misc]
        """A logger on every rank (Lightning's own log on rank 0 only)."""

        name, version = "kept", "0"

        def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
            SEEN.append(dict(metrics))

        def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
            pass

    callback = GreenbenchCallback(store=ENV["T_STORE"], sensors=SENSORS)
    trainer = lightning.Trainer(
        max_epochs=1, log_every_n_steps=2, callbacks=[callback], logger=Kept(),
        accelerator="cpu", devices=int(ENV["WORLD_SIZE"]), strategy="ddp",
        enable_progress_bar=False, enable_checkpointing=False, enable_model_summary=False)
    # 32 samples, 2 ranks, batches of 4: 4 steps per rank
    trainer.fit(Tiny(), torch.utils.data.DataLoader(data(), batch_size=4))
    return callback


def main() -> int:
    callback = huggingface() if ENV["T_FRAMEWORK"] == "huggingface" else lightning_fit()
    meter = callback.meter
    out = {"rank": dist.get_rank(), "seen": SEEN, "run_id": callback.run_id,
           "intervals": [[i.steps, i.samples, i.measurement.energy_j] for i in meter.intervals],
           "epochs": [m.energy_j for m in meter.epochs], "total": meter.total.energy_j}
    Path(f"{ENV['T_OUT']}.{dist.get_rank()}").write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
