"""The steps of the kernel's day loop (``kernel.run_paths`` calls them in the model's order).

Per path: :func:`start_path`. At the first day of each year block, the year's exogenous paths:
:func:`draw_innovations`, :func:`step_outputs`, :func:`step_event_chains`,
:func:`step_fitted_prices`, :func:`observed_bau`. Every day: :func:`today`, then per variant
:func:`variant_inputs` and the link clearing of :mod:`riskmodel.sim.kernel_clearing`, then
:func:`daily_statistics`; monthly :func:`kets_month`; on the compliance date (the last day of a
year) :func:`compliance_date`; after the last year :func:`horizon_statistics`.

Steps run every day are inlined into the kernel (``inline="always"``: no array crosses a call
boundary, whose reference counting would cost several percent); steps run once a year or a
path are compiled once and called (shared by ``run_paths`` and ``run_paths_lean``). Arguments
are the structures of :mod:`riskmodel.sim.kernel_args` (inputs, outputs) and
:mod:`riskmodel.sim.kernel_state` (working state).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from riskmodel.linking import M_FLOOR, M_P_AUT, M_RES_DOWN, M_RES_UP
from riskmodel.sim import banking_step as BK
from riskmodel.sim import layout as L
from riskmodel.sim.events import step_chain_at
from riskmodel.sim.innovations import lookup_at
from riskmodel.sim.kernel_state import N_ACC
from riskmodel.sim.price_kernels import init_state, log_price_block, shock_block
from riskmodel.sim.rng import fill_gamma, fill_normal, fill_uniform, uniform

_TINY = 1e-12
#: Log prices at or below this are a zero price (no scarcity): no log return is taken across them.
_LOG_POS = math.log(_TINY) + 1.0


# --------------------------------------------------------------------------- small formulas


@njit(cache=True, inline="always")
def abatement(c: float, eta: float, p: float) -> float:
    """a(p) = c p**eta for p >= 0 (0 below)."""
    if p <= 0.0:
        return 0.0
    if eta == 1.0:
        return c * p
    return c * p**eta


@njit(cache=True, inline="always")
def abatement_cost(c: float, eta: float, a: float) -> float:
    """Abatement cost of a tonnes: integral of the marginal cost (a / c) ** (1 / eta)."""
    if a <= 0.0:
        return 0.0
    if eta == 1.0:
        return a * a / (2.0 * c)
    k = 1.0 / eta
    return a ** (1.0 + k) / ((1.0 + k) * c**k)


@njit(cache=True, inline="always")
def supply_index(m: float, b: float) -> float:
    """Supply index ``m**b`` of an indexed cap (b = 0 absolute, 1 intensity) without a pow call
    in the two common cases."""
    if b == 0.0:
        return 1.0
    if b == 1.0:
        return m
    return m**b


@njit(cache=True, inline="always")
def hist_bin(v: float, lo: float, step: float, nb: int) -> int:
    """Histogram bin: 0 underflow, 1..nb regular, nb + 1 overflow."""
    f = (v - lo) / step
    if math.isnan(f) or f < 0.0:
        return 0
    if f >= nb:
        return nb + 1
    return int(f) + 1


@njit(cache=True, inline="always")
def day_shares(yv, a, v: int, i: int, kz: int) -> None:
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


# --------------------------------------------------------------------------- a path


@njit(cache=True, inline="always")
def start_path(proc, des, streams, ps, blk, stab, bank, pst) -> None:
    """A path's starting state: each process's state (a starting regime drawn for the
    regime-switching families), stabilisation reserves and banks of every variant, the output
    indices and event chains at their start, zeroed path statistics."""
    mp, mi, st, bk = proc.param, proc.iparam, des.stab, des.bank
    s_main, rh0, rp0cum = streams.main, proc.regime_h0, proc.regime_p0cum
    h, prev, reg, logp, log_output = ps.h, ps.prev, ps.reg, ps.logp, ps.log_output
    adj, adjk, tnac, mres, kres = stab.adj, stab.adj_kets, stab.tnac, stab.msr_res, stab.kets_res
    msum, hicnt, acted, ring = stab.month_sum, stab.high_count, stab.acted, stab.ring
    bon, bst, dlk, bobs, lpv2 = bank.on, bank.bst, bank.delink, bank.bank_obs, bank.lst_prev
    lstate, exs, ins = blk.link_now, blk.ex_now, blk.int_now
    N = mp.shape[0]
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
                if bk[i, L.BK_MSR] > 0.0:
                    adj[v, i], bst[v, i, 1] = BK.msr_adjustment(
                        int(bk[i, L.BK_YEAR0]),
                        b0,
                        bk[i, L.BK_TNAC_BEFORE],
                        bst[v, i, 1],
                        bk[i, L.BK_AUC0],
                    )
                    bst[v, i, 4] = BK.msr_announced(b0, bst[v, i, 1])
    for j in range(log_output.shape[0]):
        log_output[j] = 0.0
    for q in range(lstate.shape[0]):
        lstate[q] = 0
        lpv2[q] = 0
    for i in range(N):
        exs[i] = 0
        ins[i] = 0
    pst.acc[:, :, :] = 0.0
    pst.hacc[:, :, :] = 0.0


# --------------------------------------------------------------------------- a year block
# The year's exogenous paths, in loops whose iterations are independent (or short
# recurrences), so that the CPU overlaps them; nothing here depends on the clearing.


@njit(cache=True, inline="always")
def draw_innovations(nd: int, proc, dep, streams, blk) -> None:
    """The block's draws from the main stream (normals of every day, t-copula mixing gammas,
    regime uniforms, in this order), correlated by the Cholesky factor, scaled by the t
    mixing variable and mapped to each market's innovation law."""
    mp, mi, tab = proc.param, proc.iparam, proc.innov_table
    copula_t, cnu, chol = dep.copula_t, dep.copula_nu, dep.chol
    s_main, zt = streams.main, streams.zt
    gzb, wgb, urb, xb, zb, nms = blk.normals, blk.gammas, blk.regime_u, blk.x, blk.z, blk.n_ms
    N = mp.shape[0]
    nz = chol.shape[0]
    fill_normal(s_main, zt, gzb[: nd * nz], blk.pending)
    if copula_t:
        fill_gamma(s_main, zt, 0.5 * cnu, wgb[:nd])
    if nms > 0:
        fill_uniform(s_main, urb[: nd * nms])
    for d in range(nd):
        o = d * nz
        for a in range(nz):
            sacc = 0.0
            for b in range(a + 1):
                sacc += chol[a, b] * gzb[o + b]
            xb[d, a] = sacc
        if copula_t:
            w = math.sqrt(cnu / (2.0 * wgb[d]))
            for i in range(N):
                xb[d, i] *= w
        for i in range(N):
            zb[d, i] = lookup_at(
                mi[i, L.TAB_MODE], mp[i, L.TAB_LO], mp[i, L.TAB_STEP], tab, i, xb[d, i]
            )


@njit(cache=True, inline="always")
def step_outputs(nd: int, t: int, dep, ps, blk) -> None:
    """Each jurisdiction's output index over the block: a log random walk normalised to
    mean 1 (day t + d + 1 of the horizon)."""
    jdrift, jsd, jcorr = dep.output_drift, dep.output_sd, dep.output_norm
    logY, xb, Mb = ps.log_output, blk.x, blk.output
    N = blk.z.shape[1]
    for d in range(nd):
        for j in range(logY.shape[0]):
            logY[j] += jdrift[j] + jsd[j] * xb[d, N + j]
            Mb[d, j] = math.exp(logY[j] - jcorr[j] * (t + d + 1))


@njit(cache=True, inline="always")
def step_event_chains(nd: int, events, streams, blk) -> None:
    """The regulatory event chains over the block (links, exemptions, interventions), from
    the events stream."""
    ev_link, ev_ex, ev_int = events.link_chain, events.exemption_chain, events.intervention_chain
    nch, evb, exx, inx = blk.n_chains, blk.event_u, blk.ex_slot, blk.int_slot
    lstate, exs, ins = blk.link_now, blk.ex_now, blk.int_now
    lsb, exb, inb = blk.link_state, blk.exempt, blk.interv
    fill_uniform(streams.events, evb[: nd * nch])
    for d in range(nd):
        o = d * nch
        for q in range(lstate.shape[0]):
            lstate[q] = step_chain_at(ev_link, q, lstate[q], evb[o + q])
            lsb[d, q] = lstate[q]
        for i in range(exs.shape[0]):
            if exx[i] >= 0:
                exs[i] = step_chain_at(ev_ex, i, exs[i], evb[o + exx[i]])
            if inx[i] >= 0:
                ins[i] = step_chain_at(ev_int, i, ins[i], evb[o + inx[i]])
            exb[d, i] = exs[i]
            inb[d, i] = ins[i]


@njit(cache=True, inline="always")
def step_fitted_prices(nd: int, proc, ps, blk) -> int:
    """Each market's fitted price over the block: the variance recursions (serial), the
    martingale compensators (independent), the returns and log prices (short chains), then
    the prices. Returns the days whose innovation the guard clipped."""
    n_clipped = shock_block(
        nd,
        proc.param,
        proc.iparam,
        proc.regime_mu,
        proc.regime_omega,
        proc.regime_alpha,
        proc.regime_beta,
        proc.regime_cum,
        blk.z,
        blk.regime_u,
        blk.n_ms,
        blk.ms_slot,
        ps.h,
        ps.prev,
        ps.reg,
        blk.eps,
        blk.hvar,
        blk.mean,
    )
    log_price_block(
        nd,
        proc.param,
        proc.iparam,
        proc.compensator,
        blk.eps,
        blk.hvar,
        blk.mean,
        blk.comp,
        ps.prev,
        ps.logp,
        blk.p_obs,
    )
    pob = blk.p_obs
    for d in range(nd):
        for i in range(pob.shape[1]):
            pob[d, i] = math.exp(pob[d, i])
    return n_clipped


@njit(cache=True, inline="always")
def observed_bau(nd: int, y: int, proc, des, blk) -> None:
    """The bridge (MODEL.md §3) over the block: observed supply S_obs (indexed to output),
    BAU emissions U = S_obs + a(p_obs), the counterfactual design's supply."""
    mp, mi, qobs, qcf = proc.param, proc.iparam, des.cap_obs, des.cap_cf
    Mb, pob, Sob, Ub, Sbb = blk.output, blk.p_obs, blk.supply_obs, blk.bau, blk.supply_cf
    for d in range(nd):
        for i in range(mp.shape[0]):
            mm = Mb[d, mi[i, L.JUR]]
            dobs = abatement(mp[i, L.C], mp[i, L.ETA], pob[d, i])
            so = qobs[i, y] * supply_index(mm, mp[i, L.B_OBS])
            Sob[d, i] = so
            Ub[d, i] = so + dobs
            Sbb[d, i] = qcf[i, y] * supply_index(mm, mp[i, L.B_CF])


# --------------------------------------------------------------------------- a day
# Inlined into the day loop; they take arrays, not structures: ``run_paths`` binds the arrays
# once per chunk (named as in the structures' docs), because a structure passed into the day
# loop's inlined code costs reference counting of every member on every day.


@njit(cache=True, inline="always")
def today(td: int, Mb, Ub, Sbb, M, U, Sb) -> None:
    """Today's slice of the year block: output indices M, BAU emissions U, counterfactual
    supply Sb (``Day.output``, ``bau``, ``supply_cf``)."""
    for j in range(M.shape[0]):
        M[j] = Mb[td, j]
    for i in range(U.shape[0]):
        U[i] = Ub[td, i]
        Sb[i] = Sbb[td, i]


@njit(cache=True, inline="always")
def banked_bau(td: int, y: int, Y: int, mp, bk, pob, Sob, bobs, bkw, U) -> None:
    """A banking market's BAU emissions from one inversion of the observed price and bank:
    U = S^o + n̄ + c ξ (generalises S^o + c p^o, BANKING.md §5.3)."""
    for i in range(U.shape[0]):
        if bk[i, L.BK_ON] > 0.0:
            xi = BK.gaps(bk, i, y, Y, pob[td, i], bobs[i], mp[i, L.C], bkw)
            U[i] = Sob[td, i] + BK.nbar(bk, i, y, Y) + mp[i, L.C] * xi


@njit(cache=True, inline="always")
def variant_inputs(v: int, td: int, mp, Sb, U, adj, adjk, exb, inb, Sv, paut, bds0, mkt) -> None:
    """Variant v's supply Sv (stabilisation adjustments; linked_events: interventions) and
    the solver's market rows ``mkt``: autarky price of the required abatement
    D = U (1 - exempt) - S, collar in force, offsets reserve; ``bds0`` gets the exemption share
    (read by :func:`bridged_prices`)."""
    for i in range(mp.shape[0]):
        S = Sb[i] + adj[v, i] + adjk[v, i]
        ex = 0.0
        fl = mp[i, L.FLOOR]
        rd = mp[i, L.RES_DOWN]
        if v == 2:
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


@njit(cache=True, inline="always")
def bridged_prices(
    v: int,
    td: int,
    y: int,
    Y: int,
    mp,
    bk,
    pob,
    Sob,
    U,
    Sv,
    bst,
    bobs,
    bkw,
    hz,
    bds0,
    bdb,
    bds1,
    paut,
    mkt,
) -> None:
    """A banking market's autarky price: the bridged price of this year's shortfall against
    the observed design (exemption share ``bds0[i]`` of U), expected cap differences ahead and
    the bank difference (BANKING.md §5)."""
    for i in range(mp.shape[0]):
        if bk[i, L.BK_ON] > 0.0:
            bds0[i] = Sob[td, i] - Sv[v, i] - bds0[i] * U[i]
            bdb[i] = bst[v, i, 0] - bobs[i]
            bds1[i] = -bst[v, i, 4]
            pa = BK.bridged(bk, i, y, Y, pob[td, i], bkw, bds0[i], bdb[i], mp[i, L.C], bds1[i], hz)
            paut[v, i] = pa
            mkt[i, M_P_AUT] = pa


@njit(cache=True, inline="always")
def daily_statistics(
    t: int,
    p: int,
    keep: bool,
    nv: int,
    mp,
    mi,
    price,
    qbind,
    U,
    a,
    lcur,
    lprev,
    keep_price,
    keep_bau,
    msum,
) -> None:
    """The day's counters per variant and market in ``a`` (``PathStats.acc``: price, squared
    log return, days at the floor, ceiling, a binding quota, a zero price), kept paths, K-ETS
    monthly price sums."""
    for v in range(nv):
        for i in range(mp.shape[0]):
            pv = price[v, i]
            a[v, i, 0] += pv
            if v > 0 and pv == price[v - 1, i]:
                lp = lcur[v - 1, i]  # same price as the previous variant: reuse the log
            else:
                lp = math.log(max(pv, _TINY))
            lcur[v, i] = lp
            if t > 0 and lp > _LOG_POS and lprev[v, i] > _LOG_POS:
                d = lp - lprev[v, i]
                a[v, i, 1] += d * d
                a[v, i, 2] += 1.0
            if pv <= 0.0:
                a[v, i, 7] += 1.0  # a zero price: supply exceeds BAU, no scarcity
            lprev[v, i] = lp
            if mp[i, L.COLLAR_F] > 0.0 and pv <= mp[i, L.COLLAR_F] * (1.0 + 1e-9):
                a[v, i, 3] += 1.0
            if pv >= mp[i, L.COLLAR_K] * (1.0 - 1e-9):
                a[v, i, 4] += 1.0
            if qbind[v, i]:
                a[v, i, 5] += 1.0
            a[v, i, 6] += 1.0
            if keep:
                keep_price[v, p, i, t] = pv
                if v == 0:
                    keep_bau[p, i, t] = U[i]
            if mi[i, L.KETS_ON]:
                msum[v, i] += pv


@njit(cache=True, inline="always")
def kets_month(y: int, mlen: int, nv: int, proc, des, streams, stab) -> None:
    """K-ETS market stabilisation at a month's end: the month's average price against the
    trailing two-year average triggers a release (high) or an absorption (low) of supply, at
    the authority's discretion (a draw of the K-ETS stream), at most once a year each."""
    mi, st, qcf, s_kets = proc.iparam, des.stab, des.cap_cf, streams.kets
    msum, ring, hicnt, acted = stab.month_sum, stab.ring, stab.high_count, stab.acted
    kres, adjk = stab.kets_res, stab.adj_kets
    for v in range(nv):
        for i in range(mi.shape[0]):
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
            up = hicnt[v, i] >= st[i, L.K_HI_MONTHS] or mavg >= st[i, L.K_MID_MULT] * avg2
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


# --------------------------------------------------------------------------- a compliance date


@njit(cache=True, inline="always")
def banked_pool_holdings(
    v: int, t: int, td: int, y: int, Y: int, proc, des, links, blk, day, bank, clr
) -> None:
    """Plain banked pools: each member holds its bound plus its c-share of the pool's bank
    above the summed bounds (BANKING.md §7.4); ``bank.hxl`` gets the implied flows."""
    mp, bk, s_conv = proc.param, des.bank, des.unit_conv
    ends, lpar, lk_f = links.ends, links.param, links.dynamic
    lsb, exb = blk.link_state, blk.exempt
    U, Sv, rv, price = day.bau, day.supply, day.reserve, day.price
    lstv, lplain, hwgt, hown, hsum = bank.lstv, bank.lplain, bank.hwgt, bank.hown, bank.hsum
    bst = bank.bst
    for q in range(ends.shape[0]):
        if t < lk_f[q, L.START_DAY]:
            lstv[q] = 2
        elif v == 1:
            lstv[q] = 0
        else:
            lstv[q] = lsb[td, q]
        lplain[q] = lstv[q] != 2 and BK.link_plain(lpar, lk_f, s_conv, ends, q, lstv[q])
    for i in range(mp.shape[0]):
        hwgt[i] = mp[i, L.C] / mp[i, L.FX]
        hown[i] = 0.0
        if bk[i, L.BK_ON] > 0.0:
            un = 0.0
            if v == 2 and exb[td, i] == 1:
                un = mp[i, L.EX_SHARE] * U[i]
            hown[i] = (
                bst[v, i, 0]
                + Sv[v, i]
                + BK.ledger_reserve(rv[v, i], mp[i, L.COLLAR_F], bk[i, L.BK_PENALTY])
                - (U[i] - abatement(mp[i, L.C], mp[i, L.ETA], price[v, i]) - un)
            )
    BK.pool_holdings(
        bk,
        y,
        Y,
        ends,
        lstv,
        lplain,
        hwgt,
        hown,
        clr.par,
        bank.rnb,
        bank.rcnt,
        hsum[0],
        hsum[1],
        hsum[2],
        hsum[3],
        bank.hxl,
    )


@njit(cache=True, inline="always")
def bank_ledger(
    v: int, i: int, td: int, y: int, Y: int, E: float, proc, des, blk, day, stab, bank, yv
) -> tuple[float, float]:
    """A banking market's year end: the bank ledger B' = B + S + x + R - E held at its bound,
    the excess reported as non-compliance (banking/ledger.py); the EU MSR reads the bank as
    its TNAC. Returns (non-compliance Mt, uncovered emissions Mt)."""
    mp, bk, exb = proc.param, des.bank, blk.exempt
    U, Sv, rv, adj, bst = day.bau, day.supply, day.reserve, stab.adj, bank.bst
    prev_b = bst[v, i, 0]
    rv[v, i] = BK.ledger_reserve(rv[v, i], mp[i, L.COLLAR_F], bk[i, L.BK_PENALTY])
    # permits are surrendered for covered emissions: an exemption takes its share of BAU
    # emissions out of the cap
    unc = 0.0
    if v == 2 and exb[td, i] == 1:
        unc = mp[i, L.EX_SHARE] * U[i]
    bst[v, i, 0], short = BK.bank_step(
        prev_b, Sv[v, i], yv[v, i, L.ST_FLOW], rv[v, i], E - unc, BK.year_end_bound(bk, i, y, Y)
    )
    if bk[i, L.BK_MSR] > 0.0:
        # the MSR reads the bank as its TNAC: next year's supply change
        adj[v, i], bst[v, i, 1] = BK.msr_adjustment(
            int(bk[i, L.BK_YEAR0]) + y + 1, bst[v, i, 0], prev_b, bst[v, i, 1], bk[i, L.BK_AUC0]
        )
        bst[v, i, 4] = BK.msr_announced(bst[v, i, 0], bst[v, i, 1])
    bst[v, i, 2] = prev_b
    bst[v, i, 3] = BK.foreign_held(bst[v, i, 3], yv[v, i, L.ST_FLOW], bst[v, i, 0])
    return short, unc


@njit(cache=True, inline="always")
def msr_year_end(v: int, i: int, E: float, des, day, stab) -> None:
    """EU MSR (market not banking): next year's supply adjustment from the TNAC; intake
    above the threshold, release below, holdings above the cancellation level cancelled."""
    st, Sv, tnac, mres, adj = des.stab, day.supply, stab.tnac, stab.msr_res, stab.adj
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


@njit(cache=True, inline="always")
def compliance_date(
    t: int,
    td: int,
    y: int,
    Y: int,
    p: int,
    nv: int,
    proc,
    des,
    links,
    acc,
    blk,
    day,
    stab,
    bank,
    clr,
    pst,
) -> None:
    """The compliance date (last trading day of year y): each variant's and market's year
    statistics (price, emissions E = U - a(p), supply, flow, transfer, gain, gap, bank,
    non-compliance) into the chunk sums and histograms, the path's horizon counters, annual
    arrays; bank ledgers and the stabilisation decisions for next year; the observed
    design's bank."""
    mp, mi, bk = proc.param, proc.iparam, des.bank
    price, Uday, Sv, xv, M, paut, rv = (
        day.price,
        day.bau,
        day.supply,
        day.flow,
        day.output,
        day.p_aut,
        day.reserve,
    )
    yv, hacc, a = pst.yv, pst.hacc, pst.acc
    s1, s2, s12, hp, he, ann = acc.s1, acc.s2, acc.s12, acc.price_hist, acc.emis_hist, acc.annual
    plo, pstep, elo, estep, ann_on = (
        acc.price_lo,
        acc.price_step,
        acc.emis_lo,
        acc.emis_step,
        acc.annual_on,
    )
    bon, bst, hxl, dlk, bobs = bank.on, bank.bst, bank.hxl, bank.delink, bank.bank_obs
    pob, Sob = blk.p_obs, blk.supply_obs
    adjk, acted = stab.adj_kets, stab.acted
    N = mp.shape[0]
    NL = links.ends.shape[0]
    NB = L.NBINS
    for v in range(nv):
        for k in range(L.NSTAT):
            yv[v, N, k] = 0.0
        for i in range(N):
            hxl[i] = np.nan
        if bon and v > 0 and NL > 0:
            banked_pool_holdings(v, t, td, y, Y, proc, des, links, blk, day, bank, clr)
        for i in range(N):
            pv = price[v, i]
            c = mp[i, L.C]
            eta = mp[i, L.ETA]
            fx = mp[i, L.FX]
            U = Uday[i]
            E = U - abatement(c, eta, pv)
            yv[v, i, L.ST_PRICE] = pv
            day_shares(yv, a, v, i, 7)
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
                g = (abatement_cost(c, eta, aa) - abatement_cost(c, eta, al) - pv * (aa - al)) * fx
                gap = pa - pv
            yv[v, i, L.ST_GAIN] = g
            yv[v, i, L.ST_GAP] = gap
            yv[v, i, L.ST_BAU] = U
            yv[v, i, L.ST_OUTPUT] = M[mi[i, L.JUR]]
            yv[v, i, L.ST_PAUT] = paut[v, i]
            short = 0.0
            unc = 0.0
            if bon and bk[i, L.BK_ON] > 0.0:
                short, unc = bank_ledger(v, i, td, y, Y, E, proc, des, blk, day, stab, bank, yv)
            yv[v, i, L.ST_BANK] = bst[v, i, 0]
            yv[v, i, L.ST_SHORT] = short
            yv[v, i, L.ST_NONCOMP] = 1.0 if short > 0.0 else 0.0
            for k in (
                L.ST_EMIS,
                L.ST_SUPPLY,
                L.ST_FLOW,
                L.ST_TRANSFER,
                L.ST_GAIN,
                L.ST_BAU,
                L.ST_BANK,
                L.ST_SHORT,
            ):
                yv[v, N, k] += yv[v, i, k]
            # per-path horizon accumulators
            for k in range(7):
                hacc[v, i, k] += a[v, i, k]
            hacc[v, i, 7] += E
            hacc[v, i, 8] += Sv[v, i]
            hacc[v, i, 9] += yv[v, i, L.ST_FLOW]
            hacc[v, i, 10] += yv[v, i, L.ST_TRANSFER]
            hacc[v, i, 11] += g
            hacc[v, i, 12] += U
            hacc[v, i, 13] += gap
            hacc[v, i, 14] += a[v, i, 7]
            hacc[v, i, 15] += short
            hacc[v, i, 16] += yv[v, i, L.ST_NONCOMP]
            for k in range(N_ACC):
                a[v, i, k] = 0.0
            hp[v, i, y, hist_bin(math.log(max(pv, _TINY)), plo[i], pstep[i], NB)] += 1
            if ann_on:
                ann[0, v, p, i, y] = pv
                ann[1, v, p, i, y] = U
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
            # stabilisation: MSR decides next year's supply adjustment (banking markets:
            # above, from the bank)
            if mi[i, L.MSR_ON] and not (bon and bk[i, L.BK_ON] > 0.0):
                msr_year_end(v, i, E, des, day, stab)
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
            he[v, i, y, hist_bin(yv[v, i, L.ST_EMIS], elo[i], estep[i], NB)] += 1
    if nv > 2:
        for i in range(N + 1):
            for k in range(L.NSTAT):
                s12[i, y, k] += yv[1, i, k] * yv[2, i, k]
    # the observed design's bank (no links, no reserve): B^o' = B^o + S^o - E^o, under the
    # same bound (the map keeps it there up to rounding)
    if bon:
        for i in range(N):
            if bk[i, L.BK_ON] > 0.0:
                bobs[i] = BK.bank_step(
                    bobs[i],
                    Sob[td, i],
                    0.0,
                    0.0,
                    Uday[i] - abatement(mp[i, L.C], mp[i, L.ETA], pob[td, i]),
                    BK.year_end_bound(bk, i, y, Y),
                )[0]


@njit(cache=True, inline="always")
def horizon_statistics(Y: int, nv: int, proc, acc, day, pst) -> None:
    """The path's horizon statistics (year index Y of the sums): last price, day shares over
    the horizon, summed quantities, share of non-compliant years."""
    mi = proc.iparam
    price, M, paut = day.price, day.output, day.p_aut
    yv, hacc = pst.yv, pst.hacc
    s1, s2, s12, hp, he = acc.s1, acc.s2, acc.s12, acc.price_hist, acc.emis_hist
    plo, pstep, elo, estep = acc.price_lo, acc.price_step, acc.emis_lo, acc.emis_step
    N = mi.shape[0]
    NB = L.NBINS
    for v in range(nv):
        for i in range(N + 1):
            if i < N:
                yv[v, i, L.ST_PRICE] = price[v, i]
                day_shares(yv, hacc, v, i, 14)
                yv[v, i, L.ST_OUTPUT] = M[mi[i, L.JUR]]
                yv[v, i, L.ST_PAUT] = paut[v, i]
                yv[v, i, L.ST_GAP] = hacc[v, i, 13] / Y
                hp[v, i, Y, hist_bin(math.log(max(price[v, i], _TINY)), plo[i], pstep[i], NB)] += 1
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
            he[v, i, Y, hist_bin(hacc[v, i, 7], elo[i] * Y, estep[i] * Y, NB)] += 1
    if nv > 2:
        # yv holds horizon values of both variants now
        for i in range(N + 1):
            for k in range(L.NSTAT):
                s12[i, Y, k] += yv[1, i, k] * yv[2, i, k]
