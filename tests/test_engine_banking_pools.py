"""Banked plain pools (docs/BANKING.md §7.4): the pool's window is its longest member's, an
expiring member's cumulative requirement frozen at its window end, and year-end holdings keep
every member at its own bound plus its c-share of the pool's bank above the summed bounds.
Run on the shipped scenarios with the recommended block added (few paths)."""

from __future__ import annotations

import numpy as np
import pytest
from test_engine_banking import _check_ledger, _pool, shipped, shipped_dict

from riskmodel.banking.hotelling import pool_price, price_map
from riskmodel.linking import M_C, M_CEIL, M_ETA, M_FLOOR, M_FX, M_S, market_array
from riskmodel.sim import banking_step as BK
from riskmodel.sim import layout as L
from riskmodel.sim.engine import simulate
from riskmodel.sim.resolve import resolve
from riskmodel.sim.scenario import scenario_from_dict

BANKING = {"horizon": 10, "carry": 0.0}


def _bounds(rs) -> np.ndarray:
    """Year-end bank bounds ℓ [market, year] (Mt)."""
    return np.array(
        [[BK.year_end_bound(rs.bk, i, y, rs.years) for y in range(rs.years)] for i in range(rs.n)]
    )


def _top_bounds(rs) -> np.ndarray:
    """Strictest bound of each year's window ℓ̂ [market, year] (Mt)."""
    return np.array(
        [[BK.window_top_bound(rs.bk, i, y, rs.years) for y in range(rs.years)] for i in range(rs.n)]
    )


def _holdings(pool: np.ndarray, ell: np.ndarray, top: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The convention written out: pool [path, year] -> holdings [path, market, year]."""
    s = (w / w.sum())[None, :, None]
    lo, hi = ell[None], top[None]
    b = pool[:, None, :]
    slo, shi = ell.sum(axis=0)[None, None, :], top.sum(axis=0)[None, None, :]
    theta = (b - slo) / np.where(shi > slo, shi - slo, 1.0)
    return np.where(
        b >= shi, hi + s * (b - shi), np.where(b >= slo, lo + theta * (hi - lo), lo + s * (b - slo))
    )


def test_pool_window_is_the_longest_members_with_frozen_requirement():
    """china_korea in 2024: China's window is 10 years, Korea's 3 (Phase 3 expiry). The pool
    price equals hotelling.pool_price over China's window, Korea's n̄ padded with zeros and its
    bound held at its window-end value (its cumulative requirement frozen), to 1e-10."""
    s = shipped("china_korea", banking=BANKING)
    rs = resolve(s)
    bk, n = rs.bk, rs.n
    hm = int(bk[0, L.BK_HM])
    o_nbar, _, o_m1, o_ell, _ = L.bk_offsets(rs.years, hm)
    m1 = [int(bk[i, o_m1]) for i in range(n)]
    assert m1[0] == 10 and m1[1] < m1[0], m1
    mx = max(m1)
    nbar = np.zeros((n, mx))
    ell = np.zeros((n, mx))
    for i in range(n):
        nbar[i, : m1[i]] = bk[i, o_nbar : o_nbar + m1[i]]
        ell[i, : m1[i]] = bk[i, o_ell : o_ell + m1[i]]
        ell[i, m1[i] :] = ell[i, m1[i] - 1]
    c, fx = rs.mp[:, L.C], rs.mp[:, L.FX]
    mkt = market_array(n)
    mkt[:, M_C], mkt[:, M_FX], mkt[:, M_ETA], mkt[:, M_S] = c, fx, 1.0, 1.0
    mkt[:, M_FLOOR], mkt[:, M_CEIL] = 0.0, np.inf
    bank_obs = bk[:, L.BK_B0].copy()
    p_obs = np.array(
        [
            price_map(bank_obs[i], nbar[i, : m1[i]].copy(), ell[i, : m1[i]].copy(), c[i], 0.0)[0]
            for i in range(n)
        ]
    )
    kstars = set()
    for dbank in (np.zeros(2), np.array([-300.0, 20.0]), np.array([400.0, -30.0])):
        ok, price, x = _pool(bk, rs.years, p_obs, bank_obs, dbank, mkt.copy(), rs.ends, hm)
        assert ok
        want, k = pool_price(bank_obs + dbank, nbar, ell, c / fx, 0.0)
        kstars.add(k)
        np.testing.assert_allclose(price * fx, want, rtol=1e-10)
        assert abs(x.sum()) < 1e-9 * np.abs(x).max()
    # some bank split exhausts the pool after Korea's window: the frozen part is exercised
    assert max(kstars) >= m1[1], kstars


def _no_quota(n_links: int, n: int, cap: float = np.inf, share: float = -1.0, state: int = 0):
    """The link arguments of ``pool_holdings``: caps (both directions, both states), no fee,
    a quota share of the importer's supply (-1: none), permit units 1, supply 100 each (one
    variant, v = 0)."""
    lpar = np.zeros((n_links, 8))
    lpar[:, [0, 1, 4, 5]] = cap
    lk_f = np.full((n_links, 3), -1.0)
    lk_f[:, L.Q_SHARE if state == 0 else L.RQ_SHARE] = share
    lk_f[:, L.START_DAY] = 0.0
    return lpar, lk_f, np.ones(n), np.full((1, n), 100.0), 0


def _call_holdings(bk, n_years, ends, lstv, plain, wgt, own, links=None) -> np.ndarray:
    """``BK.pool_holdings`` for year 0 with fresh scratch arrays; returns the net imports xl
    (links: the link arguments, default ``_no_quota``)."""
    n = own.shape[0]
    scratch = [np.zeros(n, dtype=np.int64) for _ in range(3)] + [np.zeros(n) for _ in range(4)]
    xl = np.zeros(n)
    BK.pool_holdings(bk, 0, n_years, ends, lstv, plain, wgt, own, *scratch, xl,
                     *(links if links is not None else _no_quota(ends.shape[0], n)))
    return xl


def test_pool_holdings_closed_form():
    """Holdings ℓ_i + s_i (ΣB - Σℓ) (one-year windows, so ℓ̂ = ℓ): Σ = pool bank, Σ flows = 0,
    no member below its bound while the pool is above; below, each carries its c-share of the
    shortfall. A component with a restricted link or a non-banking member keeps the solver's
    flows (NaN)."""
    n_years = 1
    hm = 1
    bk = np.zeros((3, L.bk_offsets(n_years, hm)[-1]))
    bk[:, L.BK_HM] = hm
    bk[:, L.BK_ON] = 1.0
    _, _, o_m1, o_ell, _ = L.bk_offsets(n_years, hm)
    bk[:, o_m1] = 1
    bk[:, o_ell] = [0.0, -30.0, 5.0]
    ends = np.array([[0, 1], [1, 2]], dtype=np.int64)
    wgt = np.array([6.0, 1.0, 3.0])
    for own in (np.array([100.0, -80.0, 0.0]), np.array([-50.0, 10.0, 0.0])):
        xl = _call_holdings(bk, n_years, ends, np.zeros(2, dtype=np.int64),
                            np.ones(2, dtype=np.bool_), wgt, own)
        hold = own + xl
        ell = bk[:, o_ell]
        excess = own.sum() - ell.sum()
        np.testing.assert_allclose(hold, ell + wgt / wgt.sum() * excess, rtol=0, atol=1e-12)
        assert abs(xl.sum()) < 1e-12
        if excess >= 0:
            assert np.all(hold >= ell)
        else:
            assert np.all(hold < ell)
    xl = _call_holdings(bk, n_years, ends, np.zeros(2, dtype=np.int64),
                        np.array([True, False]), wgt, np.ones(3))
    assert np.isnan(xl).all()
    bk[2, L.BK_ON] = 0.0
    xl = _call_holdings(bk, n_years, ends, np.array([0, 2], dtype=np.int64),
                        np.array([True, True]), wgt, np.ones(3))
    # component {0, 1}: pool bank 2, bounds 0 and -30, excess 32 shared 6:1
    np.testing.assert_allclose(xl[:2], [6 / 7 * 32.0 - 1.0, -30.0 + 32.0 / 7 - 1.0])
    assert np.isnan(xl[2])


def test_pool_holdings_keep_a_phase_end_repayment():
    """Two-year windows: market 1 may borrow 30 this year but must be back to 0 next year
    (ℓ̂_1 = 0). It holds its repayment whenever the pool has it, and borrows only when the pool
    does, in proportion to its room (θ); the closed form ``_holdings`` agrees."""
    n_years, hm = 1, 2
    bk = np.zeros((3, L.bk_offsets(n_years, hm)[-1]))
    bk[:, L.BK_HM] = hm
    bk[:, L.BK_ON] = 1.0
    _, _, o_m1, o_ell, _ = L.bk_offsets(n_years, hm)
    bk[:, o_m1] = 2
    bk[:, o_ell : o_ell + 2] = [[0.0, 0.0], [-30.0, 0.0], [5.0, 5.0]]
    ell, top = np.array([[0.0], [-30.0], [5.0]]), np.array([[0.0], [0.0], [5.0]])
    ends = np.array([[0, 1], [1, 2]], dtype=np.int64)
    wgt = np.array([6.0, 1.0, 3.0])
    for own, want in (
        (np.array([100.0, -80.0, 5.0]), [12.0, 2.0, 11.0]),
        (np.array([20.0, -35.0, 5.0]), [0.0, -15.0, 5.0]),
        (np.array([-20.0, -10.0, 0.0]), [-3.0, -30.5, 3.5]),
    ):
        xl = _call_holdings(bk, n_years, ends, np.zeros(2, dtype=np.int64),
                            np.ones(2, dtype=np.bool_), wgt, own)
        np.testing.assert_allclose(own + xl, want, rtol=0, atol=1e-12)
        np.testing.assert_allclose(
            _holdings(np.array([[own.sum()]]), ell, top, wgt)[0, :, 0], want, rtol=0, atol=1e-12
        )
        assert abs(xl.sum()) < 1e-12


@pytest.fixture(scope="module")
def china_korea():
    s = shipped("china_korea", paths=40, ppc=40, banking=BANKING)
    return simulate(s), resolve(s)


def test_banked_link_price_lies_between_the_members_own(china_korea):
    """With banking on, china_korea's linked price lies between the members' own (banked
    autarky) prices in every year: China's rises and Korea's falls (each in its own currency).
    The shortest-window pool lowered both (China -3.5 %, Korea -28 % at 2025)."""
    r, rs = china_korea
    t = r.table
    years = sorted(set(t.year) - {-1})
    assert len(years) == rs.years
    for y in years + [-1]:
        p = t[(t.statistic == "price_mean") & (t.year == y) & (t.market != "total")]
        p = p.pivot(index="market", columns="variant", values="value")
        move = (p["linked"] - p["autarky"]) / p["autarky"]
        assert move["china_ets"] > 1e-6 and move["k_ets"] < -1e-6, (y, move)
    # and on every path at every compliance date: never both up, never both down
    p = r.annual["price"]  # [variant, path, market, year]
    up = p[1] > p[0] * (1 + 1e-12)
    down = p[1] < p[0] * (1 - 1e-12)
    assert not (up.all(axis=1) | down.all(axis=1)).any()


def _pool_checks(r, rs, variants, plain_variants):
    """Non-compliance only where the pool's bank is at or below its summed bound; in plain
    variants every member holds exactly what the convention (``_holdings``) gives it."""
    a = r.annual
    ell = _bounds(rs)  # [market, year]
    w = rs.mp[:, L.C] / rs.mp[:, L.FX]
    for v in variants:
        bank, short = a["bank"][v], a["noncompliance"][v]  # [path, market, year]
        scale = np.abs(bank).max() + np.abs(a["emissions"][v]).max()
        pool = (bank - short).sum(axis=1)  # the pool's bank before holding at the bounds
        excess = pool - ell.sum(axis=0)[None, :]
        assert not (short.sum(axis=1) > 0)[excess > 1e-9 * scale].any(), v
        if v in plain_variants:
            want = _holdings(pool, ell, _top_bounds(rs), w)
            np.testing.assert_allclose(bank, np.maximum(want, ell[None]), rtol=0, atol=1e-9 * scale)


def test_pool_holdings_respect_each_members_bound(china_korea):
    r, rs = china_korea
    _check_ledger(r, rs)
    assert not r.annual["noncompliance"].any()
    _pool_checks(r, rs, variants=(0, 1, 2), plain_variants=(1,))


def test_quota_pair_holdings_are_the_pool_convention_within_the_quota():
    """A pair on one link restricted by a quota in its current (event) state holds the pool
    convention (ℓ_i + s_i (ΣB - Σℓ)) when the reallocation fits the quota; otherwise a's net
    imports stop at the quota (a fixed cap, or a share of the importer's supply) and the rest
    shows below a's bound. A quota of the link's normal state (the design) or a fee keeps the
    solver's flows (NaN)."""
    n_years = hm = 1
    bk = np.zeros((2, L.bk_offsets(n_years, hm)[-1]))
    bk[:, L.BK_HM] = hm
    bk[:, L.BK_ON] = 1.0
    _, _, o_m1, o_ell, _ = L.bk_offsets(n_years, hm)
    bk[:, o_m1] = 1
    bk[:, o_ell] = [0.0, -30.0]
    ends = np.array([[0, 1]], dtype=np.int64)
    wgt = np.array([3.0, 1.0])
    own = np.array([-40.0, 60.0])  # pool bank 20, bounds 0 and -30: excess 50
    want = np.array([0.0, -30.0]) + wgt / wgt.sum() * 50.0  # 37.5, -17.5: a imports 77.5

    def call(state, links):
        return _call_holdings(bk, n_years, ends, np.array([state], dtype=np.int64),
                              np.array([False]), wgt, own, links)

    def restricted(cap=np.inf, share=-1.0):
        lpar, *rest = _no_quota(1, 2, cap=cap, share=share, state=1)
        lpar[:, [0, 1]] = np.inf  # the normal state is plain
        return lpar, *rest

    np.testing.assert_allclose(own + call(1, restricted(cap=100.0)), want, rtol=0, atol=1e-12)
    xl = call(1, restricted(cap=50.0))
    np.testing.assert_allclose(xl, [50.0, -50.0], rtol=0, atol=1e-12)  # b -> a at its cap
    assert own[0] + xl[0] >= 0.0 and own[1] + xl[1] >= -30.0
    # a share of the importer's supply (100): 0.3 -> 30
    xl = call(1, restricted(share=0.3))
    np.testing.assert_allclose(xl, [30.0, -30.0], rtol=0, atol=1e-12)
    assert own[0] + xl[0] < 0.0  # a is left 10 below its bound: non-compliance
    # a quota of the design (normal state), fixed or a share: the banks stay apart
    assert np.isnan(call(0, _no_quota(1, 2, cap=100.0))).all()
    assert np.isnan(call(1, _no_quota(1, 2, cap=100.0))).all()
    assert np.isnan(call(0, _no_quota(1, 2, share=0.3))).all()
    links = restricted(cap=50.0)
    links[0][0, 6] = 1.0  # a fee a -> b in the restricted state
    assert np.isnan(call(1, links)).all()


@pytest.fixture(scope="module")
def regulatory_events():
    s = scenario_from_dict(shipped_dict("regulatory_events", paths=30, ppc=30, banking=BANKING))
    return simulate(s), resolve(s)


def test_regulatory_events_pool_holdings(regulatory_events):
    """regulatory_events (quota, suspension, exemption): the ledger holds and no member is
    non-compliant where the pool's bank is above its summed bound. Under a binding quota
    (restricted state) members keep the solver's flows (BANKING.md §7.4)."""
    r, rs = regulatory_events
    _check_ledger(r, rs)
    _pool_checks(r, rs, variants=(0, 1), plain_variants=(1,))
    assert not r.annual["noncompliance"][:2].any()


def test_regulatory_events_linked_events_pool_holdings(regulatory_events):
    """With the events (quota, suspension, exemption): no member is short where the pool's bank
    is above its summed bound, though a restricted state keeps the solver's flows that year;
    the shortest-window pool with the design note's flows left Korea short by up to 70 Mt
    at its Phase 3 repayment (3 of 30 paths)."""
    r, rs = regulatory_events
    _pool_checks(r, rs, variants=(2,), plain_variants=())
    assert not r.annual["noncompliance"].any()


def test_a_pair_the_quota_cannot_pool_prices_on_its_own_maps():
    """china_korea_one_way as shipped (banking at the defaults): Korea may buy Chinese permits
    up to a quota but not sell them. A quota of the design keeps the banks apart, so each
    member prices on its own map and the link clears this year's flow: where Korea is the
    cheaper side nothing flows and China's linked price is its banked autarky price, and no
    member is ever short (the exhaustion-year rule priced China below its own requirement and
    left it short in 41 % of path-years at 100 paths)."""
    s = scenario_from_dict(shipped_dict("china_korea_one_way", paths=40, ppc=20,
                                        banking="file"))
    r, rs = simulate(s), resolve(s)
    _check_ledger(r, rs)
    assert not r.annual["noncompliance"].any()
    a = r.annual
    c, k = rs.ids.index("china_ets"), rs.ids.index("k_ets")
    fx = rs.mp[:, L.FX]
    kor_cheaper = a["price"][1, :, k, :] * fx[k] < a["price"][1, :, c, :] * fx[c] - 1e-9
    assert kor_cheaper.sum() >= 5  # the case occurs on these paths
    np.testing.assert_allclose(a["price"][1, :, c, :][kor_cheaper],
                               a["price"][0, :, c, :][kor_cheaper], rtol=1e-12)


def test_korean_borrowing_is_the_pools_and_turning_it_off_restores_between():
    """china_korea as shipped (banking at the defaults, r = 3.12 %/yr, 2024-2026): in 2026
    (Phase 4, where K-ETS firms may borrow 15 % again) the pool borrows through Korea's
    allowance, so both members' prices fall on linking (the design note's "most permissive
    member" rule: borrowed permits free bought ones, so a member's borrowing is the pool's;
    docs/BANKING.md §7.4). With Korea's borrowing off (``borrowing_share: 0``) the linked price
    lies between the banked autarky prices in every year."""
    # 800 paths: with the volatility-level draws (on by default) China's fall in 2026, about
    # 1.2-1.7 CNY/t, is within the noise of 80 paths
    d = shipped_dict("china_korea", paths=800, ppc=200, banking="file")
    d["markets"][0]["cap"] = {**d["markets"][0].get("cap", {}), "degree": 1}
    r = simulate(scenario_from_dict(d))
    a = r.annual
    c, k = 0, 1
    p = a["price"].mean(axis=1)  # variant, market, year
    b = a["bank"].mean(axis=1)
    assert b[1, k, 2] < b[0, k, 2] - 10.0  # Korea borrows for the pool: > 10 Mt more
    assert p[1, c, 2] < p[0, c, 2] and p[1, k, 2] < p[0, k, 2]  # both prices fall in 2026
    d["markets"][1]["banking"] = {"borrowing_share": 0.0}
    r = simulate(scenario_from_dict(d))
    p = r.annual["price"].mean(axis=1)
    for y in range(3):
        up_c, up_k = p[1, c, y] > p[0, c, y], p[1, k, y] > p[0, k, y]
        assert up_c != up_k, (y, p[:, :, y])
    assert r.annual["bank"][:, :, k, :].min() >= -1e-9  # Korea never borrows
