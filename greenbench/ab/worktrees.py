"""Each revision in its own git worktree, so that both can be imported at once.

``git worktree add --detach`` checks a commit out into a folder of its own, sharing the
repository's objects (no clone, no network). The gate imports each revision from its folder
(first on ``PYTHONPATH``, and the folder's ``src/`` before it where there is one), so an
installed copy of the same package is not what runs.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from greenbench.errors import UserError


@dataclass(frozen=True)
class Revision:
    """A revision as the user named it, the commit it resolves to, and its checkout."""

    name: str
    commit: str
    path: Path

    @property
    def short(self) -> str:
        return self.commit[:12]

    def import_paths(self) -> list[Path]:
        """Folders to put first on PYTHONPATH: ``src/`` (a src layout) and the checkout."""
        src = self.path / "src"
        return [src, self.path] if src.is_dir() else [self.path]


def repository_root(path: Path) -> Path:
    """The top folder of the git work tree holding ``path``; UserError when there is none."""
    out = _git(path, "rev-parse", "--show-toplevel")
    if out.returncode != 0:
        raise UserError(f"{path} is not in a git repository: run greenbench gate from your "
                        "project's checkout (or pass --repo PATH)")
    return Path(out.stdout.strip())


def resolve(repo: Path, rev: str) -> str:
    """The full commit id ``rev`` names; UserError naming the revision when it names none."""
    out = _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if out.returncode != 0 or not out.stdout.strip():
        raise UserError(f"unknown revision {rev!r} in {repo}: give a commit, branch or tag "
                        "(git log --oneline shows them; fetch the branch first in a shallow "
                        "clone)")
    return out.stdout.strip()


@contextmanager
def checked_out(
    repo: Path, revisions: dict[str, str], folder: Path,
) -> Iterator[dict[str, Revision]]:
    """Worktrees of ``revisions`` (label -> rev) under ``folder``, removed afterwards.

    Every revision is resolved before anything is checked out, so a typo costs nothing.
    """
    commits = {label: resolve(repo, rev) for label, rev in revisions.items()}
    made: list[Path] = []
    try:
        out: dict[str, Revision] = {}
        for label, commit in commits.items():
            path = folder / label
            result = _git(repo, "worktree", "add", "--detach", "--quiet", str(path), commit)
            if result.returncode != 0:
                raise UserError(f"could not check out {revisions[label]} in {path}: "
                                f"{_last_line(result.stderr)}")
            made.append(path)
            out[label] = Revision(revisions[label], commit, path)
        yield out
    finally:
        for path in made:
            _git(repo, "worktree", "remove", "--force", str(path))
        _git(repo, "worktree", "prune")


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              timeout=120, check=False)
    except FileNotFoundError:
        raise UserError("git is not installed (or not on PATH); greenbench gate needs it") \
            from None
    except NotADirectoryError:
        raise UserError(f"{cwd} is not a folder") from None


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "git gave no reason"
