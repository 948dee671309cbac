"""What pyproject.toml installs: every package of the source tree, and the files they read."""

from __future__ import annotations

import sys
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # the dev extra installs tomli on 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def setuptools_config() -> dict[str, Any]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        config: dict[str, Any] = tomllib.load(f)["tool"]["setuptools"]
    return config


def source_packages() -> dict[str, Path]:
    """Every package in the tree, by the name it installs as, with its folder."""
    config = setuptools_config()
    roots = {"greenbench": ROOT / "greenbench",
             **{name: ROOT / folder for name, folder in config["package-dir"].items()}}
    found = {}
    for name, folder in roots.items():
        for init in sorted(folder.rglob("__init__.py")):
            parts = init.parent.relative_to(folder).parts
            if "__pycache__" not in parts:
                found[".".join((name, *parts))] = init.parent
    return found


def test_every_package_of_the_source_tree_is_installed() -> None:
    listed = set(setuptools_config()["packages"])
    packages = set(source_packages())
    assert packages - listed == set(), "add these to [tool.setuptools] packages"
    assert listed - packages == set(), "these listed packages do not exist"


def test_every_data_file_in_a_package_is_installed() -> None:
    package_data = setuptools_config().get("package-data", {})
    missing = []
    for name, folder in source_packages().items():
        for path in folder.rglob("*"):
            if not path.is_file() or path.suffix in (".py", ".pyc"):
                continue
            if "__pycache__" in path.parts or any(
                    (folder / p / "__init__.py").exists()
                    for p in path.relative_to(folder).parents if str(p) != "."):
                continue  # belongs to a subpackage, checked with it
            relative = path.relative_to(folder).as_posix()
            if not any(fnmatch(relative, pattern) for pattern in package_data.get(name, ())):
                missing.append(f"{name}: {relative}")
    assert missing == [], "add these to [tool.setuptools.package-data]"


def readme_commands() -> list[str]:
    """The README's set-up commands, after the venv and its activation."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    prefix = "python3 -m venv .venv && . .venv/bin/activate && "
    return [line.removeprefix(prefix) for line in setup.splitlines() if line.startswith(prefix)]


def test_ci_runs_the_readmes_test_command() -> None:
    run_main, run_tests = readme_commands()
    assert run_main.endswith("&& greenbench run")
    assert run_tests.endswith("&& python -m pytest -q -n auto")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert run_tests in ci


def test_the_readmes_commands_name_extras_that_exist() -> None:
    with open(ROOT / "pyproject.toml", "rb") as f:
        extras = set(tomllib.load(f)["project"]["optional-dependencies"])
    for command in readme_commands():
        named = command.split("-e '.[", 1)[1].split("]'", 1)[0].split(",")
        assert set(named) <= extras, command
