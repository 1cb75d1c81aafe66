"""Banking inside the Monte Carlo kernel: the rolling-horizon bridge per market-day and the bank
ledger per compliance date (docs/BANKING.md §3, §7).

Scalar, ``inline="always"`` versions of :func:`riskmodel.banking.hotelling.scarcity_gaps` and
:func:`~riskmodel.banking.hotelling.bridged_price`: called across a numba boundary with array
slices they cost about 85 ns fixed plus 2 ns per window year (measured, BANKING.md §7.3), so the
kernel compiles them into its own loops. They read market i's row of the banking array ``bk``
(layout: :mod:`riskmodel.sim.layout`, ``BK_*`` and :func:`offsets`) and the work row ``w[i]``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from riskmodel.banking import msr
from riskmodel.linking.topology import M_S
from riskmodel.sim import layout as L
from riskmodel.sim import link_state as LS

#: Allowances per Mt (the MSR rules are stated in allowances, the kernel runs in Mt).
_PER_MT = 1e6
#: Relative rounding below which a bank under its bound is not a shortfall.
_ROUND = 1e-12


@njit(cache=True, inline="always")
def offsets(n_years: int, hm: int) -> tuple[int, int, int, int]:
    """(n̄, ΔS ahead, window length, bounds) column offsets of ``bk`` (see ``layout.bk_offsets``)."""
    o_nbar = L.NBK
    o_dq = o_nbar + n_years + hm
    o_m1 = o_dq + n_years + hm
    return o_nbar, o_dq, o_m1, o_m1 + n_years


@njit(cache=True, inline="always")
def gaps(bk, i: int, y: int, n_years: int, p_obs: float, bank_obs: float, c: float, w) -> float:
    """Back out ξ from the observed price of market i in year y (bank ``bank_obs``) and fill
    ``w[i, k]`` with the gaps β_k (g_k - ξ) (>= 0, exactly 0 at the argmin). Returns ξ."""
    hm = int(bk[i, L.BK_HM])
    o_nbar, _, o_m1, o_ell = offsets(n_years, hm)
    m1 = int(bk[i, o_m1 + y])
    r = bk[i, L.BK_R]
    phi = bk[i, L.BK_PHI]
    cum = 0.0
    g = 1.0
    ann = 0.0
    sphi = 0.0
    fk = 1.0
    xi = 1e300
    for k in range(m1):
        cum += bk[i, o_nbar + y + k]
        ann += g
        g *= 1.0 + r
        sphi += fk
        fk *= phi
        alpha = (cum - bank_obs + bk[i, o_ell + y * hm + k]) / (c * ann)
        gk = (p_obs - alpha) / (sphi / ann)
        w[i, k] = gk
        if gk < xi:
            xi = gk
    g = 1.0
    ann = 0.0
    sphi = 0.0
    fk = 1.0
    for k in range(m1):
        ann += g
        g *= 1.0 + r
        sphi += fk
        fk *= phi
        w[i, k] = (sphi / ann) * (w[i, k] - xi)
    return xi


@njit(cache=True, inline="always")
def bridged(bk, i: int, y: int, n_years: int, p_obs: float, w, ds0: float, dbank: float,
            c: float, ds1: float, hz) -> float:
    """A variant's price: max{0, max_k π_{i,k}} over the horizon prices of
    :func:`horizon_prices` (written into the scratch row ``hz[i]``): π_{i,k} = p_obs - w_k + D_k,
    D_k = (Σ_{j<=k} ΔS_j - dbank) / (c A_k) with ΔS_0 = ``ds0`` (this year's supply shortfall
    against the observed design), ΔS_j (j >= 1) the expected cap difference of year y+j plus,
    for j = 1, ``ds1`` (an announced change of next year's supply: the EU MSR's 8/12 share);
    ``dbank`` = B^v - B^o."""
    m1 = horizon_prices(bk, i, y, n_years, p_obs, w, ds0, dbank, c, ds1, hz)
    best = 0.0
    for k in range(m1):
        if hz[i, k] > best:
            best = hz[i, k]
    return best


@njit(cache=True, inline="always")
def nbar(bk, i: int, y: int, n_years: int) -> float:
    """Reference required abatement n̄ of year y (Mt)."""
    return bk[i, L.NBK + y]


@njit(cache=True, inline="always")
def year_end_bound(bk, i: int, y: int, n_years: int) -> float:
    """ℓ_0 of year y's window: the year-end bank may not fall below it (Mt)."""
    hm = int(bk[i, L.BK_HM])
    _, _, _, o_ell = offsets(n_years, hm)
    return bk[i, o_ell + y * hm]


@njit(cache=True, inline="always")
def bank_step(bank: float, supply: float, imports: float, reserve: float, emissions: float,
              bound: float) -> tuple[float, float]:
    """Next year's bank and the year's non-compliance (``riskmodel.banking.ledger.bank_step``):
    firms cannot surrender permits they do not hold, so the bank is held at its bound and the
    excess is reported as non-compliance (Mt). The map keeps the bank at its bound only up to
    rounding; a miss below 1e-12 of the year's quantities is left in the bank, not reported."""
    raw = bank + supply + imports + reserve - emissions
    # a shortfall within rounding of the year's quantities is not non-compliance
    if raw < bound - _ROUND * (abs(supply) + abs(emissions) + abs(bank)):
        return bound, bound - raw
    return raw, 0.0


@njit(cache=True, inline="always")
def msr_adjustment(year: int, tnac: float, tnac_prev: float, holdings: float,
                   prev_auction: float) -> tuple[float, float]:
    """The EU MSR's supply change in calendar ``year`` read from the bank (Mt): release minus
    intake, with the intake lag, bands and invalidation of :func:`riskmodel.banking.msr.msr_year`
    (TNAC of years ``year - 1`` and ``year - 2``). Returns (change, holdings at year end)."""
    i_in, rel, _, h = msr.msr_year(year, tnac * _PER_MT, tnac_prev * _PER_MT,
                                   holdings * _PER_MT, prev_auction * _PER_MT)
    return (rel - i_in) / _PER_MT, h / _PER_MT


@njit(cache=True, inline="always")
def msr_announced(tnac: float, holdings: float) -> float:
    """The part of the year after next's MSR supply change that the TNAC of this year already
    sets (its intake and release fall 8/12 in that year; published by 1 June): announced, so
    firms see it a year ahead (Mt, release minus intake; BANKING.md §2)."""
    share = 1.0 - msr.LAG_SHARE_FIRST
    t = tnac * _PER_MT
    return share * (msr.release(t, holdings * _PER_MT) - msr.intake(t)) / _PER_MT


@njit(cache=True, inline="always")
def horizon_prices(bk, i: int, y: int, n_years: int, p_obs: float, w, ds0: float, dbank: float,
                   c: float, ds1: float, hz) -> int:
    """Market i's horizon prices π_{i,k} = p_obs - w_k + D_k (unclipped) into ``hz[i, :m1]``;
    returns the window length m1."""
    hm = int(bk[i, L.BK_HM])
    _, o_dq, o_m1, _ = offsets(n_years, hm)
    m1 = int(bk[i, o_m1 + y])
    r = bk[i, L.BK_R]
    cum = ds0
    g = 1.0
    ann = 0.0
    for k in range(m1):
        if k > 0:
            cum += bk[i, o_dq + y + k]
        if k == 1:
            cum += ds1
        ann += g
        g *= 1.0 + r
        hz[i, k] = p_obs - w[i, k] + (cum - dbank) / (c * ann)
    return m1


@njit(cache=True)
def pool_exhaustion(bk, y: int, n_years: int, pob, td: int, w, ds0, dbank, ds1, mkt, m_c: int,
                    m_fx: int, m_paut: int, ends, lst, lw, par, rm1, rnb, rcnt, rbest, rk,
                    hz) -> None:
    """Banking across links (BANKING.md §3, the design note's rule): each connected component
    of active links is treated as a plain pool to find its expected exhaustion year k*,
    P = max{0, max_k Σ_i c_i π_{i,k} / Σ_i c_i / fx_i} (numeraire), and each member's horizon
    price π_{i,k*} becomes its autarky price ``mkt[i, m_paut]`` for the link solver. For plain
    links the solver's pool price is then exactly the pooled map (flows c_i (π_{i,k*} - P_i));
    for restricted links it is the exhaustion-year rule, whose error docs/BANKING.md reports.
    A market that does not bank keeps its static price in every window year. The pool's
    window is its longest member's: past a member's own window end m_i its cumulative
    requirement is frozen at the window-end value, π_{i,k} = A_{m_i-1} π_{i,m_i-1} / A_k
    (BANKING.md §7.4), so the pool never drops a member's later constraints. A component with
    a restricted link (quota or fee in its current state, from ``lw``) keeps its shortest
    member's window: there the members cannot pool their banks freely, and an expiring
    member's requirement must be met by its own price. A pair on one quota link (no fee) whose
    pooled flow at k* would break the quota keeps the members' own maps: the quota binds, the
    banks cannot be pooled, and the solver clears the quota flow between the own maps (so
    neither member prices below its own year's requirement; BANKING.md §7.4). Components
    without a banking member, and pools whose map price is 0, keep the members' own prices.
    A plain call (not inlined): it runs only with banking across links, and inlining it slows
    the kernel without banking."""
    n = mkt.shape[0]
    hm = hz.shape[1]
    for i in range(n):
        par[i] = i
    for q in range(ends.shape[0]):
        if lst[q] == 2:
            continue
        ra = LS.root(par, ends[q, 0])
        rb = LS.root(par, ends[q, 1])
        if ra != rb:
            par[rb] = ra
    for i in range(n):
        rk[i] = 0
    for q in range(ends.shape[0]):
        st = lst[q]
        if st == 2:
            continue
        if LS.restricts(lw, q, st):
            rk[LS.root(par, ends[q, 0])] = 1
    for i in range(n):
        rm1[i] = hm if rk[i] == 1 else 0
        rnb[i] = 0
        rcnt[i] = 0
    for i in range(n):
        r = LS.root(par, i)
        rcnt[r] += 1
        if bk[i, L.BK_ON] > 0.0:
            m1 = horizon_prices(bk, i, y, n_years, pob[td, i], w, ds0[i], dbank[i],
                                mkt[i, m_c], ds1[i], hz)
            rnb[r] += 1
            if (rk[r] == 0 and m1 > rm1[r]) or (rk[r] == 1 and m1 < rm1[r]):
                rm1[r] = m1
            # past its window end the member's cumulative requirement is frozen
            rr = bk[i, L.BK_R]
            a_k = 0.0
            g = 1.0
            for _k in range(m1):
                a_k += g
                g *= 1.0 + rr
            top = a_k * hz[i, m1 - 1] if m1 > 0 else 0.0
            for k in range(m1, hm):
                a_k += g
                g *= 1.0 + rr
                hz[i, k] = top / a_k
        else:
            for k in range(hm):
                hz[i, k] = mkt[i, m_paut]
    for r in range(n):
        rbest[r] = 0.0
        rk[r] = -1
        if LS.root(par, r) != r or rnb[r] == 0 or rcnt[r] < 2:
            continue
        for k in range(rm1[r]):
            num = 0.0
            den = 0.0
            for i in range(n):
                if LS.root(par, i) == r:
                    num += mkt[i, m_c] * hz[i, k]
                    den += mkt[i, m_c] / mkt[i, m_fx]
            v = num / den
            if v > rbest[r]:
                rbest[r] = v
                rk[r] = k
    for q in range(ends.shape[0]):
        if lst[q] == 2:
            continue
        a = ends[q, 0]
        b = ends[q, 1]
        r = LS.root(par, a)
        if rk[r] < 0 or rcnt[r] != 2 or bk[a, L.BK_ON] <= 0.0 or bk[b, L.BK_ON] <= 0.0:
            continue
        off = 0 if lst[q] == 0 else 4
        if lw[q, off + 2] != 0.0 or lw[q, off + 3] != 0.0:
            continue
        # a pair on one quota link: a quota of the design (the link's normal state) keeps the
        # banks apart, each member pricing on its own map and the solver clearing this year's
        # flow within the quota. A quota of a restricted state (an event, not anticipated)
        # pools the banks when it lets through the pooled flow b -> a at k* and, by every
        # window year k, the cumulative imports each member needs to stay at its own bound on
        # the pool's price path, c_i A_k (π_{i,k} - P_i) (common units; this year's caps, then
        # the normal state's); otherwise each prices on its own map.
        xa = mkt[a, m_c] * (hz[a, rk[r]] - rbest[r] / mkt[a, m_fx]) * mkt[a, M_S]
        # a quota in the link's normal state is part of the design: banks never cross it
        pooled = lw[q, 0] == math.inf and lw[q, 1] == math.inf
        pooled = pooled and lw[q, off] >= -xa and xa <= lw[q, off + 1]
        if pooled:
            pooled = _quota_carries(bk, hz, mkt, m_c, m_fx, rbest[r], a, rm1[r],
                                    lw[q, off + 1], lw[q, 1])
        if pooled:
            pooled = _quota_carries(bk, hz, mkt, m_c, m_fx, rbest[r], b, rm1[r],
                                    lw[q, off], lw[q, 0])
        if not pooled:
            rk[r] = -1
    for i in range(n):
        r = LS.root(par, i)
        if rk[r] >= 0:
            mkt[i, m_paut] = hz[i, rk[r]]


@njit(cache=True)
def _quota_carries(bk, hz, mkt, m_c: int, m_fx: int, pool: float, i: int, m1: int,
                   cap_now: float, cap_later: float) -> bool:
    """Whether market i's cumulative imports, needed to keep i at its own bound on the pool's
    price path (pool, numeraire, rising at i's carry), fit the quota into i by every window
    year: cap_now this year, cap_later each later year (common units)."""
    rr = bk[i, L.BK_R]
    p_i = pool / mkt[i, m_fx]
    a_k = 0.0
    g = 1.0
    for k in range(m1):
        a_k += g
        g *= 1.0 + rr
        need = mkt[i, m_c] * a_k * (hz[i, k] - p_i) * mkt[i, M_S]
        if need > cap_now + k * cap_later:
            return False
    return True


@njit(cache=True, inline="always")
def ledger_reserve(reserve: float, user_floor: float, penalty: float) -> float:
    """The reserve in the bank ledger: sales at a ceiling, and withholding at a floor the user
    set; the engine's zero floor without a collar withholds nothing under banking (a surplus
    is banked, never priced below zero). At a penalty cap no permit is sold: the tonnes are
    emitted without permits, so the ledger gets none and reports them as non-compliance."""
    if reserve < 0.0 and user_floor <= 0.0:
        return 0.0
    if reserve > 0.0 and penalty > 0.0:
        return 0.0
    return reserve


@njit(cache=True, inline="always")
def foreign_held(held: float, imports: float, bank: float) -> float:
    """Permits of the link partner's issue in a market's bank after a compliance year: net
    imports add to them, net exports draw on them first; never more than the bank (Mt)."""
    f = held + imports
    if f < 0.0:
        f = 0.0
    if f > bank:
        f = bank if bank > 0.0 else 0.0
    return f


@njit(cache=True, inline="always")
def delink_origin(bk, bst, dlk, a: int, b: int) -> None:
    """A bilateral link is suspended under the 'origin' convention (Pizer & Yates 2015): the
    permits each side holds of the other's issue count only where they were issued, so they
    move back (``riskmodel.banking.links.delink_banks``); ``dlk`` records the change (Mt)."""
    if bk[a, L.BK_ON] <= 0.0 or bk[b, L.BK_ON] <= 0.0:
        return
    fa = bst[2, a, 3]
    fb = bst[2, b, 3]
    bst[2, a, 0] += fb - fa
    bst[2, b, 0] += fa - fb
    dlk[2, a] += fb - fa
    dlk[2, b] += fa - fb
    bst[2, a, 3] = 0.0
    bst[2, b, 3] = 0.0


@njit(cache=True, inline="always")
def link_plain(lpar, lk_f, s_conv, ends, q: int, state: int) -> bool:
    """Whether link q in ``state`` (0 normal, 1 restricted) is plain: no quota (fixed or as a
    share of supply), no fee, same permit units at both ends."""
    off = 0 if state == 0 else 4
    sh = lk_f[q, L.Q_SHARE] if state == 0 else lk_f[q, L.RQ_SHARE]
    return (lpar[q, off] == math.inf and lpar[q, off + 1] == math.inf
            and lpar[q, off + 2] == 0.0 and lpar[q, off + 3] == 0.0 and sh < 0.0
            and s_conv[ends[q, 0]] == 1.0 and s_conv[ends[q, 1]] == 1.0)


@njit(cache=True, inline="always")
def quota_pair(lpar, s_conv, ends, q: int, state: int) -> bool:
    """Whether link q in ``state`` restricts only quantities: no fee either way and the same
    permit units at both ends, so a year-end reallocation within its quota is a plain trade."""
    off = 0 if state == 0 else 4
    return (lpar[q, off + 2] == 0.0 and lpar[q, off + 3] == 0.0
            and s_conv[ends[q, 0]] == 1.0 and s_conv[ends[q, 1]] == 1.0)


@njit(cache=True, inline="always")
def window_top_bound(bk, i: int, y: int, n_years: int) -> float:
    """max_k ℓ_k over market i's window of year y: the bank it must hold at its strictest
    date ahead (e.g. K-ETS's 0 at its Phase 3 end against -15 % of supply within), Mt."""
    hm = int(bk[i, L.BK_HM])
    _, _, o_m1, o_ell = offsets(n_years, hm)
    m1 = int(bk[i, o_m1 + y])
    top = bk[i, o_ell + y * hm]
    for k in range(1, m1):
        if bk[i, o_ell + y * hm + k] > top:
            top = bk[i, o_ell + y * hm + k]
    return top


@njit(cache=True)
def pool_holdings(bk, y: int, n_years: int, ends, lstv, plain, wgt, own, par, rok, rcnt, sown,
                  sbnd, stop, swt, xl, lpar, lk_f, s_conv, sv, v: int) -> None:
    """Year-end holdings of plain banked pools (BANKING.md §7.4). In a frictionless pool only
    the summed bank B = Σ own_i is determined (own_i: bank + supply + reserve - emissions,
    before trade); who holds it is a convention. With ℓ_i this year's bound and ℓ̂_i the
    strictest bound of i's window (``window_top_bound``), member i holds
    - B ≥ Σℓ̂:        ℓ̂_i + s_i (B - Σℓ̂), s_i = (c_i / fx_i) / Σ (c / fx) (the c-share);
    - Σℓ ≤ B < Σℓ̂:   ℓ_i + θ (ℓ̂_i - ℓ_i), θ = (B - Σℓ) / (Σℓ̂ - Σℓ): members borrow only
                     when the pool does, in proportion to their room;
    - B < Σℓ:         ℓ_i + s_i (B - Σℓ): each carries its c-share of the shortfall.
    So Σ holdings = B, Σ flows = 0, no member is below its bound unless the pool is, and a
    member that must repay at a phase end holds its repayment whenever the pool has it (a
    later restriction or suspension does not leave it short). ``xl[i]`` gets the ledger's
    net imports h_i - own_i; NaN where market i is not in a plain component (two or more
    members, all linked plainly, all banking), which keeps the solver's flows.

    A pair joined by one link that is quota-restricted in its current state only (no fee,
    same permit units; ``quota_pair``; a quota of the link's normal state keeps the banks
    apart and the solver's flows) holds the same convention as far as the quota allows: the
    reallocation is the pair's year-end trade, so a's net imports are clipped to
    [-cap a→b, cap b→a] of the link's
    state (``lpar`` caps, a share of the importer's supply ``sv[v]`` from ``lk_f``), and a member
    the quota leaves below its bound shows the rest as non-compliance (BANKING.md §7.4)."""
    n = own.shape[0]
    for i in range(n):
        par[i] = i
        rok[i] = 1
        rcnt[i] = 0
        sown[i] = 0.0
        sbnd[i] = 0.0
        stop[i] = 0.0
        swt[i] = 0.0
    for q in range(ends.shape[0]):
        if lstv[q] == 2:
            continue
        ra = LS.root(par, ends[q, 0])
        rb = LS.root(par, ends[q, 1])
        if ra != rb:
            par[rb] = ra
    for q in range(ends.shape[0]):
        if lstv[q] != 2 and not plain[q]:
            # rok 2: a pair on one quota link (checked below); 0: keeps the solver's flows
            r = LS.root(par, ends[q, 0])
            rok[r] = 2 if rok[r] == 1 and quota_pair(lpar, s_conv, ends, q, lstv[q]) else 0
    for q in range(ends.shape[0]):
        if lstv[q] != 2 and plain[q] and rok[LS.root(par, ends[q, 0])] == 2:
            rok[LS.root(par, ends[q, 0])] = 0  # a quota link beside plain ones: not a pair
    for i in range(n):
        r = LS.root(par, i)
        rcnt[r] += 1
        if bk[i, L.BK_ON] <= 0.0:
            rok[r] = 0
            continue
        sown[r] += own[i]
        sbnd[r] += year_end_bound(bk, i, y, n_years)
        stop[r] += window_top_bound(bk, i, y, n_years)
        swt[r] += wgt[i]
    for i in range(n):
        r = LS.root(par, i)
        if rcnt[r] < 2 or rok[r] == 0:
            xl[i] = math.nan
            continue
        lo = year_end_bound(bk, i, y, n_years)
        hi = window_top_bound(bk, i, y, n_years)
        if sown[r] >= stop[r]:
            hold = hi + wgt[i] / swt[r] * (sown[r] - stop[r])
        elif sown[r] >= sbnd[r]:
            hold = lo + (sown[r] - sbnd[r]) / (stop[r] - sbnd[r]) * (hi - lo)
        else:
            hold = lo + wgt[i] / swt[r] * (sown[r] - sbnd[r])
        xl[i] = hold - own[i]
    for q in range(ends.shape[0]):
        a = ends[q, 0]
        b = ends[q, 1]
        r = LS.root(par, a)
        if lstv[q] == 2 or rok[r] != 2 or rcnt[r] != 2 or np.isnan(xl[a]):
            continue
        cap_ab, cap_ba = LS.state_caps(lpar, lk_f, s_conv, sv, v, ends, q, 0)
        if cap_ab != math.inf or cap_ba != math.inf:
            # a quota of the design keeps the banks apart: the solver's flows stand
            xl[a] = math.nan
            xl[b] = math.nan
            continue
        # the pair's year-end trade within the link's quota: b -> a at most cap_ba
        cap_ab, cap_ba = LS.state_caps(lpar, lk_f, s_conv, sv, v, ends, q, lstv[q])
        xa = min(max(xl[a], -cap_ab), cap_ba)
        xl[a] = xa
        xl[b] = -xa
