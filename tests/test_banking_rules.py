"""Window bounds from the shipped catalogue's banking rules, and the slope calibration."""

from __future__ import annotations

import numpy as np
import pytest

from riskmodel.banking import hotelling as hot
from riskmodel.banking.rules import calibrate_slope, rules_from_catalogue, window_bounds
from riskmodel.data.catalogue import load_catalogue

YEARS = range(2023, 2041)


@pytest.fixture(scope="module")
def cat():
    return load_catalogue()


def test_eu_banks_without_borrowing_or_expiry(cat):
    rules = rules_from_catalogue(cat["eu_ets"], YEARS)
    assert rules.banking and rules.borrowing_share == 0.0
    np.testing.assert_array_equal(window_bounds(rules, 2023, 10, np.full(10, 1000.0)), np.zeros(10))


def test_a_scenario_borrowing_share_overrides_a_catalogue_without_borrowing(cat):
    """The EU allows no borrowing; a scenario asking for 0.5 gets it (the resolver notes the
    override), where it used to be dropped silently while design.json named the scenario as the
    source of a 0 share."""
    from riskmodel.sim.resolve import resolve
    from riskmodel.sim.scenario import scenario_from_dict

    rules = rules_from_catalogue(cat["eu_ets"], YEARS, borrowing_share=0.5)
    assert rules.borrowing_share == 0.5
    assert window_bounds(rules, 2023, 10, np.full(10, 1000.0))[0] == pytest.approx(-500.0)
    sc = scenario_from_dict({"name": "b", "markets": [{"id": "eu_ets", "banking": {
        "borrowing_share": 0.5}}], "horizon": {"start_year": 2024, "years": 2},
        "simulation": {"paths": 20, "paths_per_chunk": 20}})
    rs = resolve(sc)
    assert any("borrows up to 0.5" in n and "allows no borrowing" in n for n in rs.notes)


def test_korea_phase3_borrows_within_the_phase_and_expires_in_2026(cat):
    rules = rules_from_catalogue(cat["k_ets"], YEARS)
    assert rules.borrowing_share == 0.15  # seed line 268
    s = np.array([589.3, 567.1, 567.1, 550.0, 540.0, 530.0])
    ell = window_bounds(rules, 2023, 10, s)
    # 2023, 2024 borrow 15 % of supply; 2025 ends Phase 3; 2026 is the last year Phase 3
    # allowances count (seed line 272)
    np.testing.assert_allclose(ell, [-0.15 * 589.3, -0.15 * 567.1, 0.0, 0.0], rtol=1e-15)


def test_korea_phase4_window_runs_the_full_horizon(cat):
    rules = rules_from_catalogue(cat["k_ets"], YEARS)
    s = np.full(10, 500.0)
    ell = window_bounds(rules, 2026, 10, s)
    assert len(ell) == 10
    np.testing.assert_allclose(ell[:4], -75.0)
    assert ell[4] == 0.0  # 2030 ends Phase 4: no borrowing across it
    assert ell[-1] == 0.0  # terminal bank


def test_market_without_banking_facts_gets_the_static_bridge(cat):
    rules = rules_from_catalogue(cat["china_ets"], YEARS)
    assert not rules.banking
    np.testing.assert_array_equal(window_bounds(rules, 2023, 10, np.ones(10)), [0.0])


def test_korea_rolling_path_respects_every_bound(cat):
    rules = rules_from_catalogue(cat["k_ets"], YEARS)
    s = np.full(4, 570.0)
    ell = window_bounds(rules, 2023, 10, s)
    n = np.array([90.0, 20.0, 20.0, 20.0])
    p, b = hot.rolling_path(0.0, n, ell, 2.0, 0.03, horizon=4)
    assert np.all(b[1:] >= ell - 1e-9)
    assert b[1] < 0.0  # a scarce 2023 borrows against the easier later years of the phase
    assert abs(b[-1]) < 1e-9  # nothing left when Phase 3 allowances expire


@pytest.mark.parametrize("horizon", [1, 5, 10, 15])
def test_calibrated_slope_round_trips_through_the_map(horizon):
    rng = np.random.default_rng(horizon)
    nbar = rng.uniform(50.0, 150.0, horizon)
    ell = np.zeros(horizon)
    c, k = calibrate_slope(300.0 if horizon > 3 else 0.0, nbar, ell, 0.03, 80.0)
    price, kstar = hot.price_map(300.0 if horizon > 3 else 0.0, nbar, ell, c, 0.03)
    assert price == pytest.approx(80.0, rel=1e-13) and kstar == k
    if horizon == 1:
        assert c == pytest.approx(nbar[0] / 80.0, rel=1e-15)  # today's D = c p


def test_calibration_refuses_a_window_without_scarcity():
    with pytest.raises(ValueError, match="no scarcity"):
        calibrate_slope(1e4, np.full(5, 10.0), np.zeros(5), 0.03, 50.0)
