"""The rolling-horizon Hotelling price map Φ and its exact inversion (numba, per path-day).

Per market, the window is years k = 0..m of the current year y. With required abatement
n_j = E[U_j - S_j], cumulative N_k = Σ_{j<=k} n_j, annuity A_k = Σ_{j<=k} (1+r)^j, bank B at the
start of y and year-end bank bounds ℓ_k (B_min - L inside a phase, the terminal bank at m):

    Φ(B, n) = max{0, max_k (N_k - B + ℓ_k) / (c A_k)}

is the lowest price path growing at r that keeps every year-end bank >= ℓ_k (Rubin 1996; Quemin &
Trotignon 2021 for the rolling window). Its argmax k* is the expected exhaustion year. m = 0 and
B = ℓ = 0 give max(0, n_y / c), today's static bridge.

Driving Φ with the fitted price: n_j = n̄_j + c ξ φ^j. Under the observed design (bank B_o) the
price is max_k (α_k + β_k ξ) with α_k = (N̄_k - B_o + ℓ_k)/(c A_k), β_k = Σ_{j<=k} φ^j / A_k, so
ξ = min_k g_k with g_k = (p_o - α_k)/β_k (the inverse of a max of increasing lines). We keep the
gaps w_k = β_k (g_k - ξ) >= 0, exactly 0 at the argmin, and price a variant as

    π = max{0, max_k (p_o - w_k + D_k)},    D_k = (ΣΔS_{j<=k} - (B - B_o)) / (c A_k)

so the observed design (D = 0) returns p_o bit for bit, and m = 0 returns max(0, p_o + D_0).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def annuities(r: float, m: int) -> np.ndarray:
    """A_k = Σ_{j<=k} (1+r)^j for k = 0..m."""
    a = np.empty(m + 1)
    g = 1.0
    s = 0.0
    for k in range(m + 1):
        s += g
        a[k] = s
        g *= 1.0 + r
    return a


@njit(cache=True)
def price_map(bank: float, n: np.ndarray, ell: np.ndarray, c: float, r: float) -> tuple[float, int]:
    """Φ(B, n) over the window len(n) and its argmax k* (-1 when the price is 0)."""
    best = 0.0
    kstar = -1
    cum = 0.0
    g = 1.0
    ann = 0.0
    for k in range(n.shape[0]):
        cum += n[k]
        ann += g
        g *= 1.0 + r
        v = (cum - bank + ell[k]) / (c * ann)
        if v > best:
            best = v
            kstar = k
    return best, kstar


@njit(cache=True)
def scarcity_gaps(
    p_obs: float,
    bank_obs: float,
    nbar: np.ndarray,
    ell: np.ndarray,
    c: float,
    r: float,
    phi: float,
    w: np.ndarray,
) -> float:
    """Back out ξ from the observed price; fill w_k = β_k (g_k - ξ) (>= 0, 0 at the argmin).

    Returns ξ. When p_obs = 0, ξ is only bounded above; the bound is returned (count such days).
    """
    m1 = nbar.shape[0]
    cum = 0.0
    g = 1.0
    ann = 0.0
    sphi = 0.0
    fk = 1.0
    xi = np.inf
    for k in range(m1):
        cum += nbar[k]
        ann += g
        g *= 1.0 + r
        sphi += fk
        fk *= phi
        alpha = (cum - bank_obs + ell[k]) / (c * ann)
        beta = sphi / ann
        gk = (p_obs - alpha) / beta
        w[k] = gk  # g_k for now
        if gk < xi:
            xi = gk
    cum = 0.0
    g = 1.0
    ann = 0.0
    sphi = 0.0
    fk = 1.0
    for k in range(m1):
        ann += g
        g *= 1.0 + r
        sphi += fk
        fk *= phi
        w[k] = (sphi / ann) * (w[k] - xi)
    return xi


@njit(cache=True)
def bridged_price(
    p_obs: float, w: np.ndarray, dsupply: np.ndarray, dbank: float, c: float, r: float
) -> tuple[float, int]:
    """π for a variant: supply shortfall ΔS_j = S^o_j - S^v_j over the window, bank B - B_o."""
    best = 0.0
    kstar = -1
    cum = 0.0
    g = 1.0
    ann = 0.0
    for k in range(w.shape[0]):
        cum += dsupply[k]
        ann += g
        g *= 1.0 + r
        v = p_obs - w[k] + (cum - dbank) / (c * ann)
        if v > best:
            best = v
            kstar = k
    return best, kstar


@njit(cache=True)
def pool_price(
    banks: np.ndarray, n: np.ndarray, ell: np.ndarray, c: np.ndarray, r: float
) -> tuple[float, int]:
    """Φ of a plain pool: markets i (rows of n, ell) bank as one; c in tonnes per numeraire unit.

    P = max{0, max_k Σ_i w_i π_{i,k}}, w_i = c_i / Σc,
    π_{i,k} = (N_{i,k} - B_i + ℓ_{i,k}) / (c_i A_k),
    i.e. Φ of the summed quantities: it depends on the banks only through Σ B_i.
    """
    ni, m1 = n.shape
    tot_n = np.zeros(m1)
    tot_l = np.zeros(m1)
    for i in range(ni):
        for k in range(m1):
            tot_n[k] += n[i, k]
            tot_l[k] += ell[i, k]
    return price_map(banks.sum(), tot_n, tot_l, c.sum(), r)


@njit(cache=True)
def pool_flows(
    price: float,
    kstar: int,
    banks: np.ndarray,
    n: np.ndarray,
    ell: np.ndarray,
    c: np.ndarray,
    r: float,
    out: np.ndarray,
) -> None:
    """Net imports x_i = c_i (π_{i,k*} - P) at the pool's exhaustion year k*; they sum to zero.

    At a zero pool price (k* = -1) no market needs permits and the flows are 0.
    """
    ni, m1 = n.shape
    if kstar < 0:
        for i in range(ni):
            out[i] = 0.0
        return
    ann = annuities(r, kstar)[kstar]
    for i in range(ni):
        cum = 0.0
        for k in range(kstar + 1):
            cum += n[i, k]
        pik = (cum - banks[i] + ell[i, kstar]) / (c[i] * ann)
        out[i] = c[i] * (pik - price)


def rolling_path(
    bank0: float,
    n: np.ndarray,
    ell: np.ndarray,
    c: float,
    r: float,
    horizon: int,
    terminal: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic rolling rule: re-solve Φ each year over min(H, years left), bank the rest.

    ``ell[t]`` is the bound on the bank at the end of year t; ``terminal`` (if given) replaces
    the bound of each window's last year (the terminal bank B_end). Returns prices (len T) and
    banks at the start of each year (len T+1).
    """
    t_n = len(n)
    p = np.empty(t_n)
    b = np.empty(t_n + 1)
    b[0] = bank0
    for t in range(t_n):
        m1 = min(horizon, t_n - t)
        lw = np.array(ell[t : t + m1], dtype=float)
        if terminal is not None:
            lw[-1] = terminal
        p[t], _ = price_map(b[t], np.ascontiguousarray(n[t : t + m1], dtype=float), lw, c, r)
        b[t + 1] = b[t] + c * p[t] - n[t]
    return p, b
