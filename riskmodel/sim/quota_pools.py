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

``quota_pools_exact`` is the same with the solver's exact pool root (``fast_paths._pool_exact``:
the collar sweep) for a pool the closed form cannot clear, a binding collar, and its uniqueness
checks (a pool holding the free quota link needs a unique split and price; a pool beside a
binding quota a unique price); the kernel tries it where ``quota_pools`` declines. Its answers
are ``fast_exact``'s, bit for bit, where it answers.

``quota_pools`` declines (returns False; the solver answers) wherever the solver's fast path
would not vouch for a closed form: abatement not linear, any fee, a market import/export bound,
a second quota link, a zero cap, a quota link closing a cycle, a member not strictly inside its
collar (margin ``fast_paths._FAST_RTOL``), a flow or a price gap too close to its bound to
tell. Where it answers, prices and net imports are those of ``fast_closed``: the same sums in
the same (market) order; only the flow over the quota link, which decides whether it binds, is
summed in market order rather than the solver's tree order (rounding; both decline within 1e-9
of the cap). Tested against ``linking.solve_step`` on random forests
(``tests/test_quota_pools.py``).

The kernel calls ``quota_pools`` (not inlined: an inlined copy of its arrays is
reference-counted in the kernel's day loop, 117 ns a call against 31 ns called, pair with a
binding quota); inside, every helper is inlined (numba IR) and every array is used on the way
to its one exit, so it calls nothing and numba's pruning removes the reference counting of its
arguments. ``quota_pools_exact`` calls ``_pool_exact`` and so pays it, as ``fast_exact`` does.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from riskmodel.linking.fast_paths import (
    _CLS_CLOSED,
    _CLS_FLAT,
    _CLS_SOME_FLAT,
    _CLS_VERTICAL,
    _FAST_RTOL,
    _fast_market_ok,
    _own_price_s_inl,
    _pool_exact,
)
from riskmodel.linking.specialise import inlined, respecialise
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
#: ``quota_pools_exact`` takes a pool the closed form cannot clear (a binding collar) to the
#: solver's exact pool root (``fast_paths._pool_exact``); False in ``quota_pools``, which declines
#: instead (numba prunes the branch before typing it, so ``quota_pools`` calls nothing)
_EXACT = False


@njit(cache=True, error_model="numpy", inline="always")
def _member(par, i: int, r: int, r2: int) -> bool:
    """Market i belongs to pool r or pool r2."""
    return par[i] == r or par[i] == r2


@njit(cache=True, error_model="numpy", inline="always")
def _clear_pool(mkt, par, r: int, r2: int, y: float, price, x, rsv, fw, iw
                ) -> tuple[bool, int, float]:
    """Pools r and r2 (r2 == r: one pool) as one, importing y (common Mt): each member's own
    price, net imports (own Mt) and reserve operation into ``price`` / ``x`` / ``rsv``, its net
    imports in common Mt into ``fw[i]``, as the solver writes them. Returns (cleared, class,
    hub price): the closed form where every member lies strictly inside its collar
    (``_CLS_CLOSED``), else (``_EXACT`` only) the solver's exact pool root and its class;
    cleared False where neither applies or no clearing price exists. ``iw[:n]`` and ``fw[n:]``
    are scratch."""
    n = mkt.shape[0]
    num = 0.0
    den = 0.0
    # the solver's arithmetic, except that a division by exactly 1 (the numeraire's fx, a
    # market in common permit units) is skipped: v / 1.0 == v in IEEE arithmetic, so results
    # stay bit for bit the solver's, and the divisions that remain are the one per pool (the
    # divider was the call's bottleneck: benchmarks/results/kernel_profile.md)
    for i in range(n):
        if _member(par, i, r, r2):
            s = mkt[i, M_S]
            c = mkt[i, M_C]
            fx = mkt[i, M_FX]
            num += s * c * mkt[i, M_P_AUT]
            den += c * s * s if fx == 1.0 else c * s * s / fx
    pi = (num - y) / den
    closed = True
    for i in range(n):
        if not _member(par, i, r, r2):
            continue
        s = mkt[i, M_S]
        fx = mkt[i, M_FX]
        q = (pi * s if fx == 1.0 else pi * s / fx) + 0.0
        xx = mkt[i, M_C] * (mkt[i, M_P_AUT] - q)
        if not _market_ok(mkt[i, M_P_AUT], 0.0, 0.0, mkt[i, M_FLOOR], mkt[i, M_CEIL], np.inf,
                          np.inf, q, xx, 0.0):
            closed = False
        price[i] = q
        fw[i] = xx * s
        x[i] = xx if s == 1.0 else fw[i] / s
        rsv[i] = 0.0
    cleared = closed
    cls = _CLS_CLOSED
    if not closed and _EXACT:
        m = 0
        for i in range(n):
            if _member(par, i, r, r2):
                iw[m] = i
                m += 1
        pi, cls = _pool_exact(mkt, iw, 0, m, y, fw, 0, n, 3 * n)
        cleared = pi == pi
        if cleared:
            for k in range(m):
                i = iw[k]
                xv = fw[i] / mkt[i, M_S]
                q, r_i = _own_price_s_inl(mkt[i, M_P_AUT], mkt[i, M_C], mkt[i, M_ETA],
                                          mkt[i, M_FLOOR], mkt[i, M_CEIL], mkt[i, M_RES_UP],
                                          mkt[i, M_RES_DOWN], xv)
                price[i] = q
                x[i] = xv
                rsv[i] = r_i
    return cleared, cls, pi


@njit(cache=True, error_model="numpy")
def quota_pools(mkt, ends, lw, lst, par, price, x, rsv, qb, fw, iw) -> bool:
    """Clear one step (module docstring): ``price`` (own currency), ``x`` (net imports, own Mt),
    ``rsv`` (reserve operation, own Mt) and ``qb`` (1 where a quota binds on the market's plain
    pool) per market; ``lw`` / ``lst`` are today's link rows and states (the kernel's). False
    (outputs undefined) where the solver must answer. ``par``, ``fw`` and ``iw`` are scratch
    (the solver's workspace: ``fw`` at least 12 n long, ``iw`` n)."""
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
    cls1 = _CLS_CLOSED
    if ok:
        for i in range(n):
            if qb[i] == 0:
                q_i, r_i = _own_price_s_inl(
                    mkt[i, M_P_AUT], mkt[i, M_C], mkt[i, M_ETA], mkt[i, M_FLOOR],
                    mkt[i, M_CEIL], mkt[i, M_RES_UP], mkt[i, M_RES_DOWN], 0.0)
                price[i] = q_i
                x[i] = 0.0
                rsv[i] = r_i
                fw[i] = 0.0
            elif par[i] == i and i != rb:  # a pool's root solves it once (rb's with ra's)
                done, cls, _pi = _clear_pool(mkt, par, i, rb if i == ra else i, 0.0, price, x,
                                             rsv, fw, iw)
                ok = ok and done
                if i == ra:
                    cls1 = cls
    # pass 2: the quota binds where the flow a -> b (the b side's net imports) lies beyond a cap
    bl = 0
    if ok and lq >= 0:
        o = 0 if lst[lq] == 0 else 4
        ca = lw[lq, o]
        cb = lw[lq, o + 1]
        fl = 0.0
        for i in range(n):
            if par[i] == rb:
                fl += fw[i]
        if ca < np.inf and not ca - fl > _FAST_RTOL * max(1.0, ca):
            if not fl - ca > _FAST_RTOL * max(1.0, ca):
                ok = False  # too close to the quota to tell
            bl = 1
        elif cb < np.inf and not fl + cb > _FAST_RTOL * max(1.0, cb):
            if not -cb - fl > _FAST_RTOL * max(1.0, cb):
                ok = False
            bl = -1
        if ok and bl == 0:
            # the pool holding the free quota link must have a unique split and price
            base = cls1 % _CLS_SOME_FLAT
            if base == _CLS_VERTICAL or base == _CLS_FLAT or cls1 >= _CLS_SOME_FLAT:
                ok = False
        if ok and bl != 0:
            y = ca if bl > 0 else -cb  # the b side's inflow
            done_a, cls_a, ha = _clear_pool(mkt, par, ra, ra, 0.0 - y, price, x, rsv, fw, iw)
            done_b, cls_b, hb = _clear_pool(mkt, par, rb, rb, 0.0 + y, price, x, rsv, fw, iw)
            ok = done_a and done_b
            if cls_a % _CLS_SOME_FLAT == _CLS_FLAT or cls_b % _CLS_SOME_FLAT == _CLS_FLAT:
                ok = False  # a price that is not unique beside a binding quota
            gap = (hb - ha) if bl > 0 else (ha - hb)
            if not gap > _FAST_RTOL * max(1.0, abs(ha), abs(hb)):
                ok = False  # the importer's hub price must exceed the exporter's
    if ok:
        for i in range(n):
            binds = bl != 0 and (par[i] == ra or par[i] == rb)
            qb[i] = 1 if binds else 0
    # every array used on every path to the one exit: numba's pruning then removes their
    # reference counting (as in linking.fast_paths.fast_exact)
    keep = (mkt.shape[0] + ends.shape[0] + lw.shape[0] + lst.shape[0] + par.shape[0]
            + price.shape[0] + x.shape[0] + rsv.shape[0] + qb.shape[0] + fw.shape[0]
            + iw.shape[0])
    return ok and keep >= 0


#: :func:`quota_pools` with the solver's exact pool roots where a collar binds (it calls
#: ``fast_paths._pool_exact``, so its arrays are reference-counted: the kernel's second try).
_clear_pool_exact = njit(cache=True, error_model="numpy", inline="always")(respecialise(
    _clear_pool.py_func, "_clear_pool_exact", _EXACT=True))
quota_pools_exact = njit(cache=True, error_model="numpy")(respecialise(
    quota_pools.py_func, "quota_pools_exact", _clear_pool=_clear_pool_exact))
