"""Rolling-origin validation: on data simulated from a known GARCH the true model passes
(uniform PITs, 90% bands cover about 90%, one-day VaR right) and a mis-scaled one fails; on real
data the validation never reads past its end date; the command writes its report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from riskmodel.fit import validation as va
from riskmodel.fit.calibration import Calibration, apply

OMEGA, ALPHA, BETA = 0.05, 0.08, 0.90


def _garch_data(seed: int) -> tuple[pd.Series, pd.Series]:
    """GARCH(1,1)-normal percent returns on business days 2012–2022, and the prices."""
    idx = pd.bdate_range("2012-01-02", "2022-12-30")
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(len(idx))
    r = np.empty(len(idx))
    h = OMEGA / (1 - ALPHA - BETA)
    for t in range(len(idx)):
        r[t] = np.sqrt(h) * z[t]
        h = OMEGA + ALPHA * r[t] ** 2 + BETA * h
    prices = pd.Series(20.0 * np.exp(np.cumsum(r) / 100), index=idx)
    return prices, pd.Series(r, index=idx)


def _known(scale: float):
    """A 'fitter' returning the true GARCH with its omega multiplied by ``scale`` (variance
    level x scale), its state filtered through the training returns with those parameters."""

    def fit(train: pd.Series) -> Calibration:
        cal = Calibration(market="syn", model={"family": "garch", "mean": "constant",
                                               "dist": "normal", "k_regimes": 1},
                          params={"mu": 0.0, "omega": OMEGA * scale, "alpha": ALPHA,
                                  "beta": BETA})
        nd = apply(cal, train).next_day
        cal.state = {"last_variance": nd["variance"], "last_resid": float(train.iloc[-1]),
                     "last_std_resid": 0.0, "last_return": float(train.iloc[-1])}
        cal.bic = 0.0
        return cal

    return fit


@pytest.fixture(scope="module")
def synthetic_runs() -> dict[str, va.CandidateResult]:
    prices, returns = _garch_data(11)
    cfg = va.ValidationConfig(n_paths=300, price_drift="zero", start="2014-01-01")
    return {name: va.validate_candidate("syn", prices, returns, name, fitter=_known(s), cfg=cfg)
            for name, s in (("true", 1.0), ("scaled x4", 4.0))}


def test_true_model_passes_the_validation(synthetic_runs):
    res = synthetic_runs["true"]
    assert len(res.origins) == 35                      # 2014Q2 (start + 2 years) .. 2022Q4
    s = res.summary
    assert s["pooled_change"]["ks_p"] > 0.01 and s["pooled_vol"]["ks_p"] > 0.01
    for h, c in s["horizons"].items():
        assert c["ks_p"] > 0.005, h
        # 90% band: binomial error on n <= 36 origins (3 sd, windows of a horizon overlap
        # at most for h = 252 (n = 33, about 9 effective); loosened there)
        tol = 3 * np.sqrt(0.09 / (c["n"] if int(h) < 252 else 9))
        assert abs(c["cover90"] - 0.9) <= tol, (h, c["cover90"])
    assert res.var_all["kupiec_p_95"] > 0.01 and res.var_all["kupiec_p_99"] > 0.01
    assert res.clipped_share < 1e-4


def test_misscaled_model_fails_coverage_and_uniformity(synthetic_runs):
    """Variance level x4 (sd x2): bands too wide, volatility PITs piled near 0."""
    bad, good = synthetic_runs["scaled x4"], synthetic_runs["true"]
    s = bad.summary
    assert s["pooled_vol"]["ks_p"] < 1e-3
    assert s["pooled_change"]["cover50"] > 0.65        # 50% band holds ~74%
    assert not bad.checks["cover90_in_85_95"]["pass"] and not bad.checks["all_pass"]
    # the filtered variance adapts to the data at short horizons; the x4 level shows further out
    assert s["horizons"]["63"]["vol_pit_mean"] < 0.2 and s["horizons"]["252"]["vol_pit_mean"] < 0.05
    assert bad.var_all["hits_99"] < good.var_all["hits_99"]
    best, table = va.select_by_validation([bad, good])
    assert best is good and [t["model"] for t in table] == ["true", "scaled x4"]


def test_origins_are_quarter_starts_after_two_years():
    idx = pd.bdate_range("2015-06-01", "2022-12-30")
    o, notes = va.quarterly_origins(idx)
    assert o[0] == pd.Timestamp("2017-07-01") and o[-1] == pd.Timestamp("2022-10-01")
    assert not notes
    short = pd.bdate_range("2021-05-20", "2022-12-30")
    o, notes = va.quarterly_origins(short)
    assert o and notes and int((short < o[0]).sum()) >= va.MIN_TRAIN


@pytest.mark.realdata
def test_validation_reads_nothing_after_its_end(data_dir):
    """The same run on the full series and on the series cut at the end date gives the same
    scores, bit for bit (causal cleaning, windows ending before the end)."""
    from riskmodel.data.cleaning import clean_series
    from riskmodel.data.series import load_series

    ps = load_series("hubei", data_dir)
    cfg = va.ValidationConfig(n_paths=100, start="2019-01-01", end="2019-12-31",
                              horizons=(1, 5, 21, 63))
    full = va.validate_candidate("hubei", ps.prices, ps.returns, "garch-t", cfg=cfg)
    raw = ps.prices[ps.prices.index <= "2019-12-31"]
    cut = clean_series(raw, series_id=ps.series_id, market="hubei")
    part = va.validate_candidate("hubei", cut.prices, cut.returns, "garch-t", cfg=cfg)
    assert json.dumps(full.to_dict(), default=str) == json.dumps(part.to_dict(), default=str)
    assert [o["origin"] for o in full.origins] == ["2019-01-01", "2019-04-01", "2019-07-01",
                                                   "2019-10-01"]
    assert "63" not in full.origins[-1]["h"]           # the window would end after 2019


@pytest.mark.realdata
def test_validate_command_writes_the_report(data_dir, tmp_path):
    from typer.testing import CliRunner

    from riskmodel.cli import app

    out = tmp_path / "v"
    res = CliRunner().invoke(app, ["validate", "chongqing", "--paths", "100", "--start",
                                   "2021-01-01", "--out", str(out)])
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["README.md", "chongqing.json", "chongqing.md", "chongqing_fan.png",
                     "chongqing_pit.png"]
    doc = json.loads((out / "chongqing.json").read_text())
    assert doc["chosen"] == doc["candidates"][0]["model"] and doc["settings"]["n_paths"] == 100
    assert "| chongqing |" in (out / "README.md").read_text()
    bad = CliRunner().invoke(app, ["validate", "atlantis", "--out", str(out)])
    assert bad.exit_code != 0 and "atlantis" in str(bad.exception)


def test_an_origin_the_engine_refuses_is_skipped_with_a_note():
    """A fit the engine refuses (e.g. a regime mean beyond its bound) at one origin does not end
    the validation: that origin's simulated scores are left out, and the notes say which."""
    from riskmodel.errors import InputError
    from riskmodel.sim.single_market import simulate_single_market

    prices, returns = _garch_data(11)
    cfg = va.ValidationConfig(n_paths=100, price_drift="zero", start="2020-01-01")
    calls = []

    def sim(cal, *a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise InputError("a mean daily return must lie in [-10, 10] percent (got 18)",
                             field="markets[0].process.params.mu_0")
        return simulate_single_market(cal, *a, **k)

    res = va.validate_candidate("syn", prices, returns, "true", fitter=_known(1.0), cfg=cfg,
                                simulate=sim)
    full = va.validate_candidate("syn", prices, returns, "true", fitter=_known(1.0), cfg=cfg)
    assert len(calls) == len(full.origins) == len(res.origins) + 1
    skipped = [n for n in res.notes if "the engine refuses this origin's fit" in n]
    assert len(skipped) == 1 and "got 18" in skipped[0]
