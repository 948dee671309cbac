"""Faults of the results store: a full disk, a read-only mount, damaged and foreign files.

The disk-full and read-only cases use a real small tmpfs, mounted by the test when it runs as
root (CI containers usually do); elsewhere they are skipped and the simulated checkpoint
failure still covers the damage a full disk leaves.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenbench.errors import UserError
from greenbench.store import Store
from tests.cli_runner import run_cli
from tests.factories import make_run
from tests.small_disk import fill, mounted_tmpfs


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "disk") as folder:
        yield folder


def stored_ids(path: Path) -> list[str]:
    with Store(path, readonly=True) as s:
        return sorted(r.id for r in s.list_runs())


# --------------------------------------------------------------------------- a full disk


def test_a_checkpoint_cut_short_by_a_full_disk_leaves_a_store_that_still_opens(
    small_disk: Path,
) -> None:
    path = small_disk / "s.sqlite"
    store = Store(path)
    ids = sorted(store.begin_run(make_run(3)) for _ in range(8))
    filler = fill(small_disk)
    store.close()  # the checkpoint into the main file fails with ENOSPC
    assert path.with_name("s.sqlite-wal").stat().st_size > 0, "the runs are still in -wal"
    filler.unlink()
    assert stored_ids(path) == ids
    with Store(path) as s:  # and it takes new runs once there is room again
        s.begin_run(make_run(1))
        assert s.count_runs() == 9


def simulate_cut_checkpoint(tmp_path: Path) -> tuple[Path, list[str]]:
    """The files a checkpoint cut short leaves: -wal holds every run, and the main file's
    first page (already copied back) counts pages that were never written."""
    live, cut = tmp_path / "live", tmp_path / "cut"
    live.mkdir()
    cut.mkdir()
    path = live / "s.sqlite"
    store = Store(path)
    ids = sorted(store.begin_run(make_run(3)) for _ in range(8))
    for name in ("s.sqlite", "s.sqlite-wal"):  # the store as it is before the checkpoint
        shutil.copy(live / name, cut / name)
    store.close()
    first_page = path.read_bytes()[:4096]
    damaged = cut / "s.sqlite"
    with damaged.open("r+b") as f:
        f.write(first_page)
    assert damaged.stat().st_size < path.stat().st_size
    return damaged, ids


def test_a_store_whose_main_file_counts_pages_still_in_wal_reads_intact(
    tmp_path: Path,
) -> None:
    damaged, ids = simulate_cut_checkpoint(tmp_path)
    assert stored_ids(damaged) == ids


def test_results_list_reads_a_store_left_by_a_cut_checkpoint(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    damaged, ids = simulate_cut_checkpoint(tmp_path)
    result = run_cli(capsys, "results", "list", "--store", str(damaged))
    assert result.code == 0, result.err
    assert all(i in result.out for i in ids)


def test_a_damaged_store_message_never_advises_moving_one_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with Store(path) as s:
        for _ in range(20):
            s.begin_run(make_run(3))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(UserError) as info:
        Store(path)
    message = str(info.value)
    assert "corrupt" in message and "-wal" in message and "-shm" in message
    assert "move it aside" not in message and "\n" not in message


def test_pages_damaged_inside_a_table_are_found_by_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with Store(path) as s:
        for _ in range(30):
            s.begin_run(make_run(3))
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(3 * page, len(data) - page, 2 * page):  # scribble over many pages
        data[offset + 8: offset + 64] = b"\xff" * 56
    path.write_bytes(bytes(data))
    with pytest.raises(UserError, match="corrupt"):
        Store(path, readonly=True)
    assert path.read_bytes() == bytes(data)


# --------------------------------------------------------------------------- read-only


def test_a_store_on_a_read_only_mount_is_read_not_called_corrupt(
    capsys: pytest.CaptureFixture[str], small_disk: Path,
) -> None:
    path = small_disk / "s.sqlite"
    with Store(path) as s:
        run_id = s.begin_run(make_run(2, label="kept"))
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    listed = run_cli(capsys, "results", "list", "--store", str(path))
    assert listed.code == 0, listed.err
    assert run_id in listed.out
    shown = run_cli(capsys, "results", "show", run_id, "--store", str(path))
    assert shown.code == 0, shown.err
    assert "kept" in shown.out


def test_reading_commands_never_write_the_store_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite"
    with Store(path) as s:
        run_id = s.begin_run(make_run(2))
    before = path.read_bytes()
    for args in (["results", "list"], ["results", "show", run_id],
                 ["results", "export", run_id], ["results", "export", run_id, "--format", "csv"]):
        result = run_cli(capsys, *args, "--store", str(path))
        assert result.code == 0, (args, result.err)
    assert path.read_bytes() == before


def test_a_zero_length_file_is_not_made_a_store_by_a_reading_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    path = tmp_path / "empty.sqlite"
    path.touch()
    result = run_cli(capsys, "results", "list", "--store", str(path))
    assert result.code != 0
    assert "empty" in result.err and "Traceback" not in result.err
    assert path.stat().st_size == 0


# --------------------------------------------------------------------------- wrong schema


def marked_with_other_tables(path: Path) -> bytes:
    """An SQLite file with greenbench's application id and schema version but other tables."""
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE runs (id TEXT)")
    con.execute("CREATE TABLE notes (text TEXT)")
    con.execute("PRAGMA application_id = 1734504035")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    return path.read_bytes()


@pytest.mark.parametrize("args", [["results", "list"], ["results", "show", "latest"],
                                  ["results", "export", "latest"], ["report", "latest", "-o",
                                                                    "r.md"]])
def test_a_store_with_our_mark_and_other_tables_is_refused_in_one_line_untouched(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    args: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "wrong.sqlite"
    before = marked_with_other_tables(path)
    result = run_cli(capsys, *args, "--store", str(path))
    assert result.code != 0
    assert "not its schema" in result.err and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert path.read_bytes() == before


def test_a_writing_command_refuses_a_store_with_other_tables_too(tmp_path: Path) -> None:
    path = tmp_path / "wrong.sqlite"
    before = marked_with_other_tables(path)
    with pytest.raises(UserError, match="not its schema"):
        Store(path)
    assert path.read_bytes() == before


def test_text_that_is_not_utf8_in_a_stored_case_is_one_line_not_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite"
    with Store(path) as s:
        run_id = s.begin_run(make_run(2))
    con = sqlite3.connect(path)
    con.execute("UPDATE cases SET record = CAST(X'7b2277223a22ff22fe7d' AS TEXT)")
    con.execute("UPDATE runs SET label = CAST(X'ff00fe' AS TEXT)")
    con.commit()
    con.close()
    for args in (["results", "show", run_id], ["results", "export", run_id],
                 ["results", "list"]):
        result = run_cli(capsys, *args, "--store", str(path))
        assert result.code != 0, args
        assert "corrupt" in result.err and "Traceback" not in result.err, args


def test_a_damaged_column_type_in_the_schema_is_corrupt_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite"
    with Store(path) as s:
        s.begin_run(make_run(1))
    data = bytearray(path.read_bytes())
    data[data.find(b"pid_started REAL") + 12] = 0x80  # the text SQLite reads as its type
    path.write_bytes(bytes(data))
    result = run_cli(capsys, "results", "list", "--store", str(path))
    assert result.code != 0 and "Traceback" not in result.err
    assert "corrupt" in result.err and len(result.err.strip().splitlines()) == 1, result.err


# --------------------------------------------------------------------------- random damage


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pristine") / "s.sqlite"
    with Store(path) as s:
        for _ in range(6):
            s.begin_run(make_run(3, label="a label"))
    return path


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damage=st.lists(st.tuples(st.integers(100, 10**9), st.integers(0, 255)), min_size=1,
                       max_size=40))
def test_random_damage_gives_one_line_or_the_runs_never_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path_factory: pytest.TempPathFactory,
    pristine: Path, damage: list[tuple[int, int]],
) -> None:
    data = bytearray(pristine.read_bytes())
    for offset, byte in damage:
        data[offset % len(data)] = byte
    path = tmp_path_factory.mktemp("damaged") / "s.sqlite"
    path.write_bytes(bytes(data))
    for args in (["results", "list"], ["results", "show", "latest", "--all-metrics"],
                 ["results", "export", "latest"], ["results", "export", "latest", "--format",
                                                   "csv"]):
        result = run_cli(capsys, *args, "--store", str(path))
        assert "Traceback" not in result.err, (args, result.err)
        assert result.code == 0 or len(result.err.strip().splitlines()) == 1, (args, result.err)
    assert path.read_bytes() == bytes(data)


@pytest.mark.parametrize("column", ["machine", "config", "sensors", "footprint"])
def test_a_run_s_json_damaged_in_place_is_corrupt_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, column: str,
) -> None:
    path = tmp_path / "s.sqlite"
    with Store(path) as s:
        run_id = s.begin_run(make_run(2))
    con = sqlite3.connect(path)
    con.execute(f"UPDATE runs SET {column} = '{{x'")  # JSON the decoder stops in
    con.commit()
    con.close()
    for args in (["results", "show", run_id], ["results", "export", run_id]):
        result = run_cli(capsys, *args, "--store", str(path))
        assert result.code != 0 and "Traceback" not in result.err, (args, result.err)
        assert "corrupt" in result.err and len(result.err.strip().splitlines()) == 1, args
