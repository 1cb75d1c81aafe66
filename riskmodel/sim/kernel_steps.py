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


@njit(cache=True, error_model="numpy")
def start_path(proc, des, streams, ps, blk, stab, bank, pst) -> None:
    """A path's starting state: each process's state (a starting regime drawn for the
    regime-switching families), stabilisation reserves and banks of every variant, the output
    indices and event chains at their start, zeroed path statistics."""
    mp = proc.param
    mi = proc.iparam
    st = des.stab
    bk = des.bank
    N = mp.shape[0]
    for i in range(N):
        fam = mi[i, L.FAM]
        u0 = uniform(streams.main) if (fam == L.F_MS or fam == L.F_MSGARCH) else 0.0
        init_state(i, mp, mi, proc.regime_h0, proc.regime_p0cum, u0, ps.h, ps.prev, ps.reg)
        ps.logp[i] = mp[i, L.LOGP0]
        for v in range(3):
            stab.adj[v, i] = 0.0
            stab.adj_kets[v, i] = 0.0
            stab.tnac[v, i] = st[i, L.MSR_TNAC0]
            stab.msr_res[v, i] = st[i, L.MSR_RES0]
            stab.kets_res[v, i] = st[i, L.K_RES0]
            stab.month_sum[v, i] = 0.0
            stab.high_count[v, i] = 0.0
            stab.acted[v, i, 0] = False
            stab.acted[v, i, 1] = False
            for m in range(24):
                stab.ring[v, i, m] = st[i, L.K_AVG0]
            if bank.on and bk[i, L.BK_ON] > 0.0:
                b0 = bk[i, L.BK_B0]
                bank.bst[v, i, 0] = b0
                bank.bst[v, i, 1] = bk[i, L.BK_HOLD0]
                bank.bst[v, i, 2] = bk[i, L.BK_TNAC_BEFORE]
                bank.bst[v, i, 3] = 0.0
                bank.bst[v, i, 4] = 0.0
                bank.delink[v, i] = 0.0
                bank.bank_obs[i] = b0
                if bk[i, L.BK_MSR] > 0.0:
                    stab.adj[v, i], bank.bst[v, i, 1] = BK.msr_adjustment(
                        int(bk[i, L.BK_YEAR0]),
                        b0,
                        bk[i, L.BK_TNAC_BEFORE],
                        bank.bst[v, i, 1],
                        bk[i, L.BK_AUC0],
                    )
                    bank.bst[v, i, 4] = BK.msr_announced(b0, bank.bst[v, i, 1])
    for j in range(ps.log_output.shape[0]):
        ps.log_output[j] = 0.0
    for q in range(blk.link_now.shape[0]):
        blk.link_now[q] = 0
        bank.lst_prev[q] = 0
    for i in range(N):
        blk.ex_now[i] = 0
        blk.int_now[i] = 0
    pst.acc[:, :, :] = 0.0
    pst.hacc[:, :, :] = 0.0


# --------------------------------------------------------------------------- a year block
# The year's exogenous paths, in loops whose iterations are independent (or short
# recurrences), so that the CPU overlaps them; nothing here depends on the clearing.


@njit(cache=True, error_model="numpy")
def draw_innovations(nd: int, proc, dep, streams, blk) -> None:
    """The block's draws from the main stream (normals of every day, t-copula mixing gammas,
    regime uniforms, in this order), correlated by the Cholesky factor, scaled by the t
    mixing variable and mapped to each market's innovation law."""
    mp = proc.param
    mi = proc.iparam
    N = mp.shape[0]
    nz = dep.chol.shape[0]
    fill_normal(streams.main, streams.zt, blk.normals[: nd * nz], blk.pending)
    if dep.copula_t:
        fill_gamma(streams.main, streams.zt, 0.5 * dep.copula_nu, blk.gammas[:nd])
    if blk.n_ms > 0:
        fill_uniform(streams.main, blk.regime_u[: nd * blk.n_ms])
    chol = dep.chol
    gzb = blk.normals
    xb = blk.x
    for d in range(nd):
        o = d * nz
        for a in range(nz):
            sacc = 0.0
            for b in range(a + 1):
                sacc += chol[a, b] * gzb[o + b]
            xb[d, a] = sacc
        if dep.copula_t:
            w = math.sqrt(dep.copula_nu / (2.0 * blk.gammas[d]))
            for i in range(N):
                xb[d, i] *= w
        for i in range(N):
            blk.z[d, i] = lookup_at(
                mi[i, L.TAB_MODE], mp[i, L.TAB_LO], mp[i, L.TAB_STEP], proc.innov_table, i, xb[d, i]
            )


@njit(cache=True, error_model="numpy")
def step_outputs(nd: int, t: int, dep, ps, blk) -> None:
    """Each jurisdiction's output index over the block: a log random walk normalised to
    mean 1 (day t + d + 1 of the horizon)."""
    N = blk.z.shape[1]
    logY = ps.log_output
    for d in range(nd):
        for j in range(logY.shape[0]):
            logY[j] += dep.output_drift[j] + dep.output_sd[j] * blk.x[d, N + j]
            blk.output[d, j] = math.exp(logY[j] - dep.output_norm[j] * (t + d + 1))


@njit(cache=True, error_model="numpy")
def step_event_chains(nd: int, events, streams, blk) -> None:
    """The regulatory event chains over the block (links, exemptions, interventions), from
    the events stream."""
    nch = blk.n_chains
    fill_uniform(streams.events, blk.event_u[: nd * nch])
    evb = blk.event_u
    for d in range(nd):
        o = d * nch
        for q in range(blk.link_now.shape[0]):
            blk.link_now[q] = step_chain_at(events.link_chain, q, blk.link_now[q], evb[o + q])
            blk.link_state[d, q] = blk.link_now[q]
        for i in range(blk.ex_now.shape[0]):
            if blk.ex_slot[i] >= 0:
                blk.ex_now[i] = step_chain_at(
                    events.exemption_chain, i, blk.ex_now[i], evb[o + blk.ex_slot[i]]
                )
            if blk.int_slot[i] >= 0:
                blk.int_now[i] = step_chain_at(
                    events.intervention_chain, i, blk.int_now[i], evb[o + blk.int_slot[i]]
                )
            blk.exempt[d, i] = blk.ex_now[i]
            blk.interv[d, i] = blk.int_now[i]


@njit(cache=True, error_model="numpy")
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
    for d in range(nd):
        for i in range(blk.p_obs.shape[1]):
            blk.p_obs[d, i] = math.exp(blk.p_obs[d, i])
    return n_clipped


@njit(cache=True, error_model="numpy")
def observed_bau(nd: int, y: int, proc, des, blk) -> None:
    """The bridge (MODEL.md §3) over the block: observed supply S_obs (indexed to output),
    BAU emissions U = S_obs + a(p_obs), the counterfactual design's supply."""
    mp = proc.param
    mi = proc.iparam
    for d in range(nd):
        for i in range(mp.shape[0]):
            mm = blk.output[d, mi[i, L.JUR]]
            dobs = abatement(mp[i, L.C], mp[i, L.ETA], blk.p_obs[d, i])
            so = des.cap_obs[i, y] * supply_index(mm, mp[i, L.B_OBS])
            blk.supply_obs[d, i] = so
            blk.bau[d, i] = so + dobs
            blk.supply_cf[d, i] = des.cap_cf[i, y] * supply_index(mm, mp[i, L.B_CF])


# --------------------------------------------------------------------------- a day


@njit(cache=True, inline="always")
def today(td: int, y: int, Y: int, proc, des, blk, bank, day) -> None:
    """Today's slice of the block; a banking market's BAU emissions from one inversion of the
    observed price and bank: U = S^o + n̄ + c ξ (generalises S^o + c p^o, BANKING.md §5.3)."""
    for j in range(day.output.shape[0]):
        day.output[j] = blk.output[td, j]
    N = day.bau.shape[0]
    for i in range(N):
        day.bau[i] = blk.bau[td, i]
        day.supply_cf[i] = blk.supply_cf[td, i]
    if bank.on:
        bk = des.bank
        mp = proc.param
        for i in range(N):
            if bk[i, L.BK_ON] > 0.0:
                xi = BK.gaps(bk, i, y, Y, blk.p_obs[td, i], bank.bank_obs[i], mp[i, L.C], bank.bkw)
                day.bau[i] = blk.supply_obs[td, i] + BK.nbar(bk, i, y, Y) + mp[i, L.C] * xi


@njit(cache=True, inline="always")
def variant_inputs(v: int, td: int, y: int, Y: int, proc, des, blk, day, stab, bank, clr) -> None:
    """Variant v's supply (stabilisation adjustments; linked_events: interventions) and the
    solver's market rows: autarky price of the required abatement D = U (1 - exempt) - S
    (banking markets: the bridged price), collar in force, offsets reserve."""
    mp = proc.param
    mkt = clr.mkt
    for i in range(mp.shape[0]):
        S = day.supply_cf[i] + stab.adj[v, i] + stab.adj_kets[v, i]
        ex = 0.0
        fl = mp[i, L.FLOOR]
        rd = mp[i, L.RES_DOWN]
        if v == 2:
            if blk.exempt[td, i] == 1:
                ex = mp[i, L.EX_SHARE]
            if blk.interv[td, i] == 1:
                S += mp[i, L.INT_SUPPLY] * day.supply_cf[i]
                if mp[i, L.INT_FLOOR] > fl:
                    fl = mp[i, L.INT_FLOOR]
                    rd = np.inf
        day.supply[v, i] = S
        bank.ds0[i] = ex
        d = day.bau[i] * (1.0 - ex) - S
        if mp[i, L.ETA] == 1.0:
            pa = d / mp[i, L.C]
        else:
            pa = (max(d, 0.0) / mp[i, L.C]) ** (1.0 / mp[i, L.ETA])
        day.p_aut[v, i] = pa
        mkt[i, M_P_AUT] = pa
        mkt[i, M_FLOOR] = fl
        mkt[i, M_RES_DOWN] = rd
        if mp[i, L.OFF_ON] > 0.0:
            mkt[i, M_RES_UP] = mp[i, L.OFF_SHARE] * S
    if bank.on:
        bk = des.bank
        for i in range(mp.shape[0]):
            if bk[i, L.BK_ON] > 0.0:
                # the bridged price: this year's shortfall against the observed design
                # (exemption ds0[i] of U), expected cap differences ahead, the bank difference
                bank.ds0[i] = blk.supply_obs[td, i] - day.supply[v, i] - bank.ds0[i] * day.bau[i]
                bank.db[i] = bank.bst[v, i, 0] - bank.bank_obs[i]
                bank.ds1[i] = -bank.bst[v, i, 4]
                pa = BK.bridged(
                    bk,
                    i,
                    y,
                    Y,
                    blk.p_obs[td, i],
                    bank.bkw,
                    bank.ds0[i],
                    bank.db[i],
                    mp[i, L.C],
                    bank.ds1[i],
                    bank.hz,
                )
                day.p_aut[v, i] = pa
                mkt[i, M_P_AUT] = pa


@njit(cache=True, inline="always")
def daily_statistics(t: int, p: int, keep: bool, nv: int, proc, acc, day, stab, pst) -> None:
    """The day's counters per variant and market (price, squared log return, days at the
    floor, ceiling, a binding quota, a zero price), kept paths, K-ETS monthly price sums."""
    mp = proc.param
    mi = proc.iparam
    price = day.price
    a = pst.acc
    for v in range(nv):
        for i in range(mp.shape[0]):
            pv = price[v, i]
            a[v, i, 0] += pv
            if v > 0 and pv == price[v - 1, i]:
                lp = pst.lcur[v - 1, i]  # same price as the previous variant: reuse the log
            else:
                lp = math.log(max(pv, _TINY))
            pst.lcur[v, i] = lp
            if t > 0 and lp > _LOG_POS and pst.lprev[v, i] > _LOG_POS:
                d = lp - pst.lprev[v, i]
                a[v, i, 1] += d * d
                a[v, i, 2] += 1.0
            if pv <= 0.0:
                a[v, i, 7] += 1.0  # a zero price: supply exceeds BAU, no scarcity
            pst.lprev[v, i] = lp
            if mp[i, L.COLLAR_F] > 0.0 and pv <= mp[i, L.COLLAR_F] * (1.0 + 1e-9):
                a[v, i, 3] += 1.0
            if pv >= mp[i, L.COLLAR_K] * (1.0 - 1e-9):
                a[v, i, 4] += 1.0
            if day.quota_bind[v, i]:
                a[v, i, 5] += 1.0
            a[v, i, 6] += 1.0
            if keep:
                acc.keep_price[v, p, i, t] = pv
                if v == 0:
                    acc.keep_bau[p, i, t] = day.bau[i]
            if mi[i, L.KETS_ON]:
                stab.month_sum[v, i] += pv


@njit(cache=True, error_model="numpy")
def kets_month(y: int, mlen: int, nv: int, proc, des, streams, stab) -> None:
    """K-ETS market stabilisation at a month's end: the month's average price against the
    trailing two-year average triggers a release (high) or an absorption (low) of supply, at
    the authority's discretion (a draw of the K-ETS stream), at most once a year each."""
    mi = proc.iparam
    st = des.stab
    for v in range(nv):
        for i in range(mi.shape[0]):
            if not mi[i, L.KETS_ON]:
                continue
            mavg = stab.month_sum[v, i] / mlen
            stab.month_sum[v, i] = 0.0
            avg2 = 0.0
            for m in range(24):
                avg2 += stab.ring[v, i, m]
            avg2 /= 24.0
            if mavg >= st[i, L.K_HI_MULT] * avg2:
                stab.high_count[v, i] += 1.0
            else:
                stab.high_count[v, i] = 0.0
            up = stab.high_count[v, i] >= st[i, L.K_HI_MONTHS] or mavg >= st[i, L.K_MID_MULT] * avg2
            down = mavg < st[i, L.K_LO_MULT] * avg2
            uu = uniform(streams.kets)
            if up and not stab.acted[v, i, 0] and uu < st[i, L.K_PROB]:
                sold = min(st[i, L.K_RELEASE], stab.kets_res[v, i])  # a finite reserve
                stab.kets_res[v, i] -= sold
                stab.adj_kets[v, i] += st[i, L.K_SHARE] * des.cap_cf[i, y] + sold
                stab.acted[v, i, 0] = True
            elif down and not stab.acted[v, i, 1] and uu < st[i, L.K_PROB]:
                stab.kets_res[v, i] += st[i, L.K_RELEASE]
                stab.adj_kets[v, i] -= st[i, L.K_SHARE] * des.cap_cf[i, y] + st[i, L.K_RELEASE]
                stab.acted[v, i, 1] = True
            for m in range(23):
                stab.ring[v, i, m] = stab.ring[v, i, m + 1]
            stab.ring[v, i, 23] = mavg


# --------------------------------------------------------------------------- a compliance date


@njit(cache=True, inline="always")
def banked_pool_holdings(
    v: int, t: int, td: int, y: int, Y: int, proc, des, links, blk, day, bank, clr
) -> None:
    """Plain banked pools: each member holds its bound plus its c-share of the pool's bank
    above the summed bounds (BANKING.md §7.4); ``bank.hxl`` gets the implied flows."""
    mp = proc.param
    bk = des.bank
    lk_f = links.dynamic
    for q in range(links.ends.shape[0]):
        if t < lk_f[q, L.START_DAY]:
            bank.lstv[q] = 2
        elif v == 1:
            bank.lstv[q] = 0
        else:
            bank.lstv[q] = blk.link_state[td, q]
        bank.lplain[q] = bank.lstv[q] != 2 and BK.link_plain(
            links.param, lk_f, des.unit_conv, links.ends, q, bank.lstv[q]
        )
    for i in range(mp.shape[0]):
        bank.hwgt[i] = mp[i, L.C] / mp[i, L.FX]
        bank.hown[i] = 0.0
        if bk[i, L.BK_ON] > 0.0:
            un = 0.0
            if v == 2 and blk.exempt[td, i] == 1:
                un = mp[i, L.EX_SHARE] * day.bau[i]
            bank.hown[i] = (
                bank.bst[v, i, 0]
                + day.supply[v, i]
                + BK.ledger_reserve(day.reserve[v, i], mp[i, L.COLLAR_F], bk[i, L.BK_PENALTY])
                - (day.bau[i] - abatement(mp[i, L.C], mp[i, L.ETA], day.price[v, i]) - un)
            )
    BK.pool_holdings(
        bk,
        y,
        Y,
        links.ends,
        bank.lstv,
        bank.lplain,
        bank.hwgt,
        bank.hown,
        clr.par,
        bank.rnb,
        bank.rcnt,
        bank.hsum[0],
        bank.hsum[1],
        bank.hsum[2],
        bank.hsum[3],
        bank.hxl,
    )


@njit(cache=True, inline="always")
def bank_ledger(
    v: int, i: int, td: int, y: int, Y: int, E: float, proc, des, blk, day, stab, bank, yv
) -> tuple[float, float]:
    """A banking market's year end: the bank ledger B' = B + S + x + R - E held at its bound,
    the excess reported as non-compliance (banking/ledger.py); the EU MSR reads the bank as
    its TNAC. Returns (non-compliance Mt, uncovered emissions Mt)."""
    mp = proc.param
    bk = des.bank
    prev_b = bank.bst[v, i, 0]
    day.reserve[v, i] = BK.ledger_reserve(day.reserve[v, i], mp[i, L.COLLAR_F], bk[i, L.BK_PENALTY])
    # permits are surrendered for covered emissions: an exemption takes its share of BAU
    # emissions out of the cap
    unc = 0.0
    if v == 2 and blk.exempt[td, i] == 1:
        unc = mp[i, L.EX_SHARE] * day.bau[i]
    bank.bst[v, i, 0], short = BK.bank_step(
        prev_b,
        day.supply[v, i],
        yv[v, i, L.ST_FLOW],
        day.reserve[v, i],
        E - unc,
        BK.year_end_bound(bk, i, y, Y),
    )
    if bk[i, L.BK_MSR] > 0.0:
        # the MSR reads the bank as its TNAC: next year's supply change
        stab.adj[v, i], bank.bst[v, i, 1] = BK.msr_adjustment(
            int(bk[i, L.BK_YEAR0]) + y + 1,
            bank.bst[v, i, 0],
            prev_b,
            bank.bst[v, i, 1],
            bk[i, L.BK_AUC0],
        )
        bank.bst[v, i, 4] = BK.msr_announced(bank.bst[v, i, 0], bank.bst[v, i, 1])
    bank.bst[v, i, 2] = prev_b
    bank.bst[v, i, 3] = BK.foreign_held(bank.bst[v, i, 3], yv[v, i, L.ST_FLOW], bank.bst[v, i, 0])
    return short, unc


@njit(cache=True, inline="always")
def msr_year_end(v: int, i: int, E: float, des, day, stab) -> None:
    """EU MSR (market not banking): next year's supply adjustment from the TNAC; intake
    above the threshold, release below, holdings above the cancellation level cancelled."""
    st = des.stab
    tn = stab.tnac[v, i] + day.supply[v, i] - E
    nxt = 0.0
    if tn > st[i, L.MSR_IN]:
        nxt = -st[i, L.MSR_RATE] * tn
    elif tn < st[i, L.MSR_REL_TH] and stab.msr_res[v, i] > 0.0:
        nxt = min(st[i, L.MSR_REL_AMT], stab.msr_res[v, i])
    stab.msr_res[v, i] -= nxt
    if stab.msr_res[v, i] > st[i, L.MSR_CANCEL]:
        stab.msr_res[v, i] = st[i, L.MSR_CANCEL]
    stab.tnac[v, i] = tn + nxt
    stab.adj[v, i] = nxt


@njit(cache=True, error_model="numpy")
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
    mp = proc.param
    mi = proc.iparam
    bk = des.bank
    N = mp.shape[0]
    NL = links.ends.shape[0]
    yv = pst.yv
    hacc = pst.hacc
    NB = L.NBINS
    for v in range(nv):
        for k in range(L.NSTAT):
            yv[v, N, k] = 0.0
        for i in range(N):
            bank.hxl[i] = np.nan
        if bank.on and v > 0 and NL > 0:
            banked_pool_holdings(v, t, td, y, Y, proc, des, links, blk, day, bank, clr)
        for i in range(N):
            pv = day.price[v, i]
            c = mp[i, L.C]
            eta = mp[i, L.ETA]
            fx = mp[i, L.FX]
            U = day.bau[i]
            E = U - abatement(c, eta, pv)
            yv[v, i, L.ST_PRICE] = pv
            day_shares(yv, pst.acc, v, i, 7)
            yv[v, i, L.ST_EMIS] = E
            yv[v, i, L.ST_SUPPLY] = day.supply[v, i]
            yv[v, i, L.ST_FLOW] = day.flow[v, i] if v > 0 else 0.0
            if not np.isnan(bank.hxl[i]):
                yv[v, i, L.ST_FLOW] = bank.hxl[i]
            yv[v, i, L.ST_TRANSFER] = yv[v, i, L.ST_FLOW] * pv * fx
            g = 0.0
            gap = 0.0
            if v > 0:
                pa = day.price[0, i]
                aa = abatement(c, eta, pa)
                al = abatement(c, eta, pv)
                g = (abatement_cost(c, eta, aa) - abatement_cost(c, eta, al) - pv * (aa - al)) * fx
                gap = pa - pv
            yv[v, i, L.ST_GAIN] = g
            yv[v, i, L.ST_GAP] = gap
            yv[v, i, L.ST_BAU] = U
            yv[v, i, L.ST_OUTPUT] = day.output[mi[i, L.JUR]]
            yv[v, i, L.ST_PAUT] = day.p_aut[v, i]
            short = 0.0
            unc = 0.0
            if bank.on and bk[i, L.BK_ON] > 0.0:
                short, unc = bank_ledger(v, i, td, y, Y, E, proc, des, blk, day, stab, bank, yv)
            yv[v, i, L.ST_BANK] = bank.bst[v, i, 0]
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
                hacc[v, i, k] += pst.acc[v, i, k]
            hacc[v, i, 7] += E
            hacc[v, i, 8] += day.supply[v, i]
            hacc[v, i, 9] += yv[v, i, L.ST_FLOW]
            hacc[v, i, 10] += yv[v, i, L.ST_TRANSFER]
            hacc[v, i, 11] += g
            hacc[v, i, 12] += U
            hacc[v, i, 13] += gap
            hacc[v, i, 14] += pst.acc[v, i, 7]
            hacc[v, i, 15] += short
            hacc[v, i, 16] += yv[v, i, L.ST_NONCOMP]
            for k in range(N_ACC):
                pst.acc[v, i, k] = 0.0
            acc.price_hist[
                v, i, y, hist_bin(math.log(max(pv, _TINY)), acc.price_lo[i], acc.price_step[i], NB)
            ] += 1
            if acc.annual_on:
                ann = acc.annual
                ann[0, v, p, i, y] = pv
                ann[1, v, p, i, y] = U
                ann[2, v, p, i, y] = day.supply[v, i]
                ann[3, v, p, i, y] = E
                ann[4, v, p, i, y] = yv[v, i, L.ST_FLOW]
                ann[5, v, p, i, y] = day.output[mi[i, L.JUR]]
                ann[6, v, p, i, y] = day.p_aut[v, i]
                ann[7, v, p, i, y] = bank.bst[v, i, 0]
                ann[8, v, p, i, y] = short
                ann[9, v, p, i, y] = day.reserve[v, i]
                ann[10, v, p, i, y] = blk.p_obs[td, i]
                ann[11, v, p, i, y] = bank.delink[v, i]
                ann[12, v, p, i, y] = unc
            bank.delink[v, i] = 0.0
            # stabilisation: MSR decides next year's supply adjustment (banking markets:
            # above, from the bank)
            if mi[i, L.MSR_ON] and not (bank.on and bk[i, L.BK_ON] > 0.0):
                msr_year_end(v, i, E, des, day, stab)
            stab.adj_kets[v, i] = 0.0
            stab.acted[v, i, 0] = False
            stab.acted[v, i, 1] = False
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
                acc.s1[v, i, y, k] += val
                acc.s2[v, i, y, k] += val * val
            acc.emis_hist[
                v, i, y, hist_bin(yv[v, i, L.ST_EMIS], acc.emis_lo[i], acc.emis_step[i], NB)
            ] += 1
    if nv > 2:
        for i in range(N + 1):
            for k in range(L.NSTAT):
                acc.s12[i, y, k] += yv[1, i, k] * yv[2, i, k]
    # the observed design's bank (no links, no reserve): B^o' = B^o + S^o - E^o, under the
    # same bound (the map keeps it there up to rounding)
    if bank.on:
        for i in range(N):
            if bk[i, L.BK_ON] > 0.0:
                bank.bank_obs[i] = BK.bank_step(
                    bank.bank_obs[i],
                    blk.supply_obs[td, i],
                    0.0,
                    0.0,
                    day.bau[i] - abatement(mp[i, L.C], mp[i, L.ETA], blk.p_obs[td, i]),
                    BK.year_end_bound(bk, i, y, Y),
                )[0]


@njit(cache=True, error_model="numpy")
def horizon_statistics(Y: int, nv: int, proc, acc, day, pst) -> None:
    """The path's horizon statistics (year index Y of the sums): last price, day shares over
    the horizon, summed quantities, share of non-compliant years."""
    mp = proc.param
    mi = proc.iparam
    N = mp.shape[0]
    yv = pst.yv
    hacc = pst.hacc
    NB = L.NBINS
    for v in range(nv):
        for i in range(N + 1):
            if i < N:
                yv[v, i, L.ST_PRICE] = day.price[v, i]
                day_shares(yv, hacc, v, i, 14)
                yv[v, i, L.ST_OUTPUT] = day.output[mi[i, L.JUR]]
                yv[v, i, L.ST_PAUT] = day.p_aut[v, i]
                yv[v, i, L.ST_GAP] = hacc[v, i, 13] / Y
                acc.price_hist[
                    v,
                    i,
                    Y,
                    hist_bin(
                        math.log(max(day.price[v, i], _TINY)),
                        acc.price_lo[i],
                        acc.price_step[i],
                        NB,
                    ),
                ] += 1
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
                acc.s1[v, i, Y, k] += val
                acc.s2[v, i, Y, k] += val * val
            acc.emis_hist[
                v, i, Y, hist_bin(hacc[v, i, 7], acc.emis_lo[i] * Y, acc.emis_step[i] * Y, NB)
            ] += 1
    if nv > 2:
        # yv holds horizon values of both variants now
        for i in range(N + 1):
            for k in range(L.NSTAT):
                acc.s12[i, Y, k] += yv[1, i, k] * yv[2, i, k]
