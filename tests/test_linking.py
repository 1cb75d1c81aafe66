"""The link solver against the identities of MODEL.md §4 and §8 and closed-form two-market cases.

Every identity is checked per draw to 1e-9 (relative to the price scale) on fixed-seed draws;
general topologies are checked against a convex-QP reference in ``test_linking_qp.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from riskmodel.errors import InputError
from riskmodel.linking import (
    FLAG_CEILING,
    FLAG_EXPORT_QUOTA,
    FLAG_FLOOR,
    FLAG_IMPORT_QUOTA,
    FLAG_RESERVE_EXHAUSTED,
    LINK_RESTRICTED,
    LINK_SUSPENDED,
    LO_FLOW,
    LO_GAP,
    LO_SHADOW,
    M_C,
    M_CEIL,
    M_ETA,
    M_EXP_CAP,
    M_FEE_EXP,
    M_FEE_IMP,
    M_FLOOR,
    M_FX,
    M_IMP_CAP,
    M_P_AUT,
    M_RES_DOWN,
    M_RES_UP,
    M_S,
    N_LINK_OUT,
    N_OUT,
    O_AUTARKY,
    O_EMIS,
    O_FLOW,
    O_GAIN,
    O_HUB,
    O_PRICE,
    O_PRICE_NUM,
    O_RENT,
    O_RESERVE,
    O_SHADOW,
    STATUS_INFEASIBLE,
    STATUS_OK,
    STATUS_WORKSPACE,
    Link,
    LinkArrays,
    Solution,
    compile_topology,
    effective_collar,
    market_array,
    solve,
    solve_step,
    split_gains_from_samples,
    validate_collars,
    validate_markets,
    workspace,
)
from riskmodel.linking.exchange_rate import two_market_exchange
from riskmodel.linking.fast_paths import collar_root, pool_root
from riskmodel.linking.fee import two_market_fee
from riskmodel.linking.network import _solve_general
from riskmodel.linking.quota import two_market_quota
from riskmodel.linking.topology import iwork_path_slot

TOL = 1e-9


def markets(p: np.ndarray, c: np.ndarray) -> np.ndarray:
    m = market_array(len(p))
    m[:, M_P_AUT] = p
    m[:, M_C] = c
    return m


def close(a: np.ndarray | float, b: np.ndarray | float, scale: float = 100.0) -> None:
    np.testing.assert_allclose(a, b, rtol=0, atol=TOL * scale)


# ---- unrestricted pool ---------------------------------------------------------------------


def test_weighted_average_price_and_variance() -> None:
    rng = np.random.default_rng(1)
    n, draws = 4, 300
    c = rng.uniform(0.2, 3.0, n)
    cov = np.array([[1.0, 0.3, 0.1, 0.0], [0.3, 1.0, 0.5, 0.2], [0.1, 0.5, 1.0, 0.4],
                    [0.0, 0.2, 0.4, 1.0]]) * 100.0
    p = rng.multivariate_normal([30, 20, 50, 10], cov, size=draws)
    w = c / c.sum()
    pl = np.empty(draws)
    for d in range(draws):
        sol = solve(markets(p[d], c))
        assert sol.status == STATUS_OK
        q = sol.out[:, O_PRICE]
        close(q, w @ p[d])  # every market trades at p^L = sum_i w_i p_i
        close(sol.out[:, O_FLOW], c * (p[d] - w @ p[d]))  # x_i = c_i (p_i - p^L)
        close(sol.out[:, O_EMIS].sum(), 0.0)  # sum_i E_i = sum_i S_i
        pl[d] = q[0]
        m = markets(p[d], c)
        m[:, M_FLOOR] = -1e6  # a collar that never binds: the breakpoint path, same answer
        close(solve(m).out[:, O_PRICE], q)
    sample_cov = np.cov(p, rowvar=False)
    np.testing.assert_allclose(pl.var(ddof=1), w @ sample_cov @ w, rtol=1e-9)


def test_two_market_gains_ratio_and_split() -> None:
    rng = np.random.default_rng(2)
    c = np.array([0.7, 2.3])
    p = rng.normal([25.0, 15.0], [6.0, 3.0], size=(200, 2))
    gains = np.empty((200, 2))
    q = np.empty((200, 2))
    for d in range(200):
        out = solve(markets(p[d], c)).out
        gains[d] = out[:, O_GAIN]
        q[d] = out[:, O_PRICE]
        close(out[:, O_AUTARKY], p[d])
    np.testing.assert_allclose(gains[:, 0] / gains[:, 1], c[1] / c[0], rtol=1e-9)
    effort, risk = split_gains_from_samples(c, p, q)
    np.testing.assert_allclose(effort + risk, gains.mean(axis=0), rtol=1e-9)
    # E[G_1] proportional to (mu_1 - mu_2)^2 + s_1^2 + s_2^2 - 2 cov (sample moments, ddof 0)
    d12 = p[:, 0] - p[:, 1]
    m = (p[:, 0].mean() - p[:, 1].mean()) ** 2 + p[:, 0].var() + p[:, 1].var() - 2 * np.cov(
        p[:, 0], p[:, 1], ddof=0)[0, 1]
    np.testing.assert_allclose(m, (d12**2).mean(), rtol=1e-9)
    k = 0.5 * c[0] * (c[1] / c.sum()) ** 2
    np.testing.assert_allclose(gains[:, 0].mean(), k * m, rtol=1e-9)


# ---- quotas ------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["market", "link"])
def test_quota_gap_is_shadow_price_and_gains_fall(where: str) -> None:
    rng = np.random.default_rng(3)
    for _ in range(30):
        p = rng.uniform(5, 60, 2)
        c = rng.uniform(0.3, 3.0, 2)
        imp = int(np.argmax(p))
        total = []
        for quota in np.linspace(rng.uniform(0.0, 40.0), 0.0, 6):
            m = markets(p, c)
            if where == "market":
                m[imp, M_IMP_CAP] = quota
                sol = solve(m)
            else:
                sol = solve(m, compile_topology(2, [Link(0, 1, quota_ab=quota, quota_ba=quota)]))
            ref = two_market_quota(p[0], p[1], c[0], c[1], quota)
            out = sol.out
            close(out[:, O_PRICE], [ref.q1, ref.q2])
            close(out[:, O_FLOW], [ref.x1, ref.x2])
            gap = out[imp, O_PRICE] - out[1 - imp, O_PRICE]
            assert gap >= -TOL
            shadow = out[imp, O_SHADOW] if where == "market" else sol.lout[0, LO_SHADOW]
            close(shadow, gap)
            close(shadow, ref.shadow)
            if where == "market":
                close(out[imp, O_RENT], ref.rent)
            if ref.shadow > 1e-9:
                assert sol.flags[imp] & FLAG_IMPORT_QUOTA
            total.append(out[:, O_GAIN].sum())
        assert np.all(np.diff(total) <= 1e-9)  # tighter quota, smaller total gains


def test_export_quota() -> None:
    m = markets(np.array([10.0, 40.0]), np.array([1.0, 1.0]))
    m[0, M_EXP_CAP] = 5.0
    sol = solve(m)
    close(sol.out[:, O_FLOW], [-5.0, 5.0])
    close(sol.out[0, O_SHADOW], sol.out[1, O_PRICE] - sol.out[0, O_PRICE])
    assert sol.flags[0] & FLAG_EXPORT_QUOTA


# ---- fees --------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["market", "link"])
def test_fee_gap_exactly_t(where: str) -> None:
    rng = np.random.default_rng(4)
    inside = 0
    for _ in range(60):
        p = rng.uniform(5, 40, 2)
        c = rng.uniform(0.3, 3.0, 2)
        t = rng.uniform(0.0, 10.0)
        m = markets(p, c)
        if where == "market":
            m[:, M_FEE_IMP] = t  # the importer pays
            sol = solve(m)
        else:
            sol = solve(m, compile_topology(2, [Link(0, 1, fee_ab=t, fee_ba=t)]))
        ref = two_market_fee(p[0], p[1], c[0], c[1], t)
        out = sol.out
        close(out[:, O_PRICE], [ref.q1, ref.q2])
        close(out[:, O_FLOW], [ref.x1, ref.x2])
        if abs(p[0] - p[1]) > t:
            imp = int(np.argmax(p))
            close(out[imp, O_PRICE] - out[1 - imp, O_PRICE], t)
        else:
            inside += 1
            assert out[0, O_FLOW] == 0.0 and out[1, O_FLOW] == 0.0
            close(out[:, O_PRICE], p)
    assert inside > 5


# ---- exchange rates ----------------------------------------------------------------------


def test_exchange_rate() -> None:
    rng = np.random.default_rng(5)
    for _ in range(40):
        p = rng.uniform(5, 40, 2)
        c = rng.uniform(0.3, 3.0, 2)
        tau = rng.uniform(0.5, 1.5)
        la = compile_topology(2, [Link(0, 1, exchange_rate=tau)])
        close(la.s, [1.0, tau])
        m = markets(p, c)
        m[:, M_S] = la.s
        sol = solve(m, la)
        ref = two_market_exchange(p[0], p[1], c[0], c[1], tau)
        out = sol.out
        close(out[:, O_PRICE], [ref.q1, ref.q2])
        close(out[1, O_PRICE], tau * out[0, O_PRICE])  # p_j = tau p_i while trading
        flow_of_2 = -out[1, O_FLOW]  # permits of market 2 moved to market 1
        close(out[:, O_EMIS].sum(), (tau - 1.0) * flow_of_2)
        close(out[0, O_FLOW], tau * flow_of_2)
        close(solve(m).out[:, O_PRICE], out[:, O_PRICE])  # pool with the same s


def test_fx_equalises_prices_in_numeraire() -> None:
    m = markets(np.array([20.0, 3000.0]), np.array([1.0, 0.01]))
    m[:, M_FX] = [1.0, 0.01]  # market 2 quotes in a currency worth 1/100 of the numeraire
    out = solve(m).out
    close(out[0, O_PRICE_NUM], out[1, O_PRICE_NUM])
    close(out[1, O_PRICE], 100.0 * out[0, O_PRICE], scale=1e4)
    close(out[:, O_FLOW].sum(), 0.0)


# ---- collars -----------------------------------------------------------------------------


def test_effective_collar_wider_never_binds() -> None:
    rng = np.random.default_rng(6)
    for _ in range(200):
        p = rng.uniform(-10, 90, 2)
        c = rng.uniform(0.3, 3.0, 2)
        m = markets(p, c)
        m[:, M_FLOOR] = [10.0, 5.0]  # market 0's collar [10, 50] is nested in
        m[:, M_CEIL] = [50.0, 80.0]  # market 1's wider collar [5, 80]
        f, k = effective_collar(m)
        assert (f, k) == (10.0, 50.0)
        sol = solve(m)
        q = sol.out[:, O_PRICE]
        pl = (c @ p) / c.sum()
        close(q, np.clip(pl, f, k))
        assert not sol.flags[1] & (FLAG_FLOOR | FLAG_CEILING)
        close(sol.out[1, O_RESERVE], 0.0)
        close(sol.out[:, O_EMIS].sum(), sol.out[:, O_RESERVE].sum())


def test_finite_reserve_then_price_rises() -> None:
    # autarky 60 above a ceiling of 40 with 10 Mt of reserve and c = 1: 10 Mt sold, price 50
    m = markets(np.array([60.0]), np.array([1.0]))
    m[0, M_CEIL] = 40.0
    m[0, M_RES_UP] = 10.0
    sol = solve(m)
    close(sol.out[0, O_PRICE], 50.0)
    close(sol.out[0, O_RESERVE], 10.0)
    assert sol.flags[0] & FLAG_RESERVE_EXHAUSTED and sol.flags[0] & FLAG_CEILING
    m[0, M_RES_UP] = 30.0
    sol = solve(m)
    close(sol.out[0, O_PRICE], 40.0)
    close(sol.out[0, O_RESERVE], 20.0)
    assert not sol.flags[0] & FLAG_RESERVE_EXHAUSTED
    # floor with withholding
    m = markets(np.array([2.0, 4.0]), np.array([1.0, 1.0]))
    m[0, M_FLOOR] = 8.0
    m[0, M_RES_DOWN] = 3.0
    sol = solve(m)  # pool: 2 + 4 - 2P + withheld = 0 ... withholding 3 at most -> P = 4.5 < 8
    close(sol.out[:, O_PRICE], [4.5, 4.5])
    close(sol.out[0, O_RESERVE], -3.0)


def test_inconsistent_collars_raise_naming_both_markets() -> None:
    m = markets(np.array([20.0, 30.0, 40.0]), np.ones(3))
    m[:, M_FLOOR] = [30.0, -np.inf, 0.0]
    m[:, M_CEIL] = [60.0, 25.0, 100.0]
    names = ["eu_ets", "k_ets", "nz_ets"]
    with pytest.raises(InputError) as err:
        validate_collars(m, names)
    assert "eu_ets" in str(err.value) and "k_ets" in str(err.value)
    assert "floor" in str(err.value) and "ceiling" in str(err.value)
    validate_collars(m, names, ends=np.array([[0, 2]]))  # eu-nz alone is consistent
    m[1, M_RES_UP] = 5.0  # a finite reserve runs out: not an inconsistency
    validate_collars(m, names)


# ---- topologies --------------------------------------------------------------------------


def test_one_way_link_never_flows_backwards() -> None:
    rng = np.random.default_rng(7)
    la = compile_topology(2, [Link(0, 1, one_way="ab")])
    for _ in range(50):
        p = rng.uniform(5, 40, 2)
        c = rng.uniform(0.3, 3.0, 2)
        sol = solve(markets(p, c), la)
        assert sol.lout[0, LO_FLOW] >= 0.0
        if p[1] > p[0]:
            close(sol.out[0, O_PRICE], sol.out[1, O_PRICE])
        else:
            close(sol.out[:, O_PRICE], p)
            close(sol.lout[0, LO_SHADOW], p[0] - p[1])


def test_chain_equals_trilateral_pool_and_tree_path() -> None:
    rng = np.random.default_rng(8)
    la = compile_topology(3, [Link(0, 1), Link(1, 2)])
    for _ in range(40):
        m = markets(rng.uniform(5, 60, 3), rng.uniform(0.3, 3, 3))
        m[:, M_FLOOR] = rng.uniform(0, 20, 3)
        m[:, M_CEIL] = rng.uniform(40, 70, 3)
        m[:, M_RES_UP] = rng.uniform(0, 10, 3)
        m[:, M_RES_DOWN] = rng.uniform(0, 10, 3)
        m[:, M_IMP_CAP] = rng.uniform(5, 30, 3)
        m[:, M_FEE_IMP] = rng.uniform(0, 2, 3)
        pool = solve(m).out
        for cp in (True, False):
            chain = solve(m, la, contract_plain=cp)
            close(chain.out[:, O_PRICE], pool[:, O_PRICE])
            close(chain.out[:, O_FLOW], pool[:, O_FLOW])
            close(chain.out[:, O_RESERVE], pool[:, O_RESERVE])
            # link flows route the net positions: market 0 ships -x_0 to 1, market 2 gets x_2
            close(chain.lout[0, LO_FLOW], -chain.out[0, O_FLOW])
            close(chain.lout[1, LO_FLOW], chain.out[2, O_FLOW])


def test_link_states_suspend_and_restrict() -> None:
    m = markets(np.array([10.0, 30.0, 50.0]), np.ones(3))
    la = compile_topology(3, [Link(0, 1, restricted_quota_ab=2.0, restricted_quota_ba=2.0),
                              Link(1, 2)])
    both = solve(m, la).out
    close(both[:, O_PRICE], 30.0)
    sus = solve(m, la, np.array([LINK_SUSPENDED, 0]))
    close(sus.out[0, O_PRICE], 10.0)  # back to autarky at once
    close(sus.out[1:, O_PRICE], 40.0)
    assert sus.lout[0, LO_FLOW] == 0.0
    res = solve(m, la, np.array([LINK_RESTRICTED, 0]))
    close(res.lout[0, LO_FLOW], 2.0)
    close(res.out[0, O_PRICE], 12.0)
    close(res.out[1:, O_PRICE], 39.0)
    close(res.lout[0, LO_GAP], 27.0)
    close(res.lout[0, LO_SHADOW], 27.0)


def test_disconnected_components_and_isolated_markets() -> None:
    m = markets(np.array([10.0, 30.0, 50.0, 70.0, 5.0]), np.array([1.0, 1.0, 1.0, 3.0, 1.0]))
    la = compile_topology(5, [Link(0, 1), Link(2, 3, fee_ab=1.0, fee_ba=1.0)])
    out = solve(m, la).out
    close(out[:2, O_PRICE], 20.0)
    ref = two_market_fee(50.0, 70.0, 1.0, 3.0, 1.0)
    close(out[2:4, O_PRICE], [ref.q1, ref.q2])
    close(out[4, O_PRICE], 5.0)
    close(out[4, O_HUB], 5.0)
    assert out[4, O_FLOW] == 0.0


def test_compile_topology_errors() -> None:
    with pytest.raises(InputError, match="exchange rates"):
        compile_topology(3, [Link(0, 1, exchange_rate=2.0), Link(1, 2), Link(0, 2)])
    with pytest.raises(InputError, match="in range"):
        compile_topology(2, [Link(0, 2)])
    with pytest.raises(InputError, match=">= 0"):
        compile_topology(2, [Link(0, 1, quota_ab=-1.0)])
    compile_topology(3, [Link(0, 1), Link(1, 2), Link(0, 2)])  # plain cycles are fine


def test_restricted_link_inside_a_pool_carries_nothing() -> None:
    la = compile_topology(3, [Link(0, 1), Link(1, 2), Link(0, 2, fee_ab=1.0, quota_ab=1.0)])
    sol = solve(markets(np.array([10.0, 20.0, 30.0]), np.ones(3)), la)
    assert sol.status == STATUS_OK
    close(sol.out[:, O_PRICE], 20.0)
    assert sol.lout[2, LO_FLOW] == 0.0


# ---- fast path against the general solver -------------------------------------------------


def _forest_case(rng: np.random.Generator, n: int) -> tuple[np.ndarray, list[Link], np.ndarray]:
    """Linear markets (collars with finite / unlimited / no reserves, zero floors, bounds, market
    fees, exchange rates, fx) on a random fee-free forest of plain, quota and one-way links in
    random states: the fast path's domain, with every way of leaving it close by."""
    links = []
    for i in range(1, n):
        j = int(rng.integers(0, i))
        kw: dict = {}
        u = rng.uniform()
        if u < 0.4:
            kw["quota_ab"] = rng.uniform(0, 12)
            kw["quota_ba"] = rng.uniform(0, 12)
        elif u < 0.5:
            kw["one_way"] = "ab" if rng.uniform() < 0.5 else "ba"
        if rng.uniform() < 0.3:
            kw["restricted_quota_ab"] = rng.uniform(0, 5)
            kw["restricted_quota_ba"] = rng.uniform(0, 5)
        if rng.uniform() < 0.15:
            kw["exchange_rate"] = rng.uniform(0.7, 1.3)
        links.append(Link(j, i, **kw))
    m = market_array(n)
    m[:, M_P_AUT] = rng.uniform(-20, 80, n)
    m[:, M_C] = rng.uniform(0.3, 3.0, n)
    for i in range(n):
        if rng.uniform() < 0.6:
            m[i, M_FLOOR] = 0.0 if rng.uniform() < 0.4 else rng.uniform(5, 25)
            m[i, M_RES_DOWN] = rng.choice([np.inf, 0.0, rng.uniform(0, 10)])
        if rng.uniform() < 0.4:
            m[i, M_CEIL] = rng.uniform(35, 70)
            m[i, M_RES_UP] = rng.choice([np.inf, 0.0, rng.uniform(0, 10)])
        if rng.uniform() < 0.15:
            m[i, M_IMP_CAP] = rng.uniform(0, 12)
        if rng.uniform() < 0.15:
            m[i, M_EXP_CAP] = rng.uniform(0, 12)
        if rng.uniform() < 0.15:
            m[i, M_FEE_IMP] = rng.uniform(0, 3)
            m[i, M_FEE_EXP] = rng.uniform(0, 3)
        if rng.uniform() < 0.15:
            m[i, M_FX] = rng.uniform(0.8, 1.25)
    state = rng.choice([0, 0, 0, 1, 2], size=n - 1).astype(np.int64)
    return m, links, state


def _general(m: np.ndarray, la: LinkArrays, state: np.ndarray) -> Solution:
    """The general solver alone (plain links contracted into pools, no fast path)."""
    n, nl = m.shape[0], la.ends.shape[0]
    out = np.full((n, N_OUT), np.nan)
    lout = np.zeros((nl, N_LINK_OUT))
    flags = np.zeros(n, np.int64)
    fwork, iwork = workspace(n, nl)
    status = _solve_general(m, la.ends, la.lpar, state, out, lout, flags, fwork, iwork, True)
    return Solution(out, lout, flags, int(status))


def test_fast_path_agrees_with_general_solver() -> None:
    rng = np.random.default_rng(12)
    fast = 0
    seen = {"floor": 0, "ceiling": 0, "exhausted": 0, "quota": 0, "suspended": 0, "vertical": 0}
    for _ in range(600):
        n = int(rng.integers(2, 7))
        m, links, state = _forest_case(rng, n)
        la = compile_topology(n, links)
        m[:, M_S] = la.s
        out = np.full((n, N_OUT), np.nan)
        lout = np.full((n - 1, N_LINK_OUT), np.nan)
        flags = np.zeros(n, np.int64)
        fwork, iwork = workspace(n, n - 1)
        status = solve_step(m, la.ends, la.lpar, state, out, lout, flags, fwork, iwork)
        ref = _general(m, la, state)
        assert status == ref.status
        if iwork[iwork_path_slot(n, n - 1)] != 1:
            continue
        fast += 1
        scale = np.maximum(1.0, np.abs(ref.out))
        np.testing.assert_allclose(out, ref.out, rtol=0, atol=1e-9 * scale.max())
        np.testing.assert_allclose(lout, ref.lout, rtol=0,
                                   atol=1e-9 * max(1.0, np.abs(ref.lout).max()))
        np.testing.assert_array_equal(flags, ref.flags)
        seen["floor"] += int((flags & FLAG_FLOOR).any())
        seen["ceiling"] += int((flags & FLAG_CEILING).any())
        seen["exhausted"] += int((flags & FLAG_RESERVE_EXHAUSTED).any())
        seen["quota"] += int((lout[:, LO_SHADOW] > 0).any())
        seen["suspended"] += int((state == LINK_SUSPENDED).any())
        seen["vertical"] += int((np.abs(out[:, O_RESERVE]) > 0).any())
    # the fast path answered a good share, including every kind of binding constraint
    assert fast > 200, fast
    assert min(seen.values()) >= 10, seen


def test_collar_sweep_equals_breakpoint_root() -> None:
    rng = np.random.default_rng(13)
    for _ in range(300):
        n = int(rng.integers(1, 6))
        m = market_array(n)
        m[:, M_P_AUT] = rng.uniform(-20, 80, n)
        m[:, M_C] = rng.uniform(0.3, 3.0, n)
        m[:, M_S] = rng.uniform(0.8, 1.2, n)
        m[:, M_FX] = rng.uniform(0.8, 1.25, n)
        for i in range(n):
            if rng.uniform() < 0.7:
                m[i, M_FLOOR] = 0.0 if rng.uniform() < 0.3 else rng.uniform(5, 25)
                m[i, M_RES_DOWN] = rng.choice([np.inf, 0.0, rng.uniform(0, 10)])
            if rng.uniform() < 0.5:
                m[i, M_CEIL] = rng.uniform(35, 70)
                m[i, M_RES_UP] = rng.choice([np.inf, 0.0, rng.uniform(0, 10)])
        if rng.uniform() < 0.2:  # a vertical segment shared by two markets
            m[:, M_FLOOR] = 10.0
        if n > 1 and rng.uniform() < 0.1:  # unlimited floor above an unlimited ceiling: none
            m[0, [M_FLOOR, M_RES_DOWN]] = 50.0, np.inf
            m[1, [M_CEIL, M_RES_UP]] = rng.choice([40.0, 50.0 * m[0, M_FX] / m[0, M_S]
                                                   * m[1, M_S] / m[1, M_FX]]), np.inf
        memb = np.arange(n)
        y = rng.uniform(-20, 20) if rng.uniform() < 0.5 else 0.0
        a = collar_root(m, memb, 0, n, y, np.zeros(6 * n), 0)
        b = pool_root(m, memb, 0, n, y, np.zeros(9 * n), 0)
        if np.isnan(a):  # only where unlimited collars meet or cross (pool_root decides)
            f = np.where(m[:, M_RES_DOWN] == np.inf, m[:, M_FLOOR] * m[:, M_FX] / m[:, M_S],
                         -np.inf)
            k = np.where(m[:, M_RES_UP] == np.inf, m[:, M_CEIL] * m[:, M_FX] / m[:, M_S],
                         np.inf)
            assert f.max() >= k.min() * (1 - 1e-12)
            continue
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_topology_cache_follows_the_links() -> None:
    """One workspace reused across changing ends, states and quotas gives what a fresh one
    gives (the fast path caches its topology work in iwork between calls)."""
    rng = np.random.default_rng(14)
    n = 5
    fwork, iwork = workspace(n, n - 1)
    prev: list[Link] = []
    for _ in range(200):
        m, links, state = _forest_case(rng, n)
        if prev and rng.uniform() < 0.6:  # the previous ends: new states, quotas, plain-ness
            links = [Link(ln.a, ln.b, quota_ab=rng.choice([np.inf, rng.uniform(0, 12)]),
                          quota_ba=np.inf) for ln in prev]
        prev = links
        la = compile_topology(n, links)
        m[:, M_S] = la.s
        outs = []
        for fw, iw in ((fwork, iwork), workspace(n, n - 1)):
            out = np.full((n, N_OUT), np.nan)
            lout = np.full((n - 1, N_LINK_OUT), np.nan)
            flags = np.zeros(n, np.int64)
            st = solve_step(m, la.ends, la.lpar, state, out, lout, flags, fw, iw)
            outs.append((st, out, lout, flags))
        assert outs[0][0] == outs[1][0]
        for k in (1, 2, 3):
            np.testing.assert_array_equal(outs[0][k], outs[1][k])


# ---- power-law abatement -----------------------------------------------------------------


def test_power_law_root_finder() -> None:
    rng = np.random.default_rng(9)
    la = compile_topology(3, [Link(0, 1), Link(1, 2, fee_ab=1.0, fee_ba=1.0, quota_ab=4.0)])
    for _ in range(30):
        m = markets(rng.uniform(5, 60, 3), rng.uniform(0.3, 3, 3))
        m[:, M_CEIL] = rng.uniform(40, 70, 3)
        m[:, M_RES_UP] = rng.uniform(0, 10, 3)
        lin = solve(m, la).out
        m[:, M_ETA] = 1.0 + 1e-13  # forces the Illinois path; must agree with the exact one
        np.testing.assert_allclose(solve(m, la).out[:, O_PRICE], lin[:, O_PRICE], atol=1e-8)
        m[:, M_ETA] = rng.uniform(0.5, 2.0, 3)
        sol = solve(m, la)
        out = sol.out
        # market clearing and own-market balance to tolerance
        assert abs(out[:, O_FLOW].sum()) < 1e-8 * np.abs(out[:, O_FLOW]).max() + 1e-9
        g = np.sign(out[:, O_PRICE]) * np.abs(out[:, O_PRICE]) ** m[:, M_ETA]
        gp = np.sign(m[:, M_P_AUT]) * np.abs(m[:, M_P_AUT]) ** m[:, M_ETA]
        close(out[:, O_FLOW] + out[:, O_RESERVE], m[:, M_C] * (gp - g))
        # the pooled pair 0-1 shares a price
        np.testing.assert_allclose(out[0, O_PRICE], out[1, O_PRICE], rtol=1e-10)


# ---- engine usage --------------------------------------------------------------------------


@njit(cache=True)
def _engine_like(mkt, ends, lpar, lstate, p_draws, out, lout, flags, fwork, iwork):  # noqa: ANN001
    acc = 0.0
    for d in range(p_draws.shape[0]):
        for i in range(mkt.shape[0]):
            mkt[i, M_P_AUT] = p_draws[d, i]
        solve_step(mkt, ends, lpar, lstate, out, lout, flags, fwork, iwork)
        acc += out[0, O_PRICE]
    return acc


def test_callable_from_njit_and_reproducible() -> None:
    rng = np.random.default_rng(10)
    la = compile_topology(3, [Link(0, 1), Link(1, 2, quota_ab=3.0, quota_ba=3.0)])
    m = markets(np.zeros(3), np.array([1.0, 2.0, 0.5]))
    out = np.empty((3, N_OUT))
    lout = np.empty((2, N_LINK_OUT))
    flags = np.empty(3, np.int64)
    fwork, iwork = workspace(3, 2)
    draws = rng.uniform(5, 60, (50, 3))
    state = np.zeros(2, np.int64)
    a = _engine_like(m, la.ends, la.lpar, state, draws, out, lout, flags, fwork, iwork)
    b = _engine_like(m, la.ends, la.lpar, state, draws, out, lout, flags, fwork, iwork)
    ref = sum(solve(markets(d, m[:, M_C]), la).out[0, O_PRICE] for d in draws)
    assert a == b
    close(a, ref, scale=1e4)


def test_inconsistent_collars_and_small_workspace_are_reported() -> None:
    m = markets(np.array([20.0, 30.0, 10.0]), np.ones(3))
    m[:, M_FLOOR] = [30.0, -np.inf, -np.inf]
    m[:, M_CEIL] = [np.inf, 25.0, np.inf]
    la = compile_topology(3, [Link(0, 1), Link(1, 2, fee_ab=1.0)])
    sol = solve(m, la)
    assert sol.status == STATUS_INFEASIBLE
    assert np.isnan(sol.out[:2, O_PRICE]).all()
    assert solve(m[:2]).status == STATUS_INFEASIBLE
    out = np.empty((3, N_OUT))
    lout = np.empty((2, N_LINK_OUT))
    flags = np.empty(3, np.int64)
    status = solve_step(m, la.ends, la.lpar, np.zeros(2, np.int64), out, lout, flags,
                        np.zeros(5), np.zeros(5, np.int64))
    assert status == STATUS_WORKSPACE


def test_validate_markets_names_market_and_field() -> None:
    names = ["eu_ets", "k_ets"]
    m = markets(np.array([20.0, 30.0]), np.ones(2))
    validate_markets(m, names)
    m[1, M_C] = 0.0
    with pytest.raises(InputError) as err:
        validate_markets(m, names, file="scenario.yaml")
    assert err.value.field == "k_ets.c" and "scenario.yaml" in str(err.value)
    m[1, M_C] = 1.0
    m[0, M_FLOOR] = 50.0
    m[0, M_CEIL] = 40.0
    with pytest.raises(InputError, match="eu_ets: floor"):
        validate_markets(m, names)
