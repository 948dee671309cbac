"""train-to-target: stops at the first check reaching the target, records steps, reports caps."""

from __future__ import annotations

import pytest

from greenbench.errors import UserError
from greenbench_workloads.train_to_target import TrainToTarget

torch = pytest.importorskip("torch")


def _run(**overrides: object) -> tuple[TrainToTarget, dict]:
    wl = TrainToTarget()
    params = {**wl.defaults(), "hidden": 64, "eval_every": 5, **overrides}
    wl.check(params, "cpu")
    state = wl.setup(params, "cpu")
    wl.step(state)
    return wl, state


def test_stops_at_the_first_check_that_reaches_the_target_and_records_steps() -> None:
    wl, state = _run(target=0.8)
    run = state["run"]
    steps, accs = zip(*run["history"], strict=True)
    assert accs[-1] >= 0.8 and all(a < 0.8 for a in accs[:-1])  # not one check later
    assert list(steps) == [5 * (i + 1) for i in range(len(steps))]
    assert run["steps"] == steps[-1] > 5  # it had to learn: the first check was below
    m = wl.metrics(state)
    assert m["steps_to_target"] == m["steps"] == run["steps"]
    assert m["reached_target"] == 1.0 and m["hit_step_cap"] == 0.0
    assert m["evaluations"] == len(steps) and m["time_to_target_s"] > 0
    assert wl.quality(state)["accuracy"] >= 0.8


def test_every_repeat_starts_again_from_the_same_weights() -> None:
    wl, state = _run(target=0.8)
    first = state["run"]
    wl.step(state)
    assert state["run"]["steps"] == first["steps"]
    assert state["run"]["history"] == first["history"]


def test_a_hit_step_cap_is_reported_not_hidden() -> None:
    wl, state = _run(target=0.999, max_steps=12)
    m = wl.metrics(state)
    assert m["steps"] == 12 and m["hit_step_cap"] == 1.0 and m["reached_target"] == 0.0
    assert "steps_to_target" not in m and "time_to_target_s" not in m
    assert state["run"]["history"][-1][0] == 12  # the capped run is still evaluated
    assert wl.quality(state)["accuracy"] < 0.999


def test_masked_sparsity_keeps_pruned_weights_at_zero_through_training() -> None:
    _, state = _run(target=0.8, sparsity="masked", density=0.25)
    for linear, mask in state["masks"].items():
        assert not linear.weight[~mask].any()
        assert mask.float().mean().item() == pytest.approx(0.25, abs=0.01)


def test_bad_combinations_fail_before_any_work_and_fp16_skips_on_cpu() -> None:
    wl = TrainToTarget()
    with pytest.raises(UserError, match="density"):
        wl.check({**wl.defaults(), "sparsity": "masked", "density": 0.0}, "cpu")
    with pytest.raises(UserError, match="target"):
        wl.check({**wl.defaults(), "target": 0.0}, "cpu")
    assert "GPU" in wl.skip_reason({**wl.defaults(), "precision": "fp16"}, "cpu")
    assert wl.skip_reason(wl.defaults(), "cpu") is None
    assert wl.calibrate is False
