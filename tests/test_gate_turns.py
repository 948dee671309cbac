"""The turn two pytest processes pass back and forth under ``greenbench gate``."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from greenbench.ab.scheduler import TurnScheduler, choose
from greenbench.pytest_energy import turns

NONE = {"A": False, "B": False}


def _simulate(keys_a: list[str], keys_b: list[str]) -> list[tuple[str, str]]:
    """Two sides asking for their keys in order, always at once; the order of the grants."""
    queues = {"A": list(keys_a), "B": list(keys_b)}
    done: dict[str, set[str]] = {"A": set(), "B": set()}
    grants, pairs = [], 0
    while queues["A"] or queues["B"]:
        pending = {s: (q[0] if q else None) for s, q in queues.items()}
        finished = {s: not q for s, q in queues.items()}
        side = choose(pending, done, finished, {"A": 0.0, "B": 0.0}, "AB"[pairs % 2],
                      last=grants[-1][0] if grants else None)
        assert side is not None, "a side was held up"
        key = queues[side].pop(0)
        if key not in done["B" if side == "A" else "A"]:
            pairs += 1
        done[side].add(key)
        grants.append((side, key))
    return grants


def test_pairs_run_back_to_back_and_alternate_who_goes_first() -> None:
    keys = ["t#setup", "t#round 1", "t#round 2", "t#round 3"]
    order = [side for side, _ in _simulate(keys, keys)]
    assert order == ["A", "B", "B", "A", "A", "B", "B", "A"]


def test_a_benchmark_only_one_revision_has_does_not_hold_the_other_up() -> None:
    grants = _simulate(["old#round 1", "both#round 1"], ["new#round 1", "both#round 1"])
    both = [i for i, (_, key) in enumerate(grants) if key == "both#round 1"]
    assert len(grants) == 4 and both[1] - both[0] == 1  # the shared one still back to back


def test_a_side_waits_for_its_partner_then_goes_alone() -> None:
    pending = {"A": "t#round 1", "B": None}
    done: dict[str, set[str]] = {"A": set(), "B": set()}
    assert choose(pending, done, NONE, {"A": 1.0, "B": 0.0}, "A", partner_wait_s=30) is None
    assert choose(pending, done, NONE, {"A": 31.0, "B": 0.0}, "A", partner_wait_s=30) == "A"
    gone = {"A": False, "B": True}
    assert choose(pending, done, gone, {"A": 0.0, "B": 0.0}, "A") == "A"


def test_two_clients_over_a_real_socket_never_measure_at_once(tmp_path: Path) -> None:
    # each keeps the turn until it asks again or exits, so nothing a side does between its
    # rounds runs beside the other's
    active: list[str] = []
    overlaps: list[str] = []
    lock = threading.Lock()

    def side(name: str, client: turns._Client) -> None:
        for i in range(4):
            client.begin(f"t#round {i}")
            with lock:
                if active:
                    overlaps.append(name)
                active.append(name)
            threading.Event().wait(0.01)
            with lock:
                active.remove(name)
        client._drop()  # the process exits: its turn goes to the other

    with TurnScheduler(tmp_path / "t.sock") as scheduler:
        clients = {s: turns._Client(f"{tmp_path / 't.sock'}:{s}") for s in "AB"}
        threads = [threading.Thread(target=side, args=(s, c)) for s, c in clients.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
        grants = list(scheduler.grants)
    assert not overlaps
    assert [s for s, _ in grants] == ["A", "B", "B", "A", "A", "B", "B", "A"]


def test_without_a_scheduler_the_fixture_hook_does_nothing(monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    monkeypatch.delenv(turns.ENV, raising=False)
    turns.begin("t", "round 1")  # returns at once
    turns.end()
    monkeypatch.setenv(turns.ENV, f"{tmp_path / 'absent.sock'}:A")
    monkeypatch.setattr(turns, "_client", None)
    turns.begin("t", "round 1")  # no scheduler listening: measures without turns
    assert turns.ENV not in __import__("os").environ
