"""Run output a user can read (issue 10, item 6): units, terminal width, the horizon's years,
rounding noise as 0, the chunk line, and ``runs compare`` refusing mismatched runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from riskmodel.batch.runner import chunk_line, horizon_label
from riskmodel.batch.runs import compare_runs
from riskmodel.cli import app
from riskmodel.errors import InputError
from riskmodel.sim.summary import denoise, fmt, period_label, unit


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three small runs of shipped scenarios: China-Korea (20 and 30 paths), one-way (20)."""
    out = tmp_path_factory.mktemp("runs")
    cli = CliRunner()
    for name, scen, paths in (
        ("ck", "china_korea", 20),
        ("ck30", "china_korea", 30),
        ("oneway", "china_korea_one_way", 20),
    ):
        r = cli.invoke(
            app,
            ["run", scen, "--paths", str(paths), "--out", str(out), "--run-id", name, "-q"],
        )
        assert r.exit_code == 0, r.output
    return out


def test_every_statistic_has_a_unit_and_the_horizon_its_years(runs: Path) -> None:
    res = pd.read_parquet(runs / "ck" / "results.parquet")
    assert (res["unit"] != "").all(), sorted(set(res.loc[res["unit"] == "", "statistic"]))
    price = res[(res.statistic == "price_mean")].drop_duplicates("market")
    assert dict(zip(price.market, price.unit, strict=True)) == {
        "china_ets": "CNY/t",
        "k_ets": "KRW/t",
    }
    assert set(res.loc[res.statistic == "flow_mean", "unit"]) == {"Mt"}
    assert set(res.loc[res.statistic == "gain_mean", "unit"]) == {"M EUR"}
    assert set(res.loc[res.year == -1, "period"]) == {"2024–2026"}
    assert set(res.loc[res.year == 2025, "period"]) == {"2025"}


def test_run_and_show_fit_80_columns(runs: Path) -> None:
    r = CliRunner().invoke(app, ["runs", "--out", str(runs), "show", "ck"], env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert max(len(x) for x in lines) <= 80, max(lines, key=len)
    text = r.output
    for label in ("CNY/t", "KRW/t", "2024–2026", "Mt CO2e", "M EUR", "annualised"):
        assert label in text
    assert "e-1" not in text  # no rounding noise such as -7.3e-14
    assert "1 chunk of 20 paths" in text and "of 500" not in text
    assert "sweep point 1: markets[china_ets].cap.degree=1" in text
    wide = CliRunner().invoke(
        app, ["runs", "--out", str(runs), "show", "ck"], env={"COLUMNS": "160"}
    )
    assert max(len(x) for x in wide.output.splitlines()) <= 160


def test_rounding_noise_prints_as_zero() -> None:
    col = np.array([63.12, -63.12, -7.26e-14, np.nan, 1e-3])
    out = denoise(col)
    assert out[2] == 0.0 and out[4] == 1e-3 and out[0] == 63.12 and np.isnan(out[3])
    assert fmt(out[2]) == "0" and fmt(-0.0) == "0" and fmt(21167.4) == "21,167"
    # a column of genuinely small numbers keeps them (noise is relative to the column)
    assert (denoise(np.array([2e-6, 3e-6])) == np.array([2e-6, 3e-6])).all()


def test_chunk_and_horizon_lines() -> None:
    assert chunk_line({"paths": 200, "paths_per_chunk": 500, "n_chunks": 1}) == (
        "1 chunk of 200 paths"
    )
    assert chunk_line({"paths": 2000, "paths_per_chunk": 500, "n_chunks": 4}) == (
        "4 chunks of 500 paths"
    )
    assert chunk_line({"paths": 1100, "paths_per_chunk": 500, "n_chunks": 3}) == (
        "3 chunks (2 x 500 + 100 paths)"
    )
    assert horizon_label(2024, 3) == "2024–2026 (3 compliance years)"
    assert period_label(-1, 2024, 3) == "2024–2026" and period_label(2025, 2024, 3) == "2025"
    assert unit("price_q95", "KRW", "EUR") == "KRW/t" and unit("emissions_q05", None, "EUR") == "Mt"


def test_compare_refuses_runs_with_other_sweep_points_or_paths(runs: Path) -> None:
    with pytest.raises(InputError, match="sweep points differ") as exc:
        compare_runs("ck", "oneway", out=runs)
    assert "--force" in exc.value.reason
    with pytest.raises(InputError, match="path counts differ"):
        compare_runs("ck", "ck30", out=runs)
    p = subprocess.run(
        [sys.executable, "-m", "riskmodel", "runs", "--out", str(runs), "compare", "ck", "oneway"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert p.returncode != 0 and p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "sweep points differ" in lines[0]
    cli = CliRunner()
    r = cli.invoke(app, ["runs", "--out", str(runs), "compare", "ck", "oneway", "--force"])
    assert r.exit_code == 0 and "warning: sweep points differ" in r.output
    # the same scenario on the same points and paths compares silently
    c = compare_runs("ck", "ck", out=runs)
    assert (c["diff"] == 0).all() and {"period", "unit"} <= set(c.columns)
