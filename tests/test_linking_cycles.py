"""Cycles of restricted links (quotas both ways, one-way links, fees, restricted and suspended
states) on random problems: every answer of ``solve_step`` is checked against the optimality
conditions of the linked market (a certificate that does not use the solver's own search):

* each market's outcome lies on its abatement line, ``c (p_aut - q) = x + reserve`` (own Mt),
  and its price is its pool's hub price ``q = hub s / fx`` (markets here have collars with
  finite, zero or unlimited reserves and exchange rates, but no bounds or fees of their own:
  those leave a hub price free in an interval; ``test_linking_qp`` covers them on cycles);
* permits balance at every market: ``x s`` = inflows over its links (plain and restricted);
* every plain link joins equal hub prices; every restricted link is complementary: its flow
  within its quotas, the hub gap equal to its fee where it flows below its quota, at least the
  fee at the quota, inside the fee band where nothing flows; suspended links carry nothing.

With linear abatement the problem is strictly convex in the net imports, so these conditions
hold at the optimum only. Tolerance 1e-9 of the problem's scale. A NaN answer only ever comes
with STATUS_INFEASIBLE. Problems are drawn in bulk and checked in one numba loop.
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from test_linking_fast_random import _problems

from riskmodel.linking import (
    L_CAP_AB,
    L_CAP_AB_R,
    L_CAP_BA,
    L_CAP_BA_R,
    L_FEE_AB,
    L_FEE_AB_R,
    L_FEE_BA,
    L_FEE_BA_R,
    LO_FLOW,
    LO_GAP,
    M_C,
    M_EXP_CAP,
    M_FEE_EXP,
    M_FEE_IMP,
    M_FX,
    M_IMP_CAP,
    M_P_AUT,
    M_S,
    N_LINK_OUT,
    N_OUT,
    O_FLOW,
    O_HUB,
    O_PRICE,
    O_RESERVE,
    STATUS_INFEASIBLE,
    STATUS_OK,
    Link,
    compile_topology,
    market_array,
    solve,
    solve_step,
    workspace,
)

N_PROBLEMS = 10_000
TOL = 1e-9

#: cycles of restricted links: one cycle (exact search), then two and three independent cycles
#: (Gauss-Seidel over the cycle-closing flows, each step exact)
CLASSES = {
    "triangle": [(0, 1), (1, 2), (0, 2)],
    "square": [(0, 1), (1, 2), (2, 3), (3, 0)],
    "triangle_tail": [(0, 1), (1, 2), (2, 0), (2, 3)],
    "square_chord": [(0, 1), (1, 2), (2, 3), (3, 0), (0, 2)],
    "k4": [(0, 1), (1, 2), (2, 3), (3, 0), (0, 2), (1, 3)],
}
#: share of answers with STATUS_OK required (several cycles: STATUS_CYCLE where the outer
#: iteration stops short; one cycle: always OK)
MIN_OK = {"square_chord": 0.995, "k4": 0.995}


def _restricted(rng: np.random.Generator, n: int, nl: int, k: int):
    """Random problems whose links are mostly restricted (quotas, one-way, fees), so that most
    draws hold a cycle of restricted links."""
    m, lp, st = _problems(rng, n, nl, k)
    # no market bounds or fees: a market at its own bound (or inside its fee band) leaves its
    # hub price free in an interval, which this certificate does not search
    m[..., M_IMP_CAP] = np.inf
    m[..., M_EXP_CAP] = np.inf
    m[..., M_FEE_IMP] = 0.0
    m[..., M_FEE_EXP] = 0.0
    kind = rng.uniform(size=(k, nl))
    quota = kind < 0.6
    one_way = (kind >= 0.6) & (kind < 0.8)
    ab_only = rng.uniform(size=(k, nl)) < 0.5
    cap_ab = np.where(quota, rng.uniform(0, 12, (k, nl)),
                      np.where(one_way & ~ab_only, 0.0, np.inf))
    cap_ba = np.where(quota, rng.uniform(0, 12, (k, nl)),
                      np.where(one_way & ab_only, 0.0, np.inf))
    fee = rng.uniform(size=(k, nl)) < 0.3
    for c, v in ((L_CAP_AB, cap_ab), (L_CAP_BA, cap_ba),
                 (L_FEE_AB, np.where(fee, rng.uniform(0, 3, (k, nl)), 0.0)),
                 (L_FEE_BA, np.where(fee, rng.uniform(0, 3, (k, nl)), 0.0))):
        lp[..., c] = v
    restricted = rng.uniform(size=(k, nl)) < 0.3
    for c, cr in ((L_CAP_AB, L_CAP_AB_R), (L_CAP_BA, L_CAP_BA_R)):
        lp[..., cr] = np.where(restricted, np.minimum(lp[..., c], rng.uniform(0, 5, (k, nl))),
                               lp[..., c])
    lp[..., L_FEE_AB_R] = lp[..., L_FEE_AB]
    lp[..., L_FEE_BA_R] = lp[..., L_FEE_BA]
    st = rng.choice(np.array([0, 0, 0, 0, 1, 1, 2]), size=(k, nl)).astype(np.int64)
    return m, lp, st


@njit(cache=True)
def _certify(mk, lpk, stk, ends, fw, iw):
    """Per problem: (status, largest violation of the optimality conditions / scale, NaN in the
    answer)."""
    k, n = mk.shape[0], mk.shape[1]
    nl = ends.shape[0]
    res = np.zeros((k, 3))
    out = np.empty((n, N_OUT))
    lout = np.empty((nl, N_LINK_OUT))
    flags = np.zeros(n, np.int64)
    bal = np.empty(n)
    for p in range(k):
        m = mk[p]
        lp = lpk[p]
        st = stk[p]
        status = solve_step(m, ends, lp, st, out, lout, flags, fw, iw)
        res[p, 0] = status
        nan = False
        for i in range(n):
            nan = nan or np.isnan(out[i, O_PRICE]) or np.isnan(out[i, O_FLOW])
        res[p, 2] = nan
        if status != STATUS_OK or nan:
            continue
        scale = 1.0
        for i in range(n):
            scale = max(scale, abs(m[i, M_P_AUT]), abs(out[i, O_HUB]), abs(out[i, O_FLOW]))
        bad = 0.0
        for i in range(n):
            x = out[i, O_FLOW]
            q = out[i, O_PRICE]
            bad = max(bad, abs(m[i, M_C] * (m[i, M_P_AUT] - q) - x - out[i, O_RESERVE]))
            plain_market = (m[i, M_IMP_CAP] == np.inf and m[i, M_EXP_CAP] == np.inf
                            and m[i, M_FEE_IMP] == 0.0 and m[i, M_FEE_EXP] == 0.0)
            if plain_market:
                bad = max(bad, abs(q - out[i, O_HUB] * m[i, M_S] / m[i, M_FX]))
            bal[i] = x * m[i, M_S]
        for l in range(nl):
            a = ends[l, 0]
            b = ends[l, 1]
            f = lout[l, LO_FLOW]
            if st[l] == 2:
                bad = max(bad, abs(f))
                continue
            bal[b] -= f
            bal[a] += f
            gap = out[b, O_HUB] - out[a, O_HUB]
            bad = max(bad, abs(gap - lout[l, LO_GAP]))
            c0 = L_CAP_AB_R if st[l] == 1 else L_CAP_AB
            ca, cb, fa, fb = lp[l, c0], lp[l, c0 + 1], lp[l, c0 + 2], lp[l, c0 + 3]
            t = TOL * scale
            bad = max(bad, f - ca, -cb - f)  # within the quotas
            if f > t:
                bad = max(bad, fa - gap)  # flowing a -> b: the gap covers the fee
                if f < ca - t:
                    bad = max(bad, gap - fa)  # ... and equals it below the quota
            elif f < -t:
                bad = max(bad, gap + fb)
                if f > -cb + t:
                    bad = max(bad, -fb - gap)
            else:  # nothing flows: the gap inside the fee band where the link is open
                if ca > t:
                    bad = max(bad, gap - fa)
                if cb > t:
                    bad = max(bad, -fb - gap)
        for i in range(n):
            bad = max(bad, abs(bal[i]))
        res[p, 1] = bad / scale
    return res


@pytest.mark.parametrize("name", list(CLASSES))
def test_restricted_cycles_meet_the_optimality_conditions(name):
    ends = np.asarray(CLASSES[name], dtype=np.int64)
    n, nl = int(ends.max()) + 1, ends.shape[0]
    rng = np.random.default_rng(100 + list(CLASSES).index(name))
    m, lp, st = _restricted(rng, n, nl, N_PROBLEMS)
    fw, iw = workspace(n, nl)
    res = _certify(m, lp, st, ends, fw, iw)
    status = res[:, 0].astype(np.int64)
    assert not (res[:, 2].astype(bool) & (status != STATUS_INFEASIBLE)).any()  # no silent NaN
    ok = status == STATUS_OK
    assert ok.mean() >= MIN_OK.get(name, 1.0), np.unique(status, return_counts=True)
    cyc = (st != 2).all(axis=1) & ok  # every link open: a cycle of restricted links
    assert cyc.sum() > 0.2 * N_PROBLEMS
    worst = np.argsort(res[:, 1])[::-1][:5]
    assert res[ok, 1].max() <= TOL, (name, worst, res[worst])


def test_one_way_cycle_is_a_pool_or_infeasible_never_nan():
    """A cycle of one-way links without fees lets permits circulate: prices equalise (the pooled
    price), or the solver says STATUS_INFEASIBLE; never a NaN answer with another status."""
    la = compile_topology(3, [Link(0, 1, one_way="ab"), Link(1, 2, one_way="ab"),
                              Link(2, 0, one_way="ab")])
    m = market_array(3)
    m[:, M_C] = [1.0, 2.0, 0.5]
    m[:, M_P_AUT] = [10.0, 40.0, 25.0]
    sol = solve(m, la)
    pooled = (m[:, M_C] * m[:, M_P_AUT]).sum() / m[:, M_C].sum()
    if sol.status == STATUS_OK:
        np.testing.assert_allclose(sol.out[:, O_PRICE], pooled, rtol=1e-9)
        assert np.isfinite(sol.lout).all()
    else:
        assert sol.status == STATUS_INFEASIBLE
