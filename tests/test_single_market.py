"""One market's paths from the engine: same seed same paths, the state at the origin, the
one-day law, and the martingale property of the committed calibrations."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from riskmodel import config
from riskmodel.sim.single_market import simulate_log_prices, simulate_single_market


def _garch(omega: float, alpha: float, beta: float, h0: float, price: float = 40.0) -> dict:
    return {"model": {"family": "garch", "mean": "constant", "dist": "normal", "k_regimes": 1},
            "params": {"mu": 0.0, "omega": omega, "alpha": alpha, "beta": beta},
            "state": {"last_variance": h0, "last_resid": 0.0, "last_std_resid": 0.0,
                      "last_price": price}, "currency": "EUR"}


def test_same_seed_same_paths_and_start_at_the_last_price():
    cal = _garch(0.05, 0.08, 0.9, 4.0)
    a = simulate_log_prices(cal, 30, 200, seed=7)
    b = simulate_log_prices(cal, 30, 200, seed=7)
    c = simulate_log_prices(cal, 30, 200, seed=8)
    assert a.shape == (200, 31) and np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.all(a[:, 0] == math.log(40.0))


def test_first_day_law_is_normal_with_the_origin_variance():
    """Day 1's return is N(0, last_variance) exactly (zero drift): the calibration's end state
    is the engine's start state."""
    cal = _garch(0.05, 0.08, 0.9, 9.0)
    lp = simulate_log_prices(cal, 2, 4000, seed=1, price_drift="zero")
    r1 = 100 * (lp[:, 1] - lp[:, 0])
    assert stats.kstest(r1 / 3.0, "norm").pvalue > 1e-3
    assert np.var(r1) == pytest.approx(9.0, rel=0.08)


def test_constant_variance_paths_are_a_gaussian_random_walk():
    cal = _garch(2.25, 0.0, 0.0, 2.25)
    lp = simulate_log_prices(cal, 63, 500, seed=2, price_drift="zero")
    r = 100 * np.diff(lp, axis=1)
    assert stats.kstest(r.ravel() / 1.5, "norm").pvalue > 1e-3
    x = 100 * (lp[:, -1] - lp[:, 0]) / (1.5 * math.sqrt(63))
    assert stats.kstest(x, "norm").pvalue > 1e-3


@pytest.mark.parametrize("market", ["eu_ets", "k_ets", "beijing"])
def test_committed_calibrations_simulate_a_martingale_price(market):
    """With the engine's default drift the price is a martingale: E[P_252 / P_0] = 1 within
    Monte Carlo error; the guard's share of market-days is reported."""
    cal = json.loads((config.CALIBRATIONS_DIR / f"{market}.json").read_text())
    lp, meta = simulate_single_market(cal, 252, 2000, seed=3)
    ratio = np.exp(lp[:, -1] - lp[:, 0])
    se = ratio.std(ddof=1) / math.sqrt(ratio.size)
    assert abs(ratio.mean() - 1.0) < 4 * se + 1e-3
    assert 0.0 <= meta["clipped_share"] < 0.05


def test_heavy_tailed_t_near_two_stays_finite_under_the_martingale_drift():
    """An EGARCH-t with nu = 2.178 (a real refit of California at 2017-04-01): with a t copula
    the engine's compensator table turned NaN here; the single-market run stays finite."""
    cal = {"model": {"family": "egarch", "mean": "ar1", "dist": "t", "k_regimes": 1},
           "params": {"mu": 0.0066, "phi": 0.0354, "omega": 0.0620, "alpha": 0.2767,
                      "gamma": -0.1101, "beta": 0.9760, "nu": 2.1781527314790132},
           "state": {"last_variance": 0.0962, "last_resid": -0.0066, "last_std_resid": -0.0203,
                     "last_return": 0.0, "last_price": 13.81}, "currency": "USD"}
    lp = simulate_log_prices(cal, 252, 200, seed=4)
    assert np.all(np.isfinite(lp))
