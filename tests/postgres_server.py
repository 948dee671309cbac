"""A real PostgreSQL server for the store's tests, started by the test session itself.

Debian's postgresql package (``/usr/lib/postgresql/<version>/bin``) or binaries on PATH; where
there are none, the tests that need a server are skipped with that reason. The server listens
on 127.0.0.1 at a free port, with its data in a temporary folder (run as the ``postgres``
system user when the tests run as root: initdb refuses root), and asks TCP clients for a
password (scram-sha-256), so that the tests of credentials are real. Each test gets a database
of its own; the server goes away with the session, and with the test process if it is killed.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

USER = "greenbench"
PASSWORD = "pw-Zq7-never-shown"


def binaries() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres, or None."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                      key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    port: int
    folder: Path

    def url(self, database: str, password: str | None = PASSWORD, user: str = USER) -> str:
        secret = f":{password}" if password is not None else ""
        return f"postgresql://{user}{secret}@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> list[tuple]:
        """Run one statement as the server's superuser (autocommit); its rows, if any."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as con:
            cur = con.execute(statement)
            return cur.fetchall() if cur.description else []

    def new_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        self.sql(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _as_server_user() -> Callable[[], None] | None:
    """Where the tests run as root: a ``preexec_fn`` that runs the child as the ``postgres``
    user (initdb and postgres refuse root)."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("the tests run as root, which PostgreSQL refuses, and there is no "
                    "postgres user to run the server as (Debian's package creates one)")

    def drop() -> None:
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)

    return drop


def _dies_with_us(then: Callable[[], None] | None) -> Callable[[], None]:
    """A ``preexec_fn``: ``then``, and the child gets SIGQUIT (PostgreSQL's immediate
    shutdown) when the test process dies, so that a killed session leaves no server behind."""
    prctl = None
    if sys.platform == "linux":  # looked up here: the child only calls it
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl

    def prepare() -> None:
        if then is not None:
            then()
        if prctl is not None:
            prctl(1, int(signal.SIGQUIT))  # PR_SET_PDEATHSIG

    return prepare


def _start() -> Iterator[Server]:
    folder_bin = binaries()
    if folder_bin is None:
        pytest.skip("no PostgreSQL binaries (initdb, postgres) on this machine: install "
                    "Debian's postgresql package to run the server-store tests")
    as_user = _as_server_user()
    folder = Path(tempfile.mkdtemp(prefix="greenbench-pg-"))
    if as_user is not None:
        shutil.chown(folder, "postgres", "postgres")
    data, secret = folder / "data", folder / "pw"
    secret.write_text(PASSWORD + "\n")
    if as_user is not None:
        shutil.chown(secret, "postgres", "postgres")
    server: subprocess.Popen | None = None
    try:
        subprocess.run([str(folder_bin / "initdb"), "-D", str(data), "-U", USER, "--pwfile",
                        str(secret), "--auth-local=trust", "--auth-host=scram-sha-256", "-E",
                        "UTF8", "--locale=C"],
                       check=True, capture_output=True, timeout=300, preexec_fn=as_user)
        for _ in range(5):  # a free port can be taken by another test process meanwhile
            running = Server(port=_free_port(), folder=folder)
            server = _launch(folder_bin, data, running, as_user)
            if _answers(running, server, folder / "log"):
                break
        else:
            raise RuntimeError("postgres found no free port: "
                               f"{(folder / 'log').read_text(errors='replace')[-2000:]}")
        yield running
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGQUIT)  # immediate shutdown: the data is thrown away
            try:
                server.wait(timeout=120)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def _launch(folder_bin: Path, data: Path, running: Server,
            as_user: Callable[[], None] | None) -> subprocess.Popen:
    with open(running.folder / "log", "wb") as log:
        return subprocess.Popen(
            [str(folder_bin / "postgres"), "-D", str(data), "-p", str(running.port), "-k",
             str(running.folder), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c",
             "synchronous_commit=off", "-c", "full_page_writes=off", "-c",
             "max_connections=200"],
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=_dies_with_us(as_user))


def _answers(running: Server, server: subprocess.Popen, log: Path) -> bool:
    """True once the server answers; False if it stopped because its port was taken."""
    import psycopg

    deadline = time.monotonic() + 180  # a start-up guard for a loaded machine, not a test
    while time.monotonic() < deadline:
        if server.poll() is not None:
            text = log.read_text(errors="replace")
            if "could not bind" in text or "already in use" in text:
                return False
            raise RuntimeError(f"postgres exited: {text[-2000:]}")
        try:
            running.sql("SELECT 1")
            return True
        except psycopg.OperationalError:
            time.sleep(0.1)
    raise RuntimeError(f"postgres did not answer: {log.read_text(errors='replace')[-2000:]}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Server]:
    """One PostgreSQL server for the session (each xdist worker starts its own)."""
    yield from _start()


@pytest.fixture
def postgres_url(postgres_server: Server) -> Iterator[str]:
    """The URL (with its password) of a fresh, empty database on the session's server."""
    name = postgres_server.new_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)
