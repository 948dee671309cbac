"""Numbers given to options are finite and in range, checked before anything is measured:
one line naming the option, a non-zero exit, no traceback, nothing stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenbench.gate import RuleError, parse_rule
from tests.cli_runner import run_cli
from tests.test_runner import FILE

HUGE = "99999999999999999999999"


@pytest.mark.parametrize("args, option", [
    (("measure", "--idle", "inf", "--", "true"), "--idle"),
    (("measure", "--idle", "nan", "--", "true"), "--idle"),
    (("measure", "--cpu-tdp", "nan", "--", "true"), "--cpu-tdp"),
    (("measure", "--intensity", "nan", "--", "true"), "--intensity"),
    (("measure", "--pue", "inf", "--", "true"), "--pue"),
    (("run", "slow", "--timeout", "nan"), "--timeout"),
    (("run", "slow", "--timeout", "inf"), "--timeout"),
    (("run", "slow", "--timeout", "0"), "--timeout"),
    (("run", "slow", "--warmup", "nan"), "--warmup"),
    (("run", "slow", "--min-duration", "-inf"), "--min-duration"),
    (("run", "slow", "--idle", "inf"), "--idle"),
    (("run", "slow", "--idle", "soon"), "neither a number of seconds nor auto"),
    (("run", "slow", "--repeats", HUGE), "--repeats"),
    (("run", "slow", "-p", "sleep_s=nan"), "sleep_s"),
    (("run", "slow", "-p", "sleep_s=0.01,inf"), "sleep_s"),
    (("results", "list", "--limit", HUGE), "--limit"),
    (("carbon", "window", "--duration", "nan", "--forecast", "F"), "--duration"),
    (("carbon", "window", "--duration", "inf", "--forecast", "F"), "--duration"),
    (("carbon", "window", "--duration", "1h", "--within", "nan", "--forecast", "F"), "--within"),
    (("carbon", "window", "--duration", "1h", "--energy-kwh", "inf", "--forecast", "F"),
     "--energy-kwh"),
])
def test_a_non_finite_or_out_of_range_number_is_refused_at_its_option(
        args: tuple[str, ...], option: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    forecast = tmp_path / "f.csv"
    forecast.write_text("timestamp,g\n2024-05-01T00:00Z,100\n2024-05-01T01:00Z,200\n"
                        "2024-05-01T02:00Z,150\n")
    args = tuple(str(forecast) if a == "F" else a for a in args)
    store = tmp_path / "s.sqlite"
    extra: tuple[str, ...] = ()
    if args[0] == "run":
        extra = ("--workload-file", FILE, "--store", str(store))
    elif args[0] == "results":
        extra = ("--store", str(store))
    r = run_cli(capsys, *args[:2], *extra, *args[2:]) if args[0] != "measure" else \
        run_cli(capsys, *args)
    assert r.code not in (0, None), r.err
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert option in lines[0] and "Traceback" not in r.err
    assert not store.exists() or args[0] == "results"


def test_a_gate_threshold_that_overflows_to_infinity_is_refused() -> None:
    with pytest.raises(RuleError, match="finite"):
        parse_rule("energy:1e400%")
    with pytest.raises(RuleError, match="finite"):
        parse_rule("time:1e999 ms")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_json_write_that_fails_after_measuring_says_where_the_run_is(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "s.sqlite"
    r = run_cli(capsys, "run", "slow", "--workload-file", FILE, "--store", str(store),
                "--repeats", "2", "--min-duration", "0.1", "--warmup", "0.1", "--idle", "0.1",
                "-o", "/dev/full")
    assert r.code != 0 and "Traceback" not in r.err
    last = r.err.strip().splitlines()[-1]
    assert "/dev/full" in last and "greenbench results export" in last
    from greenbench.store import Store

    stored = Store(store).get_run("latest")
    assert stored.id in last and [c.status for c in stored.cases] == ["ok"]


def test_an_error_whose_cause_spans_lines_is_still_one_line(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's and the OS's messages can hold newlines; the error stays one line."""
    from greenbench.errors import UserError
    from greenbench.sensors import registry

    def broken(*_args: object, **_kwargs: object) -> None:
        raise UserError("results store s.sqlite is damaged (database disk image is\n"
                        "malformed\n); move it aside")

    monkeypatch.setattr(registry, "probe_all", broken)
    result = run_cli(capsys, "sensors")
    assert result.code == 2
    assert result.err.splitlines() == ["greenbench: error: results store s.sqlite is damaged "
                                       "(database disk image is; malformed; ); move it aside"]
