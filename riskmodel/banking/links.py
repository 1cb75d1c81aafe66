"""Banking across a restricted link: the exhaustion-year rule against an exact reference.

The rule (design note §5.5): treat the component as a plain pool to find its expected exhaustion
year k* (``hotelling.pool_price`` on the summed banks), give each market its horizon price at k*,
π_{i,k*} = (N_{i,k*} - B_i + ℓ_{i,k*}) / (c_i A_{k*}), as its autarky price, and clear the year
with the project's exact link solver (quota, fee). Exact when no restriction binds; otherwise an
approximation, whose error ``reference_two_market`` measures on deterministic paths: the
planner's problem with per-market banks and a per-year quota on net flows (convex; its solution
is the competitive equilibrium with quota rents), solved by SLSQP to ~1e-9.

Delinking (Pizer & Yates 2015): ``delink_banks`` splits the banks held when a link ends under
either convention for permits that crossed the border.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from riskmodel.banking.hotelling import annuities, pool_price
from riskmodel.linking import M_C, M_FLOOR, M_P_AUT, O_FLOW, O_PRICE, Link, solve
from riskmodel.linking.topology import compile_topology, market_array


def restricted_rolling(
    banks0: np.ndarray,
    n: np.ndarray,
    c: np.ndarray,
    r: float,
    quota: float,
    *,
    pair_switch: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two markets over T years with a quota on net flows (Mt/yr) and no borrowing.

    Each year: the pool's k* over the rest of the phase, π_{i,k*} to the link solver, the
    banks move by a_i - n_i + x_i. Returns prices [2, T], flows into market 0 [T] and banks
    [2, T+1].

    ``pair_switch`` is the engine's rule (``banking_step.pool_exhaustion``): where the quota
    cannot carry the pooled flow at k* or the imports a member needs this year to stay at its
    bound at the pool price, each market gets its own map price Φ_i instead of π_{i,k*}.
    """
    t_n = n.shape[1]
    banks = np.zeros((2, t_n + 1))
    banks[:, 0] = banks0
    prices = np.zeros((2, t_n))
    flows = np.zeros(t_n)
    links = compile_topology(2, [Link(0, 1, quota_ab=quota, quota_ba=quota)])
    for t in range(t_n):
        nw = np.ascontiguousarray(n[:, t:])
        ell = np.zeros_like(nw)
        pool, kstar = pool_price(banks[:, t].copy(), nw, ell, c, r)
        k = kstar if kstar >= 0 else nw.shape[1] - 1
        ann = annuities(r, k)[k]
        mkt = market_array(2)
        mkt[:, M_C] = c
        mkt[:, M_FLOOR] = 0.0  # a surplus is banked, never priced below zero
        mkt[:, M_P_AUT] = (nw[:, : k + 1].sum(axis=1) - banks[:, t]) / (c * ann)
        if pair_switch and kstar >= 0:
            x0 = c[0] * (mkt[0, M_P_AUT] - pool)
            need = c * ((nw[:, 0] - banks[:, t]) / c - pool)
            if abs(x0) > quota or need.max() > quota:
                a_k = annuities(r, nw.shape[1] - 1)
                own = (np.cumsum(nw, axis=1) - banks[:, t, None]) / (c[:, None] * a_k[None, :])
                mkt[:, M_P_AUT] = np.maximum(own.max(axis=1), 0.0)
        sol = solve(mkt, links)
        prices[:, t] = sol.out[:, O_PRICE]
        flows[t] = sol.out[0, O_FLOW]
        x = np.array([flows[t], -flows[t]])
        banks[:, t + 1] = banks[:, t] + c * prices[:, t] - n[:, t] + x
    return prices, flows, banks


def reference_two_market(
    banks0: np.ndarray, n: np.ndarray, c: np.ndarray, r: float, quota: float
) -> tuple[np.ndarray, np.ndarray]:
    """Planner optimum: min Σ_t (1+r)^-t Σ_i a_it² / (2 c_i) subject to every year-end bank
    B_i + Σ_{j<=k} (a_ij - n_ij ± x_j) >= 0, a >= 0, |x| <= quota. Returns prices [2, T] and
    flows into market 0 [T]."""
    t_n = n.shape[1]
    disc = (1.0 + r) ** -np.arange(t_n)
    scale = float(np.abs(n).max())

    def unpack(z):
        return z[: 2 * t_n].reshape(2, t_n) * scale, z[2 * t_n :] * scale

    def obj(z):
        a, _ = unpack(z)
        return float(np.sum(disc * a**2 / (2.0 * c[:, None]))) / scale**2

    def grad(z):
        a, _ = unpack(z)
        g = np.zeros_like(z)
        g[: 2 * t_n] = (disc * a / c[:, None]).ravel() / scale
        return g

    low = np.tril(np.ones((t_n, t_n)))
    jac = np.zeros((2 * t_n, 3 * t_n))
    jac[:t_n, :t_n] = low
    jac[t_n:, t_n : 2 * t_n] = low
    jac[:t_n, 2 * t_n :] = low
    jac[t_n:, 2 * t_n :] = -low
    rhs = np.concatenate([np.cumsum(n[0]) - banks0[0], np.cumsum(n[1]) - banks0[1]]) / scale

    cons = [{"type": "ineq", "fun": lambda z: jac @ z - rhs, "jac": lambda z: jac}]
    bounds = [(0.0, None)] * (2 * t_n) + [(-quota / scale, quota / scale)] * t_n
    z0 = np.concatenate([np.maximum(n, 0.0).ravel() / scale, np.zeros(t_n)])
    res = minimize(
        obj,
        z0,
        jac=grad,
        bounds=bounds,
        constraints=cons,
        method="SLSQP",
        options={"ftol": 1e-16, "maxiter": 2000},
    )
    a, x = unpack(res.x)
    return a / c[:, None], x


def proportional_flows(
    banks: np.ndarray, abatement: np.ndarray, need: np.ndarray, c: np.ndarray
) -> np.ndarray:
    """Net imports of a plain pool's members that leave each holding c_i / Σc of the pool bank.

    In a frictionless pool only the summed bank is determined; who holds it is a convention.
    The design note's x_i = c_i (π_{i,k*} - P) can leave a member's bank negative (tested);
    this one keeps every member's bank at its share of the pool's, so >= 0 whenever the pool's
    is. Σ x = 0 up to rounding.
    """
    pooled = banks.sum() + abatement.sum() - need.sum()
    return c / c.sum() * pooled - banks - abatement + need


def delink_banks(held: np.ndarray, convention: str) -> np.ndarray:
    """Banks of each side after a delink; ``held[h, o]`` = permits issued by ``o`` held in ``h``.

    ``"holder"``: every banked permit stays valid where it is held (the holder's jurisdiction
    honours the partner's permits it already holds). ``"origin"``: a permit is valid only in the
    system that issued it, so each side's bank is what was issued there, wherever it is held
    (foreign holders must sell it back). Pizer & Yates (2015) show the choice moves prices.
    """
    if convention == "holder":
        return held.sum(axis=1)
    if convention == "origin":
        return held.sum(axis=0)
    raise ValueError(f"convention must be 'holder' or 'origin' (got {convention!r})")
