"""The Hugging Face Trainer callback, with the real transformers library on a tiny model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from greenbench.integrations.huggingface import GreenbenchCallback  # noqa: E402
from greenbench.store import Store  # noqa: E402


class Tokens(torch.utils.data.Dataset):  # type: ignore[misc]
    def __init__(self, n: int = 32, length: int = 8, vocab: int = 50) -> None:
        g = torch.Generator().manual_seed(0)
        self.ids = torch.randint(0, vocab, (n, length), generator=g)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


class Seen(transformers.TrainerCallback):  # type: ignore[misc]
    """A reporting callback, as report_to's are: it keeps what it is given."""

    def __init__(self) -> None:
        self.logs: list[dict[str, Any]] = []

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
        self.logs.append(dict(logs or {}))


def trainer(tmp_path: Path, seen: Seen, steps: int = 6) -> Any:
    config = transformers.GPT2Config(vocab_size=50, n_positions=16, n_embd=16, n_layer=1,
                                     n_head=2)
    model = transformers.GPT2LMHeadModel(config)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=steps, logging_steps=2,
        per_device_train_batch_size=4, report_to=[], use_cpu=True, save_strategy="no",
        disable_tqdm=True, seed=0)
    return transformers.Trainer(model=model, args=args, train_dataset=Tokens(),
                                callbacks=[seen])


@pytest.mark.timeout(120)
def test_each_logging_interval_and_the_whole_training_reach_the_reporting_callbacks(
        tmp_path: Path) -> None:
    seen = Seen()
    t = trainer(tmp_path, seen)
    callback = GreenbenchCallback.attach(t, store=tmp_path / "s.sqlite", label="tiny-gpt2")
    t.train()
    intervals = [log for log in seen.logs if "loss" in log]
    assert len(intervals) == 3  # steps 2, 4, 6
    assert all(log["energy_j"] > 0 and log["energy_method"] in ("counter", "estimate", "mixed")
               for log in intervals)
    final = next(log for log in seen.logs if "train_runtime" in log)
    # the intervals tile the training: the logged ones and the stretch up to the final log
    tiles = [i.measurement.energy_j for i in callback.meter.intervals]
    assert tiles[:3] == [i["energy_j"] for i in intervals]
    assert final["train_energy_j"] == pytest.approx(sum(tiles), rel=1e-9)
    # the Trainer's own record of the logs has them too
    assert [h["energy_j"] for h in t.state.log_history if "loss" in h] == \
        [i["energy_j"] for i in intervals]
    # ... and the stored run holds the same intervals
    with Store(tmp_path / "s.sqlite") as store:
        run = store.get_run(callback.run_id)
    (case,) = run.cases
    assert case.workload == "huggingface-training" and run.label == "tiny-gpt2"
    assert [r.measurement.energy_j for r in case.repeats] == [i["energy_j"] for i in intervals]
    assert [r.steps for r in case.repeats] == [2, 2, 2]
    assert case.units_per_step == 4.0 and "energy_per_unit_j" in case.summary


@pytest.mark.timeout(120)
def test_without_a_store_nothing_is_stored_and_the_logs_still_carry_energy(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GREENBENCH_STORE", raising=False)
    seen = Seen()
    t = trainer(tmp_path, seen, steps=2)
    callback = GreenbenchCallback.attach(t)
    t.train()
    assert callback.run_id is None
    assert any("energy_j" in log for log in seen.logs)
