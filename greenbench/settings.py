"""Settings from files: ``[tool.greenbench]`` in the project's pyproject.toml, and the user's
``config.toml``, under the command line and the ``GREENBENCH_*`` environment variables.

Precedence, highest first: the option on the command line; the environment variable; the
project file (the nearest ``pyproject.toml`` from the current directory up, its
``[tool.greenbench]`` table); the user file (``$XDG_CONFIG_HOME/greenbench/config.toml``,
default ``~/.config/greenbench/config.toml``, keys at its top level); the built-in default.

Keys are the options' names without the dashes (``cpu-tdp = 65``). A relative path in a file
is relative to that file's folder. An unknown key, a value of the wrong type or out of range,
or a file that is not TOML is a one-line :class:`SettingsError` (exit 2) naming the file, the
key and what is expected.

Commands take the files' values as their options' defaults (:func:`option_default`), and only
where the environment variable is unset, so the library code that reads the environment keeps
its precedence; :func:`given_as` says where a value that arrived as an option came from.
"""

from __future__ import annotations

import difflib
import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from greenbench.errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PROJECT_FILE = "pyproject.toml"
TABLE = "[tool.greenbench]"
USER_FILE = Path("greenbench") / "config.toml"

OPTION = "option"
DEFAULT = "default"


class SettingsError(UserError):
    """A settings file or variable that cannot be used; the message names where and why."""


@dataclass(frozen=True)
class Setting:
    """One setting: its key in the files, its option, its variable, and its default."""

    key: str
    option: str
    env: str | None
    kind: str  # "path", "text" or "number"
    default: Any
    default_text: str
    help: str

    @property
    def param(self) -> str:
        """The click parameter the option fills."""
        return "store_path" if self.key == "store" else self.key.replace("-", "_")


SETTINGS: tuple[Setting, ...] = (
    Setting("store", "--store", "GREENBENCH_STORE", "path", None,
            "results/greenbench.sqlite under the current directory", "the results store"),
    Setting("region", "--region", "GREENBENCH_REGION", "text", None, "world (the world average)",
            "where the electricity comes from (see greenbench run --help)"),
    Setting("cpu-tdp", "--cpu-tdp", "GREENBENCH_CPU_TDP", "number", None,
            "auto: CodeCarbon's table by CPU model, else 4 W per thread",
            "CPU TDP in watts for the CPU power estimate"),
    Setting("pue", "--pue", None, "number", 1.0, "1.0", "power usage effectiveness"),
)
BY_KEY = {s.key: s for s in SETTINGS}


@dataclass(frozen=True)
class Value:
    """A setting's value and where it came from: ``option``, ``$VAR``, a file, ``default``."""

    setting: Setting
    value: Any
    source: str

    @property
    def from_file(self) -> bool:
        return self.source not in (OPTION, DEFAULT) and not self.source.startswith("$")

    def to_dict(self) -> dict[str, Any]:
        s = self.setting
        return {"key": s.key, "value": self.value, "source": self.source, "option": s.option,
                "env": s.env, "default": s.default_text}


def project_file(start: Path | None = None) -> Path | None:
    """The nearest pyproject.toml from ``start`` (the current directory) up, or None."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / PROJECT_FILE
        if candidate.is_file():
            return candidate
    return None


def user_file(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/greenbench/config.toml``, default ``~/.config/...``."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME", "").strip()
    return (Path(base).expanduser() if base else Path.home() / ".config") / USER_FILE


def resolve(options: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None,
            cwd: Path | None = None) -> list[Value]:
    """Every setting's value and source. ``options`` maps keys to the command line's values
    (None: not given)."""
    env = os.environ if env is None else env
    options = options or {}
    project = project_file(cwd)
    layers = [_read(project, project=True) if project else {},
              _read(user_file(env), project=False)]
    found = []
    for s in SETTINGS:
        if options.get(s.key) is not None:
            found.append(Value(s, options[s.key], OPTION))
            continue
        raw = env.get(s.env, "").strip() if s.env else ""
        if raw:
            found.append(Value(s, _from_env(s, raw), f"${s.env}"))
            continue
        for layer in layers:
            if s.key in layer:
                found.append(layer[s.key])
                break
        else:
            found.append(Value(s, _default(s, cwd), DEFAULT))
    return found


def file_value(key: str, env: Mapping[str, str] | None = None,
               cwd: Path | None = None) -> Value | None:
    """The setting from a file, when neither its variable nor an option overrides it."""
    value = next(v for v in resolve(env=env, cwd=cwd) if v.setting.key == key)
    return value if value.from_file else None


def option_default(key: str) -> Callable[[], Any]:
    """A click ``default`` that takes the option's value from the files (checked), else the
    built-in default; None while the environment variable is set (the library reads it)."""
    setting = BY_KEY[key]

    def default() -> Any:
        value = file_value(key)
        return setting.default if value is None else value.value

    return default


def given_as(key: str) -> str:
    """Where the value of the current command's option came from: the option's name when it
    was typed, else the file it was read from."""
    import click
    from click.core import ParameterSource

    setting = BY_KEY[key]
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.get_parameter_source(setting.param) == ParameterSource.DEFAULT:
        value = file_value(key)
        if value is not None:
            table = f" {TABLE}" if Path(value.source).name == PROJECT_FILE else ""
            return f"{value.source}{table} {key}"
    return setting.option


def _read(path: Path, *, project: bool) -> dict[str, Value]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    table: Any = data.get("tool", {}).get("greenbench", {}) if project else data
    where = f"{path} {TABLE}" if project else str(path)
    if not isinstance(table, dict):
        raise SettingsError(f"{where}: expected a table of settings")
    values = {}
    for key, raw in table.items():
        setting = BY_KEY.get(key)
        if setting is None:
            close = difflib.get_close_matches(key.replace("_", "-"), list(BY_KEY), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise SettingsError(f"{where}: unknown key {key!r}{hint}; known: "
                                f"{', '.join(BY_KEY)}")
        values[key] = Value(setting, _checked(setting, raw, f"{where}: {key}", path.parent),
                            str(path))
    return values


def _default(setting: Setting, cwd: Path | None) -> Any:
    """The built-in default; for the store, the path it stands for here."""
    if setting.key == "store":
        from greenbench.store import DEFAULT_STORE

        return str((cwd or Path.cwd()) / DEFAULT_STORE)
    return setting.default


def _from_env(setting: Setting, raw: str) -> Any:
    if setting.kind == "path" and "://" not in raw:  # a URL (a server's store) as it is
        return str(Path(raw).expanduser())
    return raw


def _checked(setting: Setting, raw: Any, what: str, folder: Path) -> Any:
    if setting.kind in ("path", "text"):
        if not isinstance(raw, str) or not raw.strip():
            raise SettingsError(f"{what}: expected a non-empty string, got {raw!r}")
        if setting.kind == "path" and "://" in raw:  # a store on a server: a URL
            return raw
        if setting.kind == "path":
            path = Path(raw).expanduser()
            return str(path if path.is_absolute() else folder / path)
        return raw.strip()
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise SettingsError(f"{what}: expected a number, got {raw!r}")
    if setting.key == "cpu-tdp":
        from greenbench.sensors.estimate import MAX_CPU_TDP_W

        if not 0 < raw <= MAX_CPU_TDP_W:
            raise SettingsError(f"{what}: expected the TDP of all CPU sockets together in "
                                f"watts, more than 0 and at most {MAX_CPU_TDP_W:g}; got {raw!r}")
    if setting.key == "pue":
        from greenbench.carbon.footprint import check_pue

        try:
            check_pue(float(raw), what)
        except UserError as exc:
            raise SettingsError(str(exc)) from None
    return float(raw)
