"""Stand-in NVIDIA GPUs shared by a test and the worker processes it starts.

The GPUs' state (fake_pynvml.FakeGpu fields) lives in a JSON file: every NVML call re-reads
it and a limit set writes it back, so a limit a worker sets is the limit the test and
``greenbench gpu restore`` read. :func:`inject` writes a ``pynvml.py`` that loads this
stand-in into a folder and puts it, and the repository, first on ``PYTHONPATH``: a worker
(forked from the run's zygote, or started afresh) imports it as it would nvidia-ml-py.
:func:`add_energy` lets a workload's step advance a GPU's energy counter by the joules
its model says the step drew, and :func:`set_power` sets the power it polls.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from tests.fake_pynvml import FakeGpu, FakePynvml, install

STATE_ENV = "GREENBENCH_TEST_GPU_STATE"
REPO = Path(__file__).resolve().parent.parent
_SHIM = f"""import os, sys
from tests.shared_gpus import SharedPynvml
sys.modules[__name__] = SharedPynvml(os.environ[{STATE_ENV!r}])
"""
_SAVED = [f.name for f in fields(FakeGpu) if f.name != "load"]


def save(path: Path, gpus: list[FakeGpu]) -> None:
    with _lock(path):
        _write(path, gpus)


def load(path: Path) -> list[dict[str, Any]]:
    with _lock(path):
        return list(json.loads(Path(path).read_text()))


def add_energy(path: str | Path, index: int, millijoules: float) -> None:
    """Advance GPU ``index``'s energy counter (what the step drew)."""
    with _lock(Path(path)):
        state = json.loads(Path(path).read_text())
        state[index]["energy_mj"] += round(millijoules)
        _write_raw(Path(path), state)


def set_power(path: str | Path, index: int, milliwatts: float) -> None:
    """Make GPU ``index``'s polled power read ``milliwatts`` (what the load draws)."""
    with _lock(Path(path)):
        state = json.loads(Path(path).read_text())
        state[index]["power_mw"] = round(milliwatts)
        _write_raw(Path(path), state)


def add_process_sample(path: str | Path, index: int, pid: int, sm_percent: int) -> None:
    """Record that ``pid`` used ``sm_percent`` of GPU ``index``'s SMs, in a sample newer than
    any window's start (what a process on the GPU leaves in NVML's utilisation samples)."""
    with _lock(Path(path)):
        state = json.loads(Path(path).read_text())
        state[index]["process_samples"].append([pid, 2**62, sm_percent])
        _write_raw(Path(path), state)


class SharedPynvml(FakePynvml):
    """A FakePynvml whose GPUs are read from, and limits written to, ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        super().__init__([FakeGpu() for _ in load(self.path)])
        self._reload()

    def _gpu(self, handle: Any, function: str) -> FakeGpu:
        if not self._holding:
            self._reload()
        return super()._gpu(handle, function)

    def nvmlDeviceSetPowerManagementLimit(self, handle: Any, limit: int) -> None:
        with _lock(self.path):
            self._holding = True  # flock is not reentrant: read and write under this one
            try:
                self._reload(locked=True)
                super().nvmlDeviceSetPowerManagementLimit(handle, limit)
                _write(self.path, self.gpus)
            finally:
                self._holding = False

    _holding = False

    def _reload(self, locked: bool = False) -> None:
        with contextlib.nullcontext() if locked else _lock(self.path):
            state = json.loads(self.path.read_text())
        for gpu, saved in zip(self.gpus, state, strict=True):
            for name, value in saved.items():
                if name == "limit_range_mw" and value is not None:
                    value = tuple(value)
                setattr(gpu, name, value)


def inject(monkeypatch: Any, tmp_path: Path, gpus: list[FakeGpu]) -> Path:
    """The GPUs' state file; this process and every worker it starts see these GPUs."""
    state = tmp_path / "gpus.json"
    save(state, gpus)
    shim = tmp_path / "nvml-standin"
    shim.mkdir()
    (shim / "pynvml.py").write_text(_SHIM)
    paths = [str(shim), str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    monkeypatch.setenv(STATE_ENV, str(state))
    monkeypatch.setenv("GREENBENCH_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    install(monkeypatch, SharedPynvml(state))
    _no_amd(monkeypatch)
    return state


def _no_amd(monkeypatch: Any) -> None:
    from tests.fake_amdsmi import install as install_amd

    install_amd(monkeypatch, None)


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write(path: Path, gpus: list[FakeGpu]) -> None:
    _write_raw(path, [{k: v for k, v in asdict(g).items() if k in _SAVED} for g in gpus])


def _write_raw(path: Path, state: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, path)
