"""The kernel's working state: named structures of the arrays ``kernel.run_paths`` allocates
once per chunk and the steps of :mod:`riskmodel.sim.kernel_steps` read and update.

Indices as in :mod:`riskmodel.sim.kernel_args` (market ``i``, jurisdiction ``j``, link ``q``,
variant ``v``, day of the year block ``d``). Each ``new_*`` function allocates one structure
(numba builds the named tuples in compiled code).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from riskmodel.linking import (
    M_C,
    M_CEIL,
    M_ETA,
    M_EXP_CAP,
    M_FEE_EXP,
    M_FEE_IMP,
    M_FX,
    M_IMP_CAP,
    M_RES_UP,
    M_S,
    N_LINK_OUT,
    N_MARKET_FIELDS,
    N_OUT,
)
from riskmodel.sim import layout as L

#: Per-path day counters of a year (``PathStats.acc``) and of the horizon (``hacc``):
#: 0 sum of prices, 1 sum of squared log returns, 2 their count, 3 days at the floor, 4 at the
#: ceiling, 5 with a binding quota, 6 days, 7 days at a zero price; ``hacc`` also 7-16: the
#: horizon sums of emissions, supply, flow, transfer, gain, BAU, gap, zero-price days,
#: noncompliance and noncompliant years.
N_ACC = 18


class PathState(NamedTuple):
    """Each fitted price process's state, carried from day to day along a path."""

    #: [N, KMAX] conditional variance per regime.
    h: np.ndarray
    #: [N, 3] last return, residual and (thin trading) gap state (``price_kernels``).
    prev: np.ndarray
    #: [N] current regime.
    reg: np.ndarray
    #: [N] log fitted price.
    logp: np.ndarray
    #: [J] log output index.
    log_output: np.ndarray


class YearBlock(NamedTuple):
    """The exogenous paths of a year of days (a block), drawn and computed at its first day
    (``kernel_steps.draw_year``), and the slots that lay out the block's draws."""

    #: [dpy (N + J)] standard normals of the block's days.
    normals: np.ndarray
    #: Scratch of ``rng.fill_normal``.
    pending: np.ndarray
    #: [dpy or 0] t-copula mixing gammas.
    gammas: np.ndarray
    #: [dpy n_ms] regime uniforms of the regime-switching markets.
    regime_u: np.ndarray
    #: [dpy n_chains or 0] event-chain uniforms.
    event_u: np.ndarray
    #: [dpy, N + J] correlated innovations (prices, then outputs).
    x: np.ndarray
    #: [dpy, N] standardised price innovations (the market's innovation law).
    z: np.ndarray
    #: [dpy, J] output indices (mean 1).
    output: np.ndarray
    #: [dpy, N] fitted (observed-design) prices, own currency.
    p_obs: np.ndarray
    #: [dpy, N] shocks, conditional variances, regime means and compensators of the fitted
    #: recursion (``price_kernels.shock_block`` / ``log_price_block``).
    eps: np.ndarray
    hvar: np.ndarray
    mean: np.ndarray
    comp: np.ndarray
    #: [dpy, N] BAU emissions U = S_obs + a(p_obs) (Mt).
    bau: np.ndarray
    #: [dpy, N] counterfactual supply before stabilisation and events (Mt).
    supply_cf: np.ndarray
    #: [dpy, N] observed-design supply (Mt).
    supply_obs: np.ndarray
    #: [dpy, NL] link states (0 normal, 1 restricted, 2 suspended) of linked_events.
    link_state: np.ndarray
    #: [dpy, N] exemption and intervention states (0/1) of linked_events.
    exempt: np.ndarray
    interv: np.ndarray
    #: [N] slot of market i among the regime-switching ones (-1: none); how many there are.
    ms_slot: np.ndarray
    n_ms: int
    #: [N] event-chain slots: links first (slot q), then exemptions, then interventions
    #: (-1: none); how many chains; whether events are drawn (events and three variants).
    ex_slot: np.ndarray
    int_slot: np.ndarray
    n_chains: int
    events_on: bool
    #: Current chain states carried across blocks: [NL] links, [N] exemptions, interventions.
    link_now: np.ndarray
    ex_now: np.ndarray
    int_now: np.ndarray


class Day(NamedTuple):
    """Today's exogenous values and each variant's cleared market."""

    #: [J] output indices.
    output: np.ndarray
    #: [N] BAU emissions (Mt).
    bau: np.ndarray
    #: [N] counterfactual supply before stabilisation and events (Mt).
    supply_cf: np.ndarray
    #: [3, N] each variant's supply after stabilisation, interventions (Mt).
    supply: np.ndarray
    #: [3, N] prices (own currency), autarky prices before collars, net imports (Mt),
    #: whether a quota binds, reserve use (Mt sold at the ceiling minus withheld at the floor).
    price: np.ndarray
    p_aut: np.ndarray
    flow: np.ndarray
    quota_bind: np.ndarray
    reserve: np.ndarray


class Clearing(NamedTuple):
    """The link solver's inputs and outputs (``riskmodel.linking`` layouts), and what the
    previous variant passed, so that an identical variant reuses its solution."""

    #: [N, N_MARKET_FIELDS] market rows (``M_*``): autarky price, slope, collar, reserves.
    mkt: np.ndarray
    #: [N, N_OUT], [max(NL, 1), N_LINK_OUT], [N]: the solver's outputs and flags.
    out: np.ndarray
    lout: np.ndarray
    flags: np.ndarray
    #: [NL, 8] today's link parameters (quota shares applied); [NL] today's states and
    #: linked's states.
    lw: np.ndarray
    lst: np.ndarray
    lst_linked: np.ndarray
    #: Scratch of ``plain_pools`` and of the banking pool steps: [N] union-find parents,
    #: numerators, denominators, prices, flows.
    par: np.ndarray
    num: np.ndarray
    den: np.ndarray
    pr: np.ndarray
    x: np.ndarray
    #: [3, N] each variant's solver inputs: autarky price, floor, reserve down, reserve up.
    p_in: np.ndarray
    fl_in: np.ndarray
    rd_in: np.ndarray
    ru_in: np.ndarray


class Stabilisation(NamedTuple):
    """EU MSR and K-ETS market stabilisation per variant and market (docs/ENGINE.md)."""

    #: [3, N] MSR supply adjustment of the year (Mt); K-ETS discretionary adjustment (Mt).
    adj: np.ndarray
    adj_kets: np.ndarray
    #: [3, N] MSR: TNAC (Mt), reserve holdings (Mt); K-ETS reserve (Mt).
    tnac: np.ndarray
    msr_res: np.ndarray
    kets_res: np.ndarray
    #: [3, N, 24] K-ETS: trailing monthly average prices; [3, N] this month's price sum,
    #: consecutive high months; [3, N, 2] whether it released / absorbed this year.
    ring: np.ndarray
    month_sum: np.ndarray
    high_count: np.ndarray
    acted: np.ndarray


class Banking(NamedTuple):
    """Banking state (docs/BANKING.md; ``banking_step``) and its scratch."""

    #: Whether any market banks; 'origin' delinking convention.
    on: bool
    origin: bool
    #: [3, N, 5] per variant: bank, MSR holdings, last year's bank, partner-issued permits
    #: held, MSR announcement (Mt).
    bst: np.ndarray
    #: [N] the observed design's bank (Mt).
    bank_obs: np.ndarray
    #: [N, HM] window scratch (gaps, horizons) of ``banking_step``.
    bkw: np.ndarray
    hz: np.ndarray
    #: [N] the bridged price's gaps: this year's shortfall (first the exemption share), bank
    #: difference, announcement.
    ds0: np.ndarray
    db: np.ndarray
    ds1: np.ndarray
    #: [3, N] banked permits moved at a delink this year (Mt).
    delink: np.ndarray
    #: [NL] linked_events's link states of the previous day ('origin' delinks).
    lst_prev: np.ndarray
    #: Scratch of ``banking_step.pool_exhaustion`` / ``pool_holdings``.
    rm1: np.ndarray
    rnb: np.ndarray
    rcnt: np.ndarray
    rbest: np.ndarray
    rk: np.ndarray
    lstv: np.ndarray
    lplain: np.ndarray
    hwgt: np.ndarray
    hown: np.ndarray
    hsum: np.ndarray
    #: [N] a pooled market's year-end holdings' flow (NaN: not pooled).
    hxl: np.ndarray


class PathStats(NamedTuple):
    """One path's statistics before they are added to the chunk's sums."""

    #: [3, N, N_ACC] day counters of the year; [3, N + 1, N_ACC] of the horizon.
    acc: np.ndarray
    hacc: np.ndarray
    #: [3, N] yesterday's and today's log price.
    lprev: np.ndarray
    lcur: np.ndarray
    #: [3, N + 1, NSTAT] the year's (or horizon's) statistics of the path.
    yv: np.ndarray


@njit(cache=True, inline="always")
def new_path_state(N: int, J: int) -> PathState:
    """Zeroed process state."""
    return PathState(
        np.zeros((N, L.KMAX)),
        np.zeros((N, 3)),
        np.zeros(N, dtype=np.int64),
        np.empty(N),
        np.empty(J),
    )


@njit(cache=True, inline="always")
def new_year_block(proc, dep, links, events, dpy: int, nv: int) -> YearBlock:
    """Block buffers sized for a year, and the draw slots of the scenario."""
    mp = proc.param
    mi = proc.iparam
    N = mp.shape[0]
    J = dep.output_drift.shape[0]
    NL = links.ends.shape[0]
    nz = N + J
    msx = np.full(N, -1, dtype=np.int64)
    nms = 0
    for i in range(N):
        if mi[i, L.FAM] == L.F_MS or mi[i, L.FAM] == L.F_MSGARCH or mp[i, L.TT_ON] > 0.0:
            msx[i] = nms
            nms += 1
    exx = np.full(N, -1, dtype=np.int64)
    inx = np.full(N, -1, dtype=np.int64)
    nch = NL
    for i in range(N):
        if mi[i, L.HAS_EX]:
            exx[i] = nch
            nch += 1
    for i in range(N):
        if mi[i, L.HAS_INT]:
            inx[i] = nch
            nch += 1
    ev_on = events.on and nv > 2
    return YearBlock(
        np.empty(dpy * nz),
        np.empty(2 * dpy * nz + 2, dtype=np.int64),
        np.empty(dpy if dep.copula_t else 0),
        np.empty(dpy * nms),
        np.empty(dpy * nch if ev_on else 0),
        np.empty((dpy, nz)),
        np.empty((dpy, N)),
        np.empty((dpy, J)),
        np.empty((dpy, N)),
        np.empty((dpy, N)),
        np.empty((dpy, N)),
        np.empty((dpy, N)),
        np.empty((dpy, N)),
        np.empty((dpy, N)),
        np.empty((dpy, N)),
        np.empty((dpy, N)),
        np.zeros((dpy, NL), dtype=np.int64),
        np.zeros((dpy, N), dtype=np.int64),
        np.zeros((dpy, N), dtype=np.int64),
        msx,
        nms,
        exx,
        inx,
        nch,
        ev_on,
        np.zeros(NL, dtype=np.int64),
        np.zeros(N, dtype=np.int64),
        np.zeros(N, dtype=np.int64),
    )


@njit(cache=True, inline="always")
def new_day(N: int, J: int) -> Day:
    """Today's values (overwritten every day)."""
    return Day(
        np.empty(J),
        np.empty(N),
        np.empty(N),
        np.empty((3, N)),
        np.empty((3, N)),
        np.empty((3, N)),
        np.empty((3, N)),
        np.zeros((3, N), dtype=np.bool_),
        np.zeros((3, N)),
    )


@njit(cache=True, inline="always")
def new_clearing(proc, des, links) -> Clearing:
    """The solver's market rows with the fields no day changes filled in."""
    mp = proc.param
    N = mp.shape[0]
    NL = links.ends.shape[0]
    mkt = np.zeros((N, N_MARKET_FIELDS))
    for i in range(N):
        mkt[i, M_C] = mp[i, L.C]
        mkt[i, M_ETA] = mp[i, L.ETA]
        mkt[i, M_FX] = mp[i, L.FX]
        mkt[i, M_S] = des.unit_conv[i]
        mkt[i, M_CEIL] = mp[i, L.CEIL]
        mkt[i, M_RES_UP] = mp[i, L.RES_UP]
        mkt[i, M_IMP_CAP] = np.inf
        mkt[i, M_EXP_CAP] = np.inf
        mkt[i, M_FEE_IMP] = 0.0
        mkt[i, M_FEE_EXP] = 0.0
    return Clearing(
        mkt,
        np.zeros((N, N_OUT)),
        np.zeros((max(NL, 1), N_LINK_OUT)),
        np.zeros(N, dtype=np.int64),
        links.param.copy(),
        np.zeros(NL, dtype=np.int64),
        np.zeros(NL, dtype=np.int64),
        np.zeros(N, dtype=np.int64),
        np.zeros(N),
        np.zeros(N),
        np.zeros(N),
        np.zeros(N),
        np.zeros((3, N)),
        np.zeros((3, N)),
        np.zeros((3, N)),
        np.zeros((3, N)),
    )


@njit(cache=True, inline="always")
def new_stabilisation(N: int) -> Stabilisation:
    """Zeroed stabilisation state (set per path by ``kernel_steps.start_path``)."""
    return Stabilisation(
        np.zeros((3, N)),
        np.zeros((3, N)),
        np.zeros((3, N)),
        np.zeros((3, N)),
        np.zeros((3, N)),
        np.zeros((3, N, 24)),
        np.zeros((3, N)),
        np.zeros((3, N)),
        np.zeros((3, N, 2), dtype=np.bool_),
    )


@njit(cache=True, inline="always")
def new_banking(des, N: int, NL: int) -> Banking:
    """Zeroed banking state (set per path by ``kernel_steps.start_path``)."""
    bk = des.bank
    bon = bk.shape[0] > 0
    hm = int(bk[0, L.BK_HM]) if bon else 1
    return Banking(
        bon,
        bon and bk[0, L.BK_ORIGIN] > 0.0,
        np.zeros((3, N, 5)),
        np.zeros(N),
        np.zeros((N, hm)),
        np.zeros((N, hm)),
        np.zeros(N),
        np.zeros(N),
        np.zeros(N),
        np.zeros((3, N)),
        np.zeros(NL, dtype=np.int64),
        np.zeros(N, dtype=np.int64),
        np.zeros(N, dtype=np.int64),
        np.zeros(N, dtype=np.int64),
        np.zeros(N),
        np.zeros(N, dtype=np.int64),
        np.zeros(NL, dtype=np.int64),
        np.zeros(NL, dtype=np.bool_),
        np.zeros(N),
        np.zeros(N),
        np.zeros((4, N)),
        np.full(N, np.nan),
    )


@njit(cache=True, inline="always")
def new_path_stats(N: int) -> PathStats:
    """Zeroed per-path statistics."""
    return PathStats(
        np.zeros((3, N, N_ACC)),
        np.zeros((3, N + 1, N_ACC)),
        np.zeros((3, N)),
        np.zeros((3, N)),
        np.zeros((3, N + 1, L.NSTAT)),
    )
