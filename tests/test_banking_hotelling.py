"""The Hotelling map: Rubin's path, the perfect-foresight optimum, the exact inversion, pools."""

from __future__ import annotations

import numpy as np
import pytest

from riskmodel.banking import hotelling as hot
from riskmodel.banking.foresight import perfect_foresight


def rubin_instance(r: float, c: float, kstar: int, t_n: int, g: float):
    """Demand growing at g < r; the bank chosen so the price meets the static path at k*."""
    n0 = 100.0
    n = n0 * (1.0 + g) ** np.arange(t_n)
    # p0 (1+r)^t crosses n_t / c between k* and k*+1 (geometric midpoint)
    p0 = n0 / c * ((1.0 + g) / (1.0 + r)) ** (kstar + 0.5)
    bank0 = float(np.sum(n[: kstar + 1] - c * p0 * (1.0 + r) ** np.arange(kstar + 1)))
    return n, p0, bank0


@pytest.mark.parametrize("r,kstar", [(0.05, 3), (0.02, 6), (0.1, 0)])
def test_rubin_path_rises_at_r_until_exhaustion_then_static(r, kstar):
    c, t_n = 2.0, 12
    n, p0, bank0 = rubin_instance(r, c, kstar, t_n, g=0.01)
    p, b = hot.rolling_path(bank0, n, np.zeros(t_n), c, r, horizon=t_n)
    t = np.arange(t_n)
    want = np.where(t <= kstar, p0 * (1.0 + r) ** t, n / c)
    np.testing.assert_allclose(p, want, rtol=1e-10, atol=0)
    assert abs(b[kstar + 1]) < 1e-10 * bank0 + 1e-10  # the bank is exhausted at k*
    assert np.all(b[: kstar + 1] > 0)


def test_with_borrowing_the_price_rises_at_r_throughout():
    r, c, t_n = 0.04, 1.5, 10
    n, _, _ = rubin_instance(r, c, 2, t_n, g=0.03)
    ell = np.full(t_n, -1e9)  # unlimited borrowing inside the phase
    ell[-1] = 0.0  # repay by the end
    p, b = hot.rolling_path(50.0, n, ell, c, r, horizon=t_n)
    np.testing.assert_allclose(p[1:] / p[:-1], 1.0 + r, rtol=1e-10)
    p0 = (n.sum() - 50.0) / (c * hot.annuities(r, t_n - 1)[-1])
    assert p[0] == pytest.approx(p0, rel=1e-12)
    assert abs(b[-1]) < 1e-9


def test_surplus_at_expiry_prices_zero():
    n = np.array([10.0, -5.0, 3.0])
    price, kstar = hot.price_map(20.0, n, np.zeros(3), 1.0, 0.03)
    assert price == 0.0 and kstar == -1


def test_h1_zero_bank_is_the_static_bridge():
    for nv in (-3.0, 0.0, 7.25):
        price, _ = hot.price_map(0.0, np.array([nv]), np.zeros(1), 2.5, 0.05)
        assert price == max(0.0, nv / 2.5)


@pytest.mark.parametrize("seed", range(60))
def test_rolling_rule_equals_perfect_foresight_optimum(seed):
    rng = np.random.default_rng(seed)
    t_n = int(rng.integers(2, 6))
    n = rng.normal(20.0, 15.0, t_n)
    c = float(rng.uniform(0.5, 3.0))
    r = float(rng.uniform(0.0, 0.1))
    bank0 = float(rng.uniform(0.0, 40.0))
    ell = np.zeros(t_n)
    if seed % 3 == 1:  # borrowing inside the phase, a terminal bank
        ell[:-1] = -float(rng.uniform(0.0, 20.0))
        ell[-1] = float(rng.uniform(0.0, 5.0))
    elif seed % 3 == 2:  # a hedging floor
        ell[:] = float(rng.uniform(0.0, 10.0))
    p_roll, b = hot.rolling_path(bank0, n, ell, c, r, horizon=t_n)
    p_opt = perfect_foresight(bank0, n, ell, c, r)
    np.testing.assert_allclose(p_roll, p_opt, rtol=1e-9, atol=1e-9)
    assert np.all(b[1:] >= ell - 1e-9)


@pytest.mark.parametrize("phi", [1.0, 0.5])
def test_inversion_reproduces_the_observed_price_bit_for_bit(phi):
    rng = np.random.default_rng(5)
    w = np.empty(8)
    for _ in range(500):
        m1 = int(rng.integers(1, 9))
        nbar = rng.normal(30.0, 20.0, m1)
        ell = np.zeros(m1)
        c, r, b_obs = rng.uniform(0.5, 3.0), rng.uniform(0.0, 0.08), rng.uniform(0.0, 60.0)
        p_obs = float(rng.choice([0.0, rng.uniform(0.1, 100.0)]))
        xi = hot.scarcity_gaps(p_obs, b_obs, nbar, ell, c, r, phi, w[:m1])
        assert np.all(w[:m1] >= 0.0) and np.min(w[:m1]) == 0.0
        price, _ = hot.bridged_price(p_obs, w[:m1], np.zeros(m1), 0.0, c, r)
        assert price == p_obs  # exact: the observed design returns the fitted price
        # the same price from the primitive map with n = n̄ + c ξ φ^j (to rounding)
        if p_obs > 0:
            direct, _ = hot.price_map(b_obs, nbar + c * xi * phi ** np.arange(m1), ell, c, r)
            assert direct == pytest.approx(p_obs, rel=1e-9, abs=1e-9)


def test_variant_through_the_gaps_equals_the_map():
    rng = np.random.default_rng(8)
    w = np.empty(6)
    for _ in range(300):
        nbar = rng.normal(30.0, 20.0, 6)
        ell = np.zeros(6)
        c, r, phi = 1.7, 0.03, 0.8
        p_obs, b_obs = rng.uniform(1.0, 80.0), rng.uniform(0.0, 60.0)
        xi = hot.scarcity_gaps(p_obs, b_obs, nbar, ell, c, r, phi, w)
        ds = rng.normal(0.0, 10.0, 6)
        bv = b_obs + rng.normal(0.0, 10.0)
        via, k1 = hot.bridged_price(p_obs, w, ds, bv - b_obs, c, r)
        direct, k2 = hot.price_map(bv, nbar + c * xi * phi ** np.arange(6) + ds, ell, c, r)
        assert via == pytest.approx(direct, rel=1e-9, abs=1e-9)


def test_h1_variant_is_todays_bridge():
    w = np.empty(1)
    hot.scarcity_gaps(42.0, 0.0, np.array([10.0]), np.zeros(1), 2.0, 0.05, 1.0, w)
    for ds in (-100.0, -3.0, 0.0, 12.5):
        price, _ = hot.bridged_price(42.0, w, np.array([ds]), 0.0, 2.0, 0.05)
        assert price == max(0.0, 42.0 + ds / 2.0)


def test_transitory_supply_change_is_divided_by_the_annuity():
    # a one-year supply cut X moves the price by X / (c A_k*) when the bank is not exhausted
    c, r, m1 = 2.0, 0.03, 10
    n = np.full(m1, 10.0)
    p0, k0 = hot.price_map(50.0, n, np.zeros(m1), c, r)
    n[0] += 20.0
    p1, k1 = hot.price_map(50.0, n, np.zeros(m1), c, r)
    assert k0 == k1 == m1 - 1
    assert p1 - p0 == pytest.approx(20.0 / (c * hot.annuities(r, m1 - 1)[-1]), rel=1e-12)


def test_pool_price_depends_on_the_summed_bank_and_is_not_the_average():
    # horizon prices (100, 50) and (0, 30) with equal c pool at 50, not at (100 + 30) / 2 = 65
    c = np.array([1.0, 1.0])
    r = 0.0
    # π_{i,k} = N_{i,k} / A_k with A = (1, 2): N_1 = (100, 100), N_2 = (0, 60)
    n = np.array([[100.0, 0.0], [0.0, 60.0]])
    ell = np.zeros((2, 2))
    banks = np.zeros(2)
    auto = [hot.price_map(0.0, n[i], ell[i], 1.0, r)[0] for i in range(2)]
    assert auto == [100.0, 30.0]
    price, kstar = hot.pool_price(banks, n, ell, c, r)
    assert price == 50.0 and kstar == 0
    flows = np.empty(2)
    hot.pool_flows(price, kstar, banks, n, ell, c, r, flows)
    assert flows.sum() == 0.0 and flows[0] == 50.0
    # the banks enter only through their sum
    p_a, _ = hot.pool_price(np.array([30.0, 5.0]), n, ell, c, r)
    p_b, _ = hot.pool_price(np.array([0.0, 35.0]), n, ell, c, r)
    assert p_a == p_b


def test_perino_willner_cap_preserving_shift_matters_only_to_short_horizons():
    # an MSR-like shift: X withheld in year 0, released in year 8 (the cap is preserved)
    c, r, t_n, x = 2.0, 0.03, 12, 30.0
    n = np.full(t_n, 100.0)
    bank = 300.0
    shifted = n.copy()
    shifted[0] += x  # less supply now: more required abatement
    shifted[8] -= x
    ell = np.zeros(t_n)
    p_long, k_long = hot.price_map(bank, n, ell, c, r)
    p_long_s, _ = hot.price_map(bank, shifted, ell, c, r)
    assert k_long == t_n - 1  # the bank lasts the whole window: the shift is irrelevant
    assert p_long_s == pytest.approx(p_long, rel=1e-14)
    # a 5-year window does not see the release: early prices rise by X / (c A_k*)
    p_short, k_short = hot.price_map(bank, n[:5], ell[:5], c, r)
    p_short_s, k2 = hot.price_map(bank, shifted[:5], ell[:5], c, r)
    assert k_short == k2 == 4
    assert p_short_s - p_short == pytest.approx(x / (c * hot.annuities(r, 4)[-1]), rel=1e-12)
