"""A valid country that CodeCarbon's tables lack is named as such, with what to use instead."""

from __future__ import annotations

import pytest

from greenbench.carbon.region import parse_region
from greenbench.errors import UserError
from tests.cli_runner import run_cli

pytest.importorskip("codecarbon")
pytest.importorskip("pycountry")


@pytest.mark.parametrize("text", ["MCO", "mco", "Monaco"])
def test_country_without_data_says_the_tables_lack_it(text: str) -> None:
    with pytest.raises(UserError) as info:
        parse_region(text)
    message = str(info.value)
    assert "Monaco (MCO) is a valid country" in message
    assert "CodeCarbon's tables have no carbon intensity for it" in message
    for way_out in ("--region world", "neighbouring country", "--intensity G_PER_KWH"):
        assert way_out in message
    assert "unknown region" not in message and "did you mean" not in message


def test_a_code_that_is_no_country_is_still_unknown() -> None:
    with pytest.raises(UserError, match=r"unknown region; did you mean .*FRA \(France\)"):
        parse_region("FRX")


def test_country_without_data_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "carbon", "intensity", "--region", "LIE")
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert "Liechtenstein (LIE) is a valid country" in result.err
    assert "Traceback" not in result.err
