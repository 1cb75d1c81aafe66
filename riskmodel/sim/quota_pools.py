"""The kernel's closed form for pools joined by at most one quota link (issue #14).

Most linked scenarios users build are pairs, or small trees of plain links, with one quota on
one link (``eu_china_quota``, the restricted link of ``regulatory_events``, the benchmark's
``a - b`` quota). The link solver answers them exactly (``linking.fast_paths.fast_closed``), but
its generality (topology cache, active-set passes over every link, union-find rebuilds, the
full output rows the kernel never reads) costs 115-155 ns a call. :func:`quota_pools` answers
the same steps with the same arithmetic and only what the kernel reads (price, net imports,
reserve, whether a quota binds):

1. markets joined by plain links form plain pools (a plain link closing a cycle of plain links
   carries nothing, as in the solver);
2. pass 1: the quota link is free, its two pools clear as one at the hub price
   ``pi = (sum s c p - y) / sum c s^2 / fx`` (y = 0), every other pool likewise, an isolated
   market at its own price under its collar;
3. if the flow over the quota link (the net imports of its ``b`` side) lies beyond the cap,
   pass 2 clears each side alone with the cap as its inflow (``y = +-cap``), and the importer's
   hub price must then exceed the exporter's.

It declines (returns False; the solver answers) wherever the solver's fast path would not vouch
for a closed form: abatement not linear, any fee, a market import/export bound, a second quota
link, a zero cap, a quota link closing a cycle, a member not strictly inside its collar (margin
``fast_paths._FAST_RTOL``), a flow or a price gap too close to its bound to tell. Where it
answers, prices and net imports are those of ``fast_closed``: the same sums in the same
(market) order; only the flow over the quota link, which decides whether it binds, is summed in
market order rather than the solver's tree order (rounding; both decline within 1e-9 of the
cap). Tested against ``linking.solve_step`` on random forests (``tests/test_quota_pools.py``).

The kernel calls it (not inlined: an inlined copy of its nine arrays is reference-counted in
the kernel's day loop, 117 ns a call against 31 ns called, pair with a binding quota); inside,
every helper is inlined (numba IR) and every array is used on the way to its one exit, so it
calls nothing and numba's pruning removes the reference counting of its arguments.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from riskmodel.linking.fast_paths import _FAST_RTOL, _fast_market_ok, _own_price_s_inl
from riskmodel.linking.specialise import inlined
from riskmodel.linking.topology import (
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
)
from riskmodel.sim.link_state import root

_market_ok = inlined(_fast_market_ok)


@njit(cache=True, error_model="numpy", inline="always")
def _clear_pool(mkt, par, r: int, y: float, num: float, den: float, price, x, xs) -> bool:
    """Members of pool ``r`` (``par[i] == r``) at hub price (num - y) / den: own prices, net
    imports (own Mt) and net imports in common units into ``price`` / ``x`` / ``xs`` as the
    solver's closed form writes them; False when a member is not strictly inside its collar."""
    pi = (num - y) / den
    ok = True
    for i in range(mkt.shape[0]):
        if par[i] != r:
            continue
        s = mkt[i, M_S]
        q = pi * s / mkt[i, M_FX] + 0.0
        xx = mkt[i, M_C] * (mkt[i, M_P_AUT] - q)
        if not _market_ok(mkt[i, M_P_AUT], 0.0, 0.0, mkt[i, M_FLOOR], mkt[i, M_CEIL], np.inf,
                          np.inf, q, xx, 0.0):
            ok = False
        price[i] = q
        xs[i] = xx * s
        x[i] = xs[i] / s
    return ok


@njit(cache=True, error_model="numpy", inline="always")
def _pool_sums(mkt, par, r: int, r2: int) -> tuple[float, float]:
    """sum s c p_aut and sum c s^2 / fx over the members of pools r and r2, in market order."""
    num = 0.0
    den = 0.0
    for i in range(mkt.shape[0]):
        if par[i] == r or par[i] == r2:
            s = mkt[i, M_S]
            c = mkt[i, M_C]
            num += s * c * mkt[i, M_P_AUT]
            den += c * s * s / mkt[i, M_FX]
    return num, den


@njit(cache=True, error_model="numpy")
def quota_pools(mkt, ends, lw, lst, par, price, x, rsv, qb) -> bool:
    """Clear one step (module docstring): ``price`` (own currency), ``x`` (net imports, own Mt),
    ``rsv`` (reserve operation, own Mt) and ``qb`` (1 where a quota binds on the market's plain
    pool) per market; ``lw`` / ``lst`` are today's link rows and states (the kernel's). False
    (outputs undefined) where the solver must answer. ``par`` is scratch; ``rsv`` holds the
    net imports in common units until the end."""
    n = mkt.shape[0]
    ok = True
    lq = -1
    for i in range(n):
        par[i] = i
        qb[i] = 0
        if (mkt[i, M_ETA] != 1.0 or mkt[i, M_FEE_IMP] != 0.0 or mkt[i, M_FEE_EXP] != 0.0
                or mkt[i, M_IMP_CAP] != np.inf or mkt[i, M_EXP_CAP] != np.inf):
            ok = False
    # plain pools and the one quota link (qb: 1 on every market a link touches)
    if ok:
        for q in range(ends.shape[0]):
            st = lst[q]
            if st == 2:
                continue
            o = 0 if st == 0 else 4
            ca = lw[q, o]
            cb = lw[q, o + 1]
            qb[ends[q, 0]] = 1
            qb[ends[q, 1]] = 1
            if lw[q, o + 2] != 0.0 or lw[q, o + 3] != 0.0:
                ok = False
            elif ca == np.inf and cb == np.inf:
                ra = root(par, ends[q, 0])
                rb = root(par, ends[q, 1])
                if ra != rb:  # (a plain link closing a cycle of plain links carries nothing)
                    par[rb] = ra
            elif lq >= 0 or not (ca > 0.0 and cb > 0.0):
                ok = False
            else:
                lq = q
    ra = -1
    rb = -2
    if ok:
        for i in range(n):
            par[i] = root(par, i)
        if lq >= 0:
            ra = par[ends[lq, 0]]
            rb = par[ends[lq, 1]]
            if ra == rb:
                ok = False  # the quota link closes a cycle: the general solver
    # pass 1: each pool at its hub price with the quota link free (its two pools one), an
    # isolated market at its own price under its collar
    if ok:
        for i in range(n):
            if qb[i] == 0:
                q_i, r_i = _own_price_s_inl(
                    mkt[i, M_P_AUT], mkt[i, M_C], mkt[i, M_ETA], mkt[i, M_FLOOR],
                    mkt[i, M_CEIL], mkt[i, M_RES_UP], mkt[i, M_RES_DOWN], 0.0)
                price[i] = q_i
                x[i] = 0.0
                rsv[i] = r_i
            elif par[i] == i and i != rb:  # a pool's root solves it once (rb's with ra's)
                r2 = rb if i == ra else i
                num, den = _pool_sums(mkt, par, i, r2)
                if not _clear_pool(mkt, par, i, 0.0, num, den, price, x, rsv):
                    ok = False
                if r2 != i and not _clear_pool(mkt, par, r2, 0.0, num, den, price, x, rsv):
                    ok = False
    # pass 2: the quota binds where the flow a -> b (the b side's net imports) lies beyond a cap
    if ok and lq >= 0:
        o = 0 if lst[lq] == 0 else 4
        ca = lw[lq, o]
        cb = lw[lq, o + 1]
        fl = 0.0
        for i in range(n):
            if par[i] == rb:
                fl += rsv[i]
        bl = 0
        if ca < np.inf and not ca - fl > _FAST_RTOL * max(1.0, ca):
            if not fl - ca > _FAST_RTOL * max(1.0, ca):
                ok = False  # too close to the quota to tell
            bl = 1
        elif cb < np.inf and not fl + cb > _FAST_RTOL * max(1.0, cb):
            if not -cb - fl > _FAST_RTOL * max(1.0, cb):
                ok = False
            bl = -1
        if ok and bl != 0:
            y = ca if bl > 0 else -cb  # the b side's inflow
            num_a, den_a = _pool_sums(mkt, par, ra, ra)
            num_b, den_b = _pool_sums(mkt, par, rb, rb)
            ha = (num_a - (0.0 - y)) / den_a
            hb = (num_b - (0.0 + y)) / den_b
            if not _clear_pool(mkt, par, ra, 0.0 - y, num_a, den_a, price, x, rsv):
                ok = False
            if not _clear_pool(mkt, par, rb, 0.0 + y, num_b, den_b, price, x, rsv):
                ok = False
            gap = (hb - ha) if bl > 0 else (ha - hb)
            if not gap > _FAST_RTOL * max(1.0, abs(ha), abs(hb)):
                ok = False  # the importer's hub price must exceed the exporter's
            for i in range(n):
                if par[i] == ra or par[i] == rb:
                    qb[i] = 2
    if ok:
        for i in range(n):
            if qb[i] != 0:  # in a pool: no reserve; 2: a binding quota
                rsv[i] = 0.0
                qb[i] = qb[i] - 1
    # every array used on every path to the one exit: numba's pruning then removes their
    # reference counting (as in linking.fast_paths.fast_exact)
    keep = (mkt.shape[0] + ends.shape[0] + lw.shape[0] + lst.shape[0] + par.shape[0]
            + price.shape[0] + x.shape[0] + rsv.shape[0] + qb.shape[0])
    return ok and keep >= 0
