"""Numba price recursions per family, replicating the fit layer (percent log returns).

- garch / gjr: ``e = sqrt(h) z``; ``r = mu + phi r_prev + e``;
  ``h' = omega + (alpha + gamma 1[e < 0]) e^2 + beta h`` (arch; h starts at the calibration's
  ``last_variance`` = s2_{T+1}).
- egarch: ``ln h' = omega + alpha (|z| - sqrt(2/pi)) + gamma z + beta ln h`` (arch).
- ms (``riskmodel.fit.markov.simulate_ms_paths``): ``s = draw(P[s], u)``;
  ``r = mu_s + sqrt(sigma2_s) z``; the path starts with ``s_T = draw(regime_probs, u0)``.
- msgarch (``riskmodel.fit.msgarch.simulate_msgarch_paths``): ``s = draw(P[s], u)``;
  ``e = sqrt(h_s) z``; ``r = mu + e``; every regime ``h_k = omega_k + alpha_k e^2 + beta_k h_k``.

Drift: ``mu`` (and ``phi``) are zeroed by the resolver unless the scenario keeps the fitted
drift; with ``price_drift: martingale`` the return also carries ``-kappa(h)``, the exact log-MGF
of that day's (guarded) residual, so the price itself is a martingale (see ``compensator``).

Guard (the scenario's ``max_daily_return``, R): the residual is clipped to [-R, R] before it
enters the return and the variance recursion, and an EGARCH variance to at most R^2. Fitted
processes with infinite variance (EGARCH with nu near 2) otherwise overflow over long horizons;
:func:`price_step` returns a flag so the engine can report how often the guard acted.

State per market: ``h[i, :K]`` (variances; egarch keeps h), ``prev[i, 0..3]`` = (last return,
last residual, last standardised residual, latent minus traded log price under a price limit),
``reg[i]`` (regime).

Price limit (``mp[i, LIM_UP]`` > 0, docs/PRICE_LIMITS.md): the fitted recursion is the latent
price; the traded price moves towards it on each traded day by at most the limit, and the rest
of the gap carries over to the next days.

Thin trading (``mp[i, TT_ON]``, single-regime families with a constant mean): ``reg[i]`` is the
trade state (1 = no trade) and ``h[i, 1]`` the run of no-trade days; each day draws one uniform
from the regime-draw buffer (:func:`_shock_thin`). Markets without it are unchanged.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from riskmodel.sim import layout as L
from riskmodel.sim.rng import fill_normal

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


@njit(cache=True)
def _draw_at(cum, i: int, u: float, k: int) -> int:
    """First regime j with ``u < cum[i, j]`` (the last if rounding leaves none): the fit
    layer's ``riskmodel.fit.markov.draw_regime`` on row i, kept here so that the engine does
    not import the fit layer (statsmodels) nor make an array view per draw."""
    for j in range(k - 1):
        if u < cum[i, j]:
            return j
    return k - 1


@njit(cache=True, inline="always")
def _draw_next(cum, i: int, s: int, u: float, k: int) -> int:
    """:func:`_draw_at` on ``cum[i, s]`` (market i's transition row from regime s)."""
    for j in range(k - 1):
        if u < cum[i, s, j]:
            return j
    return k - 1


@njit(cache=True)
def init_state(i, mp, mi, rh0, rp0cum, u0, h, prev, reg):
    """Start market i's recursion from its end-of-sample state (u0: the initial regime draw)."""
    fam = mi[i, L.FAM]
    prev[i, 0] = mp[i, L.R0]
    prev[i, 1] = mp[i, L.E0]
    prev[i, 2] = mp[i, L.Z0]
    prev[i, 3] = 0.0
    if fam == L.F_MS or fam == L.F_MSGARCH:
        kk = mi[i, L.K]
        for k in range(kk):
            h[i, k] = rh0[i, k]
        reg[i] = _draw_at(rp0cum, i, u0, kk)
    else:
        h[i, 0] = mp[i, L.H0]
        reg[i] = 0
        if mp[i, L.TT_ON] > 0.0:  # thin trading: reg = trade state, h[i, 1] = idle run
            reg[i] = int(mp[i, L.TT_S0])
            h[i, 1] = mp[i, L.TT_K0]


@njit(cache=True, inline="always")
def compensator(i, mp, comp, hv) -> float:
    """Martingale compensator kappa(h) of market i (0 unless the price is a martingale)."""
    if mp[i, L.COMP] == 0.0:
        return 0.0
    f = (math.log(max(hv, 1e-300)) - mp[i, L.CMP_LO]) / mp[i, L.CMP_STEP]
    n = comp.shape[1]
    if f <= 0.0:
        return comp[i, 0] * hv / math.exp(mp[i, L.CMP_LO])  # kappa ~ h/200 for small h
    k = int(f)
    if k > n - 2:
        return comp[i, n - 1]
    w = f - k
    return comp[i, k] + w * (comp[i, k + 1] - comp[i, k])


@njit(cache=True, inline="always")
def _shock_garch(i, mp, z, h, prev):
    hh = h[i, 0]
    big = mp[i, L.MAXR]
    e = min(max(math.sqrt(hh) * z, -big), big)
    a = mp[i, L.ALPHA]
    if e < 0.0:
        a += mp[i, L.GAMMA]
    h[i, 0] = mp[i, L.OMEGA] + a * e * e + mp[i, L.BETA] * hh
    prev[i, 1] = e
    prev[i, 2] = z
    return e, hh, mp[i, L.MU]


@njit(cache=True, inline="always")
def _shock_egarch(i, mp, z, h, prev):
    hh = h[i, 0]
    big = mp[i, L.MAXR]
    e = min(max(math.sqrt(hh) * z, -big), big)
    lh = (mp[i, L.OMEGA] + mp[i, L.ALPHA] * (abs(z) - _SQRT_2_OVER_PI)
          + mp[i, L.GAMMA] * z + mp[i, L.BETA] * math.log(hh))
    h[i, 0] = min(math.exp(min(lh, 700.0)), big * big)
    prev[i, 1] = e
    prev[i, 2] = z
    return e, hh, mp[i, L.MU]


@njit(cache=True, inline="always")
def _shock_thin(i, mp, mi, z, u, h, prev, reg):
    """Thin trading on a GARCH / GJR / EGARCH market: the trade state ``reg[i]`` (1 = no trade)
    moves by the uniform u; a no-trade day returns e = 0, variance 0 and no drift (the price is
    unchanged, the recursion does not advance, the idle run ``h[i, 1]`` grows); a trading day
    after k idle days is ``sqrt(1 + kappa k)`` times an ordinary GARCH step: the variance (and
    mean) scaled, the recursion fed with the per-day shock ``e / sqrt(1 + kappa k)`` (the fit's
    trading-day recursion on the scaled returns, riskmodel.fit.thin_trading)."""
    p = mp[i, L.TT_P11] if reg[i] == 1 else mp[i, L.TT_P01]
    if u < p:
        reg[i] = 1
        h[i, 1] += 1.0
        return 0.0, 0.0, 0.0
    reg[i] = 0
    hh = h[i, 0]
    sc = 1.0 + mp[i, L.TT_KAPPA] * h[i, 1]
    hs = hh * sc
    h[i, 1] = 0.0
    big = mp[i, L.MAXR]
    e = min(max(math.sqrt(hs) * z, -big), big)
    if mi[i, L.FAM] == L.F_EGARCH:
        zz = e / math.sqrt(hs)
        lh = (mp[i, L.OMEGA] + mp[i, L.ALPHA] * (abs(zz) - _SQRT_2_OVER_PI)
              + mp[i, L.GAMMA] * zz + mp[i, L.BETA] * math.log(hh))
        h[i, 0] = min(math.exp(min(lh, 700.0)), big * big)
    else:
        a = mp[i, L.ALPHA]
        if e < 0.0:
            a += mp[i, L.GAMMA]
        h[i, 0] = mp[i, L.OMEGA] + a * e * e / sc + mp[i, L.BETA] * hh
    prev[i, 1] = e
    prev[i, 2] = z
    return e, hs, mp[i, L.MU] * math.sqrt(sc)


@njit(cache=True, inline="always")
def _shock_ms(i, mp, mi, rmu, rom, rcum, z, u, prev, reg):
    s = _draw_next(rcum, i, reg[i], u, mi[i, L.K])
    reg[i] = s
    hh = rom[i, s]
    big = mp[i, L.MAXR]
    e = min(max(math.sqrt(hh) * z, -big), big)
    prev[i, 1] = e
    prev[i, 2] = z
    return e, hh, rmu[i, s]


@njit(cache=True, inline="always")
def _shock_msgarch(i, mp, mi, rom, ral, rbe, rcum, z, u, h, prev, reg):
    kk = mi[i, L.K]
    s = _draw_next(rcum, i, reg[i], u, kk)
    reg[i] = s
    hh = h[i, s]
    big = mp[i, L.MAXR]
    e = min(max(math.sqrt(hh) * z, -big), big)
    e2 = e * e
    for k in range(kk):
        h[i, k] = rom[i, k] + ral[i, k] * e2 + rbe[i, k] * h[i, k]
    prev[i, 1] = e
    prev[i, 2] = z
    return e, hh, mp[i, L.MU]


@njit(cache=True, inline="always")
def price_step(i, mp, mi, rmu, rom, ral, rbe, rcum, comp, z, u, h, prev, reg) -> float:
    """One day's percent log return of market i given its standardised innovation z (and the
    uniform u for the regime draw); updates the state in place. The kernel runs the same steps
    in blocks (:func:`shock_block`, then the compensator and the return)."""
    fam = mi[i, L.FAM]
    if mp[i, L.TT_ON] > 0.0:
        e, hv, m = _shock_thin(i, mp, mi, z, u, h, prev, reg)
    elif fam == L.F_GARCH or fam == L.F_GJR:
        e, hv, m = _shock_garch(i, mp, z, h, prev)
    elif fam == L.F_EGARCH:
        e, hv, m = _shock_egarch(i, mp, z, h, prev)
    elif fam == L.F_MS:
        e, hv, m = _shock_ms(i, mp, mi, rmu, rom, rcum, z, u, prev, reg)
    else:
        e, hv, m = _shock_msgarch(i, mp, mi, rom, ral, rbe, rcum, z, u, h, prev, reg)
    r = m - compensator(i, mp, comp, hv) + ar_coefficient(i, mp, mi) * prev[i, 0] + e
    prev[i, 0] = r
    return r


@njit(cache=True)
def shock_block(nd, mp, mi, rmu, rom, ral, rbe, rcum, zb, urb, nms, msx, h, prev, reg,
                eb, hb, mb, clip) -> int:
    """The variance recursions of every market over ``nd`` days: what :func:`price_step` does
    except the drift terms that need a transcendental call or the last return. Fills the guarded
    residual ``eb[d, i]``, the variance that scaled it ``hb[d, i]`` and the drift ``mb[d, i]``
    (mu, or the regime's mean), updates the state and returns how often the guard acted (and
    adds each market's count to ``clip[i]``).

    One loop per family present (markets of a family interleaved day by day, so that their
    independent recursions overlap): a loop body without the other families' code keeps its
    values in registers (EGARCH's log/exp calls would otherwise force spills on every market).
    The kernel then forms ``r = m - kappa(hv) + phi r_prev + e`` in separate loops (same
    arithmetic, same results as :func:`price_step`).
    """
    n = mp.shape[0]
    clipped = 0
    for fam in range(5):
        nf = 0
        for i in range(n):
            if mi[i, L.FAM] == fam:
                nf += 1
        if nf == 0:
            continue
        for d in range(nd):
            for i in range(n):
                if mi[i, L.FAM] != fam:
                    continue
                z = zb[d, i]
                if mp[i, L.TT_ON] > 0.0:
                    e, hv, m = _shock_thin(i, mp, mi, z, urb[d * nms + msx[i]], h, prev, reg)
                elif fam == L.F_GARCH or fam == L.F_GJR:
                    e, hv, m = _shock_garch(i, mp, z, h, prev)
                elif fam == L.F_EGARCH:
                    e, hv, m = _shock_egarch(i, mp, z, h, prev)
                elif fam == L.F_MS:
                    e, hv, m = _shock_ms(i, mp, mi, rmu, rom, rcum, z, urb[d * nms + msx[i]],
                                         prev, reg)
                else:
                    e, hv, m = _shock_msgarch(i, mp, mi, rom, ral, rbe, rcum, z,
                                              urb[d * nms + msx[i]], h, prev, reg)
                if abs(e) >= mp[i, L.MAXR]:
                    clipped += 1
                    clip[i] += 1
                eb[d, i] = e
                hb[d, i] = hv
                mb[d, i] = m
    return clipped


@njit(cache=True, inline="always")
def ar_coefficient(i, mp, mi) -> float:
    """phi of market i's mean equation (0 for the regime families, which have none)."""
    fam = mi[i, L.FAM]
    if fam == L.F_MS or fam == L.F_MSGARCH:
        return 0.0
    return mp[i, L.PHI]


@njit(cache=True)
def vol_level(i, mp, mi, rom, rom_b, xi) -> None:
    """Market i's variance level for one path and compliance year under volatility-level
    uncertainty (``simulation.vol_level_sd``; xi is drawn by the kernel for each compliance
    year, an AR(1) across years with ``simulation.vol_level_persistence``): the level each fitted
    variance reverts to is multiplied by ``exp(2 xi)`` (GARCH / GJR omega, EGARCH log omega +
    2 (1 - beta) xi, regime variances or MS-GARCH omegas); the conditional variance the year
    starts from is untouched, so the scale acts as the variance forgets it. ``rom_b`` holds
    the fitted regime values. The guard widens with a higher level (``MAXR = MAXR_B e^xi`` for
    xi > 0): it bounds moves that are extreme *at this path's level*, so the share of days it
    clips does not grow with the drawn level; it never tightens below the fitted guard (a
    calmer level starts from today's variance, which the fitted guard already allows).
    ``VLG = e^(2 xi)`` (1 for xi <= 0) lets :func:`log_price_block` read the compensator of
    the widened guard from the fitted one's table."""
    s = math.exp(xi) if xi > 0.0 else 1.0
    mp[i, L.MAXR] = mp[i, L.MAXR_B] * s
    mp[i, L.VLG] = s * s
    fam = mi[i, L.FAM]
    if fam == L.F_MS or fam == L.F_MSGARCH:
        m = math.exp(2.0 * xi)
        for k in range(mi[i, L.K]):
            rom[i, k] = rom_b[i, k] * m
    elif fam == L.F_EGARCH:
        mp[i, L.OMEGA] = mp[i, L.OMEGA_B] + 2.0 * (1.0 - mp[i, L.BETA]) * xi
    else:
        mp[i, L.OMEGA] = mp[i, L.OMEGA_B] * math.exp(2.0 * xi)


@njit(cache=True)
def log_price_block(nd, mp, mi, comp, eb, hb, mb, kb, prev, logp, pob) -> None:
    """After :func:`shock_block`: the martingale compensators ``kb[d, i]`` (independent, so the
    logarithms overlap), then each market's returns ``r = m - kappa + phi r_prev + e`` (the
    arithmetic of :func:`price_step`) and log prices: ``pob[d, i]`` = log price after day d;
    ``prev[i, 0]`` and ``logp[i]`` carry on to the next block."""
    n = mp.shape[0]
    for i in range(n):
        g = mp[i, L.VLG]
        if mp[i, L.VLS] > 0.0 and g != 1.0:
            # the guard scaled by s = e^xi (vol_level): kappa(h; s R) is read as
            # s^2 kappa(h / s^2; R), exact for the unclipped law (kappa = h/200 for normal
            # innovations) and matching the clipped one's binding probability
            for d in range(nd):
                kb[d, i] = g * compensator(i, mp, comp, hb[d, i] / g)
        else:
            for d in range(nd):
                kb[d, i] = compensator(i, mp, comp, hb[d, i])
    for i in range(n):
        phi = ar_coefficient(i, mp, mi)
        if mp[i, L.LIM_UP] > 0.0:
            _limited_block(i, nd, mp, phi, mb, kb, eb, hb, prev, logp, pob)
            continue
        rp = prev[i, 0]
        lp = logp[i]
        for d in range(nd):
            rp = mb[d, i] - kb[d, i] + phi * rp + eb[d, i]
            lp += rp / 100.0
            pob[d, i] = lp
        prev[i, 0] = rp
        logp[i] = lp


@njit(cache=True, inline="always")
def _limited_block(i, nd, mp, phi, mb, kb, eb, hb, prev, logp, pob) -> None:
    """Market i's log prices under its daily price limit: ``logp[i]`` follows the fitted
    (latent) returns; the traded log price ``pob[d, i]`` moves by the gap, clipped to
    [LIM_DN, LIM_UP] percent, on each traded day (no move on a no-trade day of the thin-trading
    chain, whose variance is 0); ``prev[i, 3]`` carries the gap on (percent)."""
    up = mp[i, L.LIM_UP]
    dn = mp[i, L.LIM_DN]
    thin = mp[i, L.TT_ON] > 0.0
    rp = prev[i, 0]
    lp = logp[i]
    gap = prev[i, 3]
    for d in range(nd):
        rp = mb[d, i] - kb[d, i] + phi * rp + eb[d, i]
        lp += rp / 100.0
        gap += rp
        if not (thin and hb[d, i] == 0.0):
            gap -= min(max(gap, dn), up)
        pob[d, i] = lp - gap / 100.0
    prev[i, 0] = rp
    prev[i, 3] = gap
    logp[i] = lp


@njit(cache=True)
def simulate_returns(mp, mi, rmu, rom, ral, rbe, rcum, rh0, rp0cum, u, z, comp):
    """Returns of market 0 for given uniforms u (npaths, nsteps + 1) and standardised z (npaths,
    nsteps), in the fit layer's order of draws; for tests against ``riskmodel.fit``."""
    npaths, nsteps = z.shape
    out = np.empty((npaths, nsteps))
    h = np.zeros((1, L.KMAX))
    prev = np.zeros((1, L.NPREV))
    reg = np.zeros(1, dtype=np.int64)
    for p in range(npaths):
        init_state(0, mp, mi, rh0, rp0cum, u[p, 0], h, prev, reg)
        for t in range(nsteps):
            out[p, t] = price_step(0, mp, mi, rmu, rom, ral, rbe, rcum, comp, z[p, t], u[p, t + 1],
                                   h, prev, reg)
    return out


@njit(cache=True, error_model="numpy", fastmath={"nsz", "arcp", "contract"})
def garch_t_paths(mu, omega, alpha, gamma, beta, h0, lo, step, vals, state, zt, npaths, nsteps):
    """Single-market GARCH/GJR path kernel with table-based standardised innovations (the
    benchmark's kernel (a)): returns the terminal cumulative log return of each path.

    ``state``/``zt``: a :mod:`riskmodel.sim.rng` stream and its ziggurat table. Paths advance in
    blocks of ``_BLOCK``: the block's normals for all steps are drawn in one call, then per step
    one loop interpolates the innovation table and a second, branch-free loop runs the
    independent variance recursions, which the compiler vectorises (error_model "numpy": no
    Python error checks around the square root).
    """
    out = np.empty(npaths)
    nv = vals.shape[0]
    dv = np.empty(nv)  # the table's slopes, once: one load a lookup fewer (bit-identical)
    for k in range(nv - 1):
        dv[k] = vals[k + 1] - vals[k]
    dv[nv - 1] = 0.0
    inv = 1.0 / step
    top = nv - 2.0
    h = np.empty(_BLOCK)
    cum = np.empty(_BLOCK)
    z = np.empty(_BLOCK)
    x = np.empty(_BLOCK * nsteps)
    pend = np.empty(2 * _BLOCK * nsteps + 2, dtype=np.int64)
    for p0 in range(0, npaths, _BLOCK):
        nb = min(_BLOCK, npaths - p0)
        fill_normal(state, zt, x[:nb * nsteps], pend)
        for j in range(nb):
            h[j] = h0
            cum[j] = 0.0
        for t in range(nsteps):
            o = t * nb
            for j in range(nb):
                f = (x[o + j] - lo) * inv
                k = int(min(max(f, 0.0), top))
                w = f - k  # linear extrapolation beyond the grid ends, as ``lookup``
                z[j] = vals[k] + w * dv[k]
            for j in range(nb):
                hh = h[j]
                e = math.sqrt(hh) * z[j]
                cum[j] += mu + e
                a = alpha + (gamma if e < 0.0 else 0.0)
                h[j] = omega + a * e * e + beta * hh
        for j in range(nb):
            out[p0 + j] = cum[j]
    return out


_BLOCK = 32
