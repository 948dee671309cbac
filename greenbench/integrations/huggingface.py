"""greenbench inside ``transformers.Trainer``: the energy of every logging interval, of each
epoch and of the whole training, logged through the Trainer's own logging.

    from greenbench.integrations.huggingface import GreenbenchCallback

    trainer = Trainer(model=model, args=args, train_dataset=train)
    GreenbenchCallback.attach(trainer)
    trainer.train()

At each logging step the interval's ``energy_j``, ``energy_method`` (``counter``, ``power``,
``estimate`` or ``mixed``), ``energy_power_w`` and ``energy_per_step_j`` join the Trainer's
logs, so they reach whatever ``report_to`` names (TensorBoard, MLflow, W&B, ...); an epoch's
end adds ``epoch_energy_j``, and the final log (with ``train_runtime``) ``train_energy_j`` for
the whole training. ``attach`` puts the callback first, because the Trainer hands the same
logs to its callbacks in order and the reporting ones come before any passed in
``callbacks=``. When training ends the run is stored (``store=`` or ``$GREENBENCH_STORE``).

Under torch.distributed (the Trainer launched by torchrun or accelerate) the figures are the
job's, every host counted once, logged and stored by rank 0 alone (see
greenbench.integrations.training); the callback must be attached on every rank.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from greenbench.integrations.training import Interval, TrainingMeter


class GreenbenchCallback(TrainerCallback):
    def __init__(self, *, store: str | Path | None = None, label: str | None = None,
                 device: str | None = None, **options: Any) -> None:
        self._options = {"store": store, "label": label, **options}
        self._device = device
        self.meter: TrainingMeter | None = None
        self._pending: dict[str, float | str] = {}

    @classmethod
    def attach(cls, trainer: Any, **kwargs: Any) -> GreenbenchCallback:
        """Make a callback and put it first among the trainer's callbacks."""
        callback = cls(**kwargs)
        trainer.callback_handler.callbacks.insert(0, callback)
        return callback

    @property
    def run_id(self) -> str | None:
        return self.meter.run_id if self.meter else None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        device = self._device or _device(args)
        self.meter = TrainingMeter("huggingface", device=device, **self._options)
        self.meter.start()

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.meter is not None:
            self.meter.epoch_begin()

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.meter is not None and (m := self.meter.epoch_end()) is not None \
                and m.energy_j is not None:
            self._pending["epoch_energy_j"] = m.energy_j  # with the next log

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               **kwargs: Any) -> None:
        if self.meter is None or logs is None:
            return
        steps, samples = state.global_step, state.global_step * _samples_per_step(args)
        added: dict[str, float | str] = dict(self._pending)
        self._pending.clear()
        if "train_runtime" in logs:  # the final log: the whole training
            total = self.meter.finish(steps, samples)
            added |= Interval(total, steps, samples).logs("train_energy")
        else:
            added |= self.meter.log(steps, samples).logs()
        if not self.meter.logs_here:  # the job's figures, logged by rank 0 alone
            return
        logs.update(added)
        if state.log_history:  # the Trainer recorded a copy of the logs before calling us
            state.log_history[-1].update(added)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.meter is not None and self.meter.total is None:  # no final log came
            self.meter.finish(state.global_step, state.global_step * _samples_per_step(args))


def _device(args: Any) -> str:
    device = str(getattr(args, "device", "cpu"))
    return device if device.startswith("cuda") else "cpu"


def _samples_per_step(args: Any) -> float:
    return float(args.train_batch_size * args.gradient_accumulation_steps
                 * max(1, getattr(args, "world_size", 1)))
