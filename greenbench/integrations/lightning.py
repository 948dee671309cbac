"""greenbench inside PyTorch Lightning: the energy of every logging interval, of each epoch
and of the whole fit, logged through the trainer's own loggers.

    from greenbench.integrations.lightning import GreenbenchCallback

    trainer = lightning.Trainer(max_epochs=3, callbacks=[GreenbenchCallback()])
    trainer.fit(model, data)

Every ``log_every_n_steps`` optimizer steps the interval's ``energy_j``, ``energy_power_w``
and ``energy_per_step_j`` go to every logger of the trainer (CSV, TensorBoard, MLflow, ...)
at that step; each epoch's end logs ``epoch_energy_j``, the fit's end ``train_energy_j``.
How each figure was obtained is in the stored run (``store=`` or ``$GREENBENCH_STORE``)
and in ``callback.meter``; loggers take numbers only. Under a DDP strategy (several ranks)
the figures are the job's, every host counted once, logged and stored by rank 0 alone (see
greenbench.integrations.training).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback

from greenbench.integrations.training import Interval, TrainingMeter


class GreenbenchCallback(Callback):
    def __init__(self, *, store: str | Path | None = None, label: str | None = None,
                 device: str | None = None, **options: Any) -> None:
        self._options = {"store": store, "label": label, **options}
        self._device = device
        self.meter: TrainingMeter | None = None
        self._samples = 0.0
        self._logged_at = 0

    @property
    def run_id(self) -> str | None:
        return self.meter.run_id if self.meter else None

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        device = self._device or _device(pl_module)
        self.meter = TrainingMeter("lightning", device=device, **self._options)
        self.meter.start()

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if self.meter is not None:
            self.meter.epoch_begin()

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self.meter is None:
            return
        self._samples += _batch_size(batch) * max(1, trainer.world_size)
        step = trainer.global_step
        if step - self._logged_at >= max(1, trainer.log_every_n_steps):
            self._logged_at = step
            self._log(trainer, self.meter.log(step, self._samples).logs(), step)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.meter is not None and (m := self.meter.epoch_end()) is not None \
                and m.energy_j is not None:
            self._log(trainer, {"epoch_energy_j": m.energy_j}, trainer.global_step)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if self.meter is None:
            return
        total = self.meter.finish(trainer.global_step, self._samples)
        self._log(trainer,
                  Interval(total, trainer.global_step, self._samples).logs("train_energy"),
                  trainer.global_step)

    def _log(self, trainer: Any, figures: dict[str, float | str], step: int) -> None:
        if self.meter is None or not self.meter.logs_here:  # the job's: rank 0 logs them
            return
        numbers = {k: float(v) for k, v in figures.items() if not isinstance(v, str)}
        for logger in trainer.loggers:
            logger.log_metrics(numbers, step=step)


def _device(pl_module: Any) -> str:
    device = str(getattr(pl_module, "device", "cpu"))
    return device if device.startswith("cuda") else "cpu"


def _batch_size(batch: Any) -> float:
    """Samples in a batch: the first dimension of its first tensor."""
    first = batch
    while isinstance(first, (list, tuple)) and first:
        first = first[0]
    if isinstance(first, dict) and first:
        first = next(iter(first.values()))
    shape = getattr(first, "shape", None)
    return float(shape[0]) if shape else 1.0
