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

from numba import njit

from riskmodel.linking import STATUS_INFEASIBLE
from riskmodel.sim.kernel_clearing import (  # noqa: F401 (re-exported)
    STATUS_NEEDS_GENERAL,
    clear_variant,
    clear_variant_lean,
    link_states,
    plain_pools,
    respecialise,
    solve_step,
    solve_step_lean,
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
    compliance_date,
    daily_statistics,
    draw_innovations,
    horizon_statistics,
    kets_month,
    observed_bau,
    start_path,
    step_event_chains,
    step_fitted_prices,
    step_outputs,
    today,
    variant_inputs,
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
            today(td, y, Y, proc, des, blk, bank, day)
            for v in range(nv):
                variant_inputs(v, td, y, Y, proc, des, blk, day, stab, bank, clr)
                link_states(v, t, td, des, links, blk, day, bank, clr)
                status = clear_variant(v, td, y, Y, des, links, work, blk, day, bank, clr)
                if status == STATUS_NEEDS_GENERAL:
                    return STATUS_NEEDS_GENERAL, n_clipped  # run_paths_lean only
                if status == STATUS_INFEASIBLE:
                    n_infeasible += 1
            daily_statistics(t, p, keep, nv, proc, acc, day, stab, pst)
            if (t + 1) % mlen == 0:
                kets_month(y, mlen, nv, proc, des, streams, stab)
            if td == dpy - 1:
                compliance_date(
                    t, td, y, Y, p, nv, proc, des, links, acc, blk, day, stab, bank, clr, pst
                )
        horizon_statistics(Y, nv, proc, acc, day, pst)
    return n_infeasible, n_clipped


#: ``run_paths`` on the lean solver (same source, ``clear_variant`` rebound to
#: ``clear_variant_lean``; its own numba cache entry): the engine's choice when every link is
#: plain and no market has eta != 1 (``engine.kernels_for``). It returns
#: ``(STATUS_NEEDS_GENERAL, n_clipped)`` as soon as a step needs the general solver, its chunk
#: arrays then partly filled: the caller reruns the chunk on fresh arrays with ``run_paths``.
run_paths_lean = njit(cache=True, error_model="numpy")(
    respecialise(run_paths.py_func, "run_paths_lean", clear_variant=clear_variant_lean)
)
