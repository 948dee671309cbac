"""The protocol's decisions on how many steps run are rank 0's on every rank of a job
(greenbench.protocol's ``agree``), on virtual time: ranks whose steps take different times
still run the same steps, as a DDP step's collectives need. And the placement of ranks on
GPUs, checked before anything runs, and the placement a run stores."""

from __future__ import annotations

import pytest

from greenbench.clock import VirtualClock
from greenbench.distributed.launch import check_placement
from greenbench.errors import UserError
from greenbench.meter import Meter
from greenbench.protocol import Agree, Plan, Protocol, Result
from tests.standins import SteppedCounter, constant


def run_rank(step_s: float, agree: Agree) -> tuple[int, Result]:
    """One rank's protocol over steps of ``step_s`` virtual seconds: (steps run, result)."""
    clock = VirtualClock()
    calls = [0]

    def step() -> None:
        clock.advance(step_s)
        calls[0] += 1

    meter = Meter([SteppedCounter(clock, "cpu-package:0", constant(10.0))], clock=clock,
                  sync=lambda: None, witness=None)
    result = Protocol(meter, Plan(repeats=3, min_repeat_s=0.5, warmup_s=1.0),
                      agree=agree).run(step)
    return calls[0], result


def test_a_slower_rank_runs_rank_0s_steps_when_it_follows_rank_0s_decisions() -> None:
    decided: list[object] = []

    def rank_0(value: object) -> object:
        decided.append(value)
        return value

    steps_0, first = run_rank(0.010, rank_0)
    replay = iter(decided)
    steps_1, second = run_rank(0.013, lambda value: next(replay))
    assert steps_1 == steps_0
    assert second.steps == first.steps and second.step_s == first.step_s
    assert [done for _, done in second.repeats] == [done for _, done in first.repeats]
    assert next(replay, None) is None  # every decision of rank 0 was taken, in order


def test_alone_the_slower_rank_would_run_other_steps() -> None:
    steps_0, first = run_rank(0.010, lambda value: value)
    steps_1, alone = run_rank(0.013, lambda value: value)
    assert steps_1 != steps_0 and alone.steps != first.steps


# --------------------------------------------------------------------------- GPUs per node

@pytest.mark.parametrize(("device", "gpus", "message"), [
    ("cuda:1", 8, "--device cuda:1 names one GPU, and with --nproc-per-node each rank "
                  "computes on its own (cuda:LOCAL_RANK): use --device cuda"),
    ("cuda", 2, "--nproc-per-node 4 with --device cuda: one GPU a rank, and this node has 2"),
])
def test_ranks_on_gpus_need_one_gpu_each(device: str, gpus: int, message: str) -> None:
    with pytest.raises(UserError) as caught:
        check_placement(4, 1, 0, 29500, 30.0, device, gpus=lambda: gpus)
    assert str(caught.value) == message


def test_four_ranks_on_four_gpus_pass() -> None:
    check_placement(4, 1, 0, 29500, 30.0, "cuda", gpus=lambda: 4)


def test_a_run_on_one_process_stores_no_placement_of_ranks() -> None:
    from greenbench.runner import RunConfig, stored_config

    assert "nnodes" not in stored_config(RunConfig())
    placed = stored_config(RunConfig(nproc_per_node=2))
    assert (placed["nproc_per_node"], placed["nnodes"], placed["master_port"]) == (2, 1, 29500)
