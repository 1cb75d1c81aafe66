"""The competitive-storage oracle: Euler residuals, the deterministic limit, an independent root
solve, and the sign of its gap to the certainty-equivalent rolling rule (precautionary banking)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from riskmodel.banking.hotelling import price_map
from riskmodel.banking.storage_oracle import rouwenhorst, simulate_both, solve_storage

NBAR = np.array([12.0, 10.0, 11.0, 13.0, 12.0, 14.0])
C, R = 1.3, 0.04


@pytest.fixture(scope="module")
def sol():
    return solve_storage(NBAR, C, R, rho=0.6, sigma=5.0, nz=5)


def test_rouwenhorst_moments():
    z, tr = rouwenhorst(5, 0.6, 2.0)
    np.testing.assert_allclose(tr.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(tr @ z, 0.6 * z, atol=1e-12)  # E[z'|z] = ρ z exactly


def test_euler_residuals_below_1e_6_off_the_grid(sol):
    rng = np.random.default_rng(2)
    worst = 0.0
    for t in range(len(NBAR) - 1):
        for i in range(len(sol.z)):
            avail = rng.uniform(-80.0, 80.0, 4000)
            worst = max(worst, np.abs(sol.euler_residuals(t, i, avail)).max())
    assert worst < 1e-6


def test_second_to_last_year_matches_an_independent_root_solve(sol):
    t = len(NBAR) - 2
    rng = np.random.default_rng(4)
    nxt = NBAR[t + 1] + sol.z

    def euler(b: float, i: int, avail: float) -> float:  # (b - W)/c - q(b), last year known
        return (b - avail) / C - (sol.trans[i] @ np.maximum(0.0, nxt - b) / C) / (1.0 + R)

    for i in range(len(sol.z)):
        for avail in rng.uniform(-40.0, 40.0, 25):
            lo = max(0.0, avail)
            if euler(lo, i, avail) >= 0:
                b = lo
            else:
                b = brentq(euler, lo, lo + 1e3, args=(i, avail), xtol=1e-14, rtol=1e-15)
            assert float(sol.price(t, i, avail)) == pytest.approx((b - avail) / C, abs=1e-9)


@pytest.mark.parametrize("bank0", [0.0, 15.0, 40.0])
def test_deterministic_limit_is_the_hotelling_map(bank0):
    det = solve_storage(NBAR, C, R, rho=0.6, sigma=0.0, nz=3)
    for t in range(len(NBAR)):
        for b in (bank0, bank0 + 5.0):
            want, _ = price_map(b, NBAR[t:], np.zeros(len(NBAR) - t), C, R)
            assert float(det.price(t, 1, b - NBAR[t])) == pytest.approx(want, abs=1e-10)


def test_precautionary_banking_raises_early_prices_and_banks(sol):
    out = simulate_both(sol, 20.0, paths=400, seed=1)
    # under uncertainty firms bank more than certainty equivalence says (Jensen on the
    # stock-out kink): a higher first-year price and a larger bank carried into year 2
    assert out["p_oracle"][:, 0].mean() > out["p_rolling"][:, 0].mean() + 0.1
    assert out["b_oracle"][:, 1].mean() > out["b_rolling"][:, 1].mean() + 0.1
    for k in ("oracle", "rolling"):
        assert np.all(out[f"b_{k}"] >= -1e-9) and np.all(out[f"p_{k}"] >= 0.0)
