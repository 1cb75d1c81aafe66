"""Every shipped scenario validates, cites seed passages that exist, runs (few paths, two years)
and gives results with sensible signs. Scenarios whose calibrations are not committed skip with
the missing file named."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from riskmodel import config
from riskmodel.batch.runner import RunOptions, run_plan
from riskmodel.batch.scenario_file import plan_from_dict, scenario_calibrations

LIBRARY = sorted(config.SCENARIOS_DIR.glob("*.yaml"))
SEEDS = config.PROJECT_ROOT.parent / "shared" / "seeds"
EXPECTED = {"china_korea", "china_korea_japan", "eu_china_quota", "eu_switzerland",
            "california_quebec", "nested_collars", "regulatory_events", "korea_stabilisation",
            "china_korea_one_way"}


def test_library_is_complete() -> None:
    assert {p.stem for p in LIBRARY} >= EXPECTED


@pytest.mark.parametrize("path", LIBRARY, ids=[p.stem for p in LIBRARY])
def test_scenario_validates_and_cites_seeds(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    plan = plan_from_dict(data, file=path, check_calibrations=False)
    assert plan.name == path.stem
    assert path.read_text(encoding="utf-8").startswith("#")  # a comment header
    assert plan.base.sources, "no seed passage cited"
    if not SEEDS.is_dir():
        pytest.skip(f"seeds not found at {SEEDS}")
    for cite in plan.base.sources:
        m = re.fullmatch(r"seeds/([\w.-]+\.txt):(\d+)(?:-(\d+))?", cite)
        assert m, f"malformed citation {cite!r}"
        lines = (SEEDS / m.group(1)).read_text(encoding="utf-8").splitlines()
        a, b = int(m.group(2)), int(m.group(3) or m.group(2))
        assert 1 <= a <= b <= len(lines) and any(lines[i].strip() for i in range(a - 1, b))


def small(path: Path, paths: int = 160) -> dict:
    """The scenario with few paths and two years (same design, same seed)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.setdefault("simulation", {}).update(paths=paths, paths_per_chunk=80, keep_paths=2)
    data.setdefault("horizon", {})["years"] = 2
    return data


def run_small(path: Path, tmp: Path) -> pd.DataFrame:
    plan = plan_from_dict(small(path), file=path, check_calibrations=False)
    missing = sorted({str(p.relative_to(config.PROJECT_ROOT)) for sc in plan.scenarios
                      for _, p in scenario_calibrations(sc).values() if not p.is_file()})
    if missing:
        pytest.skip(f"calibrations not committed: {', '.join(missing)}")
    run = run_plan(plan, out=tmp / "runs", run_id=path.stem, options=RunOptions(n_jobs=1))
    assert (run / "summary.txt").read_text().count("\n") > 3
    return pd.read_parquet(run / "results.parquet")


def horizon(r: pd.DataFrame, stat: str, point: int = 0) -> pd.DataFrame:
    """variant x market table of one statistic at the horizon."""
    t = r[(r.statistic == stat) & (r.year == -1) & (r.sweep_point == point)]
    return t.pivot(index="market", columns="variant", values="value")


def assert_between(r: pd.DataFrame, point: int = 0) -> None:
    """Unrestricted link: the linked price lies between the autarky prices, i.e. some market's
    price rises and another's falls (each in its own currency, so no exchange rates needed)."""
    p = horizon(r, "price_mean", point).drop(index="total", errors="ignore")
    move = (p["linked"] - p["autarky"]) / p["autarky"]
    assert move.max() >= -1e-9 and move.min() <= 1e-9, move
    assert (move > 1e-6).any() and (move < -1e-6).any(), move


def series(r: pd.DataFrame, stat: str, market: str, variant: str = "linked") -> np.ndarray:
    t = r[(r.statistic == stat) & (r.year == -1) & (r.market == market) & (r.variant == variant)]
    return t.sort_values("sweep_point")["value"].to_numpy()


@pytest.mark.parametrize("path", LIBRARY, ids=[p.stem for p in LIBRARY])
def test_scenario_runs_with_sensible_signs(path: Path, tmp_path: Path) -> None:
    r = run_small(path, tmp_path)
    n_points = r.sweep_point.nunique()
    probs = r[r.statistic.str.startswith("p_")]["value"].dropna()
    assert ((probs >= 0) & (probs <= 1)).all()
    prices = r[(r.statistic == "price_mean") & (r.variant != "exposure") & (r.market != "total")]
    assert np.isfinite(prices.value).all(), "non-finite mean prices (explosive calibration?)"
    assert (prices.value > 0).all() and (prices.mcse >= 0).all()
    name = path.stem
    if name in ("china_korea", "eu_switzerland"):
        for k in range(n_points):
            assert_between(r, k)
    if name == "china_korea":
        sd = horizon(r, "emissions_sd", 1)  # China on an intensity cap
        # Korea's absolute cap fixes its autarky emissions; linking imports China's uncertainty
        assert sd.loc["k_ets", "linked"] > sd.loc["k_ets", "autarky"]
    if name == "china_korea_japan":
        assert_between(r, 0)
        p1 = horizon(r, "price_mean", 1)  # only China-Korea open: Tokyo stays in autarky
        assert p1.loc["tokyo", "linked"] == pytest.approx(p1.loc["tokyo", "autarky"], rel=1e-9)
    if name == "eu_china_quota":
        eu, cn = series(r, "price_mean", "eu_ets"), series(r, "price_mean", "china_ets")
        assert np.all(np.diff(eu) <= 1e-9 * eu[0])  # a looser quota lowers the EU price
        assert np.all(np.diff(cn) >= -1e-9 * cn[0])  # and raises China's: the gap narrows
        assert eu[0] > eu[-1] and cn[0] < cn[-1]
    if name == "china_korea_one_way":
        p = horizon(r, "price_mean", 2)
        assert p.loc["china_ets", "linked"] >= p.loc["china_ets", "autarky"] * (1 - 1e-9)
        assert p.loc["k_ets", "linked"] <= p.loc["k_ets", "autarky"] * (1 + 1e-9)
        kr = series(r, "price_mean", "k_ets")
        assert np.all(np.diff(kr) <= 1e-9 * kr[0])
    if name == "california_quebec":
        floor_hit = series(r, "p_floor", "california")
        assert np.all(np.diff(floor_hit) >= 0) and floor_hit[0] == 0
    if name == "nested_collars":
        for k in range(n_points):
            ceiling = [45.0, 50.0, 60.0][k]
            q95 = horizon(r, "price_q95", k)
            assert q95.loc["broad", "linked"] <= ceiling * 1.01  # the narrow collar rules
            hits = horizon(r, "p_ceiling", k)
            assert hits.loc["broad", "linked"] == 0  # the broader collar never binds
    if name == "regulatory_events":
        p = horizon(r, "price_mean", 2)
        for m in ("china_ets", "k_ets"):
            a, lk, ev = (p.loc[m, v] for v in ("autarky", "linked", "linked_events"))
            # events (quota, termination, exemption) pull the linked price back towards autarky
            assert (ev - lk) * (a - lk) >= 0 or abs(ev - lk) < 1e-9 * abs(lk)
