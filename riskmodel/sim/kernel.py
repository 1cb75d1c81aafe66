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

import math

import numpy as np
from numba import njit

from riskmodel.linking import (
    M_C,
    M_CEIL,
    M_ETA,
    M_FLOOR,
    M_FX,
    M_P_AUT,
    M_RES_DOWN,
    M_RES_UP,
    O_FLOW,
    O_PRICE,
    O_RESERVE,
    STATUS_INFEASIBLE,
)
from riskmodel.linking.collar import own_price_s
from riskmodel.sim import banking_step as BK
from riskmodel.sim import layout as L
from riskmodel.sim.kernel_clearing import (  # noqa: F401 (re-exported)
    _QFLAGS,
    STATUS_NEEDS_GENERAL,
    any_active,
    clear_without_solver,
    link_states,
    plain_pools,
    remember_inputs,
    respecialise,
    solve_step,
    solve_step_lean,
    take_solution,
)
from riskmodel.sim.kernel_state import (
    new_banking,
    new_clearing,
    new_day,
    new_path_state,
    new_path_stats,
    new_stabilisation,
    new_year_block,
)
from riskmodel.sim.kernel_steps import (
    _LOG_POS,
    _TINY,
    compliance_date,
    draw_innovations,
    horizon_statistics,
    kets_month,
    observed_bau,
    start_path,
    step_event_chains,
    step_fitted_prices,
    step_outputs,
)


@njit(cache=True, error_model="numpy")
def run_paths(chunk, proc, dep, des, links, events, streams, acc, work):
    """Simulate ``chunk.n_paths`` paths and add their statistics to ``acc``.

    The arguments are the named structures of :mod:`riskmodel.sim.kernel_args` (``Chunk``,
    ``Processes``, ``Dependence``, ``Designs``, ``Links``, ``Events``, ``Streams``,
    ``Accumulators``, ``Workspace``); the working state is that of
    :mod:`riskmodel.sim.kernel_state`, the steps those of :mod:`riskmodel.sim.kernel_steps`
    and :mod:`riskmodel.sim.kernel_clearing`. Returns ``(n_infeasible, n_clipped)``: link
    solver steps without a feasible solution and days whose innovation the guard clipped
    (``run_paths_lean``: ``(STATUS_NEEDS_GENERAL, n_clipped)`` at a step it cannot answer).

    Draws are made a year (``dpy`` days) at a time into buffers, in this order per path and
    block: the normals of every day (``N + J`` per day), the t-copula mixing gammas, the regime
    uniforms of the regime-switching markets; the event chains' uniforms from their own stream.
    """
    Y = chunk.years
    dpy = chunk.dpy
    nv = chunk.n_variants
    T = Y * dpy
    N = proc.param.shape[0]
    J = dep.output_drift.shape[0]
    NL = links.ends.shape[0]
    ps = new_path_state(N, J)
    blk = new_year_block(proc, dep, links, events, dpy, nv)
    day = new_day(N, J)
    clr = new_clearing(proc, des, links)
    stab = new_stabilisation(N)
    bank = new_banking(des, N, NL)
    pst = new_path_stats(N)
    mlen = max(1, dpy // 12)  # K-ETS month (days)
    # The arrays the day loop's inlined steps read and write, bound once: a structure used
    # inside the day loop would cost reference counting of its members on every day. Names
    # as in the structures' docs (kernel_args, kernel_state).
    mp, mi, bk, s_conv = proc.param, proc.iparam, des.bank, des.unit_conv
    ends, lpar, lk_f, fwork, iwork = links.ends, links.param, links.dynamic, work.fwork, work.iwork
    keep_price, keep_bau = acc.keep_price, acc.keep_bau
    Mb, Ub, Sbb, Sob, pob = blk.output, blk.bau, blk.supply_cf, blk.supply_obs, blk.p_obs
    lsb, exb, inb = blk.link_state, blk.exempt, blk.interv
    M, U, Sb, Sv, paut = day.output, day.bau, day.supply_cf, day.supply, day.p_aut
    price, xv, qbind, rv = day.price, day.flow, day.quota_bind, day.reserve
    mkt, lw, lst, lst1, out, lout, flags = (
        clr.mkt,
        clr.lw,
        clr.lst,
        clr.lst_linked,
        clr.out,
        clr.lout,
        clr.flags,
    )
    par, pnum, pden, pr_s, x_s = clr.par, clr.num, clr.den, clr.pr, clr.x
    pin1, fl1, rd1, ru1 = clr.p_in, clr.fl_in, clr.rd_in, clr.ru_in
    adj, adjk, msum = stab.adj, stab.adj_kets, stab.month_sum
    bon, origin, bst, bobs, dlk, lpv2 = (
        bank.on,
        bank.origin,
        bank.bst,
        bank.bank_obs,
        bank.delink,
        bank.lst_prev,
    )
    bkw, hz, bds0, bdb, bds1 = bank.bkw, bank.hz, bank.ds0, bank.db, bank.ds1
    rm1, rnb, rcnt, rbest, rk = bank.rm1, bank.rnb, bank.rcnt, bank.rbest, bank.rk
    dacc, lcur, lprev = pst.acc, pst.lcur, pst.lprev
    n_infeasible = 0
    n_clipped = 0
    for p in range(chunk.n_paths):
        keep = chunk.first_path + p < acc.keep_paths
        start_path(proc, des, streams, ps, blk, stab, bank, pst)
        for t in range(T):
            y = t // dpy
            td = t % dpy
            if td == 0:
                # the year's exogenous paths (a block of up to dpy days)
                nd = min(dpy, T - t)
                draw_innovations(nd, proc, dep, streams, blk)
                step_outputs(nd, t, dep, ps, blk)
                if blk.events_on:
                    step_event_chains(nd, events, streams, blk)
                n_clipped += step_fitted_prices(nd, proc, ps, blk)
                observed_bau(nd, y, proc, des, blk)
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
            # ---- variants
            for v in range(nv):
                for i in range(N):
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
                if bon:
                    for i in range(N):
                        if bk[i, L.BK_ON] > 0.0:
                            # the bridged price: this year's shortfall against the observed
                            # design (exemption bds0[i] of U), expected cap differences ahead,
                            # the bank difference
                            bds0[i] = Sob[td, i] - Sv[v, i] - bds0[i] * U[i]
                            bdb[i] = bst[v, i, 0] - bobs[i]
                            bds1[i] = -bst[v, i, 4]
                            pa = BK.bridged(
                                bk,
                                i,
                                y,
                                Y,
                                pob[td, i],
                                bkw,
                                bds0[i],
                                bdb[i],
                                mp[i, L.C],
                                bds1[i],
                                hz,
                            )
                            paut[v, i] = pa
                            mkt[i, M_P_AUT] = pa
                for q in range(NL):
                    if v == 0 or t < lk_f[q, L.START_DAY]:
                        lst[q] = 2
                    elif v == 1:
                        lst[q] = 0
                    else:
                        lst[q] = lsb[td, q]
                    a = ends[q, 0]
                    b = ends[q, 1]
                    if v == 2 and origin and t >= lk_f[q, L.START_DAY]:
                        if lst[q] == 2 and lpv2[q] != 2:
                            # delinked today: banked permits return to their issuer
                            BK.delink_origin(bk, bst, dlk, a, b)
                        lpv2[q] = lst[q]
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
                # fast paths: isolated markets (autarky, or no active link) use the exact own
                # response; a variant whose inputs equal the previous one's reuses its solution
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
                    BK.pool_exhaustion(
                        bk,
                        y,
                        Y,
                        pob,
                        td,
                        bkw,
                        bds0,
                        bdb,
                        bds1,
                        mkt,
                        M_C,
                        M_FX,
                        M_P_AUT,
                        ends,
                        lst,
                        lw,
                        par,
                        rm1,
                        rnb,
                        rcnt,
                        rbest,
                        rk,
                        hz,
                    )
                if same:
                    for i in range(N):
                        if (
                            mkt[i, M_P_AUT] != pin1[v - 1, i]
                            or mkt[i, M_FLOOR] != fl1[v - 1, i]
                            or mkt[i, M_RES_DOWN] != rd1[v - 1, i]
                            or mkt[i, M_RES_UP] != ru1[v - 1, i]
                        ):
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
                            mkt[i, M_P_AUT],
                            mkt[i, M_C],
                            mkt[i, M_ETA],
                            mkt[i, M_FLOOR],
                            mkt[i, M_CEIL],
                            mkt[i, M_RES_UP],
                            mkt[i, M_RES_DOWN],
                            0.0,
                        )
                        xv[v, i] = 0.0
                        qbind[v, i] = False
                elif plain_pools(mkt, ends, lw, lst, par, pnum, pden, pr_s, x_s):
                    for i in range(N):
                        price[v, i] = pr_s[i]
                        xv[v, i] = x_s[i]
                        qbind[v, i] = False
                        rv[v, i] = 0.0
                else:
                    status = solve_step(mkt, ends, lw, lst, out, lout, flags, fwork, iwork)
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
                    dacc[v, i, 0] += pv
                    if v > 0 and pv == price[v - 1, i]:
                        lp = lcur[v - 1, i]  # same price as the previous variant: reuse the log
                    else:
                        lp = math.log(max(pv, _TINY))
                    lcur[v, i] = lp
                    if t > 0 and lp > _LOG_POS and lprev[v, i] > _LOG_POS:
                        d = lp - lprev[v, i]
                        dacc[v, i, 1] += d * d
                        dacc[v, i, 2] += 1.0
                    if pv <= 0.0:
                        dacc[v, i, 7] += 1.0  # a zero price: supply exceeds BAU, no scarcity
                    lprev[v, i] = lp
                    if mp[i, L.COLLAR_F] > 0.0 and pv <= mp[i, L.COLLAR_F] * (1.0 + 1e-9):
                        dacc[v, i, 3] += 1.0
                    if pv >= mp[i, L.COLLAR_K] * (1.0 - 1e-9):
                        dacc[v, i, 4] += 1.0
                    if qbind[v, i]:
                        dacc[v, i, 5] += 1.0
                    dacc[v, i, 6] += 1.0
                    if keep:
                        keep_price[v, p, i, t] = pv
                        if v == 0:
                            keep_bau[p, i, t] = U[i]
                    if mi[i, L.KETS_ON]:
                        msum[v, i] += pv
            if (t + 1) % mlen == 0:
                kets_month(y, mlen, nv, proc, des, streams, stab)
            if td == dpy - 1:
                compliance_date(
                    t, td, y, Y, p, nv, proc, des, links, acc, blk, day, stab, bank, clr, pst
                )
        horizon_statistics(Y, nv, proc, acc, day, pst)
    return n_infeasible, n_clipped


#: ``run_paths`` on the lean solver (same source, ``solve_step`` rebound to
#: ``kernel_clearing.solve_step_lean``; its own numba cache entry): the engine's choice when
#: every link is plain and no market has eta != 1 (``engine.kernels_for``). It returns
#: ``(STATUS_NEEDS_GENERAL, n_clipped)`` as soon as a step needs the general solver, its chunk
#: arrays then partly filled: the caller reruns the chunk on fresh arrays with ``run_paths``.
run_paths_lean = njit(cache=True, error_model="numpy")(
    respecialise(run_paths.py_func, "run_paths_lean", solve_step=solve_step_lean)
)
