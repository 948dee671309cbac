"""Where the results store is: an SQLite file (a path), or a PostgreSQL database (a URL).

``--store PATH`` or ``--store postgresql://user@host/db``, else ``$GREENBENCH_STORE``, else
``results/greenbench.sqlite`` under the current directory (:func:`store_path`).

A server's password never leaves this module in text: it comes from the URL, from libpq's own
``PGPASSWORD`` / ``PGPASSFILE`` (or ``?passfile=`` in the URL), or from the file named by
``$GREENBENCH_STORE_PASSWORD_FILE`` (the password alone on its first line), and a
:class:`ServerURL` prints without it. Nothing here imports SQLAlchemy, so that reading the
settings stays light.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from greenbench.errors import UserError

DEFAULT_STORE = Path("results") / "greenbench.sqlite"
STORE_ENV = "GREENBENCH_STORE"
PASSWORD_FILE_ENV = "GREENBENCH_STORE_PASSWORD_FILE"
#: the URL schemes of a PostgreSQL store (psycopg 3 is the driver whatever the spelling)
POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
#: seconds a server store waits for the server to answer before saying it is unreachable
CONNECT_TIMEOUT_S = 5


class ServerURL:
    """A PostgreSQL store's URL. ``str()`` gives it without the password (for messages and
    records); :meth:`sqlalchemy_url` gives what the driver connects with."""

    def __init__(self, text: str) -> None:
        from urllib.parse import parse_qsl, unquote, urlsplit

        self._text = text
        parts = urlsplit(text)
        self._passwords = [p for p in (parts.password, unquote(parts.password or ""),
                                       dict(parse_qsl(parts.query)).get("password")) if p]
        shown_query = "&".join(f"{k}={v}" for k, v in parse_qsl(parts.query)
                               if k != "password")
        netloc = parts.hostname or ""
        try:
            port = parts.port
        except ValueError:
            raise UserError(f"results store URL {parts.scheme}://{netloc}/...: the port is not "
                            "a number; write it as postgresql://user@host:port/database"
                            ) from None
        if port is not None:
            netloc = f"{netloc}:{port}"
        if parts.username:
            netloc = f"{parts.username}@{netloc}"
        self._shown = f"postgresql://{netloc}{parts.path}" + (f"?{shown_query}"
                                                             if shown_query else "")

    def __str__(self) -> str:
        return self._shown

    def __repr__(self) -> str:
        return f"ServerURL({self._shown!r})"

    def secrets(self) -> list[str]:
        """Every password this URL may connect with, to scrub from any message."""
        found = [*self._passwords, os.environ.get("PGPASSWORD"), _password_from_file()]
        return [s for s in found if s]

    def scrub(self, text: str) -> str:
        """``text`` with every password replaced by ``***``, and the full URL by the shown one."""
        text = text.replace(self._text, self._shown)
        for secret in self.secrets():
            text = text.replace(secret, "***")
        return text

    def sqlalchemy_url(self) -> Any:
        """The SQLAlchemy URL: psycopg 3, with the password file's password where the URL has
        none (else libpq reads PGPASSWORD or PGPASSFILE itself)."""
        from sqlalchemy.engine import make_url

        try:
            url = make_url(self._text)
        except Exception as exc:  # sqlalchemy.exc.ArgumentError: a URL it cannot read
            raise UserError(f"results store URL {self._shown} cannot be read ({type(exc).__name__}"
                            "); write it as postgresql://user@host:port/database") from None
        url = url.set(drivername="postgresql+psycopg")
        if url.password is None and "password" not in url.query:
            password = _password_from_file()
            if password:
                url = url.set(password=password)
        return url


def _password_from_file() -> str | None:
    name = os.environ.get(PASSWORD_FILE_ENV)
    if not name:
        return None
    try:
        lines = Path(name).expanduser().read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"${PASSWORD_FILE_ENV} names {name}, which cannot be read "
                        f"({getattr(exc, 'strerror', None) or type(exc).__name__}); name a "
                        "file that holds the store's password on its first line") from None
    return lines[0].strip() if lines and lines[0].strip() else None


def is_url(text: str) -> bool:
    """A store given as a URL (``scheme://...``), not a path."""
    return "://" in text


def shown_location(text: str) -> str:
    """A store as it may be printed: a URL without its password, a path as it is."""
    return str(ServerURL(text)) if is_url(text) else text


def store_path(option: str | Path | ServerURL | None = None) -> Path | ServerURL:
    """The store to use: the ``--store`` option, else $GREENBENCH_STORE, else the default.
    A path for an SQLite store, a :class:`ServerURL` for a PostgreSQL one; a URL of another
    kind is refused in one line."""
    if isinstance(option, (Path, ServerURL)):
        return option.expanduser() if isinstance(option, Path) else option
    text = option or os.environ.get(STORE_ENV)
    if not text:
        return Path.cwd() / DEFAULT_STORE
    if not is_url(text):
        return Path(text).expanduser()
    scheme = text.split("://", 1)[0].lower()
    if scheme == "sqlite":  # sqlite:///relative or sqlite:////absolute, as SQLAlchemy writes it
        return Path(text.split("://", 1)[1][1:]).expanduser()
    if scheme not in POSTGRES_SCHEMES:
        raise UserError(f"results store URL scheme {scheme!r} is not supported: give a file "
                        "path (SQLite) or postgresql://user@host/database")
    return ServerURL(text)
