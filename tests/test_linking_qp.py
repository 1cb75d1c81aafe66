"""Randomized property tests: the link solver against a generic convex QP solved by scipy.

The reference minimises total abatement cost plus reserve purchases (at the ceiling), minus
withholding (at the floor), plus fees, subject to each market's balance, the link flows and all
bounds; each market's price is the multiplier of its balance (= a_i / c_i). The exact solver must
reach the QP's optimal value (never above it) and the same prices.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from riskmodel.linking import (
    LO_FLOW,
    M_C,
    M_CEIL,
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
    O_FLOW,
    O_PRICE,
    O_RESERVE,
    STATUS_OK,
    Link,
    LinkArrays,
    compile_topology,
    market_array,
    solve,
)
from riskmodel.linking.topology import L_CAP_AB, L_CAP_BA, L_FEE_AB, L_FEE_BA


def _bound(v: float) -> float | None:
    return None if np.isinf(v) else float(v)


def qp_reference(
    mkt: np.ndarray, la: LinkArrays | None, strict: bool = True
) -> tuple[float, np.ndarray]:
    """Optimal cost and prices; variables per market (a, R, W, m+, m-), per link (f+, f-).

    ``strict=False`` (timings) accepts SLSQP's iteration limit as long as the point is feasible.
    """
    n = mkt.shape[0]
    nl = 0 if la is None else la.ends.shape[0]
    nv = 5 * n + 2 * nl
    c = mkt[:, M_C]
    fx = mkt[:, M_FX]
    lin = np.zeros(nv)
    bounds: list[tuple[float | None, float | None]] = []
    for i in range(n):
        k, f = mkt[i, M_CEIL], mkt[i, M_FLOOR]
        lin[5 * i + 1] = fx[i] * (k if np.isfinite(k) else 0.0)
        lin[5 * i + 2] = -fx[i] * (f if np.isfinite(f) else 0.0)
        lin[5 * i + 3] = fx[i] * mkt[i, M_FEE_IMP]
        lin[5 * i + 4] = fx[i] * mkt[i, M_FEE_EXP]
        bounds += [(None, None),
                   (0.0, _bound(mkt[i, M_RES_UP]) if np.isfinite(k) else 0.0),
                   (0.0, _bound(mkt[i, M_RES_DOWN]) if np.isfinite(f) else 0.0),
                   (0.0, _bound(mkt[i, M_IMP_CAP])), (0.0, _bound(mkt[i, M_EXP_CAP]))]
    for l in range(nl):
        lin[5 * n + 2 * l] = la.lpar[l, L_FEE_AB]
        lin[5 * n + 2 * l + 1] = la.lpar[l, L_FEE_BA]
        bounds += [(0.0, _bound(la.lpar[l, L_CAP_AB])), (0.0, _bound(la.lpar[l, L_CAP_BA]))]
    quad = np.zeros(nv)
    quad[0:5 * n:5] = fx / c
    # equalities: own balance a + R - W + m+ - m- = D; flow balance s (m+ - m-) = inflow - outflow
    rows = []
    rhs = []
    for i in range(n):
        r = np.zeros(nv)
        r[5 * i:5 * i + 5] = [1, 1, -1, 1, -1]
        rows.append(r)
        rhs.append(c[i] * mkt[i, M_P_AUT])
    if la is None:
        r = np.zeros(nv)
        for i in range(n):
            r[5 * i + 3] = mkt[i, M_S]
            r[5 * i + 4] = -mkt[i, M_S]
        rows.append(r)
        rhs.append(0.0)
    else:
        for i in range(n):
            r = np.zeros(nv)
            r[5 * i + 3] = mkt[i, M_S]
            r[5 * i + 4] = -mkt[i, M_S]
            for l in range(nl):
                a, b = la.ends[l]
                sg = 1.0 if b == i else (-1.0 if a == i else 0.0)
                r[5 * n + 2 * l] -= sg
                r[5 * n + 2 * l + 1] += sg
            rows.append(r)
            rhs.append(0.0)
    aeq = np.array(rows)
    beq = np.array(rhs)

    def fun(z: np.ndarray) -> float:
        return 0.5 * float(quad @ (z * z)) + float(lin @ z)

    def jac(z: np.ndarray) -> np.ndarray:
        return quad * z + lin

    z0 = np.zeros(nv)
    z0[0:5 * n:5] = c * mkt[:, M_P_AUT]
    res = minimize(fun, z0, jac=jac, method="SLSQP", bounds=bounds,
                   constraints=[{"type": "eq", "fun": lambda z: aeq @ z - beq,
                                 "jac": lambda z: aeq}],
                   options={"ftol": 1e-10, "maxiter": 2000})
    # status 8 ("positive directional derivative"): stopped at machine precision; accept if feasible
    assert res.success or res.status == 8 or (not strict and res.status == 9), res.message
    assert np.abs(aeq @ res.x - beq).max() < 1e-7
    return float(res.fun), res.x[0:5 * n:5] / c


def solver_cost(mkt: np.ndarray, la: LinkArrays | None, out: np.ndarray, lout: np.ndarray) -> float:
    """The QP objective at the solver's outcome."""
    c = mkt[:, M_C]
    fx = mkt[:, M_FX]
    a = c * out[:, O_PRICE]
    r = np.maximum(out[:, O_RESERVE], 0.0)
    w = np.maximum(-out[:, O_RESERVE], 0.0)
    x = out[:, O_FLOW]
    k = np.where(np.isfinite(mkt[:, M_CEIL]), mkt[:, M_CEIL], 0.0)
    f = np.where(np.isfinite(mkt[:, M_FLOOR]), mkt[:, M_FLOOR], 0.0)
    cost = fx * (0.5 * a * a / c + k * r - f * w + mkt[:, M_FEE_IMP] * np.maximum(x, 0)
                 + mkt[:, M_FEE_EXP] * np.maximum(-x, 0))
    total = float(cost.sum())
    if la is not None:
        fl = lout[:, LO_FLOW]
        total += float(la.lpar[:, L_FEE_AB] @ np.maximum(fl, 0) + la.lpar[:, L_FEE_BA]
                       @ np.maximum(-fl, 0))
    return total


def random_problem(rng: np.random.Generator, n: int) -> tuple[np.ndarray, list[Link]]:
    links = []
    for i in range(1, n):
        j = int(rng.integers(0, i))
        kw: dict = {}
        u = rng.uniform()
        if u < 0.3:
            kw["quota_ab"] = rng.uniform(0, 10)
            kw["quota_ba"] = rng.uniform(0, 10)
        elif u < 0.55:
            kw["fee_ab"] = rng.uniform(0, 4)
            kw["fee_ba"] = rng.uniform(0, 4)
        elif u < 0.7:
            kw["one_way"] = "ab" if rng.uniform() < 0.5 else "ba"
        if rng.uniform() < 0.2:
            kw["exchange_rate"] = rng.uniform(0.7, 1.3)
        links.append(Link(j, i, **kw))
    m = market_array(n)
    m[:, M_P_AUT] = rng.uniform(2, 70, n)
    m[:, M_C] = rng.uniform(0.3, 3.0, n)
    for i in range(n):
        if rng.uniform() < 0.5:
            m[i, M_FLOOR] = rng.uniform(5, 20)
            m[i, M_RES_DOWN] = rng.uniform(0, 15) if rng.uniform() < 0.6 else np.inf
        if rng.uniform() < 0.5:
            m[i, M_CEIL] = rng.uniform(35, 60)
            m[i, M_RES_UP] = rng.uniform(0, 15) if rng.uniform() < 0.6 else np.inf
        if rng.uniform() < 0.25:
            m[i, M_IMP_CAP] = rng.uniform(0, 12)
        if rng.uniform() < 0.25:
            m[i, M_EXP_CAP] = rng.uniform(0, 12)
        if rng.uniform() < 0.25:
            m[i, M_FEE_IMP] = rng.uniform(0, 3)
            m[i, M_FEE_EXP] = rng.uniform(0, 3)
        if rng.uniform() < 0.2:
            m[i, M_FX] = rng.uniform(0.8, 1.25)
    return m, links


def _check(m: np.ndarray, la: LinkArrays | None) -> None:
    sol = solve(m, la)
    assert sol.status == STATUS_OK
    ref_cost, ref_q = qp_reference(m, la)
    ours = solver_cost(m, la, sol.out, sol.lout)
    scale = max(1.0, abs(ref_cost))
    assert ours <= ref_cost + 1e-7 * scale, (ours, ref_cost)
    assert ours >= ref_cost - 1e-6 * scale, (ours, ref_cost)
    np.testing.assert_allclose(sol.out[:, O_PRICE], ref_q, atol=2e-4)
    # clearing
    np.testing.assert_allclose((m[:, M_S] * sol.out[:, O_FLOW]).sum(), 0.0, atol=1e-9)


def test_random_trees_against_qp() -> None:
    rng = np.random.default_rng(20)
    for case in range(100):
        n = 2 + case % 4
        m, links = random_problem(rng, n)
        la = compile_topology(n, links)
        m[:, M_S] = la.s
        _check(m, la)


def test_random_pools_against_qp() -> None:
    rng = np.random.default_rng(21)
    for case in range(50):
        n = 2 + case % 4
        m, _ = random_problem(rng, n)
        _check(m, None)


def test_cycles_of_restricted_links_against_qp() -> None:
    """Triangles, squares and pentagons of restricted links (with market bounds and fees, which
    ``test_linking_cycles`` leaves out): the exact search on the cycle-closing flow."""
    rng = np.random.default_rng(22)
    for case in range(48):
        n = 3 + case % 3
        m, links = random_problem(rng, n)
        m[:, M_FX] = 1.0
        extra = [Link(0, n - 1, quota_ab=rng.uniform(0, 8), quota_ba=rng.uniform(0, 8),
                      fee_ab=rng.uniform(0, 2), fee_ba=rng.uniform(0, 2))]
        links = [Link(ln.a, ln.b, quota_ab=ln.quota_ab, quota_ba=ln.quota_ba, fee_ab=ln.fee_ab,
                      fee_ba=ln.fee_ba, one_way=ln.one_way) for ln in links] + extra
        la = compile_topology(n, links)
        _check(m, la)
