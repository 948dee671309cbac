"""The Lightning callback, with the real lightning library on a tiny model."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

lightning = pytest.importorskip("lightning")
torch = pytest.importorskip("torch")

from greenbench.integrations.lightning import GreenbenchCallback  # noqa: E402
from greenbench.store import Store  # noqa: E402


class Tiny(lightning.LightningModule):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(8, 1)

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def data() -> Any:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 8, generator=g)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(1, True)),
                                       batch_size=8)


@pytest.mark.timeout(120)
def test_intervals_epochs_and_the_fit_reach_the_loggers_and_the_stored_run(
        tmp_path: Path) -> None:
    callback = GreenbenchCallback(store=tmp_path / "s.sqlite")
    logger = lightning.pytorch.loggers.CSVLogger(tmp_path / "logs", name="tiny")
    trainer = lightning.Trainer(max_epochs=2, log_every_n_steps=2, callbacks=[callback],
                                logger=logger, accelerator="cpu", enable_progress_bar=False,
                                enable_checkpointing=False, enable_model_summary=False)
    trainer.fit(Tiny(), data())
    logger.finalize("success")
    with open(Path(logger.log_dir) / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    intervals = [float(r["energy_j"]) for r in rows if r.get("energy_j")]
    epochs = [float(r["epoch_energy_j"]) for r in rows if r.get("epoch_energy_j")]
    (total,) = [float(r["train_energy_j"]) for r in rows if r.get("train_energy_j")]
    # 16 steps, every 2; an interval this short can read 0 J from an estimate that counts
    # CPU time in 10 ms ticks, never less
    assert len(intervals) == 8 and all(e >= 0 for e in intervals) and sum(intervals) > 0
    assert len(epochs) == 2
    # the intervals tile the fit: the logged ones and the tail after the last log
    tiles = [i.measurement.energy_j or 0.0 for i in callback.meter.intervals]
    assert tiles[:-1] == pytest.approx(intervals)
    assert total == pytest.approx(sum(tiles), rel=1e-9)
    with Store(tmp_path / "s.sqlite") as store:
        run = store.get_run(callback.run_id)
    (case,) = run.cases
    assert case.workload == "lightning-training"
    assert [r.measurement.energy_j for r in case.repeats] == pytest.approx(intervals)
    assert case.units_per_step == 8.0
