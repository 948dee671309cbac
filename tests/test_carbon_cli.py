"""``greenbench carbon``: intensity output, one-line errors, and nothing heavy at --help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from greenbench.carbon.options import carbon_options, resolve_carbon
from greenbench.commands.carbon import carbon
from tests.carbon_http import isolate


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


def test_intensity_json_has_the_promised_fields() -> None:
    result = CliRunner().invoke(carbon, ["intensity", "--region", "FRA", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    from codecarbon.input import DataSource

    expected = DataSource().get_global_energy_mix_data()["FRA"]["carbon_intensity"]
    assert doc["value_g_per_kwh"] == expected
    assert (doc["provider"], doc["region"], doc["year"], doc["estimate"]) == (
        "codecarbon", "FRA", 2023, True)
    assert doc["unit"] == "gCO2e/kWh"
    assert [a["provider"] for a in doc["chain"]] == ["electricitymaps", "codecarbon"]


def test_intensity_table_shows_the_chain() -> None:
    result = CliRunner().invoke(carbon, ["intensity", "--region", "US-CA"])
    assert result.exit_code == 0, result.output
    for words in ("Carbon intensity", "USA/CA", "eGRID", "Provider chain", "skipped"):
        assert words in result.output


def test_default_region_is_the_world_average_said_out_loud() -> None:
    result = CliRunner().invoke(carbon, ["intensity"])
    assert result.exit_code == 0
    assert "Using the world average" in result.stderr
    assert "Using the world average" not in result.stdout  # a warning, not a result
    assert "Carbon intensity" in result.stdout


def test_help_documents_the_region_scheme() -> None:
    result = CliRunner().invoke(carbon, ["intensity", "--help"])
    for form in ("USA/CA, US-CA", "gcp:europe-west1", "watttime:REGION", "GREENBENCH_REGION"):
        assert form in result.output


@pytest.mark.parametrize(("args", "words"), [
    (["intensity", "--region", "Frnace"], "did you mean FRA (France)?"),
    (["intensity", "--provider", "electricitymaps", "--region", "DEU"],
     "ELECTRICITYMAPS_API_KEY"),
    (["intensity", "--provider", "nope"], "unknown; use one of"),
])
def test_errors_are_one_line_with_a_nonzero_exit(capsys: pytest.CaptureFixture[str],
                                                 args: list[str], words: str) -> None:
    from greenbench.cli import main

    with pytest.raises(SystemExit) as info:
        main(["carbon", *args])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.startswith("greenbench: error: ") and words in err
    assert err.count("\n") == 1


def test_carbon_options_feed_resolve_carbon(tmp_path: Path) -> None:
    seen = {}

    @click.command()
    @carbon_options
    def fake_run(**options: object) -> None:
        seen.update(options)
        setup = resolve_carbon(**options)  # type: ignore[arg-type]
        seen["setup"] = setup

    result = CliRunner().invoke(fake_run, ["--region", "SE-SE3", "--pue", "1.4"])
    assert result.exit_code == 0, result.output
    assert set(seen) == {"region", "intensity", "intensity_file", "provider", "pue", "setup"}
    assert seen["setup"].pue == 1.4  # type: ignore[attr-defined]
    bad = CliRunner().invoke(fake_run, ["--pue", "0.8"])
    assert "at least 1.0" in str(bad.exception)


@pytest.mark.parametrize("argv", [["--help"], ["carbon", "--help"],
                                  ["carbon", "intensity", "--help"]])
def test_help_does_not_import_codecarbon(argv: list[str]) -> None:
    code = ("import sys\nfrom greenbench.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            "print('codecarbon' in sys.modules, 'pandas' in sys.modules, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stderr.split() == ["False", "False"]
