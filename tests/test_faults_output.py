"""Output files under faults: never written over the store, never left half-written."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from greenbench.errors import UserError
from greenbench.output_file import write_with
from greenbench.store import Store
from tests.cli_runner import run_cli
from tests.factories import make_run
from tests.small_disk import fill, mounted_tmpfs

WORKLOADS = str(Path(__file__).parent / "data" / "basic_workloads.py")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "disk") as folder:
        yield folder


@pytest.fixture
def store_file(tmp_path: Path) -> Path:
    path = tmp_path / "v.sqlite"
    with Store(path) as s:
        for _ in range(3):
            s.begin_run(make_run(2))
    return path


def run_count(path: Path) -> int:
    with Store(path, readonly=True) as s:
        return s.count_runs()


# --------------------------------------------------------------------------- the store


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm"])
def test_export_onto_the_store_or_its_companions_is_refused(
    capsys: pytest.CaptureFixture[str], store_file: Path, suffix: str,
) -> None:
    target = Path(f"{store_file}{suffix}")
    before = target.read_bytes() if target.exists() else None
    result = run_cli(capsys, "results", "export", "latest", "-o", str(target),
                     "--store", str(store_file))
    assert result.code != 0
    assert "results store" in result.err and "Traceback" not in result.err
    assert (target.read_bytes() if target.exists() else None) == before
    assert run_count(store_file) == 3


def test_export_onto_another_sqlite_database_is_refused(
    capsys: pytest.CaptureFixture[str], store_file: Path, tmp_path: Path,
) -> None:
    other = tmp_path / "other.sqlite"
    with Store(other) as s:
        s.begin_run(make_run(1))
    result = run_cli(capsys, "results", "export", "latest", "-o", str(other),
                     "--store", str(store_file))
    assert result.code != 0 and "results store" in result.err
    assert run_count(other) == 1


def test_a_report_written_over_a_store_is_refused(
    capsys: pytest.CaptureFixture[str], store_file: Path, tmp_path: Path,
) -> None:
    disguised = tmp_path / "v.html"
    disguised.write_bytes(store_file.read_bytes())
    result = run_cli(capsys, "report", "latest", "--no-figures", "-o", str(disguised),
                     "--store", str(store_file))
    assert result.code != 0 and "results store" in result.err
    assert disguised.read_bytes() == store_file.read_bytes()


def test_run_json_pointing_at_the_store_is_refused_before_measuring(
    store_file: Path, tmp_path: Path,
) -> None:
    env = {**os.environ, "GREENBENCH_POWERCAP_ROOT": "/nonexistent"}
    done = subprocess.run(
        [sys.executable, "-m", "greenbench", "run", "spin", "--workload-file", WORKLOADS,
         "--store", str(store_file), "-o", str(store_file)],
        capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert done.returncode != 0
    assert "results store" in done.stderr and "Traceback" not in done.stderr
    assert run_count(store_file) == 3


# --------------------------------------------------------------------------- failed writes


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("previous")

    def half_then_fail(f: object) -> None:
        f.write(b"{\"trunc")  # type: ignore[attr-defined]
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(UserError, match="No space left"):
        write_with(target, half_then_fail)
    assert target.read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_export_that_fails_to_sync_keeps_the_earlier_export(
    capsys: pytest.CaptureFixture[str], store_file: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = tmp_path / "run.json"
    assert run_cli(capsys, "results", "export", "latest", "-o", str(target),
                   "--store", str(store_file)).code == 0
    earlier = target.read_bytes()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("greenbench.output_file.os.fsync", full)
    result = run_cli(capsys, "results", "export", "latest~1", "-o", str(target),
                     "--store", str(store_file))
    assert result.code != 0 and "No space left" in result.err
    assert "Traceback" not in result.err
    assert target.read_bytes() == earlier


def test_export_onto_a_full_disk_keeps_the_earlier_export(
    capsys: pytest.CaptureFixture[str], store_file: Path, small_disk: Path,
) -> None:
    target = small_disk / "run.json"
    assert run_cli(capsys, "results", "export", "latest", "-o", str(target),
                   "--store", str(store_file)).code == 0
    earlier = target.read_bytes()
    fill(small_disk)
    result = run_cli(capsys, "results", "export", "latest~1", "-o", str(target),
                     "--store", str(store_file))
    assert result.code != 0 and "Traceback" not in result.err
    assert target.read_bytes() == earlier
    json.loads(earlier)
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "run.json"]


def test_a_link_is_followed_and_its_target_replaced(tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_text("old")
    real.chmod(0o640)
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    write_with(link, lambda f: f.write(b"new"))
    assert link.is_symlink() and real.read_text() == "new"
    assert real.stat().st_mode & 0o777 == 0o640


def test_a_figure_that_fails_to_save_keeps_the_earlier_figure(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from greenbench.plots.style import save_figure

    target = tmp_path / "bars.svg"
    fig = Figure()
    fig.add_subplot().plot([1, 2], [3, 4])
    save_figure(fig, target)
    earlier = target.read_bytes()
    with pytest.raises(Exception, match="unknown"):
        save_figure(fig, target, fmt="unknown")
    assert target.read_bytes() == earlier
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bars.svg"]


def test_measure_json_pointing_at_a_store_is_refused_before_measuring(
    store_file: Path, tmp_path: Path,
) -> None:
    env = {**os.environ, "GREENBENCH_POWERCAP_ROOT": "/nonexistent"}
    marker = tmp_path / "ran"
    done = subprocess.run(
        [sys.executable, "-m", "greenbench", "measure", "--idle", "0", "-o",
         str(store_file), "--", "touch", str(marker)],
        capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert done.returncode != 0
    assert "results store" in done.stderr and "Traceback" not in done.stderr
    assert not marker.exists()  # refused before the command ran
    assert run_count(store_file) == 3
