"""Volatility-level uncertainty (simulation.vol_level_sd; price_kernels.vol_level)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from riskmodel.sim.engine import simulate_chunk
from riskmodel.sim.resolve import resolve
from riskmodel.sim.single_market import single_market_scenario


def _log_prices(cal: dict, sd: float, *, days: int = 252, paths: int = 1500) -> np.ndarray:
    scn = single_market_scenario(cal, days, paths, 11, vol_level_sd=sd)
    rs = resolve(scn)
    part = simulate_chunk(scn, 0, resolved=rs)
    return np.log(part.keep_price[0, :, 0, :]), rs


def _iid(family: str) -> dict:
    """A process with no volatility dynamics (alpha = beta = 0, or one MS regime pair with
    equal variances): after the first day its variance is its level, so a path's log realised
    volatility is the level's log scale xi plus sampling noise."""
    state = {"last_price": 30.0, "last_variance": 4.0, "last_resid": 0.0}
    if family == "garch":
        params = {"mu": 0.0, "omega": 4.0, "alpha": 0.0, "beta": 0.0}
    elif family == "egarch":
        params = {"mu": 0.0, "omega": math.log(4.0), "alpha": 0.0, "gamma": 0.0, "beta": 0.0}
    else:
        params = {"mu_0": 0.0, "mu_1": 0.0, "sigma2_0": 4.0, "sigma2_1": 4.0, "p_00": 0.9,
                  "p_01": 0.1, "p_10": 0.1, "p_11": 0.9}
        state = {"last_price": 30.0}
    return {"model": {"family": family, "mean": "constant", "dist": "normal",
                      "k_regimes": 2 if family == "ms" else 1},
            "params": params, "state": state, "currency": "EUR"}


@pytest.mark.parametrize("family", ["garch", "egarch", "ms"])
def test_log_realised_vol_spreads_by_the_level_sd(family):
    """sd 0.4: each path's log realised volatility over days 2-252 has sd sqrt(0.4^2 + noise^2)
    (noise = the sd without the level, about 0.045), and its mean level is unchanged in the
    median (xi is centred)."""
    cal = _iid(family)
    base, _ = _log_prices(cal, 0.0)
    wide, rs = _log_prices(cal, 0.4)
    lv0 = np.log(np.diff(base, axis=1)[:, 1:].std(axis=1))
    lv1 = np.log(np.diff(wide, axis=1)[:, 1:].std(axis=1))
    want = math.sqrt(0.4**2 + lv0.std() ** 2)
    assert lv1.std() == pytest.approx(want, rel=0.06)
    assert np.median(lv1) == pytest.approx(np.median(lv0), abs=0.04)
    assert rs.sources["markets.m.process.vol_level_sd"]["value"] == 0.4
    assert any("volatility-level uncertainty" in n for n in rs.notes)


def test_todays_variance_is_kept_and_off_is_bit_identical():
    """A persistent GARCH: the first day's return has the same law with or without the level
    (its variance is today's, not the level's); vol_level_sd 0 gives the paths of a scenario
    without the field, bit for bit."""
    cal = {"model": {"family": "garch", "mean": "constant", "dist": "normal", "k_regimes": 1},
           "params": {"mu": 0.0, "omega": 0.02, "alpha": 0.05, "beta": 0.945},
           "state": {"last_price": 30.0, "last_variance": 4.0, "last_resid": 0.0},
           "currency": "EUR"}
    a, _ = _log_prices(cal, 0.0, days=20, paths=4000)
    b, _ = _log_prices(cal, 0.6, days=20, paths=4000)
    d1a, d1b = np.diff(a, axis=1)[:, 0], np.diff(b, axis=1)[:, 0]
    assert d1b.std() == pytest.approx(d1a.std(), rel=0.05)
    scn = single_market_scenario(cal, 20, 50, 3)
    c = simulate_chunk(scn, 0, resolved=resolve(scn)).keep_price
    scn0 = single_market_scenario(cal, 20, 50, 3, vol_level_sd=0.0)
    np.testing.assert_array_equal(c, simulate_chunk(scn0, 0, resolved=resolve(scn0)).keep_price)


def _three_years(persistence: float | None) -> tuple[np.ndarray, np.ndarray, object]:
    """Three compliance years of 150 days of an i.i.d. GARCH process with level sd 0.4: the
    kept log prices and each year's log realised volatility (days 2-149 of the year)."""
    from riskmodel.sim.scenario import scenario_from_dict

    scn = single_market_scenario(_iid("garch"), 150, 1500, 5, vol_level_sd=0.4,
                                 vol_level_persistence=persistence)
    d = scn.model_dump()
    d["horizon"]["years"] = 3
    scn = scenario_from_dict(d)
    rs = resolve(scn)
    lp = np.log(simulate_chunk(scn, 0, resolved=rs).keep_price[0, :, 0, :])
    r = np.diff(lp, axis=1)
    lv = np.stack([np.log(r[:, y * 150 + 1:(y + 1) * 150 - 1].std(axis=1)) for y in range(3)])
    return lp, lv, rs


def test_persistence_zero_draws_the_level_afresh_each_compliance_year():
    """Persistence 0: each year's log realised volatility spreads by the level sd, and
    consecutive years' levels are uncorrelated."""
    _, lv, _ = _three_years(0.0)
    for y in range(3):
        assert lv[y].std() == pytest.approx(math.sqrt(0.4**2 + 0.06**2), rel=0.08)
    assert abs(np.corrcoef(lv[0], lv[1])[0, 1]) < 0.1
    assert abs(np.corrcoef(lv[1], lv[2])[0, 1]) < 0.1


def test_the_level_follows_an_ar1_across_compliance_years():
    """Persistence 0.7: every year's level keeps the sd 0.4 (stationary AR(1)); the log
    realised volatilities of years one and two apart correlate by 0.7 and 0.49 times the share
    of their variance the level carries (0.16 / (0.16 + 0.06^2)); the first year is the same
    draw, bit for bit, as with persistence 0."""
    lp0, _, _ = _three_years(0.0)
    lp, lv, rs = _three_years(0.7)
    share = 0.4**2 / (0.4**2 + 0.06**2)
    for y in range(3):
        assert lv[y].std() == pytest.approx(math.sqrt(0.4**2 + 0.06**2), rel=0.08)
    assert np.corrcoef(lv[0], lv[1])[0, 1] == pytest.approx(0.7 * share, abs=0.05)
    assert np.corrcoef(lv[1], lv[2])[0, 1] == pytest.approx(0.7 * share, abs=0.05)
    assert np.corrcoef(lv[0], lv[2])[0, 1] == pytest.approx(0.49 * share, abs=0.06)
    # column 150 is year two's first day: its variance is year one's, its guard year two's
    np.testing.assert_array_equal(lp[:, :150], lp0[:, :150])
    assert not np.array_equal(lp[:, 152:], lp0[:, 152:])
    src = rs.sources["markets.m.process.vol_level_persistence"]
    assert src["value"] == 0.7 and "simulation.vol_level_persistence" in src["source"]


def test_default_persistence_is_the_validation_estimate():
    """Without ``vol_level_persistence`` the engine uses VOL_LEVEL_PERSISTENCE, recorded as a
    default, and that constant is the lag-1 estimate from the committed validation files
    (rounded to 0.05)."""
    from riskmodel.fit.validation import stored_docs
    from riskmodel.fit.vol_spread import level_persistence
    from riskmodel.sim import layout as L
    from riskmodel.sim.scenario import VOL_LEVEL_PERSISTENCE

    est = level_persistence(stored_docs())
    assert est[1]["pairs"] >= 150 and est[1]["markets"] >= 10
    assert VOL_LEVEL_PERSISTENCE == pytest.approx(est[1]["rho"], abs=0.05)
    assert est[1]["rho_loo_min"] <= VOL_LEVEL_PERSISTENCE <= est[1]["rho_loo_max"]
    scn = single_market_scenario(_iid("garch"), 20, 10, 1, vol_level_sd=0.3)
    rs = resolve(scn)
    assert rs.sources["markets.m.process.vol_level_persistence"]["value"] == VOL_LEVEL_PERSISTENCE
    assert "default" in rs.sources["markets.m.process.vol_level_persistence"]["source"]
    assert rs.mp[0, L.VLP] == VOL_LEVEL_PERSISTENCE
    off = resolve(single_market_scenario(_iid("garch"), 20, 10, 1))
    assert off.mp[0, L.VLP] == 0.0
    assert "markets.m.process.vol_level_persistence" not in off.sources


def _t4(omega: float = 4.0) -> dict:
    """I.i.d. Student-t(4) returns of variance ``omega`` (percent^2 a day)."""
    return {"model": {"family": "garch", "mean": "constant", "dist": "t", "k_regimes": 1},
            "params": {"mu": 0.0, "omega": omega, "alpha": 0.0, "beta": 0.0, "nu": 4.0},
            "state": {"last_price": 30.0, "last_variance": omega, "last_resid": 0.0},
            "currency": "EUR"}


def test_the_guard_widens_with_a_higher_drawn_level():
    """The guard is ``MAXR e^xi`` on a path whose level is e^xi > 1 and the fitted one below:
    for i.i.d. normal returns of sd 2% and a 5% guard it clips |z| > 2.5 on every path of a
    higher level, P = 1.24% of days, and |z| > 2.5 e^-xi on a calmer one; a fixed guard would
    clip a high-level path's days far more often."""
    from riskmodel.sim.single_market import simulate_single_market

    cal = _iid("garch")
    _, off = simulate_single_market(cal, 120, 3000, 5, max_daily_return=5.0)
    _, on = simulate_single_market(cal, 120, 3000, 5, max_daily_return=5.0, vol_level_sd=0.5)
    p = math.erfc(2.5 / math.sqrt(2.0))  # P(|Z| > 2.5) = 0.0124
    assert off["clipped_share"] == pytest.approx(p, rel=0.05)
    xi = np.random.default_rng(0).normal(0.0, 0.5, 20_000)
    want = float(np.mean([p if x > 0 else math.erfc(2.5 * math.exp(-x) / math.sqrt(2.0))
                          for x in xi]))  # about 0.0075
    assert on["clipped_share"] == pytest.approx(want, rel=0.12)
    fixed = float(np.mean([math.erfc(2.5 * math.exp(-x) / math.sqrt(2.0)) for x in xi]))
    assert fixed > 1.5 * p and on["clipped_share"] < 0.5 * fixed


def test_the_price_stays_a_martingale_with_a_scaled_guard():
    """t(4) returns of sd 6% a day under a 12% guard (clipping about 2% of days) and a level sd
    of 0.6: the compensator read at h / e^(2 xi) keeps E[P_T] = P_0 within Monte Carlo error
    after 60 days (the fitted guard's compensator, unscaled, would be off by several errors)."""
    from riskmodel.sim.single_market import simulate_single_market

    lp, meta = simulate_single_market(_t4(36.0), 60, 8000, 9, max_daily_return=12.0,
                                      vol_level_sd=0.6)
    assert meta["clipped_share"] > 0.005
    ratio = np.exp(lp[:, -1] - lp[:, 0])
    se = ratio.std() / math.sqrt(ratio.size)
    assert abs(ratio.mean() - 1.0) < 3.0 * se


def test_the_level_is_on_by_default_with_the_validation_estimate():
    """A shipped scenario without ``vol_level_sd`` draws the level with VOL_LEVEL_SD, recorded
    as a default and said in the notes; that constant is the pooled spread the committed
    validation implies at the end of the training data; ``vol_level_sd: 0`` turns it off."""
    from riskmodel import config
    from riskmodel.batch.scenario_file import load_scenario_file
    from riskmodel.fit.vol_spread import pooled_s, stored_rows
    from riskmodel.sim import layout as L
    from riskmodel.sim.scenario import VOL_LEVEL_SD, scenario_from_dict

    assert VOL_LEVEL_SD == pytest.approx(pooled_s(stored_rows(), "2022-12-31"), abs=0.005)
    scn = load_scenario_file(config.SCENARIOS_DIR / "china_korea.yaml").scenarios[0]
    assert scn.simulation.vol_level_sd is None
    rs = resolve(scn)
    assert (rs.mp[:, L.VLS] == VOL_LEVEL_SD).all()
    assert (rs.mp[:, L.MAXR_B] == rs.mp[:, L.MAXR]).all() and (rs.mp[:, L.VLG] == 1.0).all()
    src = rs.sources["markets.china_ets.process.vol_level_sd"]
    assert src["value"] == VOL_LEVEL_SD and "default" in src["source"]
    assert any("volatility-level uncertainty" in n and "the default" in n for n in rs.notes)
    d = scn.model_dump()
    d["simulation"]["vol_level_sd"] = 0.0
    off = resolve(scenario_from_dict(d))
    assert (off.mp[:, L.VLS] == 0.0).all()
    assert "scenario" in off.sources["markets.china_ets.process.vol_level_sd"]["source"]
    assert not any("volatility-level uncertainty" in n for n in off.notes)
