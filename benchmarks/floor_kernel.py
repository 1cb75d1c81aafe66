"""The floor kernel of issue #14: the irreducible work of the benchmark's three-market scenario
(``bench_engine.three_market``) written as one flat loop, frozen here so engine changes do not
move it.

Per path and trading day it does what any implementation of that scenario must do: the same
draws (N + J normals from the frozen streams, one regime uniform per market, one uniform per
event chain), the correlation of the innovations, the inverse-CDF table lookup of each market's
t innovation, one variance recursion per market and regime (MS-GARCH, two regimes), the
martingale compensator, one exp per price and per output index, the design bridge, the
closed-form clearing (:mod:`floor_clearing`) of the three variants (autarky, linked, linked
with the link's event chain and a market exemption) and the same daily statistics (sums and
squares of prices, a log return per market and variant, collar and quota counts), with
compliance-date histograms and emissions. It is a lower bound on the full kernel's cost, not a
second engine: no K-ETS triggers, no MSR, no offsets, no general topology.
"""

from __future__ import annotations

import math

import numpy as np
from floor_clearing import clear_alone, clear_bench
from floor_rng import fill_normal, uniform
from numba import njit

# per-market parameter columns of ``mp``
OM0, AL0, BE0, OM1, AL1, BE1, P00, P10, H0, H1, LP0, C, BAU, Q0, MU, SD, TLO, TSTEP = range(18)
NPAR = 18
NBINS = 2000
NSTAT = 8  # price, price^2 via s2, log-return^2, floor, ceiling, quota, emissions, zero days


@njit(cache=True, error_model="numpy")
def floor_paths(n_paths, years, dpy, mp, tab, chol, floor_a, ceil_a, quota, quota_r,
                ev_link, ev_ex, ex_share, st_main, st_ev, zt, s1, s2, hist):
    """Simulate ``n_paths`` paths of ``years`` x ``dpy`` days; statistics into ``s1``/``s2``
    ``[variant, market, stat]`` and ``hist[variant, market, bin]`` (log price, 14 / NBINS)."""
    n = 3
    nj = 3
    nz = n + nj
    g = np.empty(dpy * nz)
    pend = np.empty(2 * g.size + 2, np.int64)
    x = np.empty(nz)
    hk = np.empty((n, 2))
    reg = np.zeros(n, np.int64)
    logp = np.empty(n)
    y = np.empty(nj)
    pprime = np.empty((3, n))
    q = np.empty((3, n))
    lq_prev = np.empty((3, n))
    acc = np.zeros((3, n, NSTAT))
    bound = np.zeros(3, np.bool_)
    ntab = tab.shape[1]
    for _path in range(n_paths):
        for i in range(n):
            hk[i, 0] = mp[i, H0]
            hk[i, 1] = mp[i, H1]
            reg[i] = 0
            logp[i] = mp[i, LP0]
            y[i] = 0.0
        link_state = 0
        ex_state = 0
        for v in range(3):
            for i in range(n):
                lq_prev[v, i] = math.nan
        for _yr in range(years):
            fill_normal(st_main, zt, g, pend)
            acc[:] = 0.0
            for t in range(dpy):
                # correlated innovations
                base = t * nz
                for r in range(nz):
                    sacc = 0.0
                    for k in range(r + 1):
                        sacc += chol[r, k] * g[base + k]
                    x[r] = sacc
                # prices: table lookup, regime, one recursion per regime, compensator, exp
                for i in range(n):
                    f = (x[i] - mp[i, TLO]) / mp[i, TSTEP]
                    k = int(math.floor(f))
                    k = min(max(k, 0), ntab - 2)
                    w = f - k
                    z = tab[i, k] + w * (tab[i, k + 1] - tab[i, k])
                    u = uniform(st_main)
                    reg[i] = 0 if u < (mp[i, P00] if reg[i] == 0 else mp[i, P10]) else 1
                    h = hk[i, reg[i]]
                    eps = math.sqrt(h) * z
                    hk[i, 0] = mp[i, OM0] + mp[i, AL0] * eps * eps + mp[i, BE0] * hk[i, 0]
                    hk[i, 1] = mp[i, OM1] + mp[i, AL1] * eps * eps + mp[i, BE1] * hk[i, 1]
                    logp[i] += (eps - 0.5 * h / 100.0) / 100.0
                    y[i] += mp[i, MU] / dpy + mp[i, SD] * x[n + i]
                # events: the a-b link chain (3 states) and c's exemption chain (2 states)
                u = uniform(st_ev)
                link_state = 0 if u < ev_link[link_state, 0] else (
                    1 if u < ev_link[link_state, 1] else 2)
                u = uniform(st_ev)
                ex_state = 0 if u < ev_ex[ex_state, 0] else 1
                # bridge: observed BAU and the counterfactual autarky prices
                for i in range(n):
                    p_obs = math.exp(logp[i])
                    m_idx = math.exp(y[i] - (mp[i, MU] + 0.5 * mp[i, SD] ** 2 * dpy) * t / dpy)
                    u_bau = mp[i, Q0] + mp[i, C] * p_obs
                    s_cf = mp[i, Q0] * m_idx if i == 1 else mp[i, Q0]
                    pprime[0, i] = (u_bau - s_cf) / mp[i, C]
                    pprime[1, i] = pprime[0, i]
                    ex = ex_share if (i == 2 and ex_state == 1) else 0.0
                    pprime[2, i] = (u_bau * (1.0 - ex) - s_cf) / mp[i, C]
                # clearing: autarky, linked, linked with events
                q[0, 0] = clear_alone(pprime[0, 0], floor_a, ceil_a)
                q[0, 1] = clear_alone(pprime[0, 1], 0.0, math.inf)
                q[0, 2] = clear_alone(pprime[0, 2], 0.0, math.inf)
                for v in range(1, 3):
                    st = 0 if v == 1 else link_state
                    qa, qb, qc, _xa, _xb, _xc, bd = clear_bench(
                        pprime[v, 0], pprime[v, 1], pprime[v, 2], mp[0, C], mp[1, C], mp[2, C],
                        floor_a, ceil_a, quota if st == 0 else quota_r, st)
                    q[v, 0] = qa
                    q[v, 1] = qb
                    q[v, 2] = qc
                    bound[v] = bd
                # daily statistics: sums, log returns, collar and quota counts
                for v in range(3):
                    for i in range(n):
                        qq = q[v, i]
                        acc[v, i, 0] += qq
                        if qq > 1e-12:
                            lq = math.log(qq)
                            if lq_prev[v, i] == lq_prev[v, i]:
                                d = lq - lq_prev[v, i]
                                acc[v, i, 1] += d * d
                            lq_prev[v, i] = lq
                        else:
                            lq_prev[v, i] = math.nan
                            acc[v, i, 7] += 1.0
                    acc[v, 0, 3] += q[v, 0] <= floor_a
                    acc[v, 0, 4] += q[v, 0] >= ceil_a
                    acc[v, 0, 5] += bound[v]
            # compliance date: histogram of the log price, emissions, annual sums
            for v in range(3):
                for i in range(n):
                    qq = q[v, i]
                    b = 0
                    if qq > 0.0:
                        b = int((math.log(qq) + 2.0) / (14.0 / NBINS)) + 1
                        b = min(max(b, 0), NBINS + 1)
                    hist[v, i, b] += 1
                    emis = mp[i, BAU] - mp[i, C] * qq
                    acc[v, i, 6] = emis
                    for k in range(NSTAT):
                        s1[v, i, k] += acc[v, i, k]
                        s2[v, i, k] += acc[v, i, k] * acc[v, i, k]


def floor_args(paths: int, years: int, dpy: int, seed: int = 1) -> tuple:
    """Arguments of :func:`floor_paths` for the benchmark's three-market scenario (the values
    of ``bench_engine.three_market``: MS-GARCH-t, t(6) innovations, collar 20-150 on a, quota
    40 Mt (10 restricted) a-b, event rates per year, 10% exemption of c)."""
    from floor_rng import ZT, state_from_seed
    from scipy.linalg import expm

    from riskmodel.sim.innovations import build_table

    last = (80.0, 30.0, 40.0)
    bau = (1500.0, 600.0, 300.0)
    mp = np.zeros((3, NPAR))
    _mode, lo, step, vals = build_table("t", 6.0, None, "gaussian", None)
    tab = np.tile(vals, (3, 1))
    for i in range(3):
        mp[i, [OM0, AL0, BE0, OM1, AL1, BE1]] = (0.03, 0.05, 0.92, 0.3, 0.1, 0.85)
        mp[i, P00], mp[i, P10] = 0.98, 0.04
        mp[i, H0], mp[i, H1] = 0.8, 4.0
        mp[i, LP0] = math.log(last[i])
        mp[i, C] = 0.1 * bau[i] / last[i]
        mp[i, BAU] = bau[i]
        mp[i, Q0] = 0.9 * bau[i]
        mp[i, MU], mp[i, SD] = 0.02, 0.03 / math.sqrt(dpy)
        mp[i, TLO], mp[i, TSTEP] = lo, step
    corr = np.eye(6)
    corr[:3, :3] = [[1, 0.4, 0.2], [0.4, 1, 0.3], [0.2, 0.3, 1]]
    chol = np.linalg.cholesky(corr)
    q_link = np.array([[-0.25, 0.2, 0.05], [1.0, -1.0, 0.0], [0.5, 0.0, -0.5]])
    q_ex = np.array([[-0.1, 0.1], [0.5, -0.5]])
    ev_link = np.cumsum(expm(q_link / dpy), axis=1)
    ev_ex = np.cumsum(expm(q_ex / dpy), axis=1)
    ss = np.random.SeedSequence(seed).spawn(2)
    s1 = np.zeros((3, 3, NSTAT))
    return (paths, years, dpy, mp, tab, chol, 20.0, 150.0, 40.0, 10.0, ev_link, ev_ex, 0.1,
            state_from_seed(ss[0]), state_from_seed(ss[1]), ZT, s1, np.zeros_like(s1),
            np.zeros((3, 3, NBINS + 2), np.int64))
