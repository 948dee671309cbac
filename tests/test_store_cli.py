"""``--store postgresql://...`` (and $GREENBENCH_STORE) wherever a path works, ``results push``
and ``results pull`` between any two stores, and the bad input of a server's store, seen the
way a user sees them: the command line's output and exit status."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from greenbench.results_format import to_document
from greenbench.store import Store
from tests.cli_runner import run_cli
from tests.factories import make_run
from tests.postgres_server import PASSWORD, postgres_server, postgres_url  # noqa: F401

FILE = str(Path(__file__).parent / "data" / "basic_workloads.py")


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


def gb(*args: str, cwd: Path, env: dict[str, str] | None = None
       ) -> subprocess.CompletedProcess:
    env = {**os.environ, "GREENBENCH_POWERCAP_ROOT": "/nonexistent", "CUDA_VISIBLE_DEVICES": "",
           "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "greenbench", *args], capture_output=True,
                          text=True, timeout=300, env=env, cwd=cwd)


def closed_port() -> int:
    with socket.socket() as s:  # bound, then closed: nobody listens there
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_run_stores_into_a_server_and_every_reading_command_reads_it(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        postgres_url: str, tmp_path: Path) -> None:  # noqa: F811
    ran = gb("run", "spin", "--workload-file", FILE, "--repeats", "2", "--min-duration",
             "0.05", "--warmup", "0.05", "--idle", "0", "--store", postgres_url, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    shown_url = postgres_url.replace(f":{PASSWORD}@", "@")
    assert "stored run " in ran.stderr and shown_url in " ".join(ran.stderr.split())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GREENBENCH_STORE", postgres_url)  # as --store does
    outputs = [ran.stdout, ran.stderr]
    for args in (["results", "list"], ["results", "show", "latest"],
                 ["results", "export", "latest", "-o", "run.json"],
                 ["compare", "latest", "latest"],
                 ["report", "latest", "-o", "report.md", "--no-figures"],
                 ["-v", "results", "show", "latest", "--json"]):
        done = run_cli(capsys, *args)
        assert done.code in (0, 3), (args, done.err)  # compare: 3, nothing comparable
        assert "Traceback" not in done.err, (args, done.err)
        outputs += [done.out, done.err]
    exported = (tmp_path / "run.json").read_text()
    assert json.loads(exported)["run"]["cases"][0]["workload"] == "spin"
    report = (tmp_path / "report.md").read_text()
    assert all(PASSWORD not in text for text in [*outputs, exported, report])
    with Store(postgres_url, readonly=True) as store:
        assert PASSWORD not in json.dumps(store.export_run("latest"))


def test_push_then_pull_moves_a_run_losslessly_between_sqlite_and_postgresql(
        capsys: pytest.CaptureFixture[str], postgres_url: str,  # noqa: F811
        tmp_path: Path) -> None:
    here, back = tmp_path / "here.sqlite", tmp_path / "back.sqlite"
    run = make_run(3, label="to share")
    run.job = {"world_size": 2, "hosts": ["a", "b"]}
    with Store(here) as store:
        store.begin_run(run)
        original = store.export_run(run.id)
    pushed = run_cli(capsys, "results", "push", run.id, "--to", postgres_url, "--no-check",
                     "--store", str(here))
    assert pushed.code == 0, pushed.err
    assert f"copied run {run.id} (3 case(s))" in pushed.err and PASSWORD not in pushed.err
    again = run_cli(capsys, "results", "push", run.id, "--to", postgres_url, "--no-check",
                    "--store", str(here))
    assert again.code == 0 and "(the same content): nothing copied" in again.err
    assert len(again.err.strip().splitlines()) == 1
    pulled = run_cli(capsys, "results", "pull", run.id, "--from", postgres_url, "--store",
                     str(back))
    assert pulled.code == 0, pulled.err
    with Store(postgres_url, readonly=True) as server, Store(back, readonly=True) as local:
        assert server.count_runs() == 1
        assert to_document(server.get_run(run.id)) == original
        assert to_document(local.get_run(run.id)) == original
    exports = [run_cli(capsys, "results", "export", run.id, "--store", where).out
               for where in (str(here), postgres_url, str(back))]
    assert exports[0] == exports[1] == exports[2]  # byte for byte, key order included


def test_a_push_of_a_run_that_fails_a_rule_names_each_rule_and_pushes_nothing(
        capsys: pytest.CaptureFixture[str], postgres_url: str,  # noqa: F811
        tmp_path: Path) -> None:
    here = tmp_path / "here.sqlite"
    run = make_run(2)  # the factory's repeats have throughput apart from their windows
    with Store(here) as store:
        store.begin_run(run)
    refused = run_cli(capsys, "results", "push", run.id, "--to", postgres_url, "--store",
                      str(here))
    assert refused.code == 1
    lines = refused.err.strip().splitlines()
    assert lines[-1].startswith(f"run {run.id} fails") and "--no-check" in lines[-1]
    assert len(lines) >= 2 and all(": " in line for line in lines)
    listed = run_cli(capsys, "results", "list", "--store", postgres_url)
    assert listed.code != 0 and "nothing has been stored there yet" in listed.err


def test_a_push_to_an_unreachable_server_is_one_line_exit_2_and_the_run_stays(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    here = tmp_path / "here.sqlite"
    with Store(here) as store:
        run_id = store.begin_run(make_run(1))
    before = here.read_bytes()
    url = f"postgresql://lab:hunter2-pw@127.0.0.1:{closed_port()}/results"
    result = run_cli(capsys, "results", "push", run_id, "--to", url, "--no-check", "--store",
                     str(here))
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err
    assert "reachable" in result.err and "hunter2-pw" not in result.err
    assert here.read_bytes() == before
    with Store(here, readonly=True) as store:
        assert [r.id for r in store.list_runs()] == [run_id]


def test_run_with_an_unreachable_store_stops_before_measuring(tmp_path: Path) -> None:
    url = f"postgresql://lab:hunter2-pw@127.0.0.1:{closed_port()}/results"
    done = gb("run", "spin", "--workload-file", FILE, "--repeats", "2", "--store", url,
              cwd=tmp_path)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "hunter2-pw" not in done.stderr and "measured" not in done.stdout


def test_wrong_credentials_are_one_line_with_no_password_echoed(
        capsys: pytest.CaptureFixture[str], postgres_url: str) -> None:  # noqa: F811
    wrong = postgres_url.replace(PASSWORD, "not-the-Pw-77")
    for args in (["results", "list"], ["results", "import", "x.json"]):
        result = run_cli(capsys, *args, "--store", wrong)
        assert result.code == 2, result.err
        assert "not-the-Pw-77" not in result.err and PASSWORD not in result.err
        assert len(result.err.strip().splitlines()) == 1


def test_a_store_url_of_an_unknown_scheme_is_one_line(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    result = run_cli(capsys, "results", "list", "--store", "mysql://me:secret-pw@host/db")
    assert result.code == 2 and "scheme 'mysql' is not supported" in result.err
    assert "secret-pw" not in result.err and len(result.err.strip().splitlines()) == 1
    monkeypatch.setenv("GREENBENCH_STORE", "redis://me:secret-pw@host/0")
    from_env = run_cli(capsys, "results", "list")
    assert from_env.code == 2 and "scheme 'redis'" in from_env.err


def test_config_shows_a_store_url_without_its_password(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GREENBENCH_STORE", "postgresql://lab:secret-pw@db.example/results")
    for args in (["config"], ["config", "--json"]):
        result = run_cli(capsys, *args)
        assert result.code == 0
        assert "secret-pw" not in result.out
        assert "postgresql://lab@db.example/results" in result.out


def test_a_store_url_in_the_project_settings_reaches_the_commands_as_written(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        postgres_url: str, tmp_path: Path) -> None:  # noqa: F811
    with Store(postgres_url) as store:
        run_id = store.begin_run(make_run(1))
    (tmp_path / "pyproject.toml").write_text(
        f"[project]\nname = 'demo'\n\n[tool.greenbench]\nstore = '{postgres_url}'\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GREENBENCH_STORE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-user-config"))
    listed = run_cli(capsys, "results", "list")
    assert listed.code == 0, listed.err
    assert run_id in listed.out
    shown = run_cli(capsys, "config")
    assert postgres_url.replace(f":{PASSWORD}@", "@") in shown.out and PASSWORD not in shown.out
