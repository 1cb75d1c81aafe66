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

State per market: ``h[i, :K]`` (variances; egarch keeps h), ``prev[i, 0..2]`` = (last return,
last residual, last standardised residual), ``reg[i]`` (regime).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from riskmodel.sim import layout as L

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


@njit(cache=True)
def draw_regime(cum: np.ndarray, u: float, k: int) -> int:
    """First regime j with u < cum[j] (the last if rounding leaves none), as the fit layer."""
    for j in range(k - 1):
        if u < cum[j]:
            return j
    return k - 1


@njit(cache=True)
def init_state(i, mp, mi, rh0, rp0cum, u0, h, prev, reg):
    """Start market i's recursion from its end-of-sample state (u0: the initial regime draw)."""
    fam = mi[i, L.FAM]
    prev[i, 0] = mp[i, L.R0]
    prev[i, 1] = mp[i, L.E0]
    prev[i, 2] = mp[i, L.Z0]
    if fam == L.F_MS or fam == L.F_MSGARCH:
        kk = mi[i, L.K]
        for k in range(kk):
            h[i, k] = rh0[i, k]
        reg[i] = draw_regime(rp0cum[i], u0, kk)
    else:
        h[i, 0] = mp[i, L.H0]
        reg[i] = 0


@njit(cache=True)
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


@njit(cache=True)
def price_step(i, mp, mi, rmu, rom, ral, rbe, rcum, comp, z, u, h, prev, reg) -> float:
    """One day's percent log return of market i given its standardised innovation z (and the
    uniform u for the regime draw); updates the state in place."""
    fam = mi[i, L.FAM]
    big = mp[i, L.MAXR]
    if fam == L.F_GARCH or fam == L.F_GJR:
        hh = h[i, 0]
        e = min(max(math.sqrt(hh) * z, -big), big)
        r = mp[i, L.MU] - compensator(i, mp, comp, hh) + mp[i, L.PHI] * prev[i, 0] + e
        a = mp[i, L.ALPHA]
        if e < 0.0:
            a += mp[i, L.GAMMA]
        h[i, 0] = mp[i, L.OMEGA] + a * e * e + mp[i, L.BETA] * hh
    elif fam == L.F_EGARCH:
        hh = h[i, 0]
        e = min(max(math.sqrt(hh) * z, -big), big)
        r = mp[i, L.MU] - compensator(i, mp, comp, hh) + mp[i, L.PHI] * prev[i, 0] + e
        lh = (mp[i, L.OMEGA] + mp[i, L.ALPHA] * (abs(z) - _SQRT_2_OVER_PI)
              + mp[i, L.GAMMA] * z + mp[i, L.BETA] * math.log(hh))
        h[i, 0] = min(math.exp(min(lh, 700.0)), big * big)
    elif fam == L.F_MS:
        kk = mi[i, L.K]
        s = draw_regime(rcum[i, reg[i]], u, kk)
        reg[i] = s
        e = min(max(math.sqrt(rom[i, s]) * z, -big), big)
        r = rmu[i, s] - compensator(i, mp, comp, rom[i, s]) + e
    else:  # msgarch
        kk = mi[i, L.K]
        s = draw_regime(rcum[i, reg[i]], u, kk)
        reg[i] = s
        e = min(max(math.sqrt(h[i, s]) * z, -big), big)
        r = mp[i, L.MU] - compensator(i, mp, comp, h[i, s]) + e
        e2 = e * e
        for k in range(kk):
            h[i, k] = rom[i, k] + ral[i, k] * e2 + rbe[i, k] * h[i, k]
    prev[i, 0] = r
    prev[i, 1] = e
    prev[i, 2] = z
    return r


@njit(cache=True)
def simulate_returns(mp, mi, rmu, rom, ral, rbe, rcum, rh0, rp0cum, u, z, comp):
    """Returns of market 0 for given uniforms u (npaths, nsteps + 1) and standardised z (npaths,
    nsteps), in the fit layer's order of draws; for tests against ``riskmodel.fit``."""
    npaths, nsteps = z.shape
    out = np.empty((npaths, nsteps))
    h = np.zeros((1, L.KMAX))
    prev = np.zeros((1, 3))
    reg = np.zeros(1, dtype=np.int64)
    for p in range(npaths):
        init_state(0, mp, mi, rh0, rp0cum, u[p, 0], h, prev, reg)
        for t in range(nsteps):
            out[p, t] = price_step(0, mp, mi, rmu, rom, ral, rbe, rcum, comp, z[p, t], u[p, t + 1],
                                   h, prev, reg)
    return out


@njit(cache=True)
def garch_t_paths(mu, omega, alpha, gamma, beta, h0, lo, step, vals, rng, npaths, nsteps):
    """Single-market GARCH/GJR path kernel with table-based standardised innovations (the
    benchmark's kernel (a)): returns the terminal cumulative log return of each path.

    Paths advance in blocks of ``_BLOCK`` so that the independent variance recursions overlap
    in the pipeline (one path's recursion is a serial chain of a sqrt, multiplies and adds).
    """
    out = np.empty(npaths)
    nv = vals.shape[0]
    inv = 1.0 / step
    h = np.empty(_BLOCK)
    cum = np.empty(_BLOCK)
    x = np.empty(_BLOCK)
    for p0 in range(0, npaths, _BLOCK):
        nb = min(_BLOCK, npaths - p0)
        for j in range(nb):
            h[j] = h0
            cum[j] = 0.0
        for _ in range(nsteps):
            for j in range(nb):
                x[j] = rng.standard_normal()
            for j in range(nb):
                f = (x[j] - lo) * inv
                k = min(max(int(f), 0), nv - 2)
                w = f - k
                zz = vals[k] + w * (vals[k + 1] - vals[k])
                hh = h[j]
                e = math.sqrt(hh) * zz
                cum[j] += mu + e
                a = alpha + gamma if e < 0.0 else alpha
                h[j] = omega + a * e * e + beta * hh
        for j in range(nb):
            out[p0 + j] = cum[j]
    return out


_BLOCK = 16
