"""Output files: written whole or not at all, and never over a results store.

Every file greenbench writes for the user (exports, ``--json`` documents, reports, figures)
goes through :func:`write_atomically`: the bytes go to a temporary file beside the target,
are flushed to disk, and replace the target in one rename. A full disk or an interrupt leaves
the previous file as it was, never a truncated one.

:func:`refuse_store` keeps an output path off a results store and its ``-wal``/``-shm`` files
(or any other SQLite database): writing JSON there would destroy every run in it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from greenbench.errors import UserError

_SQLITE_MAGIC = b"SQLite format 3\x00"
_STORE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def refuse_store(path: str | Path, option: str, store: str | Path | None = None) -> None:
    """A UserError when ``path`` is the results store (``store``, else the default one), one
    of its companion files, or any SQLite database."""
    from greenbench.store import store_path

    target = Path(os.path.realpath(path))
    chosen = store_path(store)  # a server's store (a URL) has no files here
    base = Path(os.path.realpath(chosen)) if isinstance(chosen, Path) else None
    companions = {Path(f"{base}{suffix}") for suffix in _STORE_SUFFIXES} if base else set()
    if target in companions or _is_database(target):
        raise _store_error(f"{option} {path}")


def _is_database(target: Path) -> bool:
    """An SQLite database, or the -wal/-shm/-journal file of one."""
    return _is_sqlite(target) or any(
        target.name.endswith(s) and _is_sqlite(target.with_name(target.name[:-len(s)]))
        for s in _STORE_SUFFIXES[1:])


def _store_error(what: str) -> UserError:
    return UserError(f"{what}: that is a results store (or one of its files); writing there "
                     "would destroy its runs: choose another path")


def write_atomically(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` (str as UTF-8) to ``path`` whole, or leave ``path`` as it was."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    return write_with(path, lambda f: f.write(payload))


def write_with(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then rename it over ``path``.

    A target that exists and is not a regular file (``/dev/stdout``, a FIFO) is written in
    place: renaming over it would replace the device. A symbolic link is followed, so the
    file it points to is the one replaced. An SQLite database (a results store or one of its
    files) is refused. Failures raise UserError with the path.
    """
    p = Path(path)
    real = Path(os.path.realpath(p))
    if _is_database(real):
        raise _store_error(f"cannot write {p}")
    try:
        if real.exists() and not real.is_file():
            with real.open("wb") as f:
                write(f)
            return p
        with _temporary_beside(real) as (f, tmp):
            write(f)
            f.flush()
            os.fsync(f.fileno())
            f.close()
            os.chmod(tmp, _mode_for(real))
            os.replace(tmp, real)
    except OSError as exc:
        raise UserError(f"cannot write {p}: {exc.strerror or exc}; the previous file, if any, "
                        "is unchanged; choose another path or free the disk") from None
    return p


@contextlib.contextmanager
def _temporary_beside(target: Path) -> Iterator[tuple[BinaryIO, str]]:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    f = os.fdopen(fd, "wb")
    try:
        yield f, tmp
    except BaseException:
        f.close()
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _mode_for(target: Path) -> int:
    """The target's own permissions when it exists, else what a plain open would give."""
    if target.exists():
        return target.stat().st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _is_sqlite(path: Path) -> bool:
    if not path.is_file():  # never open a FIFO or a device just to look at it
        return False
    try:
        with path.open("rb") as f:
            return f.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
    except OSError:
        return False
