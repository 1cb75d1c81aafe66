"""Compliance-cost distribution and risk measures (riskmodel.firm.cost) on constructed paths."""

from __future__ import annotations

import math

import numpy as np
import pytest

from riskmodel.firm.cost import (
    MarketPaths,
    abatement,
    firm_costs,
    idiosyncratic_factor,
    min_variance_hedge,
    position,
    var_es,
)
from riskmodel.firm.firm import firm_from_dict

VARIANTS = ["autarky", "linked", "linked_events"]
YEARS = [2024, 2025, 2026]


def make_paths(n: int = 4000, seed: int = 7, *, rho: float = 0.4) -> MarketPaths:
    """Lognormal prices (linked = damped autarky, events = occasional jumps) and BAU correlated
    with the price by ``rho``; all variants share the BAU draws."""
    rng = np.random.default_rng(seed)
    y = len(YEARS)
    z = rng.standard_normal((n, y))
    u = rho * z + math.sqrt(1 - rho * rho) * rng.standard_normal((n, y))
    aut = 30.0 * np.exp(np.cumsum(0.25 * z, axis=1) - 0.03125 * np.arange(1, y + 1))
    lnk = 0.6 * aut + 10.0
    jump = (rng.random((n, 1)) < 0.15) * rng.normal(0, 8.0, (n, y))
    price = np.stack([aut, lnk, np.maximum(lnk + jump, 0.5)])
    bau = np.broadcast_to(200.0 * np.exp(0.06 * u), price.shape).copy()
    return MarketPaths(VARIANTS, YEARS, price, bau, "EUR", "aa")


def firm(**kw: object) -> object:
    base = {"name": "test firm", "market": "aa", "emissions": {"share": 0.05}}
    base.update(kw)
    return firm_from_dict(base)


def test_no_abatement_no_allocation_cost_is_price_times_emissions() -> None:
    mp = make_paths()
    f = firm(emissions={"share": 0.05, "idiosyncratic_vol": 0.1, "seed": 11, "capacity": 5.0})
    r = firm_costs(f, mp)
    # the firm's factor, drawn independently here: mean-one lognormal, path-major
    zf = np.random.default_rng(11).standard_normal((mp.n_paths, len(YEARS)))
    e = 0.05 * mp.bau * np.exp(0.1 * zf - 0.005)[None]
    np.testing.assert_allclose(r.cost, mp.price * e, rtol=1e-12)
    np.testing.assert_allclose(r.total, (mp.price * e).sum(-1), rtol=1e-12)
    assert r.shortfall.all()


def test_full_hedge_removes_price_risk() -> None:
    mp = make_paths()
    need = [8.0, 7.5, 7.0]
    hedges = [{"type": "futures", "year": y, "volume": v} for y, v in zip(YEARS, need,
                                                                          strict=True)]
    f = firm(emissions={"level": 10.0, "annual_change": -0.05, "elasticity": 0.0},
             allocation={"by_year": {2024: 2.0, 2025: 2.0, 2026: 2.025}}, hedges=hedges)
    r = firm_costs(f, mp)
    fwd = mp.price.mean(axis=1)  # fair forward per variant and year
    np.testing.assert_allclose(r.cost, np.broadcast_to((fwd * need)[:, None, :], r.cost.shape),
                               rtol=1e-10)
    for v in VARIANTS:
        assert r.value(v, "sd") < 1e-9 * r.value(v, "mean")
        assert r.value(v, "var_price") < 1e-9 * r.value(v, "mean") ** 2
        # the minimum-variance hedge finds the same volumes and also removes the risk
        np.testing.assert_allclose(r.hedge_mv_free[VARIANTS.index(v)], need, rtol=1e-9)
        np.testing.assert_allclose(r.hedge_mv[VARIANTS.index(v)], need, rtol=1e-9)
        assert r.value(v, "sd_mv_hedged") < 1e-6 * r.value(v, "mean")
        assert r.value(v, "sd_unhedged") > 0.05 * r.value(v, "mean")


def test_var_es_agree_with_direct_computation_on_kept_paths() -> None:
    mp = make_paths(n=3001)
    f = firm(emissions={"share": 0.05, "idiosyncratic_vol": 0.05},
             abatement={"slope": 4.0, "max_share": 0.2}, allocation={"level": 6.0}, bank=2.0)
    r = firm_costs(f, mp)
    for k, v in enumerate(VARIANTS):
        for j, y in enumerate([*YEARS, -1]):
            x = r.total[k] if y == -1 else r.cost[k, :, j]
            srt = np.sort(x)[::-1]
            assert r.value(v, "var95", y) == pytest.approx(np.percentile(x, 95), rel=1e-12)
            assert r.value(v, "var99", y) == pytest.approx(np.percentile(x, 99), rel=1e-12)
            kk = math.ceil(len(x) * 0.025)
            assert r.value(v, "es975", y) == pytest.approx(srt[:kk].mean(), rel=1e-12)
            assert r.value(v, "mean", y) == pytest.approx(x.mean(), rel=1e-12)
            assert r.value(v, "sd", y) == pytest.approx(x.std(ddof=1), rel=1e-12)
            assert r.value(v, "es975", y) >= r.value(v, "var95", y)


def test_var_es_small_sample_by_hand() -> None:
    x = np.arange(1.0, 101.0)  # 1..100
    out = var_es(x)
    assert out["var95"] == pytest.approx(95.05)
    assert out["es975"] == pytest.approx(np.mean([98.0, 99.0, 100.0]))  # ceil(100 * 0.025) = 3


def test_shapley_decomposition_sums_to_the_variance_and_matches_the_price_times_volume_case(
) -> None:
    """Independent price and volume, no allocation: C_y = p_y e_y, whose variance splits in closed
    form into μe²σp² (price), μp²σe² (volume) and σp²σe² (interaction, shared half-half)."""
    mp = make_paths(n=20000, rho=0.0)
    f = firm(emissions={"share": 0.05, "idiosyncratic_vol": 0.3, "capacity": 5.0})
    r = firm_costs(f, mp)
    for k, v in enumerate(VARIANTS):
        for y in [*YEARS, -1]:
            parts = sum(r.value(v, f"var_{m}", y) for m in ("price", "volume", "events")
                        if np.isfinite(r.value(v, f"var_{m}", y)))
            assert parts == pytest.approx(r.value(v, "var_total", y), rel=1e-10)
        if v == "linked_events":
            continue
        for j, y in enumerate(YEARS):
            p, e = mp.price[k, :, j], r.gross[k, :, j]
            mp_, me, sp2, se2 = p.mean(), e.mean(), p.var(ddof=1), e.var(ddof=1)
            price_share = (me**2 * sp2 + sp2 * se2 / 2) / (me**2 * sp2 + mp_**2 * se2 + sp2 * se2)
            got = r.value(v, "var_price", y) / r.value(v, "var_total", y)
            # Monte Carlo error of the share (independence holds only up to sampling error)
            assert got == pytest.approx(price_share, abs=0.02)
            assert 0.15 < got < 0.95  # both factors matter in this case: nothing is "interaction"


def test_shapley_values_of_an_analytic_game() -> None:
    from riskmodel.firm.cost import shapley

    # v(S) = (sum of S)^2 for weights a, b: Shapley(a) = a^2 + ab, Shapley(b) = b^2 + ab
    w = {"a": 2.0, "b": 5.0}
    out = shapley(lambda s: sum(w[k] for k in s) ** 2, ["a", "b"])
    assert out["a"] == pytest.approx(4 + 10) and out["b"] == pytest.approx(25 + 10)
    out3 = shapley(lambda s: float(len(s) == 3), ["x", "y", "z"])  # pure 3-way interaction
    assert all(v == pytest.approx(1 / 3) for v in out3.values())


def test_min_variance_hedge_is_the_regression_slope_and_minimises_variance() -> None:
    mp = make_paths()
    f = firm(emissions={"share": 0.05, "idiosyncratic_vol": 0.08},
             abatement={"slope": 3.0, "curvature": 0.5, "max_share": 0.3})
    r = firm_costs(f, mp)
    for k in range(len(VARIANTS)):
        for j in range(len(YEARS)):
            p, c = mp.price[k, :, j], r.cost_unhedged[k, :, j]
            h = r.hedge_mv_free[k, j]
            assert h == pytest.approx(np.polyfit(p, c, 1)[0], rel=1e-9)
            v0 = np.var(c - h * p)
            assert v0 <= np.var(c - 1.05 * h * p) and v0 <= np.var(c - 0.95 * h * p)
            # bounded: never short, never above the expected purchase
            assert 0 <= r.hedge_mv[k, j] <= r.bought[k, :, j].mean() + 1e-12
        assert r.total_mv[k].var() <= r.total_unhedged[k].var()
    np.testing.assert_allclose(min_variance_hedge(2.0 * mp.price[0] + 3.0, mp.price[0]), 2.0)


def test_hedge_bounds_clip_at_the_net_short_position_and_zero() -> None:
    from riskmodel.firm.cost import bounded_hedge

    h = np.array([-3.0, 1.0, 20.0])
    short = np.array([2.0, 2.0, 2.0])
    np.testing.assert_allclose(bounded_hedge(h, short), [0.0, 1.0, 2.0])
    np.testing.assert_allclose(bounded_hedge(h, short, allow_short=True), [-2.0, 1.0, 2.0])
    np.testing.assert_allclose(bounded_hedge(h, short, max_share=0.25), [0.0, 0.5, 0.5])
    # a firm that is long allowances (net purchase 0) gets no hedge by default
    mp = make_paths(n=2000)
    f = firm(emissions={"share": 0.05, "idiosyncratic_vol": 0.1}, allocation={"level": 30.0})
    r = firm_costs(f, mp)
    assert np.all(r.hedge_mv == 0)


def test_emissions_are_capped_at_capacity() -> None:
    mp = make_paths(n=3000)
    f = firm(emissions={"level": 10.0, "elasticity": 3.0, "idiosyncratic_vol": 0.5,
                        "capacity": 1.1})
    r = firm_costs(f, mp)
    assert r.gross.max() <= 11.0 + 1e-12
    assert (r.gross >= 11.0 - 1e-12).mean() > 0.05  # the cap binds on this wide law


def test_abatement_follows_the_marginal_cost_curve() -> None:
    f = firm(abatement={"slope": 2.0, "curvature": 0.5, "max_share": 0.5})
    p = np.array([0.0, 1.0, 10.0, 40.0])
    a, cost = abatement(f, p, np.full(4, 100.0))
    np.testing.assert_allclose(2.0 * a + 0.5 * a**2, p, atol=1e-12)  # MAC(a) = price
    np.testing.assert_allclose(cost, a**2 + 0.5 * a**3 / 3)
    a, _ = abatement(f, p, np.full(4, 4.0))  # capped at max_share of emissions
    assert a.max() == pytest.approx(2.0)
    lin = firm(abatement={"slope": 4.0})
    a, cost = abatement(lin, p, np.full(4, 100.0))
    np.testing.assert_allclose(a, p / 4.0)
    np.testing.assert_allclose(cost, 2.0 * a**2)


def test_bank_covers_needs_first_and_shortfall_is_flagged() -> None:
    f = firm(emissions={"level": 3.0, "elasticity": 0.0}, allocation={"level": 2.0}, bank=2.5)
    years = [2024, 2025, 2026, 2027]
    price = np.full((1, 4), 10.0)
    pos = position(f, price, np.full((1, 4), 3.0), years)
    np.testing.assert_allclose(pos.bank_used[0], [1.0, 1.0, 0.5, 0.0])
    np.testing.assert_allclose(pos.bought[0], [0.0, 0.0, 0.5, 1.0])
    assert pos.shortfall[0].tolist() == [False, False, True, True]
    np.testing.assert_allclose(pos.cost[0], [0.0, 0.0, 5.0, 10.0])
    # a surplus is banked, or sold at the price
    g = np.array([[1.0, 3.0, 3.0, 3.0]])
    banked = position(firm(allocation={"level": 2.0}, emissions={"share": 0.1}), price, g, years)
    np.testing.assert_allclose(banked.bought[0], [0.0, 0.0, 1.0, 1.0])
    sold = position(firm(allocation={"level": 2.0}, emissions={"share": 0.1}, surplus="sell"),
                    price, g, years)
    np.testing.assert_allclose(sold.cost[0], [-10.0, 10.0, 10.0, 10.0])


def test_penalty_without_make_good_caps_the_price() -> None:
    price = np.array([[5.0, 50.0]])
    g = np.full((1, 2), 1.0)
    capped = position(firm(penalty={"amount": 20.0}), price, g, [2024, 2025])
    np.testing.assert_allclose(capped.cost[0], [5.0, 20.0])
    made_good = position(firm(penalty={"amount": 20.0, "make_good": True}), price, g,
                         [2024, 2025])
    np.testing.assert_allclose(made_good.cost[0], [5.0, 50.0])


def test_output_based_allocation_ignores_own_abatement() -> None:
    f = firm(allocation={"output_based": 0.9}, abatement={"slope": 1.0, "max_share": 0.05})
    pos = position(f, np.full((1, 1), 100.0), np.full((1, 1), 10.0), [2024])
    assert pos.allocation[0, 0] == pytest.approx(9.0)
    assert pos.abatement[0, 0] == pytest.approx(0.5)
    assert pos.bought[0, 0] == pytest.approx(0.5)


def test_idiosyncratic_stream_is_reproducible_and_common_to_variants() -> None:
    f = firm(emissions={"share": 0.05, "idiosyncratic_vol": 0.2,
                        "idiosyncratic_persistence": 0.5})
    a = idiosyncratic_factor(f, 1000, 3)
    b = idiosyncratic_factor(f, 50, 3)
    np.testing.assert_array_equal(a[:50], b)
    big = idiosyncratic_factor(f, 200_000, 2)
    assert big.mean() == pytest.approx(1.0, abs=3 * 0.2 / math.sqrt(200_000) * 1.1)
    assert np.corrcoef(np.log(big[:, 0]), np.log(big[:, 1]))[0, 1] == pytest.approx(0.5, abs=0.01)
    mp = make_paths(n=300)
    r = firm_costs(f, mp)
    np.testing.assert_allclose(r.gross[0] / mp.bau[0], r.gross[2] / mp.bau[2])


def test_reporting_currency_scales_money_not_volumes() -> None:
    mp = make_paths(n=500)
    f = firm(emissions={"share": 0.05}, abatement={"slope": 5.0})
    a, b = firm_costs(f, mp), firm_costs(f, mp, fx=1300.0, currency="KRW")
    np.testing.assert_allclose(b.cost, 1300.0 * a.cost)
    np.testing.assert_allclose(b.value("linked", "es975"), 1300.0 * a.value("linked", "es975"))
    np.testing.assert_allclose(b.hedge_mv, a.hedge_mv, rtol=1e-9)
    np.testing.assert_allclose(b.abatement, a.abatement)


def test_level_mode_scales_with_bau_elasticity() -> None:
    mp = make_paths(n=2000)
    f = firm(emissions={"level": 10.0, "annual_change": 0.1, "elasticity": 1.0, "capacity": 5.0})
    r = firm_costs(f, mp)
    rel = mp.bau[0] / mp.bau[0].mean(axis=0)
    np.testing.assert_allclose(r.gross[0], 10.0 * 1.1 ** np.arange(3) * rel)


def test_output_driver_follows_the_output_array() -> None:
    from riskmodel.errors import InputError

    mp = make_paths(n=500)
    f = firm(emissions={"level": 4.0, "driver": "output", "elasticity": 0.5})
    with pytest.raises(InputError, match="no 'output'") as ei:
        firm_costs(f, mp)
    assert ei.value.field == "emissions.driver"
    rng = np.random.default_rng(3)
    mp.output = np.broadcast_to(np.exp(0.03 * rng.standard_normal((500, 3))), mp.bau.shape)
    r = firm_costs(f, mp)
    rel = mp.output[0] / mp.output[0].mean(axis=0)
    np.testing.assert_allclose(r.gross[1], 4.0 * rel**0.5)


def test_shapley_shares_match_the_population_closed_form_within_monte_carlo_error() -> None:
    """Independent lognormal price P and volume V, cost P·V: Var = μV²σP² + μP²σV² + σP²σV², and
    the Shapley price share is (μV²σP² + σP²σV²/2) / Var. The estimate on 40,000 paths lies
    within 4 Monte Carlo standard errors (from 20 batches) of the population value."""
    from riskmodel.firm.cost import variance_shapley

    n, batches = 40_000, 20
    rng = np.random.default_rng(2024)
    sp, sv, mp_, mv = 0.4, 0.15, 30.0, 10.0
    p = mp_ * np.exp(sp * rng.standard_normal((n, 1)) - sp**2 / 2)
    bau = 200.0 * np.exp(sv * rng.standard_normal((n, 1)) - sv**2 / 2)
    paths = MarketPaths(["autarky", "linked"], [2024], np.stack([p, p]), np.stack([bau, bau]),
                        "EUR", "aa")
    f = firm(emissions={"share": 0.05, "idiosyncratic_vol": 0.0, "capacity": 5.0})
    r = firm_costs(f, paths)
    vp, vv = mp_**2 * (math.exp(sp**2) - 1), mv**2 * (math.exp(sv**2) - 1)
    total = mv**2 * vp + mp_**2 * vv + vp * vv
    want = (mv**2 * vp + vp * vv / 2) / total
    got = r.value("autarky", "var_price", 2024) / r.value("autarky", "var_total", 2024)

    def share(pb: np.ndarray, vb: np.ndarray) -> float:
        parts = variance_shapley(lambda price, volume: price * volume,
                                 {"price": pb, "volume": vb})
        return float(parts["price"][0] / (parts["price"][0] + parts["volume"][0]))

    e = 0.05 * bau
    b = [share(pb, vb) for pb, vb in zip(np.split(p, batches), np.split(e, batches),
                                         strict=True)]
    se = np.std(b, ddof=1) / math.sqrt(batches)
    assert abs(got - want) < 4 * se
    assert got == pytest.approx(share(p, e), rel=1e-9)  # the report's number is this estimator
    assert 0.6 < want < 0.95


def test_zero_hedge_and_zero_abatement_share_are_a_baseline_as_written() -> None:
    """A hedge of ratio or volume 0 and an abatement curve capped at max_share 0 are accepted
    and act as written: the costs of a firm with none (a no-hedge, no-abatement baseline, e.g.
    one row of a comparison of hedge ratios)."""
    mp = make_paths(n=500)
    base = firm()
    zero = firm(hedges=[{"type": "futures", "year": 2024, "ratio": 0.0},
                        {"type": "futures", "year": 2025, "volume": 0.0}],
                abatement={"slope": 60.0, "max_share": 0.0})
    a, b = firm_costs(base, mp), firm_costs(zero, mp)
    np.testing.assert_array_equal(a.total, b.total)
    np.testing.assert_array_equal(a.cost, b.cost)
