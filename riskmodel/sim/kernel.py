"""The one-pass Monte Carlo kernel (numba): draws, prices, output, bridge, link, events, stats.

Per path and trading day: correlated innovations -> each market's fitted price recursion ->
output paths -> observed BAU emissions ``U = S_obs + c p_obs^eta`` (MODEL.md §3 bridge) ->
per variant (autarky, linked, linked with events) the counterfactual required abatement
``D = U (1 - exempt) - S'`` cleared by ``linkstep`` (collars, offsets, penalty, links) ->
streaming statistics. Nothing grows with the number of days: per-path accumulators are folded
into the chunk sums at each compliance date (the last trading day of a year). The three variants
share every price and output draw (common random numbers); events and K-ETS discretion draw
from their own streams.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from numba import njit

from riskmodel.linking import (
    FLAG_EXPORT_QUOTA,
    FLAG_IMPORT_QUOTA,
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
    N_MARKET_FIELDS,
    N_OUT,
    O_FLOW,
    O_PRICE,
    O_RESERVE,
    STATUS_INFEASIBLE,
)
from riskmodel.linking.collar import own_price_s
from riskmodel.linking.fast_paths import fast_closed as _fast_closed
from riskmodel.linking.fast_paths import fast_exact
from riskmodel.linking.network import _solve_general
from riskmodel.linking.specialise import respecialise
from riskmodel.linking.topology import STATUS_FAST_DECLINED
from riskmodel.sim import banking_step as BK
from riskmodel.sim import layout as L
from riskmodel.sim import link_state as LS
from riskmodel.sim.events import step_chain_at
from riskmodel.sim.innovations import lookup_at
from riskmodel.sim.price_kernels import init_state, log_price_block, shock_block, vol_level
from riskmodel.sim.quota_pools import quota_pools, quota_pools_exact
from riskmodel.sim.rng import fill_gamma, fill_normal, fill_uniform, normal, uniform

#: What the fast-path-only solver returns where the general solver would have to answer: the
#: kernel stops and returns it as its infeasible-step count (the engine reruns the chunk with
#: the general kernel, so results are those of the general kernel, bit for bit).
STATUS_NEEDS_GENERAL = -1


#: The fast path's common case compiled into ``run_paths`` (numba inlines it at the IR level):
#: it calls nothing, so numba's pruning drops the reference counting of its array copies (12% of
#: the bench scenario's samples in ``perf`` before, 0.4% after). ``run_paths_lean`` skips it
#: and calls ``fast_exact`` first, as it called the fast path before: one copy of the fast path
#: to compile (docs/ENGINE.md "First run").
fast_closed = njit(cache=True, error_model="numpy", inline="always")(_fast_closed.py_func)


@njit(cache=True, inline="always")
def _decline_step(mkt, ends, lpar, lstate, out, lout, flags, fwork, iwork) -> int:
    """Stands in for ``fast_closed`` in the lean kernel: go on to ``fast_exact``."""
    return STATUS_FAST_DECLINED


@njit(cache=True, inline="always")
def _no_general(mkt, ends, lpar, lstate, out, lout, flags, fwork, iwork, contract) -> int:
    """Stands in for the general solver in the lean kernel: refuse the step."""
    return STATUS_NEEDS_GENERAL


#: Features a specialised kernel compiles out (``pool_kernel``) where its scenario has none:
#: regulatory events (the third variant), K-ETS discretion, the EU MSR (on the bank or not),
#: the t copula, the annual per-path arrays (``--keep-annual``), the volatility-level draws
#: (``simulation.vol_level_sd``). Each guards its sections as
#: ``if _FEATURE and ...``; numba prunes a branch on a global that is False before typing it,
#: so the code is neither typed nor lowered. ``run_paths`` and ``run_paths_lean`` keep all.
_EVENTS = True
_KETS = True
_MSR = True
_COPULA_T = True
_ANNUAL = True
_VOL_LEVEL = True
#: Pools joined by at most one quota link (``sim/quota_pools.py``: the closed form, then exact
#: pool roots where a collar binds) before the link solver: compiled into ``run_paths``,
#: ``run_paths_lean`` and the quota-pool kernels, not into the pool kernels (every link plain:
#: ``plain_pools`` answers, or the engine reruns the chunk on the lean kernel).
_QUOTA_POOLS = True
FEATURES = ("events", "kets", "msr", "copula_t", "annual", "vol_level")

_TINY = 1e-12
#: Log prices at or below this are a zero price (no scarcity): no log return is taken across them.
_LOG_POS = math.log(_TINY) + 1.0
_NA = 18  # per-path accumulators
_QFLAGS = FLAG_IMPORT_QUOTA | FLAG_EXPORT_QUOTA


@njit(cache=True, inline="always")
def abatement(c: float, eta: float, p: float) -> float:
    """a(p) = c p**eta for p >= 0 (0 below)."""
    if p <= 0.0:
        return 0.0
    if eta == 1.0:
        return c * p
    return c * p**eta


@njit(cache=True, inline="always")
def _cost(c: float, eta: float, a: float) -> float:
    """Abatement cost of a tonnes: integral of the marginal cost (a / c) ** (1 / eta)."""
    if a <= 0.0:
        return 0.0
    if eta == 1.0:
        return a * a / (2.0 * c)
    k = 1.0 / eta
    return a ** (1.0 + k) / ((1.0 + k) * c**k)


@njit(cache=True, inline="always")
def _index(m: float, b: float) -> float:
    """Supply index ``m**b`` of an indexed cap (b = 0 absolute, 1 intensity) without a pow call
    in the two common cases."""
    if b == 0.0:
        return 1.0
    if b == 1.0:
        return m
    return m**b


@njit(cache=True, inline="always")
def _bin(v: float, lo: float, step: float, nb: int) -> int:
    """Histogram bin: 0 underflow, 1..nb regular, nb + 1 overflow."""
    f = (v - lo) / step
    if math.isnan(f) or f < 0.0:
        return 0
    if f >= nb:
        return nb + 1
    return int(f) + 1


@njit(cache=True, inline="always")
def _day_shares(yv, a, v: int, i: int, kz: int) -> None:
    """Average price, mean squared log return and the shares of days at the floor, at the
    ceiling, with a binding quota and with a zero price (``a[v, i, kz]``) from the day
    counters ``a[v, i, :]`` of a year (``acc``) or of the horizon (``hacc``)."""
    nd = a[v, i, 6]
    yv[v, i, L.ST_PRICE_AVG] = a[v, i, 0] / nd
    yv[v, i, L.ST_MSR] = a[v, i, 1] / a[v, i, 2] if a[v, i, 2] > 0 else 0.0
    yv[v, i, L.ST_FLOOR] = a[v, i, 3] / nd
    yv[v, i, L.ST_CEIL] = a[v, i, 4] / nd
    yv[v, i, L.ST_QUOTA] = a[v, i, 5] / nd
    yv[v, i, L.ST_ZERO] = a[v, i, kz] / nd


@njit(cache=True, inline="always")
def plain_pools(mkt, ends, lw, lst, par, num, den, price, x) -> bool:
    """Closed form of MODEL.md §4 when every active link is plain (no quota, no fee, same
    permit units), abatement is linear and no collar can bind: each connected group trades at
    ``P = sum c_i fx_i^-1 (fx_i p_i') / sum c_i fx_i^-1`` (numeraire). Returns False (nothing
    written) when it does not apply, e.g. a price would hit the zero floor."""
    n = mkt.shape[0]
    for i in range(n):
        if (mkt[i, M_ETA] != 1.0 or mkt[i, M_S] != 1.0 or mkt[i, M_FLOOR] != 0.0
                or mkt[i, M_CEIL] != np.inf):
            return False
        par[i] = i
        num[i] = 0.0
        den[i] = 0.0
    for q in range(ends.shape[0]):
        st = lst[q]
        if st == 2:
            continue
        if LS.restricts(lw, q, st):
            return False
        ra = LS.root(par, ends[q, 0])
        rb = LS.root(par, ends[q, 1])
        if ra != rb:
            par[rb] = ra
    for i in range(n):
        r = LS.root(par, i)
        w = mkt[i, M_C] / mkt[i, M_FX]
        num[r] += w * mkt[i, M_P_AUT] * mkt[i, M_FX]
        den[r] += w
    for i in range(n):
        if LS.root(par, i) == i and num[i] <= 0.0:
            return False
    for i in range(n):
        r = LS.root(par, i)
        q_ = num[r] / den[r] / mkt[i, M_FX]
        price[i] = q_
        x[i] = mkt[i, M_C] * (mkt[i, M_P_AUT] - q_)
    return True


@njit(cache=True, error_model="numpy")
def run_paths(chunk, proc, dep, des, links, events, streams, acc, work):
    """Simulate ``chunk.n_paths`` paths and add their statistics to ``acc``.

    The arguments are the named structures of :mod:`riskmodel.sim.kernel_args` (``Chunk``,
    ``Processes``, ``Dependence``, ``Designs``, ``Links``, ``Events``, ``Streams``,
    ``Accumulators``, ``Workspace``). Returns ``(n_infeasible, n_clipped)``: link-solver steps
    without a feasible solution and days whose innovation the guard clipped.

    Draws are made a year (``dpy`` days) at a time into buffers, in this order per path and
    block: the normals of every day (``N + J`` per day), the t-copula mixing gammas, the regime
    uniforms of the regime-switching markets; the event chains' uniforms from their own stream.
    """
    # Each structure's fields, bound once by name (``kernel_args`` documents them): in the day
    # loop they are plain local arrays. (Passing structures or arrays into functions inside the
    # day loop costs reference counting and optimisation: see
    # benchmarks/results/kernel_structures.md; so the day loop's steps are its sections.)
    n_paths, first_path, Y, dpy, nv = (chunk.n_paths, chunk.first_path, chunk.years, chunk.dpy,
                                       chunk.n_variants)
    T = Y * dpy
    mp, mi, tab, comp = proc.param.copy(), proc.iparam, proc.innov_table, proc.compensator
    rmu, rom, ral, rbe = proc.regime_mu, proc.regime_omega, proc.regime_alpha, proc.regime_beta
    rom_b = rom
    rom = rom.copy()  # local copies: a path's volatility level rescales mp and rom (vol_level)
    rcum, rh0, rp0cum = proc.regime_cum, proc.regime_h0, proc.regime_p0cum
    copula_t, cnu, chol = dep.copula_t, dep.copula_nu, dep.chol
    jdrift, jsd, jcorr = dep.output_drift, dep.output_sd, dep.output_norm
    qobs, qcf, s_conv, st, bk = des.cap_obs, des.cap_cf, des.unit_conv, des.stab, des.bank
    ends, lpar, lk_f = links.ends, links.param, links.dynamic
    has_events, ev_link = events.on, events.link_chain
    ev_ex, ev_int = events.exemption_chain, events.intervention_chain
    s_main, s_ev, s_kets, zt = streams.main, streams.events, streams.kets, streams.zt
    s1, s2, s12, hp, he = acc.s1, acc.s2, acc.s12, acc.price_hist, acc.emis_hist
    plo, pstep, elo, estep = acc.price_lo, acc.price_step, acc.emis_lo, acc.emis_step
    keep_n, keep_price, keep_bau = acc.keep_paths, acc.keep_price, acc.keep_bau
    ann, ann_on = acc.annual, acc.annual_on
    fwork, iwork = work.fwork, work.iwork
    N = mp.shape[0]
    J = jdrift.shape[0]
    NL = ends.shape[0]
    NB = L.NBINS
    nz = N + J
    h = np.zeros((N, L.KMAX))
    prev = np.zeros((N, L.NPREV))
    reg = np.zeros(N, dtype=np.int64)
    logp = np.empty(N)
    logY = np.empty(J)
    M = np.empty(J)
    U = np.empty(N)
    Sb = np.empty(N)
    Sv = np.empty((3, N))
    price = np.empty((3, N))
    paut = np.empty((3, N))
    xv = np.empty((3, N))
    qbind = np.zeros((3, N), dtype=np.bool_)
    mkt = np.zeros((N, N_MARKET_FIELDS))
    for i in range(N):
        mkt[i, M_C] = mp[i, L.C]
        mkt[i, M_ETA] = mp[i, L.ETA]
        mkt[i, M_FX] = mp[i, L.FX]
        mkt[i, M_S] = s_conv[i]
        mkt[i, M_CEIL] = mp[i, L.CEIL]
        mkt[i, M_RES_UP] = mp[i, L.RES_UP]
        mkt[i, M_IMP_CAP] = np.inf
        mkt[i, M_EXP_CAP] = np.inf
        mkt[i, M_FEE_IMP] = 0.0
        mkt[i, M_FEE_EXP] = 0.0
    out = np.zeros((N, N_OUT))
    lout = np.zeros((max(NL, 1), N_LINK_OUT))
    flags = np.zeros(N, dtype=np.int64)
    lw = lpar.copy()
    lst = np.zeros(NL, dtype=np.int64)
    lst1 = np.zeros(NL, dtype=np.int64)
    par = np.zeros(N, dtype=np.int64)
    pnum = np.zeros(N)
    pden = np.zeros(N)
    pr_s = np.zeros(N)
    x_s = np.zeros(N)
    r_s = np.zeros(N)
    qf = np.zeros(N, dtype=np.int64)
    fl1 = np.zeros((3, N))
    rd1 = np.zeros((3, N))
    ru1 = np.zeros((3, N))
    n_infeasible = 0
    n_clipped = 0
    lstate = np.zeros(NL, dtype=np.int64)
    exs = np.zeros(N, dtype=np.int64)
    ins = np.zeros(N, dtype=np.int64)
    acc = np.zeros((3, N, _NA))
    hacc = np.zeros((3, N + 1, _NA))
    lprev = np.zeros((3, N))
    lcur = np.zeros((3, N))
    gclip = np.zeros(N, dtype=np.int64)  # days this year on which the guard clipped market i
    adj = np.zeros((3, N))
    adjk = np.zeros((3, N))
    tnac = np.zeros((3, N))
    mres = np.zeros((3, N))
    kres = np.zeros((3, N))
    ring = np.zeros((3, N, 24))
    msum = np.zeros((3, N))
    hicnt = np.zeros((3, N))
    acted = np.zeros((3, N, 2), dtype=np.bool_)
    yv = np.zeros((3, N + 1, L.NSTAT))
    # banking (docs/BANKING.md): per variant and market the bank, the MSR's holdings and last
    # year's bank; the observed design's bank; the day's gaps; each variant's reserve use
    bon = bk.shape[0] > 0
    bst = np.zeros((3, N, 5))  # bank, MSR holdings, last bank, partner-issued, announced
    bds1 = np.zeros(N)
    dlk = np.zeros((3, N))
    lpv2 = np.zeros(NL, dtype=np.int64)
    origin = bon and bk[0, L.BK_ORIGIN] > 0.0
    bobs = np.zeros(N)
    bkw = np.zeros((N, int(bk[0, L.BK_HM]) if bon else 1))
    rv = np.zeros((3, N))
    pin1 = np.zeros((3, N))
    bds0 = np.zeros(N)
    bdb = np.zeros(N)
    hz = np.zeros(bkw.shape)
    rm1 = np.zeros(N, dtype=np.int64)
    rnb = np.zeros(N, dtype=np.int64)
    rcnt = np.zeros(N, dtype=np.int64)
    rbest = np.zeros(N)
    rk = np.zeros(N, dtype=np.int64)
    # year-end holdings of plain banked pools (banking_step.pool_holdings)
    lstv = np.zeros(NL, dtype=np.int64)
    lplain = np.zeros(NL, dtype=np.bool_)
    hwgt = np.zeros(N)
    hown = np.zeros(N)
    hsum = np.zeros((4, N))
    hxl = np.full(N, np.nan)
    km = 0  # K-ETS: this compliance year's month (twelfths of the year: see the triggers)
    # per-block draw buffers (one block = up to one year of days)
    msx = np.full(N, -1, dtype=np.int64)  # slot of market i among the regime-switching ones
    nms = np.int64(0)  # not a literal: a literal 0 would type (and compile) shock_block twice
    for i in range(N):
        if mi[i, L.FAM] == L.F_MS or mi[i, L.FAM] == L.F_MSGARCH or mp[i, L.TT_ON] > 0.0:
            msx[i] = nms
            nms += 1
    exx = np.full(N, -1, dtype=np.int64)  # event-chain slots: links, then exemptions, ...
    inx = np.full(N, -1, dtype=np.int64)  # ... then interventions
    nch = NL
    for i in range(N):
        if mi[i, L.HAS_EX]:
            exx[i] = nch
            nch += 1
    for i in range(N):
        if mi[i, L.HAS_INT]:
            inx[i] = nch
            nch += 1
    ev_on = has_events and nv > 2
    gzb = np.empty(dpy * nz)
    pend = np.empty(2 * dpy * nz + 2, dtype=np.int64)
    wgb = np.empty(dpy if copula_t else 0)
    urb = np.empty(dpy * nms)
    evb = np.empty(dpy * nch if ev_on else 0)
    xb = np.empty((dpy, nz))
    zb = np.empty((dpy, N))
    Mb = np.empty((dpy, J))
    pob = np.empty((dpy, N))
    eb = np.empty((dpy, N))
    hb = np.empty((dpy, N))
    mb = np.empty((dpy, N))
    kb = np.empty((dpy, N))
    Ub = np.empty((dpy, N))
    Sbb = np.empty((dpy, N))
    Sob = np.empty((dpy, N))
    lsb = np.zeros((dpy, NL), dtype=np.int64)
    exb = np.zeros((dpy, N), dtype=np.int64)
    inb = np.zeros((dpy, N), dtype=np.int64)
    for p in range(n_paths):
        # ---- start of a path: processes' states, stabilisation reserves, banks, event chains
        gp = first_path + p
        keep = gp < keep_n
        for i in range(N):
            fam = mi[i, L.FAM]
            u0 = uniform(s_main) if (fam == L.F_MS or fam == L.F_MSGARCH) else 0.0
            init_state(i, mp, mi, rh0, rp0cum, u0, h, prev, reg)
            logp[i] = mp[i, L.LOGP0]
            for v in range(3):
                adj[v, i] = 0.0
                adjk[v, i] = 0.0
                tnac[v, i] = st[i, L.MSR_TNAC0]
                mres[v, i] = st[i, L.MSR_RES0]
                kres[v, i] = st[i, L.K_RES0]
                msum[v, i] = 0.0
                hicnt[v, i] = 0.0
                acted[v, i, 0] = False
                acted[v, i, 1] = False
                for m in range(24):
                    ring[v, i, m] = st[i, L.K_AVG0]
                if bon and bk[i, L.BK_ON] > 0.0:
                    b0 = bk[i, L.BK_B0]
                    bst[v, i, 0] = b0
                    bst[v, i, 1] = bk[i, L.BK_HOLD0]
                    bst[v, i, 2] = bk[i, L.BK_TNAC_BEFORE]
                    bst[v, i, 3] = 0.0
                    bst[v, i, 4] = 0.0
                    dlk[v, i] = 0.0
                    bobs[i] = b0
                    if _MSR and bk[i, L.BK_MSR] > 0.0:
                        adj[v, i], bst[v, i, 1] = BK.msr_adjustment(
                            int(bk[i, L.BK_YEAR0]), b0, bk[i, L.BK_TNAC_BEFORE], bst[v, i, 1],
                            bk[i, L.BK_AUC0])
                        bst[v, i, 4] = BK.msr_announced(b0, bst[v, i, 1])
        for j in range(J):
            logY[j] = 0.0
        for q in range(NL):
            lstate[q] = 0
            lpv2[q] = 0
        for i in range(N):
            exs[i] = 0
            ins[i] = 0
        acc[:, :, :] = 0.0
        hacc[:, :, :] = 0.0
        for t in range(T):
            y = t // dpy
            last = (t % dpy) == dpy - 1
            td = t % dpy
            if td == 0:
                # ---- the year's exogenous paths, in loops whose iterations are independent
                # (or short recurrences), so that the CPU overlaps them: draws, copula
                # innovations, output, event chains, the fitted price recursions and the
                # observed BAU emissions of every day of the block (a year, or what is left)
                nd = min(dpy, T - t)
                if _VOL_LEVEL:
                    for i in range(N):
                        if mp[i, L.VLS] > 0.0:  # this year's level of the market's volatility
                            xi = mp[i, L.VLS] * normal(s_main, zt)
                            rho = mp[i, L.VLP]
                            if y > 0 and rho > 0.0:  # AR(1) across compliance years
                                xi = rho * mp[i, L.VLX] + math.sqrt(1.0 - rho * rho) * xi
                            mp[i, L.VLX] = xi
                            vol_level(i, mp, mi, rom, rom_b, xi)
                fill_normal(s_main, zt, gzb[:nd * nz], pend)
                if _COPULA_T and copula_t:
                    fill_gamma(s_main, zt, 0.5 * cnu, wgb[:nd])
                if nms > 0:
                    fill_uniform(s_main, urb[:nd * nms])
                if _EVENTS and ev_on:
                    fill_uniform(s_ev, evb[:nd * nch])
                for d in range(nd):
                    o = d * nz
                    for a in range(nz):
                        sacc = 0.0
                        for b in range(a + 1):
                            sacc += chol[a, b] * gzb[o + b]
                        xb[d, a] = sacc
                    if _COPULA_T and copula_t:
                        w = math.sqrt(cnu / (2.0 * wgb[d]))
                        for i in range(N):
                            xb[d, i] *= w
                    for i in range(N):
                        zb[d, i] = lookup_at(mi[i, L.TAB_MODE], mp[i, L.TAB_LO], mp[i, L.TAB_STEP],
                                             tab, i, xb[d, i])
                for d in range(nd):
                    for j in range(J):
                        logY[j] += jdrift[j] + jsd[j] * xb[d, N + j]
                        Mb[d, j] = math.exp(logY[j] - jcorr[j] * (t + d + 1))
                if _EVENTS and ev_on:
                    for d in range(nd):
                        o = d * nch
                        for q in range(NL):
                            lstate[q] = step_chain_at(ev_link, q, lstate[q], evb[o + q])
                            lsb[d, q] = lstate[q]
                        for i in range(N):
                            if exx[i] >= 0:
                                exs[i] = step_chain_at(ev_ex, i, exs[i], evb[o + exx[i]])
                            if inx[i] >= 0:
                                ins[i] = step_chain_at(ev_int, i, ins[i], evb[o + inx[i]])
                            exb[d, i] = exs[i]
                            inb[d, i] = ins[i]
                # fitted prices: the variance recursions (serial), then the martingale
                # compensators (independent), then the returns and log prices (short chains)
                n_clipped += shock_block(nd, mp, mi, rmu, rom, ral, rbe, rcum, zb, urb, nms, msx,
                                         h, prev, reg, eb, hb, mb, gclip)
                log_price_block(nd, mp, mi, comp, eb, hb, mb, kb, prev, logp, pob)
                for d in range(nd):
                    for i in range(N):
                        pob[d, i] = math.exp(pob[d, i])
                for d in range(nd):
                    for i in range(N):
                        mm = Mb[d, mi[i, L.JUR]]
                        dobs = abatement(mp[i, L.C], mp[i, L.ETA], pob[d, i])
                        so = qobs[i, y] * _index(mm, mp[i, L.B_OBS])
                        Sob[d, i] = so
                        Ub[d, i] = so + dobs
                        Sbb[d, i] = qcf[i, y] * _index(mm, mp[i, L.B_CF])
            # ---- today's slice of the block
            for j in range(J):
                M[j] = Mb[td, j]
            for i in range(N):
                U[i] = Ub[td, i]
                Sb[i] = Sbb[td, i]
            if bon:
                for i in range(N):
                    if bk[i, L.BK_ON] > 0.0:
                        # one inversion per market-day from the observed price and bank; BAU
                        # emissions U = S^o + n̄ + c ξ (generalises S^o + c p^o, BANKING.md §5.3)
                        xi = BK.gaps(bk, i, y, Y, pob[td, i], bobs[i], mp[i, L.C], bkw)
                        U[i] = Sob[td, i] + BK.nbar(bk, i, y, Y) + mp[i, L.C] * xi
            # ---- variants (autarky, linked, linked_events), each cleared in turn
            for v in range(nv):
                # -- the variant's supply and autarky price (the solver's market rows)
                for i in range(N):
                    S = Sb[i] + adj[v, i] + adjk[v, i]
                    ex = 0.0
                    fl = mp[i, L.FLOOR]
                    rd = mp[i, L.RES_DOWN]
                    if _EVENTS and v == 2:
                        if exb[td, i] == 1:
                            ex = mp[i, L.EX_SHARE]
                        if inb[td, i] == 1:
                            S += mp[i, L.INT_SUPPLY] * Sb[i]
                            if mp[i, L.INT_FLOOR] > fl:
                                fl = mp[i, L.INT_FLOOR]
                                rd = np.inf
                    Sv[v, i] = S
                    bds0[i] = ex
                    d = U[i] * (1.0 - ex) - S
                    if mp[i, L.ETA] == 1.0:
                        pa = d / mp[i, L.C]
                    else:
                        pa = (max(d, 0.0) / mp[i, L.C]) ** (1.0 / mp[i, L.ETA])
                    paut[v, i] = pa
                    mkt[i, M_P_AUT] = pa
                    mkt[i, M_FLOOR] = fl
                    mkt[i, M_RES_DOWN] = rd
                    if mp[i, L.OFF_ON] > 0.0:
                        mkt[i, M_RES_UP] = mp[i, L.OFF_SHARE] * S
                if bon:
                    for i in range(N):
                        if bk[i, L.BK_ON] > 0.0:
                            # the bridged price: this year's shortfall against the observed
                            # design (exemption bds0[i] of U), expected cap differences ahead,
                            # the bank difference
                            bds0[i] = Sob[td, i] - Sv[v, i] - bds0[i] * U[i]
                            bdb[i] = bst[v, i, 0] - bobs[i]
                            bds1[i] = -bst[v, i, 4]
                            pa = BK.bridged(bk, i, y, Y, pob[td, i], bkw, bds0[i], bdb[i],
                                            mp[i, L.C], bds1[i], hz)
                            paut[v, i] = pa
                            mkt[i, M_P_AUT] = pa
                # -- the variant's link states and today's quotas. pp_ok: plain_pools' own
                # tests (markets, then active links), on scalars: the inlined call takes nine
                # arrays and pays their reference counting even where it returns at once
                # (bench scenario 602 -> 515 ns per path-step, simplified 423 -> 339)
                pp_ok = True
                qp_ok = True  # and quota_pools' tests of the markets
                for i in range(N):
                    if (mkt[i, M_ETA] != 1.0 or mkt[i, M_S] != 1.0 or mkt[i, M_FLOOR] != 0.0
                            or mkt[i, M_CEIL] != np.inf):
                        pp_ok = False
                    if (mkt[i, M_ETA] != 1.0 or mkt[i, M_FEE_IMP] != 0.0
                            or mkt[i, M_FEE_EXP] != 0.0 or mkt[i, M_IMP_CAP] != np.inf
                            or mkt[i, M_EXP_CAP] != np.inf):
                        qp_ok = False
                for q in range(NL):
                    if v == 0 or t < lk_f[q, L.START_DAY]:
                        lst[q] = 2
                    elif v == 1:
                        lst[q] = 0
                    else:
                        lst[q] = lsb[td, q]
                    a = ends[q, 0]
                    b = ends[q, 1]
                    if _EVENTS and v == 2 and origin and t >= lk_f[q, L.START_DAY]:
                        if lst[q] == 2 and lpv2[q] != 2:
                            # delinked today: banked permits return to their issuer
                            BK.delink_origin(bk, bst, dlk, a, b)
                        lpv2[q] = lst[q]
                    # today's caps, as link_state.state_caps (written out: an inlined call
                    # taking these arrays costs reference counting in the day loop, measured
                    # 647 -> 1,089 ns per path-step on the bench scenario)
                    for col in range(8):
                        lw[q, col] = lpar[q, col]
                    sh = lk_f[q, L.Q_SHARE]
                    if sh >= 0.0:
                        lw[q, 0] = min(lpar[q, 0], sh * Sv[v, b] * s_conv[b])
                        lw[q, 1] = min(lpar[q, 1], sh * Sv[v, a] * s_conv[a])
                    sh = lk_f[q, L.RQ_SHARE]
                    if sh >= 0.0:
                        lw[q, 4] = min(lpar[q, 4], sh * Sv[v, b] * s_conv[b])
                        lw[q, 5] = min(lpar[q, 5], sh * Sv[v, a] * s_conv[a])
                    if lst[q] != 2:
                        o4 = 0 if lst[q] == 0 else 4
                        if (lw[q, o4] != np.inf or lw[q, o4 + 1] != np.inf or lw[q, o4 + 2] != 0.0
                                or lw[q, o4 + 3] != 0.0):
                            pp_ok = False  # as link_state.restricts
                # -- link clearing. Fast paths: isolated markets (autarky, or no active link) use
                # the exact own response; a variant whose inputs equal the previous one's reuses
                # its solution; plain pools the closed form; else the link solver
                same = v > 0
                any_link = False
                for q in range(NL):
                    if lst[q] != 2:
                        any_link = True
                    if v == 2 and lst[q] != lst1[q]:
                        same = False
                if v == 1 and any_link:
                    same = False
                if bon and any_link:
                    # banking across links: the component's exhaustion year sets the solver's
                    # autarky prices (pooled map for plain pools)
                    BK.pool_exhaustion(bk, y, Y, pob, td, bkw, bds0, bdb, bds1, mkt, M_C, M_FX,
                                       M_P_AUT, ends, lst, lw, par, rm1, rnb, rcnt, rbest, rk, hz)
                if same:
                    for i in range(N):
                        if (mkt[i, M_P_AUT] != pin1[v - 1, i] or mkt[i, M_FLOOR] != fl1[v - 1, i]
                                or mkt[i, M_RES_DOWN] != rd1[v - 1, i]
                                or mkt[i, M_RES_UP] != ru1[v - 1, i]):
                            same = False
                            break
                if same:
                    for i in range(N):
                        price[v, i] = price[v - 1, i]
                        xv[v, i] = xv[v - 1, i]
                        qbind[v, i] = qbind[v - 1, i]
                        rv[v, i] = rv[v - 1, i]
                elif not any_link:
                    for i in range(N):
                        # scalar arguments: no array crosses a call boundary in the day loop
                        price[v, i], rv[v, i] = own_price_s(
                            mkt[i, M_P_AUT], mkt[i, M_C], mkt[i, M_ETA], mkt[i, M_FLOOR],
                            mkt[i, M_CEIL], mkt[i, M_RES_UP], mkt[i, M_RES_DOWN], 0.0)
                        xv[v, i] = 0.0
                        qbind[v, i] = False
                elif pp_ok and plain_pools(mkt, ends, lw, lst, par, pnum, pden, pr_s, x_s):
                    for i in range(N):
                        price[v, i] = pr_s[i]
                        xv[v, i] = x_s[i]
                        qbind[v, i] = False
                        rv[v, i] = 0.0
                elif _QUOTA_POOLS and qp_ok and (
                        quota_pools(mkt, ends, lw, lst, par, pr_s, x_s, r_s, qf, fwork, iwork)
                        or quota_pools_exact(mkt, ends, lw, lst, par, pr_s, x_s, r_s, qf, fwork,
                                             iwork)):
                    # pools joined by at most one quota link: the closed form, then with the
                    # solver's exact pool roots (a binding collar); else the solver
                    for i in range(N):
                        price[v, i] = pr_s[i]
                        xv[v, i] = x_s[i]
                        qbind[v, i] = qf[i] != 0
                        rv[v, i] = r_s[i]
                else:
                    # the link solver's three tries (linking.solve_step's), called from here:
                    # passing the kernel's own arrays, the day loop counts no references
                    status = fast_closed(mkt, ends, lw, lst, out, lout, flags, fwork, iwork)
                    if status == STATUS_FAST_DECLINED:
                        status = fast_exact(mkt, ends, lw, lst, out, lout, flags, fwork, iwork)
                    if status == STATUS_FAST_DECLINED:
                        status = _solve_general(mkt, ends, lw, lst, out, lout, flags, fwork, iwork,
                                                True)
                    if status == STATUS_NEEDS_GENERAL:
                        return STATUS_NEEDS_GENERAL, n_clipped  # run_paths_lean only
                    if status == STATUS_INFEASIBLE:
                        n_infeasible += 1
                    for i in range(N):
                        price[v, i] = out[i, O_PRICE]
                        xv[v, i] = out[i, O_FLOW]
                        qbind[v, i] = (flags[i] & _QFLAGS) != 0
                        rv[v, i] = out[i, O_RESERVE]
                for i in range(N):
                    pin1[v, i] = mkt[i, M_P_AUT]
                    fl1[v, i] = mkt[i, M_FLOOR]
                    rd1[v, i] = mkt[i, M_RES_DOWN]
                    ru1[v, i] = mkt[i, M_RES_UP]
                if v == 1:
                    for q in range(NL):
                        lst1[q] = lst[q]
            # ---- daily statistics
            for v in range(nv):
                for i in range(N):
                    pv = price[v, i]
                    acc[v, i, 0] += pv
                    if v > 0 and pv == price[v - 1, i]:
                        lp = lcur[v - 1, i]  # same price as the previous variant: reuse the log
                    else:
                        lp = math.log(max(pv, _TINY))
                    lcur[v, i] = lp
                    if t > 0 and lp > _LOG_POS and lprev[v, i] > _LOG_POS:
                        d = lp - lprev[v, i]
                        acc[v, i, 1] += d * d
                        acc[v, i, 2] += 1.0
                    if pv <= 0.0:
                        acc[v, i, 7] += 1.0  # a zero price: supply exceeds BAU, no scarcity
                    lprev[v, i] = lp
                    if mp[i, L.COLLAR_F] > 0.0 and pv <= mp[i, L.COLLAR_F] * (1.0 + 1e-9):
                        acc[v, i, 3] += 1.0
                    if pv >= mp[i, L.COLLAR_K] * (1.0 - 1e-9):
                        acc[v, i, 4] += 1.0
                    if qbind[v, i]:
                        acc[v, i, 5] += 1.0
                    acc[v, i, 6] += 1.0
                    if keep:
                        keep_price[v, p, i, t] = pv
                        if v == 0:
                            keep_bau[p, i, t] = U[i]
                    if _KETS and mi[i, L.KETS_ON]:
                        msum[v, i] += pv
            # ---- K-ETS triggers (monthly). Month km of a compliance year ends on its day
            # ((km + 1) dpy) // 12 - 1: twelve months a year whatever dpy (with dpy = 252, every
            # 21 days), so the two-year average (24 months) and the runs of months do not drift
            # across year ends (the resolver refuses dpy < 12 with the triggers on)
            if _KETS and td == 0:
                km = 0
            if _KETS and td + 1 == ((km + 1) * dpy) // 12:
                mlen = td + 1 - (km * dpy) // 12  # this month's days
                km += 1
                for v in range(nv):
                    for i in range(N):
                        if not mi[i, L.KETS_ON]:
                            continue
                        mavg = msum[v, i] / mlen
                        msum[v, i] = 0.0
                        avg2 = 0.0
                        for m in range(24):
                            avg2 += ring[v, i, m]
                        avg2 /= 24.0
                        if mavg >= st[i, L.K_HI_MULT] * avg2:
                            hicnt[v, i] += 1.0
                        else:
                            hicnt[v, i] = 0.0
                        up = (hicnt[v, i] >= st[i, L.K_HI_MONTHS]
                              or mavg >= st[i, L.K_MID_MULT] * avg2)
                        down = mavg < st[i, L.K_LO_MULT] * avg2
                        uu = uniform(s_kets)
                        if up and not acted[v, i, 0] and uu < st[i, L.K_PROB]:
                            sold = min(st[i, L.K_RELEASE], kres[v, i])  # a finite reserve
                            kres[v, i] -= sold
                            adjk[v, i] += st[i, L.K_SHARE] * qcf[i, y] + sold
                            acted[v, i, 0] = True
                        elif down and not acted[v, i, 1] and uu < st[i, L.K_PROB]:
                            kres[v, i] += st[i, L.K_RELEASE]
                            adjk[v, i] -= st[i, L.K_SHARE] * qcf[i, y] + st[i, L.K_RELEASE]
                            acted[v, i, 1] = True
                        for m in range(23):
                            ring[v, i, m] = ring[v, i, m + 1]
                        ring[v, i, 23] = mavg
            # ---- compliance date
            if last:
                for v in range(nv):
                    for k in range(L.NSTAT):
                        yv[v, N, k] = 0.0
                    for i in range(N):
                        hxl[i] = np.nan
                    if bon and v > 0 and NL > 0:
                        # plain banked pools: each member holds its bound plus its c-share of
                        # the pool's bank above the summed bounds (BANKING.md §7.4)
                        for q in range(NL):
                            if t < lk_f[q, L.START_DAY]:
                                lstv[q] = 2
                            elif v == 1:
                                lstv[q] = 0
                            else:
                                lstv[q] = lsb[td, q]
                            lplain[q] = lstv[q] != 2 and BK.link_plain(lpar, lk_f, s_conv, ends,
                                                                       q, lstv[q])
                        for i in range(N):
                            hwgt[i] = mp[i, L.C] / mp[i, L.FX]
                            hown[i] = 0.0
                            if bk[i, L.BK_ON] > 0.0:
                                un = 0.0
                                if _EVENTS and v == 2 and exb[td, i] == 1:
                                    un = mp[i, L.EX_SHARE] * U[i]
                                hown[i] = (bst[v, i, 0] + Sv[v, i]
                                           + BK.ledger_reserve(rv[v, i], mp[i, L.COLLAR_F],
                                                               bk[i, L.BK_PENALTY])
                                           - (U[i] - abatement(mp[i, L.C], mp[i, L.ETA],
                                                               price[v, i]) - un))
                        BK.pool_holdings(bk, y, Y, ends, lstv, lplain, hwgt, hown, par, rnb,
                                         rcnt, hsum[0], hsum[1], hsum[2], hsum[3],
                                         hxl, lpar, lk_f, s_conv, Sv, v)
                    for i in range(N):
                        pv = price[v, i]
                        c = mp[i, L.C]
                        eta = mp[i, L.ETA]
                        fx = mp[i, L.FX]
                        E = U[i] - abatement(c, eta, pv)
                        yv[v, i, L.ST_PRICE] = pv
                        _day_shares(yv, acc, v, i, 7)
                        yv[v, i, L.ST_EMIS] = E
                        yv[v, i, L.ST_SUPPLY] = Sv[v, i]
                        yv[v, i, L.ST_FLOW] = xv[v, i] if v > 0 else 0.0
                        if not np.isnan(hxl[i]):
                            yv[v, i, L.ST_FLOW] = hxl[i]
                        yv[v, i, L.ST_TRANSFER] = yv[v, i, L.ST_FLOW] * pv * fx
                        g = 0.0
                        gap = 0.0
                        if v > 0:
                            pa = price[0, i]
                            aa = abatement(c, eta, pa)
                            al = abatement(c, eta, pv)
                            g = (_cost(c, eta, aa) - _cost(c, eta, al) - pv * (aa - al)) * fx
                            gap = pa - pv
                        yv[v, i, L.ST_GAIN] = g
                        yv[v, i, L.ST_GAP] = gap
                        yv[v, i, L.ST_BAU] = U[i]
                        yv[v, i, L.ST_OUTPUT] = M[mi[i, L.JUR]]
                        yv[v, i, L.ST_PAUT] = paut[v, i]
                        yv[v, i, L.ST_GUARD] = gclip[i] / dpy
                        hacc[v, i, 17] += gclip[i]  # guard-clipped days over the horizon
                        short = 0.0
                        unc = 0.0
                        if bon and bk[i, L.BK_ON] > 0.0:
                            # the bank ledger: B' = B + S + x + R - E, held at its bound with
                            # the excess reported as non-compliance (banking/ledger.py)
                            prev_b = bst[v, i, 0]
                            rv[v, i] = BK.ledger_reserve(rv[v, i], mp[i, L.COLLAR_F],
                                                         bk[i, L.BK_PENALTY])
                            # permits are surrendered for covered emissions: an exemption
                            # takes its share of BAU emissions out of the cap
                            unc = 0.0
                            if _EVENTS and v == 2 and exb[td, i] == 1:
                                unc = mp[i, L.EX_SHARE] * U[i]
                            bst[v, i, 0], short = BK.bank_step(
                                prev_b, Sv[v, i], yv[v, i, L.ST_FLOW], rv[v, i], E - unc,
                                BK.year_end_bound(bk, i, y, Y))
                            if _MSR and bk[i, L.BK_MSR] > 0.0:
                                # the MSR reads the bank as its TNAC: next year's supply change
                                adj[v, i], bst[v, i, 1] = BK.msr_adjustment(
                                    int(bk[i, L.BK_YEAR0]) + y + 1, bst[v, i, 0], prev_b,
                                    bst[v, i, 1], bk[i, L.BK_AUC0])
                                bst[v, i, 4] = BK.msr_announced(bst[v, i, 0], bst[v, i, 1])
                            bst[v, i, 2] = prev_b
                            bst[v, i, 3] = BK.foreign_held(bst[v, i, 3], yv[v, i, L.ST_FLOW],
                                                           bst[v, i, 0])
                        yv[v, i, L.ST_BANK] = bst[v, i, 0]
                        yv[v, i, L.ST_SHORT] = short
                        yv[v, i, L.ST_NONCOMP] = 1.0 if short > 0.0 else 0.0
                        for k in (L.ST_EMIS, L.ST_SUPPLY, L.ST_FLOW, L.ST_TRANSFER, L.ST_GAIN,
                                  L.ST_BAU, L.ST_BANK, L.ST_SHORT):
                            yv[v, N, k] += yv[v, i, k]
                        # per-path horizon accumulators
                        for k in range(7):
                            hacc[v, i, k] += acc[v, i, k]
                        hacc[v, i, 7] += E
                        hacc[v, i, 8] += Sv[v, i]
                        hacc[v, i, 9] += yv[v, i, L.ST_FLOW]
                        hacc[v, i, 10] += yv[v, i, L.ST_TRANSFER]
                        hacc[v, i, 11] += g
                        hacc[v, i, 12] += U[i]
                        hacc[v, i, 13] += gap
                        hacc[v, i, 14] += acc[v, i, 7]
                        hacc[v, i, 15] += short
                        hacc[v, i, 16] += yv[v, i, L.ST_NONCOMP]
                        for k in range(_NA):
                            acc[v, i, k] = 0.0
                        hp[v, i, y, _bin(math.log(max(pv, _TINY)), plo[i], pstep[i], NB)] += 1
                        if _ANNUAL and ann_on:
                            ann[0, v, p, i, y] = pv
                            ann[1, v, p, i, y] = U[i]
                            ann[2, v, p, i, y] = Sv[v, i]
                            ann[3, v, p, i, y] = E
                            ann[4, v, p, i, y] = yv[v, i, L.ST_FLOW]
                            ann[5, v, p, i, y] = M[mi[i, L.JUR]]
                            ann[6, v, p, i, y] = paut[v, i]
                            ann[7, v, p, i, y] = bst[v, i, 0]
                            ann[8, v, p, i, y] = short
                            ann[9, v, p, i, y] = rv[v, i]
                            ann[10, v, p, i, y] = pob[td, i]
                            ann[11, v, p, i, y] = dlk[v, i]
                            ann[12, v, p, i, y] = unc
                        dlk[v, i] = 0.0
                        # stabilisation: MSR decides next year's supply adjustment (banking
                        # markets: above, from the bank)
                        if _MSR and mi[i, L.MSR_ON] and not (bon and bk[i, L.BK_ON] > 0.0):
                            tn = tnac[v, i] + Sv[v, i] - E
                            nxt = 0.0
                            if tn > st[i, L.MSR_IN]:
                                nxt = -st[i, L.MSR_RATE] * tn
                            elif tn < st[i, L.MSR_REL_TH] and mres[v, i] > 0.0:
                                nxt = min(st[i, L.MSR_REL_AMT], mres[v, i])
                            mres[v, i] -= nxt
                            if mres[v, i] > st[i, L.MSR_CANCEL]:
                                mres[v, i] = st[i, L.MSR_CANCEL]
                            tnac[v, i] = tn + nxt
                            adj[v, i] = nxt
                        adjk[v, i] = 0.0
                        acted[v, i, 0] = False
                        acted[v, i, 1] = False
                    hacc[v, N, 7] += yv[v, N, L.ST_EMIS]
                    hacc[v, N, 8] += yv[v, N, L.ST_SUPPLY]
                    hacc[v, N, 9] += yv[v, N, L.ST_FLOW]
                    hacc[v, N, 10] += yv[v, N, L.ST_TRANSFER]
                    hacc[v, N, 11] += yv[v, N, L.ST_GAIN]
                    hacc[v, N, 12] += yv[v, N, L.ST_BAU]
                    hacc[v, N, 15] += yv[v, N, L.ST_SHORT]
                    for i in range(N + 1):
                        for k in range(L.NSTAT):
                            val = yv[v, i, k]
                            s1[v, i, y, k] += val
                            s2[v, i, y, k] += val * val
                        he[v, i, y, _bin(yv[v, i, L.ST_EMIS], elo[i], estep[i], NB)] += 1
                for i in range(N):
                    gclip[i] = 0
                if nv > 2:
                    for i in range(N + 1):
                        for k in range(L.NSTAT):
                            s12[i, y, k] += yv[1, i, k] * yv[2, i, k]
                # the observed design's bank (no links, no reserve): B^o' = B^o + S^o - E^o,
                # under the same bound (the map keeps it there up to rounding)
                if bon:
                    for i in range(N):
                        if bk[i, L.BK_ON] > 0.0:
                            bobs[i] = BK.bank_step(bobs[i], Sob[td, i], 0.0, 0.0, U[i] - abatement(
                                mp[i, L.C], mp[i, L.ETA], pob[td, i]),
                                BK.year_end_bound(bk, i, y, Y))[0]
        # ---- horizon statistics of this path (y = Y)
        for v in range(nv):
            for i in range(N + 1):
                if i < N:
                    yv[v, i, L.ST_PRICE] = price[v, i]
                    _day_shares(yv, hacc, v, i, 14)
                    yv[v, i, L.ST_OUTPUT] = M[mi[i, L.JUR]]
                    yv[v, i, L.ST_PAUT] = paut[v, i]
                    yv[v, i, L.ST_GAP] = hacc[v, i, 13] / Y
                    yv[v, i, L.ST_GUARD] = hacc[v, i, 17] / (Y * dpy)
                    hp[v, i, Y, _bin(math.log(max(price[v, i], _TINY)), plo[i], pstep[i],
                                     NB)] += 1
                yv[v, i, L.ST_EMIS] = hacc[v, i, 7]
                yv[v, i, L.ST_SUPPLY] = hacc[v, i, 8]
                yv[v, i, L.ST_FLOW] = hacc[v, i, 9]
                yv[v, i, L.ST_TRANSFER] = hacc[v, i, 10]
                yv[v, i, L.ST_GAIN] = hacc[v, i, 11]
                yv[v, i, L.ST_BAU] = hacc[v, i, 12]
                yv[v, i, L.ST_SHORT] = hacc[v, i, 15]
                yv[v, i, L.ST_NONCOMP] = hacc[v, i, 16] / Y if i < N else 0.0
                for k in range(L.NSTAT):
                    val = yv[v, i, k]
                    s1[v, i, Y, k] += val
                    s2[v, i, Y, k] += val * val
                he[v, i, Y, _bin(hacc[v, i, 7], elo[i] * Y, estep[i] * Y, NB)] += 1
        if nv > 2:
            # yv holds horizon values of both variants now
            for i in range(N + 1):
                for k in range(L.NSTAT):
                    s12[i, Y, k] += yv[1, i, k] * yv[2, i, k]
    return n_infeasible, n_clipped


#: ``run_paths`` without the general solver (``linking.network``; same source, its own numba
#: cache entry): the engine's choice when every link is plain and no market has eta != 1
#: (``engine.kernels_for``). It returns ``(STATUS_NEEDS_GENERAL, n_clipped)`` as soon as a
#: step needs the general solver, its chunk arrays then partly filled: the caller reruns the
#: chunk on fresh arrays with ``run_paths``.
run_paths_lean = njit(cache=True, error_model="numpy")(respecialise(
    run_paths.py_func, "run_paths_lean", fast_closed=_decline_step, _solve_general=_no_general))


@njit(cache=True, inline="always")
def _refuse_step(mkt, ends, lpar, lstate, out, lout, flags, fwork, iwork) -> int:
    """Stands in for the link solver in a pool kernel: refuse the step."""
    return STATUS_NEEDS_GENERAL


def _solverless(prefix: str, quota: bool, flags: tuple[bool, ...]) -> Any:
    """``run_paths`` without any link solver, with ``quota_pools`` or not, and without the
    features (``FEATURES``) whose flag is False: one numba cache entry per name."""
    events, kets, msr, copula_t, annual, vol_level = (bool(f) for f in flags)
    name = prefix + "".join("1" if f else "0" for f in flags)
    return njit(cache=True, error_model="numpy")(respecialise(
        run_paths.py_func, name, fast_closed=_refuse_step, fast_exact=_refuse_step,
        _solve_general=_no_general, _EVENTS=events, _KETS=kets, _MSR=msr, _COPULA_T=copula_t,
        _ANNUAL=annual, _VOL_LEVEL=vol_level, _QUOTA_POOLS=quota))


@functools.cache
def pool_kernel(events: bool, kets: bool, msr: bool, copula_t: bool, annual: bool,
                vol_level: bool = True) -> Any:
    """``run_paths`` without any link solver and without the features (``FEATURES``) whose
    flag is False: the engine's first choice where every linked step is a plain pool without a
    collar (``engine.pools_only``), bare (all False) where the scenario uses none of them, else
    with all (two kernels at most to compile). Where ``plain_pools`` declines a step (a pooled
    price at zero) it returns ``(STATUS_NEEDS_GENERAL, n_clipped)`` and the engine reruns the
    chunk with ``run_paths_lean``. One numba cache entry per feature set
    (``run_paths_pool_<flags>``), compiled on first use: about half the CPU time of
    ``run_paths_lean`` on ``china_korea`` (no solver to compile, and no events, K-ETS, MSR,
    t-copula or annual-array code; docs/ENGINE.md "First run")."""
    return _solverless("run_paths_pool_", False,
                       (events, kets, msr, copula_t, annual, vol_level))


@functools.cache
def quota_pool_kernel(events: bool, kets: bool, msr: bool, copula_t: bool, annual: bool,
                      vol_level: bool = True) -> Any:
    """``pool_kernel`` with ``quota_pools`` (``sim/quota_pools.py``: plain pools joined by at
    most one quota link, collars included) and still no link solver: the engine's first choice
    where the scenario's links fit that closed form (``engine.quota_pools_only``: a quota in
    ``eu_china_quota``, a restricted link in ``regulatory_events``, collars in ``eu_china``).
    Where both ``quota_pools`` tries decline a step (a price on a flat stretch of a collar, a
    flow within rounding of its cap) it returns ``(STATUS_NEEDS_GENERAL, n_clipped)`` and the
    engine reruns the chunk with ``run_paths``. Its answers are the solver's bit for bit
    (``tests/test_quota_pools.py``), so results are ``run_paths``'s whichever kernel ran; it
    compiles in about a third of ``run_paths``'s CPU time (no fast path, no general solver:
    docs/ENGINE.md "First run"). Cache entries ``run_paths_qpool_<flags>``."""
    return _solverless("run_paths_qpool_", True,
                       (events, kets, msr, copula_t, annual, vol_level))
