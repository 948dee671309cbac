"""``greenbench gate``: worktrees of a real git repository, the CLI's errors, and a whole gate.

The whole gate runs two real pytest processes taking turns. They measure with a counter that
the work itself advances (``pytest_greenbench_probes`` in the repository's conftest, as in
test_pytest_plugin), so that the energy ratio is the work ratio whatever this shared machine
does, and the test checks the gate rather than the machine's noise.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from greenbench.ab.worktrees import checked_out, repository_root, resolve
from greenbench.errors import UserError
from tests.cli_runner import run_cli
from tests.test_pytest_plugin import CONFTEST, WORKMODEL

LIBRARY = '''
from workmodel import burn


def hot():
    return burn({steps})
'''

TESTS = '''
from lib import hot


def test_hot(energy_benchmark):
    assert energy_benchmark(hot) > 0
'''


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                          cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def _commit(repo: Path, steps: int, message: str) -> str:
    (repo / "lib.py").write_text(LIBRARY.format(steps=steps))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A library with one energy benchmark: base, then the same code, then 2x the work.

    The gate's own temporary folders (kept, with the pytest logs, after a failure) go under
    tmp_path too."""
    import tempfile

    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    root = tmp_path / "lib"
    (root / "tests").mkdir(parents=True)
    (root / "workmodel.py").write_text(WORKMODEL)
    (root / "conftest.py").write_text(CONFTEST)
    (root / "tests" / "test_lib.py").write_text(TESTS)
    _git(root, "init", "-q")
    _commit(root, 20_000, "base")
    _git(root, "tag", "base")
    (root / "README").write_text("same code\n")
    _commit(root, 20_000, "unchanged")
    _git(root, "tag", "unchanged")
    _commit(root, 40_000, "twice the work")
    return root


def test_revisions_check_out_side_by_side_and_are_removed_after(repo: Path,
                                                                tmp_path: Path) -> None:
    with checked_out(repo, {"A": "base", "B": "HEAD"}, tmp_path / "work") as revs:
        assert "20000" in (revs["A"].path / "lib.py").read_text()
        assert "40000" in (revs["B"].path / "lib.py").read_text()
        assert revs["A"].commit == resolve(repo, "base")
        assert revs["A"].import_paths() == [revs["A"].path]
    assert not (tmp_path / "work" / "A").exists()
    assert str(tmp_path / "work") not in _git(repo, "worktree", "list")


def test_an_unknown_revision_checks_nothing_out(repo: Path, tmp_path: Path) -> None:
    with (pytest.raises(UserError, match="unknown revision 'no-such-branch'"),
          checked_out(repo, {"A": "base", "B": "no-such-branch"}, tmp_path / "work")):
        pass
    assert not (tmp_path / "work").exists()


def test_outside_a_repository_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not in a git repository"):
        repository_root(tmp_path)


@pytest.mark.parametrize(("args", "message"), [
    (["--base", "no-such-branch"], "unknown revision 'no-such-branch'"),
    ([], "give --base REV"),
    (["--base", "base", "--fail", "energy:ten"], "bad rule"),
])
def test_cli_errors_are_one_line_and_exit_2(repo: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch, args: list[str],
                                            message: str) -> None:
    monkeypatch.chdir(repo)
    result = run_cli(capsys, "gate", *args)
    assert result.code == 2
    assert message in result.err and len(result.err.strip().splitlines()) == 1


def test_cli_outside_a_repository_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli(capsys, "gate", "--base", "HEAD~1")
    assert result.code == 2 and "not in a git repository" in result.err
    assert len(result.err.strip().splitlines()) == 1


FAST = ("--greenbench-min-time=0.02",)


def test_gate_fails_twice_the_work_and_passes_the_same_code(
        repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)
    monkeypatch.setenv("COLUMNS", "200")
    slower = run_cli(capsys, "gate", "--base", "base", "--head", "HEAD", "--rounds", "6",
                     "tests", *FAST)
    assert slower.code == 1, slower.err
    assert "interleaved: 6 of 6 round pairs measured back to back" in slower.out
    assert "Wilcoxon signed-rank on paired log ratios" in slower.out
    assert "regressed: energy:10% (exit 1)" in slower.out
    same = run_cli(capsys, "gate", "--base", "base", "--head", "unchanged", "--rounds", "6",
                   "tests", *FAST)
    assert same.code == 0, same.out + same.err
    assert "no gated regression" in same.out
    assert "gate-" not in _git(repo, "worktree", "list")  # both worktrees removed


def test_pytest_that_collects_nothing_is_an_error_naming_the_revision(
        repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)
    result = run_cli(capsys, "gate", "--base", "base", "tests/test_lib.py", "-k", "nothing")
    assert result.code == 2
    assert "base (" in result.err and "pytest collected no tests" in result.err


def test_sessions_merge_round_by_round_with_each_session_as_its_process() -> None:
    from greenbench.ab.sessions import merged
    from tests.factories import make_run

    first = make_run(values={"energy_j": [1.0, 1.1, 1.2]})
    second = make_run(values={"energy_j": [2.0, 2.1, 2.2]})
    run = merged([first, second])
    case = run.cases[0]
    assert case.values("energy_j") == [1.0, 1.1, 1.2, 2.0, 2.1, 2.2]
    assert [r.process for r in case.repeats] == [0, 0, 0, 1, 1, 1]
    assert case.summary["energy_j"].n == 6
    assert first.cases[0].repeats[0].process == 0 and len(first.cases[0].repeats) == 3


def test_a_benchmark_new_in_the_head_is_listed_and_holds_nothing_up(
        repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / "tests" / "test_new.py").write_text(TESTS.replace("test_hot", "test_new"))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "a new benchmark")
    monkeypatch.chdir(repo)
    monkeypatch.setenv("COLUMNS", "200")
    result = run_cli(capsys, "gate", "--base", "unchanged", "--head", "HEAD", "--rounds", "6",
                     "--processes", "1", "tests", *FAST)
    assert result.code == 1, result.err  # test_hot still does twice the work
    assert "only in the current run (not compared): tests/test_new.py::test_new" in result.out
