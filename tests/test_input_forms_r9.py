"""Bad inputs of the ninth hunt that the corpus (tests/bad_inputs/) cannot make, because they
need the real data folder: ``validate --start/--end`` leaving no validation origin (the error
named the returns, not the option), ``data fx --year`` outside the years of the exchange-rate
export (the error named the file), ``data summary --market`` of no series (named 'market')."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_bad_inputs import invoke

from riskmodel import config


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(config.ENV_DATA, str(data_dir))
    monkeypatch.delenv("RISKMODEL_DEBUG", raising=False)
    return tmp_path


def _refused(args: list[str], line: str, work: Path,
             capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = invoke(args, capsys)
    assert "Traceback" not in out + err
    assert (code, err) == (2, line + "\n")
    assert list(work.iterdir()) == []


# ------------------------------------------------------------------ validate: no origin
def test_validate_start_after_the_last_origin(work: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    _refused(["validate", "eu_ets", "--start", "2022-12-15", "--out", "v"],
             "error: riskmodel validate: --start: no quarter start from 2022-12-15 to --end "
             "2022-12-31 has 250 of eu_ets's returns before it and data after it; give an "
             "earlier --start (the default is 2016-01-01)", work, capsys)


def test_validate_end_before_the_data(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _refused(["validate", "eu_ets", "--start", "2000-01-01", "--end", "2005-01-01", "--out", "v"],
             "error: riskmodel validate: --end: eu_ets has none of its returns up to "
             "2005-01-01 (they start 2007-01-03), and a validation origin needs 250 returns "
             "before it; give a later --end", work, capsys)


def test_validate_all_checks_every_market_before_writing(
        work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--all: a market without an origin is refused before any market's files are written."""
    code, _, err = invoke(["validate", "--all", "--start", "2022-12-15", "--out", "v"], capsys)
    assert code == 2
    assert err.startswith("error: riskmodel validate: --start: no quarter start from 2022-12-15")
    assert err.count("\n") == 1
    assert not (work / "v").exists()


# ------------------------------------------------------------------ data fx: a year not covered
@pytest.mark.parametrize("year", ["2099", "2012"])
def test_data_fx_year_outside_the_export(year: str, work: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    _refused(["data", "fx", "--year", year],
             f"error: riskmodel data fx: --year: icap_raw/Secondary.csv has rates of all of "
             f"USD, KRW, CNY, NZD, GBP in 2021-2022 only (not in {year}); give a year from "
             "2021-2022", work, capsys)


def test_data_fx_year_inside_the_export(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = invoke(["data", "fx", "--year", "2021"], capsys)
    assert (code, err) == (0, "")
    assert "mean of 12 monthly rates in 2021" in out


# ------------------------------------------------------------------ data summary --market
def test_data_summary_unknown_market_names_the_option(work: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    _refused(["data", "summary", "--market", "atlantis"],
             "error: riskmodel data summary: --market: no price series for market 'atlantis'",
             work, capsys)
