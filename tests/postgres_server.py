"""A real PostgreSQL server for the store's tests, started by the test session itself.

Debian's postgresql package (``/usr/lib/postgresql/<version>/bin``) or binaries on PATH; where
there are none, the tests that need a server are skipped with that reason. The server listens
on 127.0.0.1 at a free port, with its data in a temporary folder (owned by the ``postgres``
system user when the tests run as root: initdb refuses root), and asks TCP clients for a
password (scram-sha-256), so that the tests of credentials are real. Each test gets a database
of its own; the server goes away with the session.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
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


def _start() -> Iterator[Server]:
    folder_bin = binaries()
    if folder_bin is None:
        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl, postgres) on this machine: "
                    "install Debian's postgresql package to run the server-store tests")
    folder = Path(tempfile.mkdtemp(prefix="greenbench-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: the server runs as the postgres user
        shutil.chown(folder, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"
    secret = folder / "pw"
    secret.write_text(PASSWORD + "\n")
    if as_user:
        shutil.chown(secret, "postgres", "postgres")
    subprocess.run([*as_user, str(folder_bin / "initdb"), "-D", str(data), "-U", USER,
                    "--pwfile", str(secret), "--auth-local=trust",
                    "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C"],
                   check=True, capture_output=True, timeout=120)
    port = _free_port()
    options = (f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
               "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
    subprocess.run([*as_user, str(folder_bin / "pg_ctl"), "-D", str(data), "-o", options,
                    "-l", str(folder / "log"), "-w", "-t", "120", "start"],
                   check=True, capture_output=True, timeout=180)
    try:
        yield Server(port=port, folder=folder)
    finally:
        subprocess.run([*as_user, str(folder_bin / "pg_ctl"), "-D", str(data), "-m",
                        "immediate", "stop"], capture_output=True, timeout=120, check=False)
        shutil.rmtree(folder, ignore_errors=True)


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
