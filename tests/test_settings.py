"""Settings: [tool.greenbench] in the nearest pyproject.toml and the user's config.toml, under
the options and the GREENBENCH_* variables; `greenbench config` says where each came from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from greenbench.settings import SettingsError, project_file, resolve, user_file
from tests.cli_runner import run_cli


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A project with a sub-folder to work in, and a user config folder, with no
    GREENBENCH_* settings inherited from the environment."""
    project, config = tmp_path / "project", tmp_path / "xdg"
    (project / "src" / "deep").mkdir(parents=True)
    (config / "greenbench").mkdir(parents=True)
    for name in ("GREENBENCH_STORE", "GREENBENCH_REGION", "GREENBENCH_CPU_TDP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.chdir(project / "src" / "deep")
    return {"project": project / "pyproject.toml",
            "user": config / "greenbench" / "config.toml"}


def _project(places: dict[str, Path], body: str) -> None:
    places["project"].write_text(f"[project]\nname = 'demo'\n\n[tool.greenbench]\n{body}")


def _by_key(**options: object) -> dict[str, tuple[object, str]]:
    return {v.setting.key: (v.value, v.source) for v in resolve(options)}


def test_every_layer_in_order_option_env_project_user_default(
        places: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    places["user"].write_text('region = "DEU"\npue = 1.1\ncpu-tdp = 45\n')
    _project(places, 'region = "FRA"\npue = 1.2\n')
    monkeypatch.setenv("GREENBENCH_REGION", "SWE")
    found = _by_key(region="NOR")
    assert found["region"] == ("NOR", "option")
    found = _by_key()
    assert found["region"] == ("SWE", "$GREENBENCH_REGION")
    assert found["pue"] == (1.2, str(places["project"]))
    assert found["cpu-tdp"] == (45.0, str(places["user"]))
    places["user"].unlink()
    assert _by_key()["cpu-tdp"] == (None, "default")


def test_the_nearest_pyproject_is_the_project_and_one_without_the_table_sets_nothing(
        places: dict[str, Path]) -> None:
    _project(places, 'region = "FRA"\n')
    assert project_file() == places["project"]
    assert _by_key()["region"] == ("FRA", str(places["project"]))
    nearer = places["project"].parent / "src" / "pyproject.toml"
    nearer.write_text("[project]\nname = 'inner'\n")
    assert project_file() == nearer
    assert _by_key()["region"] == (None, "default")


def test_a_relative_store_is_relative_to_the_file_that_names_it(
        places: dict[str, Path]) -> None:
    _project(places, 'store = "results/team.sqlite"\n')
    assert _by_key()["store"][0] == str(places["project"].parent / "results" / "team.sqlite")
    assert _by_key()["store"][1] == str(places["project"])


def test_the_user_file_follows_xdg_config_home_else_dot_config(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert user_file({"XDG_CONFIG_HOME": str(tmp_path)}) == \
        tmp_path / "greenbench" / "config.toml"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert user_file({}) == tmp_path / ".config" / "greenbench" / "config.toml"


@pytest.mark.parametrize(("body", "expected"), [
    ('regoin = "FRA"\n', r"\[tool\.greenbench\]: unknown key 'regoin' \(did you mean region\?\)"),
    ('cpu_tdp = 65\n', r"unknown key 'cpu_tdp' \(did you mean cpu-tdp\?\)"),
    ('cpu-tdp = "65"\n', r"\[tool\.greenbench\]: cpu-tdp: expected a number, got '65'"),
    ('cpu-tdp = 0\n', r"cpu-tdp: expected the TDP of all CPU sockets together in watts"),
    ("pue = 0.5\n", r"\[tool\.greenbench\]: pue 0\.5: a PUE is at least 1\.0"),
    ("store = 3\n", r"store: expected a non-empty string, got 3"),
    ("region = true\n", r"region: expected a non-empty string, got True"),
])
def test_a_wrong_key_or_type_names_the_file_the_key_and_what_is_expected(
        places: dict[str, Path], body: str, expected: str) -> None:
    _project(places, body)
    with pytest.raises(SettingsError, match=expected) as info:
        resolve()
    assert str(info.value).startswith(str(places["project"]))


def test_a_file_that_is_not_toml_is_named(places: dict[str, Path]) -> None:
    places["user"].write_text("region = \n")
    with pytest.raises(SettingsError, match=r"config\.toml: not valid TOML"):
        resolve()


def test_a_bad_setting_is_one_line_and_exit_2_on_the_command_line(
        places: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _project(places, 'pue = "high"\n')
    for args in (["config"], ["carbon", "intensity"]):
        result = run_cli(capsys, *args)
        assert result.code == 2
        lines = result.err.strip().splitlines()
        assert len(lines) == 1, result.err
        assert lines[0] == (f"greenbench: error: {places['project']} [tool.greenbench]: pue: "
                            "expected a number, got 'high'")


def test_greenbench_config_shows_each_value_and_where_it_came_from(
        places: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _project(places, 'region = "FRA"\n')
    places["user"].write_text("pue = 1.4\n")
    monkeypatch.setenv("GREENBENCH_CPU_TDP", "65")
    result = run_cli(capsys, "config", "--json", "--store", "mine.sqlite")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    got = {s["key"]: (s["value"], s["source"]) for s in doc["settings"]}
    assert got == {"store": ("mine.sqlite", "option"), "region": ("FRA", str(places["project"])),
                   "cpu-tdp": ("65", "$GREENBENCH_CPU_TDP"), "pue": (1.4, str(places["user"]))}
    assert doc["files"] == {"project": str(places["project"]), "user": str(places["user"]),
                            "user_exists": True}
    monkeypatch.setenv("COLUMNS", "80")
    narrow = run_cli(capsys, "config")
    assert narrow.code == 0 and narrow.err == ""
    table_lines = narrow.out.split("project file:")[0].splitlines()
    assert max(len(line) for line in table_lines) <= 80
    assert f"project file: {places['project']} [tool.greenbench]" in narrow.out
    assert f"user file:    {places['user']}\n" in narrow.out
    monkeypatch.setenv("COLUMNS", "250")
    table = run_cli(capsys, "config")
    rows = {line.split()[0]: line for line in table.out.splitlines() if line.strip()}
    assert rows["region"].split() == ["region", "FRA", "project", "file"]
    assert rows["pue"].split() == ["pue", "1.4", "user", "file"]
    assert rows["cpu-tdp"].split() == ["cpu-tdp", "65", "$GREENBENCH_CPU_TDP"]
    assert rows["store"].split()[1:] == [str(Path.cwd() / "results" / "greenbench.sqlite"),
                                         "default"]


def test_a_command_takes_the_files_value_under_the_environment_and_the_option(
        places: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _project(places, 'region = "FRA"\n')

    def asked() -> tuple[str, str]:
        result = run_cli(capsys, "carbon", "intensity", "--provider", "codecarbon", "--json",
                         *extra)
        assert result.code == 0, result.err
        doc = json.loads(result.out)
        return doc["region_requested"], doc["region_origin"]

    extra: tuple[str, ...] = ()
    assert asked() == ("FRA", f"{places['project']} [tool.greenbench] region")
    monkeypatch.setenv("GREENBENCH_REGION", "DEU")
    assert asked() == ("DEU", "$GREENBENCH_REGION")
    extra = ("--region", "SWE")
    assert asked() == ("SWE", "--region")


def test_an_unknown_region_in_the_file_is_reported_as_the_files(
        places: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _project(places, 'region = "Frnace"\n')
    result = run_cli(capsys, "carbon", "intensity", "--provider", "codecarbon")
    assert result.code == 2
    assert result.err.startswith(f"greenbench: error: {places['project']} [tool.greenbench] "
                                 "region Frnace: unknown region")


def test_the_store_in_the_project_file_is_the_one_results_reads(
        places: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from greenbench.store import Store

    _project(places, 'store = "team/results.sqlite"\n')
    wanted = places["project"].parent / "team" / "results.sqlite"
    wanted.parent.mkdir()
    with Store(wanted):
        pass
    result = run_cli(capsys, "results", "list", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out) == []
    wanted.unlink()
    missing = run_cli(capsys, "results", "list")
    assert missing.code != 0 and str(wanted) in missing.err


def test_a_cpu_tdp_from_a_settings_file_is_named_as_such(
        places: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _project(places, "cpu-tdp = 30\n")
    from_file = run_cli(capsys, "sensors", "--json")
    assert from_file.code == 0, from_file.err
    assert "30 W TDP from " + str(places["project"]) in from_file.out
    typed = run_cli(capsys, "sensors", "--json", "--cpu-tdp", "40")
    assert "40 W TDP from --cpu-tdp" in typed.out
